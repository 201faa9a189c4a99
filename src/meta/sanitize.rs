//! Makes tag names and image names acceptable to an OCI registry: tags are
//! reduced to `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, image names are lowercased
//! and must not carry a tag or a digest.

use super::MetaError;

/// Longest tag a registry accepts.
const MAX_TAG_LEN: usize = 128;

fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'
}

/// Turns `raw` into a valid tag: every run of characters outside
/// `[a-zA-Z0-9._-]` becomes one `-`, and leading `.` and `-` are removed.
///
/// Fails when nothing is left, or when the result is longer than 128 characters.
pub fn sanitize_tag(raw: &str) -> Result<String, MetaError> {
    let mut out = String::with_capacity(raw.len());
    let mut in_bad_run = false;
    for c in raw.chars() {
        if tag_char(c) {
            out.push(c);
            in_bad_run = false;
        } else if !in_bad_run {
            out.push('-');
            in_bad_run = true;
        }
    }
    let out = out.trim_start_matches(['.', '-']).to_string();
    if out.is_empty() {
        return Err(MetaError::EmptyTag { raw: raw.to_string() });
    }
    if out.len() > MAX_TAG_LEN {
        return Err(MetaError::TagTooLong { len: out.len(), tag: out });
    }
    Ok(out)
}

/// Lowercases an image name (`ghcr.io/Acme/App` becomes `ghcr.io/acme/app`).
///
/// Fails when the name is empty, carries a tag (`:tag` after the last `/`) or a
/// digest (`@sha256:...`), or holds characters that no image name can hold.
pub fn normalize_image_name(raw: &str) -> Result<String, MetaError> {
    let err =
        |reason: &str| MetaError::Image { image: raw.to_string(), reason: reason.to_string() };
    let name = raw.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(err("the name is empty; accepted: an image name such as ghcr.io/owner/app"));
    }
    if name.contains('@') {
        return Err(err(
            "a digest is not accepted in an image name; give the name only, such as ghcr.io/owner/app",
        ));
    }
    let last = name.rsplit('/').next().unwrap_or(&name);
    if last.contains(':') {
        return Err(err(
            "a tag is not accepted in an image name (tags come from the `tags` input); give the name only, such as ghcr.io/owner/app",
        ));
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err(err("empty path component; accepted: an image name such as ghcr.io/owner/app"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':')))
    {
        return Err(err(&format!(
            "character '{bad}' is not accepted; image names hold a-z 0-9 . _ - / (and :port after the registry host)"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sanitize_table() {
        let rows = [
            ("main", "main"),
            ("feature/x", "feature-x"),
            ("feat//x y", "feat-x-y"),
            ("-leading", "leading"),
            (".-.lead", "lead"),
            ("/refs", "refs"),
            ("__ok", "__ok"),
            ("v1.2.3+build.5", "v1.2.3-build.5"),
            ("ümlaut-ä", "mlaut--"),
            ("UPPER.Case_1", "UPPER.Case_1"),
        ];
        for (raw, want) in rows {
            assert_eq!(sanitize_tag(raw).unwrap(), want, "input {raw:?}");
        }
    }

    #[test]
    fn sanitize_errors() {
        assert!(matches!(sanitize_tag(""), Err(MetaError::EmptyTag { .. })));
        assert!(matches!(sanitize_tag("/.-"), Err(MetaError::EmptyTag { .. })));
        let long = "a".repeat(129);
        let err = sanitize_tag(&long).unwrap_err();
        assert!(matches!(err, MetaError::TagTooLong { len: 129, .. }));
        assert!(err.to_string().starts_with("tags: 'aaaa"));
        assert_eq!(sanitize_tag(&"a".repeat(128)).unwrap().len(), 128);
    }

    #[test]
    fn image_names() {
        assert_eq!(normalize_image_name("ghcr.io/Acme/App").unwrap(), "ghcr.io/acme/app");
        assert_eq!(
            normalize_image_name(" localhost:5000/Team/app ").unwrap(),
            "localhost:5000/team/app"
        );
        for bad in [
            "ghcr.io/acme/app:1.0",
            "ghcr.io/acme/app@sha256:abcd",
            "",
            "ghcr.io//app",
            "ghcr.io/acme/a pp",
        ] {
            let err = normalize_image_name(bad).unwrap_err();
            assert!(err.to_string().starts_with("images: "), "{err}");
        }
    }

    fn valid(s: &str) -> bool {
        let mut chars = s.chars();
        match chars.next() {
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {}
            _ => return false,
        }
        s.len() <= MAX_TAG_LEN && chars.all(tag_char)
    }

    proptest! {
        #[test]
        fn sanitized_tags_are_valid(raw in any::<String>()) {
            match sanitize_tag(&raw) {
                Ok(tag) => prop_assert!(valid(&tag), "invalid output {:?}", tag),
                Err(MetaError::TagTooLong { len, .. }) => prop_assert!(len > MAX_TAG_LEN),
                Err(MetaError::EmptyTag { .. }) => {
                    prop_assert!(!raw.chars().any(|c| c.is_ascii_alphanumeric() || c == '_'))
                }
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }

        #[test]
        fn sanitized_tags_from_tag_like_input(raw in "[ -~]{0,200}") {
            match sanitize_tag(&raw) {
                Ok(tag) => prop_assert!(valid(&tag)),
                Err(MetaError::TagTooLong { len, .. }) => prop_assert!(len > MAX_TAG_LEN),
                Err(MetaError::EmptyTag { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }

        #[test]
        fn sanitize_is_idempotent(raw in "[ -~]{0,140}|\\PC{0,40}") {
            if let Ok(once) = sanitize_tag(&raw) {
                prop_assert_eq!(sanitize_tag(&once).unwrap(), once);
            }
        }
    }
}
