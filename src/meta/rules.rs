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
    let mut fields = RuleFields::new(line);
    let global = |text: &str| Template::parse(text, GLOBAL_VARS, true);
    let prefix = fields.take("prefix").map(|p| global(&p)).transpose()?;
    let suffix = fields.take("suffix").map(|s| global(&s)).transpose()?;
    let enable = parse_enable(fields.take("enable"))?;
    let priority = fields
        .take("priority")
        .map(|p| {
            p.parse::<i64>()
                .map_err(|_| format!("priority='{p}' is not accepted; accepted: a whole number"))
        })
        .transpose()?;
    let (kind, default_priority, default_prefix) = parse_kind(&mut fields)?;
    Ok(TagRule {
        kind,
        prefix: prefix.or_else(|| default_prefix.map(Template::literal)),
        suffix,
        enable,
        priority: priority.unwrap_or(default_priority),
        source: line.to_string(),
        ignored_keys: fields.pairs.into_iter().map(|(key, _)| key).collect(),
    })
}

/// A rule's fields, taken out one by one as they are read; those left at
/// the end are the ones its type does not use.
struct RuleFields {
    /// The rule's type, lowercased (`raw` when not given).
    kind: String,
    pairs: Vec<(String, String)>,
}

impl RuleFields {
    fn new(line: &str) -> RuleFields {
        let mut fields = RuleFields { kind: String::new(), pairs: rule_pairs(line) };
        fields.kind = fields.take("type").unwrap_or_else(|| "raw".to_string()).to_ascii_lowercase();
        fields
    }

    fn take(&mut self, key: &str) -> Option<String> {
        let at = self.pairs.iter().position(|(k, _)| k == key)?;
        Some(self.pairs.remove(at).1)
    }

    /// A field the type needs, not empty; `what` says what it holds.
    fn required(&mut self, key: &str, what: &str) -> Result<String, String> {
        match self.take(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("type={} needs {key}= ({what})", self.kind)),
        }
    }

    /// `value=` where it may be left out.
    fn optional_value(&mut self) -> Result<Option<Template>, String> {
        self.take("value")
            .filter(|v| !v.is_empty())
            .map(|v| Template::parse(&v, GLOBAL_VARS, true))
            .transpose()
    }
}

fn parse_enable(enable: Option<String>) -> Result<Enable, String> {
    Ok(match enable.as_deref().map(str::trim) {
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
    })
}

/// What the rule's type makes of its fields, with the priority and the
/// prefix that type has when the rule gives none.
fn parse_kind(fields: &mut RuleFields) -> Result<(RuleKind, i64, Option<&'static str>), String> {
    Ok(match fields.kind.as_str() {
        "semver" => (version_kind(Scheme::Semver, fields)?, 900, None),
        "pep440" => (version_kind(Scheme::Pep440, fields)?, 900, None),
        "ref" => {
            let event = ref_event(fields)?;
            (RuleKind::Ref { event }, 600, (event == RefEvent::Pr).then_some("pr-"))
        }
        "sha" => (RuleKind::Sha { format: sha_format(fields)? }, 100, Some("sha-")),
        "raw" => {
            let value = fields
                .take("value")
                .ok_or_else(|| "type=raw needs value= (the tag to add)".to_string())?;
            (RuleKind::Raw { value: Template::parse(&value, GLOBAL_VARS, true)? }, 200, None)
        }
        "schedule" => {
            let pattern = fields
                .take("pattern")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "nightly".to_string());
            let pattern = Template::parse(&pattern, GLOBAL_VARS, true)?;
            (RuleKind::Schedule { pattern }, 1000, None)
        }
        "edge" => {
            let branch = fields.take("branch").filter(|b| !b.is_empty());
            (RuleKind::Edge { branch }, 700, None)
        }
        "match" => (match_kind(fields)?, 800, None),
        other => {
            return Err(format!("unknown type '{other}'; accepted types: {TYPES}"));
        }
    })
}

fn regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern)
        .map_err(|e| format!("pattern '{pattern}' is not a usable regular expression: {e}"))
}

/// `type=semver|pep440,pattern=...[,value=...][,match=REGEX]`.
fn version_kind(scheme: Scheme, fields: &mut RuleFields) -> Result<RuleKind, String> {
    let pattern = fields.required("pattern", "such as {{version}}")?;
    let value = fields.optional_value()?;
    let matcher = fields.take("match").filter(|m| !m.is_empty()).map(|m| regex(&m)).transpose()?;
    let pattern = Template::parse(&pattern, VERSION_VARS, false)?;
    Ok(RuleKind::Version { scheme, pattern, value, matcher })
}

fn ref_event(fields: &mut RuleFields) -> Result<RefEvent, String> {
    let event = fields.required("event", "branch, tag or pr")?;
    match event.to_ascii_lowercase().as_str() {
        "branch" => Ok(RefEvent::Branch),
        "tag" => Ok(RefEvent::Tag),
        "pr" => Ok(RefEvent::Pr),
        other => Err(format!("event='{other}' is not accepted; accepted: branch, tag, pr")),
    }
}

fn sha_format(fields: &mut RuleFields) -> Result<ShaFormat, String> {
    match fields.take("format").as_deref() {
        None | Some("short") => Ok(ShaFormat::Short),
        Some("long") => Ok(ShaFormat::Long),
        Some(other) => Err(format!("format='{other}' is not accepted; accepted: short, long")),
    }
}

/// `type=match,pattern=REGEX[,group=N][,value=...]`.
fn match_kind(fields: &mut RuleFields) -> Result<RuleKind, String> {
    let pattern = regex(&fields.required("pattern", "a regular expression")?)?;
    let group = match fields.take("group") {
        None => 0,
        Some(g) => g.parse::<usize>().map_err(|_| {
            format!("group='{g}' is not accepted; accepted: a group number such as 1")
        })?,
    };
    let value = fields.optional_value()?;
    Ok(RuleKind::Match { pattern, group, value })
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
pub(crate) fn default_tag_rules() -> Vec<TagRule> {
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
