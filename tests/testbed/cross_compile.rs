//! `cross-compile: auto` against the real test bed: Go stages that would
//! compile under QEMU are built from the action's cross-compiling copy of
//! the Dockerfile when it proves right, and as written otherwise (cgo, a
//! copy that would put a binary of the build platform into another
//! platform's image), each image printing its own architecture, and the
//! user's Dockerfile unchanged byte for byte after every run.

use std::path::Path;

use crate::common::{ROOT, Run, TestBed, registry_inputs, run_action, shown_text};

/// A workspace of `files` (path, content).
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// Builds `dockerfile` of `dir` for `platforms` with `cross-compile: auto`,
/// without the build cache, smoke-testing `/app`; the Dockerfile is the
/// same byte for byte afterwards.
fn build(
    bed: &TestBed,
    dir: &Path,
    dockerfile: &str,
    platforms: &str,
    go_image: &str,
) -> (String, Run) {
    let image = bed.unique_image("cross");
    let before = std::fs::read(dir.join(dockerfile)).unwrap();
    let build_arg = format!("GOLANG_IMAGE={go_image}");
    let mut inputs = registry_inputs(bed, &image);
    inputs.extend([
        ("platforms", platforms),
        ("file", dockerfile),
        ("build-args", build_arg.as_str()),
        ("tags", "test"),
        ("no-cache", "true"),
        ("cross-compile", "auto"),
        ("qemu-image", bed.qemu_installer.as_str()),
    ]);
    let run = run_action(dir, &inputs, &[]);
    assert!(run.success, "{dockerfile}: the action failed:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read(dir.join(dockerfile)).unwrap(), before, "{dockerfile} is unchanged");
    (image, run)
}

/// Builds the deployment `compose.yaml` of `dir` (its services under one
/// prefix named after `name`) for [`TWO`] with `cross-compile: auto` and
/// the `extra` inputs; its Dockerfile is the same byte for byte afterwards.
fn deploy(bed: &TestBed, dir: &Path, name: &str, extra: &[(&str, &str)]) -> (String, Run) {
    let prefix = bed.unique_image(name);
    let before = std::fs::read(dir.join("Dockerfile")).unwrap();
    let build_arg = format!("GOLANG_IMAGE={}", bed.go_image);
    let mut inputs = registry_inputs(bed, &prefix);
    inputs.extend([
        ("compose-file", "compose.yaml"),
        ("platforms", TWO),
        ("build-args", build_arg.as_str()),
        ("tags", "test"),
        ("cross-compile", "auto"),
    ]);
    inputs.extend_from_slice(extra);
    let run = run_action(dir, &inputs, &[]);
    assert!(run.success, "the deployment failed:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read(dir.join("Dockerfile")).unwrap(),
        before,
        "the Dockerfile is unchanged"
    );
    (prefix, run)
}

/// Each platform's image, run by itself, prints `expected(arch)`.
fn assert_each_image_prints(
    bed: &TestBed,
    image: &str,
    run: &Run,
    platforms: &str,
    expected: impl Fn(&str) -> String,
) {
    let reference = format!("{image}@{}", run.output("digest"));
    for platform in platforms.split(',') {
        let arch = platform.split('/').nth(1).unwrap();
        assert_eq!(bed.run_image(&reference, platform, &["/app"]), expected(arch), "{platform}");
    }
}

/// Each platform's time under QEMU in the summary's "where the time went".
fn seconds_under_qemu(run: &Run, platforms: &str) -> Vec<f64> {
    platforms
        .split(',')
        .map(|platform| {
            let (_, timings) = run
                .summary
                .split_once("**Where the time went**")
                .unwrap_or_else(|| panic!("no timings in {}", run.summary));
            let row = timings
                .lines()
                .find(|l| l.starts_with(&format!("| `{platform}` | ")))
                .unwrap_or_else(|| panic!("no {platform} row in {}", run.summary));
            // | `linux/arm64` | 20.0s | 0.0s (0%) |
            let cell = row.split('|').nth(3).unwrap().trim();
            cell.split('s').next().unwrap().parse().unwrap()
        })
        .collect()
}

const THREE: &str = "linux/amd64,linux/arm64,linux/arm/v7";
const TWO: &str = "linux/amd64,linux/arm64";

#[test]
fn the_naive_go_example_is_cross_compiled_with_nothing_under_qemu() {
    let bed = TestBed::get();
    let example = Path::new(ROOT).join("examples/go-hello");
    let files: Vec<(String, String)> = ["hello.go", "go.mod", "Dockerfile.naive"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(example.join(f)).unwrap()))
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    let dir = workspace(&files);
    let (image, run) = build(&bed, dir.path(), "Dockerfile.naive", THREE, &bed.go_image);

    let reference = format!("{image}@{}", run.output("digest"));
    for (platform, greeting) in [
        ("linux/amd64", "Hello, amd64!"),
        ("linux/arm64", "Hello, arm64!"),
        ("linux/arm/v7", "Hello, arm!"),
    ] {
        assert_eq!(bed.run_image(&reference, platform, &["/hello"]), greeting, "{platform}");
    }
    assert_eq!(seconds_under_qemu(&run, THREE), [0.0, 0.0, 0.0], "{}", run.summary);
    let log = shown_text(&run.stdout);
    for part in [
        "cross-compile: Dockerfile.naive compiles Go under QEMU for linux/arm64,linux/arm/v7; building it cross-compiled instead (lines 5, 8 changed",
        "+RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} go build -o /out/hello .",
        "cross-compile: the cross-compiling build of Dockerfile.naive is correct on every platform, and it is the one pushed",
    ] {
        assert!(log.contains(part), "{part:?} in {log}");
    }
    for part in [
        "**Cross-compiled: `Dockerfile.naive`**",
        "Built from the cross-compiling copy below",
        "```diff\n--- a/Dockerfile.naive\n+++ b/Dockerfile.naive\n",
        "\n-FROM ${GOLANG_IMAGE} AS builder\n+FROM --platform=$BUILDPLATFORM ${GOLANG_IMAGE} AS builder\n+ARG TARGETOS TARGETARCH TARGETVARIANT\n",
    ] {
        assert!(run.summary.contains(part), "{part:?} in {}", run.summary);
    }
    // Nothing ran under QEMU, so no notice measures it.
    assert!(!run.stdout.contains("title=Time this build spent under QEMU"), "{}", run.stdout);
}

/// A program that prints its architecture and what a generator of the
/// stage's own wrote.
const GEN_MAIN: &str = r#"package main

import (
	"fmt"
	"runtime"
)

func main() { fmt.Println(runtime.GOARCH, generated) }
"#;

/// The generator: it must run on the machine that builds, so it writes the
/// architecture it ran on.
const GEN_TOOL: &str = r#"package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("package main\n\nconst generated = %q\n", "generated on "+runtime.GOARCH)
}
"#;

#[test]
fn a_tool_the_stage_installs_and_runs_keeps_running_on_the_build_platform() {
    let bed = TestBed::get();
    let dockerfile = "ARG GOLANG_IMAGE\nFROM ${GOLANG_IMAGE} AS build\nWORKDIR /src\nCOPY . .\nRUN go install ./tools/gen && /go/bin/gen > zz_generated.go\nRUN go build -o /out/app .\n\nFROM scratch\nCOPY --from=build /out/app /app\n";
    let dir = workspace(&[
        ("Dockerfile", dockerfile),
        ("go.mod", "module example.com/gen\n\ngo 1.24\n"),
        ("main.go", GEN_MAIN),
        ("tools/gen/main.go", GEN_TOOL),
    ]);
    let (image, run) = build(&bed, dir.path(), "Dockerfile", TWO, &bed.go_image);
    assert!(shown_text(&run.stdout).contains("and it is the one pushed"), "{}", run.stdout);
    // The generator ran natively (amd64) for both images; each program is
    // of its own platform.
    assert_each_image_prints(&bed, &image, &run, TWO, |arch| format!("{arch} generated on amd64"));
    assert_eq!(seconds_under_qemu(&run, TWO), [0.0, 0.0], "{}", run.summary);
}

/// A program whose architecture comes from C.
const CGO_MAIN: &str = r#"package main

// const char *arch(void);
import "C"

import (
	"fmt"
	"runtime"
)

func main() { fmt.Println(runtime.GOARCH, C.GoString(C.arch())) }
"#;

const CGO_C: &str = r#"
#if defined(__aarch64__)
const char *arch(void) { return "C on aarch64"; }
#elif defined(__x86_64__)
const char *arch(void) { return "C on x86_64"; }
#else
const char *arch(void) { return "C elsewhere"; }
#endif
"#;

fn cgo_workspace(dockerfile: &str) -> tempfile::TempDir {
    workspace(&[
        ("Dockerfile", dockerfile),
        ("go.mod", "module example.com/cgo\n\ngo 1.24\n"),
        ("main.go", CGO_MAIN),
        ("arch.c", CGO_C),
    ])
}

fn c_arch(arch: &str) -> String {
    match arch {
        "arm64" => "arm64 C on aarch64".into(),
        _ => "amd64 C on x86_64".into(),
    }
}

/// The stage links statically, so the image needs no C library.
const CGO_BUILD: &str = "RUN --mount=type=cache,target=/root/.cache/go-build go build -ldflags '-linkmode external -extldflags -static' -o /out/app .";

#[test]
fn a_stage_that_sets_cgo_is_built_as_written_with_the_reason() {
    let bed = TestBed::get();
    let dockerfile = format!(
        "ARG GOLANG_IMAGE\nFROM ${{GOLANG_IMAGE}} AS build\nENV CGO_ENABLED=1\nWORKDIR /src\nCOPY . .\n{CGO_BUILD}\nFROM scratch\nCOPY --from=build /out/app /app\n"
    );
    let dir = cgo_workspace(&dockerfile);
    let (image, run) = build(&bed, dir.path(), "Dockerfile", TWO, &bed.go_cgo_image);
    let reason = "the stage on line 2 is kept as written: line 3 sets CGO_ENABLED=1, and cgo needs a C cross compiler for every target platform";
    assert!(
        shown_text(&run.stdout).contains(&format!("cross-compile: {reason}")),
        "{}",
        run.stdout
    );
    assert!(
        run.summary.contains("Built as written: no stage could be rewritten."),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains("- the stage on line 2 was kept as written: line 3 sets CGO_ENABLED=1"),
        "{}",
        run.summary
    );
    assert_each_image_prints(&bed, &image, &run, TWO, c_arch);
    // Built as written: arm64's compile ran under QEMU.
    assert!(seconds_under_qemu(&run, TWO)[1] > 0.0, "{}", run.summary);
}

#[test]
fn cgo_code_whose_cross_compiling_build_fails_is_built_as_written() {
    let bed = TestBed::get();
    // Nothing says cgo: the Go image's own default (a C compiler is there)
    // turns it on, and the cross-compiling copy turns it off.
    let dockerfile = format!(
        "ARG GOLANG_IMAGE\nFROM ${{GOLANG_IMAGE}} AS build\nWORKDIR /src\nCOPY . .\n{CGO_BUILD}\nFROM scratch\nCOPY --from=build /out/app /app\n"
    );
    let dir = cgo_workspace(&dockerfile);
    let (image, run) = build(&bed, dir.path(), "Dockerfile", TWO, &bed.go_cgo_image);
    let log = shown_text(&run.stdout);
    assert!(
        log.contains("cross-compile: the cross-compiling Dockerfile was not used: its build failed (Go code that uses cgo needs a C cross compiler"),
        "{log}"
    );
    assert!(
        log.contains("; nothing of its build is tagged; building Dockerfile as written"),
        "{log}"
    );
    assert!(run.summary.contains("Built as written: the cross-compiling copy below was not used, because its build failed"), "{}", run.summary);
    assert!(run.summary.contains("```diff\n"), "{}", run.summary);
    // The failed copy's error is not an error annotation of the run.
    assert!(!run.stdout.contains("::error"), "{}", run.stdout);
    assert_each_image_prints(&bed, &image, &run, TWO, c_arch);
}

#[test]
fn a_copy_that_would_put_an_amd64_binary_into_the_arm64_image_is_caught_and_not_tried_again() {
    let bed = TestBed::get();
    // The second program is built by a script the rewrite cannot see into:
    // moved to the build platform, it would compile for amd64. Two
    // services share the Dockerfile: the first finds the copy wrong, the
    // second does not try it again.
    let dockerfile = "ARG GOLANG_IMAGE\nFROM ${GOLANG_IMAGE} AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/app ./cmd/app\nRUN sh build-helper.sh\nFROM scratch\nCOPY --from=build /out/app /app\nCOPY --from=build /out/helper /helper\n";
    let program = "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nfunc main() { fmt.Println(runtime.GOARCH) }\n";
    let dir = workspace(&[
        ("Dockerfile", dockerfile),
        ("compose.yaml", "services:\n  first:\n    build: .\n  second:\n    build: .\n"),
        ("go.mod", "module example.com/two\n\ngo 1.24\n"),
        ("cmd/app/main.go", program),
        ("cmd/helper/main.go", program),
        ("build-helper.sh", "set -e\ngo build -o /out/helper ./cmd/helper\n"),
    ]);
    let (prefix, run) = deploy(&bed, dir.path(), "cross-caught", &[]);
    let log = shown_text(&run.stdout);
    let rejected: Vec<&str> = log.lines().filter(|l| l.contains("the cross-compiling Dockerfile was not used: the architecture scan of its image found ")).collect();
    assert_eq!(rejected.len(), 2, "{log}");
    assert!(rejected[0].contains("helper"), "the scan names the file: {}", rejected[0]);
    assert!(!rejected[0].contains("another service"), "{}", rejected[0]);
    assert!(rejected[1].contains("(found by the build of another service)"), "{}", rejected[1]);
    assert_eq!(log.matches("and it is the one pushed").count(), 0, "{log}");
    assert_eq!(
        run.summary.matches("**Cross-compiled: `Dockerfile`**").count(),
        1,
        "{}",
        run.summary
    );
    assert!(run.summary.contains("**Cross-compiled: `Dockerfile`** (services `first`, `second`)\n\nBuilt as written: the cross-compiling copy below was not used, because the architecture scan"), "{}", run.summary);
    // What was pushed and tagged is the build as written: right everywhere.
    for service in ["first", "second"] {
        let reference = format!("{prefix}/{service}:test");
        for platform in TWO.split(',') {
            let arch = platform.split('/').nth(1).unwrap();
            assert_eq!(
                bed.run_image(&reference, platform, &["/app"]),
                arch,
                "{service} {platform}"
            );
            assert_eq!(
                bed.run_image(&reference, platform, &["/helper"]),
                arch,
                "{service} {platform}"
            );
        }
    }
}

/// A program that prints its service's name and its architecture.
const SERVICE_MAIN: &str = "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nvar name = \"?\"\n\nfunc main() { fmt.Println(name, runtime.GOARCH) }\n";

#[test]
fn a_deployment_shares_one_cross_compiling_copy_among_the_services_of_a_dockerfile() {
    let bed = TestBed::get();
    let dockerfile = "ARG GOLANG_IMAGE\nFROM ${GOLANG_IMAGE} AS build\nARG NAME\nWORKDIR /src\nCOPY . .\nRUN go build -ldflags \"-X main.name=${NAME}\" -o /out/app .\nFROM scratch\nCOPY --from=build /out/app /app\n";
    let compose = "services:\n  api:\n    build:\n      context: .\n      args:\n        NAME: api\n  worker:\n    build:\n      context: .\n      args:\n        NAME: worker\n";
    let dir = workspace(&[
        ("Dockerfile", dockerfile),
        ("compose.yaml", compose),
        ("go.mod", "module example.com/svc\n\ngo 1.24\n"),
        ("main.go", SERVICE_MAIN),
    ]);
    let (prefix, run) = deploy(&bed, dir.path(), "cross-deploy", &[("no-cache", "true")]);
    let used = shown_text(&run.stdout).matches("and it is the one pushed").count();
    assert_eq!(used, 2, "each service is built from the copy: {}", run.stdout);
    // One section for the Dockerfile, naming both services.
    assert_eq!(
        run.summary.matches("**Cross-compiled: `Dockerfile`**").count(),
        1,
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("**Cross-compiled: `Dockerfile`** (services `api`, `worker`)"),
        "{}",
        run.summary
    );
    for service in ["api", "worker"] {
        let image = format!("{prefix}/{service}");
        for platform in TWO.split(',') {
            let arch = platform.split('/').nth(1).unwrap();
            assert_eq!(
                bed.run_image(&format!("{image}:test"), platform, &["/app"]),
                format!("{service} {arch}")
            );
        }
    }
}
