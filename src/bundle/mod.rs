//! `mode: bundle`: a whole deployment carried offline. The images of
//! `images` and of a Compose file are audited against the target platforms
//! (a ✓/✗ table, with a nearby tag suggested for a gap), the services with
//! `build:` built and pushed, then all written into one OCI image layout
//! tarball, every blob once. The offline side (`bundle
//! verify`, `load`, `push`) reads it back with the same binary.

pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod offline;
pub(crate) mod parts;
mod push;
pub(crate) mod signatures;
pub(crate) mod write;

use std::path::Path;

use anyhow::{Result, bail};

use crate::log::Log;
use crate::plan::{AuditLevel, BundleRequest, WantedImage};
use crate::platform::Platform;
use crate::registry::Registry;
use crate::report::{BundleReport, Report};

/// The audit, the builds (`build`: the services with `build:`, built and
/// pushed, run only once the listed images pass), then the bundle: the run
/// of `mode: bundle`.
pub(crate) async fn run(
    platforms: &[Platform],
    registry: &Registry,
    request: &BundleRequest,
    log: &Log,
    build: impl std::future::Future<Output = Result<Vec<WantedImage>>>,
) -> Result<Report> {
    let listed =
        log.group("Audit", audit_and_show(registry, &request.images, platforms, log)).await?;
    if request.audit == AuditLevel::Fail {
        refuse_listed_gaps(&listed)?;
    }
    let built = if request.builds.is_empty() { Vec::new() } else { build.await? };
    let built = log
        .group("Audit of the built services", audit_and_show(registry, &built, platforms, log))
        .await?;
    let resolved: Vec<audit::Resolved> = listed.into_iter().chain(built).collect();
    let kept = kept(request.audit, &resolved, platforms, log)?;
    let written = log
        .group("Bundle", async {
            let contents = write::gather(registry, &kept, request.trusted_root.clone()).await?;
            write::write(registry, &contents, &request.file, request.split).await
        })
        .await?;
    let line = written_line(&request.file, &written);
    log.info(&line);
    let summary = summary(platforms, &resolved, &kept, &request.file, &line);
    let file = written.files.first().cloned().unwrap_or_else(|| request.file.clone());
    Ok(Report {
        bundle: Some(BundleReport { file, files: written.files, summary }),
        ..Report::default()
    })
}

/// The listed images held to `audit: fail` before any build: a gap among
/// them stops the run.
fn refuse_listed_gaps(listed: &[audit::Resolved]) -> Result<()> {
    let listed_gaps = audit::gap_lines(listed);
    if !listed_gaps.is_empty() {
        bail!(
            "audit: {}; change the tag (or the platforms), or set `audit: warn` to leave such images out; nothing was built or written",
            listed_gaps.join("; ")
        );
    }
    Ok(())
}

/// The images that go into the bundle, by the audit level: with `fail`
/// every one (a gap is an error), with `warn` those without a gap (each gap
/// warned of), with `off` those that offer any platform asked for; never
/// none.
fn kept<'a>(
    level: AuditLevel,
    resolved: &'a [audit::Resolved],
    platforms: &[Platform],
    log: &Log,
) -> Result<Vec<&'a audit::Resolved>> {
    let gaps = audit::gap_lines(resolved);
    let kept: Vec<&audit::Resolved> = match level {
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
            crate::platform::join(platforms)
        );
    }
    Ok(kept)
}

/// What was written to `file`, as one line: the parts, images, blobs and
/// bytes.
fn written_line(file: &Path, written: &write::Written) -> String {
    let parts = if written.files.len() > 1 {
        format!(" in {} parts", written.files.len() - 1)
    } else {
        String::new()
    };
    let signed = match written.signatures {
        0 => String::new(),
        count => format!("; {count} signature manifest(s) carried"),
    };
    format!(
        "wrote {}{parts}: {} image(s), {} blobs, {} bytes ({} bytes of shared layers stored once){signed}",
        file.display(),
        written.images,
        written.blobs,
        written.bytes,
        written.shared_bytes
    )
}

/// The step summary: the audit table, the services built, the `line` of
/// what was written to `file`, and the images left out.
fn summary(
    platforms: &[Platform],
    resolved: &[audit::Resolved],
    kept: &[&audit::Resolved],
    file: &Path,
    line: &str,
) -> String {
    let mut summary = format!("### 📦 Bundle for {}\n\n", crate::platform::join(platforms));
    summary.push_str(&audit::markdown_table(resolved));
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
    summary.push_str(&format!(
        "\n{}\n",
        line.replacen(&file.display().to_string(), &format!("`{}`", file.display()), 1)
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
    summary
}

/// Resolves `wanted` in its registries and logs the table (nothing for no
/// image).
async fn audit_and_show(
    registry: &Registry,
    wanted: &[WantedImage],
    platforms: &[Platform],
    log: &Log,
) -> Result<Vec<audit::Resolved>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let resolved = audit::audit(registry, wanted, platforms).await?;
    for line in audit::log_table(&resolved).lines() {
        log.info(line);
    }
    Ok(resolved)
}
