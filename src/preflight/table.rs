//! Base-image availability: which platforms each base image must offer,
//! which of them it lacks, a table of both, and advice on what to change;
//! and the stages a build needs with what each builds on, as the dry run
//! prints them.

use super::resolve::{BaseRef, ResolvedStage, StagePlatform};
use crate::platform::{self, Platform};

/// One base image the build pulls, where, what it must offer and what its
/// manifest list offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseAvailability {
    pub image: String,
    /// The Dockerfile line that names it.
    pub line: u32,
    /// Every requested platform for a stage built per target platform, the
    /// build platform for a `$BUILDPLATFORM` stage, the written one for a
    /// fixed platform.
    pub needs: Vec<Platform>,
    pub offers: Vec<Platform>,
}

/// The platforms a stage's base must offer.
fn needs_for(stage: &ResolvedStage, requested: &[Platform], build: &Platform) -> Vec<Platform> {
    match &stage.runs_on {
        StagePlatform::Target => stage.targets_or(requested).to_vec(),
        StagePlatform::Build => vec![build.clone()],
        StagePlatform::Fixed(platform) => vec![platform.clone()],
    }
}

/// The external images the stages pull (bases, then `COPY --from` and
/// `RUN --mount` images), each with what it must offer; `offers` is left
/// empty for the caller to fill in from the registry.
pub(crate) fn bases_to_check(
    stages: &[ResolvedStage],
    requested: &[Platform],
    build: &Platform,
) -> Vec<BaseAvailability> {
    let mut bases = Vec::new();
    for stage in stages {
        let needs = needs_for(stage, requested, build);
        let mut pulled: Vec<(u32, String, Vec<Platform>)> = Vec::new();
        match &stage.base {
            BaseRef::External(image) => {
                pulled.push((stage.from_line, image.clone(), needs.clone()))
            }
            BaseRef::PerPlatform(list) => {
                for (platform, base) in list.iter().filter(|(p, _)| needs.contains(p)) {
                    let BaseRef::External(image) = base else { continue };
                    match pulled.iter_mut().find(|(_, i, _)| i == image) {
                        Some((_, _, needed)) => needed.push(platform.clone()),
                        None => {
                            pulled.push((stage.from_line, image.clone(), vec![platform.clone()]))
                        }
                    }
                }
            }
            BaseRef::Stage(_) | BaseRef::Scratch => {}
        }
        let extra =
            stage.extra_images.iter().map(|(line, image)| (*line, image.clone(), needs.clone()));
        for (line, image, needs) in pulled.into_iter().chain(extra) {
            bases.push(BaseAvailability { image, line, needs, offers: Vec::new() });
        }
    }
    bases
}

/// One line per stage the build needs: its FROM line, what it builds on
/// (per platform where a `FROM …${TARGETARCH}` picks), and where it runs.
pub(crate) fn render_stages(stages: &[ResolvedStage]) -> String {
    let mut out = String::new();
    for stage in stages {
        let name = stage.name.as_deref().map_or(String::new(), |n| format!(" `{n}`"));
        let runs = match &stage.runs_on {
            StagePlatform::Target => format!("built for {}", platform::join(&stage.targets)),
            StagePlatform::Build => "built once, on the build platform".to_string(),
            StagePlatform::Fixed(p) => format!("built once, for {p}"),
        };
        let base = match &stage.base {
            BaseRef::PerPlatform(list) => list
                .iter()
                .filter(|(p, _)| stage.targets.contains(p))
                .map(|(p, base)| format!("{p}: {}", describe_base(base, stages)))
                .collect::<Vec<_>>()
                .join(", "),
            base => describe_base(base, stages),
        };
        out.push_str(&format!(
            "  line {}: stage {}{name} on {base}; {runs}\n",
            stage.from_line, stage.index
        ));
    }
    out
}

fn describe_base(base: &BaseRef, stages: &[ResolvedStage]) -> String {
    match base {
        BaseRef::External(image) => image.clone(),
        BaseRef::Scratch => "scratch".to_string(),
        BaseRef::Stage(j) => {
            match stages.iter().find(|s| s.index == *j).and_then(|s| s.name.as_deref()) {
                Some(name) => format!("stage `{name}`"),
                None => format!("stage {j}"),
            }
        }
        BaseRef::PerPlatform(_) => "a base per platform".to_string(),
    }
}

/// The variant number (`v7` → 7), with the architecture's baseline when
/// there is none.
fn variant_level(platform: &Platform) -> u32 {
    platform
        .variant
        .as_deref()
        .and_then(|v| v.strip_prefix('v'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if platform.arch == "arm" { 7 } else { 1 })
}

/// True when an image offering `offered` can be pulled for `needed`: the
/// same os and architecture ([`Platform::runs_on`]); for `arm` and `amd64`
/// the offered variant may be older than the needed one (an arm/v6 image
/// serves arm/v7), as containerd's platform matching allows.
fn offers(offered: &[Platform], needed: &Platform) -> bool {
    offered.iter().any(|o| {
        o.runs_on(needed)
            && (!matches!(o.arch.as_str(), "arm" | "amd64")
                || variant_level(o) <= variant_level(needed))
    })
}

/// The table's columns: the requested platforms, then any other platform a
/// base needs (the build platform when it was not requested).
fn columns(bases: &[BaseAvailability], platforms: &[Platform]) -> Vec<Platform> {
    let mut columns: Vec<Platform> = Vec::new();
    for platform in platforms.iter().chain(bases.iter().flat_map(|b| &b.needs)) {
        if !columns.contains(platform) {
            columns.push(platform.clone());
        }
    }
    columns
}

/// Each (base index, platform) that a base needs and does not offer, base
/// by base, platforms in table column order.
pub(crate) fn missing(
    bases: &[BaseAvailability],
    platforms: &[Platform],
) -> Vec<(usize, Platform)> {
    let columns = columns(bases, platforms);
    let mut gaps = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        for platform in &columns {
            if base.needs.contains(platform) && !offers(&base.offers, platform) {
                gaps.push((i, platform.clone()));
            }
        }
    }
    gaps
}

/// A markdown table: one row per base, one column per platform; `✓` where
/// the base offers the platform, `✗` where it needs it and does not, `–`
/// where it is neither offered nor needed.
pub(crate) fn render_table(bases: &[BaseAvailability], platforms: &[Platform]) -> String {
    let columns = columns(bases, platforms);
    let mut out = String::from("| Base image |");
    for platform in &columns {
        out.push_str(&format!(" {platform} |"));
    }
    out.push_str("\n| --- |");
    out.push_str(&" --- |".repeat(columns.len()));
    out.push('\n');
    for base in bases {
        out.push_str(&format!("| {} (Dockerfile line {}) |", base.image, base.line));
        for platform in &columns {
            let mark = if offers(&base.offers, platform) {
                "✓"
            } else if base.needs.contains(platform) {
                "✗"
            } else {
                "–"
            };
            out.push_str(&format!(" {mark} |"));
        }
        out.push('\n');
    }
    out
}

/// What to do about the missing platforms, or an empty string when none is
/// missing.
pub(crate) fn advice(bases: &[BaseAvailability], platforms: &[Platform]) -> String {
    let gaps = missing(bases, platforms);
    if gaps.is_empty() {
        return String::new();
    }
    let mut sentences = Vec::new();
    let mut requested_gaps: Vec<Platform> = Vec::new();
    let mut build_gaps: Vec<Platform> = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let lacking: Vec<Platform> =
            gaps.iter().filter(|(b, _)| *b == i).map(|(_, p)| p.clone()).collect();
        if lacking.is_empty() {
            continue;
        }
        let offered = if base.offers.is_empty() {
            "offers none of its platforms".to_string()
        } else {
            format!("offers only {}", platform::join(&base.offers))
        };
        sentences.push(format!(
            "`{}` (Dockerfile line {}) is needed for {} but {offered}.",
            base.image,
            base.line,
            platform::join(&lacking),
        ));
        for platform in lacking {
            let list =
                if platforms.contains(&platform) { &mut requested_gaps } else { &mut build_gaps };
            if !list.contains(&platform) {
                list.push(platform);
            }
        }
    }
    if !requested_gaps.is_empty() {
        let list = platform::join(&requested_gaps);
        sentences.push(format!(
            "Choose a base image or tag that offers {list}, drop {list} from the requested \
             platforms, or, if the stage only builds files that a later stage copies, move it to \
             `FROM --platform=$BUILDPLATFORM` and cross-compile for `$TARGETOS`/`$TARGETARCH`, so \
             its base is needed only for the platform the build runs on."
        ));
    }
    if !build_gaps.is_empty() {
        sentences.push(format!(
            "A `--platform=$BUILDPLATFORM` stage needs its base for the platform the build runs \
             on ({}); choose a base image that offers it, or build on a runner of a platform the \
             base offers.",
            platform::join(&build_gaps),
        ));
    }
    sentences.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::{parse_dockerfile, resolve};
    use std::collections::HashMap;

    fn platforms(list: &str) -> Vec<Platform> {
        Platform::parse_list(list).unwrap()
    }

    fn base(image: &str, line: u32, needs: &str, offers: &str) -> BaseAvailability {
        BaseAvailability {
            image: image.to_string(),
            line,
            needs: platforms(needs),
            offers: platforms(offers),
        }
    }

    const THREE: &str = "linux/amd64,linux/arm64,linux/arm/v7";

    #[test]
    fn table_marks_offered_missing_and_unneeded() {
        let bases = [
            base("golang:1.22", 1, THREE, "linux/amd64,linux/arm64,linux/386"),
            base("alpine:3.19", 7, "linux/amd64", "linux/amd64"),
        ];
        let expected = "\
| Base image | linux/amd64 | linux/arm64 | linux/arm/v7 |
| --- | --- | --- | --- |
| golang:1.22 (Dockerfile line 1) | ✓ | ✓ | ✗ |
| alpine:3.19 (Dockerfile line 7) | ✓ | – | – |
";
        assert_eq!(render_table(&bases, &platforms(THREE)), expected);
        assert_eq!(missing(&bases, &platforms(THREE)), [(0, platforms("linux/arm/v7")[0].clone())]);
    }

    #[test]
    fn build_platform_gets_its_own_column() {
        let bases = [base("tonistiigi/xx", 2, "linux/amd64", "linux/arm64")];
        let expected = "\
| Base image | linux/arm64 | linux/amd64 |
| --- | --- | --- |
| tonistiigi/xx (Dockerfile line 2) | ✓ | ✗ |
";
        assert_eq!(render_table(&bases, &platforms("linux/arm64")), expected);
        let text = advice(&bases, &platforms("linux/arm64"));
        assert!(text.contains("platform the build runs on (linux/amd64)"), "{text}");
        assert!(!text.contains("drop"), "{text}");
    }

    #[test]
    fn offered_platform_matching() {
        let cases = [
            ("linux/arm64", "linux/arm64", true),
            ("linux/arm64", "linux/arm64/v9", true),
            ("linux/arm/v7", "linux/arm/v7", true),
            ("linux/arm/v6", "linux/arm/v7", true),
            ("linux/arm/v7", "linux/arm/v6", false),
            ("linux/arm64", "linux/arm/v7", false),
            ("linux/amd64", "linux/amd64/v3", true),
            ("linux/amd64/v3", "linux/amd64", false),
            ("linux/386", "linux/amd64", false),
        ];
        for (offered, needed, expected) in cases {
            assert_eq!(
                offers(&platforms(offered), &platforms(needed)[0]),
                expected,
                "{offered} offers {needed}"
            );
        }
    }

    #[test]
    fn advice_names_the_options() {
        let requested = platforms(THREE);
        let bases = [
            base("golang:1.22", 1, THREE, "linux/amd64,linux/arm64"),
            base("alpine:3.19", 7, "linux/amd64", "linux/amd64"),
        ];
        let text = advice(&bases, &requested);
        for part in [
            "`golang:1.22` (Dockerfile line 1) is needed for linux/arm/v7 but offers only linux/amd64,linux/arm64.",
            "Choose a base image or tag that offers linux/arm/v7",
            "drop linux/arm/v7 from the requested platforms",
            "FROM --platform=$BUILDPLATFORM",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(!text.contains("alpine"), "{text}");
        assert_eq!(advice(&bases[1..], &requested), "");
    }

    #[test]
    fn needs_follow_the_stage_platform() {
        let text = "\
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
FROM --platform=linux/arm/v7 busybox AS arm
FROM alpine:3.19
COPY --from=build /app /app
COPY --from=arm /bin/busybox /bin/
COPY --from=ghcr.io/o/tool:1 /tool /tool
";
        let df = parse_dockerfile(text).unwrap();
        let stages = resolve(&df, &HashMap::new(), None, &[]).unwrap();
        let requested = platforms("linux/amd64,linux/arm64");
        let build = platforms("linux/amd64")[0].clone();
        let needs: Vec<Vec<Platform>> =
            stages.iter().map(|s| needs_for(s, &requested, &build)).collect();
        assert_eq!(needs, [platforms("linux/amd64"), platforms("linux/arm/v7"), requested.clone()]);
        let bases = bases_to_check(&stages, &requested, &build);
        let summary: Vec<(&str, u32, String)> =
            bases.iter().map(|b| (b.image.as_str(), b.line, platform::join(&b.needs))).collect();
        assert_eq!(
            summary,
            [
                ("golang:1.22", 1, "linux/amd64".to_string()),
                ("busybox", 2, "linux/arm/v7".to_string()),
                ("alpine:3.19", 3, "linux/amd64,linux/arm64".to_string()),
                ("ghcr.io/o/tool:1", 6, "linux/amd64,linux/arm64".to_string()),
            ]
        );
    }

    #[test]
    fn stages_as_the_dry_run_prints_them() {
        let text = "\
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
FROM debian:12 AS base-amd64
FROM alpine:3.19 AS base-arm64
FROM --platform=linux/arm64 busybox AS arm
FROM base-${TARGETARCH}
COPY --from=build /app /app
COPY --from=arm /bin/busybox /bin/
";
        let df = parse_dockerfile(text).unwrap();
        let requested = platforms("linux/amd64,linux/arm64");
        let stages = resolve(&df, &HashMap::new(), None, &requested).unwrap();
        assert_eq!(
            render_stages(&stages),
            "  line 1: stage 0 `build` on golang:1.22; built once, on the build platform\n\
             \x20 line 2: stage 1 `base-amd64` on debian:12; built for linux/amd64\n\
             \x20 line 3: stage 2 `base-arm64` on alpine:3.19; built for linux/arm64\n\
             \x20 line 4: stage 3 `arm` on busybox; built once, for linux/arm64\n\
             \x20 line 5: stage 4 on linux/amd64: stage `base-amd64`, linux/arm64: stage `base-arm64`; \
             built for linux/amd64,linux/arm64\n"
        );
        let build = platforms("linux/amd64")[0].clone();
        let needs: Vec<(String, String)> = bases_to_check(&stages, &requested, &build)
            .into_iter()
            .map(|b| (b.image, platform::join(&b.needs)))
            .collect();
        let expected = [
            ("golang:1.22", "linux/amd64"),
            ("debian:12", "linux/amd64"),
            ("alpine:3.19", "linux/arm64"),
            ("busybox", "linux/arm64"),
        ];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(i, p)| (i.to_string(), p.to_string())).collect();
        assert_eq!(needs, expected);
    }
}
