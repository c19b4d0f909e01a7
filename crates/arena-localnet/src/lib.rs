//! `arena localnet`: the whole finetune-arena network on one machine, in one
//! process on loopback — a [`LocalChain`] with fast blocks and a short tempo, a hub, a data
//! subnet with a signed feed and its producer, N miners that fine-tune a base model with
//! different amounts of training and publish it, M validators with different stakes running
//! the real validator service, and the leaderboard. It prints the standings as epochs pass and
//! stops cleanly on the stop signal or after `blocks` blocks; everything stays under the home
//! directory ([`home`]), so a second run continues the same chain, wallets and models.
//!
//! ```no_run
//! # async fn demo() -> Result<(), arena_localnet::LocalnetError> {
//! use arena_localnet::{run, LocalnetConfig};
//! use arena_validator::worker::WorkerCommand;
//! let worker = WorkerCommand {
//!     program: "target/release/arena".into(),
//!     args: vec!["validator".into(), "eval-worker".into()],
//!     env: vec![],
//! };
//! let mut config = LocalnetConfig::new(".arena/localnet".into(), worker);
//! config.blocks = Some(60);
//! let summary = run(config, std::future::pending()).await?;
//! println!("stopped at block {}", summary.end_block);
//! # Ok(()) }
//! ```

mod base;
pub mod config;
mod error;
pub mod home;
pub mod join;
mod miner;
mod network;
mod output;
mod schedule;
mod services;
mod validator;

use std::future::Future;
use std::sync::Arc;

use arena_chain::{Chain, LocalChain, LocalChainOptions};
use serde::Serialize;

pub use config::{BaseModel, LocalnetConfig, MinerPlan};
pub use error::{LocalnetError, Result};
use home::Layout;
pub use services::Endpoints;

/// What a run did, for the CLI's last lines and for tests.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Chain height when this run started producing blocks.
    pub start_block: u64,
    /// Chain height when it stopped.
    pub end_block: u64,
    /// Epochs of the competition subnet run during this run.
    pub epochs: u64,
    /// The competition subnet.
    pub netuid: u16,
    /// Validators (names) of this run.
    pub validators: Vec<String>,
    /// Validators (names) that hold a validator permit at the last block.
    pub validators_with_permit: Vec<String>,
    /// Validators (names) that hold a permit and whose weights are on chain.
    pub validators_with_weights: Vec<String>,
    /// Leaderboard URL this run served.
    pub leaderboard: String,
    /// The `arena.toml` for joining this network (`<home>/join.toml`).
    pub join_config: std::path::PathBuf,
}

/// Runs a localnet until `shutdown` resolves or `config.blocks` blocks were produced.
pub async fn run(
    config: LocalnetConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary> {
    config.validate()?;
    config.check_ports()?;
    let layout = Layout::new(&config.home);
    std::fs::create_dir_all(&layout.home).map_err(LocalnetError::io(&layout.home))?;
    let out = output::Out::new(config.live_table);
    let (l2, which) = (layout.clone(), config.base_model);
    let base = tokio::task::spawn_blocking(move || base::prepare(&l2, which))
        .await
        .map_err(|e| LocalnetError::service("base model", e))??;
    let chain_dir = layout.chain_dir();
    let chain = Arc::new(
        LocalChain::open(&chain_dir, LocalChainOptions::fast(config.block_time))
            .map_err(|e| LocalnetError::service(format!("chain in {}", chain_dir.display()), e))?,
    );
    let nodes = network::setup(&layout, &config, &chain).await?;
    let eval_delay = config.sync_cadence.min(5);
    let schedule = schedule::ensure(&layout.schedule_file(), &base, eval_delay)?;
    let start_block = chain.block_number().await?;
    let start_epoch = chain.subnet(nodes.netuid).await?.epoch_index;
    out.banner(&config, &layout, &base, &nodes, start_block);
    for note in &nodes.notes {
        out.line(note);
    }

    let running = services::start(&config, &layout, &base, &chain, &nodes, schedule).await?;
    out.endpoints(&running.endpoints);
    let summary_base = running.endpoints.leaderboard.clone();
    let join = join::Join {
        endpoints: running.endpoints.clone(),
        netuid: nodes.netuid,
        data_netuid: nodes.data_netuid,
        min_stake: network::MIN_PRODUCER_STAKE,
        sync_cadence: config.sync_cadence,
        leader_uid: nodes
            .miners
            .iter()
            .max_by_key(|m| m.plan.steps)
            .map(|m| m.uid),
    };
    let join_config = join::write(&layout, &join)?;
    out.join(&join_config, &join::miner_commands(&join_config, &join));

    // Wait for the first of: the caller's signal, the block budget, a fatal service error.
    let limit = config.blocks.map(|n| start_block + n);
    tokio::pin!(shutdown);
    let reason = running
        .wait(&chain, nodes.netuid, limit, &out, shutdown)
        .await;
    out.line(&format!(
        "stopping: {reason}; the state stays in {} (run again to continue)",
        layout.home.display()
    ));
    let sources = running.sources.clone();
    running.stop().await;
    final_standings(&layout, &sources, &out).await;

    let end_block = chain.block_number().await?;
    let subnet = chain.subnet(nodes.netuid).await?;
    let metagraph = chain.metagraph(nodes.netuid).await?;
    // A validator's uid may have been taken by someone else since the start: check the hotkey.
    let neuron = |v: &network::ValidatorNode| {
        metagraph
            .neurons
            .get(usize::from(v.uid))
            .filter(|n| n.hotkey == v.hotkey.public())
    };
    let names = |keep: &dyn Fn(&arena_chain::NeuronInfo) -> bool| -> Vec<String> {
        nodes
            .validators
            .iter()
            .filter(|v| neuron(v).is_some_and(keep))
            .map(|v| v.name.clone())
            .collect()
    };
    let validators_with_permit = names(&|n| n.validator_permit);
    let validators_with_weights = names(&|n| n.validator_permit && n.last_update > 0);
    let summary = Summary {
        start_block,
        end_block,
        epochs: subnet.epoch_index - start_epoch,
        netuid: nodes.netuid,
        validators: nodes.validators.iter().map(|v| v.name.clone()).collect(),
        validators_with_permit,
        validators_with_weights,
        leaderboard: summary_base,
        join_config,
    };
    Ok(summary)
}

/// Prints the standings at the last block and keeps them in `<home>/standings.json` (the same
/// document `/api/standings` serves).
async fn final_standings(layout: &Layout, sources: &arena_web::Sources, out: &output::Out) {
    match arena_web::standings(sources).await {
        Ok(s) => {
            out.line(&format!("\n── final standings · block {} ──", s.block));
            out.line(arena_web::render_table(&s).trim_end());
            let path = layout.standings_file();
            let written = serde_json::to_vec_pretty(&s)
                .map_err(|e| LocalnetError::State {
                    path: path.clone(),
                    reason: e.to_string(),
                })
                .and_then(|bytes| home::write_atomic(&path, &bytes));
            if let Err(e) = written {
                out.line(&format!("standings not saved: {e}"));
            }
        }
        Err(e) => out.line(&format!("final standings unavailable: {e}")),
    }
}
