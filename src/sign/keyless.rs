//! Keyless signatures, as Sigstore bundles pushed as OCI 1.1 referrers of
//! what they sign: the runner's OIDC token (audience `sigstore`) buys a
//! short-lived certificate from Fulcio for the workflow's identity; every
//! manifest gets a DSSE-signed in-toto Statement v1 (predicate
//! `https://sigstore.dev/cosign/sign/v1`, subject its digest), and every
//! statement BuildKit attached (provenance, SBOM) is signed again as a
//! Statement v1 about the platform image it describes. Each signature is
//! logged in Rekor, and timestamped when a timestamp authority is named; a
//! private repository with no log of its own is only timestamped (a signed
//! RFC 3161 timestamp, no log entry), as GitHub's own private attestations
//! are, so that its names never reach the public log.
//! Referrers are listed under the `sha256-<hex>` tag (the referrers tag
//! scheme), which registries without the referrers API need.

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};
use sigstore_sign::bundle::BundleV03;
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::fulcio::FulcioClient;
use sigstore_sign::oidc::IdentityToken;
use sigstore_sign::tsa::TimestampClient;
use sigstore_sign::types::{DsseEnvelope, DsseSignature, KeyId, PayloadBytes, Sha256Hash};
use sigstore_sign::{Attestation, SigningContext, SigningServices};
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::digest::Digest;
use crate::names::ImageName;
use crate::plan::Keyless;
use crate::registry::layout::Descriptor;

/// The predicate of an image signature (as cosign 3 writes it).
pub(crate) const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The media type of a Sigstore bundle, and the artifact type of its referrer.
pub(crate) const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
use crate::registry::copy::{OCI_INDEX, OCI_MANIFEST};
/// The issuer of GitHub Actions' OIDC tokens.
pub(crate) const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Whom the certificates name: the workflow (`https://github.com/` and the
/// token's `job_workflow_ref`) and the token's issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) identity: String,
    pub(crate) issuer: String,
}

/// The identity a GitHub Actions token names, read from its claims (the
/// token is not checked here: Fulcio checks it).
pub(crate) fn identity_of(token: &str) -> Result<Identity> {
    let claims = token.split('.').nth(1).unwrap_or_default();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .ok_or_else(|| anyhow::anyhow!("the runner's OIDC token is not a JWT"))?;
    let Some(workflow) = claims.get("job_workflow_ref").and_then(Value::as_str) else {
        bail!(
            "the runner's OIDC token names no `job_workflow_ref`: it is not a GitHub Actions token"
        );
    };
    let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or(GITHUB_ISSUER);
    Ok(Identity { identity: format!("https://github.com/{workflow}"), issuer: issuer.into() })
}

/// The token endpoint's address asking for audience `sigstore`.
pub(crate) fn token_url(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}audience=sigstore")
}

/// Asks the runner for an OIDC token with audience `sigstore`.
pub(crate) async fn fetch_token(keyless: &Keyless) -> Result<String> {
    let client = sigstore_sign::reqwest::Client::new();
    let answer = client
        .get(token_url(&keyless.token.url))
        .bearer_auth(keyless.token.token.expose())
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!("could not reach the runner's OIDC token endpoint: {}", e.without_url())
        })?;
    let status = answer.status();
    if !status.is_success() {
        bail!(
            "the runner's OIDC token endpoint answered {status}; the job needs `permissions: id-token: write`"
        );
    }
    let body: Value = answer.json().await.map_err(|_| {
        anyhow::anyhow!("the runner's OIDC token endpoint did not answer with JSON")
    })?;
    body.get("value")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the runner's OIDC token endpoint gave no token (`value`)"))
}

/// What signs: sigstore-sign's signer, which logs every signature in
/// Rekor; or, with no log, Fulcio and the timestamp authority's clients.
pub(crate) enum Signer {
    Logged(sigstore_sign::Signer),
    Timestamped { fulcio: FulcioClient, tsa: TimestampClient, token: IdentityToken },
}

/// A signer for the token, with the plan's services.
pub(crate) fn signer(keyless: &Keyless, token: &str) -> Result<Signer> {
    let token = IdentityToken::from_jwt(token)
        .map_err(|_| anyhow::anyhow!("the runner's OIDC token cannot be read as a JWT"))?;
    let Some(rekor) = &keyless.rekor else {
        let Some(tsa) = &keyless.tsa else {
            bail!(
                "keyless signing with no transparency log needs a timestamp authority (`tsa-url`)"
            );
        };
        let fulcio = FulcioClient::builder(keyless.fulcio.as_str())
            .build()
            .map_err(|e| anyhow::anyhow!("fulcio-url: {e}"))?;
        let tsa = TimestampClient::builder(tsa.as_str())
            .build()
            .map_err(|e| anyhow::anyhow!("tsa-url: {e}"))?;
        return Ok(Signer::Timestamped { fulcio, tsa, token });
    };
    let mut services = SigningServices::new(keyless.fulcio.as_str(), rekor.as_str());
    if let Some(tsa) = &keyless.tsa {
        services = services.with_tsa_url(tsa.as_str());
    }
    Ok(Signer::Logged(SigningContext::new(services).signer(token)))
}

/// One statement to sign: its predicate, and the manifest it is about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) predicate_type: String,
    pub(crate) predicate: Value,
    pub(crate) subject: Digest,
}

/// BuildKit's statements in one attestation manifest's layers (in-toto
/// statements of any version), re-aimed at `subject`, the platform image
/// the attestation manifest describes.
pub(crate) fn buildkit_statement(layer: &[u8], subject: &Digest) -> Option<Statement> {
    let statement: Value = serde_json::from_slice(layer).ok()?;
    Some(Statement {
        predicate_type: statement.get("predicateType")?.as_str()?.to_string(),
        predicate: statement.get("predicate").cloned().unwrap_or(Value::Null),
        subject: subject.clone(),
    })
}

/// Signs `statement` (as in-toto Statement v1 about `image`'s manifest):
/// the bundle's JSON.
pub(crate) async fn sign_statement(
    signer: &Signer,
    image: &ImageName,
    statement: &Statement,
) -> Result<Vec<u8>> {
    let hash = Sha256Hash::from_hex(statement.subject.hex())
        .map_err(|e| anyhow::anyhow!("{}: {e}", statement.subject))?;
    let bundle = match signer {
        Signer::Logged(signer) => {
            let attestation =
                Attestation::new(statement.predicate_type.as_str(), statement.predicate.clone())
                    .add_subject(image.name.as_str(), hash);
            signer.sign_attestation(attestation).await.map_err(anyhow::Error::from)
        }
        Signer::Timestamped { fulcio, tsa, token } => {
            sign_timestamped(fulcio, tsa, token, &statement_v1(image, statement)).await
        }
    };
    let bundle =
        bundle.with_context(|| format!("could not sign {}@{}", image.name, statement.subject))?;
    bundle.to_json().map(String::into_bytes).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `statement` as an in-toto Statement v1 about `image`'s manifest.
pub(crate) fn statement_v1(image: &ImageName, statement: &Statement) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": image.name, "digest": {"sha256": statement.subject.hex()}}],
        "predicateType": statement.predicate_type,
        "predicate": statement.predicate,
    }))
    .expect("a JSON value serializes")
}

/// A DSSE bundle of `statement` with no log entry: a certificate for a key
/// made for it, the envelope, and a signed timestamp of its signature.
async fn sign_timestamped(
    fulcio: &FulcioClient,
    tsa: &TimestampClient,
    token: &IdentityToken,
    statement: &[u8],
) -> Result<sigstore_sign::types::Bundle> {
    let key = KeyPair::generate_ecdsa_p256().map_err(|e| anyhow::anyhow!("{e}"))?;
    let certificate = fulcio
        .create_signing_certificate(token, &key)
        .await
        .map_err(|e| anyhow::anyhow!("Fulcio gave no certificate: {e}"))?
        .leaf_certificate()
        .clone();
    let payload_type = "application/vnd.in-toto+json";
    let signature = key
        .sign(&sigstore_sign::types::pae(payload_type, statement))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let envelope = DsseEnvelope::new(
        payload_type,
        PayloadBytes::from_bytes(statement),
        DsseSignature::new(signature.clone(), KeyId::default()),
    );
    let timestamp = tsa
        .timestamp_signature(&signature)
        .await
        .map_err(|e| anyhow::anyhow!("the timestamp authority gave no timestamp: {e}"))?;
    Ok(BundleV03::with_certificate_and_dsse(certificate, envelope)
        .with_rfc3161_timestamp(timestamp)
        .into_bundle())
}

/// Checks a bundle as it was stored: its certificate names `identity`, its
/// DSSE signature verifies with the certificate's key, and its statement is
/// an in-toto Statement v1 of `statement`'s predicate type about its
/// subject. (The certificate's chain to Fulcio and the log entry are what a
/// verifier with the instance's trust root checks.)
pub(crate) fn check_bundle(bundle: &[u8], identity: &str, statement: &Statement) -> Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle: Value =
        serde_json::from_slice(bundle).map_err(|_| anyhow::anyhow!("the bundle is not JSON"))?;
    let field = |pointer: &str| -> Result<Vec<u8>> {
        let text = bundle.pointer(pointer).and_then(Value::as_str);
        let text = text.ok_or_else(|| anyhow::anyhow!("the bundle has no `{pointer}`"))?;
        b64.decode(text).map_err(|_| anyhow::anyhow!("the bundle's `{pointer}` is not base64"))
    };
    let der = field("/verificationMaterial/certificate/rawBytes")?;
    let certificate = x509_cert::Certificate::from_der(&der)
        .map_err(|_| anyhow::anyhow!("the bundle's certificate cannot be read"))?;
    let tbs = certificate.tbs_certificate();
    let names = tbs.get_extension::<SubjectAltName>().ok().flatten().map(|(_, san)| san.0);
    let named = names.unwrap_or_default().iter().any(|name| {
        matches!(name, GeneralName::UniformResourceIdentifier(uri) if uri.as_str() == identity)
    });
    if !named {
        bail!("the bundle's certificate does not name {identity}");
    }
    let spki = tbs.subject_public_key_info().to_der().map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = CosignVerificationKey::from_der(&spki, &SigningScheme::ECDSA_P256_SHA256_ASN1)
        .map_err(|_| anyhow::anyhow!("the bundle's certificate holds no ECDSA P-256 key"))?;
    let payload_type = bundle.pointer("/dsseEnvelope/payloadType").and_then(Value::as_str);
    let payload_type = payload_type.unwrap_or_default();
    let payload = field("/dsseEnvelope/payload")?;
    let signature = field("/dsseEnvelope/signatures/0/sig")?;
    let signed = sigstore_sign::types::pae(payload_type, &payload);
    key.verify_signature(Signature::Raw(&signature), &signed).map_err(|_| {
        anyhow::anyhow!("the bundle's signature does not verify with its certificate")
    })?;
    let claimed: Value = serde_json::from_slice(&payload)
        .map_err(|_| anyhow::anyhow!("the bundle's statement is not JSON"))?;
    let about = claimed.get("subject").and_then(Value::as_array).into_iter().flatten().any(|s| {
        s.pointer("/digest/sha256").and_then(Value::as_str) == Some(statement.subject.hex())
    });
    if claimed.get("_type").and_then(Value::as_str) != Some("https://in-toto.io/Statement/v1")
        || claimed.get("predicateType").and_then(Value::as_str)
            != Some(statement.predicate_type.as_str())
        || !about
    {
        bail!(
            "the bundle's statement is not a Statement v1 of {} about {}",
            statement.predicate_type,
            statement.subject
        );
    }
    Ok(())
}

/// The referrer manifest that carries `bundle` (its descriptor given) for
/// `subject`.
pub(crate) fn referrer_manifest(
    bundle: &Descriptor,
    subject: &Descriptor,
    predicate_type: &str,
) -> Vec<u8> {
    let empty = Descriptor::empty_config();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE,
        "config": {"mediaType": empty.media_type, "digest": empty.digest.as_str(), "size": empty.size},
        "layers": [{"mediaType": BUNDLE, "digest": bundle.digest.as_str(), "size": bundle.size}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest.as_str(), "size": subject.size},
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": predicate_type,
        },
    }))
    .expect("a JSON value serializes")
}

/// The tag that lists the referrers of `subject` on a registry without the
/// referrers API.
pub(crate) fn referrers_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// The referrers index with `referrer` added (`existing` is the index the
/// tag holds, if any).
pub(crate) fn referrers_index(
    existing: Option<&Value>,
    referrer: &Descriptor,
    predicate_type: &str,
) -> Vec<u8> {
    let mut manifests: Vec<Value> = existing
        .and_then(|i| i.get("manifests"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    manifests.retain(|m| m.get("digest").and_then(Value::as_str) != Some(referrer.digest.as_str()));
    manifests.push(json!({
        "mediaType": OCI_MANIFEST,
        "digest": referrer.digest.as_str(),
        "size": referrer.size,
        "artifactType": BUNDLE,
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": predicate_type,
        },
    }));
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}))
        .expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        let enc = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
        };
        format!("{}.{}.sig", enc(&json!({"alg": "RS256"})), enc(&claims))
    }

    #[test]
    fn the_identity_is_the_workflow_the_token_names() {
        let token = jwt(json!({
            "iss": GITHUB_ISSUER,
            "job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
        }));
        assert_eq!(
            identity_of(&token).unwrap(),
            Identity {
                identity:
                    "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
                        .into(),
                issuer: GITHUB_ISSUER.into(),
            }
        );
        assert!(identity_of(&jwt(json!({"email": "a@b"}))).is_err());
        assert!(identity_of("not a token").is_err());
        assert_eq!(
            token_url("http://x/t?api-version=2.0"),
            "http://x/t?api-version=2.0&audience=sigstore"
        );
        assert_eq!(token_url("http://x/t"), "http://x/t?audience=sigstore");
    }

    #[test]
    fn a_bundle_without_a_certificate_for_the_identity_is_refused() {
        let statement = Statement {
            predicate_type: SIGN_PREDICATE.into(),
            predicate: json!({}),
            subject: Digest::of(b"index"),
        };
        let cases: [(&[u8], &str); 3] = [
            (b"not json", "the bundle is not JSON"),
            (b"{}", "the bundle has no `/verificationMaterial/certificate/rawBytes`"),
            (
                br#"{"verificationMaterial":{"certificate":{"rawBytes":"AAAA"}}}"#,
                "the bundle's certificate cannot be read",
            ),
        ];
        for (bundle, expected) in cases {
            let error =
                check_bundle(bundle, "https://github.com/acme/app", &statement).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn buildkit_statements_are_re_aimed_and_referrers_listed_once() {
        let subject = Digest::of(b"platform");
        let layer = br#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicate":{"builder":{"id":"b"}}}"#;
        let statement = buildkit_statement(layer, &subject).unwrap();
        assert_eq!(statement.predicate_type, "https://slsa.dev/provenance/v0.2");
        assert_eq!(statement.predicate, json!({"builder": {"id": "b"}}));
        assert_eq!(statement.subject, subject);
        assert!(buildkit_statement(b"not json", &subject).is_none());

        let referrer =
            Descriptor { media_type: OCI_MANIFEST.into(), digest: Digest::of(b"r"), size: 9 };
        let first: Value = serde_json::from_slice(&referrers_index(None, &referrer, "p")).unwrap();
        let again: Value =
            serde_json::from_slice(&referrers_index(Some(&first), &referrer, "p")).unwrap();
        assert_eq!(again["manifests"].as_array().unwrap().len(), 1);
        let other = Descriptor { digest: Digest::of(b"o"), ..referrer.clone() };
        let both: Value =
            serde_json::from_slice(&referrers_index(Some(&again), &other, "q")).unwrap();
        assert_eq!(both["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(referrers_tag(&subject), format!("sha256-{}", subject.hex()));
        let manifest: Value =
            serde_json::from_slice(&referrer_manifest(&referrer, &referrer, "p")).unwrap();
        assert_eq!(manifest["artifactType"], BUNDLE);
        assert_eq!(manifest["subject"]["digest"], referrer.digest.as_str());
    }
}
