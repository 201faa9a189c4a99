//! A local HTTP server that answers like GitHub's REST API, from recorded
//! responses in tests/fixtures/github/, and records every request it gets;
//! the release endpoints as a handler for it.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub(crate) const TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
pub(crate) const RELEASE_NO_SECTION: &str =
    include_str!("../fixtures/github/release_no_section.json");
pub(crate) const RELEASE_WITH_SECTION: &str =
    include_str!("../fixtures/github/release_with_section.json");
pub(crate) const UPDATE_403: &str = include_str!("../fixtures/github/update_release_403.json");
pub(crate) const GET_404: &str = include_str!("../fixtures/github/get_release_404.json");
pub(crate) const GET_REPOSITORY: &str = include_str!("../fixtures/github/get_repository.json");
pub(crate) const GET_COMMIT: &str = include_str!("../fixtures/github/get_commit.json");

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

/// A tiny HTTP/1.1 server: keep-alive, Content-Length bodies, JSON answers.
pub(crate) struct Server {
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub(crate) async fn start(
        handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static,
    ) -> Server {
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

    pub(crate) fn requests(&self) -> Vec<Request> {
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
pub(crate) fn release_api(
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

pub(crate) fn patched_body(request: &Request) -> String {
    let sent: Value = serde_json::from_str(&request.body).unwrap();
    let object = sent.as_object().expect("PATCH body is a JSON object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["body"], "only the body is changed");
    sent["body"].as_str().unwrap().to_string()
}
