//! Reading a Compose file for a deployment or a bundle: each service's
//! `image:`, `platform:` and `build:` (context, dockerfile, args, target,
//! platforms), with
//! `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `$VAR`
//! and `$$` interpolated from the environment as Compose does.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

/// One service of a Compose file, as far as a bundle needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ComposeService {
    pub name: String,
    /// The image reference, interpolated; for a service with `build:`, where
    /// the build is pushed.
    pub image: Option<String>,
    /// `platform:`, interpolated.
    pub platform: Option<String>,
    /// `build:`, for a service that is built.
    pub build: Option<ComposeBuild>,
}

/// A service's `build:`, interpolated, its paths relative to the directory
/// the Compose file was read from (as the file's own path names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ComposeBuild {
    pub context: PathBuf,
    /// The Dockerfile: `dockerfile:` in the context, else `Dockerfile` there.
    pub dockerfile: PathBuf,
    /// `args:`, in the order written.
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
    /// `platforms:`, interpolated, as written (empty when not given).
    pub platforms: Vec<String>,
}

/// `build:` as written: a context, or a map.
#[derive(Deserialize)]
#[serde(untagged)]
enum BuildShape {
    Context(String),
    Map(Box<BuildMap>),
}

/// Other keys (`labels`, `cache_from`, `network`, …) are read past; those
/// that change what is built and are not carried over are refused.
#[derive(Deserialize, Default)]
struct BuildMap {
    context: Option<String>,
    dockerfile: Option<String>,
    args: Option<ArgsShape>,
    target: Option<String>,
    platforms: Option<Vec<String>>,
    dockerfile_inline: Option<serde_yaml_ng::Value>,
    additional_contexts: Option<serde_yaml_ng::Value>,
    secrets: Option<serde_yaml_ng::Value>,
    ssh: Option<serde_yaml_ng::Value>,
}

impl BuildMap {
    /// The first key given that a bundle does not build with.
    fn unsupported(&self) -> Option<&'static str> {
        [
            ("dockerfile_inline", self.dockerfile_inline.is_some()),
            ("additional_contexts", self.additional_contexts.is_some()),
            ("secrets", self.secrets.is_some()),
            ("ssh", self.ssh.is_some()),
        ]
        .into_iter()
        .find_map(|(key, given)| given.then_some(key))
    }
}

/// `args:` as a map (a value may be empty: taken from the environment) or a
/// list of `NAME=value` (a bare `NAME` is taken from the environment).
#[derive(Deserialize)]
#[serde(untagged)]
enum ArgsShape {
    Map(BTreeMap<String, Option<ScalarShape>>),
    List(Vec<String>),
}

/// A scalar as YAML gives it (`1.2` and `true` are values too).
#[derive(Deserialize)]
#[serde(untagged)]
enum ScalarShape {
    Text(String),
    Number(serde_yaml_ng::Number),
    Bool(bool),
}

impl ScalarShape {
    fn text(self) -> String {
        match self {
            ScalarShape::Text(text) => text,
            ScalarShape::Number(number) => number.to_string(),
            ScalarShape::Bool(value) => value.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct ComposeShape {
    #[serde(default)]
    services: BTreeMap<String, ServiceShape>,
}

#[derive(Deserialize)]
struct ServiceShape {
    image: Option<String>,
    platform: Option<String>,
    /// Some as soon as the key is there, even empty (`build:` alone).
    #[serde(default, deserialize_with = "present")]
    build: Option<serde_yaml_ng::Value>,
}

/// A key that is there, whatever its value (an empty one is `Null`).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_yaml_ng::Value>, D::Error> {
    serde_yaml_ng::Value::deserialize(deserializer).map(Some)
}

/// The services of the Compose document `text` (read from `file`), in name
/// order. A service needs `image:`, `build:` or both.
pub(super) fn services(
    file: &str,
    text: &str,
    env: &HashMap<String, String>,
) -> Result<Vec<ComposeService>> {
    let shape: ComposeShape = serde_yaml_ng::from_str(text).map_err(|e| {
        let place = e.location().map(|l| format!(" at line {}", l.line())).unwrap_or_default();
        anyhow::anyhow!("compose-file: {file} is not a Compose file{place} ({e}); give a file with a `services:` map")
    })?;
    if shape.services.is_empty() {
        bail!("compose-file: {file} has no services; give the deployment's Compose file");
    }
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    let mut services = Vec::new();
    for (name, service) in shape.services {
        let image = service
            .image
            .map(|image| {
                interpolate(&image, env)
                    .with_context(|| format!("compose-file: service `{name}`: image"))
            })
            .transpose()?;
        let platform = service
            .platform
            .map(|p| {
                interpolate(&p, env)
                    .with_context(|| format!("compose-file: service `{name}`: platform"))
            })
            .transpose()?;
        let build = service.build.map(|build| parse_build(&name, dir, build, env)).transpose()?;
        if image.is_none() && build.is_none() {
            bail!("compose-file: service `{name}` has no `image:`; give it the image it runs");
        }
        services.push(ComposeService { name, image, platform, build });
    }
    Ok(services)
}

/// A service's `build:` in either form, interpolated, with its paths joined
/// to `dir` (the Compose file's directory).
fn parse_build(
    service: &str,
    dir: &Path,
    build: serde_yaml_ng::Value,
    env: &HashMap<String, String>,
) -> Result<ComposeBuild> {
    if build.is_null() || build.as_str() == Some("") {
        bail!(
            "compose-file: service `{service}` has `build:` with no context; write `build: .` (or the directory to build, relative to the Compose file)"
        );
    }
    let shape: BuildShape = serde_yaml_ng::from_value(build).map_err(|e| {
        anyhow::anyhow!(
            "compose-file: service `{service}`: `build:` is not a context nor a map of `context`, `dockerfile`, `args`, `target` ({e}); write e.g. `build: ./app`"
        )
    })?;
    let value = |what: &str, text: &str| {
        interpolate(text, env)
            .with_context(|| format!("compose-file: service `{service}`: build {what}"))
    };
    let map = match shape {
        BuildShape::Context(context) => BuildMap { context: Some(context), ..BuildMap::default() },
        BuildShape::Map(map) => *map,
    };
    if let Some(key) = map.unsupported() {
        bail!(
            "compose-file: service `{service}`: build `{key}` is not carried into a bundle build; write it into the Dockerfile and context, or build and push the image first and give it `image:`"
        );
    }
    if map.context.as_deref() == Some("") {
        bail!(
            "compose-file: service `{service}`: build `context` is empty; give the directory to build, relative to the Compose file (`.` for its own)"
        );
    }
    let context = value("context", map.context.as_deref().unwrap_or("."))?;
    if context.contains("://") || context.starts_with("git@") {
        bail!(
            "compose-file: service `{service}`: build context `{context}` is not a directory; a bundle builds local contexts, give a path"
        );
    }
    let context = tidy(&dir.join(&context));
    let dockerfile = match map.dockerfile {
        Some(file) => tidy(&context.join(value("dockerfile", &file)?)),
        None => tidy(&context.join("Dockerfile")),
    };
    let mut args = Vec::new();
    match map.args {
        None => {}
        Some(ArgsShape::Map(map)) => {
            for (arg, given) in map {
                let given = match given {
                    Some(given) => Some(value(&format!("arg {arg}"), &given.text())?),
                    None => env.get(&arg).cloned(),
                };
                // An argument that is neither given nor set is left out, as Compose does.
                if let Some(given) = given {
                    args.push((arg, given));
                }
            }
        }
        Some(ArgsShape::List(lines)) => {
            for line in lines {
                match line.split_once('=') {
                    Some((arg, given)) if !arg.trim().is_empty() => args.push((
                        arg.trim().to_string(),
                        value(&format!("arg {}", arg.trim()), given)?,
                    )),
                    Some(_) => bail!(
                        "compose-file: service `{service}`: build arg `{line}` names no argument; write NAME=value"
                    ),
                    None => {
                        if let Some(given) = env.get(line.trim()) {
                            args.push((line.trim().to_string(), given.clone()));
                        }
                    }
                }
            }
        }
    }
    let target = map.target.map(|t| value("target", &t)).transpose()?.filter(|t| !t.is_empty());
    let platforms = map
        .platforms
        .unwrap_or_default()
        .iter()
        .map(|p| value("platforms", p))
        .collect::<Result<Vec<_>>>()?;
    Ok(ComposeBuild { context, dockerfile, args, target, platforms })
}

/// A path without `.` parts (`./app/./Dockerfile` is `app/Dockerfile`), and
/// `.` for an empty one; `..` is kept.
fn tidy(path: &Path) -> PathBuf {
    let tidy: PathBuf = path.components().filter(|c| *c != Component::CurDir).collect();
    if tidy.as_os_str().is_empty() { PathBuf::from(".") } else { tidy }
}

/// Replaces variables in `value` as Compose does.
pub(super) fn interpolate(value: &str, env: &HashMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .with_context(|| format!("`{value}` has a `${{` without its `}}`"))?;
            out.push_str(&expand(&body[..end], env)?);
            rest = &body[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(env.get(&after[..len]).map(String::as_str).unwrap_or(""));
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// One `${…}` body: `NAME`, `NAME:-default`, `NAME-default`, `NAME:?err`,
/// `NAME?err`, `NAME:+alt`, `NAME+alt`.
fn expand(body: &str, env: &HashMap<String, String>) -> Result<String> {
    let name_len =
        body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
    let (name, operator) = body.split_at(name_len);
    if name.is_empty() {
        bail!("`${{{body}}}` names no variable");
    }
    let value = env.get(name);
    let set_and_not_empty = value.is_some_and(|v| !v.is_empty());
    let given = |prefix: &str| operator.strip_prefix(prefix).map(str::to_string);
    Ok(match operator {
        "" => value.cloned().unwrap_or_default(),
        _ if operator.starts_with(":-") => {
            if set_and_not_empty {
                value.cloned().unwrap_or_default()
            } else {
                given(":-").unwrap_or_default()
            }
        }
        _ if operator.starts_with('-') => value.cloned().or_else(|| given("-")).unwrap_or_default(),
        _ if operator.starts_with(":?") => match set_and_not_empty {
            true => value.cloned().unwrap_or_default(),
            false => bail!("{name} is not set: {}", given(":?").unwrap_or_default()),
        },
        _ if operator.starts_with('?') => match value {
            Some(value) => value.clone(),
            None => bail!("{name} is not set: {}", given("?").unwrap_or_default()),
        },
        _ if operator.starts_with(":+") => {
            if set_and_not_empty {
                given(":+").unwrap_or_default()
            } else {
                String::new()
            }
        }
        _ if operator.starts_with('+') => {
            if value.is_some() {
                given("+").unwrap_or_default()
            } else {
                String::new()
            }
        }
        _ => bail!(
            "`${{{body}}}` is not a variable Compose knows; write ${{NAME}} or ${{NAME:-default}}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        [("TAG", "7.2"), ("EMPTY", ""), ("REGISTRY", "registry.example.com")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }

    #[test]
    fn variables_are_interpolated_as_compose_does() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("redis:${TAG}", Ok("redis:7.2")),
            ("redis:$TAG", Ok("redis:7.2")),
            ("redis:${MISSING:-7.0}", Ok("redis:7.0")),
            ("redis:${EMPTY:-7.0}", Ok("redis:7.0")),
            ("redis:${EMPTY-7.0}", Ok("redis:")),
            ("redis:${MISSING-7.0}", Ok("redis:7.0")),
            ("${REGISTRY}/app:${TAG:-1}", Ok("registry.example.com/app:7.2")),
            ("cost$$", Ok("cost$")),
            ("a:${TAG:+set}", Ok("a:set")),
            ("a:${MISSING:+set}b", Ok("a:b")),
            ("redis:${MISSING:?give a tag}", Err("MISSING is not set: give a tag")),
            ("redis:${TAG", Err("`redis:${TAG` has a `${` without its `}`")),
            ("redis:${:-x}", Err("`${:-x}` names no variable")),
            ("plain", Ok("plain")),
        ];
        for (value, expected) in cases {
            match (interpolate(value, &env()), expected) {
                (Ok(got), Ok(want)) => assert_eq!(&got, want, "{value}"),
                (Err(error), Err(message)) => assert_eq!(error.to_string(), *message, "{value}"),
                (got, _) => panic!("{value}: {got:?}"),
            }
        }
    }

    #[test]
    fn services_give_image_and_platform() {
        let text = "services:\n  db:\n    image: postgres:${PG:-16}\n    platform: linux/arm64\n  cache:\n    image: redis:${TAG}\n";
        let services = services("compose.yaml", text, &env()).unwrap();
        assert_eq!(
            services,
            vec![
                ComposeService {
                    name: "cache".into(),
                    image: Some("redis:7.2".into()),
                    platform: None,
                    build: None
                },
                ComposeService {
                    name: "db".into(),
                    image: Some("postgres:16".into()),
                    platform: Some("linux/arm64".into()),
                    build: None
                },
            ]
        );
    }

    #[test]
    fn mistakes_are_named() {
        let error = services("c.yaml", "services:\n  app:\n    platform: linux/arm64\n", &env())
            .unwrap_err()
            .to_string();
        assert_eq!(error, "compose-file: service `app` has no `image:`; give it the image it runs");
        let error = services("c.yaml", "version: '3'\n", &env()).unwrap_err().to_string();
        assert_eq!(
            error,
            "compose-file: c.yaml has no services; give the deployment's Compose file"
        );
        let error = services("c.yaml", "services: [1, 2\n", &env()).unwrap_err().to_string();
        assert!(error.starts_with("compose-file: c.yaml is not a Compose file"), "{error}");
        let error = format!(
            "{:#}",
            services("c.yaml", "services:\n  a:\n    image: x:${NO:?set NO}\n", &env())
                .unwrap_err()
        );
        assert_eq!(error, "compose-file: service `a`: image: NO is not set: set NO");
    }

    fn build(
        context: &str,
        dockerfile: &str,
        args: &[(&str, &str)],
        target: Option<&str>,
    ) -> ComposeBuild {
        ComposeBuild {
            context: context.into(),
            dockerfile: dockerfile.into(),
            args: args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            target: target.map(str::to_string),
            platforms: Vec::new(),
        }
    }

    #[test]
    fn build_is_read_in_both_forms_relative_to_the_compose_file() {
        let cases: &[(&str, &str, Result<ComposeBuild, &str>)] = &[
            (
                "deploy/compose.yaml",
                "build: ./app",
                Ok(build("deploy/app", "deploy/app/Dockerfile", &[], None)),
            ),
            ("compose.yaml", "build: .", Ok(build(".", "Dockerfile", &[], None))),
            (
                "deploy/compose.yaml",
                "build: ../src",
                Ok(build("deploy/../src", "deploy/../src/Dockerfile", &[], None)),
            ),
            ("/abs/compose.yaml", "build: /ctx", Ok(build("/ctx", "/ctx/Dockerfile", &[], None))),
            (
                "c.yaml",
                "build: ./app-${TAG}",
                Ok(build("app-7.2", "app-7.2/Dockerfile", &[], None)),
            ),
            (
                "deploy/compose.yaml",
                "build:\n      context: api\n      dockerfile: docker/Dockerfile.${TAG}\n      target: runtime\n      args:\n        VERSION: ${TAG}\n        N: 3\n        FLAG: true\n        FROM_ENV:\n        UNSET:\n",
                Ok(build(
                    "deploy/api",
                    "deploy/api/docker/Dockerfile.7.2",
                    &[
                        ("FLAG", "true"),
                        ("FROM_ENV", "from the environment"),
                        ("N", "3"),
                        ("VERSION", "7.2"),
                    ],
                    Some("runtime"),
                )),
            ),
            (
                "c.yaml",
                "build:\n      context: .\n      args:\n        - B=2\n        - A=${TAG:-1}=x\n        - FROM_ENV\n        - UNSET\n      labels: [a=b]\n      network: host\n",
                Ok(build(
                    ".",
                    "Dockerfile",
                    &[("B", "2"), ("A", "7.2=x"), ("FROM_ENV", "from the environment")],
                    None,
                )),
            ),
            (
                "c.yaml",
                "build:\n      dockerfile: Containerfile\n",
                Ok(build(".", "Containerfile", &[], None)),
            ),
            ("c.yaml", "build:\n      target: ''\n", Ok(build(".", "Dockerfile", &[], None))),
            (
                "c.yaml",
                "build:\n      context: .\n      platforms: [linux/amd64, \"linux/${ARCH:-arm64}\"]\n",
                Ok(ComposeBuild {
                    platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
                    ..build(".", "Dockerfile", &[], None)
                }),
            ),
            ("c.yaml", "build:", Err("compose-file: service `app` has `build:` with no context")),
            (
                "c.yaml",
                "build: ''",
                Err("compose-file: service `app` has `build:` with no context"),
            ),
            (
                "c.yaml",
                "build:\n      context: ''\n",
                Err("compose-file: service `app`: build `context` is empty"),
            ),
            (
                "c.yaml",
                "build: [a, b]",
                Err("compose-file: service `app`: `build:` is not a context nor a map"),
            ),
            (
                "c.yaml",
                "build:\n      args:\n        - =x\n",
                Err("compose-file: service `app`: build arg `=x` names no argument"),
            ),
            (
                "c.yaml",
                "build: https://github.com/acme/app.git",
                Err("compose-file: service `app`: build context `https://"),
            ),
            (
                "c.yaml",
                "build:\n      dockerfile_inline: FROM x\n",
                Err("compose-file: service `app`: build `dockerfile_inline` is not carried"),
            ),
            (
                "c.yaml",
                "build:\n      secrets: [token]\n",
                Err("compose-file: service `app`: build `secrets` is not carried"),
            ),
            (
                "c.yaml",
                "build: ./${NOPE:?set NOPE}",
                Err("compose-file: service `app`: build context: NOPE is not set: set NOPE"),
            ),
        ];
        let mut env = env();
        env.insert("FROM_ENV".into(), "from the environment".into());
        for (file, yaml, expected) in cases {
            let text = format!("services:\n  app:\n    {yaml}\n");
            match (services(file, &text, &env), expected) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got[0].build.as_ref(), Some(want), "{yaml}");
                    assert_eq!(got[0].image, None, "{yaml}");
                }
                (Err(error), Err(start)) => {
                    assert!(format!("{error:#}").starts_with(start), "{yaml}: {error:#}")
                }
                (got, _) => panic!("{yaml}: {got:?}"),
            }
        }
    }

    #[test]
    fn a_built_service_keeps_its_image() {
        let text = "services:\n  api:\n    image: registry.example.com/acme/api:${TAG}\n    build: ./api\n";
        let services = services("compose.yaml", text, &env()).unwrap();
        assert_eq!(services[0].image.as_deref(), Some("registry.example.com/acme/api:7.2"));
        assert_eq!(services[0].build, Some(build("api", "api/Dockerfile", &[], None)));
    }
}
