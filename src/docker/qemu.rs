//! QEMU emulation: which requested platforms need an emulator, the installer
//! image's interface (tonistiigi/binfmt: no arguments prints
//! `{"supported":[…],"emulators":[…]}`; `--install ARCHES` registers them),
//! and the installer run itself.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use super::Daemon;
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
    fn install_argument_names_architectures() {
        assert_eq!(install_argument(&platforms("linux/arm/v7")), "arm");
        assert_eq!(install_argument(&platforms("linux/arm64,linux/riscv64")), "arm64,riscv64");
    }
}
