//! What a localnet runs: sizes, timings and the miners' training plans.
//!
//! The defaults are chosen so the tiny fixture model shows a meaningful run on a 2-core
//! laptop within minutes: 1 s blocks, an epoch every 10 blocks, a validator step every 5 blocks,
//! and miners that differ only in how long they train (0, few, many steps), so the ranking the
//! network should find is known in advance.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use arena_validator::worker::WorkerCommand;

use crate::error::{LocalnetError, Result};

/// Default port of the chain JSON-RPC (subtensor's).
pub const DEFAULT_CHAIN_PORT: u16 = 9944;
/// Default port of the hub (`[hub] addr`'s default).
pub const DEFAULT_HUB_PORT: u16 = 8700;
/// Default port of the data feed (`[data] addr`'s default).
pub const DEFAULT_FEED_PORT: u16 = 8790;
/// Default port of the leaderboard.
pub const DEFAULT_LEADERBOARD_PORT: u16 = 8080;

/// Which base model the miners fine-tune.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseModel {
    /// The 224k-parameter Llama fixture shipped inside the binary (vocabulary 1024).
    Tiny,
    /// SmolLM2-135M-Instruct imported from the GGUF of `./scripts/test` (`.cache/smollm2`).
    SmolLm2,
}

impl BaseModel {
    /// The name used on the command line and in the state file.
    pub fn name(self) -> &'static str {
        match self {
            BaseModel::Tiny => "tiny",
            BaseModel::SmolLm2 => "smollm2",
        }
    }
}

impl std::str::FromStr for BaseModel {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "tiny" => Ok(BaseModel::Tiny),
            "smollm2" => Ok(BaseModel::SmolLm2),
            other => Err(format!(
                "unknown base model {other:?}: expected tiny or smollm2"
            )),
        }
    }
}

/// Everything `arena localnet` needs to start.
#[derive(Debug, Clone)]
pub struct LocalnetConfig {
    /// State directory: chain, hub, feed, wallets, models, validator databases.
    pub home: PathBuf,
    /// Number of miners.
    pub miners: usize,
    /// Number of validators.
    pub validators: usize,
    /// Stop after this many blocks produced by this run (`None`: until the stop signal).
    pub blocks: Option<u64>,
    /// The model miners fine-tune.
    pub base_model: BaseModel,
    /// Where the leaderboard listens (port 0: any free port, printed at start).
    pub leaderboard_addr: SocketAddr,
    /// Port of the chain JSON-RPC on 127.0.0.1 (0: any free port).
    pub chain_port: u16,
    /// Port of the hub on 127.0.0.1 (0: any free port).
    pub hub_port: u16,
    /// Port of the data feed on 127.0.0.1 (0: any free port).
    pub feed_port: u16,
    /// Register built-in nodes that have no uid even when the subnet is full, which replaces
    /// the neuron with the lowest emission (someone else's). Without it such a node is left
    /// out of the run, and said so.
    pub reregister: bool,
    /// Seeds the miners' training data and example order.
    pub seed: u64,
    /// Interval between blocks.
    pub block_time: Duration,
    /// Blocks between Yuma Consensus epochs.
    pub tempo: u16,
    /// Blocks per validator sync window (one evaluation step per window).
    pub sync_cadence: u64,
    /// Training steps of the miner that trains most; the others train a fraction of it.
    pub max_train_steps: u64,
    /// How validators start their evaluation worker (`arena validator eval-worker`).
    pub worker: WorkerCommand,
    /// Print the standings table as epochs pass.
    pub live_table: bool,
}

impl LocalnetConfig {
    /// The defaults of `arena localnet` for a home and a worker command.
    pub fn new(home: PathBuf, worker: WorkerCommand) -> LocalnetConfig {
        LocalnetConfig {
            home,
            miners: 3,
            validators: 2,
            blocks: None,
            base_model: BaseModel::Tiny,
            leaderboard_addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_LEADERBOARD_PORT)),
            chain_port: DEFAULT_CHAIN_PORT,
            hub_port: DEFAULT_HUB_PORT,
            feed_port: DEFAULT_FEED_PORT,
            reregister: false,
            seed: 0,
            block_time: Duration::from_millis(1000),
            tempo: 10,
            sync_cadence: 5,
            max_train_steps: 120,
            worker,
            live_table: true,
        }
    }

    /// Refuses sizes and timings the network cannot run with.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LocalnetError::Config(m));
        if !(2..=16).contains(&self.miners) {
            return bad(format!("--miners {}: expected 2 to 16", self.miners));
        }
        if !(1..=8).contains(&self.validators) {
            return bad(format!("--validators {}: expected 1 to 8", self.validators));
        }
        if self.block_time < Duration::from_millis(100) {
            return bad("--block-time-ms: at least 100".into());
        }
        if self.tempo < 2 {
            return bad(format!("--tempo {}: at least 2 blocks", self.tempo));
        }
        if self.sync_cadence == 0 {
            return bad("--sync-cadence: at least 1 block".into());
        }
        if !self.leaderboard_addr.ip().is_loopback() {
            return bad(format!(
                "--leaderboard-addr {}: localnet listens on loopback only",
                self.leaderboard_addr
            ));
        }
        let ports = [
            ("--chain-port", self.chain_port),
            ("--hub-port", self.hub_port),
            ("--feed-port", self.feed_port),
            ("--leaderboard-addr", self.leaderboard_addr.port()),
        ];
        for (i, (flag, port)) in ports.iter().enumerate() {
            if let Some((other, _)) = ports[..i].iter().find(|(_, p)| *p == *port && *port != 0) {
                return bad(format!("{flag} {port}: the same port as {other}"));
            }
        }
        Ok(())
    }

    /// The loopback addresses of the chain RPC, hub, feed and leaderboard, each with the flag
    /// that sets it.
    pub fn listen_addrs(&self) -> [(&'static str, &'static str, SocketAddr); 4] {
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        [
            ("chain RPC", "--chain-port", at(self.chain_port)),
            ("hub", "--hub-port", at(self.hub_port)),
            ("feed", "--feed-port", at(self.feed_port)),
            ("leaderboard", "--leaderboard-addr", self.leaderboard_addr),
        ]
    }

    /// Fails, naming the flag, when one of the fixed ports is taken, before anything starts.
    /// (Another program may still take it before the service binds; that error names it too.)
    pub fn check_ports(&self) -> Result<()> {
        for (service, flag, addr) in self.listen_addrs() {
            if addr.port() == 0 {
                continue;
            }
            std::net::TcpListener::bind(addr).map_err(|source| LocalnetError::Bind {
                service,
                flag,
                addr: addr.to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// The training plan of every miner: miner `i` (1-based) of `n` trains
    /// `max / 4^(n-i)` steps, except the first, which publishes the base model untouched.
    /// With the defaults: 0, 30 and 120 steps.
    pub fn miner_plans(&self) -> Vec<MinerPlan> {
        let n = self.miners;
        (1..=n)
            .map(|i| {
                let steps = if i == 1 {
                    0
                } else {
                    let div = 4u64.saturating_pow((n - i) as u32);
                    (self.max_train_steps / div).max(1)
                };
                MinerPlan {
                    name: format!("miner{i}"),
                    steps,
                    lr: 2e-3,
                    seed: self.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
                }
            })
            .collect()
    }

    /// Stake of validator `j` (1-based) of `m`, in rao: 1000 TAO × (m + 1 − j), so every
    /// validator has a different weight in consensus and validator 1 the largest.
    pub fn validator_stake(&self, j: usize) -> u64 {
        1_000_000_000_000 * (self.validators + 1 - j) as u64
    }
}

/// How one miner trains.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerPlan {
    /// Wallet and hub user name (`miner1` …).
    pub name: String,
    /// Optimiser steps (0: publish the base model as is).
    pub steps: u64,
    /// Peak learning rate.
    pub lr: f64,
    /// Seed of its training data and example order.
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(miners: usize) -> LocalnetConfig {
        let worker = WorkerCommand {
            program: "arena".into(),
            args: vec![],
            env: vec![],
        };
        LocalnetConfig {
            miners,
            ..LocalnetConfig::new("h".into(), worker)
        }
    }

    #[test]
    fn plans_train_more_with_each_miner() {
        let steps: Vec<u64> = config(3).miner_plans().iter().map(|p| p.steps).collect();
        assert_eq!(steps, vec![0, 30, 120]);
        let steps: Vec<u64> = config(5).miner_plans().iter().map(|p| p.steps).collect();
        assert_eq!(steps, vec![0, 1, 7, 30, 120]);
        let seeds: Vec<u64> = config(3).miner_plans().iter().map(|p| p.seed).collect();
        assert_eq!(seeds, vec![1, 2, 3]);
    }

    #[test]
    fn stakes_differ_and_decrease() {
        let c = LocalnetConfig {
            validators: 3,
            ..config(3)
        };
        assert_eq!(c.validator_stake(1), 3_000_000_000_000);
        assert_eq!(c.validator_stake(3), 1_000_000_000_000);
    }

    #[test]
    fn validation_names_the_flag() {
        let err = config(1).validate().unwrap_err().to_string();
        assert!(err.contains("--miners 1"), "{err}");
        let mut c = config(3);
        c.leaderboard_addr = "0.0.0.0:80".parse().unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("loopback"));
        assert!(config(3).validate().is_ok());
        let mut c = config(3);
        c.feed_port = c.hub_port;
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("--feed-port 8700") && err.contains("--hub-port"),
            "{err}"
        );
        c.feed_port = 0;
        c.hub_port = 0;
        assert!(c.validate().is_ok(), "port 0 (any free port) may repeat");
    }

    #[test]
    fn a_busy_port_is_refused_naming_its_flag() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = config(3);
        (c.chain_port, c.hub_port) = (0, 0);
        c.leaderboard_addr = "127.0.0.1:0".parse().unwrap();
        c.feed_port = busy.local_addr().unwrap().port();
        let err = c.check_ports().unwrap_err().to_string();
        assert!(
            err.contains("--feed-port") && err.contains(&c.feed_port.to_string()),
            "{err}"
        );
        drop(busy);
        c.check_ports().unwrap();
    }
}
