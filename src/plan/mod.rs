//! The Plan: a plain value computed from the inputs and the GitHub context
//! alone (images, tags, labels, platforms, credentials, buildx arguments).
//! Everything that talks to the outside world takes a Plan; nothing reads the
//! environment after it is made. Building it validates every input, so a
//! user's mistake fails here, before any daemon or registry work. Each
//! concern has its resolver: images and tags, credentials, the build, the
//! builder, and the mode.

mod args;
pub mod build_options;
mod builder;
mod credentials;
mod images;
mod mode;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

pub use self::args::{PushRoute, STAGING_TAG};
pub use self::builder::{DriverRequest, QemuMode};
pub use self::images::{ReferenceTag, compute_meta};
pub use self::mode::{CheckLevel, ExportFormat, Mode, PushDecision, ReleaseNotes};
use crate::inputs::RawInputs;
use crate::meta;
use crate::names::Credential;
pub use crate::names::ImageName;
use crate::platform::Platform;
use crate::runner::GithubContext;

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
    /// Tags for one image each: the `tags` lines that are full references.
    pub reference_tags: Vec<ReferenceTag>,
    pub floating: FloatingPolicy,
    pub platforms: Vec<Platform>,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub build_args: Vec<(String, String)>,
    pub push: bool,
    pub push_reason: String,
    pub credentials: Vec<Credential>,
    pub options: build_options::BuildOptions,
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
    /// `call: check`: run BuildKit's build checks only.
    pub call_check: bool,
    /// `builder`: an existing buildx builder to use, by name.
    pub existing_builder: Option<String>,
    pub warnings: Vec<String>,
}

/// What buildx builds with: the daemon's own BuildKit or a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builder {
    /// The daemon's BuildKit (`default`, driver `docker`).
    Daemon,
    /// A `docker-container` builder we create under this name.
    Container { name: String },
    /// A builder the user made, named by `builder`: used as it is, never
    /// configured or removed.
    Existing { name: String },
}

impl Builder {
    pub fn name(&self) -> &str {
        match self {
            Builder::Daemon => "default",
            Builder::Container { name } | Builder::Existing { name } => name,
        }
    }
}

/// A floating tag not pushed this run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub tag: String,
    pub reason: String,
}

/// What the build inputs say, before the build options.
struct BuildInputs {
    context: PathBuf,
    dockerfile: PathBuf,
    target: Option<String>,
    build_args: Vec<(String, String)>,
}

fn resolve_build(raw: &RawInputs) -> Result<BuildInputs> {
    let context = PathBuf::from(raw.get("context"));
    // Paths as the user writes them, without `./`, since annotations
    // name the Dockerfile relative to the workspace.
    let without_dots = |path: &Path| {
        path.components().filter(|c| *c != std::path::Component::CurDir).collect::<PathBuf>()
    };
    let dockerfile = match raw.text("file") {
        None => without_dots(&context.join("Dockerfile")),
        Some(file) => without_dots(Path::new(file)),
    };
    let target = raw.text("target").map(str::to_string);
    let build_args = parse_pairs("build-args", &raw.list("build-args"))?;
    Ok(BuildInputs { context, dockerfile, target, build_args })
}

impl Plan {
    /// Validates every input and computes the plan, one resolver per concern.
    pub fn new(raw: &RawInputs, github: &GithubContext) -> Result<Plan> {
        let mut warnings = Vec::new();
        let (reference_tags, _) = images::split_reference_tags(raw.get("tags"))?;
        let (mode, platforms) = mode::resolve_mode(raw, github)?;
        let images = match &mode {
            Mode::Bundle(request) => request.repositories()?,
            _ => images::resolve_images(raw, &reference_tags, &mut warnings)?,
        };
        let PushDecision { push, reason: push_reason } = mode::resolve_push(raw, github, &mode)?;
        let dry_run = raw.bool("dry-run")?;
        let credentials = credentials::resolve(raw, &images, push, dry_run, &mut warnings)?;

        let BuildInputs { context, dockerfile, target, build_args } = resolve_build(raw)?;
        let options = build_options::BuildOptions::parse(raw)?;
        if push && !options.outputs.is_empty() {
            bail!(
                "outputs: cannot be combined with pushing; set `push: false`, or add `type=registry` to `outputs` yourself"
            );
        }
        for name in options.build_args_that_look_secret(&build_args) {
            warnings.push(format!("build-args: `{name}` looks like a secret, and build arguments stay in the image history; pass it in `secrets` and mount it with RUN --mount=type=secret,id={name}"));
        }
        let builder::BuilderInputs {
            driver,
            builder_config,
            existing_builder,
            buildkit_image,
            qemu,
            qemu_image,
            insecure_registries,
        } = builder::resolve(raw)?;

        let floating = match raw.choice("floating-tags")? {
            "always" => FloatingPolicy::Always,
            _ => FloatingPolicy::Guard,
        };
        let (export, export_dir) = mode::export(raw, github)?;
        let release_notes = mode::release_notes(raw, github, &mut warnings)?;

        let meta = images::compute_meta(raw, github, &images)?;
        warnings.extend(meta.warnings.iter().cloned());
        if push
            && meta.tags.is_empty()
            && reference_tags.is_empty()
            && !matches!(mode, Mode::Digest { .. })
        {
            bail!(
                "tags: no tag applies to {} on `{}`; add a rule that does (e.g. `type=raw,value=edge` or `type=sha`), or set `version`",
                if github.event_name.is_empty() { "this run" } else { &github.event_name },
                github.git_ref
            );
        }

        Ok(Plan {
            images,
            meta,
            reference_tags,
            floating,
            platforms,
            context,
            dockerfile,
            target,
            build_args,
            push,
            push_reason,
            credentials,
            options,
            builder_config,
            driver,
            buildkit_image,
            qemu,
            qemu_image,
            insecure_registries,
            preflight: mode::check_level(raw, "preflight")?,
            verify: mode::check_level(raw, "verify")?,
            smoke_test: mode::smoke_test(raw)?,
            export,
            export_dir,
            load: raw.bool("load")?,
            mode,
            release_notes,
            dry_run,
            call_check: raw.choice("call")? == "check",
            existing_builder,
            warnings,
        })
    }

    /// Checks the files the plan names, before any other work.
    pub fn check_files(&self, workdir: &Path) -> Result<()> {
        if let Mode::Bundle(request) = &self.mode {
            return request.check_files(workdir);
        }
        let context = workdir.join(&self.context);
        if !context.is_dir() {
            bail!(
                "context: `{}` is not a directory; give the build context relative to the workspace",
                self.context.display()
            );
        }
        let dockerfile = workdir.join(&self.dockerfile);
        if !dockerfile.is_file() {
            bail!(
                "file: there is no Dockerfile at `{}`; set `file` to its path or add one to the context",
                self.dockerfile.display()
            );
        }
        Ok(())
    }

    /// The plan that builds one Compose service of a bundle: this plan's
    /// checks, builder, credentials and build options, with the service's
    /// context, Dockerfile, target and arguments (after `build-args`, which
    /// they override), its platform, and one image and tag, pushed.
    pub fn for_service(&self, service: &crate::bundle::request::ServiceBuild) -> Result<Plan> {
        let image = crate::bundle::request::repository_of(&service.reference)?;
        let tag = crate::bundle::request::tag_or_digest(&service.reference)?;
        let mut build_args: Vec<(String, String)> = self
            .build_args
            .iter()
            .filter(|(name, _)| !service.build.args.iter().any(|(n, _)| n == name))
            .cloned()
            .collect();
        build_args.extend(service.build.args.iter().cloned());
        let mut plan = self.clone();
        plan.images = vec![image.clone()];
        plan.meta.tags.clear();
        plan.reference_tags = vec![ReferenceTag { image, tag }];
        plan.platforms =
            service.platform.clone().map_or_else(|| self.platforms.clone(), |p| vec![p]);
        plan.context = service.build.context.clone();
        plan.dockerfile = service.build.dockerfile.clone();
        plan.target = service.build.target.clone().or_else(|| self.target.clone());
        plan.build_args = build_args;
        plan.push = true;
        plan.push_reason = format!(
            "mode: bundle pushes service `{}` to bundle it from its registry",
            service.service
        );
        plan.mode = Mode::Build;
        plan.smoke_test = None;
        plan.export = None;
        plan.load = false;
        plan.release_notes = None;
        plan.warnings.clear();
        Ok(plan)
    }

    /// Every secret the plan holds, parsed: passwords of every credential,
    /// the API token and build secret values (each also by line). Masked
    /// before anything else is printed.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> =
            self.credentials.iter().map(|c| c.password.expose().to_string()).collect();
        secrets.extend(self.release_notes.iter().map(|n| n.token.expose().to_string()));
        for value in self.options.secret_values() {
            secrets
                .extend(value.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string));
            secrets.push(value);
        }
        secrets.retain(|s| !s.trim().is_empty());
        secrets.sort();
        secrets.dedup();
        secrets
    }

    /// The tag names that will be pushed to `image`, given the floating tags
    /// held back: the computed tags, and its own full-reference tags.
    pub fn tag_names_for<'a>(
        &'a self,
        image: &'a ImageName,
        held_back: &'a [HeldBack],
    ) -> impl Iterator<Item = &'a str> + 'a {
        let computed = self
            .meta
            .tags
            .iter()
            .map(|t| t.name.as_str())
            .filter(move |t| !held_back.iter().any(|h| h.tag == *t));
        let own = self
            .reference_tags
            .iter()
            .filter(move |r| images::same_repository(&r.image, image))
            .map(|r| r.tag.as_str());
        let mut seen = std::collections::BTreeSet::new();
        computed.chain(own).filter(move |t| seen.insert(*t))
    }

    /// Every tag name pushed to any image (the `tag-names` output).
    pub fn tag_names<'a>(&'a self, held_back: &'a [HeldBack]) -> Vec<&'a str> {
        let mut names: Vec<&str> = Vec::new();
        for image in &self.images {
            for tag in self.tag_names_for(image, held_back) {
                if !names.contains(&tag) {
                    names.push(tag);
                }
            }
        }
        names
    }

    /// Full references (`image:tag`) for every image and its tags.
    pub fn references(&self, held_back: &[HeldBack]) -> Vec<String> {
        self.images
            .iter()
            .flat_map(|image| {
                self.tag_names_for(image, held_back).map(move |tag| image.with_tag(tag))
            })
            .collect()
    }
}

/// `NAME=value` lines; a line without `=` is an error naming the input.
fn parse_pairs(input: &str, lines: &[String]) -> Result<Vec<(String, String)>> {
    lines
        .iter()
        .map(|line| match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.to_string()))
            }
            _ => bail!("{input}: `{line}` has no `=`; write NAME=value, one per line"),
        })
        .collect()
}

/// Labels as `key=value` lines.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests;
