//! Tests of the progress reader: rawjson rendered back, failures, warnings, timings.

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
    assert_eq!(
        step_platform("[linux/arm/v7 build 3/4] RUN x").unwrap().to_string(),
        "linux/arm/v7"
    );
    assert_eq!(step_platform("[internal] load build definition"), None);
    assert_eq!(step_platform("exporting to image"), None);
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
    assert_eq!(
        failure.message,
        r#"[3/3] RUN false: process "/bin/sh -c false" did not complete successfully: exit code: 1"#
    );
    assert!(!progress.saw_emulation_failure());
}

#[test]
fn warnings_keep_their_place() {
    // BuildKit 0.13's warning for an empty continuation line, trimmed.
    let line = r#"{"warnings":[{"vertex":"sha256:a","level":1,"short":"RW1wdHkgY29udGludWF0aW9uIGxpbmUgZm91bmQgaW46IFJVTiBlY2hvIGEgICAmJiBlY2hvIGI=","detail":["RW1wdHkgY29udGludWF0aW9uIGxpbmVzIHdpbGwgYmVjb21lIGVycm9ycyBpbiBhIGZ1dHVyZSByZWxlYXNl"],"url":"https://github.com/moby/moby/pull/33719","sourceInfo":{"filename":"Dockerfile.warn","language":"Dockerfile"},"range":[{"start":{"line":4},"end":{"line":4}}]}]}"#;
    let mut progress = Progress::default();
    assert_eq!(
        progress.feed(line),
        vec!["WARNING: Empty continuation line found in: RUN echo a   && echo b"]
    );
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
        (
            "failed to solve: failed to read dockerfile: open Dockerfile: no such file or directory",
            false,
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(is_emulation_failure(line), expected, "{line}");
    }
    let log = r#"{"logs":[{"vertex":"sha256:a","stream":2,"data":"ZXhlYyAvYmluL3NoOiBleGVjIGZvcm1hdCBlcnJvcgo="}]}"#;
    assert!(progress_of(log).saw_emulation_failure());
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
    let steps = [
        step("[linux/amd64->arm64 builder 2/3] RUN go build", 0, 30),
        step("[linux/arm64 3/3] RUN true", 30, 40),
    ];
    let (times, _) = timings(&steps, &[p("linux/arm64")], 5);
    assert_eq!(times.len(), 1);
    assert_eq!(
        (times[0].wall_seconds, times[0].emulated_seconds),
        (40.0, 10.0),
        "the cross step is arm64's time, not QEMU's"
    );
}

#[test]
fn context_transfers_are_shown_once_with_their_size() {
    let mut progress = Progress::default();
    let status = |current: u64, completed: bool| {
        let completed = if completed { r#","completed":"2026-01-01T00:00:02Z""# } else { "" };
        format!(
            r#"{{"statuses":[{{"id":"transferring context:","vertex":"sha256:d","current":{current}{completed}}}]}}"#
        )
    };
    let mut out = Vec::new();
    for line in [status(1_000, false), status(536_970_000, true), status(536_970_000, true)] {
        out.extend(progress.feed(&line));
    }
    assert_eq!(out, ["#1 transferring context: 537.0 MB done"]);
    for (bytes, shown) in
        [(27, "27 B"), (4_100, "4.1 kB"), (4_100_000, "4.1 MB"), (2_500_000_000, "2.50 GB")]
    {
        assert_eq!(human_bytes(bytes), shown);
    }
}
