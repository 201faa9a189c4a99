//! The shared nouns every room speaks of: secrets (opaque), image names,
//! registries as credentials are keyed (with Docker Hub's naming rule),
//! credentials keyed by registry and their two outside forms (a Docker
//! config entry and bollard's), and what a reference names.

use std::fmt;

use anyhow::{Result, bail};
use base64::Engine as _;

use crate::digest::Digest;

/// A value that must never be printed: its `Debug` is `***` and the only
/// way to read it is [`Secret::expose`], named so that every use stands out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must hand it on.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Docker Hub's host as credentials and Docker's config name it.
pub(crate) const DOCKER_HUB: &str = "docker.io";

/// `index.docker.io`, `registry-1.docker.io` and `docker.io` are one registry.
pub(crate) fn canonical_registry(host: &str) -> String {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DOCKER_HUB.to_string(),
        other => other.to_ascii_lowercase(),
    }
}

/// The registry an image reference names, as credentials are keyed: a first
/// component without `.` or `:` (and not `localhost`) is a Docker Hub path.
pub(crate) fn registry_of_reference(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            canonical_registry(first)
        }
        _ => DOCKER_HUB.to_string(),
    }
}

/// A registry host as credentials are keyed, from what a user wrote for
/// `input` (a scheme and a trailing slash are allowed).
pub(crate) fn registry_host(input: &str, given: &str) -> Result<String> {
    let host = given
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
        bail!(
            "{input}: `{given}` is not a registry host; use e.g. ghcr.io or registry.example.com:5000"
        );
    }
    Ok(canonical_registry(host))
}

/// An image name without tag: `registry/repository`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// As the user wrote it, lowercased (`ghcr.io/acme/app`, `acme/app`).
    pub name: String,
    /// The registry host as credentials are keyed (`ghcr.io`, `docker.io`).
    pub registry: String,
    pub repository: String,
}

impl ImageName {
    pub fn parse(text: &str) -> Result<ImageName> {
        let name = crate::meta::normalize_image_name(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let reference = crate::reference::parse(&name)
            .map_err(|_| anyhow::anyhow!("images: `{text}` is not an image name; use registry/owner/name, e.g. ghcr.io/acme/app"))?;
        Ok(ImageName {
            registry: canonical_registry(reference.registry()),
            repository: reference.repository().to_string(),
            name,
        })
    }

    /// A repository on `registry` used only to check pull access there.
    pub(crate) fn probe_on(registry: &str) -> ImageName {
        ImageName {
            name: format!("{registry}/library/ping"),
            registry: registry.to_string(),
            repository: "library/ping".into(),
        }
    }

    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.name)
    }

    pub(crate) fn with_digest(&self, digest: &Digest) -> String {
        format!("{}@{digest}", self.name)
    }
}

/// A login for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub registry: String,
    pub username: String,
    pub password: Secret,
}

impl Credential {
    /// The key Docker's config and the daemon use for this registry.
    pub(crate) fn server_address(&self) -> String {
        if self.registry == DOCKER_HUB {
            "https://index.docker.io/v1/".to_string()
        } else {
            self.registry.clone()
        }
    }

    /// The `auth` value of a Docker config entry: base64 of `user:password`.
    pub(crate) fn docker_config_auth(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.username,
            self.password.expose()
        ))
    }

    /// The credentials bollard sends with a pull.
    pub(crate) fn to_bollard(&self) -> bollard::auth::DockerCredentials {
        bollard::auth::DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.expose().to_string()),
            serveraddress: Some(self.server_address()),
            ..Default::default()
        }
    }
}

/// Every login given, one per registry (keyed as [`canonical_registry`]
/// names it); passwords stay [`Secret`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials(std::collections::BTreeMap<String, Credential>);

impl Credentials {
    /// Adds a login; a registry given twice is refused, naming `input`.
    pub(crate) fn add(&mut self, input: &str, credential: Credential) -> Result<()> {
        if self.0.contains_key(&credential.registry) {
            bail!(
                "{input}: {} is given twice; give one credential per registry",
                credential.registry
            );
        }
        self.0.insert(credential.registry.clone(), credential);
        Ok(())
    }

    /// The login for `registry`, if one was given.
    pub(crate) fn for_registry(&self, registry: &str) -> Option<&Credential> {
        self.0.get(registry)
    }

    /// The login for the registry `reference` is on, if one was given.
    pub(crate) fn for_reference(&self, reference: &str) -> Option<&Credential> {
        self.for_registry(&registry_of_reference(reference))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Credential> {
        self.0.values()
    }
}

/// Logins one per registry; a later one for a registry replaces an earlier.
impl FromIterator<Credential> for Credentials {
    fn from_iter<I: IntoIterator<Item = Credential>>(logins: I) -> Credentials {
        Credentials(logins.into_iter().map(|c| (c.registry.clone(), c)).collect())
    }
}

/// The repository a reference names, with its registry.
pub(crate) fn repository_of(reference: &str) -> Result<ImageName> {
    let parsed = crate::reference::parse(reference)?;
    ImageName::parse(&format!("{}/{}", parsed.registry(), parsed.repository()))
}

/// The tag or digest a reference names (`latest` when it names neither).
pub(crate) fn tag_or_digest(reference: &str) -> Result<String> {
    let parsed = crate::reference::parse(reference)?;
    Ok(parsed.digest().or(parsed.tag()).unwrap_or("latest").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn references_name_their_registry() {
        for (reference, registry) in [
            ("moby/buildkit:buildx-stable-1", "docker.io"),
            ("tonistiigi/binfmt", "docker.io"),
            ("busybox", "docker.io"),
            ("docker.io/library/busybox", "docker.io"),
            ("index.docker.io/library/busybox", "docker.io"),
            ("ghcr.io/acme/app:1", "ghcr.io"),
            ("172.17.0.1:5000/testbed/busybox:multi", "172.17.0.1:5000"),
            ("localhost/app", "localhost"),
            ("Registry.Example.com/app", "registry.example.com"),
        ] {
            assert_eq!(registry_of_reference(reference), registry, "{reference}");
        }
    }

    #[test]
    fn registry_hosts_are_read_as_users_write_them() {
        assert_eq!(registry_host("registry", "https://ghcr.io/").unwrap(), "ghcr.io");
        assert_eq!(registry_host("registry", "index.docker.io").unwrap(), "docker.io");
        assert!(
            registry_host("registry", "ghcr.io/acme")
                .unwrap_err()
                .to_string()
                .starts_with("registry: `ghcr.io/acme`")
        );
    }

    #[test]
    fn a_credential_has_one_form_for_docker_and_one_for_bollard() {
        let hub = Credential {
            registry: "docker.io".into(),
            username: "u".into(),
            password: Secret::new("p"),
        };
        assert_eq!(hub.server_address(), "https://index.docker.io/v1/");
        assert_eq!(hub.docker_config_auth(), "dTpw");
        let bollard = hub.to_bollard();
        assert_eq!(
            (bollard.username.as_deref(), bollard.password.as_deref()),
            (Some("u"), Some("p"))
        );
        let ghcr = Credential { registry: "ghcr.io".into(), ..hub };
        assert_eq!(ghcr.to_bollard().serveraddress.as_deref(), Some("ghcr.io"));
        let mut logins = Credentials::default();
        logins.add("registry", ghcr.clone()).unwrap();
        assert_eq!(
            logins.for_reference("ghcr.io/acme/base:1").map(|c| c.username.as_str()),
            Some("u")
        );
        assert!(logins.for_reference("acme/base:1").is_none());
        let twice = logins.add("registry-auth", ghcr).unwrap_err().to_string();
        assert_eq!(
            twice,
            "registry-auth: ghcr.io is given twice; give one credential per registry"
        );
    }
}
