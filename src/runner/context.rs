//! The GitHub context of a run: the `GITHUB_*` variables, the event
//! payload and docker/metadata-action's `DOCKER_METADATA_*` switches, read
//! once from the environment into a plain value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::meta::{self, AnnotationLevel};
use crate::names::Secret;

#[derive(Debug, Clone)]
pub struct GithubContext {
    pub event_name: String,
    pub git_ref: String,
    pub sha: String,
    pub repository: String,
    pub server_url: String,
    pub api_url: String,
    pub run_id: String,
    /// `GITHUB_RUN_ATTEMPT`: 1 for a run, 2 and on for its re-runs.
    pub run_attempt: String,
    /// `BUILDX_NO_DEFAULT_ATTESTATIONS` set to a true value: buildx and
    /// docker/build-push-action add no provenance of their own.
    pub no_default_attestations: bool,
    /// The event payload (`GITHUB_EVENT_PATH`), `Null` when there is none.
    pub event: serde_json::Value,
    pub output_path: Option<PathBuf>,
    pub summary_path: Option<PathBuf>,
    pub runner_temp: Option<PathBuf>,
    pub workspace: Option<PathBuf>,
    /// `SOURCE_DATE_EPOCH`, for reproducible `created` labels.
    pub source_date_epoch: Option<i64>,
    /// True when running inside a workflow (`GITHUB_ACTIONS=true`).
    pub in_workflow: bool,
    /// The repository's default branch: from the payload, or filled in
    /// later from the API.
    pub default_branch: Option<String>,
    /// The committer date of `sha`: from the payload's commits, else from
    /// `git log` in the workspace.
    pub commit_date: Option<DateTime<Utc>>,
    /// `DOCKER_METADATA_SHORT_SHA_LENGTH`, 7 when unset.
    pub short_sha_length: usize,
    /// `DOCKER_METADATA_ANNOTATIONS_LEVELS`: where the generated annotations
    /// go; both levels when unset.
    pub annotation_levels: Vec<AnnotationLevel>,
    /// The runner's OIDC token endpoint, given to a job with
    /// `permissions: id-token: write`.
    pub id_token_request: Option<IdTokenRequest>,
}

/// Where the runner hands out OIDC tokens: `ACTIONS_ID_TOKEN_REQUEST_URL`,
/// and the bearer token it takes (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
#[derive(Debug, Clone)]
pub struct IdTokenRequest {
    pub url: String,
    pub token: Secret,
}

impl Default for GithubContext {
    /// The context of a run outside any workflow: nothing set.
    fn default() -> Self {
        GithubContext {
            event_name: String::new(),
            git_ref: String::new(),
            sha: String::new(),
            repository: String::new(),
            server_url: String::new(),
            api_url: String::new(),
            run_id: String::new(),
            run_attempt: String::new(),
            no_default_attestations: false,
            event: Value::Null,
            output_path: None,
            summary_path: None,
            runner_temp: None,
            workspace: None,
            source_date_epoch: None,
            in_workflow: false,
            default_branch: None,
            commit_date: None,
            short_sha_length: DEFAULT_SHORT_SHA_LENGTH,
            annotation_levels: vec![AnnotationLevel::Manifest, AnnotationLevel::Index],
            id_token_request: None,
        }
    }
}

/// Short commit ids are this long unless `DOCKER_METADATA_SHORT_SHA_LENGTH` says otherwise.
pub(crate) const DEFAULT_SHORT_SHA_LENGTH: usize = 7;

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The timestamp the payload gives for commit `sha` (a push lists its
/// commits; `head_commit` is the last one).
fn payload_commit_date(event: &Value, sha: &str) -> Option<DateTime<Utc>> {
    let commits = event.get("commits").and_then(Value::as_array).into_iter().flatten();
    let timestamp = commits
        .chain(event.get("head_commit"))
        .find(|c| c.get("id").and_then(Value::as_str) == Some(sha))
        .and_then(|c| c.get("timestamp"))
        .and_then(Value::as_str)?;
    DateTime::parse_from_rfc3339(timestamp).ok().map(|d| d.with_timezone(&Utc))
}

/// The committer date of `sha` from the git checkout in `workspace`, if any.
fn git_commit_date(workspace: &Path, sha: &str) -> Option<DateTime<Utc>> {
    let commit = if sha.is_empty() { "HEAD" } else { sha };
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["log", "-1", "--format=%cI", commit, "--"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    DateTime::parse_from_rfc3339(String::from_utf8_lossy(&output.stdout).trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn short_sha_length(value: Option<&String>) -> Result<usize> {
    match value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_SHORT_SHA_LENGTH),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!(
                "DOCKER_METADATA_SHORT_SHA_LENGTH={v} is not a length; unset it or give a number of characters such as 12"
            ),
        },
    }
}

fn annotation_levels(value: Option<&String>) -> Result<Vec<AnnotationLevel>> {
    let Some(text) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(vec![AnnotationLevel::Manifest, AnnotationLevel::Index]);
    };
    let mut levels = Vec::new();
    for level in text.split(',').map(str::trim) {
        let level = match level {
            "manifest" => AnnotationLevel::Manifest,
            "index" => AnnotationLevel::Index,
            other => bail!(
                "DOCKER_METADATA_ANNOTATIONS_LEVELS: level `{other}` is not supported; use manifest, index or manifest,index"
            ),
        };
        if !levels.contains(&level) {
            levels.push(level);
        }
    }
    Ok(levels)
}

impl GithubContext {
    /// Reads the context from a snapshot of the environment.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self> {
        let get = |name: &str| env.get(name).cloned().unwrap_or_default();
        let path = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let event = match path("GITHUB_EVENT_PATH") {
            Some(file) if file.exists() => {
                let text = std::fs::read_to_string(&file).with_context(|| {
                    format!("could not read the event payload {}", file.display())
                })?;
                serde_json::from_str(&text)
                    .with_context(|| format!("the event payload {} is not JSON", file.display()))?
            }
            _ => serde_json::Value::Null,
        };
        let source_date_epoch = match env.get("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) {
            Some(value) => Some(
                value
                    .trim()
                    .parse()
                    .with_context(|| format!("SOURCE_DATE_EPOCH={value} is not a number of seconds; unset it or give a Unix time"))?,
            ),
            None => None,
        };
        let event_name = get("GITHUB_EVENT_NAME");
        let mut sha = get("GITHUB_SHA");
        // DOCKER_METADATA_PR_HEAD_SHA: name a pull request's head commit,
        // not the merge commit GitHub builds.
        if env
            .get("DOCKER_METADATA_PR_HEAD_SHA")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            && event_name.starts_with("pull_request")
            && let Some(head) = str_at(&event, "/pull_request/head/sha")
        {
            sha = head.to_string();
        }
        let workspace = path("GITHUB_WORKSPACE");
        let commit_date = payload_commit_date(&event, &sha)
            .or_else(|| workspace.as_deref().and_then(|w| git_commit_date(w, &sha)));
        Ok(GithubContext {
            default_branch: str_at(&event, "/repository/default_branch").map(str::to_string),
            commit_date,
            short_sha_length: short_sha_length(env.get("DOCKER_METADATA_SHORT_SHA_LENGTH"))?,
            annotation_levels: annotation_levels(env.get("DOCKER_METADATA_ANNOTATIONS_LEVELS"))?,
            event_name,
            git_ref: get("GITHUB_REF"),
            sha,
            repository: get("GITHUB_REPOSITORY"),
            server_url: env
                .get("GITHUB_SERVER_URL")
                .cloned()
                .unwrap_or_else(|| "https://github.com".into()),
            api_url: env
                .get("GITHUB_API_URL")
                .cloned()
                .unwrap_or_else(|| "https://api.github.com".into()),
            run_id: get("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT"),
            no_default_attestations: env
                .get("BUILDX_NO_DEFAULT_ATTESTATIONS")
                .is_some_and(|v| ["1", "t", "T", "true", "TRUE", "True"].contains(&v.trim())),
            event,
            output_path: path("GITHUB_OUTPUT"),
            summary_path: path("GITHUB_STEP_SUMMARY"),
            runner_temp: path("RUNNER_TEMP"),
            workspace,
            source_date_epoch,
            in_workflow: get("GITHUB_ACTIONS") == "true",
            id_token_request: match (
                env.get("ACTIONS_ID_TOKEN_REQUEST_URL").filter(|v| !v.is_empty()),
                env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN").filter(|v| !v.is_empty()),
            ) {
                (Some(url), Some(token)) => {
                    Some(IdTokenRequest { url: url.clone(), token: Secret::new(token.as_str()) })
                }
                _ => None,
            },
        })
    }

    /// The address of this workflow run's attempt, as docker/build-push-action
    /// names the builder of its provenance
    /// (`<server>/<owner>/<repo>/actions/runs/<id>/attempts/<n>`); `None`
    /// outside a workflow (no repository or run id).
    pub fn workflow_run_url(&self) -> Option<String> {
        if self.repository.is_empty() || self.run_id.is_empty() {
            return None;
        }
        let mut url = format!(
            "{}/{}/actions/runs/{}",
            self.server_url.trim_end_matches('/'),
            self.repository,
            self.run_id
        );
        if !self.run_attempt.is_empty() {
            url.push_str(&format!("/attempts/{}", self.run_attempt));
        }
        Some(url)
    }

    /// Whether the repository is not public, from the event payload:
    /// `repository.private`, else `repository.visibility` (`private`,
    /// `internal`). A payload that says neither counts as public, as it does
    /// for docker/build-push-action.
    pub fn repository_is_private(&self) -> bool {
        let repository = self.event.get("repository");
        match repository.and_then(|r| r.get("private")).and_then(Value::as_bool) {
            Some(private) => private,
            None => repository
                .and_then(|r| r.get("visibility"))
                .and_then(Value::as_str)
                .is_some_and(|v| v != "public"),
        }
    }

    /// What the metadata computation needs to know about this run.
    /// `version_override` is the `version` input; `created` the build time.
    pub fn meta_context(
        &self,
        version_override: Option<String>,
        created: DateTime<Utc>,
    ) -> meta::Context {
        meta::Context {
            event_name: self.event_name.clone(),
            git_ref: self.git_ref.clone(),
            sha: self.sha.clone(),
            repository: self.repository.clone(),
            server_url: self.server_url.clone(),
            event: self.event.clone(),
            version_override,
            created,
            default_branch: self.default_branch.clone(),
            commit_date: self.commit_date,
            short_sha_length: self.short_sha_length,
            annotation_levels: self.annotation_levels.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MERGE_SHA: &str = "a9c8c5828b91be19d9728548b24759e352367ef1";
    const HEAD_SHA: &str = "3370e228f2209994d57af4427fe64e71bb79ac96";

    fn context(vars: &[(&str, &str)], payload: Value) -> Result<GithubContext> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, payload.to_string()).unwrap();
        let mut env: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.insert("GITHUB_EVENT_PATH".into(), path.display().to_string());
        GithubContext::from_env(&env)
    }

    fn pull_request() -> Value {
        serde_json::json!({"number": 15, "pull_request": {"head": {"sha": HEAD_SHA}}, "repository": {"default_branch": "master"}})
    }

    #[test]
    fn pr_head_sha_switch() {
        let base = [("GITHUB_EVENT_NAME", "pull_request"), ("GITHUB_SHA", MERGE_SHA)];
        assert_eq!(context(&base, pull_request()).unwrap().sha, MERGE_SHA);
        let on = [base[0], base[1], ("DOCKER_METADATA_PR_HEAD_SHA", "true")];
        let github = context(&on, pull_request()).unwrap();
        assert_eq!(github.sha, HEAD_SHA);
        assert_eq!(github.default_branch.as_deref(), Some("master"));
        let push = [
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_SHA", MERGE_SHA),
            ("DOCKER_METADATA_PR_HEAD_SHA", "true"),
        ];
        assert_eq!(context(&push, pull_request()).unwrap().sha, MERGE_SHA);
    }

    #[test]
    fn run_address_and_visibility() {
        let run = [
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "123456789"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ];
        let github = context(&run, Value::Null).unwrap();
        assert_eq!(
            github.workflow_run_url().as_deref(),
            Some("https://github.com/acme/app/actions/runs/123456789/attempts/2")
        );
        assert!(!github.no_default_attestations);
        let no_attempt = context(&run[..3], Value::Null).unwrap();
        assert_eq!(
            no_attempt.workflow_run_url().as_deref(),
            Some("https://github.com/acme/app/actions/runs/123456789")
        );
        assert_eq!(context(&run[..2], Value::Null).unwrap().workflow_run_url(), None);
        assert_eq!(context(&[], Value::Null).unwrap().workflow_run_url(), None);

        let private = |payload: Value| context(&run, payload).unwrap().repository_is_private();
        assert!(private(serde_json::json!({"repository": {"private": true}})));
        assert!(!private(serde_json::json!({"repository": {"private": false}})));
        assert!(private(serde_json::json!({"repository": {"visibility": "internal"}})));
        assert!(!private(serde_json::json!({"repository": {"visibility": "public"}})));
        assert!(!private(serde_json::json!({"repository": {}})));
        assert!(!private(Value::Null));

        for (value, set) in [("true", true), ("1", true), ("false", false), ("", false)] {
            let github = context(&[("BUILDX_NO_DEFAULT_ATTESTATIONS", value)], Value::Null);
            assert_eq!(github.unwrap().no_default_attestations, set, "{value:?}");
        }
    }

    #[test]
    fn short_sha_length_and_annotation_levels() {
        let github = context(&[], Value::Null).unwrap();
        assert_eq!(github.short_sha_length, 7);
        assert_eq!(
            github.annotation_levels,
            vec![AnnotationLevel::Manifest, AnnotationLevel::Index]
        );
        let github = context(
            &[
                ("DOCKER_METADATA_SHORT_SHA_LENGTH", "12"),
                ("DOCKER_METADATA_ANNOTATIONS_LEVELS", "index"),
            ],
            Value::Null,
        )
        .unwrap();
        assert_eq!(
            (github.short_sha_length, github.annotation_levels),
            (12, vec![AnnotationLevel::Index])
        );
        let e = context(&[("DOCKER_METADATA_SHORT_SHA_LENGTH", "long")], Value::Null)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "DOCKER_METADATA_SHORT_SHA_LENGTH=long is not a length; unset it or give a number of characters such as 12"
        );
        let e = context(
            &[("DOCKER_METADATA_ANNOTATIONS_LEVELS", "manifest,index-descriptor")],
            Value::Null,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "DOCKER_METADATA_ANNOTATIONS_LEVELS: level `index-descriptor` is not supported"
            ),
            "{e}"
        );
    }

    #[test]
    fn commit_date_from_the_payload_or_git() {
        let payload = serde_json::json!({
            "commits": [{"id": "aaa", "timestamp": "2022-04-19T11:27:24+02:00"}],
            "head_commit": {"id": "bbb", "timestamp": "2022-04-20T10:00:00Z"}
        });
        let date = |sha: &str| {
            context(&[("GITHUB_SHA", sha)], payload.clone())
                .unwrap()
                .commit_date
                .map(|d| d.to_rfc3339())
        };
        assert_eq!(date("aaa").as_deref(), Some("2022-04-19T09:27:24+00:00"));
        assert_eq!(date("bbb").as_deref(), Some("2022-04-20T10:00:00+00:00"));
        assert_eq!(date("ccc"), None);

        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .arg("-C")
                .arg(repo.path())
                .args(args)
                .env("GIT_COMMITTER_DATE", "2021-03-04T05:06:07+01:00")
                .env("GIT_AUTHOR_DATE", "2021-03-04T05:06:07+01:00")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .output()
                .unwrap();
            assert!(
                status.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&status.stderr)
            );
            String::from_utf8_lossy(&status.stdout).trim().to_string()
        };
        git(&["init", "-q"]);
        git(&["commit", "-q", "--allow-empty", "-m", "one"]);
        let sha = git(&["rev-parse", "HEAD"]);
        let workspace = repo.path().display().to_string();
        let github =
            context(&[("GITHUB_SHA", &sha), ("GITHUB_WORKSPACE", &workspace)], Value::Null)
                .unwrap();
        assert_eq!(
            github.commit_date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2021-03-04T04:06:07+00:00")
        );
    }
}
