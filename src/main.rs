//! Entry point: pick the front door, make the Plan, run it, and turn the
//! outcome into outputs, a job summary and an exit code.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use multiarch_action::inputs::RawInputs;
use multiarch_action::log::Log;
use multiarch_action::pipeline::{self, Tools};
use multiarch_action::plan::Plan;
use multiarch_action::runner::{GithubContext, OutputFile, SummaryFile};
use multiarch_action::{buildx, cli, summary};

fn main() -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = multiarch_action::bundle::offline::run_if_asked(&args) {
        return code;
    }
    let in_workflow = args.len() <= 1;
    let log = Log { in_workflow };

    let raw = if in_workflow {
        RawInputs::from_env(&env)
    } else {
        match cli::raw_inputs_from_args(&args) {
            Ok(raw) => raw,
            Err(error) => return fail(&log, &error),
        }
    };
    if let Some(token) = env.get("ACTIONS_RUNTIME_TOKEN") {
        log.mask(token);
    }

    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::WARN).with_target(false).init();

    match run(&raw, &env, log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The summary says what failed, including which tags were and
            // were not pushed; no success outputs are written.
            let summary = SummaryFile { path: env.get("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()).map(std::path::PathBuf::from) };
            let _ = summary.append(&summary::render_failure(&format!("{error:#}")));
            fail(&log, &error)
        }
    }
}

fn fail(log: &Log, error: &anyhow::Error) -> ExitCode {
    log.error(&format!("{error:#}"));
    ExitCode::FAILURE
}

fn run(raw: &RawInputs, env: &HashMap<String, String>, log: Log) -> Result<()> {
    // What this machine runs natively is asked before any thread starts.
    multiarch_action::platform::Machine::here();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("could not start the async runtime")?;
    let mut github = GithubContext::from_env(env)?;
    if let Some(token) = raw.text("github-token") {
        log.mask(token);
    }
    runtime.block_on(multiarch_action::github::complete_context(&mut github, raw, &log));
    // Secrets are masked before anything else is printed: the parsed ones,
    // or, when the inputs do not parse, every secret input as given.
    let plan = match Plan::new(raw, &github) {
        Ok(plan) => plan,
        Err(error) => {
            raw.unparsed_secrets().iter().for_each(|secret| log.mask(secret));
            return Err(error);
        }
    };
    plan.secrets().iter().for_each(|secret| log.mask(secret));
    let workdir = std::env::current_dir().context("could not read the working directory")?;
    plan.check_files(&workdir)?;
    log.info(&format!(
        "multiarch-action {}: {} for {}",
        env!("CARGO_PKG_VERSION"),
        plan.images.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "),
        multiarch_action::platform::join(&plan.platforms)
    ));
    for warning in &plan.warnings {
        log.warning(warning);
    }
    if plan.dry_run {
        log.info(&runtime.block_on(pipeline::dry_run(&plan, &log)));
        return Ok(());
    }
    let tools = Tools {
        // A bundle reads registries only; it needs no buildx.
        buildx: match plan.mode {
            multiarch_action::plan::Mode::Bundle(_) => std::path::PathBuf::new(),
            _ => buildx::locate(env.get("PATH").map(String::as_str))?,
        },
        run_name: format!("multiarch-action-{}", std::process::id()),
    };

    let report = runtime.block_on(pipeline::run(&plan, &tools, &log, shutdown_signal()))?;

    let outputs = summary::outputs(&plan, &report);
    OutputFile { path: github.output_path.clone() }.write(&outputs)?;
    SummaryFile { path: github.summary_path.clone() }.append(&summary::render(&plan, &report))?;
    match (&report.digest, &report.bundle) {
        (Some(digest), _) => log.info(&format!("pushed {}", plan.images[0].with_digest(digest))),
        (None, Some(_)) => {}
        (None, None) => log.info(&format!("built, not pushed ({})", plan.push_reason)),
    }
    Ok(())
}

/// Resolves on SIGTERM (how the runner cancels a job) or SIGINT.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
