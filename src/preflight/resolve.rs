//! Resolving a parsed Dockerfile for one build: global ARGs (with build-arg
//! overrides) substituted into FROM lines, the stages the target needs, each
//! stage's base (an image, an earlier stage or scratch), the images it copies
//! or mounts from, and the platform it runs on.

use std::collections::{BTreeSet, HashMap};

use super::DockerfileError;
use super::dockerfile::{Dockerfile, Stage};
use super::words::{ExpandError, Lookup, expand};
use crate::platform::Platform;

/// What a stage builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    /// An image reference, ARGs substituted.
    External(String),
    /// An earlier stage, by index.
    Stage(usize),
    Scratch,
    /// A `FROM` whose substitution this parser does not read (e.g.
    /// `${BASE%:*}`, which BuildKit accepts): not checked, with a warning.
    Unreadable(String),
}

/// Which platform a stage runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagePlatform {
    /// Once per requested platform (no `--platform`, or `$TARGETPLATFORM`):
    /// its base must offer every requested platform.
    Target,
    /// Once, natively (`--platform=$BUILDPLATFORM`).
    Build,
    /// Once, on a platform written in the Dockerfile.
    Fixed(Platform),
}

/// A stage the build target needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedStage {
    pub index: usize,
    pub name: Option<String>,
    pub from_line: u32,
    pub base: BaseRef,
    pub runs_on: StagePlatform,
    /// Images this stage copies or mounts from (`COPY --from=image`,
    /// `RUN --mount=…,from=image`), with their lines; they are pulled for
    /// the stage's platform like its base.
    pub extra_images: Vec<(u32, String)>,
}

/// BuildKit's automatic platform ARGs: their values differ per platform, so
/// references to them are left as written.
const PLATFORM_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// The global ARG values: build-args override defaults; build-args for
/// ARGs the Dockerfile does not declare before FROM are not used.
fn global_env(df: &Dockerfile, build_args: &HashMap<String, String>) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = HashMap::new();
    for (name, default) in &df.global_args {
        let value = match (build_args.get(name), default) {
            (Some(value), _) => value.clone(),
            (None, Some(default)) => {
                let mut unset = Vec::new();
                substitute(default, df.escape, &env, &mut unset).unwrap_or_else(|_| default.clone())
            }
            (None, None) => continue,
        };
        env.insert(name.clone(), value);
    }
    env
}

fn substitute(
    text: &str,
    escape: char,
    env: &HashMap<String, String>,
    unset: &mut Vec<String>,
) -> Result<String, ExpandError> {
    expand(text, escape, &mut |name| {
        if PLATFORM_ARGS.contains(&name) {
            Lookup::Keep
        } else if let Some(value) = env.get(name) {
            Lookup::Set(value.clone())
        } else {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            Lookup::Unset
        }
    })
}

fn expand_error(line: u32, text: &str, error: ExpandError) -> DockerfileError {
    match error {
        ExpandError::Syntax | ExpandError::Unsupported => {
            DockerfileError::BadSubstitution { line, text: text.to_string() }
        }
        ExpandError::Required { name, message } => {
            DockerfileError::RequiredArg { line, name, message }
        }
    }
}

/// The earlier stage `reference` names, by name (any case) or index.
fn stage_ref(df: &Dockerfile, reference: &str, before: usize) -> Option<usize> {
    let lower = reference.to_ascii_lowercase();
    let earlier = &df.stages[..before.min(df.stages.len())];
    earlier
        .iter()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
        .map(|s| s.index)
        .or_else(|| lower.parse::<usize>().ok().filter(|i| *i < before))
}

/// A loose check of an image reference: what an unset ARG typically leaves
/// behind (`repo:`, `/name`, `a//b`) fails it.
fn looks_like_reference(image: &str) -> bool {
    let bad_edge = |c: char| matches!(c, ':' | '@' | '/' | '.' | '-');
    !image.is_empty()
        && !image.contains(char::is_whitespace)
        && !image.starts_with(bad_edge)
        && !image.ends_with(bad_edge)
        && !image.contains("//")
        && !image.contains("::")
        && !image.contains(":@")
        && !image.contains("@@")
}

/// How a `--platform` value (as written) places the stage.
fn classify_platform(
    raw: &str,
    line: u32,
    escape: char,
    env: &HashMap<String, String>,
) -> Result<StagePlatform, DockerfileError> {
    let mut unset = Vec::new();
    let value = substitute(raw, escape, env, &mut unset).map_err(|e| expand_error(line, raw, e))?;
    let value = value.trim();
    let refers = |names: &[&str]| {
        names.iter().any(|n| value.contains(&format!("${n}")) || value.contains(&format!("${{{n}")))
    };
    if refers(&["BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"]) {
        return Ok(StagePlatform::Build);
    }
    if refers(&["TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"]) {
        return Ok(StagePlatform::Target);
    }
    Platform::parse(value)
        .map(StagePlatform::Fixed)
        .map_err(|_| DockerfileError::BadPlatform { line, value: raw.to_string() })
}

/// What one stage refers to, before knowing whether it is needed. Errors
/// are kept and raised only for stages the target needs.
struct Draft {
    base: Result<BaseRef, DockerfileError>,
    runs_on: Result<StagePlatform, DockerfileError>,
    stage_deps: Vec<usize>,
    extra_images: Vec<(u32, String)>,
}

fn draft(
    df: &Dockerfile,
    stage: &Stage,
    env: &HashMap<String, String>,
    earlier: &[Draft],
) -> Draft {
    let line = stage.from_line;
    let base = resolve_base(df, stage, env);
    let runs_on = match (&stage.platform_flag, &base) {
        (Some(flag), _) => classify_platform(flag, line, df.escape, env),
        (None, Ok(BaseRef::Stage(j))) => earlier[*j].runs_on.clone(),
        (None, _) => Ok(StagePlatform::Target),
    };
    let mut stage_deps = Vec::new();
    if let Ok(BaseRef::Stage(j)) = &base {
        stage_deps.push(*j);
    }
    let mut extra_images = Vec::new();
    for instruction in &stage.instructions {
        let sources = instruction.copy_from().into_iter().chain(instruction.mount_sources());
        for source in sources {
            let mut unset = Vec::new();
            let source = substitute(&source, df.escape, env, &mut unset).unwrap_or(source);
            if source.is_empty() || source.eq_ignore_ascii_case("scratch") {
                continue;
            }
            match stage_ref(df, &source, stage.index) {
                Some(j) => stage_deps.push(j),
                None => extra_images.push((instruction.line, source)),
            }
        }
    }
    Draft { base, runs_on, stage_deps, extra_images }
}

fn resolve_base(
    df: &Dockerfile,
    stage: &Stage,
    env: &HashMap<String, String>,
) -> Result<BaseRef, DockerfileError> {
    let line = stage.from_line;
    let mut unset = Vec::new();
    let image = match substitute(&stage.base, df.escape, env, &mut unset) {
        Ok(image) => image,
        Err(ExpandError::Unsupported) => return Ok(BaseRef::Unreadable(stage.base.clone())),
        Err(error) => return Err(expand_error(line, &stage.base, error)),
    };
    if image.is_empty() {
        return Err(DockerfileError::EmptyImage { line, text: stage.base.clone(), unset });
    }
    if image.eq_ignore_ascii_case("scratch") {
        return Ok(BaseRef::Scratch);
    }
    if let Some(j) = stage_ref(df, &image, stage.index) {
        return Ok(BaseRef::Stage(j));
    }
    if !looks_like_reference(&image) {
        return Err(DockerfileError::BadImage { line, text: stage.base.clone(), image, unset });
    }
    Ok(BaseRef::External(image))
}

/// Resolves the stages that build `target` (a stage name, any case) or, by
/// default, the last stage: that stage and every stage it needs through
/// `FROM <stage>`, `COPY --from=<stage|index>` and
/// `RUN --mount=…,from=<stage>`, in Dockerfile order. Other stages are left
/// out, and so are their errors.
pub fn resolve(
    df: &Dockerfile,
    build_args: &HashMap<String, String>,
    target: Option<&str>,
) -> Result<Vec<ResolvedStage>, DockerfileError> {
    let env = global_env(df, build_args);
    let mut drafts: Vec<Draft> = Vec::with_capacity(df.stages.len());
    for stage in &df.stages {
        let d = draft(df, stage, &env, &drafts);
        drafts.push(d);
    }

    let last = df.stages.len().checked_sub(1).ok_or(DockerfileError::NoFrom)?;
    let root = match target {
        None => last,
        Some(target) => {
            let lower = target.to_ascii_lowercase();
            df.stages
                .iter()
                .find(|s| s.name.as_deref() == Some(lower.as_str()))
                .map(|s| s.index)
                .ok_or_else(|| DockerfileError::UnknownTarget {
                    target: target.to_string(),
                    known: known_names(df),
                })?
        }
    };

    let mut needed = BTreeSet::new();
    let mut pending = vec![root];
    while let Some(i) = pending.pop() {
        if needed.insert(i) {
            pending.extend(drafts[i].stage_deps.iter().copied());
        }
    }

    needed
        .into_iter()
        .map(|i| {
            let stage = &df.stages[i];
            let d = &drafts[i];
            Ok(ResolvedStage {
                index: i,
                name: stage.name.clone(),
                from_line: stage.from_line,
                base: d.base.clone()?,
                runs_on: d.runs_on.clone()?,
                extra_images: d.extra_images.clone(),
            })
        })
        .collect()
}

fn known_names(df: &Dockerfile) -> String {
    let names: Vec<&str> = df.stages.iter().filter_map(|s| s.name.as_deref()).collect();
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::parse_dockerfile;

    fn platform(text: &str) -> Platform {
        Platform::parse(text).unwrap()
    }

    type Pairs = &'static [(&'static str, &'static str)];

    fn args(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn external(image: &str) -> BaseRef {
        BaseRef::External(image.to_string())
    }

    /// The base of the last stage.
    fn final_base(text: &str, build_args: &[(&str, &str)]) -> Result<BaseRef, DockerfileError> {
        let df = parse_dockerfile(text).unwrap();
        let stages = resolve(&df, &args(build_args), None)?;
        Ok(stages.last().unwrap().base.clone())
    }

    #[test]
    fn global_args_substitute_into_from() {
        let cases: [(&str, Pairs, BaseRef); 12] = [
            ("ARG BASE=alpine\nARG TAG=3.19\nFROM ${BASE}:$TAG\n", &[], external("alpine:3.19")),
            (
                "ARG BASE=alpine\nARG TAG=3.19\nFROM ${BASE}:$TAG\n",
                &[("TAG", "3.20"), ("OTHER", "x")],
                external("alpine:3.20"),
            ),
            ("ARG A=1 BASE\nFROM $BASE\n", &[("BASE", "debian:12")], external("debian:12")),
            ("ARG X\nFROM ${X:-debian}:12\n", &[], external("debian:12")),
            ("ARG X=\nFROM ${X:-debian}:12\n", &[], external("debian:12")),
            ("ARG X\nFROM ${X:-debian}:12\n", &[("X", "ubuntu")], external("ubuntu:12")),
            ("ARG V\nFROM python:3.12${V:+-slim}\n", &[], external("python:3.12")),
            ("ARG V\nFROM python:3.12${V:+-slim}\n", &[("V", "1")], external("python:3.12-slim")),
            (
                "ARG REG=docker.io\nARG IMG=\"$REG/library/alpine\"\nFROM $IMG\n",
                &[],
                external("docker.io/library/alpine"),
            ),
            (
                "ARG REG=docker.io\nARG IMG=$REG/library/alpine\nFROM $IMG\n",
                &[("REG", "ghcr.io")],
                external("ghcr.io/library/alpine"),
            ),
            ("FROM foo:${TARGETARCH}\n", &[], external("foo:${TARGETARCH}")),
            ("FROM alpine AS ARG\nARG X=ignored\nFROM ${X:-Arg}\n", &[], BaseRef::Stage(0)),
        ];
        for (text, build_args, expected) in cases {
            assert_eq!(final_base(text, build_args), Ok(expected), "{text} {build_args:?}");
        }
    }

    #[test]
    fn bases_by_stage_name_index_and_scratch() {
        let cases: [(&str, BaseRef); 5] = [
            ("FROM golang AS Builder\nFROM BUILDER\n", BaseRef::Stage(0)),
            ("FROM golang AS builder\nFROM builder AS x\nFROM x\n", BaseRef::Stage(1)),
            ("FROM alpine\nFROM 0\n", BaseRef::Stage(0)),
            ("FROM scratch\n", BaseRef::Scratch),
            ("FROM SCRATCH\n", BaseRef::Scratch),
        ];
        for (text, expected) in cases {
            assert_eq!(final_base(text, &[]), Ok(expected), "{text}");
        }
        // A later stage's name is an image, not a stage.
        let df = parse_dockerfile("FROM later\nFROM alpine AS later\nCOPY --from=0 / /\n").unwrap();
        let stages = resolve(&df, &HashMap::new(), None).unwrap();
        assert_eq!(stages[0].base, external("later"));
    }

    const PLATFORMS: &str = "\
ARG P=linux/arm/v7
FROM --platform=$BUILDPLATFORM golang AS a
FROM --platform=${BUILDPLATFORM} golang AS b
FROM --platform=$TARGETPLATFORM alpine AS c
FROM --platform=${TARGETPLATFORM} alpine AS d
FROM --platform=linux/arm64 alpine AS e
FROM alpine AS f
FROM a AS g
FROM --platform=linux/amd64 a AS h
FROM scratch AS i
FROM e AS j
FROM --platform=$P alpine AS k
FROM --platform=$BUILDOS/$BUILDARCH alpine AS l
";

    #[test]
    fn platform_flags() {
        let df = parse_dockerfile(PLATFORMS).unwrap();
        let fixed = |p: &str| StagePlatform::Fixed(platform(p));
        let cases = [
            ("a", StagePlatform::Build),
            ("b", StagePlatform::Build),
            ("c", StagePlatform::Target),
            ("d", StagePlatform::Target),
            ("e", fixed("linux/arm64")),
            ("f", StagePlatform::Target),
            ("g", StagePlatform::Build),
            ("h", fixed("linux/amd64")),
            ("i", StagePlatform::Target),
            ("j", fixed("linux/arm64")),
            ("k", fixed("linux/arm/v7")),
            ("l", StagePlatform::Build),
        ];
        for (target, expected) in cases {
            let stages = resolve(&df, &HashMap::new(), Some(target)).unwrap();
            assert_eq!(stages.last().unwrap().runs_on, expected, "stage {target}");
        }
        let stages = resolve(&df, &args(&[("P", "linux/riscv64")]), Some("k")).unwrap();
        assert_eq!(stages[0].runs_on, fixed("linux/riscv64"));
    }

    #[test]
    fn only_stages_the_target_needs() {
        let text = "\
FROM golang AS build
FROM node AS unused
FROM rust AS Tools
FROM alpine AS final
COPY --from=0 /app /app
RUN --mount=type=bind,from=tools,source=/t,target=/t --mount=type=cache,target=/c true
COPY --from=busybox:1.36 /bin/busybox /bin/
FROM final AS debug
";
        let df = parse_dockerfile(text).unwrap();
        let indices = |target| -> Vec<usize> {
            resolve(&df, &HashMap::new(), target).unwrap().iter().map(|s| s.index).collect()
        };
        assert_eq!(indices(None), [0, 2, 3, 4]);
        assert_eq!(indices(Some("final")), [0, 2, 3]);
        assert_eq!(indices(Some("BUILD")), [0]);
        assert_eq!(indices(Some("unused")), [1]);

        let stages = resolve(&df, &HashMap::new(), Some("final")).unwrap();
        let last = stages.last().unwrap();
        assert_eq!(last.name.as_deref(), Some("final"));
        assert_eq!(last.from_line, 4);
        assert_eq!(last.extra_images, [(7, "busybox:1.36".to_string())]);
        assert!(stages[0].extra_images.is_empty());

        let error = resolve(&df, &HashMap::new(), Some("nope")).unwrap_err();
        assert_eq!(
            error,
            DockerfileError::UnknownTarget {
                target: "nope".into(),
                known: "build, unused, tools, final, debug".into()
            }
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases: [(&str, Pairs, DockerfileError); 6] = [
            (
                "ARG BASE\nFROM alpine AS ok\nFROM $BASE\n",
                &[],
                DockerfileError::EmptyImage {
                    line: 3,
                    text: "$BASE".into(),
                    unset: vec!["BASE".into()],
                },
            ),
            (
                "FROM $UNDECLARED\n",
                &[("UNDECLARED", "alpine")],
                DockerfileError::EmptyImage {
                    line: 1,
                    text: "$UNDECLARED".into(),
                    unset: vec!["UNDECLARED".into()],
                },
            ),
            (
                "ARG TAG\nFROM alpine:$TAG\n",
                &[],
                DockerfileError::BadImage {
                    line: 2,
                    text: "alpine:$TAG".into(),
                    image: "alpine:".into(),
                    unset: vec!["TAG".into()],
                },
            ),
            (
                "ARG X\nFROM ${X:?set X to the base image}\n",
                &[],
                DockerfileError::RequiredArg {
                    line: 2,
                    name: "X".into(),
                    message: "set X to the base image".into(),
                },
            ),
            ("FROM ${X\n", &[], DockerfileError::BadSubstitution { line: 1, text: "${X".into() }),
            (
                "FROM --platform=windows/amd64 alpine\n",
                &[],
                DockerfileError::BadPlatform { line: 1, value: "windows/amd64".into() },
            ),
        ];
        for (text, build_args, expected) in cases {
            let df = parse_dockerfile(text).unwrap();
            assert_eq!(resolve(&df, &args(build_args), None), Err(expected), "{text}");
        }

        let df = parse_dockerfile("ARG BASE\nFROM alpine AS ok\nFROM $BASE\n").unwrap();
        let message = resolve(&df, &HashMap::new(), None).unwrap_err().to_string();
        assert!(message.starts_with("Dockerfile line 3:"), "{message}");
        assert!(message.contains("ARG BASE is unset"), "{message}");
        // Fixed by a build-arg, or not needed for the target.
        assert!(resolve(&df, &args(&[("BASE", "debian")]), None).is_ok());
        assert!(resolve(&df, &HashMap::new(), Some("ok")).is_ok());
    }

    #[test]
    fn a_substitution_this_parser_does_not_read_leaves_that_base_unchecked() {
        let df =
            parse_dockerfile("ARG BASE_IMAGE=busybox:1\nFROM ${BASE_IMAGE%:*}:multi\nRUN true\n")
                .unwrap();
        let stages = resolve(&df, &HashMap::new(), None).unwrap();
        assert_eq!(stages[0].base, BaseRef::Unreadable("${BASE_IMAGE%:*}:multi".into()));
    }
}
