//! Turns the tag rules, the flavor and the run's context into the list of
//! tags (with priorities, affixes and the `latest` decision), then adds the
//! labels and annotations.

use serde_json::Value;

use super::labels::{build_annotations, build_labels};
use super::rules::{
    Enable, Flavor, Latest, RefEvent, RuleKind, Scheme, ShaFormat, TagRule, accepted_keys,
};
use super::sanitize::{normalize_image_name, sanitize_tag};
use super::template::{Dates, GLOBAL_VARS, Template};
use super::version::{ParsedVersion, parse_pep440, parse_version};
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
    /// Set for `refs/heads/...` outside pull request events; also `{{branch}}`.
    branch: Option<String>,
    pr: Option<String>,
    /// The default branch; on events that only run there, the current branch
    /// when the payload does not say.
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

/// Events that GitHub only starts for the last commit of the default branch.
fn runs_on_default_branch(event_name: &str) -> bool {
    ["create", "discussion", "issues", "schedule"].iter().any(|e| event_name.starts_with(e))
}

fn check_version_input(raw: &str) -> Result<Option<String>, MetaError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let name = value.strip_prefix("refs/tags/").unwrap_or(value);
    if let Some(bad) = name.chars().find(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    }) {
        return Err(MetaError::Version {
            value: raw.to_string(),
            reason: format!(
                "character {bad:?} cannot be in a tag name; accepted: a tag name such as v1.2.3, or empty to use the git ref"
            ),
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
    let payload_prerelease = ctx.event_name == "release"
        && ev
            .get("release")
            .and_then(|r| r.get("prerelease"))
            .and_then(Value::as_bool)
            .unwrap_or(false);

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
    let branch =
        if pr_event { None } else { git_ref.strip_prefix("refs/heads/").map(str::to_string) };
    let pr = git_ref
        .strip_prefix("refs/pull/")
        .and_then(|rest| rest.split('/').next())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| {
            if !pr_event {
                return None;
            }
            ev.get("number")
                .or_else(|| ev.get("pull_request").and_then(|p| p.get("number")))
                .and_then(Value::as_u64)
                .map(|n| n.to_string())
        });
    // `{{base_ref}}`: the branch a tag was pushed from, or a pull request's base.
    let base_ref = if tag.is_some() {
        str_at(ev, &["base_ref"]).unwrap_or("")
    } else if pr.is_some() {
        str_at(ev, &["pull_request", "base", "ref"]).unwrap_or("")
    } else {
        ""
    };
    let base_ref = base_ref.strip_prefix("refs/heads/").unwrap_or(base_ref).to_string();
    let branch = branch.filter(|b| !b.is_empty());
    let default_branch = ctx
        .default_branch
        .clone()
        .or_else(|| branch.clone().filter(|_| runs_on_default_branch(&ctx.event_name)));
    let is_default_branch = branch.as_ref().is_some_and(|b| {
        default_branch.as_ref() == Some(b) || runs_on_default_branch(&ctx.event_name)
    });
    Ok(RefInfo {
        git_ref,
        tag,
        tag_origin,
        branch,
        pr,
        default_branch,
        is_default_branch,
        payload_prerelease,
        base_ref,
    })
}

/// A tag before sorting.
struct Candidate {
    value: String,
    floating: Option<Floating>,
    rule: usize,
}

/// What a version pattern covers when it is not tied to one release.
fn pattern_floating(pattern: &Template, v: &ParsedVersion) -> Option<Floating> {
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

/// What one rule gave: its value and whether it asks for `latest` under
/// `latest=auto`.
struct Produced {
    value: String,
    floating: Option<Floating>,
    auto_latest: bool,
}

/// Computes tags, labels and annotations for one build.
///
/// `images` are validated and normalised; `rules` come from
/// [`parse_tag_rules`](super::parse_tag_rules) or
/// [`default_tag_rules`](super::default_tag_rules); `user_labels` and
/// `user_annotations` override the generated ones (label values may hold
/// the same expressions as tag values).
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
    let short_sha: String = ctx.sha.chars().take(ctx.short_sha_length).collect();
    let globals = |name: &str| -> String {
        match name {
            "branch" => info.branch.clone().unwrap_or_default(),
            "tag" => info.tag.clone().unwrap_or_default(),
            "sha" => short_sha.clone(),
            "base_ref" => info.base_ref.clone(),
            "is_default_branch" => info.is_default_branch.to_string(),
            "is_not_default_branch" => (!info.is_default_branch).to_string(),
            _ => String::new(),
        }
    };
    let dates = Dates { now: ctx.created, commit: ctx.commit_date.unwrap_or(ctx.created) };
    let render = |t: &Template| t.render(&globals, &dates);

    let mut warnings = Vec::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut first_asks_latest: Option<bool> = None;
    let mut build_version: Option<ParsedVersion> = None;

    // Highest priority first; rules of equal priority keep their order.
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rules[i].priority));

    for index in order {
        let rule = &rules[index];
        if !rule.ignored_keys.is_empty() {
            warnings.push(format!(
                "tags rule '{}': {} ignored; type keys used: {}",
                rule.source,
                rule.ignored_keys.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", "),
                accepted_keys(&rule.kind)
            ));
        }
        let enabled = match rule.enable {
            Enable::Always => true,
            Enable::Never => false,
            Enable::OnDefaultBranch => info.is_default_branch,
            Enable::OffDefaultBranch => !info.is_default_branch,
        };
        if !enabled {
            continue;
        }
        let skip = |warnings: &mut Vec<String>, why: String| {
            warnings.push(format!("tags rule '{}' skipped: {why}", rule.source))
        };
        let plain = |value: String| Some(Produced { value, floating: None, auto_latest: false });
        let produced: Option<Produced> = match &rule.kind {
            RuleKind::Version { scheme, pattern, value, matcher } => {
                let (mut source, described) = match (value, &info.tag) {
                    (Some(v), _) => {
                        let v = render(v);
                        let described = format!("value '{v}'");
                        (v, described)
                    }
                    (None, Some(t)) => (
                        t.clone(),
                        match info.tag_origin {
                            TagOrigin::Ref => format!("ref {}", info.git_ref),
                            TagOrigin::VersionInput => format!("version input '{t}'"),
                        },
                    ),
                    (None, None) => continue,
                };
                if let Some(matcher) = matcher {
                    match matcher.captures(&source).and_then(|groups| groups.get(1).cloned().flatten()) {
                        Some(found) => source = found,
                        None => warnings.push(format!(
                            "tags rule '{}': match '{}' finds no group 1 in '{source}'; the whole value is used",
                            rule.source,
                            matcher.as_str()
                        )),
                    }
                }
                let source = source.replace('/', "-");
                let parsed = match scheme {
                    Scheme::Semver => parse_version(&source),
                    Scheme::Pep440 => parse_pep440(&source),
                };
                let Some(v) = parsed else {
                    let what = match scheme {
                        Scheme::Semver => "a semver version (https://semver.org)",
                        Scheme::Pep440 => "a PEP 440 version",
                    };
                    skip(&mut warnings, format!("{described} is not {what}"));
                    continue;
                };
                if build_version.is_none() {
                    build_version = Some(v.clone());
                }
                if v.prerelease {
                    // A prerelease gets its full version only, whatever the
                    // pattern says (or `{{raw}}` when that is the pattern).
                    let value =
                        if pattern.is_only("raw") { source.clone() } else { v.version.clone() };
                    Some(Produced { value, floating: None, auto_latest: false })
                } else {
                    let floating = pattern_floating(pattern, &v);
                    if info.payload_prerelease && floating.is_some() {
                        // Floating tags only ever point at stable releases.
                        continue;
                    }
                    let rendered = pattern.render(
                        &|name| match name {
                            "version" => v.version.clone(),
                            "major" => v.major.to_string(),
                            "minor" => v.minor.to_string(),
                            "patch" => v.patch.to_string(),
                            "raw" => source.clone(),
                            _ => String::new(),
                        },
                        &dates,
                    );
                    Some(Produced { value: rendered, floating, auto_latest: true })
                }
            }
            RuleKind::Ref { event } => match event {
                RefEvent::Branch => info.branch.clone().and_then(plain),
                RefEvent::Tag => info.tag.clone().map(|value| Produced {
                    value,
                    floating: None,
                    auto_latest: true,
                }),
                RefEvent::Pr => info.pr.clone().and_then(plain),
            },
            RuleKind::Sha { format } => match format {
                _ if ctx.sha.is_empty() => None,
                ShaFormat::Short => plain(short_sha.clone()),
                ShaFormat::Long => plain(ctx.sha.clone()),
            },
            RuleKind::Raw { value } => plain(render(value)),
            RuleKind::Schedule { pattern } => {
                (ctx.event_name == "schedule").then(|| render(pattern)).and_then(plain)
            }
            RuleKind::Edge { branch } => {
                let Some(current) = &info.branch else {
                    continue;
                };
                match branch.as_ref().or(info.default_branch.as_ref()) {
                    Some(edge_branch) => {
                        (current == edge_branch).then(|| "edge".to_string()).and_then(plain)
                    }
                    None => {
                        skip(
                            &mut warnings,
                            "the default branch is not known (not in the event payload, and no github-token to ask); add branch=NAME to the rule"
                                .to_string(),
                        );
                        None
                    }
                }
            }
            RuleKind::Match { pattern, group, value } => {
                let Some(source) = value.as_ref().map(render).or_else(|| info.tag.clone()) else {
                    continue;
                };
                match pattern.captures(&source) {
                    Some(groups) => match groups.get(*group) {
                        Some(found) => Some(Produced {
                            value: found.clone().unwrap_or_default(),
                            floating: None,
                            auto_latest: true,
                        }),
                        None => {
                            skip(
                                &mut warnings,
                                format!(
                                    "group {group} does not exist in pattern '{}'",
                                    pattern.as_str()
                                ),
                            );
                            None
                        }
                    },
                    None => {
                        skip(
                            &mut warnings,
                            format!("pattern '{}' does not match '{source}'", pattern.as_str()),
                        );
                        None
                    }
                }
            }
        };
        let Some(produced) = produced.filter(|p| !p.value.is_empty()) else {
            continue;
        };
        if first_asks_latest.is_none() {
            first_asks_latest = Some(produced.auto_latest);
        }
        candidates.push(Candidate {
            value: produced.value,
            floating: produced.floating,
            rule: index,
        });
    }

    // Apply affixes and sanitise.
    let mut ordered: Vec<Tag> = Vec::new();
    for c in candidates {
        let rule = &rules[c.rule];
        let prefix = render(rule.prefix.as_ref().unwrap_or(&flavor.prefix));
        let suffix = render(rule.suffix.as_ref().unwrap_or(&flavor.suffix));
        let raw = format!("{prefix}{}{suffix}", c.value);
        let name = match sanitize_tag(&raw) {
            Ok(name) => name,
            Err(MetaError::EmptyTag { .. }) => {
                warnings.push(format!(
                    "tags rule '{}' skipped: '{raw}' has no characters usable in a tag",
                    rule.source
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        let (prefix, suffix) = (clean_affix(&prefix), clean_affix(&suffix));
        let affixes_kept = name.starts_with(&prefix)
            && name.ends_with(&suffix)
            && name.len() >= prefix.len() + suffix.len();
        let (prefix, suffix) =
            if affixes_kept { (prefix, suffix) } else { (String::new(), String::new()) };
        if !ordered.iter().any(|t| t.name == name) {
            ordered.push(Tag { name, floating: c.floating, prefix, suffix });
        }
    }

    if build_version.is_none() {
        build_version = info.tag.as_deref().and_then(parse_version);
    }
    let prerelease =
        info.payload_prerelease || build_version.as_ref().is_some_and(|v| v.prerelease);
    let want_latest = !ordered.is_empty()
        && !prerelease
        && match flavor.latest {
            Latest::Auto => first_asks_latest.unwrap_or(false),
            Latest::True => true,
            Latest::False => false,
        };
    if want_latest {
        let prefix = if flavor.prefix_on_latest {
            clean_affix(&render(&flavor.prefix))
        } else {
            String::new()
        };
        let suffix = if flavor.suffix_on_latest {
            clean_affix(&render(&flavor.suffix))
        } else {
            String::new()
        };
        let name = sanitize_tag(&format!("{prefix}latest{suffix}"))?;
        if !ordered.iter().any(|t| t.name == name) {
            ordered.push(Tag { name, floating: Some(Floating::Latest), prefix, suffix });
        }
    }

    // Label and annotation values may hold the same expressions as tags;
    // text that is not a valid template is kept as written.
    let expand = |value: &str| {
        Template::parse(value, GLOBAL_VARS, true)
            .map(|t| render(&t))
            .unwrap_or_else(|_| value.to_string())
    };
    let user_labels: Vec<(String, String)> =
        user_labels.iter().map(|(key, value)| (key.clone(), expand(value))).collect();
    let user_annotations: Vec<AnnotationInput> = user_annotations
        .iter()
        .map(|a| AnnotationInput { value: expand(&a.value), ..a.clone() })
        .collect();
    let version = ordered.first().map(|t| t.name.clone()).unwrap_or_default();
    let labels = build_labels(ctx, &version, &user_labels);
    let annotations = build_annotations(&labels, &ctx.annotation_levels, &user_annotations);
    let semver = build_version.and_then(|v| v.semver);
    Ok(Meta {
        version,
        tags: ordered,
        labels,
        annotations,
        warnings,
        images,
        semver,
        prerelease,
        separators: Default::default(),
    })
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
}
