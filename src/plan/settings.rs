//! The run's settings: what is the same for every build of a run (the
//! mode, the logins, the builder and QEMU, the checks, the files written,
//! the build options), apart from what each build makes.

use super::build_options::BuildOptions;
use super::builder::{BuilderSettings, QemuSettings};
use super::mode::{CheckLevel, Export, Mode, ReleaseNotes};
use super::signing::Signing;
use crate::inputs::choices::{CrossCompilePolicy, FloatingPolicy};
use crate::names::Credentials;
use crate::platform::Platform;

/// The checks around a build.
#[derive(Debug, Clone)]
pub(crate) struct Checks {
    pub(crate) preflight: CheckLevel,
    pub(crate) verify: CheckLevel,
    /// The smoke-test command, already split into words.
    pub(crate) smoke_test: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct RunSettings {
    pub(super) mode: Mode,
    /// The platforms asked for (a bundle's target machines).
    pub(super) platforms: Vec<Platform>,
    pub(super) credentials: Credentials,
    pub(super) builder: BuilderSettings,
    pub(super) qemu: QemuSettings,
    pub(super) checks: Checks,
    pub(super) export: Option<Export>,
    pub(super) load: bool,
    pub(super) release_notes: Option<ReleaseNotes>,
    pub(super) options: BuildOptions,
    pub(super) floating: FloatingPolicy,
    /// `immutable-tags`: version tags that exist are never moved.
    pub(super) immutable_tags: bool,
    /// `sign`: how the pushed image is signed.
    pub(super) signing: Signing,
    /// `cross-compile`: Go stages moved off QEMU by the action.
    pub(super) cross_compile: CrossCompilePolicy,
    pub(super) warnings: Vec<String>,
}

impl RunSettings {
    /// A bundle's services are pushed and bundled: nothing of theirs is
    /// smoke-tested, exported or loaded.
    pub(super) fn for_work(self) -> RunSettings {
        match self.mode.work() {
            Mode::Bundle(_) => RunSettings {
                checks: Checks { smoke_test: None, ..self.checks },
                export: None,
                load: false,
                ..self
            },
            _ => self,
        }
    }

    pub(crate) fn mode(&self) -> &Mode {
        &self.mode
    }

    pub(crate) fn platforms(&self) -> &[Platform] {
        &self.platforms
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(crate) fn builder(&self) -> &BuilderSettings {
        &self.builder
    }

    pub(crate) fn qemu(&self) -> &QemuSettings {
        &self.qemu
    }

    pub(crate) fn checks(&self) -> &Checks {
        &self.checks
    }

    pub(crate) fn export(&self) -> Option<&Export> {
        self.export.as_ref()
    }

    /// `load`: the runner's platform loaded into the daemon.
    pub(crate) fn load(&self) -> bool {
        self.load
    }

    pub(crate) fn release_notes(&self) -> Option<&ReleaseNotes> {
        self.release_notes.as_ref()
    }

    pub(crate) fn options(&self) -> &BuildOptions {
        &self.options
    }

    pub(crate) fn floating(&self) -> FloatingPolicy {
        self.floating
    }

    /// `immutable-tags`: an existing version tag that names another image
    /// is refused, not moved.
    pub(crate) fn immutable_tags(&self) -> bool {
        self.immutable_tags
    }

    /// `sign`: how the pushed image is signed, once verified.
    pub(crate) fn signing(&self) -> &Signing {
        &self.signing
    }

    /// `cross-compile: auto`: Go stages that would compile under QEMU are
    /// built from the action's cross-compiling Dockerfile when it proves
    /// correct.
    pub(crate) fn cross_compiles(&self) -> bool {
        self.cross_compile == CrossCompilePolicy::Auto
    }

    /// Plain-HTTP registries (`insecure-registries`).
    pub(crate) fn insecure_registries(&self) -> &[String] {
        &self.builder.insecure_registries
    }
}
