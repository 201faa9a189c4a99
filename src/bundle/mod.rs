//! `mode: bundle`: a whole deployment carried offline. The images of
//! `images` and of a Compose file are audited against the target platforms
//! (a ✓/✗ table, with a nearby tag suggested for a gap), the services with
//! `build:` built and pushed, then all written into one OCI image layout
//! tarball, every blob once. The offline side (`bundle
//! verify`, `load`, `push`) reads it back with the same binary.

pub mod audit;
pub mod check;
pub mod compose;
pub mod offline;
pub mod parts;
mod push;
pub mod request;
pub mod write;

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use futures_util::TryStreamExt as _;
use sha2::Digest as _;

pub use self::request::{AuditLevel, BundleRequest, WantedImage};
use crate::digest::Digest;
use crate::log::Log;
use crate::names::ImageName;
use crate::plan::Plan;
use crate::registry::Registry;
use crate::registry::layout::Descriptor;
use crate::summary::Report;

/// What a bundle run produced, for the `bundle` output and the summary.
#[derive(Debug, Clone, Default)]
pub struct BundleReport {
    pub file: PathBuf,
    /// Every file written: the bundle, or its parts then their checksums.
    pub files: Vec<PathBuf>,
    /// The audit table and what was bundled, as markdown.
    pub summary: String,
}

/// Configs and manifests are read into memory; none is larger than this.
const SMALL_BLOB_LIMIT: u64 = 16 << 20;

/// A reader that hashes and counts what passes through it.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
    pub count: u64,
}

impl<R: std::io::Read> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing { inner, hasher: sha2::Sha256::new(), count: 0 }
    }

    /// The digest of everything read.
    pub fn digest(self) -> Digest {
        Digest::from_hasher(self.hasher)
    }
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        self.count += read as u64;
        Ok(read)
    }
}

/// A small blob (a config) read whole, checked against its digest.
pub(crate) async fn read_small_blob(
    registry: &Registry,
    image: &ImageName,
    blob: &Descriptor,
) -> Result<Vec<u8>> {
    if blob.size > SMALL_BLOB_LIMIT {
        bail!(
            "{}: the config {} is {} bytes; configs are expected to be small",
            image.name,
            blob.digest,
            blob.size
        );
    }
    let stream = registry.layer_stream(image, &blob.digest).await?;
    let chunks: Vec<bytes::Bytes> = stream
        .stream
        .try_collect()
        .await
        .with_context(|| format!("could not read {} of {}", blob.digest, image.name))?;
    let bytes = chunks.concat();
    if Digest::of(&bytes).as_str() != blob.digest {
        bail!("{} sent content for {} that does not match its digest", image.registry, blob.digest);
    }
    Ok(bytes)
}

/// The audit, the builds (`build`: the services with `build:`, built and
/// pushed, run only once the listed images pass), then the bundle: the run
/// of `mode: bundle`.
pub(crate) async fn run(
    plan: &Plan,
    registry: &Registry,
    request: &BundleRequest,
    log: &Log,
    build: impl std::future::Future<Output = Result<Vec<WantedImage>>>,
) -> Result<Report> {
    let listed = log.group("Audit", audit_and_show(registry, &request.images, plan, log)).await?;
    let listed_gaps = audit::gap_lines(&listed);
    if request.audit == AuditLevel::Fail && !listed_gaps.is_empty() {
        bail!(
            "audit: {}; change the tag (or the platforms), or set `audit: warn` to leave such images out; nothing was built or written",
            listed_gaps.join("; ")
        );
    }
    let built = if request.builds.is_empty() { Vec::new() } else { build.await? };
    let built = log
        .group("Audit of the built services", audit_and_show(registry, &built, plan, log))
        .await?;
    let resolved: Vec<audit::Resolved> = listed.into_iter().chain(built).collect();
    let gaps = audit::gap_lines(&resolved);
    let mut summary = format!("### 📦 Bundle for {}\n\n", crate::platform::join(&plan.platforms));
    summary.push_str(&audit::markdown_table(&resolved));
    let kept: Vec<&audit::Resolved> = match request.audit {
        AuditLevel::Fail if !gaps.is_empty() => bail!(
            "audit: {}; change the tag (or the platforms), or set `audit: warn` to leave such images out; nothing was written",
            gaps.join("; ")
        ),
        AuditLevel::Fail => resolved.iter().collect(),
        AuditLevel::Warn => {
            for gap in &gaps {
                log.warning(&format!("audit: {gap}; left out of the bundle"));
            }
            resolved.iter().filter(|r| r.missing().is_empty()).collect()
        }
        AuditLevel::Off => resolved.iter().filter(|r| !r.kept_offers().is_empty()).collect(),
    };
    if kept.is_empty() {
        bail!(
            "audit: no image offers the platforms asked for ({}); nothing was written",
            crate::platform::join(&plan.platforms)
        );
    }
    let built: Vec<String> = resolved
        .iter()
        .filter(|r| r.wanted.built)
        .map(|r| {
            format!(
                "`{}` (`{}`)",
                r.wanted.service.as_deref().unwrap_or_default(),
                r.wanted.reference
            )
        })
        .collect();
    if !built.is_empty() {
        summary.push_str(&format!("\nBuilt for the bundle from `build:`: {}\n", built.join(", ")));
    }
    let written = log
        .group("Bundle", async {
            let contents = write::gather(registry, &kept).await?;
            write::write(registry, &contents, &request.file, request.split).await
        })
        .await?;
    let parts = if written.files.len() > 1 {
        format!(" in {} parts", written.files.len() - 1)
    } else {
        String::new()
    };
    let line = format!(
        "wrote {}{parts}: {} image(s), {} blobs, {} bytes ({} bytes of shared layers stored once)",
        request.file.display(),
        written.images,
        written.blobs,
        written.bytes,
        written.shared_bytes
    );
    log.info(&line);
    summary.push_str(&format!(
        "\n{}\n",
        line.replacen(
            &request.file.display().to_string(),
            &format!("`{}`", request.file.display()),
            1
        )
    ));
    let left_out: Vec<&str> = resolved
        .iter()
        .filter(|r| !kept.iter().any(|k| std::ptr::eq(*k, *r)))
        .map(|r| r.wanted.reference.as_str())
        .collect();
    if !left_out.is_empty() {
        summary.push_str(&format!(
            "\nLeft out: {}\n",
            left_out.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    let file = written.files.first().cloned().unwrap_or_else(|| request.file.clone());
    Ok(Report {
        bundle: Some(BundleReport { file, files: written.files, summary }),
        ..Report::default()
    })
}

/// Resolves `wanted` in its registries and logs the table (nothing for no
/// image).
async fn audit_and_show(
    registry: &Registry,
    wanted: &[WantedImage],
    plan: &Plan,
    log: &Log,
) -> Result<Vec<audit::Resolved>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let resolved = audit::audit(registry, wanted, &plan.platforms).await?;
    for line in audit::log_table(&resolved).lines() {
        log.info(line);
    }
    Ok(resolved)
}
