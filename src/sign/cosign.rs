//! cosign's key-pair signature format, as `cosign sign --key` writes it and
//! `cosign verify --key` reads it: for each signed digest, an OCI manifest
//! tagged `sha256-<hex>.sig` in the image's repository, whose layers are
//! "simple signing" payloads (the repository and the digest signed), each
//! carrying its base64 ECDSA signature as an annotation. Attestations as
//! `cosign attest --key` writes them and `cosign verify-attestation --key`
//! reads them: a manifest tagged `sha256-<hex>.att` whose layers are DSSE
//! envelopes of in-toto statements about that digest. Pure: the payloads,
//! the manifests, and the check of one signature or envelope.

use anyhow::{Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};

use crate::digest::Digest;
use crate::names::{DOCKER_HUB, ImageName};
use crate::registry::layout::Descriptor;

/// The media type of a signed payload.
pub(crate) const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the payload's signature (base64).
pub(crate) const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
use crate::registry::copy::OCI_MANIFEST;
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The media type of a key-pair attestation: a DSSE envelope.
pub(crate) const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The payload type of an in-toto statement in a DSSE envelope.
pub(crate) const IN_TOTO: &str = "application/vnd.in-toto+json";

/// The tag cosign reads the signatures of `digest` from.
pub(crate) fn signature_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// The tag cosign reads the attestations of `digest` from.
pub(crate) fn attestation_tag(digest: &Digest) -> String {
    format!("sha256-{}.att", digest.hex())
}

/// What a DSSE signature signs: the pre-authentication encoding of the
/// payload and its type.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    sigstore_sign::types::pae(payload_type, payload)
}

/// The in-toto statement cosign attests: `predicate` of `predicate_type`
/// about `digest` in `image`'s repository (Statement v0.1, as `cosign
/// attest` writes it).
pub(crate) fn statement(
    image: &ImageName,
    digest: &Digest,
    predicate_type: &str,
    predicate: &Value,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": docker_reference(image), "digest": {"sha256": digest.hex()}}],
        "predicate": predicate,
    }))
    .expect("a JSON value serializes")
}

/// The DSSE envelope of `statement`, signed with `signature` (over
/// [`pae`] of it).
pub(crate) fn envelope(statement: &[u8], signature: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    serde_json::to_vec(&json!({
        "payloadType": IN_TOTO,
        "payload": b64.encode(statement),
        "signatures": [{"keyid": "", "sig": b64.encode(signature)}],
    }))
    .expect("a JSON value serializes")
}

/// The layer descriptor of an attestation envelope, as cosign writes it.
pub(crate) fn attestation_layer(envelope: &[u8], predicate_type: &str) -> Value {
    json!({
        "mediaType": DSSE_ENVELOPE,
        "digest": Digest::of(envelope).as_str(),
        "size": envelope.len(),
        "annotations": {SIGNATURE_ANNOTATION: "", "predicateType": predicate_type},
    })
}

/// Checks a key-pair attestation: the DSSE envelope's signature verifies
/// with `key`, and its in-toto statement is about `digest`.
pub(crate) fn check_envelope(
    key: &CosignVerificationKey,
    envelope: &[u8],
    digest: &Digest,
) -> Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let envelope: Value = serde_json::from_slice(envelope)
        .map_err(|_| anyhow::anyhow!("its envelope is not JSON"))?;
    let payload_type = envelope.get("payloadType").and_then(Value::as_str).unwrap_or_default();
    let payload = envelope
        .get("payload")
        .and_then(Value::as_str)
        .and_then(|p| b64.decode(p).ok())
        .ok_or_else(|| anyhow::anyhow!("its envelope has no base64 payload"))?;
    let signed = pae(payload_type, &payload);
    let verified =
        envelope.get("signatures").and_then(Value::as_array).into_iter().flatten().any(|s| {
            s.get("sig").and_then(Value::as_str).is_some_and(|sig| {
                key.verify_signature(Signature::Base64Encoded(sig.as_bytes()), &signed).is_ok()
            })
        });
    if !verified {
        bail!("its envelope's signature does not verify with the public key");
    }
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|_| anyhow::anyhow!("its statement is not JSON"))?;
    let about = statement
        .get("subject")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| s.pointer("/digest/sha256").and_then(Value::as_str) == Some(digest.hex()));
    if payload_type != IN_TOTO || !about {
        bail!("its statement is not an in-toto statement about {digest}");
    }
    Ok(())
}

/// The repository as cosign names it in a payload (Docker Hub's as
/// `index.docker.io/…`).
pub(crate) fn docker_reference(image: &ImageName) -> String {
    match image.registry.as_str() {
        DOCKER_HUB => format!("index.docker.io/{}", image.repository),
        registry => format!("{registry}/{}", image.repository),
    }
}

/// The payload signed for `digest` in `image`'s repository.
pub(crate) fn payload(image: &ImageName, digest: &Digest) -> Vec<u8> {
    let payload = json!({
        "critical": {
            "identity": {"docker-reference": docker_reference(image)},
            "image": {"docker-manifest-digest": digest.as_str()},
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&payload).expect("a JSON value serializes")
}

/// The layer descriptor of a signed payload.
pub(crate) fn signature_layer(payload: &[u8], signature: &[u8]) -> Value {
    json!({
        "mediaType": SIMPLE_SIGNING,
        "digest": Digest::of(payload).as_str(),
        "size": payload.len(),
        "annotations": {
            SIGNATURE_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(signature),
        },
    })
}

/// The layers of an existing signature manifest that stay beside a new
/// one: every other signature (another key's, another payload's).
pub(crate) fn other_layers(existing: &Value, new_layer: &Value) -> Vec<Value> {
    let layers = existing.get("layers").and_then(Value::as_array).cloned().unwrap_or_default();
    layers.into_iter().filter(|l| l.get("digest") != new_layer.get("digest")).collect()
}

/// A signature manifest's config (the layers as its diff ids, as cosign
/// writes it) and the manifest itself, over `layers`.
pub(crate) fn signature_manifest(layers: &[Value]) -> (Vec<u8>, Descriptor, Vec<u8>) {
    let diff_ids: Vec<&Value> = layers.iter().filter_map(|l| l.get("digest")).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }))
    .expect("a JSON value serializes");
    let config_descriptor = Descriptor::of(OCI_CONFIG, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": config_descriptor.digest.as_str(),
            "size": config_descriptor.size,
        },
        "layers": layers,
    }))
    .expect("a JSON value serializes");
    (config, config_descriptor, manifest)
}

/// The public key that checks signatures (`cosign.pub`, PEM).
pub(crate) fn verifier(public_pem: &str) -> Result<CosignVerificationKey> {
    CosignVerificationKey::from_pem(public_pem.as_bytes(), &SigningScheme::ECDSA_P256_SHA256_ASN1)
        .map_err(|e| anyhow::anyhow!("the public key cannot be read: {e}"))
}

/// Checks one signature layer read back: its payload names `digest` and its
/// annotation is a signature of the payload by `key`.
pub(crate) fn check_layer(
    key: &CosignVerificationKey,
    layer: &Value,
    payload: &[u8],
    digest: &Digest,
) -> Result<()> {
    let Some(signature) = layer
        .pointer(&format!("/annotations/{}", SIGNATURE_ANNOTATION.replace('/', "~1")))
        .and_then(Value::as_str)
    else {
        bail!("its signature layer has no `{SIGNATURE_ANNOTATION}` annotation");
    };
    let claimed: Value = serde_json::from_slice(payload)
        .map_err(|_| anyhow::anyhow!("its signed payload is not JSON"))?;
    let named = claimed.pointer("/critical/image/docker-manifest-digest").and_then(Value::as_str);
    if named != Some(digest.as_str()) {
        bail!("its signed payload names {}, not {digest}", named.unwrap_or("no digest"));
    }
    key.verify_signature(Signature::Base64Encoded(signature.as_bytes()), payload)
        .map_err(|_| anyhow::anyhow!("its signature does not verify with the public key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::SigningKey;

    fn key() -> SigningKey {
        let (pem, _) = crate::plan::test_signing_key("pw");
        crate::plan::parse_signing_key(&pem, "pw").unwrap()
    }

    #[test]
    fn the_payload_and_tag_are_cosigns() {
        let digest = Digest::of(b"index");
        let image = ImageName::parse("172.17.0.1:5000/acme/app").unwrap();
        assert_eq!(signature_tag(&digest), format!("sha256-{}.sig", digest.hex()));
        assert_eq!(
            String::from_utf8(payload(&image, &digest)).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"172.17.0.1:5000/acme/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        let hub = ImageName::parse("acme/app").unwrap();
        assert_eq!(docker_reference(&hub), "index.docker.io/acme/app");
    }

    #[test]
    fn a_signature_checks_only_for_its_digest_payload_and_key() {
        let (signer, other) = (key(), key());
        let digest = Digest::of(b"index");
        let image = ImageName::parse("registry.example/acme/app").unwrap();
        let body = payload(&image, &digest);
        let layer = signature_layer(&body, &signer.sign(&body).unwrap());
        let ours = verifier(signer.public_pem()).unwrap();
        check_layer(&ours, &layer, &body, &digest).unwrap();
        let cases = [
            (
                verifier(other.public_pem()).unwrap(),
                body.clone(),
                digest.clone(),
                "does not verify",
            ),
            (
                verifier(signer.public_pem()).unwrap(),
                body.clone(),
                Digest::of(b"x"),
                "names sha256:",
            ),
            (
                verifier(signer.public_pem()).unwrap(),
                payload(&image, &Digest::of(b"tampered")),
                Digest::of(b"tampered"),
                "does not verify",
            ),
        ];
        for (key, body, digest, expected) in cases {
            let error = check_layer(&key, &layer, &body, &digest).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_new_signature_keeps_the_others_and_replaces_its_own() {
        let ours = json!({"digest": "sha256:aa", "annotations": {"k": "new"}});
        let existing = json!({"layers": [
            {"digest": "sha256:aa", "annotations": {"k": "old"}},
            {"digest": "sha256:bb"},
        ]});
        assert_eq!(other_layers(&existing, &ours), vec![json!({"digest": "sha256:bb"})]);
        let (config, config_descriptor, manifest) =
            signature_manifest(&[json!({"digest": "sha256:bb"}), ours]);
        assert_eq!(config_descriptor.digest, Digest::of(&config));
        let manifest: Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
        assert_eq!(manifest["config"]["digest"], config_descriptor.digest.as_str());
    }
}
