//! The action's post step, and `multiarch-action post`: removes what a run
//! that was killed before its own cleanup left behind. The main step saves
//! its run name in the runner's state (`GITHUB_STATE`) before anything else;
//! the post step, a new container of the same image, reads it back as
//! `STATE_run` and removes, by that name, the run's containers, its
//! `docker-container` builder (containers and state volume, which live in
//! the daemon) and, where it runs on the same machine, its private Docker
//! config directories (a killed container's `/tmp` goes with it).
//!
//! When the runner keeps state (`GITHUB_STATE`), a run leaves its clean-up
//! in the daemon to this step: it also saves the staging names its build
//! leaves in the daemon's image store (`STATE_staged`), which this step
//! removes. Removing an image name takes the daemon seconds when it holds
//! hundreds of images; done here, at the end of the job, the user's step
//! does not wait for it.

use anyhow::{Result, bail};

use crate::docker::Daemon;
use crate::log::Log;
use crate::outside::RUN_LABEL;
use crate::runner::OutputFile;

/// What the runner calls the saved run name in the post step.
pub const STATE_ENV: &str = "STATE_run";

/// The prefix of every run name, and so of everything a run creates.
pub const RUN_PREFIX: &str = "multiarch-action-";

/// A run name no other run on the same daemon has (inside the action's
/// container the process id is always 1, so it cannot serve).
pub fn new_run_name() -> String {
    let bits: u64 = rand::random();
    format!("{RUN_PREFIX}{:012x}", bits & 0xffff_ffff_ffff)
}

/// Saves the run name for the post step (`run=<name>` in `GITHUB_STATE`);
/// nothing outside a workflow.
pub fn save_run_name(env: &std::collections::HashMap<String, String>, run: &str) -> Result<()> {
    let path = env.get("GITHUB_STATE").filter(|p| !p.is_empty()).map(std::path::PathBuf::from);
    OutputFile { path }.write(&[("run".to_string(), run.to_string())])
}

/// What the runner calls the saved staging names in the post step.
pub const STAGED_STATE_ENV: &str = "STATE_staged";

/// Saves the staging names a run's build leaves in the daemon
/// (`staged=<one per line>` in the runner's state file `state`).
pub(crate) fn save_staged(state: &std::path::Path, staged: &[String]) -> Result<()> {
    let file = OutputFile { path: Some(state.to_path_buf()) };
    file.write(&[("staged".to_string(), staged.join("\n"))])
}

/// The staging names of `saved` (as [`save_staged`] wrote them) that this
/// action makes: a name ending in another tag is never removed.
pub fn staged_names(saved: &str) -> Vec<String> {
    let suffix = format!(":{}", crate::plan::STAGING_TAG);
    saved
        .lines()
        .map(str::trim)
        .filter(|name| {
            name.strip_suffix(&suffix).is_some_and(|image| {
                !image.is_empty()
                    && !image.contains(['@', ' '])
                    && crate::reference::parse(name).is_ok()
            })
        })
        .map(str::to_string)
        .collect()
}

/// Whether `run` is a name this action gives (nothing else is removed).
pub fn is_run_name(run: &str) -> bool {
    run.strip_prefix(RUN_PREFIX).is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// Removes what the run of this name left, and the staging names `staged`
/// (see [`staged_names`]); returns what it removed.
pub async fn clean_up_after(run: &str, staged: &[String], log: &Log) -> Result<Vec<String>> {
    if !is_run_name(run) {
        bail!(
            "post: `{run}` is not a run name of this action (they start with `{RUN_PREFIX}`); give the name the run's log shows"
        );
    }
    let daemon = Daemon::connect()?;
    let names = futures_util::future::join_all(staged.iter().map(|name| {
        let daemon = daemon.clone();
        async move { daemon.remove_image_name(name).await.then(|| name.clone()) }
    }));
    let (left, names) = tokio::join!(daemon.remove_left_over(RUN_LABEL, run), names);
    let mut removed = left?;
    removed.extend(names.into_iter().flatten());
    let temp = std::env::temp_dir();
    for entry in std::fs::read_dir(&temp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{run}-")) && entry.path().is_dir() {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => removed.push(entry.path().display().to_string()),
                Err(error) => log.warning(&format!(
                    "post: could not remove {}: {error}",
                    entry.path().display()
                )),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_recognised_and_unique() {
        let (a, b) = (new_run_name(), new_run_name());
        assert_ne!(a, b);
        assert!(is_run_name(&a), "{a}");
        for (name, ok) in [
            ("multiarch-action-1a2b", true),
            ("multiarch-action-", false),
            ("other-1", false),
            ("multiarch-action-x/..", false),
        ] {
            assert_eq!(is_run_name(name), ok, "{name}");
        }
    }

    #[test]
    fn only_staging_names_are_removed() {
        let saved = "registry.example/acme/app:multiarch-action-unverified\n\
            localhost:5000/a/b:multiarch-action-unverified\n\
            acme/app:latest\n\
            :multiarch-action-unverified\n\
            acme/app@sha256:00:multiarch-action-unverified\n\
            Not/Valid:multiarch-action-unverified\n";
        assert_eq!(
            staged_names(saved),
            [
                "registry.example/acme/app:multiarch-action-unverified",
                "localhost:5000/a/b:multiarch-action-unverified"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let names = staged_names(saved);
        save_staged(&state, &names).unwrap();
        let text = std::fs::read_to_string(&state).unwrap();
        let mut lines = text.lines();
        let (name, delimiter) = lines.next().unwrap().split_once("<<").unwrap();
        assert_eq!(name, "staged");
        let value: Vec<&str> = lines.take_while(|l| *l != delimiter).collect();
        assert_eq!(staged_names(&value.join("\n")), names);
    }

    #[test]
    fn the_run_name_is_saved_as_runner_state() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state");
        let env = [("GITHUB_STATE".to_string(), file.display().to_string())].into();
        save_run_name(&env, "multiarch-action-abc").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines();
        let (name, delimiter) = lines.next().unwrap().split_once("<<").unwrap();
        assert_eq!(
            (name, lines.next(), lines.next()),
            ("run", Some("multiarch-action-abc"), Some(delimiter))
        );
        save_run_name(&Default::default(), "multiarch-action-abc").unwrap();
    }
}
