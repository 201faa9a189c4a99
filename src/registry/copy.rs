//! Reading manifests as raw bytes (and configs, checked against their
//! digests), copying a manifest and everything it names from one repository
//! to another (mounting blobs within a registry, copying them across
//! registries), and building the index that merges per-platform digests.

use anyhow::{Context as _, Result, bail};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

use super::Registry;
use super::layout::{Descriptor, is_index};
use crate::digest::Digest;
use crate::names::ImageName;
use crate::platform::Platform;
use crate::retry::{REGISTRY_POLICY, registry_transience, retry};

/// Configs and manifests are read into memory; none is larger than this.
const SMALL_BLOB_LIMIT: u64 = 16 << 20;

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const ACCEPTED: &[&str] = &[
    OCI_INDEX,
    OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A manifest as stored: its bytes, digest and media type.
#[derive(Debug, Clone)]
pub(crate) struct RawManifest {
    pub bytes: bytes::Bytes,
    pub digest: Digest,
    pub media_type: String,
    pub json: Value,
}

impl RawManifest {
    pub(crate) fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
        }
    }

    /// Child manifests (of an index) and blobs (of an image manifest).
    fn children(&self) -> (Vec<Descriptor>, Vec<Descriptor>) {
        let list = |key: &str| -> Vec<Descriptor> {
            self.json
                .get(key)
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|d| serde_json::from_value(d.clone()).ok()).collect())
                .unwrap_or_default()
        };
        if is_index(&self.media_type) {
            (list("manifests"), Vec::new())
        } else {
            (Vec::new(), super::layout::blobs_of(&self.json))
        }
    }
}

/// One entry of a merged index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MergeEntry {
    pub descriptor: Descriptor,
    /// None for attestation manifests.
    pub platform: Option<Platform>,
    pub entry: Value,
}

/// The index that lists `entries`, with index-level annotations.
pub(crate) fn merged_index(
    entries: &[MergeEntry],
    annotations: &[(String, String)],
) -> (Vec<u8>, Descriptor) {
    let mut index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries.iter().map(|e| e.entry.clone()).collect::<Vec<_>>(),
    });
    if !annotations.is_empty() {
        index["annotations"] = annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    let bytes = serde_json::to_vec(&index).unwrap_or_default();
    let descriptor = Descriptor::of(OCI_INDEX, &bytes);
    (bytes, descriptor)
}

/// Platforms that appear twice among `entries`, with their digests.
pub(crate) fn duplicate_platforms(entries: &[MergeEntry]) -> Option<(Platform, Digest, Digest)> {
    for (i, a) in entries.iter().enumerate() {
        for b in &entries[i + 1..] {
            if let (Some(pa), Some(pb)) = (&a.platform, &b.platform)
                && pa == pb
            {
                return Some((
                    pa.clone(),
                    a.descriptor.digest.clone(),
                    b.descriptor.digest.clone(),
                ));
            }
        }
    }
    None
}

impl Registry {
    /// A manifest of `image` by digest or tag, as stored.
    pub(crate) async fn raw_manifest(
        &self,
        image: &ImageName,
        reference_text: &str,
    ) -> Result<RawManifest> {
        let reference = Self::reference(image, Some(reference_text))?;
        let auth = self.auth(&image.registry);
        let (bytes, digest) =
            retry(&format!("reading {reference}"), REGISTRY_POLICY, registry_transience, || {
                self.client.pull_manifest_raw(&reference, &auth, ACCEPTED)
            })
            .await
            .with_context(|| format!("{reference} does not exist or cannot be read"))?;
        let digest = super::answered_digest(&reference, &digest)?;
        let json: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{reference} is not a JSON manifest"))?;
        let media_type =
            json.get("mediaType").and_then(|m| m.as_str()).map(str::to_string).unwrap_or_else(
                || {
                    if json.get("manifests").is_some() {
                        OCI_INDEX.to_string()
                    } else {
                        OCI_MANIFEST.to_string()
                    }
                },
            );
        Ok(RawManifest { bytes, digest, media_type, json })
    }

    /// A manifest of `image` by tag, as stored; None when the repository
    /// or the tag does not exist.
    pub(crate) async fn manifest_if_any(
        &self,
        image: &ImageName,
        tag: &str,
    ) -> Result<Option<RawManifest>> {
        let reference = Self::reference(image, Some(tag))?;
        let auth = self.auth(&image.registry);
        let found =
            retry(&format!("reading {reference}"), REGISTRY_POLICY, registry_transience, || {
                self.client.fetch_manifest_digest(&reference, &auth)
            })
            .await;
        match found {
            Ok(_) => self.raw_manifest(image, tag).await.map(Some),
            Err(error) if super::is_not_found(&error) => Ok(None),
            Err(error) => Err(error)
                .with_context(|| format!("could not look for {reference} in its registry")),
        }
    }

    /// The manifests that refer to `subject` in `image`: from the referrers
    /// API, or from the referrers tag (`sha256-<hex>`) on a registry without
    /// it; none when there are none.
    pub(crate) async fn referrers(
        &self,
        image: &ImageName,
        subject: &Digest,
    ) -> Result<Vec<Digest>> {
        let reference = Self::reference(image, Some(subject.as_str()))?;
        let auth = self.auth(&image.registry);
        self.client.store_auth_if_needed(reference.resolve_registry(), &auth).await;
        let index = retry(
            &format!("listing the referrers of {reference}"),
            REGISTRY_POLICY,
            registry_transience,
            || self.client.pull_referrers(&reference, None),
        )
        .await
        .with_context(|| format!("could not list the referrers of {reference}"))?;
        index
            .manifests
            .iter()
            .map(|entry| {
                Digest::parse(&entry.digest).with_context(|| {
                    format!("the referrers of {reference} name `{}`, no digest", entry.digest)
                })
            })
            .collect()
    }

    /// A small blob held in memory (a config, a signature) stored in
    /// `image`'s repository.
    pub(crate) async fn put_small_blob(
        &self,
        image: &ImageName,
        descriptor: &Descriptor,
        body: impl Into<bytes::Bytes>,
    ) -> Result<()> {
        let body = body.into();
        self.put_blob(image, descriptor, None, || {
            let body = body.clone();
            async move { Ok(futures_util::stream::once(async move { Ok(body) })) }
        })
        .await?;
        Ok(())
    }

    /// A small blob (a config) read whole, checked against its digest.
    pub(crate) async fn small_blob(&self, image: &ImageName, blob: &Descriptor) -> Result<Vec<u8>> {
        if blob.size > SMALL_BLOB_LIMIT {
            bail!(
                "{}: the config {} is {} bytes; configs are expected to be small",
                image.name,
                blob.digest,
                blob.size
            );
        }
        let stream = self.layer_stream(image, &blob.digest).await?;
        let chunks: Vec<bytes::Bytes> = stream
            .stream
            .try_collect()
            .await
            .with_context(|| format!("could not read {} of {}", blob.digest, image.name))?;
        let bytes = chunks.concat();
        if Digest::of(&bytes) != blob.digest {
            bail!(
                "{} sent content for {} that does not match its digest",
                image.registry,
                blob.digest
            );
        }
        Ok(bytes)
    }

    /// The entries a digest contributes to a merged index: the platform
    /// manifests (and attestations) of an index, or a single manifest with
    /// the platform its config declares.
    pub(crate) async fn merge_entries(
        &self,
        image: &ImageName,
        digest: &Digest,
    ) -> Result<Vec<MergeEntry>> {
        let manifest = self.raw_manifest(image, digest.as_str()).await?;
        if is_index(&manifest.media_type) {
            let entries = manifest
                .json
                .get("manifests")
                .and_then(|m| m.as_array())
                .cloned()
                .unwrap_or_default();
            return entries
                .into_iter()
                .map(|entry| {
                    let descriptor: Descriptor = serde_json::from_value(entry.clone())
                        .context("an index entry is not a descriptor")?;
                    let platform = entry.get("platform").and_then(Platform::from_oci_json);
                    Ok(MergeEntry { descriptor, platform, entry })
                })
                .collect();
        }
        let (images, _) = self.platform_images(image, digest, &[]).await?;
        let platform = images
            .into_iter()
            .next()
            .map(|i| i.platform)
            .context("the manifest declares no platform")?;
        let descriptor = manifest.descriptor();
        let mut platform_json = json!({ "os": platform.os, "architecture": platform.arch });
        if let Some(variant) = &platform.variant {
            platform_json["variant"] = json!(variant);
        }
        let entry = json!({ "mediaType": descriptor.media_type, "digest": descriptor.digest, "size": descriptor.size, "platform": platform_json });
        Ok(vec![MergeEntry { descriptor, platform: Some(platform), entry }])
    }

    /// Copies the manifest `digest` and everything it names from `source` to
    /// `target`: blobs are mounted within one registry, copied across.
    pub(crate) async fn copy_manifest(
        &self,
        source: &ImageName,
        target: &ImageName,
        digest: &Digest,
    ) -> Result<()> {
        let manifest = self.raw_manifest(source, digest.as_str()).await?;
        let (children, blobs) = manifest.children();
        for child in &children {
            Box::pin(self.copy_manifest(source, target, &child.digest)).await?;
        }
        futures_util::stream::iter(blobs.iter())
            .map(|blob| self.copy_blob(source, target, blob))
            .buffer_unordered(4)
            .try_collect::<Vec<()>>()
            .await?;
        self.put_manifest(target, digest.as_str(), &manifest.descriptor(), manifest.bytes.clone())
            .await
    }

    async fn copy_blob(
        &self,
        source: &ImageName,
        target: &ImageName,
        blob: &Descriptor,
    ) -> Result<()> {
        let source_ref = Self::reference(source, None)?;
        let mount_from = (source.registry == target.registry).then_some(source);
        self.put_blob(target, blob, mount_from, || async {
            let source_stream =
                self.client.pull_blob_stream(&source_ref, blob.digest.as_str()).await?;
            Ok(source_stream.stream.map_err(|error| {
                oci_client::errors::OciDistributionError::GenericError(Some(error.to_string()))
            }))
        })
        .await
        .with_context(|| {
            format!(
                "could not copy {} ({} bytes) from {} to {}",
                blob.digest, blob.size, source.name, target.name
            )
        })?;
        Ok(())
    }

    /// Puts `blob` into `target` unless it is there already: mounted from
    /// `mount_from` (a repository of the same registry) when that works,
    /// else uploaded from the stream `open` makes. Streamed: what is read
    /// goes up as it comes, so memory does not grow with the blob; a failed
    /// try calls `open` again and starts over. True when uploaded.
    pub(crate) async fn put_blob<Open, Opening, Body>(
        &self,
        target: &ImageName,
        blob: &Descriptor,
        mount_from: Option<&ImageName>,
        open: Open,
    ) -> Result<bool>
    where
        Open: Fn() -> Opening,
        Opening:
            std::future::Future<Output = Result<Body, oci_client::errors::OciDistributionError>>,
        Body: futures_util::Stream<
                Item = Result<bytes::Bytes, oci_client::errors::OciDistributionError>,
            > + Send
            + 'static,
    {
        let target_ref = Self::reference(target, None)?;
        let digest = blob.digest.as_str();
        if self.client.blob_exists(&target_ref, digest).await.unwrap_or(false) {
            return Ok(false);
        }
        if let Some(source) = mount_from {
            let source_ref = Self::reference(source, None)?;
            if self.client.mount_blob(&target_ref, &source_ref, digest).await.is_ok()
                && self.client.blob_exists(&target_ref, digest).await.unwrap_or(false)
            {
                return Ok(false);
            }
        }
        retry(
            &format!("uploading {} to {}", blob.digest, target.name),
            REGISTRY_POLICY,
            registry_transience,
            || async {
                let body = open().await?;
                self.client.push_blob_stream(&target_ref, body, digest, Some(blob.size)).await
            },
        )
        .await?;
        Ok(true)
    }

    /// Whether `image` already holds the manifest `digest`.
    pub(crate) async fn has_manifest(&self, image: &ImageName, digest: &Digest) -> bool {
        self.resolve(image, digest.as_str()).await.is_ok()
    }
}

/// Checks the merged platforms are distinct and cover `required`.
pub(crate) fn check_merge(entries: &[MergeEntry], required: &[Platform]) -> Result<()> {
    if let Some((platform, a, b)) = duplicate_platforms(entries) {
        bail!("digests: {a} and {b} are both {platform}; give one digest per platform");
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|p| !entries.iter().any(|e| e.platform.as_ref() == Some(*p)))
        .map(Platform::to_string)
        .collect();
    if !missing.is_empty() {
        bail!(
            "digests: no digest is for {}, which `platforms` asks for; add its digest or remove it from `platforms`",
            missing.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(platform: Option<&str>, content: &str) -> MergeEntry {
        let digest = Digest::of(content.as_bytes());
        MergeEntry {
            entry: json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": 10}),
            descriptor: Descriptor { media_type: OCI_MANIFEST.into(), digest, size: 10 },
            platform: platform.map(|p| Platform::parse(p).unwrap()),
        }
    }

    #[test]
    fn merge_checks_name_duplicates_and_gaps() {
        let amd = entry(Some("linux/amd64"), "a");
        let arm = entry(Some("linux/arm64"), "b");
        let attestation = entry(None, "c");
        let required = Platform::parse_list("linux/amd64,linux/arm64").unwrap();
        assert!(check_merge(&[amd.clone(), arm.clone(), attestation.clone()], &required).is_ok());
        let other = entry(Some("linux/amd64"), "d");
        let error = check_merge(&[amd.clone(), other.clone()], &[]).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "digests: {} and {} are both linux/amd64; give one digest per platform",
                amd.descriptor.digest, other.descriptor.digest
            )
        );
        let error = check_merge(&[amd], &required).unwrap_err().to_string();
        assert!(error.starts_with("digests: no digest is for linux/arm64"), "{error}");
    }

    #[test]
    fn the_merged_index_is_content_addressed() {
        let entries = [entry(Some("linux/amd64"), "a")];
        let (bytes, descriptor) =
            merged_index(&entries, &[("org.opencontainers.image.version".into(), "1.0.0".into())]);
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["mediaType"], OCI_INDEX);
        assert_eq!(json["manifests"][0]["digest"], entries[0].descriptor.digest.as_str());
        assert_eq!(json["annotations"]["org.opencontainers.image.version"], "1.0.0");
        assert_eq!(descriptor.digest, Digest::of(&bytes));
        assert_eq!(descriptor.size, bytes.len() as u64);
    }
}
