//! `action.yml` and the README's input and output tables must say exactly
//! what the action's input table (`multiarch_action::inputs`, in
//! src/inputs/table.rs) says, and `action.yml` must run the `Dockerfile` or, pinned,
//! this version's published image. Run with `BLESS=1` to rewrite them from
//! the table.

use multiarch_action::inputs::{INPUTS, OUTPUTS, inputs_markdown, outputs_markdown};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// `action.yml` as the table defines it.
fn expected_action_yml() -> String {
    let mut yml = String::from(
        "# The action's interface. Generated from the input table (src/inputs/table.rs); a test keeps them equal.\n\
         name: multiarch-action\n\
         description: Build, push and verify a multi-platform container image in one step, with QEMU, BuildKit, login and release tags.\n\
         branding:\n  icon: package\n  color: blue\n\
         inputs:\n",
    );
    for input in INPUTS {
        yml.push_str(&format!(
            "  {}:\n    description: {}\n",
            input.name,
            yaml_string(&input.action_description())
        ));
        yml.push_str(&format!("    required: {}\n", input.required));
    }
    yml.push_str("outputs:\n");
    for output in OUTPUTS {
        yml.push_str(&format!(
            "  {}:\n    description: {}\n",
            output.name,
            yaml_string(output.doc)
        ));
    }
    yml.push_str(&format!(
        "runs:\n  using: docker\n  image: {}\n",
        runs_image(&std::fs::read_to_string(format!("{ROOT}/action.yml")).unwrap_or_default())
    ));
    // The post step runs the same image with this entrypoint (and no way to
    // tell it apart but its name): it removes what a killed step left.
    yml.push_str(&format!("  post-entrypoint: /usr/bin/{}\n", multiarch_action::cli::POST_PROGRAM));
    yml
}

/// The image `action.yml` runs: `Dockerfile` between releases (built where
/// it is used), and on a release commit this release's published image,
/// `docker://ghcr.io/OWNER/NAME:VERSION` with the crate's version, as
/// `scripts/release pin` writes it. Anything else is not accepted.
fn runs_image(action_yml: &str) -> String {
    let current = action_yml
        .split("\nruns:\n")
        .nth(1)
        .and_then(|runs| runs.lines().find_map(|l| l.strip_prefix("  image: ")));
    let pinned = |image: &str| {
        image.strip_prefix("docker://ghcr.io/").and_then(|rest| rest.rsplit_once(':')).is_some_and(
            |(name, version)| name.split('/').count() == 2 && version == env!("CARGO_PKG_VERSION"),
        )
    };
    match current {
        Some(image) if pinned(image) => image.to_string(),
        _ => "Dockerfile".to_string(),
    }
}

#[test]
fn a_pinned_action_yml_names_this_versions_image() {
    let version = env!("CARGO_PKG_VERSION");
    let pinned = format!(
        "name: x\nruns:\n  using: docker\n  image: docker://ghcr.io/acme/multiarch-action:{version}\n"
    );
    assert_eq!(runs_image(&pinned), format!("docker://ghcr.io/acme/multiarch-action:{version}"));
    for other in [
        "docker://ghcr.io/acme/multiarch-action:v1",
        "docker://ghcr.io/acme/multiarch-action:0.0.0-old",
        "docker://docker.io/acme/x:1",
    ] {
        let text = format!("name: x\nruns:\n  using: docker\n  image: {other}\n");
        assert_eq!(runs_image(&text), "Dockerfile", "{other} is not this release's image");
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<(usize, usize)> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some((from, to))
}

fn replace_between(text: &str, start: &str, end: &str, body: &str) -> String {
    let (from, to) = between(text, start, end)
        .unwrap_or_else(|| panic!("README.md lacks the markers {start} … {end}"));
    format!("{}\n{body}{}", &text[..from], &text[to..])
}

#[test]
fn action_yml_matches_the_input_table() {
    let path = format!("{ROOT}/action.yml");
    let expected = expected_action_yml();
    if std::env::var("BLESS").is_ok() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).expect("action.yml exists");
    assert_eq!(
        actual, expected,
        "action.yml differs from the input table; run `BLESS=1 cargo test --test input_table`"
    );

    // And it is valid YAML that the runner reads the same way.
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&actual).unwrap();
    for input in INPUTS {
        let entry = &parsed["inputs"][input.name];
        assert_eq!(
            entry["description"].as_str(),
            Some(input.action_description().as_str()),
            "{}",
            input.name
        );
        assert_eq!(entry["required"].as_bool(), Some(input.required), "{}", input.name);
        // No `default:`: the runner would pass it as if it were written, and
        // the binary could no longer tell a given input from a defaulted one.
        assert!(entry.get("default").is_none(), "{} declares a default", input.name);
    }
    assert_eq!(parsed["inputs"].as_mapping().unwrap().len(), INPUTS.len());
    assert_eq!(parsed["outputs"].as_mapping().unwrap().len(), OUTPUTS.len());
    assert_eq!(parsed["runs"]["using"].as_str(), Some("docker"));
    assert_eq!(parsed["runs"]["post-entrypoint"].as_str(), Some("/usr/bin/multiarch-action-post"));
}

#[test]
fn readme_tables_match_the_input_table() {
    let path = format!("{ROOT}/README.md");
    let mut readme = std::fs::read_to_string(&path).expect("README.md exists");
    if std::env::var("BLESS").is_ok() {
        readme = replace_between(
            &readme,
            "<!-- inputs:start -->",
            "<!-- inputs:end -->",
            &inputs_markdown(),
        );
        readme = replace_between(
            &readme,
            "<!-- outputs:start -->",
            "<!-- outputs:end -->",
            &outputs_markdown(),
        );
        std::fs::write(&path, &readme).unwrap();
    }
    let (from, to) = between(&readme, "<!-- inputs:start -->", "<!-- inputs:end -->")
        .expect("README has the inputs markers");
    assert_eq!(
        readme[from..to].trim(),
        inputs_markdown().trim(),
        "README inputs differ; run `BLESS=1 cargo test --test input_table`"
    );
    let (from, to) = between(&readme, "<!-- outputs:start -->", "<!-- outputs:end -->")
        .expect("README has the outputs markers");
    assert_eq!(
        readme[from..to].trim(),
        outputs_markdown().trim(),
        "README outputs differ; run `BLESS=1 cargo test --test input_table`"
    );
}

#[test]
fn every_input_is_documented_and_named_as_the_runner_passes_it() {
    for input in INPUTS {
        assert!(!input.doc.is_empty(), "{} has no doc", input.name);
        assert!(input.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", input.name);
    }
}
