//! Resolves the logins: `registry`/`username`/`password` and the
//! `registry-auth` list, parsed once, checked against the images pushed.

use anyhow::{Result, bail};

use crate::inputs::RawInputs;
use crate::names::{Credential, Credentials, ImageName, Secret, registry_host};

/// Registries that always need credentials to push.
const REGISTRIES_NEEDING_LOGIN: &[&str] =
    &["docker.io", "ghcr.io", "quay.io", "gcr.io", "registry.gitlab.com"];
const REGISTRY_SUFFIXES_NEEDING_LOGIN: &[&str] =
    &[".azurecr.io", ".amazonaws.com", ".pkg.dev", ".gcr.io"];

fn needs_login(registry: &str) -> bool {
    REGISTRIES_NEEDING_LOGIN.contains(&registry)
        || REGISTRY_SUFFIXES_NEEDING_LOGIN.iter().any(|s| registry.ends_with(s))
}

/// One entry of `registry-auth`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryAuthEntry {
    registry: Option<String>,
    username: String,
    password: String,
}

/// Every credential given; when pushing, each image's registry that always
/// needs a login must have one (a dry run, which pushes nothing, warns).
pub(super) fn resolve(
    raw: &RawInputs,
    images: &[ImageName],
    push: bool,
    dry_run: bool,
    warnings: &mut Vec<String>,
) -> Result<Credentials> {
    let mut all = Credentials::default();
    if let Some(credential) = single_credential(raw, images)? {
        all.add("registry", credential)?;
    }
    if let Some(text) = raw.text("registry-auth") {
        let entries: Vec<RegistryAuthEntry> = serde_yaml_ng::from_str(text).map_err(|e| {
            let place = e.location().map(|l| format!(" at line {}", l.line())).unwrap_or_default();
            anyhow::anyhow!("registry-auth: not a YAML list of `registry`, `username`, `password`{place}; write `- registry: ghcr.io` with `username:` and `password:` under it")
        })?;
        for entry in entries {
            let registry =
                registry_host("registry-auth", entry.registry.as_deref().unwrap_or("docker.io"))?;
            if entry.username.is_empty() || entry.password.is_empty() {
                bail!(
                    "registry-auth: the entry for {registry} needs both `username` and `password`"
                );
            }
            all.add(
                "registry-auth",
                Credential {
                    registry,
                    username: entry.username,
                    password: Secret::new(entry.password),
                },
            )?;
        }
    }
    if push {
        for image in images {
            if needs_login(&image.registry) && all.for_registry(&image.registry).is_none() {
                if dry_run {
                    warnings.push(format!(
                        "password: no credentials for {}; this dry run needs none, but a run that pushes does (`username` and `password`, or `push: false`)",
                        image.registry
                    ));
                    continue;
                }
                bail!(
                    "password: pushing to {} needs credentials; set `username` and `password` (with `registry: {}`), or `push: false`",
                    image.registry,
                    image.registry
                );
            }
        }
    }
    Ok(all)
}

fn single_credential(raw: &RawInputs, images: &[ImageName]) -> Result<Option<Credential>> {
    let (username, password) =
        (raw.text("username").unwrap_or_default(), raw.text("password").unwrap_or_default());
    match (username.is_empty(), password.is_empty()) {
        (true, true) => return Ok(None),
        (false, true) => bail!(
            "password: `username` is set but `password` is empty; pass the token, e.g. ${{{{ secrets.GITHUB_TOKEN }}}}"
        ),
        (true, false) => bail!(
            "username: `password` is set but `username` is empty; set the account name, e.g. ${{{{ github.actor }}}}"
        ),
        _ => {}
    }
    let registry = match raw.text("registry") {
        None => images[0].registry.clone(),
        Some(given) => registry_host("registry", given)?,
    };
    Ok(Some(Credential {
        registry,
        username: username.to_string(),
        password: Secret::new(password),
    }))
}
