//! The buildx binary: where it is and its version, the temporary Docker
//! config it runs with (credentials, builder state), the machine's node name,
//! the same in every job on the same daemon (so BuildKit sends only what
//! changed in a context),
//! builder lifecycle (`inspect --bootstrap`, `create`, `create --append`,
//! `rm`), and `build` with its log streamed live.

pub(crate) mod metadata;
pub(crate) mod progress;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use crate::names::Credentials;
use crate::plan::{AppendNode, BuilderConfig};
use crate::platform::Platform;

/// Where buildx is looked for, after `PATH`.
const PLUGIN_PATHS: &[&str] = &[
    "/usr/libexec/docker/cli-plugins/docker-buildx",
    "/usr/lib/docker/cli-plugins/docker-buildx",
    "/usr/local/lib/docker/cli-plugins/docker-buildx",
];

/// Finds the buildx binary: `buildx` on `PATH`, then the Docker CLI plugin.
pub fn locate(path_var: Option<&str>) -> Result<PathBuf> {
    let on_path =
        path_var.into_iter().flat_map(|p| p.split(':')).map(|dir| Path::new(dir).join("buildx"));
    let plugins = PLUGIN_PATHS.iter().map(PathBuf::from);
    on_path
        .chain(plugins)
        .find(|candidate| candidate.is_file())
        .context("buildx was not found; install docker-buildx or put a `buildx` binary on PATH")
}

/// A private Docker config directory holding the credentials and builder
/// state for this run; removed when dropped.
pub(crate) struct DockerConfig {
    dir: tempfile::TempDir,
}

impl DockerConfig {
    /// The directory, with the credentials; buildx's node name is written
    /// by [`DockerConfig::name_node`] before the first build.
    pub(crate) fn create(run: &str, credentials: &Credentials) -> Result<DockerConfig> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{run}-"))
            .tempdir()
            .context("could not create a private Docker config directory")?;
        let config = docker_config_json(credentials);
        std::fs::write(dir.path().join("config.json"), config)
            .context("could not write the private Docker config")?;
        std::fs::create_dir(dir.path().join("buildx"))
            .context("could not create the private buildx directory")?;
        Ok(DockerConfig { dir })
    }

    /// Gives buildx the node name `name` (see [`node_name`]).
    pub(crate) fn name_node(&self, name: &str) -> Result<()> {
        std::fs::write(self.dir.path().join("buildx").join(NODE_NAME_FILE), name)
            .context("could not write the private buildx node name")
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Removes the directory now, reporting failure.
    pub(crate) fn remove(self) -> Result<()> {
        self.dir.close().context("could not remove the private Docker config directory")
    }
}

/// Where buildx keeps the name of the machine it runs on.
const NODE_NAME_FILE: &str = ".buildNodeID";

/// The name buildx gives this machine. BuildKit keeps what it has of a
/// build context (its files and their checksums) under that name and the
/// context's path, so a run that reuses it sends only what changed; a new
/// name each run would send the whole context every time (some 5 s for a
/// 512 MB file). The user's own name when their buildx configuration holds
/// one (read, never written: what buildx run by hand sent is reused too);
/// else one derived from `facts`, which stay the same from job to job on the
/// same machine (the daemon's id, the repository): a workflow's `HOME` is
/// emptied at every job, so a name kept there would be new every job.
pub(crate) fn node_name(user_buildx: Option<&Path>, facts: &[&str]) -> String {
    let users = user_buildx
        .and_then(|dir| std::fs::read_to_string(dir.join(NODE_NAME_FILE)).ok())
        .map(|text| text.trim().to_string())
        .filter(|name| {
            !name.is_empty()
                && name.len() <= 128
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    users.unwrap_or_else(|| derived_node_name(facts))
}

/// A node name that is a function of `facts` alone.
fn derived_node_name(facts: &[&str]) -> String {
    let mut text = String::from("multiarch-action node\0");
    for fact in facts {
        text.push_str(fact);
        text.push('\0');
    }
    crate::digest::Digest::of(text.as_bytes()).hex()[..32].to_string()
}

/// `config.json` with an `auths` entry per credential.
pub(crate) fn docker_config_json(credentials: &Credentials) -> String {
    let auths: serde_json::Map<String, serde_json::Value> = credentials
        .iter()
        .map(|c| (c.server_address(), serde_json::json!({ "auth": c.docker_config_auth() })))
        .collect();
    serde_json::json!({ "auths": auths }).to_string()
}

/// `buildx create` for the first node.
pub(crate) fn create_args(
    name: &str,
    image: &str,
    config: &BuilderConfig,
    toml: Option<&Path>,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "create".into(),
        "--name".into(),
        name.into(),
        "--driver".into(),
        "docker-container".into(),
    ];
    args.extend(["--driver-opt".into(), format!("image={image}")]);
    for option in config.driver_opts.iter().filter(|o| !o.starts_with("image=")) {
        args.extend(["--driver-opt".into(), option.clone()]);
    }
    if let Some(flags) = &config.flags {
        args.extend(["--buildkitd-flags".into(), flags.clone()]);
    }
    if let Some(file) = toml {
        args.extend(["--config".into(), file.display().to_string()]);
    }
    args
}

/// `buildx create --append` for one extra node.
pub(crate) fn append_args(name: &str, node: &AppendNode, toml: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "create".into(),
        "--append".into(),
        "--name".into(),
        name.into(),
        "--node".into(),
        node.name.clone(),
    ];
    if !node.platforms.is_empty() {
        args.extend(["--platform".into(), node.platforms.join(",")]);
    }
    for option in &node.driver_opts {
        args.extend(["--driver-opt".into(), option.clone()]);
    }
    if let Some(file) = toml {
        args.extend(["--config".into(), file.display().to_string()]);
    }
    args.push(node.endpoint.clone());
    args
}

/// What `buildx inspect` says of a builder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuilderInfo {
    pub driver: String,
    pub platforms: Vec<Platform>,
}

impl BuilderInfo {
    /// Parses `buildx inspect` output: the `Driver:` line and every node's
    /// `Platforms:` line (with `*` marks for configured platforms).
    pub fn parse(text: &str) -> BuilderInfo {
        let mut info = BuilderInfo::default();
        for line in text.lines() {
            if let Some(driver) = line.strip_prefix("Driver:") {
                info.driver = driver.trim().to_string();
            } else if let Some(list) = line.strip_prefix("Platforms:") {
                for item in list.split(',') {
                    if let Ok(platform) = Platform::parse(item.trim().trim_end_matches('*'))
                        && !info.platforms.contains(&platform)
                    {
                        info.platforms.push(platform);
                    }
                }
            }
        }
        info
    }
}

#[derive(Clone)]
pub(crate) struct Buildx {
    binary: PathBuf,
    config_dir: PathBuf,
    /// Where buildx keeps its builders: the run's private directory, or the
    /// user's when the run uses a builder the user made.
    builders_dir: PathBuf,
    /// Variables given to every buildx run (build secrets' values).
    env: Vec<(String, crate::names::Secret)>,
}

impl Buildx {
    pub(crate) fn new(
        binary: PathBuf,
        config: &DockerConfig,
        env: Vec<(String, crate::names::Secret)>,
    ) -> Buildx {
        Buildx {
            binary,
            config_dir: config.path().to_path_buf(),
            builders_dir: config.path().join("buildx"),
            env,
        }
    }

    /// The same, finding builders in the user's buildx configuration.
    pub(crate) fn with_builders_from(self, dir: PathBuf) -> Buildx {
        Buildx { builders_dir: dir, ..self }
    }

    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("DOCKER_CONFIG", &self.config_dir)
            .env("BUILDX_CONFIG", &self.builders_dir)
            .kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value.expose());
        }
        command
    }

    /// Runs a short buildx command and returns its stdout.
    async fn run(&self, args: &[String]) -> Result<String> {
        let output = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("could not run {}", self.binary.display()))?;
        if !output.status.success() {
            bail!(
                "`buildx {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The version of buildx (`buildx version`), e.g. 0.13.1.
    pub(crate) async fn version(&self) -> Result<semver::Version> {
        let text = self.run(&["version".into()]).await?;
        parse_version(&text)
            .with_context(|| format!("could not read the version of buildx from `{}`", text.trim()))
    }

    /// Starts the builder if needed and reports its driver and platforms.
    pub(crate) async fn inspect(&self, builder: &str) -> Result<BuilderInfo> {
        let text = self.run(&["inspect".into(), "--bootstrap".into(), builder.into()]).await?;
        Ok(BuilderInfo::parse(&text))
    }

    /// Creates a `docker-container` builder from `image`, configured as
    /// `config` says, with its extra nodes appended.
    pub(crate) async fn create_container_builder(
        &self,
        name: &str,
        image: &str,
        config: &BuilderConfig,
        insecure_registries: &[String],
    ) -> Result<()> {
        let toml = match config.buildkitd_toml(insecure_registries)? {
            Some(text) => {
                let file = self.config_dir.join("buildkitd.toml");
                std::fs::write(&file, text).context("could not write buildkitd.toml")?;
                Some(file)
            }
            None => None,
        };
        let image = config.image_override().unwrap_or(image);
        self.run(&create_args(name, image, config, toml.as_deref())).await.with_context(|| {
            format!("could not create the docker-container builder from {image}")
        })?;
        for node in &config.append {
            self.run(&append_args(name, node, toml.as_deref())).await.with_context(|| {
                format!("append: could not add node `{}` at {}", node.name, node.endpoint)
            })?;
        }
        Ok(())
    }

    /// Removes a builder we created, its container and state volume.
    pub(crate) async fn remove_builder(&self, name: &str) -> Result<()> {
        self.run(&["rm".into(), "--force".into(), name.into()]).await.map(|_| ())
    }

    /// Runs `buildx build`, forwarding its log line by line as it comes.
    pub(crate) async fn build(&self, args: &[String], mut on_line: impl FnMut(&str)) -> Result<()> {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {}", self.binary.display()))?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout from buildx")?);
        let stderr = BufReader::new(child.stderr.take().context("no stderr from buildx")?);
        let mut out_lines = stdout.lines();
        let mut err_lines = stderr.lines();
        let (mut out_done, mut err_done) = (false, false);
        let mut last_lines: Vec<String> = Vec::new();
        while !(out_done && err_done) {
            let line = tokio::select! {
                line = out_lines.next_line(), if !out_done => line,
                line = err_lines.next_line(), if !err_done => match line {
                    Ok(None) => { err_done = true; continue }
                    other => other,
                },
            };
            match line.context("could not read the build log")? {
                Some(line) => {
                    on_line(&line);
                    last_lines.push(line);
                    if last_lines.len() > 20 {
                        last_lines.remove(0);
                    }
                }
                None => out_done = true,
            }
        }
        let status = child.wait().await.context("could not wait for buildx")?;
        if !status.success() {
            let reason = last_lines
                .iter()
                .rev()
                .find(|l| l.contains("ERROR") || l.contains("error"))
                .cloned()
                .unwrap_or_default();
            bail!(
                "the build failed ({status}){}",
                if reason.is_empty() { String::new() } else { format!(": {reason}") }
            );
        }
        Ok(())
    }
}

/// The version in `buildx version` output (`github.com/docker/buildx
/// v0.19.3 48d6a39`, or a distribution's `0.13.1+ds1`).
pub(crate) fn parse_version(text: &str) -> Option<semver::Version> {
    let word = text.split_whitespace().nth(1)?.trim_start_matches('v');
    let core: String = word.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    semver::Version::parse(&core).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{Credential, Secret};

    #[test]
    fn the_node_name_is_the_users_else_derived_from_the_machine() {
        let home = tempfile::tempdir().unwrap();
        let user = home.path().join(".docker/buildx");
        let facts = ["daemon-id-1", "acme/app"];
        let derived = node_name(Some(&user), &facts);
        assert_eq!(derived.len(), 32, "{derived}");
        assert!(!user.exists(), "the user's configuration is not written");
        let fresh_home = tempfile::tempdir().unwrap();
        assert_eq!(
            node_name(Some(&fresh_home.path().join(".docker/buildx")), &facts),
            derived,
            "a job with an empty home names the machine as the one before"
        );
        assert_eq!(node_name(None, &facts), derived);
        assert_ne!(node_name(None, &["daemon-id-2", "acme/app"]), derived, "another daemon");
        assert_ne!(node_name(None, &["daemon-id-1", "acme/other"]), derived, "another repository");
        assert_ne!(node_name(None, &["daemon-id-1acme/app", ""]), derived, "facts kept apart");
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join(NODE_NAME_FILE), "ab1718e7a097ef21\n").unwrap();
        assert_eq!(node_name(Some(&user), &facts), "ab1718e7a097ef21");
        std::fs::write(user.join(NODE_NAME_FILE), "not a name/..").unwrap();
        assert_eq!(node_name(Some(&user), &facts), derived, "a name buildx would not write");
        let config = DockerConfig::create("run", &Credentials::default()).unwrap();
        config.name_node(&derived).unwrap();
        assert_eq!(
            std::fs::read_to_string(config.path().join("buildx").join(NODE_NAME_FILE)).unwrap(),
            derived
        );
    }

    #[test]
    fn versions_read_as_buildx_prints_them() {
        let cases = [
            ("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3\n", Some("0.13.1")),
            ("github.com/docker/buildx v0.19.3 48d6a39\n", Some("0.19.3")),
            ("github.com/docker/buildx v0.15.0-rc1 abc", Some("0.15.0")),
            ("nonsense", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_version(text).map(|v| v.to_string()),
                expected.map(str::to_string),
                "{text}"
            );
        }
    }

    #[test]
    fn inspect_output_gives_driver_and_platforms() {
        let text = "Name:          default\nDriver:        docker\n\nNodes:\nName:             default\nStatus:           running\nPlatforms:        linux/amd64, linux/amd64/v2, linux/arm64*, linux/386\n";
        let info = BuilderInfo::parse(text);
        assert_eq!(info.driver, "docker");
        assert_eq!(
            crate::platform::join(&info.platforms),
            "linux/amd64,linux/amd64/v2,linux/arm64,linux/386"
        );
    }

    #[test]
    fn docker_config_keys_credentials_by_registry() {
        let credentials: Credentials = [
            Credential {
                registry: "ghcr.io".into(),
                username: "u".into(),
                password: Secret::new("p"),
            },
            Credential {
                registry: "docker.io".into(),
                username: "d".into(),
                password: Secret::new("q"),
            },
        ]
        .into_iter()
        .collect();
        let json: serde_json::Value =
            serde_json::from_str(&docker_config_json(&credentials)).unwrap();
        assert_eq!(json["auths"]["ghcr.io"]["auth"], "dTpw");
        assert_eq!(json["auths"]["https://index.docker.io/v1/"]["auth"], "ZDpx");
    }

    #[test]
    fn builder_creation_arguments() {
        let config = BuilderConfig {
            driver_opts: vec!["image=mirror/buildkit:1".into(), "network=host".into()],
            flags: Some("--debug".into()),
            ..Default::default()
        };
        let image = config.image_override().unwrap();
        assert_eq!(
            create_args("b1", image, &config, Some(Path::new("/tmp/x.toml"))),
            [
                "create",
                "--name",
                "b1",
                "--driver",
                "docker-container",
                "--driver-opt",
                "image=mirror/buildkit:1",
                "--driver-opt",
                "network=host",
                "--buildkitd-flags",
                "--debug",
                "--config",
                "/tmp/x.toml"
            ]
        );
        let node = AppendNode {
            name: "arm".into(),
            endpoint: "ssh://me@arm".into(),
            platforms: vec!["linux/arm64".into()],
            driver_opts: vec![],
        };
        assert_eq!(
            append_args("b1", &node, None),
            [
                "create",
                "--append",
                "--name",
                "b1",
                "--node",
                "arm",
                "--platform",
                "linux/arm64",
                "ssh://me@arm"
            ]
        );
    }

    #[test]
    fn locate_prefers_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("buildx"), "").unwrap();
        assert_eq!(
            locate(Some(&dir.path().display().to_string())).unwrap(),
            dir.path().join("buildx")
        );
    }
}
