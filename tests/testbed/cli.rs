//! The binary and its log against the real test bed: warnings through the
//! runner contract, a failed build annotated on its Dockerfile line, the post
//! step cleaning up after a run killed with SIGKILL, `call: check` and the
//! buildx it needs, a builder the user made used and kept, and
//! `--cgroup-parent` reaching RUN steps with `--push=false` needing no
//! registry. The command line without a daemon is in tests/fast/cli.rs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{BINARY, TestBed, obeyed_commands, run_action, run_cli, text, workspace};

/// The registry client's retry warnings (tracing events) are annotations
/// in a workflow, plain `warning:` lines in a terminal; no colour, no time.
#[test]
fn warnings_follow_the_runner_contract() {
    let _bed = TestBed::get();
    let dir = workspace("FROM scratch\n");
    let inputs = [
        ("INPUT_IMAGES", "127.0.0.1:9/acme/app"),
        ("INPUT_INSECURE-REGISTRIES", "127.0.0.1:9"),
        ("INPUT_VERSION", "1.0.0"),
        ("INPUT_PLATFORMS", "linux/amd64"),
        ("INPUT_PREFLIGHT", "false"),
    ];
    let mut env = vec![("GITHUB_ACTIONS", "true")];
    env.extend(inputs);
    let output = run_cli(dir.path(), &[], &env);
    let stdout = text(&output.stdout);
    assert!(!output.status.success());
    let warnings: Vec<&str> = obeyed_commands(&stdout)
        .into_iter()
        .filter(|l| l.starts_with("::warning::reaching 127.0.0.1:9 failed"))
        .collect();
    assert!(!warnings.is_empty(), "no retry warning as an annotation: {stdout}");
    assert!(
        !stdout.contains('\x1b') && !text(&output.stderr).contains('\x1b'),
        "colour in a workflow log: {stdout}"
    );
    assert!(!text(&output.stderr).contains("WARN"), "{}", text(&output.stderr));

    let local = run_cli(
        dir.path(),
        &[
            "build",
            "--images",
            "127.0.0.1:9/acme/app",
            "--insecure-registries",
            "127.0.0.1:9",
            "--version",
            "1.0.0",
            "--platforms",
            "linux/amd64",
            "--preflight=false",
        ],
        &[],
    );
    let stdout = text(&local.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("warning: reaching 127.0.0.1:9 failed")),
        "{stdout}"
    );
    assert!(!stdout.contains("::warning"), "{stdout}");
}

/// A failing RUN is an error on its Dockerfile line, BuildKit's warning
/// about the empty continuation line a warning on its line; the failure is
/// not an emulation failure, so the QEMU installer is not asked. The image
/// is on ghcr.io with no credentials: `push: false` needs none.
#[test]
fn a_failed_build_is_annotated_on_its_dockerfile_line() {
    let bed = TestBed::get();
    let dockerfile = format!("FROM {}\nRUN echo a \\\n\n  && echo b\nRUN false\n", bed.base_image);
    let dir = workspace(&dockerfile);
    let auth = format!(
        "- registry: {}\n  username: {}\n  password: {}\n",
        bed.registry, bed.user, bed.password
    );
    let run = run_action(
        dir.path(),
        &[
            ("images", "ghcr.io/acme/app"),
            ("push", "false"),
            ("version", "1.0.0"),
            ("registry-auth", &auth),
            ("insecure-registries", &bed.registry),
            ("platforms", "linux/amd64,linux/arm64"),
        ],
        &[],
    );
    assert!(!run.success, "{}", run.stdout);
    let obeyed = obeyed_commands(&run.stdout);
    let error = obeyed
        .iter()
        .find(|l| l.starts_with("::error file=Dockerfile,line=5,title=build failed::"))
        .unwrap_or_else(|| panic!("no error on line 5: {}", run.stdout));
    assert!(error.contains("RUN false") && error.contains("exit code: 1"), "{error}");
    assert!(
        obeyed
            .iter()
            .any(|l| l.starts_with("::warning file=Dockerfile,line=4::Empty continuation line")),
        "no warning on line 4: {}",
        run.stdout
    );
    assert!(!run.stdout.contains("asking the QEMU installer"), "{}", run.stdout);
    assert!(!run.stdout.contains("needs credentials"), "{}", run.stdout);
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().expect("docker CLI");
    text(&output.stdout)
}

/// A run killed with SIGKILL (no cleanup of its own) leaves its builder's
/// container and volume, a labelled container and its private Docker config;
/// the post step, run as the runner runs it (the same image, the post
/// entrypoint's name, the saved state as `STATE_run`), removes them all.
#[test]
fn the_post_step_removes_what_a_killed_run_left() {
    use std::os::unix::process::CommandExt as _;
    let bed = TestBed::get();
    let dir = workspace(&format!("FROM {}\nRUN sleep 120\n", bed.base_image));
    let files = tempfile::tempdir().unwrap();
    let (state, temp) = (files.path().join("state"), files.path().join("tmp"));
    std::fs::create_dir(&temp).unwrap();
    let image = bed.unique_image("killed");
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STATE", &state)
        .env("TMPDIR", &temp)
        .env("RUNNER_TEMP", &temp);
    for (name, value) in [
        ("IMAGES", image.as_str()),
        ("REGISTRY", bed.registry.as_str()),
        ("USERNAME", bed.user.as_str()),
        ("PASSWORD", bed.password.as_str()),
        ("INSECURE-REGISTRIES", bed.registry.as_str()),
        ("VERSION", "1.0.0"),
        ("PLATFORMS", "linux/amd64"),
        ("DRIVER", "docker-container"),
        ("BUILDKIT-IMAGE", "moby/buildkit:buildx-stable-1"),
    ] {
        command.env(format!("INPUT_{name}"), value);
    }
    // Its own process group, so that SIGKILL reaches buildx too, as when
    // the runner's container goes.
    let child = command.stdout(std::process::Stdio::null()).process_group(0).spawn().unwrap();
    let pid = child.id() as i32;

    let deadline = Instant::now() + Duration::from_secs(120);
    let run = loop {
        let saved = std::fs::read_to_string(&state).unwrap_or_default();
        let run = saved.lines().nth(1).unwrap_or_default().to_string();
        if !run.is_empty()
            && docker(&["ps", "-q", "--filter", &format!("name=buildx_buildkit_{run}")])
                .trim()
                .len()
                > 1
        {
            break run;
        }
        assert!(Instant::now() < deadline, "the run never started its builder (state: {saved:?})");
        std::thread::sleep(Duration::from_millis(300));
    };
    // What a smoke test or the QEMU installer would have left running.
    let label = format!("org.multiarch-action.run={run}");
    let labelled = Command::new("docker")
        .args(["run", "-d", "--label", &label, &bed.base_image, "sleep", "300"])
        .output()
        .unwrap();
    assert!(labelled.status.success(), "{}", text(&labelled.stderr));
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let mut child = child;
    child.wait().unwrap();

    let builder_filter = format!("name=buildx_buildkit_{run}");
    let label_filter = format!("label={label}");
    let left = || {
        (
            docker(&["ps", "-aq", "--filter", &builder_filter]),
            docker(&["ps", "-aq", "--filter", &label_filter]),
            docker(&["volume", "ls", "-q", "--filter", &builder_filter]),
            std::fs::read_dir(&temp)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&run))
                .count(),
        )
    };
    let (builders, containers, volumes, configs) = left();
    assert!(
        !builders.trim().is_empty()
            && !containers.trim().is_empty()
            && !volumes.trim().is_empty()
            && configs == 1,
        "the killed run left nothing to clean: {:?}",
        left()
    );

    // The runner's post step: the post entrypoint's name, the saved state.
    let post_dir = tempfile::tempdir().unwrap();
    let post = post_dir.path().join("multiarch-action-post");
    std::os::unix::fs::symlink(BINARY, &post).unwrap();
    let output = Command::new(&post)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("TMPDIR", &temp)
        .env("STATE_run", &run)
        .env("INPUT_IMAGES", &image)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains(&format!("post: removed what {run} left")), "{stdout}");
    assert_eq!(left(), (String::new(), String::new(), String::new(), 0), "{stdout}");
    assert!(bed.manifest_digest(&image, "1.0.0").is_none(), "the post step built or pushed");

    // Again: nothing left, nothing to do; and with no state, nothing at all.
    let again = Command::new(&post)
        .env_clear()
        .env("GITHUB_ACTIONS", "true")
        .env("STATE_run", &run)
        .output()
        .unwrap();
    assert!(
        again.status.success() && text(&again.stdout).contains("left nothing behind"),
        "{}",
        text(&again.stdout)
    );
    let none = Command::new(&post).env_clear().env("GITHUB_ACTIONS", "true").output().unwrap();
    assert!(
        none.status.success() && text(&none.stdout).contains("saved no run name"),
        "{}",
        text(&none.stdout)
    );
}

/// `call: check` asks buildx for `--call=check`, which buildx has from
/// 0.15 on: with an older buildx the run stops at once, naming the version.
#[test]
fn call_check_names_the_buildx_it_needs() {
    let _bed = TestBed::get();
    let buildx = [
        "/usr/libexec/docker/cli-plugins/docker-buildx",
        "/usr/lib/docker/cli-plugins/docker-buildx",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("buildx is installed by scripts/testenv");
    let version = text(&Command::new(buildx).arg("version").output().unwrap().stdout);
    let parsed = version.split_whitespace().nth(1).unwrap().trim_start_matches('v').to_string();
    let dir = workspace("FROM scratch\nCOPY x /\n");
    let output = run_cli(
        dir.path(),
        &[
            "build",
            "--images",
            "registry.example.com/acme/app",
            "--version",
            "1.0.0",
            "--call",
            "check",
        ],
        &[],
    );
    let stdout = text(&output.stdout);
    let minor: u32 = parsed.split('.').nth(1).unwrap().parse().unwrap();
    if parsed.starts_with("0.") && minor < 15 {
        assert!(!output.status.success());
        let core: String = parsed.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        assert!(
            stdout.contains(&format!(
                "error: call: `check` needs buildx 0.15.0 or later (`buildx build --call=check`), and {buildx} is buildx {core}"
            )),
            "{stdout}"
        );
    } else {
        assert!(stdout.contains("Build checks"), "{stdout}");
    }
}

/// `builder` names a builder the user made (found in the user's buildx
/// configuration); the run uses it as it is and leaves it in place. The
/// `imageid` output is the image's config digest, as build-push-action's.
#[test]
fn an_existing_builder_is_used_and_kept() {
    let bed = TestBed::get();
    let home = tempfile::tempdir().unwrap();
    let name = format!("existing-{}", std::process::id());
    let buildx = |args: &[&str]| {
        Command::new("docker")
            .env("HOME", home.path())
            .env("DOCKER_CONFIG", home.path().join(".docker"))
            .arg("buildx")
            .args(args)
            .output()
            .unwrap()
    };
    // The user's own builder, configured by the user to reach the test
    // registry over plain HTTP (the run configures nothing of it).
    let toml = home.path().join("buildkitd.toml");
    std::fs::write(
        &toml,
        format!("[registry.\"{}\"]\n  http = true\n  insecure = true\n", bed.registry),
    )
    .unwrap();
    let toml = toml.display().to_string();
    let created = buildx(&[
        "create",
        "--name",
        &name,
        "--driver",
        "docker-container",
        "--driver-opt",
        "image=moby/buildkit:buildx-stable-1,network=host",
        "--config",
        &toml,
    ]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let image = bed.unique_image("existing-builder");
    let dir = workspace(&format!("FROM {}\nRUN echo built > /built\n", bed.base_image));
    let mut inputs = crate::common::registry_inputs(&bed, &image);
    inputs.extend([
        ("builder", name.as_str()),
        ("version", "1.0.0"),
        ("platforms", "linux/amd64"),
        ("provenance", "false"),
    ]);
    let home_dir = home.path().display().to_string();
    let run = run_action(dir.path(), &inputs, &[("HOME", &home_dir)]);
    let kept = buildx(&["inspect", &name]);
    let _ = buildx(&["rm", "--force", &name]);
    assert!(run.success, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("builder: `{name}`, as `builder` asks")),
        "{}",
        run.stdout
    );
    assert!(kept.status.success(), "the run removed the user's builder: {}", text(&kept.stderr));
    let manifest = bed.manifest(&image, run.output("digest"));
    assert_eq!(run.output("imageid"), manifest["config"]["digest"].as_str().unwrap(), "{manifest}");

    let both = run_cli(
        dir.path(),
        &["build", "--images", &image, "--builder", &name, "--driver", "docker", "--dry-run"],
        &[],
    );
    assert!(
        text(&both.stdout).contains("error: driver: does not apply with `builder:"),
        "{}",
        text(&both.stdout)
    );
}

/// `--cgroup-parent` reaches the RUN steps; `--push=false` builds an image
/// named on ghcr.io with no credentials for it and no connection to it.
#[test]
fn cgroup_parent_reaches_run_steps_and_push_false_needs_no_registry() {
    let bed = TestBed::get();
    let dir = workspace(&format!("FROM {}\nRUN cat /proc/self/cgroup\n", bed.base_image));
    let auth = format!(
        "- registry: {}\n  username: {}\n  password: {}\n",
        bed.registry, bed.user, bed.password
    );
    let args = [
        "build",
        "--images",
        "ghcr.io/acme/app",
        "--push=false",
        "--platforms",
        "linux/amd64",
        "--no-cache",
        "--cgroup-parent",
        "/multiarch-action-test",
        "--registry-auth",
        &auth,
        "--insecure-registries",
        &bed.registry,
    ];
    let output = run_cli(dir.path(), &args, &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.lines().any(|l| l.contains(" 0::/multiarch-action-test/")),
        "the RUN step ran elsewhere: {stdout}"
    );
    assert!(stdout.contains("built, not pushed (push: false)"), "{stdout}");
}
