//! Verification after the push: every platform's config declares the
//! platform its index entry claims; no layer carries a binary of another
//! architecture (read from the registry as streams, headers only); and the
//! optional smoke test runs in every platform's image.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use bollard::auth::DockerCredentials;
use futures_util::TryStreamExt as _;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::archscan;
use crate::docker::{ContainerRun, Daemon};
use crate::plan::{Credential, ImageName};
use crate::registry::{PlatformImage, Registry};

/// Platforms whose config disagrees with their index entry.
pub fn config_mismatches(images: &[PlatformImage]) -> Vec<String> {
    images
        .iter()
        .filter_map(|image| match &image.config_platform {
            Some(declared) if declared.runs_on(&image.platform) && declared.variant == image.platform.variant => None,
            Some(declared) => Some(format!("{}: the image's config declares {declared}", image.platform)),
            None => Some(format!("{}: the image's config declares no os/architecture", image.platform)),
        })
        .collect()
}

/// A binary of the wrong architecture, and the build step that added it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignBinary {
    pub platform: String,
    pub mismatch: archscan::Mismatch,
    pub step: String,
}

impl std::fmt::Display for ForeignBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: /{} is an {} binary", self.platform, self.mismatch.path, self.mismatch.found)?;
        if !self.step.is_empty() {
            write!(f, " (added by `{}`)", self.step)?;
        }
        Ok(())
    }
}

/// Scans every layer of one platform's image for ELF files of another
/// architecture. Layers stream from the registry into the scanner.
async fn scan_platform(registry: &Registry, image: &ImageName, platform_image: &PlatformImage) -> Result<Vec<ForeignBinary>> {
    let arch = platform_image.platform.arch.clone();
    if archscan::expected_arch(&arch).is_none() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for (index, layer) in platform_image.layers.iter().enumerate() {
        let stream = registry.layer_stream(image, layer).await?;
        let reader = SyncIoBridge::new(StreamReader::new(stream.stream.map_err(std::io::Error::other)));
        let arch_for_scan = arch.clone();
        let files =
            tokio::task::spawn_blocking(move || archscan::scan_layer(reader).map(|files| archscan::mismatches(&files, &arch_for_scan)))
                .await
                .context("the layer scan stopped")?
                .with_context(|| format!("could not read layer {layer} of {}", platform_image.platform))?;
        let step = platform_image.layer_steps.get(index).cloned().unwrap_or_default();
        found.extend(files.into_iter().map(|mismatch| ForeignBinary {
            platform: platform_image.platform.to_string(),
            mismatch,
            step: step.clone(),
        }));
    }
    Ok(found)
}

/// Scans every platform concurrently.
pub async fn scan_architectures(registry: &Registry, image: &ImageName, images: &[PlatformImage]) -> Result<Vec<ForeignBinary>> {
    let scans = images.iter().map(|platform_image| scan_platform(registry, image, platform_image));
    Ok(futures_util::future::try_join_all(scans).await?.into_iter().flatten().collect())
}

/// One platform's smoke-test result.
#[derive(Debug, Clone)]
pub struct SmokeResult {
    pub platform: String,
    pub run: ContainerRun,
}

/// Runs the smoke test in every platform's image, one after another (each
/// may run under QEMU).
pub async fn smoke_tests(
    daemon: &Daemon,
    image: &ImageName,
    images: &[PlatformImage],
    command: &[String],
    credentials: &[Credential],
    labels: &HashMap<String, String>,
) -> Result<Vec<SmokeResult>> {
    let docker_credentials = credentials.iter().find(|c| c.registry == image.registry).map(|c| DockerCredentials {
        username: Some(c.username.clone()),
        password: Some(c.password.0.clone()),
        serveraddress: Some(c.registry.clone()),
        ..Default::default()
    });
    let mut results = Vec::new();
    for platform_image in images {
        let reference = image.with_digest(&platform_image.digest);
        let platform = platform_image.platform.to_string();
        daemon.pull_platform(&reference, &platform, docker_credentials.clone()).await?;
        let run = daemon.run_for_platform(&reference, &platform, command, labels).await?;
        results.push(SmokeResult { platform, run });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    fn image(platform: &str, declared: Option<&str>) -> PlatformImage {
        PlatformImage {
            platform: Platform::parse(platform).unwrap(),
            digest: "sha256:x".into(),
            size: 0,
            config_platform: declared.map(|d| Platform::parse(d).unwrap()),
            layers: vec![],
            layer_steps: vec![],
        }
    }

    #[test]
    fn configs_must_declare_their_platform() {
        let images = [
            image("linux/amd64", Some("linux/amd64")),
            image("linux/arm64", Some("linux/amd64")),
            image("linux/arm/v7", Some("linux/arm/v6")),
            image("linux/riscv64", None),
        ];
        assert_eq!(
            config_mismatches(&images),
            vec![
                "linux/arm64: the image's config declares linux/amd64",
                "linux/arm/v7: the image's config declares linux/arm/v6",
                "linux/riscv64: the image's config declares no os/architecture",
            ]
        );
    }

    #[test]
    fn foreign_binaries_name_the_file_and_step() {
        let binary = ForeignBinary {
            platform: "linux/arm64".into(),
            mismatch: archscan::Mismatch { path: "usr/bin/app".into(), found: "amd64", expected: "arm64".into() },
            step: "ADD app-amd64.tar.gz / # buildkit".into(),
        };
        assert_eq!(binary.to_string(), "linux/arm64: /usr/bin/app is an amd64 binary (added by `ADD app-amd64.tar.gz / # buildkit`)");
    }
}
