//! The flow of a run, per mode, as the README's diagram draws it: checks,
//! builder and QEMU concurrently; the build, which BuildKit pushes untagged
//! (by digest, or under the staging tag); its verification and copies; then tags (or a digest file), release notes and cleanup,
//! which runs whatever happens, also on SIGTERM. Each phase lives in the
//! room of the outside party it talks to.

use std::path::Path;

use anyhow::{Context as _, Result};
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::build::{self, Built};
use crate::buildx::builder::{self, ChosenBuilder};
use crate::buildx::metadata::BuildMetadata;
use crate::buildx::progress;
use crate::buildx::{Buildx, DockerConfig};
use crate::bundle::WantedImage;
use crate::bundle::request::ServiceBuild;
use crate::docker::Daemon;
use crate::emulation;
use crate::log::Log;
use crate::plan::{Builder, HeldBack, Mode, Plan, PushRoute, STAGING_TAG};
use crate::platform::Platform;
use crate::registry::Registry;
use crate::registry::layout::Layout;
use crate::runner::{Annotation, Level};
use crate::summary::Report;
use crate::verify::{self, Verified};
use crate::{export, merge, preflight, publish};

use crate::outside::Outside;
pub use crate::outside::{RUN_LABEL, Tools};

/// Runs the whole flow for a validated plan. When `shutdown` resolves first
/// (SIGTERM, SIGINT) the work is dropped, which stops buildx and closes any
/// open log group; cleanup runs either way.
pub async fn run(
    plan: &Plan,
    tools: &Tools,
    log: &Log,
    shutdown: impl std::future::Future<Output = &'static str>,
) -> Result<Report> {
    let config = DockerConfig::create(
        &tools.run_name,
        &plan.credentials,
        tools.user_buildx_config.as_deref(),
    )?;
    let outside = Outside {
        tools,
        daemon: Daemon::connect()?,
        registry: Registry::new(&plan.insecure_registries, &plan.credentials, &plan.images),
        buildx: match (&plan.existing_builder, &tools.user_buildx_config) {
            (Some(_), Some(dir)) => Buildx::new(tools.buildx.clone(), &config, plan.options.env())
                .with_builders_from(dir.clone()),
            _ => Buildx::new(tools.buildx.clone(), &config, plan.options.env()),
        },
        created_builder: tokio::sync::Mutex::new(None),
        background: tokio::sync::Mutex::new(Vec::new()),
    };
    // A bundle's services with `build:`, each with a plan of its own.
    let service_plans: Vec<Plan> = match &plan.mode {
        Mode::Bundle(request) => {
            request.builds.iter().map(|service| plan.for_service(service)).collect::<Result<_>>()?
        }
        _ => Vec::new(),
    };
    let mut staged: Vec<String> =
        plan.push.then(|| plan.images[0].with_tag(STAGING_TAG)).into_iter().collect();
    staged.extend(service_plans.iter().map(|p| p.images[0].with_tag(STAGING_TAG)));
    let work = async {
        let alone = BuildSlot { scratch: config.path(), builder: None, service: None };
        match &plan.mode {
            Mode::Build => {
                let pushed = build_and_push(plan, &outside, alone, log).await?;
                tag(plan, &outside, pushed, log).await
            }
            Mode::Digest { dir } => {
                let pushed = build_and_push(plan, &outside, alone, log).await?;
                write_digest(plan, dir, pushed, log)
            }
            Mode::Merge { digests, dir, required } => {
                merge::merge(plan, &outside, digests, dir, required, log).await
            }
            Mode::Bundle(request) => {
                let services: Vec<(&ServiceBuild, &Plan)> =
                    request.builds.iter().zip(&service_plans).collect();
                let builds = build_services(&services, &outside, &config, log);
                crate::bundle::run(plan, &outside.registry, request, log, builds).await
            }
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = shutdown => Err(anyhow::anyhow!("cancelled by {signal}: the build was stopped; tags that were not yet pushed were not pushed")),
    };
    if let (Ok(report), Some(notes)) = (&outcome, &plan.release_notes) {
        crate::github::add_image_to_release(plan, notes, report, log).await;
    }
    clean_up(outside, config, &staged, log).await;
    log.info(&format!(
        "peak memory of the action: {:.0} MB (buildx aside)",
        peak_resident_bytes() as f64 / 1e6
    ));
    outcome
}

/// A build that went as far as the plan asks: built, and pushed untagged
/// and verified when it pushes. No tag is set yet.
struct Pushed {
    report: Report,
    /// The pushed, verified index (or manifest), when the plan pushes.
    digest: Option<String>,
}

/// Where one build keeps its files (buildx metadata, an OCI layout), and
/// what it shares with the other builds of the run.
#[derive(Clone, Copy)]
struct BuildSlot<'a> {
    scratch: &'a Path,
    /// The builder already started for every build of the run.
    builder: Option<&'a ChosenBuilder>,
    /// The bundle's Compose service this build is for.
    service: Option<&'a str>,
}

/// How many of a bundle's services are built at once.
const SERVICE_BUILDS_AT_ONCE: usize = 2;

/// A bundle's services with `build:`: every registry checked and the builder
/// started once, then each built for its platforms with the whole pipeline
/// (preflight, verify, architecture scan) and tagged, two at a time; the
/// images to bundle, as if listed.
async fn build_services(
    services: &[(&ServiceBuild, &Plan)],
    outside: &Outside<'_>,
    config: &DockerConfig,
    log: &Log,
) -> Result<Vec<WantedImage>> {
    let Some((_, first)) = services.first() else { return Ok(Vec::new()) };
    for (service, plan) in services {
        publish::check_registries(plan, &outside.registry, log).await.with_context(|| {
            format!(
                "service `{}` cannot be pushed to {}; nothing was built",
                service.service, plan.images[0].name
            )
        })?;
    }
    let chosen = builder::start(first, outside, log).await?;
    // Each service writes through a log of its own, held until the one
    // before it is done: the log reads one service after another.
    let logs: Vec<Log> = services.iter().map(|_| log.holding()).collect();
    logs[0].release();
    futures_util::stream::iter(services.iter().copied().enumerate())
        .map(|(at, (service, plan))| {
            build_service(service, plan, &chosen, outside, config, &logs[at], logs.get(at + 1))
        })
        .buffered(SERVICE_BUILDS_AT_ONCE)
        .try_collect()
        .await
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

/// One service of a bundle built, verified and tagged with its own plan;
/// the next service's log is released when this one is done.
async fn build_service(
    service: &ServiceBuild,
    plan: &Plan,
    chosen: &ChosenBuilder,
    outside: &Outside<'_>,
    config: &DockerConfig,
    log: &Log,
    next_log: Option<&Log>,
) -> Result<WantedImage> {
    let _release_next = ReleaseWhenDone(next_log);
    let name = service.service.as_str();
    let scratch = config.path().join(format!("service-{name}"));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("could not create {}", scratch.display()))?;
    let slot = BuildSlot { scratch: &scratch, builder: Some(chosen), service: Some(name) };
    let pushed = build_and_push(plan, outside, slot, log)
        .await
        .with_context(|| format!("service `{name}`"))?;
    tag(plan, outside, pushed, log).await.with_context(|| format!("service `{name}`"))?;
    log.info(&format!(
        "service `{name}`: built for {} and pushed as {}",
        crate::platform::join(&plan.platforms),
        service.reference
    ));
    Ok(WantedImage {
        service: Some(name.to_string()),
        reference: service.reference.clone(),
        platform: service.platform.clone(),
        built: true,
    })
}

/// Checks, builder and QEMU; the build (BuildKit pushes it to the first
/// image's repository, untagged); export; then its verification, the copies
/// to the other images and the smoke test.
async fn build_and_push(
    plan: &Plan,
    outside: &Outside<'_>,
    slot: BuildSlot<'_>,
    log: &Log,
) -> Result<Pushed> {
    let emulated = emulation::emulated_platforms(&plan.platforms);
    let setup_group = match slot.service {
        None => log.open_group("Preflight, registries, builder and QEMU"),
        Some(service) => {
            log.open_group(&format!("Service `{service}`: preflight, registry and QEMU"))
        }
    };
    let (rewrites, held_back, ChosenBuilder { builder, why }) = tokio::try_join!(
        preflight::phase::run(plan, &outside.registry, &emulated, log),
        // A build that pushes nothing needs no registry of its images; a
        // bundle's service had its registry checked before any build.
        async {
            match (plan.push, slot.service) {
                (false, _) => Ok(Vec::new()),
                (true, None) => publish::check_registries(plan, &outside.registry, log).await,
                (true, Some(_)) => publish::held_back_tags(plan, &outside.registry, log).await,
            }
        },
        async {
            match slot.builder {
                Some(shared) => Ok(shared.clone()),
                None => builder::start(plan, outside, log).await,
            }
        }
    )?;

    let metadata_file = slot.scratch.join("metadata.json");
    let layout_dir = slot.scratch.join("layout");
    let route = push_route(plan, outside, &builder, &layout_dir).await?;
    let args = plan.buildx_build_args(&builder, &metadata_file, route);
    let Built { emulation, progress } =
        build::run(plan, outside, &builder, &emulated, &args, setup_group, log).await?;
    let metadata = match std::fs::read_to_string(&metadata_file) {
        Ok(text) => BuildMetadata::parse(&text)?,
        Err(_) => BuildMetadata { digest: None, raw: serde_json::json!({}) },
    };
    let (timings, slowest) = progress::timings(&progress.steps(), &emulation.emulated, 5);
    // The rewrite the lint suggested, now with the time this build spent under QEMU.
    for finding in preflight::measured_under_qemu(&rewrites, &timings) {
        log.annotation(Annotation {
            level: Level::Notice,
            message: finding.message,
            title: Some(finding.title),
            file: Some(plan.dockerfile.display().to_string()),
            line: Some(finding.line),
        });
    }
    log.info(&format!("buildx solve: {:.2}s", progress::solve_seconds(&progress.steps())));
    let mut report = Report {
        metadata: metadata.raw.clone(),
        builder_note: why,
        emulated: emulation.emulated.iter().map(Platform::to_string).collect(),
        timings,
        slowest,
        ..Default::default()
    };
    if plan.export.is_some() || plan.load {
        report.exported = log
            .group("Export", export::export(plan, &outside.buildx, &builder, &held_back, log))
            .await?;
    }
    report.held_back = held_back;
    let first = &plan.images[0];
    let digest = match route {
        None => return Ok(Pushed { report, digest: None }),
        Some(PushRoute::BuildKit) => {
            let digest = metadata.digest.ok_or_else(|| {
                anyhow::anyhow!("buildx pushed the build but its metadata names no digest (containerimage.digest); no tag was pushed")
            })?;
            log.info(&format!("BuildKit pushed {digest} to {} untagged", first.name));
            digest.to_string()
        }
        Some(PushRoute::Layout(dir)) => {
            let layout = Layout::open(dir)?;
            let order = layout.push_order()?;
            let group = log.open_group(&format!("Push {} by digest", order.root.digest));
            let stats = outside.registry.push_layout(&layout, &order, first).await?;
            drop(group);
            log.info(&format!(
                "{}: pushed {} from the OCI layout (the daemon does not reach {} over plain HTTP): uploaded {} blob(s), {:.1} MB; {} already there",
                first.name,
                order.root.digest,
                first.registry,
                stats.uploaded,
                stats.bytes as f64 / 1e6,
                stats.skipped
            ));
            order.root.digest.to_string()
        }
    };
    if matches!(route, Some(PushRoute::BuildKit))
        && matches!(builder, Builder::Daemon | Builder::Existing { .. })
    {
        // The staging name the daemon's BuildKit stored is removed while the
        // registry's copy is verified and tagged (the daemon takes seconds to
        // delete an image when it holds many); clean-up waits for it.
        let (daemon, staged) = (outside.daemon.clone(), first.with_tag(STAGING_TAG));
        outside
            .background
            .lock()
            .await
            .push(tokio::spawn(async move { daemon.remove_image_name(&staged).await }));
    }
    let Verified { platform_images, attestations, notes } = publish::verify_and_copy(
        plan,
        &outside.registry,
        &digest,
        outside.tools.layer_scans.as_ref(),
        log,
    )
    .await?;
    report.digest = Some(digest.clone());
    report.attestations = attestations;
    report.verify_notes = notes;
    if plan.smoke_test.is_some() && !emulation.deferred.is_empty() {
        // The build may not have run anything on the platforms the
        // builder does not list (all cached); the smoke test does.
        emulation::install_missing(
            plan,
            &outside.daemon,
            emulation.deferred.clone(),
            &outside.tools.run_name,
            log,
        )
        .await?;
    }
    report.smoke = verify::smoke_test(plan, outside, &platform_images, log).await?;
    report.platform_images = platform_images;
    Ok(Pushed { report, digest: Some(digest) })
}

/// How the build will reach the first image's repository, when the plan
/// pushes: BuildKit's own push wherever it can (no layer is rewritten on
/// the way), else an OCI layout in `layout_dir` that is pushed by digest.
async fn push_route<'a>(
    plan: &Plan,
    outside: &Outside<'_>,
    builder: &Builder,
    layout_dir: &'a std::path::Path,
) -> Result<Option<PushRoute<'a>>> {
    if !plan.push {
        return Ok(None);
    }
    let daemon_plain_http = match builder {
        Builder::Daemon => outside.daemon.facts().await?.plain_http_registries,
        Builder::Container { .. } | Builder::Existing { .. } => Vec::new(),
    };
    Ok(Some(if plan.buildkit_pushes(builder, &daemon_plain_http) {
        PushRoute::BuildKit
    } else {
        PushRoute::Layout(layout_dir)
    }))
}

/// `mode: build`: every tag of every image, pointed at the verified index
/// as the registry holds it.
async fn tag(plan: &Plan, outside: &Outside<'_>, pushed: Pushed, log: &Log) -> Result<Report> {
    let Pushed { mut report, digest } = pushed;
    let Some(digest) = digest else { return Ok(report) };
    let root = outside.registry.raw_manifest(&plan.images[0], &digest).await?;
    let held: &[HeldBack] = &report.held_back;
    let descriptor = root.descriptor();
    let tagging =
        publish::tag_everywhere(plan, &outside.registry, &descriptor, &root.bytes, held, log);
    report.pushed_references = log.group("Tag", tagging).await?;
    Ok(report)
}

/// `mode: digest`: the pushed, untagged digest written for a later merge.
fn write_digest(plan: &Plan, dir: &std::path::Path, pushed: Pushed, log: &Log) -> Result<Report> {
    let Pushed { report, .. } = pushed;
    let Some(digest) = &report.digest else { return Ok(report) };
    let file =
        merge::write_digest_file(dir, &plan.platforms[0], &crate::digest::Digest::parse(digest)?)?;
    log.info(&format!(
        "{} pushed untagged as {digest}; wrote {}",
        plan.platforms[0],
        file.display()
    ));
    Ok(report)
}

/// Removes what the run made: its containers, the staging name the
/// daemon's BuildKit left in the daemon's image store (`staged`, one per
/// build), its builder and its private Docker config; a failure here is a
/// warning.
async fn clean_up(outside: Outside<'_>, config: DockerConfig, staged: &[String], log: &Log) {
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
    if let Err(error) = config.remove() {
        log.warning(&format!("{error:#}"));
    }
}

/// The first buildx that has `build --call`.
const BUILDX_WITH_CALL: semver::Version = semver::Version::new(0, 15, 0);

/// `call: check`: BuildKit's build checks on the Dockerfile, without
/// building or pushing; a check that fails fails the run.
pub async fn check_only(plan: &Plan, tools: &Tools, log: &Log) -> Result<()> {
    let config = DockerConfig::create(
        &tools.run_name,
        &plan.credentials,
        tools.user_buildx_config.as_deref(),
    )?;
    let mut buildx = Buildx::new(tools.buildx.clone(), &config, plan.options.env());
    if let (Some(_), Some(dir)) = (&plan.existing_builder, &tools.user_buildx_config) {
        buildx = buildx.with_builders_from(dir.clone());
    }
    let version = buildx.version().await?;
    if version < BUILDX_WITH_CALL {
        anyhow::bail!(
            "call: `check` needs buildx {BUILDX_WITH_CALL} or later (`buildx build --call=check`), and {} is buildx {version}; update buildx or use `call: build`",
            tools.buildx.display()
        );
    }
    let builder = match &plan.existing_builder {
        Some(name) => crate::plan::Builder::Existing { name: name.clone() },
        None => crate::plan::Builder::Daemon,
    };
    let checked = log
        .group(
            "Build checks",
            buildx.build(&plan.buildx_check_args(&builder), |line| log.raw(line)),
        )
        .await;
    config.remove()?;
    checked.map_err(|error| anyhow::anyhow!("call: check: BuildKit's build checks did not pass ({error:#}); the log above names each"))
}

/// The most memory this process has held resident so far.
fn peak_resident_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; on failure it stays zeroed.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    // Linux reports kilobytes.
    usage.ru_maxrss.max(0) as u64 * 1024
}

/// The plan as `--dry-run` prints it, with floating tags checked against the
/// registry's existing tags where it can be read (reading changes nothing);
/// a registry that does not accept a connection at once is not asked.
pub async fn dry_run(plan: &Plan, log: &Log) -> String {
    let mut unreachable = Vec::new();
    for image in &plan.images {
        if let Err(reason) = accepts_connections(&image.registry, &plan.insecure_registries).await {
            unreachable.push(format!("{} cannot be reached ({reason})", image.registry));
        }
    }
    let mut text = if !unreachable.is_empty() {
        format!("{}(floating tags not checked: {})\n", plan.describe(&[]), unreachable.join("; "))
    } else {
        dry_run_with_lookup(plan, log).await
    };
    text.insert_str(0, "dry run: nothing is built or pushed\n");
    text
}

/// Whether the registry's host accepts a TCP connection within 3 seconds.
async fn accepts_connections(
    registry: &str,
    insecure: &[String],
) -> std::result::Result<(), String> {
    let host = if registry == "docker.io" { "registry-1.docker.io" } else { registry };
    let address = match host.rsplit_once(':') {
        Some((_, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ if insecure.iter().any(|r| r == registry) => format!("{host}:80"),
        _ => format!("{host}:443"),
    };
    match tokio::time::timeout(
        std::time::Duration::from_secs(3),
        tokio::net::TcpStream::connect(&address),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer within 3 s".into()),
    }
}

async fn dry_run_with_lookup(plan: &Plan, log: &Log) -> String {
    let registry = Registry::new(&plan.insecure_registries, &plan.credentials, &plan.images);
    let lookup = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        publish::held_back_tags(plan, &registry, log),
    )
    .await;
    match lookup {
        Ok(Ok(held)) => plan.describe(&held),
        Ok(Err(error)) => format!("{}(floating tags not checked: {error:#})\n", plan.describe(&[])),
        Err(_) => format!(
            "{}(floating tags not checked: the registry did not answer)\n",
            plan.describe(&[])
        ),
    }
}
