//! A deployment: `mode: build` with a `compose-file`. Every service with
//! `build:` (or those `services` names) is one build, pushed to one image
//! per `images` line: a line is a repository prefix the service's name is
//! appended to (`ghcr.io/acme` → `ghcr.io/acme/api`), or a template that
//! places it (`ghcr.io/acme/app-{{name}}`). A service's name is the
//! repository part of its `image:` (`openim-api:test` → `openim-api`), else
//! the service's own name; `{{service}}` is always the service's own name.

use anyhow::{Result, bail};

use super::build_options::BuildOptions;
use super::compose::{ComposeBuild, ComposeService};
use crate::inputs::RawInputs;
use crate::names::ImageName;
use crate::platform::Platform;

/// One service of the deployment to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeployedService {
    pub(super) service: String,
    pub(super) build: ComposeBuild,
    /// The service's own platforms (`build: platforms:`, else `platform:`);
    /// None for the run's.
    pub(super) platforms: Option<Vec<Platform>>,
    /// Where it is pushed, one per `images` line, in their order.
    pub(super) images: Vec<ImageName>,
}

/// Reads `compose-file`, `services` and `images` for a deployment; `context`
/// and `file` are each service's own.
pub(super) fn from_inputs(raw: &RawInputs) -> Result<Vec<DeployedService>> {
    for input in ["context", "file"] {
        if raw.given(input) {
            bail!(
                "{input}: a deployment builds each service from its Compose `build:`; remove `{input}` and set it in the service's `build:` instead"
            );
        }
    }
    let services = super::bundle::compose_services(raw)?;
    let image_lines: Vec<String> =
        crate::meta::parse_images(raw.text("images").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_iter()
            .filter(|i| i.enable)
            .map(|i| i.name)
            .collect();
    resolve(services, &raw.list("services"), &image_lines)
}

/// The run's inputs that cannot apply to many services at once.
pub(super) fn check_run_inputs(raw: &RawInputs, options: &BuildOptions) -> Result<()> {
    if let Some(spec) = options.shared_cache_exports().next() {
        bail!(
            "cache-to: `{spec}` would be written by every service of the deployment at once; use `type=gha` (each service gets a scope of its own) or `type=inline`"
        );
    }
    if raw.given("export") {
        bail!(
            "export: writes one image's tarballs; for a deployment's images as files use `mode: bundle` with the same `compose-file` (one file with every service)"
        );
    }
    Ok(())
}

/// The services to build, in name order, each with its images, from the
/// Compose file's services, the `services` input (empty: every service
/// with `build:`) and the `images` lines (prefixes or templates).
pub(super) fn resolve(
    services: Vec<ComposeService>,
    wanted: &[String],
    image_lines: &[String],
) -> Result<Vec<DeployedService>> {
    if image_lines.is_empty() {
        bail!(
            "images: a deployment needs where to push its services; give a repository prefix (e.g. ghcr.io/acme), one per registry"
        );
    }
    for name in wanted {
        match services.iter().find(|s| &s.name == name) {
            None => bail!(
                "services: `{name}` is not a service of the Compose file (it has {}); fix the name",
                services.iter().map(|s| format!("`{}`", s.name)).collect::<Vec<_>>().join(", ")
            ),
            Some(service) if service.build.is_none() => bail!(
                "services: `{name}` has no `build:` in the Compose file, so there is nothing to build; leave it out of `services`"
            ),
            Some(_) => {}
        }
    }
    let mut deployed: Vec<DeployedService> = Vec::new();
    for service in services {
        let Some(build) = service.build else { continue };
        if !wanted.is_empty() && !wanted.contains(&service.name) {
            continue;
        }
        let name = image_name(&service.name, service.image.as_deref());
        let images = image_lines
            .iter()
            .map(|line| service_image(line, &service.name, &name))
            .collect::<Result<Vec<_>>>()?;
        if let Some(other) = deployed.iter().find(|d| d.images.iter().any(|i| images.contains(i))) {
            let shared = images.iter().find(|i| other.images.contains(i)).expect("found above");
            bail!(
                "compose-file: services `{}` and `{}` would both be pushed to {}; give one of them another `image:` name, or use {{{{service}}}} in `images`",
                other.service,
                service.name,
                shared.name
            );
        }
        let platforms = service_platforms(&service.name, &build, service.platform.as_deref())?;
        deployed.push(DeployedService { service: service.name, build, platforms, images });
    }
    if deployed.is_empty() {
        bail!(
            "compose-file: no service has `build:`, so a deployment has nothing to build; give services a `build:`, or use `mode: bundle` to bundle images that exist"
        );
    }
    Ok(deployed)
}

/// The name a service is pushed under: the last part of its `image:`'s
/// repository, tag and digest left out, else the service's name.
fn image_name(service: &str, image: Option<&str>) -> String {
    let Some(image) = image else { return service.to_string() };
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repository = last.split(':').next().unwrap_or(last);
    if repository.is_empty() { service.to_string() } else { repository.to_string() }
}

/// One `images` line made into the service's image: a template's
/// `{{service}}` and `{{name}}` replaced, a prefix given `/<name>`.
fn service_image(line: &str, service: &str, name: &str) -> Result<ImageName> {
    let line = line.trim().trim_end_matches('/');
    let text = if line.contains("{{") {
        let filled = line.replace("{{service}}", service).replace("{{name}}", name);
        if filled.contains("{{") {
            bail!(
                "images: `{line}` has a placeholder other than {{{{service}}}} and {{{{name}}}}; write e.g. ghcr.io/acme/{{{{name}}}}"
            );
        }
        filled
    } else {
        format!("{line}/{name}")
    };
    ImageName::parse(&text).map_err(|_| {
        anyhow::anyhow!(
            "compose-file: service `{service}` would be pushed as `{text}` (from the `images` line `{line}`), which is not a valid repository name; give the service another `image:` name, or fix the line (a prefix such as ghcr.io/acme, no tag)"
        )
    })
}

/// A service's own platforms: `build: platforms:`, else `platform:`.
fn service_platforms(
    service: &str,
    build: &ComposeBuild,
    platform: Option<&str>,
) -> Result<Option<Vec<Platform>>> {
    let parse = |text: &str| {
        Platform::parse(text).map_err(|e| {
            anyhow::anyhow!("compose-file: service `{service}`: platform `{text}`: {e:#}")
        })
    };
    if !build.platforms.is_empty() {
        return build.platforms.iter().map(|p| parse(p)).collect::<Result<_>>().map(Some);
    }
    platform.map(|p| parse(p).map(|p| vec![p])).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, image: Option<&str>, build: bool) -> ComposeService {
        ComposeService {
            name: name.into(),
            image: image.map(str::to_string),
            platform: None,
            build: build.then(|| ComposeBuild {
                context: ".".into(),
                dockerfile: "Dockerfile".into(),
                args: Vec::new(),
                target: None,
                platforms: Vec::new(),
            }),
        }
    }

    fn names(deployed: &[DeployedService]) -> Vec<(String, Vec<String>)> {
        deployed
            .iter()
            .map(|d| (d.service.clone(), d.images.iter().map(|i| i.name.clone()).collect()))
            .collect()
    }

    fn lines(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn each_line_is_a_prefix_or_a_template() {
        let services = vec![
            service("api", Some("openim-api:test"), true),
            service("db", Some("redis:7.2"), false),
            service("push", None, true),
            service("web", Some("registry.example.com/team/openim-web@sha256:abc"), true),
        ];
        let deployed = resolve(
            services,
            &[],
            &lines(&[
                "docker.io/openim",
                "ghcr.io/openimsdk/",
                "172.17.0.1:5000/x/{{service}}-img",
            ]),
        )
        .unwrap();
        assert_eq!(
            names(&deployed),
            vec![
                (
                    "api".to_string(),
                    vec![
                        "docker.io/openim/openim-api".to_string(),
                        "ghcr.io/openimsdk/openim-api".to_string(),
                        "172.17.0.1:5000/x/api-img".to_string()
                    ]
                ),
                (
                    "push".to_string(),
                    vec![
                        "docker.io/openim/push".to_string(),
                        "ghcr.io/openimsdk/push".to_string(),
                        "172.17.0.1:5000/x/push-img".to_string()
                    ]
                ),
                (
                    "web".to_string(),
                    vec![
                        "docker.io/openim/openim-web".to_string(),
                        "ghcr.io/openimsdk/openim-web".to_string(),
                        "172.17.0.1:5000/x/web-img".to_string()
                    ]
                ),
            ]
        );
        let named = resolve(
            vec![service("api", Some("openim-api:test"), true)],
            &[],
            &lines(&["ghcr.io/acme/{{name}}-{{service}}"]),
        )
        .unwrap();
        assert_eq!(names(&named)[0].1, vec!["ghcr.io/acme/openim-api-api".to_string()]);
    }

    #[test]
    fn services_chooses_which_are_built() {
        let all =
            || vec![service("a", None, true), service("b", None, true), service("db", None, false)];
        let chosen = resolve(all(), &lines(&["b"]), &lines(&["ghcr.io/acme"])).unwrap();
        assert_eq!(names(&chosen), vec![("b".to_string(), vec!["ghcr.io/acme/b".to_string()])]);
    }

    #[test]
    fn mistakes_are_named_before_any_build() {
        type Case<'a> = (Vec<ComposeService>, &'a [&'a str], &'a [&'a str], &'a str);
        let cases: &[Case] = &[
            (
                vec![service("a", None, true)],
                &["nope"],
                &["ghcr.io/acme"],
                "services: `nope` is not a service of the Compose file (it has `a`); fix the name",
            ),
            (
                vec![service("a", None, true), service("db", Some("redis"), false)],
                &["db"],
                &["ghcr.io/acme"],
                "services: `db` has no `build:` in the Compose file",
            ),
            (
                vec![service("a", Some("x/app:1"), true), service("b", Some("y/app:2"), true)],
                &[],
                &["ghcr.io/acme"],
                "compose-file: services `a` and `b` would both be pushed to ghcr.io/acme/app;",
            ),
            (
                vec![service("a", Some("App!"), true)],
                &[],
                &["ghcr.io/acme"],
                "compose-file: service `a` would be pushed as `ghcr.io/acme/App!`",
            ),
            (
                vec![service("a", None, true)],
                &[],
                &["ghcr.io/acme/{{image}}"],
                "images: `ghcr.io/acme/{{image}}` has a placeholder other than",
            ),
            (
                vec![service("a", None, true)],
                &[],
                &[],
                "images: a deployment needs where to push its services",
            ),
            (
                vec![service("db", Some("redis"), false)],
                &[],
                &["ghcr.io/acme"],
                "compose-file: no service has `build:`",
            ),
        ];
        for (services, wanted, image_lines, start) in cases {
            let error = resolve(services.clone(), &lines(wanted), &lines(image_lines)).unwrap_err();
            assert!(format!("{error:#}").starts_with(start), "{start}\n{error:#}");
        }
    }

    #[test]
    fn a_service_builds_for_its_own_platforms() {
        let mut own = service("arm", None, true);
        own.platform = Some("linux/arm64".into());
        let mut listed = service("both", None, true);
        if let Some(build) = &mut listed.build {
            build.platforms = vec!["linux/amd64".into(), "linux/arm/v7".into()];
        }
        let deployed =
            resolve(vec![own, listed, service("run", None, true)], &[], &lines(&["ghcr.io/a"]))
                .unwrap();
        let platforms: Vec<Option<String>> = deployed
            .iter()
            .map(|d| d.platforms.as_ref().map(|p| crate::platform::join(p)))
            .collect();
        assert_eq!(
            platforms,
            vec![Some("linux/arm64".into()), Some("linux/amd64,linux/arm/v7".into()), None]
        );
    }
}
