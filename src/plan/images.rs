//! Resolves the images and what is computed for them from the ref and the
//! event: tags, labels and annotations (the rules themselves live in `meta`).

use anyhow::{Context as _, Result, bail};

use crate::inputs::RawInputs;
use crate::meta;
use crate::names::ImageName;
use crate::runner::GithubContext;

/// The images named, lowercased (with a warning for each that was not).
pub(super) fn resolve_images(raw: &RawInputs, warnings: &mut Vec<String>) -> Result<Vec<ImageName>> {
    // Lines as metadata-action reads them: `name=…,enable=…` or a bare name.
    let given: Vec<String> = meta::parse_images(raw.get("images"))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .filter(|i| i.enable)
        .map(|i| i.name)
        .collect();
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
pub fn compute_meta(raw: &RawInputs, github: &GithubContext, images: &[ImageName]) -> Result<meta::Meta> {
    let rules = match raw.text("tags") {
        None => meta::default_tag_rules(),
        Some(text) => meta::parse_tag_rules(text).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let flavor = meta::parse_flavor(raw.get("flavor")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = match github.source_date_epoch {
        Some(seconds) => chrono::DateTime::from_timestamp(seconds, 0).context("SOURCE_DATE_EPOCH is out of range")?,
        None => chrono::Utc::now(),
    };
    let context = github.meta_context(raw.text("version").map(str::to_string), created);
    let (labels, label_warnings) = meta::parse_labels(raw.get("labels"));
    let annotations = meta::parse_annotations(raw.get("annotations")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    let mut meta = meta::compute(&context, &names, &rules, &flavor, &labels, &annotations).map_err(|e| anyhow::anyhow!("{e}"))?;
    meta.warnings.extend(label_warnings);
    let separator = |input: &str| raw.text(input).map(str::to_string).unwrap_or_else(|| "\n".to_string());
    meta.separators = meta::Separators { tags: separator("sep-tags"), labels: separator("sep-labels") };
    Ok(meta)
}
