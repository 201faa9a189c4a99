//! Publishing: the registry checks before a build (access, floating tags
//! held back), the blob and manifest pushes by digest to every image, and
//! the tags, set only once the pushed image is verified.

use anyhow::{Context as _, Result, bail};

use crate::log::Log;
use crate::meta;
use crate::names::ImageName;
use crate::plan::{FloatingPolicy, HeldBack, Plan};
use crate::registry::Registry;
use crate::registry::layout::{Descriptor, Layout, PushOrder};
use crate::registry::push::PushStats;
use crate::verify::{self, Verified};

/// Blobs uploaded while buildx was finishing: the root they belong to and
/// what each image's upload did.
pub(crate) struct EarlyUpload {
    pub root: String,
    pub stats: Vec<(String, PushStats)>,
}

/// Checks every registry we will talk to, then reads the existing tags.
pub(crate) async fn check_registries(plan: &Plan, registry: &Registry, log: &Log) -> Result<Vec<HeldBack>> {
    let image_registries: Vec<&String> = plan.images.iter().map(|i| &i.registry).collect();
    // Credentials for registries with no image of ours are for pulls.
    let pull_only: Vec<ImageName> =
        plan.credentials.iter().filter(|c| !image_registries.contains(&&c.registry)).map(|c| ImageName::probe_on(&c.registry)).collect();
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
pub(crate) async fn held_back_tags(plan: &Plan, registry: &Registry, log: &Log) -> Result<Vec<HeldBack>> {
    if plan.floating == FloatingPolicy::Always || !plan.push || !plan.meta.tags.iter().any(|t| t.floating.is_some()) {
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

/// Pushes the layout by digest to every image and verifies what the
/// registry holds: the index read back, every platform in it, configs and
/// the architecture scan of every layer (read back while the manifests are
/// stored). No tag is touched.
pub(crate) async fn push_and_verify(
    plan: &Plan,
    registry: &Registry,
    layout: &Layout,
    order: &PushOrder,
    uploaded: Option<EarlyUpload>,
    log: &Log,
) -> Result<Verified> {
    let digest = &order.root.digest;
    let push_group = log.open_group(&format!("Push {digest} by digest"));
    let (stats, when) = match uploaded {
        Some(EarlyUpload { root, stats }) if &root == digest => (Ok(stats), " while buildx finished"),
        _ => (push_blobs_everywhere(plan, registry, layout, order).await, ""),
    };
    let stats = stats?;
    for (name, stats) in stats {
        log.info(&format!(
            "{name}: uploaded {} blob(s), {:.1} MB{when}; {} already there",
            stats.uploaded,
            stats.bytes as f64 / 1e6,
            stats.skipped
        ));
    }
    // The layers are in the registry: the architecture scan reads them
    // back while the manifests are stored and read back.
    let built_images = layout.platform_images()?;
    let scan = verify::scan_layers(plan, registry, &built_images);
    let stored_and_read = async {
        let stored = push_manifests_everywhere(plan, registry, layout, order).await;
        drop(push_group);
        stored?;
        let verify_group = log.open_group("Verify the pushed image");
        let read = verify::read_pushed(registry, &plan.images[0], digest, &plan.platforms, &built_images, log).await?;
        anyhow::Ok((verify_group, read))
    };
    let (read, scanned) = tokio::join!(stored_and_read, scan);
    let (_verify_group, (platform_images, attestations)) = read?;
    let notes = verify::judge(plan, &platform_images, scanned?, log)?;
    Ok(Verified { platform_images, attestations, notes })
}

/// Uploads the layout's blobs to every image's repository, concurrently;
/// what each upload did, by image.
async fn push_blobs_everywhere(plan: &Plan, registry: &Registry, layout: &Layout, order: &PushOrder) -> Result<Vec<(String, PushStats)>> {
    let pushes =
        plan.images.iter().map(|image| async move { anyhow::Ok((image.name.clone(), registry.push_blobs(layout, order, image).await?)) });
    futures_util::future::try_join_all(pushes).await
}

/// Uploads the blobs of the image the exporter reported, once it has, while
/// buildx is still finishing; the pushed root and what each upload did.
/// Nothing is stored but blobs: manifests follow once the build succeeded.
pub(crate) async fn upload_exported_blobs(
    plan: &Plan,
    registry: &Registry,
    layout_dir: &std::path::Path,
    mut exported: tokio::sync::watch::Receiver<Option<String>>,
) -> Result<EarlyUpload> {
    let root = loop {
        if let Some(root) = exported.borrow_and_update().clone() {
            break root;
        }
        exported.changed().await.context("the build ended")?;
    };
    let layout = Layout::being_written(layout_dir);
    let order = layout.push_order_of(&root)?;
    let stats = push_blobs_everywhere(plan, registry, &layout, &order).await?;
    Ok(EarlyUpload { root, stats })
}

/// Stores the layout's manifests, by digest, in every image's repository.
async fn push_manifests_everywhere(plan: &Plan, registry: &Registry, layout: &Layout, order: &PushOrder) -> Result<()> {
    let pushes = plan.images.iter().map(|image| registry.push_manifests(layout, order, image));
    futures_util::future::try_join_all(pushes).await?;
    Ok(())
}

/// Points every tag of every image at the pushed index, then checks each
/// resolves to it. On a failure, says which tags were set and which not.
pub(crate) async fn tag_everywhere(
    plan: &Plan,
    registry: &Registry,
    root: &Descriptor,
    body: &[u8],
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
                registry.put_manifest(image, tag, root, body.to_vec()).await?;
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
            let missing: Vec<&str> = wanted.iter().filter(|r| !pushed.contains(r)).map(String::as_str).collect();
            bail!(
                "tagging failed at {reference}: {error:#}. Pushed: {}. Not pushed: {}",
                if pushed.is_empty() { "none".to_string() } else { pushed.join(", ") },
                missing.join(", ")
            );
        }
    }
    Ok(pushed)
}
