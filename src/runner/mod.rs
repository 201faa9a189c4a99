//! The GitHub runner's contract for a container action: workflow commands on
//! stdout (masks, groups, annotations), outputs in `GITHUB_OUTPUT`, the job
//! summary in `GITHUB_STEP_SUMMARY`, and the event payload.
//!
//! Everything here is exact to the runner's documented format; the pure
//! formatting functions are tested by table, the writers are thin.

pub(crate) mod command;
pub(crate) mod context;
pub(crate) mod output;

pub(crate) use command::{Annotation, Level};
pub use context::{GithubContext, IdTokenRequest};
pub use output::{OutputFile, SummaryFile};
