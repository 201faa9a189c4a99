//! What `mode: bundle` is asked to do, resolved from the inputs with the
//! Plan: the images (the references in `images`, then the services of
//! `compose-file`), how a missing platform is treated, and the file to write.
//! The Compose file is read and interpolated here, so that its mistakes fail
//! before any registry is asked.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use super::compose;
use crate::inputs::{BoolOr, RawInputs};
use crate::names::ImageName;
use crate::platform::Platform;
use crate::runner::GithubContext;

/// One image of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedImage {
    /// The Compose service that runs it; None for a line of `images`.
    pub service: Option<String>,
    /// The reference as written (interpolated), e.g. `redis:7.2`.
    pub reference: String,
    /// The service's own `platform:`, which it needs instead of `platforms`.
    pub platform: Option<Platform>,
}

/// How a gap (an image without a requested platform) is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditLevel {
    /// Fail before anything is written.
    Fail,
    /// Leave the image out, with a warning.
    Warn,
    /// Do not look: bundle what each image offers of the platforms.
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRequest {
    pub images: Vec<WantedImage>,
    pub audit: AuditLevel,
    pub file: PathBuf,
    /// `bundle-split`: the largest part, in bytes; None for one file.
    pub split: Option<u64>,
}

impl BundleRequest {
    /// Reads `images`, `compose-file`, `audit`, `bundle` and `bundle-split`.
    pub fn resolve(raw: &RawInputs, github: &GithubContext) -> Result<BundleRequest> {
        let mut images = Vec::new();
        for line in crate::inputs::split_list(raw.get("images"), false) {
            images.push(WantedImage { service: None, reference: checked_reference("images", &line)?, platform: None });
        }
        if let Some(file) = raw.text("compose-file") {
            let text = std::fs::read_to_string(file).with_context(|| {
                format!("compose-file: could not read `{file}`; give the Compose file's path relative to the workspace")
            })?;
            let env: HashMap<String, String> = std::env::vars().collect();
            for service in compose::services(file, &text, &env)? {
                let reference = checked_reference(&format!("compose-file: service `{}`", service.name), &service.image)?;
                let platform = service
                    .platform
                    .map(|p| Platform::parse(&p).map_err(|e| anyhow::anyhow!("compose-file: service `{}`: {e}", service.name)))
                    .transpose()?;
                images.push(WantedImage { service: Some(service.name), reference, platform });
            }
        }
        if images.is_empty() {
            bail!("images: mode: bundle needs images; list references in `images` (one per line) or give a `compose-file`");
        }
        let audit = match raw.bool_or("audit")? {
            BoolOr::Yes => AuditLevel::Fail,
            BoolOr::Word => AuditLevel::Warn,
            BoolOr::No => AuditLevel::Off,
        };
        let file = match raw.text("bundle") {
            Some(file) => PathBuf::from(file),
            None => github.runner_temp.clone().unwrap_or_default().join("bundle.tar"),
        };
        let split = raw.text("bundle-split").map(super::parts::parse_size).transpose()?;
        Ok(BundleRequest { images, audit, file, split })
    }

    /// The repositories of the images, once each: what credentials and
    /// plain-HTTP registries are matched against.
    pub fn repositories(&self) -> Result<Vec<ImageName>> {
        let mut names: Vec<ImageName> = Vec::new();
        for image in &self.images {
            let name = repository_of(&image.reference)?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(names)
    }
}

/// A reference as Docker reads it; `input` names where it came from.
fn checked_reference(input: &str, text: &str) -> Result<String> {
    crate::reference::parse(text)
        .map_err(|_| anyhow::anyhow!("{input}: `{text}` is not an image reference; write e.g. redis:7.2 or ghcr.io/acme/app:1.4"))?;
    Ok(text.to_string())
}

/// The repository a reference names, with its registry.
pub fn repository_of(reference: &str) -> Result<ImageName> {
    let parsed = crate::reference::parse(reference)?;
    ImageName::parse(&format!("{}/{}", parsed.registry(), parsed.repository()))
}

/// The tag or digest a reference names (`latest` when it names neither).
pub fn tag_or_digest(reference: &str) -> Result<String> {
    let parsed = crate::reference::parse(reference)?;
    Ok(parsed.digest().or(parsed.tag()).unwrap_or("latest").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string()))).unwrap()
    }

    #[test]
    fn images_then_compose_services() {
        let dir = tempfile::tempdir().unwrap();
        let compose = dir.path().join("compose.yaml");
        std::fs::write(&compose, "services:\n  web:\n    image: nginx:${BUNDLE_TEST_UNSET_TAG:-1.27}\n    platform: linux/amd64\n")
            .unwrap();
        let compose = compose.display().to_string();
        let request = BundleRequest::resolve(
            &raw(&[("mode", "bundle"), ("images", "redis:7.2\nghcr.io/acme/db:1"), ("compose-file", &compose), ("audit", "warn")]),
            &GithubContext::default(),
        )
        .unwrap();
        let references: Vec<&str> = request.images.iter().map(|i| i.reference.as_str()).collect();
        assert_eq!(references, ["redis:7.2", "ghcr.io/acme/db:1", "nginx:1.27"]);
        assert_eq!(request.images[2].service.as_deref(), Some("web"));
        assert_eq!(request.images[2].platform, Some(Platform::parse("linux/amd64").unwrap()));
        assert_eq!(request.audit, AuditLevel::Warn);
        assert_eq!(request.file, PathBuf::from("bundle.tar"));
        assert_eq!(request.split, None);
        let names: Vec<String> = request.repositories().unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["docker.io/library/redis", "ghcr.io/acme/db", "docker.io/library/nginx"]);
    }

    #[test]
    fn mistakes_are_named_before_any_work() {
        let github = GithubContext::default();
        let error = BundleRequest::resolve(&raw(&[("mode", "bundle")]), &github).unwrap_err().to_string();
        assert!(error.starts_with("images: mode: bundle needs images"), "{error}");
        let error = BundleRequest::resolve(&raw(&[("images", "Redis:7")]), &github).unwrap_err().to_string();
        assert!(error.starts_with("images: `Redis:7` is not an image reference"), "{error}");
        let error = BundleRequest::resolve(&raw(&[("compose-file", "/nonexistent/compose.yaml")]), &github).unwrap_err().to_string();
        assert!(error.starts_with("compose-file: could not read `/nonexistent/compose.yaml`"), "{error}");
        let error = BundleRequest::resolve(&raw(&[("images", "redis:7"), ("audit", "maybe")]), &github).unwrap_err().to_string();
        assert_eq!(error, "audit: `maybe` is not accepted; use warn, true or false");
        let error = BundleRequest::resolve(&raw(&[("images", "redis:7"), ("bundle-split", "2 GB")]), &github).unwrap_err().to_string();
        assert!(error.starts_with("bundle-split: `2 GB` is not a size;"), "{error}");
        let request = BundleRequest::resolve(&raw(&[("images", "redis:7"), ("bundle-split", "700m")]), &github).unwrap();
        assert_eq!(request.split, Some(700 << 20));
    }

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(tag_or_digest("redis").unwrap(), "latest");
        assert_eq!(tag_or_digest("172.17.0.1:5000/a/b:1.0").unwrap(), "1.0");
        assert_eq!(repository_of("172.17.0.1:5000/a/b:1.0").unwrap().name, "172.17.0.1:5000/a/b");
    }
}
