//! The GitHub context of a run: the `GITHUB_*` variables and the event
//! payload, read once from the environment into a plain value.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};

#[derive(Debug, Clone, Default)]
pub struct GithubContext {
    pub event_name: String,
    pub git_ref: String,
    pub sha: String,
    pub repository: String,
    pub server_url: String,
    pub api_url: String,
    pub run_id: String,
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
}

impl GithubContext {
    /// Reads the context from a snapshot of the environment.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self> {
        let get = |name: &str| env.get(name).cloned().unwrap_or_default();
        let path = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let event = match path("GITHUB_EVENT_PATH") {
            Some(file) if file.exists() => {
                let text =
                    std::fs::read_to_string(&file).with_context(|| format!("could not read the event payload {}", file.display()))?;
                serde_json::from_str(&text).with_context(|| format!("the event payload {} is not JSON", file.display()))?
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
        Ok(GithubContext {
            event_name: get("GITHUB_EVENT_NAME"),
            git_ref: get("GITHUB_REF"),
            sha: get("GITHUB_SHA"),
            repository: get("GITHUB_REPOSITORY"),
            server_url: env.get("GITHUB_SERVER_URL").cloned().unwrap_or_else(|| "https://github.com".into()),
            api_url: env.get("GITHUB_API_URL").cloned().unwrap_or_else(|| "https://api.github.com".into()),
            run_id: get("GITHUB_RUN_ID"),
            event,
            output_path: path("GITHUB_OUTPUT"),
            summary_path: path("GITHUB_STEP_SUMMARY"),
            runner_temp: path("RUNNER_TEMP"),
            workspace: path("GITHUB_WORKSPACE"),
            source_date_epoch,
            in_workflow: get("GITHUB_ACTIONS") == "true",
        })
    }
}
