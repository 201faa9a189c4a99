//! The buildx command lines of a build: pure functions of the build, the
//! run's settings and the builder, shown as they are by `--dry-run`.

use std::path::Path;

use super::{Build, Builder, HeldBack, Mode, Plan, RunSettings};
use crate::meta;
use crate::platform::{self, Platform};

/// The one tag the daemon's BuildKit pushes a build under before it is
/// verified: the same for every run (a run goes by the digest it pushed,
/// so concurrent runs do not disturb each other), removed after tagging
/// where the registry deletes tags, else left pointing at the last build.
pub(crate) const STAGING_TAG: &str = "multiarch-action-unverified";

/// How the build reaches the first image's repository when the plan pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushRoute<'a> {
    /// BuildKit pushes it ([`Build::push_output`]).
    BuildKit,
    /// BuildKit writes an OCI layout into this directory, which is then
    /// pushed by digest: the one way to a plain-HTTP registry the daemon
    /// was not told of, which the daemon's BuildKit cannot push to.
    Layout(&'a Path),
}

impl Build {
    /// Whether BuildKit itself can push to the first image's registry:
    /// always with a `docker-container` builder (its configuration marks
    /// plain-HTTP registries); with the daemon's BuildKit unless the
    /// registry is plain HTTP and not among the daemon's (`daemon_plain_http`).
    ///
    /// `mode: digest` pushes untagged by promise: only a `docker-container`
    /// builder pushes by digest; the others (by name, under the staging
    /// tag) leave it to the layout path.
    pub(crate) fn buildkit_pushes(
        &self,
        run: &RunSettings,
        builder: &Builder,
        daemon_plain_http: &[String],
    ) -> bool {
        let registry = &self.image().registry;
        if run.mode().is_digest() {
            return matches!(builder, Builder::Container { .. });
        }
        match builder {
            Builder::Container { .. } => true,
            // A builder named by `builder` is set up by its owner, plain
            // HTTP included; by name, as the daemon's BuildKit would.
            Builder::Daemon | Builder::Existing { .. } => {
                !run.insecure_registries().contains(registry)
                    || daemon_plain_http.contains(registry)
                    || crate::registry::implicitly_insecure(registry)
            }
        }
    }

    /// What every buildx build of this plan shares: builder, platforms,
    /// Dockerfile, target, build arguments and labels.
    fn common_build_args(
        &self,
        run: &RunSettings,
        builder: &Builder,
        platforms: &[Platform],
    ) -> Vec<String> {
        let mut args: Vec<String> = vec!["build".into(), "--builder".into(), builder.name().into()];
        args.extend(["--platform".into(), platform::join(platforms)]);
        args.extend(["--file".into(), self.source.dockerfile.display().to_string()]);
        if let Some(target) = &self.source.target {
            args.extend(["--target".into(), target.clone()]);
        }
        for (name, value) in &self.source.build_args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        for (key, value) in &self.meta().labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        args.extend(run.options().args(self.service()));
        args
    }

    /// The arguments of the main `buildx build`; no secret is ever among
    /// them. When pushing (`push`), the build reaches the first image's
    /// repository untagged, by BuildKit's own push or as an OCI layout; it
    /// is verified there and only then tagged and copied.
    pub(crate) fn buildx_build_args(
        &self,
        run: &RunSettings,
        builder: &Builder,
        metadata_file: &Path,
        push: Option<PushRoute>,
    ) -> Vec<String> {
        let mut args = self.common_build_args(run, builder, self.platforms());
        // docker/build-push-action's provenance when none is asked for; the
        // builds that only write files or load (answered from the cache)
        // keep buildx's own default, which the docker exporter accepts.
        if let Some(provenance) = &run.options().default_provenance {
            args.extend(["--attest".into(), provenance.clone()]);
        }
        if let Some(route) = push {
            // BuildKit refuses index annotations for a single-platform export.
            let annotations = meta::annotation_args(&self.meta().annotations);
            let single = self.platforms().len() == 1;
            for annotation in
                annotations.into_iter().filter(|a| !(single && a.starts_with("index:")))
            {
                args.extend(["--annotation".into(), annotation]);
            }
            let output = match route {
                PushRoute::BuildKit => self.push_output(run, builder),
                PushRoute::Layout(dir) => format!(
                    "type=oci,dest={},tar=false{}",
                    dir.display(),
                    run.options().output_compression()
                ),
            };
            args.extend(["--output".into(), output]);
        }
        args.extend(["--metadata-file".into(), metadata_file.display().to_string()]);
        args.extend(["--progress".into(), "rawjson".into()]);
        args.push(self.source.context.display().to_string());
        args
    }

    /// `call: check`: BuildKit's build checks on the plan's Dockerfile,
    /// without building.
    pub(crate) fn buildx_check_args(&self, run: &RunSettings, builder: &Builder) -> Vec<String> {
        let mut args = self.common_build_args(run, builder, self.platforms());
        args.push("--call=check".into());
        args.push(self.source.context.display().to_string());
        args
    }

    /// The image output that pushes the build to the first image's
    /// repository with no tag a user sees: by digest where the builder can
    /// (`docker-container`), else under [`STAGING_TAG`] (the daemon's
    /// BuildKit pushes only by name, and need not unpack what it stores
    /// under that name: the daemon runs nothing from it, and unpacking a
    /// 512 MB layer costs some 2 s); with the chosen compression.
    pub(crate) fn push_output(&self, run: &RunSettings, builder: &Builder) -> String {
        let image = self.image();
        let name = match builder {
            // A builder named by `builder` may be either driver: by name.
            Builder::Daemon | Builder::Existing { .. } => {
                format!("name={},unpack=false", image.with_tag(STAGING_TAG))
            }
            Builder::Container { .. } => format!("name={},push-by-digest=true", image.name),
        };
        let insecure = if run.insecure_registries().contains(&image.registry) {
            ",registry.insecure=true"
        } else {
            ""
        };
        format!("type=image,{name},push=true{insecure}{}", run.options().output_compression())
    }

    /// A further build of the same plan (answered from the build cache)
    /// that writes `output` (`type=docker,dest=…`, `type=oci,dest=…`, or
    /// `type=docker` to load into the daemon) for `platforms`.
    pub(crate) fn buildx_output_args(
        &self,
        run: &RunSettings,
        builder: &Builder,
        platforms: &[Platform],
        output: &str,
        tag: Option<&str>,
    ) -> Vec<String> {
        let mut args = self.common_build_args(run, builder, platforms);
        if let Some(tag) = tag {
            args.extend(["--tag".into(), tag.to_string()]);
        }
        args.extend(["--output".into(), output.to_string(), "--progress".into(), "quiet".into()]);
        args.push(self.source.context.display().to_string());
        args
    }
}

impl Plan {
    /// The plan as `--dry-run` prints it: each build's version, push,
    /// platforms, tags (with the floating tags `held_back`), labels and
    /// buildx command line, and the logins.
    pub(crate) fn describe(&self, held_back: &[HeldBack]) -> String {
        let mut text = String::new();
        for build in self.builds() {
            if let Some(service) = build.service() {
                text.push_str(&format!("service {service}:\n"));
            }
            text.push_str(&build.describe(self.run(), held_back));
        }
        if self.builds().is_empty()
            && let Mode::Bundle(request) = self.run().mode().work()
        {
            text.push_str(&format!("bundle: {}\n", request.file.display()));
            for image in &request.images {
                text.push_str(&format!("  {}\n", image.reference));
            }
        }
        text.push_str(&logins(self.run()));
        text
    }
}

/// The logins a run makes, passwords left out.
fn logins(run: &RunSettings) -> String {
    run.credentials()
        .iter()
        .map(|c| format!("login: {} as {} (password elided)\n", c.registry, c.username))
        .collect()
}

impl Build {
    fn describe(&self, run: &RunSettings, held_back: &[HeldBack]) -> String {
        let mut text = String::new();
        text.push_str(&format!("version: {}\n", self.meta().version));
        text.push_str(&format!("push: {} ({})\n", self.pushes(), self.push_reason()));
        text.push_str(&format!("platforms: {}\n", platform::join(self.platforms())));
        text.push_str("tags:\n");
        for reference in self.references(held_back) {
            text.push_str(&format!("  {reference}\n"));
        }
        for HeldBack { tag, reason } in held_back {
            text.push_str(&format!("  held back: {tag}: {reason}\n"));
        }
        text.push_str("labels:\n");
        for (key, value) in &self.meta().labels {
            text.push_str(&format!("  {key}={value}\n"));
        }
        let args = self.buildx_build_args(
            run,
            &Builder::Daemon,
            Path::new("<metadata.json>"),
            self.pushes().then_some(PushRoute::BuildKit),
        );
        text.push_str(&format!(
            "buildx {}\n",
            args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
        ));
        text
    }
}

/// Quotes an argument for display when it holds shell-special characters.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
