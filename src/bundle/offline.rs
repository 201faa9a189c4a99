//! The offline side of a bundle, from the command line of the same binary:
//! `bundle verify FILE`, `bundle load FILE` (into the local Docker daemon)
//! and `bundle push FILE --registry HOST[:PORT]`. Load and push check the
//! bundle first and refuse a damaged one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Arg, ArgAction, Command};
use futures_util::StreamExt as _;

use super::check::{check, describe};
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
        .subcommand(Command::new("verify").about("Check every checksum and the architecture of every binary").arg(file()))
        .subcommand(Command::new("load").about("Check the bundle, then load its images into the local Docker daemon").arg(file()))
        .subcommand(
            Command::new("push")
                .about("Check the bundle, then push every image, every platform, digests kept, into a registry")
                .arg(file())
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
        Some(("verify", m)) => verify(&file_arg(m)),
        Some(("load", m)) => runtime.block_on(load(&file_arg(m))),
        Some(("push", m)) => push_args(m).and_then(|(registry, insecure, credential)| {
            runtime.block_on(super::push::push(
                &file_arg(m),
                &registry,
                insecure,
                credential.as_ref(),
            ))
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

fn verify(file: &Path) -> Result<()> {
    let checked = check(file)?;
    print!("{}", describe(file, &checked));
    Ok(())
}

/// Checks the bundle, then streams it to the daemon's image load.
async fn load(file: &Path) -> Result<()> {
    let checked = tokio::task::spawn_blocking({
        let file = file.to_path_buf();
        move || check(&file)
    })
    .await??;
    print!("{}", describe(file, &checked));
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
