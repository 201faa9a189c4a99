//! Tests of the architecture scan: ELF headers, tar layers, gzip and real binaries.

use super::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use tar::{Builder, Header};

const LE: u8 = 1;
const BE: u8 = 2;

/// A 24-byte ELF header prefix: magic, class, data, version, then
/// `e_type` = ET_EXEC and `e_machine` in the given byte order.
fn elf(class: u8, data: u8, machine: u16) -> Vec<u8> {
    let mut h = vec![0u8; 24];
    h[..4].copy_from_slice(&ELF_MAGIC);
    h[4] = class;
    h[5] = data;
    h[6] = 1;
    let (ty, m) = if data == BE {
        (2u16.to_be_bytes(), machine.to_be_bytes())
    } else {
        (2u16.to_le_bytes(), machine.to_le_bytes())
    };
    h[16..18].copy_from_slice(&ty);
    h[18..20].copy_from_slice(&m);
    h
}

fn x86_64() -> Vec<u8> {
    elf(2, LE, 62)
}

fn aarch64() -> Vec<u8> {
    elf(2, LE, 183)
}

enum Item<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Dir(&'a str),
}

fn tarball(items: &[Item]) -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    for item in items {
        let mut h = Header::new_gnu();
        h.set_mode(0o755);
        match item {
            Item::File(path, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(EntryType::Regular);
                b.append_data(&mut h, path, *data).unwrap();
            }
            Item::Symlink(path, target) => {
                h.set_size(0);
                h.set_entry_type(EntryType::Symlink);
                b.append_link(&mut h, path, target).unwrap();
            }
            Item::Hardlink(path, target) => {
                h.set_size(0);
                h.set_entry_type(EntryType::Link);
                b.append_link(&mut h, path, target).unwrap();
            }
            Item::Dir(path) => {
                h.set_size(0);
                h.set_entry_type(EntryType::Directory);
                b.append_data(&mut h, path, io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn elf_file(path: &str, machine: u16, class: ElfClass, arch: &'static str) -> ElfFile {
    ElfFile { path: path.to_string(), machine, class, arch }
}

/// The mixed layer most tests use, with what scanning it must report.
fn mixed_layer() -> (Vec<u8>, Vec<ElfFile>) {
    let amd = x86_64();
    let arm64 = aarch64();
    let arm = elf(1, LE, 40);
    let s390x = elf(2, BE, 22);
    let text = b"#!/bin/sh\necho hello, this is a script and not a binary\n";
    let tar = tarball(&[
        Item::Dir("./usr/bin/"),
        Item::File("./usr/bin/app", &amd),
        Item::File("usr/bin/tool", &arm64),
        Item::File("usr/lib/arm/libfoo.so", &arm),
        Item::File("opt/s390x/bin/run", &s390x),
        Item::File("etc/motd", text),
        Item::File("tiny", b"\x7fE"),
        Item::File("empty", b""),
        Item::Symlink("usr/bin/app-link", "app"),
        Item::Hardlink("usr/bin/app-hard", "usr/bin/app"),
        Item::File("usr/bin/.wh.old-app", &amd),
        Item::File("usr/share/.wh..wh..opq", &amd),
    ]);
    let expected = vec![
        elf_file("usr/bin/app", 62, ElfClass::Elf64, "amd64"),
        elf_file("usr/bin/tool", 183, ElfClass::Elf64, "arm64"),
        elf_file("usr/lib/arm/libfoo.so", 40, ElfClass::Elf32, "arm"),
        elf_file("opt/s390x/bin/run", 22, ElfClass::Elf64, "s390x"),
    ];
    (tar, expected)
}

#[test]
fn scans_plain_tar() {
    let (tar, expected) = mixed_layer();
    assert_eq!(scan_layer(&tar[..]).unwrap(), expected);
}

#[test]
fn scans_gzipped_tar() {
    let (tar, expected) = mixed_layer();
    let gz = gzip(&tar);
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    assert_eq!(scan_layer(&gz[..]).unwrap(), expected);
}

#[test]
fn scans_multi_member_gzip() {
    // Two gzip members whose concatenated contents form one tar stream.
    let tar = tarball(&[Item::File("a", &x86_64()), Item::File("b/c", &aarch64())]);
    let mut gz = gzip(&tar[..1024]);
    gz.extend(gzip(&tar[1024..]));
    let arches: Vec<_> =
        scan_layer(&gz[..]).unwrap().into_iter().map(|f| (f.path, f.arch)).collect();
    assert_eq!(arches, vec![("a".to_string(), "amd64"), ("b/c".to_string(), "arm64")]);
}

/// Hands out at most one byte per read, to exercise short reads.
struct Trickle<R>(R);

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn short_reads_are_handled() {
    let (tar, expected) = mixed_layer();
    assert_eq!(scan_layer(Trickle(&tar[..])).unwrap(), expected);
    let gz = gzip(&tar);
    assert_eq!(scan_layer(Trickle(&gz[..])).unwrap(), expected);
}

#[test]
fn amd64_binary_flagged_in_arm64_image() {
    let (tar, _) = mixed_layer();
    let files = scan_layer(&tar[..]).unwrap();
    let found = mismatches(&files, "arm64");
    assert_eq!(
        found,
        vec![
            Mismatch { path: "usr/bin/app".into(), found: "amd64", expected: "arm64".into() },
            Mismatch {
                path: "usr/lib/arm/libfoo.so".into(),
                found: "arm",
                expected: "arm64".into()
            },
            Mismatch { path: "opt/s390x/bin/run".into(), found: "s390x", expected: "arm64".into() },
        ]
    );
    assert_eq!(found[0].to_string(), "usr/bin/app: amd64 binary in arm64 image");
}

#[test]
fn mismatches_for_amd64_image() {
    let (tar, _) = mixed_layer();
    let files = scan_layer(&tar[..]).unwrap();
    let flagged: Vec<_> =
        mismatches(&files, "amd64").into_iter().map(|m| (m.path, m.found, m.expected)).collect();
    assert_eq!(
        flagged,
        vec![
            ("usr/bin/tool".into(), "arm64", "amd64".into()),
            ("usr/lib/arm/libfoo.so".into(), "arm", "amd64".into()),
            ("opt/s390x/bin/run".into(), "s390x", "amd64".into()),
        ]
    );
}

#[test]
fn clean_layer_has_no_mismatches() {
    let tar = tarball(&[Item::File("bin/a", &aarch64()), Item::File("bin/b", &aarch64())]);
    let files = scan_layer(&tar[..]).unwrap();
    assert_eq!(files.len(), 2);
    assert!(mismatches(&files, "arm64").is_empty());
}

#[test]
fn unknown_machine_is_reported_and_flagged() {
    // EM_SPARCV9 (43), and x32 (x86-64 machine in a 32-bit file).
    let tar = tarball(&[Item::File("sparc", &elf(2, BE, 43)), Item::File("x32", &elf(1, LE, 62))]);
    let files = scan_layer(&tar[..]).unwrap();
    assert_eq!(
        files,
        vec![
            elf_file("sparc", 43, ElfClass::Elf64, "unknown"),
            elf_file("x32", 62, ElfClass::Elf32, "unknown"),
        ]
    );
    let flagged: Vec<_> =
        mismatches(&files, "amd64").into_iter().map(|m| (m.path, m.found)).collect();
    assert_eq!(flagged, vec![("sparc".into(), "unknown"), ("x32".into(), "unknown")]);
}

#[test]
fn unknown_platform_checks_nothing() {
    let files = vec![elf_file("a", 62, ElfClass::Elf64, "amd64")];
    assert_eq!(expected_arch("sparc64"), None);
    assert!(mismatches(&files, "sparc64").is_empty());
}

#[test]
fn big_endian_machine_is_decoded_in_file_byte_order() {
    // s390x: e_machine 22 stored as 00 16. Read as little endian it would
    // be 0x1600 and unknown.
    let s390x = elf(2, BE, 22);
    assert_eq!(&s390x[18..20], &[0x00, 0x16]);
    let tar = tarball(&[
        Item::File("s390x", &s390x),
        Item::File("mips64", &elf(2, BE, 8)),
        Item::File("mips64le", &elf(2, LE, 8)),
        Item::File("ppc64-be", &elf(2, BE, 21)),
        Item::File("arm-be", &elf(1, BE, 40)),
    ]);
    let got: Vec<_> =
        scan_layer(&tar[..]).unwrap().into_iter().map(|f| (f.path, f.machine, f.arch)).collect();
    assert_eq!(
        got,
        vec![
            ("s390x".into(), 22, "s390x"),
            ("mips64".into(), 8, "mips64"),
            ("mips64le".into(), 8, "mips64le"),
            ("ppc64-be".into(), 21, "unknown"),
            ("arm-be".into(), 40, "unknown"),
        ]
    );
    let flagged: Vec<_> = mismatches(&scan_layer(&tar[..]).unwrap(), "mips64le")
        .into_iter()
        .map(|m| m.path)
        .collect();
    assert_eq!(flagged, vec!["s390x", "mips64", "ppc64-be", "arm-be"]);
}

#[test]
fn every_platform_round_trips() {
    // (platform, data encoding its binaries use)
    let platforms = [
        ("amd64", LE),
        ("386", LE),
        ("arm64", LE),
        ("arm", LE),
        ("ppc64le", LE),
        ("s390x", BE),
        ("riscv64", LE),
        ("mips64le", LE),
        ("mips64", BE),
        ("loong64", LE),
    ];
    for (platform, data) in platforms {
        let (machine, class) = expected_arch(platform).unwrap();
        let class_byte = match class {
            ElfClass::Elf32 => 1,
            ElfClass::Elf64 => 2,
        };
        let tar = tarball(&[Item::File("bin/x", &elf(class_byte, data, machine))]);
        let files = scan_layer(&tar[..]).unwrap();
        assert_eq!(files, vec![elf_file("bin/x", machine, class, platform)], "{platform}");
        assert!(mismatches(&files, platform).is_empty(), "{platform}");
    }
    assert_eq!(expected_arch("amd64"), Some((62, ElfClass::Elf64)));
    assert_eq!(expected_arch("386"), Some((3, ElfClass::Elf32)));
    assert_eq!(expected_arch("arm"), Some((40, ElfClass::Elf32)));
    assert_eq!(expected_arch("arm64"), Some((183, ElfClass::Elf64)));
    assert_eq!(expected_arch("riscv64"), Some((243, ElfClass::Elf64)));
    assert_eq!(expected_arch("loong64"), Some((258, ElfClass::Elf64)));
    assert_eq!(expected_arch("x86_64"), None);
    assert_eq!(expected_arch(""), None);
}

#[test]
fn malformed_headers_are_not_elf() {
    let mut bad_class = x86_64();
    bad_class[4] = 3;
    let mut bad_data = x86_64();
    bad_data[5] = 0;
    let truncated = &x86_64()[..19];
    let tar = tarball(&[
        Item::File("bad-class", &bad_class),
        Item::File("bad-data", &bad_data),
        Item::File("truncated", truncated),
        Item::File("three", b"\x7fEL"),
        Item::File("magic-only", b"\x7fELF"),
        Item::File("exact", &x86_64()[..20]),
    ]);
    let paths: Vec<_> = scan_layer(&tar[..]).unwrap().into_iter().map(|f| f.path).collect();
    assert_eq!(paths, vec!["exact"]);
}

#[test]
fn long_paths_are_reported_whole() {
    let dir = "d".repeat(150);
    let path = format!("./{dir}/bin/app");
    let tar = tarball(&[Item::File(&path, &x86_64())]);
    let files = scan_layer(&tar[..]).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, format!("{dir}/bin/app"));
}

#[test]
fn empty_layer_has_no_files() {
    assert!(scan_layer(io::empty()).unwrap().is_empty());
    assert!(scan_layer(&tarball(&[])[..]).unwrap().is_empty());
    assert!(scan_layer(&gzip(&tarball(&[]))[..]).unwrap().is_empty());
}

#[test]
fn corrupt_input_is_an_error() {
    let garbage = vec![b'x'; 2048];
    assert!(matches!(scan_layer(&garbage[..]), Err(ScanError::Read(_))));

    let gz = gzip(&mixed_layer().0);
    let cut = &gz[..gz.len() / 2];
    assert!(scan_layer(cut).is_err());

    // A tar cut off inside an entry's contents.
    let tar = tarball(&[Item::File("big", &vec![7u8; 4096])]);
    assert!(scan_layer(&tar[..1024]).is_err());
}

#[test]
fn scans_zstd_tar_in_one_frame_and_in_several() {
    let (tar, expected) = mixed_layer();
    let one = zstd::encode_all(&tar[..], 3).unwrap();
    assert_eq!(scan_layer(&one[..]).unwrap(), expected);
    // Chunked writers (zstd:chunked, estargz with zstd) emit a frame per file.
    let mut frames = zstd::encode_all(&tar[..1024], 3).unwrap();
    frames.extend(zstd::encode_all(&tar[1024..], 19).unwrap());
    assert_eq!(scan_layer(&frames[..]).unwrap(), expected);
    let cut = &one[..one.len() / 2];
    assert!(scan_layer(cut).is_err(), "a truncated zstd layer is an error, not a clean layer");
}

#[test]
fn other_compressions_are_rejected() {
    let err = scan_layer(&[0xfd, b'7', b'z', b'X', b'Z', 0x00, 0, 0][..]).unwrap_err();
    assert!(err.to_string().contains("xz"), "{err}");
    let xz = [0xfd, b'7', b'z', b'X', b'Z', 0x00, 0, 0];
    assert!(matches!(scan_layer(&xz[..]), Err(ScanError::UnsupportedCompression("xz"))));
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no platform name for host architecture {other}"),
    }
}

#[test]
fn real_busybox_scans_as_host_arch() {
    let mut b = Builder::new(Vec::new());
    b.append_path_with_name("/bin/busybox", "bin/busybox").unwrap();
    b.append_data(&mut text_header(5), "etc/hostname", &b"host\n"[..]).unwrap();
    let tar = b.into_inner().unwrap();

    let files = scan_layer(&gzip(&tar)[..]).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, "bin/busybox");
    assert_eq!(files[0].arch, host_arch());
    if host_arch() == "amd64" {
        assert_eq!(files[0], elf_file("bin/busybox", 62, ElfClass::Elf64, "amd64"));
    }
    assert!(mismatches(&files, host_arch()).is_empty());
    let other = if host_arch() == "arm64" { "amd64" } else { "arm64" };
    let flagged = mismatches(&files, other);
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].found, host_arch());
}

fn text_header(size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(EntryType::Regular);
    h
}

/// Counts the bytes read through it and the largest buffer it was asked
/// to fill, shared with the test after the reader is moved away.
struct Meter<R> {
    inner: R,
    total: Rc<Cell<u64>>,
    largest: Rc<Cell<usize>>,
}

impl<R: Read> Read for Meter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.largest.set(self.largest.get().max(buf.len()));
        let n = self.inner.read(buf)?;
        self.total.set(self.total.get() + n as u64);
        Ok(n)
    }
}

#[test]
fn large_file_is_streamed_past() {
    const SIZE: u64 = 50 * 1024 * 1024;
    // The 50 MiB entry is produced on the fly: its tar header, an ELF
    // header, then zeros; the archive is never held in memory.
    let mut header = text_header(SIZE);
    header.set_path("opt/big.bin").unwrap();
    header.set_cksum();
    let after = tarball(&[Item::File("usr/bin/after", &aarch64())]);
    assert_eq!(SIZE % 512, 0, "no padding needed after the big entry");

    let total = Rc::new(Cell::new(0));
    let largest = Rc::new(Cell::new(0));
    let big_contents = Meter {
        inner: Cursor::new(x86_64()).chain(io::repeat(0).take(SIZE - 24)),
        total: Rc::clone(&total),
        largest: Rc::clone(&largest),
    };
    let stream =
        Cursor::new(header.as_bytes().to_vec()).chain(big_contents).chain(Cursor::new(after));

    let files = scan_layer(stream).unwrap();
    assert_eq!(
        files,
        vec![
            elf_file("opt/big.bin", 62, ElfClass::Elf64, "amd64"),
            elf_file("usr/bin/after", 183, ElfClass::Elf64, "arm64"),
        ]
    );
    assert_eq!(total.get(), SIZE, "the whole entry was read through");
    assert!(
        largest.get() <= 64 * 1024,
        "contents were read in chunks of up to {} bytes",
        largest.get()
    );
}

#[test]
fn every_architecture_name_is_listed() {
    for machine in 0..=300u16 {
        for class in [ElfClass::Elf32, ElfClass::Elf64] {
            for big_endian in [false, true] {
                let name = arch_name(machine, class, big_endian);
                assert!(ARCH_NAMES.contains(&name), "{name}");
            }
        }
    }
}
