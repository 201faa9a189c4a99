//! Tests of the Dockerfile lints.

use super::*;
use crate::preflight::{parse_dockerfile, resolve};
use std::collections::HashMap;

fn platforms(list: &str) -> Vec<Platform> {
    Platform::parse_list(list).unwrap()
}

/// (line, title) of each finding.
fn check(text: &str, emulated: &str, requested: &str) -> Vec<(u32, &'static str)> {
    let df = parse_dockerfile(text).unwrap();
    let stages = resolve(&df, &HashMap::new(), None, &[]).unwrap();
    lint(&df, &stages, &platforms(emulated), &platforms(requested))
        .into_iter()
        .map(|f| {
            let title = [ARCH_TITLE, REWRITE_TITLE]
                .into_iter()
                .find(|t| *t == f.title)
                .unwrap_or(EMULATION_TITLE);
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
    type Case =
        (&'static str, &'static str, &'static str, &'static str, &'static [(u32, &'static str)]);
    let cases: [Case; 24] = [
        (
            "arch word in a download URL",
            "FROM alpine\nRUN apk add curl\nRUN curl -fsSL https://github.com/o/t/releases/download/v1/t-linux-amd64.tar.gz | tar xz\n",
            "",
            two,
            &[(3, A)],
        ),
        (
            "ADD of a URL, aarch64 spelling",
            "FROM alpine\nADD https://example.com/tool-aarch64.tgz /opt/\n",
            "",
            two,
            &[(2, A)],
        ),
        (
            "file path naming x86_64",
            "FROM debian\nRUN ln -s /usr/lib/x86_64-linux-gnu/libz.so /usr/lib/libz.so\n",
            "",
            two,
            &[(2, A)],
        ),
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
        (
            "one platform of the same architecture",
            "FROM alpine\nRUN wget https://example.com/t_amd64.deb\n",
            "",
            "linux/amd64",
            &[],
        ),
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
        (
            "the Go rewrite needs an emulated platform",
            "FROM golang\nRUN go build .\n",
            "",
            two,
            &[],
        ),
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
        (
            "heredoc body is checked",
            "FROM debian\nRUN <<EOF\nset -e\nmake -j4\nEOF\n",
            "linux/arm64",
            two,
            &[(2, E)],
        ),
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
    let text =
        "FROM alpine\nRUN curl -fsSL https://x/t-linux-amd64.tar.gz | tar xz\nRUN make all\n";
    let df = parse_dockerfile(text).unwrap();
    let stages = resolve(&df, &HashMap::new(), None, &[]).unwrap();
    let findings = lint(
        &df,
        &stages,
        &platforms("linux/arm64,linux/arm/v7"),
        &platforms("linux/amd64,linux/arm64,linux/arm/v7"),
    );
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
    for part in [
        "`make`",
        "QEMU emulation for linux/arm64,linux/arm/v7",
        "FROM --platform=$BUILDPLATFORM",
        "runs natively instead",
    ] {
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
    let timings = [
        time("linux/amd64", 30.0, 0.0),
        time("linux/arm64", 200.0, 180.0),
        time("linux/arm/v7", 250.0, 240.0),
    ];
    let findings = measured_under_qemu(&[2, 9], &timings, false);
    assert_eq!(findings.iter().map(|f| f.line).collect::<Vec<_>>(), [2, 9]);
    assert_eq!(
        findings[0].message,
        "This build ran steps under QEMU emulation for linux/arm64 180.0s of 200.0s (90%), linux/arm/v7 240.0s of 250.0s \
         (96%); the cross-compiling form of this stage, suggested before the build, runs them natively (with \
         `cross-compile: auto` the action builds it so for you, and uses it when the architecture scan finds every binary \
         right)."
    );
    let with_auto = measured_under_qemu(&[2], &timings, true);
    assert!(
        with_auto[0]
            .message
            .ends_with("(`cross-compile: auto` did not use it here; the log says why).")
    );
    assert_eq!(findings[0].title, MEASURED_TITLE);
    assert!(
        measured_under_qemu(&[2], &[time("linux/arm64", 3.0, 0.0)], false).is_empty(),
        "a cached build ran nothing emulated"
    );
    assert!(measured_under_qemu(&[], &timings, false).is_empty(), "no rewrite, no note");
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

/// A stage a `FROM base-${TARGETARCH}` picks for amd64 only runs natively
/// on amd64: its compiler is not reported as emulated for arm64.
#[test]
fn a_stage_picked_for_one_platform_is_linted_for_that_platform() {
    let text = "FROM debian AS base-amd64\nRUN make\nFROM alpine AS base-arm64\nRUN make\nFROM base-${TARGETARCH}\n";
    let df = parse_dockerfile(text).unwrap();
    let requested = platforms("linux/amd64,linux/arm64");
    let stages = resolve(&df, &HashMap::new(), None, &requested).unwrap();
    let findings = lint(&df, &stages, &platforms("linux/arm64"), &requested);
    let lines: Vec<(u32, &str)> = findings.iter().map(|f| (f.line, f.title.as_str())).collect();
    assert_eq!(lines, [(4, EMULATION_TITLE)]);
    assert!(
        findings[0].message.contains("QEMU emulation for linux/arm64,"),
        "{}",
        findings[0].message
    );
}
