//! The `docker-container` builder for real: a BuildKit container started by
//! buildx from the test bed's BuildKit image, plain-HTTP registries inside it,
//! the QEMU platforms it reports, an inline buildkitd config reaching it, push
//! and verification, and no builder left afterwards; and `auto` on a daemon
//! set up as GitHub's hosted runners are (classic image store).

use crate::common::{Run, TestBed, registry_inputs, run_action, workspace};

const DOCKERFILE: &str =
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\nCMD [\"cat\", \"/arch\"]\n";

/// The builder the run created, from its log line ``builder `NAME` (DRIVER) runs …``.
fn builder_line(run: &Run) -> (String, String, Vec<String>) {
    let line = run
        .stdout
        .lines()
        .find_map(|l| {
            l.split_once("builder `").map(|(_, rest)| rest).filter(|rest| rest.contains(") runs "))
        })
        .unwrap_or_else(|| panic!("no line naming the builder and its platforms:\n{}", run.stdout));
    let (name, rest) = line.split_once("` (").unwrap();
    let (driver, platforms) = rest.split_once(") runs ").unwrap();
    (
        name.to_string(),
        driver.to_string(),
        platforms.split(',').map(|p| p.trim().to_string()).collect(),
    )
}

/// The real platforms of the pushed index, sorted.
fn index_platforms(bed: &TestBed, image: &str, digest: &str) -> Vec<String> {
    let index = bed.manifest(image, digest);
    let mut platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("{image}@{digest} is not an index: {index}"))
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    platforms.sort();
    platforms
}

/// Fails when the builder's container or state volume is still there.
fn assert_no_builder_left(docker: impl Fn(&[&str]) -> std::process::Output, builder: &str) {
    let prefix = format!("buildx_buildkit_{builder}");
    let containers =
        docker(&["ps", "--all", "--filter", &format!("name={prefix}"), "--format", "{{.Names}}"]);
    assert!(containers.status.success(), "{}", String::from_utf8_lossy(&containers.stderr));
    assert_eq!(
        String::from_utf8_lossy(&containers.stdout).trim(),
        "",
        "the builder's container is left"
    );
    let volumes =
        docker(&["volume", "ls", "--filter", &format!("name={prefix}"), "--format", "{{.Name}}"]);
    assert!(volumes.status.success(), "{}", String::from_utf8_lossy(&volumes.stderr));
    assert_eq!(
        String::from_utf8_lossy(&volumes.stdout).trim(),
        "",
        "the builder's state volume is left"
    );
}

#[test]
fn a_docker_container_builder_builds_two_platforms_under_qemu_pushes_and_is_removed() {
    let bed = TestBed::get();
    let image = bed.unique_image("container-two-platforms");
    let dir = workspace(DOCKERFILE);
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("driver", "docker-container"),
        ("buildkit-image", bed.buildkit_image.as_str()),
        ("tags", "container"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "the action failed:\n{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[&bed.password], dir.path());
    assert!(
        run.stdout.contains("builder: driver: docker-container was requested"),
        "{}",
        run.stdout
    );

    // The builder reports arm64, which this amd64 machine runs under QEMU.
    let (builder, driver, platforms) = builder_line(&run);
    assert_eq!(driver, "docker-container");
    assert!(
        platforms.iter().any(|p| p == "linux/amd64")
            && platforms.iter().any(|p| p == "linux/arm64"),
        "{platforms:?}"
    );

    let digest = run.output("digest");
    assert_eq!(bed.manifest_digest(&image, "container").as_deref(), Some(digest));
    assert_eq!(index_platforms(&bed, &image, digest), ["linux/amd64", "linux/arm64"]);
    let reported: serde_json::Value = serde_json::from_str(run.output("platforms")).unwrap();
    assert_eq!(reported.as_object().unwrap().len(), 2, "{reported}");

    assert!(run.summary.contains("| `linux/arm64` (QEMU) |"), "{}", run.summary);

    // The arm64 RUN step ran, emulated, in the builder.
    let reference = format!("{image}@{digest}");
    assert_eq!(bed.run_image(&reference, "linux/arm64", &["cat", "/arch"]), "aarch64");
    assert_eq!(bed.run_image(&reference, "linux/amd64", &["cat", "/arch"]), "x86_64");

    assert_no_builder_left(|args| bed.docker(args), &builder);
}

#[test]
fn a_failed_build_in_a_docker_container_builder_leaves_no_builder() {
    let bed = TestBed::get();
    let image = bed.unique_image("container-fails");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo step-fails-here && false\n");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("driver", "docker-container"),
        ("buildkit-image", bed.buildkit_image.as_str()),
        ("tags", "never"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success, "a failing RUN step must fail the run:\n{}", run.stdout);
    let errors = run.error_lines();
    assert!(errors.iter().any(|e| e.contains("the build failed")), "{}", run.stdout);
    let (builder, _, _) = builder_line(&run);
    assert_no_builder_left(|args| bed.docker(args), &builder);
    assert_eq!(bed.manifest_digest(&image, "never"), None, "nothing is pushed");
}

#[test]
fn an_inline_buildkitd_config_reaches_the_builder() {
    let bed = TestBed::get();
    // A base image that exists only as a Docker Hub name mirrored by the test
    // registry: only the inline config's mirror lets the builder find it.
    let mirrored = bed.unique_image("mirrored").replacen("/tests/", "/library/", 1);
    let hub_name = mirrored.rsplit('/').next().unwrap().to_string();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let base_dir =
        workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo from-the-mirror > /origin\n");
    let mut inputs = registry_inputs(&bed, &mirrored);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("driver", "docker"),
        ("tags", "mirror"),
    ]);
    let base = run_action(base_dir.path(), &inputs, &[]);
    assert!(base.success, "pushing the mirrored base failed:\n{}", base.stdout);

    let image = bed.unique_image("inline-config");
    let dir = workspace(&format!("FROM {hub_name}:mirror\nRUN cat /origin > /seen\n"));
    let inline = format!("[registry.\"docker.io\"]\n  mirrors = [\"{}\"]\n", bed.registry);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("driver", "docker-container"),
        ("buildkit-image", bed.buildkit_image.as_str()),
        ("buildkitd-config-inline", inline.as_str()),
        // The base's name is a Docker Hub one; nothing may ask Docker Hub.
        ("preflight", "false"),
        ("tags", "inline"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "the action failed:\n{}\n{}", run.stdout, run.stderr);
    let (builder, driver, _) = builder_line(&run);
    assert_eq!(driver, "docker-container");
    let reference = format!("{image}@{}", run.output("digest"));
    assert_eq!(bed.run_image(&reference, "linux/amd64", &["cat", "/seen"]), "from-the-mirror");
    assert_no_builder_left(|args| bed.docker(args), &builder);
}

#[test]
fn auto_on_a_classic_store_daemon_creates_a_container_builder_and_pushes() {
    let bed = TestBed::get();
    let image = bed.unique_image("classic").replacen(&bed.registry, &bed.classic_registry, 1);
    let base = bed.base_image.replacen(&bed.registry, &bed.classic_registry, 1);
    let dir = workspace(DOCKERFILE);
    let build_arg = format!("BASE_IMAGE={base}");
    let inputs = [
        ("images", image.as_str()),
        ("registry", bed.classic_registry.as_str()),
        ("username", bed.user.as_str()),
        ("password", bed.password.as_str()),
        ("insecure-registries", bed.classic_registry.as_str()),
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "classic"),
    ];
    // The default `buildkit-image`: the classic daemon has it and cannot pull.
    let run = run_action(dir.path(), &inputs, &[("DOCKER_HOST", bed.classic_docker_host.as_str())]);
    assert!(run.success, "the action failed:\n{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[&bed.password], dir.path());
    assert!(
        run.stdout.contains(
            "has no containerd image store, so its own BuildKit cannot build several platforms"
        ),
        "{}",
        run.stdout
    );
    let (builder, driver, platforms) = builder_line(&run);
    assert_eq!(driver, "docker-container");
    assert!(platforms.iter().any(|p| p == "linux/arm64"), "{platforms:?}");

    let digest = run.output("digest");
    assert_eq!(bed.manifest_digest(&image, "classic").as_deref(), Some(digest));
    assert_eq!(index_platforms(&bed, &image, digest), ["linux/amd64", "linux/arm64"]);
    let reference = format!("{image}@{digest}");
    let arm = bed.classic_docker(&[
        "run",
        "--rm",
        "--pull",
        "always",
        "--platform",
        "linux/arm64",
        &reference,
        "cat",
        "/arch",
    ]);
    assert!(arm.status.success(), "{}", String::from_utf8_lossy(&arm.stderr));
    assert_eq!(String::from_utf8_lossy(&arm.stdout).trim(), "aarch64");

    assert_no_builder_left(|args| bed.classic_docker(args), &builder);
    // Nothing of the run reached the main daemon.
    assert_no_builder_left(|args| bed.docker(args), &builder);
}
