//! QEMU set-up against the real kernel: an emulator that is missing is
//! installed (and only it) through the installer image, and a build that
//! started before it was there is run again; when it cannot be installed the
//! run fails and pushes nothing; a native-only build never touches the
//! installer.

mod common;

use std::path::Path;

use common::{TestBed, registry_inputs, run_action, workspace};

const DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n";

#[test]
fn installs_only_the_missing_emulator() {
    let bed = TestBed::get();
    let arm = Path::new("/proc/sys/fs/binfmt_misc/qemu-arm");
    let aarch64 = Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64");
    if arm.exists() {
        std::fs::write(arm, "-1").expect("unregister qemu-arm (needs root)");
    }
    assert!(!arm.exists());
    let aarch64_before = std::fs::read_to_string(aarch64).expect("qemu-aarch64 is registered by the test bed");

    let image = bed.unique_image("qemu-install");
    let dir = workspace(DOCKERFILE);
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);

    // An installer that cannot be pulled: the early build is stopped, the
    // run fails naming the installer, and nothing is pushed.
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/arm/v7"),
        ("build-args", build_arg.as_str()),
        ("qemu-image", "registry.invalid/no/binfmt:1"),
        ("tags", "type=raw,value=never"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("registry.invalid/no/binfmt:1") || run.stdout.contains("registry.invalid/no/binfmt:1"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("load build definition"), "the early build's log is not shown: {}", run.stdout);
    assert_eq!(bed.manifest_digest(&image, "never"), None, "nothing was tagged");
    assert!(!arm.exists());

    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/arm/v7"),
        ("build-args", build_arg.as_str()),
        ("qemu-image", bed.qemu_installer.as_str()),
        ("tags", "type=raw,value=armv7"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("QEMU: installing emulators for linux/arm/v7 (--install arm)"), "{}", run.stdout);
    assert!(arm.exists(), "qemu-arm was registered");
    // The build started while emulation was checked; it ran again once the
    // emulator was there, and the log shows only the build that counts.
    assert!(run.stdout.contains("starting the build again now that linux/arm/v7 can run"), "{}", run.stdout);
    assert!(!run.stdout.contains("exec format error"), "{}", run.stdout);
    assert_eq!(run.stdout.matches("load build definition from Dockerfile").count(), 1, "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(aarch64).unwrap(), aarch64_before, "qemu-aarch64 was left alone");
    let reference = format!("{image}@{}", run.output("digest"));
    assert_eq!(bed.run_image(&reference, "linux/arm/v7", &["cat", "/arch"]), "armv7l");
}

#[test]
fn native_builds_never_touch_the_installer() {
    let bed = TestBed::get();
    let image = bed.unique_image("native-only");
    let dir = workspace(DOCKERFILE);
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    // An installer that cannot be pulled: any use of it would fail the run.
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("qemu-image", "registry.invalid/no/binfmt:1"),
        ("tags", "native"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("QEMU: the builder already runs every requested platform"), "{}", run.stdout);
}
