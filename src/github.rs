//! GitHub's REST API: release notes (after a `release` event's image is
//! pushed, add or refresh a "Container image" section in the release's
//! body), and the repository's default branch and a commit's date when the
//! event payload lacks them.
//!
//! The section is wrapped in HTML comment markers so that a re-run of the
//! workflow replaces it instead of appending a second copy. A token that may
//! not edit the release yields [`Outcome::NoPermission`] rather than an error:
//! by then the image is already pushed, so the job should warn, not fail.

use std::time::Duration;

use anyhow::{Context, bail};

use crate::log::Log;
use crate::plan::{Build, ContextLookups, ReleaseNotes};
use crate::report::Report;

/// Opening marker of the section in a release body.
pub const SECTION_START: &str = "<!-- multiarch-action:image -->";
/// Closing marker of the section in a release body.
pub const SECTION_END: &str = "<!-- /multiarch-action:image -->";

/// What was pushed, as shown in the release notes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageSection {
    /// Pullable digest reference, e.g. `ghcr.io/acme/app@sha256:…`.
    pub reference: String,
    /// Full tag references, e.g. `ghcr.io/acme/app:1.2.3`.
    pub tags: Vec<String>,
    /// `(platform, digest)` pairs, e.g. `("linux/arm64", "sha256:…")`.
    pub platforms: Vec<(String, String)>,
}

/// Result of [`publish_release_notes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The release body now holds the current section.
    Updated { release_id: u64 },
    /// GitHub refused (403) or hid (404) the release; a one-line warning for the log.
    NoPermission(String),
    /// No release to edit (a release id of 0: the run was not triggered by a release).
    NotARelease,
}

/// Render the section as Markdown, wrapped in [`SECTION_START`] / [`SECTION_END`].
/// Lines are joined with `\n`; the result has no trailing newline.
pub fn render_section(section: &ImageSection) -> String {
    let mut lines: Vec<String> = vec![
        SECTION_START.to_string(),
        "## Container image".to_string(),
        String::new(),
        code(&section.reference),
    ];
    if !section.tags.is_empty() {
        lines.push(String::new());
        lines.push("Tags:".to_string());
        lines.push(String::new());
        lines.extend(section.tags.iter().map(|tag| format!("- {}", code(tag))));
    }
    if !section.platforms.is_empty() {
        lines.push(String::new());
        lines.push("| platform | digest |".to_string());
        lines.push("| --- | --- |".to_string());
        lines.extend(
            section
                .platforms
                .iter()
                .map(|(platform, digest)| format!("| {} | {} |", cell(platform), cell(digest))),
        );
    }
    lines.push(String::new());
    lines.push("```sh".to_string());
    lines.push(format!("docker pull {}", single_line(&section.reference)));
    lines.push("```".to_string());
    lines.push(SECTION_END.to_string());
    lines.join("\n")
}

/// Put `section_markdown` into `body`.
///
/// If `body` already holds a marked section, that section is replaced in place and the
/// text before and after it is kept byte for byte; further marked sections (a body
/// edited by hand) are dropped so the section appears once. Otherwise the section is
/// appended after a blank line (or becomes the whole body if `body` is blank). A body
/// that uses CRLF line endings gets the section with CRLF line endings too.
pub fn replace_section(body: &str, section_markdown: &str) -> String {
    let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let section = with_line_endings(section_markdown.trim_end(), newline);

    let mut out = String::with_capacity(body.len() + section.len() + 4);
    let mut rest = body;
    let mut replaced = false;
    while let Some((start, end)) = find_section(rest) {
        if replaced {
            // A duplicate: drop it together with the blank lines that separated it.
            out.push_str(rest[..start].trim_end());
        } else {
            out.push_str(&rest[..start]);
            out.push_str(&section);
            replaced = true;
        }
        rest = &rest[end..];
    }
    if replaced {
        out.push_str(rest);
        return out;
    }

    let kept = body.trim_end();
    if kept.is_empty() {
        return format!("{section}{newline}");
    }
    format!("{kept}{newline}{newline}{section}{newline}")
}

/// Add (or refresh) the image section in the body of release `release_id` of
/// `repository` (`owner/name`), through the REST API at `api_url`
/// (e.g. `https://api.github.com`, or `https://ghe.example.com/api/v3`).
///
/// A 403 or 404 from GitHub becomes [`Outcome::NoPermission`]; other failures are
/// errors. Neither ever contains `token`.
pub async fn publish_release_notes(
    api_url: &str,
    token: &str,
    repository: &str,
    release_id: u64,
    section: &ImageSection,
) -> anyhow::Result<Outcome> {
    if release_id == 0 {
        return Ok(Outcome::NotARelease);
    }
    let (owner, repo) = split_repository(repository, "release notes")?;
    let token = token.trim();
    let client = client(api_url, token, "release notes")?;
    let release = match client.repos(owner, repo).releases().get(release_id).await {
        Ok(release) => release,
        Err(e) => {
            return denied_or_error(e, token, "read", release_id, repository);
        }
    };

    let body =
        replace_section(release.body.as_deref().unwrap_or_default(), &render_section(section));
    // Only `body` is sent, so nothing else about the release can change.
    let route = format!("/repos/{owner}/{repo}/releases/{release_id}");
    let update = client
        .patch::<octocrab::models::repos::Release, _, _>(route, Some(&UpdateBody { body: &body }))
        .await;
    match update {
        Ok(_) => Ok(Outcome::Updated { release_id }),
        Err(e) => denied_or_error(e, token, "edit", release_id, repository),
    }
}

/// An API client for `api_url` with `token`; `what` starts error messages.
fn client(api_url: &str, token: &str, what: &str) -> anyhow::Result<octocrab::Octocrab> {
    if token.is_empty() {
        bail!("{what}: no github-token given");
    }
    if token.chars().any(|c| c.is_control() && c != '\t') {
        bail!("{what}: the token contains characters that cannot be sent in an HTTP header");
    }
    octocrab::Octocrab::builder()
        .base_uri(api_url.trim_end_matches('/'))
        .with_context(|| format!("{what}: invalid GitHub API URL {:?}", scrub(api_url, token)))?
        .personal_token(token.to_string())
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(60)))
        .set_write_timeout(Some(Duration::from_secs(60)))
        .build()
        .map_err(|e| scrubbed(&e, token))
        .with_context(|| format!("{what}: could not set up the GitHub client"))
}

/// The default branch of `repository` (`owner/name`), asked of the REST API
/// at `api_url` with `token`. Errors never contain `token`.
pub async fn default_branch(
    api_url: &str,
    token: &str,
    repository: &str,
) -> anyhow::Result<String> {
    const WHAT: &str = "default branch";
    let (owner, repo) = split_repository(repository, WHAT)?;
    let token = token.trim();
    let client = client(api_url, token, WHAT)?;
    let found = client
        .repos(owner, repo)
        .get()
        .await
        .map_err(|e| scrubbed(&e, token))
        .with_context(|| format!("{WHAT}: could not read repository {repository}"))?;
    found
        .default_branch
        .filter(|b| !b.is_empty())
        .with_context(|| format!("{WHAT}: the API names no default branch for {repository}"))
}

/// The committer date of commit `sha` of `repository`, asked of the REST API
/// at `api_url` with `token`. Errors never contain `token`.
pub async fn commit_date(
    api_url: &str,
    token: &str,
    repository: &str,
    sha: &str,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    const WHAT: &str = "commit date";
    let (owner, repo) = split_repository(repository, WHAT)?;
    if sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("{WHAT}: {sha:?} is not a commit id");
    }
    let token = token.trim();
    let client = client(api_url, token, WHAT)?;
    let commit: serde_json::Value = client
        .get(format!("/repos/{owner}/{repo}/commits/{sha}"), None::<&()>)
        .await
        .map_err(|e| scrubbed(&e, token))
        .with_context(|| format!("{WHAT}: could not read commit {sha} of {repository}"))?;
    let date = commit.pointer("/commit/committer/date").and_then(serde_json::Value::as_str);
    let date = date.with_context(|| {
        format!("{WHAT}: the API gives no committer date for commit {sha} of {repository}")
    })?;
    let parsed = chrono::DateTime::parse_from_rfc3339(date)
        .with_context(|| format!("{WHAT}: {date:?} from the API is not a date"))?;
    Ok(parsed.with_timezone(&chrono::Utc))
}

/// Request body of `PATCH /repos/{owner}/{repo}/releases/{id}`.
#[derive(serde::Serialize)]
struct UpdateBody<'a> {
    body: &'a str,
}

/// Map an API failure to [`Outcome::NoPermission`] (403/404) or to an error with context.
fn denied_or_error(
    error: octocrab::Error,
    token: &str,
    verb: &str,
    release_id: u64,
    repository: &str,
) -> anyhow::Result<Outcome> {
    if let octocrab::Error::GitHub { source, .. } = &error {
        let status = source.status_code.as_u16();
        if status == 403 || status == 404 {
            let reason = one_line(&scrub(&source.message, token), 200);
            return Ok(Outcome::NoPermission(format!(
                "release notes: the token may not {verb} release {release_id} of {repository} \
                 (HTTP {status}: {reason}); give the job `permissions: contents: write`"
            )));
        }
    }
    Err(scrubbed(&error, token)).with_context(|| {
        format!("release notes: could not {verb} release {release_id} of {repository}")
    })
}

/// Describe an octocrab error on one line, with the token masked.
fn scrubbed(error: &octocrab::Error, token: &str) -> anyhow::Error {
    let text = match error {
        octocrab::Error::GitHub { source, .. } => {
            format!("HTTP {}: {}", source.status_code.as_u16(), source.message)
        }
        other => {
            let mut text = other.to_string();
            let mut cause = std::error::Error::source(other);
            while let Some(inner) = cause {
                let inner_text = inner.to_string();
                if !text.contains(&inner_text) {
                    text.push_str(": ");
                    text.push_str(&inner_text);
                }
                cause = inner.source();
            }
            text
        }
    };
    anyhow::Error::msg(one_line(&scrub(&text, token), 500))
}

fn split_repository<'a>(repository: &'a str, what: &str) -> anyhow::Result<(&'a str, &'a str)> {
    let valid = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repository.split_once('/') {
        Some((owner, repo)) if valid(owner) && valid(repo) => Ok((owner, repo)),
        _ => bail!("{what}: repository must be owner/name, got {repository:?}"),
    }
}

/// Find the first complete marked section: the first end marker and the last
/// start marker before it. Returns the byte range covering both markers.
fn find_section(text: &str) -> Option<(usize, usize)> {
    let end = text.find(SECTION_END)?;
    let start = text[..end].rfind(SECTION_START)?;
    Some((start, end + SECTION_END.len()))
}

fn with_line_endings(text: &str, newline: &str) -> String {
    let unix = text.replace("\r\n", "\n");
    if newline == "\n" { unix } else { unix.replace('\n', newline) }
}

fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Inline code span that survives backticks in the text.
fn code(text: &str) -> String {
    let text = single_line(text);
    if text.contains('`') { format!("`` {text} ``") } else { format!("`{text}`") }
}

/// Table cell holding an inline code span; pipes must be escaped even inside code.
fn cell(text: &str) -> String {
    code(text).replace('|', "\\|")
}

fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() { text.to_string() } else { text.replace(token, "***") }
}

fn one_line(text: &str, max_chars: usize) -> String {
    let text = single_line(text);
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut short: String = text.chars().take(max_chars).collect();
    short.push('…');
    short
}

/// Fills in what the event payload may lack and the API knows, with
/// `github-token`: the default branch, and the commit's date when a rule
/// asks for it. A failed lookup is a warning.
pub async fn complete_context(
    github: &mut crate::runner::GithubContext,
    lookups: &ContextLookups,
    log: &Log,
) {
    let token = lookups.token.as_ref().map(crate::names::Secret::expose);
    if github.default_branch.is_none()
        && let Some(token) = token
        && !github.repository.is_empty()
    {
        match default_branch(&github.api_url, token, &github.repository).await {
            Ok(branch) => github.default_branch = Some(branch),
            Err(e) => log.warning(&format!(
                "{e:#}; rules that need the default branch treat this run as not on it"
            )),
        }
    }
    if !lookups.commit_date || github.commit_date.is_some() {
        return;
    }
    match token {
        None => log.warning("{{commit_date}}: the event payload does not date this commit and there is no git checkout; pass `github-token` to read it from the API; the build time is used"),
        Some(_) if github.repository.is_empty() => {}
        Some(token) => match commit_date(&github.api_url, token, &github.repository, &github.sha).await {
            Ok(date) => github.commit_date = Some(date),
            Err(e) => log.warning(&format!("{e:#}; {{{{commit_date}}}} uses the build time")),
        },
    }
}

/// Adds the image section to the release's notes; any failure is a warning,
/// since the image is already pushed.
pub(crate) async fn add_image_to_release(
    build: &Build,
    notes: &ReleaseNotes,
    report: &Report,
    log: &Log,
) {
    let Some(digest) = &report.digest else { return };
    let section = ImageSection {
        reference: build.image().with_digest(digest),
        tags: report.pushed_references.clone(),
        platforms: report
            .platform_images
            .iter()
            .map(|i| (i.platform.to_string(), i.digest.to_string()))
            .collect(),
    };
    match publish_release_notes(
        &notes.api_url,
        notes.token.expose(),
        &notes.repository,
        notes.release_id,
        &section,
    )
    .await
    {
        Ok(Outcome::Updated { release_id }) => {
            log.info(&format!("release notes: added the image to release {release_id}"))
        }
        Ok(Outcome::NoPermission(warning)) => log.warning(&warning),
        Ok(Outcome::NotARelease) => {}
        Err(error) => log.warning(&format!(
            "{error:#}; the image is pushed, only the release notes were not updated"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImageSection {
        ImageSection {
            reference: "ghcr.io/acme/app@sha256:1111111111111111111111111111111111111111111111111111111111111111".into(),
            tags: vec!["ghcr.io/acme/app:1.2.3".into(), "ghcr.io/acme/app:latest".into()],
            platforms: vec![
                ("linux/amd64".into(), "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into()),
                ("linux/arm64".into(), "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".into()),
            ],
        }
    }

    #[test]
    fn render_section_has_every_part() {
        let expected = "\
<!-- multiarch-action:image -->
## Container image

`ghcr.io/acme/app@sha256:1111111111111111111111111111111111111111111111111111111111111111`

Tags:

- `ghcr.io/acme/app:1.2.3`
- `ghcr.io/acme/app:latest`

| platform | digest |
| --- | --- |
| `linux/amd64` | `sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa` |
| `linux/arm64` | `sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb` |

```sh
docker pull ghcr.io/acme/app@sha256:1111111111111111111111111111111111111111111111111111111111111111
```
<!-- /multiarch-action:image -->";
        assert_eq!(render_section(&sample()), expected);
    }

    #[test]
    fn render_section_without_tags_or_platforms() {
        let section =
            ImageSection { reference: "registry.example/x@sha256:00".into(), ..Default::default() };
        let md = render_section(&section);
        assert!(!md.contains("Tags:"));
        assert!(!md.contains("| platform | digest |"));
        assert!(md.starts_with(SECTION_START));
        assert!(md.ends_with(SECTION_END));
        assert!(md.contains("```sh\ndocker pull registry.example/x@sha256:00\n```"));
    }

    #[test]
    fn render_section_escapes_table_cells() {
        let section = ImageSection {
            reference: "r@sha256:00".into(),
            tags: vec![],
            platforms: vec![("linux/a|b".into(), "d`x".into())],
        };
        let md = render_section(&section);
        assert!(md.contains("| `linux/a\\|b` | `` d`x `` |"), "{md}");
    }

    #[test]
    fn replace_section_table() {
        let s = "<!-- multiarch-action:image -->\nNEW\n<!-- /multiarch-action:image -->";
        let old = "<!-- multiarch-action:image -->\nOLD\n<!-- /multiarch-action:image -->";
        let s_crlf = s.replace('\n', "\r\n");
        let cases: Vec<(&str, String, String)> = vec![
            ("empty body", String::new(), format!("{s}\n")),
            ("blank body", " \n\n".into(), format!("{s}\n")),
            (
                "body without section",
                "Changes:\n- a fix\n".into(),
                format!("Changes:\n- a fix\n\n{s}\n"),
            ),
            ("body without trailing newline", "Changes".into(), format!("Changes\n\n{s}\n")),
            (
                "section at the end (re-run)",
                format!("Changes\n\n{old}\n"),
                format!("Changes\n\n{s}\n"),
            ),
            (
                "section in the middle keeps text before and after",
                format!("Before\n\n{old}\n\nAfter\n  indented\n"),
                format!("Before\n\n{s}\n\nAfter\n  indented\n"),
            ),
            ("body is only a section", old.into(), s.into()),
            (
                "CRLF body without section",
                "Changes:\r\n- a fix\r\n".into(),
                format!("Changes:\r\n- a fix\r\n\r\n{s_crlf}\r\n"),
            ),
            (
                "CRLF body with section",
                format!("Before\r\n\r\n{}\r\nAfter", old.replace('\n', "\r\n")),
                format!("Before\r\n\r\n{s_crlf}\r\nAfter"),
            ),
            (
                "duplicated sections collapse into one",
                format!("Before\n\n{old}\n\n{old}\n\nAfter\n"),
                format!("Before\n\n{s}\n\nAfter\n"),
            ),
            (
                "start marker without end marker is left alone",
                format!("Before\n{SECTION_START}\nstray"),
                format!("Before\n{SECTION_START}\nstray\n\n{s}\n"),
            ),
        ];
        for (name, body, expected) in cases {
            let got = replace_section(&body, s);
            assert_eq!(got, expected, "case: {name}");
            assert_eq!(got.replace("\r\n", "\n").matches(s).count(), 1, "case: {name}");
            assert_eq!(got.matches(SECTION_END).count(), 1, "case: {name}");
            assert_eq!(replace_section(&got, s), got, "idempotent: {name}");
        }
    }

    #[test]
    fn replace_section_normalizes_section_line_endings() {
        let s = "<!-- multiarch-action:image -->\r\nX\r\n<!-- /multiarch-action:image -->\r\n";
        assert_eq!(
            replace_section("a\n", s),
            "a\n\n<!-- multiarch-action:image -->\nX\n<!-- /multiarch-action:image -->\n"
        );
    }

    #[test]
    fn repository_must_be_owner_slash_name() {
        assert_eq!(split_repository("acme/app", "x").unwrap(), ("acme", "app"));
        assert_eq!(split_repository("my-org/my.repo_1", "x").unwrap(), ("my-org", "my.repo_1"));
        for bad in ["", "acme", "acme/", "/app", "a/b/c", "acme/..", "acme/a?b", "acme/a b"] {
            assert!(split_repository(bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn one_line_collapses_and_truncates() {
        assert_eq!(one_line("a\n  b\tc", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }

    #[tokio::test]
    async fn zero_release_id_is_not_a_release() {
        let outcome = publish_release_notes("http://127.0.0.1:9", "t", "acme/app", 0, &sample())
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::NotARelease);
    }
}
