//! Resolves how the build engine is set up: which builder, its
//! configuration, QEMU, the images of BuildKit and of the QEMU installer,
//! and plain-HTTP registries.

use anyhow::{Result, bail};

use std::path::PathBuf;

use super::builder_config::{AppendNode, BuilderConfig};
use crate::inputs::choices::Driver;
use crate::inputs::{BoolOr, RawInputs};
use crate::platform::Platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QemuMode {
    Auto,
    Always,
    Never,
}

/// How the builder is chosen and set up.
#[derive(Debug, Clone)]
pub(crate) struct BuilderSettings {
    pub(crate) driver: Driver,
    /// A `docker-container` builder's configuration.
    pub(crate) config: BuilderConfig,
    /// `builder`: an existing buildx builder to use, by name.
    pub(crate) existing: Option<String>,
    pub(crate) buildkit_image: String,
    pub(crate) insecure_registries: Vec<String>,
}

/// Whether and how QEMU is set up.
#[derive(Debug, Clone)]
pub(crate) struct QemuSettings {
    pub(crate) mode: QemuMode,
    /// The installer image.
    pub(crate) image: String,
}

pub(super) fn resolve(raw: &RawInputs) -> Result<(BuilderSettings, QemuSettings)> {
    let driver = raw.choice::<Driver>("driver")?;
    let config = builder_config(raw)?;
    if driver == Driver::Docker
        && let Some(input) = config.given().first()
    {
        bail!(
            "{input}: does not apply to driver: docker (the daemon's own BuildKit has no buildkitd of ours to configure); use driver: docker-container or auto"
        );
    }
    let existing = raw.text("builder").map(str::to_string);
    if let Some(name) = &existing {
        if let Some(input) =
            config.given().first().copied().or(raw.given("driver").then_some("driver"))
        {
            bail!(
                "{input}: does not apply with `builder: {name}`, which uses that builder as it is; remove `{input}` or `builder`"
            );
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!(
                "builder: `{name}` is not a buildx builder name; use a name `docker buildx ls` lists"
            );
        }
    }
    let mode = match raw.bool_or("qemu")? {
        BoolOr::Yes => QemuMode::Always,
        BoolOr::No => QemuMode::Never,
        BoolOr::Word => QemuMode::Auto,
    };
    let image_input = |input: &str| -> Result<String> {
        let value = raw.text(input).unwrap_or_default();
        if crate::reference::parse(value).is_err() || value.chars().any(char::is_whitespace) {
            bail!(
                "{input}: `{value}` is not an image reference; use name:tag, e.g. {}",
                crate::inputs::find(input).map_or("", |d| d.default)
            );
        }
        Ok(value.to_string())
    };
    let buildkit_image = image_input("buildkit-image")?;
    let qemu = QemuSettings { mode, image: image_input("qemu-image")? };
    let insecure_registries = raw.list("insecure-registries");
    for registry in &insecure_registries {
        if registry.contains('/') || registry.contains("://") {
            bail!(
                "insecure-registries: `{registry}` is not a registry host; use host or host:port"
            );
        }
    }
    let builder = BuilderSettings { driver, config, existing, buildkit_image, insecure_registries };
    Ok((builder, qemu))
}

/// A `docker-container` builder's configuration: `buildkitd-config` (a
/// file) or `buildkitd-config-inline`, `driver-opts`, `buildkitd-flags`,
/// and `append` (a YAML list of extra nodes).
fn builder_config(raw: &RawInputs) -> Result<BuilderConfig> {
    let config_file = raw.text("buildkitd-config").map(PathBuf::from);
    if let Some(file) = &config_file
        && !file.is_file()
    {
        bail!(
            "buildkitd-config: `{}` is not a file; give the path of a buildkitd.toml",
            file.display()
        );
    }
    let config_inline = raw.text("buildkitd-config-inline").map(str::to_string);
    if config_file.is_some() && config_inline.is_some() {
        bail!(
            "buildkitd-config-inline: give either `buildkitd-config` or `buildkitd-config-inline`, not both"
        );
    }
    let append = match raw.text("append") {
        None => Vec::new(),
        Some(text) => serde_yaml_ng::from_str::<Vec<AppendNode>>(text).map_err(|e| {
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
        driver_opts: raw.list("driver-opts"),
        flags: raw.text("buildkitd-flags").map(str::to_string),
        append,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string()))).unwrap()
    }

    #[test]
    fn append_is_a_yaml_list_of_nodes() {
        let config = builder_config(&raw(&[(
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
            let error = builder_config(&raw(&[(input, value)])).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{input}: {error}");
        }
    }
}
