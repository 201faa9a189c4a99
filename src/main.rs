//! Entry point: pick the front door, make the Plan, run it, and turn the
//! outcome into outputs, a job summary and an exit code.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use multiarch_action::cli::{self, Invocation};
use multiarch_action::inputs::RawInputs;
use multiarch_action::log::{Log, RunnerLayer};
use multiarch_action::pipeline::{self, Finished, Tools};
use multiarch_action::plan::{ContextLookups, Plan};
use multiarch_action::runner::{GithubContext, OutputFile, SummaryFile};
use multiarch_action::{locate_buildx, post, summary};

fn main() -> ExitCode {
    let env: HashMap<String, String> = std::env::vars().collect();
    let args: Vec<String> = std::env::args().collect();
    // `bundle verify|load|push FILE`: the offline side, no workflow around it.
    if let Some(code) = multiarch_action::run_bundle_command(&args) {
        return code;
    }
    let in_workflow = env.get("GITHUB_ACTIONS").is_some_and(|v| v == "true");
    let log = Log::new(in_workflow);
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let layer = tracing_subscriber::Layer::with_filter(
            RunnerLayer { log: log.clone() },
            tracing_subscriber::filter::LevelFilter::WARN,
        );
        tracing_subscriber::registry().with(layer).init();
    }
    if let Some(token) = env.get("ACTIONS_RUNTIME_TOKEN") {
        log.mask(token);
    }

    let raw = match cli::parse(&args, in_workflow) {
        Invocation::Workflow => RawInputs::from_env(&env),
        Invocation::Build(raw) => raw,
        Invocation::Post { run } => {
            let staged = env.get(post::STAGED_STATE_ENV).map(|s| post::staged_names(s));
            return post_step(
                run.or_else(|| env.get(post::STATE_ENV).cloned()),
                &staged.unwrap_or_default(),
                &log,
            );
        }
        Invocation::Print { text, code: 0 } => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Invocation::Print { text, code } => {
            eprint!("{text}");
            return ExitCode::from(code as u8);
        }
        Invocation::Usage(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };

    let run_name = post::new_run_name();
    // Saved first, so that the post step can clean up after a run killed
    // at any later point.
    if let Err(error) = post::save_run_name(&env, &run_name) {
        log.warning(&format!("{error:#}"));
    }
    match run(&raw, &env, &run_name, log.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The summary says what failed, including which tags were and
            // were not pushed; no success outputs are written.
            let summary = SummaryFile {
                path: env
                    .get("GITHUB_STEP_SUMMARY")
                    .filter(|p| !p.is_empty())
                    .map(std::path::PathBuf::from),
            };
            let _ = summary.append(&summary::render_failure(&error));
            fail(&log, &error)
        }
    }
}

fn fail(log: &Log, error: &anyhow::Error) -> ExitCode {
    log.error(&format!("{error:#}"));
    ExitCode::FAILURE
}

/// The post step: removes what the named run left; never fails the job
/// for what it cannot remove (it warns).
fn post_step(run: Option<String>, staged: &[String], log: &Log) -> ExitCode {
    let Some(run) = run.filter(|r| !r.is_empty()) else {
        log.info("post: the main step saved no run name, so it created nothing to clean up");
        return ExitCode::SUCCESS;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(
                log,
                &anyhow::Error::new(error).context("could not start the async runtime"),
            );
        }
    };
    match runtime.block_on(post::clean_up_after(&run, staged, log)) {
        Ok(removed) if removed.is_empty() => log.info(&format!("post: {run} left nothing behind")),
        Ok(removed) => log.info(&format!("post: removed what {run} left: {}", removed.join(", "))),
        Err(error) => return fail(log, &error),
    }
    ExitCode::SUCCESS
}

fn run(raw: &RawInputs, env: &HashMap<String, String>, run_name: &str, log: Log) -> Result<()> {
    // What this machine runs natively is asked before any thread starts.
    multiarch_action::platform::Machine::here();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let mut github = GithubContext::from_env(env)?;
    let lookups = ContextLookups::of(raw);
    if let Some(token) = &lookups.token {
        log.mask(token.expose());
    }
    runtime.block_on(multiarch_action::github::complete_context(&mut github, &lookups, &log));
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
        "multiarch-action {}: {} (run {run_name})",
        env!("CARGO_PKG_VERSION"),
        plan.headline()
    ));
    for warning in plan.warnings() {
        log.warning(warning);
    }
    let tools = Tools {
        buildx: match plan.needs_buildx() {
            true => Some(locate_buildx(env.get("PATH").map(String::as_str))?),
            false => None,
        },
        run_name: run_name.to_string(),
        user_buildx_config: user_buildx_config(env),
        layer_scans: multiarch_action::ScanCache::of_user(env),
        repository: github.repository.clone(),
        post_state: env.get("GITHUB_STATE").filter(|p| !p.is_empty()).map(Into::into),
    };
    let finished = runtime.block_on(pipeline::execute(&plan, &tools, &log, shutdown_signal()))?;
    let Finished::Report(report) = finished else { return Ok(()) };
    log.info(&format!(
        "peak memory of the action: {:.0} MB (buildx aside)",
        peak_resident_bytes() as f64 / 1e6
    ));
    let outputs = summary::outputs(&plan, &report);
    OutputFile { path: github.output_path.clone() }.write(&outputs)?;
    SummaryFile { path: github.summary_path.clone() }.append(&summary::render(&plan, &report))?;
    if let Some(line) = summary::closing_line(&plan, &report) {
        log.info(&line);
    }
    Ok(())
}

/// The most memory this process has held resident so far.
fn peak_resident_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; on failure it stays zeroed.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    // Linux reports kilobytes.
    usage.ru_maxrss.max(0) as u64 * 1024
}

/// Where the user's buildx keeps its builders, as buildx itself looks.
fn user_buildx_config(env: &HashMap<String, String>) -> Option<std::path::PathBuf> {
    let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    var("BUILDX_CONFIG")
        .or_else(|| var("DOCKER_CONFIG").map(|d| d.join("buildx")))
        .or_else(|| var("HOME").map(|h| h.join(".docker/buildx")))
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
