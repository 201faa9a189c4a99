//! `sign` against the test registry, checked by verifiers that are not the
//! action's. A key pair: cosign 2.5 (`cosign verify --key`) reads every
//! signature the action pushed, OpenSSL checks one signature's bytes on its
//! own, and each is refused where it must be: another key, a payload changed
//! after signing, a signature moved to another digest. Keyless, against the
//! test bed's Sigstore stand-in (Fulcio, Rekor, a timestamp authority and
//! the runner's token endpoint, tests/sigstore-mock/): cosign
//! (`verify-attestation --new-bundle-format`), sigstore-python (offline)
//! and sigstore-go verify the referrers, and refuse another identity, another digest and
//! another repository's token. Keys come from `cosign generate-key-pair`;
//! the tools and the stand-in from `scripts/testenv`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;

use crate::common::{
    ROOT, Run, TestBed, registry_inputs, run_action, store_in_registry, text, workspace,
};

pub(crate) const PASSWORD: &str = "correct horse battery";

/// The directory cosign and oras are in, from target/testenv.env.
pub(crate) fn sigstore_bin() -> PathBuf {
    let env = std::fs::read_to_string(format!("{ROOT}/target/testenv.env")).unwrap();
    let dir = env.lines().find_map(|l| l.strip_prefix("SIGSTORE_BIN=")).unwrap_or_else(|| {
        panic!("target/testenv.env names no SIGSTORE_BIN: run `scripts/testenv up`")
    });
    PathBuf::from(dir)
}

/// A scratch home for cosign: a Docker config with the registry's login,
/// and the key pairs `cosign` and `other` (password [`PASSWORD`]).
pub(crate) struct Cosign {
    pub(crate) home: tempfile::TempDir,
    bin: PathBuf,
}

impl Cosign {
    pub(crate) fn new(bed: &TestBed) -> Cosign {
        let home = tempfile::tempdir().unwrap();
        let auth = |user: &str, password: &str| {
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        };
        std::fs::create_dir_all(home.path().join(".docker")).unwrap();
        std::fs::write(
            home.path().join(".docker/config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"{}"}},"{}":{{"auth":"{}"}}}}}}"#,
                bed.registry,
                auth(&bed.user, &bed.password),
                bed.registry2,
                auth(&bed.user2, &bed.password2)
            ),
        )
        .unwrap();
        let cosign = Cosign { home, bin: sigstore_bin() };
        for prefix in ["cosign", "other"] {
            let made = cosign.run(&["generate-key-pair", "--output-key-prefix", prefix]);
            assert!(made.status.success(), "{}", text(&made.stderr));
        }
        cosign
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::new(self.bin.join("cosign"))
            .args(args)
            .current_dir(self.home.path())
            .env_clear()
            .env("HOME", self.home.path())
            .env("COSIGN_PASSWORD", PASSWORD)
            .output()
            .expect("cosign runs")
    }

    /// `cosign verify --key KEY.pub` of `reference`, offline (no log).
    pub(crate) fn verify(&self, key: &str, reference: &str) -> Output {
        let public = self.file(&format!("{key}.pub"));
        let public = public.to_str().unwrap();
        self.run(&[
            "verify",
            "--key",
            public,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            reference,
        ])
    }
}

impl Cosign {
    /// `cosign verify-attestation --key KEY.pub --type KIND` of `reference`,
    /// offline (no log).
    pub(crate) fn verify_attestation_with_key(
        &self,
        key: &str,
        kind: &str,
        reference: &str,
    ) -> Output {
        let public = self.file(&format!("{key}.pub"));
        let public = public.to_str().unwrap();
        self.run(&[
            "verify-attestation",
            "--key",
            public,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "--type",
            kind,
            reference,
        ])
    }
}

pub(crate) fn sign_with_key(
    bed: &TestBed,
    image: &str,
    dir: &Path,
    key: &str,
    password: &str,
) -> Run {
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(bed, image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "type=raw,value=signed"),
        ("sign", "key"),
        ("sign-key", key),
        ("sign-key-password", password),
    ]);
    run_action(dir, &inputs, &[])
}

/// The manifests an index lists (platform images and attestations).
pub(crate) fn children(bed: &TestBed, image: &str, digest: &str) -> Vec<String> {
    let index = bed.manifest(image, digest);
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().into())
        .collect()
}

/// The attestation tag of `digest`.
pub(crate) fn att_tag(digest: &str) -> String {
    format!("sha256-{}.att", digest.strip_prefix("sha256:").unwrap())
}

/// The signature tag of `digest`.
pub(crate) fn sig_tag(digest: &str) -> String {
    format!("sha256-{}.sig", digest.strip_prefix("sha256:").unwrap())
}

/// A blob of `image` (in either registry), read with curl.
pub(crate) fn blob(bed: &TestBed, image: &str, digest: &str) -> Vec<u8> {
    let (registry, user, password) = match image.starts_with(&format!("{}/", bed.registry2)) {
        true => (&bed.registry2, &bed.user2, &bed.password2),
        false => (&bed.registry, &bed.user, &bed.password),
    };
    let repository = image.strip_prefix(&format!("{registry}/")).unwrap();
    let out = Command::new("curl")
        .args(["-sfL", "-u", &format!("{user}:{password}")])
        .arg(format!("http://{registry}/v2/{repository}/blobs/{digest}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn a_key_pair_signs_the_index_and_every_manifest_as_cosign_reads_them() {
    let bed = TestBed::get();
    let cosign = Cosign::new(&bed);
    let key = std::fs::read_to_string(cosign.file("cosign.key")).unwrap();
    let image = bed.unique_image("signed");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from\n");

    let run = sign_with_key(&bed, &image, dir.path(), &key, PASSWORD);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let digest = run.output("digest").to_string();
    let reference = format!("{image}@{digest}");
    let manifests = children(&bed, &image, &digest);
    assert_eq!(manifests.len(), 4, "two platforms, two attestation manifests: {manifests:?}");
    // Signed before any tag: the log says so in that order.
    let signed_at = run.stdout.find(&format!("{reference} signed with the key")).unwrap();
    let tagged_at = run.stdout.find(&format!("{image}:signed → {digest}")).unwrap();
    assert!(signed_at < tagged_at, "{}", run.stdout);
    assert!(
        run.summary.contains(&format!(
            "cosign verify --key cosign.pub --insecure-ignore-tlog --allow-http-registry {reference}\n"
        )),
        "{}",
        run.summary
    );
    let public = std::fs::read_to_string(cosign.file("cosign.pub")).unwrap();
    assert!(run.summary.contains(public.trim()), "the summary shows the public key");

    // cosign verifies the index and every manifest in it.
    for signed in std::iter::once(&digest).chain(&manifests) {
        let checked = cosign.verify("cosign", &format!("{image}@{signed}"));
        assert!(checked.status.success(), "{signed}: {}", text(&checked.stderr));
    }
    // BuildKit's provenance, attested with the key about the platform image
    // in cosign's `.att` format: cosign verify-attestation reads it.
    let index = bed.manifest(&image, &digest);
    for entry in index["manifests"].as_array().unwrap() {
        if entry["platform"]["architecture"] == "unknown" {
            continue;
        }
        let platform = entry["digest"].as_str().unwrap();
        let att = bed.manifest(&image, &att_tag(platform));
        let layer = &att["layers"][0];
        assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json", "{att}");
        let kind = layer["annotations"]["predicateType"].as_str().unwrap();
        assert!(kind.starts_with("https://slsa.dev/provenance/"), "{att}");
        let at = format!("{image}@{platform}");
        let checked = cosign.verify_attestation_with_key("cosign", kind, &at);
        assert!(checked.status.success(), "{platform}: {}", text(&checked.stderr));
        let refused = cosign.verify_attestation_with_key("other", kind, &at);
        assert!(!refused.status.success(), "another key: {}", text(&refused.stdout));
        assert!(
            run.summary.contains(&format!("cosign verify-attestation --key cosign.pub --insecure-ignore-tlog --type {kind} --allow-http-registry {image}@")),
            "{}",
            run.summary
        );
    }

    // OpenSSL checks the index's signature bytes on its own.
    let sig = bed.manifest(&image, &sig_tag(&digest));
    let layer = &sig["layers"][0];
    let payload = blob(&bed, &image, layer["digest"].as_str().unwrap());
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    let signature = base64::engine::general_purpose::STANDARD
        .decode(layer["annotations"]["dev.cosignproject.cosign/signature"].as_str().unwrap())
        .unwrap();
    std::fs::write(cosign.file("payload"), &payload).unwrap();
    std::fs::write(cosign.file("payload.sig"), &signature).unwrap();
    let openssl = |key: &str| {
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify", key, "-signature", "payload.sig", "payload"])
            .current_dir(cosign.home.path())
            .output()
            .unwrap()
    };
    let good = openssl("cosign.pub");
    assert!(good.status.success() && text(&good.stdout).contains("Verified OK"));
    assert!(!openssl("other.pub").status.success(), "another key does not verify it");

    // Another key: refused.
    let other = cosign.verify("other", &reference);
    assert!(!other.status.success(), "{}", text(&other.stdout));
    assert!(text(&other.stderr).contains("no matching signatures"), "{}", text(&other.stderr));

    // A signature moved to another digest: refused (its payload names the index).
    let platform = &manifests[0];
    let sig_bytes = serde_json::to_vec(&sig).unwrap();
    store_in_registry(
        &bed,
        &image,
        &sig_bytes,
        Some((&sig_tag(platform), "application/vnd.oci.image.manifest.v1+json")),
    );
    let moved = cosign.verify("cosign", &format!("{image}@{platform}"));
    assert!(!moved.status.success(), "{}", text(&moved.stdout));

    // A payload changed after signing (the signature kept): refused.
    let tampered_payload =
        String::from_utf8(payload.clone()).unwrap().replace("signed-", "tampered-");
    assert_ne!(tampered_payload.as_bytes(), payload.as_slice());
    let tampered_digest = store_in_registry(&bed, &image, tampered_payload.as_bytes(), None);
    let mut tampered = sig.clone();
    tampered["layers"][0]["digest"] = tampered_digest.into();
    tampered["layers"][0]["size"] = tampered_payload.len().into();
    store_in_registry(
        &bed,
        &image,
        &serde_json::to_vec(&tampered).unwrap(),
        Some((&sig_tag(&digest), "application/vnd.oci.image.manifest.v1+json")),
    );
    let changed = cosign.verify("cosign", &reference);
    assert!(!changed.status.success(), "{}", text(&changed.stdout));

    // The key and its password reach no log, output, summary or file.
    let key_lines: Vec<&str> =
        key.lines().filter(|l| !l.starts_with("-----") && l.len() > 8).collect();
    let mut secrets = vec![PASSWORD];
    secrets.extend(&key_lines);
    run.assert_no_secret(&secrets, dir.path());
}

#[test]
fn a_key_that_does_not_decrypt_fails_before_any_build_naming_no_secret() {
    let bed = TestBed::get();
    let cosign = Cosign::new(&bed);
    let key = std::fs::read_to_string(cosign.file("cosign.key")).unwrap();
    let image = bed.unique_image("signed-badpass");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n");
    let run = sign_with_key(&bed, &image, dir.path(), &key, "not the password");
    assert!(!run.success);
    assert_eq!(
        run.error_lines(),
        vec![
            "::error::sign-key: could not be decrypted with `sign-key-password`; give the password the key was made with (cosign's COSIGN_PASSWORD)"
        ]
    );
    assert!(!run.stdout.contains("buildx solve"), "nothing was built: {}", run.stdout);
    let key_lines: Vec<&str> =
        key.lines().filter(|l| !l.starts_with("-----") && l.len() > 8).collect();
    let mut secrets = vec!["not the password"];
    secrets.extend(&key_lines);
    run.assert_no_secret(&secrets, dir.path());
}

/// What `scripts/testenv` wrote for the Sigstore stand-in and the verifiers.
pub(crate) struct Sigstore {
    /// The stand-in's address (Fulcio, Rekor, timestamps, OIDC tokens).
    pub(crate) mock: String,
    /// Its trust material of this start (`trusted_root.json`, PEM files).
    pub(crate) trust: PathBuf,
    pub(crate) python: PathBuf,
}

impl Sigstore {
    pub(crate) fn get() -> Sigstore {
        let env = std::fs::read_to_string(format!("{ROOT}/target/testenv.env")).unwrap();
        let get = |key: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
                .unwrap_or_else(|| {
                    panic!("target/testenv.env names no {key}: run `scripts/testenv up`")
                })
        };
        Sigstore {
            mock: get("SIGSTORE_MOCK"),
            trust: PathBuf::from(get("SIGSTORE_TRUST")),
            python: PathBuf::from(get("SIGSTORE_PYTHON")),
        }
    }

    pub(crate) fn trust(&self, file: &str) -> String {
        self.trust.join(file).display().to_string()
    }
}

pub(crate) const ISSUER: &str = "https://token.actions.githubusercontent.com";
const RUNNER_BEARER: &str = "runner-bearer-7f3a9c1e";

pub(crate) fn identity(repo: &str) -> String {
    format!("https://github.com/{repo}/.github/workflows/release.yml@refs/heads/main")
}

/// The action signing keyless, its OIDC token for `repo` from the stand-in.
pub(crate) fn sign_keyless(
    bed: &TestBed,
    sigstore: &Sigstore,
    image: &str,
    dir: &Path,
    repo: &str,
) -> Run {
    sign_keyless_from(bed, sigstore, image, dir, repo, None)
}

/// [`sign_keyless`] in a workflow whose event payload is the file `event`
/// when given; with no event, the stand-in is also the transparency log
/// (`rekor-url`).
fn sign_keyless_from(
    bed: &TestBed,
    sigstore: &Sigstore,
    image: &str,
    dir: &Path,
    repo: &str,
    event: Option<&Path>,
) -> Run {
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let tsa = format!("{}/api/v1/timestamp", sigstore.mock);
    let mut inputs = registry_inputs(bed, image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "type=raw,value=signed"),
        ("sign", "keyless"),
        ("fulcio-url", sigstore.mock.as_str()),
        ("tsa-url", tsa.as_str()),
    ]);
    if event.is_none() {
        inputs.push(("rekor-url", sigstore.mock.as_str()));
    }
    let token_url = format!("{}/actions-oidc?api-version=2.0&repo={repo}", sigstore.mock);
    let event_path = event.map(|e| e.display().to_string()).unwrap_or_default();
    let mut github = vec![
        ("ACTIONS_ID_TOKEN_REQUEST_URL", token_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", RUNNER_BEARER),
    ];
    if event.is_some() {
        github.push(("GITHUB_EVENT_PATH", event_path.as_str()));
    }
    run_action(dir, &inputs, &github)
}

impl Cosign {
    /// `cosign verify-attestation --new-bundle-format` of `reference`, with
    /// the stand-in's trust root (cosign 2.5 also reads SIGSTORE_ROOT_FILE).
    pub(crate) fn verify_attestation(
        &self,
        sigstore: &Sigstore,
        kind: &str,
        who: &str,
        reference: &str,
    ) -> Output {
        self.keyless(sigstore)
            .args(["--type", kind])
            .args(["--certificate-identity", who, "--certificate-oidc-issuer", ISSUER, reference])
            .env("SIGSTORE_REKOR_PUBLIC_KEY", sigstore.trust("rekor.pub"))
            .output()
            .expect("cosign runs")
    }

    /// `cosign verify-attestation --new-bundle-format` against the
    /// stand-in's trust root, in this cosign's home; the caller adds what it
    /// checks.
    pub(crate) fn keyless(&self, sigstore: &Sigstore) -> Command {
        let mut command = Command::new(self.bin.join("cosign"));
        command
            .args(["verify-attestation", "--new-bundle-format", "--allow-http-registry"])
            .args(["--trusted-root", &sigstore.trust("trusted_root.json")])
            .current_dir(self.home.path())
            .env_clear()
            .env("HOME", self.home.path())
            .env("SIGSTORE_ROOT_FILE", sigstore.trust("fulcio_root.pem"))
            .env("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", sigstore.trust("ctlog.pub"));
        command
    }
}

/// The bundles stored as referrers of `digest` (referrers tag scheme), with
/// the predicate type each names.
pub(crate) fn referred_bundles(bed: &TestBed, image: &str, digest: &str) -> Vec<(String, Vec<u8>)> {
    let index = bed.manifest(image, &format!("sha256-{}", digest.strip_prefix("sha256:").unwrap()));
    let mut bundles = Vec::new();
    for entry in index["manifests"].as_array().unwrap() {
        let referrer = bed.manifest(image, entry["digest"].as_str().unwrap());
        assert_eq!(referrer["subject"]["digest"], digest);
        let kind = referrer["annotations"]["dev.sigstore.bundle.predicateType"].as_str().unwrap();
        let layer = referrer["layers"][0]["digest"].as_str().unwrap();
        bundles.push((kind.to_string(), blob(bed, image, layer)));
    }
    bundles
}

/// sigstore-python 4.5 checks a bundle offline against the stand-in's trust.
pub(crate) fn python_verify(
    sigstore: &Sigstore,
    dir: &Path,
    bundle: &[u8],
    who: &str,
    digest: &str,
) -> Output {
    let file = dir.join("bundle.sigstore.json");
    std::fs::write(&file, bundle).unwrap();
    Command::new(&sigstore.python)
        .args(["--trust-config", &sigstore.trust("trust_config.json"), "verify", "identity"])
        .args(["--offline", "--bundle", file.to_str().unwrap()])
        .args(["--cert-identity", who, "--cert-oidc-issuer", ISSUER, digest])
        .output()
        .expect("sigstore-python runs")
}

/// sigstore-go's verifier on a Sigstore bundle (written into `dir`) about
/// `digest`, for the signer `who`; `require_tlog` as `-requireTlog` when
/// given.
pub(crate) fn go_verify(
    sigstore: &Sigstore,
    dir: &Path,
    bundle: &[u8],
    who: &str,
    digest: &str,
    require_tlog: Option<bool>,
) -> Output {
    let file = dir.join("go.sigstore.json");
    std::fs::write(&file, bundle).unwrap();
    let mut command = Command::new(sigstore_bin().join("sigstore-go-verification"));
    command.args(["-trustedrootJSONpath", &sigstore.trust("trusted_root.json")]).args([
        "-expectedSAN",
        who,
        "-expectedIssuer",
        ISSUER,
    ]);
    if let Some(tlog) = require_tlog {
        command.arg(format!("-requireTlog={tlog}"));
    }
    command
        .args(["-artifact-digest", digest.strip_prefix("sha256:").unwrap()])
        .arg(&file)
        .output()
        .expect("sigstore-go runs")
}

#[test]
fn keyless_signatures_verify_with_cosign_and_sigstore_python_for_the_workflow_only() {
    let bed = TestBed::get();
    let sigstore = Sigstore::get();
    let cosign = Cosign::new(&bed);
    let image = bed.unique_image("keyless");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from\n");

    let run = sign_keyless(&bed, &sigstore, &image, dir.path(), "acme/app");
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let digest = run.output("digest").to_string();
    let reference = format!("{image}@{digest}");
    let who = identity("acme/app");
    assert!(
        run.summary
            .contains(&format!("--certificate-identity {who} --certificate-oidc-issuer {ISSUER}")),
        "{}",
        run.summary
    );
    let manifests = children(&bed, &image, &digest);
    let index = bed.manifest(&image, &digest);
    let platform = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "amd64")
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .unwrap();

    // cosign: the image signature of the index and of every manifest, and
    // BuildKit's provenance about the platform image, re-signed.
    for signed in std::iter::once(&digest).chain(&manifests) {
        let checked = cosign.verify_attestation(
            &sigstore,
            "https://sigstore.dev/cosign/sign/v1",
            &who,
            &format!("{image}@{signed}"),
        );
        assert!(checked.status.success(), "{signed}: {}", text(&checked.stderr));
    }
    let provenance = referred_bundles(&bed, &image, &platform)
        .into_iter()
        .find(|(kind, _)| kind.starts_with("https://slsa.dev/provenance/"))
        .expect("BuildKit's provenance is re-signed about the platform image");
    let checked =
        cosign.verify_attestation(&sigstore, &provenance.0, &who, &format!("{image}@{platform}"));
    assert!(checked.status.success(), "{}", text(&checked.stderr));

    // sigstore-python, offline, on the bundles read from the registry.
    let (_, signature) = referred_bundles(&bed, &image, &digest)
        .into_iter()
        .find(|(kind, _)| kind == "https://sigstore.dev/cosign/sign/v1")
        .unwrap();
    let checked = python_verify(&sigstore, cosign.home.path(), &signature, &who, &digest);
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    let checked = python_verify(&sigstore, cosign.home.path(), &provenance.1, &who, &platform);
    assert!(checked.status.success(), "{}", text(&checked.stderr));

    // sigstore-go, on the same bundles.
    let go_verify = |bundle: &[u8], who: &str, digest: &str| {
        go_verify(&sigstore, cosign.home.path(), bundle, who, digest, None)
    };
    for (bundle, digest) in [(&signature, &digest), (&provenance.1, &platform)] {
        let checked = go_verify(bundle, &who, digest);
        assert!(checked.status.success(), "{}{}", text(&checked.stdout), text(&checked.stderr));
    }
    let wrong = go_verify(&signature, &identity("evil/app"), &digest);
    assert!(!wrong.status.success(), "{}", text(&wrong.stdout));

    // Refused: another identity, another digest.
    let evil = identity("evil/app");
    let wrong = cosign.verify_attestation(
        &sigstore,
        "https://sigstore.dev/cosign/sign/v1",
        &evil,
        &reference,
    );
    assert!(!wrong.status.success(), "{}", text(&wrong.stdout));
    let other_digest = python_verify(&sigstore, cosign.home.path(), &signature, &who, &platform);
    assert!(!other_digest.status.success(), "{}", text(&other_digest.stdout));

    // The runner's bearer token and the OIDC token reach no log or file.
    // (`::add-mask::` lines are the runner's, which it never shows.)
    let shown: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with("::add-mask::")).collect();
    assert!(run.stdout.contains("::add-mask::eyJhbGciOiJIUzI1NiIs"), "the token is masked");
    assert!(
        !shown.join("\n").contains("eyJhbGciOiJIUzI1NiIs")
            && !run.summary.contains("eyJhbGciOiJIUzI1NiIs")
    );
    run.assert_no_secret(&[RUNNER_BEARER], dir.path());

    // Another repository's token signs as that repository: refused for ours.
    let theirs = bed.unique_image("keyless-evil");
    let evil_run = sign_keyless(&bed, &sigstore, &theirs, dir.path(), "evil/app");
    assert!(evil_run.success, "{}\n{}", evil_run.stdout, evil_run.stderr);
    let evil_digest = evil_run.output("digest").to_string();
    let refused = cosign.verify_attestation(
        &sigstore,
        "https://sigstore.dev/cosign/sign/v1",
        &who,
        &format!("{theirs}@{evil_digest}"),
    );
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
    let (_, evil_signature) =
        referred_bundles(&bed, &theirs, &evil_digest).into_iter().next().unwrap();
    let refused = python_verify(&sigstore, cosign.home.path(), &evil_signature, &who, &evil_digest);
    assert!(!refused.status.success(), "{}", text(&refused.stdout));
}

#[test]
fn every_service_of_a_deployment_is_signed_before_any_is_tagged() {
    let bed = TestBed::get();
    let cosign = Cosign::new(&bed);
    let key = std::fs::read_to_string(cosign.file("cosign.key")).unwrap();
    let prefix = bed.unique_image("signed-deploy");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG NAME\nRUN echo $NAME > /name\n");
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  one:\n    build:\n      context: .\n      args: [NAME=one]\n  two:\n    build:\n      context: .\n      args: [NAME=two]\n",
    )
    .unwrap();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &prefix);
    inputs.extend([
        ("compose-file", "compose.yaml"),
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "type=raw,value=signed"),
        ("sign", "key"),
        ("sign-key", key.as_str()),
        ("sign-key-password", PASSWORD),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(run.output("json")).unwrap();
    let entries = json["services"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let last_signed = entries
        .iter()
        .map(|e| {
            run.stdout
                .find(&format!("{} signed with the key", e["image"].as_str().unwrap()))
                .unwrap()
        })
        .max()
        .unwrap();
    let first_tag = run.stdout.find(":signed → sha256:").unwrap();
    assert!(last_signed < first_tag, "every service is signed before any tag: {}", run.stdout);
    for entry in entries {
        let reference = entry["image"].as_str().unwrap();
        let checked = cosign.verify("cosign", reference);
        assert!(checked.status.success(), "{reference}: {}", text(&checked.stderr));
    }
    assert!(run.summary.contains("cosign verify --key cosign.pub"), "{}", run.summary);
}

#[test]
fn a_private_repository_without_a_log_is_signed_with_a_timestamp_only() {
    let bed = TestBed::get();
    let sigstore = Sigstore::get();
    let cosign = Cosign::new(&bed);
    let image = bed.unique_image("keyless-private");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from\n");
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"repository": {"private": true, "visibility": "private"}}"#)
        .unwrap();
    let tsa = format!("{}/api/v1/timestamp", sigstore.mock);
    let run = sign_keyless_from(&bed, &sigstore, &image, dir.path(), "acme/app", Some(&event));
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("in no transparency log, timestamped by {tsa}")),
        "{}",
        run.stdout
    );
    assert!(
        run.summary.contains("cosign verify-attestation --new-bundle-format --insecure-ignore-tlog --use-signed-timestamps --type"),
        "{}",
        run.summary
    );
    let digest = run.output("digest").to_string();
    let who = identity("acme/app");
    let bundles = referred_bundles(&bed, &image, &digest);
    let (_, signature) =
        bundles.iter().find(|(kind, _)| kind == "https://sigstore.dev/cosign/sign/v1").unwrap();
    let json: serde_json::Value = serde_json::from_slice(signature).unwrap();
    let material = &json["verificationMaterial"];
    assert!(
        material["tlogEntries"].as_array().is_none_or(Vec::is_empty),
        "no log entry: {material}"
    );
    assert_eq!(
        material["timestampVerificationData"]["rfc3161Timestamps"].as_array().map(Vec::len),
        Some(1),
        "{material}"
    );

    // sigstore-go, asking for a signed timestamp instead of a log entry.
    let go = |who: &str, tlog: bool| {
        go_verify(&sigstore, cosign.home.path(), signature, who, &digest, Some(tlog))
    };
    let checked = go(&who, false);
    assert!(checked.status.success(), "{}{}", text(&checked.stdout), text(&checked.stderr));
    assert!(!go(&identity("evil/app"), false).status.success());
    assert!(!go(&who, true).status.success(), "it is in no log, as asked");

    // cosign, reading the registry, with signed timestamps and no log.
    let cosign_checks = |who: &str| {
        cosign
            .keyless(&sigstore)
            .args(["--insecure-ignore-tlog", "--use-signed-timestamps"])
            .args(["--type", "https://sigstore.dev/cosign/sign/v1"])
            .args(["--certificate-identity", who, "--certificate-oidc-issuer", ISSUER])
            .arg(format!("{image}@{digest}"))
            .env("SIGSTORE_TSA_CERTIFICATE_FILE", sigstore.trust("tsa_chain.pem"))
            .output()
            .expect("cosign runs")
    };
    let checked = cosign_checks(&who);
    assert!(checked.status.success(), "{}{}", text(&checked.stdout), text(&checked.stderr));
    assert!(!cosign_checks(&identity("evil/app")).status.success());

    // Carried in a bundle, checked offline by the action's own verifier:
    // the timestamp dates the certificate, no log entry is asked for.
    let file = dir.path().join("private.tar");
    crate::signed_bundle::write_bundle(&bed, &format!("{image}:signed"), &file, &[]);
    let trust = sigstore.trust("trusted_root.json");
    let path = file.display().to_string();
    let verify = |who: &str| {
        crate::signed_bundle::multiarch(
            &[
                "bundle",
                "verify",
                &path,
                "--trusted-root",
                &trust,
                "--certificate-identity",
                who,
                "--certificate-oidc-issuer",
                ISSUER,
            ],
            true,
            None,
        )
    };
    let (ok, out) = verify(&who);
    assert!(ok && out.contains(&format!("1 manifest(s) signed by {who}")), "{out}");
    let (ok, out) = verify(&identity("evil/app"));
    assert!(!ok && out.contains(&format!("{path} is refused: {image}:signed: ")), "{out}");
}
