//! OCI labels and annotations: the generated `org.opencontainers.image.*`
//! set, the `labels` and `annotations` inputs that override it, and the
//! buildx `--annotation` values.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde_json::Value;

use super::{Context, MetaError};

/// Where an annotation is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnnotationLevel {
    /// Each platform's image manifest.
    Manifest,
    /// The image index that lists the platforms.
    Index,
}

impl AnnotationLevel {
    /// The name buildx uses.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Manifest => "manifest",
            AnnotationLevel::Index => "index",
        }
    }
}

/// One annotation to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: AnnotationLevel,
    pub key: String,
    pub value: String,
}

/// One line of the `annotations` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationInput {
    /// The levels it applies to (both when the line names none).
    pub levels: Vec<AnnotationLevel>,
    pub key: String,
    pub value: String,
}

const OCI: &str = "org.opencontainers.image";

/// The generated labels, with `user` lines overriding them by key.
pub(crate) fn build_labels(
    ctx: &Context,
    version: &str,
    user: &[(String, String)],
) -> BTreeMap<String, String> {
    let repo = ctx.event.get("repository").unwrap_or(&Value::Null);
    let text = |key: &str| repo.get(key).and_then(Value::as_str).map(str::to_string);
    let fallback_url = format!("{}/{}", ctx.server_url.trim_end_matches('/'), ctx.repository);
    // Outside a workflow there may be no repository at all: no URL then.
    let url = text("html_url").or((!ctx.repository.is_empty()).then_some(fallback_url));
    let title = text("name")
        .unwrap_or_else(|| ctx.repository.rsplit('/').next().unwrap_or_default().to_string());
    let mut labels = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        labels.insert(format!("{OCI}.{key}"), value);
    };
    put("title", title);
    put("description", text("description").unwrap_or_default());
    if let Some(url) = url {
        put("url", url.clone());
        put("source", url);
    }
    put("version", version.to_string());
    put("created", ctx.created.to_rfc3339_opts(SecondsFormat::Millis, true));
    if !ctx.sha.is_empty() {
        put("revision", ctx.sha.clone());
    }
    if let Some(spdx) = repo
        .get("license")
        .and_then(|l| l.get("spdx_id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "NOASSERTION")
    {
        put("licenses", spdx.to_string());
    }
    for (key, value) in user {
        labels.insert(key.clone(), value.clone());
    }
    labels
}

/// The OCI labels as annotations on `levels`, with `user` lines overriding
/// them by level and key. Ordered by level (manifest first), then key.
pub(crate) fn build_annotations(
    labels: &BTreeMap<String, String>,
    levels: &[AnnotationLevel],
    user: &[AnnotationInput],
) -> Vec<Annotation> {
    let mut by_level: BTreeMap<(AnnotationLevel, String), String> = BTreeMap::new();
    for &level in levels {
        for (key, value) in labels.iter().filter(|(k, _)| k.starts_with(OCI)) {
            by_level.insert((level, key.clone()), value.clone());
        }
    }
    for input in user {
        for level in &input.levels {
            by_level.insert((*level, input.key.clone()), input.value.clone());
        }
    }
    by_level.into_iter().map(|((level, key), value)| Annotation { level, key, value }).collect()
}

/// Parses the `labels` input: `key=value` lines; blank lines and `#`
/// comments are ignored. A line without `=`, or with nothing before it, is
/// skipped with a warning (the second value).
pub(crate) fn parse_labels(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => out.push((key.trim().to_string(), value.trim().to_string())),
            _ => warnings.push(format!(
                "labels: line {} '{line}' skipped: it is not key=value (such as org.opencontainers.image.vendor=Acme)",
                index + 1
            )),
        }
    }
    (out, warnings)
}

/// Parses the `annotations` input: `key=value` (both levels),
/// `manifest:key=value`, `index:key=value` or `manifest,index:key=value`.
pub fn parse_annotations(text: &str) -> Result<Vec<AnnotationInput>, MetaError> {
    const ACCEPTED: &str =
        "accepted: key=value, manifest:key=value, index:key=value or manifest,index:key=value";
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: String| MetaError::Annotation {
            line: index + 1,
            text: line.to_string(),
            reason,
        };
        let (left, value) =
            line.split_once('=').ok_or_else(|| err(format!("no '='; {ACCEPTED}")))?;
        let (levels, key) = match left.split_once(':') {
            None => (vec![AnnotationLevel::Manifest, AnnotationLevel::Index], left),
            Some((levels, key)) => {
                let mut parsed = Vec::new();
                for level in levels.split(',') {
                    let level = match level.trim() {
                        "manifest" => AnnotationLevel::Manifest,
                        "index" => AnnotationLevel::Index,
                        other => {
                            return Err(err(format!(
                                "level '{other}' is not supported; levels: manifest, index; {ACCEPTED}"
                            )));
                        }
                    };
                    if !parsed.contains(&level) {
                        parsed.push(level);
                    }
                }
                (parsed, key)
            }
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(err(format!("the key is empty; {ACCEPTED}")));
        }
        out.push(AnnotationInput { levels, key: key.to_string(), value: value.trim().to_string() });
    }
    Ok(out)
}

/// One buildx `--annotation` value per annotation, such as
/// `index:org.opencontainers.image.version=1.2.3` (not shell-quoted).
pub(crate) fn annotation_args(annotations: &[Annotation]) -> Vec<String> {
    annotations.iter().map(|a| format!("{}:{}={}", a.level.as_str(), a.key, a.value)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx(event: Value) -> Context {
        Context {
            event_name: "push".into(),
            git_ref: "refs/heads/main".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            repository: "acme/app".into(),
            server_url: "https://github.com".into(),
            event,
            version_override: None,
            created: chrono::Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
            default_branch: Some("main".into()),
            commit_date: None,
            short_sha_length: 7,
            annotation_levels: vec![AnnotationLevel::Manifest, AnnotationLevel::Index],
        }
    }

    #[test]
    fn labels_fall_back_without_payload() {
        let labels = build_labels(&ctx(Value::Null), "main", &[]);
        let want: BTreeMap<String, String> = [
            ("title", "app"),
            ("description", ""),
            ("url", "https://github.com/acme/app"),
            ("source", "https://github.com/acme/app"),
            ("version", "main"),
            ("created", "2024-01-02T03:04:05.000Z"),
            ("revision", "0123456789abcdef0123456789abcdef01234567"),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{OCI}.{k}"), v.to_string()))
        .collect();
        assert_eq!(labels, want);
    }

    #[test]
    fn noassertion_license_is_left_out() {
        let event = serde_json::json!({"repository": {"license": {"spdx_id": "NOASSERTION"}}});
        let labels = build_labels(&ctx(event), "main", &[]);
        assert!(!labels.contains_key("org.opencontainers.image.licenses"));
    }

    #[test]
    fn label_lines() {
        let (parsed, warnings) = parse_labels("# ours\na=1\n\n b = x=y \n");
        assert_eq!(parsed, vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]);
        assert!(warnings.is_empty());
        let (parsed, warnings) = parse_labels("a=1\nbroken\n=x");
        assert_eq!(parsed, vec![("a".into(), "1".into())]);
        assert_eq!(
            warnings,
            vec![
                "labels: line 2 'broken' skipped: it is not key=value (such as org.opencontainers.image.vendor=Acme)",
                "labels: line 3 '=x' skipped: it is not key=value (such as org.opencontainers.image.vendor=Acme)",
            ]
        );
    }

    #[test]
    fn annotation_levels() {
        let parsed = parse_annotations(
            "a=1\nmanifest:b=2\nindex:c=3\nmanifest,index:d=4\nindex:e=http://x:1/y=z",
        )
        .unwrap();
        let both = vec![AnnotationLevel::Manifest, AnnotationLevel::Index];
        assert_eq!(parsed[0].levels, both);
        assert_eq!(parsed[1].levels, vec![AnnotationLevel::Manifest]);
        assert_eq!(parsed[2].levels, vec![AnnotationLevel::Index]);
        assert_eq!(parsed[3].levels, both);
        assert_eq!(parsed[4].key, "e");
        assert_eq!(parsed[4].value, "http://x:1/y=z");

        let e = parse_annotations("manifest-descriptor:a=1").unwrap_err().to_string();
        assert!(e.starts_with("annotations: line 1 'manifest-descriptor:a=1': level 'manifest-descriptor' is not supported"), "{e}");
        assert!(parse_annotations("novalue").is_err());
        assert!(parse_annotations("index:=1").is_err());
    }

    #[test]
    fn annotations_override_by_level_and_key() {
        let mut labels = BTreeMap::new();
        labels.insert(format!("{OCI}.version"), "1.2.3".to_string());
        labels.insert("com.example.not-oci".to_string(), "x".to_string());
        let user = parse_annotations("index:org.opencontainers.image.version=9\nextra=1").unwrap();
        let args = annotation_args(&build_annotations(
            &labels,
            &[AnnotationLevel::Manifest, AnnotationLevel::Index],
            &user,
        ));
        assert_eq!(
            args,
            vec![
                "manifest:extra=1",
                "manifest:org.opencontainers.image.version=1.2.3",
                "index:extra=1",
                "index:org.opencontainers.image.version=9",
            ]
        );
    }
}
