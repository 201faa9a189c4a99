//! `sign`: whether, and how, a pushed image is signed — with a cosign key
//! pair, or keyless with the workflow's identity — read once, before any
//! build. A key that does not decrypt, a `key` run with no key, or a
//! `keyless` run the runner gives no OIDC token to fails the run with one
//! line; the key is decrypted here, once, and never written anywhere.

use std::sync::Arc;

use anyhow::{Result, bail};
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{SigStoreSigner, SigningScheme};

use super::mode::Mode;
use crate::inputs::RawInputs;
use crate::inputs::choices::SignWord;
use crate::names::Secret;
use crate::runner::{GithubContext, IdTokenRequest};

/// Sigstore's public-good certificate authority.
pub(crate) const PUBLIC_FULCIO: &str = "https://fulcio.sigstore.dev";
/// Sigstore's public-good transparency log.
pub(crate) const PUBLIC_REKOR: &str = "https://rekor.sigstore.dev";
/// Sigstore's public-good timestamp authority.
pub(crate) const PUBLIC_TSA: &str = "https://timestamp.sigstore.dev/api/v1/timestamp";

/// How the pushed image is signed.
#[derive(Debug, Clone, Default)]
pub(crate) enum Signing {
    /// Not signed (`sign: false`, or nothing is pushed).
    #[default]
    Off,
    /// cosign's key-pair format: a `sha256-<hex>.sig` manifest per digest.
    Key(SigningKey),
    /// A short-lived certificate for the workflow's identity.
    Keyless(Keyless),
}

/// A decrypted cosign private key (ECDSA P-256), and its public half.
#[derive(Clone)]
pub(crate) struct SigningKey {
    signer: Arc<SigStoreSigner>,
    public_pem: String,
    /// What is masked: the password and the key's lines.
    masked: Vec<Secret>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("public", &self.public_pem).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Signs `message` (ECDSA P-256 over SHA-256, ASN.1 DER).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.signer.sign(message).map_err(|e| anyhow::anyhow!("signing failed: {e}"))
    }

    /// The public key, PEM (`cosign.pub`).
    pub(crate) fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// Where a keyless signature's certificate, log entry and timestamp come
/// from, and the runner's token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Keyless {
    pub(crate) fulcio: String,
    /// The transparency log every signature is logged in; `None` for a
    /// private repository that names none: its signatures are only
    /// timestamped, never written to the public log.
    pub(crate) rekor: Option<String>,
    /// The timestamp authority; `None` for a public repository that names
    /// none (then the log's entry times the signature).
    pub(crate) tsa: Option<String>,
    pub(crate) token: IdTokenRequest,
}

impl Keyless {
    /// Where the certificate comes from, and where the signature is logged
    /// or timestamped.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!("a certificate from {}", self.fulcio);
        match &self.rekor {
            Some(rekor) => text.push_str(&format!(", logged in {rekor}")),
            None => text.push_str(", in no transparency log"),
        }
        if let Some(tsa) = &self.tsa {
            text.push_str(&format!(", timestamped by {tsa}"));
        }
        text
    }
}

impl Signing {
    /// Every value to mask: the key's password and lines, the runner's
    /// token for its OIDC endpoint.
    pub(crate) fn secrets(&self) -> Vec<String> {
        match self {
            Signing::Off => Vec::new(),
            Signing::Key(key) => key.masked.iter().map(|s| s.expose().to_string()).collect(),
            Signing::Keyless(keyless) => vec![keyless.token.token.expose().to_string()],
        }
    }
}

/// Reads `sign` and the inputs it takes. A run that pushes nothing signs
/// nothing, and asks for no key or token (a pull request from a fork gets no
/// secrets).
pub(super) fn resolve(
    raw: &RawInputs,
    github: &GithubContext,
    mode: &Mode,
    pushes: bool,
) -> Result<Signing> {
    let word = raw.choice::<SignWord>("sign")?;
    if word == SignWord::False || !pushes {
        return Ok(Signing::Off);
    }
    match mode.work() {
        Mode::Digest { .. } | Mode::Merge { .. } => bail!(
            "sign: `mode: digest` and `mode: merge` are not signed; sign with `mode: build` (or a bundle's built services), or set `sign: false`"
        ),
        Mode::Check => return Ok(Signing::Off),
        _ => {}
    }
    match word {
        SignWord::False => Ok(Signing::Off),
        SignWord::Key => {
            let Some(pem) = raw.text("sign-key") else {
                bail!(
                    "sign: `key` needs `sign-key`, the private key `cosign generate-key-pair` wrote (e.g. `sign-key: ${{{{ secrets.COSIGN_PRIVATE_KEY }}}}`)"
                );
            };
            Ok(Signing::Key(parse_key(pem, raw.text("sign-key-password").unwrap_or(""))?))
        }
        SignWord::Keyless => keyless(raw, github).map(Signing::Keyless),
    }
}

fn keyless(raw: &RawInputs, github: &GithubContext) -> Result<Keyless> {
    let Some(token) = github.id_token_request.clone() else {
        bail!(
            "sign: `keyless` needs the workflow's OIDC token, and the runner gave none (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are unset); add `permissions: id-token: write` to the job"
        );
    };
    let private = github.repository_is_private();
    let fulcio = url(raw, "fulcio-url")?.unwrap_or_else(|| PUBLIC_FULCIO.to_string());
    // A private repository's names stay out of the public log: without a
    // log of its own, its signatures carry a signed timestamp instead.
    let rekor = match url(raw, "rekor-url")? {
        Some(given) => Some(given),
        None if private => None,
        None => Some(PUBLIC_REKOR.to_string()),
    };
    let tsa = match url(raw, "tsa-url")? {
        Some(given) => Some(given),
        None => private.then(|| PUBLIC_TSA.to_string()),
    };
    Ok(Keyless { fulcio, rekor, tsa, token })
}

/// An `http(s)://` address from `input`, without a trailing slash.
fn url(raw: &RawInputs, input: &str) -> Result<Option<String>> {
    let Some(given) = raw.text(input) else { return Ok(None) };
    if !(given.starts_with("https://") || given.starts_with("http://")) || given.contains(' ') {
        bail!("{input}: `{given}` is not an address; give one as `https://host[/path]`");
    }
    Ok(Some(given.trim_end_matches('/').to_string()))
}

/// A cosign private key, PEM (encrypted, as `cosign generate-key-pair`
/// writes it, or not), decrypted with `password`. The errors name neither.
pub(crate) fn parse_key(pem: &str, password: &str) -> Result<SigningKey> {
    let pem = pem.trim();
    let Some(label) = pem
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
    else {
        bail!(
            "sign-key: not a PEM private key; give the whole text of the key `cosign generate-key-pair` wrote (it starts with `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----`)"
        );
    };
    let pair = if label.contains("ENCRYPTED") {
        SigStoreKeyPair::from_encrypted_pem(pem.as_bytes(), password.as_bytes()).map_err(|_| {
            anyhow::anyhow!(
                "sign-key: could not be decrypted with `sign-key-password`; give the password the key was made with (cosign's COSIGN_PASSWORD)"
            )
        })?
    } else {
        SigStoreKeyPair::from_pem(pem.as_bytes()).map_err(|_| {
            anyhow::anyhow!("sign-key: a `{label}` cosign cannot sign with; give an ECDSA P-256 key as `cosign generate-key-pair` makes it")
        })?
    };
    let signer = pair.to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1).map_err(|_| {
        anyhow::anyhow!("sign-key: an {pair}, and cosign's format is signed here with ECDSA P-256 keys; make one with `cosign generate-key-pair`")
    })?;
    let public_pem = pair
        .public_key_to_pem()
        .map_err(|e| anyhow::anyhow!("sign-key: its public key cannot be written: {e}"))?
        .replace("\r\n", "\n");
    let mut masked: Vec<Secret> = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .map(Secret::new)
        .collect();
    masked.push(Secret::new(password));
    Ok(SigningKey { signer: Arc::new(signer), public_pem, masked })
}

/// A cosign-format key pair made here: the encrypted PEM and the public PEM.
#[cfg(test)]
pub(crate) fn test_key(password: &str) -> (String, String) {
    use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};
    let pair = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    let pem = pair.private_key_to_encrypted_pem(password.as_bytes()).unwrap();
    (pem.to_string(), pair.public_key_to_pem().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_signing(pairs: &[(&str, &str)], github: &GithubContext) -> Result<Signing> {
        let raw = RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string())))?;
        resolve(&raw, github, &Mode::Build, true)
    }

    fn token_endpoint() -> GithubContext {
        GithubContext {
            id_token_request: Some(IdTokenRequest {
                url: "http://127.0.0.1:1/token?api-version=2.0".into(),
                token: Secret::new("runner-bearer"),
            }),
            ..GithubContext::default()
        }
    }

    #[test]
    fn each_mistake_is_one_line_naming_the_input_and_no_secret() {
        let (pem, _) = test_key("right horse");
        let none = GithubContext::default();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("sign", "maybe")], "sign: `maybe` is not accepted; use one of false, keyless, key"),
            (&[("sign", "key")], "sign: `key` needs `sign-key`"),
            (&[("sign", "key"), ("sign-key", "cosign.key")], "sign-key: not a PEM private key"),
            (
                &[("sign", "key"), ("sign-key", &pem), ("sign-key-password", "wrong battery")],
                "sign-key: could not be decrypted with `sign-key-password`",
            ),
            (&[("sign", "keyless")], "add `permissions: id-token: write` to the job"),
        ];
        for (pairs, expected) in cases {
            let error = format!("{:#}", plan_signing(pairs, &none).unwrap_err());
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains('\n'), "{error}");
            assert!(!error.contains("wrong battery") && !error.contains("PRIVATE KEY-----\n"));
        }
        let error = plan_signing(&[("sign", "keyless"), ("rekor-url", "rekor")], &token_endpoint())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "rekor-url: `rekor` is not an address; give one as `https://host[/path]`"
        );
        let error =
            plan_signing(&[("sign", "keyless"), ("tsa-url", "ts")], &token_endpoint()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "tsa-url: `ts` is not an address; give one as `https://host[/path]`"
        );
    }

    #[test]
    fn a_key_decrypts_once_and_signs_what_its_public_half_verifies() {
        let (pem, public) = test_key("right horse");
        let pairs =
            [("sign", "key"), ("sign-key", pem.as_str()), ("sign-key-password", "right horse")];
        let Signing::Key(key) = plan_signing(&pairs, &GithubContext::default()).unwrap() else {
            panic!("a key")
        };
        assert_eq!(key.public_pem(), public.replace("\r\n", "\n"));
        let signature = key.sign(b"payload").unwrap();
        let verifier = sigstore::crypto::CosignVerificationKey::from_pem(
            public.as_bytes(),
            &SigningScheme::ECDSA_P256_SHA256_ASN1,
        )
        .unwrap();
        verifier
            .verify_signature(sigstore::crypto::Signature::Raw(&signature), b"payload")
            .unwrap();
        assert!(!format!("{key:?}").contains("PRIVATE"));
        let masked = Signing::Key(key).secrets();
        assert!(masked.contains(&"right horse".to_string()));
        let body_line = pem.lines().nth(1).unwrap().trim().to_string();
        assert!(masked.contains(&body_line) && !masked.iter().any(|m| m.starts_with("-----")));
    }

    #[test]
    fn nothing_pushed_nothing_signed_and_digest_runs_are_refused() {
        let raw = RawInputs::from_pairs([("sign", "key".to_string())]).unwrap();
        let none = GithubContext::default();
        assert!(matches!(resolve(&raw, &none, &Mode::Build, false).unwrap(), Signing::Off));
        let digest = Mode::Digest { dir: "d".into() };
        let error = resolve(&raw, &none, &digest, true).unwrap_err().to_string();
        assert!(error.starts_with("sign: `mode: digest` and `mode: merge` are not signed"));
    }

    #[test]
    fn a_private_repository_names_its_own_log_and_is_timestamped() {
        let private = GithubContext {
            event: serde_json::json!({"repository": {"private": true}}),
            ..token_endpoint()
        };
        let public = token_endpoint();
        type Case<'a> =
            (&'a GithubContext, &'a [(&'a str, &'a str)], Option<&'a str>, Option<&'a str>);
        let cases: &[Case] = &[
            (&public, &[], Some(PUBLIC_REKOR), None),
            (
                &private,
                &[("rekor-url", "https://rekor.example/")],
                Some("https://rekor.example"),
                Some(PUBLIC_TSA),
            ),
            // No log of its own: timestamped only, never in the public log.
            (&private, &[], None, Some(PUBLIC_TSA)),
            (
                &private,
                &[("tsa-url", "http://127.0.0.1:9/ts")],
                None,
                Some("http://127.0.0.1:9/ts"),
            ),
            (
                &public,
                &[("tsa-url", "http://127.0.0.1:9/ts")],
                Some(PUBLIC_REKOR),
                Some("http://127.0.0.1:9/ts"),
            ),
        ];
        for (github, extra, rekor, tsa) in cases {
            let mut pairs = vec![("sign", "keyless")];
            pairs.extend_from_slice(extra);
            let raw =
                RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string()))).unwrap();
            let k = keyless(&raw, github).unwrap();
            assert_eq!((k.rekor.as_deref(), k.tsa.as_deref()), (*rekor, *tsa), "{extra:?}");
            assert_eq!(k.fulcio, PUBLIC_FULCIO);
            assert_eq!(Signing::Keyless(k).secrets(), vec!["runner-bearer".to_string()]);
        }
    }
}
