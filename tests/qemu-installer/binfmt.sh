#!/bin/sh
# A QEMU installer that speaks tonistiigi/binfmt's interface, made from
# Debian's qemu-user-static for the test bed (no image can be pulled there):
#   no arguments      print {"supported":[…],"emulators":[…]}
#   --install A,B     register the emulators for those architectures
set -eu
dir=/proc/sys/fs/binfmt_misc
[ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir"

emulator_of() {
  case "$1" in
    arm64|aarch64) echo qemu-aarch64 ;;
    arm) echo qemu-arm ;;
    riscv64) echo qemu-riscv64 ;;
    ppc64le) echo qemu-ppc64le ;;
    s390x) echo qemu-s390x ;;
    *) return 1 ;;
  esac
}

if [ "${1:-}" = "--install" ]; then
  for arch in $(echo "${2:-}" | tr ',' ' '); do
    name=$(emulator_of "$arch") || { echo "installing: $arch unsupported" >&2; exit 1; }
    if [ -e "$dir/$name" ]; then
      echo "installing: $arch already registered"
      continue
    fi
    cat "/etc/binfmt/$name" > "$dir/register"
    echo "installing: $arch OK"
  done
  exit 0
fi

supported='"linux/amd64"'
emulators=''
for entry in "$dir"/qemu-*; do
  [ -e "$entry" ] || continue
  grep -q '^enabled' "$entry" || continue
  name=${entry##*/}
  emulators="$emulators${emulators:+,}\"$name\""
  case "$name" in
    qemu-aarch64) supported="$supported,\"linux/arm64\"" ;;
    qemu-arm) supported="$supported,\"linux/arm/v7\",\"linux/arm/v6\"" ;;
    qemu-riscv64) supported="$supported,\"linux/riscv64\"" ;;
    qemu-ppc64le) supported="$supported,\"linux/ppc64le\"" ;;
    qemu-s390x) supported="$supported,\"linux/s390x\"" ;;
  esac
done
echo "{\"supported\":[$supported],\"emulators\":[$emulators]}"
