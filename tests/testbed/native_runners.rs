//! The native-runner recipe as two uses of the action: `mode: digest` per
//! platform (here amd64 natively and arm64 under QEMU), then one `mode:
//! merge` that pushes one tagged index to two repositories.

use crate::common::{TestBed, registry_inputs, run_action, workspace};

const DOCKERFILE: &str =
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG NONCE\nRUN echo $NONCE > /nonce && uname -m > /arch\n";

fn nonce() -> String {
    format!(
        "{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

#[test]
fn digest_runs_then_a_merge_publish_one_image_to_two_repositories() {
    let bed = TestBed::get();
    let image = bed.unique_image("native");
    let mirror = format!("{image}-mirror");
    let digests_dir = tempfile::tempdir().unwrap();
    let digests_path = digests_dir.path().display().to_string();
    let build_args = format!("BASE_IMAGE={}\nNONCE={}", bed.base_image, nonce());
    let dir = workspace(DOCKERFILE);

    let mut per_platform = Vec::new();
    for platform in ["linux/amd64", "linux/arm64"] {
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("mode", "digest"),
            ("platforms", platform),
            ("build-args", build_args.as_str()),
            ("digests-dir", digests_path.as_str()),
        ]);
        let run = run_action(dir.path(), &inputs, &[]);
        assert!(run.success, "{platform}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(run.output("tags"), "", "mode: digest pushes no tag");
        let file = digests_dir.path().join(platform.replace('/', "-"));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap().trim(),
            run.output("digest"),
            "{}",
            file.display()
        );
        per_platform.push(run.output("digest").to_string());
    }
    let repository = image.strip_prefix(&format!("{}/", bed.registry)).unwrap();
    let tags = crate::common::curl(&[
        "-s",
        "-u",
        &format!("{}:{}", bed.user, bed.password),
        &format!("http://{}/v2/{repository}/tags/list", bed.registry),
    ]);
    assert!(!tags.contains("\"tags\":[\""), "the digest runs pushed no tag: {tags}");

    let images = format!("{image}\n{mirror}");
    let mut inputs = registry_inputs(&bed, &image);
    inputs.retain(|(k, _)| *k != "images");
    inputs.extend([
        ("images", images.as_str()),
        ("mode", "merge"),
        ("digests-dir", digests_path.as_str()),
        ("version", "2.1.0"),
    ]);
    let merge_dir = workspace("FROM scratch\n");
    let run = run_action(merge_dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let digest = run.output("digest");
    for repository in [&image, &mirror] {
        for tag in ["2.1.0", "2.1", "2", "latest"] {
            assert_eq!(
                bed.manifest_digest(repository, tag).as_deref(),
                Some(digest),
                "{repository}:{tag}"
            );
        }
    }
    let platforms: serde_json::Value = serde_json::from_str(run.output("platforms")).unwrap();
    assert_eq!(
        platforms.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm64"]
    );
    for (platform, arch) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
        assert_eq!(bed.run_image(&format!("{mirror}@{digest}"), platform, &["cat", "/arch"]), arch);
    }

    // The same platform twice, and a digest that does not exist, are named.
    let twice = format!("{}\n{}", per_platform[0], per_platform[0].clone());
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([("mode", "merge"), ("digests", twice.as_str()), ("tags", "never")]);
    let run = run_action(merge_dir.path(), &inputs, &[]);
    assert!(!run.success);
    assert!(run.error_lines()[0].contains("are both linux/amd64"), "{}", run.stdout);

    let fake = format!("sha256:{}", "ab".repeat(32));
    let missing = format!("{}\n{fake}", per_platform[1]);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([("mode", "merge"), ("digests", missing.as_str()), ("tags", "never")]);
    let run = run_action(merge_dir.path(), &inputs, &[]);
    assert!(!run.success);
    assert!(
        run.error_lines()[0].contains(&format!("digests: {fake} is not in {image}")),
        "{}",
        run.stdout
    );
    assert_eq!(bed.manifest_digest(&image, "never"), None);
}
