//! The offline side of a bundle, from the command line of the same binary:
//! `bundle verify FILE`, `bundle load FILE` (into the local Docker daemon)
//! and `bundle push FILE --registry HOST[:PORT]`. Load and push check the
//! bundle first and refuse a damaged one. Given `--key` or `--trusted-root`
//! (with the signer's identity), each also checks every image's signatures,
//! with no network, and refuses a bundle whose signatures do not hold.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Arg, ArgAction, Command};
use futures_util::StreamExt as _;

use super::check::{Checked, check, describe};
use super::signatures::{self, Trust, TrustFlags};
use crate::names::{Credential, Secret, registry_host};

/// The `bundle verify|load|push` commands.
pub(crate) fn command() -> Command {
    let file = || {
        Arg::new("FILE")
            .required(true)
            .help("The bundle (a tarball written by `mode: bundle`), or the first part (or base name) of one in parts")
    };
    Command::new("bundle")
        .about("Check, load or push a bundle written by `mode: bundle`")
        .subcommand_required(true)
        .subcommand(
            Command::new("verify")
                .about("Check every checksum and the architecture of every binary, and with --key or --trusted-root every image's signatures")
                .arg(file())
                .args(trust_args()),
        )
        .subcommand(
            Command::new("load")
                .about("Check the bundle, then load its images into the local Docker daemon")
                .arg(file())
                .args(trust_args()),
        )
        .subcommand(
            Command::new("push")
                .about("Check the bundle, then push every image, every platform, digests kept, and its signatures into a registry")
                .arg(file())
                .args(trust_args())
                .arg(Arg::new("registry").long("registry").required(true).value_name("HOST[:PORT]").help("The registry to push into"))
                .arg(Arg::new("insecure").long("insecure").action(ArgAction::SetTrue).help("Reach the registry over plain HTTP"))
                .arg(Arg::new("username").long("username").value_name("NAME").help("Username for the registry"))
                .arg(
                    Arg::new("password-stdin")
                        .long("password-stdin")
                        .action(ArgAction::SetTrue)
                        .help("Read the password from standard input (it never appears in a command line)"),
                ),
        )
}

/// The flags that have the signatures checked, offline.
fn trust_args() -> [Arg; 5] {
    [
        Arg::new("key").long("key").value_name("FILE").help("Check every image's key-pair signatures with this public key (cosign.pub)"),
        Arg::new("trusted-root").long("trusted-root").value_name("FILE").help("Check every image's keyless signatures against this Sigstore trust root (trusted_root.json); needs the signer's identity and issuer"),
        Arg::new("certificate-identity").long("certificate-identity").value_name("IDENTITY").help("With --trusted-root: the identity the certificates must name, e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main"),
        Arg::new("certificate-identity-regexp").long("certificate-identity-regexp").value_name("REGEX").help("With --trusted-root: a regular expression the certificates' identity must match"),
        Arg::new("certificate-oidc-issuer").long("certificate-oidc-issuer").value_name("URL").help("With --trusted-root: the OIDC issuer the certificates must name, e.g. https://token.actions.githubusercontent.com"),
    ]
}

/// The trust flags, the files they name read.
fn trust_flags(matches: &clap::ArgMatches) -> Result<TrustFlags> {
    let text = |name: &str| matches.get_one::<String>(name).cloned();
    let read = |flag: &str, what: &str| -> Result<Option<String>> {
        let Some(path) = text(flag) else { return Ok(None) };
        std::fs::read_to_string(&path).map(Some).map_err(|e| {
            anyhow!("--{flag}: could not read `{path}` ({e}); give the path of {what}")
        })
    };
    Ok(TrustFlags {
        key: read("key", "the public key, cosign.pub")?,
        trusted_root: read("trusted-root", "the Sigstore instance's trusted_root.json")?,
        identity: text("certificate-identity"),
        identity_regexp: text("certificate-identity-regexp"),
        issuer: text("certificate-oidc-issuer"),
    })
}

/// Checks the signatures of a checked bundle as `flags` ask: the lines to
/// print; a signature that does not hold refuses the bundle, naming the
/// image.
pub(super) fn check_signatures(
    file: &Path,
    checked: &Checked,
    trust: Option<&Trust>,
) -> Result<String> {
    let Some(trust) = trust else {
        return Ok(signatures::unchecked_note(&checked.carried).unwrap_or_default());
    };
    let lines = signatures::check(&checked.images, &checked.documents, &checked.carried, trust)
        .with_context(|| format!("{} is refused", file.display()))?;
    Ok(format!("{}\nevery image's signatures verify\n", lines.join("\n")))
}

/// Runs `bundle verify|load|push` when the arguments ask for one of them;
/// None otherwise (`bundle --images …` is the mode, through the inputs).
pub fn run_if_asked(args: &[String]) -> Option<ExitCode> {
    let asked = args.get(1).is_some_and(|a| a == "bundle")
        && args.get(2).is_some_and(|a| matches!(a.as_str(), "verify" | "load" | "push"));
    if !asked {
        return None;
    }
    let matches = match command().try_get_matches_from(&args[1..]) {
        Ok(matches) => matches,
        Err(error) => {
            let _ = error.print();
            return Some(ExitCode::from(2));
        }
    };
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                return Some(fail(&anyhow!("could not start the async runtime: {error}")));
            }
        };
    let outcome = match matches.subcommand() {
        Some(("verify", m)) => trust_flags(m).and_then(|flags| verify(&file_arg(m), &flags)),
        Some(("load", m)) => {
            trust_flags(m).and_then(|flags| runtime.block_on(load(&file_arg(m), &flags)))
        }
        Some(("push", m)) => trust_flags(m).and_then(|flags| {
            push_args(m).and_then(|(registry, insecure, credential)| {
                runtime.block_on(super::push::push(
                    &file_arg(m),
                    &registry,
                    insecure,
                    credential.as_ref(),
                    &flags,
                ))
            })
        }),
        _ => Err(anyhow!("usage: multiarch-action bundle verify|load|push FILE")),
    };
    Some(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    })
}

fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

fn file_arg(matches: &clap::ArgMatches) -> PathBuf {
    PathBuf::from(matches.get_one::<String>("FILE").map(String::as_str).unwrap_or_default())
}

fn push_args(matches: &clap::ArgMatches) -> Result<(String, bool, Option<Credential>)> {
    let given = matches.get_one::<String>("registry").map(String::as_str).unwrap_or_default();
    let registry = registry_host("--registry", given)?;
    let credential = match (
        matches.get_one::<String>("username"),
        matches.get_flag("password-stdin"),
    ) {
        (None, false) => None,
        (Some(username), true) => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("could not read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            if password.is_empty() {
                bail!(
                    "--password-stdin: standard input held no password; pipe it in, e.g. `printf %s \"$PASSWORD\" | …`"
                );
            }
            Some(Credential {
                registry: registry.clone(),
                username: username.clone(),
                password: Secret::new(password),
            })
        }
        (Some(_), false) => bail!("--username needs --password-stdin, with the password piped in"),
        (None, true) => bail!("--password-stdin needs --username"),
    };
    Ok((registry, matches.get_flag("insecure"), credential))
}

fn verify(file: &Path, flags: &TrustFlags) -> Result<()> {
    // Flags that cannot be used fail before the bundle is read.
    let trust = signatures::trust(flags)?;
    let checked = check(file)?;
    print!("{}", describe(file, &checked));
    print!("{}", check_signatures(file, &checked, trust.as_ref())?);
    Ok(())
}

/// Checks the bundle (and its signatures, as asked), then streams it to the
/// daemon's image load. The daemon keeps no signatures: they stay in the
/// bundle, for `bundle push`.
async fn load(file: &Path, flags: &TrustFlags) -> Result<()> {
    let trust = signatures::trust(flags)?;
    let checked = tokio::task::spawn_blocking({
        let file = file.to_path_buf();
        move || check(&file)
    })
    .await??;
    print!("{}", describe(file, &checked));
    print!("{}", check_signatures(file, &checked, trust.as_ref())?);
    let docker = bollard::Docker::connect_with_defaults().map_err(|e| {
        anyhow!("could not reach the Docker daemon ({e}); start it, or set DOCKER_HOST")
    })?;
    // The file, or every part in order, as one stream.
    let body = checked.files.byte_stream(0, checked.files.total_size());
    let options =
        bollard::query_parameters::ImportImageOptionsBuilder::default().quiet(true).build();
    let mut progress = std::pin::pin!(docker.import_image_stream(options, body, None));
    while let Some(message) = progress.next().await {
        let message =
            message.map_err(|e| anyhow!("the Docker daemon refused {}: {e}", file.display()))?;
        if let Some(detail) = message.error_detail.and_then(|d| d.message) {
            bail!("the Docker daemon could not load {}: {detail}", file.display());
        }
        if let Some(line) = message.stream.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            println!("{line}");
        }
    }
    println!("loaded {} image(s) from {}", checked.images.len(), file.display());
    Ok(())
}
