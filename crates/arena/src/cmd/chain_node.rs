//! `arena chain serve|status|metagraph|commitments|create-subnet|register|stake`: run the local
//! chain service and talk to a chain through the `Chain` trait.
//!
//! Queries and signed calls go to `--endpoint` (default `[chain] endpoint`): an
//! `http://host:port` URL of `arena chain serve`, or `local` to open `<home>/chain` in-process
//! (only while no server holds it). Keys come from the wallet (`--wallet`, `--hotkey`;
//! encrypted coldkeys need `--password-env`) or, for development, from secret URIs
//! (`--coldkey-uri //Alice`, `--hotkey-uri //Alice/hot`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use arena_chain::{Chain, Hyperparameters, LocalChain, LocalChainOptions, NetUid};
use arena_keys::wallet::Wallet;
use arena_keys::{Keypair, PublicKey};
use serde_json::json;

use crate::config::Config;
use crate::context::{open_chain, password_from_env, OpenedChain};

/// Where to reach the chain.
#[derive(clap::Args, Debug, Clone)]
pub struct EndpointArgs {
    /// Chain: `local` (open <home>/chain in-process), `http://127.0.0.1:9944` (`arena chain
    /// serve`), or a Subtensor node: `finney`, `test`, `ws(s)://HOST:PORT`,
    /// `subtensor+http(s)://HOST:PORT`. Default: `[chain] network`, else `[chain] endpoint`.
    #[arg(long = "network", visible_aliases = ["endpoint", "chain"], value_name = "NETWORK")]
    pub endpoint: Option<String>,
}

/// Which keys sign.
#[derive(clap::Args, Debug, Clone)]
pub struct KeyArgs {
    /// Wallet (coldkey) name. Default: `[wallet] name`.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Hotkey name inside the wallet. Default: `[wallet] hotkey`.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// Environment variable holding the coldkey password (for encrypted coldkeys).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Development coldkey as a secret URI (`//Alice`), instead of the wallet's.
    #[arg(long, value_name = "URI")]
    pub coldkey_uri: Option<String>,
    /// Development hotkey as a secret URI (`//Alice/hot`), instead of the wallet's.
    #[arg(long, value_name = "URI", conflicts_with = "hotkey_ss58")]
    pub hotkey_uri: Option<String>,
    /// Hotkey address, when only its public key is needed (register, stake).
    #[arg(long, value_name = "SS58")]
    pub hotkey_ss58: Option<String>,
}

/// Flags of `arena chain serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Default: `[chain] addr`.
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Milliseconds between blocks. Default: `[chain] block_time_ms` (12000 as subtensor).
    #[arg(long)]
    pub block_time_ms: Option<u64>,
}

/// Flags of `arena chain status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena chain metagraph` and `arena chain commitments`.
#[derive(clap::Args, Debug)]
pub struct SubnetQueryArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<NetUid>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena chain commitments`.
#[derive(clap::Args, Debug)]
pub struct CommitmentsArgs {
    #[command(flatten)]
    pub query: SubnetQueryArgs,
    /// Also list commitments of hotkeys no longer registered on the subnet (pruned or
    /// replaced); they are marked `not registered` (`"uid": null` in JSON).
    #[arg(long)]
    pub all: bool,
}

/// Flags of `arena chain create-subnet`.
#[derive(clap::Args, Debug)]
pub struct CreateSubnetArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Hyperparameters as a JSON file (fields of `Hyperparameters`; missing ones default).
    #[arg(long, value_name = "FILE")]
    pub hyperparameters: Option<PathBuf>,
    /// Blocks between epochs (overrides the file).
    #[arg(long)]
    pub tempo: Option<u16>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena chain register`.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub dry: crate::context::DryRunArgs,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<NetUid>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena chain stake`.
#[derive(clap::Args, Debug)]
pub struct StakeArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<NetUid>,
    /// Amount in rao (1 TAO = 1e9 rao).
    #[arg(long)]
    pub amount: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn wallet(keys: &KeyArgs, cfg: &Config) -> anyhow::Result<Wallet> {
    let name = keys
        .wallet
        .clone()
        .unwrap_or_else(|| cfg.wallet.name.clone());
    Ok(Wallet::open(&cfg.wallet.root, &name)?)
}

fn coldkey(keys: &KeyArgs, cfg: &Config) -> anyhow::Result<Keypair> {
    if let Some(uri) = &keys.coldkey_uri {
        return Keypair::from_uri(uri).context("--coldkey-uri");
    }
    let w = wallet(keys, cfg)?;
    let password = match (&keys.password_env, w.coldkey_is_encrypted()?) {
        (_, false) => None,
        (Some(var), true) => Some(password_from_env(var)?),
        (None, true) => bail!(
            "coldkey {} is encrypted: pass --password-env VAR",
            w.coldkey_path().display()
        ),
    };
    Ok(w.coldkey(password.as_deref())?)
}

fn hotkey_public(keys: &KeyArgs, cfg: &Config) -> anyhow::Result<PublicKey> {
    if let Some(ss58) = &keys.hotkey_ss58 {
        return PublicKey::from_ss58(ss58).context("--hotkey-ss58");
    }
    if let Some(uri) = &keys.hotkey_uri {
        return Ok(Keypair::from_uri(uri).context("--hotkey-uri")?.public());
    }
    let name = keys
        .hotkey
        .clone()
        .unwrap_or_else(|| cfg.wallet.hotkey.clone());
    Ok(wallet(keys, cfg)?.hotkeypub(&name)?)
}

/// The chain named by `--endpoint` or `[chain] endpoint`.
fn connect(endpoint: &EndpointArgs, cfg: &Config) -> anyhow::Result<OpenedChain> {
    open_chain(
        endpoint.endpoint.as_deref(),
        cfg,
        LocalChainOptions::default(),
    )
}

/// Runs the chain service until Ctrl-C or SIGTERM.
pub async fn serve(args: ServeArgs, cfg: &Config) -> anyhow::Result<()> {
    let addr = match args.addr {
        Some(a) => a,
        None => cfg
            .chain
            .addr
            .parse()
            .with_context(|| format!("[chain] addr {:?}", cfg.chain.addr))?,
    };
    let block_ms = args.block_time_ms.unwrap_or(cfg.chain.block_time_ms);
    if block_ms == 0 {
        bail!("--block-time-ms must be positive");
    }
    let dir = cfg.home.join("chain");
    let options = LocalChainOptions::fast(Duration::from_millis(block_ms));
    let chain = Arc::new(
        LocalChain::open(&dir, options)
            .with_context(|| format!("opening the chain in {}", dir.display()))?,
    );
    let head = chain.block_number().await?;
    let (bound, handle) = arena_substrate::serve(chain.clone(), addr).await?;
    let producer = chain.spawn_block_producer();
    // One line on stdout so scripts (and tests) can wait for readiness.
    println!(
        "{}",
        json!({"listening": format!("http://{bound}"), "substrate": format!("ws://{bound}"),
               "head": head,
               "genesis": chain.genesis().to_hex(), "block_time_ms": block_ms,
               "dir": dir.display().to_string()})
    );
    shutdown_signal().await;
    tracing::info!("stopping the chain service");
    producer.abort();
    handle.stop().ok();
    handle.stopped().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                ctrl_c.await.ok();
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await.ok();
    }
}

/// Head block, genesis and subnets, with each subnet's validator permits (granted of
/// `max_allowed_validators`: one more staked validator than that evicts the lowest stake).
pub async fn status(args: StatusArgs, cfg: &Config) -> anyhow::Result<()> {
    let chain = connect(&args.endpoint, cfg)?.chain;
    let head = chain
        .block(None)
        .await?
        .context("the chain has no blocks")?;
    let genesis = chain.genesis_hash().await?;
    let mut subnets = Vec::new();
    let mut permits = Vec::new();
    for netuid in chain.subnets().await? {
        subnets.push(chain.subnet(netuid).await?);
        let mg = chain.metagraph(netuid).await?;
        permits.push(mg.neurons.iter().filter(|n| n.validator_permit).count());
    }
    if args.json {
        let permits: Vec<_> = subnets
            .iter()
            .zip(&permits)
            .map(|(s, &held)| {
                json!({"netuid": s.netuid, "validator_permits": held,
                       "max_allowed_validators": s.hyperparameters.max_allowed_validators})
            })
            .collect();
        println!(
            "{}",
            json!({"head": head, "genesis": genesis, "subnets": subnets, "permits": permits})
        );
    } else {
        println!("block {} {}", head.number, head.hash);
        println!("genesis {genesis}");
        for (s, held) in subnets.iter().zip(&permits) {
            println!(
                "subnet {}: {} uids, tempo {}, epoch {} at block {}, owner {}, \
                 max_allowed_validators {} ({held} validator permits held)",
                s.netuid,
                s.n,
                s.hyperparameters.tempo,
                s.epoch_index,
                s.last_epoch_block,
                s.owner,
                s.hyperparameters.max_allowed_validators
            );
        }
    }
    Ok(())
}

/// Every uid of a subnet.
pub async fn metagraph(args: SubnetQueryArgs, cfg: &Config) -> anyhow::Result<()> {
    let chain = connect(&args.endpoint, cfg)?.chain;
    let netuid = args.netuid.unwrap_or(cfg.chain.netuid);
    let mg = chain.metagraph(netuid).await?;
    if args.json {
        println!("{}", serde_json::to_string(&mg)?);
        return Ok(());
    }
    println!(
        "subnet {netuid} at block {}: {} uids",
        mg.block,
        mg.neurons.len()
    );
    println!(
        "{:>4} {:<48} {:>16} {:>3} {:>8} {:>8} {:>8} {:>14} {:>8}",
        "uid", "hotkey", "stake(rao)", "vp", "incent", "divs", "cons", "emission", "updated"
    );
    for n in &mg.neurons {
        println!(
            "{:>4} {:<48} {:>16} {:>3} {:>8.5} {:>8.5} {:>8.5} {:>14} {:>8}",
            n.uid,
            n.hotkey.ss58(),
            n.stake,
            if n.validator_permit { "*" } else { "" },
            n.incentive_f64(),
            n.dividends_f64(),
            n.consensus_f64(),
            n.emission,
            n.last_update
        );
    }
    Ok(())
}

/// The commitments of hotkeys registered on a subnet now, with their uids (`--all`: also those
/// of hotkeys that left, which the chain keeps, marked as not registered).
pub async fn commitments(args: CommitmentsArgs, cfg: &Config) -> anyhow::Result<()> {
    let query = &args.query;
    let chain = connect(&query.endpoint, cfg)?.chain;
    let netuid = query.netuid.unwrap_or(cfg.chain.netuid);
    let all = chain.commitments(netuid).await?;
    let metagraph = chain.metagraph(netuid).await?;
    let listed: Vec<(Option<u16>, &arena_chain::Commitment)> = all
        .iter()
        .map(|c| (metagraph.uid_of(&c.hotkey), c))
        .filter(|(uid, _)| args.all || uid.is_some())
        .collect();
    if query.json {
        let mut rows = Vec::with_capacity(listed.len());
        for (uid, c) in &listed {
            let mut row = serde_json::to_value(c)?;
            if let Some(obj) = row.as_object_mut() {
                obj.insert("uid".into(), json!(uid));
            }
            rows.push(row);
        }
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    for (uid, c) in &listed {
        let text = c
            .text()
            .map(str::to_string)
            .unwrap_or_else(|| format!("0x{}", hex_string(&c.data)));
        let who = uid.map_or_else(|| "not registered".to_string(), |u| format!("uid {u}"));
        println!("{who} {} block {} {}", c.hotkey, c.block, text);
    }
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `register_network`, signed by the coldkey.
pub async fn create_subnet(args: CreateSubnetArgs, cfg: &Config) -> anyhow::Result<()> {
    let mut hp: Hyperparameters = match &args.hyperparameters {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => Hyperparameters::default(),
    };
    if let Some(tempo) = args.tempo {
        hp.tempo = tempo;
    }
    let cold = coldkey(&args.keys, cfg)?;
    let conn = connect(&args.endpoint, cfg)?;
    let receipt = conn.chain.create_subnet(&cold, hp).await?;
    conn.seal()?;
    report(args.json, "netuid", &receipt)
}

/// `burned_register`, signed by the coldkey.
pub async fn register(args: RegisterArgs, cfg: &Config) -> anyhow::Result<()> {
    let netuid = args.netuid.unwrap_or(cfg.chain.netuid);
    let cold = coldkey(&args.keys, cfg)?;
    let hot = hotkey_public(&args.keys, cfg)?;
    if args.dry.dry_run {
        let call = arena_subtensor::SubtensorCall::BurnedRegister {
            netuid,
            hotkey: hot,
        };
        let net = args.endpoint.endpoint.as_deref();
        return crate::context::dry_run(&call, &cold.public(), &args.dry, net, args.json, cfg)
            .await;
    }
    let conn = connect(&args.endpoint, cfg)?;
    let receipt = conn.chain.register(&cold, netuid, &hot).await?;
    conn.seal()?;
    report(args.json, "uid", &receipt)
}

/// `add_stake`, signed by the coldkey.
pub async fn stake(args: StakeArgs, cfg: &Config) -> anyhow::Result<()> {
    let netuid = args.netuid.unwrap_or(cfg.chain.netuid);
    let cold = coldkey(&args.keys, cfg)?;
    let hot = hotkey_public(&args.keys, cfg)?;
    let conn = connect(&args.endpoint, cfg)?;
    let receipt = conn
        .chain
        .add_stake(&cold, &hot, netuid, args.amount)
        .await?;
    conn.seal()?;
    report(args.json, "stake", &receipt)
}

fn report(json: bool, what: &str, receipt: &arena_chain::Receipt) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(receipt)?);
    } else {
        match receipt.assigned {
            Some(v) => println!("{what} {v}: accepted into block {}", receipt.block),
            None => println!("{what}: accepted into block {}", receipt.block),
        }
    }
    Ok(())
}
