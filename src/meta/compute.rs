//! Turns the tag rules, the flavor and the run's context into the list of
//! tags (with priorities, affixes and the `latest` decision), then adds the
//! labels and annotations.

use serde_json::Value;

use super::labels::{build_annotations, build_labels};
use super::regex::Regex;
use super::rules::{
    Enable, Flavor, Latest, RefEvent, RuleKind, Scheme, ShaFormat, TagRule, accepted_keys,
};
use super::sanitize::{normalize_image_name, sanitize_tag};
use super::template::{Dates, GLOBAL_VARS, Template};
use super::version::{ParsedVersion, parse_pep440, parse_version};
use super::{Annotation, AnnotationInput, Context, Floating, Meta, MetaError, Tag};

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

impl Produced {
    /// A value that does not ask for `latest`.
    fn plain(value: String) -> Produced {
        Produced { value, floating: None, auto_latest: false }
    }

    /// A value that asks for `latest` under `latest=auto`.
    fn release(value: String) -> Produced {
        Produced { value, floating: None, auto_latest: true }
    }
}

/// The expressions every value, prefix, suffix and label may hold
/// (`{{branch}}`, `{{sha}}`, the dates, ...), filled in for this run.
struct Globals<'a> {
    info: &'a RefInfo,
    short_sha: String,
    dates: Dates,
}

impl<'a> Globals<'a> {
    fn new(ctx: &Context, info: &'a RefInfo) -> Globals<'a> {
        Globals {
            info,
            short_sha: ctx.sha.chars().take(ctx.short_sha_length).collect(),
            dates: Dates { now: ctx.created, commit: ctx.commit_date.unwrap_or(ctx.created) },
        }
    }

    fn value(&self, name: &str) -> String {
        let info = self.info;
        match name {
            "branch" => info.branch.clone().unwrap_or_default(),
            "tag" => info.tag.clone().unwrap_or_default(),
            "sha" => self.short_sha.clone(),
            "base_ref" => info.base_ref.clone(),
            "is_default_branch" => info.is_default_branch.to_string(),
            "is_not_default_branch" => (!info.is_default_branch).to_string(),
            _ => String::new(),
        }
    }

    fn render(&self, template: &Template) -> String {
        template.render(&|name| self.value(name), &self.dates)
    }

    /// A label or annotation value: text that is not a valid template is
    /// kept as written.
    fn expand(&self, value: &str) -> String {
        Template::parse(value, GLOBAL_VARS, true)
            .map(|t| self.render(&t))
            .unwrap_or_else(|_| value.to_string())
    }
}

/// Computes tags, labels and annotations for one build.
///
/// `images` are validated and normalised; `rules` come from
/// [`parse_tag_rules`](super::parse_tag_rules) or
/// [`default_tag_rules`](super::default_tag_rules); `user_labels` and
/// `user_annotations` override the generated ones (label values may hold
/// the same expressions as tag values).
pub(crate) fn compute(
    ctx: &Context,
    images: &[String],
    rules: &[TagRule],
    flavor: &Flavor,
    user_labels: &[(String, String)],
    user_annotations: &[AnnotationInput],
) -> Result<Meta, MetaError> {
    let images = images.iter().map(|i| normalize_image_name(i)).collect::<Result<Vec<_>, _>>()?;
    let info = resolve(ctx)?;
    let globals = Globals::new(ctx, &info);

    let mut run = RuleRun::new(ctx, &globals);
    run.evaluate(rules);
    let RuleRun { candidates, first_asks_latest, build_version, mut warnings, .. } = run;
    let mut tags = affixed_tags(candidates, rules, flavor, &globals, &mut warnings)?;

    let build_version = build_version.or_else(|| info.tag.as_deref().and_then(parse_version));
    let prerelease =
        info.payload_prerelease || build_version.as_ref().is_some_and(|v| v.prerelease);
    if wants_latest(flavor.latest, first_asks_latest, &tags, prerelease) {
        add_latest(&mut tags, flavor, &globals)?;
    }

    let version = tags.first().map(|t| t.name.clone()).unwrap_or_default();
    let (labels, annotations) =
        labels_and_annotations(ctx, &globals, &version, user_labels, user_annotations);
    Ok(Meta {
        version,
        tags,
        labels,
        annotations,
        warnings,
        images,
        semver: build_version.and_then(|v| v.semver),
        prerelease,
        separators: Default::default(),
    })
}

/// The rules at work, highest priority first: what each gave, and what the
/// user should hear about.
struct RuleRun<'a> {
    ctx: &'a Context,
    globals: &'a Globals<'a>,
    candidates: Vec<Candidate>,
    /// Whether the first rule that gave a tag asks for `latest` under
    /// `latest=auto`.
    first_asks_latest: Option<bool>,
    /// The version the first version rule read.
    build_version: Option<ParsedVersion>,
    warnings: Vec<String>,
}

impl<'a> RuleRun<'a> {
    fn new(ctx: &'a Context, globals: &'a Globals<'a>) -> RuleRun<'a> {
        RuleRun {
            ctx,
            globals,
            candidates: Vec::new(),
            first_asks_latest: None,
            build_version: None,
            warnings: Vec::new(),
        }
    }

    fn evaluate(&mut self, rules: &[TagRule]) {
        // Highest priority first; rules of equal priority keep their order.
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(rules[i].priority));
        for index in order {
            let rule = &rules[index];
            if !rule.ignored_keys.is_empty() {
                self.warn_ignored_keys(rule);
            }
            if !self.enabled(rule.enable) {
                continue;
            }
            let Some(produced) = self.produce(rule).filter(|p| !p.value.is_empty()) else {
                continue;
            };
            self.first_asks_latest.get_or_insert(produced.auto_latest);
            self.candidates.push(Candidate {
                value: produced.value,
                floating: produced.floating,
                rule: index,
            });
        }
    }

    fn warn_ignored_keys(&mut self, rule: &TagRule) {
        self.warnings.push(format!(
            "tags rule '{}': {} ignored; type keys used: {}",
            rule.source,
            rule.ignored_keys.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", "),
            accepted_keys(&rule.kind)
        ));
    }

    fn skip(&mut self, rule: &TagRule, why: &str) {
        self.warnings.push(format!("tags rule '{}' skipped: {why}", rule.source));
    }

    fn enabled(&self, enable: Enable) -> bool {
        match enable {
            Enable::Always => true,
            Enable::Never => false,
            Enable::OnDefaultBranch => self.globals.info.is_default_branch,
            Enable::OffDefaultBranch => !self.globals.info.is_default_branch,
        }
    }

    /// What one enabled rule gives, if anything.
    fn produce(&mut self, rule: &TagRule) -> Option<Produced> {
        let (ctx, globals, info) = (self.ctx, self.globals, self.globals.info);
        match &rule.kind {
            RuleKind::Version { scheme, pattern, value, matcher } => {
                self.version_tag(rule, *scheme, pattern, value.as_ref(), matcher.as_ref())
            }
            RuleKind::Ref { event } => match event {
                RefEvent::Branch => info.branch.clone().map(Produced::plain),
                RefEvent::Tag => info.tag.clone().map(Produced::release),
                RefEvent::Pr => info.pr.clone().map(Produced::plain),
            },
            RuleKind::Sha { format } => match format {
                _ if ctx.sha.is_empty() => None,
                ShaFormat::Short => Some(Produced::plain(globals.short_sha.clone())),
                ShaFormat::Long => Some(Produced::plain(ctx.sha.clone())),
            },
            RuleKind::Raw { value } => Some(Produced::plain(globals.render(value))),
            RuleKind::Schedule { pattern } => {
                (ctx.event_name == "schedule").then(|| Produced::plain(globals.render(pattern)))
            }
            RuleKind::Edge { branch } => self.edge_tag(rule, branch.as_ref()),
            RuleKind::Match { pattern, group, value } => {
                self.match_tag(rule, pattern, *group, value.as_ref())
            }
        }
    }

    /// `type=semver` and `type=pep440`: the version of the tag (or of the
    /// rule's value) through the rule's pattern.
    fn version_tag(
        &mut self,
        rule: &TagRule,
        scheme: Scheme,
        pattern: &Template,
        value: Option<&Template>,
        matcher: Option<&Regex>,
    ) -> Option<Produced> {
        let (source, described) = self.version_source(value)?;
        let source = match matcher {
            Some(matcher) => self.first_group(rule, matcher, source),
            None => source,
        };
        let source = source.replace('/', "-");
        let (parsed, what) = match scheme {
            Scheme::Semver => (parse_version(&source), "a semver version (https://semver.org)"),
            Scheme::Pep440 => (parse_pep440(&source), "a PEP 440 version"),
        };
        let Some(v) = parsed else {
            self.skip(rule, &format!("{described} is not {what}"));
            return None;
        };
        self.build_version.get_or_insert_with(|| v.clone());
        self.render_version(pattern, &v, source)
    }

    /// The text a version rule reads, and how to name it in messages: the
    /// rule's value, else the tag.
    fn version_source(&self, value: Option<&Template>) -> Option<(String, String)> {
        let info = self.globals.info;
        match (value, &info.tag) {
            (Some(v), _) => {
                let v = self.globals.render(v);
                let described = format!("value '{v}'");
                Some((v, described))
            }
            (None, Some(t)) => Some((
                t.clone(),
                match info.tag_origin {
                    TagOrigin::Ref => format!("ref {}", info.git_ref),
                    TagOrigin::VersionInput => format!("version input '{t}'"),
                },
            )),
            (None, None) => None,
        }
    }

    /// `match=`: group 1 of the pattern in `source`; the whole of `source`
    /// (with a warning) when there is none.
    fn first_group(&mut self, rule: &TagRule, matcher: &Regex, source: String) -> String {
        match matcher.captures(&source).and_then(|groups| groups.get(1).cloned().flatten()) {
            Some(found) => found,
            None => {
                self.warnings.push(format!(
                    "tags rule '{}': match '{}' finds no group 1 in '{source}'; the whole value is used",
                    rule.source,
                    matcher.as_str()
                ));
                source
            }
        }
    }

    fn render_version(
        &self,
        pattern: &Template,
        v: &ParsedVersion,
        source: String,
    ) -> Option<Produced> {
        if v.prerelease {
            // A prerelease gets its full version only, whatever the
            // pattern says (or `{{raw}}` when that is the pattern).
            let value = if pattern.is_only("raw") { source } else { v.version.clone() };
            return Some(Produced::plain(value));
        }
        let floating = pattern_floating(pattern, v);
        if self.globals.info.payload_prerelease && floating.is_some() {
            // Floating tags only ever point at stable releases.
            return None;
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
            &self.globals.dates,
        );
        Some(Produced { value: rendered, floating, auto_latest: true })
    }

    /// `type=edge`: `edge` on the rule's branch, else the default branch.
    fn edge_tag(&mut self, rule: &TagRule, branch: Option<&String>) -> Option<Produced> {
        let info = self.globals.info;
        let current = info.branch.as_ref()?;
        match branch.or(info.default_branch.as_ref()) {
            Some(edge_branch) => (current == edge_branch).then(|| Produced::plain("edge".into())),
            None => {
                self.skip(
                    rule,
                    "the default branch is not known (not in the event payload, and no github-token to ask); add branch=NAME to the rule",
                );
                None
            }
        }
    }

    /// `type=match`: a group of the pattern in the rule's value, else in
    /// the tag.
    fn match_tag(
        &mut self,
        rule: &TagRule,
        pattern: &Regex,
        group: usize,
        value: Option<&Template>,
    ) -> Option<Produced> {
        let globals = self.globals;
        let source = value.map(|v| globals.render(v)).or_else(|| globals.info.tag.clone())?;
        let Some(groups) = pattern.captures(&source) else {
            self.skip(rule, &format!("pattern '{}' does not match '{source}'", pattern.as_str()));
            return None;
        };
        match groups.get(group) {
            Some(found) => Some(Produced::release(found.clone().unwrap_or_default())),
            None => {
                self.skip(
                    rule,
                    &format!("group {group} does not exist in pattern '{}'", pattern.as_str()),
                );
                None
            }
        }
    }
}

/// The tags with their prefixes and suffixes, sanitised, each once.
fn affixed_tags(
    candidates: Vec<Candidate>,
    rules: &[TagRule],
    flavor: &Flavor,
    globals: &Globals,
    warnings: &mut Vec<String>,
) -> Result<Vec<Tag>, MetaError> {
    let mut tags: Vec<Tag> = Vec::new();
    for c in candidates {
        let rule = &rules[c.rule];
        let prefix = globals.render(rule.prefix.as_ref().unwrap_or(&flavor.prefix));
        let suffix = globals.render(rule.suffix.as_ref().unwrap_or(&flavor.suffix));
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
        let (prefix, suffix) = kept_affixes(&name, &prefix, &suffix);
        if !tags.iter().any(|t| t.name == name) {
            tags.push(Tag { name, floating: c.floating, prefix, suffix });
        }
    }
    Ok(tags)
}

/// The prefix and suffix as they stand in the sanitised `name`; both empty
/// when sanitising changed them.
fn kept_affixes(name: &str, prefix: &str, suffix: &str) -> (String, String) {
    let (prefix, suffix) = (clean_affix(prefix), clean_affix(suffix));
    let kept = name.starts_with(&prefix)
        && name.ends_with(&suffix)
        && name.len() >= prefix.len() + suffix.len();
    if kept { (prefix, suffix) } else { (String::new(), String::new()) }
}

/// Whether `latest` joins the tags: never for a prerelease or without
/// tags; under `latest=auto`, when the first tag asked for it.
fn wants_latest(
    latest: Latest,
    first_asks_latest: Option<bool>,
    tags: &[Tag],
    prerelease: bool,
) -> bool {
    !tags.is_empty()
        && !prerelease
        && match latest {
            Latest::Auto => first_asks_latest.unwrap_or(false),
            Latest::True => true,
            Latest::False => false,
        }
}

/// Adds `latest`, with the flavor's affixes where it asks for them.
fn add_latest(tags: &mut Vec<Tag>, flavor: &Flavor, globals: &Globals) -> Result<(), MetaError> {
    let affix = |on_latest: bool, template: &Template| {
        if on_latest { clean_affix(&globals.render(template)) } else { String::new() }
    };
    let prefix = affix(flavor.prefix_on_latest, &flavor.prefix);
    let suffix = affix(flavor.suffix_on_latest, &flavor.suffix);
    let name = sanitize_tag(&format!("{prefix}latest{suffix}"))?;
    if !tags.iter().any(|t| t.name == name) {
        tags.push(Tag { name, floating: Some(Floating::Latest), prefix, suffix });
    }
    Ok(())
}

/// The generated labels and annotations with the user's over them; the
/// user's values may hold the same expressions as tags.
fn labels_and_annotations(
    ctx: &Context,
    globals: &Globals,
    version: &str,
    user_labels: &[(String, String)],
    user_annotations: &[AnnotationInput],
) -> (std::collections::BTreeMap<String, String>, Vec<Annotation>) {
    let user_labels: Vec<(String, String)> =
        user_labels.iter().map(|(key, value)| (key.clone(), globals.expand(value))).collect();
    let user_annotations: Vec<AnnotationInput> = user_annotations
        .iter()
        .map(|a| AnnotationInput { value: globals.expand(&a.value), ..a.clone() })
        .collect();
    let labels = build_labels(ctx, version, &user_labels);
    let annotations = build_annotations(&labels, &ctx.annotation_levels, &user_annotations);
    (labels, annotations)
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
