//! The Go example (`examples/go-hello`) built through the action both ways
//! for linux/amd64, linux/arm64 and linux/arm/v7 against the real test bed:
//! the cross-compiling Dockerfile and the naive one whose compiler runs under
//! QEMU. Each pushed image prints its own architecture; only the naive
//! Dockerfile gets the cross-compiling rewrite on its FROM line, and after
//! its build the share of time spent under QEMU.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{ROOT, Run, TestBed, registry_inputs, run_action, shown_text};

const PLATFORMS: &str = "linux/amd64,linux/arm64,linux/arm/v7";
/// Each platform and what its image prints.
const GREETINGS: [(&str, &str); 3] = [
    ("linux/amd64", "Hello, amd64!"),
    ("linux/arm64", "Hello, arm64!"),
    ("linux/arm/v7", "Hello, arm!"),
];

/// The example's files, copied so that the build writes nothing into the
/// repository.
fn example_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["hello.go", "go.mod", "Dockerfile", "Dockerfile.naive"] {
        std::fs::copy(Path::new(ROOT).join("examples/go-hello").join(file), dir.path().join(file))
            .unwrap();
    }
    dir
}

/// Builds `dockerfile` of the example through the action, without the build
/// cache, pushed as `image:tag` and smoke-tested on every platform.
fn build(bed: &TestBed, image: &str, dockerfile: &str, tag: &str) -> Run {
    let dir = example_workspace();
    let build_arg = format!("GOLANG_IMAGE={}", bed.go_image);
    let mut inputs = registry_inputs(bed, image);
    inputs.extend([
        ("platforms", PLATFORMS),
        ("file", dockerfile),
        ("build-args", build_arg.as_str()),
        ("tags", tag),
        ("no-cache", "true"),
        ("smoke-test", "/hello"),
        // The smoke test asks the installer about arm/v7, which Docker's own
        // BuildKit does not list.
        ("qemu-image", bed.qemu_installer.as_str()),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{dockerfile}: the action failed:\n{}\n{}", run.stdout, run.stderr);
    run
}

/// Every platform is in the index, and each image, run by itself, greets in
/// its own architecture (through the action's smoke test and again here).
fn assert_each_platform_greets_in_its_architecture(bed: &TestBed, image: &str, run: &Run) {
    let platforms: BTreeMap<String, String> =
        serde_json::from_str(run.output("platforms")).unwrap();
    assert_eq!(
        platforms.keys().map(String::as_str).collect::<Vec<_>>(),
        ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    );
    let reference = format!("{image}@{}", run.output("digest"));
    for (platform, greeting) in GREETINGS {
        assert!(
            shown_text(&run.stdout).contains(&format!("{platform}: exit 0\n{greeting}")),
            "smoke test of {platform}:\n{}",
            run.stdout
        );
        assert_eq!(bed.run_image(&reference, platform, &["/hello"]), greeting, "{platform}");
    }
}

/// The workflow commands the run printed for `dockerfile`, of `level`.
fn annotations<'a>(run: &'a Run, level: &str, dockerfile: &str) -> Vec<&'a str> {
    let prefix = format!("::{level} file={dockerfile},");
    run.stdout.lines().filter(|l| l.starts_with(&prefix)).collect()
}

#[test]
fn the_go_example_builds_both_ways_and_only_the_naive_one_gets_the_rewrite() {
    let bed = TestBed::get();
    let image = bed.unique_image("go-hello");

    let cross = build(&bed, &image, "Dockerfile", "cross");
    assert_each_platform_greets_in_its_architecture(&bed, &image, &cross);
    assert_eq!(
        annotations(&cross, "warning", "Dockerfile"),
        Vec::<&str>::new(),
        "the cross-compiling Dockerfile passes the lint"
    );
    assert_eq!(annotations(&cross, "notice", "Dockerfile"), Vec::<&str>::new());
    assert!(!cross.stdout.contains("QEMU emulation for"), "{}", cross.stdout);

    let naive = build(&bed, &image, "Dockerfile.naive", "naive");
    assert_each_platform_greets_in_its_architecture(&bed, &image, &naive);
    let warnings = annotations(&naive, "warning", "Dockerfile.naive");
    assert_eq!(warnings.len(), 1, "one finding, the rewrite: {warnings:?}");
    // On the FROM line (line 5), the rewrite itself, line by line.
    let rewrite = warnings[0];
    assert!(
        rewrite
            .starts_with("::warning file=Dockerfile.naive,line=5,title=Cross-compile this stage"),
        "{rewrite}"
    );
    for part in [
        "`go build` (line 8) runs under QEMU emulation for linux/arm64,linux/arm/v7",
        "%0A    FROM --platform=$BUILDPLATFORM ${GOLANG_IMAGE} AS builder%0A",
        "%0A    ARG TARGETOS TARGETARCH TARGETVARIANT%0A",
        "%0A    RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} go build -o /out/hello .%0A",
        "`COPY --from=builder`",
    ] {
        assert!(rewrite.contains(part), "{part:?} in {rewrite}");
    }
    // The rewrite is the cross-compiling example's own builder stage.
    let example =
        std::fs::read_to_string(Path::new(ROOT).join("examples/go-hello/Dockerfile")).unwrap();
    for line in [
        "FROM --platform=$BUILDPLATFORM ${GOLANG_IMAGE} AS builder",
        "ARG TARGETOS TARGETARCH TARGETVARIANT",
        "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} go build -o /out/hello .",
    ] {
        assert!(example.lines().any(|l| l == line), "examples/go-hello/Dockerfile has `{line}`");
    }

    // After the build, on the same line: how much of it ran under QEMU, as
    // the summary's "where the time went" has it.
    let notices = annotations(&naive, "notice", "Dockerfile.naive");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let measured = notices[0];
    assert!(
        measured.starts_with(
            "::notice file=Dockerfile.naive,line=5,title=Time this build spent under QEMU::"
        ),
        "{measured}"
    );
    for platform in ["linux/arm64", "linux/arm/v7"] {
        let row = naive
            .summary
            .lines()
            .find(|l| l.starts_with(&format!("| `{platform}` |")))
            .unwrap_or_else(|| panic!("no {platform} row in {}", naive.summary));
        // | `linux/arm64` | 200.0s | 180.0s (90%) |
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (wall, under) = (cells[2], cells[3].split_whitespace().collect::<Vec<_>>());
        // `%` is `%25` in a workflow command.
        let stated = format!("{platform} {} of {wall} {}", under[0], under[1].replace('%', "%25"));
        assert!(measured.contains(&stated), "{stated:?} in {measured}");
        let share: f64 =
            under[1].trim_matches(|c| c == '(' || c == ')' || c == '%').parse().unwrap();
        assert!(share >= 50.0, "compiling Go under QEMU is most of {platform}'s build: {row}");
    }
    assert!(!measured.contains("linux/amd64"), "amd64 ran natively: {measured}");
}
