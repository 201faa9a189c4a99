//! multiarch-action: build, push and verify a multi-platform container image
//! in one step, as a GitHub container action or from the command line.
//!
//! The ground floor: [`names`] (shared nouns), [`inputs`] (the one input
//! table), [`plan`] (inputs → a plain Plan). The flow: [`pipeline`], over
//! phase rooms that each own one outside party.

pub mod archscan;
mod build;
pub mod builder_config;
pub mod buildx;
pub mod cli;
mod concurrent;
pub mod docker;
pub mod emulation;
mod export;
pub mod github;
pub mod inputs;
pub mod log;
mod merge;
pub mod meta;
pub mod names;
pub mod pipeline;
pub mod plan;
pub mod platform;
pub mod preflight;
mod publish;
pub mod reference;
pub mod registry;
pub mod retry;
pub mod runner;
pub mod summary;
pub mod verify;
