//! Image references (`[registry/]repository[:tag][@digest]`) read by the
//! grammar of Docker's distribution/reference and normalised as Docker does
//! (`app` is `docker.io/library/app`), then handed to oci-client.
//!
//! oci-client's own parser compiles the grammar with Unicode classes, which
//! takes about 40 ms, once per process, before the first registry call. The
//! grammar is ASCII (Go's `\w`), so it is compiled here without Unicode,
//! which takes well under a millisecond.

use std::sync::LazyLock;

use oci_client::Reference;

const DOMAIN_COMPONENT: &str = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const PATH_COMPONENT: &str = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG: &str = r"\w[\w.-]{0,127}";
const DIGEST: &str = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

static GRAMMAR: LazyLock<regex::Regex> = LazyLock::new(|| {
    let domain =
        format!(r"(?:{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?");
    let name = format!(r"(?:{domain}/)?{PATH_COMPONENT}(?:/{PATH_COMPONENT})*");
    let pattern = format!(r"^({name})(?::({TAG}))?(?:@({DIGEST}))?$");
    match regex::RegexBuilder::new(&pattern).unicode(false).build() {
        Ok(regex) => regex,
        Err(error) => unreachable!("the reference grammar is a valid pattern: {error}"),
    }
});

/// Why a text is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReferenceError {
    #[error("`{0}` is not an image reference")]
    Format(String),
    #[error("`{0}`: the repository name is longer than {NAME_TOTAL_LENGTH_MAX} characters")]
    TooLong(String),
    #[error("`{0}`: the digest is not a sha256, sha384 or sha512 digest of the right length")]
    Digest(String),
}

/// Parses `text` by Docker's reference grammar; a reference with neither
/// tag nor digest gets `latest`.
pub(crate) fn parse(text: &str) -> Result<Reference, ReferenceError> {
    let captures =
        GRAMMAR.captures(text).ok_or_else(|| ReferenceError::Format(text.to_string()))?;
    let (registry, repository) = split_domain(&captures[1]);
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::TooLong(text.to_string()));
    }
    let tag = captures.get(2).map(|m| m.as_str().to_string());
    let digest = captures.get(3).map(|m| m.as_str().to_string());
    if let Some(digest) = &digest {
        let length_ok = match digest.split_once(':') {
            Some(("sha256", hex)) => hex.len() == 64,
            Some(("sha384", hex)) => hex.len() == 96,
            Some(("sha512", hex)) => hex.len() == 128,
            _ => false,
        };
        if !length_ok {
            return Err(ReferenceError::Digest(text.to_string()));
        }
    }
    Ok(match (tag, digest) {
        (Some(tag), Some(digest)) => {
            Reference::with_tag_and_digest(registry, repository, tag, digest)
        }
        (None, Some(digest)) => Reference::with_digest(registry, repository, digest),
        (tag, None) => {
            Reference::with_tag(registry, repository, tag.unwrap_or_else(|| "latest".into()))
        }
    })
}

/// Splits a name into registry and repository as Docker does: the first
/// component is a registry when it has a `.` or `:` or is `localhost` (or
/// has capitals); otherwise the registry is Docker Hub, where one-component
/// names live under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let registry = if registry == "index.docker.io" { "docker.io".to_string() } else { registry };
    let repository = if registry == "docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    (registry, repository)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text, registry, repository, tag, digest.
    type Case = (String, &'static str, &'static str, Option<&'static str>, Option<String>);

    #[test]
    fn references_read_and_normalise_as_docker_does() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let cases: Vec<Case> = vec![
            ("app".into(), "docker.io", "library/app", Some("latest"), None),
            ("acme/app:1.2".into(), "docker.io", "acme/app", Some("1.2"), None),
            ("index.docker.io/acme/app".into(), "docker.io", "acme/app", Some("latest"), None),
            ("ghcr.io/acme/app:v1".into(), "ghcr.io", "acme/app", Some("v1"), None),
            ("localhost/app".into(), "localhost", "app", Some("latest"), None),
            (
                "localhost:5000/a/b/c:t_1.x-y".into(),
                "localhost:5000",
                "a/b/c",
                Some("t_1.x-y"),
                None,
            ),
            (
                "172.17.0.1:5000/testbed/busybox:multi".into(),
                "172.17.0.1:5000",
                "testbed/busybox",
                Some("multi"),
                None,
            ),
            ("[::1]:5000/app".into(), "[::1]:5000", "app", Some("latest"), None),
            (
                format!("ghcr.io/acme/app@{digest}"),
                "ghcr.io",
                "acme/app",
                None,
                Some(digest.clone()),
            ),
            (
                format!("acme/app:1@{digest}"),
                "docker.io",
                "acme/app",
                Some("1"),
                Some(digest.clone()),
            ),
            (
                "moby/buildkit:buildx-stable-1".into(),
                "docker.io",
                "moby/buildkit",
                Some("buildx-stable-1"),
                None,
            ),
            ("a__b/c--d/e.f".into(), "docker.io", "a__b/c--d/e.f", Some("latest"), None),
        ];
        for (text, registry, repository, tag, digest) in &cases {
            let reference = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(reference.registry(), *registry, "{text}");
            assert_eq!(reference.repository(), *repository, "{text}");
            assert_eq!(reference.tag(), *tag, "{text}");
            assert_eq!(reference.digest(), digest.as_deref(), "{text}");
        }
    }

    #[test]
    fn what_docker_rejects_is_rejected() {
        let long = format!("acme/{}", "a".repeat(260));
        let too_long_tag = format!("acme/app:{}", "t".repeat(129));
        let short_digest = format!("acme/app@sha256:{}", "a".repeat(40));
        let odd_algorithm = format!("acme/app@md5:{}", "a".repeat(32));
        for text in [
            "",
            "Acme",
            "acme/App",
            "acme//app",
            "acme/app:",
            "acme/app:-tag",
            "acme/app:täg",
            "acme/app tag",
            "-acme/app",
            "acme/app-",
            "ghcr.io/",
            "https://ghcr.io/acme/app",
            long.as_str(),
            too_long_tag.as_str(),
            short_digest.as_str(),
            odd_algorithm.as_str(),
        ] {
            assert!(parse(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn agrees_with_oci_client_where_both_accept() {
        // oci-client's parser is the slow reference this one stands in for.
        for text in [
            "app",
            "acme/app:1",
            "ghcr.io/acme/app:v1.2.3",
            "localhost:5000/x/y",
            "quay.io/a/b/c:latest",
        ] {
            let ours = parse(text).unwrap();
            let theirs: Reference = text.parse().unwrap();
            assert_eq!(ours.whole(), theirs.whole(), "{text}");
        }
    }
}
