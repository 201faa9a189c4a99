//! Content digests: `sha256:` and 64 lowercase hex digits, the name a
//! registry, an image layout and a bundle give every manifest and blob.
//! Parsed once where a digest comes in (buildx's metadata, a registry's
//! answer, a manifest, a digest file, a checksum list), or computed from
//! content (at once, or as a reader passes it on: [`Hashing`]); everything
//! past that point holds a [`Digest`].

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// The one algorithm this tool reads and writes.
const ALGORITHM: &str = "sha256";
/// `sha256:` before the hex digits.
const PREFIX: &str = "sha256:";
/// A SHA-256 hash in hex.
const HEX_DIGITS: usize = 64;
/// How much of a rejected text an error repeats.
const SHOWN: usize = 140;

/// A SHA-256 content digest, `sha256:<64 lowercase hex digits>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// Why a text is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a sha256 digest: {reason}")]
pub struct DigestError {
    /// The text (shortened when long).
    given: String,
    reason: String,
}

impl Digest {
    /// Reads `sha256:<64 lowercase hex digits>`.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let fail = |reason: String| {
            let mut given: String = text.chars().take(SHOWN).map(shown).collect();
            if text.chars().nth(SHOWN).is_some() {
                given.push('…');
            }
            DigestError { given, reason }
        };
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(fail(format!("it does not start with `{PREFIX}`")));
        };
        if algorithm != ALGORITHM {
            return Err(fail(format!("its algorithm is `{algorithm}`, not {ALGORITHM}")));
        }
        if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(fail(format!("`{}` is not a hex digit", shown(bad))));
        }
        if hex.len() != HEX_DIGITS {
            return Err(fail(format!("it has {} hex digits, not {HEX_DIGITS}", hex.len())));
        }
        if hex.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(fail("its hex digits are not all lowercase".to_string()));
        }
        Ok(Digest(text.to_string()))
    }

    /// The digest whose hex digits are `hex` (as `sha256sum` and an image
    /// layout's `blobs/sha256/` write them).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        Digest::parse(&format!("{PREFIX}{hex}"))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(sha2::Sha256::new_with_prefix(bytes))
    }

    /// The digest of everything `hasher` was given.
    pub fn from_hasher(hasher: sha2::Sha256) -> Digest {
        let mut text = String::with_capacity(PREFIX.len() + HEX_DIGITS);
        text.push_str(PREFIX);
        for byte in hasher.finalize().iter() {
            let _ = write!(text, "{byte:02x}");
        }
        Digest(text)
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits, without `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }
}

/// A character as an error shows it: a control character escaped (`\n`).
fn shown(c: char) -> String {
    if c.is_control() { c.escape_default().to_string() } else { c.to_string() }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Digest, DigestError> {
        Digest::parse(text)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;

    fn try_from(text: String) -> Result<Digest, DigestError> {
        Digest::parse(&text)
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A reader that hashes and counts what passes through it.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
    pub count: u64,
}

impl<R: std::io::Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Hashing<R> {
        Hashing { inner, hasher: sha2::Sha256::new(), count: 0 }
    }

    /// The digest of everything read.
    pub(crate) fn digest(self) -> Digest {
        Digest::from_hasher(self.hasher)
    }
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        self.count += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_and_64_lowercase_hex_digits() {
        let hex = "0123456789abcdef".repeat(4);
        let cases: &[(String, Result<(), &str>)] = &[
            (format!("sha256:{hex}"), Ok(())),
            (format!("sha256:{}", "a".repeat(64)), Ok(())),
            (
                format!("sha256:{}", "A".repeat(64)),
                Err("is not a sha256 digest: its hex digits are not all lowercase"),
            ),
            (
                format!("sha256:{}", "a".repeat(63)),
                Err("is not a sha256 digest: it has 63 hex digits, not 64"),
            ),
            (
                format!("sha256:{}", "a".repeat(65)),
                Err("is not a sha256 digest: it has 65 hex digits, not 64"),
            ),
            ("sha256:".to_string(), Err("is not a sha256 digest: it has 0 hex digits, not 64")),
            (
                format!("sha512:{}", "a".repeat(128)),
                Err("is not a sha256 digest: its algorithm is `sha512`, not sha256"),
            ),
            (
                format!("SHA256:{hex}"),
                Err("is not a sha256 digest: its algorithm is `SHA256`, not sha256"),
            ),
            (hex.clone(), Err("is not a sha256 digest: it does not start with `sha256:`")),
            (String::new(), Err("is not a sha256 digest: it does not start with `sha256:`")),
            (
                format!("sha256:{}", "g".repeat(64)),
                Err("is not a sha256 digest: `g` is not a hex digit"),
            ),
            ("sha256:../../etc/passwd".to_string(), Err("`.` is not a hex digit")),
            (format!("sha256:{}/", "a".repeat(63)), Err("`/` is not a hex digit")),
            (format!(" sha256:{hex}"), Err("its algorithm is ` sha256`, not sha256")),
            (format!("sha256:{hex}\n"), Err("`\\n` is not a hex digit")),
        ];
        for (text, expected) in cases {
            match (Digest::parse(text), expected) {
                (Ok(digest), Ok(())) => {
                    assert_eq!(digest.as_str(), text);
                    assert_eq!(digest.to_string(), *text);
                    assert_eq!(digest.hex(), &text[7..]);
                    assert_eq!(text.parse::<Digest>().unwrap(), digest);
                }
                (Err(error), Err(want)) => {
                    let error = error.to_string();
                    assert!(
                        error.starts_with(&format!(
                            "`{}` is not a sha256 digest: ",
                            text.replace('\n', "\\n")
                        )) && error.ends_with(want),
                        "{text:?}: {error}"
                    );
                }
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_long_text_is_shortened_in_the_error() {
        let error = Digest::parse(&"x".repeat(500)).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "`{}…` is not a sha256 digest: it does not start with `sha256:`",
                "x".repeat(SHOWN)
            )
        );
    }

    #[test]
    fn digests_are_computed_from_content() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(Digest::of(b"abc").as_str(), format!("sha256:{abc}"));
        assert_eq!(Digest::of(b"abc").hex(), abc);
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(Digest::from_hasher(hasher), Digest::of(b"abc"));
        assert_eq!(Digest::from_hex(abc).unwrap(), Digest::of(b"abc"));
        assert!(Digest::from_hex(&abc.to_ascii_uppercase()).is_err());
    }

    #[test]
    fn a_reader_hashes_and_counts_what_it_passes_on() {
        let mut hashing = Hashing::new(&b"abc"[..]);
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut hashing, &mut read).unwrap();
        assert_eq!((read.as_slice(), hashing.count), (&b"abc"[..], 3));
        assert_eq!(hashing.digest(), Digest::of(b"abc"));
    }

    #[test]
    fn digests_are_json_strings() {
        let digest = Digest::of(b"abc");
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{digest}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
        let error = serde_json::from_str::<Digest>("\"sha256:00\"").unwrap_err().to_string();
        assert!(error.starts_with("`sha256:00` is not a sha256 digest"), "{error}");
    }
}
