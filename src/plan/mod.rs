//! The Plan: what the user asked, as plain values. A Plan is the run's
//! settings (credentials, builder, QEMU, checks, outputs, mode) and its list
//! of builds (context, Dockerfile, target, arguments, platforms, images and
//! tags each): one build for an image, one per Compose service for a
//! deployment. Everything that talks to the outside takes the Plan (or one
//! of its builds); nothing reads an input or the environment after it is
//! made.
//!
//! How a Plan is made, one resolver per concern:
//!
//! 1. `mode`: what the run makes (build, digest, merge, bundle, or only
//!    checks, or a dry run of any of them), its platforms, whether it pushes.
//! 2. `images`: the images, and the tags, labels and annotations computed
//!    for them from the ref, the event and the tag rules (`tags` read once).
//! 3. `credentials`: every login, keyed by registry.
//! 4. `build_options`, `builder`: what every build passes to buildx, and how
//!    the builder and QEMU are set up.
//! 5. `deployment` (with `compose`): in `mode: build` with a Compose file,
//!    the services to build and the images each is pushed to; `bundle`: a
//!    bundle's images and the services it builds.
//! 6. the builds: the one the inputs describe, or one per service, each
//!    with the tags computed once in 2.
//!
//! Every input is parsed here, by the parser its row of the input table
//! names, so a user's mistake fails with one line naming the input before
//! any daemon or registry work.

mod args;
pub mod build_options;
mod builder;
mod builder_config;
mod bundle;
mod compose;
mod credentials;
mod deployment;
mod images;
mod mode;
mod settings;
mod signing;
mod work;

use std::path::Path;

use anyhow::{Result, bail};

pub(crate) use self::args::{PushRoute, STAGING_TAG};
pub(crate) use self::builder::{QemuMode, QemuSettings};
pub(crate) use self::builder_config::{AppendNode, BuilderConfig};
pub(crate) use self::bundle::{AuditLevel, BundleRequest, WantedImage};
pub use self::images::{ContextLookups, compute_meta};
pub(crate) use self::mode::{CheckLevel, Export, ExportFormat, Mode, ReleaseNotes};
pub(crate) use self::settings::{Checks, RunSettings};
pub(crate) use self::signing::{Keyless, Signing, SigningKey};
#[cfg(test)]
pub(crate) use self::signing::{parse_key as parse_signing_key, test_key as test_signing_key};
pub(crate) use self::work::Build;
use crate::inputs::RawInputs;
use crate::inputs::choices::CrossCompilePolicy;
pub(crate) use crate::inputs::choices::{Driver, FloatingPolicy};
pub(crate) use crate::meta::HeldBack;
pub use crate::names::ImageName;
use crate::runner::GithubContext;

/// The run's settings and its builds: non-empty, except in `mode: bundle`,
/// whose builds are the Compose services it builds (none when it only
/// bundles images that exist).
#[derive(Debug, Clone)]
pub struct Plan {
    run: RunSettings,
    builds: Vec<Build>,
}

/// What buildx builds with: the daemon's BuildKit or a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Builder {
    /// The daemon's BuildKit (`default`, driver `docker`).
    Daemon,
    /// A `docker-container` builder we create under this name.
    Container { name: String },
    /// A builder the user made, named by `builder`: used as it is, never
    /// configured or removed.
    Existing { name: String },
}

impl Builder {
    pub(crate) fn name(&self) -> &str {
        match self {
            Builder::Daemon => "default",
            Builder::Container { name } | Builder::Existing { name } => name,
        }
    }
}

impl Plan {
    /// Validates every input and computes the plan, one resolver per concern.
    pub fn new(raw: &RawInputs, github: &GithubContext) -> Result<Plan> {
        let mut warnings = Vec::new();
        let asked = mode::resolve(raw, github)?;
        let deployment = match asked.mode.work() {
            _ if !raw.given("compose-file") => None,
            Mode::Build => Some(deployment::from_inputs(raw)?),
            Mode::Bundle(_) => None,
            Mode::Check => bail!(
                "call: `check` checks one Dockerfile; leave `compose-file` out, or use `call: build`"
            ),
            Mode::Digest { .. } | Mode::Merge { .. } | Mode::DryRun(_) => bail!(
                "compose-file: works with `mode: build` (a deployment) and `mode: bundle`; the native-runner modes build one image, so leave it out"
            ),
        };
        let given_images = match (asked.mode.work(), &deployment) {
            (Mode::Bundle(request), _) => Some(request.repositories.clone()),
            (_, Some(services)) => Some(services.iter().flat_map(|s| s.images.clone()).collect()),
            _ => None,
        };
        let tags = images::resolve(raw, github, given_images, &mut warnings)?;
        let images = tags.images().to_vec();
        let credentials = credentials::resolve(
            raw,
            &images,
            asked.push.yes,
            asked.mode.is_dry_run(),
            &mut warnings,
        )?;
        let options = build_options::BuildOptions::parse(raw, github, &mut warnings)?;
        if deployment.is_some() {
            deployment::check_run_inputs(raw, &options)?;
        } else if raw.given("services") {
            bail!(
                "services: chooses among the services of a deployment; give `compose-file` with `mode: build`, or leave `services` out"
            );
        }
        if asked.push.yes && !options.outputs.is_empty() {
            bail!(
                "outputs: cannot be combined with pushing; set `push: false`, or add `type=registry` to `outputs` yourself"
            );
        }
        let source = work::resolve_source(raw)?;
        for name in options.build_args_that_look_secret(&source.build_args) {
            warnings.push(format!("build-args: `{name}` looks like a secret, and build arguments stay in the image history and the provenance; pass it in `secrets` and mount it with RUN --mount=type=secret,id={name}"));
        }
        let (builder, qemu) = builder::resolve(raw)?;
        let floating = raw.choice::<FloatingPolicy>("floating-tags")?;
        let immutable_tags = raw.bool("immutable-tags")?;
        let checks = Checks {
            preflight: mode::check_level(raw, "preflight")?,
            verify: mode::check_level(raw, "verify")?,
            smoke_test: mode::smoke_test(raw)?,
        };
        let export = mode::export(raw, github)?;
        let load = raw.bool("load")?;
        let mut release_notes = mode::release_notes(raw, github, &mut warnings)?;
        if deployment.is_some() && release_notes.take().is_some() {
            warnings.push("release-notes: the release notes name one image, and a deployment pushes one per service; none is added (the job summary and the `json` output list every service)".into());
        }
        let signing = signing::resolve(raw, github, &asked.mode, asked.push.yes)?;
        let cross_compile = raw.choice::<CrossCompilePolicy>("cross-compile")?;
        if cross_compile == CrossCompilePolicy::Auto {
            if checks.verify == CheckLevel::Off {
                bail!(
                    "cross-compile: `auto` uses the cross-compiling build only when the architecture scan finds no binary of another architecture; set `verify: true` (or `warn`), or set `cross-compile: false`"
                );
            }
            if !asked.push.yes && !asked.mode.is_dry_run() {
                warnings.push("cross-compile: `auto` checks the cross-compiling build in the pushed image, and nothing is pushed (`push: false`); the Dockerfile is built as written".into());
            }
        }
        warnings.extend(tags.meta().warnings.iter().cloned());

        let builds = match (asked.mode.work(), deployment) {
            (Mode::Bundle(request), _) => {
                work::service_builds(request, &source, &tags, &asked.platforms)?
            }
            (_, Some(services)) => {
                if let Some(reference) = tags.full_references().next() {
                    bail!(
                        "tags: `{reference}` names one image, and a deployment gives every service the same tags; write the tag alone"
                    );
                }
                work::deployment_builds(services, &source, &tags, &asked.platforms, &asked.push)
            }
            (_, None) => vec![Build::new(source, asked.platforms.clone(), tags, asked.push)],
        };
        let bundles = matches!(asked.mode.work(), Mode::Bundle(_));
        if let Some(build) = builds.first().filter(|_| !bundles)
            && build.pushes()
            && build.tag_names(&[]).is_empty()
            && !asked.mode.is_digest()
        {
            bail!(
                "tags: no tag applies to {} on `{}`; add a rule that does (e.g. `type=raw,value=edge` or `type=sha`), or set `version`",
                if github.event_name.is_empty() { "this run" } else { &github.event_name },
                github.git_ref
            );
        }
        let run = RunSettings {
            mode: asked.mode,
            platforms: asked.platforms,
            credentials,
            builder,
            qemu,
            checks,
            export,
            load,
            release_notes,
            options,
            floating,
            immutable_tags,
            signing,
            cross_compile,
            warnings,
        };
        Ok(Plan { run: run.for_work(), builds })
    }

    /// How the run is driven.
    pub(crate) fn run(&self) -> &RunSettings {
        &self.run
    }

    /// What the run builds, in order.
    pub(crate) fn builds(&self) -> &[Build] {
        &self.builds
    }

    /// The build of a run that makes one image (build, digest, merge and
    /// check modes).
    pub(crate) fn build(&self) -> &Build {
        self.builds.first().expect("a plan of one image has its build")
    }

    /// What a user sees first: the images and the platforms.
    pub fn headline(&self) -> String {
        let images: Vec<String> = self.images().into_iter().map(|i| i.name).collect();
        format!("{} for {}", images.join(", "), crate::platform::join(&self.run.platforms))
    }

    /// The warnings resolving the inputs gave.
    pub fn warnings(&self) -> &[String] {
        &self.run.warnings
    }

    /// Checks the files the plan names, before any other work. A merge
    /// builds nothing, so it needs no Dockerfile.
    pub fn check_files(&self, workdir: &Path) -> Result<()> {
        match self.run.mode.work() {
            Mode::Merge { .. } => Ok(()),
            _ => self.builds.iter().try_for_each(|build| build.check_files(workdir)),
        }
    }

    /// Every secret the plan holds, parsed: passwords of every credential,
    /// the API token and build secret values (each also by line). Masked
    /// before anything else is printed.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> =
            self.run.credentials.iter().map(|c| c.password.expose().to_string()).collect();
        secrets.extend(self.run.release_notes.iter().map(|n| n.token.expose().to_string()));
        secrets.extend(self.run.signing.secrets());
        for value in self.run.options.secret_values() {
            secrets
                .extend(value.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string));
            secrets.push(value);
        }
        secrets.retain(|s| !s.trim().is_empty());
        secrets.sort();
        secrets.dedup();
        secrets
    }

    /// Every image the run pushes to or reads from, once each: what
    /// credentials and plain-HTTP registries are matched against.
    pub(crate) fn images(&self) -> Vec<ImageName> {
        let mut images: Vec<ImageName> = match self.run.mode.work() {
            Mode::Bundle(request) => request.repositories.clone(),
            _ => Vec::new(),
        };
        for image in self.builds.iter().flat_map(Build::images) {
            if !images.contains(image) {
                images.push(image.clone());
            }
        }
        images
    }

    /// Whether the run is a dry run: nothing is built or pushed.
    pub fn is_dry_run(&self) -> bool {
        self.run.mode.is_dry_run()
    }

    /// Whether the run needs buildx (a bundle that builds nothing reads
    /// registries only).
    pub fn needs_buildx(&self) -> bool {
        !self.builds.is_empty()
    }
}

#[cfg(test)]
mod tests;
