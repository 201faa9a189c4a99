//! Publishing: the registry checks before a build (access, floating tags
//! held back), the pushed image verified and copied by digest to every
//! image, and the tags, set only once it is verified.

use anyhow::{Result, bail};

use crate::archscan::cache::ScanCache;
use crate::digest::Digest;
use crate::log::Log;
use crate::meta;
use crate::names::ImageName;
use crate::plan::{Build, FloatingPolicy, HeldBack, RunSettings};
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
    held_back_tags(run, build, registry, log).await
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
    build: &Build,
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
            run.checks().verify,
            source,
            registry,
            digest,
            build.platforms(),
            cache,
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
