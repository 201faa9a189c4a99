//! The audit of a deployment: every image resolved in its registry (an
//! index's platforms, or a single manifest's config platform), checked
//! against the platforms it is needed for, as a ✓/✗ table; for a gap, the
//! nearest other tag of the same repository that has the platform (same
//! major version first).

use std::cmp::Reverse;

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::digest::Digest;
use crate::names::ImageName;
use crate::names::{repository_of, tag_or_digest};
use crate::plan::WantedImage;
use crate::platform::Platform;
use crate::registry::Registry;
use crate::registry::copy::RawManifest;
use crate::registry::layout::{Descriptor, is_index};

/// How many other tags are read, at most, to find a suggestion.
const SUGGESTION_LOOKUPS: usize = 12;

/// One platform an image offers: its manifest and its index entry.
#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub platform: Platform,
    pub manifest: Descriptor,
    /// The index entry as stored (with its platform and annotations), or
    /// one made for a single manifest.
    pub entry: Value,
}

/// An image as its registry holds it.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) wanted: WantedImage,
    pub name: ImageName,
    pub root: RawManifest,
    pub offers: Vec<Offer>,
    /// The platforms it is needed for.
    pub needed: Vec<Platform>,
    /// A nearby tag that offers every missing platform.
    pub suggestion: Option<String>,
}

impl Resolved {
    pub(crate) fn missing(&self) -> Vec<&Platform> {
        self.needed.iter().filter(|p| !self.offers.iter().any(|o| &o.platform == *p)).collect()
    }

    /// What is bundled of it: the offers for the platforms it is needed for.
    pub(crate) fn kept_offers(&self) -> Vec<&Offer> {
        self.offers.iter().filter(|o| self.needed.contains(&o.platform)).collect()
    }
}

/// Resolves every image and looks for suggestions where one has a gap.
pub(crate) async fn audit(
    registry: &Registry,
    wanted: &[WantedImage],
    platforms: &[Platform],
) -> Result<Vec<Resolved>> {
    let reads = wanted.iter().map(|wanted| async move {
        let name = repository_of(&wanted.reference)?;
        let (root, offers) = offers(registry, &name, &tag_or_digest(&wanted.reference)?)
            .await
            .with_context(|| format!("could not read {} from its registry", wanted.reference))?;
        let needed = match &wanted.platform {
            Some(platform) => vec![platform.clone()],
            None => platforms.to_vec(),
        };
        let mut resolved =
            Resolved { wanted: wanted.clone(), name, root, offers, needed, suggestion: None };
        let missing: Vec<Platform> = resolved.missing().into_iter().cloned().collect();
        if !missing.is_empty() {
            resolved.suggestion =
                suggest(registry, &resolved.name, &tag_or_digest(&wanted.reference)?, &missing)
                    .await;
        }
        Ok::<_, anyhow::Error>(resolved)
    });
    futures_util::future::try_join_all(reads).await
}

/// The manifest a tag or digest names, and the platforms it offers.
pub(crate) async fn offers(
    registry: &Registry,
    name: &ImageName,
    tag: &str,
) -> Result<(RawManifest, Vec<Offer>)> {
    let root = registry.raw_manifest(name, tag).await?;
    if is_index(&root.media_type) {
        let offers = root
            .json
            .get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|entry| !is_attestation_entry(entry))
            .filter_map(|entry| {
                let platform = entry.get("platform").and_then(Platform::from_oci_json)?;
                let manifest: Descriptor = serde_json::from_value(entry.clone()).ok()?;
                Some(Offer { platform, manifest, entry: entry.clone() })
            })
            .collect();
        return Ok((root, offers));
    }
    let config: Descriptor = root
        .json
        .get("config")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .with_context(|| format!("{}:{tag} has no config", name.name))?;
    let config = registry.small_blob(name, &config).await?;
    let config: Value = serde_json::from_slice(&config)
        .with_context(|| format!("the config of {}:{tag} is not JSON", name.name))?;
    let Some(platform) = Platform::from_oci_json(&config) else { return Ok((root, Vec::new())) };
    let manifest = root.descriptor();
    let entry = serde_json::json!({
        "mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.size, "platform": platform_json(&platform),
    });
    Ok((root, vec![Offer { platform, manifest, entry }]))
}

pub(crate) fn platform_json(platform: &Platform) -> Value {
    let mut json = serde_json::json!({ "os": platform.os, "architecture": platform.arch });
    if let Some(variant) = &platform.variant {
        json["variant"] = Value::String(variant.clone());
    }
    json
}

/// BuildKit's attestation manifests (`unknown/unknown`).
pub(crate) fn is_attestation_entry(entry: &Value) -> bool {
    entry.pointer("/annotations/vnd.docker.reference.type").and_then(Value::as_str)
        == Some("attestation-manifest")
        || entry.pointer("/platform/os").and_then(Value::as_str) == Some("unknown")
}

/// The first nearby tag of `name` that offers every platform of `missing`.
async fn suggest(
    registry: &Registry,
    name: &ImageName,
    tag: &str,
    missing: &[Platform],
) -> Option<String> {
    let tags = registry.existing_tags(name).await.ok()?;
    for candidate in candidate_order(tag, &tags).into_iter().take(SUGGESTION_LOOKUPS) {
        let Ok((_, offers)) = offers(registry, name, &candidate).await else { continue };
        if missing.iter().all(|p| offers.iter().any(|o| &o.platform == p)) {
            return Some(candidate);
        }
    }
    None
}

/// A tag read as a version: `v1.2.3`, `1.2`, `7` (missing parts are 0);
/// anything after a `-` is a pre-release.
fn version_of(tag: &str) -> Option<semver::Version> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    let (numbers, pre) = match text.split_once('-') {
        Some((numbers, pre)) => (numbers, Some(pre)),
        None => (text, None),
    };
    let parts: Vec<u64> = numbers.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut version =
        semver::Version::new(parts[0], *parts.get(1).unwrap_or(&0), *parts.get(2).unwrap_or(&0));
    if let Some(pre) = pre {
        version.pre = semver::Prerelease::new(pre).ok()?;
    }
    Some(version)
}

/// The other tags in the order they are tried: for a versioned tag, those
/// of the same major version first, then the others, each group nearest
/// first (a newer one before an older one at the same distance), releases
/// before pre-releases; for a tag that is not a version, the releases newest
/// first; tags that are not versions (`multi`, `alpine`) after them all.
pub(crate) fn candidate_order(tag: &str, tags: &[String]) -> Vec<String> {
    let current = version_of(tag);
    let mut candidates: Vec<(semver::Version, &String)> = tags
        .iter()
        .filter(|t| t.as_str() != tag)
        .filter_map(|t| version_of(t).map(|v| (v, t)))
        .collect();
    let distance = |v: &semver::Version, c: &semver::Version| {
        let key = |v: &semver::Version| {
            (v.major as i128) << 80 | (v.minor as i128) << 40 | v.patch as i128
        };
        (key(v) - key(c)).abs()
    };
    match current {
        Some(current) => candidates.sort_by_key(|(v, t)| {
            (
                v.major != current.major,
                !v.pre.is_empty(),
                distance(v, &current),
                Reverse(v.clone()),
                (*t).clone(),
            )
        }),
        None => {
            candidates.sort_by_key(|(v, t)| (!v.pre.is_empty(), Reverse(v.clone()), (*t).clone()))
        }
    }
    let mut words: Vec<&String> =
        tags.iter().filter(|t| t.as_str() != tag && version_of(t).is_none()).collect();
    words.sort();
    candidates.into_iter().map(|(_, t)| t).chain(words).cloned().collect()
}

/// Every platform any image is needed for, in the order first named.
pub(crate) fn columns(resolved: &[Resolved]) -> Vec<Platform> {
    let mut columns: Vec<Platform> = Vec::new();
    for platform in resolved.iter().flat_map(|r| &r.needed) {
        if !columns.contains(platform) {
            columns.push(platform.clone());
        }
    }
    columns
}

/// One cell: ✓ offered, ✗ needed and missing, `–` not needed.
fn cell(resolved: &Resolved, platform: &Platform) -> &'static str {
    if !resolved.needed.contains(platform) {
        "–"
    } else if resolved.offers.iter().any(|o| &o.platform == platform) {
        "✓"
    } else {
        "✗"
    }
}

/// The first 12 hex digits, as `docker images` shows an image.
fn short_digest(digest: &Digest) -> String {
    digest.hex()[..12].to_string()
}

/// The service column: its name, `(built)` after one this run built; `none`
/// for a line of `images`.
fn service_cell(wanted: &WantedImage, none: &str) -> String {
    match (&wanted.service, wanted.built) {
        (Some(service), true) => format!("{service} (built)"),
        (Some(service), false) => service.clone(),
        (None, _) => none.to_string(),
    }
}

/// The table as the log shows it, columns aligned, suggestions below.
pub(crate) fn log_table(resolved: &[Resolved]) -> String {
    let columns = columns(resolved);
    let mut rows = vec![
        ["service".to_string(), "image".into(), "digest".into()]
            .into_iter()
            .chain(columns.iter().map(Platform::to_string))
            .collect::<Vec<_>>(),
    ];
    for r in resolved {
        let mut row = vec![
            service_cell(&r.wanted, "-"),
            r.wanted.reference.clone(),
            short_digest(&r.root.digest),
        ];
        row.extend(columns.iter().map(|p| cell(r, p).to_string()));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    for line in gap_lines(resolved) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// The table as the job summary shows it.
pub(crate) fn markdown_table(resolved: &[Resolved]) -> String {
    let columns = columns(resolved);
    let mut md = String::from("| service | image | digest |");
    for platform in &columns {
        md.push_str(&format!(" `{platform}` |"));
    }
    md.push_str(&format!("\n|---|---|---|{}\n", "---|".repeat(columns.len())));
    for r in resolved {
        md.push_str(&format!(
            "| {} | `{}` | `{}` |",
            service_cell(&r.wanted, ""),
            r.wanted.reference,
            short_digest(&r.root.digest)
        ));
        for platform in &columns {
            md.push_str(&format!(" {} |", cell(r, platform)));
        }
        md.push('\n');
    }
    let gaps = gap_lines(resolved);
    if !gaps.is_empty() {
        md.push('\n');
        for line in gaps {
            md.push_str(&format!("- {line}\n"));
        }
    }
    md
}

/// One sentence per image with a gap, with its suggestion.
pub(crate) fn gap_lines(resolved: &[Resolved]) -> Vec<String> {
    resolved
        .iter()
        .filter(|r| !r.missing().is_empty())
        .map(|r| {
            let missing: Vec<String> = r.missing().iter().map(|p| p.to_string()).collect();
            let suggestion = match &r.suggestion {
                Some(tag) => format!(
                    "; {}:{tag} has {}",
                    r.name.name,
                    if missing.len() == 1 { "it" } else { "them" }
                ),
                None => {
                    "; no other tag of it has".to_string()
                        + if missing.len() == 1 { " it" } else { " them" }
                }
            };
            format!("{} lacks {}{suggestion}", r.wanted.reference, missing.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn nearby_tags_come_first_same_major_before_others() {
        let all = tags(&[
            "latest", "6.0", "7.0", "7.2", "7.2.5", "7.4-rc1", "8.0", "7.1", "alpine", "v7.3",
        ]);
        assert_eq!(
            candidate_order("7.2.4", &all),
            ["7.2.5", "7.2", "v7.3", "7.1", "7.0", "7.4-rc1", "8.0", "6.0", "alpine", "latest"]
        );
        assert_eq!(
            candidate_order("1.0", &tags(&["1.0", "1.1", "2.0", "0.9"])),
            ["1.1", "0.9", "2.0"]
        );
        assert_eq!(
            candidate_order("latest", &tags(&["1.0", "2.0-beta", "1.5", "edge"])),
            ["1.5", "1.0", "2.0-beta", "edge"]
        );
        assert_eq!(candidate_order("1.0", &tags(&["1.0", "edge"])), ["edge"]);
    }

    #[test]
    fn tags_read_as_versions() {
        for (tag, version) in [
            ("1", Some("1.0.0")),
            ("v1.2", Some("1.2.0")),
            ("1.2.3-rc.1", Some("1.2.3-rc.1")),
            ("alpine", None),
            ("1.2.3.4", None),
        ] {
            assert_eq!(version_of(tag).map(|v| v.to_string()).as_deref(), version, "{tag}");
        }
    }

    fn resolved(
        service: Option<&str>,
        reference: &str,
        offered: &[&str],
        needed: &[&str],
        suggestion: Option<&str>,
    ) -> Resolved {
        let platform = |p: &str| Platform::parse(p).unwrap();
        let digest = Digest::from_hex(&"ab".repeat(32)).unwrap();
        let built = service.is_some_and(|s| s.ends_with('+'));
        let service = service.map(|s| s.trim_end_matches('+').to_string());
        Resolved {
            wanted: WantedImage { service, reference: reference.into(), platform: None, built },
            name: repository_of(reference).unwrap(),
            root: RawManifest {
                bytes: Default::default(),
                digest: digest.clone(),
                media_type: "x".into(),
                json: Value::Null,
            },
            offers: offered
                .iter()
                .map(|p| Offer {
                    platform: platform(p),
                    manifest: Descriptor {
                        media_type: "m".into(),
                        digest: digest.clone(),
                        size: 1,
                    },
                    entry: Value::Null,
                })
                .collect(),
            needed: needed.iter().map(|p| platform(p)).collect(),
            suggestion: suggestion.map(str::to_string),
        }
    }

    #[test]
    fn the_table_marks_gaps_and_names_the_suggestion() {
        let rows = [
            resolved(
                Some("db"),
                "r.example/db:1.0",
                &["linux/amd64", "linux/arm64"],
                &["linux/arm64"],
                None,
            ),
            resolved(None, "r.example/cache:1.0", &["linux/amd64"], &["linux/arm64"], Some("1.1")),
            resolved(Some("tool"), "r.example/tool:2", &["linux/amd64"], &["linux/amd64"], None),
            resolved(
                Some("api+"),
                "r.example/api:latest",
                &["linux/arm64"],
                &["linux/arm64"],
                None,
            ),
        ];
        let text = log_table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "service      image                 digest        linux/arm64  linux/amd64"
        );
        assert_eq!(lines[1], "db           r.example/db:1.0      abababababab  ✓            –");
        assert_eq!(lines[2], "-            r.example/cache:1.0   abababababab  ✗            –");
        assert_eq!(lines[3], "tool         r.example/tool:2      abababababab  –            ✓");
        assert_eq!(lines[4], "api (built)  r.example/api:latest  abababababab  ✓            –");
        assert_eq!(lines[5], "r.example/cache:1.0 lacks linux/arm64; r.example/cache:1.1 has it");
        let md = markdown_table(&rows);
        assert!(md.starts_with("| service | image | digest | `linux/arm64` | `linux/amd64` |\n|---|---|---|---|---|\n"), "{md}");
        assert!(md.contains("|  | `r.example/cache:1.0` | `abababababab` | ✗ | – |"), "{md}");
        assert!(
            md.contains("| api (built) | `r.example/api:latest` | `abababababab` | ✓ | – |"),
            "{md}"
        );
        assert!(
            md.contains("- r.example/cache:1.0 lacks linux/arm64; r.example/cache:1.1 has it"),
            "{md}"
        );
        let no_suggestion =
            resolved(None, "r.example/x:1", &[], &["linux/arm64", "linux/amd64"], None);
        assert_eq!(
            gap_lines(&[no_suggestion]),
            ["r.example/x:1 lacks linux/arm64, linux/amd64; no other tag of it has them"]
        );
    }
}
