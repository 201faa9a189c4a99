//! Parses the `tags` input (one rule per line, in docker/metadata-action's
//! syntax) and the `flavor` input, and defines the default rules.

use super::MetaError;
use super::regex::Regex;
use super::template::{GLOBAL_VARS, SEMVER_VARS, Template};

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
    /// The first 7 characters.
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

/// What a rule produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `type=semver,pattern=...[,value=...]`.
    Semver { pattern: Template, value: Option<String> },
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
    Match { pattern: Regex, group: usize, value: Option<String> },
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
}

/// What `latest=` in the `flavor` input asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latest {
    /// `latest` for a stable semver release matched by a semver rule.
    #[default]
    Auto,
    /// Always `latest`, except for prereleases.
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
        .collect()
}

const TYPES: &str = "semver, ref, sha, raw, schedule, edge, match";

/// Parses the `tags` input. Blank lines are ignored; a line without `type=`
/// is `type=raw,value=<line>`.
pub fn parse_tag_rules(text: &str) -> Result<Vec<TagRule>, MetaError> {
    let mut rules = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        rules.push(parse_rule(line).map_err(|reason| MetaError::TagRule { line: index + 1, text: line.to_string(), reason })?);
    }
    Ok(rules)
}

fn parse_rule(line: &str) -> Result<TagRule, String> {
    let fields = split_fields(line);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for field in &fields {
        match field.split_once('=') {
            Some((k, v)) => {
                let key = k.trim().to_ascii_lowercase();
                if pairs.iter().any(|(seen, _)| *seen == key) {
                    return Err(format!("'{key}' is given twice; give each key once"));
                }
                pairs.push((key, v.trim().to_string()));
            }
            None if fields.len() == 1 => {
                // A bare value is a raw tag.
                return Ok(TagRule {
                    kind: RuleKind::Raw { value: Template::parse(line, GLOBAL_VARS, true)? },
                    prefix: None,
                    suffix: None,
                    enable: Enable::Always,
                    priority: 200,
                    source: line.to_string(),
                });
            }
            None => {
                return Err(format!("'{field}' is not key=value; accepted: type=...,key=value,... or a bare tag value"));
            }
        }
    }
    let take = |pairs: &mut Vec<(String, String)>, key: &str| -> Option<String> {
        let at = pairs.iter().position(|(k, _)| k == key)?;
        Some(pairs.remove(at).1)
    };
    let kind_name = take(&mut pairs, "type").ok_or_else(|| format!("no 'type=' given; accepted types: {TYPES}"))?.to_ascii_lowercase();

    let prefix = take(&mut pairs, "prefix").map(|p| Template::parse(&p, GLOBAL_VARS, true)).transpose()?;
    let suffix = take(&mut pairs, "suffix").map(|s| Template::parse(&s, GLOBAL_VARS, true)).transpose()?;
    let enable = match take(&mut pairs, "enable").as_deref().map(str::trim) {
        None | Some("true") => Enable::Always,
        Some("false") => Enable::Never,
        Some("{{is_default_branch}}") | Some("{{ is_default_branch }}") => Enable::OnDefaultBranch,
        Some("{{is_not_default_branch}}") | Some("{{ is_not_default_branch }}") => Enable::OffDefaultBranch,
        Some(other) => {
            return Err(format!(
                "enable='{other}' is not accepted; accepted: true, false, {{{{is_default_branch}}}}, {{{{is_not_default_branch}}}}"
            ));
        }
    };
    let priority = take(&mut pairs, "priority")
        .map(|p| p.parse::<i64>().map_err(|_| format!("priority='{p}' is not accepted; accepted: a whole number")))
        .transpose()?;

    let required = |pairs: &mut Vec<(String, String)>, key: &str, what: &str| match take(pairs, key) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("type={kind_name} needs {key}= ({what})")),
    };

    let (kind, default_priority, default_prefix) = match kind_name.as_str() {
        "semver" => {
            let pattern = required(&mut pairs, "pattern", "such as {{version}}")?;
            let value = take(&mut pairs, "value").filter(|v| !v.is_empty());
            (RuleKind::Semver { pattern: Template::parse(&pattern, SEMVER_VARS, false)?, value }, 900, None)
        }
        "ref" => {
            let event = required(&mut pairs, "event", "branch, tag or pr")?;
            let event = match event.to_ascii_lowercase().as_str() {
                "branch" => RefEvent::Branch,
                "tag" => RefEvent::Tag,
                "pr" => RefEvent::Pr,
                other => {
                    return Err(format!("event='{other}' is not accepted; accepted: branch, tag, pr"));
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
            let value = required(&mut pairs, "value", "the tag to add")?;
            (RuleKind::Raw { value: Template::parse(&value, GLOBAL_VARS, true)? }, 200, None)
        }
        "schedule" => {
            let pattern = take(&mut pairs, "pattern").filter(|p| !p.is_empty()).unwrap_or_else(|| "nightly".to_string());
            (RuleKind::Schedule { pattern: Template::parse(&pattern, GLOBAL_VARS, true)? }, 1000, None)
        }
        "edge" => {
            let branch = take(&mut pairs, "branch").filter(|b| !b.is_empty());
            (RuleKind::Edge { branch }, 700, None)
        }
        "match" => {
            let pattern = required(&mut pairs, "pattern", "a regular expression")?;
            let regex = Regex::new(&pattern).map_err(|e| format!("pattern '{pattern}' is not a usable regular expression: {e}"))?;
            let group = match take(&mut pairs, "group") {
                None => 0,
                Some(g) => g.parse::<usize>().map_err(|_| format!("group='{g}' is not accepted; accepted: a group number such as 1"))?,
            };
            if group > regex.group_count() {
                return Err(format!("group={group} but the pattern has {} capturing group(s)", regex.group_count()));
            }
            let value = take(&mut pairs, "value").filter(|v| !v.is_empty());
            (RuleKind::Match { pattern: regex, group, value }, 800, None)
        }
        other => {
            return Err(format!("unknown type '{other}'; accepted types: {TYPES}"));
        }
    };
    if let Some((key, _)) = pairs.first() {
        return Err(format!("unknown key '{key}' for type={kind_name}; accepted: {}", accepted_keys(&kind_name)));
    }
    let prefix = match (prefix, default_prefix) {
        (Some(p), _) => Some(p),
        (None, Some(d)) => Some(Template::literal(&d)),
        (None, None) => None,
    };
    Ok(TagRule { kind, prefix, suffix, enable, priority: priority.unwrap_or(default_priority), source: line.to_string() })
}

fn accepted_keys(kind: &str) -> String {
    let own: &[&str] = match kind {
        "semver" => &["pattern", "value"],
        "ref" => &["event"],
        "sha" => &["format"],
        "raw" => &["value"],
        "schedule" => &["pattern"],
        "edge" => &["branch"],
        "match" => &["pattern", "group", "value"],
        _ => &[],
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

/// Parses the `flavor` input: lines `latest=auto|true|false`,
/// `prefix=...[,onlatest=true|false]`, `suffix=...[,onlatest=true|false]`.
pub fn parse_flavor(text: &str) -> Result<Flavor, MetaError> {
    let mut flavor = Flavor::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        parse_flavor_line(line, &mut flavor).map_err(|reason| MetaError::Flavor { line: index + 1, text: line.to_string(), reason })?;
    }
    Ok(flavor)
}

fn parse_flavor_line(line: &str, flavor: &mut Flavor) -> Result<(), String> {
    const ACCEPTED: &str = "latest=auto|true|false, prefix=...[,onlatest=true|false], suffix=...[,onlatest=true|false]";
    let fields = split_fields(line);
    let (key, value) = fields[0]
        .split_once('=')
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .ok_or_else(|| format!("'{}' is not key=value; accepted: {ACCEPTED}", fields[0]))?;
    let mut on_latest = None;
    for extra in &fields[1..] {
        match extra.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("onlatest", v)) if key == "prefix" || key == "suffix" => {
                on_latest = Some(match v {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(format!("onlatest='{v}' is not accepted; accepted: true, false"));
                    }
                });
            }
            _ => {
                return Err(format!("'{extra}' is not accepted after {key}=; accepted: {ACCEPTED}"));
            }
        }
    }
    match key.as_str() {
        "latest" => {
            flavor.latest = match value.as_str() {
                "auto" => Latest::Auto,
                "true" => Latest::True,
                "false" => Latest::False,
                _ => {
                    return Err(format!("latest='{value}' is not accepted; accepted: auto, true, false"));
                }
            }
        }
        "prefix" => {
            flavor.prefix = Template::parse(&value, GLOBAL_VARS, true)?;
            flavor.prefix_on_latest = on_latest.unwrap_or(false);
        }
        "suffix" => {
            flavor.suffix = Template::parse(&value, GLOBAL_VARS, true)?;
            flavor.suffix_on_latest = on_latest.unwrap_or(false);
        }
        _ => return Err(format!("unknown key '{key}'; accepted: {ACCEPTED}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(text: &str) -> String {
        parse_tag_rules(text).unwrap_err().to_string()
    }

    #[test]
    fn splits_fields_outside_braces_and_quotes() {
        assert_eq!(split_fields(r#"type=match,pattern=\d{1,3},group=0"#), vec!["type=match", r"pattern=\d{1,3}", "group=0"]);
        assert_eq!(split_fields(r#"type=match,"pattern=a,b",group=0"#), vec!["type=match", "pattern=a,b", "group=0"]);
    }

    #[test]
    fn parses_each_type_with_defaults() {
        let rules = parse_tag_rules(
            "type=semver,pattern={{version}}\n\n  type=ref,event=pr  \ntype=sha,format=long\nplain-tag\ntype=schedule\ntype=edge,branch=dev\ntype=match,pattern=v(\\d+),group=1\ntype=raw,value=x,priority=-5,enable=false",
        )
        .unwrap();
        assert_eq!(rules.len(), 8);
        assert_eq!(rules.iter().map(|r| r.priority).collect::<Vec<_>>(), vec![900, 600, 100, 200, 1000, 700, 800, -5]);
        assert_eq!(rules[1].prefix, Some(Template::literal("pr-")));
        assert_eq!(rules[2].prefix, Some(Template::literal("sha-")));
        assert_eq!(rules[2].kind, RuleKind::Sha { format: ShaFormat::Long });
        assert_eq!(rules[3].kind, RuleKind::Raw { value: Template::literal("plain-tag") });
        assert_eq!(rules[4].kind, RuleKind::Schedule { pattern: Template::literal("nightly") });
        assert_eq!(rules[5].kind, RuleKind::Edge { branch: Some("dev".into()) });
        assert!(matches!(rules[6].kind, RuleKind::Match { group: 1, .. }));
        assert_eq!(rules[7].enable, Enable::Never);
        assert_eq!(rules[0].source, "type=semver,pattern={{version}}");
    }

    #[test]
    fn enable_expressions() {
        let rules = parse_tag_rules("type=raw,value=latest,enable={{is_default_branch}}").unwrap();
        assert_eq!(rules[0].enable, Enable::OnDefaultBranch);
        assert!(err_of("type=raw,value=x,enable=yes").contains("enable='yes'"));
    }

    #[test]
    fn parse_errors_name_line_and_what_is_accepted() {
        let e = err_of("type=semver,pattern={{version}}\ntype=bogus,value=x");
        assert_eq!(
            e,
            "tags: line 2 'type=bogus,value=x': unknown type 'bogus'; accepted types: semver, ref, sha, raw, schedule, edge, match"
        );
        let e = err_of("type=ref,event=branch,colour=red");
        assert!(
            e.starts_with(
                "tags: line 1 'type=ref,event=branch,colour=red': unknown key 'colour' for type=ref; accepted: type, event, prefix"
            ),
            "{e}"
        );
        let e = err_of("type=raw");
        assert_eq!(e, "tags: line 1 'type=raw': type=raw needs value= (the tag to add)");
        let e = err_of("type=semver,pattern=");
        assert!(e.contains("type=semver needs pattern="), "{e}");
        let e = err_of("type=ref");
        assert!(e.contains("type=ref needs event= (branch, tag or pr)"), "{e}");
        assert!(err_of("type=ref,event=push").contains("event='push' is not accepted"));
        assert!(err_of("type=sha,format=medium").contains("accepted: short, long"));
        assert!(err_of("type=semver,pattern={{build}}").contains("unknown expression '{{build}}'"));
        assert!(err_of("type=match,pattern=(a").contains("not a usable regular expression"));
        assert!(err_of("type=match,pattern=a(b),group=2").contains("has 1 capturing group"));
        assert!(err_of("type=raw,value=a,value=b").contains("given twice"));
        assert!(err_of("value=a").contains("no 'type=' given"));
        assert!(err_of("type=raw,value=a,oops").contains("'oops' is not key=value"));
        assert!(err_of("type=raw,value=a,priority=high").contains("accepted: a whole number"));
        for e in [err_of("type=bogus"), err_of("type=raw")] {
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn default_rules_are_release_first() {
        let rules = default_tag_rules();
        let sources: Vec<&str> = rules.iter().map(|r| r.source.as_str()).collect();
        assert_eq!(
            sources,
            vec![
                "type=semver,pattern={{version}}",
                "type=semver,pattern={{major}}.{{minor}}",
                "type=semver,pattern={{major}}",
                "type=ref,event=branch",
                "type=ref,event=pr",
                "type=schedule,pattern=nightly",
            ]
        );
    }

    #[test]
    fn flavor_parsing() {
        let f = parse_flavor("latest=false\nprefix=app-,onlatest=true\nsuffix=-alpine\n").unwrap();
        assert_eq!(f.latest, Latest::False);
        assert_eq!(f.prefix, Template::literal("app-"));
        assert!(f.prefix_on_latest);
        assert_eq!(f.suffix, Template::literal("-alpine"));
        assert!(!f.suffix_on_latest);
        assert_eq!(parse_flavor("").unwrap(), Flavor::default());

        let e = parse_flavor("latest=maybe").unwrap_err().to_string();
        assert_eq!(e, "flavor: line 1 'latest=maybe': latest='maybe' is not accepted; accepted: auto, true, false");
        assert!(parse_flavor("colour=red").unwrap_err().to_string().contains("unknown key 'colour'"));
        assert!(parse_flavor("latest=true,onlatest=true").is_err());
        assert!(parse_flavor("prefix=a-,onlatest=sometimes").is_err());
        assert!(parse_flavor("nonsense").is_err());
    }
}
