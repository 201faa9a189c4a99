//! Build options users bring from docker/build-push-action (build secrets, a
//! registry cache, a second build context), one build pushed to two
//! registries in one step, and an appended builder node that cannot be
//! reached, against the real test bed.

use crate::common::{TestBed, registry_inputs, run_action, workspace};

/// The registry-cache test empties the daemon's build cache mid-test, which
/// would pull the cache from under a build running beside it: it runs alone,
/// the other tests of this file side by side.
static BUILD_CACHE: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn beside_others() -> std::sync::RwLockReadGuard<'static, ()> {
    BUILD_CACHE.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn a_build_secret_is_readable_in_the_build_and_absent_from_the_image() {
    let _beside = beside_others();
    let bed = TestBed::get();
    let image = bed.unique_image("secret");
    let secret = "s3cr3t-build-value-91b2";
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n\
         RUN --mount=type=secret,id=token sh -c 'grep -q build-value /run/secrets/token && test $(wc -c < /run/secrets/token) -eq 23 && echo checked > /checked'\n",
    );
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let secrets = format!("token={secret}");
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "secret"),
        ("secrets", secrets.as_str()),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[secret, &bed.password], dir.path());
    assert!(
        run.stdout.lines().any(|l| l == format!("::add-mask::{secret}")),
        "the secret is masked"
    );

    let reference = format!("{image}@{}", run.output("digest"));
    assert_eq!(
        bed.run_image(&reference, "linux/amd64", &["cat", "/checked"]),
        "checked",
        "the RUN step read the secret"
    );
    // Not in the history or the config, nor in any layer.
    let platform_manifest = bed.manifest(
        &image,
        serde_json::from_str::<serde_json::Value>(run.output("platforms")).unwrap()["linux/amd64"]
            .as_str()
            .unwrap(),
    );
    let config = bed.registry_json(
        &image,
        &format!("blobs/{}", platform_manifest["config"]["digest"].as_str().unwrap()),
    );
    assert!(!config.to_string().contains(secret), "the secret is in the image config: {config}");
    let saved = bed.docker(&["save", &format!("{image}:secret")]);
    if saved.status.success() {
        assert!(
            !String::from_utf8_lossy(&saved.stdout).contains(secret),
            "the secret is in a layer"
        );
    }
}

#[test]
fn a_registry_cache_exported_by_one_build_is_used_by_the_next() {
    let _alone = BUILD_CACHE.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    let bed = TestBed::get();
    let image = bed.unique_image("cache");
    let cache = format!("{image}-cache:build");
    let nonce = format!(
        "{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let dir = workspace(&format!(
        "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nRUN echo {nonce} > /nonce && sleep 1\n"
    ));
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let cache_to = format!("type=registry,ref={cache},mode=max");
    let cache_from = format!("type=registry,ref={cache}");
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "first"),
        ("cache-to", cache_to.as_str()),
    ]);
    let first = run_action(dir.path(), &inputs, &[]);
    assert!(first.success, "{}", first.stdout);
    assert!(
        bed.manifest_digest(&cache.replace(":build", ""), "build").is_some(),
        "the cache was exported to the registry"
    );

    // Forget the local build cache for this step, then build again from the registry cache.
    let prune =
        std::process::Command::new("docker").args(["builder", "prune", "-af"]).output().unwrap();
    assert!(prune.status.success());
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "second"),
        ("cache-from", cache_from.as_str()),
    ]);
    let second = run_action(dir.path(), &inputs, &[]);
    assert!(second.success, "{}", second.stdout);
    let run_step = second
        .stdout
        .lines()
        .position(|l| l.contains("RUN echo ") && l.contains(&nonce))
        .expect("the RUN step is logged");
    let number =
        second.stdout.lines().nth(run_step).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(
        second.stdout.lines().any(|l| l == format!("{number} CACHED")),
        "the RUN step came from the cache:\n{}",
        second.stdout
    );
}

#[test]
fn build_contexts_add_a_second_local_directory() {
    let _beside = beside_others();
    let bed = TestBed::get();
    let image = bed.unique_image("contexts");
    let dir =
        workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY --from=extra note.txt /note.txt\n");
    let extra = tempfile::tempdir().unwrap();
    std::fs::write(extra.path().join("note.txt"), "from the second context\n").unwrap();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let contexts = format!("extra={}", extra.path().display());
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "ctx"),
        ("build-contexts", contexts.as_str()),
        ("provenance", "false"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}", run.stdout);
    let index = bed.manifest(&image, run.output("digest"));
    assert_eq!(
        index["manifests"].as_array().unwrap().len(),
        2,
        "provenance: false leaves no attestation manifests: {index}"
    );
    assert!(!run.summary.contains("attestation manifest"), "{}", run.summary);
    let reference = format!("{image}@{}", run.output("digest"));
    assert_eq!(
        bed.run_image(&reference, "linux/amd64", &["cat", "/note.txt"]),
        "from the second context"
    );
}

#[test]
fn one_build_is_pushed_to_two_registries_with_registry_auth() {
    let _beside = beside_others();
    let bed = TestBed::get();
    let first = bed.unique_image("two-registries");
    let second = first.replacen(&bed.registry, &bed.registry2, 1);
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let images = format!("{first}\n{second}");
    let (auth, insecure) = crate::common::both_registries(&bed);
    let inputs = [
        ("images", images.as_str()),
        ("registry-auth", auth.as_str()),
        ("insecure-registries", insecure.as_str()),
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "both"),
    ];
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    run.assert_no_secret(&[&bed.password, &bed.password2], dir.path());
    let digest = run.output("digest");
    assert_eq!(bed.manifest_digest(&first, "both").as_deref(), Some(digest));
    assert_eq!(
        bed.manifest_digest(&second, "both").as_deref(),
        Some(digest),
        "the same index on the second registry"
    );
    assert_eq!(
        run.output("tags").lines().collect::<Vec<_>>(),
        [format!("{first}:both"), format!("{second}:both")]
    );
    assert!(
        run.summary.contains(&bed.registry2),
        "the summary lists the second registry: {}",
        run.summary
    );

    // A wrong password for the second registry fails before building, naming it.
    let wrong = auth.replace(&bed.password2, "wrong-second-password");
    let inputs = [
        ("images", images.as_str()),
        ("registry-auth", wrong.as_str()),
        ("insecure-registries", insecure.as_str()),
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "never"),
    ];
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success);
    assert!(run.error_lines()[0].contains(&bed.registry2), "{}", run.stdout);
    assert!(!run.stdout.contains("load build definition"));
}

#[test]
fn an_unreachable_appended_node_fails_before_the_build_naming_it() {
    let _beside = beside_others();
    let bed = TestBed::get();
    let image = bed.unique_image("append");
    let dir = workspace("FROM scratch\n");
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("tags", "never"),
        ("driver", "docker-container"),
        ("append", "- name: arm-box\n  endpoint: tcp://127.0.0.1:9\n  platforms: linux/arm64\n"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success);
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(
        errors[0]
            .starts_with("::error::append: node `arm-box` at tcp://127.0.0.1:9 cannot be reached"),
        "{}",
        errors[0]
    );
    assert!(!run.stdout.contains("load build definition"));
}
