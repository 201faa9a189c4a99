//! Content descriptors, as manifests and indexes name their children.

use serde::Deserialize;

/// A content descriptor: what a manifest or index says of one child.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// Whether a media type is an index (OCI) or a manifest list (Docker).
pub fn is_index(media_type: &str) -> bool {
    media_type.ends_with("image.index.v1+json") || media_type.ends_with("manifest.list.v2+json")
}
