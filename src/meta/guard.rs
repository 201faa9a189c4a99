//! Keeps floating tags (`latest`, `{{major}}`, `{{major}}.{{minor}}`) from
//! going backwards: such a tag is only pushed when this build's version is at
//! least every stable release already published that the tag covers.

use super::version::parse_semver;
use super::{Floating, Meta, Tag};

/// A tag that was not pushed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldBack {
    pub tag: String,
    /// One sentence, such as "2.0.0 is already published and is newer than 1.9.1".
    pub reason: String,
}

/// The tags to push and those held back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct GuardOutcome {
    pub kept: Vec<Tag>,
    pub held_back: Vec<HeldBack>,
}

/// Splits `existing` into stable versions, trying each affix pair in
/// `affixes` (the empty pair included). Prereleases are left out.
fn published_versions(
    existing: &[String],
    affixes: &[(String, String)],
) -> Vec<(semver::Version, String)> {
    let mut out = Vec::new();
    for tag in existing {
        for (prefix, suffix) in affixes {
            let core =
                tag.strip_prefix(prefix.as_str()).and_then(|t| t.strip_suffix(suffix.as_str()));
            if let Some(v) = core.and_then(parse_semver)
                && v.pre.is_empty()
            {
                out.push((v, tag.clone()));
                break;
            }
        }
    }
    out
}

/// Decides which of `meta`'s floating tags may be pushed, given the tags
/// already in the registry. Tags that do not float are always kept, and so
/// are all tags of a build without a semantic version.
pub(crate) fn guard_floating(meta: &Meta, existing_tags: &[String]) -> GuardOutcome {
    let mut outcome = GuardOutcome::default();
    let Some(this) = meta.semver.as_ref() else {
        outcome.kept = meta.tags.clone();
        return outcome;
    };
    let mut affixes: Vec<(String, String)> = vec![(String::new(), String::new())];
    for tag in &meta.tags {
        let pair = (tag.prefix.clone(), tag.suffix.clone());
        if !affixes.contains(&pair) {
            affixes.push(pair);
        }
    }
    let published = published_versions(existing_tags, &affixes);

    for tag in &meta.tags {
        let Some(floating) = tag.floating else {
            outcome.kept.push(tag.clone());
            continue;
        };
        let newest = published
            .iter()
            .filter(|(v, _)| match floating {
                Floating::Latest => true,
                Floating::Major(major) => v.major == major,
                Floating::MajorMinor(major, minor) => v.major == major && v.minor == minor,
            })
            .max_by(|a, b| a.0.cmp(&b.0));
        match newest {
            Some((newer, name)) if newer > this => {
                let published_as = if *name == newer.to_string() {
                    String::new()
                } else {
                    format!(" (as tag {name})")
                };
                outcome.held_back.push(HeldBack {
                    tag: tag.name.clone(),
                    reason: format!(
                        "{newer} is already published{published_as} and is newer than {this}"
                    ),
                });
            }
            _ => outcome.kept.push(tag.clone()),
        }
    }
    outcome
}
