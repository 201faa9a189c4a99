//! Lints for multi-platform builds: downloads that name one architecture in
//! a stage built for several, and compilers that would run under QEMU
//! emulation where a cross-compiling `--platform=$BUILDPLATFORM` stage would
//! run natively (for Go, Rust and C with the rewrite spelled out on the
//! stage's FROM line).

use super::dockerfile::{Dockerfile, Instruction};
use super::resolve::{ResolvedStage, StagePlatform};
use super::rewrite::{self, Toolchain};
use crate::buildx::progress::PlatformTime;
use crate::platform::{self, Platform};

/// One lint result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: u32,
    pub title: String,
    pub message: String,
}

pub(crate) const ARCH_TITLE: &str = "Hard-coded architecture in a multi-platform stage";
pub(crate) const EMULATION_TITLE: &str = "Build step runs under QEMU emulation";
pub(crate) const REWRITE_TITLE: &str = "Cross-compile this stage instead of compiling under QEMU";
pub(crate) const MEASURED_TITLE: &str = "Time this build spent under QEMU";

impl Finding {
    /// True for the cross-compiling rewrite of a stage (on its FROM line).
    pub fn is_rewrite(&self) -> bool {
        self.title == REWRITE_TITLE
    }
}

/// Checks the stages `resolve` returned. `platforms` are the requested
/// platforms; `emulated` those of them this machine runs only under QEMU.
///
/// * In a stage built per target platform, a URL or file name in RUN or ADD
///   that names an architecture (`linux-amd64.tar.gz`) is reported when a
///   requested platform has another architecture — always so when several
///   architectures are requested. Tokens using `$TARGETARCH` or
///   `$TARGETPLATFORM` are not.
/// * In a stage built per target platform while `emulated` is not empty, and
///   in a stage fixed to an emulated platform, a RUN that compiles or
///   installs dependencies (`go build`, `make`, `cargo build`, `npm ci`…) is
///   reported. `--platform=$BUILDPLATFORM` stages run natively and are not.
///   Where the compiler is Go's, Rust's or a C compiler and the stage is
///   built per target platform, the finding is instead the stage's
///   cross-compiling rewrite, on its FROM line, once per stage.
///
/// At most one finding of each kind per instruction; sorted by line.
pub fn lint(df: &Dockerfile, stages: &[ResolvedStage], emulated: &[Platform], platforms: &[Platform]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for resolved in stages {
        let Some(stage) = df.stages.get(resolved.index) else {
            continue;
        };
        let emulated_here: Vec<Platform> = match &resolved.runs_on {
            StagePlatform::Target => emulated.to_vec(),
            StagePlatform::Fixed(fixed) => {
                if emulated.iter().any(|e| e.runs_on(fixed)) {
                    vec![fixed.clone()]
                } else {
                    Vec::new()
                }
            }
            StagePlatform::Build => Vec::new(),
        };
        let mut rewritten = false;
        for instruction in &stage.instructions {
            let keyword = instruction.keyword.as_str();
            if resolved.runs_on == StagePlatform::Target && matches!(keyword, "RUN" | "ADD") {
                findings.extend(arch_finding(instruction, platforms));
            }
            if keyword != "RUN" || emulated_here.is_empty() {
                continue;
            }
            let Some(tool) = build_tool(instruction) else { continue };
            match Toolchain::of(&tool) {
                Some(toolchain) if resolved.runs_on == StagePlatform::Target => {
                    if !rewritten {
                        rewritten = true;
                        findings.push(Finding {
                            line: stage.from_line,
                            title: REWRITE_TITLE.to_string(),
                            message: rewrite::advice(stage, instruction, &tool, toolchain, &emulated_here, platforms),
                        });
                    }
                }
                _ => findings.push(emulation_finding(instruction.line, &tool, &emulated_here)),
            }
        }
    }
    findings.sort_by_key(|f| f.line);
    findings
}

/// Architecture words and the architecture each stands for.
const ARCH_WORDS: &[(&str, &str)] = &[
    ("amd64", "amd64"),
    ("x86_64", "amd64"),
    ("x86-64", "amd64"),
    ("aarch64", "arm64"),
    ("arm64", "arm64"),
    ("armhf", "arm"),
    ("armv7", "arm"),
    ("armv7l", "arm"),
];

fn is_token_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | ';' | '|' | '&' | '(' | ')' | '<' | '>' | '`')
}

fn uses_target_platform(token: &str) -> bool {
    ["TARGETARCH", "TARGETPLATFORM"].iter().any(|n| token.contains(&format!("${n}")) || token.contains(&format!("${{{n}")))
}

/// True when `word` occurs in `text` with no letter or digit either side.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

fn arch_finding(instruction: &Instruction, platforms: &[Platform]) -> Option<Finding> {
    let mut hits: Vec<(&str, &str, &str)> = Vec::new();
    for token in instruction.args().split(is_token_separator) {
        if !(token.contains('/') || token.contains('.')) || uses_target_platform(token) {
            continue;
        }
        let lower = token.to_ascii_lowercase();
        let found = ARCH_WORDS.iter().find(|(word, _)| contains_word(&lower, word));
        if let Some((word, arch)) = found
            && platforms.iter().any(|p| p.arch != *arch)
        {
            hits.push((token, word, arch));
        }
    }
    let (token, word, arch) = *hits.first()?;
    let wrong: Vec<Platform> = platforms.iter().filter(|p| p.arch != arch).cloned().collect();
    let more = match hits.len() {
        1 => String::new(),
        2 => " (and 1 more name like it)".to_string(),
        n => format!(" (and {} more names like it)", n - 1),
    };
    Some(Finding {
        line: instruction.line,
        title: ARCH_TITLE.to_string(),
        message: format!(
            "`{token}`{more} names the architecture `{word}`, but this stage is built once for each \
             requested platform ({}), so the {} image would get the {word} file. Use `$TARGETARCH` \
             in the name (declare `ARG TARGETARCH` in the stage), or map `$TARGETPLATFORM` to the \
             name the download uses.",
            platform::join(platforms),
            platform::join(&wrong),
        ),
    })
}

fn emulation_finding(line: u32, tool: &str, emulated: &[Platform]) -> Finding {
    Finding {
        line,
        title: EMULATION_TITLE.to_string(),
        message: format!(
            "`{tool}` will run under QEMU emulation for {}, several times slower than natively. A \
             `FROM --platform=$BUILDPLATFORM` stage that cross-compiles (using `$TARGETOS`/`$TARGETARCH`) \
             and hands its output to this stage with `COPY --from` runs natively instead.",
            platform::join(emulated),
        ),
    }
}

/// After the build: what share of each emulated platform's time went to
/// steps run under QEMU, from the build's own timings (the summary's "where
/// the time went"), one finding on each FROM line `rewrites` names; none
/// when no step ran under QEMU (a cached build, say).
pub fn measured_under_qemu(rewrites: &[u32], timings: &[PlatformTime]) -> Vec<Finding> {
    let parts: Vec<String> = timings
        .iter()
        .filter(|t| t.emulated_seconds > 0.0 && t.wall_seconds > 0.0)
        .map(|t| {
            format!(
                "{} {:.1}s of {:.1}s ({:.0}%)",
                t.platform,
                t.emulated_seconds,
                t.wall_seconds,
                100.0 * t.emulated_seconds / t.wall_seconds
            )
        })
        .collect();
    if parts.is_empty() {
        return Vec::new();
    }
    let message = format!(
        "This build ran steps under QEMU emulation for {}; the cross-compiling form of this stage, suggested before the \
         build, runs them natively.",
        parts.join(", ")
    );
    rewrites.iter().map(|&line| Finding { line, title: MEASURED_TITLE.to_string(), message: message.clone() }).collect()
}

/// Splits shell text into simple commands (words with quotes removed),
/// breaking at `;`, `&`, `|`, parentheses, backquotes and newlines. In the
/// JSON exec form `[`, `]` and `,` separate words too.
fn simple_commands(text: &str, json: bool) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    let end_word = |words: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' && q == '"' {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_word = true;
            }
            '\\' => {
                if let Some(next) = chars.next()
                    && next != '\n'
                {
                    word.push(next);
                    in_word = true;
                }
            }
            ';' | '&' | '|' | '(' | ')' | '`' | '\n' => {
                end_word(&mut words, &mut word, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            '[' | ']' | ',' if json => end_word(&mut words, &mut word, &mut in_word),
            c if c.is_whitespace() => end_word(&mut words, &mut word, &mut in_word),
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut words, &mut word, &mut in_word);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

const SHELL_KEYWORDS: &[&str] = &["if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"];
const WRAPPERS: &[&str] = &["sudo", "env", "time", "exec", "nice", "nohup", "command"];
const TOOLS: &[&str] = &[
    "gcc", "g++", "cc", "c++", "clang", "clang++", "rustc", "make", "gmake", "cmake", "ninja", "mvn", "mvnw", "gradle", "gradlew", "yarn",
];
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash"];

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// The compiler or build tool a RUN invokes, as shown to the user.
fn build_tool(instruction: &Instruction) -> Option<String> {
    let args = instruction.args();
    let json = args.starts_with('[');
    simple_commands(args, json).iter().find_map(|command| tool_in(command, 0))
}

fn tool_in(words: &[String], depth: usize) -> Option<String> {
    let mut k = 0;
    while let Some(word) = words.get(k) {
        if is_assignment(word) || SHELL_KEYWORDS.contains(&word.as_str()) {
            k += 1;
        } else if WRAPPERS.contains(&basename(word)) {
            k += 1;
            while words.get(k).is_some_and(|w| w.starts_with('-')) {
                k += 1;
            }
        } else {
            break;
        }
    }
    let name = basename(words.get(k)?);
    let rest: Vec<&str> = words[k + 1..].iter().map(String::as_str).collect();
    let sub = rest.first().copied();
    let with_sub = |subs: &[&str]| sub.filter(|s| subs.contains(s)).map(|s| format!("{name} {s}"));
    match name {
        _ if TOOLS.contains(&name) => Some(name.to_string()),
        "go" => with_sub(&["build", "install"]),
        "npm" => with_sub(&["ci", "install", "i"]),
        "pip" | "pip3" => with_sub(&["install"]),
        "dotnet" => with_sub(&["build", "publish"]),
        "cargo" => {
            rest.iter().find(|w| !w.starts_with('+')).filter(|w| matches!(**w, "build" | "install" | "b")).map(|w| format!("cargo {w}"))
        }
        "python" | "python3" => match rest.as_slice() {
            ["-m", pip, "install", ..] if pip.starts_with("pip") => Some(format!("{name} -m {pip} install")),
            _ => None,
        },
        _ if SHELLS.contains(&name) && depth < 4 => {
            let script = rest.iter().position(|w| *w == "-c").and_then(|i| rest.get(i + 1))?;
            simple_commands(script, false).iter().find_map(|command| tool_in(command, depth + 1))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::{parse_dockerfile, resolve};
    use std::collections::HashMap;

    fn platforms(list: &str) -> Vec<Platform> {
        Platform::parse_list(list).unwrap()
    }

    /// (line, title) of each finding.
    fn check(text: &str, emulated: &str, requested: &str) -> Vec<(u32, &'static str)> {
        let df = parse_dockerfile(text).unwrap();
        let stages = resolve(&df, &HashMap::new(), None).unwrap();
        lint(&df, &stages, &platforms(emulated), &platforms(requested))
            .into_iter()
            .map(|f| {
                let title = [ARCH_TITLE, REWRITE_TITLE].into_iter().find(|t| *t == f.title).unwrap_or(EMULATION_TITLE);
                (f.line, title)
            })
            .collect()
    }

    const GO_CROSS_COMPILE: &str = "\
# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \\
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app ./cmd/app
RUN curl -fsSL https://example.com/protoc-linux-x86_64.zip -o /tmp/protoc.zip

FROM alpine:3.19
RUN apk add --no-cache ca-certificates
COPY --from=build /out/app /usr/local/bin/app
ENTRYPOINT [\"/usr/local/bin/app\"]
";

    #[test]
    fn findings_by_case() {
        const A: &str = ARCH_TITLE;
        const E: &str = EMULATION_TITLE;
        const R: &str = REWRITE_TITLE;
        let two = "linux/amd64,linux/arm64";
        /// (name, Dockerfile, emulated, requested, expected findings)
        type Case = (&'static str, &'static str, &'static str, &'static str, &'static [(u32, &'static str)]);
        let cases: [Case; 24] = [
            (
                "arch word in a download URL",
                "FROM alpine\nRUN apk add curl\nRUN curl -fsSL https://github.com/o/t/releases/download/v1/t-linux-amd64.tar.gz | tar xz\n",
                "",
                two,
                &[(3, A)],
            ),
            ("ADD of a URL, aarch64 spelling", "FROM alpine\nADD https://example.com/tool-aarch64.tgz /opt/\n", "", two, &[(2, A)]),
            ("file path naming x86_64", "FROM debian\nRUN ln -s /usr/lib/x86_64-linux-gnu/libz.so /usr/lib/libz.so\n", "", two, &[(2, A)]),
            (
                "$TARGETARCH in the token",
                "FROM alpine\nARG TARGETARCH\nRUN curl -fsSL https://example.com/t-linux-${TARGETARCH}.tar.gz | tar xz\nRUN curl -o t https://example.com/amd64/$TARGETARCH/t\n",
                "",
                two,
                &[],
            ),
            (
                "$TARGETPLATFORM in the token",
                "FROM alpine\nRUN curl -O \"https://example.com/${TARGETPLATFORM}/amd64.tgz\"\n",
                "",
                two,
                &[],
            ),
            (
                "package names and non-file words are not downloads",
                "FROM debian\nRUN dpkg --add-architecture arm64 && apt-get install -y gcc-aarch64-linux-gnu\n",
                "",
                two,
                &[],
            ),
            ("one platform of the same architecture", "FROM alpine\nRUN wget https://example.com/t_amd64.deb\n", "", "linux/amd64", &[]),
            (
                "one platform of another architecture",
                "FROM alpine\nRUN wget https://example.com/t_amd64.deb\n",
                "",
                "linux/arm64",
                &[(2, A)],
            ),
            (
                "a fixed-platform stage may name its architecture",
                "FROM --platform=linux/amd64 alpine AS dl\nRUN wget https://example.com/t_amd64.deb\nFROM alpine\nCOPY --from=dl /t /t\n",
                "",
                two,
                &[],
            ),
            (
                "one finding per line and kind",
                "FROM alpine\nRUN curl https://a/x-amd64.tgz https://b/y-x86_64.tgz && make && make install && gcc x.c\n",
                "linux/arm64",
                two,
                &[(2, A), (2, E)],
            ),
            (
                "Go compiler in a target stage under emulation: the rewrite on FROM",
                "FROM golang:1.22\nWORKDIR /src\nCOPY Makefile .\nRUN go build -o /app .\nRUN remake && cat Makefile\n",
                "linux/arm64",
                two,
                &[(1, R)],
            ),
            (
                "the guide's two-stage Go build",
                "ARG GOLANG_IMAGE=golang:1.24\nFROM ${GOLANG_IMAGE} AS builder\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/hello .\nFROM scratch\nCOPY --from=builder /out/hello /hello\n",
                "linux/arm64,linux/arm/v7",
                "linux/amd64,linux/arm64,linux/arm/v7",
                &[(2, R)],
            ),
            (
                "one rewrite per stage, other tools on their lines",
                "FROM rust:1 AS build\nRUN cargo build --release\nRUN cargo install cargo-auditable\nRUN make docs\nFROM debian\nCOPY --from=build /x /x\nRUN gcc -o /x x.c\n",
                "linux/arm64",
                two,
                &[(1, R), (4, E), (5, R)],
            ),
            (
                "a fixed emulated stage keeps the step's finding",
                "FROM --platform=linux/arm64 golang AS arm\nRUN go build .\nFROM alpine\nCOPY --from=arm /x /x\n",
                "linux/arm64",
                two,
                &[(2, E)],
            ),
            ("the Go rewrite needs an emulated platform", "FROM golang\nRUN go build .\n", "", two, &[]),
            (
                "the cross-compiling example",
                "ARG GOLANG_IMAGE=golang:1.24\nFROM --platform=$BUILDPLATFORM ${GOLANG_IMAGE} AS builder\nARG TARGETOS TARGETARCH TARGETVARIANT\nRUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} go build -o /out/hello .\nFROM scratch\nCOPY --from=builder /out/hello /hello\n",
                "linux/arm64,linux/arm/v7",
                "linux/amd64,linux/arm64,linux/arm/v7",
                &[],
            ),
            (
                "compiler in a build-platform stage",
                "FROM --platform=$BUILDPLATFORM rust:1 AS build\nRUN cargo build --release\nFROM debian\nCOPY --from=build /t /t\n",
                "linux/arm64",
                two,
                &[],
            ),
            (
                "stage inheriting the build platform",
                "FROM --platform=$BUILDPLATFORM node:20 AS base\nFROM base AS deps\nRUN npm ci\nFROM nginx\nCOPY --from=deps /app /usr/share/nginx/html\n",
                "linux/arm64",
                two,
                &[],
            ),
            (
                "several build tools, each line once",
                "FROM debian\nRUN apt-get install -y make gcc\nRUN ./configure && make\nRUN cmake --build . && ninja\nRUN pip install -r req.txt\nRUN [\"dotnet\", \"publish\"]\n",
                "linux/arm/v7",
                "linux/amd64,linux/arm/v7",
                &[(3, E), (4, E), (5, E), (6, E)],
            ),
            ("heredoc body is checked", "FROM debian\nRUN <<EOF\nset -e\nmake -j4\nEOF\n", "linux/arm64", two, &[(2, E)]),
            (
                "fixed emulated platform",
                "FROM --platform=linux/arm64 debian AS arm\nRUN make\nFROM alpine\nCOPY --from=arm /x /x\n",
                "linux/arm64",
                two,
                &[(2, E)],
            ),
            (
                "fixed native platform",
                "FROM --platform=linux/amd64 debian AS amd\nRUN make\nFROM alpine\nCOPY --from=amd /x /x\n",
                "linux/arm64",
                two,
                &[],
            ),
            (
                "unreachable stages are not checked",
                "FROM debian AS old\nRUN make\nRUN curl https://x/t-amd64.tgz\nFROM alpine\n",
                "linux/arm64",
                two,
                &[],
            ),
            ("the classic Go cross-compile", GO_CROSS_COMPILE, "linux/arm64", two, &[]),
        ];
        for (name, text, emulated, requested, expected) in cases {
            assert_eq!(check(text, emulated, requested), expected, "{name}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let text = "FROM alpine\nRUN curl -fsSL https://x/t-linux-amd64.tar.gz | tar xz\nRUN make all\n";
        let df = parse_dockerfile(text).unwrap();
        let stages = resolve(&df, &HashMap::new(), None).unwrap();
        let findings = lint(&df, &stages, &platforms("linux/arm64,linux/arm/v7"), &platforms("linux/amd64,linux/arm64,linux/arm/v7"));
        assert_eq!(findings.len(), 2);
        let arch = &findings[0].message;
        for part in [
            "`https://x/t-linux-amd64.tar.gz`",
            "architecture `amd64`",
            "linux/amd64,linux/arm64,linux/arm/v7",
            "the linux/arm64,linux/arm/v7 image",
            "$TARGETARCH",
            "$TARGETPLATFORM",
        ] {
            assert!(arch.contains(part), "{part} in {arch}");
        }
        let emulation = &findings[1].message;
        assert_eq!(findings[1].line, 3);
        for part in ["`make`", "QEMU emulation for linux/arm64,linux/arm/v7", "FROM --platform=$BUILDPLATFORM", "runs natively instead"] {
            assert!(emulation.contains(part), "{part} in {emulation}");
        }
    }

    #[test]
    fn the_measured_share_goes_on_each_rewritten_from_line() {
        let time = |platform: &str, wall: f64, emulated: f64| PlatformTime {
            platform: Platform::parse(platform).unwrap(),
            wall_seconds: wall,
            emulated_seconds: emulated,
        };
        let timings = [time("linux/amd64", 30.0, 0.0), time("linux/arm64", 200.0, 180.0), time("linux/arm/v7", 250.0, 240.0)];
        let findings = measured_under_qemu(&[2, 9], &timings);
        assert_eq!(findings.iter().map(|f| f.line).collect::<Vec<_>>(), [2, 9]);
        assert_eq!(
            findings[0].message,
            "This build ran steps under QEMU emulation for linux/arm64 180.0s of 200.0s (90%), linux/arm/v7 240.0s of 250.0s \
             (96%); the cross-compiling form of this stage, suggested before the build, runs them natively."
        );
        assert_eq!(findings[0].title, MEASURED_TITLE);
        assert!(measured_under_qemu(&[2], &[time("linux/arm64", 3.0, 0.0)]).is_empty(), "a cached build ran nothing emulated");
        assert!(measured_under_qemu(&[], &timings).is_empty(), "no rewrite, no note");
    }

    fn words(text: &str) -> Vec<Vec<String>> {
        simple_commands(text, text.starts_with('['))
    }

    #[test]
    fn tools_found_in_command_position_only() {
        let cases: [(&str, Option<&str>); 18] = [
            ("make", Some("make")),
            ("./configure && make -j4 && make install", Some("make")),
            ("CGO_ENABLED=0 GOOS=linux go build -o /app .", Some("go build")),
            ("go mod download", None),
            ("go install ./cmd/x", Some("go install")),
            ("apt-get install -y make gcc", None),
            ("remake all", None),
            ("cat Makefile", None),
            ("/usr/bin/gcc -O2 x.c", Some("gcc")),
            ("cargo +nightly build --release", Some("cargo build")),
            ("cargo fetch", None),
            ("npm ci --omit=dev", Some("npm ci")),
            ("python3 -m pip install -r requirements.txt", Some("python3 -m pip install")),
            ("sudo -E make", Some("make")),
            ("sh -c \"cd src && cmake --build .\"", Some("cmake")),
            ("[\"dotnet\", \"publish\", \"-c\", \"Release\"]", Some("dotnet publish")),
            ("if true; then ./gradlew build; fi", Some("gradlew")),
            ("echo make", None),
        ];
        for (text, expected) in cases {
            let found = words(text).iter().find_map(|c| tool_in(c, 0));
            assert_eq!(found.as_deref(), expected, "{text}");
        }
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
        ];
        for (text, word, expected) in cases {
            assert_eq!(contains_word(text, word), expected, "{word} in {text}");
        }
    }
}
