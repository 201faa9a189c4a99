//! The flow of a run, per mode, as the README's diagram draws it: checks,
//! builder and QEMU concurrently; the build; the push by digest and its
//! verification; then tags (or a digest file), release notes and cleanup,
//! which runs whatever happens, also on SIGTERM. Each phase lives in the
//! room of the outside party it talks to.

use anyhow::Result;

use crate::build::{self, Built};
use crate::buildx::builder::{self, ChosenBuilder};
use crate::buildx::metadata::BuildMetadata;
use crate::buildx::progress;
use crate::buildx::{Buildx, DockerConfig};
use crate::docker::Daemon;
use crate::emulation;
use crate::log::Log;
use crate::plan::{HeldBack, Mode, Plan};
use crate::platform::Platform;
use crate::registry::Registry;
use crate::registry::layout::{Layout, PushOrder};
use crate::runner::{Annotation, Level};
use crate::summary::Report;
use crate::verify::{self, Verified};
use crate::{export, merge, preflight, publish};

use crate::outside::Outside;
pub use crate::outside::{RUN_LABEL, Tools};

/// Runs the whole flow for a validated plan. When `shutdown` resolves first
/// (SIGTERM, SIGINT) the work is dropped, which stops buildx and closes any
/// open log group; cleanup runs either way.
pub async fn run(plan: &Plan, tools: &Tools, log: &Log, shutdown: impl std::future::Future<Output = &'static str>) -> Result<Report> {
    let config = DockerConfig::create(&tools.run_name, &plan.credentials)?;
    let outside = Outside {
        tools,
        daemon: Daemon::connect()?,
        registry: Registry::new(&plan.insecure_registries, &plan.credentials, &plan.images),
        buildx: match (&plan.existing_builder, &tools.user_buildx_config) {
            (Some(_), Some(dir)) => Buildx::new(tools.buildx.clone(), &config, plan.options.env()).with_builders_from(dir.clone()),
            _ => Buildx::new(tools.buildx.clone(), &config, plan.options.env()),
        },
        created_builder: tokio::sync::Mutex::new(None),
    };
    let work = async {
        match &plan.mode {
            Mode::Build => {
                let pushed = build_and_push(plan, &outside, &config, log).await?;
                tag(plan, &outside, pushed, log).await
            }
            Mode::Digest { dir } => {
                let pushed = build_and_push(plan, &outside, &config, log).await?;
                write_digest(plan, dir, pushed, log)
            }
            Mode::Merge { digests, dir, required } => merge::merge(plan, &outside, digests, dir, required, log).await,
            Mode::Bundle(request) => crate::bundle::run(plan, &outside.registry, request, log).await,
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = shutdown => Err(anyhow::anyhow!("cancelled by {signal}: the build was stopped; tags that were not yet pushed were not pushed")),
    };
    if let (Ok(report), Some(notes)) = (&outcome, &plan.release_notes) {
        crate::github::add_image_to_release(plan, notes, report, log).await;
    }
    clean_up(outside, config, log).await;
    outcome
}

/// A build that went as far as the plan asks: built, and pushed by digest
/// and verified when it pushes. No tag is set yet.
struct Pushed {
    report: Report,
    /// The pushed layout and its root, when the plan pushes.
    layout: Option<(Layout, PushOrder)>,
}

/// Checks, builder and QEMU; the build; export; then the push by digest,
/// its verification and the smoke test.
async fn build_and_push(plan: &Plan, outside: &Outside<'_>, config: &DockerConfig, log: &Log) -> Result<Pushed> {
    let emulated = emulation::emulated_platforms(&plan.platforms);
    let setup_group = log.open_group("Preflight, registries, builder and QEMU");
    let (rewrites, held_back, ChosenBuilder { builder, why }) = tokio::try_join!(
        preflight::phase::run(plan, &outside.registry, &emulated, log),
        // A build that pushes nothing needs no registry of its images.
        async { if plan.push { publish::check_registries(plan, &outside.registry, log).await } else { Ok(Vec::new()) } },
        builder::start(plan, outside, log)
    )?;

    let metadata_file = config.path().join("metadata.json");
    let layout_dir = plan.push.then(|| config.path().join("layout"));
    let args = plan.buildx_build_args(&builder, &metadata_file, layout_dir.as_deref());
    let (exported_tx, exported_rx) = tokio::sync::watch::channel(None);
    let building = build::run(plan, outside, &builder, &emulated, &args, exported_tx, setup_group, log);
    let (built, uploaded) = match layout_dir.as_deref() {
        Some(dir) => build::while_uploading(building, publish::upload_exported_blobs(plan, &outside.registry, dir, exported_rx)).await,
        None => (building.await, None),
    };
    let Built { emulation, progress } = built?;
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
        report.exported = log.group("Export", export::export(plan, &outside.buildx, &builder, &held_back, log)).await?;
    }
    report.held_back = held_back;
    let Some(layout_dir) = layout_dir else { return Ok(Pushed { report, layout: None }) };

    let layout = Layout::open(&layout_dir)?;
    let order = layout.push_order()?;
    let Verified { platform_images, attestations, notes } =
        publish::push_and_verify(plan, &outside.registry, &layout, &order, uploaded, log).await?;
    report.digest = Some(order.root.digest.clone());
    report.attestations = attestations;
    report.verify_notes = notes;
    if plan.smoke_test.is_some() && !emulation.deferred.is_empty() {
        // The build may not have run anything on the platforms the
        // builder does not list (all cached); the smoke test does.
        emulation::install_missing(plan, &outside.daemon, emulation.deferred.clone(), &outside.tools.run_name, log).await?;
    }
    report.smoke = verify::smoke_test(plan, outside, &platform_images, log).await?;
    report.platform_images = platform_images;
    Ok(Pushed { report, layout: Some((layout, order)) })
}

/// `mode: build`: every tag of every image, pointed at the verified index.
async fn tag(plan: &Plan, outside: &Outside<'_>, pushed: Pushed, log: &Log) -> Result<Report> {
    let Pushed { mut report, layout } = pushed;
    let Some((layout, order)) = layout else { return Ok(report) };
    let body = layout.read_blob(&order.root.digest)?;
    let held: &[HeldBack] = &report.held_back;
    report.pushed_references = log.group("Tag", publish::tag_everywhere(plan, &outside.registry, &order.root, &body, held, log)).await?;
    Ok(report)
}

/// `mode: digest`: the pushed, untagged digest written for a later merge.
fn write_digest(plan: &Plan, dir: &std::path::Path, pushed: Pushed, log: &Log) -> Result<Report> {
    let Pushed { report, .. } = pushed;
    let Some(digest) = &report.digest else { return Ok(report) };
    let file = merge::write_digest_file(dir, &plan.platforms[0], digest)?;
    log.info(&format!("{} pushed untagged as {digest}; wrote {}", plan.platforms[0], file.display()));
    Ok(report)
}

/// Removes what the run made: its containers, its builder and its private
/// Docker config; a failure here is a warning.
async fn clean_up(outside: Outside<'_>, config: DockerConfig, log: &Log) {
    outside.daemon.remove_labelled(RUN_LABEL, &outside.tools.run_name).await;
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
    let config = DockerConfig::create(&tools.run_name, &plan.credentials)?;
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
    let checked = log.group("Build checks", buildx.build(&plan.buildx_check_args(&builder), |line| log.raw(line))).await;
    config.remove()?;
    checked.map_err(|error| anyhow::anyhow!("call: check: BuildKit's build checks did not pass ({error:#}); the log above names each"))
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
async fn accepts_connections(registry: &str, insecure: &[String]) -> std::result::Result<(), String> {
    let host = if registry == "docker.io" { "registry-1.docker.io" } else { registry };
    let address = match host.rsplit_once(':') {
        Some((_, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ if insecure.iter().any(|r| r == registry) => format!("{host}:80"),
        _ => format!("{host}:443"),
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer within 3 s".into()),
    }
}

async fn dry_run_with_lookup(plan: &Plan, log: &Log) -> String {
    let registry = Registry::new(&plan.insecure_registries, &plan.credentials, &plan.images);
    let lookup = tokio::time::timeout(std::time::Duration::from_secs(15), publish::held_back_tags(plan, &registry, log)).await;
    match lookup {
        Ok(Ok(held)) => plan.describe(&held),
        Ok(Err(error)) => format!("{}(floating tags not checked: {error:#})\n", plan.describe(&[])),
        Err(_) => format!("{}(floating tags not checked: the registry did not answer)\n", plan.describe(&[])),
    }
}
