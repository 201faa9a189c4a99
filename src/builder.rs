//! Which builder a run uses and, for a `docker-container` one, creating
//! it: the daemon's own BuildKit when it can do the job, else a BuildKit
//! container of our own; the choice comes with the reason the log gives.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::docker::DaemonFacts;
use crate::log::Log;
use crate::names::Credential;
use crate::outside::{Outside, accepts_connections};
use crate::plan::AppendNode;
use crate::plan::{Builder, Driver, RunSettings};

/// The builder chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChosenBuilder {
    pub builder: Builder,
    pub why: String,
}

/// Chooses the builder for builds of at most `platforms` platforms from the
/// daemon's facts, and says why.
pub(crate) fn choose(
    run: &RunSettings,
    platforms: usize,
    facts: &DaemonFacts,
    run_name: &str,
) -> Result<ChosenBuilder> {
    let container = || Builder::Container { name: run_name.to_string() };
    let settings = run.builder();
    let cache_needs_container = run.options().exports_cache() && !facts.containerd_store;
    if cache_needs_container && settings.driver == Driver::Docker {
        bail!(
            "cache-to: the daemon's own BuildKit cannot export cache without the containerd image store; use driver: docker-container (or auto)"
        );
    }
    if settings.driver == Driver::Auto {
        if let Some(input) = settings.config.given().first() {
            return Ok(ChosenBuilder {
                builder: container(),
                why: format!(
                    "a docker-container builder: `{input}` configures a builder of our own"
                ),
            });
        }
        if cache_needs_container {
            return Ok(ChosenBuilder {
                builder: container(),
                why: format!(
                    "a docker-container builder: Docker {} without the containerd image store cannot export cache",
                    facts.version
                ),
            });
        }
    }
    let (builder, why) = match settings.driver {
        Driver::DockerContainer => (container(), "driver: docker-container was requested".into()),
        Driver::Docker if platforms > 1 && !facts.containerd_store => bail!(
            "driver: `docker` cannot build {platforms} platforms on a daemon without the containerd image store; use driver: auto or docker-container"
        ),
        Driver::Docker => (Builder::Daemon, "driver: docker was requested".into()),
        Driver::Auto if platforms == 1 => (
            Builder::Daemon,
            "the daemon's own BuildKit: one platform needs no multi-platform store".into(),
        ),
        Driver::Auto if facts.containerd_store => (
            Builder::Daemon,
            format!(
                "the daemon's own BuildKit: Docker {} uses the containerd image store, which holds multi-platform images",
                facts.version
            ),
        ),
        Driver::Auto => (
            container(),
            format!(
                "a docker-container builder: Docker {} has no containerd image store, so its own BuildKit cannot build several platforms",
                facts.version
            ),
        ),
    };
    Ok(ChosenBuilder { builder, why })
}

/// Chooses the builder for builds of at most `platforms` platforms and,
/// for a `docker-container` one, creates it.
pub(crate) async fn start(
    run: &RunSettings,
    platforms: usize,
    outside: &Outside<'_>,
    log: &Log,
) -> Result<ChosenBuilder> {
    let Outside { daemon, buildx, .. } = outside;
    let settings = run.builder();
    if let Some(name) = &settings.existing {
        let chosen = ChosenBuilder {
            builder: Builder::Existing { name: name.clone() },
            why: format!("`{name}`, as `builder` asks"),
        };
        log.info(&format!("builder: {}", chosen.why));
        return Ok(chosen);
    }
    let facts = daemon.facts().await?;
    let chosen = choose(run, platforms, &facts, &outside.tools.run_name)?;
    let ChosenBuilder { builder, why } = &chosen;
    log.info(&format!("builder: {why}"));
    if let Builder::Container { name } = &builder {
        check_nodes_reachable(&settings.config.append).await?;
        let image =
            settings.config.image_override().unwrap_or(&settings.buildkit_image).to_string();
        // A pull-only Docker Hub login avoids anonymous pull limits.
        let credentials = run.credentials().for_reference(&image).map(Credential::to_bollard);
        if daemon
            .ensure_image(&image, credentials)
            .await
            .with_context(|| format!("buildkit-image: could not pull {image}"))?
        {
            log.info(&format!("builder: pulled {image}"));
        }
        buildx
            .create_container_builder(name, &image, &settings.config, &settings.insecure_registries)
            .await?;
        *outside.created_builder.lock().await = Some(name.clone());
    }
    Ok(chosen)
}

/// `host:port` an endpoint connects to, when it is a network endpoint.
pub(crate) fn endpoint_address(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let host_port = rest.split('/').next()?.rsplit('@').next()?;
    let default_port = match scheme {
        "ssh" => 22,
        "tcp" => 2375,
        _ => return None,
    };
    Some(if host_port.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    })
}

/// Checks every appended node answers on its network endpoint.
pub(crate) async fn check_nodes_reachable(nodes: &[AppendNode]) -> Result<()> {
    for node in nodes {
        let Some(address) = endpoint_address(&node.endpoint) else { continue };
        if let Err(reason) = accepts_connections(&address, Duration::from_secs(5)).await {
            bail!(
                "append: node `{}` at {} cannot be reached ({reason}); check the endpoint or remove the node",
                node.name,
                node.endpoint
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::RawInputs;
    use crate::plan::Plan;
    use crate::runner::GithubContext;

    fn plan(pairs: &[(&str, &str)]) -> Plan {
        let mut all = vec![("images", "registry.example.com:5000/acme/app"), ("version", "1.0.0")];
        all.extend_from_slice(pairs);
        let raw = RawInputs::from_pairs(all.into_iter().map(|(k, v)| (k, v.to_string()))).unwrap();
        Plan::new(&raw, &GithubContext::default()).unwrap()
    }

    fn facts(containerd_store: bool) -> DaemonFacts {
        DaemonFacts {
            version: "26.1.5".into(),
            containerd_store,
            plain_http_registries: Vec::new(),
        }
    }

    #[test]
    fn the_builder_is_chosen_for_the_job_and_says_why() {
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, Result<&'a str, &'a str>);
        let cases: &[Case] = &[
            (&[], true, Ok("default")),
            (&[], false, Ok("run-1")),
            (&[("platforms", "linux/amd64")], false, Ok("default")),
            (&[("driver", "docker-container")], true, Ok("run-1")),
            (&[("driver-opts", "network=host")], true, Ok("run-1")),
            (&[("cache-to", "type=gha"), ("platforms", "linux/amd64")], false, Ok("run-1")),
            (&[("cache-to", "type=gha"), ("platforms", "linux/amd64")], true, Ok("default")),
            (
                &[("cache-to", "type=gha"), ("driver", "docker"), ("platforms", "linux/amd64")],
                false,
                Err("cache-to: the daemon's own BuildKit cannot export cache"),
            ),
            (&[("driver", "docker")], false, Err("driver: `docker` cannot build 2 platforms")),
        ];
        for (inputs, containerd, expected) in cases {
            let plan = plan(inputs);
            let platforms = plan.build().platforms().len();
            let result = choose(plan.run(), platforms, &facts(*containerd), "run-1");
            match (result, expected) {
                (Ok(ChosenBuilder { builder, why }), Ok(name)) => {
                    assert_eq!(builder.name(), *name, "{inputs:?} containerd={containerd}");
                    assert!(!why.is_empty());
                }
                (Err(error), Err(start)) => {
                    assert!(error.to_string().starts_with(start), "{inputs:?}: {error}")
                }
                (other, _) => panic!("{inputs:?} containerd={containerd}: {other:?}"),
            }
        }
    }

    #[test]
    fn endpoints_resolve_to_addresses() {
        assert_eq!(endpoint_address("ssh://user@arm-host").as_deref(), Some("arm-host:22"));
        assert_eq!(endpoint_address("ssh://arm-host:2222").as_deref(), Some("arm-host:2222"));
        assert_eq!(endpoint_address("tcp://10.0.0.2:2376").as_deref(), Some("10.0.0.2:2376"));
        assert_eq!(endpoint_address("unix:///var/run/docker.sock"), None);
    }

    #[tokio::test]
    async fn an_unreachable_node_is_named() {
        let nodes = [AppendNode {
            name: "arm".into(),
            endpoint: "tcp://127.0.0.1:1".into(),
            platforms: vec![],
            driver_opts: vec![],
        }];
        let error = check_nodes_reachable(&nodes).await.unwrap_err().to_string();
        assert!(
            error.starts_with("append: node `arm` at tcp://127.0.0.1:1 cannot be reached"),
            "{error}"
        );
    }
}
