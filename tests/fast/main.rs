//! The tests that need no test bed: no Docker daemon, no registry, no QEMU.
//! Each module is a file of this directory; with the library's and the
//! binary's unit tests they are the fast tier (`scripts/test-fast`).

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod cli;
mod fuzz_parsers;
mod input_table;
mod metadata_action_cases;
mod preflight_dry_run;
mod release_notes;
mod turns;
