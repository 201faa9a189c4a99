//! Table tests of the whole computation: one row per kind of workflow run,
//! with event payloads shaped like the ones the runner writes, plus the
//! floating-tag guard.

use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;

const SHA: &str = "860c1904a1ce19322e91ac35af1ab07466440c37";

fn created() -> chrono::DateTime<chrono::Utc> {
    // SOURCE_DATE_EPOCH=1704164645
    chrono::DateTime::from_timestamp(1_704_164_645, 0).unwrap()
}

fn repo_payload() -> Value {
    json!({
        "id": 1,
        "name": "app",
        "full_name": "acme/app",
        "html_url": "https://github.com/acme/app",
        "description": "The app",
        "default_branch": "main",
        "license": {"key": "mit", "spdx_id": "MIT", "name": "MIT License"}
    })
}

fn ctx(event_name: &str, git_ref: &str, event: Value) -> Context {
    Context {
        event_name: event_name.into(),
        git_ref: git_ref.into(),
        sha: SHA.into(),
        repository: "acme/app".into(),
        server_url: "https://github.com".into(),
        version_override: None,
        created: created(),
        default_branch: event
            .pointer("/repository/default_branch")
            .and_then(Value::as_str)
            .map(str::to_string),
        commit_date: None,
        short_sha_length: 7,
        annotation_levels: vec![AnnotationLevel::Manifest, AnnotationLevel::Index],
        event,
    }
}

fn push_tag(tag: &str) -> Context {
    ctx(
        "push",
        &format!("refs/tags/{tag}"),
        json!({
            "ref": format!("refs/tags/{tag}"),
            "base_ref": "refs/heads/main",
            "after": SHA,
            "created": true,
            "repository": repo_payload(),
        }),
    )
}

fn push_branch(branch: &str) -> Context {
    ctx(
        "push",
        &format!("refs/heads/{branch}"),
        json!({"ref": format!("refs/heads/{branch}"), "after": SHA, "repository": repo_payload()}),
    )
}

fn release(tag: &str, prerelease: bool, git_ref: &str) -> Context {
    ctx(
        "release",
        git_ref,
        json!({
            "action": "published",
            "release": {
                "tag_name": tag,
                "name": tag,
                "draft": false,
                "prerelease": prerelease,
                "target_commitish": "main"
            },
            "repository": repo_payload(),
        }),
    )
}

fn dispatch(version: Option<&str>) -> Context {
    let mut c = ctx(
        "workflow_dispatch",
        "refs/heads/main",
        json!({"ref": "refs/heads/main", "inputs": {}, "repository": repo_payload()}),
    );
    c.version_override = version.map(str::to_string);
    c
}

fn pull_request() -> Context {
    ctx(
        "pull_request",
        "refs/pull/12/merge",
        json!({
            "action": "opened",
            "number": 12,
            "pull_request": {
                "number": 12,
                "head": {"ref": "feature/x", "sha": SHA},
                "base": {"ref": "main"}
            },
            "repository": repo_payload(),
        }),
    )
}

fn schedule() -> Context {
    ctx(
        "schedule",
        "refs/heads/main",
        json!({"schedule": "0 3 * * *", "repository": repo_payload()}),
    )
}

/// A scheduled run whose payload does not name the default branch.
fn schedule_unknown_default() -> Context {
    let mut c = ctx("schedule", "refs/heads/trunk", json!({"schedule": "0 3 * * *"}));
    c.default_branch = None;
    c
}

fn images() -> Vec<String> {
    vec!["ghcr.io/Acme/App".to_string()]
}

/// The tag names, in order.
fn tag_names(meta: &Meta) -> Vec<&str> {
    meta.tags.iter().map(|t| t.name.as_str()).collect()
}

fn run(c: &Context, rules: &str, flavor: &str) -> Meta {
    let rules =
        if rules.is_empty() { default_tag_rules() } else { parse_tag_rules(rules).unwrap() };
    compute(c, &images(), &rules, &parse_flavor(flavor).unwrap(), &[], &[]).unwrap()
}

#[test]
fn events_with_default_rules() {
    let rows: Vec<(&str, Context, Vec<&str>)> = vec![
        ("push stable tag", push_tag("v1.2.3"), vec!["1.2.3", "1.2", "1", "latest"]),
        ("push tag without v", push_tag("2.0.1"), vec!["2.0.1", "2.0", "2", "latest"]),
        ("push prerelease tag", push_tag("v1.2.3-rc.1"), vec!["1.2.3-rc.1"]),
        ("push branch main", push_branch("main"), vec!["main"]),
        ("push branch with slash", push_branch("feature/x"), vec!["feature-x"]),
        (
            "release published",
            release("v1.2.3", false, "refs/tags/v1.2.3"),
            vec!["1.2.3", "1.2", "1", "latest"],
        ),
        (
            "release flagged prerelease with stable-looking tag",
            release("v2.0.0", true, "refs/tags/v2.0.0"),
            vec!["2.0.0"],
        ),
        (
            "release with prerelease tag",
            release("v3.0.0-beta.2", true, "refs/tags/v3.0.0-beta.2"),
            vec!["3.0.0-beta.2"],
        ),
        (
            "release without GITHUB_REF uses tag_name",
            release("v1.5.0", false, ""),
            vec!["1.5.0", "1.5", "1", "latest"],
        ),
        (
            "workflow_dispatch with version",
            dispatch(Some("v1.4.0")),
            vec!["1.4.0", "1.4", "1", "latest"],
        ),
        ("workflow_dispatch without version", dispatch(None), vec!["main"]),
        ("workflow_dispatch with empty version", dispatch(Some("  ")), vec!["main"]),
        ("pull_request", pull_request(), vec!["pr-12"]),
        ("schedule", schedule(), vec!["nightly", "main"]),
    ];
    for (name, c, want) in rows {
        let meta = run(&c, "", "");
        assert_eq!(tag_names(&meta), want, "row: {name}");
        assert_eq!(meta.version, want[0], "row: {name}");
        assert!(meta.warnings.is_empty(), "row {name}: {:?}", meta.warnings);
    }
}

#[test]
fn prerelease_facts() {
    let meta = run(&release("v2.0.0", true, "refs/tags/v2.0.0"), "", "");
    assert!(meta.prerelease);
    assert_eq!(meta.semver, Some(semver::Version::new(2, 0, 0)));
    let meta = run(&push_tag("v1.2.3"), "", "");
    assert!(!meta.prerelease);
    assert_eq!(
        meta.tags.iter().map(|t| t.floating).collect::<Vec<_>>(),
        vec![
            None,
            Some(Floating::MajorMinor(1, 2)),
            Some(Floating::Major(1)),
            Some(Floating::Latest)
        ]
    );
}

#[test]
fn prerelease_wins_over_rules_and_flavor() {
    let rules = "type=semver,pattern={{version}}
type=semver,pattern={{major}}.{{minor}}
type=semver,pattern=v{{major}}
type=semver,pattern={{major}}.{{minor}}.{{patch}}
type=semver,pattern={{raw}}
type=semver,pattern=stable";
    let meta = run(&push_tag("v1.2.3-rc.1"), rules, "latest=true");
    assert_eq!(tag_names(&meta), vec!["1.2.3-rc.1", "v1.2.3-rc.1"]);
    let meta = run(&release("v2.0.0", true, "refs/tags/v2.0.0"), rules, "latest=true");
    assert_eq!(tag_names(&meta), vec!["2.0.0", "v2.0.0"]);
    let meta = run(&push_tag("v2.0.0"), rules, "");
    assert_eq!(tag_names(&meta), vec!["2.0.0", "2.0", "v2", "v2.0.0", "stable", "latest"]);
    assert_eq!(meta.tags[4].floating, Some(Floating::Latest));
}

#[test]
fn version_and_raw_placeholders() {
    let meta = run(
        &push_tag("v1.2.3"),
        "type=semver,pattern={{raw}}\ntype=semver,pattern={{version}}",
        "latest=false",
    );
    assert_eq!(tag_names(&meta), vec!["v1.2.3", "1.2.3"]);
}

#[test]
fn other_rule_types() {
    let rules = "type=sha
type=sha,format=long,prefix=
type=ref,event=tag
type=raw,value=stable,priority=950
type=edge
type=ref,event=branch,suffix=-dev";
    let meta = run(&push_branch("main"), rules, "");
    assert_eq!(tag_names(&meta), vec!["stable", "edge", "main-dev", "sha-860c190", SHA]);
    assert_eq!(meta.version, "stable");
    assert!(!tag_names(&meta).contains(&"latest"));

    let meta = run(&push_tag("v1.0.0"), rules, "");
    assert_eq!(tag_names(&meta), vec!["stable", "v1.0.0", "sha-860c190", SHA]);

    let meta = run(&push_branch("dev"), "type=edge,branch=dev", "");
    assert_eq!(tag_names(&meta), vec!["edge"]);
}

#[test]
fn schedule_date_pattern() {
    let meta = run(&schedule(), "type=schedule,pattern=nightly-{{date 'YYYYMMDD'}}", "");
    assert_eq!(tag_names(&meta), vec!["nightly-20240102"]);
    let meta = run(&push_branch("main"), "type=schedule", "");
    assert!(meta.tags.is_empty());
}

#[test]
fn match_rule() {
    let rules = r"type=match,pattern=v(\d+\.\d+),group=1";
    let meta = run(&push_tag("v1.2.3"), rules, "");
    assert_eq!(tag_names(&meta), vec!["1.2", "latest"]);
    let meta = run(&push_tag("release-x"), rules, "");
    assert!(meta.tags.is_empty());
    assert_eq!(
        meta.warnings,
        vec![
            r"tags rule 'type=match,pattern=v(\d+\.\d+),group=1' skipped: pattern 'v(\d+\.\d+)' does not match 'release-x'"
        ]
    );
}

#[test]
fn metadata_action_rules_table() {
    // (row, context, tags, flavor, expected tags)
    let rows: Vec<(&str, Context, &str, &str, Vec<&str>)> = vec![
        (
            "comments are dropped",
            push_branch("main"),
            "# branch\ntype=ref,event=branch\n# sha too\ntype=sha",
            "# none\nlatest=false",
            vec!["main", "sha-860c190"],
        ),
        (
            "a bare field is the value",
            push_branch("dev"),
            "type=raw,my\ntype=raw,priority=2000,first\ntype=raw,{{branch}}-x",
            "",
            vec!["first", "my", "dev-x"],
        ),
        (
            "ref,event=tag asks for latest",
            push_tag("release1"),
            "type=ref,event=tag",
            "",
            vec!["release1", "latest"],
        ),
        (
            "match asks for latest",
            push_tag("v1.2.3"),
            r"type=match,pattern=v(\d+),group=1",
            "",
            vec!["1", "latest"],
        ),
        (
            "the first tag decides latest",
            push_tag("v1.2.3"),
            "type=raw,value=foo,priority=2000\ntype=semver,pattern={{version}}",
            "",
            vec!["foo", "1.2.3"],
        ),
        (
            "prerelease falls back to {{version}}",
            push_tag("v2.0.8-beta.67"),
            "type=semver,pattern=v{{major}}.{{minor}}-x\ntype=semver,pattern={{major}}",
            "",
            vec!["2.0.8-beta.67"],
        ),
        (
            "prerelease keeps {{raw}}",
            push_tag("v2.0.8-beta.67"),
            "type=semver,pattern={{raw}}",
            "",
            vec!["v2.0.8-beta.67"],
        ),
        (
            "latest=true without a tag gives none",
            push_tag("foo"),
            "type=semver,pattern={{version}}",
            "latest=true",
            vec![],
        ),
        (
            "match= on semver",
            push_branch("main"),
            r"type=semver,pattern={{version}},value=p1/v1.2.3,match=v(\d.\d.\d)$",
            "",
            vec!["1.2.3", "latest"],
        ),
        (
            "pep440 stable",
            push_tag("1.2"),
            "type=pep440,pattern={{version}}\ntype=pep440,pattern={{major}}",
            "",
            vec!["1.2", "1", "latest"],
        ),
        (
            "pep440 dev release",
            push_tag("1.0dev4"),
            "type=pep440,pattern={{major}}.{{minor}}",
            "",
            vec!["1.0.dev4"],
        ),
        (
            "schedule runs on the default branch",
            schedule_unknown_default(),
            "type=raw,value=d,enable={{is_default_branch}}\ntype=edge",
            "",
            vec!["edge", "d"],
        ),
        (
            "is_not_default_branch",
            push_branch("dev"),
            "type=raw,value=nd,enable={{is_not_default_branch}}",
            "",
            vec!["nd"],
        ),
        (
            "dates in a zone",
            schedule(),
            "type=schedule,pattern={{date 'YYYYMMDD-HHmm' tz='Asia/Tokyo'}}",
            "",
            vec!["20240102-1204"],
        ),
        (
            "commit date defaults to the build time",
            push_branch("main"),
            "type=raw,value=c-{{commit_date 'YYYYMMDD'}}",
            "",
            vec!["c-20240102"],
        ),
    ];
    for (row, c, tags, flavor, want) in rows {
        assert_eq!(tag_names(&run(&c, tags, flavor)), want, "row: {row}");
    }
    let mut c = push_branch("main");
    c.commit_date = Some(chrono::Utc.with_ymd_and_hms(2023, 6, 7, 8, 9, 10).unwrap());
    c.short_sha_length = 12;
    assert_eq!(
        tag_names(&run(&c, "type=raw,value={{commit_date 'YYYYMMDD'}}\ntype=sha", "")),
        vec!["20230607", "sha-860c1904a1ce"]
    );
}

#[test]
fn skipped_rules_and_ignored_keys_warn() {
    let meta = run(
        &push_tag("v1.2.3"),
        "type=match,pattern=v(\\d),group=3\ntype=ref,event=tag,colour=red",
        "",
    );
    assert_eq!(tag_names(&meta), vec!["v1.2.3", "latest"]);
    assert_eq!(
        meta.warnings,
        vec![
            r"tags rule 'type=match,pattern=v(\d),group=3' skipped: group 3 does not exist in pattern 'v(\d)'",
            "tags rule 'type=ref,event=tag,colour=red': 'colour' ignored; type keys used: type, event, prefix, suffix, enable, priority",
        ]
    );
}

#[test]
fn annotation_levels_follow_the_context() {
    let mut c = push_tag("v1.2.3");
    c.annotation_levels = vec![AnnotationLevel::Index];
    let meta = run(&c, "", "");
    assert!(meta.annotations.iter().all(|a| a.level == AnnotationLevel::Index));
    assert!(!meta.annotations.is_empty());
}

#[test]
fn label_values_take_expressions() {
    let labels = vec![(
        "org.opencontainers.image.ref.name".to_string(),
        "{{branch}}-{{date 'YYYY'}}".to_string(),
    )];
    let annotations =
        parse_annotations("index:com.acme.built={{date 'YYYY'}}\ncom.acme.raw={{not a template")
            .unwrap();
    let meta = compute(
        &push_branch("main"),
        &images(),
        &default_tag_rules(),
        &Flavor::default(),
        &labels,
        &annotations,
    )
    .unwrap();
    assert_eq!(meta.labels["org.opencontainers.image.ref.name"], "main-2024");
    let args = annotation_args(&meta.annotations);
    assert!(args.contains(&"index:com.acme.built=2024".to_string()), "{args:?}");
    assert!(args.contains(&"manifest:com.acme.raw={{not a template".to_string()), "{args:?}");
}

#[test]
fn non_semver_tag_warns_and_may_leave_no_tags() {
    let meta = run(&push_tag("foo"), "", "");
    assert!(meta.tags.is_empty());
    assert_eq!(meta.version, "");
    assert_eq!(
        meta.warnings,
        vec![
            "tags rule 'type=semver,pattern={{version}}' skipped: ref refs/tags/foo is not a semver version (https://semver.org)",
            "tags rule 'type=semver,pattern={{major}}.{{minor}}' skipped: ref refs/tags/foo is not a semver version (https://semver.org)",
            "tags rule 'type=semver,pattern={{major}}' skipped: ref refs/tags/foo is not a semver version (https://semver.org)",
        ]
    );
    let meta = run(&dispatch(Some("nightly-build")), "type=semver,pattern={{version}}", "");
    assert_eq!(
        meta.warnings,
        vec![
            "tags rule 'type=semver,pattern={{version}}' skipped: version input 'nightly-build' is not a semver version (https://semver.org)"
        ]
    );
}

#[test]
fn flavor_latest_and_affixes() {
    let meta = run(&push_branch("main"), "", "latest=true");
    assert_eq!(tag_names(&meta), vec!["main", "latest"]);
    let meta = run(&push_tag("v1.2.3"), "", "latest=false");
    assert_eq!(tag_names(&meta), vec!["1.2.3", "1.2", "1"]);
    let meta = run(&push_tag("v1.2.3"), "", "prefix=app-\nsuffix=-alpine,onlatest=true");
    assert_eq!(
        tag_names(&meta),
        vec!["app-1.2.3-alpine", "app-1.2-alpine", "app-1-alpine", "latest-alpine"]
    );
    assert_eq!(meta.version, "app-1.2.3-alpine");
    assert_eq!(meta.tags[0].prefix, "app-");
    assert_eq!(meta.tags[0].suffix, "-alpine");
    // Rule affixes replace the flavor's.
    let meta = run(&pull_request(), "type=ref,event=pr\ntype=sha,prefix=git-", "prefix=x-");
    assert_eq!(tag_names(&meta), vec!["pr-12", "git-860c190"]);
}

#[test]
fn enable_on_default_branch() {
    let rules = "type=raw,value=latest,enable={{is_default_branch}}\ntype=ref,event=branch";
    assert_eq!(tag_names(&run(&push_branch("main"), rules, "")), vec!["main", "latest"]);
    assert_eq!(tag_names(&run(&push_branch("dev"), rules, "")), vec!["dev"]);
    assert_eq!(tag_names(&run(&pull_request(), rules, "")), Vec::<&str>::new());
}

#[test]
fn pull_request_target_does_not_tag_the_base_branch() {
    let mut c = pull_request();
    c.event_name = "pull_request_target".into();
    c.git_ref = "refs/heads/main".into();
    let meta = run(&c, "", "");
    assert_eq!(tag_names(&meta), vec!["pr-12"]);
}

#[test]
fn too_long_tag_is_an_error() {
    let long = "x".repeat(130);
    let rules = parse_tag_rules(&format!("type=raw,value={long}")).unwrap();
    let err =
        compute(&push_branch("main"), &images(), &rules, &Flavor::default(), &[], &[]).unwrap_err();
    assert!(matches!(err, MetaError::TagTooLong { len: 130, .. }), "{err}");
}

#[test]
fn images_are_normalised_and_checked() {
    let meta = run(&push_tag("v1.2.3"), "", "latest=false");
    assert_eq!(meta.images, vec!["ghcr.io/acme/app"]);
    assert_eq!(tag_names(&meta), vec!["1.2.3", "1.2", "1"]);
    let err = compute(
        &push_tag("v1.2.3"),
        &["ghcr.io/acme/app:v1".to_string()],
        &default_tag_rules(),
        &Flavor::default(),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("images: 'ghcr.io/acme/app:v1'"), "{err}");
}

#[test]
fn bad_version_input_is_an_error() {
    let err = compute(
        &dispatch(Some("v1 2")),
        &images(),
        &default_tag_rules(),
        &Flavor::default(),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("version: 'v1 2'"), "{err}");
}

#[test]
fn labels_from_payload() {
    let meta = run(&push_tag("v1.2.3"), "", "");
    let l = &meta.labels;
    let get = |k: &str| l.get(&format!("org.opencontainers.image.{k}")).map(String::as_str);
    assert_eq!(get("title"), Some("app"));
    assert_eq!(get("description"), Some("The app"));
    assert_eq!(get("url"), Some("https://github.com/acme/app"));
    assert_eq!(get("source"), Some("https://github.com/acme/app"));
    assert_eq!(get("version"), Some("1.2.3"));
    assert_eq!(get("created"), Some("2024-01-02T03:04:05.000Z"));
    assert_eq!(get("revision"), Some(SHA));
    assert_eq!(get("licenses"), Some("MIT"));
    assert_eq!(l.len(), 8);
}

#[test]
fn fixed_created_time_is_used_as_given() {
    let mut c = push_branch("main");
    c.created = chrono::Utc.with_ymd_and_hms(1980, 1, 1, 0, 0, 0).unwrap();
    let meta = run(&c, "", "");
    assert_eq!(meta.labels["org.opencontainers.image.created"], "1980-01-01T00:00:00.000Z");
}

#[test]
fn user_labels_and_annotations_override() {
    let (labels, _) = parse_labels(
        "org.opencontainers.image.title=Acme App\norg.opencontainers.image.vendor=Acme",
    );
    let annotations = parse_annotations(
        "index:org.opencontainers.image.description=Multi-arch app\nmanifest:com.acme.tier=gold",
    )
    .unwrap();
    let meta = compute(
        &push_tag("v1.2.3"),
        &images(),
        &default_tag_rules(),
        &Flavor::default(),
        &labels,
        &annotations,
    )
    .unwrap();
    assert_eq!(meta.labels["org.opencontainers.image.title"], "Acme App");
    assert_eq!(meta.labels["org.opencontainers.image.vendor"], "Acme");
    assert_eq!(meta.labels["org.opencontainers.image.revision"], SHA);

    let args = annotation_args(&meta.annotations);
    assert!(args.contains(&"manifest:org.opencontainers.image.version=1.2.3".to_string()));
    assert!(args.contains(&"index:org.opencontainers.image.version=1.2.3".to_string()));
    assert!(
        args.contains(&"index:org.opencontainers.image.description=Multi-arch app".to_string())
    );
    assert!(args.contains(&"manifest:org.opencontainers.image.description=The app".to_string()));
    assert!(args.contains(&"manifest:com.acme.tier=gold".to_string()));
    assert!(!args.contains(&"index:com.acme.tier=gold".to_string()));
    assert!(args.contains(&"index:org.opencontainers.image.title=Acme App".to_string()));
    // 9 OCI labels (8 generated + vendor) on two levels, plus one manifest-only.
    assert_eq!(args.len(), 19);
}

fn existing(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

#[test]
fn guard_table() {
    struct Row {
        name: &'static str,
        tag: &'static str,
        flavor: &'static str,
        existing: &'static [&'static str],
        kept: &'static [&'static str],
        held: &'static [(&'static str, &'static str)],
    }
    let rows = [
        Row {
            name: "older patch after a newer major",
            tag: "v1.9.1",
            flavor: "",
            existing: &["1.9.0", "1.9", "1", "2.0.0", "2.0", "2", "latest"],
            kept: &["1.9.1", "1.9", "1"],
            held: &[("latest", "2.0.0 is already published and is newer than 1.9.1")],
        },
        Row {
            name: "re-running the newest release keeps everything",
            tag: "v1.9.1",
            flavor: "",
            existing: &["1.9.1", "1.9", "1", "latest", "1.8.0"],
            kept: &["1.9.1", "1.9", "1", "latest"],
            held: &[],
        },
        Row {
            name: "numeric, not lexical, ordering",
            tag: "v1.9.0",
            flavor: "",
            existing: &["1.10.0", "v1.2.0"],
            kept: &["1.9.0", "1.9"],
            held: &[
                ("1", "1.10.0 is already published and is newer than 1.9.0"),
                ("latest", "1.10.0 is already published and is newer than 1.9.0"),
            ],
        },
        Row {
            name: "newer minor line already has a patch",
            tag: "v1.9.1",
            flavor: "",
            existing: &["v1.9.2", "main", "sha-860c190"],
            kept: &["1.9.1"],
            held: &[
                ("1.9", "1.9.2 is already published (as tag v1.9.2) and is newer than 1.9.1"),
                ("1", "1.9.2 is already published (as tag v1.9.2) and is newer than 1.9.1"),
                ("latest", "1.9.2 is already published (as tag v1.9.2) and is newer than 1.9.1"),
            ],
        },
        Row {
            name: "prerelease tags already published are ignored",
            tag: "v1.9.1",
            flavor: "",
            existing: &["2.0.0-rc.1", "1.10.0-beta", "1.9.0"],
            kept: &["1.9.1", "1.9", "1", "latest"],
            held: &[],
        },
        Row {
            name: "flavor affixes compare the semver core",
            tag: "v1.9.1",
            flavor: "prefix=app-\nsuffix=-alpine",
            existing: &["app-2.0.0-alpine", "app-1.9.0-alpine"],
            kept: &["app-1.9.1-alpine", "app-1.9-alpine", "app-1-alpine"],
            held: &[(
                "latest",
                "2.0.0 is already published (as tag app-2.0.0-alpine) and is newer than 1.9.1",
            )],
        },
        Row {
            name: "first release into an empty repository",
            tag: "v0.1.0",
            flavor: "",
            existing: &[],
            kept: &["0.1.0", "0.1", "0", "latest"],
            held: &[],
        },
    ];
    for row in rows {
        let meta = run(&push_tag(row.tag), "", row.flavor);
        let outcome = guard_floating(&meta, &existing(row.existing));
        let kept: Vec<&str> = outcome.kept.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(kept, row.kept, "row: {}", row.name);
        let held: Vec<(&str, &str)> =
            outcome.held_back.iter().map(|h| (h.tag.as_str(), h.reason.as_str())).collect();
        assert_eq!(held, row.held, "row: {}", row.name);
    }
}

#[test]
fn guard_keeps_everything_without_a_version() {
    let meta = run(&push_branch("main"), "", "latest=true");
    let outcome = guard_floating(&meta, &existing(&["9.9.9"]));
    assert_eq!(outcome.kept, meta.tags);
    assert!(outcome.held_back.is_empty());
}
