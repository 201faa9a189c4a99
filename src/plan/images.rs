//! Resolves the images and what is computed for them from the ref and the
//! event: tags, labels and annotations (the rules themselves live in `meta`).

use anyhow::{Context as _, Result, bail};

use crate::inputs::RawInputs;
use crate::meta;
use crate::names::ImageName;
use crate::runner::GithubContext;

/// The images named, lowercased (with a warning for each that was not).
pub(super) fn resolve_images(raw: &RawInputs, warnings: &mut Vec<String>) -> Result<Vec<ImageName>> {
    let given = raw.list("images");
    let images = given.iter().map(|i| ImageName::parse(i)).collect::<Result<Vec<_>>>()?;
    if images.is_empty() {
        bail!("images: no image given; name at least one, e.g. ghcr.io/acme/app");
    }
    for (given, image) in given.iter().zip(&images) {
        if given != &image.name {
            warnings.push(format!("images: `{given}` is used as `{}` (image names are lowercase)", image.name));
        }
    }
    Ok(images)
}

/// Tags, labels and annotations from the rules, the ref and the event.
pub(super) fn resolve_meta(raw: &RawInputs, github: &GithubContext, images: &[ImageName]) -> Result<meta::Meta> {
    let rules = match raw.text("tags") {
        None => meta::default_tag_rules(),
        Some(text) => meta::parse_tag_rules(text).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let flavor = meta::parse_flavor(raw.get("flavor")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = match github.source_date_epoch {
        Some(seconds) => chrono::DateTime::from_timestamp(seconds, 0).context("SOURCE_DATE_EPOCH is out of range")?,
        None => chrono::Utc::now(),
    };
    let context = meta::Context {
        event_name: github.event_name.clone(),
        git_ref: github.git_ref.clone(),
        sha: github.sha.clone(),
        repository: github.repository.clone(),
        server_url: github.server_url.clone(),
        event: github.event.clone(),
        version_override: raw.text("version").map(str::to_string),
        created,
    };
    let labels = super::parse_pairs("labels", &raw.list("labels"))?;
    let annotations = meta::parse_annotations(raw.get("annotations")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    meta::compute(&context, &names, &rules, &flavor, &labels, &annotations).map_err(|e| anyhow::anyhow!("{e}"))
}
