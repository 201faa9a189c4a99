//! Resolves what the run does: its mode (and so its platforms), whether it
//! pushes and why, the checks around the build, the files it writes, and
//! release notes.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::bundle::BundleRequest;
use crate::digest::Digest;
use crate::inputs::choices::{CallWord, ExportWord, ModeWord};
use crate::inputs::{BoolOr, RawInputs};
use crate::names::Secret;
use crate::platform::Platform;
use crate::runner::GithubContext;

/// What a run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Build every platform, push, verify and tag.
    Build,
    /// Build one platform and push it untagged, writing its digest here.
    Digest { dir: PathBuf },
    /// Combine these digests (or the files in `dir`) into a tagged index.
    Merge { digests: Vec<Digest>, dir: PathBuf, required: Vec<Platform> },
    /// Audit a deployment's images and write them into one tarball.
    Bundle(Box<BundleRequest>),
    /// `call: check`: BuildKit's build checks only.
    Check,
    /// `dry-run`: print what the mode would do, touching nothing.
    DryRun(Box<Mode>),
}

impl Mode {
    /// The mode a dry run describes; the mode itself otherwise.
    pub(crate) fn work(&self) -> &Mode {
        match self {
            Mode::DryRun(mode) => mode.work(),
            mode => mode,
        }
    }

    pub(crate) fn is_dry_run(&self) -> bool {
        matches!(self, Mode::DryRun(_))
    }

    pub(crate) fn is_digest(&self) -> bool {
        matches!(self.work(), Mode::Digest { .. })
    }
}

/// Whether a build pushes, and the reason the log gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushDecision {
    pub(crate) yes: bool,
    pub(crate) reason: String,
}

/// What the mode inputs ask: the mode, its platforms, and whether the run
/// pushes.
pub(super) struct Asked {
    pub(super) mode: Mode,
    pub(super) platforms: Vec<Platform>,
    pub(super) push: PushDecision,
}

/// How a check's failure is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckLevel {
    Fail,
    Warn,
    Off,
}

/// The format of exported files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    Docker,
    Oci,
}

/// Files written besides pushing, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Export {
    pub(crate) format: ExportFormat,
    pub(crate) dir: PathBuf,
}

/// Release notes to write on a `release` event.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseNotes {
    pub(crate) api_url: String,
    pub(crate) token: Secret,
    pub(crate) repository: String,
    pub(crate) release_id: u64,
}

/// `mode`, `platforms`, `push`, `call` and `dry-run`.
pub(super) fn resolve(raw: &RawInputs, github: &GithubContext) -> Result<Asked> {
    let (work, platforms) = resolve_mode(raw, github)?;
    let push = resolve_push(raw, github, &work)?;
    let mode = match (raw.bool("dry-run")?, raw.choice::<CallWord>("call")?) {
        (_, CallWord::Check) if matches!(work, Mode::Bundle(_)) => bail!(
            "call: `check` runs BuildKit's build checks on one Dockerfile; use it without `mode: bundle`"
        ),
        (true, _) => Mode::DryRun(Box::new(work)),
        (false, CallWord::Check) => Mode::Check,
        (false, CallWord::Build) => work,
    };
    Ok(Asked { mode, platforms, push })
}

/// The platforms to build and the mode. `mode: digest` builds one platform:
/// the one given, else the machine's own; `mode: merge` requires the
/// platforms only when they were given.
fn resolve_mode(raw: &RawInputs, github: &GithubContext) -> Result<(Mode, Vec<Platform>)> {
    let platforms = Platform::parse_all(raw.list("platforms"))?;
    if platforms.is_empty() {
        bail!("platforms: no platform given; use e.g. linux/amd64,linux/arm64");
    }
    let given = raw.given("platforms");
    let digests_dir = match raw.text("digests-dir") {
        None => github.runner_temp.clone().unwrap_or_default().join("digests"),
        Some(dir) => PathBuf::from(dir),
    };
    Ok(match raw.choice::<ModeWord>("mode")? {
        ModeWord::Digest if !given => (Mode::Digest { dir: digests_dir }, vec![Platform::host()]),
        ModeWord::Digest if platforms.len() != 1 => bail!(
            "platforms: mode: digest builds one platform, and {} were given; give one, or leave `platforms` out for this runner's",
            platforms.len()
        ),
        ModeWord::Digest => (Mode::Digest { dir: digests_dir }, platforms),
        ModeWord::Merge => {
            let digests = raw
                .list("digests")
                .iter()
                .map(|d| {
                    Digest::parse(d).map_err(|_| {
                        anyhow::anyhow!(
                            "digests: `{d}` is not a digest; give sha256:<64 lowercase hex digits>, one per line"
                        )
                    })
                })
                .collect::<Result<Vec<Digest>>>()?;
            let required = if given { platforms.clone() } else { Vec::new() };
            (Mode::Merge { digests, dir: digests_dir, required }, platforms)
        }
        ModeWord::Bundle => {
            (Mode::Bundle(Box::new(super::bundle::resolve(raw, github)?)), platforms)
        }
        ModeWord::Build => (Mode::Build, platforms),
    })
}

/// `push: auto` pushes except on pull-request events; the digest and merge
/// modes cannot be told not to push. A bundle pushes only the services it
/// builds (each build says so itself), and refuses `push: false` when it
/// builds any.
fn resolve_push(raw: &RawInputs, github: &GithubContext, mode: &Mode) -> Result<PushDecision> {
    let decided = |yes: bool, reason: String| PushDecision { yes, reason };
    let push = raw.bool_or("push")?;
    let written = || raw.text("push").unwrap_or_default();
    let on_pull_request =
        matches!(github.event_name.as_str(), "pull_request" | "pull_request_target");
    if let Mode::Bundle(request) = mode {
        let built: Vec<String> =
            request.builds.iter().map(|b| format!("`{}`", b.service)).collect();
        let refused = match push {
            _ if built.is_empty() => None,
            BoolOr::No => Some(format!("`push: {}`", written())),
            BoolOr::Word if on_pull_request => {
                Some(format!("`push: auto` on {} events", github.event_name))
            }
            BoolOr::Word | BoolOr::Yes => None,
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
    if let (Mode::Digest { .. } | Mode::Merge { .. }, BoolOr::No) = (mode, push) {
        let word = if matches!(mode, Mode::Digest { .. }) { "digest" } else { "merge" };
        bail!("push: mode: {word} pushes by definition; remove `push: {}`", written());
    }
    Ok(match push {
        BoolOr::Yes => decided(true, "push: true".into()),
        BoolOr::No => decided(false, "push: false".into()),
        BoolOr::Word if on_pull_request => {
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

/// The export format and where files go; None when nothing is exported.
pub(super) fn export(raw: &RawInputs, github: &GithubContext) -> Result<Option<Export>> {
    let format = match raw.choice::<ExportWord>("export")? {
        ExportWord::Docker => ExportFormat::Docker,
        ExportWord::Oci => ExportFormat::Oci,
        ExportWord::Unset => return Ok(None),
    };
    let dir = match raw.text("export-dir") {
        None => github.runner_temp.clone().unwrap_or_default().join("multiarch-export"),
        Some(dir) => PathBuf::from(dir),
    };
    Ok(Some(Export { format, dir }))
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
