//! Reads a bundle back in one pass and checks it: every entry against
//! `SHA256SUMS`, every blob against its own digest, every image's manifests
//! and layers present, and the architecture of every binary in every layer
//! (the same scan as after a push). What `bundle verify` prints, and what
//! `bundle load` and `bundle push` do first: a damaged bundle is refused,
//! naming the file and the entry (or, for a bundle in parts, the part). It
//! also notes where each blob is in the stream, for `bundle push`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::parts::{BundleFiles, locate};
use super::signatures::{self, Carried};
use crate::archscan;
use crate::digest::{Digest, Hashing};
use crate::platform::Platform;
use crate::registry::layout::{BLOBS, blob_entry, is_index};

/// Entries at most this large are kept in memory (indexes, manifests, configs).
const DOCUMENT_LIMIT: u64 = 4 << 20;
/// In a bundle that carries signatures, JSON blobs at most this large are
/// kept too: an attestation of a large SBOM can pass the limit above (a
/// registry's small blobs are read up to this size).
const SIGNED_DOCUMENT_LIMIT: u64 = 16 << 20;

/// One image of a checked bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundleImage {
    /// As `index.json` names it.
    pub name: String,
    pub root_digest: Digest,
    pub root_media_type: String,
    /// Every platform, with its manifest's digest and media type.
    pub platforms: Vec<(Platform, Digest, String)>,
    /// Config and layer digests, in order.
    pub blobs: Vec<Digest>,
}

/// A bundle that passed every check.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub images: Vec<BundleImage>,
    /// Indexes, manifests and configs by digest.
    pub documents: BTreeMap<Digest, Vec<u8>>,
    pub entries: usize,
    pub bytes: u64,
    pub scanned_layers: usize,
    /// Layers that could not be scanned, and why.
    pub unscanned: Vec<String>,
    /// Where each blob's content is: offset in the tar stream, and size.
    pub spans: BTreeMap<Digest, (u64, u64)>,
    /// The file, or the parts, it was read from.
    pub files: BundleFiles,
    /// The signature manifests it carries (`signatures.json`).
    pub carried: Vec<Carried>,
    /// The trust root it carries (`trusted_root.json`), if any.
    pub trusted_root: Option<Vec<u8>>,
}

/// Checks the bundle at `path` (a tarball, or the first part or base name
/// of one in parts); every failure names it, or the part at fault.
pub(crate) fn check(path: &Path) -> Result<Checked> {
    // A missing file or part is named as such; what is read is checked.
    let files = locate(path)?;
    let mut reader = files.reader();
    let checked = check_stream(&mut reader).map_err(|error| match reader.damaged_part() {
        Some(damaged) => anyhow::anyhow!(damaged),
        None => error,
    });
    let checked = checked.with_context(|| format!("{} is not a sound bundle", path.display()))?;
    Ok(Checked { files, ..checked })
}

/// What a check found, as lines for the terminal.
pub(crate) fn describe(file: &Path, checked: &Checked) -> String {
    let parts = match checked.files.files.len() {
        1 => String::new(),
        count => format!(" in {count} parts"),
    };
    let mut text = format!(
        "{}{parts}: {} entries, {} bytes; every checksum matches\n",
        file.display(),
        checked.entries,
        checked.bytes
    );
    for image in &checked.images {
        let platforms: Vec<String> =
            image.platforms.iter().map(|(p, _, _)| p.to_string()).collect();
        text.push_str(&format!(
            "  {} ({}) {}\n",
            image.name,
            platforms.join(", "),
            image.root_digest
        ));
    }
    text.push_str(&format!(
        "{} layer(s) scanned: no binary of another architecture\n",
        checked.scanned_layers
    ));
    for note in &checked.unscanned {
        text.push_str(&format!("not scanned: {note}\n"));
    }
    if checked.trusted_root.is_some() {
        text.push_str(&format!(
            "carries a trust root ({}); check it against your own before giving it to --trusted-root\n",
            signatures::TRUSTED_ROOT
        ));
    }
    text
}

/// Reads the tar stream once, then holds what it found against
/// `SHA256SUMS`, the layer scan and `index.json`.
fn check_stream(reader: &mut impl Read) -> Result<Checked> {
    let found = read_entries(reader)?;
    let sums = found.sums.as_deref().context("it has no SHA256SUMS")?;
    check_sums(sums, &found.seen)?;
    if !found.foreign.is_empty() {
        bail!("binaries of another architecture: {}", found.foreign.join("; "));
    }
    found.into_checked()
}

/// What one pass over a bundle's tar stream found.
#[derive(Default)]
struct Found {
    /// Indexes, manifests and configs by digest.
    documents: BTreeMap<Digest, Vec<u8>>,
    index: Option<Value>,
    /// Every entry but `SHA256SUMS`, with the digest of its content.
    seen: BTreeMap<String, Digest>,
    sums: Option<String>,
    /// Each layer's architectures, as far as the manifests read so far tell.
    layer_arches: HashMap<Digest, Vec<String>>,
    scanned_layers: usize,
    unscanned: Vec<String>,
    /// Binaries of another architecture than their image's.
    foreign: Vec<String>,
    bytes: u64,
    spans: BTreeMap<Digest, (u64, u64)>,
    /// `signatures.json` and `trusted_root.json`, as read.
    signatures: Option<Vec<u8>>,
    trusted_root: Option<Vec<u8>>,
}

/// Every entry of the tar stream, read once.
fn read_entries(reader: &mut impl Read) -> Result<Found> {
    let mut archive = tar::Archive::new(reader);
    let mut found = Found::default();
    for entry in archive.entries().context("it is not a tar file")? {
        let entry = entry.context("it is not a tar file, or it is cut short")?;
        found.entry(entry)?;
    }
    Ok(found)
}

impl Found {
    /// One entry: `SHA256SUMS` kept as text; any other hashed as it is
    /// read, a layer scanned on the way, a blob held to its digest.
    fn entry(&mut self, mut entry: tar::Entry<'_, impl Read>) -> Result<()> {
        let name =
            String::from_utf8_lossy(&entry.path_bytes()).trim_start_matches("./").to_string();
        if entry.header().entry_type().is_dir() {
            return Ok(());
        }
        let size = entry.size();
        let offset = entry.raw_file_position();
        self.bytes += size;
        if name == "SHA256SUMS" {
            let mut text = String::new();
            entry.read_to_string(&mut text).context("SHA256SUMS is not text")?;
            self.sums = Some(text);
            return Ok(());
        }
        let blob_digest = name
            .strip_prefix(BLOBS)
            .map(Digest::from_hex)
            .transpose()
            .with_context(|| format!("{name} is not named by a sha256 digest"))?;
        let mut hashing = Hashing::new(&mut entry);
        if let Some(digest) = &blob_digest {
            self.scan_layer(&name, digest, &mut hashing);
        }
        let limit = match self.signatures.is_some() {
            true => SIGNED_DOCUMENT_LIMIT,
            false => DOCUMENT_LIMIT,
        };
        let kept = read_rest(&name, size, limit, &mut hashing)?;
        let found = hashing.digest();
        if let Some(digest) = blob_digest {
            if found != digest {
                bail!("{name} does not match its digest: the bundle is damaged; copy it again");
            }
            if looks_like_json(&kept) {
                self.documents.insert(digest.clone(), kept);
            }
            self.spans.insert(digest, (offset, size));
        } else if name == "index.json" {
            self.index = Some(serde_json::from_slice(&kept).context("index.json is not JSON")?);
        } else if name == signatures::ENTRY {
            self.signatures = Some(kept);
        } else if name == signatures::TRUSTED_ROOT {
            self.trusted_root = Some(kept);
        }
        self.seen.insert(name, found);
        Ok(())
    }

    /// Scans the blob `digest` for binaries of another architecture when
    /// the manifests read so far name it as a layer; a layer that cannot be
    /// scanned is noted.
    fn scan_layer(&mut self, name: &str, digest: &Digest, blob: &mut impl Read) {
        if !self.layer_arches.contains_key(digest) {
            self.layer_arches = arches_of_layers(self.index.as_ref(), &self.documents);
        }
        let Some(arches) = self.layer_arches.get(digest).cloned() else { return };
        match archscan::scan_layer(blob) {
            Ok(files) => {
                self.scanned_layers += 1;
                for arch in arches {
                    self.foreign.extend(
                        archscan::mismatches(&files, &arch)
                            .into_iter()
                            .map(|m| format!("{name}: {m}")),
                    );
                }
            }
            Err(error) => self.unscanned.push(format!("{name}: {error}")),
        }
    }

    /// The images `index.json` names, with every blob present, and a note
    /// for the layers that came too early to be scanned.
    fn into_checked(self) -> Result<Checked> {
        let index = self.index.context("it has no index.json; it is not an OCI image layout")?;
        let images = images_of(&index, &self.documents, &self.seen)?;
        let layers = arches_of_layers(Some(&index), &self.documents).len();
        let mut unscanned = self.unscanned;
        if self.scanned_layers + unscanned.len() < layers {
            unscanned.push(format!(
                "{} layer(s) came before their manifests and were not scanned",
                layers - self.scanned_layers - unscanned.len()
            ));
        }
        let carried = match &self.signatures {
            Some(list) => signatures::parse_list(list)?,
            None => Vec::new(),
        };
        for item in &carried {
            let manifest = self.documents.get(&item.manifest.digest).with_context(|| {
                format!(
                    "it lacks the signature manifest {} of {}",
                    item.manifest.digest, item.image
                )
            })?;
            let manifest: Value = serde_json::from_slice(manifest)
                .with_context(|| format!("{} is not a JSON manifest", item.manifest.digest))?;
            for blob in crate::registry::layout::blobs_of(&manifest) {
                if !self.documents.contains_key(&blob.digest) {
                    bail!("it lacks the blob {} of a signature of {}", blob.digest, item.image);
                }
            }
        }
        let files = BundleFiles { files: Vec::new(), sums: None };
        Ok(Checked {
            carried,
            trusted_root: self.trusted_root,
            images,
            documents: self.documents,
            entries: self.seen.len() + 1,
            bytes: self.bytes,
            scanned_layers: self.scanned_layers,
            unscanned,
            spans: self.spans,
            files,
        })
    }
}

/// The rest of an entry, read to its end: the content when it may be a
/// document (up to `DOCUMENT_LIMIT`, or a JSON one up to `limit`), else
/// nothing.
fn read_rest(name: &str, size: u64, limit: u64, entry: &mut impl Read) -> Result<Vec<u8>> {
    let mut kept = Vec::new();
    if size <= limit {
        let first = entry.by_ref().take(1).read_to_end(&mut kept);
        first.with_context(|| format!("{name} is cut short"))?;
    }
    if size <= DOCUMENT_LIMIT || (size <= limit && looks_like_json(&kept)) {
        entry.read_to_end(&mut kept).with_context(|| format!("{name} is cut short"))?;
    } else {
        kept.clear();
        std::io::copy(entry, &mut std::io::sink())
            .with_context(|| format!("{name} is cut short"))?;
    }
    Ok(kept)
}

/// Every line of `SHA256SUMS` against the entry it names, and every entry
/// listed there.
fn check_sums(sums: &str, seen: &BTreeMap<String, Digest>) -> Result<()> {
    let mut listed = BTreeSet::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (listed_digest, name) = line
            .split_once("  ")
            .and_then(|(hex, name)| Some((Digest::from_hex(hex).ok()?, name)))
            .with_context(|| format!("SHA256SUMS has a line that is not `digest  name`: {line}"))?;
        match seen.get(name) {
            None => bail!("{name} is listed in SHA256SUMS but missing"),
            Some(found) if *found != listed_digest => bail!(
                "{name} does not match its checksum in SHA256SUMS: the bundle is damaged; copy it again"
            ),
            Some(_) => {}
        }
        listed.insert(name.to_string());
    }
    if let Some(extra) = seen.keys().find(|name| !listed.contains(*name)) {
        bail!("{extra} is not listed in SHA256SUMS");
    }
    Ok(())
}

fn looks_like_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// Each layer's architectures, from the index and manifests read so far.
fn arches_of_layers(
    index: Option<&Value>,
    documents: &BTreeMap<Digest, Vec<u8>>,
) -> HashMap<Digest, Vec<String>> {
    let mut arches: HashMap<Digest, Vec<String>> = HashMap::new();
    let Some(index) = index else { return arches };
    let Ok(images) = images_of(index, documents, &BTreeMap::new()) else { return arches };
    for image in images {
        for (platform, manifest, _) in &image.platforms {
            let Some(json) =
                documents.get(manifest).and_then(|b| serde_json::from_slice::<Value>(b).ok())
            else {
                continue;
            };
            for layer in json.get("layers").and_then(Value::as_array).into_iter().flatten() {
                if let Some(digest) =
                    layer.get("digest").and_then(Value::as_str).and_then(|d| Digest::parse(d).ok())
                {
                    let list = arches.entry(digest).or_default();
                    if !list.contains(&platform.arch) {
                        list.push(platform.arch.clone());
                    }
                }
            }
        }
    }
    arches
}

/// The images `index.json` names, each with its platforms and blobs. With
/// `present` not empty, every blob must be among its entries.
fn images_of(
    index: &Value,
    documents: &BTreeMap<Digest, Vec<u8>>,
    present: &BTreeMap<String, Digest>,
) -> Result<Vec<BundleImage>> {
    let document = |digest: &Digest| -> Result<Value> {
        let bytes =
            documents.get(digest).with_context(|| format!("it lacks the manifest {digest}"))?;
        serde_json::from_slice(bytes).with_context(|| format!("{digest} is not a JSON manifest"))
    };
    let require = |digest: &Digest| -> Result<()> {
        if !present.is_empty() && !present.contains_key(&blob_entry(digest)) {
            bail!("it lacks the blob {digest}");
        }
        Ok(())
    };
    let mut images = Vec::new();
    for entry in index.get("manifests").and_then(Value::as_array).into_iter().flatten() {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        let name = entry
            .pointer("/annotations/io.containerd.image.name")
            .or_else(|| entry.pointer("/annotations/org.opencontainers.image.ref.name"))
            .and_then(Value::as_str)
            .context("index.json has an image without a name")?
            .to_string();
        let root_digest = digest_in(entry, || format!("index.json's entry for {name}"))?;
        let root_media_type = text("mediaType");
        let root = document(&root_digest)?;
        let manifests: Vec<(Option<Platform>, Digest, String)> = if is_index(&root_media_type) {
            root.get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|e| !super::audit::is_attestation_entry(e))
                .map(|e| {
                    let platform = e.get("platform").and_then(Platform::from_oci_json);
                    let field =
                        |key: &str| e.get(key).and_then(Value::as_str).unwrap_or("").to_string();
                    let digest = digest_in(e, || format!("an entry of {root_digest}"))?;
                    Ok((platform, digest, field("mediaType")))
                })
                .collect::<Result<_>>()?
        } else {
            vec![(
                entry.get("platform").and_then(Platform::from_oci_json),
                root_digest.clone(),
                root_media_type.clone(),
            )]
        };
        let mut platforms = Vec::new();
        let mut blobs = Vec::new();
        for (platform, digest, media_type) in manifests {
            let manifest = document(&digest)?;
            let config = manifest.get("config").context("a manifest has no config")?;
            let config = digest_in(config, || format!("the config of {digest}"))?;
            let platform = match platform {
                Some(platform) => platform,
                None => document(&config)
                    .ok()
                    .and_then(|c| Platform::from_oci_json(&c))
                    .with_context(|| format!("{digest} names no platform"))?,
            };
            require(&config)?;
            blobs.push(config);
            for layer in manifest.get("layers").and_then(Value::as_array).into_iter().flatten() {
                let layer = digest_in(layer, || format!("a layer of {digest}"))?;
                require(&layer)?;
                blobs.push(layer);
            }
            platforms.push((platform, digest, media_type));
        }
        images.push(BundleImage { name, root_digest, root_media_type, platforms, blobs });
    }
    if images.is_empty() {
        bail!("index.json names no image");
    }
    Ok(images)
}

/// The digest a descriptor (`json`) names; `what` names the descriptor.
fn digest_in(json: &Value, what: impl Fn() -> String) -> Result<Digest> {
    let text = json
        .get("digest")
        .and_then(Value::as_str)
        .with_context(|| format!("{} has no digest", what()))?;
    Digest::parse(text).with_context(|| format!("{} names no sha256 digest", what()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar holding `files` (name, content), with SHA256SUMS last.
    fn tarball(files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut sums = String::new();
        for (name, content) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(content.len() as u64);
            builder.append_data(&mut header, name, content.as_slice()).unwrap();
            sums.push_str(&format!("{}  {name}\n", Digest::of(content).hex()));
        }
        let mut header = tar::Header::new_ustar();
        header.set_size(sums.len() as u64);
        builder.append_data(&mut header, "SHA256SUMS", sums.as_bytes()).unwrap();
        builder.into_inner().unwrap()
    }

    fn blob(content: &[u8]) -> (Digest, (String, Vec<u8>)) {
        let digest = Digest::of(content);
        (digest.clone(), (blob_entry(&digest), content.to_vec()))
    }

    /// An arm64 image whose one layer holds one file starting with `elf`.
    fn bundle_with_binary(machine: u16) -> Vec<(String, Vec<u8>)> {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        elf.extend(machine.to_le_bytes());
        elf.extend([0u8; 40]);
        let mut layer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(elf.len() as u64);
        layer.append_data(&mut header, "usr/bin/app", elf.as_slice()).unwrap();
        let (layer_digest, layer_file) = blob(&layer.into_inner().unwrap());
        let (config_digest, config_file) = blob(br#"{"architecture":"arm64","os":"linux"}"#);
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":1}}]}}"#
        );
        let (manifest_digest, manifest_file) = blob(manifest.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":1,"platform":{{"os":"linux","architecture":"arm64"}},"annotations":{{"io.containerd.image.name":"r.example/app:1"}}}}]}}"#
        );
        vec![("index.json".to_string(), index.into_bytes()), config_file, manifest_file, layer_file]
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_sound_bundle_passes_and_names_its_images() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "ok.tar", &tarball(&bundle_with_binary(183)));
        let checked = check(&path).unwrap();
        assert_eq!(checked.images.len(), 1);
        assert_eq!(checked.images[0].name, "r.example/app:1");
        assert_eq!(checked.images[0].platforms[0].0.to_string(), "linux/arm64");
        assert_eq!(checked.scanned_layers, 1);
    }

    #[test]
    fn a_binary_of_another_architecture_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "amd64-inside.tar", &tarball(&bundle_with_binary(62)));
        let error = format!("{:#}", check(&path).unwrap_err());
        assert!(error.contains("amd64-inside.tar is not a sound bundle"), "{error}");
        assert!(error.contains("usr/bin/app: amd64 binary in arm64 image"), "{error}");
    }

    #[test]
    fn damage_and_gaps_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = bundle_with_binary(183);
        let mut bytes = tarball(&files);
        let config_at = bytes.windows(12).position(|w| w == b"architecture").unwrap();
        bytes[config_at] = b'A';
        let error = format!("{:#}", check(&write(dir.path(), "damaged.tar", &bytes)).unwrap_err());
        assert!(
            error.contains("damaged.tar is not a sound bundle")
                && error.contains("the bundle is damaged"),
            "{error}"
        );
        let layer = files.pop().unwrap();
        let error =
            format!("{:#}", check(&write(dir.path(), "gap.tar", &tarball(&files))).unwrap_err());
        assert!(
            error.ends_with(&format!(
                "it lacks the blob sha256:{}",
                layer.0.rsplit('/').next().unwrap()
            )),
            "{error}"
        );
        let mut bytes = tarball(&bundle_with_binary(183));
        bytes.truncate(bytes.len() / 2);
        assert!(check(&write(dir.path(), "short.tar", &bytes)).is_err());
    }

    #[test]
    fn a_large_signature_blob_is_kept_only_in_a_bundle_that_carries_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let large = format!(r#"{{"payload":"{}"}}"#, "a".repeat(5 << 20)).into_bytes();
        let (digest, entry) = blob(&large);
        let mut files = bundle_with_binary(183);
        files.push(entry.clone());
        let checked = check(&write(dir.path(), "unsigned.tar", &tarball(&files))).unwrap();
        assert!(!checked.documents.contains_key(&digest));
        let mut files = bundle_with_binary(183);
        files.insert(1, (signatures::ENTRY.to_string(), br#"{"signatures":[]}"#.to_vec()));
        files.push(entry);
        let checked = check(&write(dir.path(), "signed.tar", &tarball(&files))).unwrap();
        assert_eq!(checked.documents.get(&digest), Some(&large));
        assert!(checked.carried.is_empty() && checked.trusted_root.is_none());

        // A signature it lists but does not hold: named.
        let missing = Digest::of(b"a signature manifest");
        let list = format!(
            r#"{{"signatures":[{{"image":"r.example/app:1","subject":"{digest}","tag":"sha256-{}.sig","manifest":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{missing}","size":3}}}}]}}"#,
            digest.hex()
        );
        let mut files = bundle_with_binary(183);
        files.insert(1, (signatures::ENTRY.to_string(), list.into_bytes()));
        let error = check(&write(dir.path(), "lacking.tar", &tarball(&files))).unwrap_err();
        assert!(
            format!("{error:#}").ends_with(&format!(
                "it lacks the signature manifest {missing} of r.example/app:1"
            )),
            "{error:#}"
        );
    }

    #[test]
    fn a_name_or_a_reference_that_is_no_digest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = bundle_with_binary(183);
        files.push(("blobs/sha256/zz".to_string(), b"x".to_vec()));
        let path = write(dir.path(), "odd-name.tar", &tarball(&files));
        let error = format!("{:#}", check(&path).unwrap_err());
        assert!(
            error.contains("blobs/sha256/zz is not named by a sha256 digest: `sha256:zz`"),
            "{error}"
        );
        let mut files = bundle_with_binary(183);
        let index = String::from_utf8(files[0].1.clone()).unwrap();
        let manifest = index.split(r#""digest":""#).nth(1).unwrap().split('"').next().unwrap();
        files[0].1 = index.replace(manifest, "sha256:ab").into_bytes();
        let path = write(dir.path(), "odd-index.tar", &tarball(&files));
        let error = format!("{:#}", check(&path).unwrap_err());
        assert!(
            error.ends_with(
                "index.json's entry for r.example/app:1 names no sha256 digest: `sha256:ab` is not a sha256 digest: it has 2 hex digits, not 64"
            ),
            "{error}"
        );
    }
}
