//! Verification after the push, and the checks before the build, against
//! the real test bed. After: a failing smoke test names its platform, an
//! arm64 image that carries an x86-64 binary is caught (in zstd layers too,
//! and from a scan an earlier run kept), exported tarballs load and run, and
//! nothing the build or the image prints is obeyed as a workflow command.
//! Before (preflight): a base image without arm64 fails before any build
//! step, with the table, and a naive Dockerfile is annotated where a
//! cross-compiling one passes.

use crate::common::{TestBed, obeyed_commands, registry_inputs, run_action, shown_text, workspace};

const DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n";

#[test]
fn a_smoke_test_failing_on_arm64_fails_the_step_naming_arm64() {
    let bed = TestBed::get();
    let image = bed.unique_image("smoke");
    let dir = workspace(DOCKERFILE);
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "smoke"),
        ("smoke-test", r#"sh -c 'cat /arch; test "$(cat /arch)" != aarch64'"#),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success, "{}", run.stdout);
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(
        errors[0].contains("linux/arm64 (exit 1)") && !errors[0].contains("linux/amd64"),
        "{}",
        errors[0]
    );
    let shown = shown_text(&run.stdout);
    assert!(shown.contains("linux/amd64: exit 0\nx86_64"), "{}", run.stdout);
    assert!(shown.contains("linux/arm64: exit 1\naarch64"), "{}", run.stdout);
    assert!(run.outputs.is_empty(), "no success outputs: {:?}", run.outputs);
    let leftover = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=org.multiarch-action.run"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&leftover.stdout).trim(),
        "",
        "smoke-test containers are removed"
    );
}

#[test]
fn an_x86_64_binary_in_the_arm64_image_fails_verification_naming_the_file() {
    let bed = TestBed::get();
    let image = bed.unique_image("foreign-binary");
    // The classic mistake: one prebuilt amd64 binary added for every platform.
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY tool-linux-amd64 /usr/local/bin/tool\n",
    );
    std::fs::copy("/bin/busybox", dir.path().join("tool-linux-amd64")).unwrap();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "foreign"),
        ("preflight", "false"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success, "{}", run.stdout);
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(
        errors[0].contains("linux/arm64: /usr/local/bin/tool is an amd64 binary"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("COPY tool-linux-amd64 /usr/local/bin/tool"),
        "names the step: {}",
        errors[0]
    );
    assert!(!errors[0].contains("linux/amd64: /usr/local/bin/tool"), "{}", errors[0]);

    // With `verify: warn` the same build publishes, with the warning.
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "foreign"),
        ("preflight", "false"),
        ("verify", "warn"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("::warning::verify: linux/arm64: /usr/local/bin/tool is an amd64 binary"),
        "{}",
        run.stdout
    );
    assert!(run.summary.contains("Verification warnings"), "{}", run.summary);
}

#[test]
fn zstd_layers_built_by_buildkit_are_scanned_for_foreign_binaries() {
    let bed = TestBed::get();
    let image = bed.unique_image("zstd-layers");
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY tool-linux-amd64 /usr/local/bin/tool\n",
    );
    // A binary of its own (bytes after the ELF contents), so its layer is
    // new and compressed as asked; reused layers keep their compression.
    let mut tool = std::fs::read("/bin/busybox").unwrap();
    tool.extend_from_slice(image.as_bytes());
    std::fs::write(dir.path().join("tool-linux-amd64"), tool).unwrap();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "zstd"),
        ("preflight", "false"),
        ("verify", "warn"),
        ("compression", "zstd"),
        ("compression-level", "9"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("::warning::verify: linux/arm64: /usr/local/bin/tool is an amd64 binary"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("linux/amd64: /usr/local/bin/tool is"), "{}", run.stdout);
    // The layer the scan read really is zstd, as BuildKit wrote it.
    let index = bed.manifest(&image, run.output("digest"));
    let arm64 = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .unwrap();
    let manifest = bed.manifest(&image, arm64["digest"].as_str().unwrap());
    let last = manifest["layers"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd", "{manifest}");
}

#[test]
fn exported_tarballs_load_into_the_daemon_and_run() {
    let bed = TestBed::get();
    let image = bed.unique_image("export");
    let dir = workspace(DOCKERFILE);
    let export_dir = tempfile::tempdir().unwrap();
    let export_path = export_dir.path().display().to_string();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "offline"),
        ("export", "docker"),
        ("export-dir", export_path.as_str()),
        ("push", "false"),
        ("load", "true"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(bed.manifest_digest(&image, "offline"), None, "push: false pushes nothing");
    // `load: true` put the native platform into the daemon.
    let loaded = std::process::Command::new("docker")
        .args(["run", "--rm", "--pull", "never", &format!("{image}:offline"), "cat", "/arch"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&loaded.stdout).trim(),
        "x86_64",
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );

    let sums = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(export_dir.path())
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "SHA256SUMS verifies: {}",
        String::from_utf8_lossy(&sums.stdout)
    );
    let listed = String::from_utf8_lossy(&sums.stdout);
    let stem = image.rsplit('/').next().unwrap();
    for (file, platform, arch) in
        [("linux-amd64", "linux/amd64", "x86_64"), ("linux-arm64", "linux/arm64", "aarch64")]
    {
        let name = format!("tests-{stem}-{file}.tar");
        assert!(listed.contains(&format!("{name}: OK")), "{listed}");
        let tag = format!("{image}:offline");
        let _ = std::process::Command::new("docker").args(["rmi", "-f", &tag]).output();
        let load = std::process::Command::new("docker")
            .args(["load", "-i"])
            .arg(export_dir.path().join(&name))
            .output()
            .unwrap();
        assert!(
            load.status.success(),
            "docker load {name}: {}",
            String::from_utf8_lossy(&load.stderr)
        );
        let ran = std::process::Command::new("docker")
            .args(["run", "--rm", "--pull", "never", "--platform", platform, &tag, "cat", "/arch"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            arch,
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    assert!(export_dir.path().join(format!("tests-{stem}.oci.tar")).exists());
}

#[test]
fn a_base_without_arm64_fails_before_any_build_step_with_the_table() {
    let bed = TestBed::get();
    let image = bed.unique_image("preflight");
    let dir = workspace("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN uname -m > /arch\n");
    let build_arg = format!("BASE_IMAGE={}", bed.base_image_amd64_only);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64,linux/arm64"),
        ("build-args", build_arg.as_str()),
        ("tags", "never"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(!run.success, "{}", run.stdout);
    let errors = run.error_lines();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(errors[0].starts_with("::error::preflight: "), "{}", errors[0]);
    assert!(
        errors[0].contains(&format!(
            "`{}` (Dockerfile line 2) is needed for linux/arm64",
            bed.base_image_amd64_only
        )),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("--platform=$BUILDPLATFORM"), "says what to do: {}", errors[0]);
    let table_row = run
        .stdout
        .lines()
        .find(|l| l.contains(&bed.base_image_amd64_only) && l.contains('✓'))
        .unwrap_or_else(|| panic!("no table in {}", run.stdout));
    assert!(table_row.contains('✗'), "{table_row}");
    assert!(!run.stdout.contains("load build definition"), "a build started:\n{}", run.stdout);
    assert_eq!(bed.manifest_digest(&image, "never"), None);
}

#[test]
fn a_cross_compiling_dockerfile_passes_the_lint_and_a_naive_one_is_annotated() {
    let bed = TestBed::get();
    let image = bed.unique_image("lint");
    let cross = "ARG BASE_IMAGE\n\
                 FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS build\n\
                 ARG TARGETARCH\n\
                 RUN echo \"make TARGET=$TARGETARCH\" > /built\n\
                 FROM ${BASE_IMAGE}\n\
                 COPY --from=build /built /built\n";
    let naive = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN make || true\nRUN wget -q https://example.invalid/tool-linux-amd64.tar.gz || true\n";
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    for (dockerfile, expect_findings, tag) in [(cross, false, "cross"), (naive, true, "naive")] {
        let dir = workspace(dockerfile);
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("platforms", "linux/amd64,linux/arm64"),
            ("build-args", build_arg.as_str()),
            ("tags", tag),
            ("verify", "false"),
        ]);
        let run = run_action(dir.path(), &inputs, &[]);
        assert!(run.success, "{}", run.stdout);
        let warnings: Vec<&str> =
            run.stdout.lines().filter(|l| l.starts_with("::warning file=Dockerfile")).collect();
        if expect_findings {
            assert!(
                warnings.iter().any(|w| w.contains("line=3") && w.contains("QEMU")),
                "{warnings:?}"
            );
            assert!(
                warnings.iter().any(|w| w.contains("line=4") && w.contains("amd64")),
                "{warnings:?}"
            );
        } else {
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }
}

/// Every form of workflow command, as an image or a build step might print
/// them to spoof the runner.
const HOSTILE: &str = "::add-mask::main\n::set-env name=EVIL::1\n::add-path::/evil\n::error title=spoof::spoofed error\n::warning::spoofed warning\n::notice::spoofed notice\n::endgroup::\n::group::spoofed group\n::set-output name=digest::sha256:evil\n::save-state name=evil::1\n::stop-commands::guessed\n::guessed::\n::debug::spoofed\n";

#[test]
fn output_of_the_build_and_the_image_is_never_obeyed_as_a_command() {
    let bed = TestBed::get();
    let image = bed.unique_image("hostile");
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY hostile.txt /hostile.txt\nRUN cat /hostile.txt\n",
    );
    std::fs::write(dir.path().join("hostile.txt"), HOSTILE).unwrap();
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let mut inputs = registry_inputs(&bed, &image);
    inputs.extend([
        ("platforms", "linux/amd64"),
        ("build-args", build_arg.as_str()),
        ("tags", "hostile"),
        ("no-cache", "true"),
        ("smoke-test", "cat /hostile.txt"),
    ]);
    let run = run_action(dir.path(), &inputs, &[]);
    assert!(run.success, "{}", run.stdout);
    let obeyed = obeyed_commands(&run.stdout);
    // (`::endgroup::` is the action's own too: the group check below covers it.)
    for hostile in HOSTILE.lines().filter(|l| *l != "::endgroup::") {
        assert!(!obeyed.contains(&hostile), "`{hostile}` was obeyed:\n{}", run.stdout);
    }
    assert!(
        !obeyed.iter().any(|c| c.contains("spoof") || c.contains("evil") || c.contains("EVIL")),
        "{obeyed:#?}"
    );
    // The smoke output is shown whole, inside the smoke test's own group.
    let smoke_start = obeyed
        .iter()
        .position(|c| c.starts_with("::group::Smoke test"))
        .expect("a smoke-test group");
    assert_eq!(
        obeyed.get(smoke_start + 1),
        Some(&"::endgroup::"),
        "nothing closes or opens a group inside it: {obeyed:#?}"
    );
    let shown = shown_text(&run.stdout);
    let group = &shown[shown.find("::group::Smoke test").unwrap()..];
    assert!(
        group.starts_with(&format!(
            "::group::Smoke test: cat /hostile.txt\nlinux/amd64: exit 0\n{}",
            HOSTILE
        )),
        "{group}"
    );
    // The build step's output reached the log too, and was not obeyed.
    assert!(shown.matches("::add-mask::main").count() >= 2, "{shown}");
    assert!(
        run.outputs.get("digest").is_some_and(|d| d.starts_with("sha256:") && !d.contains("evil"))
    );
}

#[test]
fn a_layer_scanned_on_an_earlier_run_is_not_read_again_and_still_fails_verification() {
    let bed = TestBed::get();
    let image = bed.unique_image("scan-cache");
    let dir = workspace(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY tool-linux-amd64 /usr/local/bin/tool\n",
    );
    std::fs::copy("/bin/busybox", dir.path().join("tool-linux-amd64")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache_env = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let build_arg = format!("BASE_IMAGE={}", bed.base_image);
    let run_with = |verify: &'static str| {
        let mut inputs = registry_inputs(&bed, &image);
        inputs.extend([
            ("platforms", "linux/amd64,linux/arm64"),
            ("build-args", build_arg.as_str()),
            ("tags", "cached"),
            ("preflight", "false"),
            ("verify", verify),
        ]);
        run_action(dir.path(), &inputs, &cache_env)
    };
    let first = run_with("warn");
    assert!(first.success, "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("::warning::verify: linux/arm64: /usr/local/bin/tool is an amd64 binary"),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("known from an earlier scan"), "{}", first.stdout);
    let kept =
        std::fs::read_dir(cache.path().join("multiarch-action/layer-scans-v1")).unwrap().count();
    assert!(kept >= 2, "the scanned layers are kept ({kept})");

    let again = run_with("true");
    assert!(!again.success, "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains("architecture scan of 4 layers, 4 of them known from an earlier scan"),
        "{}",
        again.stdout
    );
    let errors = again.error_lines();
    assert_eq!(errors.len(), 1, "{}", again.stdout);
    assert!(
        errors[0].contains("linux/arm64: /usr/local/bin/tool is an amd64 binary"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("COPY tool-linux-amd64 /usr/local/bin/tool"),
        "names the step: {}",
        errors[0]
    );
}
