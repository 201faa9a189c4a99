//! End to end against the real test bed: multi-platform images built with
//! the daemon's BuildKit, RUN steps under real QEMU, pushed to a registry
//! with authentication, every output checked against what the registry holds;
//! a wrong password failing before any build, pull requests built and not
//! pushed, floating tags that never go backwards, a FROM line preflight
//! cannot read (a warning, not a failure), a multi-layer image reaching a
//! second repository and a second registry by digest, and a re-release that
//! sends only what changed in the build context.

use std::collections::BTreeMap;

use crate::common::{TestBed, registry_inputs, run_action, workspace};

const DOCKERFILE: &str =
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\nCMD [\"cat\", \"/arch\"]\n";

#[test]
fn pushes_two_platforms_and_every_output_matches_the_registry() {
    let bed = TestBed::get();
    let image = bed.unique_image("two-platforms");
    let dir = workspace(DOCKERFILE);
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("version", "v1.4.0"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "the action failed:\n{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[&bed.password], dir.path());

    // Secrets are masked before anything else is printed.
    assert_eq!(run.stdout.lines().next(), Some(format!("::add-mask::{}", bed.password).as_str()));

    let digest = run.output("digest");
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(run.output("image"), format!("{image}@{digest}"));
    let expected_tags: Vec<String> =
        ["1.4.0", "1.4", "1", "latest"].iter().map(|t| format!("{image}:{t}")).collect();
    assert_eq!(run.output("tags").lines().collect::<Vec<_>>(), expected_tags);
    for tag in ["1.4.0", "1.4", "1", "latest"] {
        assert_eq!(bed.manifest_digest(&image, tag).as_deref(), Some(digest), "tag {tag}");
    }
    assert_eq!(run.output("version"), "1.4.0");

    // `platforms` lists real platforms only, each with its manifest digest.
    let index = bed.manifest(&image, digest);
    let mut in_registry = BTreeMap::new();
    for entry in index["manifests"].as_array().unwrap() {
        let (os, arch) = (
            entry["platform"]["os"].as_str().unwrap(),
            entry["platform"]["architecture"].as_str().unwrap(),
        );
        if os == "unknown" {
            continue;
        }
        in_registry.insert(format!("{os}/{arch}"), entry["digest"].as_str().unwrap().to_string());
    }
    let reported: BTreeMap<String, String> = serde_json::from_str(run.output("platforms")).unwrap();
    assert_eq!(reported, in_registry);
    assert_eq!(reported.keys().collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);

    let metadata: serde_json::Value = serde_json::from_str(run.output("metadata")).unwrap();
    assert_eq!(metadata["containerimage.digest"].as_str(), Some(digest));
    let labels = run.output("labels");
    assert!(labels.contains("org.opencontainers.image.version=1.4.0"), "{labels}");
    assert!(
        labels
            .contains("org.opencontainers.image.revision=0123456789abcdef0123456789abcdef01234567"),
        "{labels}"
    );

    // The summary shows the platform table, the tags and the pull command.
    for platform in ["linux/amd64", "linux/arm64"] {
        assert!(run.summary.contains(&format!("| `{platform}`")), "{}", run.summary);
        assert!(run.summary.contains(&reported[platform]), "{}", run.summary);
    }
    assert!(run.summary.contains(&format!("docker pull {image}@{digest}")), "{}", run.summary);
    assert!(run.stdout.contains("::group::Build "), "phases are grouped");
    assert!(
        run.summary.contains("Where the time went") && run.summary.contains("| `linux/arm64` |"),
        "{}",
        run.summary
    );
    assert!(run.stdout.contains("architecture scan of "), "{}", run.stdout);
    // BuildKit pushed the build itself, under the staging tag only; the
    // daemon keeps no name of it.
    assert!(
        run.stdout.contains(&format!("BuildKit pushed {digest} to {image} untagged")),
        "{}",
        run.stdout
    );
    assert_eq!(bed.manifest_digest(&image, "multiarch-action-unverified").as_deref(), Some(digest));
    let staged = std::process::Command::new("docker")
        .args(["image", "inspect", &format!("{image}:multiarch-action-unverified")])
        .output()
        .unwrap();
    assert!(!staged.status.success(), "the staging name is removed from the daemon");
    assert!(
        run.summary.contains("2 attestation manifest(s)")
            && run.summary.contains("unknown/unknown"),
        "{}",
        run.summary
    );

    // The arm64 image really was built for arm64: its RUN step ran there.
    let reference = format!("{image}@{digest}");
    assert_eq!(bed.run_image(&reference, "linux/arm64", &["cat", "/arch"]), "aarch64");
    assert_eq!(bed.run_image(&reference, "linux/amd64", &["cat", "/arch"]), "x86_64");
}

#[test]
fn a_wrong_password_fails_in_seconds_without_building() {
    let bed = TestBed::get();
    let image = bed.unique_image("wrong-password");
    let dir = workspace(DOCKERFILE);
    let wrong = "not-the-password-7d1f";
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let inputs = [
        ("images", image.as_str()),
        ("registry", bed.registry.as_str()),
        ("username", bed.user.as_str()),
        ("password", wrong),
        ("insecure-registries", bed.registry.as_str()),
        ("version", "1.0.0"),
        ("build-args", &build_arg),
    ];
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success);
    assert!(run.elapsed.as_secs_f64() < 5.0, "took {:?}", run.elapsed);
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(errors[0].contains(&bed.registry) && errors[0].contains("refused"), "{}", errors[0]);
    assert!(
        !run.stdout.contains("[internal] load build definition"),
        "a build started:\n{}",
        run.stdout
    );
    assert!(run.outputs.is_empty(), "no outputs on failure: {:?}", run.outputs);
    run.assert_no_secret(&[wrong], dir.path());
    assert_eq!(bed.manifest_digest(&image, "1.0.0"), None);
}

#[test]
fn pull_request_events_build_without_pushing() {
    let bed = TestBed::get();
    let image = bed.unique_image("pull-request");
    let dir = workspace(DOCKERFILE);
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([("platforms", "linux/amd64"), ("build-args", build_arg.as_str())]);
    let run = run_action(
        dir.path(),
        &inputs,
        &[("GITHUB_EVENT_NAME", "pull_request"), ("GITHUB_REF", "refs/pull/12/merge")],
    );
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.output("digest"), "");
    assert_eq!(run.output("version"), "pr-12");
    assert!(run.summary.contains("not pushed"), "{}", run.summary);
    assert_eq!(
        bed.manifest_digest(&image, "pr-12"),
        None,
        "nothing may be pushed on a pull request"
    );
}

#[test]
fn floating_tags_never_go_backwards() {
    let bed = TestBed::get();
    let image = bed.unique_image("floating");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let release = |version: &str, dockerfile_extra: &str| {
        let dir = workspace(&format!("{DOCKERFILE}RUN echo {dockerfile_extra} > /release\n"));
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("platforms", "linux/amd64"),
            ("build-args", build_arg.as_str()),
            ("version", version),
        ]);
        let run = run_action(dir.path(), &inputs, &[]);
        assert!(run.success, "{}\n{}", run.stdout, run.stderr);
        run
    };
    let newer = release("2.0.0", "two");
    let older = release("1.9.1", "one-nine-one");
    let (newer_digest, older_digest) = (newer.output("digest"), older.output("digest"));
    assert_ne!(newer_digest, older_digest);
    assert_eq!(
        bed.manifest_digest(&image, "latest").as_deref(),
        Some(newer_digest),
        "latest stays on 2.0.0"
    );
    assert_eq!(bed.manifest_digest(&image, "2").as_deref(), Some(newer_digest));
    for tag in ["1.9.1", "1.9", "1"] {
        assert_eq!(
            bed.manifest_digest(&image, tag).as_deref(),
            Some(older_digest),
            "{tag} moves to 1.9.1"
        );
    }
    assert!(!older.output("tags").contains(":latest"), "{}", older.output("tags"));
    assert!(
        older.summary.contains("held back") && older.summary.contains("`latest`"),
        "{}",
        older.summary
    );
    assert!(older.stdout.contains("holding back `latest`"), "{}", older.stdout);
}

#[test]
fn a_from_line_preflight_cannot_read_is_skipped_with_a_warning_not_failed() {
    let bed = TestBed::get();
    let image = bed.unique_image("pattern-from");
    // `${VAR%:*}` is valid for BuildKit; preflight does not read it (`%` is
    // escaped as `%25` in a workflow command).
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE%:*}:multi\nRUN uname -m > /arch\n");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image_amd64_only);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "pattern"),
        ("preflight", "true"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let warning = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning::preflight: `FROM ${BASE_IMAGE%25:*}:multi`"));
    assert!(
        warning.is_some_and(|w| w.contains("line 2") && w.contains("not checked")),
        "{}",
        run.stdout
    );
    assert!(run.output("digest").starts_with("sha256:"));
}

#[test]
fn a_multi_layer_image_reaches_a_second_repository_and_a_second_registry_by_digest() {
    let bed = TestBed::get();
    let first = bed.unique_image("layers");
    let mounted = format!("{first}-mounted");
    let streamed = first.replacen(&bed.registry, &bed.registry2, 1);
    // Three layers of incompressible data, so each blob is as large as its file.
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY one /one\nCOPY two /two\nCOPY three /three\n",
    );
    for (name, megabytes) in [("one", 3), ("two", 5), ("three", 2)] {
        let mut random =
            std::io::Read::take(std::fs::File::open("/dev/urandom").unwrap(), megabytes << 20);
        std::io::copy(&mut random, &mut std::fs::File::create(dir.path().join(name)).unwrap())
            .unwrap();
    }
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let images = format!("{first}\n{mounted}\n{streamed}");
    let (auth, insecure) = crate::common::both_registries(&bed);
    let inputs = [
        ("images", images.as_str()),
        ("registry-auth", auth.as_str()),
        ("insecure-registries", insecure.as_str()),
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "layers"),
    ];
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let digest = run.output("digest");
    for image in [&first, &mounted, &streamed] {
        assert_eq!(bed.manifest_digest(image, "layers").as_deref(), Some(digest), "{image}");
    }
    for image in [&mounted, &streamed] {
        assert!(
            run.stdout.contains(&format!("{image}: {digest} copied from {first} by digest")),
            "{}",
            run.stdout
        );
    }
    // Every layer of the platform image is in the second registry, whole.
    let index = bed.manifest(&streamed, digest);
    let platform_digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .unwrap_or_else(|| digest.to_string());
    let layers = bed.manifest(&streamed, &platform_digest)["layers"].as_array().unwrap().clone();
    assert!(layers.len() >= 4, "the base layer and three of ours: {layers:?}");
    let repository = streamed.strip_prefix(&format!("{}/", bed.registry2)).unwrap();
    for layer in &layers {
        let url = format!(
            "http://{}/v2/{repository}/blobs/{}",
            bed.registry2,
            layer["digest"].as_str().unwrap()
        );
        let got = crate::common::curl(&[
            "-sL",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            "-u",
            &format!("{}:{}", bed.user2, bed.password2),
            &url,
        ]);
        assert_eq!(got, format!("200 {}", layer["size"]), "{url}");
    }
    let big = layers.iter().filter(|l| l["size"].as_u64().unwrap() > 2 << 20).count();
    assert_eq!(big, 3, "our three layers are stored as large as their random files: {layers:?}");
}

/// The largest build context buildx sent to BuildKit in one run, in bytes,
/// from the log's `transferring context: 31.5 MB done` lines. The largest,
/// because a build tried again after a registry's transient failure sends
/// the context a second time, and by then BuildKit has it.
fn context_bytes_sent(stdout: &str) -> f64 {
    let sizes: Vec<f64> = stdout
        .lines()
        .filter(|l| {
            l.contains("transferring context: ") && !l.contains("transferring context: 2 B")
        })
        .map(context_line_bytes)
        .collect();
    assert!(!sizes.is_empty(), "no context transfer in the log:\n{stdout}");
    sizes.into_iter().fold(0.0, f64::max)
}

/// The bytes one `transferring context: 31.5 MB done` line shows.
fn context_line_bytes(line: &str) -> f64 {
    let shown = line.split("transferring context: ").nth(1).unwrap().trim_end_matches(" done");
    let (number, unit) = shown.split_once(' ').unwrap();
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other} in {line}"),
    };
    number.parse::<f64>().unwrap() * scale
}

#[test]
fn a_re_release_sends_only_what_changed_in_the_context() {
    let bed = TestBed::get();
    let image = bed.unique_image("context-reuse");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY payload /payload\n");
    // 30 MB the build cache has never seen, made here.
    let mut state =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64
            | 1;
    let payload: Vec<u8> = (0..30_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    std::fs::write(dir.path().join("payload"), payload).unwrap();
    let home = tempfile::tempdir().unwrap();
    let home_env = [("HOME", home.path().to_str().unwrap())];
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let run_with_tag = |tag: &'static str| {
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("build-args", build_arg.as_str()),
            ("tags", tag),
            ("platforms", "linux/amd64"),
        ]);
        let run = run_action(dir.path(), &inputs, &home_env);
        assert!(run.success, "{}\n{}", run.stdout, run.stderr);
        run
    };
    let first = run_with_tag("first");
    assert!(
        context_bytes_sent(&first.stdout) > 29e6,
        "the first run sends the payload:\n{}",
        first.stdout
    );
    let again = run_with_tag("again");
    assert!(
        context_bytes_sent(&again.stdout) < 1e6,
        "an unchanged context is not sent again:\n{}",
        again.stdout
    );
    assert!(
        home.path().join(".docker/buildx/.buildNodeID").is_file(),
        "buildx's node name is kept where buildx keeps it"
    );
    assert!(
        again
            .stdout
            .contains("architecture scan of 2 layers, 2 of them known from an earlier scan"),
        "{}",
        again.stdout
    );
    assert!(bed.manifest_digest(&image, "again").is_some(), "the re-release is tagged");
}
