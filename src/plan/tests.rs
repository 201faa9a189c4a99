//! Table tests of the Plan's resolvers where inputs meet each other.

use super::*;

fn plan(pairs: &[(&str, &str)]) -> Result<Plan> {
    let mut all = vec![("images", "registry.example.com:5000/acme/app"), ("version", "1.0.0")];
    all.extend_from_slice(pairs);
    let raw = RawInputs::from_pairs(all.into_iter().map(|(k, v)| (k, v.to_string())))?;
    Plan::new(&raw, &GithubContext::default())
}

#[test]
fn digest_mode_builds_the_platform_given_or_the_machines_own() {
    let host = Platform::host();
    type Case<'a> = (&'a [(&'a str, &'a str)], Result<Vec<Platform>, &'a str>);
    let two = "platforms: mode: digest builds one platform, and 2 were given";
    let cases: &[Case] = &[
        (&[("mode", "digest")], Ok(vec![host.clone()])),
        (&[("mode", "digest"), ("platforms", "linux/arm64")], Ok(vec![Platform::parse("linux/arm64").unwrap()])),
        // Writing out the default is giving two platforms, in either order.
        (&[("mode", "digest"), ("platforms", "linux/amd64,linux/arm64")], Err(two)),
        (&[("mode", "digest"), ("platforms", "linux/arm64,linux/amd64")], Err(two)),
    ];
    for (inputs, expected) in cases {
        match (plan(inputs), expected) {
            (Ok(plan), Ok(platforms)) => assert_eq!(&plan.platforms, platforms, "{inputs:?}"),
            (Err(error), Err(start)) => assert!(error.to_string().starts_with(start), "{inputs:?}: {error}"),
            (got, _) => panic!("{inputs:?}: {got:?}"),
        }
    }
}

#[test]
fn push_speaks_the_one_switch_grammar_in_every_mode() {
    type Case<'a> = (&'a [(&'a str, &'a str)], Result<bool, &'a str>);
    let cases: &[Case] = &[
        (&[("push", "TRUE")], Ok(true)),
        (&[("push", "TRUE"), ("mode", "digest")], Ok(true)),
        (&[("push", "yes")], Ok(true)),
        (&[("push", "yes"), ("mode", "digest")], Ok(true)),
        (&[("push", "Auto"), ("mode", "merge")], Ok(true)),
        (&[("push", "no")], Ok(false)),
        (&[("push", "off"), ("mode", "digest")], Err("push: mode: digest pushes by definition")),
        (&[("push", "false"), ("mode", "merge")], Err("push: mode: merge pushes by definition")),
    ];
    for (inputs, expected) in cases {
        match (plan(inputs), expected) {
            (Ok(plan), Ok(push)) => assert_eq!(plan.push, *push, "{inputs:?}"),
            (Err(error), Err(start)) => assert!(error.to_string().starts_with(start), "{inputs:?}: {error}"),
            (got, _) => panic!("{inputs:?}: {got:?}"),
        }
    }
}

#[test]
fn merge_requires_the_platforms_only_when_given() {
    let Mode::Merge { required, .. } = plan(&[("mode", "merge")]).unwrap().mode else { panic!("not a merge") };
    assert!(required.is_empty());
    let Mode::Merge { required, .. } = plan(&[("mode", "merge"), ("platforms", "linux/amd64,linux/arm64")]).unwrap().mode else {
        panic!("not a merge")
    };
    assert_eq!(crate::platform::join(&required), "linux/amd64,linux/arm64");
}

#[test]
fn the_plans_secrets_are_its_parsed_values() {
    let plan = plan(&[
        ("username", "me"),
        ("password", "pw-1"),
        ("registry-auth", "- registry: ghcr.io\n  username: u\n  password: pw-2\n"),
        ("secrets", "TOKEN=\"line-a\nline-b\""),
    ])
    .unwrap();
    assert_eq!(plan.secrets(), vec!["line-a", "line-a\nline-b", "line-b", "pw-1", "pw-2"]);
}

#[test]
fn the_push_output_is_untagged_and_carries_the_compression() {
    let container = Builder::Container { name: "multiarch".into() };
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a Builder, &'a str);
    let cases: &[Case] = &[
        (&[], &Builder::Daemon, "type=image,name=registry.example.com:5000/acme/app:multiarch-action-unverified,push=true"),
        (&[], &container, "type=image,name=registry.example.com:5000/acme/app,push-by-digest=true,push=true"),
        (
            &[("compression", "zstd"), ("compression-level", "3"), ("insecure-registries", "registry.example.com:5000")],
            &Builder::Daemon,
            "type=image,name=registry.example.com:5000/acme/app:multiarch-action-unverified,push=true,registry.insecure=true,compression=zstd,oci-mediatypes=true,compression-level=3",
        ),
        (
            &[("compression", "estargz")],
            &container,
            "type=image,name=registry.example.com:5000/acme/app,push-by-digest=true,push=true,compression=estargz,oci-mediatypes=true",
        ),
    ];
    for (inputs, builder, expected) in cases {
        let plan = plan(inputs).unwrap();
        assert_eq!(plan.push_output(builder), *expected, "{inputs:?}");
        let args = plan.buildx_build_args(builder, std::path::Path::new("/m.json"), Some(PushRoute::BuildKit));
        let at = args.iter().position(|a| a == "--output").expect("an output when pushing");
        assert_eq!(args[at + 1], *expected);
        assert!(!plan.buildx_build_args(builder, std::path::Path::new("/m.json"), None).contains(&"--output".to_string()));
    }
    let layout = Some(PushRoute::Layout(std::path::Path::new("/l")));
    let args = plan(&[("compression", "zstd")]).unwrap().buildx_build_args(&Builder::Daemon, std::path::Path::new("/m.json"), layout);
    assert!(args.contains(&"type=oci,dest=/l,tar=false,compression=zstd,oci-mediatypes=true".to_string()), "{args:?}");
}

#[test]
fn buildkit_pushes_unless_the_daemon_cannot_reach_a_plain_http_registry() {
    let container = Builder::Container { name: "multiarch".into() };
    let plain = [("insecure-registries", "registry.example.com:5000")];
    let daemon_knows = ["registry.example.com:5000".to_string()];
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a Builder, &'a [String], bool);
    let cases: &[Case] = &[
        (&[], &Builder::Daemon, &[], true),
        (&plain, &Builder::Daemon, &[], false),
        (&plain, &Builder::Daemon, &daemon_knows, true),
        (&plain, &container, &[], true),
        (&[("images", "localhost:5000/app"), ("insecure-registries", "localhost:5000")], &Builder::Daemon, &[], true),
    ];
    for (inputs, builder, daemon, expected) in cases {
        let plan = plan(inputs).unwrap();
        assert_eq!(plan.buildkit_pushes(builder, daemon), *expected, "{inputs:?} {builder:?} {daemon:?}");
    }
}
