//! QEMU emulation, in one room: which requested platforms are emulated
//! (computed once a run), what to do about each from the builder's list
//! (a pure decision with a table test), the installer image's interface
//! (tonistiigi/binfmt: no arguments prints `{"supported":[…],"emulators":[…]}`;
//! `--install ARCHES` registers them), and the set-up phase itself.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::docker::Daemon;
use crate::log::Log;
use crate::outside::{Outside, RUN_LABEL};
use crate::plan::{Builder, QemuMode, QemuSettings};
use crate::platform::{self, Machine, Platform};

/// What the installer reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BinfmtStatus {
    #[serde(default)]
    pub supported: Vec<String>,
    #[serde(default)]
    pub emulators: Vec<String>,
}

impl BinfmtStatus {
    /// Reads the JSON object from the installer's output, which may carry
    /// other lines around it.
    pub fn parse(output: &str) -> Result<BinfmtStatus> {
        let start = output.find('{').context("the QEMU installer printed no JSON status")?;
        let end = start
            + output[start..].rfind('}').context("the QEMU installer printed no JSON status")?;
        serde_json::from_str(&output[start..=end])
            .context("the QEMU installer's status is not the expected JSON")
    }

    pub fn can_run(&self, platform: &Platform) -> bool {
        self.supported.iter().filter_map(|s| Platform::parse(s).ok()).any(|s| platform.runs_on(&s))
    }
}

/// What to do about emulation, decided from the builder's list alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EmulationPlan {
    /// Ask the installer about these now, and install what is missing.
    pub ask_now: Vec<Platform>,
    /// Not listed by the builder; the build tries them first.
    pub deferred: Vec<Platform>,
    /// Emulated platforms the installer is not asked about before the
    /// build; it is asked about them if the build fails.
    pub unconfirmed: Vec<Platform>,
    /// `qemu: false` and the builder does not list these.
    pub unsupported: Vec<Platform>,
}

/// Decides which emulators to make sure of before the build.
///
/// The daemon's own BuildKit (`daemon_builder`) keeps the list of emulators
/// it found when it first looked, and does not list every one (Docker 26
/// from Debian omits arm/v7), so with it the list is a hint: when it names
/// no emulated platform (a machine without QEMU) the installer is asked now
/// about the platforms it lacks; when it names some, QEMU is set up here, so
/// those are left for the build to try. Either way, every emulated platform
/// the installer was not asked about stays unconfirmed. A builder of our own
/// looked just now, and its list is taken as it is.
pub(crate) fn plan_emulation(
    mode: QemuMode,
    daemon_builder: bool,
    builder_platforms: &[Platform],
    requested: &[Platform],
    machine: &Machine,
) -> EmulationPlan {
    let missing: Vec<Platform> = platforms_missing(requested, builder_platforms)
        .into_iter()
        .filter(|p| !machine.runs_natively(p))
        .collect();
    let emulated: Vec<Platform> =
        requested.iter().filter(|p| !machine.runs_natively(p)).cloned().collect();
    match mode {
        QemuMode::Never => EmulationPlan { unsupported: missing, ..EmulationPlan::default() },
        QemuMode::Always => EmulationPlan { ask_now: emulated, ..EmulationPlan::default() },
        QemuMode::Auto if !daemon_builder => {
            EmulationPlan { ask_now: missing, ..EmulationPlan::default() }
        }
        QemuMode::Auto => {
            let lists_emulated = builder_platforms.iter().any(|p| !machine.runs_natively(p));
            if lists_emulated {
                EmulationPlan {
                    deferred: missing,
                    unconfirmed: emulated,
                    ..EmulationPlan::default()
                }
            } else {
                let unconfirmed = emulated.into_iter().filter(|p| !missing.contains(p)).collect();
                EmulationPlan { ask_now: missing, unconfirmed, ..EmulationPlan::default() }
            }
        }
    }
}

/// The requested platforms that none of `available` covers.
pub(crate) fn platforms_missing(requested: &[Platform], available: &[Platform]) -> Vec<Platform> {
    requested.iter().filter(|p| !available.iter().any(|a| p.runs_on(a))).cloned().collect()
}

/// The installer's `--install` argument for these platforms.
pub(crate) fn install_argument(platforms: &[Platform]) -> String {
    let mut arches: Vec<&str> = platforms.iter().map(Platform::installer_arch).collect();
    arches.dedup();
    arches.join(",")
}

/// Runs the installer with no arguments and reads its status.
pub(crate) async fn status(
    daemon: &Daemon,
    image: &str,
    labels: &HashMap<String, String>,
) -> Result<BinfmtStatus> {
    let run = daemon.run_privileged(image, &[], labels).await?;
    if run.exit_code != 0 {
        bail!("the QEMU installer {image} exited with {}: {}", run.exit_code, run.output.trim());
    }
    BinfmtStatus::parse(&run.output)
}

/// Registers emulators for `platforms` and returns the status afterwards.
pub(crate) async fn install(
    daemon: &Daemon,
    image: &str,
    platforms: &[Platform],
    labels: &HashMap<String, String>,
) -> Result<BinfmtStatus> {
    let args = vec!["--install".to_string(), install_argument(platforms)];
    let run = daemon.run_privileged(image, &args, labels).await?;
    if run.exit_code != 0 {
        bail!(
            "the QEMU installer {image} failed to install {} (exit {}): {}",
            args[1],
            run.exit_code,
            run.output.trim()
        );
    }
    status(daemon, image, labels).await
}

/// Which platforms run under emulation and what set-up did about them.
#[derive(Debug, Default)]
pub(crate) struct Emulation {
    /// The requested platforms that are not the machine's own.
    pub emulated: Vec<Platform>,
    /// Emulators this run had to install.
    pub installed: Vec<Platform>,
    /// Emulated platforms the installer was not asked about (it is asked
    /// when the build fails).
    pub unconfirmed: Vec<Platform>,
    /// Of those, the ones the builder does not list and the build was left
    /// to try.
    pub deferred: Vec<Platform>,
}

/// The requested platforms this machine does not run natively; computed
/// once a run and shared by preflight and set-up.
pub(crate) fn emulated_platforms(platforms: &[Platform]) -> Vec<Platform> {
    platforms.iter().filter(|p| !Machine::here().runs_natively(p)).cloned().collect()
}

/// Starts the builder if needed and makes sure every requested platform
/// can run: asks the builder what it runs and, for the rest, the QEMU
/// installer, installing only what is missing.
pub(crate) async fn prepare(
    qemu: &QemuSettings,
    platforms: &[Platform],
    outside: &Outside<'_>,
    builder: &Builder,
    emulated: &[Platform],
    log: &Log,
) -> Result<Emulation> {
    let emulated = emulated.to_vec();
    if emulated.is_empty() && *builder == Builder::Daemon {
        // The daemon's BuildKit runs the machine's own platform; the build
        // itself starts it.
        log.info("QEMU: the builder already runs every requested platform (the machine's own); nothing to install");
        return Ok(Emulation { emulated, ..Emulation::default() });
    }
    let info = outside
        .buildx
        .inspect(builder.name())
        .await
        .with_context(|| format!("could not start the builder `{}`", builder.name()))?;
    log.info(&format!(
        "builder `{}` ({}) runs {}",
        builder.name(),
        info.driver,
        platform::join(&info.platforms)
    ));
    let decided = plan_emulation(
        qemu.mode,
        *builder == Builder::Daemon,
        &info.platforms,
        platforms,
        Machine::here(),
    );
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
    } else if decided.ask_now.is_empty() && qemu.mode == QemuMode::Auto {
        log.info("QEMU: the builder already runs every requested platform; nothing to install");
    }
    let installed = match decided.ask_now.is_empty() {
        true => Vec::new(),
        false => {
            install_missing(qemu, &outside.daemon, decided.ask_now, &outside.tools.run_name, log)
                .await?
        }
    };
    if !emulated.is_empty() {
        log.info(&format!(
            "{} will run under QEMU emulation, typically several times slower than native; a `FROM --platform=$BUILDPLATFORM` stage that cross-compiles avoids it",
            platform::join(&emulated)
        ));
    }
    Ok(Emulation {
        emulated,
        installed,
        unconfirmed: decided.unconfirmed,
        deferred: decided.deferred,
    })
}

/// Asks the QEMU installer which of `wanted` the kernel can run, and
/// registers emulators for the rest (all of `wanted` with `qemu: true`);
/// returns the platforms it installed emulators for.
pub(crate) async fn install_missing(
    qemu: &QemuSettings,
    daemon: &Daemon,
    wanted: Vec<Platform>,
    run_name: &str,
    log: &Log,
) -> Result<Vec<Platform>> {
    let labels: HashMap<String, String> = [(RUN_LABEL.to_string(), run_name.to_string())].into();
    if daemon.ensure_image(&qemu.image, None).await? {
        log.info(&format!("QEMU: pulled {}", qemu.image));
    }
    let status = status(daemon, &qemu.image, &labels).await?;
    let to_install: Vec<Platform> = match qemu.mode {
        QemuMode::Always => wanted,
        _ => wanted.into_iter().filter(|p| !status.can_run(p)).collect(),
    };
    if to_install.is_empty() {
        log.info(&format!(
            "QEMU: emulators for every requested platform are already registered ({})",
            status.emulators.join(", ")
        ));
        return Ok(Vec::new());
    }
    log.info(&format!(
        "QEMU: installing emulators for {} (--install {})",
        platform::join(&to_install),
        install_argument(&to_install)
    ));
    let after = install(daemon, &qemu.image, &to_install, &labels).await?;
    let still: Vec<String> =
        to_install.iter().filter(|p| !after.can_run(p)).map(Platform::to_string).collect();
    if !still.is_empty() {
        bail!(
            "qemu: installing emulators did not make {} runnable; check that the runner allows privileged containers",
            still.join(", ")
        );
    }
    log.info(&format!("QEMU: registered; emulators now {}", after.emulators.join(", ")));
    Ok(to_install)
}

/// Whether the build may start while emulation is still being checked.
/// Only the daemon's BuildKit is ready at once, and only when emulators are
/// installed on demand: should one turn out missing, the early build is
/// stopped and started again once it is installed.
pub(crate) fn build_may_start_early(qemu: &QemuSettings, builder: &Builder) -> bool {
    *builder == Builder::Daemon && qemu.mode != QemuMode::Always
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platforms(text: &str) -> Vec<Platform> {
        Platform::parse_list(text).unwrap()
    }

    #[test]
    fn status_is_read_from_noisy_output() {
        let status =
            BinfmtStatus::parse("installing\n{\"supported\":[\"linux/amd64\",\"linux/arm64\"],\"emulators\":[\"qemu-aarch64\"]}\n")
                .unwrap();
        assert!(status.can_run(&Platform::parse("linux/arm64").unwrap()));
        assert!(!status.can_run(&Platform::parse("linux/arm/v7").unwrap()));
        assert!(BinfmtStatus::parse("no json").is_err());
        assert!(
            BinfmtStatus::parse("} before {").is_err(),
            "a brace out of order is an error, not a panic"
        );
    }

    #[test]
    fn only_platforms_not_covered_are_missing() {
        let cases = [
            ("linux/amd64,linux/arm64", "linux/amd64,linux/amd64/v2,linux/arm64", ""),
            ("linux/amd64,linux/arm64,linux/arm/v7", "linux/amd64,linux/arm64", "linux/arm/v7"),
            ("linux/arm/v6", "linux/arm/v7", ""),
            ("linux/riscv64,linux/s390x", "linux/amd64", "linux/riscv64,linux/s390x"),
        ];
        for (requested, available, missing) in cases {
            let got = platforms_missing(&platforms(requested), &platforms(available));
            assert_eq!(crate::platform::join(&got), missing, "{requested} on {available}");
        }
    }

    #[test]
    fn emulation_is_planned_from_the_builder_list() {
        let p = |text: &str| Platform::parse(text).unwrap();
        let amd64 = Machine { platform: p("linux/amd64"), compat: Some(p("linux/386")) };
        let arm64_with_aarch32 =
            Machine { platform: p("linux/arm64"), compat: Some(p("linux/arm/v7")) };
        let arm64_without = Machine { platform: p("linux/arm64"), compat: None };
        // machine, mode, daemon builder, builder lists, requested -> ask now, deferred, unconfirmed, unsupported
        let cases = [
            (QemuMode::Auto, true, "linux/amd64,linux/386", "linux/amd64", "", "", "", ""),
            (
                QemuMode::Auto,
                true,
                "linux/amd64,linux/386",
                "linux/amd64,linux/arm64",
                "linux/arm64",
                "",
                "",
                "",
            ),
            (
                QemuMode::Auto,
                true,
                "linux/amd64,linux/arm64",
                "linux/amd64,linux/arm64",
                "",
                "",
                "linux/arm64",
                "",
            ),
            (
                QemuMode::Auto,
                true,
                "linux/amd64,linux/arm64,linux/riscv64",
                "linux/amd64,linux/arm64,linux/arm/v7",
                "",
                "linux/arm/v7",
                "linux/arm64,linux/arm/v7",
                "",
            ),
            (
                QemuMode::Auto,
                false,
                "linux/amd64,linux/arm64",
                "linux/arm64,linux/arm/v7",
                "linux/arm/v7",
                "",
                "",
                "",
            ),
            (QemuMode::Auto, false, "linux/amd64", "linux/amd64", "", "", "", ""),
            (
                QemuMode::Always,
                true,
                "linux/amd64,linux/arm64",
                "linux/amd64,linux/arm64,linux/s390x",
                "linux/arm64,linux/s390x",
                "",
                "",
                "",
            ),
            (
                QemuMode::Never,
                true,
                "linux/amd64",
                "linux/amd64,linux/arm64",
                "",
                "",
                "",
                "linux/arm64",
            ),
            // 386 runs natively on amd64: never emulated, never installed.
            (QemuMode::Always, true, "linux/amd64", "linux/amd64,linux/386", "", "", "", ""),
            (
                QemuMode::Auto,
                false,
                "linux/amd64",
                "linux/386,linux/arm64",
                "linux/arm64",
                "",
                "",
                "",
            ),
            (QemuMode::Never, true, "linux/amd64", "linux/386", "", "", "", ""),
        ];
        let on_arm64 = [
            // arm/v7 on an arm64 machine without AArch32 needs QEMU.
            (
                &arm64_without,
                QemuMode::Auto,
                false,
                "linux/arm64",
                "linux/arm64,linux/arm/v7",
                "linux/arm/v7",
                "",
                "",
                "",
            ),
            (
                &arm64_without,
                QemuMode::Always,
                true,
                "linux/arm64",
                "linux/arm64,linux/arm/v7",
                "linux/arm/v7",
                "",
                "",
                "",
            ),
            (
                &arm64_with_aarch32,
                QemuMode::Auto,
                false,
                "linux/arm64",
                "linux/arm64,linux/arm/v7",
                "",
                "",
                "",
                "",
            ),
            (
                &arm64_with_aarch32,
                QemuMode::Always,
                true,
                "linux/arm64",
                "linux/arm64,linux/arm/v7,linux/amd64",
                "linux/amd64",
                "",
                "",
                "",
            ),
        ];
        let all = cases
            .into_iter()
            .map(|c| (&amd64, c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7))
            .chain(on_arm64);
        for (
            machine,
            mode,
            daemon,
            listed,
            requested,
            ask_now,
            deferred,
            unconfirmed,
            unsupported,
        ) in all
        {
            let plan =
                plan_emulation(mode, daemon, &platforms(listed), &platforms(requested), machine);
            let got = [&plan.ask_now, &plan.deferred, &plan.unconfirmed, &plan.unsupported]
                .map(|p| crate::platform::join(p));
            assert_eq!(
                got,
                [ask_now, deferred, unconfirmed, unsupported],
                "{mode:?} daemon={daemon} lists {listed}, wants {requested} on {machine:?}"
            );
        }
    }

    #[test]
    fn install_argument_names_architectures() {
        assert_eq!(install_argument(&platforms("linux/arm/v7")), "arm");
        assert_eq!(install_argument(&platforms("linux/arm64,linux/riscv64")), "arm64,riscv64");
    }
}
