//! `immutable-tags: true` against the real test registry: a version tag that
//! exists and names another image is refused (before any build when the
//! build cannot give that image, before any tag when it turns out to give
//! another digest), and a reproducible re-run that gives the same digest is
//! accepted.

use crate::common::{Run, TestBed, registry_inputs, run_action, workspace};

/// The same commit and the same `created` time on every run: the build is
/// reproducible (with no provenance, whose timestamps differ every run).
const SAME_TIME: &[(&str, &str)] = &[("SOURCE_DATE_EPOCH", "1700000000")];

fn build(bed: &TestBed, image: &str, dir: &std::path::Path, github: &[(&str, &str)]) -> Run {
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(bed, image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("version", "v1.2.3"),
        ("provenance", "false"),
        ("immutable-tags", "true"),
    ]);
    run_action(dir, &inputs, github)
}

fn error_line(run: &Run) -> &str {
    run.stdout.lines().find(|l| l.starts_with("::error")).unwrap_or_default()
}

#[test]
fn an_existing_version_names_one_image_for_good() {
    let bed = TestBed::get();
    let image = bed.unique_image("immutable");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from\n");

    let first = build(&bed, &image, dir.path(), SAME_TIME);
    assert!(first.success, "{}\n{}", first.stdout, first.stderr);
    let digest = first.output("digest").to_string();
    assert_eq!(bed.manifest_digest(&image, "1.2.3").as_deref(), Some(digest.as_str()));

    // A re-run that gives the same digest is accepted, and moves nothing.
    let again = build(&bed, &image, dir.path(), SAME_TIME);
    assert!(again.success, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(again.output("digest"), digest, "the build is reproducible");
    assert!(
        again.stdout.contains(&format!(
            "immutable-tags: {image}:1.2.3 already names {digest}, the image this build gave"
        )),
        "{}",
        again.stdout
    );

    // Another `created` time cannot give that image: refused before any build.
    let later = build(&bed, &image, dir.path(), &[("SOURCE_DATE_EPOCH", "1800000000")]);
    assert!(!later.success, "{}", later.stdout);
    assert_eq!(
        error_line(&later),
        format!(
            "::error::immutable-tags: {image}:1.2.3 already names {digest}, which this build cannot give (its linux/amd64 image has another `org.opencontainers.image.created` label); nothing was built. Publish a new version, or delete that tag from the registry to replace it"
        )
    );
    assert!(!later.stdout.contains("buildx solve"), "nothing was built: {}", later.stdout);

    // The same labels but other content: built and pushed untagged, then
    // refused before any tag is set.
    std::fs::write(
        dir.path().join("Dockerfile"),
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from-another\n",
    )
    .unwrap();
    let other = build(&bed, &image, dir.path(), SAME_TIME);
    assert!(!other.success, "{}", other.stdout);
    let error = error_line(&other);
    assert!(
        error.starts_with(&format!(
            "::error::immutable-tags: {image}:1.2.3 already names {digest}, and this build gave sha256:"
        )) && error.ends_with(&format!(
            "; no tag was set (the build stays in {image} untagged). Publish a new version, or delete that tag from the registry to replace it"
        )),
        "{error}"
    );

    // The version and its floating tags still name the first image.
    for tag in ["1.2.3", "1.2", "1", "latest"] {
        assert_eq!(bed.manifest_digest(&image, tag).as_deref(), Some(digest.as_str()), "{tag}");
    }
}
