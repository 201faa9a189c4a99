//! One build of a plan: where its source is (context, Dockerfile, target,
//! arguments), the platforms it is built for, the images it is pushed to
//! with their tags, and whether it pushes. The tags a build sets are
//! computed here, once, for every phase that names them.

use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};

use super::bundle::{BundleRequest, WantedImage};
use super::deployment::DeployedService;
use super::images::Tags;
use super::mode::PushDecision;
use crate::inputs::RawInputs;
use crate::meta::{HeldBack, Meta};
use crate::names::{ImageName, repository_of, tag_or_digest};
use crate::platform::Platform;

/// What is built: the context, the Dockerfile, the target stage and the
/// build arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    pub(crate) context: PathBuf,
    /// Relative to the workspace, as annotations name it.
    pub(crate) dockerfile: PathBuf,
    pub(crate) target: Option<String>,
    pub(crate) build_args: Vec<(String, String)>,
}

/// `context`, `file`, `target` and `build-args`.
pub(super) fn resolve_source(raw: &RawInputs) -> Result<Source> {
    let context = PathBuf::from(raw.text("context").unwrap_or("."));
    let dockerfile = match raw.text("file") {
        None => without_dots(&context.join("Dockerfile")),
        Some(file) => without_dots(Path::new(file)),
    };
    let target = raw.text("target").map(str::to_string);
    let build_args = parse_pairs("build-args", &raw.list("build-args"))?;
    Ok(Source { context, dockerfile, target, build_args })
}

/// A path as the user writes it, without `./`.
fn without_dots(path: &Path) -> PathBuf {
    path.components().filter(|c| *c != Component::CurDir).collect()
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

/// One image (or a Compose service's images) to build, push and tag.
#[derive(Debug, Clone)]
pub(crate) struct Build {
    /// The Compose service this build is for, in a deployment or a bundle.
    service: Option<String>,
    /// For a bundle's service: the image as the bundle lists it.
    bundled: Option<WantedImage>,
    pub(super) source: Source,
    /// A build from the action's cross-compiling copy of the Dockerfile:
    /// the user's Dockerfile, as the workspace names it.
    cross_compiled_from: Option<PathBuf>,
    platforms: Vec<Platform>,
    tags: Tags,
    push: PushDecision,
}

impl Build {
    /// The build the inputs describe: one image, not a Compose service's.
    pub(super) fn new(
        source: Source,
        platforms: Vec<Platform>,
        tags: Tags,
        push: PushDecision,
    ) -> Build {
        Build {
            service: None,
            bundled: None,
            source,
            cross_compiled_from: None,
            platforms,
            tags,
            push,
        }
    }

    /// The Compose service this build is for, in a deployment or a bundle.
    pub(crate) fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// The image as the bundle lists it, when this build is a service's.
    pub(crate) fn bundled(&self) -> Option<&WantedImage> {
        self.bundled.as_ref()
    }

    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    pub(crate) fn dockerfile(&self) -> &Path {
        &self.source.dockerfile
    }

    /// The same build from `dockerfile`, the action's cross-compiling copy
    /// of the build's own.
    pub(crate) fn cross_compiled(&self, dockerfile: PathBuf) -> Build {
        let mut build = self.clone();
        build.cross_compiled_from = Some(self.source.dockerfile.clone());
        build.source.dockerfile = dockerfile;
        build
    }

    /// The user's Dockerfile when this build is from the action's
    /// cross-compiling copy of it.
    pub(crate) fn cross_compiled_from(&self) -> Option<&Path> {
        self.cross_compiled_from.as_deref()
    }

    pub(crate) fn platforms(&self) -> &[Platform] {
        &self.platforms
    }

    /// Every image the build is pushed to; never empty.
    pub(crate) fn images(&self) -> &[ImageName] {
        self.tags.images()
    }

    /// The image BuildKit pushes to, which is verified and copied from.
    pub(crate) fn image(&self) -> &ImageName {
        &self.tags.images()[0]
    }

    /// The images the verified build is copied to.
    pub(crate) fn other_images(&self) -> &[ImageName] {
        &self.tags.images()[1..]
    }

    /// The computed version, labels, annotations and output separators.
    pub(crate) fn meta(&self) -> &Meta {
        self.tags.meta()
    }

    pub(crate) fn pushes(&self) -> bool {
        self.push.yes
    }

    /// Why the build pushes or not, as the log says it.
    pub(crate) fn push_reason(&self) -> &str {
        &self.push.reason
    }

    /// Whether any tag could be held back by the floating-tag guard.
    pub(crate) fn has_floating_tags(&self) -> bool {
        self.tags.meta().tags.iter().any(|t| t.floating.is_some())
    }

    /// The tag names pushed to `image`, given the floating tags held back.
    pub(crate) fn tag_names_for<'a>(
        &'a self,
        image: &'a ImageName,
        held_back: &'a [HeldBack],
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.tags.names_for(image, held_back)
    }

    /// The tags of `image` that name exactly one version: what
    /// `immutable-tags` never moves.
    pub(crate) fn exact_versions_for<'a>(&'a self, image: &'a ImageName) -> Vec<&'a str> {
        self.tags.exact_versions_for(image)
    }

    /// Every tag name pushed to any image (the `tag-names` output).
    pub(crate) fn tag_names<'a>(&'a self, held_back: &'a [HeldBack]) -> Vec<&'a str> {
        let mut names: Vec<&str> = Vec::new();
        for image in self.images() {
            for tag in self.tag_names_for(image, held_back) {
                if !names.contains(&tag) {
                    names.push(tag);
                }
            }
        }
        names
    }

    /// Full references (`image:tag`) for every image and its tags.
    pub(crate) fn references(&self, held_back: &[HeldBack]) -> Vec<String> {
        self.images()
            .iter()
            .flat_map(|image| {
                self.tag_names_for(image, held_back).map(move |tag| image.with_tag(tag))
            })
            .collect()
    }

    /// Checks the context and the Dockerfile under `workdir`, naming the
    /// service for a bundle's build.
    pub(crate) fn check_files(&self, workdir: &Path) -> Result<()> {
        let Source { context, dockerfile, .. } = &self.source;
        match (self.service(), workdir.join(context).is_dir(), workdir.join(dockerfile).is_file()) {
            (None, false, _) => bail!(
                "context: `{}` is not a directory; give the build context relative to the workspace",
                context.display()
            ),
            (None, _, false) => bail!(
                "file: there is no Dockerfile at `{}`; set `file` to its path or add one to the context",
                dockerfile.display()
            ),
            (Some(service), false, _) => bail!(
                "compose-file: service `{service}`: the build context `{}` is not a directory; fix `build:` (paths are relative to the Compose file)",
                context.display()
            ),
            (Some(service), _, false) => bail!(
                "compose-file: service `{service}`: there is no Dockerfile at `{}`; add one to the context or set `build: dockerfile:`",
                dockerfile.display()
            ),
            (_, true, true) => Ok(()),
        }
    }
}

/// A Compose service's source: its context, Dockerfile, target (else
/// `target`) and arguments (after `build-args`, which they override).
fn service_source(compose: &super::compose::ComposeBuild, source: &Source) -> Source {
    let mut build_args: Vec<(String, String)> = source
        .build_args
        .iter()
        .filter(|(name, _)| !compose.args.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    build_args.extend(compose.args.iter().cloned());
    Source {
        context: compose.context.clone(),
        dockerfile: compose.dockerfile.clone(),
        target: compose.target.clone().or_else(|| source.target.clone()),
        build_args,
    }
}

/// The builds of a deployment, one per service in name order, each from its
/// service's source, for its own platforms or the run's, pushed to its
/// images with the run's tags.
pub(super) fn deployment_builds(
    services: Vec<DeployedService>,
    source: &Source,
    tags: &Tags,
    platforms: &[Platform],
    push: &PushDecision,
) -> Vec<Build> {
    services
        .into_iter()
        .map(|deployed| Build {
            source: service_source(&deployed.build, source),
            platforms: deployed.platforms.unwrap_or_else(|| platforms.to_vec()),
            tags: tags.for_images(deployed.images),
            push: push.clone(),
            bundled: None,
            cross_compiled_from: None,
            service: Some(deployed.service),
        })
        .collect()
}

/// The builds of a bundle's services, in order: each from its service's
/// source, for its own platform or the run's, pushed to one image under one
/// tag.
pub(super) fn service_builds(
    request: &BundleRequest,
    source: &Source,
    tags: &Tags,
    platforms: &[Platform],
) -> Result<Vec<Build>> {
    let mut builds = Vec::new();
    for service in &request.builds {
        let image = repository_of(&service.reference)?;
        let tag = tag_or_digest(&service.reference)?;
        let push = PushDecision {
            yes: true,
            reason: format!(
                "mode: bundle pushes service `{}` to bundle it from its registry",
                service.service
            ),
        };
        let bundled = WantedImage {
            service: Some(service.service.clone()),
            reference: service.reference.clone(),
            platform: service.platform.clone(),
            built: true,
        };
        let platforms = service.platform.clone().map_or_else(|| platforms.to_vec(), |p| vec![p]);
        builds.push(Build {
            service: Some(service.service.clone()),
            bundled: Some(bundled),
            cross_compiled_from: None,
            source: service_source(&service.build, source),
            platforms,
            tags: tags.only(image, tag),
            push,
        });
    }
    Ok(builds)
}
