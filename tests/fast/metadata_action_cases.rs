//! docker/metadata-action's own test tables, as facts: for each of its
//! cases, the `images`, `tags`, `flavor` and `labels` inputs, the event
//! (its variables and payload, under tests/fixtures/metadata-action/), and
//! the version and tags it expects. Each case runs through the same path as
//! a workflow run (the GitHub context read from the environment, then the
//! metadata inputs) and must give the same version and tags, except the
//! cases in `KEPT`, where this action differs on purpose; each names its
//! reason and the tags given here instead.
//!
//! The tables' clock is 2020-01-10T00:30:00Z for both the build and the
//! commit date, and the API answers the repository's default branch as
//! `master`; the same is set here.

use std::collections::{BTreeMap, HashMap};

use multiarch_action::inputs::RawInputs;
use multiarch_action::meta;
use multiarch_action::plan::{ImageName, compute_meta};
use multiarch_action::runner::GithubContext;
use serde::Deserialize;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/metadata-action");
/// 2020-01-10T00:30:00Z.
const CLOCK: i64 = 1_578_616_200;

#[derive(Debug, Deserialize)]
struct Case {
    group: String,
    name: String,
    event: String,
    images: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    flavor: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    env: HashMap<String, String>,
    expected_version: Option<String>,
    expected_latest: Option<bool>,
    expected_tags: Option<Vec<String>>,
    expected_tag_names: Option<Vec<String>>,
    sep_tags: Option<String>,
    expected_joined: Option<String>,
    /// The `org.opencontainers.image.revision` label it gives (the commit).
    expected_revision: Option<String>,
    /// Every label metadata-action gives, for the cases with a `labels` input.
    expected_labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct Event {
    env: HashMap<String, String>,
    payload: Option<serde_json::Value>,
}

/// The kept rules: floating tags (`latest`, `{{major}}`, `{{major}}.{{minor}}`)
/// never point at a prerelease.
const PRERELEASE: &str = "no `latest` for a prerelease version: the build's tag is a semver prerelease, and `latest` only ever names a stable release (floating tags never move to a prerelease)";

/// The same for a GitHub release marked "pre-release", whatever its tag says.
const RELEASE_PRERELEASE: &str = "no `latest` for a GitHub release marked pre-release: the event says this is not a stable release, so `latest` (and `{{major}}`, `{{major}}.{{minor}}`) stay on the last stable one";

/// Cases where this action gives other tags on purpose: (group/name, reason, tags given here).
const KEPT: &[(&str, &str, &[&str])] = &[
    ("tag/tag07", PRERELEASE, &["org/app:2.0.8-beta.67", "ghcr.io/user/app:2.0.8-beta.67"]),
    ("tag/tag08", PRERELEASE, &["org/app:2.0", "ghcr.io/user/app:2.0"]),
    (
        "tag/tag09",
        PRERELEASE,
        &["org/app:2.0.8", "org/app:67", "ghcr.io/user/app:2.0.8", "ghcr.io/user/app:67"],
    ),
    ("latest/latest06", PRERELEASE, &["org/app:2.0.8", "ghcr.io/user/app:2.0.8"]),
    ("latest/latest10", PRERELEASE, &["2.0.8"]),
    ("release/release01", RELEASE_PRERELEASE, &["user/app:v1.1.1"]),
    ("release/release02", RELEASE_PRERELEASE, &["user/app:v1.1.1", "user/app:baseref-"]),
];

/// metadata-action's rules for an empty `tags` input, given explicitly here
/// (an empty `tags` is this action's own, release-first, default).
const METADATA_ACTION_DEFAULT_TAGS: &str =
    "type=schedule\ntype=ref,event=branch\ntype=ref,event=tag\ntype=ref,event=pr";

fn load<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What one case gives here.
struct Outcome {
    version: String,
    /// Full references, image by image (tag names when there is no image).
    refs: Vec<String>,
    names: Vec<String>,
    /// The `tags` output, joined with `sep-tags`.
    joined: String,
    labels: BTreeMap<String, String>,
}

/// The outcome of one case, or an error text.
fn run(case: &Case, dir: &std::path::Path) -> Result<Outcome, String> {
    let event: Event = load(&format!("{FIXTURES}/events/{}.json", case.event));
    let mut env = event.env.clone();
    env.extend(case.env.clone());
    if let Some(payload) = &event.payload {
        let path = dir.join(format!("{}.json", case.event));
        std::fs::write(&path, payload.to_string()).unwrap();
        env.insert("GITHUB_EVENT_PATH".into(), path.display().to_string());
    }
    env.insert("SOURCE_DATE_EPOCH".into(), CLOCK.to_string());
    let mut github = GithubContext::from_env(&env).map_err(|e| format!("{e:#}"))?;
    github.default_branch.get_or_insert_with(|| "master".to_string());
    github.commit_date = chrono::DateTime::from_timestamp(CLOCK, 0);

    let tags = if case.tags.is_empty() {
        METADATA_ACTION_DEFAULT_TAGS.to_string()
    } else {
        case.tags.join("\n")
    };
    let raw = RawInputs::from_pairs([
        ("tags", tags),
        ("flavor", case.flavor.join("\n")),
        ("labels", case.labels.join("\n")),
        ("sep-tags", case.sep_tags.clone().unwrap_or_default()),
    ])
    .map_err(|e| format!("{e:#}"))?;
    let images = meta::parse_images(&case.images.join("\n")).map_err(|e| e.to_string())?;
    let images: Vec<ImageName> = images
        .iter()
        .filter(|i| i.enable)
        .map(|i| ImageName::parse(&i.name))
        .collect::<anyhow::Result<_>>()
        .map_err(|e| format!("{e:#}"))?;
    let meta = compute_meta(&raw, &github, &images).map_err(|e| format!("{e:#}"))?;
    let names: Vec<String> = meta.tags.iter().map(|t| t.name.clone()).collect();
    let refs = if images.is_empty() {
        names.clone()
    } else {
        images.iter().flat_map(|image| names.iter().map(|tag| image.with_tag(tag))).collect()
    };
    let joined = refs.join(&meta.separators.tags);
    Ok(Outcome { version: meta.version, refs, names, joined, labels: meta.labels })
}

#[test]
fn every_case_of_metadata_action_agrees_or_is_a_kept_rule() {
    let cases: Vec<Case> = load(&format!("{FIXTURES}/cases.json"));
    assert!(cases.len() >= 130, "the tables hold {} cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut kept_seen = Vec::new();
    let mut labels_checked = 0;
    for case in &cases {
        let id = format!("{}/{}", case.group, case.name);
        let Outcome { version, refs, names, joined, labels } = match run(case, dir.path()) {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("{id}: failed: {e}"));
                continue;
            }
        };
        if let Some(want) = &case.expected_revision
            && labels.get("org.opencontainers.image.revision").map(String::as_str).unwrap_or("")
                != want
        {
            failures.push(format!(
                "{id}: revision {:?}, metadata-action gives {want:?}",
                labels.get("org.opencontainers.image.revision")
            ));
        }
        // The generated labels come from the payload here and from the API
        // there; the ones the `labels` input sets must agree.
        if let Some(theirs) = &case.expected_labels {
            for key in case.labels.iter().filter_map(|l| l.split_once('=')).map(|(k, _)| k.trim()) {
                labels_checked += 1;
                if labels.get(key) != theirs.get(key) {
                    failures.push(format!(
                        "{id}: label {key} is {:?}, metadata-action gives {:?}",
                        labels.get(key),
                        theirs.get(key)
                    ));
                }
            }
        }
        if let Some(want) = &case.expected_joined
            && &joined != want
        {
            failures.push(format!("{id}: tags output {joined:?}, metadata-action gives {want:?}"));
        }
        let theirs = match (&case.expected_tags, &case.expected_joined) {
            (Some(tags), _) => tags.clone(),
            (None, Some(_)) => continue,
            (None, None) => panic!("{id}: the case expects no tags"),
        };
        let latest = refs.iter().any(|r| {
            r == "latest"
                || r.ends_with(":latest")
                || r.contains(":latest-")
                || r.contains("-latest")
        });
        if let Some((_, reason, ours)) = KEPT.iter().find(|(k, _, _)| *k == id) {
            kept_seen.push(id.clone());
            if refs != *ours {
                failures.push(format!("{id} (kept: {reason}): gives {refs:?}, expected {ours:?}"));
            }
            if refs == theirs {
                failures.push(format!(
                    "{id}: listed as kept but agrees with metadata-action; remove it from KEPT"
                ));
            }
            continue;
        }
        if refs != theirs {
            failures.push(format!("{id}: tags {refs:?}, metadata-action gives {theirs:?}"));
        }
        if let Some(want) = &case.expected_version
            && &version != want
        {
            failures.push(format!("{id}: version {version:?}, metadata-action gives {want:?}"));
        }
        if case.expected_version.is_none() && case.expected_latest.is_some() && !version.is_empty()
        {
            failures.push(format!("{id}: version {version:?}, metadata-action gives none"));
        }
        if let Some(want) = case.expected_latest
            && want != latest
        {
            failures.push(format!("{id}: latest {latest}, metadata-action says {want}"));
        }
        if let Some(want) = &case.expected_tag_names
            && &names != want
        {
            failures.push(format!("{id}: tag names {names:?}, metadata-action gives {want:?}"));
        }
    }
    assert_eq!(kept_seen.len(), KEPT.len(), "every kept case is in the tables: {kept_seen:?}");
    assert_eq!(labels_checked, 14, "labels set by the cases' `labels` inputs");
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[derive(Debug, Deserialize)]
struct ParserTables {
    tag_rules: Vec<RuleRow>,
    tag_order: OrderRow,
    flavor: Vec<FlavorRow>,
    images: Vec<ImagesRow>,
}

#[derive(Debug, Deserialize)]
struct RuleRow {
    line: String,
    invalid: bool,
    #[serde(rename = "type")]
    kind: Option<String>,
    priority: Option<i64>,
    enable: Option<String>,
    prefix: Option<String>,
    event: Option<String>,
    format: Option<String>,
    group: Option<String>,
    branch: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OrderRow {
    lines: Vec<String>,
    types_by_priority: Vec<String>,
    priorities: Vec<i64>,
}

#[derive(Debug, Deserialize)]
struct FlavorRow {
    lines: Vec<String>,
    invalid: bool,
    latest: Option<String>,
    prefix: Option<String>,
    prefix_latest: Option<bool>,
    suffix: Option<String>,
    suffix_latest: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ImagesRow {
    lines: Vec<String>,
    invalid: bool,
    images: Option<Vec<ImageRow>>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct ImageRow {
    name: String,
    enable: bool,
}

fn kind_name(kind: &meta::RuleKind) -> &'static str {
    match kind {
        meta::RuleKind::Version { scheme: meta::Scheme::Semver, .. } => "semver",
        meta::RuleKind::Version { scheme: meta::Scheme::Pep440, .. } => "pep440",
        meta::RuleKind::Ref { .. } => "ref",
        meta::RuleKind::Sha { .. } => "sha",
        meta::RuleKind::Raw { .. } => "raw",
        meta::RuleKind::Schedule { .. } => "schedule",
        meta::RuleKind::Edge { .. } => "edge",
        meta::RuleKind::Match { .. } => "match",
    }
}

/// A template's text with no values (the literal text of a literal template).
fn text(template: &meta::Template) -> String {
    let at = chrono::DateTime::from_timestamp(CLOCK, 0).unwrap();
    template.render(&|_| String::new(), &meta::Dates { now: at, commit: at })
}

/// metadata-action's parser tables: which `tags`, `flavor` and `images`
/// lines it accepts, and what it reads from them.
#[test]
fn the_parsers_accept_what_metadata_action_accepts() {
    let tables: ParserTables = load(&format!("{FIXTURES}/parsers.json"));
    for row in &tables.tag_rules {
        let parsed = meta::parse_tag_rules(&row.line);
        let Ok(rules) = parsed else {
            assert!(row.invalid, "{}: rejected: {}", row.line, parsed.unwrap_err());
            continue;
        };
        assert!(!row.invalid, "{}: accepted, metadata-action rejects it", row.line);
        let rule = &rules[0];
        assert_eq!(Some(kind_name(&rule.kind)), row.kind.as_deref(), "{}", row.line);
        assert_eq!(Some(rule.priority), row.priority, "{}", row.line);
        let enable = if rule.enable == meta::Enable::Never { "false" } else { "true" };
        assert_eq!(Some(enable), row.enable.as_deref(), "{}", row.line);
        assert_eq!(rule.prefix.as_ref().map(text), row.prefix, "{}", row.line);
        match &rule.kind {
            meta::RuleKind::Ref { event } => {
                let event = match event {
                    meta::RefEvent::Branch => "branch",
                    meta::RefEvent::Tag => "tag",
                    meta::RefEvent::Pr => "pr",
                };
                assert_eq!(Some(event), row.event.as_deref(), "{}", row.line);
            }
            meta::RuleKind::Sha { format } => {
                let format = if *format == meta::ShaFormat::Long { "long" } else { "short" };
                assert_eq!(Some(format), row.format.as_deref(), "{}", row.line);
            }
            meta::RuleKind::Match { group, .. } => {
                assert_eq!(Some(group.to_string()), row.group, "{}", row.line)
            }
            meta::RuleKind::Edge { branch } => {
                assert_eq!(Some(branch.clone().unwrap_or_default()), row.branch, "{}", row.line)
            }
            _ => {}
        }
    }

    let rules = meta::parse_tag_rules(&tables.tag_order.lines.join("\n")).unwrap();
    let mut by_priority: Vec<&meta::TagRule> = rules.iter().collect();
    by_priority.sort_by_key(|r| std::cmp::Reverse(r.priority));
    assert_eq!(
        by_priority.iter().map(|r| kind_name(&r.kind)).collect::<Vec<_>>(),
        tables.tag_order.types_by_priority
    );
    assert_eq!(
        by_priority.iter().map(|r| r.priority).collect::<Vec<_>>(),
        tables.tag_order.priorities
    );

    for row in &tables.flavor {
        let text_in = row.lines.join("\n");
        let Ok(flavor) = meta::parse_flavor(&text_in) else {
            assert!(row.invalid, "{text_in:?}: rejected, metadata-action accepts it");
            continue;
        };
        assert!(!row.invalid, "{text_in:?}: accepted, metadata-action rejects it");
        let latest = match flavor.latest {
            meta::Latest::Auto => "auto",
            meta::Latest::True => "true",
            meta::Latest::False => "false",
        };
        assert_eq!(Some(latest), row.latest.as_deref(), "{text_in:?}");
        assert_eq!(Some(text(&flavor.prefix)), row.prefix, "{text_in:?}");
        assert_eq!(Some(text(&flavor.suffix)), row.suffix, "{text_in:?}");
        assert_eq!(
            (Some(flavor.prefix_on_latest), Some(flavor.suffix_on_latest)),
            (row.prefix_latest, row.suffix_latest),
            "{text_in:?}"
        );
    }

    for row in &tables.images {
        let text_in = row.lines.join("\n");
        // metadata-action's table marks this line invalid, but its check cannot
        // fail there: its parser takes the later name= (name/bar), as this one does.
        if text_in == "name/foo,name=name/bar,enable=true" {
            let images = meta::parse_images(&text_in).unwrap();
            assert_eq!(images, vec![meta::ImageInput { name: "name/bar".into(), enable: true }]);
            continue;
        }
        match meta::parse_images(&text_in) {
            Err(e) => {
                assert!(row.invalid, "{text_in:?}: rejected ({e}), metadata-action accepts it")
            }
            Ok(images) => {
                assert!(!row.invalid, "{text_in:?}: accepted, metadata-action rejects it");
                let images: Vec<ImageRow> = images
                    .into_iter()
                    .map(|i| ImageRow { name: i.name, enable: i.enable })
                    .collect();
                assert_eq!(Some(images), row.images, "{text_in:?}");
            }
        }
    }
}
