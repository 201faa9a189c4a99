//! What `mode: bundle` is asked to do, resolved from the inputs: the images (the references in `images`, then the services of
//! `compose-file`), the services built first and where they are pushed, how
//! a missing platform is treated, and the file to write. The Compose file is
//! read and interpolated here, so that its mistakes fail before any registry
//! is asked.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use super::compose::{self, ComposeBuild};
use crate::inputs::{BoolOr, RawInputs};
use crate::names::{ImageName, repository_of};
use crate::platform::Platform;
use crate::runner::GithubContext;

/// One image of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WantedImage {
    /// The Compose service that runs it; None for a line of `images`.
    pub(crate) service: Option<String>,
    /// The reference as written (interpolated), e.g. `redis:7.2`.
    pub(crate) reference: String,
    /// The service's own `platform:`, which it needs instead of `platforms`.
    pub(crate) platform: Option<Platform>,
    /// Built by this run from the service's `build:`.
    pub(crate) built: bool,
}

/// A Compose service with `build:`: built for the platforms, pushed, then
/// bundled like the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceBuild {
    pub(crate) service: String,
    pub(crate) build: ComposeBuild,
    /// Where it is pushed, with its tag: the service's `image:`, else
    /// `<images>/<service>:latest`.
    pub(crate) reference: String,
    /// The service's own `platform:`, built instead of `platforms`.
    pub(crate) platform: Option<Platform>,
}

/// How a gap (an image without a requested platform) is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuditLevel {
    /// Fail before anything is written.
    Fail,
    /// Leave the image out, with a warning.
    Warn,
    /// Do not look: bundle what each image offers of the platforms.
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundleRequest {
    /// The images read from registries as they are.
    pub(crate) images: Vec<WantedImage>,
    /// The services built first, in name order.
    pub(crate) builds: Vec<ServiceBuild>,
    pub(crate) audit: AuditLevel,
    pub(crate) file: PathBuf,
    /// `bundle-split`: the largest part, in bytes; None for one file.
    pub(crate) split: Option<u64>,
    /// The repositories of the images, once each: what credentials and
    /// plain-HTTP registries are matched against.
    pub(crate) repositories: Vec<ImageName>,
    /// `bundle-trusted-root`: the Sigstore trust root to carry, as read.
    pub(crate) trusted_root: Option<Vec<u8>>,
}

/// Reads `images`, `compose-file`, `audit`, `bundle` and `bundle-split`.
/// When a service with `build:` has no `image:`, a line of `images`
/// without a tag or digest names the repository it is pushed under.
pub(super) fn resolve(raw: &RawInputs, github: &GithubContext) -> Result<BundleRequest> {
    let services = compose_services(raw)?;
    let unnamed_builds: Vec<&str> = services
        .iter()
        .filter(|s| s.build.is_some() && s.image.is_none())
        .map(|s| s.name.as_str())
        .collect();
    let (mut images, push_under) = listed_images(raw, &unnamed_builds)?;
    let mut builds: Vec<ServiceBuild> = Vec::new();
    for service in services {
        match service_image(service, push_under.as_deref(), &builds)? {
            ServiceImage::Listed(listed) => images.push(listed),
            ServiceImage::Built(built) => builds.push(built),
        }
    }
    if images.is_empty() && builds.is_empty() {
        bail!(
            "images: mode: bundle needs images; list references in `images` (one per line) or give a `compose-file`"
        );
    }
    let audit = match raw.bool_or("audit")? {
        BoolOr::Yes => AuditLevel::Fail,
        BoolOr::Word => AuditLevel::Warn,
        BoolOr::No => AuditLevel::Off,
    };
    let file = match raw.text("bundle") {
        Some(file) => PathBuf::from(file),
        None => github.runner_temp.clone().unwrap_or_default().join("bundle.tar"),
    };
    let split = raw.text("bundle-split").map(parse_size).transpose()?;
    let repositories = repositories(&images, &builds)?;
    let trusted_root = raw.text("bundle-trusted-root").map(read_trusted_root).transpose()?;
    Ok(BundleRequest { images, builds, audit, file, split, repositories, trusted_root })
}

/// The trust root `bundle-trusted-root` names, read and checked to be one.
fn read_trusted_root(file: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(file).with_context(|| {
        format!("bundle-trusted-root: could not read `{file}`; give the path of a Sigstore trusted_root.json")
    })?;
    let text = String::from_utf8_lossy(&bytes);
    sigstore_verify::trust_root::TrustedRoot::from_json(&text).map_err(|_| {
        anyhow::anyhow!("bundle-trusted-root: `{file}` is not a Sigstore trust root; give the instance's trusted_root.json")
    })?;
    Ok(bytes)
}

/// The services of `compose-file`, interpolated from the environment.
pub(super) fn compose_services(raw: &RawInputs) -> Result<Vec<compose::ComposeService>> {
    let Some(file) = raw.text("compose-file") else { return Ok(Vec::new()) };
    let text = std::fs::read_to_string(file).with_context(|| {
        format!("compose-file: could not read `{file}`; give the Compose file's path relative to the workspace")
    })?;
    let env: HashMap<String, String> = std::env::vars().collect();
    compose::services(file, &text, &env)
}

/// The references of `images`, and the one line without a tag under which
/// the services built without `image:` (`unnamed_builds`) are pushed.
fn listed_images(
    raw: &RawInputs,
    unnamed_builds: &[&str],
) -> Result<(Vec<WantedImage>, Option<String>)> {
    let mut images = Vec::new();
    let mut push_under: Vec<String> = Vec::new();
    for line in raw.list("images") {
        let reference = checked_reference("images", &line)?;
        if !unnamed_builds.is_empty() && names_no_tag(&reference) {
            push_under.push(reference);
        } else {
            images.push(WantedImage { service: None, reference, platform: None, built: false });
        }
    }
    let push_under = match push_under.as_slice() {
        [] if !unnamed_builds.is_empty() => bail!(
            "compose-file: service `{}` has `build:` and no `image:`, so it has nowhere to be pushed and bundled from; give it `image:` (e.g. registry.example.com/acme/{}:1.0), or give `images` a repository without a tag to push it under (e.g. registry.example.com/acme)",
            unnamed_builds[0],
            unnamed_builds[0]
        ),
        [] => None,
        [one] => Some(one.trim_end_matches('/').to_string()),
        [first, second, ..] => bail!(
            "images: `{first}` and `{second}` both have no tag; one line without a tag names where the services built without `image:` are pushed, give the others a tag"
        ),
    };
    Ok((images, push_under))
}

/// A Compose service as the bundle takes it.
enum ServiceImage {
    /// Its `image:`, read from its registry as it is.
    Listed(WantedImage),
    /// With `build:`: built and pushed first.
    Built(ServiceBuild),
}

/// A service's image, or, with `build:`, its build pushed to its `image:`
/// or under `push_under`, each built service to a reference of its own.
fn service_image(
    service: compose::ComposeService,
    push_under: Option<&str>,
    builds: &[ServiceBuild],
) -> Result<ServiceImage> {
    let input = format!("compose-file: service `{}`", service.name);
    let platform = service
        .platform
        .map(|p: String| Platform::parse(&p).map_err(|e| anyhow::anyhow!("{input}: {e}")))
        .transpose()?;
    let Some(build) = service.build else {
        let reference = checked_reference(&input, service.image.as_deref().unwrap_or_default())?;
        return Ok(ServiceImage::Listed(WantedImage {
            service: Some(service.name),
            reference,
            platform,
            built: false,
        }));
    };
    let reference = match (&service.image, push_under) {
        (Some(image), _) => checked_reference(&input, image)?,
        (None, Some(under)) => {
            checked_reference(&input, &format!("{under}/{}:latest", service.name.to_lowercase()))?
        }
        (None, None) => {
            bail!("{input} has `build:` and no `image:`; give it `image:`, where it is pushed")
        }
    };
    if crate::reference::parse(&reference)?.digest().is_some() {
        bail!(
            "{input}: `{reference}` names a digest; a built service is pushed under a tag, write e.g. `image: name:1.0`"
        );
    }
    if let Some(other) = builds.iter().find(|b| b.reference == reference) {
        bail!(
            "{input}: `{reference}` is where service `{}` is pushed too; give each built service its own `image:`",
            other.service
        );
    }
    Ok(ServiceImage::Built(ServiceBuild { service: service.name, build, reference, platform }))
}

/// The repositories the images and the built services name, once each.
fn repositories(images: &[WantedImage], builds: &[ServiceBuild]) -> Result<Vec<ImageName>> {
    let mut names: Vec<ImageName> = Vec::new();
    let built = builds.iter().map(|b| &b.reference);
    for reference in images.iter().map(|i| &i.reference).chain(built) {
        let name = repository_of(reference)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// The bytes a `bundle-split` size names: a whole number with `k`, `m` or
/// `g`, binary (`1k` = 1024 bytes).
fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let invalid = || {
        anyhow::anyhow!(
            "bundle-split: `{text}` is not a size; write a whole number with k, m or g (binary: 1k = 1024 bytes), e.g. 2g or 700m"
        )
    };
    let (digits, unit) =
        text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let shift = match unit.to_ascii_lowercase().as_str() {
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => return Err(invalid()),
    };
    let number: u64 = digits.parse().map_err(|_| invalid())?;
    if number == 0 {
        bail!(
            "bundle-split: `{text}` is no size; give the largest part the media holds, e.g. 2g or 700m"
        );
    }
    number.checked_mul(1 << shift).filter(|bytes| *bytes <= 1 << 50).with_context(|| {
        format!("bundle-split: `{text}` is larger than any medium; give e.g. 2g or 700m")
    })
}

/// A reference as Docker reads it; `input` names where it came from.
fn checked_reference(input: &str, text: &str) -> Result<String> {
    crate::reference::parse(text)
        .map_err(|_| anyhow::anyhow!("{input}: `{text}` is not an image reference; write e.g. redis:7.2 or ghcr.io/acme/app:1.4"))?;
    Ok(text.to_string())
}

/// Whether a reference, as written, names neither a tag nor a digest.
fn names_no_tag(reference: &str) -> bool {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    !last.contains(':') && !reference.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        RawInputs::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string()))).unwrap()
    }

    #[test]
    fn images_then_compose_services() {
        let dir = tempfile::tempdir().unwrap();
        let compose = dir.path().join("compose.yaml");
        std::fs::write(&compose, "services:\n  web:\n    image: nginx:${BUNDLE_TEST_UNSET_TAG:-1.27}\n    platform: linux/amd64\n")
            .unwrap();
        let compose = compose.display().to_string();
        let request = resolve(
            &raw(&[
                ("mode", "bundle"),
                ("images", "redis:7.2\nghcr.io/acme/db:1"),
                ("compose-file", &compose),
                ("audit", "warn"),
            ]),
            &GithubContext::default(),
        )
        .unwrap();
        let references: Vec<&str> = request.images.iter().map(|i| i.reference.as_str()).collect();
        assert_eq!(references, ["redis:7.2", "ghcr.io/acme/db:1", "nginx:1.27"]);
        assert_eq!(request.images[2].service.as_deref(), Some("web"));
        assert_eq!(request.images[2].platform, Some(Platform::parse("linux/amd64").unwrap()));
        assert_eq!(request.audit, AuditLevel::Warn);
        assert_eq!(request.file, PathBuf::from("bundle.tar"));
        assert_eq!(request.split, None);
        let names: Vec<String> = request.repositories.iter().map(|n| n.name.clone()).collect();
        assert_eq!(
            names,
            ["docker.io/library/redis", "ghcr.io/acme/db", "docker.io/library/nginx"]
        );
    }

    #[test]
    fn mistakes_are_named_before_any_work() {
        let github = GithubContext::default();
        let error = resolve(&raw(&[("mode", "bundle")]), &github).unwrap_err().to_string();
        assert!(error.starts_with("images: mode: bundle needs images"), "{error}");
        let error = resolve(&raw(&[("images", "Redis:7")]), &github).unwrap_err().to_string();
        assert!(error.starts_with("images: `Redis:7` is not an image reference"), "{error}");
        let error = resolve(&raw(&[("compose-file", "/nonexistent/compose.yaml")]), &github)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("compose-file: could not read `/nonexistent/compose.yaml`"),
            "{error}"
        );
        let error = resolve(&raw(&[("images", "redis:7"), ("audit", "maybe")]), &github)
            .unwrap_err()
            .to_string();
        assert_eq!(error, "audit: `maybe` is not accepted; use warn, true or false");
        let error = resolve(&raw(&[("images", "redis:7"), ("bundle-split", "2 GB")]), &github)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("bundle-split: `2 GB` is not a size;"), "{error}");
        let request =
            resolve(&raw(&[("images", "redis:7"), ("bundle-split", "700m")]), &github).unwrap();
        assert_eq!(request.split, Some(700 << 20));
    }

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(crate::names::tag_or_digest("redis").unwrap(), "latest");
        assert_eq!(crate::names::tag_or_digest("172.17.0.1:5000/a/b:1.0").unwrap(), "1.0");
        assert_eq!(repository_of("172.17.0.1:5000/a/b:1.0").unwrap().name, "172.17.0.1:5000/a/b");
    }

    /// A request read from a Compose file `compose` written in a fresh
    /// directory, with the other inputs; also the directory.
    fn with_compose(
        compose: &str,
        pairs: &[(&str, &str)],
    ) -> (tempfile::TempDir, Result<BundleRequest>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("deploy/compose.yaml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, compose).unwrap();
        let file = file.display().to_string();
        let mut all = vec![("mode", "bundle"), ("compose-file", file.as_str())];
        all.extend_from_slice(pairs);
        let request = resolve(&raw(&all), &GithubContext::default());
        (dir, request)
    }

    #[test]
    fn built_services_are_pushed_to_their_image_or_under_images() {
        let compose = "services:\n  api:\n    build: ./api\n  web:\n    image: r.example/acme/web:2\n    build:\n      context: web\n      target: prod\n    platform: linux/arm64\n  db:\n    image: postgres:16\n";
        // `images`, then the listed references and the built ones, or the error.
        type Case<'a> = (&'a str, Result<(&'a [&'a str], &'a [&'a str]), &'a str>);
        let cases: &[Case] = &[
            (
                "r.example/acme",
                Ok((&["postgres:16"], &["r.example/acme/api:latest", "r.example/acme/web:2"])),
            ),
            (
                "redis:7\nr.example/acme\n",
                Ok((
                    &["redis:7", "postgres:16"],
                    &["r.example/acme/api:latest", "r.example/acme/web:2"],
                )),
            ),
            (
                "redis:7",
                Err(
                    "compose-file: service `api` has `build:` and no `image:`, so it has nowhere to be pushed",
                ),
            ),
            ("", Err("compose-file: service `api` has `build:` and no `image:`")),
            (
                "r.example/a\nr.example/b",
                Err("images: `r.example/a` and `r.example/b` both have no tag"),
            ),
        ];
        for (images, expected) in cases {
            let (_dir, request) = with_compose(compose, &[("images", images)]);
            match (request, expected) {
                (Ok(request), Ok((listed, built))) => {
                    let references: Vec<&str> =
                        request.images.iter().map(|i| i.reference.as_str()).collect();
                    assert_eq!(references, *listed, "{images}");
                    let pushed: Vec<&str> =
                        request.builds.iter().map(|b| b.reference.as_str()).collect();
                    assert_eq!(pushed, *built, "{images}");
                    assert!(request.images.iter().all(|i| !i.built));
                }
                (Err(error), Err(start)) => {
                    assert!(error.to_string().starts_with(start), "{images}: {error}")
                }
                (got, _) => panic!("{images}: {got:?}"),
            }
        }
        let (dir, request) = with_compose(compose, &[("images", "r.example/acme")]);
        let request = request.unwrap();
        let web = &request.builds[1];
        assert_eq!(web.service, "web");
        assert_eq!(web.build.context, dir.path().join("deploy/web"));
        assert_eq!(web.build.dockerfile, dir.path().join("deploy/web/Dockerfile"));
        assert_eq!(web.build.target.as_deref(), Some("prod"));
        assert_eq!(web.platform, Some(Platform::parse("linux/arm64").unwrap()));
        let names: Vec<String> = request.repositories.iter().map(|n| n.name.clone()).collect();
        assert_eq!(
            names,
            ["docker.io/library/postgres", "r.example/acme/api", "r.example/acme/web"]
        );
    }

    #[test]
    fn built_services_mistakes_are_named() {
        let cases = [
            ("services:\n  api:\n    image: r.example/api@sha256:".to_string() + &"a".repeat(64) + "\n    build: .\n", "names a digest"),
            (
                "services:\n  a:\n    image: r.example/x:1\n    build: .\n  b:\n    image: r.example/x:1\n    build: .\n".to_string(),
                "compose-file: service `b`: `r.example/x:1` is where service `a` is pushed too",
            ),
            (
                "services:\n  a:\n    image: Bad:1\n    build: .\n".to_string(),
                "compose-file: service `a`: `Bad:1` is not an image reference",
            ),
        ];
        for (compose, message) in cases {
            let (_dir, request) = with_compose(&compose, &[]);
            let error = request.unwrap_err().to_string();
            assert!(error.contains(message), "{compose}: {error}");
        }
    }

    #[test]
    fn a_missing_context_or_dockerfile_is_named_with_its_service() {
        let compose = "services:\n  api:\n    image: r.example/api:1\n    build: ./api\n";
        let (dir, request) = with_compose(compose, &[]);
        request.unwrap();
        let file = dir.path().join("deploy/compose.yaml").display().to_string();
        let inputs = [("mode", "bundle"), ("compose-file", file.as_str())];
        let plan = crate::plan::Plan::new(&raw(&inputs), &GithubContext::default()).unwrap();
        let error = plan.check_files(dir.path()).unwrap_err().to_string();
        assert!(
            error.starts_with("compose-file: service `api`: the build context `")
                && error.contains("deploy/api` is not a directory"),
            "{error}"
        );
        std::fs::create_dir_all(dir.path().join("deploy/api")).unwrap();
        let error = plan.check_files(dir.path()).unwrap_err().to_string();
        assert!(
            error.starts_with("compose-file: service `api`: there is no Dockerfile at `")
                && error.contains("deploy/api/Dockerfile`"),
            "{error}"
        );
        std::fs::write(dir.path().join("deploy/api/Dockerfile"), "FROM scratch\n").unwrap();
        plan.check_files(dir.path()).unwrap();
    }

    #[test]
    fn sizes_are_binary_and_mistakes_named() {
        let cases: &[(&str, Result<u64, &str>)] = &[
            ("2g", Ok(2 << 30)),
            ("2G", Ok(2 << 30)),
            ("700m", Ok(700 << 20)),
            ("700M", Ok(700 << 20)),
            ("512k", Ok(512 << 10)),
            (" 4g ", Ok(4 << 30)),
            ("1024m", Ok(1 << 30)),
            ("2", Err("bundle-split: `2` is not a size; write a whole number with k, m or g")),
            ("2gb", Err("bundle-split: `2gb` is not a size")),
            ("1.5g", Err("bundle-split: `1.5g` is not a size")),
            ("g", Err("bundle-split: `g` is not a size")),
            ("-1g", Err("bundle-split: `-1g` is not a size")),
            ("two", Err("bundle-split: `two` is not a size")),
            ("0m", Err("bundle-split: `0m` is no size")),
            ("99999999999999g", Err("bundle-split: `99999999999999g` is larger than any medium")),
        ];
        for (text, expected) in cases {
            match (parse_size(text), expected) {
                (Ok(bytes), Ok(want)) => assert_eq!(bytes, *want, "{text}"),
                (Err(error), Err(start)) => {
                    let error = error.to_string();
                    assert!(error.starts_with(start) && !error.contains('\n'), "{text}: {error}");
                }
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }
}
