//! The action's log: plain lines locally; in a workflow, warnings and errors
//! as annotations, phases as collapsible groups, and other programs' output
//! (the build log, a smoke test, anything read from an image) between
//! `::stop-commands::` lines, so that none of it is obeyed as a command.

use std::io::Write as _;
use std::sync::{Mutex, PoisonError};

use crate::runner::command::{Annotation, GROUP_END, Level, fresh_token, group_start, resume_commands, stop_commands};

/// The token of the stop-commands region open now, if untrusted output is
/// being written; any line of our own closes it first.
static UNTRUSTED_REGION: Mutex<Option<String>> = Mutex::new(None);

/// An open log group: closed when dropped.
#[must_use = "the group closes when this is dropped"]
pub struct Group<'a> {
    log: &'a Log,
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        if self.log.in_workflow {
            self.log.line(GROUP_END);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Log {
    pub in_workflow: bool,
}

impl Log {
    /// A line of our own: commands in it are obeyed.
    fn line(&self, text: &str) {
        let mut region = UNTRUSTED_REGION.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = std::io::stdout().lock();
        if let Some(token) = region.take() {
            let _ = writeln!(out, "{}", resume_commands(&token));
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    pub fn info(&self, message: &str) {
        self.line(message);
    }

    /// A line of another program's output, passed through as it is; in a
    /// workflow, inside a stop-commands region, so no `::command::` in it is
    /// obeyed.
    pub fn raw(&self, line: &str) {
        let mut region = UNTRUSTED_REGION.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = std::io::stdout().lock();
        if self.in_workflow && region.is_none() {
            let token = fresh_token();
            let _ = writeln!(out, "{}", stop_commands(&token));
            *region = Some(token);
        }
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Several lines of another program's output (see [`Log::raw`]).
    pub fn raw_text(&self, text: &str) {
        for line in text.lines() {
            self.raw(line);
        }
    }

    pub fn warning(&self, message: &str) {
        self.annotation(Annotation::new(Level::Warning, message));
    }

    pub fn error(&self, message: &str) {
        self.annotation(Annotation::new(Level::Error, message));
    }

    pub fn annotation(&self, annotation: Annotation) {
        if self.in_workflow {
            self.line(&annotation.to_command());
        } else {
            let level = match annotation.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Notice => "notice",
            };
            let place = match (&annotation.file, annotation.line) {
                (Some(f), Some(l)) => format!("{f}:{l}: "),
                (Some(f), None) => format!("{f}: "),
                _ => String::new(),
            };
            self.line(&format!("{level}: {place}{}", annotation.message));
        }
    }

    /// Opens a log group that closes when the returned guard is dropped,
    /// whatever happens (an error, a cancelled future).
    pub fn open_group(&self, title: &str) -> Group<'_> {
        if self.in_workflow {
            self.line(&group_start(title));
        } else {
            self.line(&format!("== {title}"));
        }
        Group { log: self }
    }

    /// Runs `work` inside a log group, which closes whatever happens.
    pub async fn group<T>(&self, title: &str, work: impl std::future::Future<Output = T>) -> T {
        let _group = self.open_group(title);
        work.await
    }

    /// Masks secrets; the runner replaces them with `***` from then on.
    pub fn mask(&self, secret: &str) {
        if self.in_workflow {
            for line in crate::runner::command::mask_commands(secret) {
                self.line(&line);
            }
        }
    }
}
