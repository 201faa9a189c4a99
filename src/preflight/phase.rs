//! The preflight phase, the one part of preflight that reads a file and
//! asks the registry: the Dockerfile's lints as annotations on its lines,
//! then every external base image asked for the platforms it is needed for;
//! a gap fails (or warns) before anything is built. [`dry_run`] prints the
//! same without annotating or failing.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};

use super::table::BaseAvailability;
use crate::log::Log;
use crate::plan::{Build, CheckLevel, RunSettings};
use crate::platform::Platform;
use crate::registry::Registry;
use crate::runner::{Annotation, Level};

/// Before any build: every external base image offers every platform it is
/// needed for, and the Dockerfile's lints, as annotations on its lines.
/// Returns the FROM lines that got a cross-compiling rewrite.
pub(crate) async fn run(
    run: &RunSettings,
    build: &Build,
    registry: &Registry,
    emulated: &[Platform],
    log: &Log,
) -> Result<Vec<u32>> {
    let level = run.checks().preflight;
    if level == CheckLevel::Off {
        return Ok(Vec::new());
    }
    let file = build.dockerfile().display().to_string();
    let (_, dockerfile, stages) = match read(build, &file) {
        Ok(parsed) => parsed,
        Err(error) if level == CheckLevel::Warn => {
            log.warning(&format!("{error:#}; preflight skipped"));
            return Ok(Vec::new());
        }
        Err(error) => return Err(error),
    };
    let rewrites = lint(&dockerfile, &stages, emulated, build.platforms(), &file, log);
    let checked = ask_bases(run, build, &stages, registry, log).await;
    judge(level, &checked, build.platforms(), log)?;
    Ok(rewrites)
}

/// What `cross-compile: auto` builds for one build.
#[derive(Debug, Clone)]
pub(crate) struct CrossPlan {
    /// The Dockerfile, as the workspace names it.
    pub(crate) file: String,
    pub(crate) outcome: super::cross::CrossCompile,
    /// From the user's Dockerfile to the one built, when a stage was
    /// rewritten.
    pub(crate) diff: Option<String>,
}

/// The cross-compiling form of the build's Dockerfile for the platforms
/// this machine emulates (`cross-compile: auto`). None when nothing
/// compiles Go under QEMU, or when the Dockerfile does not parse (the
/// preflight and the build say why).
pub(crate) fn cross_compile(build: &Build, emulated: &[Platform]) -> Option<CrossPlan> {
    let file = build.dockerfile().display().to_string();
    let read = read(build, &file).ok()?;
    plan_cross(file, &read, emulated, build.platforms())
}

/// [`cross_compile`] of a Dockerfile already read.
fn plan_cross(
    file: String,
    (text, dockerfile, stages): &Read,
    emulated: &[Platform],
    platforms: &[Platform],
) -> Option<CrossPlan> {
    let outcome = super::cross::cross_compile(text, dockerfile, stages, emulated, platforms);
    if !outcome.applies() {
        return None;
    }
    let diff = outcome.text.as_deref().map(|built| super::cross::diff(&file, text, built));
    Some(CrossPlan { file, outcome, diff })
}

/// A Dockerfile's text, parsed, and the stages its target needs.
type Read = (String, super::Dockerfile, Vec<super::ResolvedStage>);

/// The Dockerfile (`file`, as the workspace names it), its text parsed,
/// and the stages the target needs, resolved with the build's arguments.
fn read(build: &Build, file: &str) -> Result<Read> {
    let text = std::fs::read_to_string(build.dockerfile())
        .with_context(|| format!("file: could not read {file}"))?;
    let described = |e: super::DockerfileError| {
        let place = if file == "Dockerfile" { String::new() } else { format!(" (in {file})") };
        anyhow::anyhow!("file: {e}{place}")
    };
    let dockerfile = super::parse_dockerfile(&text).map_err(described)?;
    let build_args: HashMap<String, String> = build.source().build_args.iter().cloned().collect();
    let target = build.source().target.as_deref();
    let stages =
        super::resolve(&dockerfile, &build_args, target, build.platforms()).map_err(described)?;
    Ok((text, dockerfile, stages))
}

/// The lints as warnings on the Dockerfile's lines; returns the FROM lines
/// that got a cross-compiling rewrite.
fn lint(
    dockerfile: &super::Dockerfile,
    stages: &[super::ResolvedStage],
    emulated: &[Platform],
    platforms: &[Platform],
    file: &str,
    log: &Log,
) -> Vec<u32> {
    let findings = super::lint(dockerfile, stages, emulated, platforms);
    let rewrites: Vec<u32> = findings.iter().filter(|f| f.is_rewrite()).map(|f| f.line).collect();
    for finding in findings {
        log.annotation(Annotation {
            level: Level::Warning,
            message: finding.message,
            title: Some(finding.title),
            file: Some(file.to_string()),
            line: Some(finding.line),
        });
    }
    rewrites
}

/// Every external base image asked which platforms it offers (a name
/// `build-contexts` provides is not pulled, so not asked); a base that
/// cannot be read is a warning and left out.
async fn ask_bases(
    run: &RunSettings,
    build: &Build,
    stages: &[super::ResolvedStage],
    registry: &Registry,
    log: &Log,
) -> Vec<BaseAvailability> {
    let mut bases = super::bases_to_check(stages, build.platforms(), &Platform::host());
    let provided: Vec<&str> = run
        .options()
        .build_contexts
        .iter()
        .filter_map(|c| c.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    bases.retain(|base| !provided.contains(&base.image.as_str()));
    let lookups = bases.iter().map(|base| registry.platforms_of(&base.image));
    let offered = futures_util::future::join_all(lookups).await;
    let mut checked = Vec::new();
    for (mut base, offers) in bases.drain(..).zip(offered) {
        match offers {
            Ok(offers) => {
                base.offers = offers;
                checked.push(base);
            }
            Err(error) => log.warning(&format!(
                "preflight: could not read the platforms of {} (Dockerfile line {}): {error:#}",
                base.image, base.line
            )),
        }
    }
    checked
}

/// A base without a platform it is needed for fails (`preflight: true`)
/// or warns, with the table of bases × platforms.
fn judge(
    level: CheckLevel,
    checked: &[BaseAvailability],
    platforms: &[Platform],
    log: &Log,
) -> Result<()> {
    let gaps = super::missing(checked, platforms);
    if gaps.is_empty() {
        log.info(&format!(
            "preflight: {} base image(s) offer every platform they are needed for",
            checked.len()
        ));
        return Ok(());
    }
    log.info(&super::render_table(checked, platforms));
    let message = format!("preflight: {}", super::advice(checked, platforms).replace('\n', " "));
    if level == CheckLevel::Fail {
        bail!("{} (or set `preflight: warn`)", message.trim_end());
    }
    log.warning(&message);
    Ok(())
}

/// The preflight as `--dry-run` prints it: the stages the build needs and
/// what each builds on per platform, the lints (with the cross-compiling
/// rewrites), and the bases × platforms table when their registries accept
/// a connection at once (otherwise the bases are listed, not looked up).
pub(crate) async fn dry_run(run: &RunSettings, build: &Build, registry: &Registry) -> String {
    if run.checks().preflight == CheckLevel::Off {
        return "preflight: off\n".to_string();
    }
    let file = build.dockerfile().display().to_string();
    let mut out = format!("preflight of {file}:\n");
    let read = match read(build, &file) {
        Ok(read) => read,
        Err(error) => return format!("{out}  {error:#}\n"),
    };
    let (_, dockerfile, stages) = &read;
    out.push_str(&super::render_stages(stages));
    let host = Platform::host();
    let emulated = crate::emulation::emulated_platforms(build.platforms());
    let findings = super::lint(dockerfile, stages, &emulated, build.platforms());
    if findings.is_empty() {
        out.push_str("  lints: none\n");
    }
    for finding in findings {
        let message = finding.message.replace('\n', "\n    ");
        out.push_str(&format!("  line {}: {}: {message}\n", finding.line, finding.title));
    }
    if run.cross_compiles()
        && let Some(cross) = plan_cross(file.clone(), &read, &emulated, build.platforms())
    {
        let shown = format!("  {}", describe_cross(&cross).replace('\n', "\n  "));
        out.push_str(shown.trim_end_matches(' '));
    }
    let mut bases = super::bases_to_check(stages, build.platforms(), &host);
    let mut unreachable = Vec::new();
    for base in &mut bases {
        match reachable(&base.image, run.insecure_registries()).await {
            Ok(()) => {
                let lookup = registry.platforms_of(&base.image);
                match tokio::time::timeout(std::time::Duration::from_secs(10), lookup).await {
                    Ok(Ok(offers)) => base.offers = offers,
                    Ok(Err(error)) => unreachable.push(format!("{}: {error:#}", base.image)),
                    Err(_) => unreachable.push(format!("{}: no answer", base.image)),
                }
            }
            Err(reason) => unreachable.push(format!("{} ({reason})", base.image)),
        }
    }
    let checked: Vec<BaseAvailability> =
        bases.into_iter().filter(|b| !b.offers.is_empty()).collect();
    if !checked.is_empty() {
        out.push_str(&super::render_table(&checked, build.platforms()));
        out.push_str(&super::advice(&checked, build.platforms()));
    }
    if !unreachable.is_empty() {
        out.push_str(&format!("  bases not looked up: {}\n", unreachable.join("; ")));
    }
    out
}

/// What `cross-compile: auto` will try: the diff, and the stages kept as
/// written with the reason.
pub(crate) fn describe_cross(cross: &CrossPlan) -> String {
    let mut out = String::new();
    if let Some(diff) = &cross.diff {
        out.push_str(&format!(
            "cross-compile: auto builds {} cross-compiled, checked by the architecture scan before it is used:\n{diff}",
            cross.file
        ));
    }
    if !cross.outcome.kept.is_empty() {
        out.push_str(&format!("cross-compile: {}\n", cross.outcome.kept_reasons()));
    }
    out
}

/// Whether the registry of `image` accepts a connection within a second.
async fn reachable(image: &str, insecure: &[String]) -> Result<(), String> {
    let reference = crate::reference::parse(image).map_err(|e| e.to_string())?;
    let address = crate::outside::registry_address(reference.registry(), insecure);
    crate::outside::accepts_connections(&address, std::time::Duration::from_secs(1)).await
}
