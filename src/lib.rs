//! multiarch-action: build, push and verify a multi-platform container image
//! in one step, as a GitHub container action or from the command line.
//!
//! The ground floor: [`names`] (shared nouns), [`inputs`] (the one input
//! table), [`plan`] (inputs → a plain Plan). The flow: [`pipeline`], over
//! phase rooms that each own one outside party.

pub mod archscan;
mod build;
pub(crate) mod builder_config;
pub mod buildx;
pub mod bundle;
pub mod cli;
mod concurrent;
pub(crate) mod digest;
pub(crate) mod docker;
pub mod emulation;
mod export;
pub mod github;
pub mod inputs;
pub mod log;
mod merge;
pub mod meta;
pub(crate) mod names;
mod outside;
pub mod pipeline;
pub mod plan;
pub mod platform;
pub mod post;
pub mod preflight;
mod publish;
pub(crate) mod reference;
pub(crate) mod registry;
pub(crate) mod retry;
pub mod runner;
pub mod summary;
pub(crate) mod verify;
