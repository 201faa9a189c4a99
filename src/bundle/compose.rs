//! Reading a Compose file for a bundle: each service's `image:` and
//! `platform:`, with `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?message}`, `$VAR` and `$$` interpolated from the environment as
//! Compose does.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

/// One service of a Compose file, as far as a bundle needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeService {
    pub name: String,
    /// The image reference, interpolated.
    pub image: String,
    /// `platform:`, interpolated.
    pub platform: Option<String>,
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
    build: Option<serde_yaml_ng::Value>,
}

/// The services of the Compose document `text` (read from `file`), in name
/// order. A service with `build:` and no `image:` is an error: a bundle
/// carries images from registries.
pub fn services(file: &str, text: &str, env: &HashMap<String, String>) -> Result<Vec<ComposeService>> {
    let shape: ComposeShape = serde_yaml_ng::from_str(text).map_err(|e| {
        let place = e.location().map(|l| format!(" at line {}", l.line())).unwrap_or_default();
        anyhow::anyhow!("compose-file: {file} is not a Compose file{place} ({e}); give a file with a `services:` map")
    })?;
    if shape.services.is_empty() {
        bail!("compose-file: {file} has no services; give the deployment's Compose file");
    }
    let mut services = Vec::new();
    for (name, service) in shape.services {
        let Some(image) = service.image else {
            if service.build.is_some() {
                bail!(
                    "compose-file: service `{name}` has `build:` and no `image:`; a bundle carries images from registries: build and push it (e.g. with this action), then give it `image:`"
                );
            }
            bail!("compose-file: service `{name}` has no `image:`; give it the image it runs");
        };
        let image = interpolate(&image, env).with_context(|| format!("compose-file: service `{name}`: image"))?;
        let platform = service
            .platform
            .map(|p| interpolate(&p, env).with_context(|| format!("compose-file: service `{name}`: platform")))
            .transpose()?;
        services.push(ComposeService { name, image, platform });
    }
    Ok(services)
}

/// Replaces variables in `value` as Compose does.
pub fn interpolate(value: &str, env: &HashMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').with_context(|| format!("`{value}` has a `${{` without its `}}`"))?;
            out.push_str(&expand(&body[..end], env)?);
            rest = &body[end + 1..];
        } else {
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
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
    let name_len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
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
        _ => bail!("`${{{body}}}` is not a variable Compose knows; write ${{NAME}} or ${{NAME:-default}}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        [("TAG", "7.2"), ("EMPTY", ""), ("REGISTRY", "registry.example.com")].into_iter().map(|(k, v)| (k.into(), v.into())).collect()
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
                ComposeService { name: "cache".into(), image: "redis:7.2".into(), platform: None },
                ComposeService { name: "db".into(), image: "postgres:16".into(), platform: Some("linux/arm64".into()) },
            ]
        );
    }

    #[test]
    fn mistakes_are_named() {
        let error = services("c.yaml", "services:\n  app:\n    build: .\n", &env()).unwrap_err().to_string();
        assert!(error.starts_with("compose-file: service `app` has `build:` and no `image:`"), "{error}");
        let error = services("c.yaml", "version: '3'\n", &env()).unwrap_err().to_string();
        assert_eq!(error, "compose-file: c.yaml has no services; give the deployment's Compose file");
        let error = services("c.yaml", "services: [1, 2\n", &env()).unwrap_err().to_string();
        assert!(error.starts_with("compose-file: c.yaml is not a Compose file"), "{error}");
        let error = format!("{:#}", services("c.yaml", "services:\n  a:\n    image: x:${NO:?set NO}\n", &env()).unwrap_err());
        assert_eq!(error, "compose-file: service `a`: image: NO is not set: set NO");
    }
}
