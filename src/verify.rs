//! Verification after the push: the index read back holds every platform;
//! every platform's config declares the platform its index entry claims; no
//! layer carries a binary of another architecture (read from the registry
//! as streams, headers only); the verdict (`verify: true|warn|false`); and
//! the optional smoke test in every platform's image.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::archscan;
use crate::archscan::cache::ScanCache;
use crate::digest::Digest;
use crate::docker::Daemon;
use crate::log::Log;
use crate::names::{Credential, Credentials, ImageName};
use crate::outside::{Outside, RUN_LABEL};
use crate::plan::{CheckLevel, RunSettings};
use crate::platform::Platform;
use crate::registry::{Attestation, PlatformImage, Registry};
use crate::report::SmokeResult;

/// What verification read back and let through: each platform's image, the
/// attestations beside them, and the problems `verify: warn` let pass.
#[derive(Debug, Default)]
pub(crate) struct Verified {
    pub platform_images: Vec<PlatformImage>,
    pub attestations: Vec<Attestation>,
    pub notes: Vec<String>,
}

/// Platforms whose config disagrees with their index entry.
pub(crate) fn config_mismatches(images: &[PlatformImage]) -> Vec<String> {
    images
        .iter()
        .filter_map(|image| match &image.config_platform {
            Some(declared)
                if declared.runs_on(&image.platform)
                    && declared.variant == image.platform.variant =>
            {
                None
            }
            Some(declared) => {
                Some(format!("{}: the image's config declares {declared}", image.platform))
            }
            None => {
                Some(format!("{}: the image's config declares no os/architecture", image.platform))
            }
        })
        .collect()
}

/// A binary of the wrong architecture, and the build step that added it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForeignBinary {
    pub(crate) platform: Platform,
    pub mismatch: archscan::Mismatch,
    pub step: String,
}

impl std::fmt::Display for ForeignBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: /{} is an {} binary",
            self.platform, self.mismatch.path, self.mismatch.found
        )?;
        if !self.step.is_empty() {
            write!(f, " (added by `{}`)", self.step)?;
        }
        Ok(())
    }
}

/// How many layers are read at once.
const LAYERS_AT_ONCE: usize = 4;

/// What earlier scans found, by layer digest: what the registry's record
/// vouches for ([`archscan::record`]), and this machine's cache.
#[derive(Default)]
pub(crate) struct EarlierScans<'a> {
    pub recorded: HashMap<Digest, Vec<archscan::ElfFile>>,
    pub cache: Option<&'a ScanCache>,
}

/// Where what is known of a layer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Scanned,
    Record,
    Machine,
}

/// What a layer holds: the ELF files in it, and where that was learnt.
struct ScannedLayer {
    files: Vec<archscan::ElfFile>,
    source: Source,
}

/// Reads one layer from the registry through the scanner, unless an
/// earlier scan is known.
async fn scan_one_layer(
    registry: &Registry,
    image: &ImageName,
    layer: &Digest,
    earlier: &EarlierScans<'_>,
) -> Result<ScannedLayer> {
    if let Some(files) = earlier.recorded.get(layer) {
        return Ok(ScannedLayer { files: files.clone(), source: Source::Record });
    }
    if let Some(files) = earlier.cache.and_then(|c| c.get(layer)) {
        return Ok(ScannedLayer { files, source: Source::Machine });
    }
    let stream = registry.layer_stream(image, layer).await?;
    let reader = SyncIoBridge::new(StreamReader::new(stream.stream.map_err(std::io::Error::other)));
    let files = tokio::task::spawn_blocking(move || archscan::scan_layer(reader))
        .await
        .context("the layer scan stopped")?
        .with_context(|| format!("could not read layer {layer} of {}", image.name))?;
    if let Some(cache) = earlier.cache {
        cache.put(layer, &files);
    }
    Ok(ScannedLayer { files, source: Source::Scanned })
}

/// Scans every layer of every platform's image for ELF files of another
/// architecture. Each different layer is read once (platforms often share
/// one: a `COPY` of the same files), a few at once, streamed from the
/// registry; a layer an earlier scan is known for is not read again.
/// Returns the foreign binaries, and every different layer with what it
/// holds and where that was learnt.
async fn scan_architectures(
    registry: &Registry,
    image: &ImageName,
    images: &[PlatformImage],
    earlier: &EarlierScans<'_>,
) -> Result<(Vec<ForeignBinary>, HashMap<Digest, ScannedLayer>)> {
    let scanned_images: Vec<&PlatformImage> =
        images.iter().filter(|i| archscan::expected_arch(&i.platform.arch).is_some()).collect();
    let mut different: Vec<&Digest> = Vec::new();
    for layer in scanned_images.iter().flat_map(|i| &i.layers) {
        if !different.contains(&layer) {
            different.push(layer);
        }
    }
    let scans = different.iter().map(|layer| async move {
        anyhow::Ok(((*layer).clone(), scan_one_layer(registry, image, layer, earlier).await?))
    });
    let layers: HashMap<Digest, ScannedLayer> = futures_util::stream::iter(scans)
        .buffer_unordered(LAYERS_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .collect();
    let mut found = Vec::new();
    for platform_image in scanned_images {
        for (index, layer) in platform_image.layers.iter().enumerate() {
            let step = platform_image.layer_steps.get(index).cloned().unwrap_or_default();
            found.extend(
                archscan::mismatches(&layers[layer].files, &platform_image.platform.arch)
                    .into_iter()
                    .map(|mismatch| ForeignBinary {
                        platform: platform_image.platform.clone(),
                        mismatch,
                        step: step.clone(),
                    }),
            );
        }
    }
    Ok((found, layers))
}

/// Runs the smoke test in every platform's image, one after another (each
/// may run under QEMU).
async fn smoke_tests(
    daemon: &Daemon,
    image: &ImageName,
    images: &[PlatformImage],
    command: &[String],
    credentials: &Credentials,
    labels: &HashMap<String, String>,
) -> Result<Vec<SmokeResult>> {
    let docker_credentials = credentials.for_registry(&image.registry).map(Credential::to_bollard);
    let mut results = Vec::new();
    for platform_image in images {
        let reference = image.with_digest(&platform_image.digest);
        let platform = platform_image.platform.to_string();
        daemon.pull_platform(&reference, &platform, docker_credentials.clone()).await?;
        let run = daemon.run_for_platform(&reference, &platform, command, labels).await?;
        results.push(SmokeResult { platform: platform_image.platform.clone(), run });
    }
    Ok(results)
}

/// What a verification keeps of its scan for later ones: in this machine's
/// cache, and (`record`) in the registry, beside the verified index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keeping<'a> {
    pub cache: Option<&'a ScanCache>,
    /// False where the run must push no tag (`mode: digest`).
    pub record: bool,
}

/// The index holds every requested platform, each config declares its
/// platform, and no layer carries a binary of another architecture. What
/// the scan learnt is recorded beside the index in the registry (when it
/// read a layer no earlier scan was known for), for later releases.
pub(crate) async fn verify(
    level: CheckLevel,
    image: &ImageName,
    registry: &Registry,
    digest: &Digest,
    required: &[Platform],
    keeping: Keeping<'_>,
    log: &Log,
) -> Result<Verified> {
    let Keeping { cache, record: may_record } = keeping;
    let (pushed, recorded) =
        tokio::join!(read_pushed(registry, image, digest, required, &[], log), async {
            match level {
                CheckLevel::Off => HashMap::new(),
                _ => archscan::record::read(registry, image).await,
            }
        });
    let (platform_images, attestations) = pushed?;
    let earlier = EarlierScans { recorded, cache };
    let scanned = scan_layers(level, image, registry, &platform_images, &earlier).await?;
    let record = scanned
        .as_ref()
        .filter(|scan| may_record && scan.read > 0)
        .map(|scan| scan.results.clone());
    let notes = judge(level, &platform_images, scanned, log)?;
    if let Some(results) = record {
        record_scan(registry, image, digest, &results, log).await;
    }
    Ok(Verified { platform_images, attestations, notes })
}

/// Records what the scan of the index `digest` found in `image`'s
/// repository; a registry that refuses it costs the next release a scan.
async fn record_scan(
    registry: &Registry,
    image: &ImageName,
    digest: &Digest,
    results: &[(Digest, Vec<archscan::ElfFile>)],
    log: &Log,
) {
    let layers: Vec<(&Digest, &[archscan::ElfFile])> =
        results.iter().map(|(digest, files)| (digest, files.as_slice())).collect();
    let written = async {
        let subject = registry.raw_manifest(image, digest.as_str()).await?.descriptor();
        archscan::record::write(registry, image, &subject, &layers).await
    };
    match written.await {
        Ok(()) => log.info(&format!(
            "architecture scan recorded as {}:{}",
            image.name,
            archscan::record::RECORD_TAG
        )),
        Err(error) => log.info(&format!(
            "architecture scan not recorded in {} ({error:#}); the next release scans these layers again",
            image.name
        )),
    }
}

/// Reads the pushed index back: every required platform must be in it.
/// Platform images in `known` (read from the pushed layout) are not read
/// from the registry again.
pub(crate) async fn read_pushed(
    registry: &Registry,
    image: &ImageName,
    digest: &Digest,
    required: &[Platform],
    known: &[PlatformImage],
    log: &Log,
) -> Result<(Vec<PlatformImage>, Vec<Attestation>)> {
    let (platform_images, attestations) = registry.platform_images(image, digest, known).await?;
    let missing: Vec<String> = required
        .iter()
        .filter(|p| !platform_images.iter().any(|i| &i.platform == *p))
        .map(Platform::to_string)
        .collect();
    if !missing.is_empty() {
        bail!("verify: the pushed index {digest} lacks {}; no tag was pushed", missing.join(", "));
    }
    for image in &platform_images {
        log.info(&format!("{} → {}", image.platform, image.digest));
    }
    Ok((platform_images, attestations))
}

/// What the architecture scan found, and how many layers it read in how long.
pub(crate) struct LayerScan {
    foreign: Vec<ForeignBinary>,
    layers: usize,
    /// Layers answered by the registry's record, and by this machine.
    recorded: usize,
    on_machine: usize,
    /// Different layers read from the registry.
    read: usize,
    /// Every different layer scanned, with its ELF files.
    results: Vec<(Digest, Vec<archscan::ElfFile>)>,
    seconds: f64,
}

/// Streams every layer of `images` from the registry through the
/// architecture scan (nothing when `verify: false`).
async fn scan_layers(
    level: CheckLevel,
    image: &ImageName,
    registry: &Registry,
    images: &[PlatformImage],
    earlier: &EarlierScans<'_>,
) -> Result<Option<LayerScan>> {
    if level == CheckLevel::Off {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let (foreign, layers) = scan_architectures(registry, image, images, earlier).await?;
    let answered_by = |source: Source| {
        images
            .iter()
            .flat_map(|i| &i.layers)
            .filter(|l| layers.get(*l).is_some_and(|s| s.source == source))
            .count()
    };
    let (recorded, on_machine) = (answered_by(Source::Record), answered_by(Source::Machine));
    let read = layers.values().filter(|s| s.source == Source::Scanned).count();
    Ok(Some(LayerScan {
        foreign,
        layers: images.iter().map(|i| i.layers.len()).sum(),
        recorded,
        on_machine,
        read,
        results: layers.into_iter().map(|(digest, scanned)| (digest, scanned.files)).collect(),
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// How the log says which layers earlier scans answered.
fn known_phrase(recorded: usize, on_machine: usize) -> String {
    match (recorded, on_machine) {
        (0, 0) => String::new(),
        (r, 0) => format!(", {r} of them known from an earlier scan (the registry's record)"),
        (0, m) => format!(", {m} of them known from an earlier scan on this machine"),
        (r, m) => format!(
            ", {} of them known from an earlier scan ({r} from the registry's record, {m} on this machine)",
            r + m
        ),
    }
}

/// Weighs configs and scan: fails (`verify: true`) or warns (`warn`);
/// returns the problems that were let through.
pub(crate) fn judge(
    level: CheckLevel,
    platform_images: &[PlatformImage],
    scanned: Option<LayerScan>,
    log: &Log,
) -> Result<Vec<String>> {
    let Some(scan) = scanned else { return Ok(Vec::new()) };
    let mut problems = config_mismatches(platform_images);
    let known = known_phrase(scan.recorded, scan.on_machine);
    log.info(&format!(
        "architecture scan of {} layers{known}: {} foreign binaries ({:.2}s)",
        scan.layers,
        scan.foreign.len(),
        scan.seconds
    ));
    problems.extend(scan.foreign.iter().take(20).map(ToString::to_string));
    if scan.foreign.len() > 20 {
        problems.push(format!(
            "… and {} more binaries of another architecture",
            scan.foreign.len() - 20
        ));
    }
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    if level == CheckLevel::Fail {
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

/// Runs the smoke test, when there is one, in every platform's image of
/// the first image; any non-zero exit fails the run before tagging.
/// Returns each platform's result.
pub(crate) async fn smoke_test(
    run: &RunSettings,
    image: &ImageName,
    outside: &Outside<'_>,
    images: &[PlatformImage],
    log: &Log,
) -> Result<Vec<SmokeResult>> {
    let Some(command) = &run.checks().smoke_test else { return Ok(Vec::new()) };
    let labels: HashMap<String, String> =
        [(RUN_LABEL.to_string(), outside.tools.run_name.clone())].into();
    let run_and_show = async {
        let results =
            smoke_tests(&outside.daemon, image, images, command, run.credentials(), &labels)
                .await?;
        for result in &results {
            log.info(&format!("{}: exit {}", result.platform, result.run.exit_code));
            // The image's output is untrusted: never obeyed as a command.
            log.raw_text(result.run.output.trim_end());
        }
        anyhow::Ok(results)
    };
    let results = log.group(&format!("Smoke test: {}", command.join(" ")), run_and_show).await?;
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.run.exit_code != 0)
        .map(|r| format!("{} (exit {})", r.platform, r.run.exit_code))
        .collect();
    if !failed.is_empty() {
        bail!(
            "smoke-test: `{}` failed on {}; see its output above; no tag was pushed",
            command.join(" "),
            failed.join(", ")
        );
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
            digest: Digest::of(b"x"),
            size: 0,
            config_platform: declared.map(|d| Platform::parse(d).unwrap()),
            layers: vec![],
            layer_steps: vec![],
            labels: Default::default(),
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
            platform: Platform::parse("linux/arm64").unwrap(),
            mismatch: archscan::Mismatch {
                path: "usr/bin/app".into(),
                found: "amd64",
                expected: "arm64".into(),
            },
            step: "ADD app-amd64.tar.gz / # buildkit".into(),
        };
        assert_eq!(
            binary.to_string(),
            "linux/arm64: /usr/bin/app is an amd64 binary (added by `ADD app-amd64.tar.gz / # buildkit`)"
        );
    }
}
