//! The front doors: inside a workflow the binary reads `INPUT_*` (the
//! container action); `multiarch-action build --images … --platforms …`
//! takes the same inputs as flags, generated from the input table and
//! listed by group in `--help`; `multiarch-action post` (or the binary run
//! as `multiarch-action-post`) removes what an interrupted run left.

use clap::{Arg, ArgAction, Command};

use crate::inputs::{INPUTS, InputDef, Kind, RawInputs, subcommand_input};

/// The name under which the binary is the action's post step.
pub const POST_PROGRAM: &str = "multiarch-action-post";

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Read the inputs from `INPUT_*`, as the runner passes them.
    Workflow,
    /// Run with these inputs, given as flags.
    Build(RawInputs),
    /// Remove what the run of this name left (`None`: the name saved in
    /// the runner's state, `STATE_run`).
    Post { run: Option<String> },
    /// Print this (help, version) and exit with this code.
    Print { text: String, code: i32 },
    /// A usage error: print it and exit 2.
    Usage(String),
}

/// Whether an input is a switch: `--NAME` alone turns it on, `--NAME=false`
/// (or `--NAME false`) sets it.
fn is_switch(input: &InputDef) -> bool {
    matches!(input.kind, Kind::Bool | Kind::BoolOr(_))
}

fn flag(input: &'static InputDef) -> Arg {
    let mut help = input.doc.to_string();
    if let Kind::Choice(choices) = input.kind {
        let words: Vec<&str> = choices.iter().filter(|c| !c.is_empty()).copied().collect();
        help.push_str(&format!(" [one of: {}]", words.join(", ")));
    }
    if !input.default.is_empty() {
        help.push_str(&format!(" [default: {}]", input.default));
    }
    let arg = Arg::new(input.name)
        .long(input.name)
        .action(ArgAction::Set)
        .help(help)
        .help_heading(input.group.title());
    if is_switch(input) {
        arg.value_name("BOOL").num_args(0..=1).default_missing_value("true")
    } else {
        arg.value_name("VALUE").num_args(1)
    }
}

/// The inputs in the help's order: by group, and in the table's order
/// within a group.
fn inputs_by_group() -> Vec<&'static InputDef> {
    let mut inputs: Vec<&'static InputDef> = INPUTS.iter().collect();
    inputs.sort_by_key(|input| input.group);
    inputs
}

/// The command-line interface, one flag per input of the table.
pub(crate) fn command() -> Command {
    let build = Command::new("build")
        .about("Build, push and verify a multi-platform image, as the action does in a workflow")
        // `--version` here is the input (the release version); the
        // program's version is `multiarch-action --version`.
        .disable_version_flag(true)
        .after_help("Every input of the action is a flag of the same name. List inputs take commas or newlines; switches take no value (`--dry-run`) or one (`--push=false`).")
        .args(inputs_by_group().into_iter().map(flag));
    // `bundle --images … --platforms …` is `mode: bundle`; `bundle verify|load|push FILE` the offline side.
    let bundle = crate::bundle::offline::command()
        .about("Audit a deployment's images for the platforms and write them into one bundle; or check, load or push a bundle")
        .subcommand_required(false)
        .args_conflicts_with_subcommands(true)
        .args(
            inputs_by_group()
                .into_iter()
                .filter(|input| subcommand_input("bundle").is_none_or(|(name, _)| input.name != name))
                .map(flag),
        );
    let post = Command::new("post")
        .about("Remove what an interrupted run left: its builder, its containers (what the action's post step does)")
        .arg(Arg::new("run").long("run").value_name("NAME").num_args(1).help("The run's name (`multiarch-action-…`, as its log says)"));
    Command::new("multiarch-action")
        .about("Build and push multi-platform container images. In a workflow (GITHUB_ACTIONS=true) it runs without arguments and reads the step's inputs.")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(build)
        .subcommand(bundle)
        .subcommand(post)
}

/// Flags of the table that take a value, with a value that starts with `-`
/// written `--NAME=VALUE`, so that clap takes it as the value (`--buildkitd-flags
/// --debug`) while a following flag of ours (`--images x --dry-run`) stays
/// a flag.
fn join_hyphen_values(args: &[String]) -> Vec<String> {
    let is_our_flag = |arg: &str| {
        let name = arg.strip_prefix("--").map(|rest| rest.split('=').next().unwrap_or(rest));
        matches!(arg, "-h" | "-V")
            || name.is_some_and(|name| {
                ["help", "version"].contains(&name) || crate::inputs::find(name).is_some()
            })
    };
    let mut joined = Vec::with_capacity(args.len());
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let takes_value = arg
            .strip_prefix("--")
            .and_then(crate::inputs::find)
            .is_some_and(|input| !is_switch(input));
        match rest.as_slice().first() {
            Some(value) if takes_value && value.starts_with('-') && !is_our_flag(value) => {
                joined.push(format!("{arg}={value}"));
                rest.next();
            }
            _ => joined.push(arg.clone()),
        }
    }
    joined
}

/// Reads the command line (the first argument is the program's name) and,
/// for no arguments, whether this is a workflow step.
pub fn parse(args: &[String], in_workflow: bool) -> Invocation {
    let program = args.first().map(|a| {
        std::path::Path::new(a).file_name().unwrap_or_default().to_string_lossy().into_owned()
    });
    if program.as_deref() == Some(POST_PROGRAM) {
        return Invocation::Post { run: None };
    }
    if args.len() <= 1 && in_workflow {
        return Invocation::Workflow;
    }
    let matches = match command().try_get_matches_from(join_hyphen_values(args)) {
        Ok(matches) => matches,
        Err(error) => {
            let text = error.render().to_string();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Invocation::Print { text, code: 0 }
                }
                _ => Invocation::Print { text, code: 2 },
            };
        }
    };
    match matches.subcommand() {
        Some((name @ ("build" | "bundle"), given)) => {
            let pairs = INPUTS.iter().filter_map(|input| {
                given
                    .try_get_one::<String>(input.name)
                    .ok()
                    .flatten()
                    .map(|value| (input.name, value.clone()))
            });
            let implied = subcommand_input(name).map(|(input, value)| (input, value.to_string()));
            match RawInputs::from_pairs(pairs.chain(implied)) {
                Ok(raw) => Invocation::Build(raw),
                Err(error) => Invocation::Usage(format!("{error:#}")),
            }
        }
        Some(("post", post)) => Invocation::Post { run: post.get_one::<String>("run").cloned() },
        _ => Invocation::Usage(
            "usage: multiarch-action build --images NAME [--platforms …]; see --help".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn build(list: &[&str]) -> RawInputs {
        let mut all = vec!["multiarch-action", "build"];
        all.extend_from_slice(list);
        match parse(&args(&all), false) {
            Invocation::Build(raw) => raw,
            other => panic!("{list:?}: {other:?}"),
        }
    }

    #[test]
    fn flags_become_inputs() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            (
                &["--images", "r/a", "--build-args", "A=1", "--dry-run"],
                &[("images", "r/a"), ("build-args", "A=1"), ("dry-run", "true"), ("push", "auto")],
            ),
            (&["--dry-run", "--images", "x"], &[("dry-run", "true"), ("images", "x")]),
            (&["--no-cache", "--dry-run"], &[("no-cache", "true"), ("dry-run", "true")]),
            (&["--push=false", "--images=x"], &[("push", "false"), ("images", "x")]),
            (
                &["--push", "false", "--qemu", "--verify=warn"],
                &[("push", "false"), ("qemu", "true"), ("verify", "warn")],
            ),
            (
                &["--buildkitd-flags", "--debug", "--dry-run"],
                &[("buildkitd-flags", "--debug"), ("dry-run", "true")],
            ),
            (
                &["--buildkitd-flags", "--debug --trace", "--images", "-x"],
                &[("buildkitd-flags", "--debug --trace"), ("images", "-x")],
            ),
            (&["--smoke-test=-v"], &[("smoke-test", "-v")]),
        ];
        for (flags, expected) in cases {
            let raw = build(flags);
            for (name, value) in *expected {
                assert_eq!(raw.get(name), *value, "{flags:?}: {name}");
            }
        }
    }

    #[test]
    fn a_following_flag_is_never_taken_as_a_value() {
        for flags in [&["--images", "--dry-run"][..], &["--images"], &["--images", "--help"]] {
            let mut all = vec!["multiarch-action", "build"];
            all.extend_from_slice(flags);
            match parse(&args(&all), false) {
                Invocation::Print { text, code: 2 } => {
                    assert!(text.contains("--images"), "{flags:?}: {text}")
                }
                Invocation::Print { code: 0, .. } if flags.contains(&"--help") => {}
                other => panic!("{flags:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn typos_get_suggestions() {
        match parse(&args(&["multiarch-action", "build", "--dryrun"]), false) {
            Invocation::Print { text, code: 2 } => assert!(text.contains("--dry-run"), "{text}"),
            other => panic!("{other:?}"),
        }
        match parse(&args(&["multiarch-action", "biuld"]), false) {
            Invocation::Print { text, code: 2 } => assert!(text.contains("build"), "{text}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bare_is_the_workflow_only_in_a_workflow() {
        assert!(matches!(parse(&args(&["multiarch-action"]), true), Invocation::Workflow));
        match parse(&args(&["multiarch-action"]), false) {
            Invocation::Print { text, code: 2 } => {
                assert!(text.contains("build") && text.contains("Usage"), "{text}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&args(&["/usr/bin/multiarch-action-post"]), true),
            Invocation::Post { run: None }
        ));
        match parse(&args(&["m", "post", "--run", "multiarch-action-x"]), false) {
            Invocation::Post { run: Some(run) } => assert_eq!(run, "multiarch-action-x"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_lists_inputs_by_group_and_version_answers() {
        let Invocation::Print { text, code: 0 } = parse(&args(&["m", "build", "--help"]), false)
        else {
            panic!("no help")
        };
        let heading = |title: &str| {
            text.find(&format!("{title}:")).unwrap_or_else(|| panic!("no heading {title}: {text}"))
        };
        assert!(heading("Image and tags") < text.find("--images").unwrap());
        assert!(heading("Registry") < text.find("--password").unwrap());
        assert!(heading("Builder and QEMU") < text.find("--qemu-image").unwrap());
        let order = [
            "Image and tags",
            "Build",
            "Registry",
            "Builder and QEMU",
            "Checks",
            "Files and release notes",
            "Native runners (digest and merge)",
        ];
        assert!(order.windows(2).all(|pair| heading(pair[0]) < heading(pair[1])), "{text}");
        for input in INPUTS {
            assert!(
                text.contains(&format!("--{}", input.name)),
                "{} is not in the help",
                input.name
            );
        }
        for version in [&["m", "--version"][..], &["m", "-V"]] {
            let Invocation::Print { text, code: 0 } = parse(&args(version), false) else {
                panic!("{version:?}")
            };
            assert_eq!(text.trim(), format!("multiarch-action {}", env!("CARGO_PKG_VERSION")));
        }
        // Under `build`, `--version` is the input.
        assert_eq!(build(&["--version", "1.4.0"]).get("version"), "1.4.0");
    }

    #[test]
    fn the_interface_is_consistent() {
        command().debug_assert();
    }
}
