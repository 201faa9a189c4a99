//! `cross-compile: auto`: the Dockerfile the action builds in place of the
//! user's when a Go stage built per target platform compiles under QEMU.
//! Such a stage runs on the build platform instead (`FROM
//! --platform=$BUILDPLATFORM`), declares the target's ARGs, and each `go
//! build` in it gets `GOOS`, `GOARCH` and `GOARM` for that command only; a
//! tool the stage installs and then runs keeps running natively. A stage
//! whose rewrite could not be trusted (cgo, another compiler, `go install`
//! of a program the image keeps, a base chosen per target) is kept as
//! written, with the reason. Text in, text out: the build and the
//! architecture scan decide whether the rewrite is used.

use std::sync::LazyLock;

use regex::Regex;

use super::dockerfile::{Dockerfile, Instruction, Stage};
use super::lint::{basename, command_start, emulated_in, shell_script, simple_commands, tool_in};
use super::resolve::{ResolvedStage, StagePlatform};
use super::rewrite::{GO_SETTINGS, Toolchain, go_env};
use crate::platform::Platform;

/// What `cross-compile: auto` makes of a Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CrossCompile {
    /// The Dockerfile to build instead, when a stage was rewritten.
    pub(crate) text: Option<String>,
    /// The lines of the user's Dockerfile the rewrite changes.
    pub(crate) changed: Vec<u32>,
    /// The Go stages kept as written: each FROM line, and why.
    pub(crate) kept: Vec<(u32, String)>,
}

impl CrossCompile {
    /// Whether a Go stage compiles under QEMU at all.
    pub(crate) fn applies(&self) -> bool {
        self.text.is_some() || !self.kept.is_empty()
    }

    /// The kept stages' reasons, as one sentence.
    pub(crate) fn kept_reasons(&self) -> String {
        let reasons: Vec<String> = self
            .kept
            .iter()
            .map(|(line, reason)| format!("the stage on line {line} is kept as written: {reason}"))
            .collect();
        reasons.join("; ")
    }
}

/// The cross-compiling form of `text` (parsed as `df`, its stages resolved
/// as `stages`) for `platforms`, of which this machine runs `emulated` only
/// under QEMU.
pub(crate) fn cross_compile(
    text: &str,
    df: &Dockerfile,
    stages: &[ResolvedStage],
    emulated: &[Platform],
    platforms: &[Platform],
) -> CrossCompile {
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(body) => ("\u{feff}", body),
        None => ("", text),
    };
    let lines: Vec<&str> = body.split('\n').collect();
    let (args, env) = go_env(platforms);
    let mut edits = Vec::new();
    let mut outcome = CrossCompile::default();
    for resolved in stages {
        let Some(stage) = df.stages.get(resolved.index) else { continue };
        if resolved.runs_on != StagePlatform::Target
            || emulated_in(resolved, emulated, platforms).is_empty()
            || !compiles_go(stage)
        {
            continue;
        }
        match stage_edits(stage, &lines, df.escape, args, env) {
            Ok(stage_edits) => {
                outcome.changed.extend(stage_edits.iter().filter_map(Edit::changed_line));
                edits.extend(stage_edits);
            }
            Err(reason) => outcome.kept.push((stage.from_line, reason)),
        }
    }
    if !edits.is_empty() {
        outcome.text = Some(format!("{bom}{}", apply(&lines, &edits)));
    }
    outcome.changed.sort_unstable();
    outcome
}

/// A unified diff from the user's Dockerfile (`name`) to the one built.
pub(crate) fn diff(name: &str, original: &str, rewritten: &str) -> String {
    similar::TextDiff::from_lines(original, rewritten)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// One change to the text, by the user's line numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Edit {
    Replace(u32, String),
    InsertAfter(u32, String),
}

impl Edit {
    fn changed_line(&self) -> Option<u32> {
        match self {
            Edit::Replace(line, _) => Some(*line),
            Edit::InsertAfter(..) => None,
        }
    }
}

fn apply(lines: &[&str], edits: &[Edit]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + edits.len());
    for (at, line) in lines.iter().enumerate() {
        let number = u32::try_from(at + 1).unwrap_or(u32::MAX);
        let cr = if line.ends_with('\r') { "\r" } else { "" };
        let replaced = edits.iter().find_map(|e| match e {
            Edit::Replace(n, text) if *n == number => Some(format!("{text}{cr}")),
            _ => None,
        });
        out.push(replaced.unwrap_or_else(|| line.to_string()));
        for edit in edits {
            if let Edit::InsertAfter(n, text) = edit
                && *n == number
            {
                out.push(format!("{text}{cr}"));
            }
        }
    }
    out.join("\n")
}

/// Whether a RUN of the stage calls `go build` or `go install`.
fn compiles_go(stage: &Stage) -> bool {
    stage.instructions.iter().any(|i| {
        i.keyword == "RUN"
            && commands(i).iter().any(|c| matches!(c, Command::GoBuild | Command::GoInstall(_)))
    })
}

/// A simple command of a RUN, as the rewrite sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    GoBuild,
    /// `go install PACKAGE`: the name of the program it installs.
    GoInstall(String),
    /// Another compiler or build tool.
    OtherTool(String),
    /// Any other program, by its name.
    Runs(String),
}

/// The simple commands of a RUN, in order, `sh -c` scripts opened.
fn commands(run: &Instruction) -> Vec<Command> {
    let args = run.args();
    let mut out = Vec::new();
    collect_commands(args, args.starts_with('['), 0, &mut out);
    out
}

fn collect_commands(script: &str, json: bool, depth: usize, out: &mut Vec<Command>) {
    for words in simple_commands(script, json) {
        let words = &words[command_start(&words)..];
        let Some(program) = words.first() else { continue };
        if let Some(inner) = shell_script(words)
            && depth < 4
        {
            collect_commands(inner, false, depth + 1, out);
            continue;
        }
        let name = basename(program);
        let sub = words.get(1).map(String::as_str);
        out.push(match (name, sub) {
            ("go", Some("build")) => Command::GoBuild,
            ("go", Some("install")) => {
                let package = words[2..].iter().find(|w| !w.starts_with('-'));
                Command::GoInstall(package.map(|p| program_name(p)).unwrap_or_default())
            }
            _ => match tool_in(words, 4) {
                Some(tool) if Toolchain::of(&tool) != Some(Toolchain::Go) => {
                    Command::OtherTool(tool)
                }
                _ => Command::Runs(name.to_string()),
            },
        });
    }
}

/// The program `go install PACKAGE` writes: the package's last element,
/// without its version and major-version suffix (`…/cmd/stringer@v0.1` →
/// `stringer`, `github.com/x/tool/v2@latest` → `tool`, `./tools/gen` →
/// `gen`).
fn program_name(package: &str) -> String {
    let path = package.split('@').next().unwrap_or(package).trim_end_matches('/');
    let mut parts = path.rsplit('/');
    let last = parts.next().unwrap_or(path);
    let is_major =
        last.len() > 1 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit());
    match parts.next() {
        Some(before) if is_major => before.to_string(),
        _ => last.to_string(),
    }
}

static GO_BUILD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?P<before>^|[\s;&|(`"'])(?P<assignments>(?:[A-Za-z_][A-Za-z0-9_]*=[^\s;&|]*[ \t]+)*)go[ \t]+build\b"#,
    )
    .expect("a valid pattern")
});

/// The edits that move `stage` to the build platform, or why it is kept.
fn stage_edits(
    stage: &Stage,
    lines: &[&str],
    escape: char,
    args: &str,
    env: &str,
) -> Result<Vec<Edit>, String> {
    if stage.base.contains("TARGET") {
        return Err(format!("it chooses its base image per target platform (`{}`)", stage.base));
    }
    let from = line_text(lines, stage.from_line);
    if from.trim_end().ends_with(escape) {
        return Err(format!("its FROM instruction (line {}) spans several lines", stage.from_line));
    }
    let mut edits = vec![
        Edit::Replace(stage.from_line, native_from(from)),
        Edit::InsertAfter(stage.from_line, args.to_string()),
    ];
    let all: Vec<(u32, Vec<Command>)> = stage
        .instructions
        .iter()
        .filter(|i| i.keyword == "RUN")
        .map(|i| (i.line, commands(i)))
        .collect();
    for instruction in &stage.instructions {
        let sets_cgo = instruction.text.contains("CGO_ENABLED=1")
            || (instruction.keyword == "ENV"
                && instruction.text.split_whitespace().collect::<Vec<_>>()[..]
                    .starts_with(&["CGO_ENABLED", "1"]));
        if sets_cgo {
            return Err(format!(
                "line {} sets CGO_ENABLED=1, and cgo needs a C cross compiler for every target platform",
                instruction.line
            ));
        }
    }
    let mut builds = 0;
    for (at, (line, commands)) in all.iter().enumerate() {
        for (k, command) in commands.iter().enumerate() {
            match command {
                Command::GoBuild => builds += 1,
                Command::OtherTool(tool) => {
                    return Err(format!(
                        "line {line} runs `{tool}`, which would then build for the build platform, not for each target"
                    ));
                }
                Command::GoInstall(program) => {
                    let later = commands[k + 1..]
                        .iter()
                        .chain(all[at + 1..].iter().flat_map(|(_, c)| c.iter()));
                    let runs_it = |c: &Command| matches!(c, Command::Runs(name) if name == program);
                    if program.is_empty() || !later.clone().any(runs_it) {
                        return Err(format!(
                            "line {line}: `go install` of a program the stage does not run itself would put it, cross-compiled, in $GOPATH/bin/<os>_<arch>/ instead of $GOPATH/bin; build it with `go build -o` and the stage can be rewritten"
                        ));
                    }
                }
                Command::Runs(_) => {}
            }
        }
    }
    if builds == 0 {
        return Err(
            "its Go commands install tools it runs, and nothing in it builds for the image".into(),
        );
    }
    for instruction in stage.instructions.iter().filter(|i| i.keyword == "RUN") {
        let wanted = commands(instruction).iter().filter(|c| **c == Command::GoBuild).count();
        if wanted == 0 {
            continue;
        }
        if instruction.args().starts_with('[') {
            return Err(format!(
                "line {}: a RUN in exec form (`RUN [\"go\", …]`) cannot take the target's settings for one command",
                instruction.line
            ));
        }
        let mut placed = 0;
        for number in instruction.line..=instruction.end_line {
            let text = line_text(lines, number);
            let found = GO_BUILD.find_iter(text).count();
            if found == 0 {
                continue;
            }
            placed += found;
            let rewritten = GO_BUILD.replace_all(text, |caps: &regex::Captures<'_>| {
                let kept: Vec<&str> = caps["assignments"]
                    .split_whitespace()
                    .filter(|a| !a.split_once('=').is_some_and(|(n, _)| GO_SETTINGS.contains(&n)))
                    .collect();
                let mut out = caps["before"].to_string();
                for assignment in kept {
                    out.push_str(assignment);
                    out.push(' ');
                }
                out.push_str(env);
                out.push_str(" go build");
                out
            });
            edits.push(Edit::Replace(number, rewritten.into_owned()));
        }
        if placed != wanted {
            return Err(format!(
                "line {}: the target's settings could not be placed in front of each of its {wanted} `go build` commands",
                instruction.line
            ));
        }
    }
    Ok(edits)
}

/// Line `number` (1-based) without its carriage return.
fn line_text<'a>(lines: &[&'a str], number: u32) -> &'a str {
    let at = usize::try_from(number).unwrap_or(usize::MAX).saturating_sub(1);
    lines.get(at).copied().unwrap_or("").trim_end_matches('\r')
}

/// The FROM line with `--platform=$BUILDPLATFORM` in place of any
/// `--platform` it had; indentation, image and name as written.
fn native_from(line: &str) -> String {
    let indent = &line[..line.len() - line.trim_start().len()];
    let mut words = line.split_whitespace();
    let keyword = words.next().unwrap_or("FROM");
    let rest: Vec<&str> =
        words.filter(|w| !w.to_ascii_lowercase().starts_with("--platform")).collect();
    format!("{indent}{keyword} --platform=$BUILDPLATFORM {}", rest.join(" "))
}

#[cfg(test)]
mod tests;
