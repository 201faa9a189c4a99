//! The front doors: with no arguments the binary reads `INPUT_*` (the
//! container action); `multiarch-action build --images … --platforms …` takes
//! the same inputs as flags, generated from the input table.

use anyhow::{Result, bail};
use clap::{Arg, ArgAction, Command};

use crate::inputs::{INPUTS, RawInputs};

/// The command-line interface, one flag per input of the table.
pub fn command() -> Command {
    let build =
        Command::new("build").about("Build, push and verify a multi-platform image, as the action does in a workflow").args(input_args());
    // `bundle --images … --platforms …` is `mode: bundle`; `bundle verify|load|push FILE` the offline side.
    let bundle = crate::bundle::offline::command()
        .about("Audit a deployment's images for the platforms and write them into one bundle; or check, load or push a bundle")
        .subcommand_required(false)
        .args_conflicts_with_subcommands(true)
        .args(input_args().filter(|arg| arg.get_id() != "mode"));
    Command::new("multiarch-action")
        .about("Build and push multi-platform container images; run without arguments inside a workflow")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .subcommand(build)
        .subcommand(bundle)
}

/// One flag per input of the table.
fn input_args() -> impl Iterator<Item = Arg> {
    INPUTS.iter().map(|input| {
        let mut help = input.doc.to_string();
        if !input.default.is_empty() {
            help.push_str(&format!(" [default: {}]", input.default));
        }
        Arg::new(input.name)
            .long(input.name)
            .value_name("VALUE")
            .num_args(0..=1)
            .default_missing_value("true")
            .allow_hyphen_values(true)
            .action(ArgAction::Set)
            .help(help)
    })
}

/// Raw inputs from command-line arguments (the first is the program name).
pub fn raw_inputs_from_args(args: &[String]) -> Result<RawInputs> {
    let matches = match command().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(error) => {
            let _ = error.print();
            let code = if error.use_stderr() { 2 } else { 0 };
            std::process::exit(code);
        }
    };
    let (mode, given) = match matches.subcommand() {
        Some(("build", build)) => (None, build),
        Some(("bundle", bundle)) => (Some("bundle".to_string()), bundle),
        _ => bail!("usage: multiarch-action build --images NAME [--platforms …]"),
    };
    let pairs =
        INPUTS.iter().filter_map(|input| given.try_get_one::<String>(input.name).ok().flatten().map(|value| (input.name, value.clone())));
    RawInputs::from_pairs(pairs.chain(mode.map(|mode| ("mode", mode))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_become_inputs() {
        let raw = raw_inputs_from_args(&args(&["m", "build", "--images", "r/a", "--build-args", "A=1", "--dry-run"])).unwrap();
        assert_eq!(raw.get("images"), "r/a");
        assert_eq!(raw.get("build-args"), "A=1");
        assert_eq!(raw.get("dry-run"), "true");
        assert_eq!(raw.get("push"), "auto");
    }

    #[test]
    fn the_interface_is_consistent() {
        command().debug_assert();
    }
}
