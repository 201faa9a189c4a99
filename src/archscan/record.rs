//! What the architecture scan found, recorded in the registry beside the
//! image it verified, so that a later release (a new job with an empty
//! home, on this machine or a new one) does not read those layers again.
//!
//! The record is an OCI artifact in the image's own repository under the tag
//! [`RECORD_TAG`]: a manifest whose `subject` is the index the scan
//! verified, whose one layer is the record itself (JSON: the scanner's
//! version, the subject, and for each layer of the subject the ELF files in
//! it). A later run believes an entry only if its layer is a layer of the
//! subject, which it reads from the registry: a record cannot vouch for a
//! layer that no image the record is attached to holds. Anything else (no
//! record, another scanner version, a record whose subject is gone, a blob
//! that is not what the manifest names) is no record: every layer is
//! scanned. A record is as trustworthy as the credentials that can push to
//! the repository: whoever can push can push an image holding a layer and a
//! record claiming it clean, as they can push and tag any image.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ElfFile;
use super::cache::{Found, from_found, to_found};
use crate::digest::Digest;
use crate::names::ImageName;
use crate::registry::Registry;
use crate::registry::layout::{Descriptor, EMPTY_CONFIG};

/// The tag of the record in the image's repository.
pub(crate) const RECORD_TAG: &str = "multiarch-action-scans";

/// The media type of the record, and the manifest's artifact type.
pub(crate) const RECORD_TYPE: &str = "application/vnd.multiarch-action.layer-scans.v1+json";

/// The version of the scanner: a record of another version (one that finds
/// less) is no record.
const SCANNER: u32 = 1;

/// A record larger than this is neither read nor written.
const RECORD_LIMIT: u64 = 4 << 20;

#[derive(Serialize, Deserialize)]
struct Body {
    scanner: u32,
    subject: Digest,
    layers: BTreeMap<Digest, Vec<Found>>,
}

/// The record of `layers`, scanned in the image `subject`.
pub(crate) fn record_bytes(subject: &Digest, layers: &[(&Digest, &[ElfFile])]) -> Vec<u8> {
    let layers =
        layers.iter().map(|(digest, files)| ((*digest).clone(), to_found(files))).collect();
    serde_json::to_vec(&Body { scanner: SCANNER, subject: subject.clone(), layers })
        .unwrap_or_default()
}

/// The manifest that attaches the record `record` to `subject`.
pub(crate) fn manifest_bytes(subject: &Descriptor, record: &Descriptor) -> Vec<u8> {
    let descriptor =
        |d: &Descriptor| json!({"mediaType": d.media_type, "digest": d.digest, "size": d.size});
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": crate::registry::copy::OCI_MANIFEST,
        "artifactType": RECORD_TYPE,
        "config": descriptor(&Descriptor::empty_config()),
        "layers": [descriptor(record)],
        "subject": descriptor(subject),
    });
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// The record's descriptor and the subject a record manifest names, or why
/// it is no record of ours.
pub(crate) fn read_manifest(manifest: &serde_json::Value) -> Result<(Descriptor, Digest)> {
    if manifest.get("artifactType").and_then(|t| t.as_str()) != Some(RECORD_TYPE) {
        bail!("its artifact type is not {RECORD_TYPE}");
    }
    let layers: Vec<Descriptor> = serde_json::from_value(manifest["layers"].clone())
        .context("its layers are not descriptors")?;
    let [record] = layers.as_slice() else { bail!("it has {} layers, not one", layers.len()) };
    if record.media_type != RECORD_TYPE || record.size > RECORD_LIMIT {
        bail!("its layer is not a record ({}, {} bytes)", record.media_type, record.size);
    }
    let subject: Descriptor =
        serde_json::from_value(manifest["subject"].clone()).context("it names no subject")?;
    Ok((record.clone(), subject.digest))
}

/// What the record `bytes` says of each layer, when it is a record of this
/// scanner about `subject`.
pub(crate) fn read_record(bytes: &[u8], subject: &Digest) -> Result<HashMap<Digest, Vec<ElfFile>>> {
    let body: Body = serde_json::from_slice(bytes).context("it is not a record")?;
    if body.scanner != SCANNER {
        bail!("it was made by scanner {}, not {SCANNER}", body.scanner);
    }
    if body.subject != *subject {
        bail!("it speaks of {}, and its manifest of {subject}", body.subject);
    }
    body.layers
        .into_iter()
        .map(|(digest, found)| {
            let files = from_found(found)
                .with_context(|| format!("its entry for {digest} is not a scan"))?;
            Ok((digest, files))
        })
        .collect()
}

/// The entries of `record` whose layer is one of `subject_layers`.
pub(crate) fn vouched(
    record: HashMap<Digest, Vec<ElfFile>>,
    subject_layers: &HashSet<Digest>,
) -> HashMap<Digest, Vec<ElfFile>> {
    record.into_iter().filter(|(digest, _)| subject_layers.contains(digest)).collect()
}

/// What the record in `image`'s repository vouches for; empty when there is
/// no record it can believe (why, at debug level).
pub(crate) async fn read(registry: &Registry, image: &ImageName) -> HashMap<Digest, Vec<ElfFile>> {
    match try_read(registry, image).await {
        Ok(known) => known,
        Err(error) => {
            tracing::debug!("{}:{RECORD_TAG} is no scan record: {error:#}", image.name);
            HashMap::new()
        }
    }
}

async fn try_read(registry: &Registry, image: &ImageName) -> Result<HashMap<Digest, Vec<ElfFile>>> {
    let manifest = registry.raw_manifest(image, RECORD_TAG).await?;
    let (record, subject) = read_manifest(&manifest.json)?;
    let (bytes, subject_images) = tokio::try_join!(registry.small_blob(image, &record), async {
        Ok(registry.platform_images(image, &subject, &[]).await?.0)
    },)?;
    let entries = read_record(&bytes, &subject)?;
    let subject_layers: HashSet<Digest> =
        subject_images.into_iter().flat_map(|i| i.layers).collect();
    Ok(vouched(entries, &subject_layers))
}

/// Records `layers` (every layer of `subject` the scan saw) in `image`'s
/// repository, replacing the record there.
pub(crate) async fn write(
    registry: &Registry,
    image: &ImageName,
    subject: &Descriptor,
    layers: &[(&Digest, &[ElfFile])],
) -> Result<()> {
    let record = bytes::Bytes::from(record_bytes(&subject.digest, layers));
    if record.len() as u64 > RECORD_LIMIT {
        bail!("the record would be {} bytes, more than {RECORD_LIMIT}", record.len());
    }
    let record_descriptor = Descriptor::of(RECORD_TYPE, &record);
    for (descriptor, body) in [
        (Descriptor::empty_config(), bytes::Bytes::from_static(EMPTY_CONFIG)),
        (record_descriptor.clone(), record),
    ] {
        registry.put_small_blob(image, &descriptor, body).await?;
    }
    let manifest = bytes::Bytes::from(manifest_bytes(subject, &record_descriptor));
    let descriptor = Descriptor::of(crate::registry::copy::OCI_MANIFEST, &manifest);
    registry.put_manifest(image, RECORD_TAG, &descriptor, manifest).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archscan::ElfClass;

    fn files(arch: &'static str) -> Vec<ElfFile> {
        vec![ElfFile { path: "usr/bin/app".into(), machine: 62, class: ElfClass::Elf64, arch }]
    }

    fn subject() -> Descriptor {
        Descriptor {
            media_type: crate::registry::copy::OCI_INDEX.into(),
            digest: Digest::of(b"index"),
            size: 5,
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let (amd64, none) = (files("amd64"), Vec::new());
        let bytes = record_bytes(&subject().digest, &[(&a, &amd64), (&b, &none)]);
        let record = Descriptor::of(RECORD_TYPE, &bytes);
        let manifest: serde_json::Value =
            serde_json::from_slice(&manifest_bytes(&subject(), &record)).unwrap();
        assert_eq!(manifest["config"]["digest"], Digest::of(b"{}").as_str());
        let (named, subject_digest) = read_manifest(&manifest).unwrap();
        assert_eq!((named, &subject_digest), (record, &subject().digest));
        let read = read_record(&bytes, &subject_digest).unwrap();
        assert_eq!(read, HashMap::from([(a, amd64), (b, none)]));
    }

    #[test]
    fn only_a_record_of_this_scanner_about_its_subject_is_read() {
        let a = Digest::of(b"a");
        let bytes = record_bytes(&subject().digest, &[(&a, &files("amd64"))]);
        assert!(read_record(&bytes, &Digest::of(b"another index")).is_err());
        let text = String::from_utf8(bytes.clone()).unwrap();
        for tampered in [
            text.replace("\"scanner\":1", "\"scanner\":0"),
            text.replace("\"arch\":\"amd64\"", "\"arch\":\"vax\""),
            text.replace("\"bits\":64", "\"bits\":16"),
            text.replace(a.as_str(), "sha256:../../x"),
            text[..text.len() - 1].to_string(),
        ] {
            assert!(read_record(tampered.as_bytes(), &subject().digest).is_err(), "{tampered}");
        }
        let mut manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes(
            &subject(),
            &Descriptor { media_type: RECORD_TYPE.into(), digest: a.clone(), size: 10 },
        ))
        .unwrap();
        assert!(read_manifest(&manifest).is_ok());
        for (key, value) in [
            ("artifactType", json!("application/vnd.example+json")),
            ("subject", json!(null)),
            ("layers", json!([])),
            (
                "layers",
                json!([{"mediaType": RECORD_TYPE, "digest": a.as_str(), "size": 5u64 << 20}]),
            ),
        ] {
            let saved = manifest[key].clone();
            manifest[key] = value;
            assert!(read_manifest(&manifest).is_err(), "{key}: {}", manifest[key]);
            manifest[key] = saved;
        }
    }

    #[test]
    fn a_record_vouches_only_for_layers_of_its_subject() {
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let record = HashMap::from([(a.clone(), files("amd64")), (b.clone(), Vec::new())]);
        let kept = vouched(record, &HashSet::from([a.clone()]));
        assert_eq!(kept.keys().collect::<Vec<_>>(), [&a]);
    }
}
