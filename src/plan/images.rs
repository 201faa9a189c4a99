//! Resolves the images and what is computed for them from the ref and the
//! event: tags, labels and annotations (the rules themselves live in `meta`).

use anyhow::{Context as _, Result, bail};

use crate::inputs::RawInputs;
use crate::meta::{self, HeldBack, Meta};
use crate::names::{ImageName, Secret};
use crate::runner::GithubContext;

/// The images of a build and its tags: the computed ones (rules, ref and
/// event) for every image, and the `tags` lines that are full references,
/// each for its own image.
#[derive(Debug, Clone)]
pub(crate) struct Tags {
    images: Vec<ImageName>,
    meta: Meta,
    references: Vec<ReferenceTag>,
}

impl Tags {
    pub(super) fn images(&self) -> &[ImageName] {
        &self.images
    }

    pub(super) fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The tag names of `image`, the floating ones held back left out.
    pub(super) fn names_for<'a>(
        &'a self,
        image: &'a ImageName,
        held_back: &'a [HeldBack],
    ) -> impl Iterator<Item = &'a str> + 'a {
        let computed = self
            .meta
            .tags
            .iter()
            .map(|t| t.name.as_str())
            .filter(move |t| !held_back.iter().any(|h| h.tag == *t));
        let own = self
            .references
            .iter()
            .filter(move |r| same_repository(&r.image, image))
            .map(|r| r.tag.as_str());
        let mut seen = std::collections::BTreeSet::new();
        computed.chain(own).filter(move |t| seen.insert(*t))
    }

    /// The tags of `image` that name exactly one version (see
    /// [`meta::Tag::is_exact_version`]; a full-reference line's tag when it
    /// is a full version): what `immutable-tags` never moves.
    pub(super) fn exact_versions_for<'a>(&'a self, image: &'a ImageName) -> Vec<&'a str> {
        let computed =
            self.meta.tags.iter().filter(|t| t.is_exact_version()).map(|t| t.name.as_str());
        let own = self
            .references
            .iter()
            .filter(|r| same_repository(&r.image, image) && crate::meta::is_full_version(&r.tag))
            .map(|r| r.tag.as_str());
        let mut names: Vec<&str> = Vec::new();
        for name in computed.chain(own) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The same tags for other images (a deployment's service).
    pub(super) fn for_images(&self, images: Vec<ImageName>) -> Tags {
        let mut meta = self.meta.clone();
        meta.images = images.iter().map(|i| i.name.clone()).collect();
        Tags { images, meta, references: self.references.clone() }
    }

    /// The `tags` lines that are full references (`ghcr.io/acme/app:1.0`).
    pub(super) fn full_references(&self) -> impl Iterator<Item = String> + '_ {
        self.references.iter().map(|r| r.image.with_tag(&r.tag))
    }

    /// One image with exactly one tag (a bundle's service), with the
    /// labels and annotations computed for the run.
    pub(super) fn only(&self, image: ImageName, tag: String) -> Tags {
        let mut meta = self.meta.clone();
        meta.tags.clear();
        Tags { images: vec![image.clone()], meta, references: vec![ReferenceTag { image, tag }] }
    }
}

/// What the GitHub context may have to be completed with from the API,
/// before the Plan is made: the token (`github-token`) and whether a rule
/// names the commit's date.
#[derive(Debug, Clone, Default)]
pub struct ContextLookups {
    pub token: Option<Secret>,
    pub commit_date: bool,
}

impl ContextLookups {
    pub fn of(raw: &RawInputs) -> ContextLookups {
        let commit_date = ["tags", "flavor", "labels", "annotations"]
            .iter()
            .any(|input| raw.text(input).is_some_and(|text| text.contains("commit_date")));
        ContextLookups { token: raw.text("github-token").map(Secret::new), commit_date }
    }
}

/// The images (those of a bundle or a deployment when given, else the
/// `images` input) and their tags; `tags` is read once, split into full
/// references and rules.
pub(super) fn resolve(
    raw: &RawInputs,
    github: &GithubContext,
    given_images: Option<Vec<ImageName>>,
    warnings: &mut Vec<String>,
) -> Result<Tags> {
    let (references, rules) = split_reference_tags(raw.text("tags").unwrap_or_default())?;
    let images = match given_images {
        Some(images) => images,
        None => resolve_images(raw, &references, warnings)?,
    };
    let meta = compute(raw, github, &images, &references, &rules)?;
    Ok(Tags { images, meta, references })
}

/// A `tags` line that is a full image reference, as docker/build-push-action
/// takes them (`ghcr.io/acme/app:1.2.3`): exactly that tag of that image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReferenceTag {
    image: ImageName,
    tag: String,
}

/// The `tags` lines that are full references, and the rest (the rules).
/// A full reference has a `/`, no `=` and no `{{`, and reads as an image
/// reference without a digest; with no tag it is `latest`.
pub(super) fn split_reference_tags(text: &str) -> Result<(Vec<ReferenceTag>, String)> {
    let mut references = Vec::new();
    let mut rules = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let looks_like_reference = trimmed.contains('/')
            && !trimmed.contains('=')
            && !trimmed.contains("{{")
            && !trimmed.starts_with('#');
        match crate::reference::parse(trimmed) {
            Ok(reference) if looks_like_reference && reference.digest().is_none() => {
                let name = trimmed
                    .rsplit_once(':')
                    .filter(|(_, tag)| !tag.contains('/'))
                    .map_or(trimmed, |(name, _)| name);
                let image = ImageName::parse(name)
                    .map_err(|e| anyhow::anyhow!("tags: `{trimmed}`: {e:#}"))?;
                references.push(ReferenceTag {
                    image,
                    tag: reference.tag().unwrap_or("latest").to_string(),
                });
            }
            _ => rules.push(line),
        }
    }
    Ok((references, rules.join("\n")))
}

/// The images named, lowercased (with a warning for each that was not).
/// With none named, the images of the `tags` lines that are full references.
fn resolve_images(
    raw: &RawInputs,
    reference_tags: &[ReferenceTag],
    warnings: &mut Vec<String>,
) -> Result<Vec<ImageName>> {
    // Lines as metadata-action reads them: `name=…,enable=…` or a bare name.
    let given: Vec<String> = meta::parse_images(raw.text("images").unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .filter(|i| i.enable)
        .map(|i| i.name)
        .collect();
    let mut images = given.iter().map(|i| ImageName::parse(i)).collect::<Result<Vec<_>>>()?;
    if images.is_empty() {
        for reference in reference_tags {
            if !images.iter().any(|i| same_repository(i, &reference.image)) {
                images.push(reference.image.clone());
            }
        }
        if images.is_empty() {
            bail!("images: no image given; name at least one, e.g. ghcr.io/acme/app");
        }
        return Ok(images);
    }
    for reference in reference_tags {
        if !images.iter().any(|i| same_repository(i, &reference.image)) {
            bail!(
                "tags: `{}:{}` names {}, which is not in `images`; add it to `images`, or write the tag alone (`{}`)",
                reference.image.name,
                reference.tag,
                reference.image.name,
                reference.tag
            );
        }
    }
    for (given, image) in given.iter().zip(&images) {
        if given != &image.name {
            warnings.push(format!(
                "images: `{given}` is used as `{}` (image names are lowercase)",
                image.name
            ));
        }
    }
    Ok(images)
}

/// Whether two image names are one repository (`acme/app` is `docker.io/acme/app`).
fn same_repository(a: &ImageName, b: &ImageName) -> bool {
    a.registry == b.registry && a.repository == b.repository
}

/// Tags, labels and annotations from the rules, the ref and the event, as
/// docker/metadata-action computes them for `images` (the `tags` lines
/// that are full references are tags, not rules).
pub fn compute_meta(raw: &RawInputs, github: &GithubContext, images: &[ImageName]) -> Result<Meta> {
    let (references, rules) = split_reference_tags(raw.text("tags").unwrap_or_default())?;
    compute(raw, github, images, &references, &rules)
}

/// The default rules apply only when `tags` is empty.
fn compute(
    raw: &RawInputs,
    github: &GithubContext,
    images: &[ImageName],
    references: &[ReferenceTag],
    rules_text: &str,
) -> Result<Meta> {
    let rules = match rules_text.trim() {
        "" if references.is_empty() => meta::default_tag_rules(),
        text => meta::parse_tag_rules(text).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let flavor = meta::parse_flavor(raw.text("flavor").unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = match github.source_date_epoch {
        Some(seconds) => chrono::DateTime::from_timestamp(seconds, 0)
            .context("SOURCE_DATE_EPOCH is out of range")?,
        None => chrono::Utc::now(),
    };
    let context = github.meta_context(raw.text("version").map(str::to_string), created);
    let (labels, label_warnings) = meta::parse_labels(raw.text("labels").unwrap_or_default());
    let annotations = meta::parse_annotations(raw.text("annotations").unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    let mut meta = meta::compute(&context, &names, &rules, &flavor, &labels, &annotations)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    meta.warnings.extend(label_warnings);
    let separator =
        |input: &str| raw.text(input).map(str::to_string).unwrap_or_else(|| "\n".to_string());
    meta.separators =
        meta::Separators { tags: separator("sep-tags"), labels: separator("sep-labels") };
    Ok(meta)
}
