//! QEMU set-up against the real kernel. The daemon's own BuildKit lists the
//! emulators it found when it first looked, and not all of them (no arm/v7
//! from Debian's Docker), so a build is tried first and the installer asked
//! when it fails: a missing emulator is installed (and only it) and the build
//! run again; a stale list is caught the same way; a build that fails for
//! its own reasons is reported as it is, on its Dockerfile line, without
//! asking the installer; an installer that cannot be pulled
//! leaves the build's error and pushes nothing. A native-only build never
//! touches the installer, nor does linux/386, which amd64 runs natively.

use std::path::Path;

use crate::common::{TestBed, registry_inputs, run_action, workspace};

const DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n";

const BINFMT: &str = "/proc/sys/fs/binfmt_misc";

fn unregister(emulator: &str) {
    let entry = Path::new(BINFMT).join(emulator);
    if entry.exists() {
        std::fs::write(&entry, "-1")
            .unwrap_or_else(|e| panic!("unregister {emulator} (needs root): {e}"));
    }
    assert!(!entry.exists());
}

fn registered(emulator: &str) -> bool {
    Path::new(BINFMT).join(emulator).exists()
}

/// Registers every emulator the test bed had again, whatever the test did.
struct RestoreEmulators<'a>(&'a TestBed);

impl Drop for RestoreEmulators<'_> {
    fn drop(&mut self) {
        let out = self.0.docker(&[
            "run",
            "--rm",
            "--privileged",
            "--network",
            "none",
            &self.0.qemu_installer,
            "--install",
            "arm64,arm,riscv64",
        ]);
        assert!(
            out.status.success() || std::thread::panicking(),
            "restoring the emulators: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn emulators_are_installed_when_the_build_needs_them() {
    let bed = TestBed::get();
    let _restore = RestoreEmulators(&bed);
    let image = bed.unique_image("qemu-install");
    // A step of its own, so that the build cache cannot stand in for QEMU.
    let dir = workspace(&format!(
        "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nRUN echo {image} > /run-of && uname -m > /arch\n"
    ));
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let inputs_for = |platform: &'static str, installer: &'static str, tag: &'static str| {
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("platforms", platform),
            ("build-args", build_arg.as_str()),
            ("qemu-image", installer),
            ("tags", tag),
        ]);
        inputs
    };
    let installer: &'static str = Box::leak(bed.qemu_installer.clone().into_boxed_str());

    // qemu-arm is missing and the installer cannot be pulled: the build's
    // own error stands, the installer is named, nothing is pushed.
    unregister("qemu-arm");
    let aarch64_before = std::fs::read_to_string(Path::new(BINFMT).join("qemu-aarch64"))
        .expect("qemu-aarch64 is registered by the test bed");
    let run = run_action(
        dir.path(),
        &inputs_for("linux/arm/v7", "registry.invalid/no/binfmt:1", "type=raw,value=never"),
        &[],
    );
    assert!(!run.success, "{}", run.stdout);
    assert!(run.stdout.contains("does not list linux/arm/v7"), "{}", run.stdout);
    let (on_lines, errors) = errors_on_lines_and_others(&run);
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(errors[0].contains("the build failed"), "{}", errors[0]);
    assert!(
        on_lines.len() == 1
            && on_lines[0].starts_with("::error file=Dockerfile,line=3,title=build failed::"),
        "{on_lines:?}"
    );
    assert!(
        run.stdout.contains("could not ask the QEMU installer")
            && run.stdout.contains("registry.invalid/no/binfmt:1"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.manifest_digest(&image, "never"), None, "nothing was tagged");
    assert!(!registered("qemu-arm"));

    // With the installer: only qemu-arm is installed, and the build runs again.
    let run =
        run_action(dir.path(), &inputs_for("linux/arm/v7", installer, "type=raw,value=armv7"), &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "the build failed; asking the QEMU installer whether linux/arm/v7 can run",
        "QEMU: installing emulators for linux/arm/v7 (--install arm)",
        "starting the build again now that linux/arm/v7 can run",
    ] {
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.stdout);
    }
    assert!(registered("qemu-arm"), "qemu-arm was registered");
    assert_eq!(
        std::fs::read_to_string(Path::new(BINFMT).join("qemu-aarch64")).unwrap(),
        aarch64_before,
        "qemu-aarch64 was left alone"
    );
    let reference = format!("{image}@{}", run.output("digest"));
    assert_eq!(bed.run_image(&reference, "linux/arm/v7", &["cat", "/arch"]), "armv7l");

    // A stale list: the builder still names arm64 after its emulator is gone.
    unregister("qemu-aarch64");
    let run =
        run_action(dir.path(), &inputs_for("linux/arm64", installer, "type=raw,value=arm64"), &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("QEMU: installing emulators for linux/arm64 (--install arm64)"),
        "{}",
        run.stdout
    );
    assert!(registered("qemu-aarch64"));
    let reference = format!("{image}@{}", run.output("digest"));
    assert_eq!(bed.run_image(&reference, "linux/arm64", &["cat", "/arch"]), "aarch64");

    // Every emulator is there: a build that fails on its own is reported as
    // it is, once.
    let failing = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN false\n");
    let run = run_action(
        failing.path(),
        &inputs_for("linux/arm/v7", installer, "type=raw,value=failing"),
        &[],
    );
    assert!(!run.success, "{}", run.stdout);
    assert!(
        !run.stdout.contains("asking the QEMU installer"),
        "not an emulation failure: {}",
        run.stdout
    );
    assert!(!run.stdout.contains("starting the build again"), "{}", run.stdout);
    let (on_lines, errors) = errors_on_lines_and_others(&run);
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(errors[0].contains("the build failed") && errors[0].contains("false"), "{}", errors[0]);
    assert!(
        on_lines.len() == 1
            && on_lines[0].starts_with("::error file=Dockerfile,line=3,title=build failed::"),
        "{on_lines:?}"
    );
}

/// The run's `::error` lines: those on a Dockerfile line, and the others.
fn errors_on_lines_and_others(run: &crate::common::Run) -> (Vec<&str>, Vec<&str>) {
    run.error_lines().into_iter().partition(|line| line.starts_with("::error file="))
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
    assert!(
        run.stdout.contains("QEMU: the builder already runs every requested platform"),
        "{}",
        run.stdout
    );
}

#[test]
fn linux_386_runs_natively_on_amd64_and_is_never_sent_to_the_installer() {
    let bed = TestBed::get();
    assert_eq!(std::env::consts::ARCH, "x86_64", "the test bed is an amd64 machine");
    let image = bed.unique_image("i386");
    // Nothing for 386 to run: a file copied into an empty image.
    let dir = workspace("FROM scratch\nCOPY hello.txt /hello.txt\n");
    std::fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
    let mut inputs = registry_inputs(&bed, &image);
    // `qemu: true` installs for every emulated platform; an installer that
    // cannot be pulled fails the run the moment 386 is sent to it.
    inputs.extend([
        ("platforms", "linux/amd64,linux/386"),
        ("qemu", "true"),
        ("qemu-image", "registry.invalid/no/binfmt:1"),
        ("tags", "i386"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("will run under QEMU"), "{}", run.stdout);
    assert!(!run.stdout.contains("--install"), "{}", run.stdout);
    let platforms: serde_json::Value = serde_json::from_str(run.output("platforms")).unwrap();
    assert!(
        platforms.get("linux/386").is_some() && platforms.get("linux/amd64").is_some(),
        "{platforms}"
    );
}
