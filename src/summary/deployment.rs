//! A deployment's outputs and job summary: one entry per service in `json`,
//! and one table of service × platform with digests and where the time
//! went. `digest` and `image` keep their one-image meaning when the
//! deployment has one service.

use std::collections::BTreeMap;

use super::{build_json, human_size, tag_names_set};
use crate::plan::{Build, Plan};
use crate::report::{Report, ServiceReport};

/// Each service's report beside its build.
fn services<'a>(plan: &'a Plan, report: &'a Report) -> Vec<(&'a Build, &'a Report)> {
    report
        .services
        .iter()
        .filter_map(|ServiceReport { service, report }| {
            let build = plan.builds().iter().find(|b| b.service() == Some(service.as_str()))?;
            Some((build, report))
        })
        .collect()
}

/// The step outputs of a deployment.
pub(super) fn outputs(plan: &Plan, report: &Report) -> Vec<(String, String)> {
    let services = services(plan, report);
    let Some((first, _)) = services.first() else { return Vec::new() };
    let meta = first.meta();
    let separators = &meta.separators;
    let mut tags: Vec<&str> = Vec::new();
    let mut tag_names: Vec<&str> = Vec::new();
    let mut entries = Vec::new();
    let mut platforms = BTreeMap::new();
    let mut metadata = serde_json::Map::new();
    for (build, service) in &services {
        let name = build.service().unwrap_or_default();
        tags.extend(service.pushed_references.iter().map(String::as_str));
        for tag in tag_names_set(build, service) {
            if !tag_names.contains(&tag) {
                tag_names.push(tag);
            }
        }
        let mut json = build_json(build, service);
        json["service"] = name.into();
        json["images"] = build.images().iter().map(|i| i.name.clone()).collect();
        entries.push(json);
        let by_platform: BTreeMap<String, String> = service
            .platform_images
            .iter()
            .map(|i| (i.platform.to_string(), i.digest.to_string()))
            .collect();
        platforms.insert(name.to_string(), by_platform);
        metadata.insert(name.to_string(), service.metadata.clone());
    }
    let one = match services.as_slice() {
        [(build, service)] => service.digest.as_ref().map(|d| {
            let imageid = super::image_id(&service.metadata, Some(d.as_str()));
            (d, imageid, build.image().with_digest(d))
        }),
        _ => None,
    };
    let annotations = crate::meta::annotation_args(&meta.annotations);
    let labels: Vec<String> = meta.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let json = serde_json::json!({
        "services": entries,
        "tags": tags,
        "tag-names": tag_names,
        "version": meta.version,
        "labels": meta.labels,
        "annotations": annotations,
    });
    vec![
        ("digest".into(), one.as_ref().map(|(d, _, _)| d.to_string()).unwrap_or_default()),
        ("imageid".into(), one.as_ref().map(|(_, id, _)| id.clone()).unwrap_or_default()),
        ("image".into(), one.map(|(_, _, image)| image).unwrap_or_default()),
        ("tags".into(), tags.join(&separators.tags)),
        ("tag-names".into(), tag_names.join(&separators.tags)),
        ("platforms".into(), serde_json::to_string(&platforms).unwrap_or_default()),
        ("metadata".into(), serde_json::Value::Object(metadata).to_string()),
        ("version".into(), meta.version.clone()),
        ("labels".into(), labels.join(&separators.labels)),
        ("annotations".into(), annotations.join("\n")),
        ("json".into(), json.to_string()),
    ]
}

/// The log's last line for a deployment.
pub(super) fn closing_line(plan: &Plan, report: &Report) -> String {
    let services = services(plan, report);
    let pushed: Vec<String> = services
        .iter()
        .filter_map(|(build, service)| {
            service.digest.as_ref().map(|d| build.image().with_digest(d))
        })
        .collect();
    match (pushed.len(), services.first()) {
        (0, Some((build, _))) => {
            format!("built {} services, not pushed ({})", services.len(), build.push_reason())
        }
        _ => format!("pushed {} services: {}", pushed.len(), pushed.join(", ")),
    }
}

/// The job summary of a deployment: the service × platform table, the tags
/// every service got, each service's images, and what needs a look.
pub(super) fn render(plan: &Plan, report: &Report) -> String {
    let services = services(plan, report);
    let pushed = services.iter().any(|(_, s)| s.digest.is_some());
    let mut md = format!(
        "### 🐳 {} {} services\n\n| service | platform | manifest digest | size | wall time | under QEMU |\n|---|---|---|---|---|---|\n",
        if pushed { "Pushed" } else { "Built" },
        services.len()
    );
    for (build, service) in &services {
        md.push_str(&service_rows(build, service));
    }
    if let Some((first, service)) = services.first()
        && !service.pushed_references.is_empty()
    {
        let names: Vec<String> =
            tag_names_set(first, service).iter().map(|t| format!("`{t}`")).collect();
        md.push_str(&format!("\n**Tags**, on every service: {}\n", names.join(", ")));
    }
    md.push_str("\n**Images**\n\n");
    for (build, service) in &services {
        let name = build.service().unwrap_or_default();
        let where_to: Vec<String> = match &service.digest {
            Some(digest) => {
                build.images().iter().map(|i| format!("`{}`", i.with_digest(digest))).collect()
            }
            None => vec![format!("not pushed ({})", build.push_reason())],
        };
        md.push_str(&format!("- `{name}`: {}\n", where_to.join(", ")));
    }
    if let Some(signed) = services.iter().find_map(|(_, s)| s.signed.as_ref()) {
        md.push_str("\nEvery service is signed the same way; the command checks the first, and any other by its `image@digest` above.\n");
        md.push_str(&crate::sign::summary(signed, plan.run().insecure_registries()));
    }
    let mut files: Vec<(&str, Vec<&str>, &crate::report::CrossReport)> = Vec::new();
    for (build, service) in &services {
        let Some(cross) = &service.cross_compiled else { continue };
        let name = build.service().unwrap_or_default();
        // One section per Dockerfile: its services share the copy, and the
        // verdict of the first that tried it.
        match files.iter_mut().find(|(file, _, _)| *file == cross.plan.file) {
            Some((_, names, _)) => names.push(name),
            None => files.push((&cross.plan.file, vec![name], cross)),
        }
    }
    for (_, names, cross) in files {
        md.push_str(&super::cross_section(cross, &names));
    }
    md.push_str(&needs_a_look(&services));
    md
}

/// One row per platform of a service: its manifest digest and size, and its
/// build's wall time and time under QEMU.
fn service_rows(build: &Build, service: &Report) -> String {
    let name = build.service().unwrap_or_default();
    let mut rows = String::new();
    for platform in build.platforms() {
        let image = service.platform_images.iter().find(|i| &i.platform == platform);
        let time = service.timings.iter().find(|t| &t.platform == platform);
        let qemu = if service.emulated.contains(platform) { " (QEMU)" } else { "" };
        rows.push_str(&format!(
            "| `{name}` | `{platform}`{qemu} | {} | {} | {} | {} |\n",
            image.map(|i| format!("`{}`", i.digest)).unwrap_or_else(|| "—".into()),
            image.map(|i| human_size(i.size)).unwrap_or_else(|| "—".into()),
            time.map(|t| format!("{:.1}s", t.wall_seconds)).unwrap_or_else(|| "cached".into()),
            time.map(|t| format!("{:.1}s", t.emulated_seconds)).unwrap_or_else(|| "—".into()),
        ));
    }
    rows
}

/// Floating tags held back, verification warnings and smoke-test failures,
/// by service.
fn needs_a_look(services: &[(&Build, &Report)]) -> String {
    let mut md = String::new();
    for (build, service) in services {
        let name = build.service().unwrap_or_default();
        for held in &service.held_back {
            md.push_str(&format!("- `{name}`: tag `{}` held back: {}\n", held.tag, held.reason));
        }
        for note in &service.verify_notes {
            md.push_str(&format!("- `{name}`: {note}\n"));
        }
        for smoke in service.smoke.iter().filter(|s| s.run.exit_code != 0) {
            md.push_str(&format!(
                "- `{name}`: smoke test on `{}` exited {}\n",
                smoke.platform, smoke.run.exit_code
            ));
        }
    }
    if md.is_empty() { md } else { format!("\n**Needs a look**\n\n{md}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildx::progress::PlatformTime;
    use crate::digest::Digest;
    use crate::platform::Platform;
    use crate::registry::PlatformImage;

    fn deployment(services: &str) -> Plan {
        let dir = tempfile::tempdir().unwrap();
        let compose = dir.path().join("compose.yaml");
        std::fs::write(&compose, services).unwrap();
        let pairs = [
            ("compose-file", compose.display().to_string()),
            ("images", "registry.example.com:5000/acme\nregistry.example.com:5001/acme".into()),
            ("tags", "type=raw,value=1.0\ntype=raw,value=stable".into()),
            ("platforms", "linux/amd64,linux/arm64".into()),
        ];
        let raw = crate::inputs::RawInputs::from_pairs(pairs).unwrap();
        Plan::new(&raw, &crate::runner::GithubContext::default()).unwrap()
    }

    fn pushed(plan: &Plan, service: &str, hex: char) -> ServiceReport {
        let build = plan.builds().iter().find(|b| b.service() == Some(service)).unwrap();
        let digest = Digest::parse(&format!("sha256:{}", hex.to_string().repeat(64))).unwrap();
        let platform_images = build
            .platforms()
            .iter()
            .map(|p| PlatformImage {
                platform: p.clone(),
                digest: Digest::parse(&format!("sha256:{}", "e".repeat(64))).unwrap(),
                size: 3 << 20,
                config_platform: Some(p.clone()),
                layers: vec![],
                layer_steps: vec![],
                labels: Default::default(),
            })
            .collect();
        let timings = vec![PlatformTime {
            platform: Platform::parse("linux/arm64").unwrap(),
            wall_seconds: 12.5,
            emulated_seconds: 0.0,
        }];
        let report = Report {
            pushed_references: build.references(&[]),
            digest: Some(digest),
            platform_images,
            timings,
            ..Report::default()
        };
        ServiceReport { service: service.into(), report }
    }

    #[test]
    fn json_has_one_entry_per_service_and_the_summary_one_table() {
        let plan = deployment("services:\n  api:\n    build: .\n  push:\n    build: .\n");
        let report = Report {
            services: vec![pushed(&plan, "api", 'a'), pushed(&plan, "push", 'b')],
            ..Report::default()
        };
        let outputs: BTreeMap<String, String> = outputs(&plan, &report).into_iter().collect();
        assert_eq!(outputs["digest"], "", "no one digest for two services");
        let json: serde_json::Value = serde_json::from_str(&outputs["json"]).unwrap();
        let entries = json["services"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1]["service"], "push");
        assert_eq!(entries[1]["digest"], format!("sha256:{}", "b".repeat(64)));
        assert_eq!(
            entries[1]["images"],
            serde_json::json!([
                "registry.example.com:5000/acme/push",
                "registry.example.com:5001/acme/push"
            ])
        );
        assert_eq!(entries[0]["tags"].as_array().unwrap().len(), 4);
        assert_eq!(json["tag-names"], serde_json::json!(["1.0", "stable"]));
        let platforms: serde_json::Value = serde_json::from_str(&outputs["platforms"]).unwrap();
        assert_eq!(platforms["api"]["linux/arm64"], format!("sha256:{}", "e".repeat(64)));
        assert_eq!(outputs["tags"].lines().count(), 8);

        let md = render(&plan, &report);
        assert!(md.starts_with("### 🐳 Pushed 2 services"), "{md}");
        assert_eq!(md.matches("| `api` | `linux/").count(), 2, "{md}");
        assert!(md.contains("| `push` | `linux/arm64` | `sha256:eeee"), "{md}");
        assert!(md.contains("| 12.5s | 0.0s |"), "{md}");
        assert!(md.contains("| `api` | `linux/amd64` | `sha256:eeee"), "{md}");
        assert!(md.contains("**Tags**, on every service: `1.0`, `stable`"), "{md}");
        assert!(
            md.contains(&format!(
                "- `push`: `registry.example.com:5000/acme/push@sha256:{}`",
                "b".repeat(64)
            )),
            "{md}"
        );
        assert_eq!(
            closing_line(&plan, &report),
            format!(
                "pushed 2 services: registry.example.com:5000/acme/api@sha256:{}, registry.example.com:5000/acme/push@sha256:{}",
                "a".repeat(64),
                "b".repeat(64)
            )
        );
    }

    #[test]
    fn one_service_keeps_the_one_image_outputs() {
        let plan = deployment("services:\n  api:\n    build: .\n  db:\n    image: redis\n");
        let report = Report { services: vec![pushed(&plan, "api", 'c')], ..Report::default() };
        let outputs: BTreeMap<String, String> = outputs(&plan, &report).into_iter().collect();
        assert_eq!(outputs["digest"], format!("sha256:{}", "c".repeat(64)));
        assert_eq!(
            outputs["image"],
            format!("registry.example.com:5000/acme/api@sha256:{}", "c".repeat(64))
        );
    }
}
