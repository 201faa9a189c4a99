//! The one table of every input and output of the action: name, default,
//! whether it is a secret, and its documentation. `action.yml`, the README's
//! tables and the command-line flags are all checked against or generated
//! from this table; nothing else names an input.

use std::collections::BTreeMap;
use std::collections::HashMap;

use anyhow::{Result, bail};

pub const DEFAULT_QEMU_IMAGE: &str = "tonistiigi/binfmt:qemu-v9.2.2-52";
pub const DEFAULT_BUILDKIT_IMAGE: &str = "moby/buildkit:buildx-stable-1";

/// One input: what `action.yml` declares and the CLI accepts as `--NAME`.
#[derive(Debug, Clone, Copy)]
pub struct InputDef {
    pub name: &'static str,
    pub default: &'static str,
    pub required: bool,
    /// Masked before any output; never printed, never on a command line.
    pub secret: bool,
    pub doc: &'static str,
}

const fn input(name: &'static str, default: &'static str, doc: &'static str) -> InputDef {
    InputDef { name, default, required: false, secret: false, doc }
}

pub const INPUTS: &[InputDef] = &[
    InputDef {
        required: true,
        ..input(
            "images",
            "",
            "Image names to push, one per line or comma-separated (`ghcr.io/acme/app`). Names are lowercased; give no tag here.",
        )
    },
    input(
        "tags",
        "",
        "Tag rules, one per line, in docker/metadata-action syntax (`type=semver,pattern={{version}}`, `type=ref,event=branch`, `type=sha`, `type=raw,value=x`; a bare line is a raw tag). Empty: `{{version}}`, `{{major}}.{{minor}}`, `{{major}}` on releases, the branch name, `pr-N`, and `nightly` on schedule.",
    ),
    input("flavor", "", "Tag flavor lines: `latest=auto|true|false`, `prefix=`, `suffix=` (with `,onlatest=true`)."),
    input("sep-tags", "", "Separator of the `tags` and `tag-names` outputs. Empty: a newline."),
    input("sep-labels", "", "Separator of the `labels` output. Empty: a newline."),
    input(
        "version",
        "",
        "Version for runs that are not on a tag (e.g. a workflow_dispatch input); the semver rules treat it as if the ref were that tag.",
    ),
    input(
        "floating-tags",
        "guard",
        "`guard`: push `latest`, `{{major}}` and `{{major}}.{{minor}}` only when this is the highest release they cover in the registry; `always`: push them regardless.",
    ),
    input(
        "platforms",
        "linux/amd64,linux/arm64",
        "Target platforms, comma- or newline-separated (`linux/amd64`, `linux/arm64`, `linux/arm/v7`, …).",
    ),
    input("context", ".", "Build context directory."),
    input("file", "", "Path to the Dockerfile. Empty: `Dockerfile` in the context."),
    input("target", "", "Dockerfile stage to build."),
    input("build-args", "", "Build arguments, `NAME=value`, one per line."),
    input("labels", "", "Image labels, `key=value`, one per line; they override the generated OCI labels."),
    input(
        "annotations",
        "",
        "Annotations, `key=value` or `manifest:key=value` / `index:key=value`, one per line; they override the generated ones.",
    ),
    input("push", "auto", "`auto`: push except on pull_request events; `true`; `false`."),
    input("registry", "", "Registry to log in to. Empty: the registry of the first image when `username` is given."),
    input("username", "", "Username for `registry`."),
    InputDef {
        secret: true,
        ..input(
            "password",
            "",
            "Password or token for `registry`. Masked; written only to a temporary Docker config outside the workspace.",
        )
    },
    input(
        "registry-auth",
        "",
        "More registries to log in to: a YAML list of `registry`, `username`, `password`. A `docker.io` entry with no image there is used for pulls (base images, BuildKit), avoiding anonymous limits. Passwords are masked.",
    ),
    input("cache-from", "", "Cache sources, one per line (`type=registry,ref=…`, `type=gha`, `type=local,src=…`)."),
    input("cache-to", "", "Cache exports, one per line (`type=gha,mode=max`, …). A failed cache export is a warning, not a failed build."),
    InputDef {
        secret: true,
        ..input(
            "secrets",
            "",
            "Build secrets, `ID=value` per line (quote a value to span lines); mounted with `RUN --mount=type=secret,id=ID`. Masked; passed to buildx through its environment, never on a command line or in the image history.",
        )
    },
    input("secret-files", "", "Build secrets from files, `ID=path` per line."),
    input("secret-envs", "", "Build secrets from environment variables, `ID=VARIABLE` per line."),
    input("ssh", "", "SSH agent sockets or keys for `RUN --mount=type=ssh`, one per line (`default`, `id=path`)."),
    input("build-contexts", "", "Additional build contexts, `name=path` or `name=docker-image://…`, one per line."),
    input("network", "", "Network mode for RUN steps: `default`, `none`, `host`."),
    input("no-cache", "false", "`true`: build without the build cache."),
    input("no-cache-filters", "", "Stages to build without cache, comma- or newline-separated."),
    input("pull", "false", "`true`: always pull newer base images."),
    input("shm-size", "", "Size of /dev/shm for RUN steps (e.g. `2g`)."),
    input("ulimit", "", "Ulimits for RUN steps, one per line (`nofile=1024:1024`)."),
    input("add-hosts", "", "Extra hosts for RUN steps, `host:ip`, comma- or newline-separated."),
    input("allow", "", "Extra privileges: `network.host`, `security.insecure`, comma- or newline-separated."),
    input("outputs", "", "Extra buildx outputs, one per line (`type=local,dest=out`); only with `push: false`."),
    input("provenance", "", "Provenance attestation: empty keeps BuildKit's default; `false` turns it off; `mode=max` …"),
    input("sbom", "", "SBOM attestation: `true`, `false`, or generator options."),
    input("attests", "", "Other attestations, one per line (`type=…`)."),
    input(
        "driver",
        "auto",
        "Builder: `auto` (the daemon's own BuildKit when it can build every platform, else `docker-container`), `docker`, `docker-container`.",
    ),
    input("buildkit-image", DEFAULT_BUILDKIT_IMAGE, "BuildKit image for a `docker-container` builder."),
    input("buildkitd-config", "", "A buildkitd.toml file for a `docker-container` builder."),
    input(
        "buildkitd-config-inline",
        "",
        "buildkitd.toml content for a `docker-container` builder (registry mirrors, private or plain-HTTP registries).",
    ),
    input(
        "driver-opts",
        "",
        "Driver options for a `docker-container` builder, one per line (`image=…`, `network=host`, `env.NAME=value`).",
    ),
    input("buildkitd-flags", "", "Flags for buildkitd in a `docker-container` builder."),
    input(
        "append",
        "",
        "Extra builder nodes, a YAML list of `name`, `endpoint` (ssh:// or tcp://), `platforms`, `driver-opts`: one builder spanning native machines.",
    ),
    input(
        "qemu",
        "auto",
        "`auto`: install QEMU emulators only for platforms the builder cannot run yet; `true`: install for every non-native platform; `false`: never.",
    ),
    input("qemu-image", DEFAULT_QEMU_IMAGE, "Installer image for QEMU emulators (speaks tonistiigi/binfmt's interface)."),
    input("insecure-registries", "", "Registries reached over plain HTTP (`host:port`), comma- or newline-separated."),
    input(
        "mode",
        "build",
        "`build`: build every platform and push. `digest`: build this runner's platform (or the one in `platforms`) and push it by digest, untagged, writing the digest to `digests-dir` for a later `merge`. `merge`: combine the digests of `digest` runs into one tagged multi-platform image.",
    ),
    input("digests", "", "For `mode: merge`: the digests to combine, one per line. Empty: every file in `digests-dir`."),
    input(
        "digests-dir",
        "",
        "Where `mode: digest` writes, and `mode: merge` reads, one file per platform holding its digest. Empty: `digests` under `RUNNER_TEMP`.",
    ),
    InputDef {
        secret: true,
        ..input(
            "github-token",
            "",
            "A token for GitHub's API (`secrets.GITHUB_TOKEN`), used by `release-notes`, and to read the default branch and the commit's date when the event payload lacks them. Masked.",
        )
    },
    input(
        "release-notes",
        "false",
        "`true`: on a `release` event, add a \"Container image\" section (pullable digest, tags, platforms) to the release's notes; a re-run replaces it. Needs `github-token` with `contents: write`.",
    ),
    input(
        "preflight",
        "true",
        "Before building, check every base image of the Dockerfile offers every platform it is needed for, and lint the Dockerfile: `true` fails on a missing platform, `warn` only warns, `false` skips.",
    ),
    input(
        "verify",
        "true",
        "After pushing, check every tag resolves to the digest, every platform is in the index with a matching config, and no binary of another architecture is in a platform's layers: `true`, `warn`, `false`.",
    ),
    input(
        "smoke-test",
        "",
        "A command run in the pushed image of every platform (under QEMU where needed), e.g. `myapp --version`; it must exit 0. Split as a shell would; wrap in `sh -c '…'` for shell syntax.",
    ),
    input(
        "export",
        "",
        "Also save the image as files: `docker` or `oci`: a tarball per platform loadable with `docker load`, a multi-platform OCI layout tarball, and `SHA256SUMS`.",
    ),
    input(
        "export-dir",
        "",
        "Where `export` writes. Empty: `multiarch-export` under `RUNNER_TEMP` (or the working directory outside a workflow).",
    ),
    input("load", "false", "`true`: also load the image for the runner's own platform into the Docker daemon."),
    input("dry-run", "false", "`true`: print the plan (tags, platforms, buildx arguments) and touch nothing."),
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
    OutputDef { name: "tags", doc: "Full references that were pushed, one per line (or `sep-tags` apart)." },
    OutputDef { name: "tag-names", doc: "The tags that were pushed, without the image name, one per line (or `sep-tags` apart)." },
    OutputDef {
        name: "platforms",
        doc: "JSON object: platform → its manifest digest, read back from the registry (attestations left out).",
    },
    OutputDef { name: "metadata", doc: "buildx's build metadata (JSON)." },
    OutputDef { name: "version", doc: "The main version computed from the ref, the event or `version`." },
    OutputDef { name: "labels", doc: "Labels applied to the image, `key=value` per line (or `sep-labels` apart)." },
    OutputDef { name: "annotations", doc: "Annotations applied, `level:key=value` per line." },
    OutputDef { name: "json", doc: "Everything above as one JSON object." },
];

pub fn find(name: &str) -> Option<&'static InputDef> {
    INPUTS.iter().find(|i| i.name == name)
}

/// Raw input strings by name, defaults filled in, as the runner or the
/// command line gave them.
#[derive(Clone, Default)]
pub struct RawInputs {
    values: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for RawInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            let secret = find(name).is_some_and(|i| i.secret);
            map.entry(name, if secret { &"***" } else { value });
        }
        map.finish()
    }
}

/// The environment variable the runner sets for an input: uppercased,
/// spaces to `_`, hyphens kept.
pub fn env_name(input: &str) -> String {
    format!("INPUT_{}", input.to_uppercase().replace(' ', "_"))
}

/// Inputs whose spaces are meaningful (a separator may be a space).
const KEEP_WHITESPACE: &[&str] = &["sep-tags", "sep-labels"];

/// An input's value as given: trimmed, except for [`KEEP_WHITESPACE`] inputs.
fn given_value(name: &str, value: &str) -> String {
    if KEEP_WHITESPACE.contains(&name) { value.to_string() } else { value.trim().to_string() }
}

impl RawInputs {
    /// Reads `INPUT_*` variables. An input the runner passes empty takes the
    /// table's default, as the runner itself would.
    pub fn from_env(env: &HashMap<String, String>) -> RawInputs {
        let mut values = BTreeMap::new();
        for def in INPUTS {
            let value = env.get(&env_name(def.name)).map(|v| given_value(def.name, v)).filter(|v| !v.is_empty());
            values.insert(def.name, value.unwrap_or_else(|| def.default.to_string()));
        }
        RawInputs { values }
    }

    /// From `(name, value)` pairs, e.g. command-line flags; unknown names are
    /// an error.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Result<RawInputs> {
        let mut raw = RawInputs::from_env(&HashMap::new());
        for (name, value) in pairs {
            let Some(def) = find(name) else { bail!("`{name}` is not an input of this action") };
            raw.values.insert(def.name, given_value(def.name, &value));
        }
        Ok(raw)
    }

    /// The value of an input of the table.
    pub fn get(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(value) => value,
            None => panic!("`{name}` is not in the input table"),
        }
    }

    /// Secret values given, to mask before anything else is printed: secret
    /// inputs whole and by line, each `secrets` value, and the passwords in
    /// `registry-auth`.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> =
            INPUTS.iter().filter(|i| i.secret).map(|i| self.get(i.name).to_string()).filter(|v| !v.is_empty()).collect();
        if let Ok(values) = crate::build_options::parse_secret_values(self.get("secrets")) {
            secrets.extend(values.into_iter().map(|(_, value)| value).filter(|v| !v.trim().is_empty()));
        }
        if let Ok(entries) = serde_yaml_ng::from_str::<Vec<serde_yaml_ng::Value>>(self.get("registry-auth")) {
            secrets.extend(entries.iter().filter_map(|e| e.get("password").and_then(|p| p.as_str()).map(str::to_string)));
        }
        secrets
    }
}

/// Splits a list input: newline-separated, and comma-separated too when
/// `commas` (for values that never contain a comma).
pub fn split_list(text: &str, commas: bool) -> Vec<String> {
    let separators: &[char] = if commas { &[',', '\n'] } else { &['\n'] };
    text.split(separators).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Parses `true`/`false` (as YAML spells them) for the named input.
pub fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" | "" => Ok(false),
        _ => bail!("{name}: `{value}` is not accepted; use true or false"),
    }
}

/// Parses one of the named choices for the input.
pub fn parse_choice<'a>(name: &str, value: &str, choices: &[&'a str]) -> Result<&'a str> {
    let lower = value.to_ascii_lowercase();
    match choices.iter().find(|c| **c == lower) {
        Some(choice) => Ok(choice),
        None => bail!("{name}: `{value}` is not accepted; use one of {}", choices.join(", ")),
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
        let raw = RawInputs::from_pairs([("password", "hunter2".to_string())]).unwrap();
        assert_eq!(raw.secrets(), vec!["hunter2"]);
        assert!(!format!("{raw:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_inputs_and_bad_values_are_named() {
        assert!(RawInputs::from_pairs([("nope", String::new())]).unwrap_err().to_string().contains("`nope`"));
        assert_eq!(parse_bool("push", "maybe").unwrap_err().to_string(), "push: `maybe` is not accepted; use true or false");
        assert_eq!(parse_choice("driver", "Docker", &["auto", "docker"]).unwrap(), "docker");
        assert!(parse_choice("driver", "kubernetes", &["auto", "docker"]).unwrap_err().to_string().starts_with("driver: `kubernetes`"));
    }

    #[test]
    fn lists_split() {
        assert_eq!(split_list("a, b\nc\n\n", true), vec!["a", "b", "c"]);
        assert_eq!(split_list("A=1,2\nB=3", false), vec!["A=1,2", "B=3"]);
    }
}
