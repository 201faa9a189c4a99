//! A deployment in one step: the example's twelve services
//! (`examples/services`, one Dockerfile, a Compose build file) built through
//! the action for linux/amd64 and linux/arm64 on a release event, pushed to
//! both test registries; every service × registry × tag names a verified
//! index with both platforms, and each service's arm64 image prints its own
//! name. A service that fails leaves no tag of any service.

use std::path::Path;

use crate::common::{ROOT, Run, TestBed, both_registries, run_action, workspace};

/// The example's services, as its Compose file names them.
const SERVICES: [&str; 12] = [
    "api",
    "auth",
    "conversation",
    "cron",
    "file",
    "friend",
    "gateway",
    "group",
    "message",
    "push",
    "transfer",
    "user",
];

/// The example copied, so that the build writes nothing into the repository.
fn example_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(ROOT).join("examples/services"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The two repository prefixes a deployment is pushed under, one per test
/// registry, named for this test.
fn prefixes(bed: &TestBed, name: &str) -> (String, String) {
    let first = bed.unique_image(name);
    let path = first.split_once('/').unwrap().1;
    (first.clone(), format!("{}/{path}", bed.registry2))
}

/// The action run on a `release` event for `v3.8.3`, with `inputs`
/// added to the logins of both registries.
fn release_run(dir: &Path, inputs: &[(&str, &str)]) -> Run {
    let bed = TestBed::get();
    let (auth, insecure) = both_registries(&bed);
    let event = serde_json::json!({
        "action": "published",
        "release": { "tag_name": "v3.8.3", "prerelease": false },
        "repository": { "name": "app", "private": false },
    });
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let mut all =
        vec![("registry-auth", auth.as_str()), ("insecure-registries", insecure.as_str())];
    all.extend_from_slice(inputs);
    let github = [
        ("GITHUB_EVENT_NAME", "release"),
        ("GITHUB_REF", "refs/tags/v3.8.3"),
        ("GITHUB_EVENT_PATH", event_path.to_str().unwrap()),
    ];
    run_action(dir, &all, &github)
}

const TAGS: &str = "type=semver,pattern={{version}}\ntype=raw,value=release-{{tag}}\ntype=sha";

#[test]
fn the_whole_deployment_is_built_pushed_to_both_registries_and_tagged() {
    let bed = TestBed::get();
    let dir = example_workspace();
    let (first, second) = prefixes(&bed, "deployment");
    let images = format!("{first}\n{second}");
    let build_args = format!("GOLANG_IMAGE={}", bed.go_image);
    let run = release_run(
        dir.path(),
        &[
            ("compose-file", "compose.build.yaml"),
            ("images", &images),
            ("platforms", "linux/amd64,linux/arm64"),
            ("build-args", &build_args),
            ("tags", TAGS),
        ],
    );
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(run.output("json")).unwrap();
    let entries = json["services"].as_array().unwrap();
    let built: Vec<&str> = entries.iter().map(|e| e["service"].as_str().unwrap()).collect();
    assert_eq!(built, SERVICES, "every service with `build:`, and not the database");
    let tags = ["3.8.3", "release-v3.8.3", "sha-0123456", "latest"];
    for entry in entries {
        let service = entry["service"].as_str().unwrap();
        let digest = entry["digest"].as_str().unwrap();
        for prefix in [&first, &second] {
            let image = format!("{prefix}/chat-{service}");
            for tag in tags {
                assert_eq!(
                    bed.manifest_digest(&image, tag).as_deref(),
                    Some(digest),
                    "{image}:{tag}"
                );
            }
            let index = bed.manifest(&image, digest);
            let mut platforms: Vec<String> = index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["platform"]["os"] != "unknown")
                .map(|m| format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"]))
                .map(|p| p.replace('"', ""))
                .collect();
            platforms.sort();
            assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{image}");
        }
        let arm64 = format!("{first}/chat-{service}@{digest}");
        assert_eq!(
            bed.run_image(&arm64, "linux/arm64", &[]),
            format!("chat-{service} arm64"),
            "{service}"
        );
    }
    assert!(run.summary.contains("### 🐳 Pushed 12 services"), "{}", run.summary);
    assert_eq!(run.summary.matches("| `api` | `linux/").count(), 2, "{}", run.summary);
    assert!(run.stdout.contains("pushed 12 services: "), "{}", run.stdout);
}

#[test]
fn a_dry_run_lists_every_service_its_images_tags_and_build() {
    let bed = TestBed::get();
    let dir = example_workspace();
    let (first, second) = prefixes(&bed, "deployment-dry");
    let images = format!("{first}\n{second}/{{{{service}}}}-svc");
    let run = release_run(
        dir.path(),
        &[
            ("compose-file", "compose.build.yaml"),
            ("services", "api,push"),
            ("images", &images),
            ("tags", TAGS),
            ("dry-run", "true"),
        ],
    );
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "service api:".to_string(),
        "service push:".to_string(),
        format!("{first}/chat-api:3.8.3"),
        format!("{second}/push-svc:release-v3.8.3"),
        "--build-arg CMD_PATH=cmd/push".to_string(),
    ] {
        assert!(run.stdout.contains(&expected), "{expected}:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("service user:"), "{}", run.stdout);
    assert_eq!(bed.manifest_digest(&format!("{first}/chat-api"), "3.8.3"), None);
}

#[test]
fn a_service_that_fails_leaves_no_tag_of_any_service() {
    let bed = TestBed::get();
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG FAIL=0\nRUN test \"$FAIL\" = 0\n");
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  a-good:\n    build: .\n  b-bad:\n    build:\n      context: .\n      args:\n        FAIL: 1\n  c-good:\n    build: .\n",
    )
    .unwrap();
    let (first, second) = prefixes(&bed, "deployment-fails");
    let images = format!("{first}\n{second}");
    let build_args = format!("BASE_IMAGE={}", bed.base_image);
    let run = release_run(
        dir.path(),
        &[
            ("compose-file", "compose.yaml"),
            ("images", &images),
            ("platforms", "linux/amd64"),
            ("build-args", &build_args),
            ("tags", TAGS),
        ],
    );
    assert!(!run.success, "{}", run.stdout);
    // The failed step annotated on its Dockerfile line, then the run's error.
    let errors = run.error_lines();
    assert_eq!(errors.len(), 2, "{}", run.stdout);
    assert!(errors[0].starts_with("::error file=Dockerfile,line=4,"), "{}", errors[0]);
    assert!(errors[1].starts_with("::error::service `b-bad`: nothing was tagged"), "{}", errors[1]);
    for service in ["a-good", "b-bad", "c-good"] {
        for prefix in [&first, &second] {
            let image = format!("{prefix}/{service}");
            for tag in ["3.8.3", "latest", "release-v3.8.3"] {
                assert_eq!(bed.manifest_digest(&image, tag), None, "{image}:{tag} was tagged");
            }
        }
    }
}

#[test]
fn a_deployment_that_does_not_push_needs_no_registry() {
    let bed = TestBed::get();
    let dir =
        workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG NAME\nRUN echo \"$NAME\" > /name\n");
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  one:\n    build:\n      context: .\n      args: [NAME=one]\n  two:\n    build:\n      context: .\n      args: [NAME=two]\n",
    )
    .unwrap();
    let build_args = format!("BASE_IMAGE={}", bed.base_image);
    // Nothing listens on this port: a registry asked would fail the run.
    let inputs = [
        ("compose-file", "compose.yaml"),
        ("images", "127.0.0.1:5999/acme"),
        ("platforms", "linux/amd64"),
        ("build-args", build_args.as_str()),
        ("push", "false"),
    ];
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("built 2 services, not pushed (push: false)"), "{}", run.stdout);
    assert!(run.summary.starts_with("### 🐳 Built 2 services"), "{}", run.summary);
    let json: serde_json::Value = serde_json::from_str(run.output("json")).unwrap();
    assert_eq!(json["services"].as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(json["services"][0]["digest"], "", "{json}");
}
