//! `mode: bundle` against the real test bed: images built and pushed with
//! the action (some sharing the base, one tag lacking arm64 while another
//! tag has it), the audit table with the gap and the suggestion, a bundle for
//! linux/arm64 pushed into the second registry and loaded into the daemon,
//! each image run for arm64, and a damaged bundle refused; Compose services
//! with `build:` built for arm64 into a bundle, and a bad `build:` refused
//! before anything is built; a bundle in parts (`bundle-split`) verified,
//! pushed and loaded, a missing or damaged part named.

use std::path::Path;
use std::process::Command;

use crate::common::{TestBed, registry_inputs, run_action, workspace};
use crate::signed_bundle::multiarch;

/// Builds `image:tag` for `platforms` from the test bed's busybox base, with
/// a file of its own at `/name.txt`; no RUN step, so nothing is emulated.
fn build(bed: &TestBed, image: &str, tag: &str, platforms: &str, file: &str) {
    let dir = workspace(&format!("ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nCOPY {file} /{file}\n"));
    std::fs::write(dir.path().join(file), format!("{file} {tag}\n")).unwrap();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let tags = format!("type=raw,value={tag}");
    let mut inputs = registry_inputs(bed, image);
    inputs.extend([
        ("platforms", platforms),
        ("build-args", build_arg.as_str()),
        ("tags", tags.as_str()),
        ("verify", "false"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "building {image}:{tag} failed:\n{}\n{}", run.stdout, run.stderr);
}

/// Flips one byte in the middle of `file`: inside the largest layer.
fn damage(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
}

/// The inputs of a bundle run: the Compose file, then `images`.
fn bundle_inputs<'a>(
    bed: &'a TestBed,
    images: &'a str,
    bundle: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let mut inputs = registry_inputs(bed, images);
    inputs.extend([
        ("mode", "bundle"),
        ("compose-file", "compose.yaml"),
        ("platforms", "linux/arm64"),
        ("bundle", bundle),
    ]);
    inputs
}

#[test]
fn a_deployment_is_audited_bundled_for_arm64_pushed_loaded_and_run() {
    let bed = TestBed::get();
    let (web, worker, tool) = (
        bed.unique_image("bundle-web"),
        bed.unique_image("bundle-worker"),
        bed.unique_image("bundle-tool"),
    );
    build(&bed, &web, "1.0", "linux/amd64,linux/arm64", "web.txt");
    build(&bed, &worker, "2.3", "linux/amd64,linux/arm64", "worker.txt");
    build(&bed, &tool, "1.0", "linux/amd64", "tool.txt");
    build(&bed, &tool, "1.1", "linux/amd64,linux/arm64", "tool.txt");
    // The rest of a deployment: eight images in all, every one on the same base.
    let others: Vec<(&str, String, &str)> = [
        ("broker", "3.13"),
        ("cache", "7.2"),
        ("db", "16"),
        ("proxy", "1.27"),
        ("registry", "2.8"),
    ]
    .into_iter()
    .map(|(service, tag)| (service, bed.unique_image(&format!("bundle-{service}")), tag))
    .collect();
    let mut compose = String::from("services:\n");
    for (service, image, tag) in &others {
        build(&bed, image, tag, "linux/amd64,linux/arm64", &format!("{service}.txt"));
        compose.push_str(&format!("  {service}:\n    image: {image}:{tag}\n"));
    }
    compose.push_str(
        "  web:\n    image: ${WEB_IMAGE}:${WEB_TAG:-1.0}\n  worker:\n    image: ${WORKER_IMAGE}:2.3\n    platform: linux/arm64\n",
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
    let env = [("WEB_IMAGE", web.as_str()), ("WORKER_IMAGE", worker.as_str())];
    let bundle = dir.path().join("out/deploy-arm64.tar");
    let bundle_text = bundle.display().to_string();

    // The gap fails the run before anything is written, with the suggestion.
    let old_tool = format!("{tool}:1.0");
    let run = run_action(dir.path(), &bundle_inputs(&bed, &old_tool, &bundle_text), &env);
    assert!(!run.success, "a gap must fail with audit: true:\n{}", run.stdout);
    let table_row =
        run.stdout.lines().find(|l| l.contains(&old_tool)).unwrap_or_default().to_string();
    assert!(table_row.ends_with('✗'), "the table marks the gap: {}", run.stdout);
    assert!(
        run.stdout.lines().any(|l| l.starts_with("web ")
            && l.contains(&format!("{web}:1.0"))
            && l.ends_with('✓')),
        "{}",
        run.stdout
    );
    let gap = format!("{old_tool} lacks linux/arm64; {tool}:1.1 has it");
    assert!(
        run.error_lines().iter().any(|l| l.contains(&gap) && l.contains("audit: ")),
        "{:?}",
        run.error_lines()
    );
    assert!(run.summary.contains(&gap), "{}", run.summary);
    assert!(
        !bundle.exists() && !dir.path().join("out/deploy-arm64.tar.partial").exists(),
        "nothing is written"
    );

    // From the command line with `audit: warn`, the image with the gap is left out.
    let partial = dir.path().join("partial.tar");
    let images = format!("{old_tool}\n{web}:1.0");
    let (ok, text) = multiarch(
        &[
            "bundle",
            "--images",
            &images,
            "--platforms",
            "linux/arm64",
            "--audit",
            "warn",
            "--bundle",
            &partial.display().to_string(),
            "--registry",
            &bed.registry,
            "--username",
            &bed.user,
            "--password",
            &bed.password,
            "--insecure-registries",
            &bed.registry,
        ],
        false,
        None,
    );
    assert!(ok, "{text}");
    assert!(text.contains(&format!("warning: audit: {gap}; left out of the bundle")), "{text}");
    assert!(text.contains("1 image(s)"), "{text}");
    let (ok, text) = multiarch(&["bundle", "verify", &partial.display().to_string()], false, None);
    assert!(
        ok && text.contains(&format!("{web}:1.0 (linux/arm64)")) && !text.contains(&old_tool),
        "{text}"
    );

    // With the suggested tag, the bundle is written.
    let new_tool = format!("{tool}:1.1");
    let run = run_action(dir.path(), &bundle_inputs(&bed, &new_tool, &bundle_text), &env);
    assert!(run.success, "the bundle failed:\n{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[&bed.password], dir.path());
    assert_eq!(run.output("bundle"), bundle_text);
    assert!(
        run.summary.contains("| `linux/arm64` |")
            && run.summary.contains(&format!("| web | `{web}:1.0` |")),
        "{}",
        run.summary
    );
    let wrote = run.stdout.lines().find(|l| l.starts_with("wrote ")).unwrap_or_default();
    let shared: u64 = wrote
        .split(" (")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(shared > 0, "the shared base layer is stored once: {wrote}");

    // Its index names each image by its reference, for arm64 only.
    let listing = Command::new("tar").arg("tf").arg(&bundle).output().unwrap();
    let names: Vec<String> =
        String::from_utf8_lossy(&listing.stdout).lines().map(str::to_string).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "every blob once: {names:?}");
    assert_eq!(names.first().map(String::as_str), Some("oci-layout"));
    assert_eq!(names.last().map(String::as_str), Some("SHA256SUMS"));
    assert!(names.contains(&"README.md".to_string()));
    let index = Command::new("tar").arg("xOf").arg(&bundle).arg("index.json").output().unwrap();
    let index: serde_json::Value = serde_json::from_slice(&index.stdout).unwrap();
    // The images named by `images` first, then the Compose services by name.
    let mut references = vec![(new_tool.clone(), "tool.txt".to_string())];
    references.extend(
        others
            .iter()
            .map(|(service, image, tag)| (format!("{image}:{tag}"), format!("{service}.txt"))),
    );
    references.extend([
        (format!("{web}:1.0"), "web.txt".to_string()),
        (format!("{worker}:2.3"), "worker.txt".to_string()),
    ]);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 8, "{index}");
    let mut roots = Vec::new();
    for (entry, (reference, _)) in index["manifests"].as_array().unwrap().iter().zip(&references) {
        assert_eq!(entry["annotations"]["io.containerd.image.name"], reference.as_str());
        assert_eq!(entry["annotations"]["org.opencontainers.image.ref.name"], reference.as_str());
        let digest = entry["digest"].as_str().unwrap().to_string();
        let blob = Command::new("tar")
            .arg("xOf")
            .arg(&bundle)
            .arg(format!("blobs/sha256/{}", &digest[7..]))
            .output()
            .unwrap();
        let image_index: serde_json::Value = serde_json::from_slice(&blob.stdout).unwrap();
        let platforms: Vec<&str> = image_index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["platform"]["architecture"].as_str().unwrap())
            .collect();
        assert_eq!(platforms, ["arm64"], "{reference}");
        // The platform manifest keeps the digest it has in the registry.
        let original = bed
            .manifest(reference.rsplit_once(':').unwrap().0, reference.rsplit_once(':').unwrap().1);
        let original_arm64 = original["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == "arm64")
            .unwrap();
        assert_eq!(image_index["manifests"][0]["digest"], original_arm64["digest"], "{reference}");
        roots.push((reference.clone(), digest));
    }
    assert_eq!(roots.len(), 8);

    let (ok, text) = multiarch(&["bundle", "verify", &bundle_text], false, None);
    assert!(
        ok && text.contains("every checksum matches")
            && text.contains("no binary of another architecture"),
        "{text}"
    );

    // Pushed into the second registry: every image, digests kept.
    let (ok, text) = multiarch(
        &[
            "bundle",
            "push",
            &bundle_text,
            "--registry",
            &bed.registry2,
            "--insecure",
            "--username",
            &bed.user2,
            "--password-stdin",
        ],
        false,
        Some(&bed.password2),
    );
    assert!(ok, "{text}");
    assert!(!text.contains(&bed.password2));
    for (reference, digest) in &roots {
        let (repository, tag) = reference.split_once('/').unwrap().1.rsplit_once(':').unwrap();
        let moved = format!("{}/{repository}", bed.registry2);
        assert_eq!(
            bed.manifest_digest(&moved, tag).as_deref(),
            Some(digest.as_str()),
            "{moved}:{tag}"
        );
    }

    // Loaded into the daemon, and each image runs for arm64.
    let (ok, text) = multiarch(&["bundle", "load", &bundle_text], false, None);
    assert!(ok, "{text}");
    for (reference, file) in &references {
        let out = bed.run_loaded_image(
            reference,
            "linux/arm64",
            &["sh", "-c", &format!("cat /{file}; uname -m")],
        );
        assert!(out.contains(file.as_str()) && out.ends_with("aarch64"), "{reference}: {out}");
    }
    for (reference, _) in &references {
        bed.docker(&["rmi", reference]);
    }

    // A damaged bundle is refused by verify and by load, naming the file.
    let damaged = dir.path().join("damaged.tar");
    std::fs::copy(&bundle, &damaged).unwrap();
    damage(&damaged);
    let damaged_text = damaged.display().to_string();
    for command in ["verify", "load"] {
        let (ok, text) = multiarch(&["bundle", command, &damaged_text], false, None);
        assert!(!ok, "bundle {command} accepted a damaged bundle: {text}");
        assert!(
            text.contains(&format!("{damaged_text} is not a sound bundle"))
                && text.contains("the bundle is damaged"),
            "{text}"
        );
    }
}

/// Writes `dir/<context>/<dockerfile>`: the test bed's busybox base, a
/// build step that records the architecture it ran on (under QEMU for
/// arm64), and a file naming the service.
fn service_context(dir: &Path, context: &str, dockerfile: &str, service: &str, stages: &str) {
    let context = dir.join(context);
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join(format!("{service}.txt")), format!("{service}\n")).unwrap();
    std::fs::write(context.join(dockerfile), stages.replace("SERVICE", service)).unwrap();
}

#[test]
fn compose_services_with_build_are_built_for_arm64_into_the_bundle() {
    let bed = TestBed::get();
    let web = bed.unique_image("bundle-built-web");
    build(&bed, &web, "1.0", "linux/amd64,linux/arm64", "web.txt");
    let push_under = bed.unique_image("bundle-built");
    let worker = format!("{push_under}-worker");

    let dir = tempfile::tempdir().unwrap();
    let plain =
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY SERVICE.txt /SERVICE.txt\nRUN uname -m > /arch\n";
    service_context(&dir.path().join("deploy"), "api", "Dockerfile", "api", plain);
    // Two stages: `target: final` is built, the `unused` stage is not.
    let staged = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE} AS final\nARG GREETING\nCOPY SERVICE.txt /SERVICE.txt\nRUN uname -m > /arch && echo \"$GREETING\" > /greeting\nFROM final AS unused\nRUN false\n";
    service_context(&dir.path().join("deploy"), "src/worker", "Containerfile", "worker", staged);
    std::fs::write(
        dir.path().join("deploy/compose.yaml"),
        "services:\n  api:\n    build:\n      context: ./api\n      args:\n        BASE_IMAGE: ${BASE_IMAGE}\n  worker:\n    image: ${WORKER_IMAGE}:2.0\n    build:\n      context: src/worker\n      dockerfile: Containerfile\n      target: final\n      args:\n        - BASE_IMAGE=${BASE_IMAGE}\n        - GREETING=hello from ${WORKER_IMAGE}\n  web:\n    image: ${WEB_IMAGE}:1.0\n",
    )
    .unwrap();
    let env = [
        ("WEB_IMAGE", web.as_str()),
        ("WORKER_IMAGE", worker.as_str()),
        ("BASE_IMAGE", bed.base_image.as_str()),
    ];
    let bundle = dir.path().join("deploy-arm64.tar");
    let bundle_text = bundle.display().to_string();
    let mut inputs = bundle_inputs(&bed, &push_under, &bundle_text);
    inputs.retain(|(name, _)| *name != "compose-file");
    inputs.push(("compose-file", "deploy/compose.yaml"));

    let run = run_action(dir.path(), &inputs, &env);
    assert!(run.success, "the bundle with built services failed:\n{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[&bed.password], dir.path());
    let api = format!("{push_under}/api:latest");
    let worker = format!("{worker}:2.0");
    for (service, reference) in [("api", &api), ("worker", &worker)] {
        let repository = reference.rsplit_once(':').unwrap().0;
        assert!(
            run.stdout.contains(&format!(
                "service `{service}`: built for linux/arm64, pushed untagged as {repository}@sha256:"
            )),
            "{}",
            run.stdout
        );
        let row = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{service} (built) ")))
            .unwrap_or_default();
        assert!(
            row.contains(reference.as_str()) && row.ends_with('✓'),
            "the audit table marks {service} as built: {}",
            run.stdout
        );
        assert!(
            run.summary.contains(&format!("| {service} (built) | `{reference}` |")),
            "{}",
            run.summary
        );
        assert!(run.summary.contains(&format!("`{service}` (`{reference}`)")), "{}", run.summary);
        // Pushed for arm64 only, and verified: the architecture scan ran.
        let (repository, tag) = reference.rsplit_once(':').unwrap();
        let index = bed.manifest(repository, tag);
        let platforms: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["platform"]["architecture"].as_str())
            .filter(|a| *a != "unknown")
            .collect();
        assert_eq!(platforms, ["arm64"], "{reference}: {index}");
    }
    assert!(
        run.stdout.lines().any(|l| l.starts_with("web ")
            && l.contains(&format!("{web}:1.0"))
            && l.ends_with('✓')),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("3 image(s)"), "{}", run.stdout);
    // Built side by side, logged one after the other: each service's groups together.
    let at = |text: &str| {
        run.stdout.find(text).unwrap_or_else(|| panic!("{text} is not in the log:\n{}", run.stdout))
    };
    assert!(
        at("service `api`: built for") < at("::group::Service `worker`"),
        "the services' logs interleave:\n{}",
        run.stdout
    );

    // The README names the built services; the index names them by reference.
    let readme = Command::new("tar").arg("xOf").arg(&bundle).arg("README.md").output().unwrap();
    let readme = String::from_utf8_lossy(&readme.stdout);
    assert!(
        readme.contains(&format!("`{api}` (linux/arm64)"))
            && readme.contains("built from the Compose service `api`"),
        "{readme}"
    );
    assert!(readme.contains("built from the Compose service `worker`"), "{readme}");
    let (ok, text) = multiarch(&["bundle", "verify", &bundle_text], false, None);
    assert!(ok && text.contains("no binary of another architecture"), "{text}");

    // Loaded into the daemon, the built images run for arm64 and say so.
    let (ok, text) = multiarch(&["bundle", "load", &bundle_text], false, None);
    assert!(ok, "{text}");
    for (reference, file) in [(&api, "api.txt"), (&worker, "worker.txt")] {
        let out = bed.run_loaded_image(
            reference,
            "linux/arm64",
            &["sh", "-c", &format!("cat /{file} /arch")],
        );
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [file.trim_end_matches(".txt"), "aarch64"],
            "{reference}"
        );
    }
    let greeting = bed.docker(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--platform",
        "linux/arm64",
        &worker,
        "cat",
        "/greeting",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&greeting.stdout).trim(),
        format!("hello from {}", worker.rsplit_once(':').unwrap().0)
    );
    for reference in [&api, &worker, &format!("{web}:1.0")] {
        bed.docker(&["rmi", reference]);
    }
}

#[test]
fn a_bad_build_fails_before_anything_is_built_naming_the_service() {
    let bed = TestBed::get();
    let push_under = bed.unique_image("bundle-bad-build");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("deploy/api")).unwrap();
    std::fs::write(dir.path().join("deploy/api/Dockerfile"), format!("FROM {}\n", bed.base_image))
        .unwrap();
    let bundle = dir.path().join("bundle.tar").display().to_string();
    let cases = [
        (
            "services:\n  api:\n    build: ./api\n  worker:\n    build: ./worker\n",
            "",
            "compose-file: service `worker`: the build context `deploy/worker` is not a directory",
        ),
        (
            "services:\n  api:\n    build:\n      context: api\n      dockerfile: Dockerfile.prod\n",
            "",
            "compose-file: service `api`: there is no Dockerfile at `deploy/api/Dockerfile.prod`",
        ),
        (
            "services:\n  api:\n    build: ./api\n",
            "false",
            "push: `push: false` does not push the services built for the bundle (`api`)",
        ),
    ];
    for (compose, push, message) in cases {
        std::fs::write(dir.path().join("deploy/compose.yaml"), compose).unwrap();
        let mut inputs = bundle_inputs(&bed, &push_under, &bundle);
        inputs.retain(|(name, _)| *name != "compose-file");
        inputs.push(("compose-file", "deploy/compose.yaml"));
        if !push.is_empty() {
            inputs.push(("push", push));
        }
        let run = run_action(dir.path(), &inputs, &[]);
        assert!(!run.success, "{compose}: {}", run.stdout);
        let errors = run.error_lines();
        assert!(
            errors.len() == 1 && errors[0].contains(message),
            "{compose}: {errors:?}\n{}",
            run.stdout
        );
        assert!(!run.stdout.contains("::group::"), "nothing ran: {}", run.stdout);
        assert_eq!(
            bed.manifest_digest(&format!("{push_under}/api"), "latest"),
            None,
            "nothing was pushed"
        );
    }
}

/// Flips one byte of `file`, at `at`.
fn flip(file: &Path, at: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn a_bundle_in_parts_is_verified_pushed_and_loaded_and_a_missing_or_damaged_part_named() {
    let bed = TestBed::get();
    let image = bed.unique_image("bundle-split");
    build(&bed, &image, "1.0", "linux/amd64,linux/arm64", "split.txt");
    let reference = format!("{image}:1.0");
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("out/split.tar");
    let base_text = base.display().to_string();

    // A size that is not one fails at once, in one line, before any registry is asked.
    let mut inputs = registry_inputs(&bed, &reference);
    inputs.extend([
        ("mode", "bundle"),
        ("platforms", "linux/arm64"),
        ("bundle", base_text.as_str()),
        ("bundle-split", "2gb"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success, "{}", run.stdout);
    let errors = run.error_lines();
    assert!(
        errors.iter().any(|l| l
            .contains("bundle-split: `2gb` is not a size; write a whole number with k, m or g")),
        "{errors:?}"
    );
    assert!(!run.stdout.contains("Audit"), "nothing else is done first: {}", run.stdout);
    assert!(!dir.path().join("out").exists());

    // Parts of at most 256 KiB, streamed; their checksums beside them.
    let limit = 256 << 10;
    inputs.pop();
    inputs.push(("bundle-split", "256k"));
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "the split bundle failed:\n{}\n{}", run.stdout, run.stderr);
    let first = format!("{base_text}.part-001");
    assert_eq!(run.output("bundle"), first);
    let files: Vec<&str> = run.output("bundle-files").lines().collect();
    let sums = format!("{base_text}.SHA256SUMS");
    assert_eq!(files.last(), Some(&sums.as_str()), "{files:?}");
    let parts = &files[..files.len() - 1];
    assert!(parts.len() >= 3, "a busybox layer spans several 256k parts: {files:?}");
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(*part, format!("{base_text}.part-{:03}", i + 1));
        let size = std::fs::metadata(part).unwrap().len();
        assert!(size <= limit && size > 0, "{part}: {size} bytes");
        if i + 1 < parts.len() {
            assert_eq!(size, limit, "{part}: every part but the last is full");
        }
    }
    assert!(!base.exists(), "no whole copy is written");
    assert!(
        std::fs::read_dir(dir.path().join("out")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial"))
    );
    let wrote = run.stdout.lines().find(|l| l.starts_with("wrote ")).unwrap_or_default();
    assert!(wrote.contains(&format!(" in {} parts:", parts.len())), "{wrote}");
    // `sha256sum -c` checks the parts; joined, they are the tarball.
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg(&sums)
        .current_dir(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let listing = Command::new("sh")
        .arg("-c")
        .arg(format!("cat {base_text}.part-* | tar tf -"))
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.status.success() && names.lines().last() == Some("SHA256SUMS"), "{names}");
    let readme = Command::new("sh")
        .arg("-c")
        .arg(format!("cat {base_text}.part-* | tar xOf - README.md"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&readme.stdout).contains("bundle load split.tar.part-001"));

    // Verified from the first part or the base name.
    for given in [&first, &base_text] {
        let (ok, text) = multiarch(&["bundle", "verify", given], false, None);
        assert!(ok, "{text}");
        assert!(
            text.contains(&format!(" in {} parts: ", parts.len()))
                && text.contains(&format!("{reference} (linux/arm64)")),
            "{text}"
        );
    }

    // Pushed into the second registry, the arm64 manifest keeps its digest.
    let (ok, text) = multiarch(
        &[
            "bundle",
            "push",
            &first,
            "--registry",
            &bed.registry2,
            "--insecure",
            "--username",
            &bed.user2,
            "--password-stdin",
        ],
        false,
        Some(&bed.password2),
    );
    assert!(ok, "{text}");
    let repository = image.split_once('/').unwrap().1;
    let moved = bed.manifest(&format!("{}/{repository}", bed.registry2), "1.0");
    let original = bed.manifest(&image, "1.0");
    let arm64 = |index: &serde_json::Value| {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == "arm64")
            .unwrap()["digest"]
            .clone()
    };
    assert_eq!(arm64(&moved), arm64(&original));

    // Loaded into the daemon from the parts, and it runs for arm64.
    let (ok, text) = multiarch(&["bundle", "load", &first], false, None);
    assert!(ok, "{text}");
    let run = bed.docker(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--platform",
        "linux/arm64",
        &reference,
        "sh",
        "-c",
        "cat /split.txt; uname -m",
    ]);
    let out = String::from_utf8_lossy(&run.stdout);
    bed.docker(&["rmi", &reference]);
    assert!(
        run.status.success()
            && out.contains("split.txt 1.0")
            && out.trim_end().ends_with("aarch64"),
        "{out}"
    );

    // A damaged part is refused by verify, load and push, naming the part.
    let part2 = &parts[1];
    flip(Path::new(part2), 1000);
    for command in ["verify", "load", "push"] {
        let mut args = vec!["bundle", command, first.as_str()];
        if command == "push" {
            args.extend(["--registry", &bed.registry2, "--insecure"]);
        }
        let (ok, text) = multiarch(&args, false, None);
        assert!(!ok, "bundle {command} accepted a damaged part: {text}");
        let named = format!(
            "{part2} does not match its checksum in split.tar.SHA256SUMS: the part is damaged; copy it again"
        );
        assert!(
            text.contains(&format!("{first} is not a sound bundle")) && text.contains(&named),
            "{command}: {text}"
        );
        assert_eq!(text.trim_end().lines().count(), 1, "one line: {text}");
    }
    flip(Path::new(part2), 1000);
    // A missing part is named before anything is read.
    let part3 = &parts[2];
    std::fs::rename(part3, format!("{part3}.away")).unwrap();
    let (ok, text) = multiarch(&["bundle", "verify", &base_text], false, None);
    assert!(
        !ok && text.contains(&format!("{part3} is missing; {sums} lists {} part(s)", parts.len())),
        "{text}"
    );
    std::fs::rename(format!("{part3}.away"), part3).unwrap();
    let (ok, text) = multiarch(&["bundle", "verify", &first], false, None);
    assert!(ok, "restored, the parts verify again: {text}");
}
