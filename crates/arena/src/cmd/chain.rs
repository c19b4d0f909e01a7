//! `arena chain`: the chain group. Each subcommand lives in its own module (`chain_*.rs`).
use crate::config::Config;

/// Run or query the chain: local chain service, metagraph, registration, stake, commitments,
/// Yuma Consensus.
#[derive(clap::Subcommand, Debug)]
pub enum ChainCmd {
    /// Run the local chain service (JSON-RPC over HTTP) with state in <home>/chain.
    Serve(super::chain_node::ServeArgs),
    /// Show the head block, the genesis hash and the subnets.
    Status(super::chain_node::StatusArgs),
    /// Show every uid of a subnet: keys, stake, permits, incentive, dividends, emission.
    Metagraph(super::chain_node::SubnetQueryArgs),
    /// Show the commitments of hotkeys registered on a subnet (`--all`: also of hotkeys that
    /// left it).
    Commitments(super::chain_node::CommitmentsArgs),
    /// Create a subnet owned by the coldkey.
    CreateSubnet(super::chain_node::CreateSubnetArgs),
    /// Register a hotkey on a subnet, signed by its coldkey.
    Register(super::chain_node::RegisterArgs),
    /// Add stake (rao) to a hotkey on a subnet, signed by a coldkey.
    Stake(super::chain_node::StakeArgs),
    /// Set weights on a subnet, signed by the hotkey (commit-reveal when the subnet has it on).
    SetWeights(super::chain_tx::SetWeightsArgs),
    /// Commit text (a model pointer) on a subnet, signed by the hotkey.
    Commit(super::chain_tx::CommitArgs),
    /// Replay a Yuma Consensus scenario file and print each epoch's outputs as JSON lines.
    Yuma(super::chain_yuma::YumaArgs),
}

/// Dispatch an `arena chain` subcommand.
pub async fn run(cmd: ChainCmd, cfg: &Config) -> anyhow::Result<()> {
    use super::chain_node as node;
    match cmd {
        ChainCmd::Serve(args) => node::serve(args, cfg).await,
        ChainCmd::Status(args) => node::status(args, cfg).await,
        ChainCmd::Metagraph(args) => node::metagraph(args, cfg).await,
        ChainCmd::Commitments(args) => node::commitments(args, cfg).await,
        ChainCmd::CreateSubnet(args) => node::create_subnet(args, cfg).await,
        ChainCmd::Register(args) => node::register(args, cfg).await,
        ChainCmd::Stake(args) => node::stake(args, cfg).await,
        ChainCmd::SetWeights(args) => super::chain_tx::set_weights(args, cfg).await,
        ChainCmd::Commit(args) => super::chain_tx::commit(args, cfg).await,
        ChainCmd::Yuma(args) => super::chain_yuma::run(args),
    }
}
