//! multiarch-action: build, push and verify a multi-platform container image
//! in one step, as a GitHub container action or from the command line.
//!
//! The ground floor: [`names`] (shared nouns), [`inputs`] (the one input
//! table), [`plan`] (inputs → a plain Plan). The flow: [`pipeline`], over
//! phase rooms that each own one outside party.

pub mod archscan;
mod build;
pub(crate) mod builder;
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
pub mod report;
pub(crate) mod retry;
pub mod runner;
pub mod summary;
pub(crate) mod verify;

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
