//! Content descriptors, and an OCI image layout on disk (what `buildx build
//! --output type=oci,tar=false` writes, for registries the daemon's BuildKit
//! cannot push to): its root descriptor, and every manifest and blob it
//! holds in the order a registry accepts them (blobs, then manifests with
//! children before parents).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// A content descriptor: what a manifest or index says of one child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// The config and layers an image manifest names (those that read as
/// descriptors).
pub(crate) fn blobs_of(manifest: &serde_json::Value) -> Vec<Descriptor> {
    let config = manifest.get("config").cloned().into_iter();
    let layers =
        manifest.get("layers").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    config.chain(layers).filter_map(|d| serde_json::from_value(d).ok()).collect()
}

/// The OCI empty descriptor's content: an artifact manifest's config.
pub(crate) const EMPTY_CONFIG: &[u8] = b"{}";

impl Descriptor {
    /// The OCI empty descriptor, of [`EMPTY_CONFIG`].
    pub(crate) fn empty_config() -> Descriptor {
        Descriptor::of("application/vnd.oci.empty.v1+json", EMPTY_CONFIG)
    }

    /// The descriptor of `body`, stored as `media_type`.
    pub(crate) fn of(media_type: &str, body: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: Digest::of(body),
            size: body.len() as u64,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestShape {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// Everything to upload, in upload order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushOrder {
    pub blobs: Vec<Descriptor>,
    /// Manifests and indexes, children before parents; the root last.
    pub manifests: Vec<Descriptor>,
    pub root: Descriptor,
}

pub(crate) struct Layout {
    dir: PathBuf,
}

pub(crate) fn is_index(media_type: &str) -> bool {
    media_type.ends_with("image.index.v1+json") || media_type.ends_with("manifest.list.v2+json")
}

/// Where a layout keeps its blobs, each under its hex digits.
pub(crate) const BLOBS: &str = "blobs/sha256/";

/// The path of a blob inside a layout: `blobs/sha256/<hex>`.
pub(crate) fn blob_entry(digest: &Digest) -> String {
    format!("{BLOBS}{}", digest.hex())
}

impl Layout {
    pub(crate) fn open(dir: &Path) -> Result<Layout> {
        if !dir.join("index.json").is_file() {
            bail!("{} is not an OCI image layout (no index.json)", dir.display());
        }
        Ok(Layout { dir: dir.to_path_buf() })
    }

    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(blob_entry(digest))
    }

    pub(crate) fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        std::fs::read(&path).with_context(|| format!("the image layout lacks {digest}"))
    }

    /// The image the layout was written for: the first entry of index.json.
    pub(crate) fn root(&self) -> Result<Descriptor> {
        let text = std::fs::read_to_string(self.dir.join("index.json"))
            .context("could not read the layout's index.json")?;
        let index: ManifestShape =
            serde_json::from_str(&text).context("the layout's index.json is not an OCI index")?;
        index.manifests.into_iter().next().context("the layout's index.json names no image")
    }

    /// Walks from the root: every blob once, manifests children first.
    pub(crate) fn push_order(&self) -> Result<PushOrder> {
        let root = self.root()?;
        let mut order = PushOrder { blobs: Vec::new(), manifests: Vec::new(), root: root.clone() };
        self.visit(&root, &mut order, 0)?;
        Ok(order)
    }

    fn visit(&self, descriptor: &Descriptor, order: &mut PushOrder, depth: usize) -> Result<()> {
        if depth > 8 {
            bail!("the image layout nests indexes too deeply");
        }
        if order.manifests.iter().any(|m| m.digest == descriptor.digest) {
            return Ok(());
        }
        let shape: ManifestShape = serde_json::from_slice(&self.read_blob(&descriptor.digest)?)
            .with_context(|| {
                format!("{} in the image layout is not a manifest", descriptor.digest)
            })?;
        let media_type = shape.media_type.clone().unwrap_or_else(|| descriptor.media_type.clone());
        if is_index(&media_type) {
            for child in &shape.manifests {
                self.visit(child, order, depth + 1)?;
            }
        } else {
            for blob in shape.config.iter().chain(&shape.layers) {
                if !order.blobs.iter().any(|b| b.digest == blob.digest) {
                    order.blobs.push(blob.clone());
                }
            }
        }
        order.manifests.push(descriptor.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn put(dir: &Path, content: &str) -> Digest {
        let digest = Digest::of(content.as_bytes());
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("blobs/sha256").join(digest.hex()), content).unwrap();
        digest
    }

    fn descriptor(media_type: &str, digest: &Digest, size: usize) -> String {
        format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
    }

    #[test]
    fn an_index_is_walked_children_first_with_blobs_once() {
        let dir = tempfile::tempdir().unwrap();
        let layer = put(dir.path(), "shared layer");
        let mut manifests = Vec::new();
        for arch in ["amd64", "arm64"] {
            let config = put(dir.path(), &format!("{{\"architecture\":\"{arch}\"}}"));
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{}]}}"#,
                descriptor("application/vnd.oci.image.config.v1+json", &config, 10),
                descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &layer, 12)
            );
            let digest = put(dir.path(), &manifest);
            manifests.push(descriptor(
                "application/vnd.oci.image.manifest.v1+json",
                &digest,
                manifest.len(),
            ));
        }
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            manifests.join(",")
        );
        let index_digest = put(dir.path(), &index);
        std::fs::write(
            dir.path().join("index.json"),
            format!(
                r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
                descriptor("application/vnd.oci.image.index.v1+json", &index_digest, index.len())
            ),
        )
        .unwrap();

        let order = Layout::open(dir.path()).unwrap().push_order().unwrap();
        assert_eq!(order.root.digest, index_digest);
        assert_eq!(order.blobs.len(), 3, "two configs and one shared layer");
        assert_eq!(order.blobs.iter().filter(|b| b.digest == layer).count(), 1);
        assert_eq!(order.manifests.len(), 3);
        assert_eq!(order.manifests.last().unwrap().digest, index_digest, "the root comes last");
    }

    #[test]
    fn a_missing_blob_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let absent = Digest::of(b"absent");
        std::fs::write(
            dir.path().join("index.json"),
            format!(
                r#"{{"manifests":[{}]}}"#,
                descriptor("application/vnd.oci.image.manifest.v1+json", &absent, 2)
            ),
        )
        .unwrap();
        let error = Layout::open(dir.path()).unwrap().push_order().unwrap_err().to_string();
        assert!(error.contains(&format!("lacks {absent}")), "{error}");
        assert!(Layout::open(Path::new("/nonexistent")).is_err());
    }

    #[test]
    fn a_digest_that_is_not_sha256_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.json"),
            r#"{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":2}]}"#,
        )
        .unwrap();
        let error = format!("{:#}", Layout::open(dir.path()).unwrap().root().unwrap_err());
        assert!(error.contains("`sha256:00` is not a sha256 digest"), "{error}");
    }
}
