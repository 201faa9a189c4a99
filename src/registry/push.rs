//! Storing a manifest in a repository under a digest or a tag, every call
//! retried when the failure is transient. Blobs reach the registry from
//! BuildKit's own push, or streamed by [`Registry::copy_manifest`].

use anyhow::{Context as _, Result};
use http::HeaderValue;

use super::Registry;
use super::descriptor::Descriptor;
use crate::names::ImageName;
use crate::retry::{REGISTRY_POLICY, registry_transience, retry};

impl Registry {
    /// Stores a manifest under `reference` (a digest or a tag).
    pub async fn put_manifest(&self, image: &ImageName, reference_text: &str, manifest: &Descriptor, body: bytes::Bytes) -> Result<()> {
        let reference = Self::reference(image, Some(reference_text))?;
        let content_type =
            HeaderValue::from_str(&manifest.media_type).with_context(|| format!("`{}` is not a media type", manifest.media_type))?;
        retry(&format!("storing {reference}"), REGISTRY_POLICY, registry_transience, || {
            self.client.push_manifest_raw(&reference, body.clone(), content_type.clone())
        })
        .await
        .with_context(|| format!("could not store the manifest {reference}"))?;
        Ok(())
    }
}
