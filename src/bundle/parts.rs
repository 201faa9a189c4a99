//! A bundle as files on disk: one tarball, or parts of at most `bundle-split`
//! bytes for removable media (`NAME.part-001`, `NAME.part-002`, …) with
//! `NAME.SHA256SUMS` listing the parts. The writer rolls over to the next part
//! as it streams, hashing each part on the way; the reader finds the parts
//! from the first part or the base name and reads them in order as one
//! stream, each checked against its checksum as its end is reached.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use futures_util::{StreamExt as _, TryStreamExt as _};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::digest::Digest;

/// Part numbers have three digits, so the parts sort in order.
pub(crate) const MAX_PARTS: usize = 999;

/// `NAME.part-001` for part 1 of the bundle `base`.
pub(crate) fn part_path(base: &Path, number: usize) -> PathBuf {
    PathBuf::from(format!("{}.part-{number:03}", base.display()))
}

/// `NAME.SHA256SUMS`: the checksums of the parts of the bundle `base`.
pub(crate) fn sums_path(base: &Path) -> PathBuf {
    PathBuf::from(format!("{}.SHA256SUMS", base.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn partial(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", path.display()))
}

/// Writes a bundle as one file, or as parts of at most `limit` bytes; each
/// file is written as `….partial` and renamed by `finish`; dropped before,
/// it removes them, so a failed write leaves no file that looks complete.
pub(crate) struct PartWriter {
    base: PathBuf,
    limit: Option<u64>,
    /// The file being written, the hash of it (for a part), and its size so far.
    current: Option<(BufWriter<std::fs::File>, Option<sha2::Sha256>, u64)>,
    /// Every file closed so far, with its checksum (for a part).
    done: Vec<(PathBuf, Option<Digest>)>,
    finished: bool,
}

impl PartWriter {
    pub(crate) fn new(base: &Path, limit: Option<u64>) -> PartWriter {
        PartWriter {
            base: base.to_path_buf(),
            limit,
            current: None,
            done: Vec::new(),
            finished: false,
        }
    }

    fn path_of(&self, index: usize) -> PathBuf {
        match self.limit {
            Some(_) => part_path(&self.base, index + 1),
            None => self.base.clone(),
        }
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some((writer, hasher, _)) = self.current.take() {
            let file = writer.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            let path = self.path_of(self.done.len());
            self.done.push((path, hasher.map(Digest::from_hasher)));
        }
        Ok(())
    }

    /// Closes the last file, renames every file to its name and, for parts,
    /// writes `NAME.SHA256SUMS`; returns the files in order.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.close_current().with_context(|| {
            format!("bundle: could not write {}", self.path_of(self.done.len()).display())
        })?;
        if self.done.is_empty() {
            // Nothing written at all: still one (empty) file, as asked.
            let path = self.path_of(0);
            std::fs::File::create(partial(&path))
                .with_context(|| format!("bundle: could not write {}", path.display()))?;
            self.done.push((path, Some(Digest::of(b""))));
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for (path, _) in &self.done {
            std::fs::rename(partial(path), path)
                .with_context(|| format!("bundle: could not write {}", path.display()))?;
            files.push(path.clone());
        }
        if self.limit.is_some() {
            let sums: String = self
                .done
                .iter()
                .map(|(path, digest)| {
                    let hex = digest.as_ref().map(Digest::hex).unwrap_or_default();
                    format!("{hex}  {}\n", file_name(path))
                })
                .collect();
            let path = sums_path(&self.base);
            std::fs::write(partial(&path), sums)
                .and_then(|()| std::fs::rename(partial(&path), &path))
                .with_context(|| format!("bundle: could not write {}", path.display()))?;
            files.push(path);
            // Parts of an earlier, larger bundle of the same name would only confuse.
            for stale in (self.done.len() + 1..=MAX_PARTS)
                .map(|n| part_path(&self.base, n))
                .take_while(|p| p.exists())
            {
                let _ = std::fs::remove_file(stale);
            }
        }
        self.finished = true;
        Ok(files)
    }
}

impl Drop for PartWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let open = self.current.take().map(|_| self.path_of(self.done.len()));
        for path in self.done.iter().map(|(p, _)| p.clone()).chain(open) {
            let _ = std::fs::remove_file(partial(&path));
        }
    }
}

impl Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.is_none() {
            if self.done.len() >= MAX_PARTS {
                return Err(io::Error::other(format!(
                    "the bundle needs more than {MAX_PARTS} parts; give bundle-split a larger size"
                )));
            }
            let path = partial(&self.path_of(self.done.len()));
            let file = std::fs::File::create(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            self.current = Some((
                BufWriter::with_capacity(1 << 20, file),
                self.limit.map(|_| sha2::Sha256::new()),
                0,
            ));
        }
        let limit = self.limit.unwrap_or(u64::MAX);
        let (writer, hasher, written) = self.current.as_mut().expect("a part is open");
        let room = (limit - *written).min(buf.len() as u64) as usize;
        let count = writer.write(&buf[..room])?;
        if let Some(hasher) = hasher {
            hasher.update(&buf[..count]);
        }
        *written += count as u64;
        if *written == limit {
            self.close_current()?;
        }
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.current {
            Some((writer, _, _)) => writer.flush(),
            None => Ok(()),
        }
    }
}

/// One file of a bundle on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartFile {
    pub path: PathBuf,
    pub size: u64,
    /// For a part, its checksum in `NAME.SHA256SUMS`.
    pub sha256: Option<Digest>,
}

/// The files of a bundle, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundleFiles {
    pub files: Vec<PartFile>,
    /// For parts, `NAME.SHA256SUMS`.
    pub sums: Option<PathBuf>,
}

/// `(base, number)` when `path` names a part (`NAME.part-002`).
pub(crate) fn split_part_name(path: &Path) -> Option<(PathBuf, usize)> {
    let text = path.to_str()?;
    let (base, number) = text.rsplit_once(".part-")?;
    if number.len() != 3 || !number.bytes().all(|b| b.is_ascii_digit()) || base.is_empty() {
        return None;
    }
    Some((PathBuf::from(base), number.parse().ok()?))
}

/// The names `NAME.SHA256SUMS` lists, in order, checked to be the parts
/// 001, 002, … of `base` (`sums` names the list in errors).
pub(crate) fn listed_parts(base: &Path, sums: &Path, text: &str) -> Result<Vec<(PathBuf, Digest)>> {
    let mut parts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (digest, name) = line
            .split_once("  ")
            .and_then(|(hex, name)| Some((Digest::from_hex(&hex.to_ascii_lowercase()).ok()?, name)))
            .with_context(|| {
                format!("{} has a line that is not `checksum  part`: {line}", sums.display())
            })?;
        let expected = part_path(base, parts.len() + 1);
        if name != file_name(&expected) {
            bail!(
                "{} lists `{name}` where `{}` belongs; it is not the list of this bundle's parts",
                sums.display(),
                file_name(&expected)
            );
        }
        parts.push((expected, digest));
    }
    if parts.is_empty() {
        bail!("{} lists no part", sums.display());
    }
    Ok(parts)
}

/// The files of the bundle `given` names: a tarball, the first part of a
/// split bundle, or a split bundle's base name. A missing part is named.
pub(crate) fn locate(given: &Path) -> Result<BundleFiles> {
    let base = match split_part_name(given) {
        Some((base, 1)) => base,
        Some((base, _)) => {
            bail!(
                "{} is not the first part; give {} (or {})",
                given.display(),
                part_path(&base, 1).display(),
                base.display()
            )
        }
        None if given.is_file() => {
            let size = std::fs::metadata(given)
                .with_context(|| format!("could not read {}", given.display()))?
                .len();
            return Ok(BundleFiles {
                files: vec![PartFile { path: given.to_path_buf(), size, sha256: None }],
                sums: None,
            });
        }
        None if part_path(given, 1).exists() || sums_path(given).exists() => given.to_path_buf(),
        None => bail!(
            "{} does not exist; give the bundle's file (or the first part of a split bundle)",
            given.display()
        ),
    };
    let sums = sums_path(&base);
    let text = std::fs::read_to_string(&sums).map_err(|_| {
        anyhow::anyhow!(
            "{} is missing; it lists the parts of {}: copy it along with them",
            sums.display(),
            base.display()
        )
    })?;
    let listed = listed_parts(&base, &sums, &text)?;
    let count = listed.len();
    let mut files = Vec::new();
    for (path, sha256) in listed {
        let size = std::fs::metadata(&path)
            .map_err(|_| {
                anyhow::anyhow!(
                    "{} is missing; {} lists {count} part(s): copy every one of them next to it",
                    path.display(),
                    sums.display()
                )
            })?
            .len();
        files.push(PartFile { path, size, sha256: Some(sha256) });
    }
    Ok(BundleFiles { files, sums: Some(sums) })
}

impl BundleFiles {
    pub(crate) fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// `(file, start, length)` of each piece of `length` bytes at `offset`
    /// of the whole stream.
    pub(crate) fn segments(&self, offset: u64, length: u64) -> Vec<(PathBuf, u64, u64)> {
        let mut segments = Vec::new();
        let (mut at, end) = (0u64, offset.saturating_add(length));
        for file in &self.files {
            let (from, to) = (offset.max(at), end.min(at + file.size));
            if from < to {
                segments.push((file.path.clone(), from - at, to - from));
            }
            at += file.size;
        }
        segments
    }

    /// `length` bytes at `offset` of the whole stream, read as they are sent.
    pub(crate) fn byte_stream(
        &self,
        offset: u64,
        length: u64,
    ) -> impl futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send + 'static {
        futures_util::stream::iter(self.segments(offset, length))
            .then(|(path, start, length)| async move {
                let named =
                    |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
                let mut file = tokio::fs::File::open(&path).await.map_err(named)?;
                file.seek(io::SeekFrom::Start(start)).await.map_err(named)?;
                Ok::<_, io::Error>(tokio_util::io::ReaderStream::with_capacity(
                    file.take(length),
                    1 << 20,
                ))
            })
            .try_flatten()
    }

    /// The whole bundle as one reader; each part is checked against its
    /// checksum when its end is read.
    pub(crate) fn reader(&self) -> PartsReader {
        PartsReader {
            files: self.files.clone(),
            sums: self.sums.clone(),
            next: 0,
            current: None,
            damaged: None,
        }
    }
}

/// Reads the files of a bundle in order as one stream.
pub(crate) struct PartsReader {
    files: Vec<PartFile>,
    sums: Option<PathBuf>,
    next: usize,
    /// The file being read, and (for a part) the hash of what was read of it.
    current: Option<(usize, BufReader<std::fs::File>, Option<sha2::Sha256>)>,
    /// The message for a part that did not match its checksum.
    damaged: Option<String>,
}

impl PartsReader {
    fn mismatch(&self, index: usize) -> String {
        let sums = self.sums.as_ref().map(|s| file_name(s)).unwrap_or_default();
        format!(
            "{} does not match its checksum in {sums}: the part is damaged; copy it again",
            self.files[index].path.display()
        )
    }

    /// After a failed read of the bundle: the part that is damaged, if one
    /// is (the part being read is hashed to its end to tell).
    pub(crate) fn damaged_part(&mut self) -> Option<String> {
        if self.damaged.is_none()
            && let Some((index, mut reader, Some(mut hasher))) = self.current.take()
        {
            let mut buffer = vec![0; 1 << 16];
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => hasher.update(&buffer[..n]),
                    Err(_) => return None,
                }
            }
            if self.files[index]
                .sha256
                .as_ref()
                .is_some_and(|expected| *expected != Digest::from_hasher(hasher))
            {
                self.damaged = Some(self.mismatch(index));
            }
        }
        self.damaged.clone()
    }
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                let Some(file) = self.files.get(self.next) else { return Ok(0) };
                let opened = std::fs::File::open(&file.path).map_err(|e| {
                    io::Error::new(e.kind(), format!("could not open {}: {e}", file.path.display()))
                })?;
                let hasher = file.sha256.is_some().then(sha2::Sha256::new);
                self.current = Some((self.next, BufReader::with_capacity(1 << 20, opened), hasher));
                self.next += 1;
            }
            let (_, reader, hasher) = self.current.as_mut().expect("a file is open");
            let count = reader.read(buf)?;
            if count > 0 || buf.is_empty() {
                if let Some(hasher) = hasher {
                    hasher.update(&buf[..count]);
                }
                return Ok(count);
            }
            let (index, _, hasher) = self.current.take().expect("a file is open");
            if let (Some(expected), Some(hasher)) = (self.files[index].sha256.as_ref(), hasher)
                && *expected != Digest::from_hasher(hasher)
            {
                self.damaged = Some(self.mismatch(index));
                return Err(io::Error::other(self.mismatch(index)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_in_order() {
        let base = Path::new("out/deploy.tar");
        assert_eq!(part_path(base, 1), PathBuf::from("out/deploy.tar.part-001"));
        assert_eq!(part_path(base, 12), PathBuf::from("out/deploy.tar.part-012"));
        assert_eq!(sums_path(base), PathBuf::from("out/deploy.tar.SHA256SUMS"));
        let cases: &[(&str, Option<(&str, usize)>)] = &[
            ("out/deploy.tar.part-001", Some(("out/deploy.tar", 1))),
            ("deploy.tar.part-020", Some(("deploy.tar", 20))),
            ("deploy.tar", None),
            ("deploy.tar.part-1", None),
            ("deploy.tar.part-0001", None),
            ("deploy.tar.part-abc", None),
            (".part-001", None),
        ];
        for (text, expected) in cases {
            let got = split_part_name(Path::new(text));
            assert_eq!(got, expected.map(|(b, n)| (PathBuf::from(b), n)), "{text}");
        }
    }

    #[test]
    fn the_checksum_list_must_name_the_parts_in_order() {
        let (base, sums) = (Path::new("d/b.tar"), Path::new("d/b.tar.SHA256SUMS"));
        let (a, upper) = ("a".repeat(64), "A".repeat(64));
        let listed =
            listed_parts(base, sums, &format!("{a}  b.tar.part-001\n{upper}  b.tar.part-002\n"))
                .unwrap();
        let digest = Digest::from_hex(&a).unwrap();
        assert_eq!(
            listed,
            vec![
                (PathBuf::from("d/b.tar.part-001"), digest.clone()),
                (PathBuf::from("d/b.tar.part-002"), digest)
            ],
            "a checksum is read in either case"
        );
        let error =
            listed_parts(base, sums, &format!("{a}  b.tar.part-002\n")).unwrap_err().to_string();
        assert_eq!(
            error,
            "d/b.tar.SHA256SUMS lists `b.tar.part-002` where `b.tar.part-001` belongs; it is not the list of this bundle's parts"
        );
        let error = listed_parts(base, sums, "zz  b.tar.part-001\n").unwrap_err().to_string();
        assert!(error.starts_with("d/b.tar.SHA256SUMS has a line that is not"), "{error}");
        assert!(listed_parts(base, sums, "\n").is_err());
    }

    #[test]
    fn a_range_is_cut_into_segments_across_parts() {
        let files = BundleFiles {
            files: [10u64, 10, 5]
                .iter()
                .enumerate()
                .map(|(i, size)| PartFile {
                    path: PathBuf::from(format!("p{i}")),
                    size: *size,
                    sha256: None,
                })
                .collect(),
            sums: None,
        };
        let p = |i: usize| PathBuf::from(format!("p{i}"));
        type Segment = (PathBuf, u64, u64);
        let cases: &[(u64, u64, Vec<Segment>)] = &[
            (0, 25, vec![(p(0), 0, 10), (p(1), 0, 10), (p(2), 0, 5)]),
            (3, 4, vec![(p(0), 3, 4)]),
            (8, 5, vec![(p(0), 8, 2), (p(1), 0, 3)]),
            (10, 10, vec![(p(1), 0, 10)]),
            (5, 18, vec![(p(0), 5, 5), (p(1), 0, 10), (p(2), 0, 3)]),
            (24, 100, vec![(p(2), 4, 1)]),
            (25, 1, vec![]),
            (4, 0, vec![]),
        ];
        for (offset, length, expected) in cases {
            assert_eq!(&files.segments(*offset, *length), expected, "{offset}+{length}");
        }
        assert_eq!(files.total_size(), 25);
    }

    fn write_parts(dir: &Path, content: &[u8], limit: u64) -> Vec<PathBuf> {
        let mut writer = PartWriter::new(&dir.join("b.tar"), Some(limit));
        for chunk in content.chunks(7) {
            writer.write_all(chunk).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn parts_are_written_at_most_the_size_and_read_back_as_one_stream() {
        let dir = tempfile::tempdir().unwrap();
        let content: Vec<u8> = (0..100u8).collect();
        let files = write_parts(dir.path(), &content, 30);
        let names: Vec<String> = files.iter().map(|f| file_name(f)).collect();
        assert_eq!(
            names,
            [
                "b.tar.part-001",
                "b.tar.part-002",
                "b.tar.part-003",
                "b.tar.part-004",
                "b.tar.SHA256SUMS"
            ]
        );
        let sizes: Vec<u64> =
            files[..4].iter().map(|f| std::fs::metadata(f).unwrap().len()).collect();
        assert_eq!(sizes, [30, 30, 30, 10]);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".partial"))
        );
        for given in ["b.tar", "b.tar.part-001"] {
            let located = locate(&dir.path().join(given)).unwrap();
            assert_eq!(located.files.len(), 4);
            let mut back = Vec::new();
            located.reader().read_to_end(&mut back).unwrap();
            assert_eq!(back, content, "{given}");
        }
        let error = locate(&dir.path().join("b.tar.part-002")).unwrap_err().to_string();
        assert!(error.contains("b.tar.part-002 is not the first part; give"), "{error}");

        // An exact multiple makes no empty part; a smaller rewrite removes stale parts.
        let files = write_parts(dir.path(), &content[..60], 30);
        assert_eq!(files.len(), 3);
        assert!(
            !dir.path().join("b.tar.part-003").exists()
                && !dir.path().join("b.tar.part-004").exists()
        );
    }

    #[test]
    fn a_missing_or_damaged_part_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let content: Vec<u8> = (0..100u8).collect();
        write_parts(dir.path(), &content, 30);
        let part2 = dir.path().join("b.tar.part-002");
        let mut bytes = std::fs::read(&part2).unwrap();
        bytes[3] ^= 1;
        std::fs::write(&part2, &bytes).unwrap();
        let mut reader = locate(&dir.path().join("b.tar")).unwrap().reader();
        let error = reader.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{} does not match its checksum in b.tar.SHA256SUMS: the part is damaged; copy it again",
                part2.display()
            )
        );
        // A read that fails inside a part learns whether that part is damaged.
        let mut reader = locate(&dir.path().join("b.tar")).unwrap().reader();
        reader.read_exact(&mut [0; 40]).unwrap();
        assert_eq!(reader.damaged_part(), Some(error));

        std::fs::remove_file(dir.path().join("b.tar.part-003")).unwrap();
        let error = locate(&dir.path().join("b.tar.part-001")).unwrap_err().to_string();
        assert!(
            error.contains("b.tar.part-003 is missing;")
                && error.ends_with("lists 4 part(s): copy every one of them next to it"),
            "{error}"
        );
        std::fs::remove_file(dir.path().join("b.tar.SHA256SUMS")).unwrap();
        let error = locate(&dir.path().join("b.tar")).unwrap_err().to_string();
        assert!(error.contains("b.tar.SHA256SUMS is missing; it lists the parts of"), "{error}");
        let error = locate(&dir.path().join("none.tar")).unwrap_err().to_string();
        assert!(error.ends_with("none.tar does not exist; give the bundle's file (or the first part of a split bundle)"), "{error}");
    }
}
