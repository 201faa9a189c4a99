//! End to end against the real test bed: multi-platform images built with
//! the daemon's BuildKit, RUN steps under real QEMU, pushed to a registry
//! with authentication, every output checked against what the registry holds;
//! a wrong password failing before any build, pull requests built and not
//! pushed, floating tags that never go backwards, a FROM line preflight
//! cannot read (a warning, not a failure), a multi-layer image reaching a
//! second repository and a second registry by digest, and two jobs run the
//! runner's way (a new home each, the same daemon and registry) whose second
//! sends and scans only what changed, its daemon clean-up left to the post
//! step; a scan record edited to vouch for a new layer does not spare it.

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
fn a_from_line_with_a_pattern_substitution_is_resolved_as_buildkit_does() {
    let bed = TestBed::get();
    let image = bed.unique_image("pattern-from");
    // `${VAR%:*}` removes the tag, as BuildKit's shell lexer does: the
    // multi-platform base's repository with the amd64-only tag, which the
    // preflight finds lacking arm64 before anything is built.
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE%:*}:amd64\nRUN uname -m > /arch\n");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "pattern"),
        ("preflight", "true"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success, "{}", run.stdout);
    let resolved = bed.base_image_amd64_only.as_str();
    assert!(
        run.stdout.contains(resolved) && run.stdout.contains("linux/arm64"),
        "the resolved base and the platform it lacks are named:\n{}",
        run.stdout
    );
    assert!(!run.stdout.contains("[internal] load build definition"), "{}", run.stdout);
    assert_eq!(bed.manifest_digest(&image, "pattern"), None);
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

/// Bytes the build cache has never seen, made here.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64
            | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// One job as the runner runs the action: a new, empty `HOME` (the runner
/// empties it at every job), the runner's state file, and after the main
/// step the post step, given the state the main step saved.
struct Job {
    main: crate::common::Run,
    /// Whether the daemon still held the staging name when the main step ended.
    staged_after_main: bool,
    post: String,
}

fn runner_job(dir: &std::path::Path, image: &str, inputs: &[(&str, &str)]) -> Job {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    let env = [
        ("HOME", home.path().join("home").to_str().unwrap().to_string()),
        ("GITHUB_STATE", state.to_str().unwrap().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let main = run_action(dir, inputs, &env);
    let staged = format!("{image}:multiarch-action-unverified");
    let staged_after_main = std::process::Command::new("docker")
        .args(["image", "inspect", &staged])
        .output()
        .unwrap()
        .status
        .success();
    let saved = crate::common::parse_github_output(&std::fs::read_to_string(&state).unwrap());
    let post = crate::common::run_cli(
        dir,
        &["post"],
        &[("STATE_run", &saved["run"]), ("STATE_staged", &saved["staged"])],
    );
    assert!(post.status.success(), "{}", crate::common::text(&post.stderr));
    Job { main, staged_after_main, post: crate::common::text(&post.stdout) }
}

/// The layers of the one-platform image `reference` in the registry.
fn layers_of(bed: &TestBed, image: &str, digest: &str) -> Vec<String> {
    let root = bed.manifest(image, digest);
    let manifest = match root["manifests"].as_array() {
        Some(entries) => {
            let entry = entries.iter().find(|m| m["platform"]["os"] != "unknown").unwrap();
            bed.manifest(image, entry["digest"].as_str().unwrap())
        }
        None => root,
    };
    let layers = manifest["layers"].as_array().unwrap();
    layers.iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect()
}

#[test]
fn two_jobs_the_runners_way_send_and_scan_only_what_changed() {
    let bed = TestBed::get();
    let image = bed.unique_image("runner-jobs");
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY payload /payload\nCOPY changing /changing\n",
    );
    std::fs::write(dir.path().join("payload"), random_bytes(30_000_000)).unwrap();
    std::fs::write(dir.path().join("changing"), random_bytes(100)).unwrap();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let job = |tag: &'static str| {
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("build-args", build_arg.as_str()),
            ("tags", tag),
            ("platforms", "linux/amd64"),
        ]);
        let job = runner_job(dir.path(), &image, &inputs);
        assert!(job.main.success, "{}\n{}", job.main.stdout, job.main.stderr);
        job
    };
    let first = job("first");
    assert!(
        context_bytes_sent(&first.main.stdout) > 29e6,
        "the first job sends the payload:\n{}",
        first.main.stdout
    );
    assert!(!first.main.stdout.contains("known from an earlier scan"), "{}", first.main.stdout);
    assert!(
        first
            .main
            .stdout
            .contains(&format!("architecture scan recorded as {image}:multiarch-action-scans")),
        "{}",
        first.main.stdout
    );
    // The daemon's clean-up is the post step's: the main step did not wait
    // for it, the post step did it.
    assert!(first.staged_after_main, "the main step left the staging name to the post step");
    assert!(first.post.contains(&format!("{image}:multiarch-action-unverified")), "{}", first.post);
    let staged = std::process::Command::new("docker")
        .args(["image", "inspect", &format!("{image}:multiarch-action-unverified")])
        .output()
        .unwrap();
    assert!(!staged.status.success(), "the post step removed the staging name");

    // The next job: a new home, the same daemon and registry, one small
    // file changed.
    std::fs::write(dir.path().join("changing"), random_bytes(100)).unwrap();
    let again = job("again");
    let sent = context_bytes_sent(&again.main.stdout);
    assert!(sent < 10e3, "only the changed file is sent ({sent} bytes):\n{}", again.main.stdout);
    let layers = layers_of(&bed, &image, again.main.output("digest"));
    let before = layers_of(&bed, &image, first.main.output("digest"));
    let changed = layers.iter().filter(|l| !before.contains(l)).count();
    assert_eq!(changed, 1, "the last layer changed: {before:?} {layers:?}");
    let scan = format!(
        "architecture scan of {} layers, {} of them known from an earlier scan (the registry's record)",
        layers.len(),
        layers.len() - 1
    );
    assert!(again.main.stdout.contains(&scan), "{scan}:\n{}", again.main.stdout);
    assert!(bed.manifest_digest(&image, "again").is_some(), "the re-release is tagged");
}

/// A record edited in the registry to vouch for layers that no image it
/// is attached to holds (here the layer that adds an amd64 binary to the
/// arm64 image) is not believed for them: those layers are scanned, the
/// binary is found and the release fails before any tag moves.
#[test]
fn a_record_edited_to_vouch_for_a_new_layer_still_gets_it_scanned() {
    let bed = TestBed::get();
    let image = bed.unique_image("record-tampered");
    let elsewhere = format!("{image}-elsewhere");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY tool /usr/local/bin/tool\n");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let release = |image: &str, tag: &'static str, verify: &'static str| {
        let mut inputs = registry_inputs(&bed, image);
        inputs.extend([
            ("build-args", build_arg.as_str()),
            ("tags", tag),
            ("platforms", "linux/amd64,linux/arm64"),
            ("preflight", "false"),
            ("verify", verify),
        ]);
        run_action(dir.path(), &inputs, &[])
    };
    std::fs::write(dir.path().join("tool"), "#!/bin/sh\necho portable\n").unwrap();
    let first = release(&image, "1", "true");
    assert!(first.success, "{}", first.stdout);
    // The next release copies an amd64 binary into both images; built once
    // elsewhere first, to learn its layers' digests (the build cache gives
    // the same ones again).
    std::fs::copy("/bin/busybox", dir.path().join("tool")).unwrap();
    let probe = release(&elsewhere, "probe", "warn");
    assert!(probe.success, "{}", probe.stdout);
    let new_layers: Vec<String> = bed.manifest(&elsewhere, probe.output("digest"))["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .flat_map(|m| layers_of(&bed, &elsewhere, m["digest"].as_str().unwrap()))
        .collect();

    // The record, edited: every layer of the next release said to hold no binary.
    let manifest = bed.manifest(&image, "multiarch-action-scans");
    let record_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    let mut record = bed.registry_json(&image, &format!("blobs/{record_digest}"));
    for layer in &new_layers {
        record["layers"][layer] = serde_json::json!([]);
    }
    let body = serde_json::to_vec(&record).unwrap();
    let digest = crate::common::store_in_registry(&bed, &image, &body, None);
    let mut edited = manifest.clone();
    edited["layers"][0]["digest"] = serde_json::json!(digest);
    edited["layers"][0]["size"] = serde_json::json!(body.len());
    // Stored under the record's tag (the helper asserts the registry's 201).
    crate::common::store_in_registry(
        &bed,
        &image,
        edited.to_string().as_bytes(),
        Some(("multiarch-action-scans", "application/vnd.oci.image.manifest.v1+json")),
    );

    let second = release(&image, "2", "true");
    assert!(!second.success, "{}", second.stdout);
    let errors = second.error_lines();
    assert!(
        errors.iter().any(|e| e.contains("linux/arm64: /usr/local/bin/tool is an amd64 binary")),
        "{}",
        second.stdout
    );
    assert_eq!(bed.manifest_digest(&image, "2"), None, "no tag was pushed");
    // The base layers, which the first release's image holds, were known.
    assert!(
        second.stdout.contains("known from an earlier scan (the registry's record)"),
        "{}",
        second.stdout
    );
}

/// A hosted runner: a new machine each job, so an empty build cache (here a
/// `docker-container` builder, made for each run and removed after it)
/// and an empty home. The second release reads back only the layers the
/// first release's scan record does not vouch for: the base image's are
/// known, whatever the build cache holds.
#[test]
fn a_job_with_an_empty_build_cache_reads_only_layers_the_record_lacks() {
    let bed = TestBed::get();
    let image = bed.unique_image("hosted-runner");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY changing /changing\n");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let job = |tag: &'static str| {
        std::fs::write(dir.path().join("changing"), random_bytes(1000)).unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("build-args", build_arg.as_str()),
            ("tags", tag),
            ("platforms", "linux/amd64,linux/arm64"),
            ("driver", "docker-container"),
            ("buildkit-image", bed.buildkit_image.as_str()),
        ]);
        let run = run_action(dir.path(), &inputs, &[("HOME", home.path().to_str().unwrap())]);
        assert!(run.success, "{}\n{}", run.stdout, run.stderr);
        run
    };
    let first = job("first");
    assert!(!first.stdout.contains("known from an earlier scan"), "{}", first.stdout);
    let again = job("again");
    // Every platform's layers: the base image's, and one new `COPY` layer.
    let layers: usize = bed.manifest(&image, again.output("digest"))["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| layers_of(&bed, &image, m["digest"].as_str().unwrap()).len())
        .sum();
    let known = format!(
        "architecture scan of {layers} layers, {} of them known from an earlier scan (the registry's record)",
        layers - 2
    );
    assert!(again.stdout.contains(&known), "{known}:\n{}", again.stdout);
}
