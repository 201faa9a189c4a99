//! How a `docker-container` builder is configured, as docker/setup-buildx-
//! action users write it: a buildkitd config (file or inline TOML), driver
//! options, buildkitd flags, and `append`, a YAML list of extra nodes so one
//! builder spans native machines.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::inputs::{RawInputs, split_list};
use crate::platform::Platform;

/// One extra node of the builder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendNode {
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
pub struct BuilderConfig {
    pub config_file: Option<PathBuf>,
    pub config_inline: Option<String>,
    pub driver_opts: Vec<String>,
    pub flags: Option<String>,
    pub append: Vec<AppendNode>,
}

impl BuilderConfig {
    pub fn parse(raw: &RawInputs) -> Result<BuilderConfig> {
        let config_file =
            Some(raw.get("buildkitd-config")).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(file) = &config_file
            && !file.is_file()
        {
            bail!(
                "buildkitd-config: `{}` is not a file; give the path of a buildkitd.toml",
                file.display()
            );
        }
        let config_inline =
            Some(raw.get("buildkitd-config-inline").to_string()).filter(|v| !v.is_empty());
        if config_file.is_some() && config_inline.is_some() {
            bail!(
                "buildkitd-config-inline: give either `buildkitd-config` or `buildkitd-config-inline`, not both"
            );
        }
        let append = match raw.get("append") {
            "" => Vec::new(),
            text => serde_yaml_ng::from_str::<Vec<AppendNode>>(text).map_err(|e| {
                anyhow::anyhow!(
                    "append: not a YAML list of nodes ({e}); write `- name: arm64\\n  endpoint: ssh://user@host\\n  platforms: linux/arm64`"
                )
            })?,
        };
        for node in &append {
            if !["ssh://", "tcp://", "unix://", "docker-container://"]
                .iter()
                .any(|s| node.endpoint.starts_with(s))
            {
                bail!(
                    "append: node `{}` has endpoint `{}`; use ssh://, tcp:// or unix://",
                    node.name,
                    node.endpoint
                );
            }
            for platform in &node.platforms {
                Platform::parse(platform)
                    .map_err(|e| anyhow::anyhow!("append: node `{}`: {e}", node.name))?;
            }
        }
        Ok(BuilderConfig {
            config_file,
            config_inline,
            driver_opts: split_list(raw.get("driver-opts"), false),
            flags: Some(raw.get("buildkitd-flags").to_string()).filter(|v| !v.is_empty()),
            append,
        })
    }

    /// The inputs given that only a `docker-container` builder honours.
    pub fn given(&self) -> Vec<&'static str> {
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
    pub fn image_override(&self) -> Option<&str> {
        self.driver_opts.iter().find_map(|o| o.strip_prefix("image="))
    }

    /// The buildkitd.toml text: the user's, plus plain-HTTP sections for
    /// `insecure-registries` the user's text does not already configure.
    pub fn buildkitd_toml(&self, insecure_registries: &[String]) -> Result<Option<String>> {
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

/// `host:port` an endpoint connects to, when it is a network endpoint.
pub fn endpoint_address(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let host_port = rest.split('/').next()?.rsplit('@').next()?;
    let default_port = match scheme {
        "ssh" => 22,
        "tcp" => 2375,
        _ => return None,
    };
    Some(if host_port.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    })
}

/// Checks every appended node answers on its network endpoint.
pub async fn check_nodes_reachable(nodes: &[AppendNode]) -> Result<()> {
    for node in nodes {
        let Some(address) = endpoint_address(&node.endpoint) else { continue };
        let connect =
            tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(&address))
                .await;
        match connect {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => bail!(
                "append: node `{}` at {} cannot be reached ({error}); check the endpoint or remove the node",
                node.name,
                node.endpoint
            ),
            Err(_) => {
                bail!(
                    "append: node `{}` at {} did not answer within 5s; check the endpoint or remove the node",
                    node.name,
                    node.endpoint
                )
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string()))).unwrap()
    }

    #[test]
    fn append_is_a_yaml_list_of_nodes() {
        let config = BuilderConfig::parse(&raw(&[(
            "append",
            "- name: arm\n  endpoint: ssh://me@arm-host\n  platforms: linux/arm64,linux/arm/v7\n  driver-opts:\n    - network=host\n",
        )]))
        .unwrap();
        assert_eq!(
            config.append,
            vec![AppendNode {
                name: "arm".into(),
                endpoint: "ssh://me@arm-host".into(),
                platforms: vec!["linux/arm64".into(), "linux/arm/v7".into()],
                driver_opts: vec!["network=host".into()],
            }]
        );
        assert_eq!(config.given(), vec!["append"]);
    }

    #[test]
    fn bad_builder_inputs_are_named() {
        let cases = [
            (("append", "name: x"), "append: not a YAML list"),
            (("append", "- name: x\n  endpoint: http://h"), "append: node `x` has endpoint"),
            (
                ("append", "- name: x\n  endpoint: tcp://h:1\n  platforms: linux/arm65"),
                "append: node `x`: platforms:",
            ),
            (
                ("append", "- name: x\n  endpoint: tcp://h\n  colour: red"),
                "append: not a YAML list",
            ),
            (("buildkitd-config", "/nonexistent.toml"), "buildkitd-config: "),
        ];
        for ((input, value), expected) in cases {
            let error = BuilderConfig::parse(&raw(&[(input, value)])).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{input}: {error}");
        }
    }

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

    #[test]
    fn endpoints_resolve_to_addresses() {
        assert_eq!(endpoint_address("ssh://user@arm-host").as_deref(), Some("arm-host:22"));
        assert_eq!(endpoint_address("ssh://arm-host:2222").as_deref(), Some("arm-host:2222"));
        assert_eq!(endpoint_address("tcp://10.0.0.2:2376").as_deref(), Some("10.0.0.2:2376"));
        assert_eq!(endpoint_address("unix:///var/run/docker.sock"), None);
    }

    #[tokio::test]
    async fn an_unreachable_node_is_named() {
        let nodes = [AppendNode {
            name: "arm".into(),
            endpoint: "tcp://127.0.0.1:1".into(),
            platforms: vec![],
            driver_opts: vec![],
        }];
        let error = check_nodes_reachable(&nodes).await.unwrap_err().to_string();
        assert!(
            error.starts_with("append: node `arm` at tcp://127.0.0.1:1 cannot be reached"),
            "{error}"
        );
    }
}
