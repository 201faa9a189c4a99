//! `bundle push`: every image of a checked bundle into one registry, every
//! platform, digests kept: each blob read once from the tarball (two at a
//! time in memory) and uploaded to the first repository that needs it, then
//! mounted into the others; the manifests after their blobs, each image's
//! root under its original tag; each tag read back against its digest.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use http::HeaderValue;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::check::{BundleImage, check};
use crate::names::Credential;
use crate::retry::{REGISTRY_POLICY, registry_transience, retry};

/// Where one image of the bundle goes.
struct Target<'a> {
    image: &'a BundleImage,
    /// The repository, without tag.
    repository: Reference,
    /// `repository:tag`, or `repository@digest` when the image was named so.
    named: Reference,
}

fn target<'a>(registry: &str, image: &'a BundleImage) -> Result<Target<'a>> {
    let original = crate::reference::parse(&image.name)?;
    let repository = format!("{registry}/{}", original.repository());
    let named = match (original.tag(), original.digest()) {
        (Some(tag), _) => format!("{repository}:{tag}"),
        (None, Some(digest)) => format!("{repository}@{digest}"),
        (None, None) => format!("{repository}:latest"),
    };
    Ok(Target { image, repository: crate::reference::parse(&repository)?, named: crate::reference::parse(&named)? })
}

/// Pushes the bundle at `file` into `registry`.
pub async fn push(file: &Path, registry: &str, insecure: bool, credential: Option<&Credential>) -> Result<()> {
    let checked = tokio::task::spawn_blocking({
        let file = file.to_path_buf();
        move || check(&file)
    })
    .await??;
    print!("{}", super::offline::describe(file, &checked));
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    let plain_http = if insecure || host == "localhost" || host.starts_with("127.") { vec![registry.to_string()] } else { Vec::new() };
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(plain_http),
        read_timeout: Some(Duration::from_secs(60)),
        connect_timeout: Some(Duration::from_secs(10)),
        use_monolithic_push: true,
        ..Default::default()
    });
    let auth = match credential {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.expose().to_string()),
        None => RegistryAuth::Anonymous,
    };
    let targets: Vec<Target> = checked.images.iter().map(|image| target(registry, image)).collect::<Result<_>>()?;
    for target in &targets {
        client.auth(&target.repository, &auth, RegistryOperation::Push).await.map_err(|e| {
            let hint = if credential.is_some() { "check --username and the password" } else { "give --username and --password-stdin" };
            anyhow!(
                "the registry {registry} refused a push to {} ({e}); {hint}, and --insecure for a plain-HTTP registry",
                target.repository
            )
        })?;
    }
    // Which images need each blob (configs and layers; manifests go up as manifests).
    let mut users: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, target) in targets.iter().enumerate() {
        for blob in &target.image.blobs {
            let list = users.entry(blob.clone()).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<std::io::Result<(String, bytes::Bytes)>>(2);
    let reader = {
        let file = file.to_path_buf();
        let wanted: Vec<String> = users.keys().cloned().collect();
        tokio::task::spawn_blocking(move || read_blobs(&file, &wanted, &sender))
    };
    let mut uploaded = 0;
    while let Some(blob) = receiver.recv().await {
        let (digest, data) = blob.with_context(|| format!("could not read {}", file.display()))?;
        let mut first: Option<&Reference> = None;
        for &i in &users[&digest] {
            let repository = &targets[i].repository;
            if client.blob_exists(repository, &digest).await.unwrap_or(false) {
                first.get_or_insert(repository);
                continue;
            }
            let mounted = match first {
                Some(source) => {
                    client.mount_blob(repository, source, &digest).await.is_ok()
                        && client.blob_exists(repository, &digest).await.unwrap_or(false)
                }
                None => false,
            };
            if !mounted {
                retry(&format!("uploading {digest} to {repository}"), REGISTRY_POLICY, registry_transience, || {
                    client.push_blob(repository, data.clone(), &digest)
                })
                .await
                .with_context(|| format!("could not upload {digest} to {repository}"))?;
                uploaded += 1;
            }
            first.get_or_insert(repository);
        }
    }
    reader.await?;
    for target in &targets {
        for (_, digest, media_type) in &target.image.platforms {
            if *digest != target.image.root_digest {
                let reference = crate::reference::parse(&format!("{}@{digest}", target.repository))?;
                put_manifest(&client, &reference, &checked.documents, digest, media_type).await?;
            }
        }
        put_manifest(&client, &target.named, &checked.documents, &target.image.root_digest, &target.image.root_media_type).await?;
        let stored =
            client.fetch_manifest_digest(&target.named, &auth).await.with_context(|| format!("could not read back {}", target.named))?;
        if stored != target.image.root_digest {
            bail!("{} reads back as {stored}, not {}; the registry changed the manifest", target.named, target.image.root_digest);
        }
        let platforms: Vec<String> = target.image.platforms.iter().map(|(p, _, _)| p.to_string()).collect();
        println!("pushed {}@{} ({})", target.named, stored, platforms.join(", "));
    }
    println!("{} image(s) pushed to {registry}; {uploaded} blob upload(s), the rest mounted or already there", targets.len());
    Ok(())
}

async fn put_manifest(
    client: &Client,
    reference: &Reference,
    documents: &BTreeMap<String, Vec<u8>>,
    digest: &str,
    media_type: &str,
) -> Result<()> {
    let body = bytes::Bytes::from(documents.get(digest).with_context(|| format!("the bundle lacks the manifest {digest}"))?.clone());
    let content_type = HeaderValue::from_str(media_type).with_context(|| format!("`{media_type}` is not a media type"))?;
    retry(&format!("storing {reference}"), REGISTRY_POLICY, registry_transience, || {
        client.push_manifest_raw(reference, body.clone(), content_type.clone())
    })
    .await
    .with_context(|| format!("could not store the manifest {reference}"))?;
    Ok(())
}

/// Sends each wanted blob of the tarball, whole, in the order stored.
fn read_blobs(file: &Path, wanted: &[String], sender: &tokio::sync::mpsc::Sender<std::io::Result<(String, bytes::Bytes)>>) {
    let outcome = (|| -> std::io::Result<()> {
        let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file)?));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).trim_start_matches("./").to_string();
            let Some(digest) = name.strip_prefix("blobs/sha256/").map(|hex| format!("sha256:{hex}")) else { continue };
            if !wanted.contains(&digest) {
                continue;
            }
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data)?;
            if sender.blocking_send(Ok((digest, bytes::Bytes::from(data)))).is_err() {
                return Ok(());
            }
        }
        Ok(())
    })();
    if let Err(error) = outcome {
        let _ = sender.blocking_send(Err(error));
    }
}
