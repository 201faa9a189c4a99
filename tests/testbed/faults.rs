//! Real faults: a registry that is down before the build or goes down during
//! the push, one that answers 503 for a while, a missing daemon socket, a
//! cancelled job, and a registry using bearer-token authentication — each
//! through a real front in front of the real registry. The fronts, and their
//! own tests, are in tests/common/faults.rs.

#[path = "../common/faults.rs"]
mod fronts;

use std::time::{Duration, Instant};

use crate::common::{BINARY, TestBed, run_action, workspace};
use fronts::{FaultPlan, FaultProxy, TokenAuthRegistry, on_host_of};

const DOCKERFILE: &str =
    "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG NONCE\nRUN echo $NONCE > /nonce && uname -m > /arch\n";

fn nonce() -> String {
    format!(
        "{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

/// Inputs pushing to `image` on a front at `front`, with the test bed's
/// credentials for base images on the real registry.
fn front_inputs(
    bed: &TestBed,
    image: &str,
    front: &str,
    user: &str,
    password: &str,
    build_args: &str,
) -> Vec<(&'static str, String)> {
    let auth = format!(
        "- registry: {front}\n  username: {user}\n  password: {password}\n- registry: {}\n  username: {}\n  password: {}\n",
        bed.registry, bed.user, bed.password
    );
    vec![
        ("images", image.to_string()),
        ("registry-auth", auth),
        ("insecure-registries", format!("{front},{}", bed.registry)),
        ("platforms", "linux/amd64,linux/arm64".to_string()),
        ("build-args", build_args.to_string()),
        ("tags", "faulty".to_string()),
    ]
}

async fn run_async(
    dir: std::path::PathBuf,
    inputs: Vec<(&'static str, String)>,
) -> crate::common::Run {
    tokio::task::spawn_blocking(move || {
        let borrowed: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_action(&dir, &borrowed, &[])
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_down_before_the_build_fails_within_seconds_naming_it() {
    let bed = TestBed::get();
    let proxy = FaultProxy::start("0.0.0.0:0", &bed.registry, FaultPlan::Refuse).await.unwrap();
    let front = on_host_of(&bed.registry, proxy.addr.port());
    let image = format!("{front}/tests/down-{}", nonce());
    let dir = workspace(DOCKERFILE);
    let build_args = format!("BASE_IMAGE={}", bed.base_image);
    let started = Instant::now();
    let run = run_async(
        dir.path().to_path_buf(),
        front_inputs(&bed, &image, &front, &bed.user, &bed.password, &build_args),
    )
    .await;
    assert!(!run.success);
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(errors[0].contains(&front) && errors[0].contains("could not reach"), "{}", errors[0]);
    assert!(!run.stdout.contains("load build definition"), "no build started:\n{}", run.stdout);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_going_down_during_the_push_fails_clearly_with_no_tag_and_no_outputs() {
    let bed = TestBed::get();
    let proxy =
        FaultProxy::start("0.0.0.0:0", &bed.registry, FaultPlan::PassThrough).await.unwrap();
    let front = on_host_of(&bed.registry, proxy.addr.port());
    let image = format!("{front}/tests/down-mid-push-{}", nonce());
    let dir = workspace(DOCKERFILE);
    let build_args = format!("BASE_IMAGE={}\nNONCE={}", bed.base_image, nonce());
    let handle = tokio::spawn(run_async(
        dir.path().to_path_buf(),
        front_inputs(&bed, &image, &front, &bed.user, &bed.password, &build_args),
    ));
    // The registry goes away as soon as the first blob is sent to it.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !proxy.requests().iter().any(|r| r.path.contains("/blobs/")) {
        assert!(Instant::now() < deadline, "the push never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.set_plan(FaultPlan::Refuse);
    let run = handle.await.unwrap();
    assert!(!run.success, "{}", run.stdout);
    assert!(run.outputs.is_empty(), "no success outputs: {:?}", run.outputs);
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(errors[0].contains(&image), "{}", errors[0]);
    assert!(
        crate::common::obeyed_commands(&run.stdout)
            .iter()
            .any(|l| l.starts_with("::warning::") && l.contains("retrying")),
        "retries are logged as warnings: {}",
        run.stdout
    );
    proxy.set_plan(FaultPlan::PassThrough);
    let repository = image.replacen(&front, &bed.registry, 1);
    assert_eq!(bed.manifest_digest(&repository, "faulty"), None, "no tag was pushed");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_answering_503_for_a_while_still_gets_the_image() {
    let bed = TestBed::get();
    let plan = FaultPlan::FailFirst {
        count: 4,
        status: 503,
        retry_after: Some(1),
        methods: vec!["POST".into(), "PUT".into()],
        path_contains: "/blobs/".into(),
    };
    let proxy = FaultProxy::start("0.0.0.0:0", &bed.registry, plan).await.unwrap();
    let front = on_host_of(&bed.registry, proxy.addr.port());
    let image = format!("{front}/tests/flaky-{}", nonce());
    let dir = workspace(DOCKERFILE);
    let build_args = format!("BASE_IMAGE={}\nNONCE={}", bed.base_image, nonce());
    let run = run_async(
        dir.path().to_path_buf(),
        front_inputs(&bed, &image, &front, &bed.user, &bed.password, &build_args),
    )
    .await;
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(proxy.requests().iter().filter(|r| r.injected).count(), 4, "the faults were met");
    assert!(
        crate::common::obeyed_commands(&run.stdout)
            .iter()
            .any(|l| l.starts_with("::warning::") && l.contains("retrying")),
        "retries are logged as warnings: {}",
        run.stdout
    );
    let repository = image.replacen(&front, &bed.registry, 1);
    assert_eq!(bed.manifest_digest(&repository, "faulty").as_deref(), Some(run.output("digest")));
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bearer_token_registry_is_logged_in_to_and_pushed_to() {
    let bed = TestBed::get();
    let front = TokenAuthRegistry::start(
        "0.0.0.0:0",
        &bed.registry,
        (bed.user.clone(), bed.password.clone()),
        ("bearer-user".into(), "bearer-pass-55".into()),
    )
    .await
    .unwrap();
    let address = on_host_of(&bed.registry, front.addr.port());
    let image = format!("{address}/tests/bearer-{}", nonce());
    let dir = workspace(DOCKERFILE);
    let build_args = format!("BASE_IMAGE={}\nNONCE={}", bed.base_image, nonce());
    let run = run_async(
        dir.path().to_path_buf(),
        front_inputs(&bed, &image, &address, "bearer-user", "bearer-pass-55", &build_args),
    )
    .await;
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(!front.token_requests().is_empty(), "tokens were requested");
    run.assert_no_secret(&["bearer-pass-55", &bed.password], dir.path());
    let repository = image.replacen(&address, &bed.registry, 1);
    assert_eq!(bed.manifest_digest(&repository, "faulty").as_deref(), Some(run.output("digest")));

    let started = Instant::now();
    let run = run_async(
        dir.path().to_path_buf(),
        front_inputs(&bed, &image, &address, "bearer-user", "wrong", &build_args),
    )
    .await;
    assert!(!run.success);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(
        run.error_lines()[0].contains(&address) && run.error_lines()[0].contains("refused"),
        "{}",
        run.stdout
    );
    front.stop().await;
}

#[test]
fn a_missing_daemon_socket_is_named() {
    let bed = TestBed::get();
    let image = bed.unique_image("no-daemon");
    let dir = workspace(DOCKERFILE);
    let mut command = std::process::Command::new(BINARY);
    command
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    command
        .env("INPUT_IMAGES", &image)
        .env("INPUT_TAGS", "x")
        .env("INPUT_REGISTRY", &bed.registry)
        .env("INPUT_USERNAME", &bed.user);
    command
        .env("INPUT_PASSWORD", &bed.password)
        .env("INPUT_INSECURE-REGISTRIES", &bed.registry)
        .env("INPUT_BUILD-ARGS", format!("BASE_IMAGE={}", bed.base_image));
    let output = command.output().unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::error")).collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(
        errors[0].contains("Docker daemon") && errors[0].contains("/var/run/docker.sock"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_cancelled_job_leaves_no_container_and_no_credentials() {
    let bed = TestBed::get();
    let image = bed.unique_image("cancel");
    let dir =
        workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG NONCE\nRUN echo $NONCE && sleep 60\n");
    let tmp = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(BINARY);
    command.current_dir(dir.path()).env("GITHUB_ACTIONS", "true").env("TMPDIR", tmp.path());
    command
        .env("INPUT_IMAGES", &image)
        .env("INPUT_TAGS", "x")
        .env("INPUT_REGISTRY", &bed.registry)
        .env("INPUT_USERNAME", &bed.user);
    command
        .env("INPUT_PASSWORD", &bed.password)
        .env("INPUT_INSECURE-REGISTRIES", &bed.registry)
        .env("INPUT_PLATFORMS", "linux/amd64");
    command.env("INPUT_BUILD-ARGS", format!("BASE_IMAGE={}\nNONCE={}", bed.base_image, nonce()));
    command.stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            seen.push(line);
        }
        seen
    });
    // Wait for the slow RUN step to start, then cancel as the runner does.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the build never reached its RUN step");
        let running =
            std::process::Command::new("pgrep").args(["-f", "sleep 60"]).output().unwrap();
        if running.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let private_dirs = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("multiarch-action-"))
            .count()
    };
    assert_eq!(private_dirs(), 1, "the private Docker config exists while building");
    let cancelled = Instant::now();
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(
        cancelled.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        cancelled.elapsed()
    );
    assert!(!status.success());
    let lines = reader.join().unwrap();
    assert!(lines.iter().any(|l| l.starts_with("::error::cancelled by SIGTERM")), "{lines:?}");
    assert_eq!(private_dirs(), 0, "the credentials are gone");
    let leftover = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=org.multiarch-action.run"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&leftover.stdout).trim(), "");
    assert_eq!(bed.manifest_digest(&image, "x"), None);
}

/// `sign: key` through a registry that stores the signatures but never gives
/// them back: the action cannot check its signature, and sets no tag.
#[tokio::test(flavor = "multi_thread")]
async fn a_signature_that_does_not_read_back_fails_the_run_before_any_tag() {
    let bed = TestBed::get();
    let cosign = crate::signing::Cosign::new(&bed);
    let key = std::fs::read_to_string(cosign.file("cosign.key")).unwrap();
    // The registry stores the signatures but never gives them back.
    let plan = FaultPlan::FailFirst {
        count: usize::MAX,
        status: 404,
        retry_after: None,
        methods: vec!["GET".into()],
        path_contains: ".sig".into(),
    };
    let proxy = FaultProxy::start("0.0.0.0:0", &bed.registry, plan).await.unwrap();
    let front = on_host_of(&bed.registry, proxy.addr.port());
    let stamp = std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos();
    let image = format!("{front}/tests/signed-unread-{stamp}");
    let auth = format!(
        "- registry: {front}\n  username: {}\n  password: {}\n- registry: {}\n  username: {}\n  password: {}\n",
        bed.user, bed.password, bed.registry, bed.user, bed.password
    );
    let inputs = vec![
        ("images", image.clone()),
        ("registry-auth", auth),
        ("insecure-registries", format!("{front},{}", bed.registry)),
        ("platforms", "linux/amd64".to_string()),
        ("build-args", format!("BASE_IMAGE={}", bed.base_image)),
        ("tags", "unread".to_string()),
        ("sign", "key".to_string()),
        ("sign-key", key),
        ("sign-key-password", crate::signing::PASSWORD.to_string()),
    ];
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY Dockerfile /built-from\n");
    let workdir = dir.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        let borrowed: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_action(&workdir, &borrowed, &[])
    })
    .await
    .unwrap();
    assert!(!run.success, "{}", run.stdout);
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(
        errors[0].starts_with(&format!("::error::the signature of {image}@sha256:"))
            && errors[0].contains("does not hold; no tag was set"),
        "{}",
        errors[0]
    );
    assert!(proxy.requests().iter().any(|r| r.injected), "the fault was met");
    let real = image.replace(&front, &bed.registry);
    assert_eq!(bed.manifest_digest(&real, "unread"), None, "no tag was set");
    proxy.stop().await;
}
