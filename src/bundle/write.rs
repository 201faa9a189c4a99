//! Writes a bundle: one OCI image layout tarball holding every image for the
//! requested platforms only. Small documents first (`oci-layout`,
//! `index.json`, `README.md`, then every index, manifest and config), then
//! every layer streamed from its registry straight into its tar entry, each
//! blob once, and `SHA256SUMS` over everything before it last. A layer is
//! checked against its digest as it streams; the file appears under its name
//! only when complete. With `bundle-split`, the same stream is cut into parts
//! (see `parts`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use futures_util::TryStreamExt as _;
use serde_json::{Value, json};

use super::audit::Resolved;
use super::parts::{MAX_PARTS, PartWriter};
use super::signatures::{self, Carried};
use crate::digest::{Digest, Hashing};
use crate::names::ImageName;
use crate::platform::Platform;
use crate::registry::Registry;
use crate::registry::copy::OCI_INDEX;
use crate::registry::layout::{Descriptor, blob_entry};

/// What a bundle holds, gathered from the registries before the file is
/// written: everything but the layers' contents.
pub(crate) struct Contents {
    pub images: Vec<BundledImage>,
    /// Indexes, manifests and configs by digest.
    pub documents: BTreeMap<Digest, Vec<u8>>,
    /// Every layer once, in first-use order, with a repository it is in.
    pub layers: Vec<(Descriptor, ImageName)>,
    /// The signatures stored beside the images' manifests (their
    /// manifests and blobs are among `documents`).
    pub carried: Vec<Carried>,
    /// The trust root to carry (`bundle-trusted-root`), as given.
    pub trusted_root: Option<Vec<u8>>,
}

/// One image of a bundle.
pub(crate) struct BundledImage {
    /// The reference as Docker names it (`docker.io/library/redis:7.2`).
    pub name: String,
    pub root: Descriptor,
    /// For a single-platform image named by its manifest, that platform.
    pub root_platform: Option<Platform>,
    pub platforms: Vec<(Platform, Digest)>,
    /// Compressed size of its layers, before deduplication.
    pub layer_bytes: u64,
    /// The Compose service it was built from, when this run built it.
    pub built_from: Option<String>,
}

/// How much a bundle holds, and how much sharing saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The files written: the tarball, or the parts then their checksums.
    pub files: Vec<PathBuf>,
    pub images: usize,
    pub blobs: usize,
    pub bytes: u64,
    /// Bytes of layers stored once that images share.
    pub shared_bytes: u64,
    /// Signature manifests carried.
    pub signatures: usize,
}

/// Reads every manifest and config of the images' kept platforms, and the
/// signatures stored beside them.
pub(crate) async fn gather(
    registry: &Registry,
    images: &[&Resolved],
    trusted_root: Option<Vec<u8>>,
) -> Result<Contents> {
    let mut contents = Contents {
        images: Vec::new(),
        documents: BTreeMap::new(),
        layers: Vec::new(),
        carried: Vec::new(),
        trusted_root,
    };
    for image in images {
        let kept = image.kept_offers();
        let mut platforms = Vec::new();
        let mut layer_bytes = 0;
        for offer in &kept {
            let manifest =
                registry.raw_manifest(&image.name, offer.manifest.digest.as_str()).await?;
            let config: Descriptor = manifest
                .json
                .get("config")
                .and_then(|c| serde_json::from_value(c.clone()).ok())
                .with_context(|| {
                    format!("{}@{} has no config", image.name.name, manifest.digest)
                })?;
            let config_bytes = registry.small_blob(&image.name, &config).await?;
            contents.documents.insert(config.digest.clone(), config_bytes);
            let layers: Vec<Descriptor> = manifest
                .json
                .get("layers")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default();
            for layer in layers {
                layer_bytes += layer.size;
                if !contents.layers.iter().any(|(l, _)| l.digest == layer.digest) {
                    contents.layers.push((layer, image.name.clone()));
                }
            }
            contents.documents.insert(manifest.digest.clone(), manifest.bytes.to_vec());
            platforms.push((offer.platform.clone(), manifest.digest.clone()));
        }
        let (root, root_platform) = if crate::registry::layout::is_index(&image.root.media_type) {
            let all: Vec<&Value> = image
                .root
                .json
                .get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect();
            if all.len() == kept.len() {
                // Every entry is kept: the index as stored, digest and all.
                contents.documents.insert(image.root.digest.clone(), image.root.bytes.to_vec());
                (image.root.descriptor(), None)
            } else {
                let (bytes, descriptor) =
                    platform_index(&kept.iter().map(|o| o.entry.clone()).collect::<Vec<_>>());
                contents.documents.insert(descriptor.digest.clone(), bytes);
                (descriptor, None)
            }
        } else {
            (image.root.descriptor(), kept.first().map(|o| o.platform.clone()))
        };
        let name = docker_name(&image.wanted.reference)?;
        // The manifests as stored: the root only when the bundle keeps it whole.
        let mut subjects: Vec<Digest> = platforms.iter().map(|(_, d)| d.clone()).collect();
        if root.digest == image.root.digest && !subjects.contains(&root.digest) {
            subjects.insert(0, root.digest.clone());
        }
        let carried =
            signatures::gather(registry, &image.name, &name, &subjects, &mut contents.documents)
                .await
                .with_context(|| format!("could not read the signatures of {}", image.name.name))?;
        contents.carried.extend(carried);
        let built_from = image.wanted.built.then(|| image.wanted.service.clone()).flatten();
        contents.images.push(BundledImage {
            name,
            root,
            root_platform,
            platforms,
            layer_bytes,
            built_from,
        });
    }
    Ok(contents)
}

/// An OCI index naming these entries.
fn platform_index(entries: &[Value]) -> (Vec<u8>, Descriptor) {
    let bytes = serde_json::to_vec(
        &json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries }),
    )
    .unwrap_or_default();
    let descriptor = Descriptor::of(OCI_INDEX, &bytes);
    (bytes, descriptor)
}

/// A reference spelled out as Docker and containerd name images.
pub(crate) fn docker_name(reference: &str) -> Result<String> {
    let parsed = crate::reference::parse(reference)?;
    let mut name = format!("{}/{}", parsed.registry(), parsed.repository());
    if let Some(tag) = parsed.tag() {
        name.push_str(&format!(":{tag}"));
    }
    if let Some(digest) = parsed.digest() {
        name.push_str(&format!("@{digest}"));
    } else if parsed.tag().is_none() {
        name.push_str(":latest");
    }
    Ok(name)
}

/// The layout's `index.json`: one entry per image, named by its reference
/// as containerd and `docker load` read it.
pub(crate) fn index_json(images: &[BundledImage]) -> Vec<u8> {
    let manifests: Vec<Value> = images
        .iter()
        .map(|image| {
            let mut entry = json!({
                "mediaType": image.root.media_type,
                "digest": image.root.digest,
                "size": image.root.size,
                "annotations": {
                    "io.containerd.image.name": image.name,
                    "org.opencontainers.image.ref.name": image.name,
                },
            });
            if let Some(platform) = &image.root_platform {
                entry["platform"] = super::audit::platform_json(platform);
            }
            entry
        })
        .collect();
    serde_json::to_vec_pretty(
        &json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests }),
    )
    .unwrap_or_default()
}

/// The bundle's README: what it holds and how to use it; for a bundle in
/// parts, how to use them.
pub(crate) fn readme(
    images: &[BundledImage],
    file_name: &str,
    split: bool,
    signed: bool,
) -> String {
    let mut text = format!("# {file_name}: {} container image(s)\n\n", images.len());
    text.push_str("An OCI image layout (tar), written by multiarch-action. Every blob is stored once.\n\n## Images\n\n");
    for image in images {
        let platforms: Vec<String> = image.platforms.iter().map(|(p, _)| p.to_string()).collect();
        let built = image
            .built_from
            .as_ref()
            .map(|service| format!(", built from the Compose service `{service}`"))
            .unwrap_or_default();
        text.push_str(&format!(
            "- `{}` ({}), `{}`{built}\n",
            image.name,
            platforms.join(", "),
            image.root.digest
        ));
    }
    let (given, docker_load) = if split {
        (format!("{file_name}.part-001"), format!("`cat {file_name}.part-* | docker load`"))
    } else {
        (file_name.to_string(), format!("`docker load -i {file_name}`"))
    };
    text.push_str("\n## Use\n\n");
    if split {
        text.push_str(&format!(
            "The bundle is in parts, `{file_name}.part-001`, `{file_name}.part-002`, …, listed with their checksums in `{file_name}.SHA256SUMS`; keep them together in one directory. `sha256sum -c {file_name}.SHA256SUMS` checks the parts; the commands below read them in order as one tarball.\n\n"
        ));
    }
    text.push_str(&format!(
        "Check every checksum and the architecture of every binary:\n\n    multiarch-action bundle verify {given}\n\n\
         Load into the local Docker daemon (Docker with the containerd image store reads OCI layouts; {docker_load} does the same without the check):\n\n    multiarch-action bundle load {given}\n\n\
         Push every image, every platform, with its digests, into a registry:\n\n    multiarch-action bundle push {given} --registry registry.local:5000 [--insecure] [--username U --password-stdin]\n\n\
         Unpacked, `sha256sum -c SHA256SUMS` checks every file.\n"
    ));
    if signed {
        text.push_str(&format!(
            "\n## Signatures\n\nThe images' signatures and attestations are carried too (listed in `{}`), and `bundle push` puts them back beside the images. Check them with no network, with the public key of a key pair:\n\n    multiarch-action bundle verify {given} --key cosign.pub\n\nor, signed keyless, with the Sigstore instance's trust root and the signer's identity:\n\n    multiarch-action bundle verify {given} --trusted-root trusted_root.json --certificate-identity https://github.com/OWNER/REPO/.github/workflows/WORKFLOW.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com\n",
            signatures::ENTRY
        ));
    }
    text
}

/// A tar file being written, and the checksum of every entry so far.
struct TarWriter {
    builder: Option<tar::Builder<PartWriter>>,
    sums: Vec<(Digest, String)>,
    bytes: u64,
}

fn header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

impl TarWriter {
    async fn append_bytes(&mut self, path: String, bytes: Vec<u8>) -> Result<()> {
        let mut builder = self.builder.take().context("the bundle is already closed")?;
        self.sums.push((Digest::of(&bytes), path.clone()));
        self.bytes += bytes.len() as u64;
        let builder = tokio::task::spawn_blocking(move || {
            builder
                .append_data(&mut header(bytes.len() as u64), &path, bytes.as_slice())
                .map(|()| builder)
        })
        .await??;
        self.builder = Some(builder);
        Ok(())
    }

    /// Streams a layer from `source` into its entry, checking its digest.
    async fn append_layer(
        &mut self,
        registry: &Registry,
        source: &ImageName,
        layer: &Descriptor,
    ) -> Result<()> {
        let mut builder = self.builder.take().context("the bundle is already closed")?;
        let descriptor = layer.clone();
        let stream = registry.layer_stream(source, &descriptor.digest).await?;
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
            stream.stream.map_err(std::io::Error::other),
        ));
        let path = blob_entry(&descriptor.digest);
        let entry_path = path.clone();
        let (builder, digest, count) = tokio::task::spawn_blocking(move || {
            let mut hashing = Hashing::new(reader);
            builder.append_data(
                &mut header(descriptor.size),
                &entry_path,
                (&mut hashing).take(descriptor.size),
            )?;
            let count = hashing.count;
            Ok::<_, std::io::Error>((builder, hashing.digest(), count))
        })
        .await?
        .with_context(|| {
            format!("could not copy {} from {} into the bundle", layer.digest, source.name)
        })?;
        if count != layer.size || digest != layer.digest {
            bail!(
                "{} sent {} for {} ({count} bytes, {digest}), not the layer its manifest names ({} bytes); the bundle was not written",
                source.registry,
                source.name,
                layer.digest,
                layer.size
            );
        }
        self.sums.push((digest, path));
        self.bytes += count;
        self.builder = Some(builder);
        Ok(())
    }

    async fn finish(mut self) -> Result<(u64, Vec<PathBuf>)> {
        let sums: String =
            self.sums.iter().map(|(digest, path)| format!("{}  {path}\n", digest.hex())).collect();
        let mut builder = self.builder.take().context("the bundle is already closed")?;
        let bytes = self.bytes + sums.len() as u64;
        let files = tokio::task::spawn_blocking(move || {
            builder.append_data(&mut header(sums.len() as u64), "SHA256SUMS", sums.as_bytes())?;
            builder.into_inner()?.finish()
        })
        .await??;
        Ok((bytes, files))
    }
}

/// The size of the tarball holding `contents`, from the sizes of its
/// entries (512-byte headers, contents padded to 512 bytes, the end).
pub(crate) fn expected_size(contents: &Contents, readme_and_index: u64) -> u64 {
    let entry = |size: u64| 512 + size.div_ceil(512) * 512;
    let documents: u64 = contents.documents.values().map(|d| entry(d.len() as u64)).sum();
    let layers: u64 = contents.layers.iter().map(|(l, _)| entry(l.size)).sum();
    let sums = entry(((contents.documents.len() + contents.layers.len() + 3) * 160) as u64);
    let tail = 1024;
    entry(30) + entry(readme_and_index) + documents + layers + sums + tail
}

/// Writes the bundle to `file` (or, with `split`, to parts of at most that
/// many bytes), each file through `….partial` so that a failed write leaves
/// no file that looks complete.
pub(crate) async fn write(
    registry: &Registry,
    contents: &Contents,
    file: &Path,
    split: Option<u64>,
) -> Result<Written> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("bundle: could not create {}", dir.display()))?;
    }
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle.tar".into());
    let index = index_json(&contents.images);
    let readme =
        readme(&contents.images, &file_name, split.is_some(), !contents.carried.is_empty());
    if let Some(limit) = split {
        let extra = signatures::list_json(&contents.carried).len()
            + contents.trusted_root.as_ref().map_or(0, Vec::len);
        let parts =
            expected_size(contents, (index.len() + readme.len() + extra) as u64).div_ceil(limit);
        if parts > MAX_PARTS as u64 {
            bail!(
                "bundle-split: the bundle would be {parts} parts of {limit} bytes; at most {MAX_PARTS}: give a larger size; nothing was written"
            );
        }
    }
    let mut tar = TarWriter {
        builder: Some(tar::Builder::new(PartWriter::new(file, split))),
        sums: Vec::new(),
        bytes: 0,
    };
    // On failure the writer, dropped, removes what it wrote.
    write_entries(&mut tar, registry, contents, index, readme).await?;
    let (bytes, files) = tar.finish().await?;
    let unique: u64 = contents.layers.iter().map(|(l, _)| l.size).sum();
    let all: u64 = contents.images.iter().map(|i| i.layer_bytes).sum();
    Ok(Written {
        files,
        images: contents.images.len(),
        blobs: contents.documents.len() + contents.layers.len(),
        bytes,
        shared_bytes: all.saturating_sub(unique),
        signatures: contents.carried.len(),
    })
}

async fn write_entries(
    tar: &mut TarWriter,
    registry: &Registry,
    contents: &Contents,
    index: Vec<u8>,
    readme: String,
) -> Result<()> {
    tar.append_bytes("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()).await?;
    tar.append_bytes("index.json".into(), index).await?;
    tar.append_bytes("README.md".into(), readme.into_bytes()).await?;
    if !contents.carried.is_empty() {
        tar.append_bytes(signatures::ENTRY.into(), signatures::list_json(&contents.carried))
            .await?;
    }
    if let Some(root) = &contents.trusted_root {
        tar.append_bytes(signatures::TRUSTED_ROOT.into(), root.clone()).await?;
    }
    for (digest, bytes) in &contents.documents {
        tar.append_bytes(blob_entry(digest), bytes.clone()).await?;
    }
    for (layer, source) in &contents.layers {
        tar.append_layer(registry, source, layer).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_named_as_docker_names_them() {
        assert_eq!(docker_name("redis:7.2").unwrap(), "docker.io/library/redis:7.2");
        assert_eq!(docker_name("172.17.0.1:5000/a/b").unwrap(), "172.17.0.1:5000/a/b:latest");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            docker_name(&format!("ghcr.io/x/y@{digest}")).unwrap(),
            format!("ghcr.io/x/y@{digest}")
        );
    }

    #[test]
    fn the_index_names_every_image_for_containerd_and_docker() {
        let root = Digest::of(b"root");
        let image = BundledImage {
            name: "docker.io/library/redis:7.2".into(),
            root: Descriptor { media_type: OCI_INDEX.into(), digest: root.clone(), size: 10 },
            root_platform: None,
            platforms: vec![(Platform::parse("linux/arm64").unwrap(), Digest::of(b"arm64"))],
            layer_bytes: 5,
            built_from: None,
        };
        let index: Value =
            serde_json::from_slice(&index_json(std::slice::from_ref(&image))).unwrap();
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "docker.io/library/redis:7.2"
        );
        assert_eq!(
            index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
            "docker.io/library/redis:7.2"
        );
        assert_eq!(index["manifests"][0]["digest"], root.as_str());
        let readme = readme(std::slice::from_ref(&image), "deploy.tar", false, false);
        assert!(
            readme.contains(&format!("- `docker.io/library/redis:7.2` (linux/arm64), `{root}`")),
            "{readme}"
        );
        assert!(readme.contains("multiarch-action bundle load deploy.tar\n"), "{readme}");
        let split = super::readme(std::slice::from_ref(&image), "deploy.tar", true, false);
        assert!(split.contains("multiarch-action bundle load deploy.tar.part-001\n"), "{split}");
        assert!(split.contains("`sha256sum -c deploy.tar.SHA256SUMS` checks the parts"), "{split}");
        let built = BundledImage {
            name: "r.example/acme/api:latest".into(),
            built_from: Some("api".into()),
            ..image
        };
        let text = super::readme(&[built], "deploy.tar", false, true);
        assert!(
            text.contains(&format!("- `r.example/acme/api:latest` (linux/arm64), `{root}`, built from the Compose service `api`\n")),
            "{text}"
        );
    }

    #[test]
    fn a_kept_subset_becomes_its_own_index() {
        let entry = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": Digest::of(b"arm64"), "size": 3, "platform": {"os": "linux", "architecture": "arm64"}});
        let (bytes, descriptor) = platform_index(std::slice::from_ref(&entry));
        let index: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(index["manifests"], json!([entry]));
        assert_eq!(descriptor.digest, Digest::of(&bytes));
        assert_eq!(
            blob_entry(&descriptor.digest),
            format!("blobs/sha256/{}", descriptor.digest.hex())
        );
    }
}
