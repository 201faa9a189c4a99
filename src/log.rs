//! The action's log: plain lines locally; in a workflow, warnings and errors
//! as annotations, phases as collapsible groups, and other programs' output
//! (the build log, a smoke test, anything read from an image) between
//! `::stop-commands::` lines, so that none of it is obeyed as a command.
//! Of several jobs at once (a bundle's services), each can write through a
//! log of its own that holds its lines until the one before it is done.

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use crate::runner::command::{
    Annotation, GROUP_END, Level, fresh_token, group_start, resume_commands, stop_commands,
};

/// The token of the stop-commands region open now, if untrusted output is
/// being written; any line of our own closes it first.
static UNTRUSTED_REGION: Mutex<Option<String>> = Mutex::new(None);

/// The places (level, file, line, title) annotated so far: a deployment's
/// services built from one Dockerfile annotate each of its lines once, the
/// first service's finding standing for all.
static ANNOTATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

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

#[derive(Debug, Clone)]
pub struct Log {
    pub in_workflow: bool,
    /// Lines held back until [`Log::release`], for a log made by
    /// [`Log::holding`]; `None` inside once released.
    held: Option<Arc<Mutex<Option<Vec<HeldLine>>>>>,
}

/// A line held back, and how it is to be written.
#[derive(Debug)]
enum HeldLine {
    Own(String),
    Other(String),
}

impl Log {
    pub fn new(in_workflow: bool) -> Log {
        Log { in_workflow, held: None }
    }

    /// A log for one of several jobs running at once: what it writes is held
    /// until [`Log::release`], so that each job's lines (and log groups)
    /// stay together.
    pub fn holding(&self) -> Log {
        Log { in_workflow: self.in_workflow, held: Some(Arc::new(Mutex::new(Some(Vec::new())))) }
    }

    /// Writes what was held, in order, and passes later lines straight
    /// through; nothing for a log that holds nothing.
    pub fn release(&self) {
        let Some(held) = &self.held else { return };
        // Written under the lock, so that no later line overtakes them.
        let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
        for line in held.take().unwrap_or_default() {
            match line {
                HeldLine::Own(text) => self.write_line(&text),
                HeldLine::Other(text) => self.write_raw(&text),
            }
        }
    }

    /// Keeps `line` back when this log holds; false when it is to be written.
    fn hold(&self, line: impl FnOnce() -> HeldLine) -> bool {
        let Some(held) = &self.held else { return false };
        match held.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            Some(lines) => {
                lines.push(line());
                true
            }
            None => false,
        }
    }

    /// A line of our own: commands in it are obeyed.
    fn line(&self, text: &str) {
        if !self.hold(|| HeldLine::Own(text.to_string())) {
            self.write_line(text);
        }
    }

    fn write_line(&self, text: &str) {
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
        if !self.hold(|| HeldLine::Other(line.to_string())) {
            self.write_raw(line);
        }
    }

    fn write_raw(&self, line: &str) {
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
        if let (Some(file), Some(line)) = (&annotation.file, annotation.line) {
            let place = format!("{:?} {file}:{line} {:?}", annotation.level, annotation.title);
            let mut annotated = ANNOTATED.lock().unwrap_or_else(PoisonError::into_inner);
            if annotated.contains(&place) {
                return;
            }
            annotated.push(place);
        }
        if self.in_workflow {
            self.line(&annotation.to_command());
        } else {
            let (level, colour) = match annotation.level {
                Level::Error => ("error", "31"),
                Level::Warning => ("warning", "33"),
                Level::Notice => ("notice", "36"),
            };
            let level = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                format!("\x1b[1;{colour}m{level}\x1b[0m")
            } else {
                level.to_string()
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

/// Events from `tracing` (warnings of the libraries and of our own code)
/// written as the log writes its own lines: in a workflow `::warning::` and
/// `::error::` commands, with no timestamp and no colour, after any open
/// stop-commands region is closed; in a terminal, `warning: …`.
pub struct RunnerLayer {
    pub log: Log,
}

/// An event's message and its other fields (`key=value`), as one line.
#[derive(Default)]
struct EventText {
    message: String,
    fields: Vec<String>,
}

impl tracing::field::Visit for EventText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.push(format!("{}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields.push(format!("{}={value}", field.name()));
        }
    }
}

impl EventText {
    fn line(self) -> String {
        std::iter::once(self.message)
            .chain(self.fields)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RunnerLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut text = EventText::default();
        event.record(&mut text);
        let line = text.line();
        match *event.metadata().level() {
            tracing::Level::ERROR => self.log.error(&line),
            tracing::Level::WARN => self.log.warning(&line),
            _ => self.log.info(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines a holding log keeps, as `own:`/`other:` text; None once released.
    fn held(log: &Log) -> Option<Vec<String>> {
        let held = log.held.as_ref().expect("a holding log").lock().unwrap();
        held.as_ref().map(|lines| {
            lines
                .iter()
                .map(|line| match line {
                    HeldLine::Own(text) => format!("own:{text}"),
                    HeldLine::Other(text) => format!("other:{text}"),
                })
                .collect()
        })
    }

    #[test]
    fn a_holding_log_keeps_its_lines_in_order_until_released() {
        let log = Log::new(true).holding();
        {
            let _group = log.open_group("Build");
            log.info("built");
            log.raw("#1 DONE");
        }
        assert_eq!(
            held(&log).unwrap(),
            ["own:::group::Build", "own:built", "other:#1 DONE", "own:::endgroup::"]
        );
        let copy = log.clone();
        copy.info("from a clone");
        assert_eq!(held(&log).unwrap().len(), 5, "clones share what is held");
        log.release();
        assert_eq!(held(&log), None);
        assert!(!log.hold(|| HeldLine::Own("after".into())), "after release lines pass through");
        assert!(!Log::new(false).hold(|| HeldLine::Own("x".into())), "a plain log holds nothing");
    }

    #[test]
    fn event_fields_read_as_one_line() {
        let text =
            EventText { message: "could not list".into(), fields: vec!["error=\"gone\"".into()] };
        assert_eq!(text.line(), "could not list error=\"gone\"");
        assert_eq!(EventText { message: String::new(), fields: vec!["a=1".into()] }.line(), "a=1");
    }
}
