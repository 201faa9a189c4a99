//! Publishing: the registry checks before a build (access, floating tags
//! held back), the pushed image verified and copied by digest to every
//! image, and the tags, set only once it is verified.

use anyhow::{Result, bail};

use crate::archscan::cache::ScanCache;
use crate::log::Log;
use crate::meta;
use crate::names::ImageName;
use crate::plan::{FloatingPolicy, HeldBack, Plan};
use crate::registry::Registry;
use crate::registry::layout::Descriptor;
use crate::verify::{self, Verified};

/// Checks every registry we will talk to, then reads the existing tags.
pub(crate) async fn check_registries(
    plan: &Plan,
    registry: &Registry,
    log: &Log,
) -> Result<Vec<HeldBack>> {
    let image_registries: Vec<&String> = plan.images.iter().map(|i| &i.registry).collect();
    // Credentials for registries with no image of ours are for pulls.
    let pull_only: Vec<ImageName> = plan
        .credentials
        .iter()
        .filter(|c| !image_registries.contains(&&c.registry))
        .map(|c| ImageName::probe_on(&c.registry))
        .collect();
    let mut checks = Vec::new();
    let mut seen = Vec::new();
    for image in &plan.images {
        if seen.contains(&image.registry) {
            continue;
        }
        seen.push(image.registry.clone());
        checks.push(registry.check_access(image, plan.push));
    }
    for image in &pull_only {
        seen.push(format!("{} (pulls)", image.registry));
        checks.push(registry.check_access(image, false));
    }
    futures_util::future::try_join_all(checks).await?;
    log.info(&format!("registry access checked: {}", seen.join(", ")));
    held_back_tags(plan, registry, log).await
}

/// Floating tags to hold back across all images, each with its reason.
pub(crate) async fn held_back_tags(
    plan: &Plan,
    registry: &Registry,
    log: &Log,
) -> Result<Vec<HeldBack>> {
    if plan.floating == FloatingPolicy::Always
        || !plan.push
        || !plan.meta.tags.iter().any(|t| t.floating.is_some())
    {
        return Ok(Vec::new());
    }
    let mut held: Vec<HeldBack> = Vec::new();
    for image in &plan.images {
        let existing = registry.existing_tags(image).await?;
        for item in meta::guard_floating(&plan.meta, &existing).held_back {
            log.info(&format!("holding back `{}` on {}: {}", item.tag, image.name, item.reason));
            if !held.iter().any(|h| h.tag == item.tag) {
                held.push(HeldBack { tag: item.tag, reason: item.reason });
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
    plan: &Plan,
    registry: &Registry,
    digest: &str,
    cache: Option<&ScanCache>,
    log: &Log,
) -> Result<Verified> {
    let _group = log.open_group(&format!("Verify {digest}"));
    let source = &plan.images[0];
    let copies = plan.images[1..].iter().map(|image| async move {
        let started = std::time::Instant::now();
        registry.authorize_push(image).await?;
        registry.copy_manifest(source, image, &crate::digest::Digest::parse(digest)?).await?;
        anyhow::Ok((image.name.clone(), started.elapsed().as_secs_f64()))
    });
    let (verified, copied) = tokio::join!(
        verify::verify(plan, registry, digest, &plan.platforms, cache, log),
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
    plan: &Plan,
    registry: &Registry,
    root: &Descriptor,
    body: &bytes::Bytes,
    held: &[HeldBack],
    log: &Log,
) -> Result<Vec<String>> {
    let wanted = plan.references(held);
    // Each image's tags are set concurrently; images one after another.
    let mut pushed: Vec<String> = Vec::new();
    for image in &plan.images {
        let sets = plan.tag_names_for(image, held).map(|tag| async move {
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
        if let Some((reference, error)) = failure {
            let missing: Vec<&str> =
                wanted.iter().filter(|r| !pushed.contains(r)).map(String::as_str).collect();
            bail!(
                "tagging failed at {reference}: {error:#}. Pushed: {}. Not pushed: {}",
                if pushed.is_empty() { "none".to_string() } else { pushed.join(", ") },
                missing.join(", ")
            );
        }
    }
    Ok(pushed)
}
