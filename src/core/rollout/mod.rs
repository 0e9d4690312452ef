//! Partitioned canary rollouts as pure functions: the plan of partitions ([`plan`]), the journal
//! kept in an annotation ([`journal`]), the templates staged and restored ([`template`]), what
//! a run decides to do ([`decide`]) and the conditions its waits check ([`conditions`]).

pub mod conditions;
pub mod decide;
pub mod gates;
pub mod journal;
pub mod order;
pub mod plan;
pub mod template;

pub use conditions::{PodProgress, StepVerdict, StepWatch};
pub use decide::{Abort, Cluster, Decision, Refusal, Replace, Request, Roll, decide};
pub use journal::{Journal, ROLLOUT_ANNOTATION};
pub use plan::{Step, Steps};
pub use template::{TemplateError, parse_image, revision_template, with_images};
