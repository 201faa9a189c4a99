//! `bundle push`: every image of a checked bundle into one registry, every
//! platform, digests kept. Each blob is streamed from where the check found
//! it in the tarball (or its parts), four at a time, to the first
//! repository that needs it, through the registry client's streamed upload
//! (memory does not grow with the blob), then mounted into the others; the
//! signatures the bundle carries beside the manifests they sign (checked
//! first when `--key` or `--trusted-root` asks); the manifests after their
//! blobs, each image's root under its original tag last; each tag read back
//! against its digest.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use futures_util::{StreamExt as _, TryStreamExt as _};

use super::check::{BundleImage, Checked, check, describe};
use super::signatures::{self, Carried, Kind, TrustFlags};
use crate::digest::Digest;
use crate::names::{Credential, Credentials, ImageName};
use crate::registry::Registry;
use crate::registry::layout::Descriptor;

/// Blobs uploaded at once.
const CONCURRENT_UPLOADS: usize = 4;

/// Where one image of the bundle goes.
struct Target<'a> {
    image: &'a BundleImage,
    repository: ImageName,
    /// The tag, or the digest when the image was named so.
    named: String,
    /// The repository with that tag or digest.
    reference: String,
}

fn target<'a>(registry: &str, image: &'a BundleImage) -> Result<Target<'a>> {
    let original = crate::reference::parse(&image.name)?;
    let repository = ImageName::parse(&format!("{registry}/{}", original.repository()))?;
    let (named, reference) = match (original.tag(), original.digest()) {
        (None, Some(digest)) => {
            let digest = Digest::parse(digest)
                .with_context(|| format!("the bundle names {}", image.name))?;
            (digest.to_string(), repository.with_digest(&digest))
        }
        (tag, _) => {
            let tag = tag.unwrap_or("latest");
            (tag.to_string(), repository.with_tag(tag))
        }
    };
    Ok(Target { image, repository, named, reference })
}

/// Pushes the bundle at `file` into `registry`.
pub(super) async fn push(
    file: &Path,
    registry: &str,
    insecure: bool,
    credential: Option<&Credential>,
    flags: &TrustFlags,
) -> Result<()> {
    let trust = signatures::trust(flags)?;
    let checked = tokio::task::spawn_blocking({
        let file = file.to_path_buf();
        move || check(&file)
    })
    .await??;
    print!("{}", describe(file, &checked));
    print!("{}", super::offline::check_signatures(file, &checked, trust.as_ref())?);
    let targets: Vec<Target> =
        checked.images.iter().map(|image| target(registry, image)).collect::<Result<_>>()?;
    let client = client_for(registry, insecure, credential, &targets);
    authorize(&client, &targets, credential).await?;
    let uploaded = push_blobs(&client, &checked, &targets).await?;
    for target in &targets {
        // Signed before tagged, as the run that built it did.
        push_signatures(&client, &checked, target).await?;
        push_image(&client, &checked, target).await?;
    }
    println!(
        "{} image(s) pushed to {registry}; {uploaded} blob upload(s), the rest mounted or already there",
        targets.len()
    );
    Ok(())
}

/// A registry client for the repositories of `targets`: `registry` over
/// plain HTTP when `insecure`, with `credential` when one is given.
fn client_for(
    registry: &str,
    insecure: bool,
    credential: Option<&Credential>,
    targets: &[Target<'_>],
) -> Registry {
    let repositories: Vec<ImageName> = targets.iter().map(|t| t.repository.clone()).collect();
    let insecure_registries = if insecure { vec![registry.to_string()] } else { Vec::new() };
    Registry::new(
        &insecure_registries,
        &credential.cloned().into_iter().collect::<Credentials>(),
        &repositories,
    )
}

/// Push rights to every repository, asked for before any upload; a refusal
/// says what to give on the command line.
async fn authorize(
    client: &Registry,
    targets: &[Target<'_>],
    credential: Option<&Credential>,
) -> Result<()> {
    for target in targets {
        client.authorize_push(&target.repository).await.map_err(|e| {
            let hint = if credential.is_some() {
                "check --username and the password"
            } else {
                "give --username and --password-stdin"
            };
            anyhow::anyhow!("{e:#}; {hint}, and --insecure for a plain-HTTP registry")
        })?;
    }
    Ok(())
}

/// Every config and layer into the repositories that need it, a few blobs
/// at once; the number of uploads.
async fn push_blobs(client: &Registry, checked: &Checked, targets: &[Target<'_>]) -> Result<usize> {
    // Which images need each blob (configs and layers; manifests go up as manifests).
    let mut users: BTreeMap<&Digest, Vec<usize>> = BTreeMap::new();
    for (i, target) in targets.iter().enumerate() {
        for blob in &target.image.blobs {
            let list = users.entry(blob).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    let uploads: Vec<usize> = futures_util::stream::iter(users.iter())
        .map(|(digest, users)| push_blob(client, checked, targets, digest, users))
        .buffer_unordered(CONCURRENT_UPLOADS)
        .try_collect()
        .await?;
    Ok(uploads.iter().sum())
}

/// One image's manifests, each platform's by digest and the root under its
/// tag (or digest), then the tag read back against the root's digest.
async fn push_image(client: &Registry, checked: &Checked, target: &Target<'_>) -> Result<()> {
    for (_, digest, media_type) in &target.image.platforms {
        if *digest != target.image.root_digest {
            put_manifest(
                client,
                &target.repository,
                digest.as_str(),
                &checked.documents,
                digest,
                media_type,
            )
            .await?;
        }
    }
    let root = &target.image.root_digest;
    put_manifest(
        client,
        &target.repository,
        &target.named,
        &checked.documents,
        root,
        &target.image.root_media_type,
    )
    .await?;
    let reference = &target.reference;
    let stored = client
        .resolve(&target.repository, &target.named)
        .await
        .with_context(|| format!("could not read back {reference}"))?;
    if stored != *root {
        bail!("{reference} reads back as {stored}, not {root}; the registry changed the manifest");
    }
    let platforms: Vec<String> =
        target.image.platforms.iter().map(|(p, _, _)| p.to_string()).collect();
    println!("pushed {reference}@{stored} ({})", platforms.join(", "));
    Ok(())
}

/// One blob into every repository that needs it: uploaded (streamed from
/// the bundle) to the first that lacks it, mounted into the others; the
/// number of uploads.
async fn push_blob(
    client: &Registry,
    checked: &Checked,
    targets: &[Target<'_>],
    digest: &Digest,
    users: &[usize],
) -> Result<usize> {
    let &(offset, size) =
        checked.spans.get(digest).with_context(|| format!("the bundle lacks the blob {digest}"))?;
    let blob =
        Descriptor { media_type: "application/octet-stream".into(), digest: digest.clone(), size };
    let mut uploads = 0;
    let mut first: Option<&ImageName> = None;
    for &i in users {
        let repository = &targets[i].repository;
        let uploaded = client
            .put_blob(repository, &blob, first, || async {
                Ok(checked.files.byte_stream(offset, size).map_err(|error| {
                    oci_client::errors::OciDistributionError::GenericError(Some(error.to_string()))
                }))
            })
            .await
            .with_context(|| {
                format!("could not upload {digest} ({size} bytes) to {}", repository.name)
            })?;
        uploads += usize::from(uploaded);
        first.get_or_insert(repository);
    }
    Ok(uploads)
}

async fn put_manifest(
    client: &Registry,
    repository: &ImageName,
    reference: &str,
    documents: &BTreeMap<Digest, Vec<u8>>,
    digest: &Digest,
    media_type: &str,
) -> Result<()> {
    let body = bytes::Bytes::from(
        documents
            .get(digest)
            .with_context(|| format!("the bundle lacks the manifest {digest}"))?
            .clone(),
    );
    let descriptor = Descriptor {
        media_type: media_type.to_string(),
        digest: digest.clone(),
        size: body.len() as u64,
    };
    client.put_manifest(repository, reference, &descriptor, body).await
}

/// The signatures the bundle carries for one image, into its repository:
/// cosign's under their tags, Sigstore bundles as referrers (the referrers
/// tag's index keeping what it listed).
async fn push_signatures(client: &Registry, checked: &Checked, target: &Target<'_>) -> Result<()> {
    let carried: Vec<&Carried> =
        checked.carried.iter().filter(|c| c.image == target.image.name).collect();
    for item in &carried {
        let repository = &target.repository;
        let bytes = checked
            .documents
            .get(&item.manifest.digest)
            .with_context(|| format!("the bundle lacks the manifest {}", item.manifest.digest))?
            .clone();
        let manifest: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a JSON manifest", item.manifest.digest))?;
        for blob in crate::registry::layout::blobs_of(&manifest) {
            let body = checked
                .documents
                .get(&blob.digest)
                .with_context(|| format!("the bundle lacks the blob {}", blob.digest))?
                .clone();
            client.put_small_blob(repository, &blob, body).await?;
        }
        let stored = match item.kind() {
            Kind::KeySignature | Kind::KeyAttestation => {
                client.put_manifest(repository, &item.tag, &item.manifest, bytes.into()).await
            }
            Kind::SigstoreBundle => {
                let predicate_type = manifest
                    .pointer("/annotations/dev.sigstore.bundle.predicateType")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default();
                crate::sign::store_referrer(
                    client,
                    repository,
                    &item.subject,
                    &item.manifest,
                    bytes,
                    predicate_type,
                )
                .await
            }
        };
        stored.with_context(|| {
            format!("could not push the signature of {}@{}", repository.name, item.subject)
        })?;
    }
    if !carried.is_empty() {
        println!("pushed {} signature manifest(s) of {}", carried.len(), target.reference);
    }
    Ok(())
}
