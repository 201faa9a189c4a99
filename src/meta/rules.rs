//! Parses the `tags` input (one rule per line, in docker/metadata-action's
//! syntax), the `flavor` input and the `images` input, and defines the
//! default rules. Lines starting with `#` are comments.

use super::MetaError;
use super::regex::Regex;
use super::template::{GLOBAL_VARS, Template, VERSION_VARS};

/// Where a `type=ref` rule takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefEvent {
    Branch,
    Tag,
    Pr,
}

/// How much of the commit id a `type=sha` rule uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShaFormat {
    /// The first 7 characters (or `DOCKER_METADATA_SHORT_SHA_LENGTH`).
    Short,
    /// All 40 characters.
    Long,
}

/// When a rule applies (`enable=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enable {
    Always,
    Never,
    /// `{{is_default_branch}}`: only on the repository's default branch.
    OnDefaultBranch,
    /// `{{is_not_default_branch}}`: everywhere but the default branch.
    OffDefaultBranch,
}

/// How a version rule reads its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `type=semver`: semantic versions (`v1.2.3`, `1.2.3-rc.1`).
    Semver,
    /// `type=pep440`: Python versions (`1.2.3rc2`, `1.2.post1`, `1.0.dev4`).
    Pep440,
}

/// What a rule produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `type=semver|pep440,pattern=...[,value=...][,match=REGEX]`.
    Version { scheme: Scheme, pattern: Template, value: Option<Template>, matcher: Option<Regex> },
    /// `type=ref,event=branch|tag|pr`.
    Ref { event: RefEvent },
    /// `type=sha[,format=short|long]`.
    Sha { format: ShaFormat },
    /// `type=raw,value=...` (also a line without `type=`).
    Raw { value: Template },
    /// `type=schedule[,pattern=...]`.
    Schedule { pattern: Template },
    /// `type=edge[,branch=...]`.
    Edge { branch: Option<String> },
    /// `type=match,pattern=REGEX[,group=N][,value=...]`.
    Match { pattern: Regex, group: usize, value: Option<Template> },
}

/// One line of the `tags` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRule {
    pub kind: RuleKind,
    /// `prefix=`; when absent the flavor's prefix applies.
    pub prefix: Option<Template>,
    /// `suffix=`; when absent the flavor's suffix applies.
    pub suffix: Option<Template>,
    pub enable: Enable,
    /// Higher comes first in the tag list.
    pub priority: i64,
    /// The line as written, used in warnings.
    pub source: String,
    /// Keys the rule's type does not use; they are ignored, with a warning.
    pub ignored_keys: Vec<String>,
}

/// What `latest=` in the `flavor` input asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latest {
    /// `latest` when the first tag comes from a stable version (`type=semver`,
    /// `type=pep440`), a `type=match` or a `type=ref,event=tag` rule.
    #[default]
    Auto,
    /// Always `latest` when there is a tag, except for prereleases.
    True,
    /// Never `latest`.
    False,
}

/// The `flavor` input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flavor {
    pub latest: Latest,
    pub prefix: Template,
    /// Whether the prefix also goes on `latest`.
    pub prefix_on_latest: bool,
    pub suffix: Template,
    /// Whether the suffix also goes on `latest`.
    pub suffix_on_latest: bool,
}

/// One line of the `images` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInput {
    pub name: String,
    /// `enable=false` leaves the image out.
    pub enable: bool,
}

/// Splits a line on commas that are outside quotes, `{...}`, `(...)` and `[...]`,
/// and removes quotes around whole fields.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut depth: i32 = 0;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                current.push(c);
            }
            None => match c {
                '"' if current.trim().is_empty() => {
                    quote = Some(c);
                    current.push(c);
                }
                '{' | '(' | '[' => {
                    depth += 1;
                    current.push(c);
                }
                '}' | ')' | ']' => {
                    depth -= 1;
                    current.push(c);
                }
                ',' if depth <= 0 => fields.push(std::mem::take(&mut current)),
                c => current.push(c),
            },
        }
    }
    fields.push(current);
    fields
        .into_iter()
        .map(|f| {
            let f = f.trim();
            match f.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
                Some(inner) => inner.to_string(),
                None => f.to_string(),
            }
        })
        .filter(|f| !f.is_empty())
        .collect()
}

/// The lines of a list input that carry something: trimmed, without blank
/// lines and `#` comments, with their line numbers.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

const TYPES: &str = "semver, pep440, ref, sha, raw, schedule, edge, match";

/// Parses the `tags` input. Blank lines and `#` comments are ignored; a
/// line without `type=` is a raw tag, and a field without `=` is the rule's
/// value (`type=raw,my-tag`).
pub fn parse_tag_rules(text: &str) -> Result<Vec<TagRule>, MetaError> {
    content_lines(text)
        .map(|(line_no, line)| {
            parse_rule(line).map_err(|reason| MetaError::TagRule {
                line: line_no,
                text: line.to_string(),
                reason,
            })
        })
        .collect()
}

/// The `key=value` fields of a rule, keys lowercased; a field without `=`
/// is `value=`. A key given twice keeps its last value.
fn rule_pairs(line: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for field in split_fields(line) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            }
            _ => ("value".to_string(), field.trim().to_string()),
        };
        pairs.retain(|(seen, _)| *seen != key);
        pairs.push((key, value));
    }
    pairs
}

fn parse_rule(line: &str) -> Result<TagRule, String> {
    let mut pairs = rule_pairs(line);
    let take = |pairs: &mut Vec<(String, String)>, key: &str| -> Option<String> {
        let at = pairs.iter().position(|(k, _)| k == key)?;
        Some(pairs.remove(at).1)
    };
    let kind_name =
        take(&mut pairs, "type").unwrap_or_else(|| "raw".to_string()).to_ascii_lowercase();
    let global = |text: &str| Template::parse(text, GLOBAL_VARS, true);

    let prefix = take(&mut pairs, "prefix").map(|p| global(&p)).transpose()?;
    let suffix = take(&mut pairs, "suffix").map(|s| global(&s)).transpose()?;
    let enable = match take(&mut pairs, "enable").as_deref().map(str::trim) {
        None | Some("true") => Enable::Always,
        Some("false") => Enable::Never,
        Some("{{is_default_branch}}") | Some("{{ is_default_branch }}") => Enable::OnDefaultBranch,
        Some("{{is_not_default_branch}}") | Some("{{ is_not_default_branch }}") => {
            Enable::OffDefaultBranch
        }
        Some(other) => {
            return Err(format!(
                "enable='{other}' is not accepted; accepted: true, false, {{{{is_default_branch}}}}, {{{{is_not_default_branch}}}}"
            ));
        }
    };
    let priority = take(&mut pairs, "priority")
        .map(|p| {
            p.parse::<i64>()
                .map_err(|_| format!("priority='{p}' is not accepted; accepted: a whole number"))
        })
        .transpose()?;

    let required = |pairs: &mut Vec<(String, String)>, key: &str, what: &str| match take(pairs, key)
    {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("type={kind_name} needs {key}= ({what})")),
    };
    let optional_value = |pairs: &mut Vec<(String, String)>| {
        take(pairs, "value").filter(|v| !v.is_empty()).map(|v| global(&v)).transpose()
    };
    let regex = |pattern: &str| {
        Regex::new(pattern)
            .map_err(|e| format!("pattern '{pattern}' is not a usable regular expression: {e}"))
    };

    let (kind, default_priority, default_prefix) = match kind_name.as_str() {
        "semver" | "pep440" => {
            let scheme = if kind_name == "semver" { Scheme::Semver } else { Scheme::Pep440 };
            let pattern = required(&mut pairs, "pattern", "such as {{version}}")?;
            let value = optional_value(&mut pairs)?;
            let matcher = take(&mut pairs, "match")
                .filter(|m| !m.is_empty())
                .map(|m| regex(&m))
                .transpose()?;
            (
                RuleKind::Version {
                    scheme,
                    pattern: Template::parse(&pattern, VERSION_VARS, false)?,
                    value,
                    matcher,
                },
                900,
                None,
            )
        }
        "ref" => {
            let event = required(&mut pairs, "event", "branch, tag or pr")?;
            let event = match event.to_ascii_lowercase().as_str() {
                "branch" => RefEvent::Branch,
                "tag" => RefEvent::Tag,
                "pr" => RefEvent::Pr,
                other => {
                    return Err(format!(
                        "event='{other}' is not accepted; accepted: branch, tag, pr"
                    ));
                }
            };
            let prefix = (event == RefEvent::Pr).then(|| "pr-".to_string());
            (RuleKind::Ref { event }, 600, prefix)
        }
        "sha" => {
            let format = match take(&mut pairs, "format").as_deref() {
                None | Some("short") => ShaFormat::Short,
                Some("long") => ShaFormat::Long,
                Some(other) => {
                    return Err(format!("format='{other}' is not accepted; accepted: short, long"));
                }
            };
            (RuleKind::Sha { format }, 100, Some("sha-".to_string()))
        }
        "raw" => {
            let value = take(&mut pairs, "value")
                .ok_or_else(|| "type=raw needs value= (the tag to add)".to_string())?;
            (RuleKind::Raw { value: global(&value)? }, 200, None)
        }
        "schedule" => {
            let pattern = take(&mut pairs, "pattern")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "nightly".to_string());
            (RuleKind::Schedule { pattern: global(&pattern)? }, 1000, None)
        }
        "edge" => {
            let branch = take(&mut pairs, "branch").filter(|b| !b.is_empty());
            (RuleKind::Edge { branch }, 700, None)
        }
        "match" => {
            let pattern = regex(&required(&mut pairs, "pattern", "a regular expression")?)?;
            let group = match take(&mut pairs, "group") {
                None => 0,
                Some(g) => g.parse::<usize>().map_err(|_| {
                    format!("group='{g}' is not accepted; accepted: a group number such as 1")
                })?,
            };
            let value = optional_value(&mut pairs)?;
            (RuleKind::Match { pattern, group, value }, 800, None)
        }
        other => {
            return Err(format!("unknown type '{other}'; accepted types: {TYPES}"));
        }
    };
    let prefix = match (prefix, default_prefix) {
        (Some(p), _) => Some(p),
        (None, Some(d)) => Some(Template::literal(&d)),
        (None, None) => None,
    };
    Ok(TagRule {
        kind,
        prefix,
        suffix,
        enable,
        priority: priority.unwrap_or(default_priority),
        source: line.to_string(),
        ignored_keys: pairs.into_iter().map(|(key, _)| key).collect(),
    })
}

/// The keys a rule type uses, for the warning about ignored keys.
pub(crate) fn accepted_keys(kind: &RuleKind) -> String {
    let own: &[&str] = match kind {
        RuleKind::Version { .. } => &["pattern", "value", "match"],
        RuleKind::Ref { .. } => &["event"],
        RuleKind::Sha { .. } => &["format"],
        RuleKind::Raw { .. } => &["value"],
        RuleKind::Schedule { .. } => &["pattern"],
        RuleKind::Edge { .. } => &["branch"],
        RuleKind::Match { .. } => &["pattern", "group", "value"],
    };
    let mut keys: Vec<&str> = vec!["type"];
    keys.extend_from_slice(own);
    keys.extend_from_slice(&["prefix", "suffix", "enable", "priority"]);
    keys.join(", ")
}

/// The rules used when the `tags` input is empty: release tags first.
pub fn default_tag_rules() -> Vec<TagRule> {
    const LINES: &str = "type=semver,pattern={{version}}
type=semver,pattern={{major}}.{{minor}}
type=semver,pattern={{major}}
type=ref,event=branch
type=ref,event=pr
type=schedule,pattern=nightly";
    match parse_tag_rules(LINES) {
        Ok(rules) => rules,
        Err(e) => unreachable!("the default tag rules are valid: {e}"),
    }
}

/// Parses the `flavor` input: `latest=auto|true|false`, `prefix=...`,
/// `suffix=...`, each `onlatest=true|false` applying to the `prefix=` or
/// `suffix=` before it on its line; several fields may share a line.
pub fn parse_flavor(text: &str) -> Result<Flavor, MetaError> {
    let mut flavor = Flavor::default();
    for (line_no, line) in content_lines(text) {
        parse_flavor_line(line, &mut flavor).map_err(|reason| MetaError::Flavor {
            line: line_no,
            text: line.to_string(),
            reason,
        })?;
    }
    Ok(flavor)
}

fn parse_flavor_line(line: &str, flavor: &mut Flavor) -> Result<(), String> {
    const ACCEPTED: &str = "latest=auto|true|false, prefix=...[,onlatest=true|false], suffix=...[,onlatest=true|false]";
    let mut last_affix: Option<&str> = None;
    for field in split_fields(line) {
        let (key, value) = field
            .split_once('=')
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .ok_or_else(|| format!("'{field}' is not key=value; accepted: {ACCEPTED}"))?;
        match key.as_str() {
            "latest" => {
                flavor.latest = match value.as_str() {
                    "auto" => Latest::Auto,
                    "true" => Latest::True,
                    "false" => Latest::False,
                    _ => {
                        return Err(format!(
                            "latest='{value}' is not accepted; accepted: auto, true, false"
                        ));
                    }
                }
            }
            "prefix" => {
                flavor.prefix = Template::parse(&value, GLOBAL_VARS, true)?;
                last_affix = Some("prefix");
            }
            "suffix" => {
                flavor.suffix = Template::parse(&value, GLOBAL_VARS, true)?;
                last_affix = Some("suffix");
            }
            "onlatest" => {
                let on = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(format!(
                            "onlatest='{value}' is not accepted; accepted: true, false"
                        ));
                    }
                };
                match last_affix {
                    Some("prefix") => flavor.prefix_on_latest = on,
                    Some(_) => flavor.suffix_on_latest = on,
                    None => {
                        return Err(format!(
                            "onlatest= goes after prefix= or suffix= on its line; accepted: {ACCEPTED}"
                        ));
                    }
                }
            }
            _ => return Err(format!("unknown key '{key}'; accepted: {ACCEPTED}")),
        }
    }
    Ok(())
}

/// Parses the `images` input: names one per line (or comma-separated on a
/// single line), or lines of `name=...,enable=true|false`.
pub fn parse_images(text: &str) -> Result<Vec<ImageInput>, MetaError> {
    let lines: Vec<(usize, &str)> = content_lines(text).collect();
    let err = |image: &str, reason: String| MetaError::Image { image: image.to_string(), reason };
    if let [(_, line)] = lines.as_slice()
        && !line.contains('=')
    {
        return Ok(split_fields(line)
            .into_iter()
            .map(|name| ImageInput { name, enable: true })
            .collect());
    }
    let mut images = Vec::new();
    for (_, line) in lines {
        let mut image = ImageInput { name: String::new(), enable: true };
        for field in split_fields(line) {
            match field.split_once('=').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim())) {
                None => image.name = field,
                Some((key, value)) if key == "name" => image.name = value.to_string(),
                Some((key, value)) if key == "enable" => {
                    image.enable = match value {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(err(
                                line,
                                format!("enable='{value}' is not accepted; accepted: true, false"),
                            ));
                        }
                    }
                }
                Some((key, _)) => {
                    return Err(err(
                        line,
                        format!(
                            "unknown key '{key}'; accepted: a name, or name=...,enable=true|false"
                        ),
                    ));
                }
            }
        }
        if image.name.is_empty() {
            return Err(err(
                line,
                "no image name; accepted: a name, or name=...,enable=true|false".to_string(),
            ));
        }
        images.push(image);
    }
    Ok(images)
}

#[cfg(test)]
mod tests;
