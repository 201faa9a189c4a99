//! The release workflow's steps, as far as they run off GitHub, from a clean
//! checkout with no published image: the binary built from source, the
//! action run from it with the workflow's own `INPUT_*` (digest, then
//! merge), producing the action's image in the test registry; then the
//! release's action.yml pinned to that image, and the major tag rule.
//!
//! Off GitHub: one runner (amd64) instead of two, so the merge covers
//! linux/amd64; no release notes (GitHub's API); and the `buildx` stage's
//! image (`docker/buildx-bin`) cannot be pulled here, so a build context of
//! that name provides the machine's buildx in its place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{ROOT, TestBed};

/// The `INPUT_*` environment of the workflow step whose `env` sets
/// `INPUT_MODE` to `mode`, as inputs (`INPUT_BUILD-ARGS` → `build-args`).
fn workflow_inputs(mode: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(format!("{ROOT}/.github/workflows/release.yml")).unwrap();
    let workflow: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let jobs = workflow["jobs"].as_mapping().unwrap();
    let step = jobs
        .values()
        .flat_map(|job| job["steps"].as_sequence().cloned().unwrap_or_default())
        .find(|step| step["env"]["INPUT_MODE"].as_str() == Some(mode))
        .unwrap_or_else(|| panic!("no step of release.yml runs mode {mode}"));
    assert_eq!(
        step["run"].as_str(),
        Some("\"$RUNNER_TEMP/prebuilt/bin/multiarch-action\""),
        "the step runs the binary built just now"
    );
    step["env"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().strip_prefix("INPUT_").unwrap().to_lowercase(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The workflow's expressions, as this test bed answers them.
fn substitute(value: &str, runner_temp: &Path, bed: &TestBed, image: &str) -> String {
    if value.contains("github.repository") {
        return image.to_string();
    }
    value
        .replace("${{ runner.temp }}", &runner_temp.display().to_string())
        .replace("${{ github.actor }}", &bed.user)
        .replace("${{ secrets.GITHUB_TOKEN }}", &bed.password)
}

/// The tracked files as they are in the working tree, without `target/`
/// and anything untracked: a clean checkout.
fn clean_checkout(into: &Path) {
    let listed = Command::new("git").args(["-C", ROOT, "ls-files", "-z"]).output().unwrap();
    assert!(listed.status.success(), "git ls-files: {}", String::from_utf8_lossy(&listed.stderr));
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).unwrap();
        let (from, to) = (Path::new(ROOT).join(name), into.join(name));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
    }
}

fn release(checkout: &Path, args: &[&str]) -> std::process::Output {
    // The compiled dependencies of this checkout's own build are reused.
    Command::new(checkout.join("scripts/release"))
        .args(args)
        .env("CARGO_TARGET_DIR", format!("{ROOT}/target"))
        .output()
        .unwrap()
}

fn buildx_version(checkout: &Path) -> String {
    let dockerfile = std::fs::read_to_string(checkout.join("Dockerfile")).unwrap();
    dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ARG BUILDX_VERSION="))
        .expect("the Dockerfile pins buildx")
        .to_string()
}

#[test]
fn the_release_steps_build_the_action_image_from_source_and_pin_it() {
    let bed = TestBed::get();
    let image = bed.unique_image("multiarch-action");
    let checkout = tempfile::tempdir().unwrap();
    clean_checkout(checkout.path());
    let runner_temp = tempfile::tempdir().unwrap();

    // The binary, from source, as the Dockerfile's prebuilt-binary context.
    let prebuilt = runner_temp.path().join("prebuilt");
    let built = release(checkout.path(), &["binary", prebuilt.to_str().unwrap()]);
    assert!(
        built.status.success(),
        "scripts/release binary: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    for file in ["bin/multiarch-action", "bin/multiarch-action-post", "ca-certificates.crt", "tmp"]
    {
        assert!(prebuilt.join(file).exists(), "{file} is in the prebuilt context");
    }
    let binary: PathBuf = prebuilt.join("bin/multiarch-action");

    // Stand-in for docker/buildx-bin, which cannot be pulled here.
    let buildx_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        "/usr/libexec/docker/cli-plugins/docker-buildx",
        buildx_dir.path().join("buildx"),
    )
    .unwrap();
    let buildx_context = format!(
        "docker/buildx-bin:{}={}",
        buildx_version(checkout.path()),
        buildx_dir.path().display()
    );

    let github = [
        ("GITHUB_EVENT_NAME", "release"),
        ("GITHUB_REF", "refs/tags/v9.8.7"),
        ("GITHUB_REF_NAME", "v9.8.7"),
    ];
    let run_step = |mode: &str, overrides: &[(&str, String)]| {
        let mut inputs: BTreeMap<String, String> = workflow_inputs(mode)
            .into_iter()
            .map(|(k, v)| (k, substitute(&v, runner_temp.path(), &bed, &image)))
            .collect();
        inputs.insert("registry".into(), bed.registry.clone());
        inputs.insert("insecure-registries".into(), bed.registry.clone());
        for (name, value) in overrides {
            inputs.insert(name.to_string(), value.clone());
        }
        let pairs: Vec<(&str, &str)> =
            inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        crate::common::run_binary(&binary, checkout.path(), &pairs, &github)
    };

    let digest_run = run_step(
        "digest",
        &[(
            "build-contexts",
            format!(
                "{}\n{buildx_context}",
                workflow_inputs("digest")["build-contexts"]
                    .replace("${{ runner.temp }}", &runner_temp.path().display().to_string())
            ),
        )],
    );
    assert!(digest_run.success, "{}\n{}", digest_run.stdout, digest_run.stderr);
    let merge_run = run_step(
        "merge",
        &[("platforms", "linux/amd64".into()), ("release-notes", "false".into())],
    );
    assert!(merge_run.success, "{}\n{}", merge_run.stdout, merge_run.stderr);
    assert_eq!(merge_run.output("version"), "9.8.7");
    let digest = merge_run.output("digest");
    assert_eq!(bed.manifest_digest(&image, "9.8.7").as_deref(), Some(digest));
    // The smoke test of the workflow ran the image's own binary.
    assert!(
        merge_run.stdout.contains(&format!("multiarch-action {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        merge_run.stdout
    );

    // The post step's entrypoint is in the image too; with no run saved it
    // has nothing to clean.
    let post = bed.docker(&[
        "run",
        "--rm",
        "--pull",
        "always",
        "--entrypoint",
        "/usr/bin/multiarch-action-post",
        &format!("{image}@{digest}"),
    ]);
    assert!(
        post.status.success(),
        "{}{}",
        String::from_utf8_lossy(&post.stdout),
        String::from_utf8_lossy(&post.stderr)
    );

    // Pinned: the release's action.yml runs exactly this version's image.
    let version = env!("CARGO_PKG_VERSION");
    let pinned = release(checkout.path(), &["pin", "Acme/Multiarch-Action", version]);
    assert!(pinned.status.success(), "{}", String::from_utf8_lossy(&pinned.stderr));
    let action = std::fs::read_to_string(checkout.path().join("action.yml")).unwrap();
    let runs: serde_yaml_ng::Value = serde_yaml_ng::from_str(&action).unwrap();
    assert_eq!(
        runs["runs"]["image"].as_str(),
        Some(format!("docker://ghcr.io/acme/multiarch-action:{version}").as_str())
    );
    assert!(runs["outputs"]["image"].is_mapping(), "the `image` output is left alone");
    for (wrong, says) in [("9.9.9", "bump the version in Cargo.toml"), ("", "no version to pin")] {
        let refused = release(checkout.path(), &["pin", "acme/multiarch-action", wrong]);
        assert!(
            !refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains(says),
            "{wrong:?}"
        );
    }
    for (version, major) in [("1.2.3", "v1\n"), ("10.0.0", "v10\n"), ("1.2.3-rc.1", ""), ("", "")] {
        assert_eq!(
            String::from_utf8_lossy(&release(checkout.path(), &["major", version]).stdout),
            major,
            "{version:?}"
        );
    }
}
