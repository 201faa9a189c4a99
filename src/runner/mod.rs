//! The GitHub runner's contract for a container action: workflow commands on
//! stdout (masks, groups, annotations), outputs in `GITHUB_OUTPUT`, the job
//! summary in `GITHUB_STEP_SUMMARY`, and the event payload.
//!
//! Everything here is exact to the runner's documented format; the pure
//! formatting functions are tested by table, the writers are thin.

pub mod command;
pub mod context;
pub mod output;

pub use command::{Annotation, Level};
pub use context::GithubContext;
pub use output::{OutputFile, SummaryFile};
