//! What a run talks to, found once at its start: the tools (buildx), the
//! daemon, the registries, and what the run creates there (its builder, its
//! labelled containers). Every phase takes it; only the pipeline makes it.

use std::path::PathBuf;

use crate::archscan::cache::ScanCache;
use crate::buildx::{Buildx, DockerConfig};
use crate::docker::Daemon;
use crate::registry::Registry;

/// Where the machinery lives; found once at start.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The buildx binary; None when the plan builds nothing.
    pub buildx: Option<PathBuf>,
    /// A unique name for what this run creates (builder, labels).
    pub run_name: String,
    /// The user's buildx configuration (`BUILDX_CONFIG`, else
    /// `~/.docker/buildx`), where a builder named by `builder` is found.
    pub user_buildx_config: Option<PathBuf>,
    /// What earlier runs' architecture scans found, by layer digest.
    pub layer_scans: Option<ScanCache>,
    /// The repository the workflow runs for (`owner/name`; empty outside a
    /// workflow): with the daemon's id, it names buildx's node.
    pub repository: String,
    /// The runner's state file (`GITHUB_STATE`): when there is one, a post
    /// step follows, and the run leaves its clean-up in the daemon to it
    /// (see [`crate::post`]).
    pub post_state: Option<PathBuf>,
}

/// The label on every container a run starts, valued with the run's name.
pub const RUN_LABEL: &str = "org.multiarch-action.run";

/// What a run talks to: the daemon, the registries, buildx, and the name of
/// the builder it created (removed at cleanup).
pub(crate) struct Outside<'a> {
    pub tools: &'a Tools,
    pub daemon: Daemon,
    pub registry: Registry,
    pub buildx: Buildx,
    pub created_builder: tokio::sync::Mutex<Option<String>>,
    /// Clean-up started during the run (the staging name's removal), which
    /// the run's own clean-up waits for.
    pub background: tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Cross-compiling Dockerfiles (by the digest of their text) a build
    /// found wrong, and why: the services that share one are built as
    /// written without trying it again.
    pub cross_rejected: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Where a registry listens: its own port, else 80 for plain HTTP, else 443.
pub(crate) fn registry_address(registry: &str, insecure: &[String]) -> String {
    let host = if registry == "docker.io" { "registry-1.docker.io" } else { registry };
    match host.rsplit_once(':') {
        Some((_, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ if insecure.iter().any(|r| r == registry) => format!("{host}:80"),
        _ => format!("{host}:443"),
    }
}

/// Whether `address` (`host:port`) accepts a TCP connection within `within`;
/// else why not, as a phrase.
pub(crate) async fn accepts_connections(
    address: &str,
    within: std::time::Duration,
) -> Result<(), String> {
    match tokio::time::timeout(within, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", within.as_secs())),
    }
}

/// Gives the run's buildx the node name of this machine and repository
/// ([`crate::buildx::node_name`]), so that BuildKit finds what it kept of a
/// context from an earlier job; a daemon that cannot be asked its id (a
/// remote builder's machine may have none) leaves it out.
pub(crate) async fn name_buildx_node(
    config: &DockerConfig,
    daemon: Option<&Daemon>,
    tools: &Tools,
) -> anyhow::Result<()> {
    let id = match daemon {
        Some(daemon) => daemon.id().await.unwrap_or_default(),
        None => String::new(),
    };
    let user = tools.user_buildx_config.as_deref();
    config.name_node(&crate::buildx::node_name(user, &[&id, &tools.repository]))
}
