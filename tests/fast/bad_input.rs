//! A user's mistake fails before any daemon or registry work, with one
//! `::error::` line that names the input and says what is accepted. The
//! daemon socket points nowhere here: any daemon work would fail differently.

use crate::common::{BINARY, workspace};

fn run_in(dir: &tempfile::TempDir, inputs: &[(&str, &str)]) -> (bool, String) {
    let mut command = std::process::Command::new(BINARY);
    command
        .current_dir(dir.path())
        .env_clear()
        .env("GITHUB_ACTIONS", "true")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    command.env("GITHUB_EVENT_NAME", "workflow_dispatch").env("GITHUB_REF", "refs/heads/main");
    for (name, value) in inputs {
        command.env(format!("INPUT_{}", name.to_uppercase()), value);
    }
    let output = command.output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn each_mistake_is_named_before_any_work() {
    let image = ("images", "127.0.0.1:5999/acme/app");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[image, ("platforms", "linux/arm65")],
            "::error::platforms: `linux/arm65` is not a platform",
        ),
        (&[image, ("platforms", "")], "::error::"),
        (&[("images", "ghcr.io/Acme/App:1.0")], "::error::images: "),
        (&[("images", "")], "::error::images: "),
        (
            &[("images", "ghcr.io/acme/app"), ("version", "1.0.0")],
            "::error::password: pushing to ghcr.io needs credentials",
        ),
        (
            &[image, ("file", "missing/Dockerfile"), ("version", "1.0.0")],
            "::error::file: there is no Dockerfile at `missing/Dockerfile`",
        ),
        (&[image, ("context", "nowhere"), ("version", "1.0.0")], "::error::context: "),
        (
            &[image, ("driver", "kubernetes")],
            "::error::driver: `kubernetes` is not accepted; use one of auto, docker, docker-container",
        ),
        (&[image, ("push", "sometimes")], "::error::push: `sometimes` is not accepted"),
        (&[image, ("qemu", "maybe")], "::error::qemu: `maybe` is not accepted"),
        (&[image, ("dry-run", "perhaps")], "::error::dry-run: "),
        (&[image, ("build-args", "NOVALUE")], "::error::build-args: `NOVALUE` has no `=`"),
        (&[image, ("username", "me")], "::error::password: "),
        (&[image, ("password", "hunter-1")], "::error::username: "),
        (
            &[
                image,
                ("registry", "https://ghcr.io/acme"),
                ("username", "me"),
                ("password", "hunter-2"),
            ],
            "::error::registry: ",
        ),
        (&[image, ("tags", "type=semver")], "::error::tags: "),
        (
            &[("mode", "bundle"), ("images", "127.0.0.1:5999/acme/app:1"), ("bundle-split", "2gb")],
            "::error::bundle-split: `2gb` is not a size;",
        ),
        (
            &[("mode", "bundle"), ("images", "127.0.0.1:5999/acme/app:1"), ("bundle-split", "0m")],
            "::error::bundle-split: `0m` is no size;",
        ),
        (
            &[
                ("mode", "bundle"),
                ("images", "127.0.0.1:5999/acme/app:1"),
                ("bundle-trusted-root", "missing.json"),
            ],
            "::error::bundle-trusted-root: could not read `missing.json`; give the path of a Sigstore trusted_root.json",
        ),
        (
            &[
                ("mode", "bundle"),
                ("images", "127.0.0.1:5999/acme/app:1"),
                ("bundle-trusted-root", "Dockerfile"),
            ],
            "::error::bundle-trusted-root: `Dockerfile` is not a Sigstore trust root; give the instance's trusted_root.json",
        ),
        (&[image, ("tags", "type=nonsense,value=1")], "::error::tags: "),
        (&[image, ("flavor", "latest=sometimes")], "::error::flavor: "),
        (&[image, ("floating-tags", "never")], "::error::floating-tags: "),
        (&[image, ("insecure-registries", "http://host/path")], "::error::insecure-registries: "),
        (&[image, ("qemu-image", "not an image")], "::error::qemu-image: "),
        (&[image, ("buildkit-image", "UPPER CASE")], "::error::buildkit-image: "),
        (&[image, ("tags", "type=ref,event=pr")], "::error::tags: no tag applies"),
        (
            &[image, ("driver", "docker"), ("buildkitd-config-inline", "debug = true")],
            "::error::buildkitd-config-inline: does not apply to driver: docker",
        ),
        (
            &[image, ("outputs", "type=local,dest=out"), ("push", "true")],
            "::error::outputs: cannot be combined with pushing",
        ),
        (
            &[image, ("registry-auth", "registry: ghcr.io")],
            "::error::registry-auth: not a YAML list",
        ),
        (
            &[image, ("registry-auth", "- registry: ghcr.io\n  username: me\n  password: \"\"")],
            "::error::registry-auth: the entry for ghcr.io needs both",
        ),
        (
            &[image, ("secrets", "A=1\n\"TOKEN=hunter-2\nmore")],
            "::error::secrets: the quote that opens line 2 is never closed",
        ),
        (
            &[image, ("secret-files", "token=/nonexistent/token")],
            "::error::secret-files: `/nonexistent/token`",
        ),
        (&[image, ("cache-to", "type=floppy")], "::error::cache-from/cache-to: "),
        (
            &[image, ("append", "- name: x\n  endpoint: ftp://h")],
            "::error::append: node `x` has endpoint",
        ),
        (&[image, ("smoke-test", "echo 'unclosed")], "::error::smoke-test: "),
        (&[image, ("export", "zip")], "::error::export: "),
        (&[image, ("preflight", "sometimes")], "::error::preflight: "),
        (&[image, ("verify", "often")], "::error::verify: "),
        (&[image, ("cross-compile", "yes")], "::error::cross-compile: "),
        (
            &[image, ("cross-compile", "auto"), ("verify", "false")],
            "::error::cross-compile: `auto` uses the cross-compiling build only when the architecture scan finds no binary of another architecture; set `verify: true`",
        ),
        (&[image, ("network", "bridge2")], "::error::network: "),
        (&[image, ("allow", "root")], "::error::allow: "),
        (
            &[(
                "images",
                "ghcr.io/acme/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            )],
            "::error::images: ",
        ),
        (
            &[image, ("platforms", "linux/amd64,windows/amd64")],
            "::error::platforms: `windows/amd64`",
        ),
    ];
    assert!(cases.len() >= 30, "at least 30 malformed inputs are covered");
    let dir = workspace("FROM scratch\n");
    assert_each_fails_with_one_error(&dir, cases);
}

/// Each case fails with exactly one `::error::` line that starts as
/// expected, and no secret (`hunter-…`) is shown.
fn assert_each_fails_with_one_error(dir: &tempfile::TempDir, cases: &[(&[(&str, &str)], &str)]) {
    for (inputs, expected) in cases {
        let (success, stdout) = run_in(dir, inputs);
        assert!(!success, "{inputs:?} succeeded");
        let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::error")).collect();
        assert_eq!(errors.len(), 1, "{inputs:?}: {stdout}");
        assert!(
            errors[0].starts_with(expected),
            "{inputs:?}: expected `{expected}…`, got `{}`",
            errors[0]
        );
        let shown: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("::add-mask::")).collect();
        assert!(!shown.join("\n").contains("hunter-"), "a secret leaked: {stdout}");
    }
}

/// A deployment's mistakes (`compose-file` with `mode: build`) are each one
/// line naming the service, before any build.
#[test]
fn each_deployment_mistake_names_the_service_before_any_work() {
    let dir = workspace("FROM scratch\n");
    std::fs::create_dir(dir.path().join("api")).unwrap();
    std::fs::write(dir.path().join("api/Dockerfile"), "FROM scratch\n").unwrap();
    let files: &[(&str, &str)] = &[
        ("good.yaml", "services:\n  api:\n    build: api\n  db:\n    image: redis:7\n"),
        (
            "nodockerfile.yaml",
            "services:\n  api:\n    build: api\n  web:\n    image: web\n    build:\n      context: .\n      dockerfile: web.Dockerfile\n",
        ),
        ("nocontext.yaml", "services:\n  api:\n    build:\n"),
        ("nocontextdir.yaml", "services:\n  api:\n    build: missing\n"),
        (
            "same.yaml",
            "services:\n  api:\n    build: api\n    image: app\n  web:\n    build: .\n    image: x/app:2\n",
        ),
        ("badname.yaml", "services:\n  api:\n    build: api\n    image: \"Bad Name\"\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let prefix = ("images", "127.0.0.1:5999/acme");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[prefix, ("compose-file", "good.yaml"), ("services", "api,nope")],
            "::error::services: `nope` is not a service of the Compose file (it has `api`, `db`)",
        ),
        (
            &[prefix, ("compose-file", "good.yaml"), ("services", "db")],
            "::error::services: `db` has no `build:`",
        ),
        (
            &[prefix, ("compose-file", "nodockerfile.yaml")],
            "::error::compose-file: service `web`: there is no Dockerfile at `web.Dockerfile`",
        ),
        (
            &[prefix, ("compose-file", "nocontext.yaml")],
            "::error::compose-file: service `api` has `build:` with no context",
        ),
        (
            &[prefix, ("compose-file", "nocontextdir.yaml")],
            "::error::compose-file: service `api`: the build context `missing` is not a directory",
        ),
        (
            &[prefix, ("compose-file", "same.yaml")],
            "::error::compose-file: services `api` and `web` would both be pushed to 127.0.0.1:5999/acme/app",
        ),
        (
            &[prefix, ("compose-file", "badname.yaml")],
            "::error::compose-file: service `api` would be pushed as `127.0.0.1:5999/acme/Bad Name`",
        ),
        (
            &[prefix, ("compose-file", "good.yaml"), ("mode", "digest")],
            "::error::compose-file: works with `mode: build`",
        ),
    ];
    assert_each_fails_with_one_error(&dir, cases);
}

/// `bundle verify|load|push` refuse signature flags that cannot be used in
/// one line saying what to give, before the bundle is read (it need not
/// exist).
#[test]
fn each_signature_flag_mistake_is_one_line_before_the_bundle_is_read() {
    let dir = workspace("FROM scratch\n");
    std::fs::write(dir.path().join("root.json"), "{}").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--key", "missing.pub"], "error: --key: could not read `missing.pub` ("),
        (&["--key", "Dockerfile"], "error: --key: not a cosign public key; give the `cosign.pub`"),
        (
            &["--trusted-root", "root.json"],
            "error: --trusted-root needs the signer: give --certificate-identity (or --certificate-identity-regexp) and --certificate-oidc-issuer",
        ),
        (
            &["--certificate-identity", "https://github.com/acme/app"],
            "error: --certificate-identity and --certificate-oidc-issuer need --trusted-root FILE",
        ),
    ];
    for command in ["verify", "load", "push"] {
        for (flags, expected) in cases {
            let mut args = vec!["bundle", command, "nowhere.tar"];
            args.extend_from_slice(flags);
            if command == "push" {
                args.extend(["--registry", "127.0.0.1:5999"]);
            }
            let output = std::process::Command::new(BINARY)
                .args(&args)
                .current_dir(dir.path())
                .env_clear()
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{args:?} succeeded");
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
            assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
        }
    }
}
