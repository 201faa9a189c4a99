//! Dockerfile parsing: parser directives (`# escape=`), comments, line
//! continuations, heredocs, global ARGs, and the stages with their FROM line
//! and instructions, each kept with its 1-based line number.

use super::DockerfileError;
use super::words::split_words;

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

/// Parses Dockerfile text. Unknown instructions are kept, not refused.
pub fn parse_dockerfile(text: &str) -> Result<Dockerfile, DockerfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();

    let mut i = 0;
    let mut escape = '\\';
    while let Some((key, value)) = lines.get(i).and_then(|l| directive(l)) {
        if key == "escape" {
            escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(DockerfileError::BadEscape { line: line_number(i), value });
                }
            };
        }
        i += 1;
    }

    let mut instructions = Vec::new();
    while i < lines.len() {
        let first = lines[i].trim();
        if first.is_empty() || first.starts_with('#') {
            i += 1;
            continue;
        }
        let line = line_number(i);
        let (part, mut continued) = strip_continuation(first, escape);
        let mut joined = part.to_string();
        i += 1;
        while continued && i < lines.len() {
            let next = lines[i];
            i += 1;
            let trimmed = next.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
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
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for (delimiter, strip_tabs) in heredoc_markers(&text, escape) {
                let mut closed = None;
                let mut body = Vec::new();
                while i < lines.len() {
                    let body_line = lines[i];
                    i += 1;
                    let compared =
                        if strip_tabs { body_line.trim_start_matches('\t') } else { body_line };
                    if compared == delimiter {
                        closed = Some(body_line);
                        break;
                    }
                    body.push(body_line);
                }
                let Some(closing) = closed else {
                    return Err(DockerfileError::UnterminatedHeredoc { line, delimiter });
                };
                for body_line in body.into_iter().chain([closing]) {
                    text.push('\n');
                    text.push_str(body_line);
                }
            }
        }
        instructions.push(Instruction { line, keyword, text });
    }

    build(instructions, escape)
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

/// `# key=value` at the top of the file.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    let value = value.trim();
    let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric());
    (is_key && !value.is_empty()).then(|| (key.to_ascii_lowercase(), value.to_string()))
}

/// Removes a trailing escape character; true when the line continues.
fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end();
    match trimmed.strip_suffix(escape) {
        Some(rest) => (rest, true),
        None => (line, false),
    }
}

/// The heredocs an instruction opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in
/// order, with whether leading tabs are stripped before comparing.
fn heredoc_markers(text: &str, escape: char) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let mut markers = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == escape {
            i += 2;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        let opens = c == '<'
            && chars.get(i + 1) == Some(&'<')
            && chars.get(i + 2) != Some(&'<')
            && (i == 0 || chars[i - 1] != '<');
        if !opens {
            i += 1;
            continue;
        }
        let mut j = i + 2;
        let strip_tabs = chars.get(j) == Some(&'-');
        if strip_tabs {
            j += 1;
        }
        let open_quote = chars.get(j).filter(|c| **c == '"' || **c == '\'').copied();
        if open_quote.is_some() {
            j += 1;
        }
        let name_start = j;
        if chars.get(j).is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') {
            while chars.get(j).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                j += 1;
            }
        }
        let closed = match open_quote {
            Some(q) => chars.get(j) == Some(&q),
            None => true,
        };
        if j > name_start && closed {
            markers.push((chars[name_start..j].iter().collect(), strip_tabs));
            if open_quote.is_some() {
                j += 1;
            }
        }
        i = j.max(i + 2);
    }
    markers
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
