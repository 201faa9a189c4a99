//! Resolving a parsed Dockerfile for one build: global ARGs (with build-arg
//! overrides) substituted into FROM lines, the stages the target needs, each
//! stage's base (an image, an earlier stage or scratch), the images it copies
//! or mounts from, the platform it runs on and, for a stage built per
//! target platform, which of the requested platforms reach it (a
//! `FROM base-${TARGETARCH}` picks a different stage per platform).

use std::collections::{BTreeMap, HashMap};

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
    /// A FROM naming BuildKit's platform ARGs (`FROM base-${TARGETARCH}`,
    /// `FROM img:$TARGETOS`): what it gives for each requested platform
    /// (never itself `PerPlatform`).
    PerPlatform(Vec<(Platform, BaseRef)>),
}

impl BaseRef {
    /// What the base is for `platform`.
    pub fn for_platform(&self, platform: &Platform) -> Option<&BaseRef> {
        match self {
            BaseRef::PerPlatform(list) => list.iter().find(|(p, _)| p == platform).map(|(_, b)| b),
            other => Some(other),
        }
    }
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
    /// The requested platforms this stage is built for: all of them, or
    /// those whose `FROM …${TARGETARCH}` picks it.
    pub targets: Vec<Platform>,
    /// Images this stage copies or mounts from (`COPY --from=image`,
    /// `RUN --mount=…,from=image`), with their lines; they are pulled for
    /// the stage's platform like its base.
    pub extra_images: Vec<(u32, String)>,
}

impl ResolvedStage {
    /// The platforms the stage is built for, out of `requested`: those
    /// that pick it, or all of them.
    pub fn targets_or<'a>(&'a self, requested: &'a [Platform]) -> &'a [Platform] {
        if self.targets.is_empty() { requested } else { &self.targets }
    }
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

/// The value of BuildKit's automatic `TARGET…` ARG `name` for `platform`.
fn target_arg(name: &str, platform: &Platform) -> Option<String> {
    Some(match name {
        "TARGETPLATFORM" => platform.to_string(),
        "TARGETOS" => platform.os.clone(),
        "TARGETARCH" => platform.arch.clone(),
        "TARGETVARIANT" => platform.variant.clone().unwrap_or_default(),
        _ => return None,
    })
}

/// The global ARG values: build-args override defaults; build-args for
/// ARGs the Dockerfile does not declare before FROM are not used. With a
/// platform, BuildKit's `TARGET…` ARGs have its values.
fn global_env(
    df: &Dockerfile,
    build_args: &HashMap<String, String>,
    platform: Option<&Platform>,
) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = HashMap::new();
    if let Some(platform) = platform {
        for name in &PLATFORM_ARGS[..4] {
            env.extend(target_arg(name, platform).map(|value| (name.to_string(), value)));
        }
    }
    for (name, default) in &df.global_args {
        let value = match (build_args.get(name), default) {
            _ if PLATFORM_ARGS.contains(&name.as_str()) => continue,
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
        if let Some(value) = env.get(name) {
            Lookup::Set(value.clone())
        } else if PLATFORM_ARGS.contains(&name) {
            Lookup::Keep
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
    /// Earlier stages it needs: for every platform it is built for (`None`)
    /// or for one (a `FROM base-${TARGETARCH}`).
    stage_deps: Vec<(usize, Option<Platform>)>,
    extra_images: Vec<(u32, String)>,
}

/// The global ARG values, without platform and for each requested one.
struct Envs {
    plain: HashMap<String, String>,
    per_platform: Vec<(Platform, HashMap<String, String>)>,
}

fn draft(df: &Dockerfile, stage: &Stage, envs: &Envs, earlier: &[Draft]) -> Draft {
    let line = stage.from_line;
    let env = &envs.plain;
    let base = per_platform_base(df, stage, envs);
    let mut stage_deps = Vec::new();
    match &base {
        Ok(BaseRef::Stage(j)) => stage_deps.push((*j, None)),
        Ok(BaseRef::PerPlatform(list)) => {
            for (platform, base) in list {
                if let BaseRef::Stage(j) = base {
                    stage_deps.push((*j, Some(platform.clone())));
                }
            }
        }
        _ => {}
    }
    let runs_on = match (&stage.platform_flag, stage_deps.first()) {
        (Some(flag), _) => classify_platform(flag, line, df.escape, env),
        (None, Some((j, _))) => earlier[*j].runs_on.clone(),
        (None, None) => Ok(StagePlatform::Target),
    };
    let mut extra_images = Vec::new();
    for instruction in &stage.instructions {
        let sources = instruction.copy_from().into_iter().chain(instruction.mount_sources());
        for source in sources {
            let each: Vec<(Option<&Platform>, &HashMap<String, String>)> =
                if envs.per_platform.is_empty() {
                    vec![(None, env)]
                } else {
                    envs.per_platform.iter().map(|(p, env)| (Some(p), env)).collect()
                };
            for (platform, env) in each {
                let mut unset = Vec::new();
                let source =
                    substitute(&source, df.escape, env, &mut unset).unwrap_or(source.clone());
                if source.is_empty() || source.eq_ignore_ascii_case("scratch") {
                    continue;
                }
                match stage_ref(df, &source, stage.index) {
                    Some(j) => stage_deps.push((j, platform.cloned())),
                    None if !extra_images.iter().any(|(_, i)| *i == source) => {
                        extra_images.push((instruction.line, source));
                    }
                    None => {}
                }
            }
        }
    }
    Draft { base, runs_on, stage_deps, extra_images }
}

/// The stage's base; when it differs between the requested platforms (it
/// names `$TARGETARCH` and the like), what it is for each.
fn per_platform_base(
    df: &Dockerfile,
    stage: &Stage,
    envs: &Envs,
) -> Result<BaseRef, DockerfileError> {
    if envs.per_platform.is_empty() {
        return resolve_base(df, stage, &envs.plain);
    }
    let mut list = Vec::new();
    for (platform, env) in &envs.per_platform {
        list.push((platform.clone(), resolve_base(df, stage, env)?));
    }
    if list.iter().all(|(_, base)| *base == list[0].1) {
        return Ok(list.swap_remove(0).1);
    }
    Ok(BaseRef::PerPlatform(list))
}

fn resolve_base(
    df: &Dockerfile,
    stage: &Stage,
    env: &HashMap<String, String>,
) -> Result<BaseRef, DockerfileError> {
    let line = stage.from_line;
    let mut unset = Vec::new();
    let image = substitute(&stage.base, df.escape, env, &mut unset)
        .map_err(|error| expand_error(line, &stage.base, error))?;
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
/// default, the last stage, for the requested `platforms`: that stage and
/// every stage it needs through `FROM <stage>` (for a
/// `FROM base-${TARGETARCH}`, the stage each platform picks),
/// `COPY --from=<stage|index>` and `RUN --mount=…,from=<stage>`, in
/// Dockerfile order. Other stages are left out, and so are their errors.
/// Without platforms, BuildKit's platform ARGs are left as written.
pub fn resolve(
    df: &Dockerfile,
    build_args: &HashMap<String, String>,
    target: Option<&str>,
    platforms: &[Platform],
) -> Result<Vec<ResolvedStage>, DockerfileError> {
    let envs = Envs {
        plain: global_env(df, build_args, None),
        per_platform: platforms
            .iter()
            .map(|p| (p.clone(), global_env(df, build_args, Some(p))))
            .collect(),
    };
    let mut drafts: Vec<Draft> = Vec::with_capacity(df.stages.len());
    for stage in &df.stages {
        let d = draft(df, stage, &envs, &drafts);
        drafts.push(d);
    }
    let root = root_stage(df, target)?;
    let targets = needed_stages(&drafts, root, platforms);
    targets
        .into_iter()
        .map(|(i, targets)| {
            let stage = &df.stages[i];
            let d = &drafts[i];
            Ok(ResolvedStage {
                index: i,
                name: stage.name.clone(),
                from_line: stage.from_line,
                base: d.base.clone()?,
                runs_on: d.runs_on.clone()?,
                targets,
                extra_images: d.extra_images.clone(),
            })
        })
        .collect()
}

fn root_stage(df: &Dockerfile, target: Option<&str>) -> Result<usize, DockerfileError> {
    let last = df.stages.len().checked_sub(1).ok_or(DockerfileError::NoFrom)?;
    let Some(target) = target else { return Ok(last) };
    let lower = target.to_ascii_lowercase();
    df.stages
        .iter()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
        .map(|s| s.index)
        .ok_or_else(|| DockerfileError::UnknownTarget {
            target: target.to_string(),
            known: known_names(df),
        })
}

/// Every stage `root` needs, with the requested platforms it is built for.
fn needed_stages(
    drafts: &[Draft],
    root: usize,
    platforms: &[Platform],
) -> BTreeMap<usize, Vec<Platform>> {
    let mut needed: BTreeMap<usize, Vec<Platform>> = BTreeMap::new();
    let mut pending = vec![(root, platforms.to_vec())];
    while let Some((i, reaching)) = pending.pop() {
        let known = needed.get(&i);
        let fresh: Vec<Platform> = match known {
            None => reaching,
            Some(known) => reaching.into_iter().filter(|p| !known.contains(p)).collect(),
        };
        if known.is_some() && fresh.is_empty() {
            continue;
        }
        needed.entry(i).or_default().extend(fresh.iter().cloned());
        for (j, only) in &drafts[i].stage_deps {
            let passed = match only {
                None => fresh.clone(),
                Some(p) => fresh.iter().filter(|f| *f == p).cloned().collect(),
            };
            if only.is_none() || !passed.is_empty() {
                pending.push((*j, passed));
            }
        }
    }
    for reaching in needed.values_mut() {
        reaching.sort_by_key(|p| platforms.iter().position(|q| q == p));
    }
    needed
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
        let stages = resolve(&df, &args(build_args), None, &[])?;
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
        let stages = resolve(&df, &HashMap::new(), None, &[]).unwrap();
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
            let stages = resolve(&df, &HashMap::new(), Some(target), &[]).unwrap();
            assert_eq!(stages.last().unwrap().runs_on, expected, "stage {target}");
        }
        let stages = resolve(&df, &args(&[("P", "linux/riscv64")]), Some("k"), &[]).unwrap();
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
            resolve(&df, &HashMap::new(), target, &[]).unwrap().iter().map(|s| s.index).collect()
        };
        assert_eq!(indices(None), [0, 2, 3, 4]);
        assert_eq!(indices(Some("final")), [0, 2, 3]);
        assert_eq!(indices(Some("BUILD")), [0]);
        assert_eq!(indices(Some("unused")), [1]);

        let stages = resolve(&df, &HashMap::new(), Some("final"), &[]).unwrap();
        let last = stages.last().unwrap();
        assert_eq!(last.name.as_deref(), Some("final"));
        assert_eq!(last.from_line, 4);
        assert_eq!(last.extra_images, [(7, "busybox:1.36".to_string())]);
        assert!(stages[0].extra_images.is_empty());

        let error = resolve(&df, &HashMap::new(), Some("nope"), &[]).unwrap_err();
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
            assert_eq!(resolve(&df, &args(build_args), None, &[]), Err(expected), "{text}");
        }

        let df = parse_dockerfile("ARG BASE\nFROM alpine AS ok\nFROM $BASE\n").unwrap();
        let message = resolve(&df, &HashMap::new(), None, &[]).unwrap_err().to_string();
        assert!(message.starts_with("Dockerfile line 3:"), "{message}");
        assert!(message.contains("ARG BASE is unset"), "{message}");
        // Fixed by a build-arg, or not needed for the target.
        assert!(resolve(&df, &args(&[("BASE", "debian")]), None, &[]).is_ok());
        assert!(resolve(&df, &HashMap::new(), Some("ok"), &[]).is_ok());
    }

    #[test]
    fn pattern_substitutions_in_from() {
        let cases = [
            ("ARG BASE_IMAGE=busybox:1\nFROM ${BASE_IMAGE%:*}:multi\n", "busybox:multi"),
            ("ARG image=idle-alpine\nFROM ${image#idle-}\n", "alpine"),
            ("ARG V=3.19.1\nFROM alpine:${V%.*}\n", "alpine:3.19"),
            ("ARG V=3.19.1\nFROM alpine:${V%%.*}\n", "alpine:3"),
            ("ARG R=ghcr.io/o/app\nFROM ${R/ghcr.io/docker.io}\n", "docker.io/o/app"),
            ("ARG T=1.2-alpine\nFROM node:${T##*-}\n", "node:alpine"),
        ];
        for (text, expected) in cases {
            assert_eq!(final_base(text, &[]), Ok(external(expected)), "{text}");
        }
        let df = parse_dockerfile("ARG A=x\nFROM ${A:#x}\n").unwrap();
        assert_eq!(
            resolve(&df, &HashMap::new(), None, &[]),
            Err(DockerfileError::BadSubstitution { line: 2, text: "${A:#x}".into() })
        );
    }

    const PER_ARCH: &str = "\
FROM --platform=$BUILDPLATFORM golang AS build
FROM debian AS base-amd64
FROM alpine AS base-arm64
FROM busybox AS base-riscv64
FROM scratch AS binaries-linux
COPY --from=build /out /
FROM base-${TARGETARCH} AS release
COPY --from=binaries-$TARGETOS / /usr/bin/
";

    #[test]
    fn stages_picked_per_platform() {
        let two = Platform::parse_list("linux/amd64,linux/arm64").unwrap();
        let df = parse_dockerfile(PER_ARCH).unwrap();
        let stages = resolve(&df, &HashMap::new(), None, &two).unwrap();
        let summary: Vec<(usize, Vec<String>)> = stages
            .iter()
            .map(|s| (s.index, s.targets.iter().map(ToString::to_string).collect()))
            .collect();
        let both = vec!["linux/amd64".to_string(), "linux/arm64".to_string()];
        assert_eq!(
            summary,
            [
                (0, both.clone()),
                (1, vec!["linux/amd64".to_string()]),
                (2, vec!["linux/arm64".to_string()]),
                (4, both.clone()),
                (5, both),
            ]
        );
        assert_eq!(
            stages[4].base,
            BaseRef::PerPlatform(vec![
                (two[0].clone(), BaseRef::Stage(1)),
                (two[1].clone(), BaseRef::Stage(2)),
            ])
        );
        assert_eq!(stages[4].base.for_platform(&two[1]), Some(&BaseRef::Stage(2)));
        assert_eq!(stages[4].runs_on, StagePlatform::Target);

        // A platform without its stage pulls an image of that name, as
        // BuildKit would (and the registry check then finds none).
        let s390x = Platform::parse_list("linux/amd64,linux/s390x").unwrap();
        let stages = resolve(&df, &HashMap::new(), None, &s390x).unwrap();
        let release = stages.last().unwrap();
        assert_eq!(release.base.for_platform(&s390x[1]), Some(&external("base-s390x")));

        // Images named per platform, directly or through a global ARG.
        let cases = [
            "FROM tool:${TARGETARCH}\n",
            "ARG IMG=tool:${TARGETARCH}\nFROM $IMG\n",
            "ARG TARGETARCH\nFROM tool:$TARGETARCH\n",
        ];
        for text in cases {
            let df = parse_dockerfile(text).unwrap();
            let stages = resolve(&df, &HashMap::new(), None, &two).unwrap();
            assert_eq!(
                stages[0].base,
                BaseRef::PerPlatform(vec![
                    (two[0].clone(), external("tool:amd64")),
                    (two[1].clone(), external("tool:arm64")),
                ]),
                "{text}"
            );
        }
        // The same base for every platform stays one base.
        let df = parse_dockerfile("FROM alpine:${TARGETOS#linux}3\n").unwrap();
        let stages = resolve(&df, &HashMap::new(), None, &two).unwrap();
        assert_eq!(stages[0].base, external("alpine:3"));
    }
}
