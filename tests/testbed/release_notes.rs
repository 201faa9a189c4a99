//! The whole action on a `release` event against the real test bed: it
//! pushes, then adds the image to the release through a local HTTP server
//! that answers like GitHub's REST API (tests/common/github_api.rs).

use serde_json::Value;

use crate::common::github_api::{
    RELEASE_NO_SECTION, Request, Server, TOKEN, UPDATE_403, patched_body, release_api,
};

/// The whole action on a `release` event: it pushes, then adds the section
/// with the pushed digest through `GITHUB_API_URL`; without permission it
/// warns and still succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn the_action_adds_the_pushed_image_to_the_release() {
    let bed = crate::common::TestBed::get();
    let release: Value = serde_json::from_str(RELEASE_NO_SECTION).unwrap();
    for forbidden in [false, true] {
        let patch = forbidden.then(|| (403, UPDATE_403.to_string()));
        let server = Server::start(release_api(RELEASE_NO_SECTION, patch)).await;
        let image = bed.unique_image("release-notes");
        let dir =
            crate::common::workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n");
        let event = serde_json::json!({ "action": "published", "release": release.clone(), "repository": { "name": "app", "html_url": "https://github.com/acme/app" } });
        let event_path = dir.path().join("event.json");
        std::fs::write(&event_path, event.to_string()).unwrap();
        let build_args = format!("BASE_IMAGE={}", bed.base_image);
        let (bed2, image2, base, event_file) =
            (bed.clone(), image.clone(), server.base.clone(), event_path.display().to_string());
        let workdir = dir.path().to_path_buf();
        let run = tokio::task::spawn_blocking(move || {
            let mut inputs = crate::common::registry_inputs(&bed2, &image2);
            inputs.extend([
                ("platforms", "linux/amd64"),
                ("build-args", build_args.as_str()),
                ("release-notes", "true"),
                ("github-token", TOKEN),
            ]);
            let github = [
                ("GITHUB_EVENT_NAME", "release"),
                ("GITHUB_REF", "refs/tags/v1.2.0"),
                ("GITHUB_EVENT_PATH", event_file.as_str()),
                ("GITHUB_API_URL", base.as_str()),
            ];
            crate::common::run_action(&workdir, &inputs, &github)
        })
        .await
        .unwrap();
        assert!(run.success, "{}\n{}", run.stdout, run.stderr);
        run.assert_no_secret(&[TOKEN, &bed.password], dir.path());
        let requests = server.requests();
        let patches: Vec<&Request> = requests.iter().filter(|r| r.method == "PATCH").collect();
        assert_eq!(patches.len(), 1, "{requests:?}");
        assert_eq!(patches[0].path, format!("/repos/acme/app/releases/{}", release["id"]));
        let body = patched_body(patches[0]);
        assert!(body.contains(&format!("{image}@{}", run.output("digest"))), "{body}");
        assert!(body.contains(&format!("{image}:1.2.0")), "{body}");
        if forbidden {
            assert!(
                run.stdout.contains("::warning::release notes: the token may not edit release"),
                "{}",
                run.stdout
            );
        } else {
            assert!(
                run.stdout.contains("release notes: added the image to release"),
                "{}",
                run.stdout
            );
        }
    }
}
