//! Writers for `GITHUB_OUTPUT` (heredoc form with a random delimiter for
//! every value) and `GITHUB_STEP_SUMMARY` (markdown, at most 1 MiB).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use rand::RngExt as _;

/// The runner rejects a step summary larger than this.
pub(crate) const SUMMARY_LIMIT: usize = 1024 * 1024;

/// Formats one output as `name<<DELIM\nvalue\nDELIM\n`, with a delimiter
/// that does not occur in the value.
pub(crate) fn format_output(
    name: &str,
    value: &str,
    mut delimiter: impl FnMut() -> String,
) -> String {
    let mut delim = delimiter();
    while value.contains(&delim) || name.contains(&delim) {
        delim = delimiter();
    }
    format!("{name}<<{delim}\n{value}\n{delim}\n")
}

fn random_delimiter() -> String {
    let mut rng = rand::rng();
    let token: String = (0..20).map(|_| rng.sample(rand::distr::Alphanumeric) as char).collect();
    format!("ghadelimiter_{token}")
}

/// The file named by `GITHUB_OUTPUT`, or stdout-only when absent (local runs).
#[derive(Debug, Clone)]
pub struct OutputFile {
    pub path: Option<PathBuf>,
}

impl OutputFile {
    pub fn write(&self, outputs: &[(String, String)]) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in outputs {
            text.push_str(&format_output(name, value, random_delimiter));
        }
        append(path, &text)
            .with_context(|| format!("could not write the step outputs to {}", path.display()))
    }
}

/// The file named by `GITHUB_STEP_SUMMARY`.
#[derive(Debug, Clone)]
pub struct SummaryFile {
    pub path: Option<PathBuf>,
}

impl SummaryFile {
    pub fn append(&self, markdown: &str) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let existing = std::fs::metadata(path).map(|m| m.len() as usize).unwrap_or(0);
        let room = SUMMARY_LIMIT.saturating_sub(existing);
        let text = truncate_summary(markdown, room);
        append(path, &text)
            .with_context(|| format!("could not write the job summary to {}", path.display()))
    }
}

/// Cuts markdown to fit `room` bytes at a line boundary, saying so.
pub(crate) fn truncate_summary(markdown: &str, room: usize) -> String {
    if markdown.len() <= room {
        return markdown.to_string();
    }
    const NOTE: &str = "\n_(summary cut to fit the runner's 1 MiB limit)_\n";
    let budget = room.saturating_sub(NOTE.len());
    let mut cut = 0;
    for (index, _) in markdown.match_indices('\n') {
        if index + 1 > budget {
            break;
        }
        cut = index + 1;
    }
    format!("{}{NOTE}", &markdown[..cut])
}

fn append(path: &PathBuf, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_use_a_heredoc_whose_delimiter_is_not_in_the_value() {
        let mut candidates = vec!["XYZ".to_string(), "ABC".to_string()].into_iter();
        let text = format_output("tags", "a\nABC-in-value\nb", || candidates.next().unwrap());
        assert_eq!(text, "tags<<XYZ\na\nABC-in-value\nb\nXYZ\n");
        let mut candidates = vec!["a".to_string(), "Q".to_string()].into_iter();
        assert_eq!(
            format_output("digest", "sha256:a", || candidates.next().unwrap()),
            "digest<<Q\nsha256:a\nQ\n"
        );
    }

    #[test]
    fn random_delimiters_differ() {
        assert_ne!(random_delimiter(), random_delimiter());
    }

    #[test]
    fn output_file_appends_every_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, "earlier=1\n").unwrap();
        let file = OutputFile { path: Some(path.clone()) };
        file.write(&[("a".into(), "x".into()), ("b".into(), "1\n2".into())]).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with("earlier=1\na<<ghadelimiter_"), "{text}");
        assert!(text.contains("\nx\n") && text.contains("\n1\n2\n"), "{text}");
    }

    #[test]
    fn summaries_are_cut_at_a_line() {
        assert_eq!(truncate_summary("a\nb\n", 10), "a\nb\n");
        let long = "line\n".repeat(100);
        let cut = truncate_summary(&long, 120);
        assert!(cut.len() <= 120, "{}", cut.len());
        assert!(cut.starts_with("line\nline\n") && cut.ends_with("limit)_\n"));
    }
}
