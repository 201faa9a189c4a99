//! Finds the binaries in an image layer that were built for the wrong CPU.
//!
//! A multi-platform build fails at run time with `exec format error` when an
//! image for one platform carries a binary for another, for example an amd64
//! binary copied into the arm64 image by `ADD app-linux-amd64.tar.gz`. This
//! module reads one image layer (a tar stream, gzip- or zstd-compressed or
//! not), finds
//! every regular file that starts with an ELF header, and reports the machine
//! and class each one was built for. [`mismatches`] then compares them with
//! the platform the image is for.
//!
//! Only the first [`ELF_PREFIX_LEN`] bytes of each file are read; the rest of
//! its contents is skipped as the tar stream is read, never held in memory.

pub(crate) mod cache;
pub(crate) mod record;

use std::fmt;
use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;
use tar::{Archive, EntryType};

/// Number of bytes read from the start of each file: enough to hold
/// `e_ident` (16 bytes), `e_type` and `e_machine`.
pub(crate) const ELF_PREFIX_LEN: usize = 20;

const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];

const EM_386: u16 = 3;
const EM_MIPS: u16 = 8;
const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;
const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_RISCV: u16 = 243;
const EM_LOONGARCH: u16 = 258;

/// The word size of an ELF file (`e_ident[EI_CLASS]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElfClass {
    Elf32,
    Elf64,
}

/// An ELF file found in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFile {
    /// Path as stored in the layer, without a leading `./`.
    pub path: String,
    /// `e_machine`, decoded in the file's own byte order.
    pub machine: u16,
    pub class: ElfClass,
    /// The OCI platform architecture the file runs on: one of `"amd64"`,
    /// `"386"`, `"arm64"`, `"arm"`, `"ppc64le"`, `"s390x"`, `"riscv64"`,
    /// `"mips64le"`, `"mips64"`, `"loong64"`, or `"unknown"` for any other
    /// combination of machine, class and byte order.
    pub arch: &'static str,
}

/// An ELF file whose architecture differs from the image's platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub path: String,
    /// The file's architecture ([`ElfFile::arch`]), possibly `"unknown"`.
    pub found: &'static str,
    /// The platform architecture the file was checked against.
    pub expected: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} binary in {} image", self.path, self.found, self.expected)
    }
}

/// Why a layer could not be scanned.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    /// The layer stream could not be read or is not a valid tar archive
    /// (after decompression, if it was compressed).
    #[error("failed to read layer: {0}")]
    Read(io::Error),
    /// The contents of one entry could not be read.
    #[error("failed to read layer entry {path}: {source}")]
    Entry { path: String, source: io::Error },
    /// The layer uses a compression other than gzip or zstd.
    #[error(
        "layer is {0}-compressed; only gzip-, zstd-compressed or uncompressed tar is supported"
    )]
    UnsupportedCompression(&'static str),
}

/// Scans one image layer and returns every ELF file in it, in archive order.
///
/// `reader` yields the layer as stored: a tar archive, gzip- or
/// zstd-compressed or not (recognised by their magic bytes `1f 8b` and
/// `28 b5 2f fd`; multi-member gzip streams and multi-frame zstd streams,
/// as estargz and zstd:chunked write them, are accepted). Only regular files are examined; directories, symlinks,
/// hard links, devices and whiteout files (names starting with `.wh.`) are
/// skipped. A file counts as ELF when it starts with `\x7fELF`, has a valid
/// class and byte order, and is at least [`ELF_PREFIX_LEN`] bytes long.
///
/// Reading stops at the tar end-of-archive marker; anything after it
/// (including the gzip trailer) is not read.
pub(crate) fn scan_layer<R: Read>(mut reader: R) -> Result<Vec<ElfFile>, ScanError> {
    let mut magic = [0u8; 6];
    let n = read_prefix(&mut reader, &mut magic).map_err(ScanError::Read)?;
    let magic = &magic[..n];
    if let Some(kind) = unsupported_compression(magic) {
        return Err(ScanError::UnsupportedCompression(kind));
    }
    let stream = Cursor::new(magic.to_vec()).chain(reader);
    if magic.starts_with(&GZIP_MAGIC) {
        scan_tar(MultiGzDecoder::new(stream))
    } else if magic.starts_with(&ZSTD_MAGIC) {
        scan_tar(zstd::stream::read::Decoder::new(stream).map_err(ScanError::Read)?)
    } else {
        scan_tar(stream)
    }
}

/// The ELF machine and class that binaries for a platform architecture have,
/// for the architectures listed at [`ElfFile::arch`]; `None` for any other.
///
/// `os_arch` is the architecture part of an OCI platform (`"arm64"` in
/// `linux/arm64/v8`). `mips64` and `mips64le` share a machine and class and
/// differ only in byte order, which this pair does not carry.
pub(crate) fn expected_arch(os_arch: &str) -> Option<(u16, ElfClass)> {
    use ElfClass::{Elf32, Elf64};
    Some(match os_arch {
        "amd64" => (EM_X86_64, Elf64),
        "386" => (EM_386, Elf32),
        "arm64" => (EM_AARCH64, Elf64),
        "arm" => (EM_ARM, Elf32),
        "ppc64le" => (EM_PPC64, Elf64),
        "s390x" => (EM_S390, Elf64),
        "riscv64" => (EM_RISCV, Elf64),
        "mips64le" | "mips64" => (EM_MIPS, Elf64),
        "loong64" => (EM_LOONGARCH, Elf64),
        _ => return None,
    })
}

/// The ELF files that cannot run on `platform_arch`, in the order given.
///
/// A file matches when its [`ElfFile::arch`] is `platform_arch`, which means
/// its machine and class are those of [`expected_arch`] and its byte order is
/// the platform's too. Every other file is reported, including files whose
/// architecture is `"unknown"`.
///
/// When `platform_arch` is not one [`expected_arch`] knows, nothing can be
/// checked and the result is empty; callers that need to tell this apart from
/// a clean layer should check `expected_arch(platform_arch)` first.
pub(crate) fn mismatches(files: &[ElfFile], platform_arch: &str) -> Vec<Mismatch> {
    if expected_arch(platform_arch).is_none() {
        return Vec::new();
    }
    files
        .iter()
        .filter(|f| f.arch != platform_arch)
        .map(|f| Mismatch {
            path: f.path.clone(),
            found: f.arch,
            expected: platform_arch.to_string(),
        })
        .collect()
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

fn unsupported_compression(magic: &[u8]) -> Option<&'static str> {
    if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) { Some("xz") } else { None }
}

fn scan_tar<R: Read>(stream: R) -> Result<Vec<ElfFile>, ScanError> {
    let mut archive = Archive::new(stream);
    let mut found = Vec::new();
    for entry in archive.entries().map_err(ScanError::Read)? {
        let mut entry = entry.map_err(ScanError::Read)?;
        if !matches!(
            entry.header().entry_type(),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
        ) {
            continue;
        }
        let path = display_path(&entry.path_bytes());
        if is_whiteout(&path) {
            continue;
        }
        let mut prefix = [0u8; ELF_PREFIX_LEN];
        let n = read_prefix(&mut entry, &mut prefix)
            .map_err(|source| ScanError::Entry { path: path.clone(), source })?;
        // The rest of the entry is skipped by the iterator when it advances.
        if let Some((machine, class, big_endian)) = parse_elf_header(&prefix[..n]) {
            found.push(ElfFile {
                path,
                machine,
                class,
                arch: arch_name(machine, class, big_endian),
            });
        }
    }
    Ok(found)
}

/// Reads until `buf` is full or the reader is exhausted; returns the count.
fn read_prefix<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn display_path(raw: &[u8]) -> String {
    let mut path = String::from_utf8_lossy(raw).into_owned();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_string();
    }
    path
}

fn is_whiteout(path: &str) -> bool {
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    name.starts_with(".wh.")
}

/// Machine, class and big-endianness of an ELF header prefix, or `None` when
/// the bytes are not the start of a well-formed ELF file.
fn parse_elf_header(prefix: &[u8]) -> Option<(u16, ElfClass, bool)> {
    if prefix.len() < ELF_PREFIX_LEN || prefix[..4] != ELF_MAGIC {
        return None;
    }
    let class = match prefix[4] {
        1 => ElfClass::Elf32,
        2 => ElfClass::Elf64,
        _ => return None,
    };
    let bytes = [prefix[18], prefix[19]];
    let (machine, big_endian) = match prefix[5] {
        1 => (u16::from_le_bytes(bytes), false),
        2 => (u16::from_be_bytes(bytes), true),
        _ => return None,
    };
    Some((machine, class, big_endian))
}

/// Every name [`arch_name`] gives.
pub(crate) const ARCH_NAMES: &[&str] = &[
    "amd64", "386", "arm64", "arm", "ppc64le", "s390x", "riscv64", "mips64le", "mips64", "loong64",
    "unknown",
];

fn arch_name(machine: u16, class: ElfClass, big_endian: bool) -> &'static str {
    use ElfClass::{Elf32, Elf64};
    match (machine, class, big_endian) {
        (EM_X86_64, Elf64, false) => "amd64",
        (EM_386, Elf32, false) => "386",
        (EM_AARCH64, Elf64, false) => "arm64",
        (EM_ARM, Elf32, false) => "arm",
        (EM_PPC64, Elf64, false) => "ppc64le",
        (EM_S390, Elf64, true) => "s390x",
        (EM_RISCV, Elf64, false) => "riscv64",
        (EM_MIPS, Elf64, false) => "mips64le",
        (EM_MIPS, Elf64, true) => "mips64",
        (EM_LOONGARCH, Elf64, false) => "loong64",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests;
