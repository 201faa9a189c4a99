//! The job summary and the step outputs, rendered from a finished run as
//! pure functions: for one image here, for a deployment's services in
//! `deployment`.

mod deployment;

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::plan::{Build, HeldBack, Plan};
use crate::registry::PlatformImage;
use crate::report::{Report, TaggingFailed};

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `platform → manifest digest` as the `platforms` output's JSON.
pub fn platforms_json(images: &[PlatformImage]) -> String {
    let map: BTreeMap<String, String> =
        images.iter().map(|i| (i.platform.to_string(), i.digest.to_string())).collect();
    serde_json::to_string(&map).unwrap_or_default()
}

/// `imageid` as buildx's `--iidfile` (and so docker/build-push-action)
/// gives it: the image config's digest when the build made one image, else
/// the digest of the index (or of the image) it pushed.
pub fn image_id(metadata: &serde_json::Value, pushed: Option<&str>) -> String {
    let field = |name: &str| {
        metadata.get(name).and_then(|v| v.as_str()).filter(|d| d.starts_with("sha256:"))
    };
    field("containerimage.config.digest")
        .or(pushed)
        .or_else(|| field("containerimage.digest"))
        .unwrap_or_default()
        .to_string()
}

/// The step outputs, name and value.
pub fn outputs(plan: &Plan, report: &Report) -> Vec<(String, String)> {
    if let Some(bundle) = &report.bundle {
        let files: Vec<String> = bundle.files.iter().map(|f| f.display().to_string()).collect();
        return vec![
            ("bundle".into(), bundle.file.display().to_string()),
            ("bundle-files".into(), files.join("\n")),
        ];
    }
    if !report.services.is_empty() {
        return deployment::outputs(plan, report);
    }
    build_outputs(plan.build(), report)
}

/// The tag names a build set: none when it pushed no tag.
fn tag_names_set<'a>(build: &'a Build, report: &'a Report) -> Vec<&'a str> {
    if report.pushed_references.is_empty() {
        Vec::new()
    } else {
        build.tag_names(&report.held_back)
    }
}

/// What one image's `json` output holds.
fn build_json(build: &Build, report: &Report) -> serde_json::Value {
    let meta = build.meta();
    let digest = report.digest.as_ref().map(Digest::to_string).unwrap_or_default();
    let image = report.digest.as_ref().map(|d| build.image().with_digest(d)).unwrap_or_default();
    serde_json::json!({
        "digest": digest,
        "imageid": image_id(&report.metadata, report.digest.as_ref().map(Digest::as_str)),
        "image": image,
        "tags": report.pushed_references,
        "tag-names": tag_names_set(build, report),
        "platforms": report.platform_images.iter().map(|i| (i.platform.to_string(), i.digest.clone())).collect::<BTreeMap<_, _>>(),
        "version": meta.version,
        "labels": meta.labels,
        "annotations": crate::meta::annotation_args(&meta.annotations),
        "held_back": report.held_back.iter().map(|h| serde_json::json!({"tag": h.tag, "reason": h.reason})).collect::<Vec<_>>(),
    })
}

/// The outputs of a run that made one image.
fn build_outputs(build: &Build, report: &Report) -> Vec<(String, String)> {
    let meta = build.meta();
    let digest = report.digest.as_ref().map(Digest::to_string).unwrap_or_default();
    let image = match &report.digest {
        Some(d) => build.image().with_digest(d),
        None => String::new(),
    };
    let annotations: Vec<String> = crate::meta::annotation_args(&meta.annotations);
    let tag_names = tag_names_set(build, report);
    let separators = &meta.separators;
    let imageid = image_id(&report.metadata, report.digest.as_ref().map(Digest::as_str));
    let json = build_json(build, report);
    vec![
        ("digest".into(), digest),
        ("imageid".into(), imageid),
        ("image".into(), image),
        ("tags".into(), report.pushed_references.join(&separators.tags)),
        ("tag-names".into(), tag_names.join(&separators.tags)),
        ("platforms".into(), platforms_json(&report.platform_images)),
        ("metadata".into(), report.metadata.to_string()),
        ("version".into(), meta.version.clone()),
        (
            "labels".into(),
            meta.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(&separators.labels),
        ),
        ("annotations".into(), annotations.join("\n")),
        ("json".into(), json.to_string()),
    ]
}

/// The job summary of a failed run: the error, and when tagging stopped
/// part-way, the tags that were pushed and those that were not.
pub fn render_failure(error: &anyhow::Error) -> String {
    let message = format!("{error:#}");
    let Some(failed) = error.downcast_ref::<TaggingFailed>() else {
        return format!("### ❌ multiarch-action failed\n\n{message}\n");
    };
    let TaggingFailed { pushed, not_pushed, .. } = failed;
    let list = |references: &[String]| match references {
        [] => "none".to_string(),
        _ => references.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", "),
    };
    format!(
        "### ❌ multiarch-action failed\n\n{}\n\n**Pushed:** {}\n\n**Not pushed:** {}\n",
        message.replacen(&failed.lists(), ".", 1),
        list(pushed),
        list(not_pushed)
    )
}

/// The log's last line: what was pushed, or why nothing was (none for a
/// bundle, whose summary says what it wrote).
pub fn closing_line(plan: &Plan, report: &Report) -> Option<String> {
    if !report.services.is_empty() {
        return Some(deployment::closing_line(plan, report));
    }
    let build = plan.builds().first().filter(|_| report.bundle.is_none())?;
    Some(match &report.digest {
        Some(digest) => format!("pushed {}", build.image().with_digest(digest)),
        None => format!("built, not pushed ({})", build.push_reason()),
    })
}

/// The job summary's markdown.
pub fn render(plan: &Plan, report: &Report) -> String {
    if let Some(bundle) = &report.bundle {
        return bundle.summary.clone();
    }
    if !report.services.is_empty() {
        return deployment::render(plan, report);
    }
    let build = plan.build();
    let mut md = match &report.digest {
        Some(digest) => pushed_section(build, report, digest),
        None => format!(
            "### 🐳 Built {} (not pushed: {})\n\nPlatforms: {}\n",
            build.image().name,
            build.push_reason(),
            crate::platform::join(build.platforms())
        ),
    };
    if let Some(signed) = &report.signed {
        md.push_str(&crate::sign::summary(signed, plan.run().insecure_registries()));
    }
    held_back_section(&mut md, &report.held_back);
    if let Some(cross) = &report.cross_compiled {
        md.push_str(&cross_section(cross, &[]));
    }
    timings_section(&mut md, report);
    smoke_section(&mut md, report);
    notes_section(&mut md, report);
    md
}

/// What was pushed: each platform's manifest, the attestations, the tags by
/// registry, and the pull command.
fn pushed_section(build: &Build, report: &Report, digest: &Digest) -> String {
    let mut md = String::new();
    let reference = build.image().with_digest(digest);
    md.push_str(&format!("### 🐳 Pushed `{reference}`\n\n"));
    md.push_str("| platform | manifest digest | size |\n|---|---|---|\n");
    for image in &report.platform_images {
        let emulated = if report.emulated.contains(&image.platform) { " (QEMU)" } else { "" };
        md.push_str(&format!(
            "| `{}`{emulated} | `{}` | {} |\n",
            image.platform,
            image.digest,
            human_size(image.size)
        ));
    }
    if !report.attestations.is_empty() {
        md.push_str(&format!(
            "\nThe index also holds {} attestation manifest(s) (provenance{}), one per platform image; some registry UIs list them as `unknown/unknown`. They are not platforms; `provenance: false` leaves them out.\n",
            report.attestations.len(),
            if report.attestations.len() > build.platforms().len() { ", SBOM" } else { "" }
        ));
    }
    md.push_str("\n**Tags**\n");
    let mut registries: Vec<&str> = build.images().iter().map(|i| i.registry.as_str()).collect();
    registries.dedup();
    for registry in registries {
        md.push_str(&format!("\n{registry}:\n\n"));
        for reference in report.pushed_references.iter().filter(|r| {
            build
                .images()
                .iter()
                .any(|i| i.registry == registry && r.starts_with(&format!("{}:", i.name)))
        }) {
            md.push_str(&format!("- `{reference}`\n"));
        }
    }
    md.push_str(&format!("\n```\ndocker pull {reference}\n```\n"));
    md
}

/// The floating tags held back, and why.
fn held_back_section(md: &mut String, held_back: &[HeldBack]) {
    if !held_back.is_empty() {
        md.push_str("\n**Floating tags held back**\n\n");
        for HeldBack { tag, reason } in held_back {
            md.push_str(&format!("- `{tag}`: {reason}\n"));
        }
    }
}

/// Where the time went: each platform's wall time and time under QEMU, and the slowest steps.
fn timings_section(md: &mut String, report: &Report) {
    if !report.timings.is_empty() {
        md.push_str(
            "\n**Where the time went**\n\n| platform | wall time | under QEMU |\n|---|---|---|\n",
        );
        for time in &report.timings {
            let share = if time.wall_seconds > 0.0 {
                100.0 * time.emulated_seconds / time.wall_seconds
            } else {
                0.0
            };
            md.push_str(&format!(
                "| `{}` | {:.1}s | {:.1}s ({share:.0}%) |\n",
                time.platform, time.wall_seconds, time.emulated_seconds
            ));
        }
        if report.timings.iter().any(|t| t.emulated_seconds > 0.0) {
            md.push_str("\nSteps under QEMU run emulated, typically several times slower than native; a `FROM --platform=$BUILDPLATFORM` stage that cross-compiles, or a native runner per platform, avoids it.\n");
        }
        if !report.slowest.is_empty() {
            md.push_str("\nSlowest steps:\n\n");
            for step in &report.slowest {
                md.push_str(&format!("- {:.1}s `{}`\n", step.seconds, step.name.replace('`', "'")));
            }
        }
    }
}

/// The smoke test's exit code and first lines of output per platform.
fn smoke_section(md: &mut String, report: &Report) {
    if !report.smoke.is_empty() {
        md.push_str("\n**Smoke test**\n\n| platform | exit code | output |\n|---|---|---|\n");
        for result in &report.smoke {
            let output: String = result
                .run
                .output
                .trim()
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ⏎ ")
                .replace('|', "\\|");
            md.push_str(&format!(
                "| `{}` | {} | `{}` |\n",
                result.platform, result.run.exit_code, output
            ));
        }
    }
}

/// `cross-compile: auto`: whether the cross-compiling Dockerfile was used
/// (for `services`, where a deployment's services share it), the stages
/// kept as written, and the diff to commit.
fn cross_section(cross: &crate::report::CrossReport, services: &[&str]) -> String {
    let plan = &cross.plan;
    let whose = match services {
        [] => String::new(),
        names => format!(
            " (service{} {})",
            if names.len() == 1 { "" } else { "s" },
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut md = format!("\n**Cross-compiled: `{}`**{whose}\n\n", plan.file);
    match (&plan.diff, &cross.not_used) {
        (Some(_), None) => md.push_str("Built from the cross-compiling copy below: its Go stages ran on the build platform, and the architecture scan found every binary right. Commit the change to make it yours:\n"),
        (Some(_), Some(reason)) => md.push_str(&format!("Built as written: the cross-compiling copy below was not used, because {reason}.\n")),
        (None, _) => md.push_str("Built as written: no stage could be rewritten.\n"),
    }
    for (line, reason) in &plan.outcome.kept {
        md.push_str(&format!("- the stage on line {line} was kept as written: {reason}\n"));
    }
    if let Some(diff) = &plan.diff {
        md.push_str(&format!("\n```diff\n{}```\n", diff));
    }
    md
}

/// Verification warnings, exported files and the builder chosen.
fn notes_section(md: &mut String, report: &Report) {
    if !report.verify_notes.is_empty() {
        md.push_str("\n**Verification warnings**\n\n");
        for note in &report.verify_notes {
            md.push_str(&format!("- {note}\n"));
        }
    }
    if !report.exported.is_empty() {
        md.push_str("\n**Exported files**\n\n");
        for file in &report.exported {
            md.push_str(&format!("- `{}`\n", file.display()));
        }
    }
    if !report.builder_note.is_empty() {
        md.push_str(&format!("\n_Builder: {}_\n", report.builder_note));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 + 100), "5.0 MiB");
    }

    fn image(platform: &str, hex_digit: &str) -> PlatformImage {
        let platform = crate::platform::Platform::parse(platform).unwrap();
        PlatformImage {
            config_platform: Some(platform.clone()),
            platform,
            digest: crate::digest::Digest::from_hex(&hex_digit.repeat(64)).unwrap(),
            size: 1,
            layers: vec![],
            layer_steps: vec![],
            labels: Default::default(),
        }
    }

    #[test]
    fn the_image_id_is_the_config_digest_for_one_image_else_the_pushed_digest() {
        let one = serde_json::json!({"containerimage.config.digest": "sha256:c", "containerimage.digest": "sha256:m"});
        let several = serde_json::json!({"containerimage.digest": "sha256:i"});
        let cases = [
            (&one, Some("sha256:m"), "sha256:c"),
            (&several, Some("sha256:pushed"), "sha256:pushed"),
            (&several, None, "sha256:i"),
            (&serde_json::json!({}), None, ""),
        ];
        for (metadata, pushed, expected) in cases {
            assert_eq!(image_id(metadata, pushed), expected, "{metadata} {pushed:?}");
        }
    }

    #[test]
    fn platforms_json_maps_platform_to_digest() {
        let images = vec![image("linux/arm64", "b"), image("linux/amd64", "a")];
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert_eq!(
            platforms_json(&images),
            format!(r#"{{"linux/amd64":"sha256:{a}","linux/arm64":"sha256:{b}"}}"#)
        );
    }

    #[test]
    fn list_outputs_follow_the_separators() {
        let raw = crate::inputs::RawInputs::from_pairs(
            [
                ("images", "registry.example.com:5000/acme/app"),
                ("version", "1.2.3"),
                ("sep-tags", " "),
                ("sep-labels", ","),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_string())),
        )
        .unwrap();
        let plan = Plan::new(&raw, &crate::runner::GithubContext::default()).unwrap();
        let held =
            vec![crate::plan::HeldBack { tag: "latest".into(), reason: "2.0.0 is newer".into() }];
        let report = Report {
            pushed_references: plan.build().references(&held),
            held_back: held,
            ..Report::default()
        };
        let out: BTreeMap<String, String> = outputs(&plan, &report).into_iter().collect();
        let image = "registry.example.com:5000/acme/app";
        assert_eq!(out["tags"], format!("{image}:1.2.3 {image}:1.2 {image}:1"));
        assert_eq!(out["tag-names"], "1.2.3 1.2 1");
        assert!(
            out["labels"].contains(
                ",org.opencontainers.image.title=,org.opencontainers.image.version=1.2.3"
            ),
            "{}",
            out["labels"]
        );
        let json: serde_json::Value = serde_json::from_str(&out["json"]).unwrap();
        assert_eq!(json["tag-names"], serde_json::json!(["1.2.3", "1.2", "1"]));

        let plan = Plan::new(
            &crate::inputs::RawInputs::from_pairs([
                ("images", image.to_string()),
                ("version", "1.2.3".to_string()),
            ])
            .unwrap(),
            &Default::default(),
        )
        .unwrap();
        let report =
            Report { pushed_references: plan.build().references(&[]), ..Report::default() };
        let out: BTreeMap<String, String> = outputs(&plan, &report).into_iter().collect();
        assert_eq!(out["tag-names"], "1.2.3\n1.2\n1\nlatest");
    }

    #[test]
    fn the_cross_compiling_section_says_whether_the_copy_was_used() {
        use crate::preflight::cross::CrossCompile;
        use crate::preflight::phase::CrossPlan;
        use crate::report::CrossReport;
        let diff = "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1 +1,2 @@\n-FROM golang\n+FROM --platform=$BUILDPLATFORM golang\n+ARG TARGETOS TARGETARCH\n";
        let plan = |text: Option<&str>, kept: Vec<(u32, String)>| CrossPlan {
            file: "Dockerfile".into(),
            outcome: CrossCompile { text: text.map(str::to_string), changed: vec![1], kept },
            diff: text.map(|_| diff.to_string()),
        };
        let cgo = (9, "line 10 sets CGO_ENABLED=1".to_string());
        // (report, services sharing it, parts of the section)
        let cases: [(CrossReport, &[&str], &[&str]); 3] = [
            (
                CrossReport { plan: plan(Some("x"), vec![cgo.clone()]), not_used: None },
                &[],
                &[
                    "\n**Cross-compiled: `Dockerfile`**\n\nBuilt from the cross-compiling copy below",
                    "- the stage on line 9 was kept as written: line 10 sets CGO_ENABLED=1\n",
                    "\n```diff\n--- a/Dockerfile\n",
                    "+ARG TARGETOS TARGETARCH\n```\n",
                ],
            ),
            (
                CrossReport {
                    plan: plan(Some("x"), vec![]),
                    not_used: Some("its build failed".into()),
                },
                &["api", "worker"],
                &[
                    "**Cross-compiled: `Dockerfile`** (services `api`, `worker`)",
                    "Built as written: the cross-compiling copy below was not used, because its build failed.\n",
                    "```diff\n",
                ],
            ),
            (
                CrossReport { plan: plan(None, vec![cgo]), not_used: None },
                &["api"],
                &[
                    "(service `api`)",
                    "Built as written: no stage could be rewritten.\n",
                    "line 10 sets CGO_ENABLED=1",
                ],
            ),
        ];
        for (report, services, parts) in cases {
            let md = cross_section(&report, services);
            for part in parts {
                assert!(md.contains(part), "{part:?} in {md}");
            }
            assert_eq!(md.contains("```diff"), report.plan.diff.is_some(), "{md}");
        }
    }
}
