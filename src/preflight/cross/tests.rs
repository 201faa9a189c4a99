//! Tests of the cross-compiling rewrite `cross-compile: auto` builds.

use std::collections::HashMap;

use super::*;
use crate::preflight::{parse_dockerfile, resolve};

const THREE: &str = "linux/amd64,linux/arm64,linux/arm/v7";
const TWO: &str = "linux/amd64,linux/arm64";

fn rewrite(text: &str, requested: &str) -> CrossCompile {
    let platforms = Platform::parse_list(requested).unwrap();
    let emulated: Vec<Platform> = platforms.iter().filter(|p| p.arch != "amd64").cloned().collect();
    let df = parse_dockerfile(text).unwrap();
    let stages = resolve(&df, &HashMap::new(), None, &platforms).unwrap();
    cross_compile(text, &df, &stages, &emulated, &platforms)
}

const ENV3: &str = "CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v}";
const ENV2: &str = "CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH";

#[test]
fn go_stages_that_can_be_rewritten() {
    /// (name, Dockerfile, platforms, the Dockerfile built, changed lines)
    type Case = (&'static str, String, &'static str, String, &'static [u32]);
    let cases: Vec<Case> = vec![
        (
            "the naive example",
            "ARG GOLANG_IMAGE=golang:1.24\nFROM ${GOLANG_IMAGE} AS builder\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/hello .\n\nFROM scratch\nCOPY --from=builder /out/hello /hello\n".into(),
            THREE,
            format!("ARG GOLANG_IMAGE=golang:1.24\nFROM --platform=$BUILDPLATFORM ${{GOLANG_IMAGE}} AS builder\nARG TARGETOS TARGETARCH TARGETVARIANT\nWORKDIR /src\nCOPY . .\nRUN {ENV3} go build -o /out/hello .\n\nFROM scratch\nCOPY --from=builder /out/hello /hello\n"),
            &[2, 5],
        ),
        (
            "no arm platform, no GOARM; settings it gave are replaced, others kept",
            "FROM golang:1.24\nRUN CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath go build -o /app .\nFROM scratch\nCOPY --from=0 /app /app\n".into(),
            TWO,
            format!("FROM --platform=$BUILDPLATFORM golang:1.24\nARG TARGETOS TARGETARCH\nRUN GOFLAGS=-trimpath {ENV2} go build -o /app .\nFROM scratch\nCOPY --from=0 /app /app\n"),
            &[1, 2],
        ),
        (
            "a tool the stage installs and runs stays native; the program is cross-compiled",
            "FROM golang:1.24 AS build\nWORKDIR /src\nCOPY . .\nRUN go install ./tools/gen && gen -o zz_generated.go\nRUN go build -o /out/app ./cmd/app\nFROM scratch\nCOPY --from=build /out/app /app\n".into(),
            TWO,
            format!("FROM --platform=$BUILDPLATFORM golang:1.24 AS build\nARG TARGETOS TARGETARCH\nWORKDIR /src\nCOPY . .\nRUN go install ./tools/gen && gen -o zz_generated.go\nRUN {ENV2} go build -o /out/app ./cmd/app\nFROM scratch\nCOPY --from=build /out/app /app\n"),
            &[1, 5],
        ),
        (
            "a continued RUN: only the line with `go build` changes; a --platform=$TARGETPLATFORM is replaced",
            "FROM --platform=$TARGETPLATFORM golang:1.24 AS b\nRUN --mount=type=cache,target=/root/.cache/go-build \\\n    go mod download && \\\n    go build -o /app . && go build -o /tool ./tool\nFROM scratch\nCOPY --from=b /app /app\n".into(),
            TWO,
            format!("FROM --platform=$BUILDPLATFORM golang:1.24 AS b\nARG TARGETOS TARGETARCH\nRUN --mount=type=cache,target=/root/.cache/go-build \\\n    go mod download && \\\n    {ENV2} go build -o /app . && {ENV2} go build -o /tool ./tool\nFROM scratch\nCOPY --from=b /app /app\n"),
            &[1, 4],
        ),
        (
            "a heredoc, and sh -c in single quotes",
            "FROM golang:1.24\nRUN <<EOF\nset -e\ngo build -o /a ./a\nEOF\nRUN sh -c 'go build -o /b ./b'\n".into(),
            TWO,
            format!("FROM --platform=$BUILDPLATFORM golang:1.24\nARG TARGETOS TARGETARCH\nRUN <<EOF\nset -e\n{ENV2} go build -o /a ./a\nEOF\nRUN sh -c '{ENV2} go build -o /b ./b'\n"),
            &[1, 4, 6],
        ),
        (
            "Windows line ends are kept, on the inserted line too",
            "FROM golang:1.24\r\nRUN go build -o /app .\r\n".into(),
            TWO,
            format!("FROM --platform=$BUILDPLATFORM golang:1.24\r\nARG TARGETOS TARGETARCH\r\nRUN {ENV2} go build -o /app .\r\n"),
            &[1, 2],
        ),
    ];
    for (name, text, platforms, expected, changed) in cases {
        let outcome = rewrite(&text, platforms);
        assert_eq!(outcome.kept, vec![], "{name}");
        assert_eq!(outcome.text.as_deref(), Some(expected.as_str()), "{name}");
        assert_eq!(outcome.changed, changed, "{name}");
        assert!(outcome.applies(), "{name}");
        // The rewrite is itself a Dockerfile the parser reads, with the
        // stage now on the build platform: nothing is left to rewrite.
        let again = rewrite(&expected, platforms);
        assert_eq!(again, CrossCompile::default(), "{name}: rewritten twice");
    }
}

#[test]
fn go_stages_kept_as_written_with_the_reason() {
    // (name, Dockerfile, part of the reason)
    let cases: [(&str, &str, &str); 9] = [
        (
            "cgo by ENV",
            "FROM golang:1.24\nENV CGO_ENABLED=1\nRUN go build -o /app .\n",
            "line 2 sets CGO_ENABLED=1, and cgo needs a C cross compiler",
        ),
        (
            "cgo in the RUN",
            "FROM golang:1.24\nRUN CGO_ENABLED=1 go build -o /app .\n",
            "line 2 sets CGO_ENABLED=1",
        ),
        (
            "cgo by the old ENV form",
            "FROM golang:1.24\nENV CGO_ENABLED 1\nRUN go build -o /app .\n",
            "line 2 sets CGO_ENABLED=1",
        ),
        (
            "another compiler in the stage",
            "FROM golang:1.24\nRUN go build -o /app .\nRUN make -C native\n",
            "line 3 runs `make`, which would then build for the build platform",
        ),
        (
            "go install of what the image keeps",
            "FROM golang:1.24\nRUN go install ./cmd/app\nRUN go build -o /x .\n",
            "line 2: `go install` of a program the stage does not run itself",
        ),
        (
            "only tools: mage builds, not go build",
            "FROM golang:1.24\nRUN go install github.com/magefile/mage@latest && mage build\n",
            "nothing in it builds for the image",
        ),
        (
            "a base chosen per target",
            "ARG TARGETARCH\nFROM example.com/golang-${TARGETARCH}:1.24\nRUN go build -o /app .\n",
            "chooses its base image per target platform",
        ),
        (
            "exec form",
            "FROM golang:1.24\nRUN [\"go\", \"build\", \"-o\", \"/app\", \".\"]\n",
            "a RUN in exec form",
        ),
        (
            "`go build` as an argument, not a command",
            "FROM golang:1.24\nRUN echo go build && go build -o /app .\n",
            "could not be placed in front of each of its 1 `go build` commands",
        ),
    ];
    for (name, text, reason) in cases {
        let outcome = rewrite(text, TWO);
        assert_eq!(outcome.text, None, "{name}");
        assert_eq!(outcome.kept.len(), 1, "{name}: {outcome:?}");
        assert!(outcome.kept[0].1.contains(reason), "{name}: {reason:?} in {:?}", outcome.kept);
        assert!(outcome.kept_reasons().starts_with("the stage on line "), "{name}");
    }
}

#[test]
fn nothing_to_do_where_nothing_compiles_under_qemu() {
    let cases: [(&str, &str, &str); 4] = [
        ("amd64 only: native", "FROM golang:1.24\nRUN go build -o /app .\n", "linux/amd64"),
        (
            "already cross-compiling",
            "FROM --platform=$BUILDPLATFORM golang:1.24\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build .\n",
            TWO,
        ),
        ("no Go", "FROM debian:12\nRUN apt-get update\n", TWO),
        (
            "a stage the target does not need",
            "FROM golang AS unused\nRUN go build .\nFROM debian:12\n",
            TWO,
        ),
    ];
    for (name, text, platforms) in cases {
        let outcome = rewrite(text, platforms);
        assert_eq!(outcome, CrossCompile::default(), "{name}");
        assert!(!outcome.applies(), "{name}");
    }
}

#[test]
fn one_stage_rewritten_another_kept() {
    let text = "FROM golang:1.24 AS api\nRUN go build -o /api ./api\nFROM golang:1.24 AS cgo\nENV CGO_ENABLED=1\nRUN go build -o /c ./c\nFROM scratch\nCOPY --from=api /api /api\nCOPY --from=cgo /c /c\n";
    let outcome = rewrite(text, TWO);
    let built = outcome.text.as_deref().unwrap();
    assert!(built.starts_with("FROM --platform=$BUILDPLATFORM golang:1.24 AS api\n"), "{built}");
    assert!(
        built.contains("\nFROM golang:1.24 AS cgo\nENV CGO_ENABLED=1\nRUN go build -o /c ./c\n")
    );
    assert_eq!(outcome.changed, [1, 2]);
    assert_eq!(outcome.kept.len(), 1);
    assert_eq!(outcome.kept[0].0, 3);
}

#[test]
fn programs_go_install_writes() {
    let cases = [
        ("./tools/gen", "gen"),
        ("github.com/magefile/mage@latest", "mage"),
        ("golang.org/x/tools/cmd/stringer@v0.24.0", "stringer"),
        ("github.com/acme/tool/v2@latest", "tool"),
        ("github.com/acme/v2", "acme"),
        ("./cmd/app/", "app"),
    ];
    for (package, program) in cases {
        assert_eq!(program_name(package), program, "{package}");
    }
}

#[test]
fn the_diff_names_the_file_and_shows_the_changed_lines() {
    let original = "FROM golang:1.24\nWORKDIR /src\nRUN go build -o /app .\n";
    let built = rewrite(original, TWO).text.unwrap();
    let shown = diff("Dockerfile.naive", original, &built);
    assert!(shown.starts_with("--- a/Dockerfile.naive\n+++ b/Dockerfile.naive\n@@"), "{shown}");
    for line in [
        "-FROM golang:1.24\n",
        "+FROM --platform=$BUILDPLATFORM golang:1.24\n",
        "+ARG TARGETOS TARGETARCH\n",
        " WORKDIR /src\n",
        &format!("+RUN {ENV2} go build -o /app .\n"),
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }
}
