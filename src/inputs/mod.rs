//! The one table of every input and output of the action: name, default,
//! kind (and so its parser), whether it is a secret, and its documentation.
//! `action.yml`, the README's tables and the command-line flags are all
//! checked against or generated from this table; nothing else declares an
//! input, and every input is read through the parser its kind names.

use std::collections::BTreeMap;
use std::collections::HashMap;

use anyhow::{Result, bail};

use self::choices::Choice;

pub mod choices;
pub(crate) mod csv;
mod table;
pub use table::{INPUTS, OUTPUTS, OutputDef};

/// What an input holds, and so how it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value, as given.
    Text,
    /// One item per line; with `commas`, comma-separated too (for items
    /// that never contain a comma).
    List { commas: bool },
    /// `true` or `false`, in the one grammar every switch accepts.
    Bool,
    /// A switch that also takes one word (`auto`, `warn`).
    BoolOr(&'static str),
    /// One of these words (any case).
    Choice(&'static [&'static str]),
    /// A YAML document.
    Yaml,
}

/// The part of the help an input is listed under, in the help's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Image,
    Build,
    Registry,
    Builder,
    Checks,
    Signing,
    Files,
    NativeRunners,
    Bundle,
}

impl Group {
    /// The heading `--help` gives the group.
    pub fn title(self) -> &'static str {
        match self {
            Group::Image => "Image and tags",
            Group::Build => "Build",
            Group::Registry => "Registry",
            Group::Builder => "Builder and QEMU",
            Group::Checks => "Checks",
            Group::Signing => "Signing",
            Group::Files => "Files and release notes",
            Group::NativeRunners => "Native runners (digest and merge)",
            Group::Bundle => "Deployment (Compose) and bundle",
        }
    }
}

/// One input: what `action.yml` declares and the CLI accepts as `--NAME`.
#[derive(Debug, Clone, Copy)]
pub struct InputDef {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Masked before any output; never printed, never on a command line.
    pub secret: bool,
    pub group: Group,
    pub doc: &'static str,
}

pub(crate) fn find(name: &str) -> Option<&'static InputDef> {
    INPUTS.iter().find(|i| i.name == name)
}

fn def(name: &str) -> &'static InputDef {
    find(name).unwrap_or_else(|| panic!("`{name}` is not in the input table"))
}

/// A switch's value where the table allows one word beside `true`/`false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOr {
    Yes,
    No,
    /// The input's own word (`auto`, `warn`).
    Word,
}

/// Raw input strings by name, defaults filled in, as the runner or the
/// command line gave them, and which of them were given.
#[derive(Clone, Default)]
pub struct RawInputs {
    values: BTreeMap<&'static str, String>,
    given: std::collections::BTreeSet<&'static str>,
}

impl std::fmt::Debug for RawInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            map.entry(name, if def(name).secret { &"***" } else { value });
        }
        map.finish()
    }
}

/// The input a subcommand of the command line sets, and its value:
/// `multiarch-action bundle …` is `mode: bundle`.
pub(crate) fn subcommand_input(subcommand: &str) -> Option<(&'static str, &'static str)> {
    (subcommand == "bundle").then_some(("mode", "bundle"))
}

/// The environment variable the runner sets for an input: uppercased,
/// spaces to `_`, hyphens kept.
pub(crate) fn env_name(input: &str) -> String {
    format!("INPUT_{}", input.to_uppercase().replace(' ', "_"))
}

/// Inputs whose spaces are meaningful: a separator may be a space, and a
/// build secret's value is kept as written (docker/build-push-action does
/// not trim `secrets` either).
const KEEP_WHITESPACE: &[&str] = &["sep-tags", "sep-labels", "secrets"];

/// An input's value as given: trimmed, except for [`KEEP_WHITESPACE`] inputs.
fn given_value<'a>(name: &str, value: &'a str) -> &'a str {
    if KEEP_WHITESPACE.contains(&name) { value } else { value.trim() }
}

impl RawInputs {
    /// Reads `INPUT_*` variables. An input that is absent or empty takes
    /// the table's default and counts as not given (`action.yml` declares no
    /// defaults, so the runner passes only what the workflow wrote).
    pub fn from_env(env: &HashMap<String, String>) -> RawInputs {
        let mut raw = RawInputs::defaults();
        for def in INPUTS {
            if let Some(value) = env
                .get(&env_name(def.name))
                .map(|v| given_value(def.name, v))
                .filter(|v| !v.is_empty())
            {
                raw.set(def, value);
            }
        }
        raw
    }

    /// From `(name, value)` pairs, e.g. command-line flags; unknown names are
    /// an error.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Result<RawInputs> {
        let mut raw = RawInputs::defaults();
        for (name, value) in pairs {
            let Some(def) = find(name) else { bail!("`{name}` is not an input of this action") };
            raw.set(def, given_value(def.name, &value));
        }
        Ok(raw)
    }

    fn defaults() -> RawInputs {
        RawInputs {
            values: INPUTS.iter().map(|d| (d.name, d.default.to_string())).collect(),
            given: Default::default(),
        }
    }

    fn set(&mut self, def: &'static InputDef, value: &str) {
        self.values.insert(def.name, value.to_string());
        self.given.insert(def.name);
    }

    /// The value of an input of the table, as given or defaulted.
    pub(crate) fn get(&self, name: &str) -> &str {
        &self.values[def(name).name]
    }

    /// Whether the workflow or the command line gave this input.
    pub fn given(&self, name: &str) -> bool {
        self.given.contains(def(name).name)
    }

    /// A text input; empty is `None`.
    pub fn text(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    /// A list input, split as its kind says.
    pub fn list(&self, name: &str) -> Vec<String> {
        match def(name).kind {
            Kind::List { commas } => split_list(self.get(name), commas),
            kind => panic!("`{name}` is a {kind:?} input, not a list"),
        }
    }

    /// A `true`/`false` input.
    pub fn bool(&self, name: &str) -> Result<bool> {
        assert_eq!(def(name).kind, Kind::Bool, "`{name}` is not a bool input");
        parse_bool(name, self.get(name))
    }

    /// A switch that also takes its own word.
    pub fn bool_or(&self, name: &str) -> Result<BoolOr> {
        let Kind::BoolOr(word) = def(name).kind else {
            panic!("`{name}` is not a bool-or-word input")
        };
        let value = self.get(name);
        if value.eq_ignore_ascii_case(word) {
            return Ok(BoolOr::Word);
        }
        match parse_bool(name, value) {
            Ok(true) => Ok(BoolOr::Yes),
            Ok(false) => Ok(BoolOr::No),
            Err(_) => bail!("{name}: `{value}` is not accepted; use {word}, true or false"),
        }
    }

    /// One of the words the table lists for the input, as its enum.
    pub fn choice<T: Choice>(&self, name: &str) -> Result<T> {
        let Kind::Choice(words) = def(name).kind else { panic!("`{name}` is not a choice input") };
        assert_eq!(words, T::WORDS, "`{name}` lists other words than its enum");
        let value = self.get(name);
        match words.iter().position(|c| c.eq_ignore_ascii_case(value)) {
            Some(at) => Ok(T::ALL[at]),
            None => bail!(
                "{name}: `{value}` is not accepted; use one of {}",
                words.iter().filter(|c| !c.is_empty()).cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// Every secret input's value as given, whole and by line: what is masked
    /// when the inputs cannot be parsed (the parsed secrets are masked
    /// otherwise, see `Plan::secrets`).
    pub fn unparsed_secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        for def in INPUTS.iter().filter(|d| d.secret) {
            let value = self.get(def.name);
            for line in std::iter::once(value).chain(value.lines()) {
                // A line's value part too: `ID=value`, `password: value`.
                let part = line
                    .split_once('=')
                    .or_else(|| line.split_once(": "))
                    .map(|(_, v)| v.trim().trim_matches('"'));
                secrets.extend(
                    [line.trim()]
                        .into_iter()
                        .chain(part)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string),
                );
            }
        }
        secrets.sort();
        secrets.dedup();
        secrets
    }
}

/// Splits a list input: newline-separated, and comma-separated too when
/// `commas` (for values that never contain a comma).
pub(crate) fn split_list(text: &str, commas: bool) -> Vec<String> {
    let separators: &[char] = if commas { &[',', '\n'] } else { &['\n'] };
    text.split(separators).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The one grammar of every switch: `true`/`false`, `yes`/`no`, `on`/`off`,
/// `1`/`0`, in any case; empty is `false`.
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" | "" => Ok(false),
        _ => bail!("{name}: `{value}` is not accepted; use true or false"),
    }
}

impl InputDef {
    /// The description `action.yml` gives: the doc and the default. The
    /// default is not declared as `default:` there, since the runner would
    /// then pass it as if the workflow had written it; the binary fills it in.
    pub fn action_description(&self) -> String {
        match self.default {
            "" => self.doc.to_string(),
            default => format!("{} Default: `{default}`.", self.doc),
        }
    }
}

/// Markdown table of the inputs, as the README shows it.
pub fn inputs_markdown() -> String {
    let mut text = String::from("| input | default | description |\n|---|---|---|\n");
    for def in INPUTS {
        let default = if def.required {
            "(required)".to_string()
        } else if def.default.is_empty() {
            String::new()
        } else {
            format!("`{}`", def.default)
        };
        text.push_str(&format!(
            "| `{}` | {} | {} |\n",
            def.name,
            default,
            def.doc.replace('|', "\\|")
        ));
    }
    text
}

/// Markdown table of the outputs, as the README shows it.
pub fn outputs_markdown() -> String {
    let mut text = String::from("| output | description |\n|---|---|\n");
    for def in OUTPUTS {
        text.push_str(&format!("| `{}` | {} |\n", def.name, def.doc));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_keep_hyphens() {
        assert_eq!(env_name("build-args"), "INPUT_BUILD-ARGS");
        assert_eq!(env_name("dry-run"), "INPUT_DRY-RUN");
    }

    #[test]
    fn env_inputs_take_defaults_when_empty() {
        let env: HashMap<String, String> = [
            ("INPUT_IMAGES", " ghcr.io/acme/app "),
            ("INPUT_BUILD-ARGS", "A=1\nB=2"),
            ("INPUT_PLATFORMS", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let raw = RawInputs::from_env(&env);
        assert_eq!(raw.get("images"), "ghcr.io/acme/app");
        assert_eq!(raw.get("build-args"), "A=1\nB=2");
        assert_eq!(raw.get("platforms"), "linux/amd64,linux/arm64");
        assert_eq!(raw.get("qemu-image"), table::DEFAULT_QEMU_IMAGE);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let raw = RawInputs::from_pairs([
            ("password", "hunter2".to_string()),
            ("registry-auth", "- password: p2\n".into()),
        ])
        .unwrap();
        assert_eq!(raw.unparsed_secrets(), vec!["- password: p2", "hunter2", "p2"]);
        assert!(!format!("{raw:?}").contains("hunter2"));
    }

    #[test]
    fn given_is_recorded_when_read_not_by_comparing_with_the_default() {
        let env: HashMap<String, String> =
            [("INPUT_PLATFORMS", "linux/amd64,linux/arm64"), ("INPUT_MODE", " ")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let raw = RawInputs::from_env(&env);
        assert!(raw.given("platforms"), "written out, though equal to the default");
        assert!(!raw.given("mode"), "empty is not given");
        assert!(!raw.given("push"));
        let flags =
            RawInputs::from_pairs([("platforms", "linux/amd64,linux/arm64".to_string())]).unwrap();
        assert!(flags.given("platforms") && !flags.given("images"));
    }

    #[test]
    fn every_switch_speaks_one_grammar() {
        type Case<'a> = (&'a str, &'a str, Result<BoolOr, &'a str>);
        let cases: &[Case] = &[
            ("push", "TRUE", Ok(BoolOr::Yes)),
            ("push", "yes", Ok(BoolOr::Yes)),
            ("push", "Off", Ok(BoolOr::No)),
            ("push", "Auto", Ok(BoolOr::Word)),
            ("push", "maybe", Err("push: `maybe` is not accepted; use auto, true or false")),
            ("verify", "warn", Ok(BoolOr::Word)),
            ("verify", "auto", Err("verify: `auto` is not accepted; use warn, true or false")),
            ("qemu", "1", Ok(BoolOr::Yes)),
        ];
        for (name, value, expected) in cases {
            let raw = RawInputs::from_pairs([(*name, value.to_string())]).unwrap();
            match (raw.bool_or(name), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{name}: {value}"),
                (Err(error), Err(message)) => assert_eq!(error.to_string(), *message),
                (got, _) => panic!("{name}: {value}: {got:?}"),
            }
        }
        for value in ["yes", "TRUE", "on", "1"] {
            let raw = RawInputs::from_pairs([
                ("load", value.to_string()),
                ("dry-run", value.to_string()),
            ])
            .unwrap();
            assert!(raw.bool("load").unwrap() && raw.bool("dry-run").unwrap(), "{value}");
        }
    }

    #[test]
    fn every_default_parses_as_its_kind() {
        let raw = RawInputs::from_pairs([]).unwrap();
        for def in INPUTS {
            match def.kind {
                Kind::Bool => drop(raw.bool(def.name).unwrap()),
                Kind::BoolOr(_) => drop(raw.bool_or(def.name).unwrap()),
                Kind::Choice(words) => assert!(words.contains(&raw.get(def.name)), "{}", def.name),
                Kind::List { .. } => drop(raw.list(def.name)),
                Kind::Text | Kind::Yaml => drop(raw.get(def.name)),
            }
        }
    }

    #[test]
    fn unknown_inputs_and_bad_values_are_named() {
        assert!(
            RawInputs::from_pairs([("nope", String::new())])
                .unwrap_err()
                .to_string()
                .contains("`nope`")
        );
        assert_eq!(
            parse_bool("push", "maybe").unwrap_err().to_string(),
            "push: `maybe` is not accepted; use true or false"
        );
        let raw = RawInputs::from_pairs([
            ("driver", "Docker".to_string()),
            ("mode", "kubernetes".into()),
        ])
        .unwrap();
        assert_eq!(raw.choice::<choices::Driver>("driver").unwrap(), choices::Driver::Docker);
        assert_eq!(
            raw.choice::<choices::ModeWord>("mode").unwrap_err().to_string(),
            "mode: `kubernetes` is not accepted; use one of build, digest, merge, bundle"
        );
    }

    #[test]
    fn lists_split() {
        assert_eq!(split_list("a, b\nc\n\n", true), vec!["a", "b", "c"]);
        assert_eq!(split_list("A=1,2\nB=3", false), vec!["A=1,2", "B=3"]);
    }
}
