//! Image metadata for a build: the tags to push, the OCI labels and the OCI
//! annotations, computed from the git ref, the event that started the
//! workflow and the semantic version of a release, following the rule syntax
//! of docker/metadata-action. The module is pure: everything it reads comes
//! in through [`Context`] and the parsed inputs.

mod compute;
mod error;
mod guard;
mod labels;
mod regex;
mod rules;
mod sanitize;
mod template;
mod version;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub(crate) use compute::compute;
pub use error::MetaError;
pub(crate) use guard::{HeldBack, guard_floating};
pub use labels::{Annotation, AnnotationInput, AnnotationLevel, parse_annotations};
pub(crate) use labels::{annotation_args, parse_labels};
pub(crate) use rules::default_tag_rules;
pub use rules::{
    Enable, Flavor, ImageInput, Latest, RefEvent, RuleKind, Scheme, ShaFormat, TagRule,
    parse_flavor, parse_images, parse_tag_rules,
};
pub use sanitize::{normalize_image_name, sanitize_tag};
pub use template::{Dates, Template};
pub(crate) use version::is_full_version;

/// What the workflow run tells about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// `GITHUB_EVENT_NAME`: push, release, workflow_dispatch, pull_request,
    /// pull_request_target, schedule, ...
    pub event_name: String,
    /// `GITHUB_REF`, such as `refs/tags/v1.2.3`, `refs/heads/main`,
    /// `refs/pull/12/merge`; may be empty.
    pub git_ref: String,
    /// `GITHUB_SHA`.
    pub sha: String,
    /// `GITHUB_REPOSITORY`, `owner/name`.
    pub repository: String,
    /// `GITHUB_SERVER_URL`.
    pub server_url: String,
    /// The event payload; `Null` when there is none.
    pub event: serde_json::Value,
    /// The `version` input: a tag name to use as if the ref were that tag.
    pub version_override: Option<String>,
    /// The creation time (from `SOURCE_DATE_EPOCH` when set).
    pub created: chrono::DateTime<chrono::Utc>,
    /// The repository's default branch (from the event payload, else asked
    /// of the API); `None` when unknown.
    pub default_branch: Option<String>,
    /// The committer date of `sha`, for `{{commit_date}}`; `None` uses
    /// `created`.
    pub commit_date: Option<chrono::DateTime<chrono::Utc>>,
    /// How many characters of `sha` `{{sha}}` and `type=sha` use (7 unless
    /// `DOCKER_METADATA_SHORT_SHA_LENGTH` says otherwise).
    pub short_sha_length: usize,
    /// Where the generated annotations go (`DOCKER_METADATA_ANNOTATIONS_LEVELS`).
    pub annotation_levels: Vec<AnnotationLevel>,
}

/// Which released versions a floating tag stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floating {
    /// Every stable release (`latest`, or a semver pattern without version
    /// placeholders).
    Latest,
    /// Every stable release with this major version (`{{major}}`).
    Major(u64),
    /// Every stable release with this major and minor version
    /// (`{{major}}.{{minor}}`).
    MajorMinor(u64, u64),
}

/// One tag to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag, already sanitised.
    pub name: String,
    /// Set for tags that move from release to release.
    pub floating: Option<Floating>,
    /// The prefix that was put in front of the rule's value (may be empty).
    pub prefix: String,
    /// The suffix that was put after the rule's value (may be empty).
    pub suffix: String,
}

impl Tag {
    /// Whether the tag names exactly one version (`1.2.3`, `v1.2.3`,
    /// `app-1.2.3-rc.1`): not floating, and a full version once its prefix
    /// and suffix are taken off.
    pub fn is_exact_version(&self) -> bool {
        let core = self
            .name
            .strip_prefix(self.prefix.as_str())
            .and_then(|n| n.strip_suffix(self.suffix.as_str()))
            .unwrap_or(&self.name);
        self.floating.is_none() && version::is_full_version(core)
    }
}

/// Everything computed for one build.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// The main version: the tag with the highest priority, or empty when
    /// there are no tags.
    pub version: String,
    /// Distinct tags, highest priority first (in rule order on ties), with
    /// `latest` last.
    pub tags: Vec<Tag>,
    /// OCI labels.
    pub labels: BTreeMap<String, String>,
    /// OCI annotations for the image manifests and the image index.
    pub annotations: Vec<Annotation>,
    /// Things the user may want to know, such as rules that were skipped.
    pub warnings: Vec<String>,
    /// The image names, normalised.
    pub images: Vec<String>,
    /// The semantic version of this build (leading `v` and build metadata
    /// removed) when the ref or the `version` input is one.
    pub semver: Option<semver::Version>,
    /// Whether this build is a prerelease (by its version, or by the release
    /// event's `prerelease` flag).
    pub prerelease: bool,
    /// How the `tags`, `tag-names` and `labels` outputs are joined.
    pub separators: Separators,
}

/// The separators of the list outputs (`sep-tags`, `sep-labels`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Separators {
    pub tags: String,
    pub labels: String,
}

impl Default for Separators {
    fn default() -> Self {
        Separators { tags: "\n".to_string(), labels: "\n".to_string() }
    }
}
