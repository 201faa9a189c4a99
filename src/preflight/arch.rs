//! The hard-coded-architecture lint: in a stage built for several
//! platforms, a URL or path in RUN, ADD or COPY that names one architecture
//! (`tool-linux-amd64.tar.gz`, `node-v20-linux-x64.tar.xz`), directly or
//! through a fixed ARG, ENV or shell variable (`ARG S6_ARCH=x86_64`).
//!
//! Names the file chooses per architecture are not reported: inside a shell
//! `case` on an architecture (`case "$(dpkg --print-architecture)" in
//! amd64) …`, `"linux/amd64")`), inside an `if`/`elif` or a `[ … ] &&`
//! testing one, in a lookup table keyed by architecture (`url_amd64=…`,
//! `[amd64]=…`, `"amd64": …`), or built from `$TARGETARCH`-like variables.

use std::collections::HashMap;

use super::dockerfile::{Instruction, Stage};
use super::lint::{ARCH_TITLE, Finding, is_assignment};
use super::words::split_words;
use crate::platform::{self, Platform};

/// Architecture words, longest spelling first, and the architecture (as
/// platforms name it) each stands for.
const ARCH_WORDS: &[(&str, &str)] = &[
    ("x86_64", "amd64"),
    ("x86-64", "amd64"),
    ("amd64", "amd64"),
    ("linux64", "amd64"),
    ("x64", "amd64"),
    ("aarch64", "arm64"),
    ("aarch_64", "arm64"),
    ("arm64", "arm64"),
    ("armv7l", "arm"),
    ("armv7", "arm"),
    ("armhf", "arm"),
    ("armel", "arm"),
    ("i386", "386"),
    ("i686", "386"),
    ("ppc64le", "ppc64le"),
    ("ppc64el", "ppc64le"),
    ("s390x", "s390x"),
    ("riscv64", "riscv64"),
];

/// True when `word` occurs in `text` with no letter or digit either side.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// The first architecture word in `text` and its architecture.
fn arch_word(text: &str) -> Option<(&'static str, &'static str)> {
    let lower = text.to_ascii_lowercase();
    ARCH_WORDS.iter().find(|(word, _)| contains_word(&lower, word)).copied()
}

/// The names of the variables `text` refers to (`$NAME`, `${NAME…}`).
fn references(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let body = rest.strip_prefix('{').unwrap_or(rest);
        let end =
            body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
        if end > 0 {
            names.push(&body[..end]);
        }
    }
    names
}

/// A variable that holds an architecture the build chooses: BuildKit's
/// platform ARGs and the usual names for an architecture read from the
/// system (`dpkgArch`, `ARCH`, `apkArch`, `TARGETPLATFORM`…).
fn is_arch_variable(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("arch") || lower.contains("platform")
}

/// True when `text` asks for or tests the architecture: names one, reads it
/// (`uname -m`, `dpkg --print-architecture`, `apk --print-arch`, `arch`) or
/// refers to a variable holding one.
fn tests_arch(text: &str, fixed: &HashMap<String, Fixed>) -> bool {
    arch_word(text).is_some()
        || ["uname -m", "uname -p", "--print-arch", "$(arch)", "`arch`"]
            .iter()
            .any(|s| text.contains(s))
        || references(text).iter().any(|n| is_arch_variable(n) && !fixed.contains_key(*n))
}

/// A variable fixed to a value naming an architecture, and where.
#[derive(Debug, Clone)]
pub(crate) struct Fixed {
    /// How it was set, as the finding quotes it (`ARG S6_ARCH=x86_64`).
    pub(crate) set: String,
    pub(crate) line: u32,
    pub(crate) word: &'static str,
    pub(crate) arch: &'static str,
}

/// The stage's ARG and ENV values (before `before`) that name an
/// architecture without deriving it from a platform ARG; `global` are the
/// Dockerfile's ARGs before the first FROM, which `ARG NAME` brings in.
pub(crate) fn fixed_variables(
    stage: &Stage,
    before: u32,
    global: &[(String, Option<String>)],
) -> HashMap<String, Fixed> {
    let mut fixed = HashMap::new();
    for instruction in stage.instructions.iter().filter(|i| i.line < before) {
        if !matches!(instruction.keyword.as_str(), "ARG" | "ENV") {
            continue;
        }
        for word in split_words(instruction.args(), '\\') {
            let (name, value) = match word.split_once('=') {
                Some((name, value)) => (name, Some(value.trim_matches(['"', '\'']))),
                None => (word.as_str(), None),
            };
            let value = value.map(str::to_string).or_else(|| {
                let global = global.iter().find(|(n, _)| n == name)?;
                global.1.clone()
            });
            let Some(value) = value else {
                fixed.remove(name);
                continue;
            };
            let derived = references(&value).iter().any(|n| is_arch_variable(n));
            match arch_word(&value) {
                Some((word, arch)) if !derived => {
                    let set = format!("{} {name}={value}", instruction.keyword);
                    fixed.insert(
                        name.to_string(),
                        Fixed { set, line: instruction.line, word, arch },
                    );
                }
                _ => {
                    fixed.remove(name);
                }
            }
        }
    }
    fixed
}

/// A word of shell text and where it starts.
struct Word<'a> {
    at: usize,
    text: &'a str,
}

/// Splits shell text into words at blanks and `;`, `&`, `|`, `(`, newline;
/// `)` stays on its word (`amd64)`), quotes stay too.
fn shell_words(text: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    for (at, c) in text.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        let separator = c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | '`');
        if separator {
            if let Some(s) = start.take() {
                words.push(Word { at: s, text: &text[s..at] });
            }
            if matches!(c, ';' | '\n' | '&' | '|') {
                words.push(Word { at, text: &text[at..at + c.len_utf8()] });
            }
            continue;
        }
        if start.is_none() {
            start = Some(at);
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
        }
    }
    if let Some(s) = start {
        words.push(Word { at: s, text: &text[s..] });
    }
    words
}

/// The byte ranges of `text` where the script chooses by architecture: a
/// `case … esac` on one, an `if … fi` testing one, and the rest of a
/// `[ … ] &&` list testing one.
fn chosen_ranges(text: &str, fixed: &HashMap<String, Fixed>) -> Vec<(usize, usize)> {
    let words = shell_words(text);
    let mut ranges = Vec::new();
    // Open `case`/`if`: start, whether it is on an architecture, is case.
    let mut open: Vec<(usize, bool, bool)> = Vec::new();
    let mut condition = false;
    for (k, word) in words.iter().enumerate() {
        let bare = word.text.trim_matches(['"', '\'']);
        match word.text.trim_end_matches([')', ';']) {
            "case" => {
                let subject = words.get(k + 1).map_or("", |w| w.text);
                open.push((word.at, tests_arch(subject, fixed), true));
            }
            keyword @ ("if" | "elif" | "while") => {
                if keyword != "elif" {
                    open.push((word.at, false, false));
                }
                condition = true;
            }
            "then" | "do" => condition = false,
            "esac" | "fi" | "done" => {
                if let Some((start, on_arch, _)) = open.pop()
                    && on_arch
                {
                    ranges.push((start, word.at + word.text.len()));
                }
            }
            "[" | "[[" | "test" if !condition => {
                let end = words[k..].iter().position(|w| matches!(w.text, "]" | "]]" | ";" | "\n"));
                let tested = &words[k..k + end.unwrap_or(words.len() - k)];
                if tested.iter().any(|w| tests_arch(w.text, fixed)) {
                    ranges.push((word.at, list_end(text, word.at)));
                }
            }
            "" => {}
            _ => {
                let in_case = open.last().is_some_and(|(_, _, is_case)| *is_case);
                let pattern = in_case && bare.ends_with(')');
                if (condition || pattern)
                    && tests_arch(word.text, fixed)
                    && let Some(last) = open.last_mut()
                {
                    last.1 = true;
                }
            }
        }
    }
    ranges.extend(tested_lists(text, &words, fixed));
    // A choice left open (a script this scan misreads) reaches the end.
    ranges.extend(
        open.iter().filter(|(_, on_arch, _)| *on_arch).map(|(start, ..)| (*start, text.len())),
    );
    ranges
}

/// Where the list of commands that starts at `from` ends: at the first `;`
/// or newline outside quotes and parentheses, or at a `)` closing a group
/// the list is in.
fn list_end(text: &str, from: usize) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (at, c) in text[from..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => return from + at,
            (None, ')') => depth -= 1,
            (None, ';' | '\n') if depth == 0 => return from + at,
            _ => {}
        }
    }
    text.len()
}

/// The rest of a list after a command that compares the architecture and
/// is followed by `&&` or `||` (`uname -m | grep -q x86_64 && …`,
/// `node -p "process.arch === 'arm64' …" || …`): the command reads the
/// architecture and names one as a word of its own, and names no file
/// after one.
fn tested_lists(text: &str, words: &[Word], fixed: &HashMap<String, Fixed>) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for k in 0..=words.len() {
        let boundary = match words.get(k).map(|w| w.text) {
            None | Some(";" | "\n") => Some(false),
            Some("&") => Some(true),
            Some("|") => (words.get(k + 1).map(|w| w.text) == Some("|")).then_some(true),
            _ => None,
        };
        let Some(chained) = boundary else { continue };
        let command = &words[start..k];
        start = k + 1;
        if !chained || command.is_empty() {
            continue;
        }
        let reads = command.iter().any(|w| {
            let t = w.text;
            t.contains("uname")
                || t.contains("--print-arch")
                || t.contains("process.arch")
                || references(t).iter().any(|n| is_arch_variable(n) && !fixed.contains_key(*n))
        });
        let compares = command.iter().any(|w| {
            let bare = w.text.trim_matches(['"', '\'', ']', ')', ';']);
            ARCH_WORDS.iter().any(|(word, _)| bare.eq_ignore_ascii_case(word))
                || w.text
                    .split(['\'', '"', ' '])
                    .any(|t| ARCH_WORDS.iter().any(|(word, _)| t == *word))
        });
        let names_file = command
            .iter()
            .flat_map(|w| tokens(w.text))
            .any(|(_, t)| (t.contains('/') || t.contains('.')) && arch_word(t).is_some());
        if reads && compares && !names_file {
            ranges.push((command[0].at, list_end(text, command[0].at)));
        }
    }
    ranges
}

/// A sed or tr mapping between spellings (`s/x86_64/amd64/`, `y/…/…/`).
fn is_mapping(token: &str) -> bool {
    let mut chars = token.chars();
    match (chars.next(), chars.next()) {
        (Some('s' | 'y'), Some(delimiter)) if !delimiter.is_alphanumeric() => {
            token.matches(delimiter).count() >= 3
        }
        _ => false,
    }
}

/// The tokens of `text` with their offsets: split at blanks and quotes,
/// and outside quotes at shell operators too (a quoted URL keeps its `&`).
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    for (at, c) in text.char_indices() {
        let is_quote = c == '"' || c == '\'';
        if is_quote && (quote.is_none() || quote == Some(c)) {
            quote = if quote.is_some() { None } else { Some(c) };
        }
        let operator = matches!(c, ';' | '|' | '&' | '(' | ')' | '<' | '>' | '`');
        if c.is_whitespace() || is_quote || (operator && quote.is_none()) {
            if let Some(s) = start.take() {
                out.push((s, &text[s..at]));
            }
        } else if start.is_none() {
            start = Some(at);
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// A key naming an architecture in a lookup table: `url_amd64=…`,
/// `[amd64]=…`, or previous tokens `amd64:`, `amd64=` or `"amd64"` `:`.
fn keyed_by_arch(token: &str, before: &[(usize, &str)]) -> bool {
    let key_here = token.split_once('=').is_some_and(|(key, _)| arch_word(key).is_some());
    let key_before = match before {
        [.., (_, key), (_, ":" | "=")] => arch_word(key).is_some(),
        [.., (_, key)] => (key.ends_with(':') || key.ends_with('=')) && arch_word(key).is_some(),
        [] => false,
    };
    key_here || key_before
}

/// What names the architecture in a token: a word in it, or a fixed
/// variable it refers to.
enum Named<'a> {
    Word(&'static str, &'static str),
    Through(&'a Fixed),
}

impl Named<'_> {
    fn word_and_arch(&self) -> (&'static str, &'static str) {
        match self {
            Named::Word(word, arch) => (word, arch),
            Named::Through(fixed) => (fixed.word, fixed.arch),
        }
    }
}

/// The finding for a RUN or ADD of a stage built for `targets`, if one of
/// its URLs or paths names an architecture the file does not choose.
pub(crate) fn arch_finding(
    instruction: &Instruction,
    targets: &[Platform],
    fixed: &HashMap<String, Fixed>,
) -> Option<Finding> {
    let text = instruction.args();
    // A heredoc of COPY or ADD is file content, not a script.
    let text = match instruction.keyword.as_str() {
        "RUN" => text,
        _ => text.lines().next().unwrap_or_default(),
    };
    let mut fixed = fixed.clone();
    shell_assignments(text, &mut fixed, instruction.line);
    let chosen = chosen_ranges(text, &fixed);
    let tokens = tokens(text);
    let mut hits: Vec<(&str, Named)> = Vec::new();
    for (k, (at, token)) in tokens.iter().enumerate() {
        let looks_like_file = token.contains('/') || token.contains('.');
        if !looks_like_file || token.starts_with("--platform") || is_mapping(token) {
            continue;
        }
        if chosen.iter().any(|(s, e)| s <= at && at < e) {
            continue;
        }
        if keyed_by_arch(token, &tokens[k.saturating_sub(2)..k]) {
            continue;
        }
        let refs = references(token);
        if refs.iter().any(|n| is_arch_variable(n) && !fixed.contains_key(*n)) {
            continue;
        }
        let named = match (arch_word(token), refs.iter().find_map(|n| fixed.get(*n))) {
            (Some((word, arch)), _) => Named::Word(word, arch),
            (None, Some(f)) => Named::Through(f),
            (None, None) => continue,
        };
        let (_, arch) = named.word_and_arch();
        if targets.iter().any(|p| p.arch != arch) {
            hits.push((token, named));
        }
    }
    let (token, named) = hits.first()?;
    Some(finding(instruction.line, token, named, hits.len() - 1, targets))
}

/// `NAME=value` assignments in a RUN that fix an architecture outside any
/// choice by architecture, added to `fixed`.
fn shell_assignments(text: &str, fixed: &mut HashMap<String, Fixed>, line: u32) {
    let chosen = chosen_ranges(text, fixed);
    for (at, token) in tokens(text) {
        let Some((name, value)) = token.split_once('=').filter(|_| is_assignment(token)) else {
            continue;
        };
        if value.contains('/') || chosen.iter().any(|(s, e)| *s <= at && at < *e) {
            continue;
        }
        match arch_word(value) {
            Some((word, arch)) => {
                let set = format!("{name}={value}");
                fixed.insert(name.to_string(), Fixed { set, line, word, arch });
            }
            None => {
                fixed.remove(name);
            }
        }
    }
}

/// How a download that spells amd64 as `word` likely spells amd64 and arm64.
fn spellings(word: &str) -> (&'static str, &'static str) {
    match word {
        "x86_64" | "aarch64" => ("x86_64", "aarch64"),
        "x86-64" => ("x86-64", "aarch64"),
        "x64" => ("x64", "arm64"),
        "aarch_64" => ("x86_64", "aarch_64"),
        _ => ("amd64", "arm64"),
    }
}

fn finding(line: u32, token: &str, named: &Named, more: usize, targets: &[Platform]) -> Finding {
    let (word, arch) = named.word_and_arch();
    let wrong: Vec<Platform> = targets.iter().filter(|p| p.arch != arch).cloned().collect();
    let more = match more {
        0 => String::new(),
        1 => " (and 1 more name like it)".to_string(),
        n => format!(" (and {n} more names like it)"),
    };
    let (through, fix) = match named {
        Named::Word(..) => (
            String::new(),
            "Use `$TARGETARCH` in the name (declare `ARG TARGETARCH` in the stage), or map \
             `$TARGETARCH` or `$TARGETPLATFORM` to the name the download uses with \
             `case \"$TARGETARCH\" in amd64) …;; arm64) …;; esac`."
                .to_string(),
        ),
        Named::Through(fixed) => {
            let name = fixed.set.split(['=', ' ']).nth(usize::from(fixed.set.contains(' ')));
            let name = name.unwrap_or_default();
            (
                format!(" through `{}` (line {})", fixed.set, fixed.line),
                format!(
                    "Derive {name} from `$TARGETARCH` (declare `ARG TARGETARCH`, then e.g. \
                     `case \"$TARGETARCH\" in amd64) {name}={amd};; arm64) {name}={arm};; esac` \
                     in the RUN).",
                    amd = spellings(word).0,
                    arm = spellings(word).1,
                ),
            )
        }
    };
    Finding {
        line,
        title: ARCH_TITLE.to_string(),
        message: format!(
            "`{token}`{more} names the architecture `{word}`{through}, but this stage is built \
             for {}, so the {} image would get the {word} file. {fix}",
            platform::join(targets),
            platform::join(&wrong),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::{lint, parse_dockerfile, resolve};

    /// The lines of the hard-coded-architecture findings.
    fn flagged(text: &str, requested: &str) -> Vec<u32> {
        let platforms = Platform::parse_list(requested).unwrap();
        let df = parse_dockerfile(text).unwrap();
        let stages = resolve(&df, &HashMap::new(), None, &platforms).unwrap();
        lint(&df, &stages, &[], &platforms)
            .into_iter()
            .filter(|f| f.title == ARCH_TITLE)
            .map(|f| f.line)
            .collect()
    }

    const TWO: &str = "linux/amd64,linux/arm64";

    /// Correct multi-arch patterns: nothing is reported.
    #[test]
    fn names_chosen_per_architecture_are_not_flagged() {
        let cases = [
            (
                "case on dpkg --print-architecture, URLs in the arms",
                "FROM debian\nRUN set -eux; arch=\"$(dpkg --print-architecture)\"; \\\n  case \"$arch\" in \\\n    amd64) url='https://dl.example/go1.linux-amd64.tar.gz' ;; \\\n    arm64) url='https://dl.example/go1.linux-arm64.tar.gz' ;; \\\n    *) echo unsupported; exit 1 ;; \\\n  esac; \\\n  curl -fsSL \"$url\" | tar -xz\n",
            ),
            (
                "case on apk --print-arch with x86_64 and aarch64 arms",
                "FROM alpine\nRUN apkArch=\"$(apk --print-arch)\"; case \"$apkArch\" in x86_64) f=tool-x86_64.tgz;; aarch64) f=tool-aarch64.tgz;; esac; wget https://example.com/$f\n",
            ),
            (
                "case on uname -m",
                "FROM alpine\nRUN case $(uname -m) in x86_64) curl -O https://e.x/t-x86_64.zip;; aarch64) curl -O https://e.x/t-aarch64.zip;; esac\n",
            ),
            (
                "case on $TARGETPLATFORM with linux/amd64 patterns",
                "FROM alpine\nARG TARGETPLATFORM\nRUN case \"$TARGETPLATFORM\" in \\\n \"linux/amd64\") A=https://e.x/t-x64.tar.xz ;; \\\n \"linux/arm64\") A=https://e.x/t-arm64.tar.xz ;; \\\n esac && wget $A\n",
            ),
            (
                "case arms on a variable of any name, with alternatives",
                "FROM debian\nRUN case \"$X\" in amd64|x86_64) u=https://e.x/a/x86_64/t.deb ;; arm64|aarch64) u=https://e.x/a/aarch64/t.deb ;; esac\n",
            ),
            (
                "if on $TARGETARCH",
                "FROM alpine\nARG TARGETARCH\nRUN if [ \"$TARGETARCH\" = amd64 ]; then curl -O https://e.x/t-linux-x86_64.tgz; \\\n  elif [ \"$TARGETARCH\" = arm64 ]; then curl -O https://e.x/t-linux-aarch64.tgz; fi\n",
            ),
            (
                "test chain on uname -m",
                "FROM alpine\nRUN [ \"$(uname -m)\" = x86_64 ] && curl -O https://e.x/t-x86_64.tgz || true\n",
            ),
            (
                "a pipeline comparing uname -m, and a node one-liner, before || and &&",
                "FROM debian\nRUN uname -m | grep -q x86_64 && curl -O https://e.x/t-x86_64.tgz; true\nRUN node -p \"process.arch === 'arm64' ? 'skip: https://e.x/1' : process.exit(1)\" || \\\n  (wget -O /t.deb https://e.x/chrome_amd64.deb && dpkg -i /t.deb ; rm /t.deb)\n",
            ),
            (
                "lookup table keyed by architecture",
                "FROM debian\nRUN url_amd64=https://e.x/t-x86_64.tgz; url_arm64=https://e.x/t-aarch64.tgz; \\\n  eval \"url=\\$url_$(dpkg --print-architecture)\"; curl -O \"$url\"\n",
            ),
            (
                "bash associative array and a JSON table",
                "FROM debian\nRUN declare -A u=([amd64]=https://e.x/x86_64.tgz [arm64]=https://e.x/aarch64.tgz)\nRUN echo '{\"amd64\": \"https://e.x/x64.zip\"}' > /m.json\n",
            ),
            (
                "ARG derived from TARGETARCH",
                "FROM alpine\nARG TARGETARCH\nARG S6_ARCH=${TARGETARCH}\nRUN wget https://e.x/s6-overlay-${S6_ARCH}.tar.xz\n",
            ),
            (
                "a heredoc script with a case",
                "FROM debian\nRUN <<EOF\nset -e\ncase \"$(dpkg --print-architecture)\" in\n  amd64) curl -O https://e.x/node-v20-linux-x64.tar.xz ;;\n  arm64) curl -O https://e.x/node-v20-linux-arm64.tar.xz ;;\nesac\nEOF\n",
            ),
            (
                "a stage picked per platform may name its architecture",
                "FROM alpine AS base-amd64\nRUN wget https://e.x/t-x86_64.tgz\nFROM alpine AS base-arm64\nRUN wget https://e.x/t-aarch64.tgz\nFROM base-${TARGETARCH}\n",
            ),
            (
                "a sed mapping between spellings",
                "FROM debian\nRUN arch=$(uname -m | sed -e 's/x86_64/amd64/g' -e 's/aarch64/arm64/g') && curl -O https://e.x/t-linux-${arch}.tgz\n",
            ),
            (
                "an if on the architecture around a nested $(if …) on something else",
                "FROM debian\nRUN if [ \"$(dpkg --print-architecture)\" = \"amd64\" ]; then \\\n  U=$(if [ $V = latest ]; then echo \"https://e.x/?os=linux64\"; else echo \"https://e.x/$V/linux-x86_64/f.tar\"; fi); \\\n  else U=https://e.x/aarch64.tar; fi && wget $U\n",
            ),
            (
                "COPY of a platform-named path and a heredoc's content",
                "FROM alpine\nARG TARGETOS TARGETARCH\nCOPY bin/${TARGETOS}-${TARGETARCH}/app /app\nCOPY <<EOF /etc/arch.conf\nurl=https://e.x/x86_64/\nEOF\n",
            ),
            (
                "package names and --platform are not downloads",
                "FROM debian\nRUN apt-get install -y gcc-x86-64-linux-gnu libc6:amd64 && docker pull --platform=linux/amd64 x\n",
            ),
        ];
        for (name, text) in cases {
            assert_eq!(flagged(text, TWO), Vec::<u32>::new(), "{name}");
        }
    }

    /// Hard-coded downloads: reported, with the spellings real files use.
    #[test]
    fn hard_coded_names_are_flagged() {
        let cases = [
            (
                "Node.js x64",
                "FROM debian\nRUN curl -O https://nodejs.org/dist/v20.0.0/node-v20.0.0-linux-x64.tar.xz\n",
                2,
            ),
            ("linux64", "FROM debian\nRUN wget https://e.x/chromedriver_linux64.zip\n", 2),
            (
                "x64 in a quoted query",
                "FROM alpine\nRUN curl -o t.tgz -L \"https://e.x/dl?os=linux&arch=x64\"\n",
                2,
            ),
            ("x86-64", "FROM debian\nRUN wget https://e.x/tool-x86-64.tar.gz\n", 2),
            ("aarch_64", "FROM debian\nRUN wget https://e.x/protoc-linux-aarch_64.zip\n", 2),
            ("armhf", "FROM debian\nRUN wget https://e.x/t_armhf.deb\n", 2),
            ("armv7l", "FROM debian\nRUN wget https://e.x/node-linux-armv7l.tar.xz\n", 2),
            ("amd64 in ADD", "FROM alpine\nADD https://e.x/t-linux-amd64 /usr/bin/t\n", 2),
            (
                "a fixed ARG in a URL",
                "FROM alpine\nARG S6_ARCH=x86_64\nRUN wget https://e.x/s6-overlay-${S6_ARCH}.tar.xz\n",
                3,
            ),
            (
                "a fixed global ARG brought into the stage",
                "ARG ARCH=amd64\nFROM alpine\nARG ARCH\nRUN wget -O /t https://e.x/t_${ARCH}\n",
                4,
            ),
            (
                "a fixed ENV",
                "FROM alpine\nENV TOOL_ARCH=aarch64\nRUN wget https://e.x/t-$TOOL_ARCH.tgz\n",
                3,
            ),
            (
                "a fixed shell variable",
                "FROM alpine\nRUN ARCH=x86_64 && curl -O https://e.x/t-${ARCH}.tgz\n",
                2,
            ),
            (
                "COPY of a path named by a fixed ARG",
                "ARG ARCH=\"amd64\"\nFROM busybox\nARG ARCH=\"amd64\"\nCOPY .build/linux-${ARCH}/app /bin/app\n",
                4,
            ),
            (
                "a fixed ENV among others, quoted with blanks",
                "FROM debian\nENV A=\"x y\" \\\n  P_ARCH=\"amd64\" B=1\nRUN curl -O \"https://e.x/p_${P_ARCH}.deb\"\n",
                4,
            ),
            (
                "a case on something else does not excuse a download",
                "FROM alpine\nRUN case \"$MODE\" in dev) x=1;; esac; wget https://e.x/t-amd64.tgz\n",
                2,
            ),
            (
                "an install before a download does not choose it",
                "FROM debian\nRUN apt-get install -y gcc-x86-64-linux-gnu && wget https://e.x/t-x86_64.tgz\n",
                2,
            ),
            (
                "reading the architecture without comparing it does not choose the download",
                "FROM debian\nRUN a=\"$(dpkg --print-architecture)\" && wget https://e.x/t_amd64.deb\n",
                2,
            ),
            (
                "a test's list ends at the `;`",
                "FROM alpine\nRUN [ \"$(uname -m)\" = x86_64 ] && echo yes; wget https://e.x/t-x86_64.tgz\n",
                2,
            ),
            (
                "after the case closes, the name is unguarded again",
                "FROM alpine\nRUN case \"$(uname -m)\" in x86_64) a=1;; esac; wget https://e.x/t-x86_64.tgz\n",
                2,
            ),
        ];
        for (name, text, line) in cases {
            assert_eq!(flagged(text, TWO), [line], "{name}");
        }
    }

    #[test]
    fn findings_say_why_and_how_to_fix() {
        let platforms = Platform::parse_list(TWO).unwrap();
        let text =
            "FROM alpine\nARG S6_ARCH=x86_64\nRUN wget https://e.x/s6-overlay-${S6_ARCH}.tar.xz\n";
        let df = parse_dockerfile(text).unwrap();
        let stages = resolve(&df, &HashMap::new(), None, &platforms).unwrap();
        let message = &lint(&df, &stages, &[], &platforms)[0].message;
        for part in [
            "`https://e.x/s6-overlay-${S6_ARCH}.tar.xz` names the architecture `x86_64` through `ARG S6_ARCH=x86_64` (line 2)",
            "built for linux/amd64,linux/arm64, so the linux/arm64 image",
            "Derive S6_ARCH from `$TARGETARCH`",
            "amd64) S6_ARCH=x86_64;; arm64) S6_ARCH=aarch64;;",
        ] {
            assert!(message.contains(part), "{part} in {message}");
        }
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn words_respect_word_boundaries() {
        let cases = [
            ("tool-linux-amd64.tar.gz", "amd64", true),
            ("tool_linux_amd64.zip", "amd64", true),
            ("x86_64-linux-gnu", "x86_64", true),
            ("node-v20-linux-armv7l.tar.xz", "armv7", false),
            ("node-v20-linux-armv7l.tar.xz", "armv7l", true),
            ("arm64v8/alpine", "arm64", false),
            ("pamd64", "amd64", false),
            ("linux-x64.tar", "x64", true),
            ("x64dbg", "x64", false),
        ];
        for (text, word, expected) in cases {
            assert_eq!(contains_word(text, word), expected, "{word} in {text}");
        }
    }
}
