//! Configuration: one TOML file, overridable by flags.
//!
//! Precedence, lowest first: built-in defaults, the TOML file (`--config`, `ARENA_CONFIG`, or
//! `./arena.toml` if present), `--set section.key=value` flags, then the specific flags of a
//! subcommand. Each group owns one section; a group added later adds its section here.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Flags every subcommand accepts.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Configuration file (TOML). Default: ./arena.toml when it exists.
    #[arg(long, global = true, env = "ARENA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for all state (databases, caches, logs). Default: ./.arena
    #[arg(long, global = true, env = "ARENA_HOME")]
    pub home: Option<PathBuf>,
    /// Override any configuration value: `--set chain.netuid=2` (repeatable; values are TOML).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Log filter (`info`, `debug`, `arena_chain=trace`, …). ARENA_LOG takes precedence.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// Write logs as JSON lines on stderr.
    #[arg(long, global = true)]
    pub log_json: bool,
}

/// The effective configuration.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for all state.
    pub home: PathBuf,
    pub wallet: WalletConfig,
    pub chain: ChainConfig,
    pub hub: HubConfig,
    /// `[data]`: data subnet, feed and producer defaults.
    pub data: DataConfig,
    /// `[validator]`: validator service settings.
    pub validator: ValidatorConfig,
}

/// `[wallet]`: where keys live and which ones to use by default.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct WalletConfig {
    /// Wallet root, Bittensor's layout. Default: ~/.bittensor/wallets
    pub root: PathBuf,
    /// Default wallet (coldkey) name.
    pub name: String,
    /// Default hotkey name.
    pub hotkey: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            home: PathBuf::from(".arena"),
            wallet: WalletConfig::default(),
            chain: ChainConfig::default(),
            hub: HubConfig::default(),
            data: Default::default(),
            validator: Default::default(),
        }
    }
}

/// `[chain]`: which chain to talk to and how the local chain service runs.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// The chain, as `--network` takes it: `local`, `finney`, `test`, `ws(s)://…`,
    /// `subtensor+http(s)://…` or `http(s)://…` (`arena chain serve`). Overrides `endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `http://HOST:PORT` of `arena chain serve`, or `local` to open <home>/chain in-process.
    pub endpoint: String,
    /// Default subnet for chain commands.
    pub netuid: u16,
    /// Listen address of `arena chain serve`.
    pub addr: String,
    /// Milliseconds between blocks of `arena chain serve` (subtensor: 12000).
    pub block_time_ms: u64,
    /// On a Subtensor network, a write returns once its block is finalized instead of once it
    /// is included (safer against reorganisations, about two blocks slower).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wait_for_finality: bool,
}

/// `[hub]`: the model hub the client commands talk to, and how `arena hub serve` runs.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Hub URL. HF_ENDPOINT overrides it; default https://huggingface.co.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Bearer token. HF_TOKEN and a saved token file (HF_TOKEN_PATH, else
    /// `$HF_HOME/token`, as `hf auth login` writes it) come first, as in huggingface_hub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Snapshot cache. Default: <home>/hub-cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// Listen address of `arena hub serve`.
    pub addr: String,
    /// Storage directory of `arena hub serve`. Default: <home>/hub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Users file of `arena hub serve` (`[[user]] name, token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<PathBuf>,
    /// `arena hub serve` stores files of at least this many bytes through LFS.
    pub inline_threshold: u64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            endpoint: None,
            token: None,
            cache_dir: None,
            addr: "127.0.0.1:8700".into(),
            root: None,
            users: None,
            inline_threshold: 10 * 1024 * 1024,
        }
    }
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            network: None,
            endpoint: "http://127.0.0.1:9944".into(),
            netuid: 1,
            addr: "127.0.0.1:9944".into(),
            block_time_ms: 12_000,
            wait_for_finality: false,
        }
    }
}

impl Default for WalletConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        WalletConfig {
            root: home.join(".bittensor").join("wallets"),
            name: "default".into(),
            hotkey: "default".into(),
        }
    }
}

/// `[data]`: the data subnet, the feed, and the producer's defaults.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The data subnet producers are registered on and sign batches for.
    pub netuid: u16,
    /// Feed URL producers publish to and validators pull from.
    pub feed_url: String,
    /// Listen address of `arena data serve`.
    pub addr: String,
    /// Largest batch the feed accepts, bytes of JSON.
    pub max_batch_bytes: usize,
    /// Least producer stake a validator accepts, in rao (100,000 TAO on a real chain).
    pub min_stake: u64,
    /// Oldest batch a validator uses, seconds (4 h).
    pub freshness_secs: u64,
    /// Replacement undesirable-phrase list (one per line); default: the shipped list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undesirable_phrases: Option<PathBuf>,
    /// Seconds between two batches of `arena data produce`.
    pub interval_secs: u64,
    /// Samples per produced batch.
    pub samples_per_batch: usize,
    /// `arena data serve` deletes batches received more than this many seconds ago (8 h).
    pub retention_secs: u64,
    /// `arena data serve` keeps at most this many batches, the newest.
    pub retention_batches: u64,
    /// Datasets-server base URL that hub datasets (`dataset = { hub = … }`) are read through
    /// (`/size`, `/rows`). Default: the hub's own root when `[hub] endpoint` (or HF_ENDPOINT)
    /// names another hub than huggingface.co (`arena hub serve` answers these endpoints), else
    /// https://datasets-server.huggingface.co.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasets_server: Option<String>,
    /// Subnet whose validators must have signed a Macrobench row for it to be used (SN1).
    pub macrobench_netuid: u16,
    /// Least stake of those validators, in rao (SN37: 10,000 TAO).
    pub macrobench_min_stake: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            netuid: 1,
            feed_url: "http://127.0.0.1:8790".into(),
            addr: "127.0.0.1:8790".into(),
            max_batch_bytes: arena_data::batch::DEFAULT_MAX_BATCH_BYTES,
            min_stake: 100_000 * 1_000_000_000,
            freshness_secs: 4 * 3600,
            undesirable_phrases: None,
            interval_secs: 60,
            samples_per_batch: 64,
            retention_secs: arena_data::feed::store::DEFAULT_RETENTION_SECS,
            retention_batches: arena_data::feed::store::DEFAULT_RETENTION_BATCHES,
            datasets_server: None,
            macrobench_netuid: arena_data::hub::SN1_NETUID,
            macrobench_min_stake: arena_data::hub::SN1_MIN_VALIDATOR_STAKE,
        }
    }
}

/// `[validator]`: the validator service.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorConfig {
    /// Competition schedule TOML, reloaded when it changes. Default: the built-in schedule.
    pub schedule: Option<PathBuf>,
    /// State folder (SQLite, model cache, events). Default: `<home>/validator`.
    pub state_dir: Option<PathBuf>,
    /// Blocks per sync window; one step per active competition per window (SN37: 360).
    pub sync_cadence: u64,
    /// Block the sync windows count from (SN37: 3 138 611; a localnet: 0).
    pub sync_origin: u64,
    /// Seconds between ticks of the loop.
    pub interval_secs: u64,
    /// Seconds one model's evaluation may take before its worker is killed.
    pub worker_timeout_secs: u64,
    /// Ceiling of a worker's address-space cap, GiB. The cap itself is derived per model from
    /// its checkpoint's size and the competition's sequence length
    /// (`arena_validator::worker::memory_limit`); GPU workers get none.
    pub worker_memory_max_gib: u64,
    /// Devices the eval workers run on, comma-separated: `auto`, `cpu`, `cuda`, `cuda:N`
    /// (`cuda:0,cuda:1`: one worker per GPU, in parallel).
    pub devices: String,
    /// Workers per device, evaluating different models at once; CPU workers share the
    /// machine's threads equally.
    pub eval_workers: usize,
    /// Address of the Prometheus `/metrics` endpoint; empty to disable.
    pub metrics_addr: String,
    /// `version_key` sent with `set_weights`.
    pub version_key: u64,
    /// Steps kept per competition in the state database; older ones are deleted as new ones
    /// are recorded (the EMA and the histories do not need them).
    pub keep_steps: usize,
    /// Size at which `events.jsonl` is rotated to `events.jsonl.1` (one old file is kept), MiB.
    pub events_max_mib: u64,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig {
            schedule: None,
            state_dir: None,
            sync_cadence: arena_core::seed::DEFAULT_SYNC_CADENCE,
            sync_origin: 0,
            interval_secs: 12,
            worker_timeout_secs: 600,
            worker_memory_max_gib: 32,
            devices: "auto".into(),
            eval_workers: 1,
            metrics_addr: "127.0.0.1:9108".into(),
            version_key: 0,
            keep_steps: arena_validator::service::Retention::default().keep_steps,
            events_max_mib: arena_validator::service::Retention::default().events_max_bytes >> 20,
        }
    }
}

impl Config {
    /// Loads defaults, then the file, then `--set` overrides, then `--home`.
    pub fn load(global: &GlobalArgs) -> anyhow::Result<Config> {
        let path = match &global.config {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from("arena.toml")).filter(|p| p.exists()),
        };
        let mut value = toml::Value::try_from(Config::default())?;
        if let Some(path) = &path {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config {}", path.display()))?;
            let file: toml::Value = toml::from_str(&text)
                .with_context(|| format!("parsing config {}", path.display()))?;
            merge(&mut value, file);
        }
        for item in &global.overrides {
            apply_override(&mut value, item)?;
        }
        let mut cfg: Config = value.try_into().with_context(|| match &path {
            Some(p) => format!("invalid configuration (file {})", p.display()),
            None => "invalid configuration".to_string(),
        })?;
        if let Some(home) = &global.home {
            cfg.home = home.clone();
        }
        Ok(cfg)
    }

    /// The effective configuration as TOML (the tests compare configurations through it).
    #[cfg(test)]
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Every key that is not set (optional keys left out of the file and the flags), as
    /// `section.key` with what applies instead. `config show` lists them as comments.
    pub fn unset_keys(&self) -> Vec<(&'static str, &'static str)> {
        let keys: [(&'static str, bool, &'static str); 9] = [
            (
                "hub.endpoint",
                self.hub.endpoint.is_none(),
                "HF_ENDPOINT, else https://huggingface.co",
            ),
            (
                "hub.token",
                self.hub.token.is_none(),
                "HF_TOKEN, else the file HF_TOKEN_PATH or $HF_HOME/token (~/.cache/huggingface/token), else none",
            ),
            (
                "hub.cache_dir",
                self.hub.cache_dir.is_none(),
                "<home>/hub-cache",
            ),
            ("hub.root", self.hub.root.is_none(), "<home>/hub"),
            (
                "hub.users",
                self.hub.users.is_none(),
                "only <root>/users.toml",
            ),
            (
                "data.undesirable_phrases",
                self.data.undesirable_phrases.is_none(),
                "the shipped list",
            ),
            (
                "data.datasets_server",
                self.data.datasets_server.is_none(),
                "the hub's root unless the hub is huggingface.co, else https://datasets-server.huggingface.co",
            ),
            (
                "validator.schedule",
                self.validator.schedule.is_none(),
                "the built-in schedule",
            ),
            (
                "validator.state_dir",
                self.validator.state_dir.is_none(),
                "<home>/validator",
            ),
        ];
        keys.into_iter()
            .filter(|(_, unset, _)| *unset)
            .map(|(key, _, instead)| (key, instead))
            .collect()
    }

    /// The effective configuration as TOML with every key: set keys as values, unset ones as
    /// comments saying what applies instead (`# token = …  (unset: HF_TOKEN, else none)`).
    pub fn to_toml_with_unset(&self) -> anyhow::Result<String> {
        let table = toml::Table::try_from(self)?;
        let unset = self.unset_keys();
        let mut out = String::new();
        for (key, value) in &table {
            if !value.is_table() {
                out.push_str(&format!("{} = {value}\n", toml_key(key)));
            }
        }
        for (section, value) in &table {
            let Some(keys) = value.as_table() else {
                continue;
            };
            out.push_str(&format!("\n[{}]\n", toml_key(section)));
            for (key, value) in keys {
                out.push_str(&format!("{} = {value}\n", toml_key(key)));
            }
            for (full, instead) in &unset {
                if let Some(key) = full
                    .strip_prefix(section.as_str())
                    .and_then(|k| k.strip_prefix('.'))
                {
                    out.push_str(&format!("# {key} =   (unset: {instead})\n"));
                }
            }
        }
        Ok(out)
    }

    /// A path under the state directory.
    #[allow(dead_code)]
    pub fn home_path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.home.join(rel)
    }
}

/// A key as TOML writes it: bare when it can be, else quoted.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        toml::Value::String(key.to_string()).to_string()
    }
}

/// Deep-merges `overlay` into `base` (tables merge, other values replace).
fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Applies `a.b.c=VALUE`; VALUE is parsed as TOML, falling back to a plain string.
fn apply_override(root: &mut toml::Value, item: &str) -> anyhow::Result<()> {
    let Some((key, raw)) = item.split_once('=') else {
        bail!("--set {item:?}: expected KEY=VALUE");
    };
    let key = key.trim();
    if key.is_empty() {
        bail!("--set {item:?}: empty key");
    }
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let table = node
            .as_table_mut()
            .with_context(|| format!("--set {key}: {part:?} is not inside a section"))?;
        if i + 1 == parts.len() {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        node = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    unreachable!("split always yields at least one part")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(config: Option<PathBuf>, sets: &[&str]) -> GlobalArgs {
        GlobalArgs {
            config,
            home: None,
            overrides: sets.iter().map(|s| s.to_string()).collect(),
            log_level: None,
            log_json: false,
        }
    }

    #[test]
    fn file_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "home = \"/tmp/x\"\n[wallet]\nname = \"miner\"\n").unwrap();
        let cfg = Config::load(&global(Some(path.clone()), &["wallet.hotkey=h1"])).unwrap();
        assert_eq!(cfg.home, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.wallet.name, "miner");
        assert_eq!(cfg.wallet.hotkey, "h1");
        let cfg = Config::load(&global(Some(path), &["wallet.name=\"v\""])).unwrap();
        assert_eq!(cfg.wallet.name, "v");
    }

    /// Keys of a TOML text: `section.key` for each `key = …` line, also commented ones
    /// (`# key = …`), so a documented optional key counts.
    fn documented_keys(text: &str) -> std::collections::BTreeSet<String> {
        let mut section = String::new();
        let mut keys = std::collections::BTreeSet::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
                continue;
            }
            let body = line.strip_prefix("# ").unwrap_or(line);
            let Some((key, _)) = body.split_once(" = ") else {
                continue;
            };
            if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !key.is_empty() {
                keys.insert(if section.is_empty() {
                    key.to_string()
                } else {
                    format!("{section}.{key}")
                });
            }
        }
        keys
    }

    /// `config show` lists every key: the set ones, and the unset optional ones as comments;
    /// the output is itself a valid configuration that loads to the same values.
    #[test]
    fn show_lists_every_key_and_reloads() {
        let cfg = Config::default();
        let text = cfg.to_toml_with_unset().unwrap();
        assert!(text.contains("# token =   (unset: HF_TOKEN"), "{text}");
        assert!(
            text.contains("# schedule =   (unset: the built-in schedule)"),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shown.toml");
        std::fs::write(&path, &text).unwrap();
        let back = Config::load(&global(Some(path), &[])).unwrap();
        assert_eq!(back.to_toml().unwrap(), cfg.to_toml().unwrap());
        // Setting a key moves it from the comments to the values.
        let cfg = Config::load(&global(None, &["hub.token=\"t\""])).unwrap();
        let text = cfg.to_toml_with_unset().unwrap();
        assert!(
            text.contains("token = \"t\"") && !text.contains("# token"),
            "{text}"
        );
    }

    /// docs/arena.toml documents exactly the keys there are (set or commented), and loads.
    #[test]
    fn the_example_config_has_every_key() {
        let example = include_str!("../../../docs/arena.toml");
        let shown = Config::default().to_toml_with_unset().unwrap();
        assert_eq!(documented_keys(example), documented_keys(&shown));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arena.toml");
        std::fs::write(&path, example).unwrap();
        Config::load(&global(Some(path), &[])).unwrap();
    }

    #[test]
    fn unknown_key_and_bad_override_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "[wallet]\nnmae = \"typo\"\n").unwrap();
        let err = Config::load(&global(Some(path), &[])).unwrap_err();
        assert!(format!("{err:#}").contains("nmae"), "{err:#}");
        assert!(Config::load(&global(None, &["novalue"])).is_err());
        assert!(Config::load(&global(None, &["wallet.name.x=1"])).is_err());
    }
}
