//! Signing the pushed image once it is verified and before any tag is set:
//! the index and every manifest in it (platform images and BuildKit's
//! attestation manifests), in every repository the build pushed to. Each
//! signature is read back from the registry and checked before the run goes
//! on: a signature that does not verify fails the run with no tag set.

mod cosign;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::digest::Digest;
use crate::log::Log;
use crate::names::ImageName;
use crate::plan::{Build, RunSettings, Signing, SigningKey};
use crate::registry::Registry;
use crate::registry::layout::Descriptor;

/// What was signed, and how a user checks it.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    /// `image@digest` of every signed manifest, the index first.
    pub(crate) references: Vec<String>,
    pub(crate) with: SignedWith,
}

/// What verifies the signatures.
#[derive(Debug, Clone)]
pub(crate) enum SignedWith {
    /// The public key, PEM (`cosign.pub`).
    Key { public_pem: String },
}

/// Signs `digest` (and every manifest its index lists) in every image of
/// `build`, as `run` says, then checks each signature read back.
pub(crate) async fn sign_and_check(
    run: &RunSettings,
    build: &Build,
    registry: &Registry,
    digest: &Digest,
    log: &Log,
) -> Result<Option<Signed>> {
    let key = match run.signing() {
        Signing::Off => return Ok(None),
        Signing::Key(key) => key,
    };
    let _group = log.open_group(&format!("Sign {digest}"));
    let digests = signed_digests(registry, build.image(), digest).await?;
    let mut references = Vec::new();
    for image in build.images() {
        let existing = registry.existing_tags(image).await?;
        for signed in &digests {
            let tag = cosign::signature_tag(signed);
            let reference = format!("{}@{signed}", image.name);
            sign_one(registry, image, signed, key, existing.contains(&tag))
                .await
                .with_context(|| format!("could not sign {reference}; no tag was set"))?;
            check_one(registry, image, signed, key.public_pem()).await.with_context(|| {
                format!("the signature of {reference} read back from {tag} does not hold; no tag was set")
            })?;
            log.info(&format!("{reference} signed with the key ({}:{tag})", image.name));
            references.push(reference);
        }
    }
    Ok(Some(Signed {
        references,
        with: SignedWith::Key { public_pem: key.public_pem().to_string() },
    }))
}

/// The index (or manifest) and every manifest an index lists.
async fn signed_digests(
    registry: &Registry,
    image: &ImageName,
    digest: &Digest,
) -> Result<Vec<Digest>> {
    let root = registry.raw_manifest(image, digest.as_str()).await?;
    let mut digests = vec![digest.clone()];
    for child in root.json.get("manifests").and_then(Value::as_array).into_iter().flatten() {
        let text = child.get("digest").and_then(Value::as_str).unwrap_or_default();
        let child = Digest::parse(text)
            .map_err(|e| anyhow::anyhow!("{}@{digest} lists `{text}`: {e}", image.name))?;
        if !digests.contains(&child) {
            digests.push(child);
        }
    }
    Ok(digests)
}

/// One signature pushed: the payload and a config blob, then the manifest
/// under the signature tag, keeping the signatures it already holds.
async fn sign_one(
    registry: &Registry,
    image: &ImageName,
    digest: &Digest,
    key: &SigningKey,
    tag_exists: bool,
) -> Result<()> {
    let tag = cosign::signature_tag(digest);
    let payload = cosign::payload(image, digest);
    let layer = cosign::signature_layer(&payload, &key.sign(&payload)?);
    let mut layers = match tag_exists {
        true => cosign::other_layers(&registry.raw_manifest(image, &tag).await?.json, &layer),
        false => Vec::new(),
    };
    layers.push(layer);
    let (config, config_descriptor, manifest) = cosign::signature_manifest(&layers);
    let payload_descriptor = Descriptor {
        media_type: cosign::SIMPLE_SIGNING.into(),
        digest: Digest::of(&payload),
        size: payload.len() as u64,
    };
    put_small_blob(registry, image, &payload_descriptor, payload).await?;
    put_small_blob(registry, image, &config_descriptor, config).await?;
    let descriptor = cosign::manifest_descriptor(&manifest);
    registry.put_manifest(image, &tag, &descriptor, manifest.into()).await
}

async fn put_small_blob(
    registry: &Registry,
    image: &ImageName,
    descriptor: &Descriptor,
    body: Vec<u8>,
) -> Result<()> {
    let body = bytes::Bytes::from(body);
    registry
        .put_blob(image, descriptor, None, || {
            let body = body.clone();
            async move { Ok(futures_util::stream::once(async move { Ok(body) })) }
        })
        .await?;
    Ok(())
}

/// The signature of `digest` read back from the registry: one of its layers
/// is a payload naming `digest`, signed by the key whose public half is
/// `public_pem`.
async fn check_one(
    registry: &Registry,
    image: &ImageName,
    digest: &Digest,
    public_pem: &str,
) -> Result<()> {
    let key = cosign::verifier(public_pem)?;
    let tag = cosign::signature_tag(digest);
    let manifest = registry.raw_manifest(image, &tag).await?;
    let layers = manifest.json.get("layers").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut why = Vec::new();
    for layer in &layers {
        let Ok(descriptor) = serde_json::from_value::<Descriptor>(layer.clone()) else { continue };
        if descriptor.media_type != cosign::SIMPLE_SIGNING {
            continue;
        }
        let payload = registry.small_blob(image, &descriptor).await?;
        match cosign::check_layer(&key, layer, &payload, digest) {
            Ok(()) => return Ok(()),
            Err(error) => why.push(format!("{}: {error}", descriptor.digest)),
        }
    }
    match why.is_empty() {
        true => bail!("it holds no signature layer"),
        false => bail!("no layer is a good signature ({})", why.join("; ")),
    }
}

/// The job summary's section: what was signed, and the commands that check
/// it (`--allow-http-registry` for a registry in `insecure`).
pub(crate) fn summary(signed: &Signed, insecure: &[String]) -> String {
    let Some(first) = signed.references.first() else { return String::new() };
    let plain_http = insecure.iter().any(|r| first.starts_with(&format!("{r}/")));
    let http = if plain_http { " --allow-http-registry" } else { "" };
    match &signed.with {
        SignedWith::Key { public_pem } => format!(
            "\n**Signed** with the key, in cosign's format: the index and every manifest it lists ({} signatures). Check one with the public key (`cosign.pub`, below) — the signatures are not in a transparency log:\n\n```\ncosign verify --key cosign.pub --insecure-ignore-tlog{http} {first}\n```\n\n<details><summary>cosign.pub</summary>\n\n```\n{}\n```\n\n</details>\n",
            signed.references.len(),
            public_pem.trim()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_gives_the_command_that_checks_the_signature() {
        let signed = Signed {
            references: vec!["127.0.0.1:5000/acme/app@sha256:ab".into(), "x".into()],
            with: SignedWith::Key {
                public_pem: "-----BEGIN PUBLIC KEY-----\nK\n-----END PUBLIC KEY-----\n".into(),
            },
        };
        let md = summary(&signed, &["127.0.0.1:5000".into()]);
        assert!(md.contains("cosign verify --key cosign.pub --insecure-ignore-tlog --allow-http-registry 127.0.0.1:5000/acme/app@sha256:ab\n"), "{md}");
        assert!(
            md.contains("(2 signatures)")
                && md.contains("-----BEGIN PUBLIC KEY-----\nK\n-----END PUBLIC KEY-----\n```"),
            "{md}"
        );
        assert!(!summary(&signed, &[]).contains("--allow-http-registry"));
    }
}
