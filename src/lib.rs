//! multiarch-action: build, push and verify a multi-platform container image
//! in one step, as a GitHub container action or from the command line.
//!
//! The ground floor: [`names`] (shared nouns), [`inputs`] (the one input
//! table), [`plan`] (inputs → a plain Plan). The flow: [`pipeline`], over
//! phase rooms that each own one outside party.

// The rooms the binary and the tests name by path.
pub mod cli;
pub mod github;
pub mod inputs;
pub mod log;
pub mod meta;
pub mod pipeline;
pub mod plan;
pub mod platform;
pub mod post;
pub mod preflight;
pub mod runner;
pub mod summary;

// The crate's own rooms.
pub(crate) mod archscan;
mod build;
pub(crate) mod builder;
pub(crate) mod buildx;
pub(crate) mod bundle;
mod concurrent;
pub(crate) mod digest;
pub(crate) mod docker;
pub(crate) mod emulation;
mod export;
mod merge;
pub(crate) mod names;
mod outside;
mod publish;
pub(crate) mod reference;
pub(crate) mod registry;
pub(crate) mod report;
pub(crate) mod retry;
pub(crate) mod sign;
pub(crate) mod verify;

// What the binary and the tests use of the crate's own rooms.
pub use crate::archscan::cache::ScanCache;
pub use crate::buildx::progress::Progress;
pub use crate::buildx::{BuilderInfo, locate as locate_buildx};
pub use crate::bundle::offline::run_if_asked as run_bundle_command;
pub use crate::emulation::BinfmtStatus;
pub use crate::report::Report;

#[cfg(test)]
mod tests {
    /// The README's "How it works" table names every room of `src/`, and
    /// only rooms that exist.
    #[test]
    fn the_readme_names_every_room() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let table = &readme[readme.find("| file | what it holds |").expect("the rooms table")..];
        let table = &table[..table.find("\n\n").unwrap_or(table.len())];
        let named: Vec<String> = table
            .lines()
            .flat_map(|line| line.split('|').nth(1).unwrap_or_default().split(", "))
            .filter_map(|cell| cell.trim().strip_prefix("`src/"))
            .map(|cell| cell.trim_end_matches('`').trim_end_matches('/').to_string())
            .collect();
        let mut rooms: Vec<String> = std::fs::read_dir(root.join("src"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        rooms.sort();
        for room in &rooms {
            assert!(named.contains(room), "src/{room} is not in the README's rooms table");
        }
        for name in &named {
            assert!(rooms.contains(name), "the README names src/{name}, which does not exist");
        }
    }
}
