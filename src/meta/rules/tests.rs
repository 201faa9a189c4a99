//! Tests of the tag-rule, flavor and images parsers.

use super::*;

fn err_of(text: &str) -> String {
    parse_tag_rules(text).unwrap_err().to_string()
}

#[test]
fn splits_fields_outside_braces_and_quotes() {
    assert_eq!(
        split_fields(r#"type=match,pattern=\d{1,3},group=0"#),
        vec!["type=match", r"pattern=\d{1,3}", "group=0"]
    );
    assert_eq!(
        split_fields(r#"type=match,"pattern=a,b",group=0"#),
        vec!["type=match", "pattern=a,b", "group=0"]
    );
}

#[test]
fn parses_each_type_with_defaults() {
    let rules = parse_tag_rules(
            "# the release tags\ntype=semver,pattern={{version}}\n\n  type=ref,event=pr  \ntype=sha,format=long\nplain-tag\ntype=schedule\ntype=edge,branch=dev\ntype=match,pattern=v(\\d+),group=1\ntype=raw,value=x,priority=-5,enable=false\ntype=pep440,pattern={{major}},match=v(.*)",
        )
        .unwrap();
    assert_eq!(rules.len(), 9);
    assert_eq!(
        rules.iter().map(|r| r.priority).collect::<Vec<_>>(),
        vec![900, 600, 100, 200, 1000, 700, 800, -5, 900]
    );
    assert_eq!(rules[1].prefix, Some(Template::literal("pr-")));
    assert_eq!(rules[2].prefix, Some(Template::literal("sha-")));
    assert_eq!(rules[2].kind, RuleKind::Sha { format: ShaFormat::Long });
    assert_eq!(rules[3].kind, RuleKind::Raw { value: Template::literal("plain-tag") });
    assert_eq!(rules[4].kind, RuleKind::Schedule { pattern: Template::literal("nightly") });
    assert_eq!(rules[5].kind, RuleKind::Edge { branch: Some("dev".into()) });
    assert!(matches!(rules[6].kind, RuleKind::Match { group: 1, .. }));
    assert_eq!(rules[7].enable, Enable::Never);
    assert!(
        matches!(&rules[8].kind, RuleKind::Version { scheme: Scheme::Pep440, matcher: Some(m), .. } if m.as_str() == "v(.*)")
    );
    assert_eq!(rules[0].source, "type=semver,pattern={{version}}");
}

#[test]
fn a_field_without_equals_is_the_value() {
    let rows: &[(&str, &str, i64)] = &[
        ("type=raw,my", "my", 200),
        ("type=raw,priority=2000,foo", "foo", 2000),
        ("type=raw,mytag,enable={{is_default_branch}}", "mytag", 200),
        ("value=alone", "alone", 200),
        ("type=raw,value=a,b", "b", 200),
    ];
    for (line, value, priority) in rows {
        let rule = &parse_tag_rules(line).unwrap()[0];
        assert_eq!(rule.kind, RuleKind::Raw { value: Template::literal(value) }, "{line}");
        assert_eq!(rule.priority, *priority, "{line}");
    }
    let rule = &parse_tag_rules("type=raw,{{branch}}").unwrap()[0];
    assert!(matches!(&rule.kind, RuleKind::Raw { value } if value.uses("branch")));
}

#[test]
fn unknown_keys_are_kept_for_a_warning() {
    let rule = &parse_tag_rules("type=ref,event=branch,colour=red").unwrap()[0];
    assert_eq!(rule.ignored_keys, vec!["colour"]);
    assert_eq!(accepted_keys(&rule.kind), "type, event, prefix, suffix, enable, priority");
}

#[test]
fn enable_expressions() {
    let rules = parse_tag_rules("type=raw,value=latest,enable={{is_default_branch}}").unwrap();
    assert_eq!(rules[0].enable, Enable::OnDefaultBranch);
    assert!(err_of("type=raw,value=x,enable=yes").contains("enable='yes'"));
}

#[test]
fn parse_errors_name_line_and_what_is_accepted() {
    let e = err_of("# first\ntype=semver,pattern={{version}}\ntype=bogus,value=x");
    assert_eq!(
        e,
        "tags: line 3 'type=bogus,value=x': unknown type 'bogus'; accepted types: semver, pep440, ref, sha, raw, schedule, edge, match"
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
    assert!(
        err_of("type=semver,pattern={{version}},match=(a")
            .contains("not a usable regular expression")
    );
    assert!(err_of("type=raw,value=a,priority=high").contains("accepted: a whole number"));
    assert!(err_of("type=match,pattern=a,group=x").contains("accepted: a group number"));
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
    let f = parse_flavor("# flavor\nlatest=false\nprefix=app-,onlatest=true\nsuffix=-alpine\n")
        .unwrap();
    assert_eq!(f.latest, Latest::False);
    assert_eq!(f.prefix, Template::literal("app-"));
    assert!(f.prefix_on_latest);
    assert_eq!(f.suffix, Template::literal("-alpine"));
    assert!(!f.suffix_on_latest);
    assert_eq!(parse_flavor("").unwrap(), Flavor::default());
    let f = parse_flavor("latest=true,prefix=a-,suffix=-b,onlatest=true").unwrap();
    assert_eq!((f.latest, f.prefix_on_latest, f.suffix_on_latest), (Latest::True, false, true));

    let e = parse_flavor("latest=maybe").unwrap_err().to_string();
    assert_eq!(
        e,
        "flavor: line 1 'latest=maybe': latest='maybe' is not accepted; accepted: auto, true, false"
    );
    assert!(parse_flavor("colour=red").unwrap_err().to_string().contains("unknown key 'colour'"));
    assert!(parse_flavor("latest=true,onlatest=true").is_err());
    assert!(parse_flavor("prefix=a-,onlatest=sometimes").is_err());
    assert!(parse_flavor("nonsense").is_err());
}

#[test]
fn image_lines() {
    let names = |text: &str| {
        parse_images(text).unwrap().into_iter().map(|i| (i.name, i.enable)).collect::<Vec<_>>()
    };
    assert_eq!(
        names("a/app,ghcr.io/b/app"),
        vec![("a/app".into(), true), ("ghcr.io/b/app".into(), true)]
    );
    assert_eq!(
        names("a/app\n# off for now\nghcr.io/b/app,enable=false"),
        vec![("a/app".into(), true), ("ghcr.io/b/app".into(), false)]
    );
    assert_eq!(names("name=ghcr.io/b/app,enable=true"), vec![("ghcr.io/b/app".into(), true)]);
    assert!(
        parse_images("name=a/app,enable=maybe").unwrap_err().to_string().contains("enable='maybe'")
    );
    assert!(
        parse_images("name=a/app,colour=red")
            .unwrap_err()
            .to_string()
            .contains("unknown key 'colour'")
    );
    assert!(parse_images("enable=false").unwrap_err().to_string().contains("no image name"));
}
