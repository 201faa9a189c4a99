//! Resolves how the build engine is set up: which builder, its
//! configuration, QEMU, the images of BuildKit and of the QEMU installer,
//! and plain-HTTP registries.

use anyhow::{Result, bail};

use crate::builder_config::BuilderConfig;
use crate::inputs::{BoolOr, RawInputs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverRequest {
    Auto,
    Docker,
    DockerContainer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QemuMode {
    Auto,
    Always,
    Never,
}

/// What the builder inputs say.
pub(super) struct BuilderInputs {
    pub driver: DriverRequest,
    pub builder_config: BuilderConfig,
    pub existing_builder: Option<String>,
    pub buildkit_image: String,
    pub qemu: QemuMode,
    pub qemu_image: String,
    pub insecure_registries: Vec<String>,
}

pub(super) fn resolve(raw: &RawInputs) -> Result<BuilderInputs> {
    let driver = match raw.choice("driver")? {
        "docker" => DriverRequest::Docker,
        "docker-container" => DriverRequest::DockerContainer,
        _ => DriverRequest::Auto,
    };
    let builder_config = BuilderConfig::parse(raw)?;
    if driver == DriverRequest::Docker
        && let Some(input) = builder_config.given().first()
    {
        bail!(
            "{input}: does not apply to driver: docker (the daemon's own BuildKit has no buildkitd of ours to configure); use driver: docker-container or auto"
        );
    }
    let existing_builder = raw.text("builder").map(str::to_string);
    if let Some(name) = &existing_builder {
        if let Some(input) =
            builder_config.given().first().copied().or(raw.given("driver").then_some("driver"))
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
    let qemu = match raw.bool_or("qemu")? {
        BoolOr::Yes => QemuMode::Always,
        BoolOr::No => QemuMode::Never,
        BoolOr::Word => QemuMode::Auto,
    };
    for input in ["buildkit-image", "qemu-image"] {
        let value = raw.get(input);
        if crate::reference::parse(value).is_err() || value.chars().any(char::is_whitespace) {
            bail!(
                "{input}: `{value}` is not an image reference; use name:tag, e.g. {}",
                crate::inputs::find(input).map_or("", |d| d.default)
            );
        }
    }
    let insecure_registries = raw.list("insecure-registries");
    for registry in &insecure_registries {
        if registry.contains('/') || registry.contains("://") {
            bail!(
                "insecure-registries: `{registry}` is not a registry host; use host or host:port"
            );
        }
    }
    Ok(BuilderInputs {
        driver,
        builder_config,
        existing_builder,
        buildkit_image: raw.get("buildkit-image").to_string(),
        qemu,
        qemu_image: raw.get("qemu-image").to_string(),
        insecure_registries,
    })
}
