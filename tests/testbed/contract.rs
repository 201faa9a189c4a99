//! The action's image run exactly as the GitHub runner runs a container
//! action: `docker run` with the docker socket, the `/github/*` mounts,
//! `INPUT_` names with hyphens, the default bridge network (the registry is
//! reached at 172.17.0.1), a release event payload; outputs read back from
//! the file the runner would read.

use std::process::Command;
use std::time::Instant;

use crate::common::{Run, TestBed, parse_github_output};

const IMAGE: &str = "multiarch-action:test";

#[test]
fn the_image_runs_as_the_runner_runs_it() {
    let bed = TestBed::get();
    let inspect = Command::new("docker").args(["image", "inspect", IMAGE]).output().unwrap();
    assert!(
        inspect.status.success(),
        "the image {IMAGE} is missing: build it with `scripts/build-test-image` (`scripts/test` does)"
    );

    let root = tempfile::tempdir().unwrap();
    let dirs = ["workspace", "home", "workflow", "file_commands", "runner_temp"];
    for dir in dirs {
        std::fs::create_dir(root.path().join(dir)).unwrap();
    }
    let workspace = root.path().join("workspace");
    std::fs::write(
        workspace.join("Dockerfile"),
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n",
    )
    .unwrap();
    let event = serde_json::json!({
        "action": "published",
        "release": { "tag_name": "v3.1.0", "prerelease": false, "draft": false },
        "repository": {
            "name": "app", "full_name": "acme/app", "html_url": "https://github.com/acme/app",
            "description": "The app", "license": { "spdx_id": "Apache-2.0" }, "default_branch": "main"
        }
    });
    std::fs::write(root.path().join("workflow/event.json"), event.to_string()).unwrap();
    std::fs::write(root.path().join("file_commands/set_output_1"), "").unwrap();
    std::fs::write(root.path().join("file_commands/step_summary_1"), "").unwrap();

    let image = bed.unique_image("contract");
    let build_args = format!("BASE_IMAGE={}", bed.base_image);
    let env = [
        ("INPUT_IMAGES", image.as_str()),
        ("INPUT_PLATFORMS", "linux/amd64,linux/arm64"),
        ("INPUT_BUILD-ARGS", build_args.as_str()),
        ("INPUT_REGISTRY", bed.registry.as_str()),
        ("INPUT_USERNAME", bed.user.as_str()),
        ("INPUT_PASSWORD", bed.password.as_str()),
        ("INPUT_INSECURE-REGISTRIES", bed.registry.as_str()),
        ("INPUT_DRY-RUN", "false"),
        ("INPUT_TAGS", ""),
        ("HOME", "/github/home"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", "release"),
        ("GITHUB_EVENT_PATH", "/github/workflow/event.json"),
        ("GITHUB_REF", "refs/tags/v3.1.0"),
        ("GITHUB_REF_NAME", "v3.1.0"),
        ("GITHUB_REF_TYPE", "tag"),
        ("GITHUB_SHA", "89abcdef0123456789abcdef0123456789abcdef"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_API_URL", "https://api.github.com"),
        ("GITHUB_WORKSPACE", "/github/workspace"),
        ("GITHUB_OUTPUT", "/github/file_commands/set_output_1"),
        ("GITHUB_STEP_SUMMARY", "/github/file_commands/step_summary_1"),
        ("RUNNER_TEMP", "/github/runner_temp"),
    ];
    let mut command = Command::new("docker");
    command.args(["run", "--rm", "--workdir", "/github/workspace"]);
    for (name, _) in env {
        command.args(["-e", name]);
    }
    command.envs(env);
    command.args(["-v", "/var/run/docker.sock:/var/run/docker.sock"]);
    for (dir, target) in [
        ("workspace", "workspace"),
        ("home", "home"),
        ("workflow", "workflow"),
        ("file_commands", "file_commands"),
        ("runner_temp", "runner_temp"),
    ] {
        command.args(["-v", &format!("{}:/github/{target}", root.path().join(dir).display())]);
    }
    command.arg(IMAGE);
    let start = Instant::now();
    let output = command.output().unwrap();
    let raw_outputs =
        std::fs::read_to_string(root.path().join("file_commands/set_output_1")).unwrap();
    let run = Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        outputs: parse_github_output(&raw_outputs),
        raw_outputs,
        summary: std::fs::read_to_string(root.path().join("file_commands/step_summary_1")).unwrap(),
        elapsed: start.elapsed(),
        runner_temp: None,
    };
    assert!(run.success, "the action container failed:\n{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[&bed.password], root.path());

    let digest = run.output("digest");
    let tags: Vec<String> =
        ["3.1.0", "3.1", "3", "latest"].iter().map(|t| format!("{image}:{t}")).collect();
    assert_eq!(run.output("tags").lines().collect::<Vec<_>>(), tags);
    for tag in ["3.1.0", "3.1", "3", "latest"] {
        assert_eq!(bed.manifest_digest(&image, tag).as_deref(), Some(digest), "{tag}");
    }
    let labels = run.output("labels");
    for expected in [
        "org.opencontainers.image.source=https://github.com/acme/app",
        "org.opencontainers.image.licenses=Apache-2.0",
        "org.opencontainers.image.description=The app",
        "org.opencontainers.image.version=3.1.0",
    ] {
        assert!(labels.lines().any(|l| l == expected), "{expected} missing from {labels}");
    }
    let platforms: serde_json::Value = serde_json::from_str(run.output("platforms")).unwrap();
    assert_eq!(platforms.as_object().unwrap().len(), 2, "{platforms}");
    assert_eq!(bed.run_image(run.output("image"), "linux/arm64", &["cat", "/arch"]), "aarch64");
}
