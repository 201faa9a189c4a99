//! The command line on the real binary, with no daemon and no registry:
//! the bare command outside a workflow, help, version and suggestions, the
//! offline dry run, and the flag forms.

use crate::common::{run_cli, text, workspace};

#[test]
fn bare_outside_a_workflow_prints_help_and_exits_2() {
    let dir = workspace("FROM scratch\n");
    let output = run_cli(dir.path(), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        stderr.contains("Usage: multiarch-action <COMMAND>") && stderr.contains("build"),
        "{stderr}"
    );
    assert!(!stdout.contains("::error") && !stderr.contains("::error"), "{stdout}{stderr}");
}

#[test]
fn version_help_and_suggestions() {
    let dir = workspace("FROM scratch\n");
    let version = run_cli(dir.path(), &["--version"], &[]);
    assert!(version.status.success());
    assert_eq!(
        text(&version.stdout).trim(),
        format!("multiarch-action {}", env!("CARGO_PKG_VERSION"))
    );

    let help = run_cli(dir.path(), &["build", "--help"], &[]);
    assert!(help.status.success());
    let help = text(&help.stdout);
    let at = |needle: &str| {
        help.find(needle).unwrap_or_else(|| panic!("`{needle}` is not in the help: {help}"))
    };
    for (heading, flag) in [
        ("Image and tags:", "--images"),
        ("Build:", "--cgroup-parent"),
        ("Registry:", "--password"),
        ("Builder and QEMU:", "--builder"),
        ("Checks:", "--dry-run"),
        ("Native runners (digest and merge):", "--digests-dir"),
    ] {
        assert!(at(heading) < at(flag), "{flag} is not under {heading}");
    }

    let typo = run_cli(dir.path(), &["build", "--dryrun"], &[]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        text(&typo.stderr).contains("a similar argument exists: '--dry-run'"),
        "{}",
        text(&typo.stderr)
    );
}

/// The README's dry run, on a machine that cannot reach ghcr.io and has no
/// credentials for it.
#[test]
fn the_readme_dry_run_works_offline_without_credentials() {
    let dir = workspace("FROM scratch\n");
    let output = run_cli(
        dir.path(),
        &["build", "--images", "ghcr.io/acme/app", "--version", "1.4.0", "--dry-run"],
        &[],
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    for line in [
        "dry run: nothing is built or pushed",
        "  ghcr.io/acme/app:1.4.0",
        "  ghcr.io/acme/app:latest",
        "push: true (push: auto)",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line `{line}` in {stdout}");
    }
    assert!(stdout.contains("(floating tags not checked: ghcr.io cannot be reached"), "{stdout}");
    assert!(
        stdout.contains("warning: password: no credentials for ghcr.io; this dry run needs none"),
        "{stdout}"
    );
}

#[test]
fn switches_take_no_value_or_one_and_never_swallow_the_next_flag() {
    let dir = workspace("FROM scratch\n");
    let image = "registry.example.com/acme/app";
    type Case<'a> = (&'a [&'a str], &'a [&'a str]);
    let cases: &[Case] = &[
        (&["--dry-run", "--images", image, "--version", "1.0.0"], &["push: true (push: auto)"]),
        (&["--no-cache", "--dry-run", "--images", image, "--version", "1.0.0"], &["--no-cache"]),
        (
            &["--images", image, "--push=false", "--dry-run", "--version", "1.0.0"],
            &["push: false (push: false)"],
        ),
        (
            &["--images", image, "--push", "false", "--dry-run", "--version", "1.0.0"],
            &["push: false (push: false)"],
        ),
        (
            &[
                "--images",
                image,
                "--dry-run=true",
                "--cgroup-parent",
                "/actions",
                "--version",
                "1.0.0",
            ],
            &["--cgroup-parent /actions"],
        ),
        (
            &["--images", image, "--dry-run", "--build-args", "-X=1", "--version", "1.0.0"],
            &["--build-arg -X=1"],
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        let output = run_cli(dir.path(), &all, &[]);
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{args:?}: {stdout}{}", text(&output.stderr));
        for needle in *expected {
            assert!(stdout.contains(needle), "{args:?}: no `{needle}` in {stdout}");
        }
    }
    let missing = run_cli(dir.path(), &["build", "--images", "--dry-run"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("a value is required for '--images <VALUE>'"),
        "{}",
        text(&missing.stderr)
    );
}
