//! `arena chain`: the chain group. Each subcommand lives in its own module (`chain_*.rs`).
use crate::config::Config;

/// Run or query the chain: local chain service, metagraph, registration, stake, commitments,
/// Yuma Consensus.
#[derive(clap::Subcommand, Debug)]
pub enum ChainCmd {
    /// Replay a Yuma Consensus scenario file and print each epoch's outputs as JSON lines.
    Yuma(super::chain_yuma::YumaArgs),
}

/// Dispatch an `arena chain` subcommand.
pub async fn run(cmd: ChainCmd, _cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        ChainCmd::Yuma(args) => super::chain_yuma::run(args),
    }
}
