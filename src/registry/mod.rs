//! The registry side, through oci-client: credentials checked before any
//! build, the existing tags (for the floating-tag guard), and the pushed
//! image read back (every tag's digest, every platform's manifest).

pub(crate) mod copy;
pub(crate) mod layout;
pub(crate) mod push;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{ImageIndexEntry, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use crate::digest::Digest;
use crate::names::{Credentials, ImageName, canonical_registry};
use crate::platform::Platform;
use crate::retry::{REGISTRY_POLICY, registry_transience, retry};

/// How long one registry request may take before it counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One base image's platforms, read by the first build that asks.
type PlatformsOnce = tokio::sync::OnceCell<Vec<Platform>>;

pub(crate) struct Registry {
    client: Client,
    /// The logins, by registry; a password is exposed only to the client.
    credentials: Credentials,
    /// Images whose push access was checked: the client holds their
    /// authorization (and renews it when it expires).
    push_authorized: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The platforms of each base image read so far: a deployment's services
    /// that share a base ask its registry once.
    base_platforms: std::sync::Mutex<std::collections::HashMap<String, Arc<PlatformsOnce>>>,
}

/// One platform's image in a pushed index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformImage {
    pub platform: Platform,
    pub digest: Digest,
    /// Compressed size: config and layers.
    pub size: u64,
    /// The platform its config declares (os, architecture, variant).
    pub config_platform: Option<Platform>,
    /// Layer digests, bottom first.
    pub layers: Vec<Digest>,
    /// For each layer, the build step that made it (the config's history).
    pub layer_steps: Vec<String>,
    /// The labels its config sets.
    pub labels: BTreeMap<String, String>,
}

impl PlatformImage {
    /// One platform's image from its manifest and config; `platform` as its
    /// index entry claims, else what the config declares; None when neither
    /// names one. A layer digest that is not sha256 is an error.
    pub fn read(
        digest: &Digest,
        platform: Option<Platform>,
        manifest: &OciImageManifest,
        config: &str,
    ) -> Result<Option<PlatformImage>> {
        let size = manifest.config.size.max(0) as u64
            + manifest.layers.iter().map(|l| l.size.max(0) as u64).sum::<u64>();
        let layers = manifest
            .layers
            .iter()
            .map(|l| Digest::parse(&l.digest))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("a layer of {digest}"))?;
        let ConfigFacts { platform: config_platform, layer_steps, labels } =
            read_config(config, manifest.layers.len());
        let Some(platform) = platform.or_else(|| config_platform.clone()) else {
            return Ok(None);
        };
        Ok(Some(PlatformImage {
            platform,
            digest: digest.clone(),
            size,
            config_platform,
            layers,
            layer_steps,
            labels,
        }))
    }
}

/// An attestation manifest (provenance, SBOM) in an index; registry UIs show
/// it as `unknown/unknown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attestation {
    pub digest: Digest,
    /// The platform manifest it describes.
    pub describes: Option<Digest>,
}

/// The platform a config blob declares, and the step behind each layer.
pub(crate) fn read_config(config: &str, layer_count: usize) -> ConfigFacts {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(config) else {
        return ConfigFacts::default();
    };
    let platform = Platform::from_oci_json(&json);
    let labels = json
        .pointer("/config/Labels")
        .and_then(|l| l.as_object())
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    let steps: Vec<String> = json
        .get("history")
        .and_then(|h| h.as_array())
        .map(|entries| {
            entries
                .iter()
                .filter(|e| !e.get("empty_layer").and_then(|v| v.as_bool()).unwrap_or(false))
                .map(|e| e.get("created_by").and_then(|v| v.as_str()).unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let layer_steps =
        if steps.len() == layer_count { steps } else { vec![String::new(); layer_count] };
    ConfigFacts { platform, layer_steps, labels }
}

/// What an image config says: its platform, the step that made each layer,
/// and its labels.
#[derive(Debug, Default)]
pub(crate) struct ConfigFacts {
    pub(crate) platform: Option<Platform>,
    pub(crate) layer_steps: Vec<String>,
    pub(crate) labels: BTreeMap<String, String>,
}

/// Registries Docker itself reaches over plain HTTP without being told.
pub(crate) fn implicitly_insecure(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    host == "localhost" || host.starts_with("127.")
}

impl Registry {
    pub(crate) fn new(
        insecure_registries: &[String],
        credentials: &Credentials,
        images: &[ImageName],
    ) -> Registry {
        let mut plain_http: Vec<String> = insecure_registries.to_vec();
        plain_http
            .extend(images.iter().map(|i| i.registry.clone()).filter(|r| implicitly_insecure(r)));
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain_http),
            read_timeout: Some(REQUEST_TIMEOUT),
            connect_timeout: Some(Duration::from_secs(10)),
            // POST then one PUT with the body, as BuildKit's own pusher does:
            // one request fewer per blob than a chunked upload.
            use_monolithic_push: true,
            ..Default::default()
        };
        Registry {
            client: Client::new(config),
            credentials: credentials.clone(),
            push_authorized: Default::default(),
            base_platforms: Default::default(),
        }
    }

    fn auth(&self, registry: &str) -> RegistryAuth {
        match self.credentials.for_registry(registry) {
            Some(login) => {
                RegistryAuth::Basic(login.username.clone(), login.password.expose().to_string())
            }
            None => RegistryAuth::Anonymous,
        }
    }

    fn reference(image: &ImageName, suffix: Option<&str>) -> Result<Reference> {
        let text = match suffix.map(|s| (s, Digest::parse(s))) {
            Some((_, Ok(digest))) => image.with_digest(&digest),
            Some((tag, Err(_))) => image.with_tag(tag),
            None => image.name.clone(),
        };
        Ok(crate::reference::parse(&text)?)
    }

    /// Checks that the registry of `image` accepts our credentials (or, with
    /// none, lets us in anonymously), in seconds and before any build.
    pub(crate) async fn check_access(&self, image: &ImageName, for_push: bool) -> Result<()> {
        let reference = Self::reference(image, None)?;
        let auth = self.auth(&image.registry);
        let who = match self.credentials.for_registry(&image.registry) {
            Some(login) => format!("the credentials of `{}`", login.username),
            None => "anonymous access".to_string(),
        };
        let operation = if for_push { RegistryOperation::Push } else { RegistryOperation::Pull };
        let refused = |detail: String| {
            if self.credentials.for_registry(&image.registry).is_some() {
                anyhow!(
                    "password: the registry {} refused {who} ({detail}); check `username` and `password`",
                    image.registry
                )
            } else {
                anyhow!(
                    "username: the registry {} needs credentials ({detail}); set `username` and `password`",
                    image.registry
                )
            }
        };
        let attempt = async {
            match retry(
                &format!("reaching {}", image.registry),
                REGISTRY_POLICY,
                registry_transience,
                || self.client.auth(&reference, &auth, operation),
            )
            .await
            {
                Ok(_) => {}
                Err(OciDistributionError::AuthenticationFailure(_)) => {
                    return Err(refused("token request denied".into()));
                }
                Err(error) => return Err(unreachable(&image.registry, error)),
            }
            match retry(
                &format!("listing tags of {}", image.name),
                REGISTRY_POLICY,
                registry_transience,
                || self.client.list_tags(&reference, &auth, Some(1), None),
            )
            .await
            {
                Ok(_) => Ok(()),
                Err(error) if is_not_found(&error) => Ok(()),
                Err(OciDistributionError::UnauthorizedError { .. }) => {
                    Err(refused("HTTP 401".into()))
                }
                Err(OciDistributionError::ServerError { code: 403, .. }) => {
                    Err(refused("HTTP 403".into()))
                }
                Err(OciDistributionError::RegistryError { envelope, .. })
                    if envelope
                        .errors
                        .iter()
                        .any(|e| format!("{:?}", e.code).contains("Denied")) =>
                {
                    Err(refused("access denied".into()))
                }
                Err(error) => Err(unreachable(&image.registry, error)),
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, attempt).await.map_err(|_| {
            anyhow!(
                "the registry {} did not answer within {}s; check that it is reachable",
                image.registry,
                REQUEST_TIMEOUT.as_secs()
            )
        })??;
        if for_push {
            self.push_authorized
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(image.name.clone());
        }
        Ok(())
    }

    /// Whether `check_access` already authorized pushes to `image`.
    fn push_authorized(&self, image: &ImageName) -> bool {
        self.push_authorized
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&image.name)
    }

    /// Authorizes pushes to `image`, unless `check_access` already did.
    pub(crate) async fn authorize_push(&self, image: &ImageName) -> Result<()> {
        if self.push_authorized(image) {
            return Ok(());
        }
        let repository = Self::reference(image, None)?;
        let auth = self.auth(&image.registry);
        retry(
            &format!("authorizing a push to {}", image.name),
            REGISTRY_POLICY,
            registry_transience,
            || self.client.auth(&repository, &auth, RegistryOperation::Push),
        )
        .await
        .with_context(|| {
            format!("the registry {} refused a push to {}", image.registry, image.name)
        })?;
        Ok(())
    }

    /// Every tag of the repository; none when it does not exist yet.
    pub(crate) async fn existing_tags(&self, image: &ImageName) -> Result<Vec<String>> {
        let reference = Self::reference(image, None)?;
        let auth = self.auth(&image.registry);
        let mut tags = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let page = match retry(
                &format!("listing tags of {}", image.name),
                REGISTRY_POLICY,
                registry_transience,
                || self.client.list_tags(&reference, &auth, Some(1000), last.as_deref()),
            )
            .await
            {
                Ok(page) => page,
                Err(error) if is_not_found(&error) => return Ok(tags),
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("could not list the tags of {}", image.name));
                }
            };
            let done = page.tags.len() < 1000;
            last = page.tags.last().cloned();
            tags.extend(page.tags);
            if done || last.is_none() {
                return Ok(tags);
            }
        }
    }

    /// The digest a tag (or digest) of `image` points to.
    pub(crate) async fn resolve(&self, image: &ImageName, tag: &str) -> Result<Digest> {
        let reference = Self::reference(image, Some(tag))?;
        let auth = self.auth(&image.registry);
        let found =
            retry(&format!("resolving {reference}"), REGISTRY_POLICY, registry_transience, || {
                self.client.fetch_manifest_digest(&reference, &auth)
            })
            .await
            .with_context(|| format!("could not resolve {reference} in the registry"))?;
        answered_digest(&reference, &found)
    }

    /// The platform images of the index at `digest`, attestations left out.
    /// The index is always read from the registry; a platform image among
    /// `known` (same digest, so the same bytes) is not read again.
    pub(crate) async fn platform_images(
        &self,
        image: &ImageName,
        digest: &Digest,
        known: &[PlatformImage],
    ) -> Result<(Vec<PlatformImage>, Vec<Attestation>)> {
        let auth = self.auth(&image.registry);
        let reference = Self::reference(image, Some(digest.as_str()))?;
        let (manifest, _) =
            retry(&format!("reading {reference}"), REGISTRY_POLICY, registry_transience, || {
                self.client.pull_manifest(&reference, &auth)
            })
            .await
            .with_context(|| format!("could not read {reference}"))?;
        let entries: Vec<ImageIndexEntry> = match manifest {
            OciManifest::ImageIndex(index) => index.manifests,
            OciManifest::Image(_) => {
                // A single-platform image without an index: it declares its
                // platform in its config.
                let image_info = match known.iter().find(|k| k.digest == *digest) {
                    Some(known) => known.clone(),
                    None => self.platform_image(image, digest, None).await?,
                };
                return Ok((vec![image_info], Vec::new()));
            }
        };
        let attestations: Vec<Attestation> = entries
            .iter()
            .filter(|e| is_attestation(e))
            .map(|e| {
                Ok(Attestation {
                    digest: answered_digest(&reference, &e.digest)?,
                    describes: e
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("vnd.docker.reference.digest"))
                        .and_then(|d| Digest::parse(d).ok()),
                })
            })
            .collect::<Result<_>>()?;
        // Every platform's manifest and config not known yet, read concurrently.
        let mut reads = Vec::new();
        for entry in entries.iter().filter(|e| !is_attestation(e)) {
            let Some(platform) = entry_platform(entry) else { continue };
            let digest = answered_digest(&reference, &entry.digest)?;
            let known = known
                .iter()
                .find(|k| k.digest == digest)
                .map(|k| PlatformImage { platform: platform.clone(), ..k.clone() });
            reads.push(async move {
                match known {
                    Some(known) => Ok(known),
                    None => self.platform_image(image, &digest, Some(platform)).await,
                }
            });
        }
        let images = futures_util::future::try_join_all(reads).await?;
        Ok((images, attestations))
    }

    /// One platform's image manifest and config; `platform` as its index
    /// entry claims, or from the config when there is no index.
    async fn platform_image(
        &self,
        image: &ImageName,
        digest: &Digest,
        platform: Option<Platform>,
    ) -> Result<PlatformImage> {
        let auth = self.auth(&image.registry);
        let reference = Self::reference(image, Some(digest.as_str()))?;
        let (manifest, _, config) =
            retry(&format!("reading {reference}"), REGISTRY_POLICY, registry_transience, || {
                self.client.pull_manifest_and_config(&reference, &auth)
            })
            .await
            .with_context(|| format!("could not read {reference}"))?;
        PlatformImage::read(digest, platform, &manifest, &config)
            .with_context(|| format!("could not read {reference}"))?
            .with_context(|| format!("{reference} declares no platform"))
    }

    /// The platforms an image offers: its index's entries, or for a
    /// single-platform image, what its config declares.
    /// The platforms `reference_text` offers (an index's, or a single
    /// image's config's), read once per run.
    pub(crate) async fn platforms_of(&self, reference_text: &str) -> Result<Vec<Platform>> {
        let once = {
            let mut known =
                self.base_platforms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            known.entry(reference_text.to_string()).or_default().clone()
        };
        once.get_or_try_init(|| self.read_platforms(reference_text)).await.cloned()
    }

    async fn read_platforms(&self, reference_text: &str) -> Result<Vec<Platform>> {
        let reference = crate::reference::parse(reference_text)?;
        let auth = self.auth(&canonical_registry(reference.registry()));
        let (manifest, _) = retry(&format!("reading {reference_text}"), REGISTRY_POLICY, registry_transience, || {
            self.client.pull_manifest(&reference, &auth)
        })
        .await
        .map_err(|error| match error {
            error if is_not_found(&error) => anyhow!("{reference_text} does not exist in its registry"),
            OciDistributionError::UnauthorizedError { .. } => {
                anyhow!("{reference_text}: the registry refused access; log in to it with `registry`, `username` and `password`")
            }
            other => anyhow!("could not read {reference_text}: {other}"),
        })?;
        match manifest {
            OciManifest::ImageIndex(index) => Ok(index
                .manifests
                .iter()
                .filter(|e| !is_attestation(e))
                .filter_map(entry_platform)
                .collect()),
            OciManifest::Image(_) => {
                let (_, _, config) =
                    self.client.pull_manifest_and_config(&reference, &auth).await.with_context(
                        || format!("could not read the config of {reference_text}"),
                    )?;
                Ok(read_config(&config, 0).platform.into_iter().collect())
            }
        }
    }

    /// A layer of `image` as a stream of bytes.
    pub(crate) async fn layer_stream(
        &self,
        image: &ImageName,
        digest: &Digest,
    ) -> Result<oci_client::client::SizedStream> {
        let reference = Self::reference(image, None)?;
        retry(&format!("reading layer {digest}"), REGISTRY_POLICY, registry_transience, || {
            self.client.pull_blob_stream(&reference, digest.as_str())
        })
        .await
        .with_context(|| format!("could not read layer {digest} of {}", image.name))
    }
}

/// BuildKit's provenance and SBOM manifests: `unknown/unknown` with a
/// reference-type annotation.
pub(crate) fn is_attestation(entry: &ImageIndexEntry) -> bool {
    entry.annotations.as_ref().is_some_and(|a| {
        a.get("vnd.docker.reference.type").is_some_and(|t| t == "attestation-manifest")
    }) || entry_platform(entry).is_none()
}

pub(crate) fn entry_platform(entry: &ImageIndexEntry) -> Option<Platform> {
    Platform::from_oci_json(&serde_json::to_value(entry.platform.as_ref()?).ok()?)
}

/// A digest as a registry's answer for `reference` gives it (a header, an
/// index entry), parsed.
fn answered_digest(reference: &Reference, text: &str) -> Result<Digest> {
    Digest::parse(text).with_context(|| format!("the registry's answer for {reference}"))
}

fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(format!("{:?}", e.code).as_str(), "NameUnknown" | "ManifestUnknown")),
        OciDistributionError::ServerError { code: 404, .. } => true,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        _ => false,
    }
}

fn unreachable(registry: &str, error: OciDistributionError) -> anyhow::Error {
    let detail = match &error {
        OciDistributionError::RequestError(e) if e.is_connect() => {
            "connection refused or host unknown".to_string()
        }
        OciDistributionError::RequestError(e) if e.is_timeout() => "timed out".to_string(),
        other => other.to_string(),
    };
    anyhow!(
        "registry: could not reach {registry} ({detail}); check the name, and for a plain-HTTP registry add it to `insecure-registries`"
    )
}
