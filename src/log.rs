//! The action's log: plain lines locally; in a workflow, warnings and errors
//! as annotations and phases as collapsible groups.

use std::io::Write as _;

use crate::runner::command::{Annotation, GROUP_END, Level, group_start};

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
    fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    pub fn info(&self, message: &str) {
        self.line(message);
    }

    /// A line of another program's output, passed through as it is.
    pub fn raw(&self, line: &str) {
        // A stray `::` command in a build log must not be obeyed.
        if self.in_workflow && line.trim_start().starts_with("::") {
            self.line(&format!(" {line}"));
        } else {
            self.line(line);
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
