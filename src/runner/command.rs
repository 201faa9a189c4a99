//! Workflow commands (`::add-mask::`, `::group::`, `::error file=…::`) and
//! their escaping rules, as pure functions that return the line to print.

use std::fmt::Write as _;

/// Severity of an annotation command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// An annotation, optionally pinned to a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl Annotation {
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Annotation { level, message: message.into(), title: None, file: None, line: None }
    }

    /// The `::error file=F,line=L,title=T::MSG` line.
    pub fn to_command(&self) -> String {
        let mut properties = Vec::new();
        if let Some(file) = &self.file {
            properties.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            properties.push(format!("line={line}"));
        }
        if let Some(title) = &self.title {
            properties.push(format!("title={}", escape_property(title)));
        }
        let mut out = format!("::{}", self.level.command());
        if !properties.is_empty() {
            let _ = write!(out, " {}", properties.join(","));
        }
        let _ = write!(out, "::{}", escape_data(&self.message));
        out
    }
}

/// The line after which the runner obeys no workflow command until
/// [`resume_commands`] with the same token: untrusted output goes between.
pub(crate) fn stop_commands(token: &str) -> String {
    format!("::stop-commands::{token}")
}

/// The line that makes the runner obey workflow commands again.
pub(crate) fn resume_commands(token: &str) -> String {
    format!("::{token}::")
}

/// A token no untrusted output can know: 128 random bits in hex.
pub(crate) fn fresh_token() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

/// Escapes a command's message: `%`, CR and LF.
pub(crate) fn escape_data(value: &str) -> String {
    value.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a command's property value: as data, plus `:` and `,`.
pub(crate) fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// `::add-mask::` lines for a secret: the whole value, and each of its lines,
/// since the runner masks line by line.
pub(crate) fn mask_commands(secret: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if secret.trim().is_empty() {
        return lines;
    }
    lines.push(format!("::add-mask::{}", escape_data(secret)));
    if secret.contains('\n') {
        for part in secret.lines().filter(|l| !l.trim().is_empty()) {
            lines.push(format!("::add-mask::{}", escape_data(part)));
        }
    }
    lines
}

pub(crate) fn group_start(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

pub(crate) const GROUP_END: &str = "::endgroup::";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_escaped_as_the_runner_expects() {
        let cases = [
            (Annotation::new(Level::Error, "plain"), "::error::plain"),
            (Annotation::new(Level::Warning, "100% done\nnext"), "::warning::100%25 done%0Anext"),
            (
                Annotation {
                    file: Some("dir/Docker,file".into()),
                    line: Some(3),
                    title: Some("a: b".into()),
                    ..Annotation::new(Level::Notice, "m\r\n")
                },
                "::notice file=dir/Docker%2Cfile,line=3,title=a%3A b::m%0D%0A",
            ),
        ];
        for (annotation, expected) in cases {
            assert_eq!(annotation.to_command(), expected);
        }
    }

    #[test]
    fn masks_cover_the_value_and_each_line() {
        assert_eq!(mask_commands("s3cr%t"), vec!["::add-mask::s3cr%25t"]);
        assert_eq!(
            mask_commands("a\nb"),
            vec!["::add-mask::a%0Ab", "::add-mask::a", "::add-mask::b"]
        );
        assert!(mask_commands("  ").is_empty());
    }

    #[test]
    fn groups() {
        assert_eq!(group_start("Build\n1"), "::group::Build%0A1");
    }

    #[test]
    fn untrusted_output_goes_between_a_stop_and_a_resume_with_a_fresh_token() {
        let (a, b) = (fresh_token(), fresh_token());
        assert_ne!(a, b);
        assert!(a.len() == 32 && a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_eq!(stop_commands(&a), format!("::stop-commands::{a}"));
        assert_eq!(resume_commands(&a), format!("::{a}::"));
    }
}
