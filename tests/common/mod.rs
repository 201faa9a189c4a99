//! Shared by both test binaries: the test bed, and a harness that runs the
//! action as the runner does and captures everything it produces. The test
//! bed (Docker with the containerd image store, a registry with htpasswd
//! auth, QEMU) is started by `scripts/testenv up`; without it the tests that
//! ask for it fail saying so. The tests of tests/fast/ never ask for it.

#![allow(dead_code)]

pub(crate) mod github_api;
pub(crate) mod turns;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;

pub(crate) const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_multiarch-action");

#[derive(Debug, Clone)]
pub(crate) struct TestBed {
    pub registry: String,
    pub user: String,
    pub password: String,
    pub base_image: String,
    pub base_image_amd64_only: String,
    /// A Go toolchain image (`golang`) for amd64, arm64 and arm/v7.
    pub go_image: String,
    /// The same Go toolchain with a C toolchain (Debian's gcc, libc6-dev,
    /// binutils) for cgo, for amd64, arm64 and arm/v7.
    pub go_cgo_image: String,
    pub qemu_installer: String,
    pub registry2: String,
    pub user2: String,
    pub password2: String,
    /// The BuildKit image `docker-container` builders are created from, in
    /// the test registry (so that no test asks Docker Hub for it).
    pub buildkit_image: String,
    /// `DOCKER_HOST` of the second daemon, set up as hosted runners are
    /// (classic image store), in a network namespace of its own.
    pub classic_docker_host: String,
    /// The test registry as the classic daemon reaches it (same registry,
    /// same credentials, another address).
    pub classic_registry: String,
}

impl TestBed {
    /// Reads `target/testenv.env` and checks that the parts answer, once
    /// this test's file has its turn on the bed ([`turns`]).
    pub(crate) fn get() -> TestBed {
        assert!(
            !module_path!().starts_with("fast::"),
            "a test in tests/fast/ asked for the test bed: it belongs in tests/testbed/"
        );
        turns::take_turn();
        let start = "the test bed is not running: start it with `scripts/testenv up` (as root)";
        let text = std::fs::read_to_string(format!("{ROOT}/target/testenv.env"))
            .unwrap_or_else(|_| panic!("{start}"));
        let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| {
            vars.get(k)
                .unwrap_or_else(|| panic!("{start} (target/testenv.env lacks {k})"))
                .to_string()
        };
        let bed = TestBed {
            registry: get("REGISTRY"),
            user: get("REGISTRY_USER"),
            password: get("REGISTRY_PASSWORD"),
            base_image: get("BASE_IMAGE"),
            base_image_amd64_only: get("BASE_IMAGE_AMD64_ONLY"),
            go_image: get("GO_IMAGE"),
            go_cgo_image: get("GO_CGO_IMAGE"),
            qemu_installer: get("QEMU_INSTALLER_IMAGE"),
            registry2: get("REGISTRY2"),
            user2: get("REGISTRY2_USER"),
            password2: get("REGISTRY2_PASSWORD"),
            buildkit_image: get("BUILDKIT_IMAGE"),
            classic_docker_host: get("CLASSIC_DOCKER_HOST"),
            classic_registry: get("CLASSIC_REGISTRY"),
        };
        require_docker0();
        let status = curl(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{}/v2/", bed.registry),
        ]);
        assert_eq!(
            status.trim(),
            "401",
            "{start} (the registry at {} does not answer)",
            bed.registry
        );
        let docker = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .unwrap_or_else(|e| panic!("{start} (no docker CLI: {e})"));
        if !docker.status.success() {
            let log = get("DOCKERD_LOG");
            panic!("{start} (the Docker daemon does not answer{})", daemon_end(&log));
        }
        bed
    }

    /// A repository name no other test uses.
    pub(crate) fn unique_image(&self, name: &str) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        format!("{}/tests/{name}-{stamp}-{}-{n}", self.registry, std::process::id())
    }

    /// The registry (and its credentials) an image name is on.
    fn registry_of(&self, image: &str) -> (&str, &str, &str) {
        if image.starts_with(&format!("{}/", self.registry2)) {
            (&self.registry2, &self.user2, &self.password2)
        } else if image.starts_with(&format!("{}/", self.classic_registry)) {
            (&self.classic_registry, &self.user, &self.password)
        } else {
            (&self.registry, &self.user, &self.password)
        }
    }

    /// The registry's digest for `repository:reference`, read with curl.
    pub(crate) fn manifest_digest(&self, image: &str, reference: &str) -> Option<String> {
        let (registry, user, password) = self.registry_of(image);
        let repository = image.strip_prefix(&format!("{registry}/")).unwrap();
        let headers = curl(&[
            "-s",
            "-I",
            "-u",
            &format!("{user}:{password}"),
            "-H",
            "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            &format!("http://{registry}/v2/{repository}/manifests/{reference}"),
        ]);
        if !headers.starts_with("HTTP/1.1 200") {
            return None;
        }
        headers.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("docker-content-digest:")
                .map(|d| d.trim().to_string())
        })
    }

    /// The registry's manifest JSON for `repository:reference`.
    pub(crate) fn manifest(&self, image: &str, reference: &str) -> serde_json::Value {
        self.registry_json(image, &format!("manifests/{reference}"))
    }

    /// A JSON document of the registry API under `/v2/<repository>/`.
    pub(crate) fn registry_json(&self, image: &str, path: &str) -> serde_json::Value {
        let (registry, user, password) = self.registry_of(image);
        let repository = image.strip_prefix(&format!("{registry}/")).unwrap();
        let body = curl(&[
            "-sfL",
            "-u",
            &format!("{user}:{password}"),
            "-H",
            "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            &format!("http://{registry}/v2/{repository}/{path}"),
        ]);
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{image} {path} is not JSON ({e}): {body}"))
    }

    /// The docker CLI with a config holding the registry's credentials.
    pub(crate) fn docker(&self, args: &[&str]) -> std::process::Output {
        self.docker_at(None, args)
    }

    /// The docker CLI talking to the classic-store daemon.
    pub(crate) fn classic_docker(&self, args: &[&str]) -> std::process::Output {
        self.docker_at(Some(&self.classic_docker_host), args)
    }

    fn docker_at(&self, host: Option<&str>, args: &[&str]) -> std::process::Output {
        let config = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.user, self.password));
        std::fs::write(
            config.path().join("config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"{auth}"}},"{}":{{"auth":"{auth}"}}}}}}"#,
                self.registry, self.classic_registry
            ),
        )
        .unwrap();
        let mut command = Command::new("docker");
        command.arg("--config").arg(config.path());
        if let Some(host) = host {
            command.args(["--host", host]);
        }
        command.args(args).output().expect("docker CLI")
    }

    /// Runs `cmd` in `image` for `platform` and returns its stdout.
    pub(crate) fn run_image(&self, image: &str, platform: &str, cmd: &[&str]) -> String {
        self.run_image_pulling("always", image, platform, cmd)
    }

    /// [`TestBed::run_image`] with an image already in the daemon (loaded), never pulled.
    pub(crate) fn run_loaded_image(&self, image: &str, platform: &str, cmd: &[&str]) -> String {
        self.run_image_pulling("never", image, platform, cmd)
    }

    fn run_image_pulling(&self, pull: &str, image: &str, platform: &str, cmd: &[&str]) -> String {
        let mut args = vec!["run", "--rm", "--pull", pull, "--platform", platform, image];
        args.extend_from_slice(cmd);
        let output = self.docker(&args);
        assert!(
            output.status.success(),
            "docker run {image} for {platform} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

/// How the daemon's log `path` ends, for a daemon that stopped answering:
/// from its last Go panic on (with the first frames), else its last lines.
fn daemon_end(path: &str) -> String {
    let Ok(text) = std::fs::read_to_string(path) else { return String::new() };
    let lines: Vec<&str> = text.lines().collect();
    let from = match lines.iter().rposition(|l| l.starts_with("panic: ")) {
        Some(i) => i,
        None => lines.len().saturating_sub(5),
    };
    let end = lines[from..].iter().take(8).copied().collect::<Vec<_>>().join("\n");
    format!("; {path} ends:\n{end}")
}

/// Every test talks to 172.17.0.1; unless it is docker0's address on this
/// machine, that traffic would leave it by the default route.
pub(crate) fn require_docker0() {
    let output = Command::new("ip")
        .args(["-4", "addr", "show", "docker0"])
        .output()
        .expect("ip (iproute2) is installed by scripts/testenv");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("inet 172.17.0.1/"),
        "172.17.0.1 is not an address of this machine (docker0 is missing), so the tests' traffic would leave it; \
         restore it by restarting the main dockerd (kill $(cat /var/run/docker.pid), then `scripts/testenv up`)"
    );
}

pub(crate) fn curl(args: &[&str]) -> String {
    let output =
        Command::new("curl").args(args).output().expect("curl is installed by scripts/testenv");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A workspace holding a Dockerfile (and whatever else is written to it).
pub(crate) fn workspace(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// What one run of the action produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub outputs: HashMap<String, String>,
    pub raw_outputs: String,
    pub summary: String,
    pub elapsed: Duration,
    /// `RUNNER_TEMP` of the run, kept until the run is dropped.
    pub runner_temp: Option<tempfile::TempDir>,
}

/// The lines of `stdout` the runner obeys as workflow commands: `::…`
/// lines outside `::stop-commands::TOKEN` … `::TOKEN::` regions (the
/// markers themselves left out).
pub(crate) fn obeyed_commands(stdout: &str) -> Vec<&str> {
    let mut stopped: Option<String> = None;
    let mut obeyed = Vec::new();
    for line in stdout.lines() {
        match &stopped {
            Some(token) if line == format!("::{token}::") => stopped = None,
            Some(_) => {}
            None => match line.strip_prefix("::stop-commands::") {
                Some(token) => stopped = Some(token.to_string()),
                None if line.starts_with("::") => obeyed.push(line),
                None => {}
            },
        }
    }
    obeyed
}

/// The log as the runner shows it: every line but the stop-commands markers.
pub(crate) fn shown_text(stdout: &str) -> String {
    let mut stopped: Option<String> = None;
    let mut shown = Vec::new();
    for line in stdout.lines() {
        match &stopped {
            Some(token) if line == format!("::{token}::") => stopped = None,
            Some(_) => shown.push(line),
            None => match line.strip_prefix("::stop-commands::") {
                Some(token) => stopped = Some(token.to_string()),
                None => shown.push(line),
            },
        }
    }
    shown.join("\n")
}

impl Run {
    /// The `::error` commands the runner obeys.
    pub(crate) fn error_lines(&self) -> Vec<&str> {
        obeyed_commands(&self.stdout).into_iter().filter(|l| l.starts_with("::error")).collect()
    }

    pub(crate) fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output `{name}` in {:?}", self.raw_outputs))
    }

    /// Asserts that no secret appears anywhere the run wrote, in plain,
    /// base64 or URL-encoded form.
    pub(crate) fn assert_no_secret(&self, secrets: &[&str], workspace: &Path) {
        // `::add-mask::` lines are how the runner learns what to hide; the
        // runner consumes them and never shows them.
        let stdout: Vec<&str> =
            self.stdout.lines().filter(|l| !l.starts_with("::add-mask::")).collect();
        let mut places = vec![
            ("stdout", stdout.join("\n")),
            ("stderr", self.stderr.clone()),
            ("GITHUB_OUTPUT", self.raw_outputs.clone()),
            ("summary", self.summary.clone()),
        ];
        let temp_files = self.runner_temp.as_ref().map(|t| walk(t.path())).unwrap_or_default();
        for entry in walk(workspace).into_iter().chain(temp_files) {
            places.push((
                Box::leak(entry.display().to_string().into_boxed_str()),
                String::from_utf8_lossy(&std::fs::read(&entry).unwrap_or_default()).into_owned(),
            ));
        }
        for secret in secrets {
            let forms = [
                secret.to_string(),
                base64::engine::general_purpose::STANDARD.encode(secret),
                url_encode(secret),
            ];
            for (place, text) in &places {
                for form in &forms {
                    assert!(!text.contains(form.as_str()), "a secret leaked into {place}");
                }
            }
        }
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Parses `GITHUB_OUTPUT` (both `name=value` and heredoc forms).
pub(crate) fn parse_github_output(text: &str) -> HashMap<String, String> {
    let mut outputs = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for next in lines.by_ref() {
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            outputs.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            outputs.insert(name.to_string(), value.to_string());
        }
    }
    outputs
}

/// Runs the binary as the runner runs the action: no arguments, inputs in
/// `INPUT_*`, the GitHub context in `GITHUB_*`, files for outputs and summary.
pub(crate) fn run_action(workdir: &Path, inputs: &[(&str, &str)], github: &[(&str, &str)]) -> Run {
    run_binary(Path::new(BINARY), workdir, inputs, github)
}

/// [`run_action`] with another build of the binary.
pub(crate) fn run_binary(
    binary: &Path,
    workdir: &Path,
    inputs: &[(&str, &str)],
    github: &[(&str, &str)],
) -> Run {
    let files = tempfile::tempdir().unwrap();
    let output_path = files.path().join("output");
    let summary_path = files.path().join("summary");
    let mut command = Command::new(binary);
    command.current_dir(workdir).env_clear();
    command.env("PATH", std::env::var("PATH").unwrap_or_default());
    command.env("GITHUB_ACTIONS", "true");
    command.env("GITHUB_OUTPUT", &output_path).env("GITHUB_STEP_SUMMARY", &summary_path);
    command.env("RUNNER_TEMP", files.path()).env("GITHUB_WORKSPACE", workdir);
    command.env("GITHUB_REPOSITORY", "acme/app").env("GITHUB_SERVER_URL", "https://github.com");
    command.env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567");
    command.env("GITHUB_EVENT_NAME", "workflow_dispatch").env("GITHUB_REF", "refs/heads/main");
    for (name, value) in github {
        command.env(name, value);
    }
    for (name, value) in inputs {
        command.env(format!("INPUT_{}", name.to_uppercase()), value);
    }
    let start = Instant::now();
    let output = command.output().expect("the action binary runs");
    let raw_outputs = std::fs::read_to_string(&output_path).unwrap_or_default();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        outputs: parse_github_output(&raw_outputs),
        raw_outputs,
        summary: std::fs::read_to_string(&summary_path).unwrap_or_default(),
        elapsed: start.elapsed(),
        runner_temp: Some(files),
    }
}

/// Runs the binary with `args` in `dir`, with only `PATH` and `env` set
/// (so no `GITHUB_ACTIONS` unless given).
pub(crate) fn run_cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Inputs that log in to the test registry and build `image`.
pub(crate) fn registry_inputs<'a>(
    bed: &'a TestBed,
    image: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("images", image),
        ("registry", bed.registry.as_str()),
        ("username", bed.user.as_str()),
        ("password", bed.password.as_str()),
        ("insecure-registries", bed.registry.as_str()),
    ]
}

/// `registry-auth` for both test registries, and both as `insecure-registries`.
pub(crate) fn both_registries(bed: &TestBed) -> (String, String) {
    let auth = format!(
        "- registry: {}\n  username: {}\n  password: {}\n- registry: {}\n  username: {}\n  password: {}\n",
        bed.registry, bed.user, bed.password, bed.registry2, bed.user2, bed.password2
    );
    (auth, format!("{},{}", bed.registry, bed.registry2))
}

/// Stores `body` in the registry (a blob, or a manifest under `tag`).
pub(crate) fn store_in_registry(
    bed: &TestBed,
    image: &str,
    body: &[u8],
    tag: Option<(&str, &str)>,
) -> String {
    let repository = image.strip_prefix(&format!("{}/", bed.registry)).unwrap();
    let login = format!("{}:{}", bed.user, bed.password);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    let data = format!("@{}", file.path().display());
    let digest = format!("sha256:{}", sha256_hex(body));
    let base = format!("http://{}/v2/{repository}", bed.registry);
    // The body PUT to `url` as `media_type`; the HTTP status.
    let put = |media_type: &str, url: &str| {
        let content_type = format!("Content-Type: {media_type}");
        curl(&[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            &login,
            "-X",
            "PUT",
            "-H",
            &content_type,
            "--data-binary",
            &data,
            url,
        ])
    };
    let status = match tag {
        Some((tag, media_type)) => put(media_type, &format!("{base}/manifests/{tag}")),
        None => {
            let headers = curl(&[
                "-s",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-u",
                &login,
                "-X",
                "POST",
                &format!("{base}/blobs/uploads/"),
            ]);
            let location = headers
                .lines()
                .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
                .unwrap()
                .trim()
                .to_string();
            let location = match location.starts_with('/') {
                true => format!("http://{}{location}", bed.registry),
                false => location,
            };
            let separator = if location.contains('?') { '&' } else { '?' };
            put("application/octet-stream", &format!("{location}{separator}digest={digest}"))
        }
    };
    assert_eq!(status.trim(), "201", "storing {digest} in {image}");
    digest
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
