//! Resolves what the run does: its mode (and so its platforms), whether it
//! pushes and why, the checks around the build, files it writes, and
//! release notes.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::inputs::{BoolOr, RawInputs};
use crate::names::{Secret, is_digest};
use crate::platform::Platform;
use crate::runner::GithubContext;

/// What a run does: everything, one platform by digest, or a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Build,
    /// Build one platform and push it untagged, writing its digest here.
    Digest {
        dir: PathBuf,
    },
    /// Combine these digests (or the files in `dir`) into a tagged index.
    Merge {
        digests: Vec<String>,
        dir: PathBuf,
        required: Vec<Platform>,
    },
    /// Audit a deployment's images and write them into one tarball.
    Bundle(crate::bundle::BundleRequest),
}

/// Whether the run pushes, and the reason the log gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDecision {
    pub push: bool,
    pub reason: String,
}

/// How a check's failure is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckLevel {
    Fail,
    Warn,
    Off,
}

/// The format of exported files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Docker,
    Oci,
}

/// Release notes to write on a `release` event.
#[derive(Debug, Clone)]
pub struct ReleaseNotes {
    pub api_url: String,
    pub token: Secret,
    pub repository: String,
    pub release_id: u64,
}

/// The platforms to build and the mode. `mode: digest` builds one platform:
/// the one given, else the machine's own; `mode: merge` requires the
/// platforms only when they were given.
pub(super) fn resolve_mode(
    raw: &RawInputs,
    github: &GithubContext,
) -> Result<(Mode, Vec<Platform>)> {
    let platforms = Platform::parse_list(raw.get("platforms"))?;
    if platforms.is_empty() {
        bail!("platforms: no platform given; use e.g. linux/amd64,linux/arm64");
    }
    let given = raw.given("platforms");
    let digests_dir = match raw.text("digests-dir") {
        None => github.runner_temp.clone().unwrap_or_default().join("digests"),
        Some(dir) => PathBuf::from(dir),
    };
    Ok(match raw.choice("mode")? {
        "digest" if !given => (Mode::Digest { dir: digests_dir }, vec![Platform::host()]),
        "digest" if platforms.len() != 1 => bail!(
            "platforms: mode: digest builds one platform, and {} were given; give one, or leave `platforms` out for this runner's",
            platforms.len()
        ),
        "digest" => (Mode::Digest { dir: digests_dir }, platforms),
        "merge" => {
            let digests = raw.list("digests");
            if let Some(digest) = digests.iter().find(|d| !is_digest(d)) {
                bail!(
                    "digests: `{digest}` is not a digest; give sha256:<64 hex digits>, one per line"
                );
            }
            let required = if given { platforms.clone() } else { Vec::new() };
            (Mode::Merge { digests, dir: digests_dir, required }, platforms)
        }
        "bundle" => (Mode::Bundle(crate::bundle::BundleRequest::resolve(raw, github)?), platforms),
        _ => (Mode::Build, platforms),
    })
}

/// `push: auto` pushes except on pull-request events; the digest and merge
/// modes cannot be told not to push.
pub(super) fn resolve_push(
    raw: &RawInputs,
    github: &GithubContext,
    mode: &Mode,
) -> Result<PushDecision> {
    let decided = |push: bool, reason: String| PushDecision { push, reason };
    let push = raw.bool_or("push")?;
    if let Mode::Bundle(request) = mode {
        // The bundle's own plan pushes nothing; the services it builds are
        // pushed by their own plans, unless this says no.
        let built: Vec<String> =
            request.builds.iter().map(|b| format!("`{}`", b.service)).collect();
        let refused = match push {
            _ if built.is_empty() => None,
            BoolOr::No => Some(format!("`push: {}`", raw.get("push"))),
            BoolOr::Word
                if matches!(github.event_name.as_str(), "pull_request" | "pull_request_target") =>
            {
                Some(format!("`push: auto` on {} events", github.event_name))
            }
            _ => None,
        };
        if let Some(refused) = refused {
            bail!(
                "push: {refused} does not push the services built for the bundle ({}), and a bundle reads every image from its registry; set `push: true`, or build and push them first and list their images",
                built.join(", ")
            );
        }
        return Ok(decided(
            false,
            "mode: bundle writes a file; it pushes only the services it builds".into(),
        ));
    }
    if *mode != Mode::Build && push == BoolOr::No {
        bail!(
            "push: mode: {} pushes by definition; remove `push: {}`",
            raw.get("mode"),
            raw.get("push")
        );
    }
    Ok(match push {
        BoolOr::Yes => decided(true, "push: true".into()),
        BoolOr::No => decided(false, "push: false".into()),
        BoolOr::Word
            if matches!(github.event_name.as_str(), "pull_request" | "pull_request_target") =>
        {
            decided(false, format!("push: auto does not push on {} events", github.event_name))
        }
        BoolOr::Word => decided(true, "push: auto".into()),
    })
}

pub(super) fn check_level(raw: &RawInputs, input: &str) -> Result<CheckLevel> {
    Ok(match raw.bool_or(input)? {
        BoolOr::Yes => CheckLevel::Fail,
        BoolOr::Word => CheckLevel::Warn,
        BoolOr::No => CheckLevel::Off,
    })
}

/// The smoke-test command, split as a shell would.
pub(super) fn smoke_test(raw: &RawInputs) -> Result<Option<Vec<String>>> {
    let Some(command) = raw.text("smoke-test") else { return Ok(None) };
    let words = shlex::split(command)
        .filter(|words| !words.is_empty())
        .ok_or_else(|| anyhow::anyhow!("smoke-test: `{command}` has an unclosed quote; write a command such as `myapp --version`"))?;
    Ok(Some(words))
}

/// The export format and where files go.
pub(super) fn export(
    raw: &RawInputs,
    github: &GithubContext,
) -> Result<(Option<ExportFormat>, PathBuf)> {
    let format = match raw.choice("export")? {
        "docker" => Some(ExportFormat::Docker),
        "oci" => Some(ExportFormat::Oci),
        _ => None,
    };
    let dir = match raw.text("export-dir") {
        None => github.runner_temp.clone().unwrap_or_default().join("multiarch-export"),
        Some(dir) => PathBuf::from(dir),
    };
    Ok((format, dir))
}

/// Release notes, when asked for on a release event (a warning otherwise).
pub(super) fn release_notes(
    raw: &RawInputs,
    github: &GithubContext,
    warnings: &mut Vec<String>,
) -> Result<Option<ReleaseNotes>> {
    if !raw.bool("release-notes")? {
        return Ok(None);
    }
    let Some(token) = raw.text("github-token") else {
        bail!(
            "github-token: `release-notes: true` needs a token; pass `github-token: ${{{{ secrets.GITHUB_TOKEN }}}}` and give the job `contents: write`"
        );
    };
    let release_id =
        github.event.get("release").and_then(|r| r.get("id")).and_then(|id| id.as_u64());
    match release_id {
        Some(release_id) if github.event_name == "release" => Ok(Some(ReleaseNotes {
            api_url: github.api_url.clone(),
            token: Secret::new(token),
            repository: github.repository.clone(),
            release_id,
        })),
        _ => {
            warnings.push(format!(
                "release-notes: this is a `{}` event, not a release; no release notes are written",
                github.event_name
            ));
            Ok(None)
        }
    }
}
