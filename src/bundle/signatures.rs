//! The signatures a bundle carries, and their offline check. When a bundle
//! is written, what `sign` stored beside each manifest it holds comes along:
//! cosign's key-pair signatures (`sha256-<hex>.sig`) and attestations
//! (`sha256-<hex>.att`), and the Sigstore bundles listed as referrers
//! (under the referrers tag `sha256-<hex>`), each manifest and blob in
//! `blobs/sha256/` and listed in `signatures.json`. `bundle verify --key` or
//! `--trusted-root` checks them with no network: every manifest of every
//! image must carry a signature that verifies, and every attestation
//! carried must verify; `bundle push` puts them back beside the images.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sigstore::crypto::CosignVerificationKey;
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{Bundle, Sha256Hash, SignatureContent};
use sigstore_verify::{VerificationPolicy, Verifier};

use super::check::BundleImage;
use crate::digest::Digest;
use crate::names::ImageName;
use crate::registry::Registry;
use crate::registry::layout::{Descriptor, blobs_of};
use crate::sign::{cosign, keyless};

/// The bundle's list of the signatures it carries.
pub(crate) const ENTRY: &str = "signatures.json";
/// The trust root a bundle carries when asked (`bundle-trusted-root`).
pub(crate) const TRUSTED_ROOT: &str = "trusted_root.json";

/// One signature manifest a bundle carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Carried {
    /// The image it belongs to, as `index.json` names it.
    pub(crate) image: String,
    /// The manifest it is about.
    pub(crate) subject: Digest,
    /// The tag the registry kept it under: `sha256-<hex>.sig` or `.att`
    /// (cosign), or `sha256-<hex>` (the referrers tag that lists it).
    pub(crate) tag: String,
    /// The signature manifest itself (in `blobs/sha256/`).
    pub(crate) manifest: Descriptor,
}

/// What a carried manifest is, by the tag it was kept under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// cosign's key-pair signatures: simple-signing payloads.
    KeySignature,
    /// cosign's key-pair attestations: DSSE envelopes.
    KeyAttestation,
    /// A Sigstore bundle (keyless), stored as a referrer.
    SigstoreBundle,
}

impl Carried {
    pub(crate) fn kind(&self) -> Kind {
        if self.tag.ends_with(".sig") {
            Kind::KeySignature
        } else if self.tag.ends_with(".att") {
            Kind::KeyAttestation
        } else {
            Kind::SigstoreBundle
        }
    }
}

/// `signatures.json`: the carried manifests, in order.
pub(crate) fn list_json(carried: &[Carried]) -> Vec<u8> {
    serde_json::to_vec_pretty(&serde_json::json!({ "signatures": carried }))
        .expect("a JSON value serializes")
}

/// The carried manifests `signatures.json` lists.
pub(crate) fn parse_list(bytes: &[u8]) -> Result<Vec<Carried>> {
    #[derive(Deserialize)]
    struct List {
        signatures: Vec<Carried>,
    }
    let list: List = serde_json::from_slice(bytes)
        .map_err(|e| anyhow::anyhow!("{ENTRY} does not list signatures: {e}"))?;
    Ok(list.signatures)
}

/// The signatures `registry` holds for `subjects` in `image`, as the bundle
/// image `name` carries them; each manifest and blob is added to
/// `documents`. Only Sigstore bundles are taken from the referrers (the
/// referrers API, or the referrers tag where a registry has none).
pub(crate) async fn gather(
    registry: &Registry,
    image: &ImageName,
    name: &str,
    subjects: &[Digest],
    documents: &mut BTreeMap<Digest, Vec<u8>>,
) -> Result<Vec<Carried>> {
    let mut carried = Vec::new();
    for subject in subjects {
        for tag in [cosign::signature_tag(subject), cosign::attestation_tag(subject)] {
            if let Some(manifest) = registry.manifest_if_any(image, &tag).await? {
                keep_manifest(registry, image, &manifest, documents).await?;
                carried.push(Carried {
                    image: name.to_string(),
                    subject: subject.clone(),
                    tag,
                    manifest: manifest.descriptor(),
                });
            }
        }
        let tag = keyless::referrers_tag(subject);
        for digest in registry.referrers(image, subject).await? {
            let referrer = registry.raw_manifest(image, digest.as_str()).await?;
            if referrer.json.get("artifactType").and_then(Value::as_str) != Some(keyless::BUNDLE) {
                continue;
            }
            keep_manifest(registry, image, &referrer, documents).await?;
            carried.push(Carried {
                image: name.to_string(),
                subject: subject.clone(),
                tag: tag.clone(),
                manifest: referrer.descriptor(),
            });
        }
    }
    Ok(carried)
}

/// A signature manifest and every blob it names, into `documents`.
async fn keep_manifest(
    registry: &Registry,
    image: &ImageName,
    manifest: &crate::registry::copy::RawManifest,
    documents: &mut BTreeMap<Digest, Vec<u8>>,
) -> Result<()> {
    for blob in blobs_of(&manifest.json) {
        if !documents.contains_key(&blob.digest) {
            let bytes = registry.small_blob(image, &blob).await?;
            documents.insert(blob.digest.clone(), bytes);
        }
    }
    documents.insert(manifest.digest.clone(), manifest.bytes.to_vec());
    Ok(())
}

/// Whom the signatures must come from.
pub(crate) enum Trust {
    /// The public half of a cosign key pair (`--key cosign.pub`).
    Key(Box<CosignVerificationKey>),
    /// A Sigstore instance's trust root and the signer's identity.
    Keyless { verifier: Box<Verifier>, identity: Identity, issuer: String },
}

/// The certificate identity asked for.
pub(crate) enum Identity {
    Exact(String),
    /// As cosign reads `--certificate-identity-regexp`: anywhere in the name.
    Pattern(regex::Regex),
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Exact(identity) => f.write_str(identity),
            Identity::Pattern(pattern) => write!(f, "an identity matching `{pattern}`"),
        }
    }
}

/// The flags of `bundle verify|load|push` that ask for the signatures to
/// be checked, as given (file contents already read).
#[derive(Debug, Default, Clone)]
pub(crate) struct TrustFlags {
    /// `--key`: the public key, PEM.
    pub(crate) key: Option<String>,
    /// `--trusted-root`: the trust root, JSON.
    pub(crate) trusted_root: Option<String>,
    pub(crate) identity: Option<String>,
    pub(crate) identity_regexp: Option<String>,
    pub(crate) issuer: Option<String>,
}

/// The trust the flags ask for; None when they ask for none.
pub(crate) fn trust(flags: &TrustFlags) -> Result<Option<Trust>> {
    let identity_given = flags.identity.is_some() || flags.identity_regexp.is_some();
    match (&flags.key, &flags.trusted_root) {
        (Some(_), Some(_)) => bail!(
            "--key checks key-pair signatures and --trusted-root keyless ones; give one of them"
        ),
        (Some(pem), None) => {
            if identity_given || flags.issuer.is_some() {
                bail!(
                    "--certificate-identity and --certificate-oidc-issuer name a keyless signer; with --key, leave them out"
                );
            }
            let key = cosign::verifier(pem)
                .map_err(|_| anyhow::anyhow!("--key: not a cosign public key; give the `cosign.pub` that `cosign generate-key-pair` wrote"))?;
            Ok(Some(Trust::Key(Box::new(key))))
        }
        (None, Some(json)) => {
            let identity = match (&flags.identity, &flags.identity_regexp) {
                (Some(_), Some(_)) => bail!(
                    "--certificate-identity and --certificate-identity-regexp both name the signer; give one"
                ),
                (Some(exact), None) => Identity::Exact(exact.clone()),
                (None, Some(pattern)) => {
                    Identity::Pattern(regex::Regex::new(pattern).map_err(|_| {
                        anyhow::anyhow!(
                            "--certificate-identity-regexp: `{pattern}` is not a regular expression"
                        )
                    })?)
                }
                (None, None) => bail!(
                    "--trusted-root needs the signer: give --certificate-identity (or --certificate-identity-regexp) and --certificate-oidc-issuer"
                ),
            };
            let Some(issuer) = flags.issuer.clone() else {
                bail!(
                    "--trusted-root needs --certificate-oidc-issuer, e.g. https://token.actions.githubusercontent.com"
                );
            };
            let root = TrustedRoot::from_json(json).map_err(|e| {
                anyhow::anyhow!("--trusted-root: not a Sigstore trusted root ({e}); give the instance's trusted_root.json")
            })?;
            let verifier = Verifier::new(&root).map_err(|e| {
                anyhow::anyhow!("--trusted-root: its keys or certificates cannot be used ({e})")
            })?;
            Ok(Some(Trust::Keyless { verifier: Box::new(verifier), identity, issuer }))
        }
        (None, None) if identity_given || flags.issuer.is_some() => bail!(
            "--certificate-identity and --certificate-oidc-issuer need --trusted-root FILE, the Sigstore instance's trusted_root.json"
        ),
        (None, None) => Ok(None),
    }
}

impl Trust {
    /// Who the signatures were checked against, for the report.
    fn signer(&self) -> String {
        match self {
            Trust::Key(_) => "the key".into(),
            Trust::Keyless { identity, issuer, .. } => format!("{identity} ({issuer})"),
        }
    }
}

/// Checks every image's signatures with `trust`: each manifest of each
/// image (its platforms, and its index when a signature of it is carried)
/// has a signature that verifies, and every attestation carried verifies.
/// The first failure names the image; else a line per image.
pub(crate) fn check(
    images: &[BundleImage],
    documents: &BTreeMap<Digest, Vec<u8>>,
    carried: &[Carried],
    trust: &Trust,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for image in images {
        let ours: Vec<&Carried> = carried.iter().filter(|c| c.image == image.name).collect();
        let mut signed: Vec<&Digest> = Vec::new();
        let mut attestations = 0;
        for item in &ours {
            let outcome = check_one(item, documents, trust)
                .with_context(|| format!("{}: {}", image.name, what(item)))?;
            match outcome {
                Checked::Signature => signed.push(&item.subject),
                Checked::Attestation => attestations += 1,
                Checked::NotForThisTrust => {}
            }
        }
        let mut required: Vec<&Digest> = image.platforms.iter().map(|(_, d, _)| d).collect();
        if ours.iter().any(|c| c.subject == image.root_digest)
            && !required.contains(&&image.root_digest)
        {
            required.insert(0, &image.root_digest);
        }
        if let Some(unsigned) = required.iter().find(|d| !signed.contains(d)) {
            let hint = match (ours.is_empty(), trust) {
                (true, _) => "the bundle carries no signature of it".to_string(),
                (false, Trust::Key(_)) => "no signature of it verifies with the key".to_string(),
                (false, Trust::Keyless { .. }) => {
                    format!("no signature of it was made by {}", trust.signer())
                }
            };
            bail!("{}: {unsigned} is not signed: {hint}", image.name);
        }
        lines.push(format!(
            "  {}: {} manifest(s) signed by {}, {attestations} attestation(s) verified",
            image.name,
            required.len(),
            trust.signer()
        ));
    }
    Ok(lines)
}

/// What a carried manifest is, for an error.
fn what(item: &Carried) -> String {
    match item.kind() {
        Kind::KeySignature => format!("the signature of {} ({})", item.subject, item.tag),
        Kind::KeyAttestation => format!("the attestation of {} ({})", item.subject, item.tag),
        Kind::SigstoreBundle => {
            format!("the Sigstore bundle {} about {}", item.manifest.digest, item.subject)
        }
    }
}

/// What one carried manifest turned out to be, checked.
enum Checked {
    Signature,
    Attestation,
    /// Made another way than `trust` checks (a key pair's, keyless).
    NotForThisTrust,
}

fn check_one(
    item: &Carried,
    documents: &BTreeMap<Digest, Vec<u8>>,
    trust: &Trust,
) -> Result<Checked> {
    let document = |digest: &Digest| -> Result<&Vec<u8>> {
        documents.get(digest).with_context(|| format!("the bundle lacks {digest}"))
    };
    let manifest: Value = serde_json::from_slice(document(&item.manifest.digest)?)
        .context("its manifest is not JSON")?;
    let layers = manifest.get("layers").and_then(Value::as_array).cloned().unwrap_or_default();
    let layer = |value: &Value| -> Result<(Descriptor, &Vec<u8>)> {
        let descriptor: Descriptor =
            serde_json::from_value(value.clone()).context("a layer is not a descriptor")?;
        let body = document(&descriptor.digest)?;
        Ok((descriptor, body))
    };
    match (item.kind(), trust) {
        (Kind::KeySignature, Trust::Key(key)) => {
            let mut why = Vec::new();
            for value in &layers {
                let (_, payload) = layer(value)?;
                match cosign::check_layer(key, value, payload, &item.subject) {
                    Ok(()) => return Ok(Checked::Signature),
                    Err(error) => why.push(error.to_string()),
                }
            }
            match why.is_empty() {
                true => bail!("it holds no signature"),
                false => bail!("{}", why.join("; ")),
            }
        }
        (Kind::KeyAttestation, Trust::Key(key)) => {
            for value in &layers {
                let (_, envelope) = layer(value)?;
                cosign::check_envelope(key, envelope, &item.subject)?;
            }
            Ok(Checked::Attestation)
        }
        (Kind::SigstoreBundle, Trust::Keyless { verifier, identity, issuer }) => {
            let Some(value) = layers.first() else { bail!("it holds no bundle") };
            let (_, json) = layer(value)?;
            let text = std::str::from_utf8(json).context("the bundle is not text")?;
            let bundle = Bundle::from_json(text)
                .map_err(|e| anyhow::anyhow!("the bundle cannot be read: {e}"))?;
            let subject = Sha256Hash::from_hex(item.subject.hex())
                .map_err(|e| anyhow::anyhow!("{}: {e}", item.subject))?;
            let mut policy = VerificationPolicy::any_identity().require_issuer(issuer.as_str());
            // A private repository's signature is in no log: its signed
            // timestamp (which must verify) is what dates it.
            if bundle.verification_material.tlog_entries.is_empty() {
                policy = policy.skip_tlog_unsafe();
            }
            if let Identity::Exact(exact) = identity {
                policy = policy.require_identity(exact.as_str());
            }
            let result = verifier
                .verify(subject, &bundle, &policy)
                .map_err(|e| anyhow::anyhow!("it does not verify: {e}"))?;
            if let Identity::Pattern(pattern) = identity {
                let name =
                    result.identity().map(|san| san.as_str().to_string()).unwrap_or_default();
                if !pattern.is_match(&name) {
                    bail!("it was signed by {name}, which does not match `{pattern}`");
                }
            }
            // What it is, from what was verified (not the manifest's
            // annotation): a signature over the digest, or a statement.
            let kind = match &bundle.content {
                SignatureContent::DsseEnvelope(envelope) => {
                    serde_json::from_slice::<Value>(envelope.payload.as_bytes())
                        .ok()
                        .and_then(|s| s.get("predicateType")?.as_str().map(str::to_string))
                }
                SignatureContent::MessageSignature(_) => Some(keyless::SIGN_PREDICATE.to_string()),
                _ => None,
            };
            match kind.as_deref() == Some(keyless::SIGN_PREDICATE) {
                true => Ok(Checked::Signature),
                false => Ok(Checked::Attestation),
            }
        }
        _ => Ok(Checked::NotForThisTrust),
    }
}

/// What `bundle verify` says of signatures it was not asked to check.
pub(crate) fn unchecked_note(carried: &[Carried]) -> Option<String> {
    if carried.is_empty() {
        return None;
    }
    let images: std::collections::BTreeSet<&str> =
        carried.iter().map(|c| c.image.as_str()).collect();
    Some(format!(
        "{} signature manifest(s) carried for {} image(s), not checked: give --key cosign.pub, or --trusted-root FILE with --certificate-identity and --certificate-oidc-issuer\n",
        carried.len(),
        images.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{SigningKey, parse_signing_key, test_signing_key};
    use crate::platform::Platform;

    fn key() -> SigningKey {
        let (pem, _) = test_signing_key("pw");
        parse_signing_key(&pem, "pw").unwrap()
    }

    fn flags(pairs: &[(&str, &str)]) -> TrustFlags {
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        TrustFlags {
            key: get("key"),
            trusted_root: get("trusted-root"),
            identity: get("identity"),
            identity_regexp: get("regexp"),
            issuer: get("issuer"),
        }
    }

    #[test]
    fn each_flag_mistake_is_one_line_saying_what_to_give() {
        let public = key().public_pem().to_string();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("key", &public), ("trusted-root", "{}")],
                "--key checks key-pair signatures and --trusted-root keyless ones; give one of them",
            ),
            (&[("key", "not a key")], "--key: not a cosign public key; give the `cosign.pub`"),
            (&[("key", &public), ("identity", "x")], "with --key, leave them out"),
            (
                &[("trusted-root", "{}")],
                "--trusted-root needs the signer: give --certificate-identity",
            ),
            (
                &[("trusted-root", "{}"), ("identity", "a"), ("regexp", "b"), ("issuer", "i")],
                "both name the signer; give one",
            ),
            (
                &[("trusted-root", "{}"), ("regexp", "(")],
                "--certificate-identity-regexp: `(` is not a regular expression",
            ),
            (
                &[("trusted-root", "{}"), ("identity", "a")],
                "--trusted-root needs --certificate-oidc-issuer",
            ),
            (
                &[("trusted-root", "[]"), ("identity", "a"), ("issuer", "i")],
                "--trusted-root: not a Sigstore trusted root",
            ),
            (&[("issuer", "i")], "need --trusted-root FILE"),
        ];
        for (pairs, expected) in cases {
            let error = match trust(&flags(pairs)) {
                Ok(_) => panic!("{pairs:?} was accepted"),
                Err(error) => format!("{error:#}"),
            };
            assert!(error.contains(expected), "{pairs:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        assert!(trust(&flags(&[])).unwrap().is_none());
        assert!(matches!(trust(&flags(&[("key", &public)])).unwrap(), Some(Trust::Key(_))));
    }

    /// An image of one platform manifest, signed (cosign's format) by `signer`.
    fn signed_image(
        signer: &SigningKey,
        payload_digest: &Digest,
    ) -> (BundleImage, BTreeMap<Digest, Vec<u8>>, Vec<Carried>) {
        let platform = Digest::of(b"arm64 manifest");
        let image = ImageName::parse("r.example/acme/app").unwrap();
        let payload = cosign::payload(&image, payload_digest);
        let layer = cosign::signature_layer(&payload, &signer.sign(&payload).unwrap());
        let (config, config_descriptor, manifest) = cosign::signature_manifest(&[layer]);
        let mut documents = BTreeMap::new();
        documents.insert(Digest::of(&payload), payload);
        documents.insert(config_descriptor.digest.clone(), config);
        let descriptor = Descriptor::of(crate::registry::copy::OCI_MANIFEST, &manifest);
        documents.insert(descriptor.digest.clone(), manifest);
        let bundled = BundleImage {
            name: "r.example/acme/app:1".into(),
            root_digest: platform.clone(),
            root_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platforms: vec![(
                Platform::parse("linux/arm64").unwrap(),
                platform.clone(),
                "application/vnd.oci.image.manifest.v1+json".into(),
            )],
            blobs: Vec::new(),
        };
        let carried = vec![Carried {
            image: bundled.name.clone(),
            subject: platform.clone(),
            tag: cosign::signature_tag(&platform),
            manifest: descriptor,
        }];
        (bundled, documents, carried)
    }

    #[test]
    fn a_key_pair_signature_holds_only_for_its_key_and_digest() {
        let signer = key();
        let platform = Digest::of(b"arm64 manifest");
        let ours = Trust::Key(Box::new(cosign::verifier(signer.public_pem()).unwrap()));
        let (image, documents, carried) = signed_image(&signer, &platform);
        let lines = check(std::slice::from_ref(&image), &documents, &carried, &ours).unwrap();
        assert_eq!(
            lines,
            vec![
                "  r.example/acme/app:1: 1 manifest(s) signed by the key, 0 attestation(s) verified"
            ]
        );
        let list = list_json(&carried);
        assert_eq!(parse_list(&list).unwrap(), carried);
        assert_eq!(carried[0].kind(), Kind::KeySignature);

        let other = Trust::Key(Box::new(cosign::verifier(key().public_pem()).unwrap()));
        let error = check(std::slice::from_ref(&image), &documents, &carried, &other).unwrap_err();
        let error = format!("{error:#}");
        assert!(
            error.starts_with(&format!(
                "r.example/acme/app:1: the signature of {platform} (sha256-"
            )) && error.ends_with("its signature does not verify with the public key"),
            "{error}"
        );
        // A signature of another digest, moved under this one's tag.
        let (_, documents, carried) = signed_image(&signer, &Digest::of(b"other"));
        let error = format!(
            "{:#}",
            check(std::slice::from_ref(&image), &documents, &carried, &ours).unwrap_err()
        );
        assert!(error.contains("its signed payload names sha256:"), "{error}");
        // Nothing carried: the image is refused, named.
        let error = format!(
            "{:#}",
            check(std::slice::from_ref(&image), &documents, &[], &ours).unwrap_err()
        );
        assert_eq!(
            error,
            format!(
                "r.example/acme/app:1: {platform} is not signed: the bundle carries no signature of it"
            )
        );
        assert_eq!(unchecked_note(&[]), None);
        assert!(
            unchecked_note(&carried)
                .unwrap()
                .starts_with("1 signature manifest(s) carried for 1 image(s), not checked")
        );
    }

    #[test]
    fn a_key_pair_attestation_holds_only_for_its_key_and_subject() {
        let signer = key();
        let subject = Digest::of(b"index");
        let image = ImageName::parse("r.example/acme/app").unwrap();
        let kind = "https://slsa.dev/provenance/v0.2";
        let payload = cosign::statement(&image, &subject, kind, &serde_json::json!({}));
        let claimed: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(claimed["subject"][0]["digest"]["sha256"], subject.hex());
        assert_eq!(claimed["subject"][0]["name"], "r.example/acme/app");
        let signature = signer.sign(&cosign::pae(cosign::IN_TOTO, &payload)).unwrap();
        let envelope = cosign::envelope(&payload, &signature);
        let layer = cosign::attestation_layer(&envelope, kind);
        assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
        assert_eq!(layer["annotations"]["predicateType"], kind);
        assert_eq!(layer["digest"], Digest::of(&envelope).as_str());
        let ours = cosign::verifier(signer.public_pem()).unwrap();
        cosign::check_envelope(&ours, &envelope, &subject).unwrap();
        let error = cosign::check_envelope(&ours, &envelope, &Digest::of(b"x")).unwrap_err();
        assert!(error.to_string().contains("not an in-toto statement about sha256:"), "{error}");
        let other = cosign::verifier(key().public_pem()).unwrap();
        let error = cosign::check_envelope(&other, &envelope, &subject).unwrap_err();
        assert_eq!(
            error.to_string(),
            "its envelope's signature does not verify with the public key"
        );
    }
}
