//! Reads a bundle back in one pass and checks it: every entry against
//! `SHA256SUMS`, every blob against its own digest, every image's manifests
//! and layers present, and the architecture of every binary in every layer
//! (the same scan as after a push). What `bundle verify` prints, and what
//! `bundle load` and `bundle push` do first: a damaged bundle is refused,
//! naming the file and the entry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use sha2::Digest as _;

use crate::archscan;
use crate::platform::Platform;
use crate::registry::layout::is_index;

/// Entries at most this large are kept in memory (indexes, manifests, configs).
const DOCUMENT_LIMIT: u64 = 4 << 20;

/// One image of a checked bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleImage {
    /// As `index.json` names it.
    pub name: String,
    pub root_digest: String,
    pub root_media_type: String,
    /// Every platform, with its manifest's digest and media type.
    pub platforms: Vec<(Platform, String, String)>,
    /// Config and layer digests, in order.
    pub blobs: Vec<String>,
}

/// A bundle that passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    pub images: Vec<BundleImage>,
    /// Indexes, manifests and configs by digest.
    pub documents: BTreeMap<String, Vec<u8>>,
    pub entries: usize,
    pub bytes: u64,
    pub scanned_layers: usize,
    /// Layers that could not be scanned, and why.
    pub unscanned: Vec<String>,
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

/// Checks the bundle at `path`; every failure names it.
pub fn check(path: &Path) -> Result<Checked> {
    check_inner(path).with_context(|| format!("{} is not a sound bundle", path.display()))
}

fn check_inner(path: &Path) -> Result<Checked> {
    let file = std::fs::File::open(path).with_context(|| format!("could not open {}", path.display()))?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let mut documents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut index: Option<Value> = None;
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut sums: Option<String> = None;
    let mut layer_arches: HashMap<String, Vec<String>> = HashMap::new();
    let mut scanned_layers = 0;
    let mut unscanned = Vec::new();
    let mut foreign = Vec::new();
    let mut bytes = 0;
    for entry in archive.entries().context("it is not a tar file")? {
        let mut entry = entry.context("it is not a tar file, or it is cut short")?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).trim_start_matches("./").to_string();
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let size = entry.size();
        bytes += size;
        if name == "SHA256SUMS" {
            let mut text = String::new();
            entry.read_to_string(&mut text).context("SHA256SUMS is not text")?;
            sums = Some(text);
            continue;
        }
        let blob_digest = name.strip_prefix("blobs/sha256/").map(|hex| format!("sha256:{hex}"));
        let mut hashing = Hashing { inner: &mut entry, hasher: sha2::Sha256::new() };
        if let Some(digest) = &blob_digest {
            if !layer_arches.contains_key(digest) {
                layer_arches = arches_of_layers(index.as_ref(), &documents);
            }
            if let Some(arches) = layer_arches.get(digest).cloned() {
                match archscan::scan_layer(&mut hashing) {
                    Ok(files) => {
                        scanned_layers += 1;
                        for arch in arches {
                            foreign.extend(archscan::mismatches(&files, &arch).into_iter().map(|m| format!("{name}: {m}")));
                        }
                    }
                    Err(error) => unscanned.push(format!("{name}: {error}")),
                }
            }
        }
        let mut kept = Vec::new();
        if size <= DOCUMENT_LIMIT {
            hashing.read_to_end(&mut kept).with_context(|| format!("{name} is cut short"))?;
        } else {
            std::io::copy(&mut hashing, &mut std::io::sink()).with_context(|| format!("{name} is cut short"))?;
        }
        let hex: String = hashing.hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if let Some(digest) = &blob_digest {
            if format!("sha256:{hex}") != *digest {
                bail!("{name} does not match its digest: the bundle is damaged; copy it again");
            }
            if size <= DOCUMENT_LIMIT && looks_like_json(&kept) {
                documents.insert(digest.clone(), kept);
            }
        } else if name == "index.json" {
            index = Some(serde_json::from_slice(&kept).context("index.json is not JSON")?);
        }
        seen.insert(name, hex);
    }
    let sums = sums.context("it has no SHA256SUMS")?;
    let mut listed = BTreeSet::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (hex, name) = line.split_once("  ").with_context(|| format!("SHA256SUMS has a line that is not `digest  name`: {line}"))?;
        match seen.get(name) {
            None => bail!("{name} is listed in SHA256SUMS but missing"),
            Some(found) if found != hex => bail!("{name} does not match its checksum in SHA256SUMS: the bundle is damaged; copy it again"),
            Some(_) => {}
        }
        listed.insert(name.to_string());
    }
    if let Some(extra) = seen.keys().find(|name| !listed.contains(*name)) {
        bail!("{extra} is not listed in SHA256SUMS");
    }
    if !foreign.is_empty() {
        bail!("binaries of another architecture: {}", foreign.join("; "));
    }
    let index = index.context("it has no index.json; it is not an OCI image layout")?;
    let images = images_of(&index, &documents, &seen)?;
    let layers = arches_of_layers(Some(&index), &documents).len();
    if scanned_layers + unscanned.len() < layers {
        unscanned.push(format!("{} layer(s) came before their manifests and were not scanned", layers - scanned_layers - unscanned.len()));
    }
    Ok(Checked { images, documents, entries: seen.len() + 1, bytes, scanned_layers, unscanned })
}

fn looks_like_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// Each layer's architectures, from the index and manifests read so far.
fn arches_of_layers(index: Option<&Value>, documents: &BTreeMap<String, Vec<u8>>) -> HashMap<String, Vec<String>> {
    let mut arches: HashMap<String, Vec<String>> = HashMap::new();
    let Some(index) = index else { return arches };
    let Ok(images) = images_of(index, documents, &BTreeMap::new()) else { return arches };
    for image in images {
        for (platform, manifest, _) in &image.platforms {
            let Some(json) = documents.get(manifest).and_then(|b| serde_json::from_slice::<Value>(b).ok()) else { continue };
            for layer in json.get("layers").and_then(Value::as_array).into_iter().flatten() {
                if let Some(digest) = layer.get("digest").and_then(Value::as_str) {
                    let list = arches.entry(digest.to_string()).or_default();
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
fn images_of(index: &Value, documents: &BTreeMap<String, Vec<u8>>, present: &BTreeMap<String, String>) -> Result<Vec<BundleImage>> {
    let document = |digest: &str| -> Result<Value> {
        let bytes = documents.get(digest).with_context(|| format!("it lacks the manifest {digest}"))?;
        serde_json::from_slice(bytes).with_context(|| format!("{digest} is not a JSON manifest"))
    };
    let require = |digest: &str| -> Result<()> {
        if !present.is_empty() && !present.contains_key(&super::write::blob_path(digest)?) {
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
        let (root_digest, root_media_type) = (text("digest"), text("mediaType"));
        let root = document(&root_digest)?;
        let manifests: Vec<(Option<Platform>, String, String)> = if is_index(&root_media_type) {
            root.get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|e| !super::audit::is_attestation_entry(e))
                .map(|e| {
                    let platform = e.get("platform").and_then(Platform::from_oci_json);
                    let field = |key: &str| e.get(key).and_then(Value::as_str).unwrap_or("").to_string();
                    (platform, field("digest"), field("mediaType"))
                })
                .collect()
        } else {
            vec![(entry.get("platform").and_then(Platform::from_oci_json), root_digest.clone(), root_media_type.clone())]
        };
        let mut platforms = Vec::new();
        let mut blobs = Vec::new();
        for (platform, digest, media_type) in manifests {
            let manifest = document(&digest)?;
            let config = manifest.pointer("/config/digest").and_then(Value::as_str).context("a manifest has no config")?.to_string();
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
                let layer = layer.get("digest").and_then(Value::as_str).context("a layer has no digest")?.to_string();
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
