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

/// A sub-step of a vertex, e.g. `exporting manifest list sha256:…`.
#[derive(Debug, Deserialize)]
struct VertexStatus {
    #[serde(default)]
    id: String,
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
pub fn is_emulation_failure(line: &str) -> bool {
    let line = line.to_ascii_lowercase();
    if line.contains("exec format error") {
        return true;
    }
    let qemu_missing =
        line.split_whitespace().any(|word| word.trim_start_matches(['/', '\'', '"']).contains("qemu-") && word.ends_with(':'))
            && line.contains("not found");
    let loader_missing = line.split("exec ").skip(1).any(|rest| {
        rest.split_once(": ").is_some_and(|(program, reason)| {
            program.starts_with('/') && !program.contains(' ') && reason.starts_with("no such file or directory")
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
    /// Digests the image exporter reported writing: the manifest list, and
    /// the image manifests.
    exported_list: Option<String>,
    exported_manifests: Vec<String>,
    export_done: bool,
    failure: BuildFailure,
    warnings: Vec<BuildWarning>,
    emulation_failure: bool,
}

/// The platform a step runs for, from its `[linux/arm64 2/3]` prefix.
pub fn step_platform(name: &str) -> Option<Platform> {
    let token = platform_token(name)?;
    match token.split_once("->") {
        // `[linux/amd64->arm64 builder 3/4]`: built on amd64 for arm64.
        Some((build, target)) => Platform::parse(&format!("{}/{target}", Platform::parse(build).ok()?.os)).ok(),
        None => Platform::parse(token).ok(),
    }
}

/// Whether a step runs on the build platform for another target (a
/// cross-compiling stage, `[linux/amd64->arm64 …]`): never under QEMU.
pub fn is_cross_step(name: &str) -> bool {
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
            let n = self.number(&vertex.digest);
            if vertex.started.is_some() && !self.announced.contains_key(&vertex.digest) {
                self.announced.insert(vertex.digest.clone(), true);
                out.push(format!("#{n} {}", vertex.name));
            }
            if let (Some(started), Some(completed)) = (vertex.started, vertex.completed) {
                if self.finished.contains_key(&vertex.digest) {
                    continue;
                }
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
                if vertex.name.starts_with("exporting to oci image format") && vertex.error.is_empty() {
                    self.export_done = true;
                }
                self.order.push(vertex.digest.clone());
                self.finished.insert(
                    vertex.digest.clone(),
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
        }
        for exported in status.statuses.iter().filter(|s| s.completed.is_some()) {
            if let Some(digest) = exported.id.strip_prefix("exporting manifest list ") {
                self.exported_list = Some(digest.to_string());
            } else if let Some(digest) = exported.id.strip_prefix("exporting manifest ")
                && !self.exported_manifests.iter().any(|d| d == digest)
            {
                self.exported_manifests.push(digest.to_string());
            }
        }
        for log in status.logs {
            let n = self.number(&log.vertex);
            let data = base64::engine::general_purpose::STANDARD.decode(&log.data).unwrap_or_default();
            for text in String::from_utf8_lossy(&data).lines() {
                self.emulation_failure |= is_emulation_failure(text);
                out.push(format!("#{n} {text}"));
            }
        }
        for warning in status.warnings {
            let decode = |text: &str| {
                let data = base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default();
                String::from_utf8_lossy(&data).trim().to_string()
            };
            let short = decode(&warning.short);
            out.push(format!("WARNING: {short}"));
            let mut message = std::iter::once(short)
                .chain(warning.detail.iter().map(|d| decode(d)))
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(". ");
            if !warning.url.is_empty() {
                message.push_str(&format!(" ({})", warning.url));
            }
            let file = warning.source_info.map(|s| s.filename).filter(|f| !f.is_empty());
            let line = warning.range.first().and_then(|r| r.start.as_ref()).map(|p| p.line).filter(|l| *l > 0);
            let place = file.map(|file| SourcePlace { file, line: line.unwrap_or(1) });
            let warning = BuildWarning { message, place };
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
        out
    }

    /// The image an OCI export wrote, once the export step has finished: its
    /// manifest list, or its one manifest. Its blobs are in the layout by
    /// then, while buildx itself has yet to finish.
    pub fn exported_root(&self) -> Option<&str> {
        if !self.export_done {
            return None;
        }
        match (&self.exported_list, self.exported_manifests.as_slice()) {
            (Some(list), _) => Some(list),
            (None, [only]) => Some(only),
            _ => None,
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
pub fn solve_seconds(steps: &[Step]) -> f64 {
    let start = steps.iter().filter_map(|s| s.started).min();
    let end = steps.iter().filter_map(|s| s.completed).max();
    match (start, end) {
        (Some(start), Some(end)) => (end - start).num_milliseconds().max(0) as f64 / 1000.0,
        _ => 0.0,
    }
}

/// One platform's share of the build.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformTime {
    pub platform: Platform,
    /// From its first step's start to its last step's end.
    pub wall_seconds: f64,
    /// Time its `RUN` steps spent executing under QEMU.
    pub emulated_seconds: f64,
}

/// Where the time went, per platform, and the slowest steps.
pub fn timings(steps: &[Step], emulated: &[Platform], slowest: usize) -> (Vec<PlatformTime>, Vec<Step>) {
    let mut per_platform: Vec<PlatformTime> = Vec::new();
    let mut spans: HashMap<Platform, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for step in steps {
        let (Some(platform), Some(started), Some(completed)) = (&step.platform, step.started, step.completed) else { continue };
        let span = spans.entry(platform.clone()).or_insert((started, completed));
        span.0 = span.0.min(started);
        span.1 = span.1.max(completed);
        let is_run = step.name.split(']').nth(1).is_some_and(|rest| rest.trim_start().starts_with("RUN "));
        let emulated_time =
            if is_run && !step.cached && emulated.contains(platform) && !is_cross_step(&step.name) { step.seconds } else { 0.0 };
        match per_platform.iter_mut().find(|p| &p.platform == platform) {
            Some(entry) => entry.emulated_seconds += emulated_time,
            None => per_platform.push(PlatformTime { platform: platform.clone(), wall_seconds: 0.0, emulated_seconds: emulated_time }),
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
mod tests {
    use super::*;

    const STREAM: &str = r#"{
  "vertexes": [
    {
      "digest": "sha256:a",
      "name": "[linux/arm64 2/2] RUN make",
      "started": "2026-01-01T00:00:01Z"
    }
  ]
}
{
  "logs": [
    {
      "vertex": "sha256:a",
      "stream": 1,
      "data": "Y29tcGlsaW5nCmRvbmU=",
      "timestamp": "2026-01-01T00:00:02Z"
    }
  ]
}
{
  "vertexes": [
    {
      "digest": "sha256:a",
      "name": "[linux/arm64 2/2] RUN make",
      "started": "2026-01-01T00:00:01Z",
      "completed": "2026-01-01T00:00:11.5Z"
    },
    {
      "digest": "sha256:b",
      "name": "[linux/amd64 2/2] RUN make",
      "started": "2026-01-01T00:00:01Z",
      "completed": "2026-01-01T00:00:02Z"
    },
    {
      "digest": "sha256:c",
      "name": "[linux/amd64 1/2] FROM base",
      "started": "2026-01-01T00:00:00Z",
      "completed": "2026-01-01T00:00:00Z",
      "cached": true
    }
  ]
}
ERROR: failed to solve: something
"#;

    fn feed_all() -> (Progress, Vec<String>) {
        let mut progress = Progress::default();
        let mut out = Vec::new();
        for line in STREAM.lines() {
            out.extend(progress.feed(line));
        }
        (progress, out)
    }

    #[test]
    fn rawjson_renders_as_the_readable_log() {
        let (_, out) = feed_all();
        assert_eq!(
            out,
            vec![
                "#1 [linux/arm64 2/2] RUN make",
                "#1 compiling",
                "#1 done",
                "#1 DONE 10.5s",
                "#2 [linux/amd64 2/2] RUN make",
                "#2 DONE 1.0s",
                "#3 [linux/amd64 1/2] FROM base",
                "#3 CACHED",
                "ERROR: failed to solve: something",
            ]
        );
    }

    #[test]
    fn time_is_attributed_to_platforms_and_emulation() {
        let (progress, _) = feed_all();
        let arm64 = Platform::parse("linux/arm64").unwrap();
        let (per_platform, slowest) = timings(&progress.steps(), std::slice::from_ref(&arm64), 1);
        assert_eq!(per_platform.len(), 2);
        assert_eq!(per_platform[0].platform.to_string(), "linux/amd64");
        assert_eq!(per_platform[0].wall_seconds, 2.0);
        assert_eq!(per_platform[0].emulated_seconds, 0.0);
        assert_eq!(per_platform[1].platform, arm64);
        assert_eq!(per_platform[1].emulated_seconds, 10.5);
        assert_eq!(slowest[0].name, "[linux/arm64 2/2] RUN make");
    }

    #[test]
    fn solve_time_spans_all_steps() {
        let (progress, _) = feed_all();
        assert_eq!(solve_seconds(&progress.steps()), 11.5);
        assert_eq!(solve_seconds(&[]), 0.0);
    }

    #[test]
    fn platforms_come_from_step_names() {
        assert_eq!(step_platform("[linux/arm/v7 build 3/4] RUN x").unwrap().to_string(), "linux/arm/v7");
        assert_eq!(step_platform("[internal] load build definition"), None);
        assert_eq!(step_platform("exporting to image"), None);
    }

    fn exporter_lines(statuses: &[(&str, bool)], vertex_done: bool) -> Vec<String> {
        let statuses: Vec<String> = statuses
            .iter()
            .map(|(id, done)| {
                let completed = if *done { r#","completed":"2026-01-01T00:00:02Z""# } else { "" };
                format!(r#"{{"id":"{id}","vertex":"sha256:e"{completed}}}"#)
            })
            .collect();
        let completed = if vertex_done { r#","completed":"2026-01-01T00:00:03Z""# } else { "" };
        vec![
            format!(r#"{{"statuses":[{}]}}"#, statuses.join(",")),
            format!(
                r#"{{"vertexes":[{{"digest":"sha256:e","name":"exporting to oci image format","started":"2026-01-01T00:00:01Z"{completed}}}]}}"#
            ),
        ]
    }

    #[test]
    fn a_failure_keeps_its_step_and_dockerfile_line() {
        // As buildx 0.13 prints a failed RUN: the step's error in rawjson,
        // then the place and excerpt, then the final error.
        let lines = [
            r#"{"vertexes":[{"digest":"sha256:f","name":"[3/3] RUN false","started":"2026-01-01T00:00:01Z","completed":"2026-01-01T00:00:02Z","error":"process \"/bin/sh -c false\" did not complete successfully: exit code: 1"}]}"#,
            "Dockerfile:3",
            "--------------------",
            "   2 |     RUN echo hi",
            "   3 | >>> RUN false",
            "--------------------",
            r#"ERROR: failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1"#,
        ];
        let mut progress = Progress::default();
        for line in lines {
            progress.feed(line);
        }
        let failure = progress.failure();
        assert_eq!(failure.place, Some(SourcePlace { file: "Dockerfile".into(), line: 3 }));
        assert_eq!(failure.message, r#"[3/3] RUN false: process "/bin/sh -c false" did not complete successfully: exit code: 1"#);
        assert!(!progress.saw_emulation_failure());
    }

    #[test]
    fn warnings_keep_their_place() {
        // BuildKit 0.13's warning for an empty continuation line, trimmed.
        let line = r#"{"warnings":[{"vertex":"sha256:a","level":1,"short":"RW1wdHkgY29udGludWF0aW9uIGxpbmUgZm91bmQgaW46IFJVTiBlY2hvIGEgICAmJiBlY2hvIGI=","detail":["RW1wdHkgY29udGludWF0aW9uIGxpbmVzIHdpbGwgYmVjb21lIGVycm9ycyBpbiBhIGZ1dHVyZSByZWxlYXNl"],"url":"https://github.com/moby/moby/pull/33719","sourceInfo":{"filename":"Dockerfile.warn","language":"Dockerfile"},"range":[{"start":{"line":4},"end":{"line":4}}]}]}"#;
        let mut progress = Progress::default();
        assert_eq!(progress.feed(line), vec!["WARNING: Empty continuation line found in: RUN echo a   && echo b"]);
        progress.feed(line);
        assert_eq!(
            progress.warnings(),
            [BuildWarning {
                message: "Empty continuation line found in: RUN echo a   && echo b. Empty continuation lines will become errors in a future release (https://github.com/moby/moby/pull/33719)".into(),
                place: Some(SourcePlace { file: "Dockerfile.warn".into(), line: 4 }),
            }]
        );
        let bare = progress_of(r#"{"warnings":[{"short":"aGk="}]}"#);
        assert_eq!(bare.warnings()[0].place, None);
    }

    fn progress_of(line: &str) -> Progress {
        let mut progress = Progress::default();
        progress.feed(line);
        progress
    }

    #[test]
    fn emulation_failures_are_told_from_other_failures() {
        let cases = [
            ("exec /bin/sh: exec format error", true),
            ("#5 0.101 exec /usr/bin/uname: exec format error", true),
            ("/usr/bin/qemu-aarch64-static: not found", true),
            ("qemu-arm: not found", true),
            ("exec /bin/sh: no such file or directory", true),
            ("process \"/bin/sh -c false\" did not complete successfully: exit code: 1", false),
            ("cp: cannot stat 'x': No such file or directory", false),
            ("sh: make: not found", false),
            ("failed to solve: failed to read dockerfile: open Dockerfile: no such file or directory", false),
        ];
        for (line, expected) in cases {
            assert_eq!(is_emulation_failure(line), expected, "{line}");
        }
        let log = r#"{"logs":[{"vertex":"sha256:a","stream":2,"data":"ZXhlYyAvYmluL3NoOiBleGVjIGZvcm1hdCBlcnJvcgo="}]}"#;
        assert!(progress_of(log).saw_emulation_failure());
    }

    /// Exporter statuses (id, completed), export step completed, the root.
    type ExportCase<'a> = (&'a [(&'a str, bool)], bool, Option<&'a str>);

    #[test]
    fn the_exported_root_is_known_once_the_export_step_ends() {
        let cases: [ExportCase; 5] = [
            (
                &[
                    ("exporting manifest sha256:m1", true),
                    ("exporting attestation manifest sha256:a1", true),
                    ("exporting manifest list sha256:l", true),
                ],
                true,
                Some("sha256:l"),
            ),
            (&[("exporting manifest list sha256:l", true)], false, None),
            (&[("exporting manifest list sha256:l", false)], true, None),
            (&[("exporting manifest sha256:m1", true), ("exporting config sha256:c", true)], true, Some("sha256:m1")),
            (&[("exporting manifest sha256:m1", true), ("exporting manifest sha256:m2", true)], true, None),
        ];
        for (statuses, vertex_done, root) in cases {
            let mut progress = Progress::default();
            for line in exporter_lines(statuses, vertex_done) {
                progress.feed(&line);
            }
            assert_eq!(progress.exported_root(), root, "{statuses:?}, export step done: {vertex_done}");
        }
    }

    #[test]
    fn cross_steps_count_for_their_target_and_never_as_emulated() {
        let p = |text: &str| Platform::parse(text).unwrap();
        for (name, platform, cross) in [
            ("[linux/arm64 2/2] RUN make", Some("linux/arm64"), false),
            ("[linux/amd64->arm64 builder 3/4] RUN go build", Some("linux/arm64"), true),
            ("[linux/amd64->arm/v7 builder 3/4] RUN go build", Some("linux/arm/v7"), true),
            ("[builder 1/3] FROM golang", None, false),
            ("[internal] load metadata", None, false),
        ] {
            assert_eq!(step_platform(name), platform.map(p), "{name}");
            assert_eq!(is_cross_step(name), cross, "{name}");
        }
        let at = |s: u32| chrono::DateTime::from_timestamp(1_700_000_000 + i64::from(s), 0).unwrap();
        let step = |name: &str, from: u32, to: u32| Step {
            name: name.into(),
            platform: step_platform(name),
            started: Some(at(from)),
            completed: Some(at(to)),
            seconds: f64::from(to - from),
            cached: false,
        };
        let steps = [step("[linux/amd64->arm64 builder 2/3] RUN go build", 0, 30), step("[linux/arm64 3/3] RUN true", 30, 40)];
        let (times, _) = timings(&steps, &[p("linux/arm64")], 5);
        assert_eq!(times.len(), 1);
        assert_eq!((times[0].wall_seconds, times[0].emulated_seconds), (40.0, 10.0), "the cross step is arm64's time, not QEMU's");
    }
}
