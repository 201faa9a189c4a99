//! What a run produced, as plain values: the report the outputs and the
//! job summary are rendered from, each platform's smoke-test result, a
//! bundle's files, and a tagging that stopped part-way.

use std::path::PathBuf;

use crate::buildx::progress::{PlatformTime, Step};
use crate::digest::Digest;
use crate::docker::ContainerRun;
use crate::meta::HeldBack;
use crate::platform::Platform;
use crate::registry::{Attestation, PlatformImage};

/// What a run produced, for outputs and the summary.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub(crate) digest: Option<Digest>,
    pub(crate) pushed_references: Vec<String>,
    pub(crate) platform_images: Vec<PlatformImage>,
    pub(crate) held_back: Vec<HeldBack>,
    pub(crate) metadata: serde_json::Value,
    pub(crate) builder_note: String,
    pub(crate) emulated: Vec<Platform>,
    pub(crate) timings: Vec<PlatformTime>,
    pub(crate) slowest: Vec<Step>,
    pub(crate) smoke: Vec<SmokeResult>,
    pub(crate) verify_notes: Vec<String>,
    pub(crate) exported: Vec<PathBuf>,
    pub(crate) attestations: Vec<Attestation>,
    /// What was signed, and what verifies it (`sign`).
    pub(crate) signed: Option<crate::sign::Signed>,
    /// `mode: bundle`: the file written and its summary.
    pub(crate) bundle: Option<BundleReport>,
    /// A deployment: each service's report, in the plan's order.
    pub(crate) services: Vec<ServiceReport>,
    /// `cross-compile: auto`: what was rewritten, and whether it was used.
    pub(crate) cross_compiled: Option<CrossReport>,
}

/// What `cross-compile: auto` did for a build.
#[derive(Debug, Clone)]
pub(crate) struct CrossReport {
    pub(crate) plan: crate::preflight::phase::CrossPlan,
    /// Why the cross-compiling Dockerfile was not used (the Dockerfile was
    /// built as written); None when it was, or when no stage was rewritten.
    pub(crate) not_used: Option<String>,
}

/// What one service of a deployment produced.
#[derive(Debug, Clone)]
pub(crate) struct ServiceReport {
    pub(crate) service: String,
    pub(crate) report: Report,
}

/// One platform's smoke-test result.
#[derive(Debug, Clone)]
pub(crate) struct SmokeResult {
    pub(crate) platform: Platform,
    pub(crate) run: ContainerRun,
}

/// What a bundle run produced, for the `bundle` output and the summary.
#[derive(Debug, Clone, Default)]
pub(crate) struct BundleReport {
    pub(crate) file: PathBuf,
    /// Every file written: the bundle, or its parts then their checksums.
    pub(crate) files: Vec<PathBuf>,
    /// The audit table and what was bundled, as markdown.
    pub(crate) summary: String,
}

/// Tagging stopped at `at`: the tags set before it, and those not set.
#[derive(Debug, thiserror::Error)]
#[error("tagging failed at {at}: {cause}{}", self.lists())]
pub(crate) struct TaggingFailed {
    pub(crate) at: String,
    pub(crate) cause: String,
    pub(crate) pushed: Vec<String>,
    pub(crate) not_pushed: Vec<String>,
}

impl TaggingFailed {
    /// What the error's message ends with: the tags pushed and not pushed.
    pub(crate) fn lists(&self) -> String {
        let pushed =
            if self.pushed.is_empty() { "none".to_string() } else { self.pushed.join(", ") };
        format!(". Pushed: {pushed}. Not pushed: {}", self.not_pushed.join(", "))
    }
}
