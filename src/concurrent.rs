//! Running work side by side: a future driven alongside another that may
//! still be under way when the first ends, and log lines held back while
//! another phase's log group is still open.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use crate::log::Log;

/// Drives `main` to its end while `side` runs alongside; returns main's
/// output and side's: finished, or still under way.
pub(crate) async fn alongside<M, S>(
    main: M,
    mut side: Pin<Box<S>>,
) -> (M::Output, Result<S::Output, Pin<Box<S>>>)
where
    M: Future,
    S: Future,
{
    let mut main = std::pin::pin!(main);
    let mut side_done = None;
    let out = loop {
        tokio::select! {
            out = &mut main => break out,
            done = &mut side, if side_done.is_none() => side_done = Some(done),
        }
    };
    (out, side_done.ok_or(side))
}

/// Lines of another program's output held back while another phase's log
/// group is still open, then written in order.
pub(crate) struct HeldLines<'a> {
    log: &'a Log,
    held: Mutex<Option<Vec<String>>>,
}

impl<'a> HeldLines<'a> {
    pub(crate) fn holding(log: &'a Log) -> HeldLines<'a> {
        HeldLines { log, held: Mutex::new(Some(Vec::new())) }
    }

    pub(crate) fn emit(&self, line: &str) {
        match self.held.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            Some(held) => held.push(line.to_string()),
            None => self.log.raw(line),
        }
    }

    /// Writes what was held and passes later lines straight through.
    pub(crate) fn release(&self) {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner).take();
        for line in held.unwrap_or_default() {
            self.log.raw(&line);
        }
    }

    /// Drops what was held (an early build that is started again).
    pub(crate) fn discard(&self) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).replace(Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_side_is_returned_under_way_when_main_ends_first() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (out, side) = alongside(async { 1 }, Box::pin(async { rx.await.unwrap() })).await;
        assert_eq!(out, 1);
        let under_way = side.expect_err("the side waits for its value");
        tx.send(2).unwrap();
        assert_eq!(under_way.await, 2);
    }

    #[tokio::test]
    async fn a_side_that_finished_first_is_returned_done() {
        let (out, side) = alongside(
            tokio::time::sleep(std::time::Duration::from_millis(20)),
            Box::pin(async { 7 }),
        )
        .await;
        assert_eq!((out, side.ok()), ((), Some(7)));
    }
}
