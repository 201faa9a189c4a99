//! multiarch-action: build, push and verify a multi-platform container image
//! in one step, as a GitHub container action or from the command line.

pub mod archscan;
pub mod build_options;
pub mod builder_config;
pub mod buildx;
pub mod cli;
pub mod docker;
pub mod github;
pub mod inputs;
pub mod log;
pub mod meta;
pub mod pipeline;
pub mod plan;
pub mod platform;
pub mod preflight;
pub mod reference;
pub mod registry;
pub mod retry;
pub mod runner;
pub mod summary;
pub mod verify;
