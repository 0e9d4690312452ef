//! Taking members of StatefulSets down on purpose without losing their quorum: `drain` (every
//! member on some nodes, one at a time), `restart` (chosen members), `scale` with decommission
//! (the highest members, each leaving its cluster first). The decisions and plans only, as pure
//! functions of what was read; the shell (one write primitive, one wait) applies them.
//!
//! - [`quorum`]: the majority a set keeps and which members are down (shared with `status`).

pub mod quorum;
