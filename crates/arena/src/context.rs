//! The glue every command shares, in one place: the flag blocks several commands accept
//! (`ChainArgs`, `HubArgs`, `HotkeyArgs`, `ScheduleArgs`, `CompetitionArgs`, `DtypeArg`,
//! `DeviceArgs`, `DryRunArgs`),
//! and one function each for opening the chain, building the hub client, loading the
//! competition schedule and loading the signing hotkey.
//!
//! Layering: `main` → command modules (`cmd/*`) → this module → `config`. This module
//! imports nothing from `cmd/`; a command module imports this module and `config`, and a
//! group module (`cmd/miner.rs`, `cmd/model.rs`, …) the modules of its own subcommands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use arena_chain::{Chain, ChainClient, LocalChain, LocalChainOptions};
use arena_core::competition::{default_schedule, Competition, CompetitionId, Dtype, Schedule};
use arena_hub::client::HubClient;
use arena_keys::wallet::Wallet;
use arena_keys::Keypair;

use arena_keys::PublicKey;
use arena_subtensor::tx::{Era, TxParams};
use arena_subtensor::{Runtime, Subtensor, SubtensorCall};
use serde_json::json;

use crate::config::Config;

/// `--network NETWORK` (alias `--chain`) and `--netuid N`: the chain a command talks to and
/// the subnet it works on.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ChainArgs {
    /// Chain: `local` (<home>/chain in-process), `http(s)://HOST:PORT` (`arena chain serve`),
    /// or a Subtensor node: `finney`, `test`, `ws(s)://HOST:PORT`, `subtensor+http(s)://…`.
    /// Default: `[chain] network`, else `[chain] endpoint`.
    #[arg(long = "network", visible_alias = "chain", value_name = "NETWORK")]
    pub chain: Option<String>,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<u16>,
}

impl ChainArgs {
    /// `--netuid`, else `[chain] netuid`.
    pub(crate) fn netuid(&self, cfg: &Config) -> u16 {
        self.netuid.unwrap_or(cfg.chain.netuid)
    }

    /// The chain, plus a block producer when it is opened in-process: see
    /// [`open_chain_producing`].
    pub(crate) fn open_producing(&self, cfg: &Config) -> anyhow::Result<ProducingChain> {
        open_chain_producing(self.chain.as_deref(), cfg)
    }
}

/// A chain opened by [`open_chain`]: the chain to call, and the in-process chain behind it
/// when the endpoint is `local`.
pub(crate) struct OpenedChain {
    /// The chain to call.
    pub chain: Arc<dyn Chain>,
    local: Option<Arc<LocalChain>>,
}

impl OpenedChain {
    /// With an in-process chain nothing produces blocks, so seal the one holding the call.
    pub(crate) fn seal(&self) -> anyhow::Result<()> {
        if let Some(local) = &self.local {
            local.produce_block()?;
        }
        Ok(())
    }
}

/// Which chain a `--network` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Network {
    /// `local`: `<home>/chain` in-process.
    Local,
    /// `http(s)://…`: arena's own chain service (`arena chain serve`).
    Arena(String),
    /// `finney`, `test`, `ws(s)://…`, `subtensor+http(s)://…`: a Subtensor node at this URL.
    Subtensor(String),
}

/// The network named by `flag`, else `[chain] network`, else `[chain] endpoint`.
/// A plain `http(s)://` URL is arena's own chain (as before Subtensor support); a Subtensor
/// node over HTTP is written `subtensor+http(s)://…` (no probing: the choice is visible in
/// the command line).
pub(crate) fn network(flag: Option<&str>, cfg: &Config) -> anyhow::Result<Network> {
    let name = flag
        .or(cfg.chain.network.as_deref())
        .unwrap_or(&cfg.chain.endpoint);
    let lower = name.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "local" => Network::Local,
        "finney" => Network::Subtensor(arena_subtensor::FINNEY.into()),
        "test" | "testnet" => Network::Subtensor(arena_subtensor::TESTNET.into()),
        _ if lower.starts_with("ws://") || lower.starts_with("wss://") => {
            Network::Subtensor(name.to_string())
        }
        _ if lower.starts_with("subtensor+http://") || lower.starts_with("subtensor+https://") => {
            Network::Subtensor(name["subtensor+".len()..].to_string())
        }
        _ if lower.starts_with("http://") || lower.starts_with("https://") => {
            Network::Arena(name.to_string())
        }
        _ => bail!(
            "network {name:?}: expected local, finney, test, ws(s)://HOST:PORT, \
             subtensor+http(s)://HOST:PORT (a Subtensor node) or http(s)://HOST:PORT \
             (arena chain serve)"
        ),
    })
}

/// How the Subtensor client runs for this configuration (`[chain] wait_for_finality`; the
/// client's defaults otherwise: drand quicknet sealing, mortal eras, request timeouts).
pub(crate) fn subtensor_options(cfg: &Config) -> arena_subtensor::Options {
    arena_subtensor::Options {
        wait_for_finality: cfg.chain.wait_for_finality,
        ..arena_subtensor::Options::default()
    }
}

/// The chain `endpoint` names (see [`network`]): `local` opens `<home>/chain` in-process
/// with `options`; `http(s)://` is `arena chain serve`; a Subtensor network gets the
/// Subtensor client (metadata is read on first use).
pub(crate) fn open_chain(
    endpoint: Option<&str>,
    cfg: &Config,
    options: LocalChainOptions,
) -> anyhow::Result<OpenedChain> {
    let url = match network(endpoint, cfg)? {
        Network::Local => "local".to_string(),
        Network::Arena(url) => url,
        Network::Subtensor(url) => {
            let client = arena_subtensor::Subtensor::new(&url, subtensor_options(cfg))?;
            return Ok(OpenedChain {
                chain: Arc::new(client),
                local: None,
            });
        }
    };
    let url = url.as_str();
    if url == "local" {
        let dir = cfg.home.join("chain");
        let local = Arc::new(
            LocalChain::open(&dir, options)
                .with_context(|| format!("opening the local chain in {}", dir.display()))?,
        );
        return Ok(OpenedChain {
            chain: local.clone(),
            local: Some(local),
        });
    }
    if !url.starts_with("http://") && !url.starts_with("https://") {
        bail!("chain endpoint {url:?}: expected http://HOST:PORT or \"local\"");
    }
    Ok(OpenedChain {
        chain: Arc::new(ChainClient::new(url)?),
        local: None,
    })
}

/// A chain client, and the block producer [`open_chain_producing`] started for an in-process
/// chain (abort it when done).
pub(crate) type ProducingChain = (Arc<dyn Chain>, Option<tokio::task::JoinHandle<()>>);

/// The chain at `endpoint` as [`open_chain`] opens it, plus a block producer (a block every
/// 250 ms) when it is opened in-process: nothing else would seal the blocks a miner's calls
/// wait for.
pub(crate) fn open_chain_producing(
    endpoint: Option<&str>,
    cfg: &Config,
) -> anyhow::Result<ProducingChain> {
    let opened = open_chain(
        endpoint,
        cfg,
        LocalChainOptions::fast(Duration::from_millis(250)),
    )?;
    let producer = opened.local.as_ref().map(|l| l.spawn_block_producer());
    Ok((opened.chain, producer))
}

/// The data sources the schedule names (see `arena_data::sources`): the feed at
/// `[data] feed_url`, judged by `[data]`'s subnet, stake, freshness and phrase rules; the
/// shipped corpus; local JSONL files; hub datasets through [`hub_data`]. `arena validator run` and `arena miner check` build them here.
pub(crate) fn data_sources(
    schedule: &ScheduleArgs,
    hub: &HubArgs,
    cfg: &Config,
    chain: Arc<dyn Chain>,
) -> anyhow::Result<BTreeMap<String, Box<dyn arena_data::source::DataSource>>> {
    let schedule = schedule.load(cfg)?;
    let mut policy = arena_data::accept::AcceptancePolicy::new(cfg.data.netuid, cfg.data.min_stake);
    policy.freshness_ms = cfg.data.freshness_secs.saturating_mul(1000);
    if let Some(path) = &cfg.data.undesirable_phrases {
        policy.phrases = arena_data::phrases::PhraseFilter::from_file(path)?;
    }
    let feed = arena_data::sources::FeedSettings {
        url: cfg.data.feed_url.clone(),
        policy,
        oracle: arena_data::chain_stake::chain_oracle(chain.clone()),
    };
    let hub = hub_data(None, hub.hub.as_deref(), cfg, Some(chain))?;
    // Hub datasets: the datasets-server client is wired in by the lead; until then hub tasks
    // are skipped for every model.
    Ok(arena_data::sources::schedule_sources(
        &schedule,
        Some(&feed),
        Some(&hub),
    ))
}

/// `--hub URL`: the model hub a command talks to.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct HubArgs {
    /// Hub URL. Default: HF_ENDPOINT, then `[hub] endpoint`, then huggingface.co.
    #[arg(long, value_name = "URL")]
    pub hub: Option<String>,
}

impl HubArgs {
    /// The hub client these flags name: see [`hub_client`].
    pub(crate) fn client(&self, cfg: &Config) -> anyhow::Result<HubClient> {
        hub_client(self.hub.as_deref(), cfg)
    }
}

/// The hub endpoint: `endpoint` (a flag), else HF_ENDPOINT, else `[hub] endpoint`, else
/// huggingface.co.
pub(crate) fn hub_endpoint(endpoint: Option<&str>, cfg: &Config) -> String {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    endpoint
        .map(str::to_string)
        .or_else(|| from_env("HF_ENDPOINT"))
        .or_else(|| cfg.hub.endpoint.clone())
        .unwrap_or_else(|| arena_hub::client::DEFAULT_ENDPOINT.to_string())
}

/// The hub token, found the way `huggingface_hub` finds it: HF_TOKEN, else the file
/// HF_TOKEN_PATH, else `$HF_HOME/token` (default `~/.cache/huggingface/token`, where
/// `hf auth login` saves it), else `[hub] token`.
pub(crate) fn hub_token(cfg: &Config) -> Option<String> {
    let sources = arena_hub::client::TokenSources::from_process(cfg.hub.token.clone());
    arena_hub::client::resolve_token(&sources).map(|(token, _)| token)
}

/// The hub client: [`hub_endpoint`] with [`hub_token`].
pub(crate) fn hub_client(endpoint: Option<&str>, cfg: &Config) -> anyhow::Result<HubClient> {
    Ok(HubClient::new(
        &hub_endpoint(endpoint, cfg),
        hub_token(cfg),
    )?)
}

/// The datasets-server hub datasets are read through: `flag`, else `[data] datasets_server`,
/// else the hub's own root ([`hub_endpoint`] of `hub`, the command's `--hub`) when the hub is
/// not huggingface.co (`arena hub serve` answers `/size` and `/rows`), else the public
/// datasets-server.
pub(crate) fn datasets_server_url(flag: Option<&str>, hub: Option<&str>, cfg: &Config) -> String {
    if let Some(url) = flag.or(cfg.data.datasets_server.as_deref()) {
        return url.to_string();
    }
    let hub = hub_endpoint(hub, cfg);
    if hub.trim_end_matches('/') == arena_hub::client::DEFAULT_ENDPOINT {
        arena_hub::datasets_server::DEFAULT_DATASETS_SERVER.to_string()
    } else {
        hub
    }
}

/// The rows API of hub datasets (see [`datasets_server_url`]; `hub` is the command's `--hub`), with the hub token, and the
/// Macrobench filter on `[data] macrobench_netuid` / `macrobench_min_stake` when a chain is
/// given to read stake from.
pub(crate) fn hub_data(
    flag: Option<&str>,
    hub: Option<&str>,
    cfg: &Config,
    chain: Option<Arc<dyn Chain>>,
) -> anyhow::Result<arena_data::sources::HubSettings> {
    let url = datasets_server_url(flag, hub, cfg);
    let client =
        arena_hub::datasets_server::DatasetsServerClient::new(Some(url.as_str()), hub_token(cfg))
            .with_context(|| format!("datasets-server {url}"))?;
    let validators = chain.map(|chain| arena_data::hub::ValidatorFilter {
        oracle: arena_data::chain_stake::chain_oracle(chain),
        netuid: cfg.data.macrobench_netuid,
        min_stake: cfg.data.macrobench_min_stake,
    });
    Ok(arena_data::sources::HubSettings {
        api: Arc::new(client),
        validators,
    })
}

/// The folder of `competition`'s tokenizer when it names one on the hub (`kind = "hub"`),
/// fetched through the configured hub into `<home>/tokenizers` (reused while it matches its
/// pins); `None` when models are scored with their own files.
pub(crate) fn competition_tokenizer(
    competition: &Competition,
    cfg: &Config,
) -> anyhow::Result<Option<PathBuf>> {
    let spec = &competition.constraints.tokenizer;
    if spec.hub_files().is_none() {
        return Ok(None);
    }
    let hub = hub_client(None, cfg)?;
    let cache = cfg.home.join("tokenizers");
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(hub.fetch_tokenizer(spec, &cache))
    })
    .with_context(|| {
        format!(
            "fetching the tokenizer of competition {} from {} (pass --tokenizer DIR to use a local copy)",
            competition.id,
            hub.endpoint()
        )
    })
}

/// `--wallet`, `--hotkey`, `--hotkey-uri`: the hotkey a service signs with.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct HotkeyArgs {
    /// Wallet (coldkey) name. Default: `[wallet] name`.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Hotkey name inside the wallet. Default: `[wallet] hotkey`.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// Development hotkey as a secret URI (`//Alice/hot`), instead of the wallet's.
    #[arg(long, value_name = "URI", conflicts_with_all = ["wallet", "hotkey"])]
    pub hotkey_uri: Option<String>,
}

impl HotkeyArgs {
    /// The signing hotkey: `--hotkey-uri` when given, else the wallet's (see
    /// [`wallet_hotkey`]).
    pub(crate) fn signing_key(&self, cfg: &Config) -> anyhow::Result<Keypair> {
        if let Some(uri) = &self.hotkey_uri {
            return Keypair::from_uri(uri).context("--hotkey-uri");
        }
        wallet_hotkey(self.wallet.as_deref(), self.hotkey.as_deref(), cfg)
    }
}

/// Hotkey `hotkey` (default `[wallet] hotkey`) of wallet `wallet` (default `[wallet] name`)
/// under `[wallet] root`. A missing wallet or hotkey names the file expected and carries a
/// [`Hint`] naming `arena wallet list` and the `arena wallet new` that would create it.
pub(crate) fn wallet_hotkey(
    wallet: Option<&str>,
    hotkey: Option<&str>,
    cfg: &Config,
) -> anyhow::Result<Keypair> {
    let wallet = wallet.unwrap_or(&cfg.wallet.name);
    let name = hotkey.unwrap_or(&cfg.wallet.hotkey);
    let root = &cfg.wallet.root;
    let listing = format!(
        "`arena wallet list` lists the wallets and hotkeys under {} (`[wallet] root`; \
         `--set wallet.root=DIR` for another)",
        root.display()
    );
    let opened = match Wallet::open(root, wallet) {
        Ok(w) => w,
        Err(e @ arena_keys::WalletError::NoWallet { .. }) => {
            return Err(anyhow::Error::new(e).context(Hint(format!(
                "{listing}; `arena wallet new --name {wallet} --hotkey {name}` creates one"
            ))))
        }
        Err(e) => return Err(e.into()),
    };
    match opened.hotkey(name) {
        Ok(key) => Ok(key),
        Err(arena_keys::WalletError::Keyfile(arena_keys::keyfile::KeyfileError::Io {
            path,
            cause,
        })) if cause.kind() == std::io::ErrorKind::NotFound => Err(anyhow::anyhow!(
            "wallet {wallet:?} has no hotkey {name:?}: expected its key file at {}",
            path.display()
        )
        .context(Hint(format!(
            "{listing}; `arena wallet new --name {wallet} --hotkey {name}` adds one"
        )))),
        Err(e) => {
            Err(anyhow::Error::new(e)
                .context(format!("reading hotkey {name:?} of wallet {wallet:?}")))
        }
    }
}

/// A key password from the environment variable `var` (`--password-env VAR`): an unset or
/// empty variable is an error, never an empty password.
pub(crate) fn password_from_env(var: &str) -> anyhow::Result<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok(value),
        Ok(_) => bail!("environment variable {var} (--password-env) is empty"),
        Err(_) => bail!("environment variable {var} (--password-env) is not set"),
    }
}

/// A hint for the person at the terminal: `main` prints it after the error, on its own line
/// (`hint: …`), instead of as one more cause.
#[derive(Debug)]
pub(crate) struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `--schedule FILE`: the competition schedule.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ScheduleArgs {
    /// Competition schedule TOML. Default: `[validator] schedule`, else the built-in one.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
}

impl ScheduleArgs {
    /// `--schedule`, else `[validator] schedule`; `None` for the built-in schedule.
    pub(crate) fn path<'a>(&'a self, cfg: &'a Config) -> Option<&'a Path> {
        self.schedule
            .as_deref()
            .or(cfg.validator.schedule.as_deref())
    }

    /// The schedule [`ScheduleArgs::path`] names, else the built-in one.
    pub(crate) fn load(&self, cfg: &Config) -> anyhow::Result<Schedule> {
        load_schedule(self.path(cfg))
    }

    /// Names the schedule [`ScheduleArgs::load`] reads, for messages.
    pub(crate) fn source(&self, cfg: &Config) -> String {
        match self.path(cfg) {
            Some(p) => format!("schedule {}", p.display()),
            None => "the built-in schedule".to_string(),
        }
    }
}

/// The schedule at `path`, or the built-in one when `None`.
pub(crate) fn load_schedule(path: Option<&Path>) -> anyhow::Result<Schedule> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read schedule {}", p.display()))?;
            Schedule::from_toml_str(&text).with_context(|| format!("schedule {}", p.display()))
        }
        None => Ok(default_schedule()?),
    }
}

/// Which competition of which schedule: `--schedule FILE` and `--block N`.
#[derive(clap::Args, Debug, Clone)]
#[command(mut_arg("schedule", |a| a.help(
    "Competition schedule TOML. Default: `[validator] schedule`, else the built-in schedule"
)))]
pub(crate) struct CompetitionArgs {
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// Block at which the schedule is read. Default: the latest entry that has the competition.
    #[arg(long)]
    pub block: Option<u64>,
}

impl CompetitionArgs {
    /// Competition `id` from the schedule these flags (and `cfg`) name: the one active at
    /// `--block`, else the newest entry that has it.
    pub(crate) fn competition(
        &self,
        id: CompetitionId,
        cfg: &Config,
    ) -> anyhow::Result<Competition> {
        let path = self.schedule.path(cfg);
        let schedule = load_schedule(path)?;
        let found = match self.block {
            Some(block) => schedule.competition_at(id, block),
            None => schedule.newest_competition(id),
        };
        let source = path.map_or("the built-in schedule".to_string(), |p| {
            p.display().to_string()
        });
        match (found, self.block) {
            (Some(c), _) => Ok(c.clone()),
            (None, Some(block)) => {
                bail!("{source}: no competition {id} is active at block {block}")
            }
            (None, None) => bail!("{source}: no competition {id}"),
        }
    }
}

/// `--device` of the commands that load a model (`model eval`, `model score`, `miner train`,
/// `bench eval`): parsed by `arena_model::DeviceSpec`, so `cpu`, `cuda`, `cuda:N`, `auto`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub(crate) struct DeviceArgs {
    /// Device the model runs on (see `device_help`).
    #[arg(long, value_name = "DEVICE", value_parser = parse_device_spec)]
    pub device: Option<arena_model::DeviceSpec>,
}

impl DeviceArgs {
    /// Opens the flag's device, else `default`.
    pub fn open(&self, default: arena_model::DeviceSpec) -> anyhow::Result<arena_model::Device> {
        let spec = self.device.unwrap_or(default);
        spec.open().context("--device")
    }
}

/// The help of `--device`, with the command's default (each command sets it with
/// `mut_arg("device", …)`).
pub(crate) fn device_help(default: &'static str) -> String {
    format!(
        "Device the model runs on: cpu, cuda (the first GPU), cuda:N, or auto (the first GPU \
         of a CUDA build when present, else the CPU). A GPU needs a binary built with the \
         `cuda` feature (./scripts/build-cuda). Default: {default}"
    )
}

/// clap's parser of a device: the syntax and whether this build supports it.
pub(crate) fn parse_device_spec(
    text: &str,
) -> Result<arena_model::DeviceSpec, arena_model::DeviceError> {
    text.parse::<arena_model::DeviceSpec>()?.check_supported()
}

/// Precision accepted by `--dtype`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum DtypeArg {
    /// bfloat16.
    Bf16,
    /// IEEE half.
    F16,
    /// 32-bit float.
    F32,
}

impl From<DtypeArg> for Dtype {
    fn from(d: DtypeArg) -> Dtype {
        match d {
            DtypeArg::Bf16 => Dtype::Bf16,
            DtypeArg::F16 => Dtype::F16,
            DtypeArg::F32 => Dtype::F32,
        }
    }
}

/// `--dry-run` and the offline inputs of a signing review.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DryRunArgs {
    /// Print the call (and with --nonce the signing payload) as hex; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the nonce of the signing payload (immortal era, tip 0).
    #[arg(long, requires = "dry_run")]
    pub nonce: Option<u64>,
    /// With --dry-run: runtime metadata file (SCALE, V14–V16) instead of the node's.
    #[arg(long, value_name = "FILE", requires_all = ["dry_run", "spec_version", "tx_version"])]
    pub metadata: Option<PathBuf>,
    /// With --metadata: the chain's genesis hash (needed for the signing payload).
    #[arg(long, value_name = "HASH", requires = "metadata")]
    pub genesis: Option<String>,
    /// With --metadata: the runtime's spec version.
    #[arg(long, requires = "metadata")]
    pub spec_version: Option<u32>,
    /// With --metadata: the runtime's transaction version.
    #[arg(long, requires = "metadata")]
    pub tx_version: Option<u32>,
}

/// The runtime and genesis a dry run encodes with: the files and numbers given, else the
/// Subtensor node's.
async fn review_runtime(
    dry: &DryRunArgs,
    net: Option<&str>,
    cfg: &Config,
) -> anyhow::Result<(Runtime, Option<[u8; 32]>)> {
    if let Some(path) = &dry.metadata {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (Some(spec), Some(txv)) = (dry.spec_version, dry.tx_version) else {
            bail!("--metadata needs --spec-version and --tx-version");
        };
        let runtime = Runtime::from_bytes(&bytes, spec, txv)
            .with_context(|| format!("metadata {}", path.display()))?;
        let genesis = match &dry.genesis {
            Some(g) => Some(parse_genesis(g)?),
            None => None,
        };
        return Ok((runtime, genesis));
    }
    let Network::Subtensor(url) = network(net, cfg)? else {
        bail!(
            "--dry-run encodes Subtensor calls: name a Subtensor node with --network, or give \
             --metadata FILE --spec-version N --tx-version N [--genesis HASH]"
        );
    };
    let client = Subtensor::connect(&url, subtensor_options(cfg))
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let runtime = client.runtime().await?;
    let genesis = match &dry.genesis {
        Some(g) => parse_genesis(g)?,
        None => client.genesis().await?,
    };
    Ok((runtime, Some(genesis)))
}

fn parse_genesis(text: &str) -> anyhow::Result<[u8; 32]> {
    let raw = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(raw).with_context(|| format!("--genesis {text:?}"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("--genesis {text:?}: expected 32 bytes"))
}

/// Prints `call` (and the signing payload when `--nonce` is given) without sending it.
pub(crate) async fn dry_run(
    call: &SubtensorCall,
    signer: &PublicKey,
    dry: &DryRunArgs,
    net: Option<&str>,
    json_out: bool,
    cfg: &Config,
) -> anyhow::Result<()> {
    let (runtime, genesis) = review_runtime(dry, net, cfg).await?;
    let call_bytes = call.encode(&runtime)?;
    let mut out = serde_json::Map::new();
    out.insert(
        "call".into(),
        json!(format!("0x{}", hex::encode(&call_bytes))),
    );
    if let Some(nonce) = dry.nonce {
        let Some(genesis) = genesis else {
            bail!("--nonce with --metadata needs --genesis HASH for the signing payload");
        };
        let params = TxParams {
            nonce,
            tip: 0,
            era: Era::Immortal,
            genesis,
        };
        let payload = arena_subtensor::tx::signing_payload(&runtime, &call_bytes, &params)?;
        out.insert(
            "signing_payload".into(),
            json!(format!("0x{}", hex::encode(payload))),
        );
    }
    if json_out {
        println!("{}", serde_json::Value::Object(out));
    } else {
        let (pallet, name) = call.name();
        println!(
            "{pallet}.{name} for spec {} (signer {}), not sent:",
            runtime.spec_version,
            signer.ss58()
        );
        for (k, v) in &out {
            println!("{k} {}", v.as_str().unwrap_or_default());
        }
    }
    Ok(())
}

/// How arena-model runs a forward pass in a worker, for the memory formula: the worker scores
/// with `EvalOptions::default()`'s batch limits; the engine keeps weights in their stored dtype
/// (one matrix group upcast at a time) and its blockwise attention holds at most
/// `ATTENTION_KEY_TILE` keys of scores per query row at once.
pub(crate) fn worker_engine_shape() -> arena_validator::worker::EngineShape {
    let batch = arena_model::scoring::BatchLimits::default();
    arena_validator::worker::EngineShape {
        batch_tokens: batch.max_batch_tokens as u64,
        logit_rows: batch.max_logit_rows as u64,
        attention_block: Some(arena_model::attention::ATTENTION_KEY_TILE as u64),
        upcast_weights: false,
        threads: 1,
    }
}
