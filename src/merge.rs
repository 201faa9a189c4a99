//! Native-runner builds: the digest file a `mode: digest` run writes, and
//! `mode: merge`, which combines those digests into one index, pushes it to
//! every image, verifies it, smoke-tests it and tags it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::digest::Digest;
use crate::log::Log;
use crate::outside::Outside;
use crate::plan::{Build, RunSettings};
use crate::platform::Platform;
use crate::publish;
use crate::registry::Registry;
use crate::registry::layout::Descriptor;
use crate::report::Report;
use crate::verify::{self, Verified};

/// Writes the digest of a `mode: digest` run to `dir/<platform>`.
pub(crate) fn write_digest_file(
    dir: &std::path::Path,
    platform: &Platform,
    digest: &Digest,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("digests-dir: could not create {}", dir.display()))?;
    let file = dir.join(platform.slug());
    std::fs::write(&file, format!("{digest}\n"))
        .with_context(|| format!("digests-dir: could not write {}", file.display()))?;
    Ok(file)
}

/// The digests a merge combines: the `digests` input, else every file in
/// `digests-dir`.
pub(crate) fn read_digests(given: &[Digest], dir: &std::path::Path) -> Result<Vec<Digest>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!("digests-dir: {} cannot be read; download the digest artifacts there, or list them in `digests`", dir.display())
    })?;
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    let mut digests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("digests-dir: could not read {}", file.display()))?;
        let Ok(digest) = Digest::parse(text.trim()) else {
            bail!(
                "digests-dir: {} does not hold a digest (sha256:<64 hex digits>)",
                file.display()
            );
        };
        if !digests.contains(&digest) {
            digests.push(digest);
        }
    }
    if digests.is_empty() {
        bail!(
            "digests: none given and {} holds no digest files; run `mode: digest` first and download its artifacts there",
            dir.display()
        );
    }
    Ok(digests)
}

/// `mode: merge`: one index from per-platform digests, pushed to every
/// image, verified, then tagged.
pub(crate) async fn merge(
    run: &RunSettings,
    build: &Build,
    outside: &Outside<'_>,
    given: &[Digest],
    dir: &Path,
    required: &[Platform],
    log: &Log,
) -> Result<Report> {
    let registry = &outside.registry;
    let digests = read_digests(given, dir)?;
    let held_back =
        log.group("Registries", publish::check_registries(run, build, registry, log)).await?;
    let merged = log
        .group(
            &format!("Merge {} digest(s)", digests.len()),
            push_merged_index(build, registry, &digests, required, log),
        )
        .await?;
    let MergedIndex { root, body, platforms } = merged;
    publish::versions_before_tagging(run, build, registry, &root.digest, log).await?;
    let Verified { platform_images, attestations, notes } = log
        .group(
            "Verify the merged image",
            verify::verify(
                run.checks().verify,
                build.image(),
                registry,
                &root.digest,
                &platforms,
                verify::Keeping { cache: outside.tools.layer_scans.as_ref(), record: true },
                log,
            ),
        )
        .await?;
    let smoke = verify::smoke_test(run, build.image(), outside, &platform_images, log).await?;
    let pushed_references = log
        .group(
            "Tag",
            publish::tag_everywhere(
                build,
                registry,
                &root,
                &bytes::Bytes::from(body),
                &held_back,
                log,
            ),
        )
        .await?;
    Ok(Report {
        digest: Some(root.digest.clone()),
        metadata: serde_json::json!({ "containerimage.digest": root.digest, "merged": digests }),
        held_back,
        attestations,
        verify_notes: notes,
        builder_note: "no build: merged from per-platform digests".into(),
        smoke,
        platform_images,
        pushed_references,
        ..Default::default()
    })
}

/// The merged index: its descriptor, its body and the platforms it holds.
struct MergedIndex {
    root: Descriptor,
    body: Vec<u8>,
    platforms: Vec<Platform>,
}

/// Reads every digest's entries, checks they cover the required platforms
/// once each, and stores the index (by digest) in every image's repository,
/// copying the platform manifests into repositories that lack them.
async fn push_merged_index(
    build: &Build,
    registry: &Registry,
    digests: &[Digest],
    required: &[Platform],
    log: &Log,
) -> Result<MergedIndex> {
    let source = build.image();
    let mut entries = Vec::new();
    for digest in digests {
        let found = registry
            .merge_entries(source, digest)
            .await
            .map_err(|e| anyhow::anyhow!("digests: {digest} is not in {}: {e:#}", source.name))?;
        entries.extend(found);
    }
    crate::registry::copy::check_merge(&entries, required)?;
    let annotations: Vec<(String, String)> = build
        .meta()
        .annotations
        .iter()
        .filter(|a| a.level == crate::meta::AnnotationLevel::Index)
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect();
    let (body, root) = crate::registry::copy::merged_index(&entries, &annotations);
    for image in build.images() {
        if image != source {
            for entry in &entries {
                if !registry.has_manifest(image, &entry.descriptor.digest).await {
                    registry.copy_manifest(source, image, &entry.descriptor.digest).await?;
                }
            }
        }
        registry.put_manifest(image, root.digest.as_str(), &root, body.clone().into()).await?;
        log.info(&format!(
            "{}@{}: index of {}",
            image.name,
            root.digest,
            entries
                .iter()
                .filter_map(|e| e.platform.as_ref())
                .map(Platform::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let platforms = entries.iter().filter_map(|e| e.platform.clone()).collect();
    Ok(MergedIndex { root, body, platforms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_reads_digests_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = Digest::from_hex(&"a".repeat(64)).unwrap();
        let b = Digest::from_hex(&"b".repeat(64)).unwrap();
        std::fs::write(dir.path().join("linux-amd64"), format!("{a}\n")).unwrap();
        assert_eq!(read_digests(&[], dir.path()).unwrap(), vec![a.clone()]);
        assert_eq!(
            read_digests(std::slice::from_ref(&b), dir.path()).unwrap(),
            vec![b.clone()],
            "the input wins"
        );
        std::fs::write(dir.path().join("linux-arm64"), "not a digest").unwrap();
        assert!(
            read_digests(&[], dir.path()).unwrap_err().to_string().starts_with("digests-dir: ")
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(
            read_digests(&[], empty.path())
                .unwrap_err()
                .to_string()
                .starts_with("digests: none given")
        );
    }
}
