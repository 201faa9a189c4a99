//! The build options users bring from docker/build-push-action, under the
//! same names and list syntax, turned into buildx arguments. Secret values
//! never appear among the arguments: they reach buildx through its
//! environment (`--secret id=…,env=…`) or a file it reads.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::inputs::RawInputs;
use crate::inputs::choices::{CompressionWord, NetworkWord, word};
use crate::names::Secret;

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
    pub provenance: Option<String>,
    pub sbom: Option<String>,
    pub attests: Vec<String>,
    pub compression: Option<String>,
    pub compression_level: Option<u32>,
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

    pub fn parse(raw: &RawInputs) -> Result<BuildOptions> {
        let mut secrets = Vec::new();
        // `secrets`: ID=value, where a value may span lines when quoted.
        for (index, (id, value)) in
            parse_secret_values(raw.text("secrets").unwrap_or_default())?.into_iter().enumerate()
        {
            secrets.push(BuildSecret {
                id,
                source: SecretSource::Value { env: secret_env(index), value: Secret::new(value) },
            });
        }
        for line in raw.list("secret-files") {
            let Some((id, path)) = line.split_once('=') else {
                bail!("secret-files: `{line}` has no `=`; write ID=path/to/file")
            };
            check_id("secret-files", id.trim(), &line)?;
            let path = PathBuf::from(path.trim().trim_matches('"'));
            if !path.is_file() {
                bail!(
                    "secret-files: `{}` (for id {}) is not a file; give a path that exists on the runner",
                    path.display(),
                    id.trim()
                );
            }
            secrets
                .push(BuildSecret { id: id.trim().to_string(), source: SecretSource::File(path) });
        }
        for line in raw.list("secret-envs") {
            let Some((id, var)) = line.split_once('=') else {
                bail!("secret-envs: `{line}` has no `=`; write ID=ENV_VARIABLE")
            };
            check_id("secret-envs", id.trim(), &line)?;
            secrets.push(BuildSecret {
                id: id.trim().to_string(),
                source: SecretSource::Env(var.trim().to_string()),
            });
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
            outputs: raw.list("outputs"),
            provenance: raw.text("provenance").map(str::to_string),
            sbom: raw.text("sbom").map(str::to_string),
            attests: raw.list("attests"),
            compression: match compression {
                CompressionWord::Default => None,
                chosen => Some(word(chosen).to_string()),
            },
            compression_level: parse_compression_level(compression, raw.text("compression-level"))?,
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

    /// The buildx arguments; secret values are referred to, never included.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut push = |flag: &str, values: &[String]| {
            for value in values {
                args.push(flag.to_string());
                args.push(value.clone());
            }
        };
        push("--cache-from", &self.cache_from);
        push("--cache-to", &self.cache_to);
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
        if let Some(provenance) = &self.provenance {
            args.push(format!("--provenance={provenance}"));
        }
        if let Some(sbom) = &self.sbom {
            args.push(format!("--sbom={sbom}"));
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

    /// Values to mask.
    pub fn secret_values(&self) -> Vec<String> {
        self.env().into_iter().map(|(_, v)| v.expose().to_string()).collect()
    }
}

/// `ID=value` entries of `secrets`. A value in double quotes may span lines
/// (`"KEY=line1\nline2"` or `KEY="line1\nline2"`).
pub fn parse_secret_values(text: &str) -> Result<Vec<(String, String)>> {
    let mut entries = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut entry = line.to_string();
        let opens_quote = |s: &str| {
            s.starts_with('"') || s.split_once('=').is_some_and(|(_, v)| v.starts_with('"'))
        };
        if opens_quote(&entry) && !(entry.len() > 1 && entry.ends_with('"')) {
            for next in lines.by_ref() {
                entry.push('\n');
                entry.push_str(next);
                if next.trim_end().ends_with('"') {
                    break;
                }
            }
        }
        let unquoted = entry
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .map(str::to_string)
            .unwrap_or(entry.clone());
        let Some((id, value)) = unquoted.split_once('=') else {
            bail!("secrets: an entry has no `=`; write ID=value, one per line");
        };
        check_id("secrets", id.trim(), id.trim())?;
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        entries.push((id.trim().to_string(), value.to_string()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string()))).unwrap()
    }

    #[test]
    fn options_become_buildx_arguments() {
        let options = BuildOptions::parse(&raw(&[
            ("cache-from", "type=registry,ref=r/app:cache\ntype=gha"),
            ("cache-to", "type=gha,mode=max\ntype=inline"),
            ("no-cache", "true"),
            ("pull", "true"),
            ("add-hosts", "db:10.0.0.5,cache:10.0.0.6"),
            ("build-contexts", "extra=./more"),
            ("provenance", "false"),
            ("network", "host"),
            ("secrets", "token=abc"),
        ]))
        .unwrap();
        assert_eq!(
            options.args(),
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
                "--secret",
                "id=token,env=MULTIARCH_ACTION_SECRET_0",
                "--network",
                "host",
                "--no-cache",
                "--pull",
                "--provenance=false",
            ]
        );
        assert!(
            !options.args().iter().any(|a| a.contains("abc")),
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
            assert_eq!(
                BuildOptions::parse(&raw(pairs)).unwrap().output_compression(),
                *expected,
                "{pairs:?}"
            );
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
            assert_eq!(
                BuildOptions::parse(&raw(pairs)).unwrap_err().to_string(),
                expected,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn secret_values_may_span_lines_when_quoted() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("a=1\nb=two words", &[("a", "1"), ("b", "two words")]),
            ("\"key=line1\nline2\"\nnext=x", &[("key", "line1\nline2"), ("next", "x")]),
            ("key=\"line1\nline2\"", &[("key", "line1\nline2")]),
            ("url=https://x/?a=b", &[("url", "https://x/?a=b")]),
        ];
        for (text, expected) in cases {
            let got = parse_secret_values(text).unwrap();
            let expected: Vec<(String, String)> =
                expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(got, expected, "{text:?}");
        }
        assert!(parse_secret_values("novalue").unwrap_err().to_string().starts_with("secrets: "));
        assert!(parse_secret_values("bad id=1").unwrap_err().to_string().starts_with("secrets: "));
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (("secret-files", "token=/nonexistent/file"), "secret-files: `/nonexistent/file`"),
            (("secret-files", "nofile"), "secret-files: `nofile` has no `=`"),
            (("secret-envs", "TOKEN"), "secret-envs: "),
            (("build-contexts", "./dir"), "build-contexts: "),
            (("add-hosts", "db"), "add-hosts: "),
            (("allow", "everything"), "allow: "),
            (("network", "bridge2"), "network: "),
            (("cache-to", "type=floppy"), "cache-from/cache-to: "),
            (("no-cache", "maybe"), "no-cache: "),
        ];
        for ((input, value), expected) in cases {
            let error = BuildOptions::parse(&raw(&[(input, value)])).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{input}={value}: {error}");
        }
    }
}
