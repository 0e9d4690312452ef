//! One module per command: its arguments, and `run`, which fetches, calls the core, renders
//! and applies.

pub mod completion;
pub mod drain;
pub mod gates;
mod maintenance;
pub mod pvc;
pub mod recover;
#[cfg(test)]
mod render_tests;
pub mod restart;
pub mod rollout;
pub mod scale;
pub mod status;
pub mod version;
