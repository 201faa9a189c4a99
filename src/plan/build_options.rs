//! The build options users bring from docker/build-push-action, under the
//! same names and list syntax, turned into buildx arguments as it turns
//! them: its secrets lines (read as CSV, invalid lines left out with a
//! warning) and its attestations (provenance with the workflow run as
//! builder id, and by default `mode=max` for a public repository, `mode=min`
//! for a private one). Secret values never appear among the arguments: they
//! reach buildx through its environment (`--secret id=…,env=…`) or a file
//! it reads.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};

use crate::inputs::RawInputs;
use crate::inputs::choices::{CompressionWord, NetworkWord, word};
use crate::inputs::csv;
use crate::names::Secret;
use crate::runner::GithubContext;

/// Where a build secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A value given in `secrets`, passed to buildx in this variable.
    Value { env: String, value: Secret },
    /// A file named in `secret-files`.
    File(PathBuf),
    /// An environment variable named in `secret-envs`.
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSecret {
    pub id: String,
    pub source: SecretSource,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    pub secrets: Vec<BuildSecret>,
    pub ssh: Vec<String>,
    pub build_contexts: Vec<String>,
    pub network: Option<String>,
    pub no_cache: bool,
    pub no_cache_filters: Vec<String>,
    pub pull: bool,
    pub shm_size: Option<String>,
    /// buildx `--cgroup-parent`.
    pub cgroup_parent: Option<String>,
    pub ulimits: Vec<String>,
    pub add_hosts: Vec<String>,
    pub allow: Vec<String>,
    pub outputs: Vec<String>,
    /// Every `--attest` value from `provenance`, `sbom` and `attests`, in
    /// docker/build-push-action's order.
    pub attests: Vec<String>,
    /// The provenance the build that pushes gets when neither `provenance`
    /// nor `attests` asks for one (see [`default_provenance`]).
    pub default_provenance: Option<String>,
    pub compression: Option<String>,
    pub compression_level: Option<u32>,
    /// `secrets` entries left out (no id or no value): never used, but
    /// masked like the values.
    pub unused_secret_lines: Vec<Secret>,
}

/// The environment variable buildx reads the n-th secret value from.
fn secret_env(index: usize) -> String {
    format!("MULTIARCH_ACTION_SECRET_{index}")
}

/// A secret id as BuildKit accepts it.
fn check_id(input: &str, id: &str, line: &str) -> Result<()> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        bail!(
            "{input}: `{line}` needs an id of letters, digits, `-`, `_` or `.` before `=`; write ID=…"
        );
    }
    Ok(())
}

/// The `type=` of a cache or output spec (`user/app:cache` alone means a registry ref).
pub fn spec_type(spec: &str) -> &str {
    spec.split(',').find_map(|part| part.trim().strip_prefix("type=")).unwrap_or("registry")
}

/// A `type=gha` cache spec with the service's own scope (`scope=<service>`,
/// or the given scope with `-<service>`); any other spec as it is.
fn service_scope(spec: &str, service: Option<&str>) -> String {
    let Some(service) = service.filter(|_| spec_type(spec) == "gha") else {
        return spec.to_string();
    };
    let mut scoped = false;
    let mut parts: Vec<String> = spec
        .split(',')
        .map(|part| match part.trim().strip_prefix("scope=") {
            Some(scope) => {
                scoped = true;
                format!("scope={scope}-{service}")
            }
            None => part.to_string(),
        })
        .collect();
    if !scoped {
        parts.push(format!("scope={service}"));
    }
    parts.join(",")
}

/// The level `compression-level` gives, checked against the range of the
/// chosen compressor (`compression`, empty meaning gzip).
fn parse_compression_level(
    compression: CompressionWord,
    level: Option<&str>,
) -> Result<Option<u32>> {
    let Some(level) = level else { return Ok(None) };
    let (name, highest) = match compression {
        CompressionWord::Zstd => ("zstd", 22),
        CompressionWord::Estargz => ("estargz", 9),
        CompressionWord::Gzip | CompressionWord::Default => ("gzip", 9),
    };
    match level.parse::<u32>() {
        Ok(n) if n <= highest => Ok(Some(n)),
        _ => bail!(
            "compression-level: `{level}` is not a level for {name}; give a whole number from 0 to {highest}"
        ),
    }
}

impl BuildOptions {
    /// What the image output adds for `compression` and
    /// `compression-level` (`,compression=zstd,…`); empty when neither is set.
    /// zstd and estargz need OCI media types.
    pub fn output_compression(&self) -> String {
        let mut text = String::new();
        if let Some(compression) = &self.compression {
            text.push_str(&format!(",compression={compression}"));
            if compression != "gzip" {
                text.push_str(",oci-mediatypes=true");
            }
        }
        if let Some(level) = self.compression_level {
            text.push_str(&format!(",compression-level={level}"));
        }
        text
    }

    /// Reads the build options; `github` gives the workflow run that names
    /// the provenance's builder and whether the repository is private.
    /// Invalid secrets lines are left out, each with a warning.
    pub fn parse(
        raw: &RawInputs,
        github: &GithubContext,
        warnings: &mut Vec<String>,
    ) -> Result<BuildOptions> {
        let mut secrets = Vec::new();
        let SecretValues { values, unused } = parse_secret_values(raw.get("secrets"), warnings)?;
        for (index, (id, value)) in values.into_iter().enumerate() {
            secrets.push(BuildSecret {
                id,
                source: SecretSource::Value { env: secret_env(index), value: Secret::new(value) },
            });
        }
        for (id, path) in secret_lines("secret-files", raw.get("secret-files"), true, warnings)? {
            let path = PathBuf::from(path.trim_matches('"'));
            if !path.is_file() {
                bail!(
                    "secret-files: `{}` (for id {id}) is not a file; give a path that exists on the runner",
                    path.display(),
                );
            }
            secrets.push(BuildSecret { id, source: SecretSource::File(path) });
        }
        for (id, var) in secret_lines("secret-envs", raw.get("secret-envs"), false, warnings)? {
            secrets.push(BuildSecret { id, source: SecretSource::Env(var) });
        }
        let cache_to: Vec<String> = raw
            .list("cache-to")
            .into_iter()
            .map(|spec| {
                if spec.contains("ignore-error=") || spec_type(&spec) == "inline" {
                    spec
                } else {
                    format!("{spec},ignore-error=true")
                }
            })
            .collect();
        let compression = raw.choice::<CompressionWord>("compression")?;
        let outputs = raw.list("outputs");
        let attests = raw.list("attests");
        let run_url = github.workflow_run_url();
        let provenance = raw.text("provenance");
        let default_provenance = match (provenance, run_url.as_deref()) {
            (None, Some(url))
                if !github.no_default_attestations
                    && !attests.iter().any(|a| has_attestation_type("provenance", a))
                    && !outputs.iter().any(|o| spec_type(o) == "docker") =>
            {
                Some(default_provenance(url, github.repository_is_private()))
            }
            _ => None,
        };
        let options = BuildOptions {
            cache_from: raw.list("cache-from"),
            cache_to,
            secrets,
            ssh: raw.list("ssh"),
            build_contexts: raw.list("build-contexts"),
            network: match raw.choice::<NetworkWord>("network")? {
                NetworkWord::Unset => None,
                network => Some(word(network).to_string()),
            },
            no_cache: raw.bool("no-cache")?,
            no_cache_filters: raw.list("no-cache-filters"),
            pull: raw.bool("pull")?,
            shm_size: raw.text("shm-size").map(str::to_string),
            cgroup_parent: raw.text("cgroup-parent").map(str::to_string),
            ulimits: raw.list("ulimit"),
            add_hosts: raw.list("add-hosts"),
            allow: raw.list("allow"),
            attests: attest_args(provenance, raw.text("sbom"), &attests, run_url.as_deref()),
            outputs,
            default_provenance,
            compression: match compression {
                CompressionWord::Default => None,
                chosen => Some(word(chosen).to_string()),
            },
            compression_level: parse_compression_level(compression, raw.text("compression-level"))?,
            unused_secret_lines: unused,
        };
        options.validate()?;
        Ok(options)
    }

    fn validate(&self) -> Result<()> {
        for context in &self.build_contexts {
            if !context.contains('=') {
                bail!(
                    "build-contexts: `{context}` has no `=`; write NAME=path or NAME=docker-image://image"
                );
            }
        }
        for host in &self.add_hosts {
            if !host.contains(':') && !host.contains('=') {
                bail!("add-hosts: `{host}` is not host:ip; write e.g. db:10.0.0.5");
            }
        }
        for entitlement in &self.allow {
            if !["network.host", "security.insecure"].contains(&entitlement.as_str()) {
                bail!(
                    "allow: `{entitlement}` is not accepted; use network.host or security.insecure"
                );
            }
        }
        for spec in self.cache_from.iter().chain(&self.cache_to) {
            let kind = spec_type(spec);
            if !["registry", "local", "inline", "gha", "s3", "azblob"].contains(&kind) {
                bail!(
                    "cache-from/cache-to: `{spec}` has an unknown type `{kind}`; use registry, local, inline, gha, s3 or azblob"
                );
            }
        }
        Ok(())
    }

    /// True when a cache export needs a builder that can export cache.
    pub fn exports_cache(&self) -> bool {
        self.cache_to.iter().any(|spec| spec_type(spec) != "inline")
    }

    /// The cache exports that every service of a deployment would write to
    /// at once: all but `inline` and `gha` (which gets a scope per service).
    pub(crate) fn shared_cache_exports(&self) -> impl Iterator<Item = &String> {
        self.cache_to.iter().filter(|spec| !["inline", "gha"].contains(&spec_type(spec)))
    }

    /// The buildx arguments; secret values are referred to, never included.
    /// A Compose service's build (`service`) reads and writes the GitHub
    /// cache under a scope of its own.
    pub fn args(&self, service: Option<&str>) -> Vec<String> {
        let scoped = |specs: &[String]| -> Vec<String> {
            specs.iter().map(|spec| service_scope(spec, service)).collect()
        };
        let (cache_from, cache_to) = (scoped(&self.cache_from), scoped(&self.cache_to));
        let mut args = Vec::new();
        let mut push = |flag: &str, values: &[String]| {
            for value in values {
                args.push(flag.to_string());
                args.push(value.clone());
            }
        };
        push("--cache-from", &cache_from);
        push("--cache-to", &cache_to);
        push("--ssh", &self.ssh);
        push("--build-context", &self.build_contexts);
        push("--no-cache-filter", &self.no_cache_filters);
        push("--ulimit", &self.ulimits);
        push("--add-host", &self.add_hosts);
        push("--allow", &self.allow);
        push("--output", &self.outputs);
        push("--attest", &self.attests);
        for secret in &self.secrets {
            let spec = match &secret.source {
                SecretSource::Value { env, .. } => format!("id={},env={env}", secret.id),
                SecretSource::File(path) => format!("id={},src={}", secret.id, path.display()),
                SecretSource::Env(var) => format!("id={},env={var}", secret.id),
            };
            args.extend(["--secret".to_string(), spec]);
        }
        if let Some(network) = &self.network {
            args.extend(["--network".to_string(), network.clone()]);
        }
        if self.no_cache {
            args.push("--no-cache".to_string());
        }
        if self.pull {
            args.push("--pull".to_string());
        }
        if let Some(size) = &self.shm_size {
            args.extend(["--shm-size".to_string(), size.clone()]);
        }
        if let Some(parent) = &self.cgroup_parent {
            args.extend(["--cgroup-parent".to_string(), parent.clone()]);
        }
        args
    }

    /// Variables buildx needs in its environment: the secret values.
    pub fn env(&self) -> Vec<(String, Secret)> {
        self.secrets
            .iter()
            .filter_map(|s| match &s.source {
                SecretSource::Value { env, value } => Some((env.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    /// Names of build arguments that look like secrets.
    pub fn build_args_that_look_secret(&self, build_args: &[(String, String)]) -> Vec<String> {
        build_args
            .iter()
            .map(|(name, _)| name)
            .filter(|name| {
                let upper = name.to_ascii_uppercase();
                ["TOKEN", "PASSWORD", "PASSWD", "SECRET", "KEY", "CREDENTIAL"]
                    .iter()
                    .any(|word| upper.contains(word))
            })
            .cloned()
            .collect()
    }

    /// Values to mask: the secret values, and the `secrets` entries left out.
    pub fn secret_values(&self) -> Vec<String> {
        let unused = self.unused_secret_lines.iter().map(|s| s.expose().to_string());
        self.env().into_iter().map(|(_, v)| v.expose().to_string()).chain(unused).collect()
    }
}

/// The entries of `secrets`: `(id, value)` pairs, and the entries left out.
#[derive(Debug, Default)]
pub struct SecretValues {
    pub values: Vec<(String, String)>,
    pub unused: Vec<Secret>,
}

/// The `ID=value` entries of `secrets`, read as docker/build-push-action
/// reads them: as CSV, so an entry in double quotes may hold commas and line
/// breaks and `""` in it is one `"` (`"JSON={""a"":1}"` is `JSON={"a":1}`);
/// a value is kept as written, spaces and quotes inside it too. An entry
/// with no id or no value is not a valid secret: it is left out with a
/// warning that names its id or its place, never its text; the second list
/// holds those entries, to be masked.
pub fn parse_secret_values(text: &str, warnings: &mut Vec<String>) -> Result<SecretValues> {
    let entries = csv::list(text, true, false).map_err(|e| unclosed("secrets", e))?;
    let (mut values, mut unused) = (Vec::new(), Vec::new());
    for (at, entry) in entries.into_iter().enumerate() {
        if entry.trim().is_empty() {
            continue;
        }
        match entry.split_once('=') {
            Some((id, value)) if !id.trim().is_empty() && !value.is_empty() => {
                check_id("secrets", id.trim(), id.trim())?;
                values.push((id.trim().to_string(), value.to_string()));
            }
            Some((id, _)) if !id.trim().is_empty() => {
                check_id("secrets", id.trim(), id.trim())?;
                warnings.push(format!(
                    "secrets: `{}=` is not a valid secret (no value after `=`); it is left out",
                    id.trim()
                ));
            }
            _ => {
                warnings.push(format!(
                    "secrets: entry {} is not a valid secret (no `ID=` in front of it); it is left out; write ID=value, and quote a value that spans lines",
                    at + 1
                ));
                unused.push(Secret::new(entry));
            }
        }
    }
    Ok(SecretValues { values, unused })
}

/// The `ID=path` lines of `secret-files` (`ignore_comma`) or the `ID=VARIABLE`
/// items of `secret-envs` (also comma-separated), read as CSV and trimmed as
/// docker/build-push-action reads them; a line with no id or nothing after
/// `=` is left out with a warning naming it (paths and variable names are
/// not secret).
fn secret_lines(
    input: &str,
    text: &str,
    ignore_comma: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, String)>> {
    let what = if ignore_comma { "path" } else { "ENV_VARIABLE" };
    let mut lines = Vec::new();
    for line in csv::list(text, ignore_comma, true).map_err(|e| unclosed(input, e))? {
        match line.split_once('=').map(|(id, rest)| (id.trim(), rest.trim())) {
            Some((id, rest)) if !id.is_empty() && !rest.is_empty() => {
                check_id(input, id, &line)?;
                lines.push((id.to_string(), rest.to_string()));
            }
            _ if line.is_empty() => {}
            _ => warnings.push(format!(
                "{input}: `{line}` is not a valid secret; it is left out; write ID={what}"
            )),
        }
    }
    Ok(lines)
}

/// The error of a quote that opens an entry and never closes.
fn unclosed(input: &str, error: csv::QuoteNotClosed) -> anyhow::Error {
    anyhow!(
        "{input}: the quote that opens line {} is never closed; end the quoted entry with `\"`",
        error.line
    )
}

/// docker/build-push-action's provenance when none is asked for: `mode=max`
/// for a public repository, `mode=min` (attached only where the exporter
/// can, as buildx's own default) for a private one; the workflow run as
/// builder id either way.
pub fn default_provenance(run_url: &str, private: bool) -> String {
    if private {
        format!("type=provenance,mode=min,inline-only=true,builder-id={run_url}")
    } else {
        format!("type=provenance,mode=max,builder-id={run_url}")
    }
}

/// The fields of an attestation spec (`type=sbom,generator=…`), trimmed.
fn attestation_fields(spec: &str) -> Vec<String> {
    csv::records(spec)
        .unwrap_or_else(|_| vec![spec.split(',').map(str::to_string).collect()])
        .into_iter()
        .flatten()
        .map(|f| f.trim().to_string())
        .collect()
}

/// Whether an attestation spec is of type `name` (`type=provenance,…`).
fn has_attestation_type(name: &str, spec: &str) -> bool {
    attestation_fields(spec).iter().any(|field| {
        field.split_once('=').is_some_and(|(k, v)| k.trim() == "type" && v.trim() == name)
    })
}

/// The words docker/actions-toolkit reads as a boolean.
fn toolkit_bool(word: &str) -> Option<bool> {
    match word {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// An attestation spec as buildx gets it: a bare boolean field becomes
/// `disabled=…` (`type=provenance,false` is `type=provenance,disabled=true`).
fn attestation_attrs(spec: &str) -> String {
    attestation_fields(spec)
        .into_iter()
        .map(|field| match toolkit_bool(&field) {
            Some(on) => format!("disabled={}", !on),
            None => field,
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Provenance attributes with the workflow run as builder id, unless they
/// name one already (or there is no workflow run).
fn with_builder_id(attrs: &str, run_url: Option<&str>) -> String {
    let Some(url) = run_url else { return attrs.to_string() };
    if attrs.is_empty() {
        return format!("builder-id={url}");
    }
    let named = attestation_fields(attrs)
        .iter()
        .any(|f| f.split_once('=').is_some_and(|(k, _)| k.trim() == "builder-id"));
    if named { attrs.to_string() } else { format!("{attrs},builder-id={url}") }
}

/// The `--attest` values of `provenance`, `sbom` and `attests`, as
/// docker/build-push-action gives them: `provenance: true` is the run as
/// builder id, `false` disables it, other text gets the builder id added;
/// `provenance` and `sbom` win over an `attests` line of the same type.
fn attest_args(
    provenance: Option<&str>,
    sbom: Option<&str>,
    attests: &[String],
    run_url: Option<&str>,
) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(provenance) = provenance {
        let attrs = match provenance {
            "true" | "True" | "TRUE" => with_builder_id("", run_url),
            "false" | "False" | "FALSE" => "false".to_string(),
            other => with_builder_id(other, run_url),
        };
        let spec = if attrs.is_empty() {
            "type=provenance".into()
        } else {
            format!("type=provenance,{attrs}")
        };
        args.push(attestation_attrs(&spec));
    }
    if let Some(sbom) = sbom {
        args.push(attestation_attrs(&format!("type=sbom,{sbom}")));
    }
    for attest in attests {
        if has_attestation_type("provenance", attest) {
            if provenance.is_none() {
                args.push(with_builder_id(attest, run_url));
            }
        } else if has_attestation_type("sbom", attest) {
            if sbom.is_none() {
                args.push(attest.clone());
            }
        } else {
            args.push(attestation_attrs(attest));
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string()))).unwrap()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<BuildOptions> {
        BuildOptions::parse(&raw(pairs), &GithubContext::default(), &mut Vec::new())
    }

    /// A workflow run of a repository that is private or not.
    fn run_of(private: Option<bool>) -> GithubContext {
        GithubContext {
            server_url: "https://github.com".into(),
            repository: "acme/app".into(),
            run_id: "123456789".into(),
            run_attempt: "1".into(),
            event: match private {
                Some(private) => serde_json::json!({ "repository": { "private": private } }),
                None => serde_json::Value::Null,
            },
            ..GithubContext::default()
        }
    }

    const RUN: &str = "https://github.com/acme/app/actions/runs/123456789/attempts/1";

    #[test]
    fn options_become_buildx_arguments() {
        let options = parse(&[
            ("cache-from", "type=registry,ref=r/app:cache\ntype=gha"),
            ("cache-to", "type=gha,mode=max\ntype=inline"),
            ("no-cache", "true"),
            ("pull", "true"),
            ("add-hosts", "db:10.0.0.5,cache:10.0.0.6"),
            ("build-contexts", "extra=./more"),
            ("provenance", "false"),
            ("network", "host"),
            ("secrets", "token=abc"),
        ])
        .unwrap();
        let scoped = options.args(Some("api"));
        assert!(scoped.contains(&"type=gha,scope=api".to_string()), "{scoped:?}");
        assert!(scoped.contains(&"type=registry,ref=r/app:cache".to_string()), "{scoped:?}");
        assert_eq!(
            service_scope("type=gha,scope=main,mode=max", Some("api")),
            "type=gha,scope=main-api,mode=max"
        );
        assert_eq!(service_scope("type=gha,scope=main", None), "type=gha,scope=main");
        assert_eq!(
            options.args(None),
            [
                "--cache-from",
                "type=registry,ref=r/app:cache",
                "--cache-from",
                "type=gha",
                "--cache-to",
                "type=gha,mode=max,ignore-error=true",
                "--cache-to",
                "type=inline",
                "--build-context",
                "extra=./more",
                "--add-host",
                "db:10.0.0.5",
                "--add-host",
                "cache:10.0.0.6",
                "--attest",
                "type=provenance,disabled=true",
                "--secret",
                "id=token,env=MULTIARCH_ACTION_SECRET_0",
                "--network",
                "host",
                "--no-cache",
                "--pull",
            ]
        );
        assert!(
            !options.args(None).iter().any(|a| a.contains("abc")),
            "secret values never on the command line"
        );
        assert_eq!(
            options.env(),
            vec![("MULTIARCH_ACTION_SECRET_0".to_string(), Secret::new("abc"))]
        );
        assert!(options.exports_cache());
    }

    #[test]
    fn compression_inputs_become_image_output_options() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], ""),
            (&[("compression", "gzip")], ",compression=gzip"),
            (
                &[("compression", "gzip"), ("compression-level", "9")],
                ",compression=gzip,compression-level=9",
            ),
            (
                &[("compression", "zstd"), ("compression-level", "19")],
                ",compression=zstd,oci-mediatypes=true,compression-level=19",
            ),
            (&[("compression", "ZSTD")], ",compression=zstd,oci-mediatypes=true"),
            (&[("compression", "estargz")], ",compression=estargz,oci-mediatypes=true"),
            (&[("compression-level", "0")], ",compression-level=0"),
        ];
        for (pairs, expected) in cases {
            assert_eq!(parse(pairs).unwrap().output_compression(), *expected, "{pairs:?}");
        }
        let mistakes = [
            (
                &[("compression", "brotli")][..],
                "compression: `brotli` is not accepted; use one of gzip, zstd, estargz",
            ),
            (
                &[("compression-level", "10")][..],
                "compression-level: `10` is not a level for gzip; give a whole number from 0 to 9",
            ),
            (
                &[("compression", "zstd"), ("compression-level", "23")][..],
                "compression-level: `23` is not a level for zstd; give a whole number from 0 to 22",
            ),
            (
                &[("compression", "estargz"), ("compression-level", "fast")][..],
                "compression-level: `fast` is not a level for estargz; give a whole number from 0 to 9",
            ),
        ];
        for (pairs, expected) in mistakes {
            assert_eq!(parse(pairs).unwrap_err().to_string(), expected, "{pairs:?}");
        }
    }

    /// `secrets` as written in a workflow, and the values buildx receives
    /// (in its environment, by id), as docker/build-push-action gives them.
    #[test]
    fn secrets_reach_buildx_as_build_push_action_passes_them() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("A=1\nB=two words", &[("A", "1"), ("B", "two words")]),
            // Docker's documented JSON secret, quoted as CSV.
            (r#""JSON_SECRET={""key1"":""value1""}""#, &[("JSON_SECRET", r#"{"key1":"value1"}"#)]),
            // A quoted entry spans lines, empty ones and a last line break
            // included.
            (
                "\"KEY=line1\nline2\n\nline4\n\"\nNEXT=x",
                &[("KEY", "line1\nline2\n\nline4\n"), ("NEXT", "x")],
            ),
            // Commas and further `=` belong to the value.
            ("TOKEN=abc,def=123", &[("TOKEN", "abc,def=123")]),
            ("url=https://x/?a=b", &[("url", "https://x/?a=b")]),
            // A quote inside the value is kept as written.
            ("KEY=\"a\"", &[("KEY", "\"a\"")]),
            ("KEY=a\"\"b", &[("KEY", "a\"\"b")]),
            // Spaces around the value are kept; around the id they are not.
            ("  KEY = v  ", &[("KEY", " v  ")]),
            // An id with no value is left out.
            ("INVALID_SECRET=\nGOOD=1", &[("GOOD", "1")]),
            // A line with no `=`, or nothing before it, is left out.
            ("KEY=one\ntwo\n=three", &[("KEY", "one")]),
        ];
        for (text, expected) in cases {
            let options = parse(&[("secrets", text)]).unwrap();
            let got: Vec<(String, String)> = options
                .secrets
                .iter()
                .zip(options.env())
                .map(|(secret, (_, value))| (secret.id.clone(), value.expose().to_string()))
                .collect();
            let expected: Vec<(String, String)> =
                expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(got, expected, "{text:?}");
        }
    }

    /// Lines docker/build-push-action warns about and leaves out: the
    /// warning names the line (or, for `secrets`, the id or the entry's
    /// place) and the input, never a value.
    #[test]
    fn invalid_secret_lines_are_left_out_with_a_warning() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let good_file = format!("GOOD={}", file.path().display());
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "secrets",
                "INVALID_SECRET=",
                0,
                "secrets: `INVALID_SECRET=` is not a valid secret (no value after `=`); it is left out",
            ),
            (
                "secrets",
                "KEY=value1\nhunter2-continued",
                1,
                "secrets: entry 2 is not a valid secret (no `ID=` in front of it); it is left out; write ID=value, and quote a value that spans lines",
            ),
            (
                "secrets",
                "=hunter2",
                0,
                "secrets: entry 1 is not a valid secret (no `ID=` in front of it); it is left out; write ID=value, and quote a value that spans lines",
            ),
            (
                "secret-files",
                "INVALID_SECRET=",
                0,
                "secret-files: `INVALID_SECRET=` is not a valid secret; it is left out; write ID=path",
            ),
            (
                "secret-files",
                "nofile",
                0,
                "secret-files: `nofile` is not a valid secret; it is left out; write ID=path",
            ),
            (
                "secret-envs",
                "INVALID_SECRET=",
                0,
                "secret-envs: `INVALID_SECRET=` is not a valid secret; it is left out; write ID=ENV_VARIABLE",
            ),
            (
                "secret-envs",
                "TOKEN",
                0,
                "secret-envs: `TOKEN` is not a valid secret; it is left out; write ID=ENV_VARIABLE",
            ),
        ];
        for (input, value, kept, warning) in cases {
            let mut warnings = Vec::new();
            let options = BuildOptions::parse(
                &raw(&[(input, value)]),
                &GithubContext::default(),
                &mut warnings,
            )
            .unwrap();
            assert_eq!(options.secrets.len(), *kept, "{input}: {value:?}");
            assert_eq!(warnings, [*warning], "{input}: {value:?}");
            assert!(!warnings[0].contains("hunter2"), "no value in a warning");
        }
        // What was left out of `secrets` is masked all the same.
        let options = parse(&[("secrets", "KEY=value1\nhunter2-continued")]).unwrap();
        assert!(options.secret_values().contains(&"hunter2-continued".to_string()));

        // The valid lines around them are kept.
        let mut warnings = Vec::new();
        let options = BuildOptions::parse(
            &raw(&[
                ("secret-files", &format!("{good_file}\nINVALID_SECRET=")),
                ("secret-envs", "MY_SECRET=MY_ENV,INVALID_SECRET=,OTHER=OTHER_ENV"),
            ]),
            &GithubContext::default(),
            &mut warnings,
        )
        .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let specs: Vec<String> = options.args(None).chunks(2).map(|pair| pair[1].clone()).collect();
        assert_eq!(
            specs,
            [
                format!("id=GOOD,src={}", file.path().display()),
                "id=MY_SECRET,env=MY_ENV".into(),
                "id=OTHER,env=OTHER_ENV".into(),
            ]
        );
    }

    #[test]
    fn provenance_as_build_push_action_sets_it() {
        let public = run_of(Some(false));
        let private = run_of(Some(true));
        let outside = GithubContext::default();
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a GithubContext, Option<String>, &'a [String]);
        let cases: &[Case] = &[
            // No input: max for a public repository, min for a private one.
            (&[], &public, Some(format!("type=provenance,mode=max,builder-id={RUN}")), &[]),
            (&[], &run_of(None), Some(format!("type=provenance,mode=max,builder-id={RUN}")), &[]),
            (
                &[],
                &private,
                Some(format!("type=provenance,mode=min,inline-only=true,builder-id={RUN}")),
                &[],
            ),
            // Outside a workflow: BuildKit's own default.
            (&[], &outside, None, &[]),
            // `provenance: false` keeps working.
            (&[("provenance", "false")], &public, None, &["type=provenance,disabled=true".into()]),
            (
                &[("provenance", "true")],
                &public,
                None,
                &[format!("type=provenance,builder-id={RUN}")],
            ),
            (
                &[("provenance", "mode=max")],
                &private,
                None,
                &[format!("type=provenance,mode=max,builder-id={RUN}")],
            ),
            (
                &[("provenance", "builder-id=foo")],
                &public,
                None,
                &["type=provenance,builder-id=foo".into()],
            ),
            (&[("provenance", "mode=max")], &outside, None, &["type=provenance,mode=max".into()]),
            // An `attests` line of type provenance stands in for the default.
            (
                &[("attests", "type=provenance,mode=min")],
                &public,
                None,
                &[format!("type=provenance,mode=min,builder-id={RUN}")],
            ),
            // `provenance` wins over it; `sbom` adds its own.
            (
                &[
                    ("attests", "type=provenance,mode=min"),
                    ("provenance", "mode=max"),
                    ("sbom", "true"),
                ],
                &public,
                None,
                &[
                    format!("type=provenance,mode=max,builder-id={RUN}"),
                    "type=sbom,disabled=false".into(),
                ],
            ),
            // Other attestations leave the default in place.
            (
                &[("attests", "type=sbom,generator=image")],
                &private,
                Some(format!("type=provenance,mode=min,inline-only=true,builder-id={RUN}")),
                &["type=sbom,generator=image".into()],
            ),
            // An image loaded into the daemon by `outputs` gets none.
            (&[("outputs", "type=docker,dest=out.tar"), ("push", "false")], &public, None, &[]),
        ];
        for (pairs, github, default, attests) in cases {
            let options = BuildOptions::parse(&raw(pairs), github, &mut Vec::new()).unwrap();
            assert_eq!(&options.default_provenance, default, "{pairs:?}");
            assert_eq!(options.attests, *attests, "{pairs:?}");
        }
        let mut quiet = public.clone();
        quiet.no_default_attestations = true;
        let options = BuildOptions::parse(&raw(&[]), &quiet, &mut Vec::new()).unwrap();
        assert_eq!(options.default_provenance, None, "BUILDX_NO_DEFAULT_ATTESTATIONS");
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (("secret-files", "token=/nonexistent/file"), "secret-files: `/nonexistent/file`"),
            (
                ("secrets", "A=1\n\"B=2\nmore"),
                "secrets: the quote that opens line 2 is never closed",
            ),
            (("secrets", "bad id=1"), "secrets: `bad id` needs an id"),
            (("build-contexts", "./dir"), "build-contexts: "),
            (("add-hosts", "db"), "add-hosts: "),
            (("allow", "everything"), "allow: "),
            (("network", "bridge2"), "network: "),
            (("cache-to", "type=floppy"), "cache-from/cache-to: "),
            (("no-cache", "maybe"), "no-cache: "),
        ];
        for ((input, value), expected) in cases {
            let error = parse(&[(input, value)]).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{input}={value}: {error}");
        }
    }
}
