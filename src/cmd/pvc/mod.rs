//! `kubectl stateful pvc …`: the claim commands, one module each ([`prune`], [`resize`],
//! [`restore`]); this module only dispatches.

pub mod prune;
pub mod resize;
pub mod restore;

use crate::client::KubeArgs;
use crate::error::Result;
use crate::output::Streams;
use crate::ui::Terminal;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Delete PVCs left behind by scale-down, only when provably safe (dry run by default)
    #[command(long_about = prune::LONG_ABOUT, after_help = prune::EXAMPLES)]
    Prune(prune::PruneArgs),
    /// Grow a StatefulSet's volumes: every PVC of a volumeClaimTemplate, then the template itself
    #[command(long_about = resize::LONG_ABOUT, after_help = resize::EXAMPLES)]
    Resize(resize::Args),
    /// Create an ordinal's claim from a VolumeSnapshot, for the next scale-up to adopt
    #[command(long_about = restore::LONG_ABOUT, after_help = restore::EXAMPLES)]
    Restore(restore::Args),
}

pub async fn run(command: Command, kube_args: &KubeArgs, term: &Terminal, io: &mut Streams) -> Result<()> {
    match command {
        Command::Prune(args) => prune::run(args, kube_args, term, io).await,
        Command::Resize(args) => resize::run(args, kube_args, term, io).await,
        Command::Restore(args) => restore::run(args, kube_args, term, io).await,
    }
}
