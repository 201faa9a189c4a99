//! Release notes, the default-branch and the commit-date lookups against a
//! local HTTP server that answers like GitHub's REST API
//! (tests/common/github_api.rs), through the library and, for the lookups,
//! through the binary's dry run.

use multiarch_action::github::{
    ImageSection, Outcome, SECTION_END, SECTION_START, commit_date, default_branch,
    publish_release_notes, render_section,
};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::common::github_api::{
    GET_404, GET_COMMIT, GET_REPOSITORY, RELEASE_NO_SECTION, RELEASE_WITH_SECTION, Request, Server,
    TOKEN, UPDATE_403, patched_body, release_api,
};

const COMMIT: &str = "860c1904a1ce19322e91ac35af1ab07466440c37";
const OLD_DIGEST: &str = "sha256:dead000000000000000000000000000000000000000000000000000000000000";
const NEW_DIGEST: &str = "sha256:beef000000000000000000000000000000000000000000000000000000000000";

fn section() -> ImageSection {
    ImageSection {
        reference: format!("ghcr.io/acme/app@{NEW_DIGEST}"),
        tags: vec!["ghcr.io/acme/app:1.3.0".into(), "ghcr.io/acme/app:latest".into()],
        platforms: vec![
            ("linux/amd64".into(), format!("sha256:{}", "a1".repeat(32))),
            ("linux/arm64".into(), format!("sha256:{}", "b2".repeat(32))),
        ],
    }
}

fn fixture_body(fixture: &str) -> String {
    let release: Value = serde_json::from_str(fixture).unwrap();
    release["body"].as_str().unwrap().to_string()
}

/// Text before the section's start marker and after its end marker.
fn outside_section(body: &str) -> (&str, &str) {
    let start = body.find(SECTION_START).unwrap();
    let end = body.find(SECTION_END).unwrap() + SECTION_END.len();
    (&body[..start], &body[end..])
}

#[tokio::test]
async fn appends_section_to_release_without_one() {
    let server = Server::start(release_api(RELEASE_NO_SECTION, None)).await;
    let outcome = publish_release_notes(&server.base, TOKEN, "acme/app", 158437372, &section())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Updated { release_id: 158437372 });

    let requests = server.requests();
    let calls: Vec<_> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(
        calls,
        [
            ("GET", "/repos/acme/app/releases/158437372"),
            ("PATCH", "/repos/acme/app/releases/158437372"),
        ]
    );
    for request in &requests {
        assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    }

    let old = fixture_body(RELEASE_NO_SECTION);
    let new = patched_body(&requests[1]);
    // The fixture was written in GitHub's editor (CRLF), so the section follows suit.
    let expected_section = render_section(&section()).replace('\n', "\r\n");
    assert_eq!(new.matches(&expected_section).count(), 1);
    assert_eq!(new.matches(SECTION_START).count(), 1);
    assert!(new.starts_with(&format!("{old}\r\n\r\n{SECTION_START}")), "{new:?}");
    assert!(new.contains(NEW_DIGEST));
}

#[tokio::test]
async fn rerun_replaces_the_old_section() {
    let server = Server::start(release_api(RELEASE_WITH_SECTION, None)).await;
    let outcome = publish_release_notes(&server.base, TOKEN, "acme/app", 161902718, &section())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Updated { release_id: 161902718 });

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "PATCH");
    let old = fixture_body(RELEASE_WITH_SECTION);
    let new = patched_body(&requests[1]);
    assert!(old.contains(OLD_DIGEST));
    assert!(!new.contains(OLD_DIGEST), "old digest is gone: {new}");
    assert_eq!(new.matches(&render_section(&section())).count(), 1);
    assert_eq!(new.matches(SECTION_START).count(), 1);
    assert_eq!(new.matches(SECTION_END).count(), 1);
    assert_eq!(outside_section(&new), outside_section(&old), "text outside is unchanged");
}

#[tokio::test]
async fn running_twice_sends_the_same_body() {
    let server = Server::start(release_api(RELEASE_NO_SECTION, None)).await;
    for _ in 0..2 {
        let outcome = publish_release_notes(&server.base, TOKEN, "acme/app", 158437372, &section())
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Updated { release_id: 158437372 });
    }
    let requests = server.requests();
    let methods: Vec<_> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "PATCH", "GET", "PATCH"]);
    assert_eq!(patched_body(&requests[1]), patched_body(&requests[3]));
}

#[tokio::test]
async fn forbidden_update_is_a_warning() {
    let server =
        Server::start(release_api(RELEASE_NO_SECTION, Some((403, UPDATE_403.into())))).await;
    let outcome = publish_release_notes(&server.base, TOKEN, "acme/app", 158437372, &section())
        .await
        .unwrap();
    let Outcome::NoPermission(warning) = outcome else {
        panic!("expected NoPermission, got {outcome:?}");
    };
    assert_eq!(
        warning,
        "release notes: the token may not edit release 158437372 of acme/app \
         (HTTP 403: Resource not accessible by integration); \
         give the job `permissions: contents: write`"
    );
    assert!(!warning.contains(TOKEN));
    let methods: Vec<_> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["GET", "PATCH"], "a 403 is not retried");
}

#[tokio::test]
async fn hidden_release_is_a_warning() {
    // A fine-grained token without access to the repository sees 404.
    let server = Server::start(release_api(RELEASE_NO_SECTION, None)).await;
    let outcome =
        publish_release_notes(&server.base, TOKEN, "acme/app", 99, &section()).await.unwrap();
    let Outcome::NoPermission(warning) = outcome else {
        panic!("expected NoPermission, got {outcome:?}");
    };
    assert!(
        warning.contains("may not read release 99 of acme/app (HTTP 404: Not Found)"),
        "{warning}"
    );
    assert!(warning.contains("permissions: contents: write"));
    assert!(!warning.contains(TOKEN) && !warning.contains('\n'));
    let methods: Vec<_> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["GET"], "nothing is sent after the GET fails");
}

#[tokio::test]
async fn warning_never_echoes_the_token() {
    let echo = format!(r#"{{"message":"token {TOKEN} lacks\nscope"}}"#);
    let server = Server::start(release_api(RELEASE_NO_SECTION, Some((403, echo)))).await;
    let outcome = publish_release_notes(&server.base, TOKEN, "acme/app", 158437372, &section())
        .await
        .unwrap();
    let Outcome::NoPermission(warning) = outcome else {
        panic!("expected NoPermission, got {outcome:?}");
    };
    assert!(!warning.contains(TOKEN), "{warning}");
    assert!(warning.contains("token *** lacks scope"), "{warning}");
}

#[tokio::test]
async fn server_error_is_an_error_without_the_token() {
    let server = Server::start(|request: &Request| {
        (
            500,
            format!(
                r#"{{"message":"upstream said {}"}}"#,
                request.authorization.clone().unwrap_or_default()
            ),
        )
    })
    .await;
    let error = publish_release_notes(&server.base, TOKEN, "acme/app", 158437372, &section())
        .await
        .unwrap_err();
    let text = format!("{error:#} {error:?}");
    assert!(text.contains("could not read release 158437372 of acme/app"), "{text}");
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    let requests = server.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn unreachable_api_is_an_error_without_the_token() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error =
        publish_release_notes(&base, TOKEN, "acme/app", 158437372, &section()).await.unwrap_err();
    let text = format!("{error:#} {error:?}");
    assert!(text.contains("could not read release 158437372 of acme/app"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn enterprise_api_url_keeps_its_path() {
    let server = Server::start(release_api(RELEASE_NO_SECTION, None)).await;
    let api_url = format!("{}/api/v3/", server.base);
    let outcome =
        publish_release_notes(&api_url, TOKEN, "acme/app", 158437372, &section()).await.unwrap();
    assert_eq!(outcome, Outcome::Updated { release_id: 158437372 });
    let paths: Vec<_> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/v3/repos/acme/app/releases/158437372"; 2]);
}

#[tokio::test]
async fn bad_inputs_are_errors_without_requests() {
    let server = Server::start(release_api(RELEASE_NO_SECTION, None)).await;
    for (token, repository) in
        [(TOKEN, "acme"), (TOKEN, "acme/app/x"), ("", "acme/app"), ("a\nb", "acme/app")]
    {
        let error = publish_release_notes(&server.base, token, repository, 158437372, &section())
            .await
            .unwrap_err();
        assert!(!format!("{error:#}").contains(TOKEN));
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn release_without_body_gets_only_the_section() {
    // GitHub answers `"body": null` for a release created without notes.
    let mut release: Value = serde_json::from_str(RELEASE_NO_SECTION).unwrap();
    release["body"] = Value::Null;
    let server = Server::start(release_api(&release.to_string(), None)).await;
    let outcome = publish_release_notes(&server.base, TOKEN, "acme/app", 158437372, &section())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Updated { release_id: 158437372 });
    let requests = server.requests();
    assert_eq!(patched_body(&requests[1]), format!("{}\n", render_section(&section())));
}

/// Behaves like `GET /repos/{owner}/{repo}` and `GET /repos/{owner}/{repo}/commits/{sha}`
/// for octocat/Hello-World.
fn repository_api(request: &Request) -> (u16, String) {
    if request.authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return (401, r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#.into());
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/repos/octocat/Hello-World") => (200, GET_REPOSITORY.into()),
        ("GET", path) if path == format!("/repos/octocat/Hello-World/commits/{COMMIT}") => {
            (200, GET_COMMIT.into())
        }
        _ => (404, GET_404.into()),
    }
}

#[tokio::test]
async fn default_branch_comes_from_the_repository() {
    let server = Server::start(repository_api).await;
    assert_eq!(default_branch(&server.base, TOKEN, "octocat/Hello-World").await.unwrap(), "master");
    let calls: Vec<_> =
        server.requests().iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert_eq!(calls, [("GET".to_string(), "/repos/octocat/Hello-World".to_string())]);

    let missing = default_branch(&server.base, TOKEN, "octocat/Nowhere").await.unwrap_err();
    let text = format!("{missing:#}");
    assert!(
        text.starts_with("default branch: could not read repository octocat/Nowhere"),
        "{text}"
    );
    assert!(text.contains("404"), "{text}");

    let wrong = "ghs_wrongwrongwrongwrongwrongwrongwrong";
    let denied = format!(
        "{:#}",
        default_branch(&server.base, wrong, "octocat/Hello-World").await.unwrap_err()
    );
    assert!(denied.contains("401") && !denied.contains(wrong), "{denied}");
    let none =
        format!("{:#}", default_branch(&server.base, "", "octocat/Hello-World").await.unwrap_err());
    assert_eq!(none, "default branch: no github-token given");
}

/// A run whose payload names neither the default branch nor the commit's
/// date asks the API for them (with `github-token`), so `type=edge`,
/// `{{is_default_branch}}` and `{{commit_date}}` apply.
#[tokio::test]
async fn a_run_without_the_default_branch_in_its_payload_asks_the_api() {
    let server = Server::start(repository_api).await;
    let dir = crate::common::workspace("FROM scratch\n");
    let run = |token: &'static str| {
        let mut command = tokio::process::Command::new(crate::common::BINARY);
        command.current_dir(dir.path()).env_clear().env("PATH", "/usr/bin:/bin");
        for (name, value) in [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/master"),
            ("GITHUB_SHA", "860c1904a1ce19322e91ac35af1ab07466440c37"),
            ("GITHUB_REPOSITORY", "octocat/Hello-World"),
            ("GITHUB_API_URL", server.base.as_str()),
            // 2024-01-02, the build time.
            ("SOURCE_DATE_EPOCH", "1704164645"),
            ("INPUT_IMAGES", "127.0.0.1:5999/acme/app"),
            (
                "INPUT_TAGS",
                "type=edge\ntype=raw,value=on-default,enable={{is_default_branch}}\ntype=ref,event=branch\ntype=raw,value=c-{{commit_date 'YYYYMMDD'}},priority=1",
            ),
            ("INPUT_DRY-RUN", "true"),
            ("INPUT_GITHUB-TOKEN", token),
        ] {
            command.env(name, value);
        }
        command.output()
    };
    let output = run(TOKEN).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let tags: Vec<&str> =
        stdout.lines().filter_map(|l| l.trim().strip_prefix("127.0.0.1:5999/acme/app:")).collect();
    assert_eq!(tags, ["edge", "master", "on-default", "c-20241113"], "{stdout}");

    let output = run("ghs_wrongwrongwrongwrongwrongwrongwrong").await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::warning::default branch: could not read repository octocat/Hello-World"),
        "{stdout}"
    );
    assert!(stdout.contains("::warning::commit date: could not read commit"), "{stdout}");
    let tags: Vec<&str> =
        stdout.lines().filter_map(|l| l.trim().strip_prefix("127.0.0.1:5999/acme/app:")).collect();
    assert_eq!(tags, ["master", "c-20240102"], "{stdout}");
}

#[tokio::test]
async fn commit_date_comes_from_the_commit() {
    let server = Server::start(repository_api).await;
    let date = commit_date(&server.base, TOKEN, "octocat/Hello-World", COMMIT).await.unwrap();
    assert_eq!(date.to_rfc3339(), "2024-11-13T13:42:28+00:00");
    let other = "5f3331d7f7044c18ca9f12c77d961c4d7cf3276a";
    let missing = format!(
        "{:#}",
        commit_date(&server.base, TOKEN, "octocat/Hello-World", other).await.unwrap_err()
    );
    assert!(
        missing.starts_with(&format!(
            "commit date: could not read commit {other} of octocat/Hello-World"
        )),
        "{missing}"
    );
    let bad = format!(
        "{:#}",
        commit_date(&server.base, TOKEN, "octocat/Hello-World", "main; rm").await.unwrap_err()
    );
    assert_eq!(bad, "commit date: \"main; rm\" is not a commit id");
}
