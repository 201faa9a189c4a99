//! How a `docker-container` builder is configured, as docker/setup-buildx-
//! action users write it: a buildkitd config (file or inline TOML), driver
//! options, buildkitd flags, and `append`, a YAML list of extra nodes so one
//! builder spans native machines.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::Deserialize;

/// One extra node of the builder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppendNode {
    pub name: String,
    pub endpoint: String,
    #[serde(default, deserialize_with = "list_or_string")]
    pub platforms: Vec<String>,
    #[serde(default, rename = "driver-opts", deserialize_with = "list_or_string")]
    pub driver_opts: Vec<String>,
}

fn list_or_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(text) => text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        OneOrMany::Many(list) => list,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BuilderConfig {
    pub config_file: Option<PathBuf>,
    pub config_inline: Option<String>,
    pub driver_opts: Vec<String>,
    pub flags: Option<String>,
    pub append: Vec<AppendNode>,
}

impl BuilderConfig {
    /// The inputs given that only a `docker-container` builder honours.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.config_file.is_some() {
            given.push("buildkitd-config");
        }
        if self.config_inline.is_some() {
            given.push("buildkitd-config-inline");
        }
        if !self.driver_opts.is_empty() {
            given.push("driver-opts");
        }
        if self.flags.is_some() {
            given.push("buildkitd-flags");
        }
        if !self.append.is_empty() {
            given.push("append");
        }
        given
    }

    /// `image=` from `driver-opts`, which overrides `buildkit-image`.
    pub(crate) fn image_override(&self) -> Option<&str> {
        self.driver_opts.iter().find_map(|o| o.strip_prefix("image="))
    }

    /// The buildkitd.toml text: the user's, plus plain-HTTP sections for
    /// `insecure-registries` the user's text does not already configure.
    pub(crate) fn buildkitd_toml(&self, insecure_registries: &[String]) -> Result<Option<String>> {
        let mut text = match (&self.config_file, &self.config_inline) {
            (Some(file), _) => std::fs::read_to_string(file)
                .with_context(|| format!("buildkitd-config: could not read {}", file.display()))?,
            (_, Some(inline)) => inline.clone(),
            _ => String::new(),
        };
        for registry in insecure_registries {
            if !text.contains(&format!("[registry.\"{registry}\"]")) {
                text.push_str(&format!(
                    "\n[registry.\"{registry}\"]\n  http = true\n  insecure = true\n"
                ));
            }
        }
        Ok(Some(text).filter(|t| !t.trim().is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildkitd_toml_adds_plain_http_registries() {
        let config = BuilderConfig {
            config_inline: Some("[registry.\"a:5000\"]\n  http = true\n".into()),
            ..Default::default()
        };
        let text = config.buildkitd_toml(&["a:5000".into(), "b:5000".into()]).unwrap().unwrap();
        assert_eq!(text.matches("[registry.\"a:5000\"]").count(), 1);
        assert!(text.contains("[registry.\"b:5000\"]\n  http = true\n  insecure = true\n"));
        assert_eq!(BuilderConfig::default().buildkitd_toml(&[]).unwrap(), None);
    }
}
