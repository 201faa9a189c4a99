//! Reads release versions from tag names: semantic versions (`v1.2.3`,
//! `1.2.3-rc.1`) through the semver crate and Python versions
//! (`1.2.3rc2`, `1.2.post1`, `1.0.dev4`) through pep440_rs, into one shape
//! the version rules render.

use std::str::FromStr;

/// A version read from a tag name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedVersion {
    /// The normalised full version (`{{version}}`): `1.2.3-rc.1`, `1.1b2`.
    pub version: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// A prerelease (and, for PEP 440, a development or post release): it
    /// gets its full version only, never `latest` or a floating tag.
    pub prerelease: bool,
    /// The same version as a semantic version, for comparing releases
    /// (stable PEP 440 versions of at most three numbers have one).
    pub semver: Option<semver::Version>,
}

/// Parses a tag name as a semantic version, with an optional leading `v`.
/// Build metadata is dropped.
pub(crate) fn parse_semver(name: &str) -> Option<semver::Version> {
    let core = name.trim().strip_prefix(['v', 'V']).unwrap_or(name.trim());
    let mut v = semver::Version::parse(core).ok()?;
    v.build = semver::BuildMetadata::EMPTY;
    Some(v)
}

/// A semantic version read as a [`ParsedVersion`].
pub(crate) fn parse_version(name: &str) -> Option<ParsedVersion> {
    let v = parse_semver(name)?;
    Some(ParsedVersion {
        version: v.to_string(),
        major: v.major,
        minor: v.minor,
        patch: v.patch,
        prerelease: !v.pre.is_empty(),
        semver: Some(v),
    })
}

/// A PEP 440 version (a leading `v` is allowed) read as a [`ParsedVersion`].
pub(crate) fn parse_pep440(name: &str) -> Option<ParsedVersion> {
    let v = pep440_rs::Version::from_str(name.trim()).ok()?;
    let part = |i: usize| v.release().get(i).copied().unwrap_or(0);
    let prerelease = v.is_pre() || v.is_dev() || v.is_post();
    let semver = (!prerelease && v.epoch() == 0 && v.release().len() <= 3 && !v.is_local())
        .then(|| semver::Version::new(part(0), part(1), part(2)));
    Some(ParsedVersion {
        version: v.to_string(),
        major: part(0),
        minor: part(1),
        patch: part(2),
        prerelease,
        semver,
    })
}

/// Whether a tag name is one full version, the kind of tag that names one
/// release and is not meant to move: a semantic version (`1.2.3`, `v1.2.3`,
/// `1.2.3-rc.1`), or a PEP 440 version of three or more numbers or with a
/// pre-, post- or development release (`2024.06.01`, `1.2rc1`). `1.2`, `1`,
/// `latest`, branch names and `sha-…` are not.
pub(crate) fn is_full_version(name: &str) -> bool {
    if parse_semver(name).is_some() {
        return true;
    }
    pep440_rs::Version::from_str(name.trim())
        .is_ok_and(|v| v.release().len() >= 3 || v.is_pre() || v.is_post() || v.is_dev())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_table() {
        let rows: &[(&str, Option<(&str, bool)>)] = &[
            ("v1.2.3", Some(("1.2.3", false))),
            ("1.2.3+b5", Some(("1.2.3", false))),
            ("V2.0.0-rc.1", Some(("2.0.0-rc.1", true))),
            ("v2.0.8-beta.67", Some(("2.0.8-beta.67", true))),
            ("v1.2", None),
            ("1.2.3rc2", None),
            ("foo", None),
        ];
        for (name, want) in rows {
            let got = parse_version(name).map(|v| (v.version, v.prerelease));
            assert_eq!(got, want.map(|(v, p)| (v.to_string(), p)), "{name}");
        }
    }

    #[test]
    fn full_versions() {
        for name in
            ["1.2.3", "v1.2.3", "1.2.3-rc.1", "1.2.3+b5", "2024.06.01", "1.2rc1", "1.2.post1"]
        {
            assert!(is_full_version(name), "{name}");
        }
        for name in ["1.2", "1", "v1", "latest", "main", "pr-12", "sha-0123abc", "nightly", ""] {
            assert!(!is_full_version(name), "{name}");
        }
    }

    /// (tag, normalised version, major, minor, patch, prerelease, semver)
    type Pep440Row = (&'static str, &'static str, u64, u64, u64, bool, Option<&'static str>);

    #[test]
    fn pep440_table() {
        let rows: &[Pep440Row] = &[
            ("v1.1.1", "1.1.1", 1, 1, 1, false, Some("1.1.1")),
            ("1.2", "1.2", 1, 2, 0, false, Some("1.2.0")),
            ("1.1beta2", "1.1b2", 1, 1, 0, true, None),
            ("1.0dev4", "1.0.dev4", 1, 0, 0, true, None),
            ("1.2.3rc2", "1.2.3rc2", 1, 2, 3, true, None),
            ("v1.2.3rc2", "1.2.3rc2", 1, 2, 3, true, None),
            ("1.2post1", "1.2.post1", 1, 2, 0, true, None),
            ("1!2.0", "1!2.0", 2, 0, 0, false, None),
            ("1.2.3.4", "1.2.3.4", 1, 2, 3, false, None),
        ];
        for (name, version, major, minor, patch, pre, semver) in rows {
            let v = parse_pep440(name).unwrap_or_else(|| panic!("{name} is PEP 440"));
            assert_eq!(
                (
                    v.version.as_str(),
                    v.major,
                    v.minor,
                    v.patch,
                    v.prerelease,
                    v.semver.map(|s| s.to_string())
                ),
                (*version, *major, *minor, *patch, *pre, semver.map(str::to_string)),
                "{name}"
            );
        }
        for bad in ["sometag", "release1", "1.2.3-beta.x.y", ""] {
            assert!(parse_pep440(bad).is_none(), "{bad} is not PEP 440");
        }
    }
}
