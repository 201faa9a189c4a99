//! buildx's `--metadata-file`: the pushed digest and the raw JSON.

use anyhow::{Context as _, Result};

use crate::digest::Digest;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BuildMetadata {
    /// `containerimage.digest`: the index digest; absent when nothing was
    /// pushed or loaded (or when it is not a sha256 digest).
    pub digest: Option<Digest>,
    pub raw: serde_json::Value,
}

impl BuildMetadata {
    pub(crate) fn parse(text: &str) -> Result<BuildMetadata> {
        let raw: serde_json::Value =
            serde_json::from_str(text).context("buildx's metadata file is not JSON")?;
        let digest = raw
            .get("containerimage.digest")
            .and_then(|d| d.as_str())
            .and_then(|d| Digest::parse(d).ok());
        Ok(BuildMetadata { digest, raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_read_when_present() {
        let digest = Digest::of(b"index");
        let meta = BuildMetadata::parse(&format!(
            r#"{{"buildx.build.ref":"default/default/x","containerimage.digest":"{digest}","image.name":"r/a:1"}}"#
        ))
        .unwrap();
        assert_eq!(meta.digest, Some(digest));
        assert_eq!(BuildMetadata::parse(r#"{"buildx.build.ref":"x"}"#).unwrap().digest, None);
        for other in ["", "sha256:abc", "sha512:abc"] {
            let text = format!(r#"{{"containerimage.digest":"{other}"}}"#);
            assert_eq!(BuildMetadata::parse(&text).unwrap().digest, None, "{other}");
        }
        assert!(BuildMetadata::parse("").is_err());
    }
}
