//! Orchestration: access checks, builder and QEMU setup run concurrently;
//! then build and push with buildx; then read the result back from the
//! registry and verify it. Cleanup of what we made runs whatever happens.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::buildx::metadata::BuildMetadata;
use crate::buildx::progress::{self, Progress};
use crate::buildx::{Buildx, DockerConfig};
use crate::docker::{Daemon, DaemonFacts, qemu};
use crate::log::Log;
use crate::meta;
use crate::plan::{Builder, CheckLevel, DriverRequest, ExportFormat, FloatingPolicy, Mode, Plan, QemuMode};
use crate::platform::{self, Platform};
use crate::registry::layout::{Descriptor, Layout, PushOrder};
use crate::registry::push::PushStats;
use crate::registry::{Attestation, PlatformImage, Registry};
use crate::retry;
use crate::runner::{Annotation, Level};
use crate::summary::Report;
use crate::verify;

/// Where the machinery lives; found once at start.
#[derive(Debug, Clone)]
pub struct Tools {
    pub buildx: PathBuf,
    /// A unique name for what this run creates (builder, labels).
    pub run_name: String,
}

/// What a run drives: the daemon, buildx, and the names for what it makes.
#[derive(Clone, Copy)]
struct Outside<'a> {
    tools: &'a Tools,
    daemon: &'a Daemon,
    buildx: &'a Buildx,
}

/// Chooses the builder from the daemon's facts, and says why.
pub fn choose_builder(plan: &Plan, facts: &DaemonFacts, run_name: &str) -> Result<(Builder, String)> {
    let container = || Builder::Container { name: run_name.to_string() };
    let platforms = plan.platforms.len();
    let cache_needs_container = plan.options.exports_cache() && !facts.containerd_store;
    if cache_needs_container && plan.driver == DriverRequest::Docker {
        bail!(
            "cache-to: the daemon's own BuildKit cannot export cache without the containerd image store; use driver: docker-container (or auto)"
        );
    }
    if plan.driver == DriverRequest::Auto {
        if let Some(input) = plan.builder_config.given().first() {
            return Ok((container(), format!("a docker-container builder: `{input}` configures a builder of our own")));
        }
        if cache_needs_container {
            return Ok((
                container(),
                format!("a docker-container builder: Docker {} without the containerd image store cannot export cache", facts.version),
            ));
        }
    }
    Ok(match plan.driver {
        DriverRequest::DockerContainer => (container(), "driver: docker-container was requested".into()),
        DriverRequest::Docker if platforms > 1 && !facts.containerd_store => bail!(
            "driver: `docker` cannot build {platforms} platforms on a daemon without the containerd image store; use driver: auto or docker-container"
        ),
        DriverRequest::Docker => (Builder::Daemon, "driver: docker was requested".into()),
        DriverRequest::Auto if platforms == 1 => {
            (Builder::Daemon, "the daemon's own BuildKit: one platform needs no multi-platform store".into())
        }
        DriverRequest::Auto if facts.containerd_store => (
            Builder::Daemon,
            format!(
                "the daemon's own BuildKit: Docker {} uses the containerd image store, which holds multi-platform images",
                facts.version
            ),
        ),
        DriverRequest::Auto => (
            container(),
            format!(
                "a docker-container builder: Docker {} has no containerd image store, so its own BuildKit cannot build several platforms",
                facts.version
            ),
        ),
    })
}

/// Floating tags to hold back across all images, each with its reason.
async fn held_back_tags(plan: &Plan, registry: &Registry, log: &Log) -> Result<Vec<(String, String)>> {
    if plan.floating == FloatingPolicy::Always || !plan.push || !plan.meta.tags.iter().any(|t| t.floating.is_some()) {
        return Ok(Vec::new());
    }
    let mut held: Vec<(String, String)> = Vec::new();
    for image in &plan.images {
        let existing = registry.existing_tags(image).await?;
        for item in meta::guard_floating(&plan.meta, &existing).held_back {
            log.info(&format!("holding back `{}` on {}: {}", item.tag, image.name, item.reason));
            if !held.iter().any(|(t, _)| *t == item.tag) {
                held.push((item.tag, item.reason));
            }
        }
    }
    Ok(held)
}

/// Before any build: every external base image offers every platform it is
/// needed for, and the Dockerfile's lints, as annotations on its lines.
/// Returns the FROM lines that got a cross-compiling rewrite.
async fn preflight(plan: &Plan, registry: &Registry, log: &Log) -> Result<Vec<u32>> {
    if plan.preflight == CheckLevel::Off {
        return Ok(Vec::new());
    }
    let file = plan.dockerfile.display().to_string();
    let text = std::fs::read_to_string(&plan.dockerfile).with_context(|| format!("file: could not read {file}"))?;
    let described = |e: crate::preflight::DockerfileError| {
        let place = if file == "Dockerfile" { String::new() } else { format!(" (in {file})") };
        anyhow::anyhow!("file: {e}{place}")
    };
    let parsed = crate::preflight::parse_dockerfile(&text).map_err(described).and_then(|dockerfile| {
        let build_args: HashMap<String, String> = plan.build_args.iter().cloned().collect();
        let stages = crate::preflight::resolve(&dockerfile, &build_args, plan.target.as_deref()).map_err(described)?;
        Ok((dockerfile, stages))
    });
    let (dockerfile, stages) = match parsed {
        Ok(parsed) => parsed,
        Err(error) if plan.preflight == CheckLevel::Warn => {
            log.warning(&format!("{error:#}; preflight skipped"));
            return Ok(Vec::new());
        }
        Err(error) => return Err(error),
    };
    let host = Platform::host();
    let emulated: Vec<Platform> = plan.platforms.iter().filter(|p| !p.runs_on(&host)).cloned().collect();
    let findings = crate::preflight::lint(&dockerfile, &stages, &emulated, &plan.platforms);
    let rewrites: Vec<u32> = findings.iter().filter(|f| f.is_rewrite()).map(|f| f.line).collect();
    for finding in findings {
        log.annotation(Annotation {
            level: Level::Warning,
            message: finding.message,
            title: Some(finding.title),
            file: Some(file.clone()),
            line: Some(finding.line),
        });
    }

    let mut bases = crate::preflight::bases_to_check(&stages, &plan.platforms, &host);
    let lookups = bases.iter().map(|base| registry.platforms_of(&base.image));
    let offered = futures_util::future::join_all(lookups).await;
    let mut checked = Vec::new();
    for (mut base, offers) in bases.drain(..).zip(offered) {
        match offers {
            Ok(offers) => {
                base.offers = offers;
                checked.push(base);
            }
            Err(error) => log
                .warning(&format!("preflight: could not read the platforms of {} (Dockerfile line {}): {error:#}", base.image, base.line)),
        }
    }
    let gaps = crate::preflight::missing(&checked, &plan.platforms);
    if gaps.is_empty() {
        log.info(&format!("preflight: {} base image(s) offer every platform they are needed for", checked.len()));
        return Ok(rewrites);
    }
    log.info(&crate::preflight::render_table(&checked, &plan.platforms));
    let message = format!("preflight: {}", crate::preflight::advice(&checked, &plan.platforms).replace('\n', " "));
    if plan.preflight == CheckLevel::Fail {
        bail!("{} (or set `preflight: warn`)", message.trim_end());
    }
    log.warning(&message);
    Ok(rewrites)
}

/// Checks every registry we will talk to, then reads the existing tags.
async fn check_registries(plan: &Plan, registry: &Registry, log: &Log) -> Result<Vec<(String, String)>> {
    let image_registries: Vec<&String> = plan.images.iter().map(|i| &i.registry).collect();
    // Credentials for registries with no image of ours are for pulls.
    let pull_only: Vec<crate::plan::ImageName> = plan
        .credentials
        .iter()
        .filter(|c| !image_registries.contains(&&c.registry))
        .map(|c| crate::plan::ImageName {
            name: format!("{}/library/ping", c.registry),
            registry: c.registry.clone(),
            repository: "library/ping".into(),
        })
        .collect();
    let mut checks = Vec::new();
    let mut seen = Vec::new();
    for image in &plan.images {
        if seen.contains(&image.registry) {
            continue;
        }
        seen.push(image.registry.clone());
        checks.push(registry.check_access(image, plan.push));
    }
    for image in &pull_only {
        seen.push(format!("{} (pulls)", image.registry));
        checks.push(registry.check_access(image, false));
    }
    futures_util::future::try_join_all(checks).await?;
    log.info(&format!("registry access checked: {}", seen.join(", ")));
    held_back_tags(plan, registry, log).await
}

/// Which platforms run under emulation, which emulators this run had to
/// install for them, and which it has not had the installer confirm (the
/// installer is asked about those when the build fails).
struct Emulation {
    emulated: Vec<Platform>,
    installed: Vec<Platform>,
    unconfirmed: Vec<Platform>,
    /// Emulated platforms the builder does not list and the build was left
    /// to try.
    deferred: Vec<Platform>,
}

/// Chooses the builder and, for a `docker-container` one, creates it.
async fn start_builder(
    plan: &Plan,
    tools: &Tools,
    daemon: &Daemon,
    buildx: &Buildx,
    created: &tokio::sync::Mutex<Option<String>>,
    log: &Log,
) -> Result<(Builder, String)> {
    let facts = daemon.facts().await?;
    let (builder, why) = choose_builder(plan, &facts, &tools.run_name)?;
    log.info(&format!("builder: {why}"));
    if let Builder::Container { name } = &builder {
        crate::builder_config::check_nodes_reachable(&plan.builder_config.append).await?;
        let image = plan.builder_config.image_override().unwrap_or(&plan.buildkit_image).to_string();
        let hub = plan.credentials.iter().find(|c| c.registry == "docker.io").map(|c| bollard::auth::DockerCredentials {
            username: Some(c.username.clone()),
            password: Some(c.password.0.clone()),
            serveraddress: Some("https://index.docker.io/v1/".into()),
            ..Default::default()
        });
        let credentials = if crate::plan::canonical_registry(image.split('/').next().unwrap_or("")) == "docker.io"
            || !image.split('/').next().unwrap_or("").contains('.')
        {
            hub
        } else {
            None
        };
        if daemon.ensure_image(&image, credentials).await.with_context(|| format!("buildkit-image: could not pull {image}"))? {
            log.info(&format!("builder: pulled {image}"));
        }
        buildx.create_container_builder(name, &plan.buildkit_image, &plan.builder_config, &plan.insecure_registries).await?;
        *created.lock().await = Some(name.clone());
    }
    Ok((builder, why))
}

/// The platforms that are not the machine's own.
fn emulated_platforms(plan: &Plan) -> Vec<Platform> {
    let host = Platform::host();
    plan.platforms.iter().filter(|p| !p.runs_on(&host)).cloned().collect()
}

/// Starts the builder if needed and makes sure every requested platform
/// can run: asks the builder what it runs and, for the rest, the QEMU
/// installer, installing only what is missing.
async fn prepare_emulation(
    plan: &Plan,
    tools: &Tools,
    daemon: &Daemon,
    buildx: &Buildx,
    builder: &Builder,
    log: &Log,
) -> Result<Emulation> {
    let emulated = emulated_platforms(plan);
    if emulated.is_empty() && *builder == Builder::Daemon {
        // The daemon's BuildKit runs the machine's own platform; the build
        // itself starts it.
        log.info("QEMU: the builder already runs every requested platform (the machine's own); nothing to install");
        return Ok(Emulation { emulated, installed: Vec::new(), unconfirmed: Vec::new(), deferred: Vec::new() });
    }
    let info = buildx.inspect(builder.name()).await.with_context(|| format!("could not start the builder `{}`", builder.name()))?;
    log.info(&format!("builder `{}` ({}) runs {}", builder.name(), info.driver, platform::join(&info.platforms)));
    let QemuSetup { installed, unconfirmed, deferred } = setup_qemu(plan, daemon, builder, &info.platforms, &tools.run_name, log).await?;
    if !emulated.is_empty() {
        log.info(&format!(
            "{} will run under QEMU emulation, typically several times slower than native; a `FROM --platform=$BUILDPLATFORM` stage that cross-compiles avoids it",
            platform::join(&emulated)
        ));
    }
    Ok(Emulation { emulated, installed, unconfirmed, deferred })
}

/// Whether the build may start while emulation is still being checked.
/// Only the daemon's BuildKit is ready at once, and only when emulators are
/// installed on demand: should one turn out missing, the early build is
/// stopped and started again once it is installed.
fn build_may_start_early(plan: &Plan, builder: &Builder) -> bool {
    *builder == Builder::Daemon && plan.qemu != QemuMode::Always
}

/// Build progress held back while the setup group is still open, then
/// written in order.
struct HeldLines<'a> {
    log: &'a Log,
    held: std::sync::Mutex<Option<Vec<String>>>,
}

impl<'a> HeldLines<'a> {
    fn holding(log: &'a Log) -> HeldLines<'a> {
        HeldLines { log, held: std::sync::Mutex::new(Some(Vec::new())) }
    }

    fn emit(&self, line: &str) {
        match self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
            Some(held) => held.push(line.to_string()),
            None => self.log.raw(line),
        }
    }

    /// Writes what was held and passes later lines straight through.
    fn release(&self) {
        let held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        for line in held.unwrap_or_default() {
            self.log.raw(&line);
        }
    }

    /// Drops what was held (an early build that is started again).
    fn discard(&self) {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(Vec::new());
    }
}

/// What QEMU set-up did: emulators installed, emulated platforms the
/// installer was not asked about, and of those the ones the builder does
/// not list.
#[derive(Debug, Default)]
struct QemuSetup {
    installed: Vec<Platform>,
    unconfirmed: Vec<Platform>,
    deferred: Vec<Platform>,
}

/// Registers the emulators the requested platforms lack, as
/// [`qemu::plan_emulation`] decides from the builder's list.
async fn setup_qemu(
    plan: &Plan,
    daemon: &Daemon,
    builder: &Builder,
    builder_platforms: &[Platform],
    run_name: &str,
    log: &Log,
) -> Result<QemuSetup> {
    let decided = qemu::plan_emulation(plan.qemu, *builder == Builder::Daemon, builder_platforms, &plan.platforms, &Platform::host());
    if !decided.unsupported.is_empty() {
        log.warning(&format!(
            "qemu: false, and the builder lists no support for {}; the build may fail with `exec format error`",
            platform::join(&decided.unsupported)
        ));
    }
    if !decided.deferred.is_empty() {
        log.info(&format!(
            "QEMU: the builder runs emulated platforms but does not list {}; Docker's own BuildKit does not list every emulator the kernel has, so the build tries it and the QEMU installer is asked only if the build fails",
            platform::join(&decided.deferred)
        ));
    } else if decided.ask_now.is_empty() && plan.qemu == QemuMode::Auto {
        log.info("QEMU: the builder already runs every requested platform; nothing to install");
    }
    let installed = match decided.ask_now.is_empty() {
        true => Vec::new(),
        false => install_missing_emulators(plan, daemon, decided.ask_now, run_name, log).await?,
    };
    Ok(QemuSetup { installed, unconfirmed: decided.unconfirmed, deferred: decided.deferred })
}

/// Asks the QEMU installer which of `wanted` the kernel can run, and
/// registers emulators for the rest (all of `wanted` with `qemu: true`);
/// returns the platforms it installed emulators for.
async fn install_missing_emulators(
    plan: &Plan,
    daemon: &Daemon,
    wanted: Vec<Platform>,
    run_name: &str,
    log: &Log,
) -> Result<Vec<Platform>> {
    let labels: HashMap<String, String> = [(RUN_LABEL.to_string(), run_name.to_string())].into();
    if daemon.ensure_image(&plan.qemu_image, None).await? {
        log.info(&format!("QEMU: pulled {}", plan.qemu_image));
    }
    let status = qemu::status(daemon, &plan.qemu_image, &labels).await?;
    let to_install: Vec<Platform> = match plan.qemu {
        QemuMode::Always => wanted,
        _ => wanted.into_iter().filter(|p| !status.can_run(p)).collect(),
    };
    if to_install.is_empty() {
        log.info(&format!("QEMU: emulators for every requested platform are already registered ({})", status.emulators.join(", ")));
        return Ok(Vec::new());
    }
    log.info(&format!(
        "QEMU: installing emulators for {} (--install {})",
        platform::join(&to_install),
        qemu::install_argument(&to_install)
    ));
    let after = qemu::install(daemon, &plan.qemu_image, &to_install, &labels).await?;
    let still: Vec<String> = to_install.iter().filter(|p| !after.can_run(p)).map(Platform::to_string).collect();
    if !still.is_empty() {
        bail!("qemu: installing emulators did not make {} runnable; check that the runner allows privileged containers", still.join(", "));
    }
    log.info(&format!("QEMU: registered; emulators now {}", after.emulators.join(", ")));
    Ok(to_install)
}

/// The label on every container a run starts, valued with the run's name.
pub const RUN_LABEL: &str = "org.multiarch-action.run";

/// Runs the whole flow for a validated plan. When `shutdown` resolves first
/// (SIGTERM, SIGINT) the work is dropped, which stops buildx; cleanup runs
/// either way.
pub async fn run(plan: &Plan, tools: &Tools, log: &Log, shutdown: impl std::future::Future<Output = &'static str>) -> Result<Report> {
    let daemon = Daemon::connect()?;
    let registry = Registry::new(&plan.insecure_registries, &plan.credentials, &plan.images);
    let config = DockerConfig::create(&plan.credentials)?;
    let buildx = Buildx::new(tools.buildx.clone(), &config, plan.options.env());
    let created_builder = tokio::sync::Mutex::new(None);

    let work = async {
        if let Mode::Merge { digests, dir, required } = &plan.mode {
            return merge(plan, tools, &registry, &daemon, digests, dir, required, log).await;
        }
        log.group("Preflight, registries, builder and QEMU");
        let setup = tokio::try_join!(
            preflight(plan, &registry, log),
            check_registries(plan, &registry, log),
            start_builder(plan, tools, &daemon, &buildx, &created_builder, log)
        );
        let (rewrites, held_back, (builder, builder_note)) = match setup {
            Ok(done) => done,
            Err(error) => {
                log.end_group();
                return Err(error);
            }
        };
        let held: Vec<String> = held_back.iter().map(|(t, _)| t.clone()).collect();

        let metadata_file = config.path().join("metadata.json");
        let layout_dir = plan.push.then(|| config.path().join("layout"));
        let args = plan.buildx_build_args(&builder, &metadata_file, layout_dir.as_deref());
        let (exported_tx, exported_rx) = tokio::sync::watch::channel(None);
        let building = build(plan, Outside { tools, daemon: &daemon, buildx: &buildx }, &builder, &args, exported_tx, log);
        let (built, uploaded) = match layout_dir.as_deref() {
            Some(dir) => build_while_uploading(building, upload_exported_blobs(plan, &registry, dir, exported_rx)).await,
            None => (building.await, None),
        };
        let (emulation, progress) = built?;
        let metadata = match std::fs::read_to_string(&metadata_file) {
            Ok(text) => BuildMetadata::parse(&text)?,
            Err(_) => BuildMetadata { digest: None, raw: serde_json::json!({}) },
        };
        let (timings, slowest) = progress::timings(&progress.steps(), &emulation.emulated, 5);
        for finding in crate::preflight::measured_under_qemu(&rewrites, &timings) {
            let file = Some(plan.dockerfile.display().to_string());
            log.annotation(Annotation {
                level: Level::Notice,
                message: finding.message,
                title: Some(finding.title),
                file,
                line: Some(finding.line),
            });
        }
        log.info(&format!("buildx solve: {:.2}s", progress::solve_seconds(&progress.steps())));

        let mut report = Report {
            metadata: metadata.raw.clone(),
            held_back,
            builder_note: builder_note.clone(),
            emulated: emulation.emulated.iter().map(Platform::to_string).collect(),
            timings,
            slowest,
            ..Default::default()
        };
        if plan.export.is_some() || plan.load {
            log.group("Export");
            let exported = export(plan, &buildx, &builder, &held, log).await;
            log.end_group();
            report.exported = exported?;
        }
        let Some(layout_dir) = layout_dir else { return Ok(report) };

        let layout = Layout::open(&layout_dir)?;
        let order = layout.push_order()?;
        let digest = order.root.digest.clone();
        let (platform_images, attestations, notes) = push_and_verify(plan, &registry, &layout, &order, uploaded, log).await?;
        report.digest = Some(digest.clone());
        report.attestations = attestations;
        report.verify_notes = notes;
        if plan.smoke_test.is_some() && !emulation.deferred.is_empty() {
            // The build may not have run anything on the platforms the
            // builder does not list (all cached); the smoke test does.
            install_missing_emulators(plan, &daemon, emulation.deferred.clone(), &tools.run_name, log).await?;
        }
        smoke_test(plan, tools, &daemon, &platform_images, &mut report, log).await?;
        report.platform_images = platform_images;

        if let Mode::Digest { dir } = &plan.mode {
            let file = write_digest_file(dir, &plan.platforms[0], &digest)?;
            log.info(&format!("{} pushed untagged as {digest}; wrote {}", plan.platforms[0], file.display()));
            return Ok(report);
        }
        log.group("Tag");
        let body = layout.read_blob(&order.root.digest)?;
        let tagged = tag_everywhere(plan, &registry, &order.root, &body, &held, log).await;
        log.end_group();
        report.pushed_references = tagged?;
        Ok(report)
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = shutdown => {
            log.end_group();
            Err(anyhow::anyhow!("cancelled by {signal}: the build was stopped; tags that were not yet pushed were not pushed"))
        }
    };

    if let (Ok(report), Some(notes)) = (&outcome, &plan.release_notes) {
        publish_release_notes(plan, notes, report, log).await;
    }

    daemon.remove_labelled(RUN_LABEL, &tools.run_name).await;
    if let Some(name) = created_builder.lock().await.take()
        && let Err(error) = buildx.remove_builder(&name).await
    {
        log.warning(&format!("could not remove the builder {name}: {error:#}"));
    }
    if let Err(error) = config.remove() {
        log.warning(&format!("{error:#}"));
    }
    outcome
}

/// Adds the image section to the release's notes; any failure is a warning,
/// since the image is already pushed.
async fn publish_release_notes(plan: &Plan, notes: &crate::plan::ReleaseNotes, report: &Report, log: &Log) {
    let Some(digest) = &report.digest else { return };
    let section = crate::github::ImageSection {
        reference: plan.images[0].with_digest(digest),
        tags: report.pushed_references.clone(),
        platforms: report.platform_images.iter().map(|i| (i.platform.to_string(), i.digest.clone())).collect(),
    };
    match crate::github::publish_release_notes(&notes.api_url, &notes.token.0, &notes.repository, notes.release_id, &section).await {
        Ok(crate::github::Outcome::Updated { release_id }) => log.info(&format!("release notes: added the image to release {release_id}")),
        Ok(crate::github::Outcome::NoPermission(warning)) => log.warning(&warning),
        Ok(crate::github::Outcome::NotARelease) => {}
        Err(error) => log.warning(&format!("{error:#}; the image is pushed, only the release notes were not updated")),
    }
}

/// Runs the smoke test, when there is one, in every platform's image of
/// the first image; any non-zero exit fails the run before tagging.
async fn smoke_test(plan: &Plan, tools: &Tools, daemon: &Daemon, images: &[PlatformImage], report: &mut Report, log: &Log) -> Result<()> {
    let Some(command) = &plan.smoke_test else { return Ok(()) };
    log.group(&format!("Smoke test: {}", command.join(" ")));
    let labels: HashMap<String, String> = [(RUN_LABEL.to_string(), tools.run_name.clone())].into();
    let results = verify::smoke_tests(daemon, &plan.images[0], images, command, &plan.credentials, &labels).await;
    log.end_group();
    let results = results?;
    for result in &results {
        log.info(&format!("{}: exit {}\n{}", result.platform, result.run.exit_code, result.run.output.trim_end()));
    }
    let failed: Vec<String> =
        results.iter().filter(|r| r.run.exit_code != 0).map(|r| format!("{} (exit {})", r.platform, r.run.exit_code)).collect();
    report.smoke = results;
    if !failed.is_empty() {
        bail!("smoke-test: `{}` failed on {}; see its output above; no tag was pushed", command.join(" "), failed.join(", "));
    }
    Ok(())
}

/// Writes the digest of a `mode: digest` run to `dir/<platform>`.
fn write_digest_file(dir: &std::path::Path, platform: &Platform, digest: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("digests-dir: could not create {}", dir.display()))?;
    let file = dir.join(platform.slug());
    std::fs::write(&file, format!("{digest}\n")).with_context(|| format!("digests-dir: could not write {}", file.display()))?;
    Ok(file)
}

/// The digests a merge combines: the `digests` input, else every file in
/// `digests-dir`.
pub fn read_digests(given: &[String], dir: &std::path::Path) -> Result<Vec<String>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!("digests-dir: {} cannot be read; download the digest artifacts there, or list them in `digests`", dir.display())
    })?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    let mut digests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).with_context(|| format!("digests-dir: could not read {}", file.display()))?;
        let digest = text.trim().to_string();
        if !crate::plan::is_digest(&digest) {
            bail!("digests-dir: {} does not hold a digest (sha256:<64 hex digits>)", file.display());
        }
        if !digests.contains(&digest) {
            digests.push(digest);
        }
    }
    if digests.is_empty() {
        bail!("digests: none given and {} holds no digest files; run `mode: digest` first and download its artifacts there", dir.display());
    }
    Ok(digests)
}

/// `mode: merge`: one index from per-platform digests, pushed to every
/// image, verified, then tagged.
#[allow(clippy::too_many_arguments)]
async fn merge(
    plan: &Plan,
    tools: &Tools,
    registry: &Registry,
    daemon: &Daemon,
    given: &[String],
    dir: &std::path::Path,
    required: &[Platform],
    log: &Log,
) -> Result<Report> {
    let digests = read_digests(given, dir)?;
    log.group("Registries");
    let held_back = check_registries(plan, registry, log).await;
    log.end_group();
    let held_back = held_back?;
    let held: Vec<String> = held_back.iter().map(|(t, _)| t.clone()).collect();
    let source = &plan.images[0];

    log.group(&format!("Merge {} digest(s)", digests.len()));
    let mut entries = Vec::new();
    for digest in &digests {
        let found = registry
            .merge_entries(source, digest)
            .await
            .map_err(|e| anyhow::anyhow!("digests: {digest} is not in {}: {e:#}", source.name))?;
        entries.extend(found);
    }
    crate::registry::copy::check_merge(&entries, required)?;
    let annotations: Vec<(String, String)> = plan
        .meta
        .annotations
        .iter()
        .filter(|a| a.level == crate::meta::AnnotationLevel::Index)
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect();
    let (body, root) = crate::registry::copy::merged_index(&entries, &annotations);
    for image in &plan.images {
        if image != source {
            for entry in &entries {
                if !registry.has_manifest(image, &entry.descriptor.digest).await {
                    registry.copy_manifest(source, image, &entry.descriptor.digest).await?;
                }
            }
        }
        registry.put_manifest(image, &root.digest, &root, body.clone()).await?;
        log.info(&format!(
            "{}@{}: index of {}",
            image.name,
            root.digest,
            entries.iter().filter_map(|e| e.platform.as_ref()).map(Platform::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    log.end_group();

    let platforms: Vec<Platform> = entries.iter().filter_map(|e| e.platform.clone()).collect();
    log.group("Verify the merged image");
    let verified = verify(plan, registry, &root.digest, &platforms, log).await;
    log.end_group();
    let (platform_images, attestations, notes) = verified?;
    let mut report = Report {
        digest: Some(root.digest.clone()),
        metadata: serde_json::json!({ "containerimage.digest": root.digest, "merged": digests }),
        held_back,
        attestations,
        verify_notes: notes,
        builder_note: "no build: merged from per-platform digests".into(),
        ..Default::default()
    };
    smoke_test(plan, tools, daemon, &platform_images, &mut report, log).await?;
    report.platform_images = platform_images;
    log.group("Tag");
    let tagged = tag_everywhere(plan, registry, &root, &body, &held, log).await;
    log.end_group();
    report.pushed_references = tagged?;
    Ok(report)
}

/// Runs the build, with every requested platform made runnable: with the
/// daemon's BuildKit the build starts while emulation is checked (the buildx
/// client takes a while to reach its first step) and its log is held until
/// the check is done; an emulator found missing is installed and the build
/// run again. Closes the set-up log group and opens the build's.
async fn build(
    plan: &Plan,
    outside: Outside<'_>,
    builder: &Builder,
    args: &[String],
    exported: tokio::sync::watch::Sender<Option<String>>,
    log: &Log,
) -> Result<(Emulation, Progress)> {
    let Outside { tools, daemon, buildx } = outside;
    let build_group = format!("Build {} for {}", plan.images[0].name, platform::join(&plan.platforms));
    let lines = HeldLines::holding(log);
    let mut progress = Progress::default();
    let emulation = prepare_emulation(plan, tools, daemon, buildx, builder, log);
    let (emulation, built) = if build_may_start_early(plan, builder) {
        let early_build = Box::pin(build_with_retries(buildx, args, &mut progress, &lines, &exported, log));
        let (emulation, build) = alongside(emulation, early_build).await;
        log.end_group();
        let emulation = emulation?;
        log.group(&build_group);
        if emulation.installed.is_empty() {
            lines.release();
            let built = match build {
                Ok(done) => done,
                Err(under_way) => under_way.await,
            };
            (emulation, built)
        } else {
            drop(build);
            lines.discard();
            lines.release();
            log.info(&format!(
                "starting the build again now that {} can run (it had started before the emulators were installed)",
                platform::join(&emulation.installed)
            ));
            progress = Progress::default();
            let built = build_with_retries(buildx, args, &mut progress, &lines, &exported, log).await;
            (emulation, built)
        }
    } else {
        let emulation = emulation.await;
        log.end_group();
        let emulation = emulation?;
        log.group(&build_group);
        lines.release();
        let built = build_with_retries(buildx, args, &mut progress, &lines, &exported, log).await;
        (emulation, built)
    };
    let built = match built {
        Err(error) if !emulation.unconfirmed.is_empty() => {
            log.info(&format!("the build failed; asking the QEMU installer whether {} can run", platform::join(&emulation.unconfirmed)));
            match install_missing_emulators(plan, daemon, emulation.unconfirmed.clone(), &tools.run_name, log).await {
                Ok(installed) if !installed.is_empty() => {
                    log.info(&format!("starting the build again now that {} can run", platform::join(&installed)));
                    progress = Progress::default();
                    build_with_retries(buildx, args, &mut progress, &lines, &exported, log).await
                }
                Ok(_) => Err(error),
                Err(asking) => {
                    log.warning(&format!("could not ask the QEMU installer: {asking:#}"));
                    Err(error)
                }
            }
        }
        other => other,
    };
    log.end_group();
    built?;
    Ok((emulation, progress))
}

/// Runs the build while the blobs it exported are uploaded (buildx takes a
/// while to finish after its export step). The build owns the sender of
/// the exported root, so when it ends an upload that never began ends too;
/// one under way is finished. A failed upload counts as none (the push after
/// the build does it again).
async fn build_while_uploading<T, B, U>(building: B, uploading: U) -> (Result<T>, Option<(String, Vec<(String, PushStats)>)>)
where
    B: std::future::Future<Output = Result<T>>,
    U: std::future::Future<Output = Result<(String, Vec<(String, PushStats)>)>>,
{
    let (built, upload) = alongside(building, Box::pin(uploading)).await;
    let uploaded = match upload {
        Ok(done) => done.ok(),
        Err(under_way) if built.is_ok() => under_way.await.ok(),
        Err(_) => None,
    };
    (built, uploaded)
}

/// Drives `main` to its end while `side` runs alongside; returns main's
/// output and side's: finished, or still under way.
async fn alongside<M, S>(main: M, mut side: std::pin::Pin<Box<S>>) -> (M::Output, Result<S::Output, std::pin::Pin<Box<S>>>)
where
    M: std::future::Future,
    S: std::future::Future,
{
    let mut main = std::pin::pin!(main);
    let mut side_done = None;
    let out = loop {
        tokio::select! {
            out = &mut main => break out,
            done = &mut side, if side_done.is_none() => side_done = Some(done),
        }
    };
    (out, side_done.ok_or(side))
}

/// Runs the build, again when it failed on a transient registry answer
/// (the build cache makes a repeat cheap).
async fn build_with_retries(
    buildx: &Buildx,
    args: &[String],
    progress: &mut Progress,
    lines: &HeldLines<'_>,
    exported: &tokio::sync::watch::Sender<Option<String>>,
    log: &Log,
) -> Result<()> {
    const ATTEMPTS: u32 = 3;
    let mut attempt = 1;
    loop {
        let result = buildx
            .build(args, |line| {
                for rendered in progress.feed(line) {
                    lines.emit(&rendered);
                }
                if let Some(root) = progress.exported_root()
                    && exported.borrow().as_deref() != Some(root)
                {
                    exported.send_replace(Some(root.to_string()));
                }
            })
            .await;
        match result {
            Err(error) if attempt < ATTEMPTS && retry::build_failure_transience(&format!("{error:#}")) == retry::Transience::Transient => {
                attempt += 1;
                log.warning(&format!("the build met a transient registry failure ({error:#}); trying again (try {attempt} of {ATTEMPTS})"));
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}

/// Pushes the layout by digest to every image and verifies what the
/// registry holds: the index read back, every platform in it, configs and
/// the architecture scan of every layer (read back while the manifests are
/// stored). No tag is touched.
async fn push_and_verify(
    plan: &Plan,
    registry: &Registry,
    layout: &Layout,
    order: &PushOrder,
    uploaded: Option<(String, Vec<(String, PushStats)>)>,
    log: &Log,
) -> Result<(Vec<PlatformImage>, Vec<Attestation>, Vec<String>)> {
    let digest = &order.root.digest;
    log.group(&format!("Push {digest} by digest"));
    let (stats, when) = match uploaded {
        Some((root, stats)) if &root == digest => (Ok(stats), " while buildx finished"),
        _ => (push_blobs_everywhere(plan, registry, layout, order).await, ""),
    };
    let stats = match stats {
        Ok(stats) => stats,
        Err(error) => {
            log.end_group();
            return Err(error);
        }
    };
    for (name, stats) in stats {
        log.info(&format!(
            "{name}: uploaded {} blob(s), {:.1} MB{when}; {} already there",
            stats.uploaded,
            stats.bytes as f64 / 1e6,
            stats.skipped
        ));
    }
    // The layers are in the registry: the architecture scan reads them
    // back while the manifests are stored and read back.
    let built_images = layout.platform_images()?;
    let scan = scan_layers(plan, registry, &built_images);
    let stored_and_read = async {
        let stored = push_manifests_everywhere(plan, registry, layout, order).await;
        log.end_group();
        stored?;
        log.group("Verify the pushed image");
        read_pushed(registry, &plan.images[0], digest, &plan.platforms, &built_images, log).await
    };
    let (read, scanned) = tokio::join!(stored_and_read, scan);
    let judged = read.and_then(|(platform_images, attestations)| {
        let notes = judge(plan, &platform_images, scanned?, log)?;
        Ok((platform_images, attestations, notes))
    });
    log.end_group();
    judged
}

/// Uploads the layout's blobs to every image's repository, concurrently;
/// what each upload did, by image.
async fn push_blobs_everywhere(plan: &Plan, registry: &Registry, layout: &Layout, order: &PushOrder) -> Result<Vec<(String, PushStats)>> {
    let pushes =
        plan.images.iter().map(|image| async move { anyhow::Ok((image.name.clone(), registry.push_blobs(layout, order, image).await?)) });
    futures_util::future::try_join_all(pushes).await
}

/// Uploads the blobs of the image the exporter reported, once it has, while
/// buildx is still finishing; the pushed root and what each upload did.
/// Nothing is stored but blobs: manifests follow once the build succeeded.
async fn upload_exported_blobs(
    plan: &Plan,
    registry: &Registry,
    layout_dir: &std::path::Path,
    mut exported: tokio::sync::watch::Receiver<Option<String>>,
) -> Result<(String, Vec<(String, PushStats)>)> {
    let root = loop {
        if let Some(root) = exported.borrow_and_update().clone() {
            break root;
        }
        exported.changed().await.context("the build ended")?;
    };
    let layout = Layout::being_written(layout_dir);
    let order = layout.push_order_of(&root)?;
    Ok((root, push_blobs_everywhere(plan, registry, &layout, &order).await?))
}

/// Stores the layout's manifests, by digest, in every image's repository.
async fn push_manifests_everywhere(plan: &Plan, registry: &Registry, layout: &Layout, order: &PushOrder) -> Result<()> {
    let pushes = plan.images.iter().map(|image| registry.push_manifests(layout, order, image));
    futures_util::future::try_join_all(pushes).await?;
    Ok(())
}

/// Points every tag of every image at the pushed index, then checks each
/// resolves to it. On a failure, says which tags were set and which not.
async fn tag_everywhere(
    plan: &Plan,
    registry: &Registry,
    root: &Descriptor,
    body: &[u8],
    held: &[String],
    log: &Log,
) -> Result<Vec<String>> {
    let wanted = plan.references(held);
    // Each image's tags are set concurrently; images one after another.
    let mut pushed: Vec<String> = Vec::new();
    for image in &plan.images {
        let sets = plan.tag_names(held).map(|tag| async move {
            let reference = image.with_tag(tag);
            let result = async {
                registry.put_manifest(image, tag, root, body.to_vec()).await?;
                let found = registry.resolve(image, tag).await?;
                if found != root.digest {
                    bail!("{reference} resolves to {found}, not to the pushed {}", root.digest);
                }
                anyhow::Ok(())
            }
            .await;
            (reference, result)
        });
        let mut failure = None;
        for (reference, result) in futures_util::future::join_all(sets).await {
            match result {
                Ok(()) => {
                    log.info(&format!("{reference} → {}", root.digest));
                    pushed.push(reference);
                }
                Err(error) => failure = failure.or(Some((reference, error))),
            }
        }
        if let Some((reference, error)) = failure {
            let missing: Vec<&str> = wanted.iter().filter(|r| !pushed.contains(r)).map(String::as_str).collect();
            bail!(
                "tagging failed at {reference}: {error:#}. Pushed: {}. Not pushed: {}",
                if pushed.is_empty() { "none".to_string() } else { pushed.join(", ") },
                missing.join(", ")
            );
        }
    }
    Ok(pushed)
}

/// The index holds every requested platform, each config declares its
/// platform, and no layer carries a binary of another architecture.
/// Returns the platform images, the attestations, and the problems that
/// `verify: warn` let pass.
async fn verify(
    plan: &Plan,
    registry: &Registry,
    digest: &str,
    required: &[Platform],
    log: &Log,
) -> Result<(Vec<PlatformImage>, Vec<Attestation>, Vec<String>)> {
    let (platform_images, attestations) = read_pushed(registry, &plan.images[0], digest, required, &[], log).await?;
    let scanned = scan_layers(plan, registry, &platform_images).await?;
    let notes = judge(plan, &platform_images, scanned, log)?;
    Ok((platform_images, attestations, notes))
}

/// Reads the pushed index back: every required platform must be in it.
/// Platform images in `known` (read from the pushed layout) are not read
/// from the registry again.
async fn read_pushed(
    registry: &Registry,
    image: &crate::plan::ImageName,
    digest: &str,
    required: &[Platform],
    known: &[PlatformImage],
    log: &Log,
) -> Result<(Vec<PlatformImage>, Vec<Attestation>)> {
    let (platform_images, attestations) = registry.platform_images(image, digest, known).await?;
    let missing: Vec<String> =
        required.iter().filter(|p| !platform_images.iter().any(|i| &i.platform == *p)).map(Platform::to_string).collect();
    if !missing.is_empty() {
        bail!("verify: the pushed index {digest} lacks {}; no tag was pushed", missing.join(", "));
    }
    for image in &platform_images {
        log.info(&format!("{} → {}", image.platform, image.digest));
    }
    Ok((platform_images, attestations))
}

/// What the architecture scan found, and how many layers it read in how long.
struct LayerScan {
    foreign: Vec<verify::ForeignBinary>,
    layers: usize,
    seconds: f64,
}

/// Streams every layer of `images` from the registry through the
/// architecture scan (nothing when `verify: false`).
async fn scan_layers(plan: &Plan, registry: &Registry, images: &[PlatformImage]) -> Result<Option<LayerScan>> {
    if plan.verify == CheckLevel::Off {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let foreign = verify::scan_architectures(registry, &plan.images[0], images).await?;
    Ok(Some(LayerScan { foreign, layers: images.iter().map(|i| i.layers.len()).sum(), seconds: started.elapsed().as_secs_f64() }))
}

/// Weighs configs and scan: fails (`verify: true`) or warns (`warn`);
/// returns the problems that were let through.
fn judge(plan: &Plan, platform_images: &[PlatformImage], scanned: Option<LayerScan>, log: &Log) -> Result<Vec<String>> {
    let Some(scan) = scanned else { return Ok(Vec::new()) };
    let mut problems = verify::config_mismatches(platform_images);
    log.info(&format!("architecture scan of {} layers: {} foreign binaries ({:.2}s)", scan.layers, scan.foreign.len(), scan.seconds));
    problems.extend(scan.foreign.iter().take(20).map(ToString::to_string));
    if scan.foreign.len() > 20 {
        problems.push(format!("… and {} more binaries of another architecture", scan.foreign.len() - 20));
    }
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    if plan.verify == CheckLevel::Fail {
        bail!(
            "verify: {}; a binary of another architecture fails with `exec format error` at run time; no tag was pushed (set `verify: warn` to publish anyway)",
            problems.join("; ")
        );
    }
    for problem in &problems {
        log.warning(&format!("verify: {problem}"));
    }
    Ok(problems)
}

/// Saves the image as files (`export`) and loads the native platform into
/// the daemon (`load`); both are answered from the build cache.
async fn export(plan: &Plan, buildx: &Buildx, builder: &Builder, held: &[String], log: &Log) -> Result<Vec<PathBuf>> {
    let tag = plan.references(held).into_iter().next();
    if plan.load {
        let host = Platform::host();
        buildx.build(&plan.buildx_output_args(builder, std::slice::from_ref(&host), "type=docker", tag.as_deref()), |l| log.raw(l)).await?;
        log.info(&format!("loaded {} for {host} into the daemon", tag.as_deref().unwrap_or(&plan.images[0].name)));
    }
    let Some(format) = plan.export else { return Ok(Vec::new()) };
    let dir = &plan.export_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("export-dir: could not create {}", dir.display()))?;
    let stem = plan.images[0].repository.replace('/', "-");
    let kind = match format {
        ExportFormat::Docker => "docker",
        ExportFormat::Oci => "oci",
    };
    let mut files = Vec::new();
    for platform in &plan.platforms {
        let file = dir.join(format!("{stem}-{}.tar", platform.slug()));
        let output = format!("type={kind},dest={}", file.display());
        buildx.build(&plan.buildx_output_args(builder, std::slice::from_ref(platform), &output, tag.as_deref()), |l| log.raw(l)).await?;
        files.push(file);
    }
    let all = dir.join(format!("{stem}.oci.tar"));
    let output = format!("type=oci,dest={}", all.display());
    buildx.build(&plan.buildx_output_args(builder, &plan.platforms, &output, tag.as_deref()), |l| log.raw(l)).await?;
    files.push(all);
    let sums = checksums(&files)?;
    let sums_file = dir.join("SHA256SUMS");
    std::fs::write(&sums_file, sums).with_context(|| format!("could not write {}", sums_file.display()))?;
    for file in &files {
        log.info(&format!("exported {}", file.display()));
    }
    files.push(sums_file);
    Ok(files)
}

/// `SHA256SUMS` lines (`digest  name`) for the files, as `sha256sum -c` reads them.
fn checksums(files: &[PathBuf]) -> Result<String> {
    use sha2::Digest as _;
    let mut text = String::new();
    for file in files {
        let mut hasher = sha2::Sha256::new();
        let mut reader = std::fs::File::open(file).with_context(|| format!("could not open {}", file.display()))?;
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let read = std::io::Read::read(&mut reader, &mut chunk).with_context(|| format!("could not read {}", file.display()))?;
            if read == 0 {
                break;
            }
            hasher.update(&chunk[..read]);
        }
        let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        text.push_str(&format!("{digest}  {name}\n"));
    }
    Ok(text)
}

/// The plan as `--dry-run` prints it, with floating tags checked against the
/// registry's existing tags where it can be read (reading changes nothing).
pub async fn dry_run(plan: &Plan, log: &Log) -> String {
    let registry = Registry::new(&plan.insecure_registries, &plan.credentials, &plan.images);
    let lookup = tokio::time::timeout(std::time::Duration::from_secs(15), held_back_tags(plan, &registry, log)).await;
    let mut text = match lookup {
        Ok(Ok(held)) => plan.describe(&held),
        Ok(Err(error)) => format!("{}(floating tags not checked: {error:#})\n", plan.describe(&[])),
        Err(_) => format!("{}(floating tags not checked: the registry did not answer)\n", plan.describe(&[])),
    };
    text.insert_str(0, "dry run: nothing is built or pushed\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::RawInputs;
    use crate::runner::GithubContext;

    fn plan(pairs: &[(&str, &str)]) -> Plan {
        let mut all = vec![("images", "registry.example.com:5000/acme/app"), ("version", "1.0.0")];
        all.extend_from_slice(pairs);
        let raw = RawInputs::from_pairs(all.into_iter().map(|(k, v)| (k, v.to_string()))).unwrap();
        Plan::new(&raw, &GithubContext::default()).unwrap()
    }

    fn facts(containerd_store: bool) -> DaemonFacts {
        DaemonFacts { version: "26.1.5".into(), containerd_store }
    }

    #[test]
    fn the_builder_is_chosen_for_the_job_and_says_why() {
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, Result<&'a str, &'a str>);
        let cases: &[Case] = &[
            (&[], true, Ok("default")),
            (&[], false, Ok("run-1")),
            (&[("platforms", "linux/amd64")], false, Ok("default")),
            (&[("driver", "docker-container")], true, Ok("run-1")),
            (&[("driver-opts", "network=host")], true, Ok("run-1")),
            (&[("cache-to", "type=gha"), ("platforms", "linux/amd64")], false, Ok("run-1")),
            (&[("cache-to", "type=gha"), ("platforms", "linux/amd64")], true, Ok("default")),
            (
                &[("cache-to", "type=gha"), ("driver", "docker"), ("platforms", "linux/amd64")],
                false,
                Err("cache-to: the daemon's own BuildKit cannot export cache"),
            ),
            (&[("driver", "docker")], false, Err("driver: `docker` cannot build 2 platforms")),
        ];
        for (inputs, containerd, expected) in cases {
            let result = choose_builder(&plan(inputs), &facts(*containerd), "run-1");
            match (result, expected) {
                (Ok((builder, why)), Ok(name)) => {
                    assert_eq!(builder.name(), *name, "{inputs:?} containerd={containerd}");
                    assert!(!why.is_empty());
                }
                (Err(error), Err(start)) => assert!(error.to_string().starts_with(start), "{inputs:?}: {error}"),
                (other, _) => panic!("{inputs:?} containerd={containerd}: {other:?}"),
            }
        }
    }

    #[test]
    fn merge_reads_digests_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = format!("sha256:{}", "a".repeat(64));
        std::fs::write(dir.path().join("linux-amd64"), format!("{a}\n")).unwrap();
        assert_eq!(read_digests(&[], dir.path()).unwrap(), vec![a.clone()]);
        assert_eq!(read_digests(&["x".into()], dir.path()).unwrap(), vec!["x".to_string()], "the input wins");
        std::fs::write(dir.path().join("linux-arm64"), "not a digest").unwrap();
        assert!(read_digests(&[], dir.path()).unwrap_err().to_string().starts_with("digests-dir: "));
        let empty = tempfile::tempdir().unwrap();
        assert!(read_digests(&[], empty.path()).unwrap_err().to_string().starts_with("digests: none given"));
    }
}
