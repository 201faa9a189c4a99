//! The tests that run against the test bed (`scripts/testenv up`): the real
//! Docker daemon, registries and QEMU. Each module is a file of this
//! directory. The tests of one file run side by side, never beside another
//! file's (tests/common/turns.rs): some change the whole machine.

#[path = "../common/mod.rs"]
mod common;

mod build_options;
mod build_push;
mod build_push_action;
mod bundle;
mod cli;
mod contract;
mod cross_compile;
mod docker_container;
mod faults;
mod go_hello;
mod immutable_tags;
mod native_runners;
mod qemu;
mod release;
mod release_notes;
mod services;
mod signed_bundle;
mod signing;
mod verify;
