//! buildx's `--progress rawjson` stream: rendered back into the readable
//! `#N step … DONE 1.2s` log as it arrives, and summed up afterwards into
//! where the time went: each platform's wall time, how much of it ran under
//! emulation, and the slowest steps. It also keeps what the log's
//! annotations need: where in the Dockerfile a failed build failed,
//! BuildKit's warnings with their places, and whether a step failed because
//! a platform could not run (an emulator missing).

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::platform::Platform;

#[derive(Debug, Deserialize, Default)]
struct SolveStatus {
    #[serde(default)]
    vertexes: Vec<Vertex>,
    #[serde(default)]
    logs: Vec<VertexLog>,
    #[serde(default)]
    warnings: Vec<VertexWarning>,
    #[serde(default)]
    statuses: Vec<VertexStatus>,
}

/// A sub-step of a vertex, e.g. `transferring context`.
#[derive(Debug, Deserialize)]
struct VertexStatus {
    #[serde(default)]
    id: String,
    #[serde(default)]
    vertex: String,
    #[serde(default)]
    current: u64,
    completed: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, Clone)]
struct Vertex {
    digest: String,
    #[serde(default)]
    name: String,
    started: Option<DateTime<Utc>>,
    completed: Option<DateTime<Utc>>,
    #[serde(default)]
    cached: bool,
    #[serde(default)]
    error: String,
}

#[derive(Debug, Deserialize)]
struct VertexLog {
    vertex: String,
    #[serde(default)]
    data: String,
}

#[derive(Debug, Deserialize)]
struct VertexWarning {
    #[serde(default)]
    short: String,
    #[serde(default)]
    detail: Vec<String>,
    #[serde(default)]
    url: String,
    #[serde(rename = "sourceInfo")]
    source_info: Option<SourceInfo>,
    #[serde(default)]
    range: Vec<SourceRange>,
}

#[derive(Debug, Deserialize)]
struct SourceInfo {
    #[serde(default)]
    filename: String,
}

#[derive(Debug, Deserialize)]
struct SourceRange {
    start: Option<SourcePosition>,
}

#[derive(Debug, Deserialize)]
struct SourcePosition {
    #[serde(default)]
    line: u32,
}

/// A place in a build file, as BuildKit names it (`Dockerfile`, line 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePlace {
    pub file: String,
    pub line: u32,
}

/// A warning BuildKit gave about the build, and where, when it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildWarning {
    pub message: String,
    pub place: Option<SourcePlace>,
}

/// Why a build failed, as its log tells: the failed step and its error,
/// and the place in the Dockerfile buildx printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFailure {
    pub message: String,
    pub place: Option<SourcePlace>,
}

/// Whether a line of a build's log says a program could not run because
/// its platform cannot be (an emulator missing or misregistered): `exec
/// format error`, a `qemu-…` interpreter not found, or the loader of an
/// executable that exists reported missing (`exec /bin/sh: no such file or
/// directory`).
pub(crate) fn is_emulation_failure(line: &str) -> bool {
    let line = line.to_ascii_lowercase();
    if line.contains("exec format error") {
        return true;
    }
    let qemu_missing = line.split_whitespace().any(|word| {
        word.trim_start_matches(['/', '\'', '"']).contains("qemu-") && word.ends_with(':')
    }) && line.contains("not found");
    let loader_missing = line.split("exec ").skip(1).any(|rest| {
        rest.split_once(": ").is_some_and(|(program, reason)| {
            program.starts_with('/')
                && !program.contains(' ')
                && reason.starts_with("no such file or directory")
        })
    });
    qemu_missing || loader_missing
}

/// `Dockerfile:3`, the line buildx prints above the excerpt of a failed step.
fn place_line(line: &str) -> Option<SourcePlace> {
    let (file, number) = line.trim().rsplit_once(':')?;
    let line = number.parse().ok().filter(|n| *n > 0)?;
    (!file.is_empty() && !file.contains(char::is_whitespace) && !file.starts_with('#'))
        .then(|| SourcePlace { file: file.to_string(), line })
}

/// A step as it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub platform: Option<Platform>,
    pub seconds: f64,
    pub cached: bool,
    pub started: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
}

/// Reassembles rawjson objects from lines and renders them.
#[derive(Debug, Default)]
pub struct Progress {
    buffer: String,
    numbers: HashMap<String, usize>,
    announced: HashMap<String, bool>,
    finished: HashMap<String, Step>,
    order: Vec<String>,
    failure: BuildFailure,
    warnings: Vec<BuildWarning>,
    emulation_failure: bool,
    /// Context transfers already shown (`transferring context: 27 B done`):
    /// how much of the build context buildx sent to BuildKit.
    transfers_shown: std::collections::HashSet<String>,
}

/// A byte count as people read it: `27 B`, `4.1 MB`, `537.0 MB`.
fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}

/// Base64 text from the stream, decoded (empty when it is not base64).
fn decode_base64(text: &str) -> String {
    let data = base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default();
    String::from_utf8_lossy(&data).into_owned()
}

/// A warning as BuildKit sent it: its short line, and the warning with its
/// details, link and place.
fn build_warning(warning: VertexWarning) -> (String, BuildWarning) {
    let decode = |text: &str| decode_base64(text).trim().to_string();
    let short = decode(&warning.short);
    let mut message = std::iter::once(short.clone())
        .chain(warning.detail.iter().map(|d| decode(d)))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(". ");
    if !warning.url.is_empty() {
        message.push_str(&format!(" ({})", warning.url));
    }
    let file = warning.source_info.map(|s| s.filename).filter(|f| !f.is_empty());
    let line =
        warning.range.first().and_then(|r| r.start.as_ref()).map(|p| p.line).filter(|l| *l > 0);
    let place = file.map(|file| SourcePlace { file, line: line.unwrap_or(1) });
    (short, BuildWarning { message, place })
}

/// The platform a step runs for, from its `[linux/arm64 2/3]` prefix.
pub(crate) fn step_platform(name: &str) -> Option<Platform> {
    let token = platform_token(name)?;
    match token.split_once("->") {
        // `[linux/amd64->arm64 builder 3/4]`: built on amd64 for arm64.
        Some((build, target)) => {
            Platform::parse(&format!("{}/{target}", Platform::parse(build).ok()?.os)).ok()
        }
        None => Platform::parse(token).ok(),
    }
}

/// Whether a step runs on the build platform for another target (a
/// cross-compiling stage, `[linux/amd64->arm64 …]`): never under QEMU.
pub(crate) fn is_cross_step(name: &str) -> bool {
    platform_token(name).is_some_and(|token| token.contains("->"))
}

/// The first word inside a step name's brackets (`linux/arm64` of `[linux/arm64 2/2] RUN make`).
fn platform_token(name: &str) -> Option<&str> {
    name.strip_prefix('[')?.split(']').next()?.split_whitespace().next()
}

impl Progress {
    /// Takes one line of buildx's output; returns the readable lines it
    /// completes.
    pub fn feed(&mut self, line: &str) -> Vec<String> {
        if self.buffer.is_empty() && !line.starts_with('{') {
            self.read_plain_line(line);
            return vec![line.to_string()];
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if line != "}" && !(line.starts_with('{') && line.ends_with('}')) {
            return Vec::new();
        }
        let text = std::mem::take(&mut self.buffer);
        match serde_json::from_str::<SolveStatus>(&text) {
            Ok(status) => self.render(status),
            Err(_) => text.lines().map(str::to_string).collect(),
        }
    }

    /// A line buildx printed itself: the place of a failure, its message.
    fn read_plain_line(&mut self, line: &str) {
        self.emulation_failure |= is_emulation_failure(line);
        if let Some(place) = place_line(line) {
            self.failure.place.get_or_insert(place);
        } else if let Some(message) = line.strip_prefix("ERROR: ")
            && self.failure.message.is_empty()
        {
            self.failure.message = message.to_string();
        }
    }

    fn number(&mut self, digest: &str) -> usize {
        let next = self.numbers.len() + 1;
        *self.numbers.entry(digest.to_string()).or_insert(next)
    }

    fn render(&mut self, status: SolveStatus) -> Vec<String> {
        let mut out = Vec::new();
        for vertex in status.vertexes {
            self.render_vertex(vertex, &mut out);
        }
        for status in status.statuses.iter().filter(|s| s.completed.is_some()) {
            self.show_transfer(status, &mut out);
        }
        for log in status.logs {
            let n = self.number(&log.vertex);
            for text in decode_base64(&log.data).lines() {
                self.emulation_failure |= is_emulation_failure(text);
                out.push(format!("#{n} {text}"));
            }
        }
        for warning in status.warnings {
            let (short, warning) = build_warning(warning);
            out.push(format!("WARNING: {short}"));
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
        out
    }

    /// A step's first line once it starts, and its last once it ends.
    fn render_vertex(&mut self, vertex: Vertex, out: &mut Vec<String>) {
        let n = self.number(&vertex.digest);
        if vertex.started.is_some() && !self.announced.contains_key(&vertex.digest) {
            self.announced.insert(vertex.digest.clone(), true);
            out.push(format!("#{n} {}", vertex.name));
        }
        if let (Some(started), Some(completed)) = (vertex.started, vertex.completed)
            && !self.finished.contains_key(&vertex.digest)
        {
            self.finish_vertex(n, vertex, started, completed, out);
        }
    }

    /// `#N DONE 1.2s`, `#N CACHED` or `#N ERROR: …`; the step is kept for
    /// the timings, and a failure for the build's failure.
    fn finish_vertex(
        &mut self,
        n: usize,
        vertex: Vertex,
        started: DateTime<Utc>,
        completed: DateTime<Utc>,
        out: &mut Vec<String>,
    ) {
        let seconds = (completed - started).num_milliseconds().max(0) as f64 / 1000.0;
        if !vertex.error.is_empty() {
            out.push(format!("#{n} ERROR: {}", vertex.error));
            self.emulation_failure |= is_emulation_failure(&vertex.error);
            if !vertex.error.starts_with("context canceled") {
                self.failure.message = format!("{}: {}", vertex.name, vertex.error);
            }
        } else if vertex.cached {
            out.push(format!("#{n} CACHED"));
        } else {
            out.push(format!("#{n} DONE {seconds:.1}s"));
        }
        self.order.push(vertex.digest.clone());
        self.finished.insert(
            vertex.digest,
            Step {
                platform: step_platform(&vertex.name),
                name: vertex.name,
                seconds,
                cached: vertex.cached,
                started: Some(started),
                completed: Some(completed),
            },
        );
    }

    /// Shows a finished sub-step when it is a context transfer
    /// (`transferring context: 27 B done`), once.
    fn show_transfer(&mut self, status: &VertexStatus, out: &mut Vec<String>) {
        if status.id.starts_with("transferring ")
            && self.transfers_shown.insert(format!("{} {}", status.vertex, status.id))
        {
            let n = self.number(&status.vertex);
            out.push(format!("#{n} {} {} done", status.id, human_bytes(status.current)));
        }
    }

    /// Why the build failed, as far as its log says.
    pub fn failure(&self) -> &BuildFailure {
        &self.failure
    }

    /// BuildKit's warnings about the build, each once.
    pub fn warnings(&self) -> &[BuildWarning] {
        &self.warnings
    }

    /// Whether a step failed because its platform could not run.
    pub fn saw_emulation_failure(&self) -> bool {
        self.emulation_failure
    }

    /// Every finished step, in the order they finished.
    pub fn steps(&self) -> Vec<Step> {
        self.order.iter().filter_map(|d| self.finished.get(d).cloned()).collect()
    }
}

/// BuildKit's own time: from the first step's start to the last step's end.
pub(crate) fn solve_seconds(steps: &[Step]) -> f64 {
    let start = steps.iter().filter_map(|s| s.started).min();
    let end = steps.iter().filter_map(|s| s.completed).max();
    match (start, end) {
        (Some(start), Some(end)) => (end - start).num_milliseconds().max(0) as f64 / 1000.0,
        _ => 0.0,
    }
}

/// One platform's share of the build.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlatformTime {
    pub platform: Platform,
    /// From its first step's start to its last step's end.
    pub wall_seconds: f64,
    /// Time its `RUN` steps spent executing under QEMU.
    pub emulated_seconds: f64,
}

/// Where the time went, per platform, and the slowest steps.
pub(crate) fn timings(
    steps: &[Step],
    emulated: &[Platform],
    slowest: usize,
) -> (Vec<PlatformTime>, Vec<Step>) {
    let mut per_platform: Vec<PlatformTime> = Vec::new();
    let mut spans: HashMap<Platform, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for step in steps {
        let (Some(platform), Some(started), Some(completed)) =
            (&step.platform, step.started, step.completed)
        else {
            continue;
        };
        let span = spans.entry(platform.clone()).or_insert((started, completed));
        span.0 = span.0.min(started);
        span.1 = span.1.max(completed);
        let is_run =
            step.name.split(']').nth(1).is_some_and(|rest| rest.trim_start().starts_with("RUN "));
        let emulated_time = if is_run
            && !step.cached
            && emulated.contains(platform)
            && !is_cross_step(&step.name)
        {
            step.seconds
        } else {
            0.0
        };
        match per_platform.iter_mut().find(|p| &p.platform == platform) {
            Some(entry) => entry.emulated_seconds += emulated_time,
            None => per_platform.push(PlatformTime {
                platform: platform.clone(),
                wall_seconds: 0.0,
                emulated_seconds: emulated_time,
            }),
        }
    }
    for entry in &mut per_platform {
        if let Some((start, end)) = spans.get(&entry.platform) {
            entry.wall_seconds = (*end - *start).num_milliseconds().max(0) as f64 / 1000.0;
        }
    }
    per_platform.sort_by(|a, b| a.platform.cmp(&b.platform));
    let mut by_time: Vec<Step> = steps.iter().filter(|s| !s.cached).cloned().collect();
    by_time.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    by_time.truncate(slowest);
    (per_platform, by_time)
}

#[cfg(test)]
mod tests;
