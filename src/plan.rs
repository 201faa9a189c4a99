//! The Plan: a plain value computed from the inputs and the GitHub context
//! alone (images, tags, labels, platforms, credentials, buildx arguments).
//! Everything that talks to the outside world takes a Plan; nothing reads the
//! environment after it is made. Building it validates every input, so a
//! user's mistake fails here, before any daemon or registry work.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::inputs::{RawInputs, parse_bool, parse_choice, split_list};
use crate::meta;
use crate::platform::{self, Platform};
use crate::runner::GithubContext;

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An image name without tag: `registry/repository`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// As the user wrote it, lowercased (`ghcr.io/acme/app`, `acme/app`).
    pub name: String,
    /// The registry host as credentials are keyed (`ghcr.io`, `docker.io`).
    pub registry: String,
    pub repository: String,
}

impl ImageName {
    pub fn parse(text: &str) -> Result<ImageName> {
        let name = meta::normalize_image_name(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let reference = crate::reference::parse(&name)
            .map_err(|_| anyhow::anyhow!("images: `{text}` is not an image name; use registry/owner/name, e.g. ghcr.io/acme/app"))?;
        Ok(ImageName { registry: canonical_registry(reference.registry()), repository: reference.repository().to_string(), name })
    }

    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.name)
    }

    pub fn with_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name)
    }
}

/// `index.docker.io`, `registry-1.docker.io` and `docker.io` are one registry.
pub fn canonical_registry(host: &str) -> String {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        other => other.to_ascii_lowercase(),
    }
}

/// Registries that always need credentials to push.
const REGISTRIES_NEEDING_LOGIN: &[&str] = &["docker.io", "ghcr.io", "quay.io", "gcr.io", "registry.gitlab.com"];
const REGISTRY_SUFFIXES_NEEDING_LOGIN: &[&str] = &[".azurecr.io", ".amazonaws.com", ".pkg.dev", ".gcr.io"];

fn needs_login(registry: &str) -> bool {
    REGISTRIES_NEEDING_LOGIN.contains(&registry) || REGISTRY_SUFFIXES_NEEDING_LOGIN.iter().any(|s| registry.ends_with(s))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub registry: String,
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverRequest {
    Auto,
    Docker,
    DockerContainer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QemuMode {
    Auto,
    Always,
    Never,
}

/// What a run does: everything, one platform by digest, or a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Build,
    /// Build one platform and push it untagged, writing its digest here.
    Digest {
        dir: PathBuf,
    },
    /// Combine these digests (or the files in `dir`) into a tagged index.
    Merge {
        digests: Vec<String>,
        dir: PathBuf,
        required: Vec<Platform>,
    },
}

/// Release notes to write on a `release` event.
#[derive(Debug, Clone)]
pub struct ReleaseNotes {
    pub api_url: String,
    pub token: Secret,
    pub repository: String,
    pub release_id: u64,
}

/// How a check's failure is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckLevel {
    Fail,
    Warn,
    Off,
}

fn parse_check(input: &str, value: &str) -> Result<CheckLevel> {
    Ok(match parse_choice(input, value, &["true", "warn", "false"])? {
        "true" => CheckLevel::Fail,
        "warn" => CheckLevel::Warn,
        _ => CheckLevel::Off,
    })
}

/// The format of exported files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Docker,
    Oci,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatingPolicy {
    Guard,
    Always,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub images: Vec<ImageName>,
    /// The computed tags and labels; floating tags may still be held back
    /// once the registry's existing tags are known.
    pub meta: meta::Meta,
    pub floating: FloatingPolicy,
    pub platforms: Vec<Platform>,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub push: bool,
    pub push_reason: String,
    pub credentials: Vec<Credential>,
    pub options: crate::build_options::BuildOptions,
    pub builder_config: crate::builder_config::BuilderConfig,
    pub driver: DriverRequest,
    pub buildkit_image: String,
    pub qemu: QemuMode,
    pub qemu_image: String,
    pub insecure_registries: Vec<String>,
    pub preflight: CheckLevel,
    pub verify: CheckLevel,
    /// The smoke-test command, already split into words.
    pub smoke_test: Option<Vec<String>>,
    pub export: Option<ExportFormat>,
    pub export_dir: PathBuf,
    pub load: bool,
    pub mode: Mode,
    pub release_notes: Option<ReleaseNotes>,
    pub dry_run: bool,
    pub warnings: Vec<String>,
}

/// What buildx builds with: the daemon's own BuildKit or a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builder {
    /// The daemon's BuildKit (`default`, driver `docker`).
    Daemon,
    /// A `docker-container` builder we create under this name.
    Container { name: String },
}

impl Builder {
    pub fn name(&self) -> &str {
        match self {
            Builder::Daemon => "default",
            Builder::Container { name } => name,
        }
    }
}

impl Plan {
    /// Validates every input and computes the plan.
    pub fn new(raw: &RawInputs, github: &GithubContext) -> Result<Plan> {
        let mut warnings = Vec::new();
        let given_images: Vec<String> = meta::parse_images(raw.get("images"))
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_iter()
            .filter(|i| i.enable)
            .map(|i| i.name)
            .collect();
        let images = given_images.iter().map(|i| ImageName::parse(i)).collect::<Result<Vec<_>>>()?;
        if images.is_empty() {
            bail!("images: no image given; name at least one, e.g. ghcr.io/acme/app");
        }
        for (given, image) in given_images.iter().zip(&images) {
            if given != &image.name {
                warnings.push(format!("images: `{given}` is used as `{}` (image names are lowercase)", image.name));
            }
        }

        let mut platforms = Platform::parse_list(raw.get("platforms"))?;
        if platforms.is_empty() {
            bail!("platforms: no platform given; use e.g. linux/amd64,linux/arm64");
        }
        let platforms_given = raw.get("platforms") != crate::inputs::find("platforms").map_or("", |d| d.default);
        let digests_dir = match raw.get("digests-dir") {
            "" => github.runner_temp.clone().unwrap_or_default().join("digests"),
            dir => PathBuf::from(dir),
        };
        let mode = match parse_choice("mode", raw.get("mode"), &["build", "digest", "merge"])? {
            "digest" => {
                if !platforms_given {
                    platforms = vec![Platform::host()];
                } else if platforms.len() != 1 {
                    bail!(
                        "platforms: mode: digest builds one platform, and {} were given; give one, or leave `platforms` out for this runner's",
                        platforms.len()
                    );
                }
                Mode::Digest { dir: digests_dir }
            }
            "merge" => {
                let digests = split_list(raw.get("digests"), true);
                for digest in &digests {
                    if !is_digest(digest) {
                        bail!("digests: `{digest}` is not a digest; give sha256:<64 hex digits>, one per line");
                    }
                }
                Mode::Merge { digests, dir: digests_dir, required: if platforms_given { platforms.clone() } else { Vec::new() } }
            }
            _ => Mode::Build,
        };
        if mode != Mode::Build && !matches!(raw.get("push"), "auto" | "true") {
            bail!("push: mode: {} pushes by definition; remove `push: {}`", raw.get("mode"), raw.get("push"));
        }

        let context = PathBuf::from(raw.get("context"));
        // Paths as the user writes them, without `./`, since annotations
        // name the Dockerfile relative to the workspace.
        let dockerfile = match raw.get("file") {
            "" => context.join("Dockerfile").components().filter(|c| *c != std::path::Component::CurDir).collect::<PathBuf>(),
            file => Path::new(file).components().filter(|c| *c != std::path::Component::CurDir).collect::<PathBuf>(),
        };
        let target = Some(raw.get("target").to_string()).filter(|t| !t.is_empty());
        let build_args = parse_pairs("build-args", raw.get("build-args"))?;

        let push = match parse_choice("push", raw.get("push"), &["auto", "true", "false"])? {
            "true" => (true, "push: true".to_string()),
            "false" => (false, "push: false".to_string()),
            _ if matches!(github.event_name.as_str(), "pull_request" | "pull_request_target") => {
                (false, format!("push: auto does not push on {} events", github.event_name))
            }
            _ => (true, "push: auto".to_string()),
        };

        let credentials = credentials(raw, &images)?;
        if push.0 {
            for image in &images {
                if needs_login(&image.registry) && !credentials.iter().any(|c| c.registry == image.registry) {
                    bail!(
                        "password: pushing to {} needs credentials; set `username` and `password` (with `registry: {}`), or `push: false`",
                        image.registry,
                        image.registry
                    );
                }
            }
        }

        let driver = match parse_choice("driver", raw.get("driver"), &["auto", "docker", "docker-container"])? {
            "docker" => DriverRequest::Docker,
            "docker-container" => DriverRequest::DockerContainer,
            _ => DriverRequest::Auto,
        };
        let options = crate::build_options::BuildOptions::parse(raw)?;
        let builder_config = crate::builder_config::BuilderConfig::parse(raw)?;
        if driver == DriverRequest::Docker
            && let Some(input) = builder_config.given().first()
        {
            bail!(
                "{input}: does not apply to driver: docker (the daemon's own BuildKit has no buildkitd of ours to configure); use driver: docker-container or auto"
            );
        }
        if push.0 && !options.outputs.is_empty() {
            bail!("outputs: cannot be combined with pushing; set `push: false`, or add `type=registry` to `outputs` yourself");
        }
        for name in options.build_args_that_look_secret(&build_args) {
            warnings.push(format!("build-args: `{name}` looks like a secret, and build arguments stay in the image history; pass it in `secrets` and mount it with RUN --mount=type=secret,id={name}"));
        }
        let qemu = match parse_choice("qemu", raw.get("qemu"), &["auto", "true", "false"])? {
            "true" => QemuMode::Always,
            "false" => QemuMode::Never,
            _ => QemuMode::Auto,
        };
        let floating = match parse_choice("floating-tags", raw.get("floating-tags"), &["guard", "always"])? {
            "always" => FloatingPolicy::Always,
            _ => FloatingPolicy::Guard,
        };
        for (input, value) in [("buildkit-image", raw.get("buildkit-image")), ("qemu-image", raw.get("qemu-image"))] {
            if crate::reference::parse(value).is_err() || value.chars().any(char::is_whitespace) {
                bail!(
                    "{input}: `{value}` is not an image reference; use name:tag, e.g. {}",
                    crate::inputs::find(input).map_or("", |d| d.default)
                );
            }
        }
        let insecure_registries = split_list(raw.get("insecure-registries"), true);
        for registry in &insecure_registries {
            if registry.contains('/') || registry.contains("://") {
                bail!("insecure-registries: `{registry}` is not a registry host; use host or host:port");
            }
        }

        let smoke_test = match raw.get("smoke-test") {
            "" => None,
            command => Some(shlex::split(command).filter(|words| !words.is_empty()).ok_or_else(|| {
                anyhow::anyhow!("smoke-test: `{command}` has an unclosed quote; write a command such as `myapp --version`")
            })?),
        };
        let export = match parse_choice("export", raw.get("export"), &["", "docker", "oci"])? {
            "docker" => Some(ExportFormat::Docker),
            "oci" => Some(ExportFormat::Oci),
            _ => None,
        };
        let export_dir = match raw.get("export-dir") {
            "" => github.runner_temp.clone().unwrap_or_default().join("multiarch-export"),
            dir => PathBuf::from(dir),
        };

        let release_notes = if parse_bool("release-notes", raw.get("release-notes"))? {
            if raw.get("github-token").is_empty() {
                bail!(
                    "github-token: `release-notes: true` needs a token; pass `github-token: ${{{{ secrets.GITHUB_TOKEN }}}}` and give the job `contents: write`"
                );
            }
            let release_id = github.event.get("release").and_then(|r| r.get("id")).and_then(|id| id.as_u64());
            match release_id {
                Some(release_id) if github.event_name == "release" => Some(ReleaseNotes {
                    api_url: github.api_url.clone(),
                    token: Secret(raw.get("github-token").to_string()),
                    repository: github.repository.clone(),
                    release_id,
                }),
                _ => {
                    warnings.push(format!(
                        "release-notes: this is a `{}` event, not a release; no release notes are written",
                        github.event_name
                    ));
                    None
                }
            }
        } else {
            None
        };

        let meta = compute_meta(raw, github, &images)?;
        warnings.extend(meta.warnings.iter().cloned());
        if push.0 && meta.tags.is_empty() && !matches!(mode, Mode::Digest { .. }) {
            bail!(
                "tags: no tag applies to {} on `{}`; add a rule that does (e.g. `type=raw,value=edge` or `type=sha`), or set `version`",
                if github.event_name.is_empty() { "this run" } else { &github.event_name },
                github.git_ref
            );
        }

        Ok(Plan {
            images,
            meta,
            floating,
            platforms,
            context,
            dockerfile,
            target,
            build_args,
            push: push.0,
            push_reason: push.1,
            credentials,
            options,
            builder_config,
            driver,
            buildkit_image: raw.get("buildkit-image").to_string(),
            qemu,
            qemu_image: raw.get("qemu-image").to_string(),
            insecure_registries,
            preflight: parse_check("preflight", raw.get("preflight"))?,
            verify: parse_check("verify", raw.get("verify"))?,
            smoke_test,
            export,
            export_dir,
            load: parse_bool("load", raw.get("load"))?,
            mode,
            release_notes,
            dry_run: parse_bool("dry-run", raw.get("dry-run"))?,
            warnings,
        })
    }

    /// Checks the files the plan names, before any other work.
    pub fn check_files(&self, workdir: &Path) -> Result<()> {
        let context = workdir.join(&self.context);
        if !context.is_dir() {
            bail!("context: `{}` is not a directory; give the build context relative to the workspace", self.context.display());
        }
        let dockerfile = workdir.join(&self.dockerfile);
        if !dockerfile.is_file() {
            bail!("file: there is no Dockerfile at `{}`; set `file` to its path or add one to the context", self.dockerfile.display());
        }
        Ok(())
    }

    /// Every credential's secret, to mask.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.credentials.iter().map(|c| c.password.0.clone()).collect();
        secrets.extend(self.release_notes.iter().map(|n| n.token.0.clone()));
        secrets.extend(self.options.secret_values());
        secrets
    }

    /// The tag names that will be pushed, given the floating tags held back.
    pub fn tag_names<'a>(&'a self, held_back: &'a [String]) -> impl Iterator<Item = &'a str> + 'a {
        self.meta.tags.iter().map(|t| t.name.as_str()).filter(move |t| !held_back.iter().any(|h| h == t))
    }

    /// Full references (`image:tag`) for every image and tag.
    pub fn references(&self, held_back: &[String]) -> Vec<String> {
        self.images.iter().flat_map(|image| self.tag_names(held_back).map(move |tag| image.with_tag(tag))).collect()
    }

    /// What every buildx build of this plan shares: builder, platforms,
    /// Dockerfile, target, build arguments and labels.
    fn common_build_args(&self, builder: &Builder, platforms: &[Platform]) -> Vec<String> {
        let mut args: Vec<String> = vec!["build".into(), "--builder".into(), builder.name().into()];
        args.extend(["--platform".into(), platform::join(platforms)]);
        args.extend(["--file".into(), self.dockerfile.display().to_string()]);
        if let Some(target) = &self.target {
            args.extend(["--target".into(), target.clone()]);
        }
        for (name, value) in &self.build_args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        for (key, value) in &self.meta.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        args.extend(self.options.args());
        args
    }

    /// The arguments of the main `buildx build`; no secret is ever among
    /// them. When pushing, buildx writes an OCI layout to `layout`, which is
    /// then pushed by digest and tagged once verified.
    pub fn buildx_build_args(&self, builder: &Builder, metadata_file: &Path, layout: Option<&Path>) -> Vec<String> {
        let mut args = self.common_build_args(builder, &self.platforms);
        if let Some(dir) = layout {
            // BuildKit refuses index annotations for a single-platform export.
            let annotations = meta::annotation_args(&self.meta.annotations);
            let single = self.platforms.len() == 1;
            for annotation in annotations.into_iter().filter(|a| !(single && a.starts_with("index:"))) {
                args.extend(["--annotation".into(), annotation]);
            }
            args.extend(["--output".into(), format!("type=oci,dest={},tar=false", dir.display())]);
        }
        args.extend(["--metadata-file".into(), metadata_file.display().to_string()]);
        args.extend(["--progress".into(), "rawjson".into()]);
        args.push(self.context.display().to_string());
        args
    }

    /// A further build of the same plan (answered from the build cache)
    /// that writes `output` (`type=docker,dest=…`, `type=oci,dest=…`, or
    /// `type=docker` to load into the daemon) for `platforms`.
    pub fn buildx_output_args(&self, builder: &Builder, platforms: &[Platform], output: &str, tag: Option<&str>) -> Vec<String> {
        let mut args = self.common_build_args(builder, platforms);
        if let Some(tag) = tag {
            args.extend(["--tag".into(), tag.to_string()]);
        }
        args.extend(["--output".into(), output.to_string(), "--progress".into(), "quiet".into()]);
        args.push(self.context.display().to_string());
        args
    }

    /// The plan as `--dry-run` prints it.
    pub fn describe(&self, held_back: &[(String, String)]) -> String {
        let held: Vec<String> = held_back.iter().map(|(t, _)| t.clone()).collect();
        let mut text = String::new();
        text.push_str(&format!("version: {}\n", self.meta.version));
        text.push_str(&format!("push: {} ({})\n", self.push, self.push_reason));
        text.push_str(&format!("platforms: {}\n", platform::join(&self.platforms)));
        text.push_str("tags:\n");
        for reference in self.references(&held) {
            text.push_str(&format!("  {reference}\n"));
        }
        for (tag, reason) in held_back {
            text.push_str(&format!("  held back: {tag}: {reason}\n"));
        }
        text.push_str("labels:\n");
        for (key, value) in &self.meta.labels {
            text.push_str(&format!("  {key}={value}\n"));
        }
        for credential in &self.credentials {
            text.push_str(&format!("login: {} as {} (password elided)\n", credential.registry, credential.username));
        }
        let layout = self.push.then(|| Path::new("<layout>"));
        let args = self.buildx_build_args(&Builder::Daemon, Path::new("<metadata.json>"), layout);
        text.push_str(&format!("buildx {}\n", args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")));
        text
    }
}

/// The tags, labels and annotations of this run, from the metadata inputs.
pub fn compute_meta(raw: &RawInputs, github: &GithubContext, images: &[ImageName]) -> Result<meta::Meta> {
    let rules = match raw.get("tags") {
        "" => meta::default_tag_rules(),
        text => meta::parse_tag_rules(text).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let flavor = meta::parse_flavor(raw.get("flavor")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let created = match github.source_date_epoch {
        Some(seconds) => chrono::DateTime::from_timestamp(seconds, 0).context("SOURCE_DATE_EPOCH is out of range")?,
        None => chrono::Utc::now(),
    };
    let context = github.meta_context(Some(raw.get("version").to_string()).filter(|v| !v.is_empty()), created);
    let (labels, label_warnings) = meta::parse_labels(raw.get("labels"));
    let annotations = meta::parse_annotations(raw.get("annotations")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    let mut meta = meta::compute(&context, &names, &rules, &flavor, &labels, &annotations).map_err(|e| anyhow::anyhow!("{e}"))?;
    meta.warnings.extend(label_warnings);
    let separator = |input: &str| Some(raw.get(input).to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "\n".to_string());
    meta.separators = meta::Separators { tags: separator("sep-tags"), labels: separator("sep-labels") };
    Ok(meta)
}

/// `sha256:` and 64 hex digits.
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `NAME=value` lines; a line without `=` is an error naming the input.
fn parse_pairs(input: &str, text: &str) -> Result<Vec<(String, String)>> {
    split_list(text, false)
        .into_iter()
        .map(|line| match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.to_string())),
            _ => bail!("{input}: `{line}` has no `=`; write NAME=value, one per line"),
        })
        .collect()
}

/// One entry of `registry-auth`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryAuthEntry {
    registry: Option<String>,
    username: String,
    password: String,
}

/// Credentials from `registry`/`username`/`password` and `registry-auth`.
fn credentials(raw: &RawInputs, images: &[ImageName]) -> Result<Vec<Credential>> {
    let mut all = single_credential(raw, images)?;
    if !raw.get("registry-auth").is_empty() {
        let entries: Vec<RegistryAuthEntry> = serde_yaml_ng::from_str(raw.get("registry-auth")).map_err(|e| {
            let place = e.location().map(|l| format!(" at line {}", l.line())).unwrap_or_default();
            anyhow::anyhow!("registry-auth: not a YAML list of `registry`, `username`, `password`{place}; write `- registry: ghcr.io` with `username:` and `password:` under it")
        })?;
        for entry in entries {
            let registry = registry_host("registry-auth", entry.registry.as_deref().unwrap_or("docker.io"))?;
            if entry.username.is_empty() || entry.password.is_empty() {
                bail!("registry-auth: the entry for {registry} needs both `username` and `password`");
            }
            if all.iter().any(|c: &Credential| c.registry == registry) {
                bail!("registry-auth: {registry} is given twice; give one credential per registry");
            }
            all.push(Credential { registry, username: entry.username, password: Secret(entry.password) });
        }
    }
    Ok(all)
}

/// A registry host as credentials are keyed, from what a user wrote.
fn registry_host(input: &str, given: &str) -> Result<String> {
    let host = given.trim().trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
        bail!("{input}: `{given}` is not a registry host; use e.g. ghcr.io or registry.example.com:5000");
    }
    Ok(canonical_registry(host))
}

fn single_credential(raw: &RawInputs, images: &[ImageName]) -> Result<Vec<Credential>> {
    let (username, password) = (raw.get("username"), raw.get("password"));
    match (username.is_empty(), password.is_empty()) {
        (true, true) => return Ok(Vec::new()),
        (false, true) => bail!("password: `username` is set but `password` is empty; pass the token, e.g. ${{{{ secrets.GITHUB_TOKEN }}}}"),
        (true, false) => bail!("username: `password` is set but `username` is empty; set the account name, e.g. ${{{{ github.actor }}}}"),
        _ => {}
    }
    let registry = match raw.get("registry") {
        "" => images[0].registry.clone(),
        given => registry_host("registry", given)?,
    };
    Ok(vec![Credential { registry, username: username.to_string(), password: Secret(password.to_string()) }])
}

/// Quotes an argument for display when it holds shell-special characters.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c)) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Labels as `key=value` lines.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}
