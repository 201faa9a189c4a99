//! The rows of the input and output tables: every input's name, default,
//! kind and documentation, in the order `action.yml` and the README list
//! them.

use super::{InputDef, Kind};

pub const DEFAULT_QEMU_IMAGE: &str = "tonistiigi/binfmt:qemu-v9.2.2-52";
pub const DEFAULT_BUILDKIT_IMAGE: &str = "moby/buildkit:buildx-stable-1";

const TEXT: Kind = Kind::Text;
const LINES: Kind = Kind::List { commas: false };
const LIST_COMMAS: Kind = Kind::List { commas: true };

const fn input(name: &'static str, default: &'static str, kind: Kind, doc: &'static str) -> InputDef {
    InputDef { name, default, kind, required: false, secret: false, doc }
}

/// Masked before any output; never printed, never on a command line.
const fn secret(def: InputDef) -> InputDef {
    InputDef { secret: true, ..def }
}

const fn required(def: InputDef) -> InputDef {
    InputDef { required: true, ..def }
}

pub const INPUTS: &[InputDef] = &[
    required(input(
        "images",
        "",
        LIST_COMMAS,
        "Image names to push, one per line or comma-separated (`ghcr.io/acme/app`). Names are lowercased; give no tag here.",
    )),
    input(
        "tags",
        "",
        LINES,
        "Tag rules, one per line, in docker/metadata-action syntax (`type=semver,pattern={{version}}`, `type=ref,event=branch`, `type=sha`, `type=raw,value=x`; a bare line is a raw tag). Empty: `{{version}}`, `{{major}}.{{minor}}`, `{{major}}` on releases, the branch name, `pr-N`, and `nightly` on schedule.",
    ),
    input("flavor", "", LINES, "Tag flavor lines: `latest=auto|true|false`, `prefix=`, `suffix=` (with `,onlatest=true`)."),
    input(
        "version",
        "",
        TEXT,
        "Version for runs that are not on a tag (e.g. a workflow_dispatch input); the semver rules treat it as if the ref were that tag.",
    ),
    input(
        "floating-tags",
        "guard",
        Kind::Choice(&["guard", "always"]),
        "`guard`: push `latest`, `{{major}}` and `{{major}}.{{minor}}` only when this is the highest release they cover in the registry; `always`: push them regardless.",
    ),
    input(
        "platforms",
        "linux/amd64,linux/arm64",
        LIST_COMMAS,
        "Target platforms, comma- or newline-separated (`linux/amd64`, `linux/arm64`, `linux/arm/v7`, …).",
    ),
    input("context", ".", TEXT, "Build context directory."),
    input("file", "", TEXT, "Path to the Dockerfile. Empty: `Dockerfile` in the context."),
    input("target", "", TEXT, "Dockerfile stage to build."),
    input("build-args", "", LINES, "Build arguments, `NAME=value`, one per line."),
    input("labels", "", LINES, "Image labels, `key=value`, one per line; they override the generated OCI labels."),
    input(
        "annotations",
        "",
        LINES,
        "Annotations, `key=value` or `manifest:key=value` / `index:key=value`, one per line; they override the generated ones.",
    ),
    input("push", "auto", Kind::BoolOr("auto"), "`auto`: push except on pull_request events; `true`; `false`."),
    input("registry", "", TEXT, "Registry to log in to. Empty: the registry of the first image when `username` is given."),
    input("username", "", TEXT, "Username for `registry`."),
    secret(input(
        "password",
        "",
        TEXT,
        "Password or token for `registry`. Masked; written only to a temporary Docker config outside the workspace.",
    )),
    secret(input(
        "registry-auth",
        "",
        Kind::Yaml,
        "More registries to log in to: a YAML list of `registry`, `username`, `password`. A `docker.io` entry with no image there is used for pulls (base images, BuildKit), avoiding anonymous limits. Passwords are masked.",
    )),
    input("cache-from", "", LINES, "Cache sources, one per line (`type=registry,ref=…`, `type=gha`, `type=local,src=…`)."),
    input(
        "cache-to",
        "",
        LINES,
        "Cache exports, one per line (`type=gha,mode=max`, …). A failed cache export is a warning, not a failed build.",
    ),
    secret(input(
        "secrets",
        "",
        TEXT,
        "Build secrets, `ID=value` per line (quote a value to span lines); mounted with `RUN --mount=type=secret,id=ID`. Masked; passed to buildx through its environment, never on a command line or in the image history.",
    )),
    input("secret-files", "", LINES, "Build secrets from files, `ID=path` per line."),
    input("secret-envs", "", LINES, "Build secrets from environment variables, `ID=VARIABLE` per line."),
    input("ssh", "", LINES, "SSH agent sockets or keys for `RUN --mount=type=ssh`, one per line (`default`, `id=path`)."),
    input("build-contexts", "", LINES, "Additional build contexts, `name=path` or `name=docker-image://…`, one per line."),
    input("network", "", Kind::Choice(&["", "default", "none", "host"]), "Network mode for RUN steps: `default`, `none`, `host`."),
    input("no-cache", "false", Kind::Bool, "`true`: build without the build cache."),
    input("no-cache-filters", "", LIST_COMMAS, "Stages to build without cache, comma- or newline-separated."),
    input("pull", "false", Kind::Bool, "`true`: always pull newer base images."),
    input("shm-size", "", TEXT, "Size of /dev/shm for RUN steps (e.g. `2g`)."),
    input("ulimit", "", LINES, "Ulimits for RUN steps, one per line (`nofile=1024:1024`)."),
    input("add-hosts", "", LIST_COMMAS, "Extra hosts for RUN steps, `host:ip`, comma- or newline-separated."),
    input("allow", "", LIST_COMMAS, "Extra privileges: `network.host`, `security.insecure`, comma- or newline-separated."),
    input("outputs", "", LINES, "Extra buildx outputs, one per line (`type=local,dest=out`); only with `push: false`."),
    input("provenance", "", TEXT, "Provenance attestation: empty keeps BuildKit's default; `false` turns it off; `mode=max` …"),
    input("sbom", "", TEXT, "SBOM attestation: `true`, `false`, or generator options."),
    input("attests", "", LINES, "Other attestations, one per line (`type=…`)."),
    input(
        "compression",
        "",
        Kind::Choice(&["", "gzip", "zstd", "estargz"]),
        "Compression of the pushed layers: `gzip`, `zstd` or `estargz`; empty keeps BuildKit's default (gzip). Layers the build reuses keep theirs.",
    ),
    input("compression-level", "", TEXT, "Compression level: 0–9 for gzip and estargz, 0–22 for zstd; empty: the compressor's default."),
    input(
        "driver",
        "auto",
        Kind::Choice(&["auto", "docker", "docker-container"]),
        "Builder: `auto` (the daemon's own BuildKit when it can build every platform, else `docker-container`), `docker`, `docker-container`.",
    ),
    input("buildkit-image", DEFAULT_BUILDKIT_IMAGE, TEXT, "BuildKit image for a `docker-container` builder."),
    input("buildkitd-config", "", TEXT, "A buildkitd.toml file for a `docker-container` builder."),
    input(
        "buildkitd-config-inline",
        "",
        TEXT,
        "buildkitd.toml content for a `docker-container` builder (registry mirrors, private or plain-HTTP registries).",
    ),
    input(
        "driver-opts",
        "",
        LINES,
        "Driver options for a `docker-container` builder, one per line (`image=…`, `network=host`, `env.NAME=value`).",
    ),
    input("buildkitd-flags", "", TEXT, "Flags for buildkitd in a `docker-container` builder."),
    input(
        "append",
        "",
        Kind::Yaml,
        "Extra builder nodes, a YAML list of `name`, `endpoint` (ssh:// or tcp://), `platforms`, `driver-opts`: one builder spanning native machines.",
    ),
    input(
        "qemu",
        "auto",
        Kind::BoolOr("auto"),
        "`auto`: install QEMU emulators only for platforms the builder cannot run yet; `true`: install for every non-native platform; `false`: never.",
    ),
    input("qemu-image", DEFAULT_QEMU_IMAGE, TEXT, "Installer image for QEMU emulators (speaks tonistiigi/binfmt's interface)."),
    input("insecure-registries", "", LIST_COMMAS, "Registries reached over plain HTTP (`host:port`), comma- or newline-separated."),
    input(
        "mode",
        "build",
        Kind::Choice(&["build", "digest", "merge"]),
        "`build`: build every platform and push. `digest`: build this runner's platform (or the one in `platforms`) and push it by digest, untagged, writing the digest to `digests-dir` for a later `merge`. `merge`: combine the digests of `digest` runs into one tagged multi-platform image.",
    ),
    input("digests", "", LIST_COMMAS, "For `mode: merge`: the digests to combine, one per line. Empty: every file in `digests-dir`."),
    input(
        "digests-dir",
        "",
        TEXT,
        "Where `mode: digest` writes, and `mode: merge` reads, one file per platform holding its digest. Empty: `digests` under `RUNNER_TEMP`.",
    ),
    secret(input("github-token", "", TEXT, "A token for GitHub's API (`secrets.GITHUB_TOKEN`), used by `release-notes`. Masked.")),
    input(
        "release-notes",
        "false",
        Kind::Bool,
        "`true`: on a `release` event, add a \"Container image\" section (pullable digest, tags, platforms) to the release's notes; a re-run replaces it. Needs `github-token` with `contents: write`.",
    ),
    input(
        "preflight",
        "true",
        Kind::BoolOr("warn"),
        "Before building, check every base image of the Dockerfile offers every platform it is needed for, and lint the Dockerfile: `true` fails on a missing platform, `warn` only warns, `false` skips.",
    ),
    input(
        "verify",
        "true",
        Kind::BoolOr("warn"),
        "After pushing, check every tag resolves to the digest, every platform is in the index with a matching config, and no binary of another architecture is in a platform's layers: `true`, `warn`, `false`.",
    ),
    input(
        "smoke-test",
        "",
        TEXT,
        "A command run in the pushed image of every platform (under QEMU where needed), e.g. `myapp --version`; it must exit 0. Split as a shell would; wrap in `sh -c '…'` for shell syntax.",
    ),
    input(
        "export",
        "",
        Kind::Choice(&["", "docker", "oci"]),
        "Also save the image as files: `docker` or `oci`: a tarball per platform loadable with `docker load`, a multi-platform OCI layout tarball, and `SHA256SUMS`.",
    ),
    input(
        "export-dir",
        "",
        TEXT,
        "Where `export` writes. Empty: `multiarch-export` under `RUNNER_TEMP` (or the working directory outside a workflow).",
    ),
    input("load", "false", Kind::Bool, "`true`: also load the image for the runner's own platform into the Docker daemon."),
    input("dry-run", "false", Kind::Bool, "`true`: print the plan (tags, platforms, buildx arguments) and touch nothing."),
];

/// One output, as `action.yml` declares it.
#[derive(Debug, Clone, Copy)]
pub struct OutputDef {
    pub name: &'static str,
    pub doc: &'static str,
}

pub const OUTPUTS: &[OutputDef] = &[
    OutputDef { name: "digest", doc: "Digest of the pushed image index (pullable as `image@digest`)." },
    OutputDef { name: "image", doc: "`<first image>@<digest>`: a pullable reference to exactly this build." },
    OutputDef { name: "tags", doc: "Full references that were pushed, one per line." },
    OutputDef {
        name: "platforms",
        doc: "JSON object: platform → its manifest digest, read back from the registry (attestations left out).",
    },
    OutputDef { name: "metadata", doc: "buildx's build metadata (JSON)." },
    OutputDef { name: "version", doc: "The main version computed from the ref, the event or `version`." },
    OutputDef { name: "labels", doc: "Labels applied to the image, `key=value` per line." },
    OutputDef { name: "annotations", doc: "Annotations applied, `level:key=value` per line." },
    OutputDef { name: "json", doc: "Everything above as one JSON object." },
];
