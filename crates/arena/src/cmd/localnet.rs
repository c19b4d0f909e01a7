//! `arena localnet`: the whole network on this machine (chain, hub, data feed, miners,
//! validators, leaderboard) on loopback, with its state in `<home>/localnet`. The work is in
//! the `arena-localnet` crate; this file maps flags onto its config and names this binary's
//! `validator eval-worker` as the validators' evaluation worker.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use arena_localnet::{BaseModel, LocalnetConfig};
use arena_validator::worker::WorkerCommand;

use crate::config::Config;

/// Flags of `arena localnet`.
#[derive(clap::Args, Debug)]
pub struct LocalnetArgs {
    /// Number of miners; miner 1 publishes the base model untouched, each next one trains
    /// four times as many steps (the last one `--train-steps`).
    #[arg(long, default_value_t = 3)]
    pub miners: usize,
    /// Number of validators, with stakes 1000 TAO × (validators + 1 − i).
    #[arg(long, default_value_t = 2)]
    pub validators: usize,
    /// Stop after this many blocks of this run (default: run until Ctrl-C).
    #[arg(long)]
    pub blocks: Option<u64>,
    /// Base model the miners fine-tune: `tiny` (built in) or `smollm2` (imported from the
    /// GGUF that ./scripts/test downloads into .cache/smollm2).
    #[arg(long, default_value = "tiny")]
    pub base_model: BaseModel,
    /// Address of the leaderboard (loopback; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub leaderboard_addr: SocketAddr,
    /// Seed of the miners' training data and example order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1000)]
    pub block_time_ms: u64,
    /// Blocks between Yuma Consensus epochs.
    #[arg(long, default_value_t = 10)]
    pub tempo: u16,
    /// Blocks per validator sync window (one evaluation step per window).
    #[arg(long, default_value_t = 5)]
    pub sync_cadence: u64,
    /// Training steps of the miner that trains most.
    #[arg(long, default_value_t = 120)]
    pub train_steps: u64,
    /// Print only the endpoints and the final standings, not the table at every epoch.
    #[arg(long)]
    pub quiet: bool,
    /// Print a JSON summary of the run as the last line.
    #[arg(long)]
    pub json: bool,
}

/// Runs the localnet until Ctrl-C (or SIGTERM) or `--blocks`.
pub async fn run(args: LocalnetArgs, cfg: &Config) -> anyhow::Result<()> {
    let worker = WorkerCommand {
        program: std::env::current_exe().context("locating the arena binary")?,
        args: vec!["validator".into(), "eval-worker".into()],
        env: Vec::new(),
    };
    let config = LocalnetConfig {
        miners: args.miners,
        validators: args.validators,
        blocks: args.blocks,
        base_model: args.base_model,
        leaderboard_addr: args.leaderboard_addr,
        seed: args.seed,
        block_time: Duration::from_millis(args.block_time_ms),
        tempo: args.tempo,
        sync_cadence: args.sync_cadence,
        max_train_steps: args.train_steps,
        live_table: !args.quiet,
        ..LocalnetConfig::new(cfg.home.join("localnet"), worker)
    };
    let summary = arena_localnet::run(config, stop_signal()).await?;
    println!(
        "stopped at block {} after {} epochs; {} of {} validators have weights on chain; state kept in {} (run again to continue)",
        summary.end_block,
        summary.epochs,
        summary.validators_with_weights.len(),
        args.validators,
        cfg.home.join("localnet").display()
    );
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
