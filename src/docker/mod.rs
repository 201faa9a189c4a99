//! The daemon side, through bollard: what the daemon is and can do, images
//! pulled and run for one platform (the smoke tests), the QEMU installer
//! container, and removal of every container we start, of image names we
//! made, and of what a stopped run left.

use std::collections::HashMap;

use anyhow::{Context as _, Result, anyhow, bail};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt as _;

/// What the builder choice depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaemonFacts {
    pub version: String,
    /// The containerd image store, which lets the daemon's own BuildKit build
    /// and push multi-platform images.
    pub containerd_store: bool,
    /// Registries the daemon reaches over plain HTTP (its
    /// `insecure-registries` given by name; loopback is always among them).
    pub plain_http_registries: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct Daemon {
    docker: Docker,
    /// Containers created and not yet removed (counted before the create
    /// call), so that cleanup knows whether there can be any left.
    live_containers: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The daemon's `info`, asked once per run.
    info: std::sync::Arc<tokio::sync::OnceCell<bollard::models::SystemInfo>>,
}

/// What a finished container printed and returned.
#[derive(Debug, Clone)]
pub(crate) struct ContainerRun {
    pub exit_code: i64,
    pub output: String,
}

impl Daemon {
    /// Connects as the docker CLI would (`DOCKER_HOST`, else the socket).
    pub(crate) fn connect() -> Result<Daemon> {
        let docker = Docker::connect_with_defaults()
            .map_err(|e| anyhow!("could not reach the Docker daemon ({e}); mount /var/run/docker.sock into the job or set DOCKER_HOST"))?;
        Ok(Daemon { docker, live_containers: Default::default(), info: Default::default() })
    }

    /// The daemon's `info`, asked the first time only.
    async fn info(&self) -> Result<bollard::models::SystemInfo> {
        self.info
            .get_or_try_init(|| async {
                self.docker.info().await.map_err(|e| anyhow!("could not reach the Docker daemon ({e}); mount /var/run/docker.sock or set DOCKER_HOST"))
            })
            .await
            .cloned()
    }

    /// The daemon's id, the same for as long as its data lasts.
    pub(crate) async fn id(&self) -> Result<String> {
        Ok(self.info().await?.id.unwrap_or_default())
    }

    pub(crate) async fn facts(&self) -> Result<DaemonFacts> {
        let info = self.info().await?;
        let containerd_store = info.driver_status.unwrap_or_default().iter().any(|pair| {
            pair.first().is_some_and(|k| k == "driver-type")
                && pair.get(1).is_some_and(|v| v.contains("containerd.snapshotter"))
        });
        let plain_http_registries = info
            .registry_config
            .and_then(|config| config.index_configs)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, index)| index.secure == Some(false))
            .map(|(name, _)| name)
            .collect();
        Ok(DaemonFacts {
            version: info.server_version.unwrap_or_default(),
            containerd_store,
            plain_http_registries,
        })
    }

    /// Pulls `image` unless the daemon already has it.
    pub(crate) async fn ensure_image(
        &self,
        image: &str,
        credentials: Option<DockerCredentials>,
    ) -> Result<bool> {
        if self.docker.inspect_image(image).await.is_ok() {
            return Ok(false);
        }
        let options = CreateImageOptionsBuilder::default().from_image(image).build();
        self.pull(options, credentials).await.with_context(|| format!("could not pull {image}"))?;
        Ok(true)
    }

    /// Pulls `reference` for `platform` (always: the reference is a digest,
    /// so this is cheap when present) with the given credentials.
    pub(crate) async fn pull_platform(
        &self,
        reference: &str,
        platform: &str,
        credentials: Option<DockerCredentials>,
    ) -> Result<()> {
        let options =
            CreateImageOptionsBuilder::default().from_image(reference).platform(platform).build();
        self.pull(options, credentials)
            .await
            .with_context(|| format!("could not pull {reference} for {platform}"))
    }

    /// One pull to its end, again on a transient daemon or registry answer.
    async fn pull(
        &self,
        options: bollard::query_parameters::CreateImageOptions,
        credentials: Option<DockerCredentials>,
    ) -> Result<()> {
        let what = format!("pulling {}", options.from_image.as_deref().unwrap_or("an image"));
        crate::retry::retry(
            &what,
            crate::retry::REGISTRY_POLICY,
            crate::retry::daemon_transience,
            || {
                let mut pull =
                    self.docker.create_image(Some(options.clone()), None, credentials.clone());
                async move {
                    while let Some(progress) = pull.next().await {
                        progress?;
                    }
                    Ok(())
                }
            },
        )
        .await?;
        Ok(())
    }

    /// Runs `cmd` in `image` for `platform` (emulated where the kernel has
    /// an emulator), waits, and removes the container whatever happens.
    pub(crate) async fn run_for_platform(
        &self,
        image: &str,
        platform: &str,
        cmd: &[String],
        labels: &HashMap<String, String>,
    ) -> Result<ContainerRun> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd.to_vec()),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().platform(platform).build();
        self.live_containers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let created =
            self.docker.create_container(Some(options), body).await.with_context(|| {
                format!("could not create a container from {image} for {platform}")
            })?;
        let result = self.start_and_collect(&created.id).await;
        self.remove_container(&created.id).await;
        result
    }

    /// Runs `image` with `args` privileged and without a network (it needs
    /// none, and a container without one starts faster), waits for it,
    /// returns its output and exit code, and removes it whatever happens.
    pub(crate) async fn run_privileged(
        &self,
        image: &str,
        args: &[String],
        labels: &HashMap<String, String>,
    ) -> Result<ContainerRun> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(args.to_vec()),
            labels: Some(labels.clone()),
            host_config: Some(HostConfig {
                privileged: Some(true),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.live_containers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let created = self
            .docker
            .create_container(Some(CreateContainerOptionsBuilder::default().build()), body)
            .await
            .with_context(|| format!("could not create a container from {image}"))?;
        let result = self.start_and_collect(&created.id).await;
        self.remove_container(&created.id).await;
        result
    }

    async fn start_and_collect(&self, id: &str) -> Result<ContainerRun> {
        self.docker.start_container(id, None).await.context("could not start the container")?;
        let mut wait = self.docker.wait_container(id, None);
        let exit_code = match wait.next().await {
            Some(Ok(response)) => response.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => bail!("waiting for the container failed: {e}"),
            None => bail!("the daemon did not report the container's exit"),
        };
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut output = String::new();
        while let Some(chunk) = logs.next().await {
            output.push_str(&chunk.context("could not read the container's output")?.to_string());
        }
        Ok(ContainerRun { exit_code, output })
    }

    /// Removes every container carrying `label=value`, running or not
    /// (none to look for when every container this run created is gone).
    pub(crate) async fn remove_labelled(&self, label: &str, value: &str) {
        if self.live_containers.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return;
        }
        let filters: HashMap<String, Vec<String>> =
            [("label".to_string(), vec![format!("{label}={value}")])].into();
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        match self.docker.list_containers(Some(options)).await {
            Ok(containers) => {
                for id in containers.into_iter().filter_map(|c| c.id) {
                    self.remove_container(&id).await;
                }
            }
            Err(error) => tracing::warn!("could not list this run's containers: {error}"),
        }
    }

    /// Removes what a run that was stopped before its own cleanup left in the
    /// daemon: containers labelled `label=value`, the containers of its
    /// `docker-container` builder (`buildx_buildkit_<value><n>`) and their
    /// state volumes. Returns the names of what it removed.
    pub(crate) async fn remove_left_over(&self, label: &str, value: &str) -> Result<Vec<String>> {
        let builder_prefix = format!("buildx_buildkit_{value}");
        let mut removed = Vec::new();
        let filters_by = |key: &str, wanted: String| -> HashMap<String, Vec<String>> {
            [(key.to_string(), vec![wanted])].into()
        };
        for filters in [
            filters_by("label", format!("{label}={value}")),
            filters_by("name", builder_prefix.clone()),
        ] {
            let options =
                ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
            let containers = self
                .docker
                .list_containers(Some(options))
                .await
                .context("could not list the daemon's containers")?;
            for container in containers {
                let name = container
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default();
                // The name filter matches anywhere in the name.
                if filters.contains_key("name") && !name.starts_with(&builder_prefix) {
                    continue;
                }
                let Some(id) = container.id else { continue };
                let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
                self.docker
                    .remove_container(&id, Some(options))
                    .await
                    .with_context(|| format!("could not remove the container {name}"))?;
                removed.push(name);
            }
        }
        let options = bollard::query_parameters::ListVolumesOptionsBuilder::default()
            .filters(&filters_by("name", builder_prefix.clone()))
            .build();
        let volumes = self
            .docker
            .list_volumes(Some(options))
            .await
            .context("could not list the daemon's volumes")?;
        for volume in volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter(|v| v.name.starts_with(&builder_prefix))
        {
            let options = bollard::query_parameters::RemoveVolumeOptionsBuilder::default()
                .force(true)
                .build();
            self.docker
                .remove_volume(&volume.name, Some(options))
                .await
                .with_context(|| format!("could not remove the volume {}", volume.name))?;
            removed.push(format!("volume {}", volume.name));
        }
        Ok(removed)
    }

    /// Removes a container, forced, ignoring one that is already gone.
    pub(crate) async fn remove_container(&self, id: &str) {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match self.docker.remove_container(id, Some(options)).await {
            Err(error) if !error.to_string().contains("No such container") => {
                tracing::warn!("could not remove container {id}: {error}");
            }
            _ => {
                let _ = self.live_containers.fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| Some(n.saturating_sub(1)),
                );
            }
        }
    }

    /// Removes an image name from the daemon's image store (the content
    /// stays while other names or the build cache use it); one that is not
    /// there is no error. True when a name was removed.
    pub(crate) async fn remove_image_name(&self, reference: &str) -> bool {
        let options = RemoveImageOptionsBuilder::default().noprune(false).build();
        match self.docker.remove_image(reference, Some(options), None).await {
            Ok(_) => true,
            Err(error) => {
                if !error.to_string().contains("No such image") {
                    tracing::warn!(
                        "could not remove the image name {reference} from the daemon: {error}"
                    );
                }
                false
            }
        }
    }
}
