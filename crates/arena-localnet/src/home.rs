//! The localnet's home directory: where each part keeps its state, the wallets of every node,
//! and `localnet.json`, which records what a run set up so the next run continues it
//! (same subnets, same keys, no re-registration).
//!
//! ```text
//! <home>/localnet.json            subnets, nodes (name, role, hotkey, uid), base model
//! <home>/schedule.toml            competition schedule (edit it: validators reload it)
//! <home>/chain/                   LocalChain database
//! <home>/hub/                     hub storage
//! <home>/data/feed.sqlite         signed data batches
//! <home>/wallets/<node>/          Bittensor-layout wallets (plain keys: a local test network)
//! <home>/base/<model>/            the base model folder
//! <home>/miners/<name>/           trained model, push journal
//! <home>/validators/<name>/       validator.sqlite, downloaded models, events.jsonl
//! <home>/standings.json           the standings at the last stop
//! ```

use std::path::{Path, PathBuf};

use arena_keys::wallet::Wallet;
use arena_keys::Keypair;
use serde::{Deserialize, Serialize};

use crate::error::{LocalnetError, Result};

/// Version of `localnet.json` this code writes.
pub const STATE_VERSION: u32 = 1;

/// Paths under the home directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The home itself.
    pub home: PathBuf,
}

impl Layout {
    /// The layout of `home` (created on demand).
    pub fn new(home: impl Into<PathBuf>) -> Layout {
        Layout { home: home.into() }
    }

    /// `localnet.json`.
    pub fn state_file(&self) -> PathBuf {
        self.home.join("localnet.json")
    }
    /// The competition schedule validators read.
    pub fn schedule_file(&self) -> PathBuf {
        self.home.join("schedule.toml")
    }
    /// The chain database directory.
    pub fn chain_dir(&self) -> PathBuf {
        self.home.join("chain")
    }
    /// The hub's storage root.
    pub fn hub_dir(&self) -> PathBuf {
        self.home.join("hub")
    }
    /// The data feed database.
    pub fn feed_db(&self) -> PathBuf {
        self.home.join("data").join("feed.sqlite")
    }
    /// Root of every node's wallet.
    pub fn wallets_dir(&self) -> PathBuf {
        self.home.join("wallets")
    }
    /// Folder of base model `name`.
    pub fn base_dir(&self, name: &str) -> PathBuf {
        self.home.join("base").join(name)
    }
    /// A miner's working folder.
    pub fn miner_dir(&self, name: &str) -> PathBuf {
        self.home.join("miners").join(name)
    }
    /// A validator's state folder.
    pub fn validator_dir(&self, name: &str) -> PathBuf {
        self.home.join("validators").join(name)
    }
    /// A validator's state database (what the leaderboard reads).
    pub fn validator_db(&self, name: &str) -> PathBuf {
        self.validator_dir(name).join("validator.sqlite")
    }
    /// The standings written at shutdown.
    pub fn standings_file(&self) -> PathBuf {
        self.home.join("standings.json")
    }

    /// The coldkey and hotkey of node `name`, creating its wallet (plain, unencrypted keys:
    /// this is a local test network) on first use.
    pub fn node_keys(&self, name: &str) -> Result<(Keypair, Keypair)> {
        let root = self.wallets_dir();
        let wallet = Wallet::new(&root, name)?;
        if !wallet.hotkey_path(HOTKEY).exists() {
            Wallet::create(&root, name, HOTKEY, 12, None, false)?;
        }
        Ok((wallet.coldkey(None)?, wallet.hotkey(HOTKEY)?))
    }
}

/// Hotkey name inside every node's wallet.
pub const HOTKEY: &str = "default";

/// What `localnet.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The competition subnet.
    pub netuid: u16,
    /// The data subnet the producer is staked on.
    pub data_netuid: u16,
    /// Base model the miners fine-tune (`tiny`, `smollm2`); a later run must use the same.
    pub base_model: String,
    /// Every registered node.
    pub nodes: Vec<Node>,
}

/// One node of the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Wallet name (`miner1`, `validator2`, `producer`).
    pub name: String,
    /// `miner`, `validator` or `producer`.
    pub role: String,
    /// Hotkey SS58.
    pub hotkey: String,
    /// Uid on its subnet.
    pub uid: u16,
    /// Miners: training steps of the published model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_steps: Option<u64>,
    /// Validators and the producer: stake in rao.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stake: Option<u64>,
}

impl State {
    /// Reads `localnet.json`; `Ok(None)` on a fresh home.
    pub fn load(path: &Path) -> Result<Option<State>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LocalnetError::io(path)(e)),
        };
        let state: State = serde_json::from_str(&text).map_err(|e| LocalnetError::State {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if state.version != STATE_VERSION {
            return Err(LocalnetError::State {
                path: path.to_path_buf(),
                reason: format!(
                    "version {} (this arena writes {STATE_VERSION}); use a new --home",
                    state.version
                ),
            });
        }
        Ok(Some(state))
    }

    /// Writes `localnet.json` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| LocalnetError::State {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(path, text.as_bytes())
    }

    /// The node called `name`, if registered.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Adds or replaces the node of the same name.
    pub fn upsert(&mut self, node: Node) {
        match self.nodes.iter_mut().find(|n| n.name == node.name) {
            Some(slot) => *slot = node,
            None => self.nodes.push(node),
        }
    }

    /// Nodes of one role, in name order.
    pub fn role(&self, role: &str) -> Vec<&Node> {
        let mut nodes: Vec<&Node> = self.nodes.iter().filter(|n| n.role == role).collect();
        nodes.sort_by(|a, b| natural_key(&a.name).cmp(&natural_key(&b.name)));
        nodes
    }
}

/// `miner10` after `miner9`.
fn natural_key(name: &str) -> (String, u64) {
    let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
    let prefix = &name[..name.len() - digits.len()];
    (prefix.to_string(), digits.parse().unwrap_or(0))
}

/// Writes `bytes` to `path` atomically ([`arena_fs::write_atomic`]), as a [`LocalnetError`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    arena_fs::write_atomic(path, bytes).map_err(LocalnetError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_refuses_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("localnet.json");
        assert_eq!(State::load(&path).unwrap(), None);
        let mut state = State {
            version: STATE_VERSION,
            netuid: 1,
            data_netuid: 2,
            base_model: "tiny".into(),
            nodes: vec![],
        };
        for name in ["miner10", "miner2", "validator1"] {
            state.upsert(Node {
                name: name.into(),
                role: name.trim_end_matches(char::is_numeric).into(),
                hotkey: "x".into(),
                uid: 0,
                train_steps: None,
                stake: None,
            });
        }
        state.save(&path).unwrap();
        let back = State::load(&path).unwrap().unwrap();
        assert_eq!(back, state);
        let miners: Vec<&str> = back.role("miner").iter().map(|n| n.name.as_str()).collect();
        assert_eq!(miners, ["miner2", "miner10"]);
        std::fs::write(
            &path,
            r#"{"version":99,"netuid":1,"data_netuid":2,"base_model":"tiny","nodes":[]}"#,
        )
        .unwrap();
        let err = State::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("version 99") && err.contains("localnet.json"),
            "{err}"
        );
    }

    #[test]
    fn node_keys_are_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let (cold, hot) = layout.node_keys("miner1").unwrap();
        let (cold2, hot2) = layout.node_keys("miner1").unwrap();
        assert_eq!(cold.public(), cold2.public());
        assert_eq!(hot.public(), hot2.public());
        assert_ne!(cold.public(), hot.public());
        let (_, other) = layout.node_keys("miner2").unwrap();
        assert_ne!(other.public(), hot.public());
    }
}
