//! The cross-compiling form of a stage that compiles under QEMU: for Go,
//! Rust and C the compiler can run natively in a `--platform=$BUILDPLATFORM`
//! stage and write code for each target, so the lint can spell out the
//! change: the FROM line, the ARGs, and the toolchain's own settings.

use super::dockerfile::{Instruction, Stage};
use crate::platform::Platform;

/// A toolchain whose cross-compiling form is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Toolchain {
    Go,
    Rust,
    C,
}

impl Toolchain {
    /// The toolchain of a build tool as `lint` names it (`go build`,
    /// `cargo build`, `gcc`…); `make`, `npm ci` and the like say nothing
    /// about what they compile.
    pub(crate) fn of(tool: &str) -> Option<Toolchain> {
        match tool {
            "go build" | "go install" => Some(Toolchain::Go),
            "rustc" => Some(Toolchain::Rust),
            _ if tool.starts_with("cargo ") => Some(Toolchain::Rust),
            "gcc" | "g++" | "cc" | "c++" | "clang" | "clang++" => Some(Toolchain::C),
            _ => None,
        }
    }
}

/// The GNU triple (Debian's cross-compiler prefix) and the Rust target of a
/// Linux platform.
fn triples(platform: &Platform) -> Option<(&'static str, &'static str)> {
    Some(match (platform.arch.as_str(), platform.variant.as_deref()) {
        ("amd64", _) => ("x86_64-linux-gnu", "x86_64-unknown-linux-gnu"),
        ("arm64", _) => ("aarch64-linux-gnu", "aarch64-unknown-linux-gnu"),
        ("arm", Some("v5")) => ("arm-linux-gnueabi", "armv5te-unknown-linux-gnueabi"),
        ("arm", Some("v6")) => ("arm-linux-gnueabihf", "arm-unknown-linux-gnueabihf"),
        ("arm", _) => ("arm-linux-gnueabihf", "armv7-unknown-linux-gnueabihf"),
        ("386", _) => ("i686-linux-gnu", "i686-unknown-linux-gnu"),
        ("ppc64le", _) => ("powerpc64le-linux-gnu", "powerpc64le-unknown-linux-gnu"),
        ("s390x", _) => ("s390x-linux-gnu", "s390x-unknown-linux-gnu"),
        ("riscv64", _) => ("riscv64-linux-gnu", "riscv64gc-unknown-linux-gnu"),
        ("mips64le", _) => ("mips64el-linux-gnuabi64", "mips64el-unknown-linux-gnuabi64"),
        ("mips64", _) => ("mips64-linux-gnuabi64", "mips64-unknown-linux-gnuabi64"),
        ("loong64", _) => ("loongarch64-linux-gnu", "loongarch64-unknown-linux-gnu"),
        _ => return None,
    })
}

/// The stage's FROM line as it would read built on the build platform, and
/// the name other stages copy from.
fn native_from(stage: &Stage) -> (String, String) {
    let name = stage.name.clone().unwrap_or_else(|| "build".to_string());
    (format!("FROM --platform=$BUILDPLATFORM {} AS {name}", stage.base), name)
}

/// Go's environment for the target: `GOARM` only where an arm platform is
/// built.
pub(super) fn go_env(platforms: &[Platform]) -> (&'static str, &'static str) {
    if platforms.iter().any(|p| p.arch == "arm") {
        (
            "ARG TARGETOS TARGETARCH TARGETVARIANT",
            "CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v}",
        )
    } else {
        ("ARG TARGETOS TARGETARCH", "CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH")
    }
}

pub(super) const GO_SETTINGS: &[&str] = &["CGO_ENABLED", "GOOS", "GOARCH", "GOARM"];

/// The RUN line with Go's target settings in front of `go build` (or `go
/// install`), replacing any of them it set; None when the RUN spans lines.
fn go_run(run: &Instruction, env: &str) -> Option<String> {
    if run.text.contains('\n') {
        return None;
    }
    let words: Vec<&str> = run.text.split_whitespace().collect();
    let at = words.windows(2).position(|w| w[0] == "go" && matches!(w[1], "build" | "install"))?;
    let mut out: Vec<&str> = Vec::new();
    for (k, word) in words.iter().enumerate() {
        if k == at {
            out.push(env);
        }
        let sets_go = word.split_once('=').is_some_and(|(name, _)| GO_SETTINGS.contains(&name));
        if !(sets_go && k < at) {
            out.push(word);
        }
    }
    Some(format!("RUN {}", out.join(" ")))
}

/// The cross-compiling rewrite of `stage`, whose RUN at `run` calls `tool`
/// of `toolchain` under QEMU for `emulated`; `platforms` are all requested.
pub(crate) fn advice(
    stage: &Stage,
    run: &Instruction,
    tool: &str,
    toolchain: Toolchain,
    emulated: &[Platform],
    platforms: &[Platform],
) -> String {
    let (from, name) = native_from(stage);
    let intro = format!(
        "`{tool}` (line {}) runs under QEMU emulation for {}: this stage is built once per target platform. Cross-compile \
         instead: the compiler runs natively and writes code for each target.",
        run.line,
        crate::platform::join(emulated),
    );
    let copy =
        format!("Then copy the result into the per-platform stage with `COPY --from={name}`.");
    match toolchain {
        Toolchain::Go => {
            let (args, env) = go_env(platforms);
            let run_line = go_run(run, env).unwrap_or_else(|| format!("RUN {env} {tool} …"));
            format!(
                "{intro}\n    {from}\n    {args}\n    {run_line}\n{copy} CGO_ENABLED=0 builds pure Go; with cgo each target \
                 needs a C cross compiler as well."
            )
        }
        Toolchain::Rust => {
            let mapped: Vec<String> = platforms
                .iter()
                .filter_map(|p| {
                    triples(p).map(|(gnu, rust)| format!("{p} → `{rust}` (linker `{gnu}-gcc`)"))
                })
                .collect();
            let example = emulated.iter().find_map(triples).map(|(gnu, rust)| {
                let variable = format!("CARGO_TARGET_{}_LINKER", rust.to_ascii_uppercase().replace('-', "_"));
                format!(
                    " For example: `rustup target add {rust}`, Debian's `gcc-{gnu}`, then `{variable}={gnu}-gcc cargo build \
                     --release --target {rust}`; the binary is in `target/{rust}/release/`."
                )
            });
            format!(
                "{intro}\n    {from}\n    ARG TARGETPLATFORM\nand build for the Rust target of `$TARGETPLATFORM` with its cross \
                 linker: {}.{}\n{copy}",
                mapped.join(", "),
                example.unwrap_or_default()
            )
        }
        Toolchain::C => {
            let (compiler, package) = match tool {
                "g++" | "c++" => ("g++", "g++"),
                "clang" | "clang++" => ("clang", "clang"),
                _ => ("gcc", "gcc"),
            };
            let mapped: Vec<String> = platforms
                .iter()
                .filter_map(|p| {
                    triples(p).map(|(gnu, _)| match compiler {
                        "clang" => format!("{p} → `{tool} --target={gnu}`"),
                        _ => format!("{p} → `{gnu}-{compiler}` (Debian: `{package}-{gnu}`)"),
                    })
                })
                .collect();
            format!(
                "{intro}\n    {from}\n    ARG TARGETPLATFORM\nand call the cross compiler of `$TARGETPLATFORM` (as `CC`/`CXX` for \
                 make or cmake): {}. Libraries the program links against come from the target's packages (`dpkg \
                 --add-architecture`, `libfoo-dev:<arch>`).\n{copy}",
                mapped.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Instruction {
        Instruction { line: 7, end_line: 7, keyword: "RUN".into(), text: text.into() }
    }

    #[test]
    fn toolchains_by_tool() {
        let cases = [
            ("go build", Some(Toolchain::Go)),
            ("go install", Some(Toolchain::Go)),
            ("cargo build", Some(Toolchain::Rust)),
            ("cargo b", Some(Toolchain::Rust)),
            ("rustc", Some(Toolchain::Rust)),
            ("gcc", Some(Toolchain::C)),
            ("clang++", Some(Toolchain::C)),
            ("make", None),
            ("npm ci", None),
            ("cmake", None),
        ];
        for (tool, expected) in cases {
            assert_eq!(Toolchain::of(tool), expected, "{tool}");
        }
    }

    #[test]
    fn go_settings_go_in_front_of_the_go_command() {
        let env = "CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH";
        let cases = [
            (
                "go build -o /out/hello .",
                Some(
                    "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/hello .",
                ),
            ),
            (
                "--mount=type=cache,target=/root/.cache go mod download && go build ./cmd/app",
                Some(
                    "RUN --mount=type=cache,target=/root/.cache go mod download && CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build ./cmd/app",
                ),
            ),
            (
                "GOOS=linux GOARCH=amd64 go install ./...",
                Some("RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go install ./..."),
            ),
            (
                "go build -ldflags=-X=main.GOOS=x .",
                Some(
                    "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags=-X=main.GOOS=x .",
                ),
            ),
            ("<<EOF\ngo build .\nEOF", None),
        ];
        for (text, expected) in cases {
            assert_eq!(go_run(&run(text), env).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn every_platform_has_its_triples() {
        let cases = [
            ("linux/amd64", "x86_64-linux-gnu", "x86_64-unknown-linux-gnu"),
            ("linux/arm64", "aarch64-linux-gnu", "aarch64-unknown-linux-gnu"),
            ("linux/arm/v7", "arm-linux-gnueabihf", "armv7-unknown-linux-gnueabihf"),
            ("linux/arm/v6", "arm-linux-gnueabihf", "arm-unknown-linux-gnueabihf"),
            ("linux/riscv64", "riscv64-linux-gnu", "riscv64gc-unknown-linux-gnu"),
            ("linux/ppc64le", "powerpc64le-linux-gnu", "powerpc64le-unknown-linux-gnu"),
            ("linux/386", "i686-linux-gnu", "i686-unknown-linux-gnu"),
        ];
        for (platform, gnu, rust) in cases {
            assert_eq!(
                triples(&Platform::parse(platform).unwrap()),
                Some((gnu, rust)),
                "{platform}"
            );
        }
    }

    fn stage(base: &str, name: Option<&str>) -> Stage {
        Stage {
            index: 0,
            name: name.map(str::to_string),
            from_line: 2,
            base: base.into(),
            platform_flag: None,
            instructions: vec![],
        }
    }

    #[test]
    fn advice_by_toolchain() {
        let all = Platform::parse_list("linux/amd64,linux/arm64,linux/arm/v7").unwrap();
        let emulated = &all[1..];
        /// (toolchain, RUN text, FROM image, stage name, parts of the advice)
        type Case =
            (Toolchain, &'static str, &'static str, Option<&'static str>, &'static [&'static str]);
        let cases: [Case; 4] = [
            (
                Toolchain::Go,
                "go build -o /out/hello .",
                "${GOLANG_IMAGE}",
                Some("builder"),
                &[
                    "`go build` (line 7) runs under QEMU emulation for linux/arm64,linux/arm/v7",
                    "\n    FROM --platform=$BUILDPLATFORM ${GOLANG_IMAGE} AS builder\n",
                    "\n    ARG TARGETOS TARGETARCH TARGETVARIANT\n",
                    "\n    RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} go build -o /out/hello .\n",
                    "`COPY --from=builder`",
                ],
            ),
            (
                Toolchain::Rust,
                "cargo build --release",
                "rust:1",
                None,
                &[
                    "FROM --platform=$BUILDPLATFORM rust:1 AS build",
                    "ARG TARGETPLATFORM",
                    "linux/arm64 → `aarch64-unknown-linux-gnu` (linker `aarch64-linux-gnu-gcc`)",
                    "linux/arm/v7 → `armv7-unknown-linux-gnueabihf` (linker `arm-linux-gnueabihf-gcc`)",
                    "`CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc cargo build --release --target aarch64-unknown-linux-gnu`",
                    "`COPY --from=build`",
                ],
            ),
            (
                Toolchain::C,
                "gcc -O2 -o /hello hello.c",
                "debian:12",
                Some("cc"),
                &[
                    "FROM --platform=$BUILDPLATFORM debian:12 AS cc",
                    "linux/arm64 → `aarch64-linux-gnu-gcc` (Debian: `gcc-aarch64-linux-gnu`)",
                ],
            ),
            (
                Toolchain::C,
                "clang -o /hello hello.c",
                "debian:12",
                None,
                &["linux/arm/v7 → `clang --target=arm-linux-gnueabihf`"],
            ),
        ];
        for (toolchain, text, base, name, parts) in cases {
            let tool = text
                .split_whitespace()
                .take(if toolchain == Toolchain::C { 1 } else { 2 })
                .collect::<Vec<_>>()
                .join(" ");
            let message = advice(&stage(base, name), &run(text), &tool, toolchain, emulated, &all);
            for part in parts {
                assert!(message.contains(part), "{part:?} in {message}");
            }
        }
        let amd_arm64 = Platform::parse_list("linux/amd64,linux/arm64").unwrap();
        let go = advice(
            &stage("golang", None),
            &run("go build ."),
            "go build",
            Toolchain::Go,
            &amd_arm64[1..],
            &amd_arm64,
        );
        assert!(
            go.contains("\n    ARG TARGETOS TARGETARCH\n") && !go.contains("GOARM"),
            "no arm, no GOARM: {go}"
        );
    }
}
