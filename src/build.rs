//! The build phase: `buildx build` with every requested platform made
//! runnable (emulation is checked while the build starts), run again on a
//! transient registry failure. A failure is annotated on its Dockerfile
//! line, and so is each of BuildKit's warnings.

use anyhow::Result;

use crate::buildx::Buildx;
use crate::buildx::progress::{Progress, SourcePlace};
use crate::concurrent::{HeldLines, alongside};
use crate::emulation::{self, Emulation};
use crate::log::{Group, Log};
use crate::outside::Outside;
use crate::plan::{Build, Builder, RunSettings};
use crate::platform::{self, Platform};
use crate::retry;
use crate::runner::{Annotation, Level};

/// What a finished build leaves: how emulation was set up, and the build's
/// progress (steps and timings).
pub(crate) struct Built {
    pub emulation: Emulation,
    pub progress: Progress,
}

/// Runs the build, with every requested platform made runnable: with the
/// daemon's BuildKit the build starts while emulation is checked (the buildx
/// client takes a while to reach its first step) and its log is held until
/// the check is done; an emulator found missing is installed and the build
/// run again. Closes the set-up log group (`setup_group`) once emulation is
/// ready, and runs the build in a group of its own.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    builder: &Builder,
    emulated: &[Platform],
    args: &[String],
    setup_group: Group<'_>,
    log: &Log,
) -> Result<Built> {
    let buildx = &outside.buildx;
    let build_group =
        format!("Build {} for {}", build.image().name, platform::join(build.platforms()));
    let lines = HeldLines::holding(log);
    let mut progress = Progress::default();
    let emulation =
        emulation::prepare(run.qemu(), build.platforms(), outside, builder, emulated, log);
    let (emulation, built, _build_group) = if emulation::build_may_start_early(run.qemu(), builder)
    {
        let early_build = Box::pin(build_with_retries(buildx, args, &mut progress, &lines, log));
        let (emulation, build) = alongside(emulation, early_build).await;
        drop(setup_group);
        let emulation = emulation?;
        let _build_group = log.open_group(&build_group);
        if emulation.installed.is_empty() {
            lines.release();
            let built = match build {
                Ok(done) => done,
                Err(under_way) => under_way.await,
            };
            (emulation, built, _build_group)
        } else {
            drop(build);
            lines.discard();
            lines.release();
            log.info(&format!(
                "starting the build again now that {} can run (it had started before the emulators were installed)",
                platform::join(&emulation.installed)
            ));
            progress = Progress::default();
            let built = build_with_retries(buildx, args, &mut progress, &lines, log).await;
            (emulation, built, _build_group)
        }
    } else {
        let emulation = emulation.await;
        drop(setup_group);
        let emulation = emulation?;
        let _build_group = log.open_group(&build_group);
        lines.release();
        let built = build_with_retries(buildx, args, &mut progress, &lines, log).await;
        (emulation, built, _build_group)
    };
    let built = match built {
        // Only a step that could not run its platform's programs sends the
        // run to the QEMU installer; any other failure is the build's own.
        Err(error) if !emulation.unconfirmed.is_empty() && progress.saw_emulation_failure() => {
            log.info(&format!(
                "the build failed; asking the QEMU installer whether {} can run",
                platform::join(&emulation.unconfirmed)
            ));
            match emulation::install_missing(
                run.qemu(),
                &outside.daemon,
                emulation.unconfirmed.clone(),
                &outside.tools.run_name,
                log,
            )
            .await
            {
                Ok(installed) if !installed.is_empty() => {
                    log.info(&format!(
                        "starting the build again now that {} can run",
                        platform::join(&installed)
                    ));
                    progress = Progress::default();
                    build_with_retries(buildx, args, &mut progress, &lines, log).await
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
    annotate(build, &progress, built.is_err(), log);
    built?;
    Ok(Built { emulation, progress })
}

/// BuildKit's warnings, and the failure when the build failed, as
/// annotations on the Dockerfile lines they concern. A build from the
/// action's cross-compiling copy is not the user's Dockerfile, line for
/// line: its failure is a log line, and the build as written follows.
fn annotate(build: &Build, progress: &Progress, failed: bool, log: &Log) {
    if build.cross_compiled_from().is_some() {
        if failed {
            log.info(&format!("the cross-compiling build failed: {}", progress.failure().message));
        }
        return;
    }
    let on_line = |level: Level, message: &str, place: &Option<SourcePlace>| {
        let mut annotation = Annotation::new(level, message);
        if let Some(SourcePlace { file, line }) = place {
            annotation.file = Some(workspace_path(build, file));
            annotation.line = Some(*line);
        }
        annotation
    };
    for warning in progress.warnings() {
        log.annotation(on_line(Level::Warning, &warning.message, &warning.place));
    }
    let failure = progress.failure();
    if failed && failure.place.is_some() {
        let mut annotation = on_line(Level::Error, &failure.message, &failure.place);
        annotation.title = Some("build failed".into());
        log.annotation(annotation);
    }
}

/// BuildKit names the Dockerfile by its file name; annotations name it
/// relative to the workspace, as the plan does.
fn workspace_path(build: &Build, file: &str) -> String {
    match build.dockerfile().file_name() {
        Some(name) if name.to_string_lossy() == file => build.dockerfile().display().to_string(),
        _ => file.to_string(),
    }
}

/// Runs the build, again when it failed on a transient registry answer
/// (the build cache makes a repeat cheap).
async fn build_with_retries(
    buildx: &Buildx,
    args: &[String],
    progress: &mut Progress,
    lines: &HeldLines<'_>,
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
            })
            .await;
        match result {
            Err(error)
                if attempt < ATTEMPTS
                    && retry::build_failure_transience(&format!("{error:#}"))
                        == retry::Transience::Transient =>
            {
                attempt += 1;
                log.warning(&format!("the build met a transient registry failure ({error:#}); trying again (try {attempt} of {ATTEMPTS})"));
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}
