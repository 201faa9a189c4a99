//! What earlier scans on this machine found in a layer, kept by the layer's
//! digest: a re-release whose layers are unchanged reads none of them back
//! from the registry. A digest names its content, so what a scan found in
//! it holds for every image and registry that carries it. One small JSON
//! file per layer under `$XDG_CACHE_HOME` (else `~/.cache`)
//! `/multiarch-action/layer-scans-v1/`; a file that cannot be read is a
//! miss, one that cannot be written is skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ARCH_NAMES, ElfClass, ElfFile};
use crate::digest::Digest;

/// The directory of one scanner version's results: a new version of the
/// scan (one that finds more) starts afresh.
const DIR_NAME: &str = "multiarch-action/layer-scans-v1";

/// Where the scans of earlier runs are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCache {
    dir: PathBuf,
}

/// One ELF file as kept: here, and in the registry's record
/// ([`super::record`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Found {
    path: String,
    machine: u16,
    bits: u8,
    arch: String,
}

impl ScanCache {
    /// The cache of this machine's user, from `XDG_CACHE_HOME` or `HOME`.
    pub fn of_user(env: &HashMap<String, String>) -> Option<ScanCache> {
        let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let base = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|home| home.join(".cache")))?;
        Some(ScanCache::at(&base.join(DIR_NAME)))
    }

    pub fn at(dir: &Path) -> ScanCache {
        ScanCache { dir: dir.to_path_buf() }
    }

    /// The file of a layer, named by its digest's hex digits (a digest
    /// holds nothing else, so it names a file here and nowhere else).
    fn file(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("sha256-{}.json", digest.hex()))
    }

    /// What an earlier scan found in the layer `digest`.
    pub fn get(&self, digest: &Digest) -> Option<Vec<ElfFile>> {
        let text = std::fs::read_to_string(self.file(digest)).ok()?;
        let found: Vec<Found> = serde_json::from_str(&text).ok()?;
        from_found(found)
    }

    /// Keeps what the scan of `digest` found (written whole, then renamed,
    /// so a reader never sees half a file).
    pub fn put(&self, digest: &Digest, files: &[ElfFile]) {
        let file = self.file(digest);
        let found = to_found(files);
        let written = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let partial = tempfile::NamedTempFile::new_in(&self.dir)?;
            serde_json::to_writer(&partial, &found)?;
            partial.persist(&file).map_err(|e| e.error)?;
            Ok(())
        });
        if let Err(error) = written {
            tracing::debug!(
                "could not keep the scan of {digest} in {}: {error}",
                self.dir.display()
            );
        }
    }
}

/// The files as kept.
pub(super) fn to_found(files: &[ElfFile]) -> Vec<Found> {
    files
        .iter()
        .map(|f| Found {
            path: f.path.clone(),
            machine: f.machine,
            bits: if f.class == ElfClass::Elf32 { 32 } else { 64 },
            arch: f.arch.to_string(),
        })
        .collect()
}

/// The files kept, or `None` when one of them is not what a scan gives (a
/// word size or an architecture the scanner does not name).
pub(super) fn from_found(found: Vec<Found>) -> Option<Vec<ElfFile>> {
    found
        .into_iter()
        .map(|f| {
            let class = match f.bits {
                32 => ElfClass::Elf32,
                64 => ElfClass::Elf64,
                _ => return None,
            };
            let arch = ARCH_NAMES.iter().copied().find(|name| *name == f.arch)?;
            Some(ElfFile { path: f.path, machine: f.machine, class, arch })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_is_kept_by_digest_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ScanCache::at(dir.path());
        let digest = Digest::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(cache.get(&digest), None);
        let files = vec![
            ElfFile {
                path: "usr/bin/app".into(),
                machine: 183,
                class: ElfClass::Elf64,
                arch: "arm64",
            },
            ElfFile { path: "lib/x".into(), machine: 3, class: ElfClass::Elf32, arch: "386" },
        ];
        cache.put(&digest, &files);
        assert_eq!(cache.get(&digest), Some(files));
        cache.put(&digest, &[]);
        assert_eq!(
            cache.get(&digest),
            Some(Vec::new()),
            "a layer with no binaries is a result too"
        );
    }

    #[test]
    fn a_layer_is_one_file_named_by_its_hex_digits() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ScanCache::at(&dir.path().join("scans"));
        let digest = Digest::of(b"layer");
        cache.put(&digest, &[]);
        let names: Vec<String> = std::fs::read_dir(dir.path().join("scans"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [format!("sha256-{}.json", digest.hex())]);
        // What is not a sha256 digest names no file: it is no Digest.
        for text in ["sha256:../../etc/passwd", "sha512:abcd", "sha256:ABCD"] {
            assert!(Digest::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_damaged_file_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ScanCache::at(dir.path());
        let digest = Digest::from_hex(&"0".repeat(64)).unwrap();
        std::fs::write(dir.path().join(format!("sha256-{}.json", "0".repeat(64))), "[{\"path\":1")
            .unwrap();
        assert_eq!(cache.get(&digest), None);
        std::fs::write(
            dir.path().join(format!("sha256-{}.json", "0".repeat(64))),
            r#"[{"path":"a","machine":1,"bits":64,"arch":"vax"}]"#,
        )
        .unwrap();
        assert_eq!(cache.get(&digest), None, "an architecture the scanner does not name");
    }

    #[test]
    fn the_place_follows_xdg_then_home() {
        let env = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<HashMap<_, _>>()
        };
        assert_eq!(
            ScanCache::of_user(&env(&[("HOME", "/github/home")])),
            Some(ScanCache::at(Path::new("/github/home/.cache/multiarch-action/layer-scans-v1")))
        );
        assert_eq!(
            ScanCache::of_user(&env(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/c")])),
            Some(ScanCache::at(Path::new("/c/multiarch-action/layer-scans-v1")))
        );
        assert_eq!(ScanCache::of_user(&env(&[])), None);
    }
}
