//! The pure core: API objects in, ordinal maps, rollout plans and prune plans out. Nothing here
//! performs I/O or reads the clock; callers pass `now`.

pub mod advice;
pub mod budgets;
pub mod claims;
pub mod facts;
pub mod failures;
pub mod fleet;
pub mod gate_url;
pub mod jsonpath;
pub mod maintenance;
pub mod members;
pub mod names;
pub mod narrow;
pub mod objects;
pub mod orphans;
pub mod owners;
pub mod patches;
pub mod placement;
pub mod prune;
pub mod reads;
pub mod recover;
pub mod refusal;
pub mod resize;
pub mod restore;
pub mod rollout;
pub mod status;
pub mod volume_snapshots;

#[cfg(test)]
pub mod fixtures;
