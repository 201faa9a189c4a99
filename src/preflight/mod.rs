//! Checks run before a multi-platform build: what the Dockerfile builds on
//! (stages, base images, which platform each stage runs on), lints for
//! patterns that break or crawl on other architectures, and a table of which
//! base images offer which of the requested platforms.
//!
//! Text in, values out: nothing here reads files, the environment or the
//! network, except [`phase`], the preflight phase of a run.
//!
//! * [`parse_dockerfile`] turns Dockerfile text into stages and instructions.
//! * [`resolve`] substitutes ARGs into FROM lines and keeps the stages the
//!   build target needs, each with its base (per platform where a
//!   `FROM base-${TARGETARCH}` picks one), the platform it runs on and the
//!   requested platforms it is built for.
//! * [`lint`] reports hard-coded architectures (`arch` says which names a
//!   Dockerfile picks per architecture) and compilers run under QEMU, with
//!   the cross-compiling rewrite for Go, Rust and C; after the build,
//!   [`measured_under_qemu`] says how much of it ran emulated.
//! * [`bases_to_check`], [`missing`], [`render_table`] and [`advice`] say
//!   which base images lack which platforms; [`render_stages`] lists the
//!   stages for the dry run.

mod arch;
pub(crate) mod cross;
mod dockerfile;
mod lint;
pub(crate) mod phase;
mod resolve;
mod rewrite;
mod table;
mod words;

pub use dockerfile::{Dockerfile, Instruction, Stage, parse_dockerfile};
pub(crate) use lint::measured_under_qemu;
pub use lint::{Finding, lint};
pub use resolve::{BaseRef, ResolvedStage, StagePlatform, resolve};
pub(crate) use table::{advice, bases_to_check, missing, render_stages, render_table};

use thiserror::Error;

/// Why a Dockerfile could not be parsed or resolved. Every message starts
/// with `Dockerfile` and, where there is one, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DockerfileError {
    #[error("Dockerfile: no FROM instruction; a Dockerfile needs at least one build stage")]
    NoFrom,
    #[error("Dockerfile line {line}: FROM needs an image (FROM [--platform=…] image [AS name])")]
    FromWithoutImage { line: u32 },
    #[error(
        "Dockerfile line {line}: `FROM {text}` is not of the form FROM [--platform=…] image [AS name]"
    )]
    BadFrom { line: u32, text: String },
    #[error("Dockerfile line {line}: {keyword} comes before the first FROM, where only ARG may")]
    BeforeFrom { line: u32, keyword: String },
    #[error("Dockerfile line {line}: the stage name `{name}` is already used by an earlier stage")]
    DuplicateStage { line: u32, name: String },
    #[error("Dockerfile line {line}: ARG needs a name (ARG NAME[=default] …)")]
    ArgWithoutName { line: u32 },
    #[error("Dockerfile line {line}: the heredoc <<{delimiter} has no closing `{delimiter}` line")]
    UnterminatedHeredoc { line: u32, delimiter: String },
    #[error("Dockerfile line {line}: the `{key}` parser directive is given twice; keep one")]
    RepeatedDirective { line: u32, key: String },
    #[error("Dockerfile line {line}: the escape directive takes `\\` or `` ` ``, not `{value}`")]
    BadEscape { line: u32, value: String },
    #[error(
        "Dockerfile line {line}: cannot substitute ARGs in `{text}`: a ${{…}} is unclosed or uses \
         a form BuildKit refuses too (it takes ${{VAR}}, ${{VAR:-x}}, ${{VAR:+x}}, ${{VAR:?x}}, \
         ${{VAR#x}}, ${{VAR%x}}, ${{VAR/x/y}} and their doubled forms)"
    )]
    BadSubstitution { line: u32, text: String },
    #[error("Dockerfile line {line}: ARG {name} must be set: {message}")]
    RequiredArg { line: u32, name: String, message: String },
    #[error("Dockerfile line {line}: `FROM {text}` gives an empty image name{}", unset_note(.unset))]
    EmptyImage { line: u32, text: String, unset: Vec<String> },
    #[error(
        "Dockerfile line {line}: `{text}` gives `{image}`, which is not an image reference{}",
        unset_note(.unset)
    )]
    BadImage { line: u32, text: String, image: String, unset: Vec<String> },
    #[error(
        "Dockerfile line {line}: --platform={value} is neither $BUILDPLATFORM, $TARGETPLATFORM \
         nor a platform such as linux/amd64"
    )]
    BadPlatform { line: u32, value: String },
    #[error("Dockerfile: the target stage `{target}` does not exist (named stages: {known})")]
    UnknownTarget { target: String, known: String },
}

fn unset_note(unset: &[String]) -> String {
    if unset.is_empty() {
        String::new()
    } else {
        format!(
            " because ARG {} is unset; give the ARG a default or pass it in build-args",
            unset.join(", ")
        )
    }
}
