//! Signing the pushed image once it is verified and before any tag is set:
//! the index and every manifest in it (platform images and BuildKit's
//! attestation manifests), in every repository the build pushed to, and
//! BuildKit's statements (provenance, SBOM) attested about the platform
//! image each describes. Each signature is read back from the registry and
//! checked before the run goes on: a signature that does not verify fails
//! the run with no tag set.

pub(crate) mod cosign;
pub(crate) mod keyless;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::digest::Digest;
use crate::log::Log;
use crate::names::ImageName;
use crate::plan::{Build, Keyless, RunSettings, Signing, SigningKey};
use crate::registry::Registry;
use crate::registry::layout::{Descriptor, EMPTY_CONFIG};

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
    /// The public key, PEM (`cosign.pub`); each predicate type attested,
    /// with the first manifest it is about (`image@digest`).
    Key { public_pem: String, attested: Vec<(String, String)> },
    /// The workflow's identity and its issuer; each predicate type signed,
    /// with the first manifest it is about (`image@digest`); whether the
    /// signatures are in a transparency log (else only timestamped).
    Keyless { who: keyless::Identity, checks: Vec<(String, String)>, logged: bool },
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
    let _group = match run.signing() {
        Signing::Off => return Ok(None),
        _ => log.open_group(&format!("Sign {digest}")),
    };
    match run.signing() {
        Signing::Off => Ok(None),
        Signing::Key(key) => with_key(build, registry, digest, key, log).await.map(Some),
        Signing::Keyless(keyless) => {
            without_key(build, registry, digest, keyless, log).await.map(Some)
        }
    }
}

async fn with_key(
    build: &Build,
    registry: &Registry,
    digest: &Digest,
    key: &SigningKey,
    log: &Log,
) -> Result<Signed> {
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
    let attested = attest_with_key(build, registry, digest, key, log).await?;
    let public_pem = key.public_pem().to_string();
    Ok(Signed { references, with: SignedWith::Key { public_pem, attested } })
}

/// BuildKit's statements (provenance, SBOM) attested with the key about the
/// platform image each describes, in cosign's `sha256-<hex>.att` format,
/// in every image, and read back. Each predicate type attested, with the
/// first manifest it is about.
async fn attest_with_key(
    build: &Build,
    registry: &Registry,
    digest: &Digest,
    key: &SigningKey,
    log: &Log,
) -> Result<Vec<(String, String)>> {
    let (_, statements) = statements(registry, build.image(), digest).await?;
    let statements: Vec<keyless::Statement> =
        statements.into_iter().filter(|s| s.predicate_type != keyless::SIGN_PREDICATE).collect();
    let mut subjects: Vec<&Digest> = Vec::new();
    for statement in &statements {
        if !subjects.contains(&&statement.subject) {
            subjects.push(&statement.subject);
        }
    }
    let mut attested: Vec<(String, String)> = Vec::new();
    for image in build.images() {
        for subject in &subjects {
            let about: Vec<&keyless::Statement> =
                statements.iter().filter(|s| s.subject == **subject).collect();
            let tag = cosign::attestation_tag(subject);
            let reference = format!("{}@{subject}", image.name);
            attest_one(registry, image, subject, &about, key)
                .await
                .with_context(|| format!("could not attest {reference}; no tag was set"))?;
            check_attestations(registry, image, subject, about.len(), key.public_pem())
                .await
                .with_context(|| {
                    format!("the attestations of {reference} read back from {tag} do not hold; no tag was set")
                })?;
            for statement in &about {
                log.info(&format!(
                    "{reference}: {} attested with the key ({}:{tag})",
                    statement.predicate_type, image.name
                ));
                if !attested.iter().any(|(kind, _)| *kind == statement.predicate_type) {
                    attested.push((statement.predicate_type.clone(), reference.clone()));
                }
            }
        }
    }
    Ok(attested)
}

/// The attestations of `subject` pushed: each statement's envelope, a
/// config, then the manifest under the attestation tag, keeping the
/// attestations it already holds.
async fn attest_one(
    registry: &Registry,
    image: &ImageName,
    subject: &Digest,
    statements: &[&keyless::Statement],
    key: &SigningKey,
) -> Result<()> {
    let tag = cosign::attestation_tag(subject);
    let mut layers = match registry.manifest_if_any(image, &tag).await? {
        Some(existing) => {
            existing.json.get("layers").and_then(Value::as_array).cloned().unwrap_or_default()
        }
        None => Vec::new(),
    };
    for statement in statements {
        let body =
            cosign::statement(image, subject, &statement.predicate_type, &statement.predicate);
        let signature = key.sign(&cosign::pae(cosign::IN_TOTO, &body))?;
        let envelope = cosign::envelope(&body, &signature);
        let layer = cosign::attestation_layer(&envelope, &statement.predicate_type);
        layers = cosign::other_layers(&serde_json::json!({ "layers": layers }), &layer);
        layers.push(layer);
        let descriptor = Descriptor::of(cosign::DSSE_ENVELOPE, &envelope);
        registry.put_small_blob(image, &descriptor, envelope).await?;
    }
    put_signature_manifest(registry, image, &tag, &layers).await
}

/// Cosign's manifest of `layers` (their blobs already pushed) under `tag`:
/// its config blob, then the manifest.
async fn put_signature_manifest(
    registry: &Registry,
    image: &ImageName,
    tag: &str,
    layers: &[Value],
) -> Result<()> {
    let (config, config_descriptor, manifest) = cosign::signature_manifest(layers);
    registry.put_small_blob(image, &config_descriptor, config).await?;
    let descriptor = Descriptor::of(crate::registry::copy::OCI_MANIFEST, &manifest);
    registry.put_manifest(image, tag, &descriptor, manifest.into()).await
}

/// The attestations of `subject` read back: at least `count` envelopes,
/// every one ours (an envelope another key signed is left alone) is about
/// `subject`.
async fn check_attestations(
    registry: &Registry,
    image: &ImageName,
    subject: &Digest,
    count: usize,
    public_pem: &str,
) -> Result<()> {
    let key = cosign::verifier(public_pem)?;
    let manifest = registry.raw_manifest(image, &cosign::attestation_tag(subject)).await?;
    let mut good = 0;
    for layer in manifest.json.get("layers").and_then(Value::as_array).into_iter().flatten() {
        let Ok(descriptor) = serde_json::from_value::<Descriptor>(layer.clone()) else { continue };
        let envelope = registry.small_blob(image, &descriptor).await?;
        if cosign::check_envelope(&key, &envelope, subject).is_ok() {
            good += 1;
        }
    }
    if good < count {
        bail!("{good} of its {count} attestations verify with the public key");
    }
    Ok(())
}

/// Keyless: a signature statement for every manifest and BuildKit's own
/// statements re-signed, each pushed as a referrer of its manifest in every
/// image, and read back.
async fn without_key(
    build: &Build,
    registry: &Registry,
    digest: &Digest,
    keyless: &Keyless,
    log: &Log,
) -> Result<Signed> {
    let token = keyless::fetch_token(keyless).await?;
    log.mask(&token);
    let who = keyless::identity_of(&token)?;
    let signer = keyless::signer(keyless, &token)?;
    log.info(&format!("signing as {} ({})", who.identity, keyless.describe()));
    let (subjects, statements) = statements(registry, build.image(), digest).await?;
    let mut references = Vec::new();
    let mut checks: Vec<(String, String)> = Vec::new();
    for image in build.images() {
        for statement in &statements {
            let reference = format!("{}@{}", image.name, statement.subject);
            let Some(subject) = subjects.iter().find(|s| s.digest == statement.subject) else {
                bail!("{reference} is not in the index it was read from");
            };
            let bundle = keyless::sign_statement(&signer, image, statement).await?;
            let stored = push_referrer(registry, image, subject, bundle, &statement.predicate_type)
                .await
                .with_context(|| {
                    format!("could not store the signature of {reference}; no tag was set")
                })?;
            let read = registry.small_blob(image, &stored).await?;
            keyless::check_bundle(&read, &who.identity, statement).with_context(|| {
                format!("the signature of {reference} read back does not hold; no tag was set")
            })?;
            log.info(&format!(
                "{reference}: {} signed and stored as a referrer",
                statement.predicate_type
            ));
            if !checks.iter().any(|(kind, _)| *kind == statement.predicate_type) {
                checks.push((statement.predicate_type.clone(), reference.clone()));
            }
            if !references.contains(&reference) {
                references.push(reference);
            }
        }
    }
    let logged = keyless.rekor.is_some();
    Ok(Signed { references, with: SignedWith::Keyless { who, checks, logged } })
}

/// What keyless signing signs: the descriptors of the index and the
/// manifests it lists, a signature statement for each, and the statements
/// of BuildKit's attestation manifests, each about its platform image.
async fn statements(
    registry: &Registry,
    image: &ImageName,
    digest: &Digest,
) -> Result<(Vec<Descriptor>, Vec<keyless::Statement>)> {
    let root = registry.raw_manifest(image, digest.as_str()).await?;
    let mut subjects = vec![root.descriptor()];
    let mut buildkit = Vec::new();
    for child in root.json.get("manifests").and_then(Value::as_array).into_iter().flatten() {
        let descriptor: Descriptor = serde_json::from_value(child.clone()).with_context(|| {
            format!("{}@{digest} lists a manifest it does not describe", image.name)
        })?;
        let annotation =
            |key: &str| child.pointer(&format!("/annotations/{key}")).and_then(Value::as_str);
        if annotation("vnd.docker.reference.type") == Some("attestation-manifest")
            && let Some(about) =
                annotation("vnd.docker.reference.digest").and_then(|d| Digest::parse(d).ok())
        {
            let manifest = registry.raw_manifest(image, descriptor.digest.as_str()).await?;
            for layer in manifest.json.get("layers").and_then(Value::as_array).into_iter().flatten()
            {
                let Ok(layer) = serde_json::from_value::<Descriptor>(layer.clone()) else {
                    continue;
                };
                if layer.media_type == "application/vnd.in-toto+json" {
                    let body = registry.small_blob(image, &layer).await?;
                    buildkit.extend(keyless::buildkit_statement(&body, &about));
                }
            }
        }
        subjects.push(descriptor);
    }
    let mut statements: Vec<keyless::Statement> = subjects
        .iter()
        .map(|s| keyless::Statement {
            predicate_type: keyless::SIGN_PREDICATE.into(),
            predicate: serde_json::json!({}),
            subject: s.digest.clone(),
        })
        .collect();
    statements.extend(buildkit);
    Ok((subjects, statements))
}

/// A bundle stored as a referrer of `subject`: the bundle and an empty
/// config, the referrer manifest by digest, and the referrers tag's index
/// with it added; the index is read back to hold it. Returns the bundle's
/// descriptor.
async fn push_referrer(
    registry: &Registry,
    image: &ImageName,
    subject: &Descriptor,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> Result<Descriptor> {
    let bundle_descriptor = Descriptor::of(keyless::BUNDLE, &bundle);
    let empty = Descriptor::empty_config();
    registry.put_small_blob(image, &bundle_descriptor, bundle).await?;
    registry.put_small_blob(image, &empty, EMPTY_CONFIG).await?;
    let manifest = keyless::referrer_manifest(&bundle_descriptor, subject, predicate_type);
    let referrer = Descriptor::of(crate::registry::copy::OCI_MANIFEST, &manifest);
    store_referrer(registry, image, &subject.digest, &referrer, manifest, predicate_type).await?;
    Ok(bundle_descriptor)
}

/// A referrer manifest (its blobs already stored) put by digest and added
/// to the referrers tag's index of `subject`; both read back.
pub(crate) async fn store_referrer(
    registry: &Registry,
    image: &ImageName,
    subject: &Digest,
    referrer: &Descriptor,
    manifest: Vec<u8>,
    predicate_type: &str,
) -> Result<()> {
    registry.put_manifest(image, referrer.digest.as_str(), referrer, manifest.into()).await?;
    let tag = keyless::referrers_tag(subject);
    let existing = registry.manifest_if_any(image, &tag).await?.map(|m| m.json);
    let index = keyless::referrers_index(existing.as_ref(), referrer, predicate_type);
    let descriptor = Descriptor::of(crate::registry::copy::OCI_INDEX, &index);
    registry.put_manifest(image, &tag, &descriptor, index.into()).await?;
    let listed = registry.raw_manifest(image, &tag).await?;
    let holds = listed.json.get("manifests").and_then(Value::as_array).is_some_and(|m| {
        m.iter().any(|d| d.get("digest").and_then(Value::as_str) == Some(referrer.digest.as_str()))
    });
    let stored = registry.raw_manifest(image, referrer.digest.as_str()).await?;
    if !holds || stored.digest != referrer.digest {
        bail!("{}:{tag} does not list the signature {} read back", image.name, referrer.digest);
    }
    Ok(())
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
    let payload_descriptor = Descriptor::of(cosign::SIMPLE_SIGNING, &payload);
    registry.put_small_blob(image, &payload_descriptor, payload).await?;
    put_signature_manifest(registry, image, &tag, &layers).await
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
        SignedWith::Key { public_pem, attested } => {
            let mut checks =
                format!("cosign verify --key cosign.pub --insecure-ignore-tlog{http} {first}\n");
            for (predicate, reference) in attested {
                checks.push_str(&format!(
                    "cosign verify-attestation --key cosign.pub --insecure-ignore-tlog --type {predicate}{http} {reference}\n"
                ));
            }
            let attestations = match attested.is_empty() {
                true => String::new(),
                false => ", and BuildKit's attestations about each platform image in cosign's attestation format".to_string(),
            };
            format!(
                "\n**Signed** with the key, in cosign's format: the index and every manifest it lists ({} signatures){attestations}. Check them with the public key (`cosign.pub`, below) — the signatures are not in a transparency log:\n\n```\n{checks}```\n\n<details><summary>cosign.pub</summary>\n\n```\n{}\n```\n\n</details>\n",
                signed.references.len(),
                public_pem.trim()
            )
        }
        SignedWith::Keyless { who, checks, logged } => {
            // Only timestamped: verifiers are told not to look for a log entry.
            let no_log =
                if *logged { "" } else { " --insecure-ignore-tlog --use-signed-timestamps" };
            let mut md = format!(
                "\n**Signed** keyless as `{}` (issuer `{}`): the index and every manifest it lists ({} manifests), and BuildKit's attestations about each platform image, as Sigstore bundles stored as referrers. Check the image's signature (any manifest's, by its digest), and each attestation:\n\n```\n",
                who.identity,
                who.issuer,
                signed.references.len()
            );
            for (predicate, reference) in checks {
                md.push_str(&format!(
                    "cosign verify-attestation --new-bundle-format{no_log} --type {predicate} --certificate-identity {} --certificate-oidc-issuer {}{http} {reference}\n",
                    who.identity, who.issuer
                ));
            }
            md.push_str("```\n");
            md
        }
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
                attested: vec![(
                    "https://slsa.dev/provenance/v0.2".into(),
                    "127.0.0.1:5000/acme/app@sha256:cd".into(),
                )],
            },
        };
        let md = summary(&signed, &["127.0.0.1:5000".into()]);
        assert!(md.contains("cosign verify --key cosign.pub --insecure-ignore-tlog --allow-http-registry 127.0.0.1:5000/acme/app@sha256:ab\n"), "{md}");
        assert!(md.contains("cosign verify-attestation --key cosign.pub --insecure-ignore-tlog --type https://slsa.dev/provenance/v0.2 --allow-http-registry 127.0.0.1:5000/acme/app@sha256:cd\n"), "{md}");
        assert!(
            md.contains("(2 signatures)")
                && md.contains("-----BEGIN PUBLIC KEY-----\nK\n-----END PUBLIC KEY-----\n```"),
            "{md}"
        );
        assert!(!summary(&signed, &[]).contains("--allow-http-registry"));

        let who = keyless::Identity {
            identity: "https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main".into(),
            issuer: keyless::GITHUB_ISSUER.into(),
        };
        let checks = vec![
            (keyless::SIGN_PREDICATE.to_string(), "r/app@sha256:ab".to_string()),
            ("https://slsa.dev/provenance/v0.2".to_string(), "r/app@sha256:cd".to_string()),
        ];
        let signed = Signed {
            references: vec!["r/app@sha256:ab".into()],
            with: SignedWith::Keyless { who: who.clone(), checks: checks.clone(), logged: true },
        };
        let md = summary(&signed, &[]);
        for (kind, at) in [
            (keyless::SIGN_PREDICATE, "sha256:ab"),
            ("https://slsa.dev/provenance/v0.2", "sha256:cd"),
        ] {
            assert!(md.contains(&format!("cosign verify-attestation --new-bundle-format --type {kind} --certificate-identity https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com r/app@{at}\n")), "{md}");
        }
        let timestamped = Signed {
            references: vec!["r/app@sha256:ab".into()],
            with: SignedWith::Keyless { who, checks, logged: false },
        };
        let md = summary(&timestamped, &[]);
        assert!(
            md.contains("cosign verify-attestation --new-bundle-format --insecure-ignore-tlog --use-signed-timestamps --type https://sigstore.dev/cosign/sign/v1 "),
            "{md}"
        );
    }
}
