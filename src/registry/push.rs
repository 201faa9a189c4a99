//! Pushing an OCI image layout by digest with oci-client: layers the
//! registry already has are skipped, the rest uploaded eight at a time,
//! manifests after the blobs they name, every call retried when the failure
//! is transient. Tags are set separately, once the image is verified.

use anyhow::{Context as _, Result};
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::HeaderValue;
use oci_client::RegistryOperation;

use super::Registry;
use super::layout::{Descriptor, Layout, PushOrder, is_index};
use crate::names::ImageName;
use crate::retry::{REGISTRY_POLICY, registry_transience, retry};

/// What a push uploaded and what the registry already had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    pub uploaded: usize,
    pub skipped: usize,
    pub bytes: u64,
}

const CONCURRENT_UPLOADS: usize = 8;

/// Whether to ask the registry for a blob before uploading it. Filesystem
/// layers are often there already (base images, cached steps) and can be
/// large; configs and attestations carry the build's timestamps, so they
/// are new in almost every build, and uploading a small one straight away
/// saves the question.
fn worth_asking_first(blob: &Descriptor) -> bool {
    const SMALL: u64 = 1 << 20;
    let filesystem_layer = blob.media_type.contains(".layer.") || blob.media_type.contains("rootfs.diff");
    filesystem_layer || blob.size > SMALL
}

impl Registry {
    /// Uploads every blob of `order` to `image`'s repository; the manifests
    /// that name them follow with [`Registry::push_manifests`].
    pub async fn push_blobs(&self, layout: &Layout, order: &PushOrder, image: &ImageName) -> Result<PushStats> {
        if !self.push_authorized(image) {
            let repository = Self::reference(image, None)?;
            let auth = self.auth(&image.registry);
            retry(&format!("authorizing a push to {}", image.name), REGISTRY_POLICY, registry_transience, || {
                self.client.auth(&repository, &auth, RegistryOperation::Push)
            })
            .await
            .with_context(|| format!("the registry {} refused a push to {}", image.registry, image.name))?;
        }
        let results: Vec<(bool, u64)> = futures_util::stream::iter(order.blobs.iter())
            .map(|blob| self.push_blob_once(layout, image, blob))
            .buffer_unordered(CONCURRENT_UPLOADS)
            .try_collect()
            .await?;
        let mut stats = PushStats::default();
        for (uploaded, size) in results {
            if uploaded {
                stats.uploaded += 1;
                stats.bytes += size;
            } else {
                stats.skipped += 1;
            }
        }
        Ok(stats)
    }

    /// Stores every manifest of `order` in `image`'s repository by digest
    /// (its blobs are there): no tag is touched.
    pub async fn push_manifests(&self, layout: &Layout, order: &PushOrder, image: &ImageName) -> Result<()> {
        // Platform and attestation manifests concurrently, then the indexes
        // that name them.
        let (images, indexes): (Vec<&Descriptor>, Vec<&Descriptor>) = order.manifests.iter().partition(|m| !is_index(&m.media_type));
        let puts = images
            .iter()
            .map(|manifest| async move { self.put_manifest(image, &manifest.digest, manifest, layout.read_blob(&manifest.digest)?).await });
        futures_util::future::try_join_all(puts).await?;
        // Indexes in walk order: an index after the manifests it names.
        for index in indexes {
            self.put_manifest(image, &index.digest, index, layout.read_blob(&index.digest)?).await?;
        }
        Ok(())
    }

    /// Uploads one blob unless the repository has it; true when uploaded.
    async fn push_blob_once(&self, layout: &Layout, image: &ImageName, blob: &Descriptor) -> Result<(bool, u64)> {
        let reference = Self::reference(image, None)?;
        let exists = worth_asking_first(blob)
            && retry(&format!("checking {} in {}", blob.digest, image.name), REGISTRY_POLICY, registry_transience, || {
                self.client.blob_exists(&reference, &blob.digest)
            })
            .await
            .unwrap_or(false);
        if exists {
            return Ok((false, blob.size));
        }
        let data = bytes::Bytes::from(layout.read_blob(&blob.digest)?);
        retry(&format!("uploading {} to {}", blob.digest, image.name), REGISTRY_POLICY, registry_transience, || {
            self.client.push_blob(&reference, data.clone(), &blob.digest)
        })
        .await
        .with_context(|| format!("could not upload {} ({} bytes) to {}", blob.digest, blob.size, image.name))?;
        Ok((true, blob.size))
    }

    /// Stores a manifest under `reference` (a digest or a tag).
    pub async fn put_manifest(&self, image: &ImageName, reference_text: &str, manifest: &Descriptor, body: Vec<u8>) -> Result<()> {
        let reference = Self::reference(image, Some(reference_text))?;
        let content_type =
            HeaderValue::from_str(&manifest.media_type).with_context(|| format!("`{}` is not a media type", manifest.media_type))?;
        let body = bytes::Bytes::from(body);
        retry(&format!("storing {reference}"), REGISTRY_POLICY, registry_transience, || {
            self.client.push_manifest_raw(&reference, body.clone(), content_type.clone())
        })
        .await
        .with_context(|| format!("could not store the manifest {reference}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_large_blobs_are_asked_for_first() {
        let cases = [
            ("application/vnd.oci.image.layer.v1.tar+gzip", 100, true),
            ("application/vnd.docker.image.rootfs.diff.tar.gzip", 100, true),
            ("application/vnd.oci.image.layer.v1.tar+zstd", 50 << 20, true),
            ("application/vnd.oci.image.config.v1+json", 1500, false),
            ("application/vnd.docker.container.image.v1+json", 1500, false),
            ("application/vnd.in-toto+json", 8000, false),
            ("application/vnd.in-toto+json", 5 << 20, true),
        ];
        for (media_type, size, ask) in cases {
            let blob = Descriptor { media_type: media_type.into(), digest: "sha256:00".into(), size };
            assert_eq!(worth_asking_first(&blob), ask, "{media_type} of {size} bytes");
        }
    }
}
