//! Errors raised while reading the action's metadata inputs (`tags`, `flavor`,
//! `version`, `labels`, `annotations`, `images`). Every message is one line that
//! names the input and says what is accepted.

use thiserror::Error;

/// An input that cannot be turned into image metadata.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetaError {
    /// A line of the `tags` input is not a valid rule.
    #[error("tags: line {line} '{text}': {reason}")]
    TagRule { line: usize, text: String, reason: String },
    /// A line of the `flavor` input is not valid.
    #[error("flavor: line {line} '{text}': {reason}")]
    Flavor { line: usize, text: String, reason: String },
    /// A tag name is longer than the registry limit once sanitised.
    #[error("tags: '{tag}' is {len} characters long; at most 128 characters are accepted in a tag")]
    TagTooLong { tag: String, len: usize },
    /// A tag name has nothing left once sanitised.
    #[error(
        "tags: '{raw}' has no usable characters; a tag needs at least one of a-z A-Z 0-9 _ (then also . and -)"
    )]
    EmptyTag { raw: String },
    /// The `version` input cannot be used as a git tag name.
    #[error("version: '{value}': {reason}")]
    Version { value: String, reason: String },
    /// A line of the `annotations` input is not valid.
    #[error("annotations: line {line} '{text}': {reason}")]
    Annotation { line: usize, text: String, reason: String },
    /// An entry of the `images` input is not a plain image name.
    #[error("images: '{image}': {reason}")]
    Image { image: String, reason: String },
}
