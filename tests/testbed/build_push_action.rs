//! What docker/build-push-action passes to buildx, passed the same way and
//! accepted by the real BuildKit: provenance by default (`mode=max` for a
//! public repository, `mode=min` for a private one, the workflow run as
//! builder id), and `secrets` read as CSV, an invalid line left out with a
//! warning.

use crate::common::{Run, TestBed, registry_inputs, run_action, workspace};

const RUN_URL: &str = "https://github.com/acme/app/actions/runs/4242/attempts/2";

/// A one-platform build of `image` in a workflow run of a repository whose
/// event payload says `private`.
fn build_in_run(bed: &TestBed, image: &str, private: bool) -> Run {
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo built > /built\n");
    let event = dir.path().join("event.json");
    std::fs::write(&event, format!(r#"{{"repository": {{"private": {private}}}}}"#)).unwrap();
    let event = event.display().to_string();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(bed, image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "v"),
    ]);
    let github = [
        ("GITHUB_RUN_ID", "4242"),
        ("GITHUB_RUN_ATTEMPT", "2"),
        ("GITHUB_EVENT_PATH", event.as_str()),
    ];
    let run = run_action(dir.path(), &inputs, &github);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    run
}

/// The provenance statement of the pushed index's one platform image.
fn provenance(bed: &TestBed, image: &str, run: &Run) -> serde_json::Value {
    let index = bed.manifest(image, run.output("digest"));
    let attestation = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
        .unwrap_or_else(|| panic!("no attestation manifest in {index}"));
    let manifest = bed.manifest(image, attestation["digest"].as_str().unwrap());
    let layer = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["annotations"]["in-toto.io/predicate-type"]
                .as_str()
                .unwrap_or_default()
                .contains("provenance")
        })
        .unwrap_or_else(|| panic!("no provenance in {manifest}"));
    bed.registry_json(image, &format!("blobs/{}", layer["digest"].as_str().unwrap()))
}

#[test]
fn provenance_by_default_is_max_for_a_public_repository_and_min_for_a_private_one() {
    let bed = TestBed::get();
    for (private, mode) in [(false, "max"), (true, "min")] {
        let image = bed.unique_image(&format!("provenance-{mode}"));
        let run = build_in_run(&bed, &image, private);
        let statement = provenance(&bed, &image, &run);
        assert_eq!(statement["predicate"]["builder"]["id"], RUN_URL, "{statement}");
        // Only `mode=max` records the build's definition.
        assert_eq!(
            statement["predicate"]["buildConfig"].is_object(),
            !private,
            "mode={mode}: {statement}"
        );
    }
}

/// The SHA-256 of `text`, in hex, as `sha256sum` prints it.
fn sha256(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn secrets_lines_reach_the_build_as_build_push_action_passes_them() {
    let bed = TestBed::get();
    let image = bed.unique_image("secrets-csv");
    // The build records what it read as checksums: the values themselves
    // appear nowhere, not even in the Dockerfile.
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n\
         RUN --mount=type=secret,id=JSON_SECRET --mount=type=secret,id=KEY \
         sh -c 'cd /run/secrets && sha256sum JSON_SECRET KEY > /sums'\n",
    );
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    // Docker's documented JSON secret, a quoted value over two lines, and
    // an id with no value.
    let secrets = "\"JSON_SECRET={\"\"key1\"\":\"\"value1-3c9d\"\"}\"\n\"KEY=line1-3c9d\nline2-3c9d\"\nINVALID_SECRET=\n";
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "secrets"),
        ("secrets", secrets),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.lines().any(|l| l.starts_with("::warning")
            && l.contains(
                "secrets: `INVALID_SECRET=` is not a valid secret (no value after `=`); it is left out"
            )),
        "{}",
        run.stdout
    );
    run.assert_no_secret(&["value1-3c9d", "line1-3c9d", "line2-3c9d", &bed.password], dir.path());
    let reference = format!("{image}@{}", run.output("digest"));
    let sums = bed.run_image(&reference, "linux/amd64", &["cat", "/sums"]);
    let expected = format!(
        "{}  JSON_SECRET\n{}  KEY",
        sha256(r#"{"key1":"value1-3c9d"}"#),
        sha256("line1-3c9d\nline2-3c9d")
    );
    assert_eq!(sums.trim(), expected, "the values the build read");
}
