//! Turns the tag rules, the flavor and the run's context into the list of
//! tags (with priorities, affixes and the `latest` decision), then adds the
//! labels and annotations.

use serde_json::Value;

use super::labels::{build_annotations, build_labels};
use super::rules::{Enable, Flavor, Latest, RefEvent, RuleKind, ShaFormat, TagRule};
use super::sanitize::{normalize_image_name, sanitize_tag};
use super::template::Template;
use super::{AnnotationInput, Context, Floating, Meta, MetaError, Tag};

/// Where the tag name being evaluated came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TagOrigin {
    Ref,
    VersionInput,
}

/// The facts about the ref that the rules look at.
#[derive(Debug, Clone)]
struct RefInfo {
    git_ref: String,
    tag: Option<String>,
    tag_origin: TagOrigin,
    /// Set for `refs/heads/...` outside pull request events.
    branch: Option<String>,
    /// Value of `{{branch}}` (also the head branch of a pull request).
    branch_var: String,
    pr: Option<String>,
    default_branch: Option<String>,
    is_default_branch: bool,
    payload_prerelease: bool,
    base_ref: String,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str()
}

fn is_pull_request(event_name: &str) -> bool {
    event_name.starts_with("pull_request")
}

fn check_version_input(raw: &str) -> Result<Option<String>, MetaError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let name = value.strip_prefix("refs/tags/").unwrap_or(value);
    if let Some(bad) = name.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')) {
        return Err(MetaError::Version {
            value: raw.to_string(),
            reason: format!("character {bad:?} cannot be in a tag name; accepted: a tag name such as v1.2.3, or empty to use the git ref"),
        });
    }
    if name.is_empty() {
        return Err(MetaError::Version {
            value: raw.to_string(),
            reason: "no tag name after refs/tags/; accepted: a tag name such as v1.2.3, or empty to use the git ref".to_string(),
        });
    }
    Ok(Some(name.to_string()))
}

fn resolve(ctx: &Context) -> Result<RefInfo, MetaError> {
    let ev = &ctx.event;
    let default_branch = str_at(ev, &["repository", "default_branch"]).map(str::to_string);
    let payload_prerelease =
        ctx.event_name == "release" && ev.get("release").and_then(|r| r.get("prerelease")).and_then(Value::as_bool).unwrap_or(false);
    let base_ref = str_at(ev, &["pull_request", "base", "ref"]).or_else(|| str_at(ev, &["base_ref"])).unwrap_or("").to_string();
    let base_ref = base_ref.strip_prefix("refs/heads/").unwrap_or(&base_ref).to_string();

    let mut git_ref = ctx.git_ref.trim().to_string();
    if git_ref.is_empty()
        && ctx.event_name == "release"
        && let Some(name) = str_at(ev, &["release", "tag_name"])
    {
        git_ref = format!("refs/tags/{name}");
    }
    let mut tag_origin = TagOrigin::Ref;
    if let Some(version) = ctx.version_override.as_deref()
        && let Some(name) = check_version_input(version)?
    {
        git_ref = format!("refs/tags/{name}");
        tag_origin = TagOrigin::VersionInput;
    }

    let pr_event = is_pull_request(&ctx.event_name);
    let tag = git_ref.strip_prefix("refs/tags/").map(str::to_string);
    let head = git_ref.strip_prefix("refs/heads/").map(str::to_string);
    let branch = if pr_event { None } else { head.clone() };
    let branch_var = match (&branch, pr_event) {
        (Some(b), _) => b.clone(),
        (None, true) => str_at(ev, &["pull_request", "head", "ref"]).unwrap_or("").to_string(),
        (None, false) => String::new(),
    };
    let pr = git_ref
        .strip_prefix("refs/pull/")
        .and_then(|rest| rest.split('/').next())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| {
            if !pr_event {
                return None;
            }
            ev.get("number").or_else(|| ev.get("pull_request").and_then(|p| p.get("number"))).and_then(Value::as_u64).map(|n| n.to_string())
        });
    let is_default_branch = match (&branch, &default_branch) {
        (Some(b), Some(d)) => b == d,
        _ => false,
    };
    Ok(RefInfo { git_ref, tag, tag_origin, branch, branch_var, pr, default_branch, is_default_branch, payload_prerelease, base_ref })
}

/// Parses a tag name as a semantic version, with an optional leading `v`.
/// Build metadata is dropped.
pub(crate) fn parse_version(name: &str) -> Option<semver::Version> {
    let core = name.strip_prefix(['v', 'V']).unwrap_or(name);
    let mut v = semver::Version::parse(core).ok()?;
    v.build = semver::BuildMetadata::EMPTY;
    Some(v)
}

/// A tag before sorting.
struct Candidate {
    value: String,
    priority: i64,
    floating: Option<Floating>,
    rule: usize,
}

/// What a semver pattern covers when it is not tied to one release.
fn pattern_floating(pattern: &Template, v: &semver::Version) -> Option<Floating> {
    if pattern.uses("version") || pattern.uses("raw") || pattern.uses("patch") {
        return None;
    }
    Some(match (pattern.uses("major"), pattern.uses("minor")) {
        (true, false) => Floating::Major(v.major),
        (_, true) => Floating::MajorMinor(v.major, v.minor),
        (false, false) => Floating::Latest,
    })
}

/// Keeps the characters a tag may hold, as `sanitize_tag` does, without the
/// length and leading-character checks (for recording affixes).
fn clean_affix(s: &str) -> String {
    let mut out = String::new();
    let mut bad = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            bad = false;
        } else if !bad {
            out.push('-');
            bad = true;
        }
    }
    out
}

/// Computes tags, labels and annotations for one build.
///
/// `images` are validated and normalised; `rules` come from
/// [`parse_tag_rules`](super::parse_tag_rules) or
/// [`default_tag_rules`](super::default_tag_rules); `user_labels` and
/// `user_annotations` override the generated ones.
pub fn compute(
    ctx: &Context,
    images: &[String],
    rules: &[TagRule],
    flavor: &Flavor,
    user_labels: &[(String, String)],
    user_annotations: &[AnnotationInput],
) -> Result<Meta, MetaError> {
    let images = images.iter().map(|i| normalize_image_name(i)).collect::<Result<Vec<_>, _>>()?;
    let info = resolve(ctx)?;
    let short_sha: String = ctx.sha.chars().take(7).collect();
    let globals = |name: &str| -> String {
        match name {
            "branch" => info.branch_var.clone(),
            "tag" => info.tag.clone().unwrap_or_default(),
            "sha" => short_sha.clone(),
            "base_ref" => info.base_ref.clone(),
            "is_default_branch" => info.is_default_branch.to_string(),
            _ => String::new(),
        }
    };
    let render = |t: &Template| t.render(&globals, &ctx.created);

    let mut warnings = Vec::new();
    let mut candidates = Vec::new();
    let mut auto_latest = false;
    let mut build_semver: Option<semver::Version> = None;

    for (index, rule) in rules.iter().enumerate() {
        let enabled = match rule.enable {
            Enable::Always => true,
            Enable::Never => false,
            Enable::OnDefaultBranch => info.is_default_branch,
            Enable::OffDefaultBranch => !info.is_default_branch,
        };
        if !enabled {
            continue;
        }
        let mut push = |value: String, floating: Option<Floating>| {
            if !value.is_empty() {
                candidates.push(Candidate { value, priority: rule.priority, floating, rule: index });
            }
        };
        match &rule.kind {
            RuleKind::Semver { pattern, value } => {
                let (source, described) = match (value, &info.tag) {
                    (Some(v), _) => (v.clone(), format!("value '{v}'")),
                    (None, Some(t)) => (
                        t.clone(),
                        match info.tag_origin {
                            TagOrigin::Ref => format!("ref {}", info.git_ref),
                            TagOrigin::VersionInput => format!("version input '{t}'"),
                        },
                    ),
                    (None, None) => continue,
                };
                let Some(v) = parse_version(&source) else {
                    warnings.push(format!("tags rule '{}' skipped: {described} is not a semver version", rule.source));
                    continue;
                };
                if build_semver.is_none() {
                    build_semver = Some(v.clone());
                }
                let prerelease = !v.pre.is_empty() || info.payload_prerelease;
                let floating = pattern_floating(pattern, &v);
                if prerelease && floating.is_some() {
                    // Floating tags only ever point at stable releases.
                    continue;
                }
                let pre = if v.pre.is_empty() { String::new() } else { format!("-{}", v.pre) };
                let rendered = pattern.render(
                    &|name| match name {
                        "version" => format!("{}.{}.{}{pre}", v.major, v.minor, v.patch),
                        "major" => v.major.to_string(),
                        "minor" => v.minor.to_string(),
                        // On a prerelease the patch number carries the
                        // prerelease part, so `{{major}}.{{minor}}.{{patch}}`
                        // never names a stable release.
                        "patch" => format!("{}{pre}", v.patch),
                        "raw" => source.clone(),
                        _ => String::new(),
                    },
                    &ctx.created,
                );
                if !prerelease && !rendered.is_empty() {
                    auto_latest = true;
                }
                push(rendered, floating);
            }
            RuleKind::Ref { event } => match event {
                RefEvent::Branch => {
                    if let Some(b) = &info.branch {
                        push(b.clone(), None);
                    }
                }
                RefEvent::Tag => {
                    if let Some(t) = &info.tag {
                        push(t.clone(), None);
                    }
                }
                RefEvent::Pr => {
                    if let Some(n) = &info.pr {
                        push(n.clone(), None);
                    }
                }
            },
            RuleKind::Sha { format } => {
                let sha = match format {
                    ShaFormat::Short => short_sha.clone(),
                    ShaFormat::Long => ctx.sha.clone(),
                };
                push(sha, None);
            }
            RuleKind::Raw { value } => push(render(value), None),
            RuleKind::Schedule { pattern } => {
                if ctx.event_name == "schedule" {
                    push(render(pattern), None);
                }
            }
            RuleKind::Edge { branch } => {
                let Some(current) = &info.branch else {
                    continue;
                };
                match branch.as_ref().or(info.default_branch.as_ref()) {
                    Some(edge_branch) => {
                        if current == edge_branch {
                            push("edge".to_string(), None);
                        }
                    }
                    None => warnings.push(format!(
                        "tags rule '{}' skipped: the event payload does not name the default branch; add branch=NAME to the rule",
                        rule.source
                    )),
                }
            }
            RuleKind::Match { pattern, group, value } => {
                let Some(source) = value.clone().or_else(|| info.tag.clone()) else {
                    continue;
                };
                match pattern.captures(&source) {
                    Some(groups) => {
                        push(groups[*group].clone().unwrap_or_default(), None);
                    }
                    None => warnings.push(format!(
                        "tags rule '{}' skipped: pattern '{}' does not match '{source}'",
                        rule.source,
                        pattern.as_str()
                    )),
                }
            }
        }
    }

    // Apply affixes and sanitise.
    let mut tags: Vec<(i64, Tag)> = Vec::new();
    for c in candidates {
        let rule = &rules[c.rule];
        let prefix = render(rule.prefix.as_ref().unwrap_or(&flavor.prefix));
        let suffix = render(rule.suffix.as_ref().unwrap_or(&flavor.suffix));
        let raw = format!("{prefix}{}{suffix}", c.value);
        let name = match sanitize_tag(&raw) {
            Ok(name) => name,
            Err(MetaError::EmptyTag { .. }) => {
                warnings.push(format!("tags rule '{}' skipped: '{raw}' has no characters usable in a tag", rule.source));
                continue;
            }
            Err(e) => return Err(e),
        };
        let (prefix, suffix) = (clean_affix(&prefix), clean_affix(&suffix));
        let affixes_kept = name.starts_with(&prefix) && name.ends_with(&suffix) && name.len() >= prefix.len() + suffix.len();
        let (prefix, suffix) = if affixes_kept { (prefix, suffix) } else { (String::new(), String::new()) };
        tags.push((c.priority, Tag { name, floating: c.floating, prefix, suffix }));
    }
    tags.sort_by_key(|t| std::cmp::Reverse(t.0));
    let mut ordered: Vec<Tag> = Vec::new();
    for (_, tag) in tags {
        if !ordered.iter().any(|t| t.name == tag.name) {
            ordered.push(tag);
        }
    }

    if build_semver.is_none() {
        build_semver = info.tag.as_deref().and_then(parse_version);
    }
    let prerelease = info.payload_prerelease || build_semver.as_ref().is_some_and(|v| !v.pre.is_empty());
    let want_latest = match flavor.latest {
        Latest::Auto => auto_latest && !prerelease,
        Latest::True => !prerelease,
        Latest::False => false,
    };
    if want_latest {
        let prefix = if flavor.prefix_on_latest { clean_affix(&render(&flavor.prefix)) } else { String::new() };
        let suffix = if flavor.suffix_on_latest { clean_affix(&render(&flavor.suffix)) } else { String::new() };
        let name = sanitize_tag(&format!("{prefix}latest{suffix}"))?;
        if !ordered.iter().any(|t| t.name == name) {
            ordered.push(Tag { name, floating: Some(Floating::Latest), prefix, suffix });
        }
    }

    let version = ordered.first().map(|t| t.name.clone()).unwrap_or_default();
    let labels = build_labels(ctx, &version, user_labels);
    let annotations = build_annotations(&labels, user_annotations);
    Ok(Meta { version, tags: ordered, labels, annotations, warnings, images, semver: build_semver, prerelease })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_input_checks() {
        assert_eq!(check_version_input("  ").unwrap(), None);
        assert_eq!(check_version_input("refs/tags/v1.0.0").unwrap().as_deref(), Some("v1.0.0"));
        let e = check_version_input("v1 .0").unwrap_err().to_string();
        assert!(e.starts_with("version: 'v1 .0': character ' '"), "{e}");
        assert!(e.contains("accepted: a tag name such as v1.2.3"));
        assert!(check_version_input("refs/tags/").is_err());
    }

    #[test]
    fn versions_with_and_without_v() {
        assert_eq!(parse_version("v1.2.3").unwrap().to_string(), "1.2.3");
        assert_eq!(parse_version("1.2.3+b5").unwrap().to_string(), "1.2.3");
        assert_eq!(parse_version("V2.0.0-rc.1").unwrap().to_string(), "2.0.0-rc.1");
        assert!(parse_version("v1.2").is_none());
        assert!(parse_version("foo").is_none());
    }
}
