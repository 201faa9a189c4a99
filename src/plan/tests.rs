//! Table tests of the Plan's resolvers where inputs meet each other.

use super::*;
use crate::platform::Platform;

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
        (
            &[("mode", "digest"), ("platforms", "linux/arm64")],
            Ok(vec![Platform::parse("linux/arm64").unwrap()]),
        ),
        // Writing out the default is giving two platforms, in either order.
        (&[("mode", "digest"), ("platforms", "linux/amd64,linux/arm64")], Err(two)),
        (&[("mode", "digest"), ("platforms", "linux/arm64,linux/amd64")], Err(two)),
    ];
    for (inputs, expected) in cases {
        match (plan(inputs), expected) {
            (Ok(plan), Ok(platforms)) => {
                assert_eq!(plan.build().platforms(), platforms.as_slice(), "{inputs:?}")
            }
            (Err(error), Err(start)) => {
                assert!(error.to_string().starts_with(start), "{inputs:?}: {error}")
            }
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
            (Ok(plan), Ok(push)) => assert_eq!(plan.build().pushes(), *push, "{inputs:?}"),
            (Err(error), Err(start)) => {
                assert!(error.to_string().starts_with(start), "{inputs:?}: {error}")
            }
            (got, _) => panic!("{inputs:?}: {got:?}"),
        }
    }
}

#[test]
fn merge_requires_the_platforms_only_when_given() {
    let plan_of = |pairs: &[(&str, &str)]| plan(pairs).unwrap().run.mode;
    let Mode::Merge { required, .. } = plan_of(&[("mode", "merge")]) else { panic!("not a merge") };
    assert!(required.is_empty());
    let Mode::Merge { required, .. } =
        plan_of(&[("mode", "merge"), ("platforms", "linux/amd64,linux/arm64")])
    else {
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
        ("secrets", "\"TOKEN=line-a\nline-b\"\nLEFT-OUT"),
    ])
    .unwrap();
    assert_eq!(
        plan.secrets(),
        vec!["LEFT-OUT", "line-a", "line-a\nline-b", "line-b", "pw-1", "pw-2"]
    );
    assert_eq!(
        plan.warnings(),
        [
            "secrets: entry 2 is not a valid secret (no `ID=` in front of it); it is left out; write ID=value, and quote a value that spans lines"
        ]
    );
}

fn plan_without_defaults(pairs: &[(&str, &str)]) -> Result<Plan> {
    let raw = RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string())))?;
    Plan::new(&raw, &GithubContext::default())
}

#[test]
fn a_tags_line_that_is_a_full_reference_is_exactly_that_tag_of_that_image() {
    let two = "ghcr.io/acme/app\nregistry.example.com:5000/acme/app";
    type Case<'a> = (&'a [(&'a str, &'a str)], Result<&'a [&'a str], &'a str>);
    let cases: &[Case] = &[
        // build-push-action's form, pasted: no `images`, no default rules.
        (
            &[("tags", "ghcr.io/acme/app:1.2.3\nghcr.io/acme/app:latest")],
            Ok(&["ghcr.io/acme/app:1.2.3", "ghcr.io/acme/app:latest"]),
        ),
        (&[("tags", "ghcr.io/acme/app")], Ok(&["ghcr.io/acme/app:latest"])),
        (&[("tags", "localhost:5000/app:2")], Ok(&["localhost:5000/app:2"])),
        // With `images`, a full reference tags its own image only; rules tag all.
        (
            &[("images", two), ("tags", "ghcr.io/acme/app:only-here\ntype=raw,value=everywhere")],
            Ok(&[
                "ghcr.io/acme/app:everywhere",
                "ghcr.io/acme/app:only-here",
                "registry.example.com:5000/acme/app:everywhere",
            ]),
        ),
        (&[("images", "acme/app"), ("tags", "docker.io/acme/app:1")], Ok(&["acme/app:1"])),
        (
            &[("images", "ghcr.io/acme/app"), ("tags", "ghcr.io/acme/other:1")],
            Err("tags: `ghcr.io/acme/other:1` names ghcr.io/acme/other, which is not in `images`"),
        ),
    ];
    for (inputs, expected) in cases {
        let mut all = vec![("push", "false")];
        all.extend_from_slice(inputs);
        match (plan_without_defaults(&all), expected) {
            (Ok(plan), Ok(references)) => {
                assert_eq!(plan.build().references(&[]), *references, "{inputs:?}")
            }
            (Err(error), Err(start)) => {
                assert!(error.to_string().starts_with(start), "{inputs:?}: {error}")
            }
            (got, _) => panic!("{inputs:?}: {got:?}"),
        }
    }
    // Rules that only look like paths stay rules.
    let plan = plan(&[("tags", "type=raw,value=a/b\n{{branch}}/x"), ("push", "false")]).unwrap();
    let image = plan.build().image();
    assert!(plan.build().tag_names_for(image, &[]).all(|t| t != "a/b" && !t.ends_with("/x")));
}

#[test]
fn a_dry_run_needs_no_credentials_and_says_so() {
    let inputs = [("images", "ghcr.io/acme/app"), ("version", "1.0.0")];
    let error = plan(&inputs).unwrap_err().to_string();
    assert!(error.starts_with("password: pushing to ghcr.io needs credentials"), "{error}");
    let dry = plan(&[inputs[0], inputs[1], ("dry-run", "true")]).unwrap();
    assert!(dry.is_dry_run() && dry.build().pushes());
    assert_eq!(dry.run().credentials().iter().count(), 0);
    assert!(
        dry.warnings().iter().any(|w| w.starts_with("password: no credentials for ghcr.io; this dry run needs none")),
        "{:?}",
        dry.warnings()
    );
    assert!(plan(&[inputs[0], inputs[1], ("push", "false")]).unwrap().warnings().is_empty());
}

#[test]
fn an_existing_builder_excludes_the_inputs_that_configure_one() {
    let with = |extra: (&str, &str)| {
        plan(&[("images", "r.example.com/a"), ("version", "1.0.0"), ("builder", "mine"), extra])
    };
    assert_eq!(with(("push", "true")).unwrap().run().builder().existing.as_deref(), Some("mine"));
    for (input, value) in [
        ("driver", "docker-container"),
        ("driver-opts", "network=host"),
        ("buildkitd-flags", "--debug"),
    ] {
        let error = with((input, value)).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{input}: does not apply with `builder: mine`")),
            "{error}"
        );
    }
    let error =
        plan(&[("images", "r.example.com/a"), ("builder", "my builder")]).unwrap_err().to_string();
    assert!(error.starts_with("builder: `my builder` is not a buildx builder name"), "{error}");
}

#[test]
fn call_and_cgroup_parent_reach_buildx() {
    let p = plan(&[
        ("images", "r.example.com/a"),
        ("version", "1.0.0"),
        ("cgroup-parent", "/actions"),
        ("call", "check"),
    ])
    .unwrap();
    assert_eq!(p.run().mode(), &Mode::Check);
    let args = p.build().buildx_check_args(p.run(), &Builder::Daemon);
    assert!(args.windows(2).any(|w| w == ["--cgroup-parent", "/actions"]), "{args:?}");
    assert_eq!(args[args.len() - 2..], ["--call=check", "."]);
    let error =
        plan(&[("images", "r.example.com/a"), ("call", "outline")]).unwrap_err().to_string();
    assert_eq!(error, "call: `outline` is not accepted; use one of build, check");
    let error = plan(&[("mode", "bundle"), ("images", "redis:7"), ("call", "check")])
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("call: `check` runs BuildKit's build checks on one Dockerfile"));
}

#[test]
fn the_push_output_is_untagged_and_carries_the_compression() {
    let container = Builder::Container { name: "multiarch".into() };
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a Builder, &'a str);
    let cases: &[Case] = &[
        (
            &[],
            &Builder::Daemon,
            "type=image,name=registry.example.com:5000/acme/app:multiarch-action-unverified,unpack=false,push=true",
        ),
        (
            &[],
            &container,
            "type=image,name=registry.example.com:5000/acme/app,push-by-digest=true,push=true",
        ),
        (
            &[
                ("compression", "zstd"),
                ("compression-level", "3"),
                ("insecure-registries", "registry.example.com:5000"),
            ],
            &Builder::Daemon,
            "type=image,name=registry.example.com:5000/acme/app:multiarch-action-unverified,unpack=false,push=true,registry.insecure=true,compression=zstd,oci-mediatypes=true,compression-level=3",
        ),
        (
            &[("compression", "estargz")],
            &container,
            "type=image,name=registry.example.com:5000/acme/app,push-by-digest=true,push=true,compression=estargz,oci-mediatypes=true",
        ),
    ];
    for (inputs, builder, expected) in cases {
        let plan = plan(inputs).unwrap();
        let (run, build) = (plan.run(), plan.build());
        assert_eq!(build.push_output(run, builder), *expected, "{inputs:?}");
        let args = build.buildx_build_args(
            run,
            builder,
            std::path::Path::new("/m.json"),
            Some(PushRoute::BuildKit),
        );
        let at = args.iter().position(|a| a == "--output").expect("an output when pushing");
        assert_eq!(args[at + 1], *expected);
        assert!(
            !build
                .buildx_build_args(run, builder, std::path::Path::new("/m.json"), None)
                .contains(&"--output".to_string())
        );
    }
    let layout = Some(PushRoute::Layout(std::path::Path::new("/l")));
    let zstd = plan(&[("compression", "zstd")]).unwrap();
    let args = zstd.build().buildx_build_args(
        zstd.run(),
        &Builder::Daemon,
        std::path::Path::new("/m.json"),
        layout,
    );
    assert!(
        args.contains(
            &"type=oci,dest=/l,tar=false,compression=zstd,oci-mediatypes=true".to_string()
        ),
        "{args:?}"
    );
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
        (
            &[("images", "localhost:5000/app"), ("insecure-registries", "localhost:5000")],
            &Builder::Daemon,
            &[],
            true,
        ),
        // `mode: digest` leaves no tag: by digest, or through the layout.
        (&[("mode", "digest")], &Builder::Daemon, &[], false),
        (&[("mode", "digest")], &container, &[], true),
    ];
    for (inputs, builder, daemon, expected) in cases {
        let plan = plan(inputs).unwrap();
        assert_eq!(
            plan.build().buildkit_pushes(plan.run(), builder, daemon),
            *expected,
            "{inputs:?} {builder:?} {daemon:?}"
        );
    }
}

/// A bundle Plan read from a Compose file with one built service, on `event`.
fn bundle_plan(pairs: &[(&str, &str)], event: &str) -> Result<Plan> {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose.yaml");
    std::fs::write(
        &compose,
        "services:\n  api:\n    image: registry.example.com:5000/acme/api:1.4\n    build:\n      context: api\n      target: runtime\n      args: [VERSION=1.4, BASE=alpine]\n  db:\n    image: postgres:16\n",
    )
    .unwrap();
    let compose = compose.display().to_string();
    let mut all =
        vec![("mode", "bundle"), ("compose-file", compose.as_str()), ("platforms", "linux/arm64")];
    all.extend_from_slice(pairs);
    let raw = RawInputs::from_pairs(all.into_iter().map(|(k, v)| (k, v.to_string())))?;
    Plan::new(&raw, &GithubContext { event_name: event.into(), ..GithubContext::default() })
}

#[test]
fn a_bundles_built_service_is_a_build_of_its_own() {
    let plan = bundle_plan(
        &[("build-args", "BASE=debian\nOTHER=1"), ("verify", "warn"), ("smoke-test", "api -v")],
        "push",
    )
    .unwrap();
    let [service] = plan.builds() else { panic!("{:?}", plan.builds()) };
    assert!(matches!(plan.run().mode(), Mode::Bundle(_)));
    assert_eq!(service.service(), Some("api"));
    assert!(service.pushes());
    assert_eq!(
        service.images().iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["registry.example.com:5000/acme/api"]
    );
    assert_eq!(service.references(&[]), ["registry.example.com:5000/acme/api:1.4"]);
    assert_eq!(service.platforms(), plan.run().platforms());
    let source = service.source();
    assert!(
        source.context.ends_with("api") && source.dockerfile.ends_with("api/Dockerfile"),
        "{:?}",
        source.dockerfile
    );
    assert_eq!(source.target.as_deref(), Some("runtime"));
    let args: Vec<(&str, &str)> =
        source.build_args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        args,
        [("OTHER", "1"), ("VERSION", "1.4"), ("BASE", "alpine")],
        "the service's arguments override `build-args`"
    );
    let run = plan.run();
    assert_eq!(run.checks().verify, CheckLevel::Warn);
    assert!(run.checks().smoke_test.is_none() && run.export().is_none() && !run.load());
}

#[test]
fn a_bundle_that_builds_must_push() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Option<&'a str>);
    let cases: &[Case] = &[
        (&[], "push", None),
        (&[("push", "true")], "pull_request", None),
        (
            &[("push", "false")],
            "push",
            Some("push: `push: false` does not push the services built for the bundle (`api`)"),
        ),
        (
            &[],
            "pull_request",
            Some(
                "push: `push: auto` on pull_request events does not push the services built for the bundle (`api`)",
            ),
        ),
    ];
    for (inputs, event, expected) in cases {
        match (bundle_plan(inputs, event), expected) {
            (Ok(_), None) => {}
            (Err(error), Some(start)) => {
                assert!(error.to_string().starts_with(start), "{inputs:?}: {error}")
            }
            (got, _) => panic!("{inputs:?} on {event}: {got:?}"),
        }
    }
}

#[test]
fn only_a_run_that_builds_needs_its_context_and_dockerfile() {
    let empty = tempfile::tempdir().unwrap();
    let merge = plan(&[("mode", "merge")]).unwrap();
    merge.check_files(empty.path()).unwrap();
    let build = plan(&[]).unwrap();
    let error = build.check_files(empty.path()).unwrap_err().to_string();
    assert!(error.starts_with("file: there is no Dockerfile at `Dockerfile`"), "{error}");
    let error = plan(&[("context", "app")]).unwrap().check_files(empty.path()).unwrap_err();
    assert!(error.to_string().starts_with("context: `app` is not a directory"), "{error}");
}

/// The tags `immutable-tags` keeps: full versions that do not float.
#[test]
fn version_tags_are_the_exact_versions_among_the_tags() {
    let app = "registry.example.com:5000/acme/app";
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        // `version: 1.0.0` with the default rules: 1.0.0, 1.0, 1, latest.
        (&[], &["1.0.0"]),
        (&[("version", "v2.1.0-rc.1")], &["2.1.0-rc.1"]),
        (
            &[("tags", "type=semver,pattern=v{{version}}\ntype=sha\ntype=raw,value=edge")],
            &["v1.0.0"],
        ),
        (&[("tags", "type=raw,value=2024.06.01\ntype=raw,value=1.2")], &["2024.06.01"]),
        (&[("flavor", "prefix=app-")], &["app-1.0.0"]),
        // A full-reference line is that tag of that image.
        (&[("images", ""), ("tags", "registry.example.com:5000/acme/app:3.0.0")], &["3.0.0"]),
        (&[("version", ""), ("tags", "type=raw,value=main")], &[]),
    ];
    for (inputs, expected) in cases {
        let plan = plan(inputs).unwrap();
        let image = ImageName::parse(app).unwrap();
        assert_eq!(plan.build().exact_versions_for(&image), *expected, "{inputs:?}");
    }
    assert!(!plan(&[]).unwrap().run().immutable_tags());
    assert!(plan(&[("immutable-tags", "true")]).unwrap().run().immutable_tags());
}

/// A deployment Plan: `mode: build` with a Compose file of two built
/// services and one image that is pulled, pushed to two registries.
fn deployment_plan(pairs: &[(&str, &str)]) -> Result<Plan> {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose.build.yaml");
    std::fs::write(
        &compose,
        "services:\n  openim-api:\n    image: openim-api:test\n    build:\n      context: .\n      args:\n        CMD_PATH: ./cmd/api\n        BINARY_NAME: openim-api\n  push:\n    build: .\n    platform: linux/arm64\n  redis:\n    image: redis:7.2\n",
    )
    .unwrap();
    let compose = compose.display().to_string();
    let mut all = vec![
        ("compose-file", compose.as_str()),
        ("images", "registry.example.com:5000/openim\nghcr.io/openimsdk"),
        ("tags", "type=semver,pattern={{version}}\ntype=raw,value=release-{{tag}}"),
        ("build-args", "CMD_PATH=./cmd/none\nGOPROXY=off"),
        ("registry", "ghcr.io"),
        ("username", "bot"),
        ("password", "not-a-secret"),
    ];
    all.extend_from_slice(pairs);
    let raw = RawInputs::from_pairs(all.into_iter().map(|(k, v)| (k, v.to_string())))?;
    let github = GithubContext {
        event_name: "release".into(),
        git_ref: "refs/tags/v3.8.3".into(),
        ..GithubContext::default()
    };
    Plan::new(&raw, &github)
}

#[test]
fn a_deployment_is_one_build_per_service_with_the_same_tags() {
    let plan = deployment_plan(&[]).unwrap();
    let builds = plan.builds();
    assert_eq!(
        builds.iter().map(|b| b.service()).collect::<Vec<_>>(),
        [Some("openim-api"), Some("push")]
    );
    assert_eq!(
        builds[0].references(&[]),
        [
            "registry.example.com:5000/openim/openim-api:3.8.3",
            "registry.example.com:5000/openim/openim-api:release-v3.8.3",
            "registry.example.com:5000/openim/openim-api:latest",
            "ghcr.io/openimsdk/openim-api:3.8.3",
            "ghcr.io/openimsdk/openim-api:release-v3.8.3",
            "ghcr.io/openimsdk/openim-api:latest",
        ]
    );
    assert_eq!(builds[1].references(&[])[0], "registry.example.com:5000/openim/push:3.8.3");
    // The service's own args win over `build-args`, which apply to all.
    assert_eq!(
        builds[0].source().build_args,
        [
            ("GOPROXY".to_string(), "off".to_string()),
            ("BINARY_NAME".to_string(), "openim-api".to_string()),
            ("CMD_PATH".to_string(), "./cmd/api".to_string()),
        ]
    );
    assert_eq!(builds[0].platforms(), plan.run().platforms());
    assert_eq!(builds[1].platforms(), [Platform::parse("linux/arm64").unwrap()]);
    assert!(builds.iter().all(Build::pushes));
    let chosen = deployment_plan(&[("services", "push")]).unwrap();
    assert_eq!(chosen.builds().len(), 1);
}

#[test]
fn a_deployments_mistakes_are_named_before_any_work() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("file", "Dockerfile")],
            "file: a deployment builds each service from its Compose `build:`",
        ),
        (&[("context", "app")], "context: a deployment builds each service"),
        (
            &[("mode", "digest"), ("platforms", "linux/amd64")],
            "compose-file: works with `mode: build`",
        ),
        (&[("call", "check")], "call: `check` checks one Dockerfile"),
        (&[("services", "redis")], "services: `redis` has no `build:`"),
        (&[("services", "web")], "services: `web` is not a service of the Compose file"),
        (
            &[("tags", "ghcr.io/openimsdk/openim-api:v1")],
            "tags: `ghcr.io/openimsdk/openim-api:v1` names one image",
        ),
        (&[("cache-to", "type=local,dest=/tmp/cache")], "cache-to: `type=local,dest=/tmp/cache"),
        (&[("export", "docker")], "export: writes one image's tarballs"),
    ];
    for (inputs, start) in cases {
        let error = deployment_plan(inputs).unwrap_err();
        assert!(format!("{error:#}").starts_with(start), "{inputs:?}: {error:#}");
    }
}

#[test]
fn services_outside_a_deployment_is_refused() {
    let error = plan(&[("services", "api")]).unwrap_err();
    assert!(
        error.to_string().starts_with("services: chooses among the services of a deployment"),
        "{error}"
    );
    let gha = deployment_plan(&[("cache-to", "type=gha,mode=max")]).unwrap();
    assert!(gha.builds().iter().all(|b| b.pushes()));
}
