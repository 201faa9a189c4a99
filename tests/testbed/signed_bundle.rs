//! A signed image carried offline: `mode: bundle` takes the signatures
//! `sign` stored (cosign's key-pair `.sig` manifests; keyless, the Sigstore
//! bundles listed as referrers) into the bundle, with the stand-in's trust
//! root when asked; `bundle verify --key` / `--trusted-root` checks them in
//! a network namespace with no route out, and refuses, naming the image, a
//! wrong key, a wrong identity and a signature rewritten in the tarball;
//! `bundle push` puts them back, where cosign and OpenSSL or sigstore-go
//! verify them in the second registry, and `bundle load` still loads.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use crate::common::{BINARY, TestBed, sha256_hex, text, workspace};
use crate::signing::{
    Cosign, ISSUER, PASSWORD, Sigstore, att_tag, blob, go_verify, identity, referred_bundles,
    sig_tag, sign_keyless, sign_with_key,
};

/// The binary with `args`; with `offline`, in a new network namespace
/// (only a loopback, down): nothing it does can reach another machine.
pub(crate) fn multiarch(args: &[&str], offline: bool, stdin: Option<&str>) -> (bool, String) {
    let mut command = match offline {
        true => {
            let mut c = Command::new("unshare");
            c.arg("--net").arg(BINARY);
            c
        }
        false => Command::new(BINARY),
    };
    command.args(args).stdin(std::process::Stdio::piped());
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("the binary runs");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

/// `bundle push FILE` into the second test registry, its signatures
/// checked with `trust` (the flags of `bundle verify`) first, and the image
/// as it is named there.
fn push_to_second(
    bed: &TestBed,
    file: &str,
    trust: &[&str],
    image: &str,
) -> (bool, String, String) {
    let mut args = vec!["bundle", "push", file];
    args.extend_from_slice(trust);
    args.extend([
        "--registry",
        bed.registry2.as_str(),
        "--insecure",
        "--username",
        bed.user2.as_str(),
        "--password-stdin",
    ]);
    let (ok, out) = multiarch(&args, false, Some(&bed.password2));
    let moved = format!("{}/{}", bed.registry2, image.split_once('/').unwrap().1);
    (ok, out, moved)
}

/// The `error:` lines of an output.
fn errors(output: &str) -> Vec<&str> {
    output.lines().filter(|l| l.starts_with("error:")).collect()
}

/// Writes the bundle of `reference` (all of its platforms) with the CLI.
pub(crate) fn write_bundle(bed: &TestBed, reference: &str, file: &Path, extra: &[&str]) -> String {
    let file = file.display().to_string();
    let mut args = vec![
        "bundle",
        "--images",
        reference,
        "--platforms",
        "linux/amd64,linux/arm64",
        "--audit",
        "false",
        "--bundle",
        &file,
        "--registry",
        &bed.registry,
        "--username",
        &bed.user,
        "--password",
        &bed.password,
        "--insecure-registries",
        &bed.registry,
    ];
    args.extend_from_slice(extra);
    let (ok, out) = multiarch(&args, false, None);
    assert!(ok, "{out}");
    out
}

/// A bundle's entries (name, content), `SHA256SUMS` left out.
fn entries(file: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(std::fs::File::open(file).unwrap());
    let mut found = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if name != "SHA256SUMS" {
            found.push((name, bytes));
        }
    }
    found
}

/// Writes `entries` as a bundle, with a `SHA256SUMS` that matches them: a
/// rewrite that only the signatures can catch.
fn write_entries(file: &Path, entries: &[(String, Vec<u8>)]) {
    let mut builder = tar::Builder::new(std::fs::File::create(file).unwrap());
    let mut sums = String::new();
    for (name, bytes) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, bytes.as_slice()).unwrap();
        sums.push_str(&format!("{}  {name}\n", sha256_hex(bytes)));
    }
    let mut header = tar::Header::new_ustar();
    header.set_size(sums.len() as u64);
    header.set_mode(0o644);
    builder.append_data(&mut header, "SHA256SUMS", sums.as_bytes()).unwrap();
    builder.finish().unwrap();
}

fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1
}

fn blob_name(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.strip_prefix("sha256:").unwrap())
}

/// Puts `new` in place of the blob `old`, and rewrites every document that
/// names it (descriptors' digest and size), up to `index.json` and
/// `signatures.json`, as someone rewriting the tarball would.
fn swap_blob(entries: &mut Vec<(String, Vec<u8>)>, old: &str, new: Vec<u8>) {
    let new_digest = format!("sha256:{}", sha256_hex(&new));
    let size = new.len();
    let at = entries.iter().position(|(n, _)| *n == blob_name(old)).unwrap();
    entries[at] = (blob_name(&new_digest), new);
    fn aim(value: &mut Value, old: &str, new: &str, size: usize) {
        match value {
            Value::Object(map) => {
                if map.get("digest").and_then(Value::as_str) == Some(old) {
                    map.insert("digest".into(), new.into());
                    map.insert("size".into(), size.into());
                }
                map.values_mut().for_each(|v| aim(v, old, new, size));
            }
            Value::Array(list) => list.iter_mut().for_each(|v| aim(v, old, new, size)),
            _ => {}
        }
    }
    let naming: Vec<String> = entries
        .iter()
        .filter(|(n, b)| *n != blob_name(&new_digest) && String::from_utf8_lossy(b).contains(old))
        .map(|(n, _)| n.clone())
        .collect();
    for name in naming {
        let bytes = entry(entries, &name).to_vec();
        let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) else { continue };
        let before = json.clone();
        aim(&mut json, old, &new_digest, size);
        if json == before {
            continue; // it names the digest, not the blob (a signed payload)
        }
        let rewritten = serde_json::to_vec(&json).unwrap();
        match name.strip_prefix("blobs/sha256/") {
            Some(hex) => swap_blob(entries, &format!("sha256:{hex}"), rewritten),
            None => entries.iter_mut().find(|(n, _)| *n == name).unwrap().1 = rewritten,
        }
    }
}

/// `signatures.json` of a bundle's entries.
fn carried(entries: &[(String, Vec<u8>)]) -> Vec<Value> {
    let list: Value = serde_json::from_slice(entry(entries, "signatures.json")).unwrap();
    list["signatures"].as_array().unwrap().clone()
}

/// The arm64 and amd64 manifests of an index in the registry.
fn platform_digests(bed: &TestBed, image: &str, digest: &str) -> BTreeMap<String, String> {
    let index = bed.manifest(image, digest);
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["platform"]["architecture"] != "unknown")
        .map(|m| {
            (
                m["platform"]["architecture"].as_str().unwrap().to_string(),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_signed_bundle_is_checked_offline_with_the_key_and_its_signatures_pushed_back() {
    let bed = TestBed::get();
    let cosign = Cosign::new(&bed);
    let key = std::fs::read_to_string(cosign.file("cosign.key")).unwrap();
    let image = bed.unique_image("signed-bundle");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from\n");
    let run = sign_with_key(&bed, &image, dir.path(), &key, PASSWORD);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let digest = run.output("digest").to_string();
    let platforms = platform_digests(&bed, &image, &digest);
    assert_eq!(platforms.len(), 2, "{platforms:?}");

    let file = dir.path().join("signed.tar");
    let path = file.display().to_string();
    let out = write_bundle(&bed, &format!("{image}:signed"), &file, &[]);
    let written = entries(&file);
    let list = carried(&written);
    assert!(out.contains(&format!("; {} signature manifest(s) carried", list.len())), "{out}");
    // Each platform manifest's `.sig` (the index is rewritten without
    // BuildKit's attestation manifests, so its own signature stays behind).
    let tags: Vec<&str> = list.iter().map(|c| c["tag"].as_str().unwrap()).collect();
    for platform in platforms.values() {
        assert!(tags.contains(&sig_tag(platform).as_str()), "{tags:?}");
        assert!(tags.contains(&att_tag(platform).as_str()), "{tags:?}");
    }
    let readme = String::from_utf8_lossy(entry(&written, "README.md")).to_string();
    assert!(readme.contains("bundle verify signed.tar --key cosign.pub"), "{readme}");

    let public = cosign.file("cosign.pub").display().to_string();
    let other = cosign.file("other.pub").display().to_string();
    // No flag: checked as before, the signatures said to be unchecked.
    let (ok, out) = multiarch(&["bundle", "verify", &path], true, None);
    assert!(ok && out.contains("every checksum matches"), "{out}");
    assert!(
        out.contains(&format!(
            "{} signature manifest(s) carried for 1 image(s), not checked",
            list.len()
        )),
        "{out}"
    );

    // The key, with no network: every image's signatures verify.
    let (ok, out) = multiarch(&["bundle", "verify", &path, "--key", &public], true, None);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "  {image}:signed: 2 manifest(s) signed by the key, 2 attestation(s) verified"
        )) && out.contains("every image's signatures verify"),
        "{out}"
    );
    // Another key: refused, in one line naming the image.
    let (ok, out) = multiarch(&["bundle", "verify", &path, "--key", &other], true, None);
    assert!(!ok, "{out}");
    let refused = errors(&out);
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0].starts_with(&format!(
            "error: {path} is refused: {image}:signed: the signature of sha256:"
        )) && refused[0].ends_with("its signature does not verify with the public key"),
        "{out}"
    );

    // A signature rewritten in the tarball (the arm64 manifest's signature
    // swapped for the amd64 one's, checksums made to match): refused.
    let sig_manifest = |arch: &str| -> Value {
        let entry_for = list.iter().find(|c| c["subject"] == platforms[arch].as_str()).unwrap();
        serde_json::from_slice(entry(
            &written,
            &blob_name(entry_for["manifest"]["digest"].as_str().unwrap()),
        ))
        .unwrap()
    };
    let (arm64, amd64) = (sig_manifest("arm64"), sig_manifest("amd64"));
    let annotation = "dev.cosignproject.cosign/signature";
    let mut forged = arm64.clone();
    forged["layers"][0]["annotations"][annotation] =
        amd64["layers"][0]["annotations"][annotation].clone();
    let old = list.iter().find(|c| c["subject"] == platforms["arm64"].as_str()).unwrap()["manifest"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tampered = written.clone();
    swap_blob(&mut tampered, &old, serde_json::to_vec(&forged).unwrap());
    let tampered_file = dir.path().join("tampered.tar");
    write_entries(&tampered_file, &tampered);
    let tampered_path = tampered_file.display().to_string();
    let (ok, out) = multiarch(&["bundle", "verify", &tampered_path], true, None);
    assert!(ok, "the checksums match, so only a signature check can tell: {out}");
    let (ok, out) = multiarch(&["bundle", "verify", &tampered_path, "--key", &public], true, None);
    assert!(!ok, "{out}");
    assert_eq!(
        errors(&out),
        vec![format!(
            "error: {tampered_path} is refused: {image}:signed: the signature of {} ({}): its signature does not verify with the public key",
            platforms["arm64"],
            sig_tag(&platforms["arm64"])
        )],
        "{out}"
    );
    // An image manifest rewritten (an annotation added to the arm64
    // manifest, the index and checksums made to match): no signature is
    // about it any more, refused.
    let manifest_name = blob_name(&platforms["arm64"]);
    let mut manifest: Value = serde_json::from_slice(entry(&written, &manifest_name)).unwrap();
    manifest["annotations"]["org.opencontainers.image.title"] = "changed".into();
    let mut changed = written.clone();
    swap_blob(&mut changed, &platforms["arm64"], serde_json::to_vec(&manifest).unwrap());
    let changed_file = dir.path().join("changed.tar");
    write_entries(&changed_file, &changed);
    let changed_path = changed_file.display().to_string();
    let (ok, out) = multiarch(&["bundle", "verify", &changed_path], true, None);
    assert!(ok, "the checksums match, so only a signature check can tell: {out}");
    let (ok, out) = multiarch(&["bundle", "verify", &changed_path, "--key", &public], true, None);
    assert!(!ok, "{out}");
    let refused = errors(&out);
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0]
            .starts_with(&format!("error: {changed_path} is refused: {image}:signed: sha256:"))
            && refused[0].ends_with(" is not signed: no signature of it verifies with the key"),
        "{out}"
    );

    // `push` and `load` refuse it too, before anything is pushed or loaded.
    let (ok, out) = multiarch(&["bundle", "load", &tampered_path, "--key", &public], false, None);
    assert!(!ok && out.contains(&format!("{tampered_path} is refused: {image}:signed")), "{out}");

    // Pushed into the second registry, signatures checked first and put back.
    let (ok, out, moved) = push_to_second(&bed, &path, &["--key", &public], &image);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("pushed {} signature manifest(s) of {moved}:signed", list.len())),
        "{out}"
    );
    for platform in platforms.values() {
        // cosign reads the signature from the second registry.
        let checked = cosign.verify("cosign", &format!("{moved}@{platform}"));
        assert!(checked.status.success(), "{platform}: {}", text(&checked.stderr));
        let att = bed.manifest(&moved, &att_tag(platform));
        let kind = att["layers"][0]["annotations"]["predicateType"].as_str().unwrap();
        let checked =
            cosign.verify_attestation_with_key("cosign", kind, &format!("{moved}@{platform}"));
        assert!(checked.status.success(), "{platform}: {}", text(&checked.stderr));
        let refused = cosign.verify("other", &format!("{moved}@{platform}"));
        assert!(!refused.status.success());
        // OpenSSL checks the payload and signature read back from it.
        let sig = bed.manifest(&moved, &sig_tag(platform));
        let layer = &sig["layers"][0];
        let payload = blob(&bed, &moved, layer["digest"].as_str().unwrap());
        let claims: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(claims["critical"]["image"]["docker-manifest-digest"], platform.as_str());
        let signature = base64::engine::general_purpose::STANDARD
            .decode(layer["annotations"][annotation].as_str().unwrap())
            .unwrap();
        std::fs::write(cosign.file("payload"), &payload).unwrap();
        std::fs::write(cosign.file("payload.sig"), &signature).unwrap();
        let openssl = Command::new("openssl")
            .args([
                "dgst",
                "-sha256",
                "-verify",
                "cosign.pub",
                "-signature",
                "payload.sig",
                "payload",
            ])
            .current_dir(cosign.home.path())
            .output()
            .unwrap();
        assert!(text(&openssl.stdout).contains("Verified OK"), "{}", text(&openssl.stderr));
    }

    // Loaded, the signatures checked first; the image runs.
    let (ok, out) = multiarch(&["bundle", "load", &path, "--key", &public], false, None);
    assert!(ok && out.contains("every image's signatures verify"), "{out}");
    let reference = format!("{image}:signed");
    let ran = bed.run_loaded_image(&reference, "linux/amd64", &["cat", "/built-from"]);
    assert!(ran.contains("COPY Dockerfile /built-from"), "{ran}");
    bed.docker(&["rmi", &reference]);
}

/// The stand-in's trust root as the bundle carries it.
fn carried_trust_root(entries: &[(String, Vec<u8>)], dir: &Path) -> String {
    let file = dir.join("carried_trusted_root.json");
    std::fs::write(&file, entry(entries, "trusted_root.json")).unwrap();
    file.display().to_string()
}

/// sigstore-go checks a bundle about `digest` against the stand-in's trust.
#[test]
fn a_keyless_signed_bundle_is_checked_offline_for_its_identity_and_pushed_back() {
    let bed = TestBed::get();
    let sigstore = Sigstore::get();
    let cosign = Cosign::new(&bed);
    let image = bed.unique_image("keyless-bundle");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from\n");
    let run = sign_keyless(&bed, &sigstore, &image, dir.path(), "acme/app");
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let digest = run.output("digest").to_string();
    let platform = platform_digests(&bed, &image, &digest)["amd64"].clone();
    let who = identity("acme/app");

    let file = dir.path().join("keyless.tar");
    let path = file.display().to_string();
    let trust = sigstore.trust("trusted_root.json");
    write_bundle(&bed, &format!("{image}:signed"), &file, &["--bundle-trusted-root", &trust]);
    let written = entries(&file);
    let list = carried(&written);
    // The platform manifest's image signature and BuildKit's provenance about it.
    assert!(list.len() >= 2 && list.iter().all(|c| c["subject"] == platform.as_str()), "{list:?}");
    let root = carried_trust_root(&written, dir.path());
    assert_eq!(std::fs::read(&root).unwrap(), std::fs::read(&trust).unwrap());

    let keyless = |path: &str, who: &[&str]| {
        let mut args = vec!["bundle", "verify", path, "--trusted-root", root.as_str()];
        args.extend_from_slice(who);
        args.extend(["--certificate-oidc-issuer", ISSUER]);
        multiarch(&args, true, None)
    };
    let (ok, out) = keyless(&path, &["--certificate-identity", &who]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("  {image}:signed: 1 manifest(s) signed by {who} ({ISSUER}), {} attestation(s) verified", list.len() - 1))
            && out.contains("carries a trust root"),
        "{out}"
    );
    let (ok, out) = keyless(&path, &["--certificate-identity-regexp", "^https://github.com/acme/"]);
    assert!(ok, "{out}");

    // Another identity, another repository's pattern, a key: refused.
    let evil = identity("evil/app");
    let (ok, out) = keyless(&path, &["--certificate-identity", &evil]);
    assert!(!ok, "{out}");
    let refused = errors(&out);
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0].starts_with(&format!(
            "error: {path} is refused: {image}:signed: the Sigstore bundle sha256:"
        )),
        "{out}"
    );
    let (ok, out) = keyless(&path, &["--certificate-identity-regexp", "^https://github.com/evil/"]);
    assert!(
        !ok && errors(&out)[0].ends_with("which does not match `^https://github.com/evil/`"),
        "{out}"
    );
    let public = cosign.file("cosign.pub").display().to_string();
    let (ok, out) = multiarch(&["bundle", "verify", &path, "--key", &public], true, None);
    assert_eq!(
        (ok, errors(&out)),
        (false, vec![format!("error: {path} is refused: {image}:signed: {platform} is not signed: no signature of it verifies with the key").as_str()]),
        "{out}"
    );

    // The image signature's bundle rewritten (its DSSE signature replaced
    // by the provenance bundle's), checksums made to match: refused.
    let bundle_of = |c: &Value| -> (String, Value) {
        let manifest: Value = serde_json::from_slice(entry(
            &written,
            &blob_name(c["manifest"]["digest"].as_str().unwrap()),
        ))
        .unwrap();
        let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_string();
        let bundle = serde_json::from_slice(entry(&written, &blob_name(&layer))).unwrap();
        (layer, bundle)
    };
    let kind = |c: &Value, written: &[(String, Vec<u8>)]| -> String {
        let manifest: Value = serde_json::from_slice(entry(
            written,
            &blob_name(c["manifest"]["digest"].as_str().unwrap()),
        ))
        .unwrap();
        manifest["annotations"]["dev.sigstore.bundle.predicateType"].as_str().unwrap().to_string()
    };
    let signature =
        list.iter().find(|c| kind(c, &written) == "https://sigstore.dev/cosign/sign/v1").unwrap();
    let provenance = list
        .iter()
        .find(|c| kind(c, &written).starts_with("https://slsa.dev/provenance/"))
        .unwrap();
    let (layer, mut forged) = bundle_of(signature);
    let (_, other) = bundle_of(provenance);
    forged["dsseEnvelope"]["signatures"] = other["dsseEnvelope"]["signatures"].clone();
    let mut tampered = written.clone();
    swap_blob(&mut tampered, &layer, serde_json::to_vec(&forged).unwrap());
    let tampered_file = dir.path().join("tampered.tar");
    write_entries(&tampered_file, &tampered);
    let tampered_path = tampered_file.display().to_string();
    let (ok, out) = keyless(&tampered_path, &["--certificate-identity", &who]);
    assert!(!ok, "{out}");
    let refused = errors(&out);
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0].starts_with(&format!(
            "error: {tampered_path} is refused: {image}:signed: the Sigstore bundle sha256:"
        )),
        "{out}"
    );

    // Pushed into the second registry: cosign and sigstore-go verify there.
    let trust = [
        "--trusted-root",
        &root,
        "--certificate-identity",
        &who,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    let (ok, out, moved) = push_to_second(&bed, &path, &trust, &image);
    assert!(ok, "{out}");
    let checked = cosign.verify_attestation(
        &sigstore,
        "https://sigstore.dev/cosign/sign/v1",
        &who,
        &format!("{moved}@{platform}"),
    );
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    let refused = cosign.verify_attestation(
        &sigstore,
        "https://sigstore.dev/cosign/sign/v1",
        &evil,
        &format!("{moved}@{platform}"),
    );
    assert!(!refused.status.success());
    let stored = referred_bundles(&bed, &moved, &platform);
    assert_eq!(stored.len(), list.len(), "every referrer is listed again");
    for (kind, bundle) in &stored {
        let checked = go_verify(&sigstore, cosign.home.path(), bundle, &who, &platform, None);
        assert!(
            checked.status.success(),
            "{kind}: {}{}",
            text(&checked.stdout),
            text(&checked.stderr)
        );
    }
    let wrong = go_verify(&sigstore, cosign.home.path(), &stored[0].1, &evil, &platform, None);
    assert!(!wrong.status.success());
}
