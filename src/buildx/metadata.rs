//! buildx's `--metadata-file`: the pushed digest and the raw JSON.

use anyhow::{Context as _, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct BuildMetadata {
    /// `containerimage.digest`: the index digest; absent when nothing was
    /// pushed or loaded.
    pub digest: Option<String>,
    pub raw: serde_json::Value,
}

impl BuildMetadata {
    pub fn parse(text: &str) -> Result<BuildMetadata> {
        let raw: serde_json::Value =
            serde_json::from_str(text).context("buildx's metadata file is not JSON")?;
        let digest = raw
            .get("containerimage.digest")
            .and_then(|d| d.as_str())
            .filter(|d| d.starts_with("sha256:"))
            .map(str::to_string);
        Ok(BuildMetadata { digest, raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_read_when_present() {
        let meta =
            BuildMetadata::parse(r#"{"buildx.build.ref":"default/default/x","containerimage.digest":"sha256:abc","image.name":"r/a:1"}"#)
                .unwrap();
        assert_eq!(meta.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(BuildMetadata::parse(r#"{"buildx.build.ref":"x"}"#).unwrap().digest, None);
        assert!(BuildMetadata::parse("").is_err());
    }
}
