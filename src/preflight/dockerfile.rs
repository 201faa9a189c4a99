//! Dockerfile parsing: parser directives (`# escape=`), comments, line
//! continuations, heredocs, global ARGs, and the stages with their FROM line
//! and instructions, each kept with its 1-based line number.

use super::DockerfileError;
use super::words::{Lookup, expand, split_words};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// ARGs declared before the first FROM, in order, with their defaults as
    /// written (quotes and `$` references are handled by `resolve`).
    pub global_args: Vec<(String, Option<String>)>,
    pub stages: Vec<Stage>,
    /// The escape character: `\` unless a `# escape=` directive says `` ` ``.
    pub escape: char,
}

/// One build stage: a FROM line and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 0-based position, as `COPY --from=0` counts.
    pub index: usize,
    /// The `AS` name, lowercased.
    pub name: Option<String>,
    pub from_line: u32,
    /// The image as written, before ARG substitution.
    pub base: String,
    /// The `--platform` value as written (`$BUILDPLATFORM`, `linux/amd64`…).
    pub platform_flag: Option<String>,
    pub instructions: Vec<Instruction>,
}

/// One instruction of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The line the instruction starts on.
    pub line: u32,
    /// The line it ends on: its last continuation line, or the closing
    /// line of its last heredoc.
    pub end_line: u32,
    /// Uppercased (`RUN`, `COPY`…); unknown keywords are kept too.
    pub keyword: String,
    /// Everything after the keyword, continuation lines joined; heredoc
    /// bodies follow on their own lines, each closed by its delimiter.
    pub text: String,
}

impl Instruction {
    /// The leading `--name=value` flags (`--from=build`, `--mount=…`); a
    /// flag without `=` has an empty value. Quotes around values are removed.
    pub fn flags(&self) -> Vec<(String, String)> {
        let mut flags = Vec::new();
        for word in self.text.split_whitespace() {
            let Some(flag) = word.strip_prefix("--") else {
                break;
            };
            let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            flags.push((name.to_ascii_lowercase(), value.to_string()));
        }
        flags
    }

    /// The text after the leading flags.
    pub fn args(&self) -> &str {
        let mut rest = self.text.trim_start();
        while rest.starts_with("--") {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            rest = rest[end..].trim_start();
        }
        rest
    }

    /// `COPY --from=…`: the stage name, index or image copied from.
    pub fn copy_from(&self) -> Option<String> {
        if self.keyword != "COPY" {
            return None;
        }
        self.flags().into_iter().find(|(name, _)| name == "from").map(|(_, value)| value)
    }

    /// `RUN --mount=…,from=…`: the stages or images mounted from.
    pub fn mount_sources(&self) -> Vec<String> {
        if self.keyword != "RUN" {
            return Vec::new();
        }
        self.flags()
            .into_iter()
            .filter(|(name, _)| name == "mount")
            .filter_map(|(_, value)| {
                value.split(',').find_map(|field| {
                    let (key, value) = field.split_once('=')?;
                    (key.trim().eq_ignore_ascii_case("from") && !value.is_empty())
                        .then(|| value.trim().to_string())
                })
            })
            .collect()
    }
}

/// The instructions Docker knows; only ARG may come before the first FROM.
const KNOWN: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Parses Dockerfile text as BuildKit's parser does: parser directives at
/// the top, comments, line continuations (a trailing escape character
/// joins the next line, whose leading blanks are kept; comment and blank
/// lines inside a continued instruction are skipped) and heredocs.
/// Unknown instructions are kept, not refused.
pub fn parse_dockerfile(text: &str) -> Result<Dockerfile, DockerfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches(['\r', '\n'])).collect();

    let mut directives = Directives::default();
    let mut instructions = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = lines[i].trim_start();
        if directives.read(first, line_number(i))? {
            i += 1;
            continue;
        }
        let escape = directives.escape;
        let line = line_number(i);
        i += 1;
        if is_comment(first) {
            continue;
        }
        let (part, mut continued) = strip_continuation(first, escape);
        let mut joined = part.to_string();
        while continued && i < lines.len() {
            let next = lines[i];
            i += 1;
            if is_comment(next) || next.trim_start().is_empty() {
                continue;
            }
            let part;
            (part, continued) = strip_continuation(next, escape);
            joined.push_str(part);
        }
        let joined = joined.trim();
        if joined.is_empty() {
            continue;
        }
        let (keyword, rest) = joined.split_once(char::is_whitespace).unwrap_or((joined, ""));
        let keyword = keyword.to_ascii_uppercase();
        let mut text = rest.trim().to_string();
        if can_hold_heredocs(&keyword, &text) && text.contains("<<") {
            for (delimiter, strip_tabs) in heredoc_markers(&text) {
                let mut closed = false;
                while i < lines.len() {
                    let body_line = lines[i];
                    i += 1;
                    text.push('\n');
                    text.push_str(body_line);
                    let compared =
                        if strip_tabs { body_line.trim_start_matches('\t') } else { body_line };
                    if compared == delimiter {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(DockerfileError::UnterminatedHeredoc { line, delimiter });
                }
            }
        }
        // `i` is past the instruction's last line, so it is that line's number.
        let end_line = line_number(i.saturating_sub(1));
        instructions.push(Instruction { line, end_line, keyword, text });
    }

    build(instructions, directives.escape)
}

/// Parser directives (`# syntax=…`, `# escape=…`, `# check=…`) as BuildKit
/// reads them: only on the first lines; the first line that is not one
/// (a blank line, a comment, an unknown key) ends them.
struct Directives {
    done: bool,
    seen: Vec<String>,
    escape: char,
}

impl Default for Directives {
    fn default() -> Self {
        Directives { done: false, seen: Vec::new(), escape: '\\' }
    }
}

impl Directives {
    /// True when `line` (leading blanks removed) is a directive.
    fn read(&mut self, line: &str, number: u32) -> Result<bool, DockerfileError> {
        if self.done {
            return Ok(false);
        }
        let Some((key, value)) = directive(line) else {
            self.done = true;
            return Ok(false);
        };
        if self.seen.contains(&key) {
            return Err(DockerfileError::RepeatedDirective { line: number, key });
        }
        if key == "escape" {
            self.escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => return Err(DockerfileError::BadEscape { line: number, value }),
            };
        }
        self.seen.push(key);
        Ok(true)
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// RUN, COPY and ADD take heredocs, and so does ONBUILD before one of them.
fn can_hold_heredocs(keyword: &str, text: &str) -> bool {
    match keyword {
        "RUN" | "COPY" | "ADD" => true,
        "ONBUILD" => text
            .split_whitespace()
            .next()
            .is_some_and(|k| ["RUN", "COPY", "ADD"].contains(&k.to_ascii_uppercase().as_str())),
        _ => false,
    }
}

/// Groups instructions into global ARGs and stages.
fn build(instructions: Vec<Instruction>, escape: char) -> Result<Dockerfile, DockerfileError> {
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for instruction in instructions {
        if instruction.keyword == "FROM" {
            let stage = parse_from(&instruction, stages.len(), escape)?;
            if let Some(name) = &stage.name
                && stages.iter().any(|s| s.name.as_ref() == Some(name))
            {
                return Err(DockerfileError::DuplicateStage {
                    line: instruction.line,
                    name: name.clone(),
                });
            }
            stages.push(stage);
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(instruction);
        } else if instruction.keyword == "ARG" {
            global_args.extend(parse_arg(&instruction, escape)?);
        } else if KNOWN.contains(&instruction.keyword.as_str()) {
            return Err(DockerfileError::BeforeFrom {
                line: instruction.line,
                keyword: instruction.keyword,
            });
        }
    }
    if stages.is_empty() {
        return Err(DockerfileError::NoFrom);
    }
    Ok(Dockerfile { global_args, stages, escape })
}

/// `# key=value` with a key BuildKit knows (`syntax`, `escape`, `check`).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let (key, value) = rest.split_once('=')?;
    let key = key.trim_end();
    let value = value.trim();
    let is_key = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric());
    let key = key.to_ascii_lowercase();
    let known = ["syntax", "escape", "check"].contains(&key.as_str());
    (is_key && known && !value.is_empty()).then(|| (key, value.to_string()))
}

/// Removes a trailing escape character (and blanks after it); true when the
/// line continues. An escape after another escape is a literal one.
fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(rest) if !rest.ends_with(escape) => (rest, true),
        _ => (line, false),
    }
}

/// The heredocs an instruction opens, in order, each with whether leading
/// tabs are stripped before comparing (`<<-`). As BuildKit does, the line
/// is split into words (quotes and escapes kept; blanks right after `<<`
/// stay in the word), and a word of the form `[n]<<[-][blanks]name`, where
/// the name holds no `<` and reads as one word, opens a heredoc named by
/// that word with its quotes removed (`<<"EOF"`, `<<file.txt`).
fn heredoc_markers(text: &str) -> Vec<(String, bool)> {
    let mut markers = Vec::new();
    for word in heredoc_words(text) {
        let digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(rest) = digits.strip_prefix("<<") else { continue };
        let (strip_tabs, rest) = match rest.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let rest = rest.trim_start();
        if rest.is_empty() || rest.contains('<') || split_words(rest, '\\').len() != 1 {
            continue;
        }
        if let Ok(name) = expand(rest, '\\', &mut |_| Lookup::Keep) {
            markers.push((name, strip_tabs));
        }
    }
    markers
}

/// Words as BuildKit's lexer splits a line to look for heredocs.
fn heredoc_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            word.push(c);
            if c == q {
                quote = None;
            } else if c == '\\' && q == '"' {
                word.extend(chars.next());
            }
            continue;
        }
        match c {
            '\\' => {
                word.push(c);
                word.extend(chars.next());
            }
            '"' | '\'' => {
                word.push(c);
                quote = Some(c);
            }
            '<' if chars.peek() == Some(&'<') => {
                word.push_str("<<");
                chars.next();
                while let Some(blank) = chars.next_if(|c| c.is_whitespace()) {
                    word.push(blank);
                }
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn parse_from(
    instruction: &Instruction,
    index: usize,
    escape: char,
) -> Result<Stage, DockerfileError> {
    let line = instruction.line;
    let bad = || DockerfileError::BadFrom { line, text: instruction.text.clone() };
    let words = split_words(&instruction.text, escape);
    let mut words = words.into_iter().peekable();
    let mut platform_flag = None;
    while let Some(flag) = words.next_if(|w| w.starts_with("--")) {
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_ascii_lowercase(), Some(value.to_string())),
            None => (flag.to_ascii_lowercase(), None),
        };
        if name == "--platform" {
            let value = match value {
                Some(value) => value,
                None => words.next().ok_or_else(bad)?,
            };
            if value.is_empty() {
                return Err(bad());
            }
            platform_flag = Some(value);
        }
    }
    let base = words.next().ok_or(DockerfileError::FromWithoutImage { line })?;
    let name = match (words.next(), words.next(), words.next()) {
        (None, _, _) => None,
        (Some(keyword), Some(name), None) if keyword.eq_ignore_ascii_case("as") => {
            Some(name.to_ascii_lowercase())
        }
        _ => return Err(bad()),
    };
    Ok(Stage { index, name, from_line: line, base, platform_flag, instructions: Vec::new() })
}

fn parse_arg(
    instruction: &Instruction,
    escape: char,
) -> Result<Vec<(String, Option<String>)>, DockerfileError> {
    let words = split_words(&instruction.text, escape);
    if words.is_empty() {
        return Err(DockerfileError::ArgWithoutName { line: instruction.line });
    }
    words
        .into_iter()
        .map(|word| {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name.to_string(), Some(default.to_string())),
                None => (word, None),
            };
            if name.is_empty() {
                return Err(DockerfileError::ArgWithoutName { line: instruction.line });
            }
            Ok((name, default))
        })
        .collect()
}

#[cfg(test)]
mod tests;
