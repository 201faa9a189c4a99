//! Release notes and the default-branch lookup against a local HTTP server
//! that answers like GitHub's REST API, from recorded responses in
//! tests/fixtures/, and records every request it gets.

use std::sync::{Arc, Mutex};

use multiarch_action::github::{
    ImageSection, Outcome, SECTION_END, SECTION_START, commit_date, default_branch,
    publish_release_notes, render_section,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
const RELEASE_NO_SECTION: &str = include_str!("fixtures/github/release_no_section.json");
const RELEASE_WITH_SECTION: &str = include_str!("fixtures/github/release_with_section.json");
const UPDATE_403: &str = include_str!("fixtures/github/update_release_403.json");
const GET_404: &str = include_str!("fixtures/github/get_release_404.json");
const GET_REPOSITORY: &str = include_str!("fixtures/github/get_repository.json");
const GET_COMMIT: &str = include_str!("fixtures/github/get_commit.json");
const COMMIT: &str = "860c1904a1ce19322e91ac35af1ab07466440c37";
const OLD_DIGEST: &str = "sha256:dead000000000000000000000000000000000000000000000000000000000000";
const NEW_DIGEST: &str = "sha256:beef000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
    body: String,
}

type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

/// A tiny HTTP/1.1 server: keep-alive, Content-Length bodies, JSON answers.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    async fn start(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (recorded, handler) = (recorded.clone(), handler.clone());
                tokio::spawn(async move {
                    let (reader, mut writer) = stream.into_split();
                    let mut reader = BufReader::new(reader);
                    while let Some(request) = read_request(&mut reader).await {
                        recorded.lock().unwrap().push(request.clone());
                        let (status, body) = handler(&request);
                        let head = format!(
                            "HTTP/1.1 {status} {}\r\ncontent-type: application/json; charset=utf-8\r\n\
                             x-github-api-version-selected: 2022-11-28\r\ncontent-length: {}\r\n\r\n",
                            reason(status),
                            body.len()
                        );
                        let sent = writer.write_all(head.as_bytes()).await;
                        if sent.is_err() || writer.write_all(body.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Server { base, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_request<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).await.ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    let body = String::from_utf8(body).ok()?;
    Some(Request { method, path, authorization, body })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Behaves like the release endpoints: GET answers the stored release, PATCH stores
/// the sent `body` and answers the updated release. `patch` overrides PATCH answers.
fn release_api(
    fixture: &str,
    patch: Option<(u16, String)>,
) -> impl Fn(&Request) -> (u16, String) + use<> {
    let release: Value = serde_json::from_str(fixture).unwrap();
    let path = format!("/repos/acme/app/releases/{}", release["id"]);
    let state = Mutex::new(release);
    move |request: &Request| {
        if request.authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
            return (401, r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#.into());
        }
        if !request.path.ends_with(&path) {
            return (404, GET_404.into());
        }
        let mut release = state.lock().unwrap();
        match (request.method.as_str(), &patch) {
            ("GET", _) => (200, release.to_string()),
            ("PATCH", Some((status, body))) => (*status, body.clone()),
            ("PATCH", None) => {
                let sent: Value = serde_json::from_str(&request.body).unwrap();
                release["body"] = sent["body"].clone();
                release["updated_at"] = Value::from("2024-06-02T18:01:27Z");
                (200, release.to_string())
            }
            _ => (404, GET_404.into()),
        }
    }
}

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

fn patched_body(request: &Request) -> String {
    let sent: Value = serde_json::from_str(&request.body).unwrap();
    let object = sent.as_object().expect("PATCH body is a JSON object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["body"], "only the body is changed");
    sent["body"].as_str().unwrap().to_string()
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

mod common;

/// The whole action on a `release` event: it pushes, then adds the section
/// with the pushed digest through `GITHUB_API_URL`; without permission it
/// warns and still succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn the_action_adds_the_pushed_image_to_the_release() {
    let bed = common::TestBed::get();
    let release: Value = serde_json::from_str(RELEASE_NO_SECTION).unwrap();
    for forbidden in [false, true] {
        let patch = forbidden.then(|| (403, UPDATE_403.to_string()));
        let server = Server::start(release_api(RELEASE_NO_SECTION, patch)).await;
        let image = bed.unique_image("release-notes");
        let dir = common::workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n");
        let event = serde_json::json!({ "action": "published", "release": release.clone(), "repository": { "name": "app", "html_url": "https://github.com/acme/app" } });
        let event_path = dir.path().join("event.json");
        std::fs::write(&event_path, event.to_string()).unwrap();
        let build_args = format!("BASE_IMAGE={}", bed.base_image);
        let (bed2, image2, base, event_file) =
            (bed.clone(), image.clone(), server.base.clone(), event_path.display().to_string());
        let workdir = dir.path().to_path_buf();
        let run = tokio::task::spawn_blocking(move || {
            let mut inputs = common::registry_inputs(&bed2, &image2);
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
            common::run_action(&workdir, &inputs, &github)
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
    let dir = common::workspace("FROM scratch\n");
    let run = |token: &'static str| {
        let mut command = tokio::process::Command::new(common::BINARY);
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
