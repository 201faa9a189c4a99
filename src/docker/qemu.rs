//! QEMU emulation: which requested platforms need an emulator, the installer
//! image's interface (tonistiigi/binfmt: no arguments prints
//! `{"supported":[…],"emulators":[…]}`; `--install ARCHES` registers them),
//! and the installer run itself.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use super::Daemon;
use crate::plan::QemuMode;
use crate::platform::Platform;

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
        let end = start + output[start..].rfind('}').context("the QEMU installer printed no JSON status")?;
        serde_json::from_str(&output[start..=end]).context("the QEMU installer's status is not the expected JSON")
    }

    pub fn can_run(&self, platform: &Platform) -> bool {
        self.supported.iter().filter_map(|s| Platform::parse(s).ok()).any(|s| platform.runs_on(&s))
    }
}

/// What to do about emulation, decided from the builder's list alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmulationPlan {
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
pub fn plan_emulation(
    mode: QemuMode,
    daemon_builder: bool,
    builder_platforms: &[Platform],
    requested: &[Platform],
    host: &Platform,
) -> EmulationPlan {
    let missing = platforms_missing(requested, builder_platforms);
    let emulated: Vec<Platform> = requested.iter().filter(|p| !p.runs_on(host)).cloned().collect();
    match mode {
        QemuMode::Never => EmulationPlan { unsupported: missing, ..EmulationPlan::default() },
        QemuMode::Always => EmulationPlan { ask_now: emulated, ..EmulationPlan::default() },
        QemuMode::Auto if !daemon_builder => EmulationPlan { ask_now: missing, ..EmulationPlan::default() },
        QemuMode::Auto => {
            let lists_emulated = builder_platforms.iter().any(|p| !p.runs_natively_on(host));
            if lists_emulated {
                EmulationPlan { deferred: missing, unconfirmed: emulated, ..EmulationPlan::default() }
            } else {
                let unconfirmed = emulated.into_iter().filter(|p| !missing.contains(p)).collect();
                EmulationPlan { ask_now: missing, unconfirmed, ..EmulationPlan::default() }
            }
        }
    }
}

/// The requested platforms that none of `available` covers.
pub fn platforms_missing(requested: &[Platform], available: &[Platform]) -> Vec<Platform> {
    requested.iter().filter(|p| !available.iter().any(|a| p.runs_on(a))).cloned().collect()
}

/// The installer's `--install` argument for these platforms.
pub fn install_argument(platforms: &[Platform]) -> String {
    let mut arches: Vec<&str> = platforms.iter().map(Platform::installer_arch).collect();
    arches.dedup();
    arches.join(",")
}

/// Runs the installer with no arguments and reads its status.
pub async fn status(daemon: &Daemon, image: &str, labels: &HashMap<String, String>) -> Result<BinfmtStatus> {
    let run = daemon.run_privileged(image, &[], labels).await?;
    if run.exit_code != 0 {
        bail!("the QEMU installer {image} exited with {}: {}", run.exit_code, run.output.trim());
    }
    BinfmtStatus::parse(&run.output)
}

/// Registers emulators for `platforms` and returns the status afterwards.
pub async fn install(daemon: &Daemon, image: &str, platforms: &[Platform], labels: &HashMap<String, String>) -> Result<BinfmtStatus> {
    let args = vec!["--install".to_string(), install_argument(platforms)];
    let run = daemon.run_privileged(image, &args, labels).await?;
    if run.exit_code != 0 {
        bail!("the QEMU installer {image} failed to install {} (exit {}): {}", args[1], run.exit_code, run.output.trim());
    }
    status(daemon, image, labels).await
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
        assert!(BinfmtStatus::parse("} before {").is_err(), "a brace out of order is an error, not a panic");
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
        let host = Platform::parse("linux/amd64").unwrap();
        // mode, daemon builder, builder lists, requested -> ask now, deferred, unconfirmed, unsupported
        let cases = [
            (QemuMode::Auto, true, "linux/amd64,linux/386", "linux/amd64", "", "", "", ""),
            (QemuMode::Auto, true, "linux/amd64,linux/386", "linux/amd64,linux/arm64", "linux/arm64", "", "", ""),
            (QemuMode::Auto, true, "linux/amd64,linux/arm64", "linux/amd64,linux/arm64", "", "", "linux/arm64", ""),
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
            (QemuMode::Auto, false, "linux/amd64,linux/arm64", "linux/arm64,linux/arm/v7", "linux/arm/v7", "", "", ""),
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
            (QemuMode::Never, true, "linux/amd64", "linux/amd64,linux/arm64", "", "", "", "linux/arm64"),
        ];
        for (mode, daemon, listed, requested, ask_now, deferred, unconfirmed, unsupported) in cases {
            let plan = plan_emulation(mode, daemon, &platforms(listed), &platforms(requested), &host);
            let got = [&plan.ask_now, &plan.deferred, &plan.unconfirmed, &plan.unsupported].map(|p| crate::platform::join(p));
            assert_eq!(got, [ask_now, deferred, unconfirmed, unsupported], "{mode:?} daemon={daemon} lists {listed}, wants {requested}");
        }
    }

    #[test]
    fn install_argument_names_architectures() {
        assert_eq!(install_argument(&platforms("linux/arm/v7")), "arm");
        assert_eq!(install_argument(&platforms("linux/arm64,linux/riscv64")), "arm64,riscv64");
    }
}
