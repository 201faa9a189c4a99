//! A short fuzz run of every parser that reads user input or another
//! program's output: random and structured-random text must never panic.
//! `PROPTEST_CASES` makes the run longer.

use multiarch_action::BinfmtStatus;
use multiarch_action::plan::build_options;
use multiarch_action::platform::Platform;
use multiarch_action::{BuilderInfo, Progress};
use multiarch_action::{meta, preflight};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    }
}

/// Text made of the pieces these parsers care about.
fn structured() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "type=",
        "semver",
        "pattern=",
        "{{version}}",
        "{{major}}",
        "{{",
        "}}",
        ",",
        "=",
        "\n",
        "linux/",
        "arm64",
        "/v7",
        "FROM ",
        "AS ",
        "--platform=",
        "$BUILDPLATFORM",
        "${",
        "}",
        "ARG ",
        "RUN ",
        "<<EOF",
        "EOF",
        "\\",
        "\"",
        "'",
        "index:",
        "manifest:",
        "latest=",
        "prefix=",
        "{",
        "[",
        "]",
        ":",
        " ",
        "value=",
        "event=",
        "ref",
        "sha",
        "match",
        "group=",
        "(",
        ")",
        "*",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn platforms_never_panic(text in any::<String>(), shaped in structured()) {
        let _ = Platform::parse_list(&text);
        let _ = Platform::parse_list(&shaped);
    }

    #[test]
    fn tag_rules_flavor_and_annotations_never_panic(text in any::<String>(), shaped in structured()) {
        for input in [&text, &shaped] {
            let _ = meta::parse_tag_rules(input);
            let _ = meta::parse_flavor(input);
            let _ = meta::parse_annotations(input);
            let _ = meta::sanitize_tag(input);
            let _ = meta::normalize_image_name(input);
        }
    }

    #[test]
    fn dockerfiles_never_panic(text in any::<String>(), shaped in structured()) {
        for input in [&text, &shaped] {
            if let Ok(dockerfile) = preflight::parse_dockerfile(input)
                && let Ok(stages) = preflight::resolve(&dockerfile, &Default::default(), None, &[])
            {
                let arm = Platform::parse("linux/arm64").unwrap();
                let _ = preflight::lint(&dockerfile, &stages, std::slice::from_ref(&arm), &[Platform::host(), arm.clone()]);
            }
        }
    }

    #[test]
    fn program_outputs_never_panic(text in any::<String>(), shaped in structured()) {
        for input in [&text, &shaped] {
            let _ = BinfmtStatus::parse(input);
            let _ = BuilderInfo::parse(input);
            let _ = build_options::parse_secret_values(input, &mut Vec::new());
            let mut progress = Progress::default();
            for line in input.lines() {
                let _ = progress.feed(line);
            }
        }
    }
}
