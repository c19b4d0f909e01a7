//! `arena localnet`: the whole network on this machine (chain, hub, data feed, miners,
//! validators, leaderboard) on loopback, with its state in `<home>/localnet`. The work is in
//! the `arena-localnet` crate; this file maps flags onto its config and names this binary's
//! `validator eval-worker` as the validators' evaluation worker. At start it writes
//! `<home>/localnet/join.toml`, the `arena.toml` for joining the network from another shell.

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
    /// Port of the chain JSON-RPC on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = arena_localnet::config::DEFAULT_CHAIN_PORT)]
    pub chain_port: u16,
    /// Port of the hub on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = arena_localnet::config::DEFAULT_HUB_PORT)]
    pub hub_port: u16,
    /// Port of the data feed on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = arena_localnet::config::DEFAULT_FEED_PORT)]
    pub feed_port: u16,
    /// Register a built-in node that lost its uid even when the subnet is full, which replaces
    /// the neuron with the lowest emission (possibly someone else's). Without it, such a node
    /// is left out of the run and a line says so.
    #[arg(long)]
    pub reregister: bool,
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
        chain_port: args.chain_port,
        hub_port: args.hub_port,
        feed_port: args.feed_port,
        reregister: args.reregister,
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
        "stopped at block {} after {} epochs; {}; state kept in {} (run again to continue)",
        summary.end_block,
        summary.epochs,
        validators_line(&summary),
        cfg.home.join("localnet").display()
    );
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}

/// "2 of 3 validators hold a validator permit and have weights on chain; without a permit:
/// validator3".
fn validators_line(s: &arena_localnet::Summary) -> String {
    let total = s.validators.len();
    let mut line = format!(
        "{} of {total} validators hold a validator permit, {} of them with weights on chain",
        s.validators_with_permit.len(),
        s.validators_with_weights.len()
    );
    let without: Vec<&str> = s
        .validators
        .iter()
        .filter(|v| !s.validators_with_permit.contains(v))
        .map(String::as_str)
        .collect();
    if !without.is_empty() {
        line.push_str(&format!(
            "; without a permit (their weights do not count): {}",
            without.join(", ")
        ));
    }
    line
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

#[cfg(test)]
mod tests {
    use super::*;
    use arena_localnet::home::Layout;
    use arena_localnet::join::{self, Join};

    /// join.toml is a configuration `arena` loads, with every setting a joiner needs.
    #[test]
    fn join_toml_loads_with_every_joiner_key() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("localnet"));
        let info = Join {
            endpoints: arena_localnet::Endpoints {
                chain: "http://127.0.0.1:19944".into(),
                substrate: "ws://127.0.0.1:19944".into(),
                hub: "http://127.0.0.1:18700".into(),
                feed: "http://127.0.0.1:18790".into(),
                leaderboard: "http://127.0.0.1:18080/".into(),
            },
            netuid: 1,
            data_netuid: 2,
            min_stake: 1_000_000_000,
            sync_cadence: 5,
            leader_uid: Some(2),
        };
        let path = join::write(&layout, &info).unwrap();
        let global = crate::config::GlobalArgs {
            config: Some(path),
            home: None,
            overrides: vec![],
            log_level: None,
            log_json: false,
        };
        let cfg = Config::load(&global).unwrap();
        let home = dir.path().join("localnet");
        assert_eq!(cfg.chain.endpoint, "http://127.0.0.1:19944");
        assert_eq!(cfg.chain.netuid, 1);
        assert_eq!(cfg.hub.endpoint.as_deref(), Some("http://127.0.0.1:18700"));
        assert_eq!(cfg.hub.root, Some(home.join("hub")));
        assert_eq!(cfg.data.feed_url, "http://127.0.0.1:18790");
        assert_eq!((cfg.data.netuid, cfg.data.min_stake), (2, 1_000_000_000));
        assert_eq!(cfg.validator.schedule, Some(home.join("schedule.toml")));
        assert_eq!(cfg.validator.sync_cadence, 5);
        assert_eq!(cfg.validator.sync_origin, 0);
        assert_eq!(cfg.validator.interval_secs, 1);
        assert_eq!(cfg.wallet.root, home.join("wallets"));
        assert_eq!(cfg.wallet.name, join::JOIN_WALLET);
    }

    #[test]
    fn the_summary_names_validators_without_a_permit() {
        let summary = arena_localnet::Summary {
            start_block: 0,
            end_block: 100,
            epochs: 9,
            netuid: 1,
            validators: vec![
                "validator1".into(),
                "validator2".into(),
                "validator3".into(),
            ],
            validators_with_permit: vec!["validator1".into(), "validator3".into()],
            validators_with_weights: vec!["validator1".into()],
            leaderboard: String::new(),
            join_config: "join.toml".into(),
        };
        let line = validators_line(&summary);
        assert!(
            line.starts_with("2 of 3 validators hold a validator permit, 1 of them with weights"),
            "{line}"
        );
        assert!(line.ends_with("without a permit (their weights do not count): validator2"));
    }
}
