//! Lints for multi-platform builds: downloads that name one architecture in
//! a stage built for several, and compilers that would run under QEMU
//! emulation where a cross-compiling `--platform=$BUILDPLATFORM` stage would
//! run natively (for Go, Rust and C with the rewrite spelled out on the
//! stage's FROM line).

use super::arch;
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
///   that names an architecture (`linux-amd64.tar.gz`), directly or through
///   a fixed variable, is reported when a platform the stage is built for
///   has another architecture ([`arch`] says which names the file chooses
///   per architecture and are not).
/// * In a stage built per target platform while `emulated` is not empty, and
///   in a stage fixed to an emulated platform, a RUN that compiles or
///   installs dependencies (`go build`, `make`, `cargo build`, `npm ci`…) is
///   reported. `--platform=$BUILDPLATFORM` stages run natively and are not.
///   Where the compiler is Go's, Rust's or a C compiler and the stage is
///   built per target platform, the finding is instead the stage's
///   cross-compiling rewrite, on its FROM line, once per stage.
///
/// At most one finding of each kind per instruction; sorted by line.
pub fn lint(
    df: &Dockerfile,
    stages: &[ResolvedStage],
    emulated: &[Platform],
    platforms: &[Platform],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for resolved in stages {
        let Some(stage) = df.stages.get(resolved.index) else {
            continue;
        };
        let targets = resolved.targets_or(platforms);
        let emulated_here = emulated_in(resolved, emulated, platforms);
        let mut rewritten = false;
        for instruction in &stage.instructions {
            let keyword = instruction.keyword.as_str();
            if resolved.runs_on == StagePlatform::Target
                && matches!(keyword, "RUN" | "ADD" | "COPY")
            {
                let fixed = arch::fixed_variables(stage, instruction.line, &df.global_args);
                findings.extend(arch::arch_finding(instruction, targets, &fixed));
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
                            message: rewrite::advice(
                                stage,
                                instruction,
                                &tool,
                                toolchain,
                                &emulated_here,
                                platforms,
                            ),
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

/// The platforms of `emulated` the stage runs on: those it is built for
/// when it is built per target platform, its own when it is fixed to one.
pub(super) fn emulated_in(
    resolved: &ResolvedStage,
    emulated: &[Platform],
    platforms: &[Platform],
) -> Vec<Platform> {
    let targets = resolved.targets_or(platforms);
    match &resolved.runs_on {
        StagePlatform::Target => emulated.iter().filter(|e| targets.contains(e)).cloned().collect(),
        StagePlatform::Fixed(fixed) => {
            if emulated.iter().any(|e| e.runs_on(fixed)) {
                vec![fixed.clone()]
            } else {
                Vec::new()
            }
        }
        StagePlatform::Build => Vec::new(),
    }
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
///
/// `cross_compiles`: whether `cross-compile: auto` was on (and so its
/// cross-compiling build was not used, or not possible).
pub(crate) fn measured_under_qemu(
    rewrites: &[u32],
    timings: &[PlatformTime],
    cross_compiles: bool,
) -> Vec<Finding> {
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
    let action = if cross_compiles {
        "`cross-compile: auto` did not use it here; the log says why"
    } else {
        "with `cross-compile: auto` the action builds it so for you, and uses it when the architecture scan finds every binary right"
    };
    let message = format!(
        "This build ran steps under QEMU emulation for {}; the cross-compiling form of this stage, suggested before the \
         build, runs them natively ({action}).",
        parts.join(", ")
    );
    rewrites
        .iter()
        .map(|&line| Finding { line, title: MEASURED_TITLE.to_string(), message: message.clone() })
        .collect()
}

/// Splits shell text into simple commands (words with quotes removed),
/// breaking at `;`, `&`, `|`, parentheses, backquotes and newlines. In the
/// JSON exec form `[`, `]` and `,` separate words too.
pub(super) fn simple_commands(text: &str, json: bool) -> Vec<Vec<String>> {
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

pub(super) fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

const SHELL_KEYWORDS: &[&str] =
    &["if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"];
const WRAPPERS: &[&str] = &["sudo", "env", "time", "exec", "nice", "nohup", "command"];
const TOOLS: &[&str] = &[
    "gcc", "g++", "cc", "c++", "clang", "clang++", "rustc", "make", "gmake", "cmake", "ninja",
    "mvn", "mvnw", "gradle", "gradlew", "yarn",
];
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash"];

pub(super) fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// The compiler or build tool a RUN invokes, as shown to the user.
fn build_tool(instruction: &Instruction) -> Option<String> {
    let args = instruction.args();
    let json = args.starts_with('[');
    simple_commands(args, json).iter().find_map(|command| tool_in(command, 0))
}

/// Where a simple command's program is: past leading assignments, shell
/// keywords and wrappers (`sudo`, `env -i`…).
pub(super) fn command_start(words: &[String]) -> usize {
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
    k
}

/// The script of `sh -c SCRIPT` (or bash, ash, dash): the words from the
/// program on.
pub(super) fn shell_script(command: &[String]) -> Option<&str> {
    let (program, rest) = command.split_first()?;
    if !SHELLS.contains(&basename(program)) {
        return None;
    }
    rest.iter().position(|w| w == "-c").and_then(|i| rest.get(i + 1)).map(String::as_str)
}

pub(super) fn tool_in(words: &[String], depth: usize) -> Option<String> {
    let k = command_start(words);
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
        "cargo" => rest
            .iter()
            .find(|w| !w.starts_with('+'))
            .filter(|w| matches!(**w, "build" | "install" | "b"))
            .map(|w| format!("cargo {w}")),
        "python" | "python3" => match rest.as_slice() {
            ["-m", pip, "install", ..] if pip.starts_with("pip") => {
                Some(format!("{name} -m {pip} install"))
            }
            _ => None,
        },
        _ if depth < 4 => {
            let script = shell_script(&words[k..])?;
            simple_commands(script, false).iter().find_map(|command| tool_in(command, depth + 1))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
