//! Publishing: the registry checks before a build (access, floating tags
//! held back, version tags that must not move), the pushed image verified
//! and copied by digest to every image, and the tags, set only once it is
//! verified.
//!
//! `immutable-tags` keeps an existing version tag (`1.2.3`) on the image it
//! names. The digest of a build is known only once it is pushed, so it is
//! guarded twice: before any build, a version tag that exists and names an
//! image this build cannot give (one of its platform images lacks the
//! labels this build sets: another commit, another `created` time, or a
//! platform it does not have) fails the run at once; a tag whose image does
//! carry those labels (a reproducible re-run) lets the build go on, pushed
//! untagged as always, and right before tagging every version tag that
//! exists must name the very digest pushed, or the run fails with no tag
//! set.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::archscan::cache::ScanCache;
use crate::digest::Digest;
use crate::log::Log;
use crate::meta;
use crate::names::ImageName;
use crate::plan::{Build, CheckLevel, FloatingPolicy, HeldBack, Mode, RunSettings};
use crate::platform::Platform;
use crate::registry::Registry;
use crate::registry::layout::{Descriptor, Layout};
use crate::report::TaggingFailed;
use crate::verify::{self, Verified};

/// Checks every registry we will talk to, then reads the existing tags.
pub(crate) async fn check_registries(
    run: &RunSettings,
    build: &Build,
    registry: &Registry,
    log: &Log,
) -> Result<Vec<HeldBack>> {
    let image_registries: Vec<&String> = build.images().iter().map(|i| &i.registry).collect();
    // Credentials for registries with no image of ours are for pulls.
    let pull_only: Vec<ImageName> = run
        .credentials()
        .iter()
        .filter(|c| !image_registries.contains(&&c.registry))
        .map(|c| ImageName::probe_on(&c.registry))
        .collect();
    let mut checks = Vec::new();
    let mut seen = Vec::new();
    for image in build.images() {
        if seen.contains(&image.registry) {
            continue;
        }
        seen.push(image.registry.clone());
        checks.push(registry.check_access(image, build.pushes()));
    }
    for image in &pull_only {
        seen.push(format!("{} (pulls)", image.registry));
        checks.push(registry.check_access(image, false));
    }
    futures_util::future::try_join_all(checks).await?;
    log.info(&format!("registry access checked: {}", seen.join(", ")));
    versions_before_build(run, build, registry, log).await?;
    held_back_tags(run, build, registry, log).await
}

/// A version tag a registry already has, and the image it names.
struct ExistingVersion {
    reference: String,
    image: ImageName,
    digest: Digest,
}

/// The build's version tags (`Build::exact_versions_for`) that exist in
/// their registries, with the digest each names.
async fn existing_versions(build: &Build, registry: &Registry) -> Result<Vec<ExistingVersion>> {
    let mut found = Vec::new();
    for image in build.images() {
        let versions = build.exact_versions_for(image);
        if versions.is_empty() {
            continue;
        }
        let existing = registry.existing_tags(image).await?;
        for tag in versions.into_iter().filter(|t| existing.iter().any(|e| e == t)) {
            let digest = registry.resolve(image, tag).await?;
            found.push(ExistingVersion {
                reference: image.with_tag(tag),
                image: image.clone(),
                digest,
            });
        }
    }
    Ok(found)
}

/// Why a build of `platforms` that sets `labels` cannot give the image
/// whose platform images carry `existing` labels; `None` when it may (a
/// reproducible re-run of the same source).
pub(crate) fn cannot_give(
    platforms: &[Platform],
    labels: &BTreeMap<String, String>,
    existing: &[(Option<Platform>, BTreeMap<String, String>)],
) -> Option<String> {
    for platform in platforms {
        let Some((_, theirs)) = existing.iter().find(|(p, _)| p.as_ref() == Some(platform)) else {
            return Some(format!("it has no {platform} image"));
        };
        if let Some(key) = labels.iter().find(|(k, v)| theirs.get(*k) != Some(*v)).map(|(k, _)| k) {
            return Some(format!("its {platform} image has another `{key}` label"));
        }
    }
    None
}

/// `immutable-tags`, before any build: a version tag that exists and names
/// an image this build cannot give fails the run; one that may be the same
/// image is checked again before tagging ([`versions_before_tagging`]). A
/// merge builds nothing: its index is checked before tagging only.
async fn versions_before_build(
    run: &RunSettings,
    build: &Build,
    registry: &Registry,
    log: &Log,
) -> Result<()> {
    if !run.immutable_tags() || !build.pushes() || matches!(run.mode().work(), Mode::Merge { .. }) {
        return Ok(());
    }
    for existing in existing_versions(build, registry).await? {
        let (images, _) = registry.platform_images(&existing.image, &existing.digest, &[]).await?;
        let images: Vec<_> = images.into_iter().map(|i| (Some(i.platform), i.labels)).collect();
        if let Some(why) = cannot_give(build.platforms(), &build.meta().labels, &images) {
            bail!(
                "immutable-tags: {} already names {}, which this build cannot give ({why}); nothing was built. Publish a new version, or delete that tag from the registry to replace it",
                existing.reference,
                existing.digest
            );
        }
        log.info(&format!(
            "immutable-tags: {} already names {}, and this build sets the same labels; it is built and pushed untagged, and the tag is set only if the build gives that digest",
            existing.reference, existing.digest
        ));
    }
    Ok(())
}

/// `immutable-tags`, before any tag is set: every version tag that exists
/// must name `digest`, the image just pushed (and verified), else the run
/// fails with no tag set.
pub(crate) async fn versions_before_tagging(
    run: &RunSettings,
    build: &Build,
    registry: &Registry,
    digest: &Digest,
    log: &Log,
) -> Result<()> {
    if !run.immutable_tags() {
        return Ok(());
    }
    for existing in existing_versions(build, registry).await? {
        if existing.digest != *digest {
            bail!(
                "immutable-tags: {} already names {}, and this build gave {digest}; no tag was set (the build stays in {} untagged). Publish a new version, or delete that tag from the registry to replace it",
                existing.reference,
                existing.digest,
                build.image().name
            );
        }
        log.info(&format!(
            "immutable-tags: {} already names {digest}, the image this build gave; it stays",
            existing.reference
        ));
    }
    Ok(())
}

/// Floating tags to hold back across all images, each with its reason.
pub(crate) async fn held_back_tags(
    run: &RunSettings,
    build: &Build,
    registry: &Registry,
    log: &Log,
) -> Result<Vec<HeldBack>> {
    if run.floating() == FloatingPolicy::Always || !build.pushes() || !build.has_floating_tags() {
        return Ok(Vec::new());
    }
    let mut held: Vec<HeldBack> = Vec::new();
    for image in build.images() {
        let existing = registry.existing_tags(image).await?;
        for item in meta::guard_floating(build.meta(), &existing).held_back {
            log.info(&format!("holding back `{}` on {}: {}", item.tag, image.name, item.reason));
            if !held.iter().any(|h| h.tag == item.tag) {
                held.push(item);
            }
        }
    }
    Ok(held)
}

/// Verifies what BuildKit pushed to the first image's repository (`digest`,
/// from the build's metadata: the index read back, every platform in it,
/// configs, and the architecture scan of every layer streamed from the
/// registry) while copying it by digest to every other image (blobs mounted
/// within a registry, streamed across registries). No tag is touched.
pub(crate) async fn verify_and_copy(
    run: &RunSettings,
    (build, level): (&Build, CheckLevel),
    registry: &Registry,
    digest: &Digest,
    cache: Option<&ScanCache>,
    log: &Log,
) -> Result<Verified> {
    let _group = log.open_group(&format!("Verify {digest}"));
    let source = build.image();
    let copies = build.other_images().iter().map(|image| async move {
        let started = std::time::Instant::now();
        registry.authorize_push(image).await?;
        registry.copy_manifest(source, image, digest).await?;
        anyhow::Ok((image.name.clone(), started.elapsed().as_secs_f64()))
    });
    let (verified, copied) = tokio::join!(
        verify::verify(
            level,
            source,
            registry,
            digest,
            build.platforms(),
            verify::Keeping { cache, record: !matches!(run.mode(), Mode::Digest { .. }) },
            log,
        ),
        futures_util::future::try_join_all(copies)
    );
    let verified = verified?;
    for (name, seconds) in copied? {
        log.info(&format!(
            "{name}: {digest} copied from {} by digest ({seconds:.2}s)",
            source.name
        ));
    }
    Ok(verified)
}

/// Points every tag of every image at the pushed index, then checks each
/// resolves to it. On a failure, says which tags were set and which not.
pub(crate) async fn tag_everywhere(
    build: &Build,
    registry: &Registry,
    root: &Descriptor,
    body: &bytes::Bytes,
    held: &[HeldBack],
    log: &Log,
) -> Result<Vec<String>> {
    let wanted = build.references(held);
    // Each image's tags are set concurrently; images one after another.
    let mut pushed: Vec<String> = Vec::new();
    for image in build.images() {
        let sets = build.tag_names_for(image, held).map(|tag| async move {
            let reference = image.with_tag(tag);
            let result = async {
                registry.put_manifest(image, tag, root, body.clone()).await?;
                let found = registry.resolve(image, tag).await?;
                if found != root.digest {
                    bail!("{reference} resolves to {found}, not to the pushed {}", root.digest);
                }
                anyhow::Ok(())
            }
            .await;
            (reference, result)
        });
        let mut failure = None;
        for (reference, result) in futures_util::future::join_all(sets).await {
            match result {
                Ok(()) => {
                    log.info(&format!("{reference} → {}", root.digest));
                    pushed.push(reference);
                }
                Err(error) => failure = failure.or(Some((reference, error))),
            }
        }
        if let Some((at, error)) = failure {
            let not_pushed = wanted.iter().filter(|r| !pushed.contains(r)).cloned().collect();
            return Err(
                TaggingFailed { at, cause: format!("{error:#}"), pushed, not_pushed }.into()
            );
        }
    }
    Ok(pushed)
}

/// Pushes the OCI layout the build wrote (the way to a plain-HTTP registry
/// the daemon does not reach) to `image` by digest, each blob streamed from
/// its file; returns the pushed digest.
pub(crate) async fn push_layout(
    registry: &Registry,
    layout: &Layout,
    image: &ImageName,
    log: &Log,
) -> Result<Digest> {
    let order = layout.push_order()?;
    let group = log.open_group(&format!("Push {} by digest", order.root.digest));
    let stats = registry.push_layout(layout, &order, image).await?;
    drop(group);
    log.info(&format!(
        "{}: pushed {} from the OCI layout (the daemon does not reach {} over plain HTTP): uploaded {} blob(s), {:.1} MB; {} already there",
        image.name,
        order.root.digest,
        image.registry,
        stats.uploaded,
        stats.bytes as f64 / 1e6,
        stats.skipped
    ));
    Ok(order.root.digest.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_build_cannot_give_an_image_with_other_labels_or_platforms() {
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let arm64 = Platform::parse("linux/arm64").unwrap();
        let ours = labels(&[
            ("org.opencontainers.image.created", "2024-01-01T00:00:00Z"),
            ("org.opencontainers.image.revision", "abc"),
        ]);
        // The base image's own labels beside ours do not matter.
        let same = {
            let mut l = ours.clone();
            l.insert("maintainer".into(), "base".into());
            l
        };
        let later = labels(&[
            ("org.opencontainers.image.created", "2024-02-02T00:00:00Z"),
            ("org.opencontainers.image.revision", "abc"),
        ]);
        let both = [amd64.clone(), arm64.clone()];
        type Case<'a> =
            (&'a [Platform], Vec<(Option<Platform>, BTreeMap<String, String>)>, Option<&'a str>);
        let cases: Vec<Case> = vec![
            (
                &both,
                vec![(Some(amd64.clone()), same.clone()), (Some(arm64.clone()), same.clone())],
                None,
            ),
            (
                &both,
                vec![(Some(amd64.clone()), same.clone()), (Some(arm64.clone()), later.clone())],
                Some("its linux/arm64 image has another `org.opencontainers.image.created` label"),
            ),
            (&both, vec![(Some(amd64.clone()), same.clone())], Some("it has no linux/arm64 image")),
            // One runner's platform (`mode: digest`) is compared with its own image.
            (
                &both[1..],
                vec![(Some(amd64.clone()), later.clone()), (Some(arm64.clone()), same.clone())],
                None,
            ),
            (
                &both[..1],
                vec![(Some(amd64.clone()), labels(&[]))],
                Some("its linux/amd64 image has another `org.opencontainers.image.created` label"),
            ),
        ];
        for (platforms, existing, expected) in cases {
            assert_eq!(
                cannot_give(platforms, &ours, &existing).as_deref(),
                expected,
                "{existing:?}"
            );
        }
    }
}
