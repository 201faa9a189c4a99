//! Files take turns on the test bed. Each file of tests/testbed/ is a module
//! of one test binary, and libtest runs any two of its tests side by side;
//! but some tests change the whole machine (one empties the daemon's build
//! cache, others unregister QEMU emulators). So the tests of one file run
//! side by side with each other, never beside another file's.
//!
//! A test takes its file's turn when it first asks for the test bed
//! ([`crate::common::TestBed::get`]), waiting while another file has it, and
//! gives its place back when its thread ends. libtest runs each test on a
//! thread of its own named after the test (`qemu::native_builds_…`): the
//! file is the name's first segment. Other threads (a runtime's workers,
//! threads a test starts) take no turn; their test holds it.

use std::cell::RefCell;
use std::sync::{Condvar, Mutex, PoisonError};

/// The file whose tests may run now, and how many of them hold a place.
struct Turn {
    file: Option<String>,
    places: usize,
}

static TURN: Mutex<Turn> = Mutex::new(Turn { file: None, places: 0 });
static CHANGED: Condvar = Condvar::new();

/// A test's place in its file's turn, given back when its thread ends.
struct Place;

impl Drop for Place {
    fn drop(&mut self) {
        let mut turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        turn.places -= 1;
        if turn.places == 0 {
            turn.file = None;
            CHANGED.notify_all();
        }
    }
}

thread_local! {
    static PLACE: RefCell<Option<Place>> = const { RefCell::new(None) };
}

/// The file (first module) of the test this thread runs, if it runs one.
pub(crate) fn test_file() -> Option<String> {
    let thread = std::thread::current();
    let (file, _) = thread.name()?.split_once("::")?;
    Some(file.to_string())
}

/// Waits until no test of another file holds a place, then holds one for
/// this test's file until this thread ends. A second call does nothing.
pub(crate) fn take_turn() {
    let Some(file) = test_file() else { return };
    if PLACE.with(|place| place.borrow().is_some()) {
        return;
    }
    let mut turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    while turn.file.as_ref().is_some_and(|holder| *holder != file) {
        turn = CHANGED.wait(turn).unwrap_or_else(PoisonError::into_inner);
    }
    turn.file = Some(file);
    turn.places += 1;
    drop(turn);
    PLACE.with(|place| *place.borrow_mut() = Some(Place));
}

/// The file that has the turn now, if any.
pub(crate) fn holder() -> Option<String> {
    TURN.lock().unwrap_or_else(PoisonError::into_inner).file.clone()
}
