//! Storing a manifest in a repository under a digest or a tag, and pushing
//! an OCI image layout by digest (for registries the daemon's BuildKit
//! cannot push to): layers the registry already has are skipped, the rest
//! streamed from their files eight at a time, manifests after the blobs
//! they name, every call retried when the failure is transient.

use anyhow::{Context as _, Result};
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::HeaderValue;

use super::Registry;
use super::layout::{Descriptor, Layout, PushOrder, is_index};
use crate::names::ImageName;
use crate::retry::{REGISTRY_POLICY, registry_transience, retry};

/// What a push uploaded and what the registry already had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PushStats {
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
    let filesystem_layer =
        blob.media_type.contains(".layer.") || blob.media_type.contains("rootfs.diff");
    filesystem_layer || blob.size > SMALL
}

impl Registry {
    /// Pushes the layout to `image`'s repository by digest: every blob of
    /// `order`, then its manifests. No tag is touched.
    pub(crate) async fn push_layout(
        &self,
        layout: &Layout,
        order: &PushOrder,
        image: &ImageName,
    ) -> Result<PushStats> {
        self.authorize_push(image).await?;
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
        // Platform and attestation manifests concurrently, then the indexes
        // that name them, in walk order.
        let (images, indexes): (Vec<&Descriptor>, Vec<&Descriptor>) =
            order.manifests.iter().partition(|m| !is_index(&m.media_type));
        let puts = images.iter().map(|manifest| async move {
            self.put_manifest(
                image,
                manifest.digest.as_str(),
                manifest,
                layout.read_blob(&manifest.digest)?.into(),
            )
            .await
        });
        futures_util::future::try_join_all(puts).await?;
        for index in indexes {
            self.put_manifest(
                image,
                index.digest.as_str(),
                index,
                layout.read_blob(&index.digest)?.into(),
            )
            .await?;
        }
        Ok(stats)
    }

    /// Uploads one blob unless the repository has it, streamed from its
    /// file (memory does not grow with its size); true when uploaded.
    async fn push_blob_once(
        &self,
        layout: &Layout,
        image: &ImageName,
        blob: &Descriptor,
    ) -> Result<(bool, u64)> {
        let reference = Self::reference(image, None)?;
        let exists = worth_asking_first(blob)
            && retry(
                &format!("checking {} in {}", blob.digest, image.name),
                REGISTRY_POLICY,
                registry_transience,
                || self.client.blob_exists(&reference, blob.digest.as_str()),
            )
            .await
            .unwrap_or(false);
        if exists {
            return Ok((false, blob.size));
        }
        let path = layout.blob_path(&blob.digest);
        retry(
            &format!("uploading {} to {}", blob.digest, image.name),
            REGISTRY_POLICY,
            registry_transience,
            || async {
                let file = tokio::fs::File::open(&path).await.map_err(|error| {
                    oci_client::errors::OciDistributionError::GenericError(Some(format!(
                        "{}: {error}",
                        path.display()
                    )))
                })?;
                let body =
                    tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).map_err(|error| {
                        oci_client::errors::OciDistributionError::GenericError(Some(
                            error.to_string(),
                        ))
                    });
                self.client
                    .push_blob_stream(&reference, body, blob.digest.as_str(), Some(blob.size))
                    .await
            },
        )
        .await
        .with_context(|| {
            format!("could not upload {} ({} bytes) to {}", blob.digest, blob.size, image.name)
        })?;
        Ok((true, blob.size))
    }

    /// Stores a manifest under `reference` (a digest or a tag).
    pub(crate) async fn put_manifest(
        &self,
        image: &ImageName,
        reference_text: &str,
        manifest: &Descriptor,
        body: bytes::Bytes,
    ) -> Result<()> {
        let reference = Self::reference(image, Some(reference_text))?;
        let content_type = HeaderValue::from_str(&manifest.media_type)
            .with_context(|| format!("`{}` is not a media type", manifest.media_type))?;
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
    use crate::digest::Digest;

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
            let blob = Descriptor { media_type: media_type.into(), digest: Digest::of(b""), size };
            assert_eq!(worth_asking_first(&blob), ask, "{media_type} of {size} bytes");
        }
    }
}
