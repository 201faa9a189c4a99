//! The one table of every input and output of the action: name, default,
//! kind (and so its parser), whether it is a secret, and its documentation.
//! `action.yml`, the README's tables and the command-line flags are all
//! checked against or generated from this table; nothing else names an
//! input, and every input is read through the parser its kind names.

use std::collections::BTreeMap;
use std::collections::HashMap;

use anyhow::{Result, bail};

pub const DEFAULT_QEMU_IMAGE: &str = "tonistiigi/binfmt:qemu-v9.2.2-52";
pub const DEFAULT_BUILDKIT_IMAGE: &str = "moby/buildkit:buildx-stable-1";

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

const TEXT: Kind = Kind::Text;
const LINES: Kind = Kind::List { commas: false };
const LIST_COMMAS: Kind = Kind::List { commas: true };

/// One input: what `action.yml` declares and the CLI accepts as `--NAME`.
#[derive(Debug, Clone, Copy)]
pub struct InputDef {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Masked before any output; never printed, never on a command line.
    pub secret: bool,
    pub doc: &'static str,
}

const fn input(name: &'static str, default: &'static str, kind: Kind, doc: &'static str) -> InputDef {
    InputDef { name, default, kind, required: false, secret: false, doc }
}

pub const INPUTS: &[InputDef] = &[
    InputDef {
        required: true,
        ..input(
            "images",
            "",
            LIST_COMMAS,
            "Image names to push, one per line or comma-separated (`ghcr.io/acme/app`). Names are lowercased; give no tag here.",
        )
    },
    input(
        "tags",
        "",
        LINES,
        "Tag rules, one per line, in docker/metadata-action syntax (`type=semver,pattern={{version}}`, `type=ref,event=branch`, `type=sha`, `type=raw,value=x`; a bare line is a raw tag). Empty: `{{version}}`, `{{major}}.{{minor}}`, `{{major}}` on releases, the branch name, `pr-N`, and `nightly` on schedule.",
    ),
    input("flavor", "", LINES, "Tag flavor lines: `latest=auto|true|false`, `prefix=`, `suffix=` (with `,onlatest=true`)."),
    input(
        "version",
        "",
        TEXT,
        "Version for runs that are not on a tag (e.g. a workflow_dispatch input); the semver rules treat it as if the ref were that tag.",
    ),
    input(
        "floating-tags",
        "guard",
        Kind::Choice(&["guard", "always"]),
        "`guard`: push `latest`, `{{major}}` and `{{major}}.{{minor}}` only when this is the highest release they cover in the registry; `always`: push them regardless.",
    ),
    input(
        "platforms",
        "linux/amd64,linux/arm64",
        LIST_COMMAS,
        "Target platforms, comma- or newline-separated (`linux/amd64`, `linux/arm64`, `linux/arm/v7`, …).",
    ),
    input("context", ".", TEXT, "Build context directory."),
    input("file", "", TEXT, "Path to the Dockerfile. Empty: `Dockerfile` in the context."),
    input("target", "", TEXT, "Dockerfile stage to build."),
    input("build-args", "", LINES, "Build arguments, `NAME=value`, one per line."),
    input("labels", "", LINES, "Image labels, `key=value`, one per line; they override the generated OCI labels."),
    input(
        "annotations",
        "",
        LINES,
        "Annotations, `key=value` or `manifest:key=value` / `index:key=value`, one per line; they override the generated ones.",
    ),
    input("push", "auto", Kind::BoolOr("auto"), "`auto`: push except on pull_request events; `true`; `false`."),
    input("registry", "", TEXT, "Registry to log in to. Empty: the registry of the first image when `username` is given."),
    input("username", "", TEXT, "Username for `registry`."),
    InputDef {
        secret: true,
        ..input(
            "password",
            "",
            TEXT,
            "Password or token for `registry`. Masked; written only to a temporary Docker config outside the workspace.",
        )
    },
    InputDef {
        secret: true,
        ..input(
            "registry-auth",
            "",
            Kind::Yaml,
            "More registries to log in to: a YAML list of `registry`, `username`, `password`. A `docker.io` entry with no image there is used for pulls (base images, BuildKit), avoiding anonymous limits. Passwords are masked.",
        )
    },
    input("cache-from", "", LINES, "Cache sources, one per line (`type=registry,ref=…`, `type=gha`, `type=local,src=…`)."),
    input(
        "cache-to",
        "",
        LINES,
        "Cache exports, one per line (`type=gha,mode=max`, …). A failed cache export is a warning, not a failed build.",
    ),
    InputDef {
        secret: true,
        ..input(
            "secrets",
            "",
            TEXT,
            "Build secrets, `ID=value` per line (quote a value to span lines); mounted with `RUN --mount=type=secret,id=ID`. Masked; passed to buildx through its environment, never on a command line or in the image history.",
        )
    },
    input("secret-files", "", LINES, "Build secrets from files, `ID=path` per line."),
    input("secret-envs", "", LINES, "Build secrets from environment variables, `ID=VARIABLE` per line."),
    input("ssh", "", LINES, "SSH agent sockets or keys for `RUN --mount=type=ssh`, one per line (`default`, `id=path`)."),
    input("build-contexts", "", LINES, "Additional build contexts, `name=path` or `name=docker-image://…`, one per line."),
    input("network", "", Kind::Choice(&["", "default", "none", "host"]), "Network mode for RUN steps: `default`, `none`, `host`."),
    input("no-cache", "false", Kind::Bool, "`true`: build without the build cache."),
    input("no-cache-filters", "", LIST_COMMAS, "Stages to build without cache, comma- or newline-separated."),
    input("pull", "false", Kind::Bool, "`true`: always pull newer base images."),
    input("shm-size", "", TEXT, "Size of /dev/shm for RUN steps (e.g. `2g`)."),
    input("ulimit", "", LINES, "Ulimits for RUN steps, one per line (`nofile=1024:1024`)."),
    input("add-hosts", "", LIST_COMMAS, "Extra hosts for RUN steps, `host:ip`, comma- or newline-separated."),
    input("allow", "", LIST_COMMAS, "Extra privileges: `network.host`, `security.insecure`, comma- or newline-separated."),
    input("outputs", "", LINES, "Extra buildx outputs, one per line (`type=local,dest=out`); only with `push: false`."),
    input("provenance", "", TEXT, "Provenance attestation: empty keeps BuildKit's default; `false` turns it off; `mode=max` …"),
    input("sbom", "", TEXT, "SBOM attestation: `true`, `false`, or generator options."),
    input("attests", "", LINES, "Other attestations, one per line (`type=…`)."),
    input(
        "driver",
        "auto",
        Kind::Choice(&["auto", "docker", "docker-container"]),
        "Builder: `auto` (the daemon's own BuildKit when it can build every platform, else `docker-container`), `docker`, `docker-container`.",
    ),
    input("buildkit-image", DEFAULT_BUILDKIT_IMAGE, TEXT, "BuildKit image for a `docker-container` builder."),
    input("buildkitd-config", "", TEXT, "A buildkitd.toml file for a `docker-container` builder."),
    input(
        "buildkitd-config-inline",
        "",
        TEXT,
        "buildkitd.toml content for a `docker-container` builder (registry mirrors, private or plain-HTTP registries).",
    ),
    input(
        "driver-opts",
        "",
        LINES,
        "Driver options for a `docker-container` builder, one per line (`image=…`, `network=host`, `env.NAME=value`).",
    ),
    input("buildkitd-flags", "", TEXT, "Flags for buildkitd in a `docker-container` builder."),
    input(
        "append",
        "",
        Kind::Yaml,
        "Extra builder nodes, a YAML list of `name`, `endpoint` (ssh:// or tcp://), `platforms`, `driver-opts`: one builder spanning native machines.",
    ),
    input(
        "qemu",
        "auto",
        Kind::BoolOr("auto"),
        "`auto`: install QEMU emulators only for platforms the builder cannot run yet; `true`: install for every non-native platform; `false`: never.",
    ),
    input("qemu-image", DEFAULT_QEMU_IMAGE, TEXT, "Installer image for QEMU emulators (speaks tonistiigi/binfmt's interface)."),
    input("insecure-registries", "", LIST_COMMAS, "Registries reached over plain HTTP (`host:port`), comma- or newline-separated."),
    input(
        "mode",
        "build",
        Kind::Choice(&["build", "digest", "merge"]),
        "`build`: build every platform and push. `digest`: build this runner's platform (or the one in `platforms`) and push it by digest, untagged, writing the digest to `digests-dir` for a later `merge`. `merge`: combine the digests of `digest` runs into one tagged multi-platform image.",
    ),
    input("digests", "", LIST_COMMAS, "For `mode: merge`: the digests to combine, one per line. Empty: every file in `digests-dir`."),
    input(
        "digests-dir",
        "",
        TEXT,
        "Where `mode: digest` writes, and `mode: merge` reads, one file per platform holding its digest. Empty: `digests` under `RUNNER_TEMP`.",
    ),
    InputDef {
        secret: true,
        ..input("github-token", "", TEXT, "A token for GitHub's API (`secrets.GITHUB_TOKEN`), used by `release-notes`. Masked.")
    },
    input(
        "release-notes",
        "false",
        Kind::Bool,
        "`true`: on a `release` event, add a \"Container image\" section (pullable digest, tags, platforms) to the release's notes; a re-run replaces it. Needs `github-token` with `contents: write`.",
    ),
    input(
        "preflight",
        "true",
        Kind::BoolOr("warn"),
        "Before building, check every base image of the Dockerfile offers every platform it is needed for, and lint the Dockerfile: `true` fails on a missing platform, `warn` only warns, `false` skips.",
    ),
    input(
        "verify",
        "true",
        Kind::BoolOr("warn"),
        "After pushing, check every tag resolves to the digest, every platform is in the index with a matching config, and no binary of another architecture is in a platform's layers: `true`, `warn`, `false`.",
    ),
    input(
        "smoke-test",
        "",
        TEXT,
        "A command run in the pushed image of every platform (under QEMU where needed), e.g. `myapp --version`; it must exit 0. Split as a shell would; wrap in `sh -c '…'` for shell syntax.",
    ),
    input(
        "export",
        "",
        Kind::Choice(&["", "docker", "oci"]),
        "Also save the image as files: `docker` or `oci`: a tarball per platform loadable with `docker load`, a multi-platform OCI layout tarball, and `SHA256SUMS`.",
    ),
    input(
        "export-dir",
        "",
        TEXT,
        "Where `export` writes. Empty: `multiarch-export` under `RUNNER_TEMP` (or the working directory outside a workflow).",
    ),
    input("load", "false", Kind::Bool, "`true`: also load the image for the runner's own platform into the Docker daemon."),
    input("dry-run", "false", Kind::Bool, "`true`: print the plan (tags, platforms, buildx arguments) and touch nothing."),
];

/// One output, as `action.yml` declares it.
#[derive(Debug, Clone, Copy)]
pub struct OutputDef {
    pub name: &'static str,
    pub doc: &'static str,
}

pub const OUTPUTS: &[OutputDef] = &[
    OutputDef { name: "digest", doc: "Digest of the pushed image index (pullable as `image@digest`)." },
    OutputDef { name: "image", doc: "`<first image>@<digest>`: a pullable reference to exactly this build." },
    OutputDef { name: "tags", doc: "Full references that were pushed, one per line." },
    OutputDef {
        name: "platforms",
        doc: "JSON object: platform → its manifest digest, read back from the registry (attestations left out).",
    },
    OutputDef { name: "metadata", doc: "buildx's build metadata (JSON)." },
    OutputDef { name: "version", doc: "The main version computed from the ref, the event or `version`." },
    OutputDef { name: "labels", doc: "Labels applied to the image, `key=value` per line." },
    OutputDef { name: "annotations", doc: "Annotations applied, `level:key=value` per line." },
    OutputDef { name: "json", doc: "Everything above as one JSON object." },
];

pub fn find(name: &str) -> Option<&'static InputDef> {
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

/// The environment variable the runner sets for an input: uppercased,
/// spaces to `_`, hyphens kept.
pub fn env_name(input: &str) -> String {
    format!("INPUT_{}", input.to_uppercase().replace(' ', "_"))
}

impl RawInputs {
    /// Reads `INPUT_*` variables. An input that is absent or empty takes
    /// the table's default and counts as not given (`action.yml` declares no
    /// defaults, so the runner passes only what the workflow wrote).
    pub fn from_env(env: &HashMap<String, String>) -> RawInputs {
        let mut raw = RawInputs::defaults();
        for def in INPUTS {
            if let Some(value) = env.get(&env_name(def.name)).map(|v| v.trim()).filter(|v| !v.is_empty()) {
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
            raw.set(def, value.trim());
        }
        Ok(raw)
    }

    fn defaults() -> RawInputs {
        RawInputs { values: INPUTS.iter().map(|d| (d.name, d.default.to_string())).collect(), given: Default::default() }
    }

    fn set(&mut self, def: &'static InputDef, value: &str) {
        self.values.insert(def.name, value.to_string());
        self.given.insert(def.name);
    }

    /// The value of an input of the table, as given or defaulted.
    pub fn get(&self, name: &str) -> &str {
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
        let Kind::BoolOr(word) = def(name).kind else { panic!("`{name}` is not a bool-or-word input") };
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

    /// One of the words the table lists for the input.
    pub fn choice(&self, name: &str) -> Result<&'static str> {
        let Kind::Choice(choices) = def(name).kind else { panic!("`{name}` is not a choice input") };
        let value = self.get(name);
        match choices.iter().find(|c| c.eq_ignore_ascii_case(value)) {
            Some(choice) => Ok(choice),
            None => bail!(
                "{name}: `{value}` is not accepted; use one of {}",
                choices.iter().filter(|c| !c.is_empty()).cloned().collect::<Vec<_>>().join(", ")
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
                let part = line.split_once('=').or_else(|| line.split_once(": ")).map(|(_, v)| v.trim().trim_matches('"'));
                secrets.extend([line.trim()].into_iter().chain(part).filter(|v| !v.is_empty()).map(str::to_string));
            }
        }
        secrets.sort();
        secrets.dedup();
        secrets
    }
}

/// Splits a list input: newline-separated, and comma-separated too when
/// `commas` (for values that never contain a comma).
pub fn split_list(text: &str, commas: bool) -> Vec<String> {
    let separators: &[char] = if commas { &[',', '\n'] } else { &['\n'] };
    text.split(separators).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The one grammar of every switch: `true`/`false`, `yes`/`no`, `on`/`off`,
/// `1`/`0`, in any case; empty is `false`.
pub fn parse_bool(name: &str, value: &str) -> Result<bool> {
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
        text.push_str(&format!("| `{}` | {} | {} |\n", def.name, default, def.doc.replace('|', "\\|")));
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
        let env: HashMap<String, String> =
            [("INPUT_IMAGES", " ghcr.io/acme/app "), ("INPUT_BUILD-ARGS", "A=1\nB=2"), ("INPUT_PLATFORMS", "")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let raw = RawInputs::from_env(&env);
        assert_eq!(raw.get("images"), "ghcr.io/acme/app");
        assert_eq!(raw.get("build-args"), "A=1\nB=2");
        assert_eq!(raw.get("platforms"), "linux/amd64,linux/arm64");
        assert_eq!(raw.get("qemu-image"), DEFAULT_QEMU_IMAGE);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let raw = RawInputs::from_pairs([("password", "hunter2".to_string()), ("registry-auth", "- password: p2\n".into())]).unwrap();
        assert_eq!(raw.unparsed_secrets(), vec!["- password: p2", "hunter2", "p2"]);
        assert!(!format!("{raw:?}").contains("hunter2"));
    }

    #[test]
    fn given_is_recorded_when_read_not_by_comparing_with_the_default() {
        let env: HashMap<String, String> = [("INPUT_PLATFORMS", "linux/amd64,linux/arm64"), ("INPUT_MODE", " ")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let raw = RawInputs::from_env(&env);
        assert!(raw.given("platforms"), "written out, though equal to the default");
        assert!(!raw.given("mode"), "empty is not given");
        assert!(!raw.given("push"));
        let flags = RawInputs::from_pairs([("platforms", "linux/amd64,linux/arm64".to_string())]).unwrap();
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
            let raw = RawInputs::from_pairs([("load", value.to_string()), ("dry-run", value.to_string())]).unwrap();
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
                Kind::Choice(_) => drop(raw.choice(def.name).unwrap()),
                Kind::List { .. } => drop(raw.list(def.name)),
                Kind::Text | Kind::Yaml => drop(raw.get(def.name)),
            }
        }
    }

    #[test]
    fn unknown_inputs_and_bad_values_are_named() {
        assert!(RawInputs::from_pairs([("nope", String::new())]).unwrap_err().to_string().contains("`nope`"));
        assert_eq!(parse_bool("push", "maybe").unwrap_err().to_string(), "push: `maybe` is not accepted; use true or false");
        let raw = RawInputs::from_pairs([("driver", "Docker".to_string()), ("mode", "kubernetes".into())]).unwrap();
        assert_eq!(raw.choice("driver").unwrap(), "docker");
        assert_eq!(raw.choice("mode").unwrap_err().to_string(), "mode: `kubernetes` is not accepted; use one of build, digest, merge");
    }

    #[test]
    fn lists_split() {
        assert_eq!(split_list("a, b\nc\n\n", true), vec!["a", "b", "c"]);
        assert_eq!(split_list("A=1,2\nB=3", false), vec!["A=1,2", "B=3"]);
    }
}
