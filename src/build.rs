//! The build phase: `buildx build` with every requested platform made
//! runnable (emulation is checked while the build starts), run again on a
//! transient registry failure.

use anyhow::Result;

use crate::buildx::Buildx;
use crate::buildx::progress::Progress;
use crate::concurrent::{HeldLines, alongside};
use crate::emulation::{self, Emulation};
use crate::log::{Group, Log};
use crate::outside::Outside;
use crate::plan::{Builder, Plan};
use crate::platform::{self, Platform};
use crate::retry;

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
    plan: &Plan,
    outside: &Outside<'_>,
    builder: &Builder,
    emulated: &[Platform],
    args: &[String],
    setup_group: Group<'_>,
    log: &Log,
) -> Result<Built> {
    let buildx = &outside.buildx;
    let build_group = format!("Build {} for {}", plan.images[0].name, platform::join(&plan.platforms));
    let lines = HeldLines::holding(log);
    let mut progress = Progress::default();
    let emulation = emulation::prepare(plan, outside, builder, emulated, log);
    let (emulation, built, _build_group) = if emulation::build_may_start_early(plan, builder) {
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
        Err(error) if !emulation.unconfirmed.is_empty() => {
            log.info(&format!("the build failed; asking the QEMU installer whether {} can run", platform::join(&emulation.unconfirmed)));
            match emulation::install_missing(plan, &outside.daemon, emulation.unconfirmed.clone(), &outside.tools.run_name, log).await {
                Ok(installed) if !installed.is_empty() => {
                    log.info(&format!("starting the build again now that {} can run", platform::join(&installed)));
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
    built?;
    Ok(Built { emulation, progress })
}

/// Runs the build, again when it failed on a transient registry answer
/// (the build cache makes a repeat cheap).
async fn build_with_retries(buildx: &Buildx, args: &[String], progress: &mut Progress, lines: &HeldLines<'_>, log: &Log) -> Result<()> {
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
            Err(error) if attempt < ATTEMPTS && retry::build_failure_transience(&format!("{error:#}")) == retry::Transience::Transient => {
                attempt += 1;
                log.warning(&format!("the build met a transient registry failure ({error:#}); trying again (try {attempt} of {ATTEMPTS})"));
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}
