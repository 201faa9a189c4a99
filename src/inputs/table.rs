//! The rows of the input and output tables: every input's name, default,
//! kind and documentation, in the order `action.yml` and the README list
//! them.

use super::choices::{
    CallWord, Choice as _, CompressionWord, CrossCompilePolicy, Driver, ExportWord, FloatingPolicy,
    ModeWord, NetworkWord, SignWord,
};
use super::{Group, InputDef, Kind};

pub(crate) const DEFAULT_QEMU_IMAGE: &str = "tonistiigi/binfmt:qemu-v10.2.3-68";
const DEFAULT_BUILDKIT_IMAGE: &str = "moby/buildkit:buildx-stable-1";

const TEXT: Kind = Kind::Text;
const LINES: Kind = Kind::List { commas: false };
const LIST_COMMAS: Kind = Kind::List { commas: true };

const fn input(
    group: Group,
    name: &'static str,
    default: &'static str,
    kind: Kind,
    doc: &'static str,
) -> InputDef {
    InputDef { name, default, kind, required: false, secret: false, group, doc }
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
        Group::Image,
        "images",
        "",
        LIST_COMMAS,
        "Image names to push, one per line or comma-separated (`ghcr.io/acme/app`). Names are lowercased; give no tag here. For a deployment (`compose-file` with `mode: build`): where every service is pushed, one line per registry: a repository prefix (`ghcr.io/acme` pushes service `api` as `ghcr.io/acme/api`, named by the repository part of its `image:`, else by the service), or a template with `{{name}}` (that name) or `{{service}}` (the service's own name), e.g. `ghcr.io/acme/app-{{service}}`. For `mode: bundle`: the image references to bundle, one per line (`ghcr.io/acme/db:1.4`); a line without a tag (`ghcr.io/acme`) is where Compose services built without `image:` are pushed.",
    )),
    input(
        Group::Image,
        "tags",
        "",
        LINES,
        "Tag rules, one per line, in docker/metadata-action syntax (`type=semver,pattern={{version}}`, `type=ref,event=branch`, `type=sha`, `type=raw,value=x`; a bare line is a raw tag). Empty: `{{version}}`, `{{major}}.{{minor}}`, `{{major}}` on releases, the branch name, `pr-N`, and `nightly` on schedule.",
    ),
    input(
        Group::Image,
        "flavor",
        "",
        LINES,
        "Tag flavor lines: `latest=auto|true|false`, `prefix=`, `suffix=` (with `,onlatest=true`).",
    ),
    input(
        Group::Image,
        "sep-tags",
        "",
        TEXT,
        "Separator of the `tags` and `tag-names` outputs. Empty: a newline.",
    ),
    input(
        Group::Image,
        "sep-labels",
        "",
        TEXT,
        "Separator of the `labels` output. Empty: a newline.",
    ),
    input(
        Group::Image,
        "version",
        "",
        TEXT,
        "Version for runs that are not on a tag (e.g. a workflow_dispatch input); the semver rules treat it as if the ref were that tag.",
    ),
    input(
        Group::Image,
        "floating-tags",
        "guard",
        Kind::Choice(FloatingPolicy::WORDS),
        "`guard`: push `latest`, `{{major}}` and `{{major}}.{{minor}}` only when this is the highest release they cover in the registry; `always`: push them regardless.",
    ),
    input(
        Group::Image,
        "immutable-tags",
        "false",
        Kind::Bool,
        "`true`: a version tag (a full version such as `1.2.3`, `v1.2.3`, `1.2.3-rc.1`; not a floating, branch or `sha-` tag) that already exists in a registry is never moved to another image: the run fails before building, naming the tag and the digest it holds; a build that may give that very image (same labels: a reproducible re-run) is pushed untagged and tagged only if its digest is the same.",
    ),
    input(
        Group::Build,
        "platforms",
        "linux/amd64,linux/arm64",
        LIST_COMMAS,
        "Target platforms, comma- or newline-separated (`linux/amd64`, `linux/arm64`, `linux/arm/v7`, …).",
    ),
    input(Group::Build, "context", ".", TEXT, "Build context directory."),
    input(
        Group::Build,
        "file",
        "",
        TEXT,
        "Path to the Dockerfile. Empty: `Dockerfile` in the context.",
    ),
    input(Group::Build, "target", "", TEXT, "Dockerfile stage to build."),
    input(Group::Build, "build-args", "", LINES, "Build arguments, `NAME=value`, one per line."),
    input(
        Group::Build,
        "labels",
        "",
        LINES,
        "Image labels, `key=value`, one per line; they override the generated OCI labels.",
    ),
    input(
        Group::Build,
        "annotations",
        "",
        LINES,
        "Annotations, `key=value` or `manifest:key=value` / `index:key=value`, one per line; they override the generated ones.",
    ),
    input(
        Group::Registry,
        "push",
        "auto",
        Kind::BoolOr("auto"),
        "`auto`: push except on pull_request events; `true`; `false`.",
    ),
    input(
        Group::Registry,
        "registry",
        "",
        TEXT,
        "Registry to log in to. Empty: the registry of the first image when `username` is given.",
    ),
    input(Group::Registry, "username", "", TEXT, "Username for `registry`."),
    secret(input(
        Group::Registry,
        "password",
        "",
        TEXT,
        "Password or token for `registry`. Masked; written only to a temporary Docker config outside the workspace.",
    )),
    secret(input(
        Group::Registry,
        "registry-auth",
        "",
        Kind::Yaml,
        "More registries to log in to: a YAML list of `registry`, `username`, `password`. A `docker.io` entry with no image there is used for pulls (base images, BuildKit), avoiding anonymous limits. Passwords are masked.",
    )),
    input(
        Group::Build,
        "cache-from",
        "",
        LINES,
        "Cache sources, one per line (`type=registry,ref=…`, `type=gha`, `type=local,src=…`).",
    ),
    input(
        Group::Build,
        "cache-to",
        "",
        LINES,
        "Cache exports, one per line (`type=gha,mode=max`, …). A failed cache export is a warning, not a failed build.",
    ),
    secret(input(
        Group::Build,
        "secrets",
        "",
        TEXT,
        "Build secrets, `ID=value` per line, read as docker/build-push-action reads them (CSV): quote a whole entry to let it span lines or hold quotes, `\"\"` inside being one `\"` (`\"JSON={\"\"a\"\":1}\"`); an entry with no id or no value is left out with a warning. Mounted with `RUN --mount=type=secret,id=ID`. Masked; passed to buildx through its environment, never on a command line or in the image history.",
    )),
    input(
        Group::Build,
        "secret-files",
        "",
        LINES,
        "Build secrets from files, `ID=path` per line; a line with no id or no path is left out with a warning.",
    ),
    input(
        Group::Build,
        "secret-envs",
        "",
        LIST_COMMAS,
        "Build secrets from environment variables, `ID=VARIABLE`, one per line or comma-separated; an item with no id or no variable is left out with a warning.",
    ),
    input(
        Group::Build,
        "ssh",
        "",
        LINES,
        "SSH agent sockets or keys for `RUN --mount=type=ssh`, one per line (`default`, `id=path`).",
    ),
    input(
        Group::Build,
        "build-contexts",
        "",
        LINES,
        "Additional build contexts, `name=path` or `name=docker-image://…`, one per line.",
    ),
    input(
        Group::Build,
        "compression",
        "",
        Kind::Choice(CompressionWord::WORDS),
        "Compression of the pushed layers: `gzip`, `zstd` or `estargz`; empty keeps BuildKit's default (gzip). Layers the build reuses keep theirs.",
    ),
    input(
        Group::Build,
        "compression-level",
        "",
        TEXT,
        "Compression level: 0–9 for gzip and estargz, 0–22 for zstd; empty: the compressor's default.",
    ),
    input(
        Group::Build,
        "network",
        "",
        Kind::Choice(NetworkWord::WORDS),
        "Network mode for RUN steps: `default`, `none`, `host`.",
    ),
    input(
        Group::Build,
        "cross-compile",
        "false",
        Kind::Choice(CrossCompilePolicy::WORDS),
        "`auto`: a Go stage that would compile under QEMU for another platform is built from a cross-compiling copy of the Dockerfile (the stage on `$BUILDPLATFORM`, `GOOS`/`GOARCH`/`GOARM` on each `go build`), written in the action's temporary directory; it is used only if it builds and the architecture scan finds no binary of another architecture, else the Dockerfile is built as written, with the reason. The changes are logged and shown as a diff in the job summary. Your Dockerfile is never changed. `false`: build it as written.",
    ),
    input(Group::Build, "no-cache", "false", Kind::Bool, "`true`: build without the build cache."),
    input(
        Group::Build,
        "no-cache-filters",
        "",
        LIST_COMMAS,
        "Stages to build without cache, comma- or newline-separated.",
    ),
    input(Group::Build, "pull", "false", Kind::Bool, "`true`: always pull newer base images."),
    input(Group::Build, "shm-size", "", TEXT, "Size of /dev/shm for RUN steps (e.g. `2g`)."),
    input(
        Group::Build,
        "ulimit",
        "",
        LINES,
        "Ulimits for RUN steps, one per line (`nofile=1024:1024`).",
    ),
    input(
        Group::Build,
        "add-hosts",
        "",
        LIST_COMMAS,
        "Extra hosts for RUN steps, `host:ip`, comma- or newline-separated.",
    ),
    input(
        Group::Build,
        "allow",
        "",
        LIST_COMMAS,
        "Extra privileges: `network.host`, `security.insecure`, comma- or newline-separated.",
    ),
    input(
        Group::Build,
        "outputs",
        "",
        LINES,
        "Extra buildx outputs, one per line (`type=local,dest=out`); only with `push: false`.",
    ),
    input(
        Group::Build,
        "provenance",
        "",
        TEXT,
        "Provenance attestation, as docker/build-push-action sets it: empty adds `mode=max` for a public repository and `mode=min` for a private one, with the workflow run as `builder-id` (outside a workflow, or with `BUILDX_NO_DEFAULT_ATTESTATIONS=1`, BuildKit's default); `true` or attributes (`mode=max`) get that `builder-id` added; `false` turns it off.",
    ),
    input(
        Group::Build,
        "sbom",
        "",
        TEXT,
        "SBOM attestation: `true`, `false`, or generator options.",
    ),
    input(
        Group::Build,
        "attests",
        "",
        LINES,
        "Attestations, one per line (`type=sbom,generator=…`); `provenance` and `sbom` win over a line of the same type, and a provenance line stands in for the default one.",
    ),
    input(
        Group::Build,
        "cgroup-parent",
        "",
        TEXT,
        "Parent cgroup for RUN steps (buildx `--cgroup-parent`).",
    ),
    input(
        Group::Checks,
        "call",
        "build",
        Kind::Choice(CallWord::WORDS),
        "`build`: build (and push); `check`: only run BuildKit's build checks on the Dockerfile and print what they find (a failed check fails the step), building and pushing nothing (needs buildx 0.15 or later).",
    ),
    input(
        Group::Builder,
        "driver",
        "auto",
        Kind::Choice(Driver::WORDS),
        "Builder: `auto` (the daemon's own BuildKit when it can build every platform, else `docker-container`), `docker`, `docker-container`.",
    ),
    input(
        Group::Builder,
        "builder",
        "",
        TEXT,
        "An existing buildx builder to build with, by name (`docker buildx ls`), instead of choosing or creating one; it is neither configured nor removed. Excludes `driver` and the other builder inputs.",
    ),
    input(
        Group::Builder,
        "buildkit-image",
        DEFAULT_BUILDKIT_IMAGE,
        TEXT,
        "BuildKit image for a `docker-container` builder.",
    ),
    input(
        Group::Builder,
        "buildkitd-config",
        "",
        TEXT,
        "A buildkitd.toml file for a `docker-container` builder.",
    ),
    input(
        Group::Builder,
        "buildkitd-config-inline",
        "",
        TEXT,
        "buildkitd.toml content for a `docker-container` builder (registry mirrors, private or plain-HTTP registries).",
    ),
    input(
        Group::Builder,
        "driver-opts",
        "",
        LINES,
        "Driver options for a `docker-container` builder, one per line (`image=…`, `network=host`, `env.NAME=value`).",
    ),
    input(
        Group::Builder,
        "buildkitd-flags",
        "",
        TEXT,
        "Flags for buildkitd in a `docker-container` builder.",
    ),
    input(
        Group::Builder,
        "append",
        "",
        Kind::Yaml,
        "Extra builder nodes, a YAML list of `name`, `endpoint` (ssh:// or tcp://), `platforms`, `driver-opts`: one builder spanning native machines.",
    ),
    input(
        Group::Builder,
        "qemu",
        "auto",
        Kind::BoolOr("auto"),
        "`auto`: install QEMU emulators only for platforms the builder cannot run yet; `true`: install for every non-native platform; `false`: never.",
    ),
    input(
        Group::Builder,
        "qemu-image",
        DEFAULT_QEMU_IMAGE,
        TEXT,
        "Installer image for QEMU emulators (speaks tonistiigi/binfmt's interface).",
    ),
    input(
        Group::Registry,
        "insecure-registries",
        "",
        LIST_COMMAS,
        "Registries reached over plain HTTP (`host:port`), comma- or newline-separated.",
    ),
    input(
        Group::NativeRunners,
        "mode",
        "build",
        Kind::Choice(ModeWord::WORDS),
        "`build`: build every platform and push. `digest`: build this runner's platform (or the one in `platforms`) and push it by digest, untagged, writing the digest to `digests-dir` for a later `merge`. `merge`: combine the digests of `digest` runs into one tagged multi-platform image. `bundle`: check that every image of a deployment (`images` as references, and `compose-file`) offers `platforms`, and write them all into one OCI layout tarball (`bundle`) for machines without a registry.",
    ),
    input(
        Group::Bundle,
        "compose-file",
        "",
        TEXT,
        "A Compose file. With `mode: build`, a deployment: every service with `build:` (`context`, `dockerfile`, `args` with `${VAR:-default}` from the environment, `target`, `platforms`) is built for its own `platform:`/`build: platforms:` or `platforms`, pushed to every `images` line, verified, and tagged with the same tags; no service is tagged unless every one was built and verified. For `mode: bundle`: its services' `image:` and `platform:` are bundled, after the references in `images`; services with `build:` are built for `platforms`, pushed, then bundled.",
    ),
    input(
        Group::Bundle,
        "services",
        "",
        LIST_COMMAS,
        "For a deployment (`compose-file` with `mode: build`): the services to build, one per line or comma-separated; empty builds every service with `build:`.",
    ),
    input(
        Group::Bundle,
        "audit",
        "true",
        Kind::BoolOr("warn"),
        "For `mode: bundle`: an image that lacks a platform of `platforms` fails the run before anything is written (`true`), is left out with a warning (`warn`), or is not checked (`false`).",
    ),
    input(
        Group::Bundle,
        "bundle",
        "",
        TEXT,
        "For `mode: bundle`: the tarball to write. Empty: `bundle.tar` under `RUNNER_TEMP` (or the working directory outside a workflow).",
    ),
    input(
        Group::Bundle,
        "bundle-split",
        "",
        TEXT,
        "For `mode: bundle`: write the tarball as parts of at most this size, for removable media: `2g`, `700m`, `512k` (binary units: 1k = 1024 bytes). The parts are `NAME.part-001`, `NAME.part-002`, …, with `NAME.SHA256SUMS` listing their checksums; `bundle verify|load|push` take the first part (or `NAME`) and read them in order. Empty: one file.",
    ),
    input(
        Group::Bundle,
        "bundle-trusted-root",
        "",
        TEXT,
        "For `mode: bundle`: a Sigstore trust root (`trusted_root.json`, the file `--trusted-root` reads) to carry in the bundle beside the images' signatures, for machines that cannot fetch it. Every image's signatures and attestations are carried whether or not this is given. Empty: none.",
    ),
    input(
        Group::NativeRunners,
        "digests",
        "",
        LIST_COMMAS,
        "For `mode: merge`: the digests to combine, one per line. Empty: every file in `digests-dir`.",
    ),
    input(
        Group::NativeRunners,
        "digests-dir",
        "",
        TEXT,
        "Where `mode: digest` writes, and `mode: merge` reads, one file per platform holding its digest. Empty: `digests` under `RUNNER_TEMP`.",
    ),
    secret(input(
        Group::Files,
        "github-token",
        "",
        TEXT,
        "A token for GitHub's API (`secrets.GITHUB_TOKEN`), used by `release-notes`, and to read the default branch and the commit's date when the event payload lacks them. Masked.",
    )),
    input(
        Group::Files,
        "release-notes",
        "false",
        Kind::Bool,
        "`true`: on a `release` event, add a \"Container image\" section (pullable digest, tags, platforms) to the release's notes; a re-run replaces it. Needs `github-token` with `contents: write`.",
    ),
    input(
        Group::Checks,
        "preflight",
        "true",
        Kind::BoolOr("warn"),
        "Before building, check every base image of the Dockerfile offers every platform it is needed for, and lint the Dockerfile: `true` fails on a missing platform, `warn` only warns, `false` skips.",
    ),
    input(
        Group::Checks,
        "verify",
        "true",
        Kind::BoolOr("warn"),
        "After pushing, check every tag resolves to the digest, every platform is in the index with a matching config, and no binary of another architecture is in a platform's layers: `true`, `warn`, `false`. A layer scanned before on the same machine (kept by digest under `~/.cache/multiarch-action`) is not read again.",
    ),
    input(
        Group::Checks,
        "smoke-test",
        "",
        TEXT,
        "A command run in the pushed image of every platform (under QEMU where needed), e.g. `myapp --version`; it must exit 0. Split as a shell would; wrap in `sh -c '…'` for shell syntax.",
    ),
    input(
        Group::Signing,
        "sign",
        "false",
        Kind::Choice(SignWord::WORDS),
        "Sign the pushed image (the index and every manifest in it) once it is verified and before any tag is set, then check the signatures: `key` with `sign-key`, in cosign's format (`cosign verify --key`), BuildKit's provenance and SBOM attested about each platform image in cosign's attestation format (`cosign verify-attestation --key`); `keyless` with the workflow's identity (needs `permissions: id-token: write`): a short-lived certificate from `fulcio-url`, each signature logged in `rekor-url` (and timestamped by `tsa-url`; a private repository's only timestamped, unless it names its own log), stored as Sigstore bundles that refer to what they sign (`cosign verify-attestation --new-bundle-format`), BuildKit's provenance and SBOM signed again about each platform image; `false`: no signature. The job summary gives the commands that verify them.",
    ),
    secret(input(
        Group::Signing,
        "sign-key",
        "",
        TEXT,
        "For `sign: key`: the private key, PEM, as `cosign generate-key-pair` writes it (`secrets.COSIGN_PRIVATE_KEY`). Masked; never written to a file.",
    )),
    secret(input(
        Group::Signing,
        "sign-key-password",
        "",
        TEXT,
        "The password of `sign-key` (`secrets.COSIGN_PASSWORD`). Masked.",
    )),
    input(
        Group::Signing,
        "fulcio-url",
        "",
        TEXT,
        "For `sign: keyless`: the Fulcio certificate authority. Empty: Sigstore's public-good instance, `https://fulcio.sigstore.dev`.",
    ),
    input(
        Group::Signing,
        "rekor-url",
        "",
        TEXT,
        "For `sign: keyless`: the Rekor transparency log. Empty: `https://rekor.sigstore.dev` for a public repository. A private one (as the event payload says) is never logged in the public log: empty, its signatures carry a signed timestamp from `tsa-url` instead of a log entry (verify with `--insecure-ignore-tlog --use-signed-timestamps`, as the job summary shows); give your own Rekor here to log them there.",
    ),
    input(
        Group::Signing,
        "tsa-url",
        "",
        TEXT,
        "For `sign: keyless`: an RFC 3161 timestamp authority that also timestamps each signature. Empty: none for a public repository, `https://timestamp.sigstore.dev/api/v1/timestamp` for a private one.",
    ),
    input(
        Group::Files,
        "export",
        "",
        Kind::Choice(ExportWord::WORDS),
        "Also save the image as files: `docker` or `oci`: a tarball per platform loadable with `docker load`, a multi-platform OCI layout tarball, and `SHA256SUMS`.",
    ),
    input(
        Group::Files,
        "export-dir",
        "",
        TEXT,
        "Where `export` writes. Empty: `multiarch-export` under `RUNNER_TEMP` (or the working directory outside a workflow).",
    ),
    input(
        Group::Files,
        "load",
        "false",
        Kind::Bool,
        "`true`: also load the image for the runner's own platform into the Docker daemon.",
    ),
    input(
        Group::Checks,
        "dry-run",
        "false",
        Kind::Bool,
        "`true`: print the plan (tags, platforms, buildx arguments) and touch nothing.",
    ),
];

/// One output, as `action.yml` declares it.
#[derive(Debug, Clone, Copy)]
pub struct OutputDef {
    pub name: &'static str,
    pub doc: &'static str,
}

pub const OUTPUTS: &[OutputDef] = &[
    OutputDef {
        name: "digest",
        doc: "Digest of the pushed image index (pullable as `image@digest`).",
    },
    OutputDef {
        name: "imageid",
        doc: "Image ID, as docker/build-push-action sets it: the digest of the image's config for one platform, of the pushed index (or manifest) for several.",
    },
    OutputDef {
        name: "image",
        doc: "`<first image>@<digest>`: a pullable reference to exactly this build.",
    },
    OutputDef {
        name: "tags",
        doc: "Full references that were pushed, one per line (or `sep-tags` apart).",
    },
    OutputDef {
        name: "tag-names",
        doc: "The tags that were pushed, without the image name, one per line (or `sep-tags` apart).",
    },
    OutputDef {
        name: "platforms",
        doc: "JSON object: platform → its manifest digest, read back from the registry (attestations left out).",
    },
    OutputDef { name: "metadata", doc: "buildx's build metadata (JSON)." },
    OutputDef {
        name: "version",
        doc: "The main version computed from the ref, the event or `version`.",
    },
    OutputDef {
        name: "labels",
        doc: "Labels applied to the image, `key=value` per line (or `sep-labels` apart).",
    },
    OutputDef { name: "annotations", doc: "Annotations applied, `level:key=value` per line." },
    OutputDef {
        name: "bundle",
        doc: "For `mode: bundle`: the path of the bundle written (with `bundle-split`, its first part).",
    },
    OutputDef {
        name: "bundle-files",
        doc: "For `mode: bundle`: every file to carry, one per line: the bundle, or its parts in order then `NAME.SHA256SUMS`.",
    },
    OutputDef { name: "json", doc: "Everything above as one JSON object." },
];
