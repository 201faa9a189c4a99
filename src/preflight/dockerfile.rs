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
                    (key.trim().eq_ignore_ascii_case("from") && !value.is_empty()).then(|| value.trim().to_string())
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
                    let compared = if strip_tabs { body_line.trim_start_matches('\t') } else { body_line };
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
                return Err(DockerfileError::DuplicateStage { line: instruction.line, name: name.clone() });
            }
            stages.push(stage);
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(instruction);
        } else if instruction.keyword == "ARG" {
            global_args.extend(parse_arg(&instruction, escape)?);
        } else if KNOWN.contains(&instruction.keyword.as_str()) {
            return Err(DockerfileError::BeforeFrom { line: instruction.line, keyword: instruction.keyword });
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
        let opens = c == '<' && chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') && (i == 0 || chars[i - 1] != '<');
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

fn parse_from(instruction: &Instruction, index: usize, escape: char) -> Result<Stage, DockerfileError> {
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
        (Some(keyword), Some(name), None) if keyword.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => return Err(bad()),
    };
    Ok(Stage { index, name, from_line: line, base, platform_flag, instructions: Vec::new() })
}

fn parse_arg(instruction: &Instruction, escape: char) -> Result<Vec<(String, Option<String>)>, DockerfileError> {
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One line per FROM and per instruction: `L<line> <KEYWORD> <text>`.
    fn outline(df: &Dockerfile) -> Vec<String> {
        let mut lines = Vec::new();
        for stage in &df.stages {
            lines.push(format!("L{} FROM {}", stage.from_line, stage.base));
            for i in &stage.instructions {
                lines.push(format!("L{} {} {}", i.line, i.keyword, i.text).trim_end().to_string());
            }
        }
        lines
    }

    #[test]
    fn instructions_lines_and_text() {
        let cases: [(&str, &str, &[&str]); 8] = [
            (
                "continuations, comments and blank lines",
                "# leading comment\nFROM alpine:3.19\n\nRUN apk add \\\n    curl \\\n# comment inside\n\\\n    git\nrun echo done\n",
                &["L2 FROM alpine:3.19", "L4 RUN apk add     curl     git", "L9 RUN echo done"],
            ),
            (
                "CRLF line ends and trailing blanks after the escape",
                "FROM alpine\r\nRUN a \\  \r\n  b\r\nCMD x\r\n",
                &["L1 FROM alpine", "L2 RUN a   b", "L4 CMD x"],
            ),
            ("a line holding only the escape character is no instruction", "FROM alpine\nCMD x\n\\\n", &["L1 FROM alpine", "L2 CMD x"]),
            (
                "escape directive",
                "# syntax=docker/dockerfile:1\n# escape=`\nFROM servercore\nRUN dir C:\\ `\n    && echo hi\nCOPY a\\b c\\\n",
                &["L3 FROM servercore", "L4 RUN dir C:\\     && echo hi", "L6 COPY a\\b c\\"],
            ),
            ("a directive after a comment is a comment", "# hello\n# escape=`\nFROM x\nRUN a `\nb\n", &["L3 FROM x", "L4 RUN a `", "L5 B"]),
            (
                "heredoc bodies are skipped, even when they look like instructions",
                "FROM debian\nRUN <<EOF\napt-get update\nFROM evil\nEOF\nRUN <<-\"END\" bash\n\techo hi\n\tEND\nCOPY <<A <<B /dst/\na\nA\nb\nB\nCMD [\"x\"]\n",
                &[
                    "L1 FROM debian",
                    "L2 RUN <<EOF\napt-get update\nFROM evil\nEOF",
                    "L6 RUN <<-\"END\" bash\n\techo hi\n\tEND",
                    "L9 COPY <<A <<B /dst/\na\nA\nb\nB",
                    "L14 CMD [\"x\"]",
                ],
            ),
            (
                "no heredoc in quotes, shifts or here-strings",
                "FROM a\nRUN echo \"<<EOF\" && echo $((1<<2)) && cat <<<word\nRUN true\n",
                &["L1 FROM a", "L2 RUN echo \"<<EOF\" && echo $((1<<2)) && cat <<<word", "L3 RUN true"],
            ),
            (
                "keywords in any case; unknown instructions kept",
                "from golang AS Build\nRuN go build\nFROOM x\nfrom alpine\ncopy --from=build /a /b\n",
                &["L1 FROM golang", "L2 RUN go build", "L3 FROOM x", "L4 FROM alpine", "L5 COPY --from=build /a /b"],
            ),
        ];
        for (name, text, expected) in cases {
            let df = parse_dockerfile(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(outline(&df), expected, "{name}");
        }
    }

    #[test]
    fn from_lines_and_global_args() {
        let df = parse_dockerfile(
            "ARG A=1 B\nARG C=\"x y\"\nFROM --platform=$BUILDPLATFORM golang:1.22 AS Build\n\
             FROM --platform linux/arm64 alpine\nFROM ${IMG:-debian} as Final\n\
             FROM --platform=${TARGETPLATFORM} build\n",
        )
        .unwrap();
        assert_eq!(
            df.global_args,
            [("A".to_string(), Some("1".to_string())), ("B".to_string(), None), ("C".to_string(), Some("\"x y\"".to_string())),]
        );
        type Summary<'a> = (usize, Option<&'a str>, u32, &'a str, Option<&'a str>);
        let got: Vec<Summary> =
            df.stages.iter().map(|s| (s.index, s.name.as_deref(), s.from_line, s.base.as_str(), s.platform_flag.as_deref())).collect();
        assert_eq!(
            got,
            [
                (0, Some("build"), 3, "golang:1.22", Some("$BUILDPLATFORM")),
                (1, None, 4, "alpine", Some("linux/arm64")),
                (2, Some("final"), 5, "${IMG:-debian}", None),
                (3, None, 6, "build", Some("${TARGETPLATFORM}")),
            ]
        );
        assert_eq!(df.escape, '\\');
    }

    #[test]
    fn instruction_flags() {
        let df = parse_dockerfile(
            "FROM a\nCOPY --link --from=Build --chown=1:1 /x /y\n\
             RUN --mount=type=bind,from=tools,source=/t,target=/t --mount=type=cache,target=/c make\n\
             ADD --from=x y z\n",
        )
        .unwrap();
        let [copy, run, add] = &df.stages[0].instructions[..] else { panic!("three instructions") };
        assert_eq!(copy.copy_from().as_deref(), Some("Build"));
        assert_eq!(copy.args(), "/x /y");
        assert_eq!(run.mount_sources(), ["tools"]);
        assert_eq!(run.args(), "make");
        assert_eq!(run.copy_from(), None);
        assert_eq!(add.copy_from(), None);
    }

    #[test]
    fn errors_name_the_line() {
        let cases: [(&str, DockerfileError); 12] = [
            ("", DockerfileError::NoFrom),
            ("# only a comment\nARG A=1\n", DockerfileError::NoFrom),
            ("FROM\n", DockerfileError::FromWithoutImage { line: 1 }),
            ("FROM a\n\nFROM --platform=linux/amd64\n", DockerfileError::FromWithoutImage { line: 3 }),
            ("FROM a b\n", DockerfileError::BadFrom { line: 1, text: "a b".into() }),
            ("FROM a AS\n", DockerfileError::BadFrom { line: 1, text: "a AS".into() }),
            ("FROM --platform= a\n", DockerfileError::BadFrom { line: 1, text: "--platform= a".into() }),
            ("ARG A\nRUN x\nFROM a\n", DockerfileError::BeforeFrom { line: 2, keyword: "RUN".into() }),
            ("FROM a AS x\nFROM b AS X\n", DockerfileError::DuplicateStage { line: 2, name: "x".into() }),
            ("FROM a\nRUN <<EOF\nx\nEOFX\n", DockerfileError::UnterminatedHeredoc { line: 2, delimiter: "EOF".into() }),
            ("# escape=x\nFROM a\n", DockerfileError::BadEscape { line: 1, value: "x".into() }),
            ("ARG =1\nFROM a\n", DockerfileError::ArgWithoutName { line: 1 }),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_dockerfile(text), Err(expected), "{text:?}");
        }
        let message = parse_dockerfile("FROM a\nFROM\n").unwrap_err().to_string();
        assert!(message.starts_with("Dockerfile line 2: FROM needs an image"), "{message}");
    }

    #[test]
    fn unknown_instructions_are_tolerated() {
        let df = parse_dockerfile("FOO bar\nFROM a\nFROOM x\n").unwrap();
        assert_eq!(df.stages.len(), 1);
        assert_eq!(df.stages[0].instructions[0].keyword, "FROOM");
    }

    fn dockerfile_like() -> impl Strategy<Value = String> {
        let fragment = prop::sample::select(vec![
            "FROM ",
            "from ",
            "--platform=",
            "$BUILDPLATFORM",
            "${TARGETPLATFORM}",
            "${A:-x}",
            "${",
            "}",
            "$",
            "AS ",
            "as ",
            "b",
            "ARG ",
            "A=1 ",
            "RUN ",
            "COPY ",
            "--from=",
            "--mount=type=bind,from=",
            "0",
            "<<EOF",
            "<<-'E'",
            "EOF",
            "\tE",
            "\\",
            "`",
            "#",
            "# escape=`",
            "\"",
            "'",
            " ",
            "\n",
            "\r\n",
            "scratch",
            "alpine",
            ":",
            "/",
            "é",
            "\u{feff}",
        ]);
        prop::collection::vec(fragment, 0..60).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_any_text(text in any::<String>()) {
            let _ = parse_dockerfile(&text);
        }

        #[test]
        fn parse_resolve_and_lint_never_panic(text in dockerfile_like()) {
            if let Ok(df) = parse_dockerfile(&text) {
                let platforms = crate::platform::Platform::parse_list("linux/amd64,linux/arm64").unwrap();
                let args = std::collections::HashMap::from([("A".to_string(), String::new())]);
                for target in [None, Some("b")] {
                    if let Ok(stages) = super::super::resolve(&df, &args, target) {
                        let _ = super::super::lint(&df, &stages, &platforms[1..], &platforms);
                    }
                }
            }
        }
    }
}
