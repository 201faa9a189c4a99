//! The preflight in `--dry-run`, on the real binary with no daemon and no
//! reachable registry: the stages each platform builds on, the lints and
//! their fixes, and the bases listed as not looked up.

use crate::common::{run_cli, text, workspace};

const PER_ARCH: &str = "\
FROM --platform=$BUILDPLATFORM golang:1.24 AS build
FROM registry.invalid/base:amd64 AS base-amd64
FROM registry.invalid/base:arm64 AS base-arm64
ARG S6_ARCH=x86_64
RUN wget https://example.com/s6-overlay-${S6_ARCH}.tar.xz
FROM base-${TARGETARCH}
RUN case \"$(uname -m)\" in x86_64) f=t-x86_64.tgz;; aarch64) f=t-aarch64.tgz;; esac; wget https://example.com/$f
COPY --from=build /out/app /app
";

/// `build --dry-run` in `dir` for `platforms`, with `more` flags: what it
/// printed, once it succeeded.
fn dry_run(dir: &std::path::Path, platforms: &str, more: &[&str]) -> String {
    let mut args = vec![
        "build",
        "--images",
        "registry.invalid/acme/app",
        "--version",
        "1.0.0",
        "--platforms",
        platforms,
        "--dry-run",
    ];
    args.extend_from_slice(more);
    let output = run_cli(dir, &args, &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    stdout
}

#[test]
fn the_dry_run_prints_the_preflight() {
    let dir = workspace(PER_ARCH);
    let stdout = dry_run(dir.path(), "linux/amd64,linux/arm64", &[]);
    for line in [
        "preflight of Dockerfile:",
        "  line 1: stage 0 `build` on golang:1.24; built once, on the build platform",
        "  line 2: stage 1 `base-amd64` on registry.invalid/base:amd64; built for linux/amd64",
        "  line 3: stage 2 `base-arm64` on registry.invalid/base:arm64; built for linux/arm64",
        "  line 6: stage 3 on linux/amd64: stage `base-amd64`, linux/arm64: stage `base-arm64`; \
         built for linux/amd64,linux/arm64",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line `{line}` in {stdout}");
    }
    // The fixed ARG in the arm64 stage is reported; the case in the last
    // stage and the amd64 stage's own name are not.
    let lints: Vec<&str> =
        stdout.lines().filter(|l| l.contains("Hard-coded architecture")).collect();
    assert_eq!(lints.len(), 1, "{stdout}");
    assert!(lints[0].starts_with("  line 5: "), "{stdout}");
    assert!(lints[0].contains("through `ARG S6_ARCH=x86_64` (line 4)"), "{stdout}");
    assert!(lints[0].contains("built for linux/arm64, so the linux/arm64 image"), "{stdout}");
    assert!(stdout.contains("bases not looked up: "), "{stdout}");
    assert!(stdout.contains("registry.invalid/base:amd64 ("), "{stdout}");
}

const NAIVE_GO: &str = "\
FROM registry.invalid/golang:1.24 AS builder
WORKDIR /src
COPY . .
RUN go build -o /out/app .
FROM scratch
COPY --from=builder /out/app /app
";

/// `cross-compile: auto` in a dry run: the diff it would build, and the
/// user's Dockerfile untouched.
#[test]
fn the_dry_run_prints_the_cross_compiling_diff() {
    let dir = workspace(NAIVE_GO);
    let three = "linux/amd64,linux/arm64,linux/arm/v7";
    let stdout = dry_run(dir.path(), three, &["--cross-compile", "auto"]);
    let diff = stdout
        .split_once("  cross-compile: auto builds Dockerfile cross-compiled, checked by the architecture scan before it is used:\n")
        .unwrap_or_else(|| panic!("no diff in {stdout}"))
        .1;
    for line in [
        "  --- a/Dockerfile",
        "  +++ b/Dockerfile",
        "  -FROM registry.invalid/golang:1.24 AS builder",
        "  +FROM --platform=$BUILDPLATFORM registry.invalid/golang:1.24 AS builder",
        "  +ARG TARGETOS TARGETARCH TARGETVARIANT",
        "  -RUN go build -o /out/app .",
        "  +RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} go build -o /out/app .",
    ] {
        assert!(diff.lines().any(|l| l == line), "no line `{line}` in {diff}");
    }
    let kept = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert_eq!(kept, NAIVE_GO, "the user's Dockerfile is unchanged");

    // Without the input: the lint's suggestion only, no diff.
    let stdout = dry_run(dir.path(), three, &[]);
    assert!(stdout.contains("Cross-compile this stage"), "{stdout}");
    assert!(!stdout.contains("cross-compile: auto builds"), "{stdout}");
}
