//! The flow of a run, per mode, as the README's diagram draws it:
//!
//! 1. Before any build, concurrently: preflight (the Dockerfile's bases and
//!    lints), the registries (access, the existing tags for the floating-tag
//!    guard), the builder (chosen, or created).
//! 2. The build, with QEMU set up where the builder needs it; BuildKit pushes
//!    it untagged (by digest, or under the staging tag).
//! 3. Its verification from the registry, copies by digest to every other
//!    image, the smoke test.
//! 4. Tags (or a digest file, or a merge, or a bundle), release notes, and
//!    clean-up, which runs whatever happens, also on SIGTERM.
//!
//! Each phase lives in the room of the outside party it talks to; this file
//! only orders them, and each takes the run's settings and one build.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::build::{self, Built};
use crate::builder::{self, ChosenBuilder};
use crate::buildx::metadata::BuildMetadata;
use crate::buildx::progress;
use crate::buildx::{Buildx, DockerConfig};
use crate::digest::Digest;
use crate::docker::Daemon;
use crate::emulation;
use crate::log::Log;
use crate::plan::{
    Build, Builder, CheckLevel, HeldBack, Mode, Plan, PushRoute, RunSettings, STAGING_TAG,
};
use crate::platform::Platform;
use crate::registry::Registry;
use crate::registry::layout::Layout;
use crate::report::{Report, ServiceReport};
use crate::runner::{Annotation, Level};
use crate::verify::{self, Verified};
use crate::{export, merge, preflight, publish, sign};

use crate::outside::{Outside, accepts_connections, name_buildx_node, registry_address};
pub use crate::outside::{RUN_LABEL, Tools};

/// What a run ended with: a report to write as outputs and summary, or
/// nothing (a dry run, the build checks).
pub enum Finished {
    Report(Box<Report>),
    Printed,
}

/// Runs the plan's mode. When `shutdown` resolves first (SIGTERM, SIGINT)
/// the work is dropped, which stops buildx and closes any open log group;
/// cleanup runs either way.
pub async fn execute(
    plan: &Plan,
    tools: &Tools,
    log: &Log,
    shutdown: impl std::future::Future<Output = &'static str>,
) -> Result<Finished> {
    match plan.run().mode() {
        Mode::DryRun(_) => {
            log.info(&dry_run(plan, log).await);
            Ok(Finished::Printed)
        }
        Mode::Check => {
            check_only(plan.run(), plan.build(), tools, log).await.map(|()| Finished::Printed)
        }
        _ => run(plan, tools, log, shutdown).await.map(|report| Finished::Report(Box::new(report))),
    }
}

/// The buildx binary a run drives (named only when the plan builds nothing,
/// in which case it is never started).
fn buildx_binary(tools: &Tools) -> std::path::PathBuf {
    tools.buildx.clone().unwrap_or_else(|| "docker-buildx".into())
}

/// Builds, pushes, verifies and tags (or merges, or bundles).
async fn run(
    plan: &Plan,
    tools: &Tools,
    log: &Log,
    shutdown: impl std::future::Future<Output = &'static str>,
) -> Result<Report> {
    let settings = plan.run();
    let staged: Vec<String> = plan
        .builds()
        .iter()
        .filter(|b| b.pushes())
        .map(|b| b.image().with_tag(STAGING_TAG))
        .collect();
    let mut tools = tools.clone();
    save_post_state(&mut tools, &staged, log);
    let tools = &tools;
    let config = DockerConfig::create(&tools.run_name, settings.credentials())?;
    let mut buildx = Buildx::new(buildx_binary(tools), &config, settings.options().env());
    if let (Some(_), Some(dir)) = (&settings.builder().existing, &tools.user_buildx_config) {
        buildx = buildx.with_builders_from(dir.clone());
    }
    let outside = Outside {
        tools,
        daemon: Daemon::connect()?,
        registry: Registry::new(
            settings.insecure_registries(),
            settings.credentials(),
            &plan.images(),
        ),
        buildx,
        created_builder: tokio::sync::Mutex::new(None),
        background: tokio::sync::Mutex::new(Vec::new()),
        cross_rejected: std::sync::Mutex::new(std::collections::HashMap::new()),
    };
    if tools.buildx.is_some() {
        name_buildx_node(&config, Some(&outside.daemon), tools).await?;
    }
    let work = async {
        match settings.mode() {
            Mode::Build if plan.build().service().is_some() => {
                let pushed =
                    build_services(settings, plan.builds(), &outside, &config, log).await?;
                tag_services(settings, plan.builds(), &outside, pushed, log).await
            }
            Mode::Build => {
                let build = plan.build();
                let slot = BuildSlot { scratch: config.path(), builder: None, held_back: None };
                let pushed = build_and_push(settings, build, &outside, slot, log).await?;
                tag(settings, build, &outside, pushed, log).await
            }
            Mode::Digest { dir } => {
                let build = plan.build();
                let slot = BuildSlot { scratch: config.path(), builder: None, held_back: None };
                let pushed = build_and_push(settings, build, &outside, slot, log).await?;
                write_digest(build, dir, pushed, log)
            }
            Mode::Merge { digests, dir, required } => {
                merge::merge(settings, plan.build(), &outside, digests, dir, required, log).await
            }
            Mode::Bundle(request) => {
                let builds = async {
                    let pushed =
                        build_services(settings, plan.builds(), &outside, &config, log).await?;
                    tag_services(settings, plan.builds(), &outside, pushed, log).await?;
                    Ok(plan.builds().iter().filter_map(Build::bundled).cloned().collect())
                };
                crate::bundle::run(settings.platforms(), &outside.registry, request, log, builds)
                    .await
            }
            Mode::Check | Mode::DryRun(_) => {
                anyhow::bail!("{:?} builds nothing; it is run by `execute`", settings.mode())
            }
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = shutdown => Err(anyhow::anyhow!("cancelled by {signal}: the build was stopped; tags that were not yet pushed were not pushed")),
    };
    if let (Ok(report), Some(notes), Some(build)) =
        (&outcome, settings.release_notes(), plan.builds().first())
    {
        crate::github::add_image_to_release(build, notes, report, log).await;
    }
    clean_up(outside, config, &staged, log).await;
    outcome
}

/// A build that went as far as the plan asks: built, and pushed untagged
/// and verified when it pushes. No tag is set yet.
struct Pushed {
    report: Report,
    /// The pushed, verified index (or manifest), when the plan pushes.
    digest: Option<Digest>,
}

/// Where one build keeps its files (buildx metadata, an OCI layout), and
/// what it shares with the other builds of the run.
#[derive(Clone, Copy)]
struct BuildSlot<'a> {
    scratch: &'a Path,
    /// The builder already started for every build of the run.
    builder: Option<&'a ChosenBuilder>,
    /// The floating tags held back, when the build's registries were
    /// checked before any build of the run.
    held_back: Option<&'a [HeldBack]>,
}

/// How many services are built at once.
const SERVICE_BUILDS_AT_ONCE: usize = 2;

/// A deployment's (or a bundle's) services: every registry of every service
/// checked and the builder started once, before any build; then each built
/// for its platforms with the whole pipeline (preflight, verify,
/// architecture scan), pushed untagged, two at a time. Nothing is tagged.
async fn build_services(
    run: &RunSettings,
    services: &[Build],
    outside: &Outside<'_>,
    config: &DockerConfig,
    log: &Log,
) -> Result<Vec<Pushed>> {
    if services.is_empty() {
        return Ok(Vec::new());
    }
    // A build that pushes nothing needs no registry of its images.
    let checks = services.iter().filter(|b| b.pushes()).map(|build| async move {
        publish::check_registries(run, build, &outside.registry, log).await.with_context(|| {
            format!(
                "service `{}` cannot be pushed to {}; nothing was built",
                build.service().unwrap_or_default(),
                build.image().name
            )
        })
    });
    let checked: Vec<Vec<HeldBack>> = log
        .group("Registries of every service", futures_util::future::try_join_all(checks))
        .await?;
    let held_back = held_back_for_all(checked);
    let most_platforms = services.iter().map(|b| b.platforms().len()).max().unwrap_or(1);
    let chosen = builder::start(run, most_platforms, outside, log).await?;
    // Each service writes through a log of its own, held until the one
    // before it is done: the log reads one service after another.
    let logs: Vec<Log> = services.iter().map(|_| log.holding()).collect();
    logs[0].release();
    let slot = ServiceSlot { builder: &chosen, held_back: &held_back, config };
    // The first service is built alone: BuildKit does not share work between
    // builds running at once, so services that share a compile cache mount
    // (a Go or Cargo cache) would each fill it; the first fills it for all.
    let first = build_service(run, &services[0], slot, outside, &logs[0], logs.get(1)).await?;
    let rest: Vec<Pushed> = futures_util::stream::iter(services.iter().enumerate().skip(1))
        .map(|(at, build)| build_service(run, build, slot, outside, &logs[at], logs.get(at + 1)))
        .buffered(SERVICE_BUILDS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(std::iter::once(first).chain(rest).collect())
}

/// The floating tags held back for any build, once each: held back for all,
/// since the services of a release carry the same tags.
fn held_back_for_all(per_build: Vec<Vec<HeldBack>>) -> Vec<HeldBack> {
    let mut all: Vec<HeldBack> = Vec::new();
    for held in per_build.into_iter().flatten() {
        if !all.iter().any(|h| h.tag == held.tag) {
            all.push(held);
        }
    }
    all
}

/// What a service's build shares with the run's others.
#[derive(Clone, Copy)]
struct ServiceSlot<'a> {
    builder: &'a ChosenBuilder,
    held_back: &'a [HeldBack],
    config: &'a DockerConfig,
}

/// Every service's tags, once every service was built and verified: first
/// the signatures (`sign`) and the checks that may refuse a tag
/// (`immutable-tags`), for all of them, then the tags service by service.
/// A failure names the services already tagged and those that are not.
async fn tag_services(
    run: &RunSettings,
    services: &[Build],
    outside: &Outside<'_>,
    mut pushed: Vec<Pushed>,
    log: &Log,
) -> Result<Report> {
    for (build, pushed) in services.iter().zip(pushed.iter_mut()) {
        if let Some(digest) = &pushed.digest {
            let name = build.service().unwrap_or_default();
            pushed.report.signed = sign::sign_and_check(run, build, &outside.registry, digest, log)
                .await
                .with_context(|| format!("service `{name}`: no service was tagged"))?;
            publish::versions_before_tagging(run, build, &outside.registry, digest, log)
                .await
                .with_context(|| format!("service `{name}`: no service was tagged"))?;
        }
    }
    let mut reports: Vec<ServiceReport> = Vec::new();
    for (at, (build, pushed)) in services.iter().zip(pushed).enumerate() {
        let name = build.service().unwrap_or_default().to_string();
        match set_tags(build, outside, pushed, log).await {
            Ok(report) => reports.push(ServiceReport { service: name, report }),
            Err(error) => {
                let names = |builds: &[Build]| {
                    let names: Vec<String> = builds
                        .iter()
                        .map(|b| format!("`{}`", b.service().unwrap_or_default()))
                        .collect();
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                };
                return Err(error.context(format!(
                    "service `{name}`: tagging stopped; services fully tagged: {}; services not tagged: {}",
                    names(&services[..at]),
                    names(&services[at + 1..])
                )));
            }
        }
    }
    Ok(Report { services: reports, ..Report::default() })
}

/// Releases the next service's log when dropped: when this service is
/// done, failed or cancelled.
struct ReleaseWhenDone<'a>(Option<&'a Log>);

impl Drop for ReleaseWhenDone<'_> {
    fn drop(&mut self) {
        if let Some(log) = self.0 {
            log.release();
        }
    }
}

/// One service built, pushed untagged and verified; the next service's log
/// is released when this one is done.
async fn build_service(
    run: &RunSettings,
    build: &Build,
    shared: ServiceSlot<'_>,
    outside: &Outside<'_>,
    log: &Log,
    next_log: Option<&Log>,
) -> Result<Pushed> {
    let _release_next = ReleaseWhenDone(next_log);
    let name = build.service().unwrap_or_default();
    let scratch = shared.config.path().join(format!("service-{name}"));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("could not create {}", scratch.display()))?;
    let slot = BuildSlot {
        scratch: &scratch,
        builder: Some(shared.builder),
        held_back: Some(shared.held_back),
    };
    let pushed = build_and_push(run, build, outside, slot, log)
        .await
        .with_context(|| format!("service `{name}`: nothing was tagged"))?;
    let pushed_as = match &pushed.digest {
        Some(digest) => format!("pushed untagged as {}", build.image().with_digest(digest)),
        None => format!("not pushed ({})", build.push_reason()),
    };
    log.info(&format!(
        "service `{name}`: built for {}, {pushed_as}",
        crate::platform::join(build.platforms())
    ));
    Ok(pushed)
}

/// Checks, builder and QEMU; the build (BuildKit pushes it to the first
/// image's repository, untagged); export; then its verification, the copies
/// to the other images and the smoke test.
async fn build_and_push(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    slot: BuildSlot<'_>,
    log: &Log,
) -> Result<Pushed> {
    let emulated = emulation::emulated_platforms(build.platforms());
    let setup_group = match build.service() {
        None => log.open_group("Preflight, registries, builder and QEMU"),
        Some(service) => {
            log.open_group(&format!("Service `{service}`: preflight, registry and QEMU"))
        }
    };
    let (rewrites, held_back, ChosenBuilder { builder, why }) = tokio::try_join!(
        preflight::phase::run(run, build, &outside.registry, &emulated, log),
        // A build that pushes nothing needs no registry of its images; a
        // service had its registries checked before any build.
        async {
            match (build.pushes(), slot.held_back) {
                (false, _) => Ok(Vec::new()),
                (true, Some(held_back)) => Ok(held_back.to_vec()),
                (true, None) => publish::check_registries(run, build, &outside.registry, log).await,
            }
        },
        async {
            match slot.builder {
                Some(shared) => Ok(shared.clone()),
                None => builder::start(run, build.platforms().len(), outside, log).await,
            }
        }
    )?;
    let layout_dir = slot.scratch.join("layout");
    let route = push_route(run, build, outside, &builder, &layout_dir).await?;
    let ready = Ready {
        builder: &builder,
        route,
        emulated: &emulated,
        rewrites: &rewrites,
        scratch: slot.scratch,
    };
    let found = (why, held_back);
    let Some(cross) = cross_compiling(run, build, &emulated, slot.scratch, log)? else {
        return push_verified(run, build, outside, ready, setup_group, found, log).await;
    };
    let Some((cross_build, key)) = cross.attempt.clone() else {
        let mut pushed = push_verified(run, build, outside, ready, setup_group, found, log).await?;
        pushed.report.cross_compiled = Some(cross.into_report(None));
        return Ok(pushed);
    };
    let earlier = outside.cross_rejected.lock().map(|r| r.get(&key).cloned()).unwrap_or(None);
    let reason = match earlier {
        Some(reason) => {
            drop(setup_group);
            format!("{reason} (found by the build of another service)")
        }
        None => {
            let attempt =
                push_verified(run, &cross_build, outside, ready, setup_group, found.clone(), log);
            match attempt.await {
                Ok(mut pushed) => {
                    log.info(&format!(
                        "cross-compile: the cross-compiling build of {} is correct on every platform, and it is the one pushed",
                        cross.plan.file
                    ));
                    pushed.report.cross_compiled = Some(cross.into_report(None));
                    return Ok(pushed);
                }
                Err(error) => {
                    let reason = format!("{error:#}");
                    if let Ok(mut rejected) = outside.cross_rejected.lock() {
                        rejected.insert(key, reason.clone());
                    }
                    reason
                }
            }
        }
    };
    log.warning(&format!(
        "cross-compile: the cross-compiling Dockerfile was not used: {reason}; nothing of its build is tagged; building {} as written",
        cross.plan.file
    ));
    let group = log.open_group(&format!("Build {} as written", cross.plan.file));
    let mut pushed = push_verified(run, build, outside, ready, group, found, log).await?;
    pushed.report.cross_compiled = Some(cross.into_report(Some(reason)));
    Ok(pushed)
}

/// What `cross-compile: auto` does for one build.
struct Crossing {
    plan: preflight::phase::CrossPlan,
    /// The build from the cross-compiling copy, and the digest of its text,
    /// when a stage was rewritten.
    attempt: Option<(Build, String)>,
}

impl Crossing {
    fn into_report(self, not_used: Option<String>) -> crate::report::CrossReport {
        crate::report::CrossReport { plan: self.plan, not_used }
    }
}

/// With `cross-compile: auto`, for a build that pushes (the architecture
/// scan of the pushed image decides) and has platforms to emulate: the
/// cross-compiling copy of the Dockerfile written into `scratch` (with the
/// Dockerfile's own `.dockerignore`, if it has one), its changes logged.
fn cross_compiling(
    run: &RunSettings,
    build: &Build,
    emulated: &[Platform],
    scratch: &Path,
    log: &Log,
) -> Result<Option<Crossing>> {
    if !run.cross_compiles() || !build.pushes() || emulated.is_empty() {
        return Ok(None);
    }
    let Some(plan) = preflight::phase::cross_compile(build, emulated) else { return Ok(None) };
    if !plan.outcome.kept.is_empty() {
        log.info(&format!("cross-compile: {}", plan.outcome.kept_reasons()));
    }
    let Some(text) = &plan.outcome.text else {
        return Ok(Some(Crossing { plan, attempt: None }));
    };
    let key = crate::digest::Digest::of(text.as_bytes()).to_string();
    let dir = scratch.join("cross-compile").join(&key.replace(':', "-")[..20]);
    let name =
        build.dockerfile().file_name().map_or_else(|| "Dockerfile".into(), |n| n.to_os_string());
    let path = dir.join(&name);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, text))
        .with_context(|| format!("cross-compile: could not write {}", path.display()))?;
    let mut ignore = build.dockerfile().as_os_str().to_os_string();
    ignore.push(".dockerignore");
    if Path::new(&ignore).is_file() {
        let mut copy = path.as_os_str().to_os_string();
        copy.push(".dockerignore");
        std::fs::copy(&ignore, &copy).with_context(|| {
            format!("cross-compile: could not copy {}", Path::new(&ignore).display())
        })?;
    }
    let lines: Vec<String> = plan.outcome.changed.iter().map(u32::to_string).collect();
    log.info(&format!(
        "cross-compile: {} compiles Go under QEMU for {}; building it cross-compiled instead (lines {} changed, the diff is in the job summary), used only if the architecture scan finds every binary right:\n{}",
        plan.file,
        crate::platform::join(emulated),
        lines.join(", "),
        plan.diff.as_deref().unwrap_or_default()
    ));
    let attempt = Some((build.cross_compiled(path), key));
    Ok(Some(Crossing { plan, attempt }))
}

/// The build (from a log group opened for the set-up), its export, its
/// push and verification: the rest of [`build_and_push`].
async fn push_verified(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    ready: Ready<'_>,
    setup_group: crate::log::Group<'_>,
    (why, held_back): (String, Vec<HeldBack>),
    log: &Log,
) -> Result<Pushed> {
    let Ready { builder, route, .. } = ready;
    let built = build_once(run, build, outside, ready, setup_group, log).await;
    let BuiltOnce { mut report, metadata, deferred } = match built {
        Err(error) if build.cross_compiled_from().is_some() => {
            return Err(error.context(
                "its build failed (Go code that uses cgo needs a C cross compiler for each target, which the stage lacks)",
            ));
        }
        built => built?,
    };
    report.builder_note = why;
    if run.export().is_some() || run.load() {
        let exporting = export::export(run, build, &outside.buildx, builder, &held_back, log);
        report.exported = log.group("Export", exporting).await?;
    }
    report.held_back = held_back;
    let digest = match route {
        None => return Ok(Pushed { report, digest: None }),
        Some(PushRoute::BuildKit) => {
            let digest = metadata.digest.ok_or_else(|| {
                anyhow::anyhow!("buildx pushed the build but its metadata names no digest (containerimage.digest); no tag was pushed")
            })?;
            log.info(&format!("BuildKit pushed {digest} to {} untagged", build.image().name));
            digest
        }
        Some(PushRoute::Layout(dir)) => {
            publish::push_layout(&outside.registry, &Layout::open(dir)?, build.image(), log).await?
        }
    };
    if matches!(route, Some(PushRoute::BuildKit))
        && matches!(builder, Builder::Daemon | Builder::Existing { .. })
    {
        remove_staging_name_meanwhile(outside, build).await;
    }
    verify_and_smoke(run, build, outside, (&digest, deferred), report, log).await
}

/// What a build starts from once the checks are done.
#[derive(Clone, Copy)]
struct Ready<'a> {
    builder: &'a Builder,
    route: Option<PushRoute<'a>>,
    /// The platforms this machine does not run natively.
    emulated: &'a [Platform],
    /// The FROM lines the lint gave a cross-compiling rewrite.
    rewrites: &'a [u32],
    scratch: &'a Path,
}

/// A build done: its report so far, its metadata, and the emulated
/// platforms the builder did not list and the build did not need.
struct BuiltOnce {
    report: Report,
    metadata: BuildMetadata,
    deferred: Vec<Platform>,
}

/// The build itself, with QEMU set up alongside: its metadata, and the
/// report of its platforms' times; the cross-compiling rewrites the lint
/// suggested are annotated with the time spent under QEMU.
async fn build_once(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    ready: Ready<'_>,
    setup_group: crate::log::Group<'_>,
    log: &Log,
) -> Result<BuiltOnce> {
    let Ready { builder, route, emulated, rewrites, scratch } = ready;
    let metadata_file = scratch.join("metadata.json");
    let args = build.buildx_build_args(run, builder, &metadata_file, route);
    let Built { emulation, progress } =
        build::run(run, build, outside, builder, emulated, &args, setup_group, log).await?;
    let metadata = match std::fs::read_to_string(&metadata_file) {
        Ok(text) => BuildMetadata::parse(&text)?,
        Err(_) => BuildMetadata { digest: None, raw: serde_json::json!({}) },
    };
    let (timings, slowest) = progress::timings(&progress.steps(), &emulation.emulated, 5);
    for finding in preflight::measured_under_qemu(rewrites, &timings, run.cross_compiles()) {
        log.annotation(Annotation {
            level: Level::Notice,
            message: finding.message,
            title: Some(finding.title),
            file: Some(
                build.cross_compiled_from().unwrap_or(build.dockerfile()).display().to_string(),
            ),
            line: Some(finding.line),
        });
    }
    log.info(&format!("buildx solve: {:.2}s", progress::solve_seconds(&progress.steps())));
    let report = Report {
        metadata: metadata.raw.clone(),
        emulated: emulation.emulated,
        timings,
        slowest,
        ..Default::default()
    };
    Ok(BuiltOnce { report, metadata, deferred: emulation.deferred })
}

/// The staging name the daemon's BuildKit stored is removed while the
/// registry's copy is verified and tagged (the daemon takes seconds to
/// delete an image when it holds many); clean-up waits for it. When a post
/// step follows, it removes the name instead.
async fn remove_staging_name_meanwhile(outside: &Outside<'_>, build: &Build) {
    if outside.tools.post_state.is_some() {
        return;
    }
    let (daemon, staged) = (outside.daemon.clone(), build.image().with_tag(STAGING_TAG));
    outside.background.lock().await.push(tokio::spawn(async move {
        daemon.remove_image_name(&staged).await;
    }));
}

/// The pushed build verified from the registry and copied to the other
/// images, then smoke-tested (installing an emulator the build did not
/// need but the test does).
async fn verify_and_smoke(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    (digest, deferred): (&Digest, Vec<Platform>),
    mut report: Report,
    log: &Log,
) -> Result<Pushed> {
    let scans = outside.tools.layer_scans.as_ref();
    // A cross-compiling build is used only when the scan finds nothing.
    let crossed = build.cross_compiled_from().is_some();
    let level = if crossed { CheckLevel::Warn } else { run.checks().verify };
    let Verified { platform_images, attestations, notes } =
        publish::verify_and_copy(run, (build, level), &outside.registry, digest, scans, log)
            .await?;
    if crossed && !notes.is_empty() {
        anyhow::bail!("the architecture scan of its image found {}", notes.join("; "));
    }
    report.digest = Some(digest.clone());
    report.attestations = attestations;
    report.verify_notes = notes;
    if run.checks().smoke_test.is_some() && !deferred.is_empty() {
        // The build may not have run anything on the platforms the
        // builder does not list (all cached); the smoke test does.
        let run_name = &outside.tools.run_name;
        emulation::install_missing(run.qemu(), &outside.daemon, deferred, run_name, log).await?;
    }
    report.smoke = verify::smoke_test(run, build.image(), outside, &platform_images, log).await?;
    report.platform_images = platform_images;
    Ok(Pushed { report, digest: Some(digest.clone()) })
}

/// How the build will reach the first image's repository, when it pushes:
/// BuildKit's own push wherever it can (no layer is rewritten on the way),
/// else an OCI layout in `layout_dir` that is pushed by digest.
async fn push_route<'a>(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    builder: &Builder,
    layout_dir: &'a Path,
) -> Result<Option<PushRoute<'a>>> {
    if !build.pushes() {
        return Ok(None);
    }
    let daemon_plain_http = match builder {
        Builder::Daemon => outside.daemon.facts().await?.plain_http_registries,
        Builder::Container { .. } | Builder::Existing { .. } => Vec::new(),
    };
    Ok(Some(if build.buildkit_pushes(run, builder, &daemon_plain_http) {
        PushRoute::BuildKit
    } else {
        PushRoute::Layout(layout_dir)
    }))
}

/// `mode: build`: every tag of every image, pointed at the verified index
/// as the registry holds it.
async fn tag(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    mut pushed: Pushed,
    log: &Log,
) -> Result<Report> {
    if let Some(digest) = &pushed.digest {
        pushed.report.signed =
            sign::sign_and_check(run, build, &outside.registry, digest, log).await?;
        publish::versions_before_tagging(run, build, &outside.registry, digest, log).await?;
    }
    set_tags(build, outside, pushed, log).await
}

/// Every tag of every image of `build`, pointed at the pushed index.
async fn set_tags(
    build: &Build,
    outside: &Outside<'_>,
    pushed: Pushed,
    log: &Log,
) -> Result<Report> {
    let Pushed { mut report, digest } = pushed;
    let Some(digest) = digest else { return Ok(report) };
    let root = outside.registry.raw_manifest(build.image(), digest.as_str()).await?;
    let held: &[HeldBack] = &report.held_back;
    let descriptor = root.descriptor();
    let tagging =
        publish::tag_everywhere(build, &outside.registry, &descriptor, &root.bytes, held, log);
    report.pushed_references = log.group("Tag", tagging).await?;
    Ok(report)
}

/// `mode: digest`: the pushed, untagged digest written for a later merge.
fn write_digest(build: &Build, dir: &Path, pushed: Pushed, log: &Log) -> Result<Report> {
    let Pushed { report, .. } = pushed;
    let Some(digest) = &report.digest else { return Ok(report) };
    let platform = &build.platforms()[0];
    let file = merge::write_digest_file(dir, platform, digest)?;
    log.info(&format!("{platform} pushed untagged as {digest}; wrote {}", file.display()));
    Ok(report)
}

/// Removes what the run made: its containers, the staging name the
/// daemon's BuildKit left in the daemon's image store (`staged`, one per
/// build), its builder and its private Docker config; a failure here is a
/// warning. When a post step follows (the runner keeps state), what lives
/// in the daemon is left to it ([`save_post_state`]): the step ends as soon
/// as the user's work is done, however many images the daemon holds.
async fn clean_up(outside: Outside<'_>, config: DockerConfig, staged: &[String], log: &Log) {
    if outside.tools.post_state.is_none() {
        for started in outside.background.lock().await.drain(..) {
            let _ = started.await;
        }
        outside.daemon.remove_labelled(RUN_LABEL, &outside.tools.run_name).await;
        for name in staged {
            outside.daemon.remove_image_name(name).await;
        }
        if let Some(name) = outside.created_builder.lock().await.take()
            && let Err(error) = outside.buildx.remove_builder(&name).await
        {
            log.warning(&format!("could not remove the builder {name}: {error:#}"));
        }
    }
    if let Err(error) = config.remove() {
        log.warning(&format!("{error:#}"));
    }
}

/// Tells the post step, when one follows, which staging names the run's
/// builds leave in the daemon; when this cannot be saved, the run cleans
/// up itself.
fn save_post_state(tools: &mut Tools, staged: &[String], log: &Log) {
    if let Some(state) = &tools.post_state
        && let Err(error) = crate::post::save_staged(state, staged)
    {
        log.warning(&format!("{error:#}; the run removes what it made itself"));
        tools.post_state = None;
    }
}

/// The first buildx that has `build --call`.
const BUILDX_WITH_CALL: semver::Version = semver::Version::new(0, 15, 0);

/// `call: check`: BuildKit's build checks on the Dockerfile, without
/// building or pushing; a check that fails fails the run.
async fn check_only(run: &RunSettings, build: &Build, tools: &Tools, log: &Log) -> Result<()> {
    let config = DockerConfig::create(&tools.run_name, run.credentials())?;
    name_buildx_node(&config, Daemon::connect().ok().as_ref(), tools).await?;
    let binary = buildx_binary(tools);
    let mut buildx = Buildx::new(binary.clone(), &config, run.options().env());
    let existing = &run.builder().existing;
    if let (Some(_), Some(dir)) = (existing, &tools.user_buildx_config) {
        buildx = buildx.with_builders_from(dir.clone());
    }
    let version = buildx.version().await?;
    if version < BUILDX_WITH_CALL {
        anyhow::bail!(
            "call: `check` needs buildx {BUILDX_WITH_CALL} or later (`buildx build --call=check`), and {} is buildx {version}; update buildx or use `call: build`",
            binary.display()
        );
    }
    let builder = match existing {
        Some(name) => Builder::Existing { name: name.clone() },
        None => Builder::Daemon,
    };
    let args = build.buildx_check_args(run, &builder);
    let checked = log.group("Build checks", buildx.build(&args, |line| log.raw(line))).await;
    config.remove()?;
    checked.map_err(|error| anyhow::anyhow!("call: check: BuildKit's build checks did not pass ({error:#}); the log above names each"))
}

/// The plan as `--dry-run` prints it, with floating tags checked against the
/// registry's existing tags where it can be read (reading changes nothing),
/// then the preflight of each build; a registry that does not accept a
/// connection at once is not asked.
async fn dry_run(plan: &Plan, log: &Log) -> String {
    let insecure = plan.run().insecure_registries();
    let mut unreachable = Vec::new();
    let mut registries: Vec<String> = plan.images().into_iter().map(|i| i.registry).collect();
    registries.sort();
    registries.dedup();
    for registry in registries {
        let address = registry_address(&registry, insecure);
        if let Err(reason) = accepts_connections(&address, Duration::from_secs(3)).await {
            unreachable.push(format!("{registry} cannot be reached ({reason})"));
        }
    }
    let mut text = match (unreachable.is_empty(), plan.run().mode().work()) {
        (false, _) => format!(
            "{}(floating tags not checked: {})\n",
            plan.describe(&[]),
            unreachable.join("; ")
        ),
        (true, Mode::Bundle(_)) => plan.describe(&[]),
        (true, _) => dry_run_with_lookup(plan, log).await,
    };
    if !matches!(plan.run().mode().work(), Mode::Bundle(_)) {
        let registry = Registry::new(insecure, plan.run().credentials(), &plan.images());
        // Services built from one Dockerfile for the same platforms share
        // its preflight: shown once, for the first of them.
        let mut shown: Vec<(&Path, &[Platform])> = Vec::new();
        for build in plan.builds() {
            if shown.contains(&(build.dockerfile(), build.platforms())) {
                continue;
            }
            shown.push((build.dockerfile(), build.platforms()));
            text.push_str(&preflight::phase::dry_run(plan.run(), build, &registry).await);
        }
    }
    text.insert_str(0, "dry run: nothing is built or pushed\n");
    text
}

async fn dry_run_with_lookup(plan: &Plan, log: &Log) -> String {
    let run = plan.run();
    let registry = Registry::new(run.insecure_registries(), run.credentials(), &plan.images());
    // Held back for one build is held back for all, as the run does.
    let lookups = plan.builds().iter();
    let lookup = tokio::time::timeout(
        Duration::from_secs(15),
        futures_util::future::try_join_all(
            lookups.map(|build| publish::held_back_tags(run, build, &registry, log)),
        ),
    )
    .await;
    match lookup {
        Ok(Ok(held)) => plan.describe(&held_back_for_all(held)),
        Ok(Err(error)) => format!("{}(floating tags not checked: {error:#})\n", plan.describe(&[])),
        Err(_) => format!(
            "{}(floating tags not checked: the registry did not answer)\n",
            plan.describe(&[])
        ),
    }
}
