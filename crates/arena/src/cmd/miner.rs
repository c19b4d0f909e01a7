//! `arena miner`: the miner's commands. `train` fine-tunes a base model (see
//! [`super::miner_train`]); `push` publishes a model folder: checks first (hotkey registered,
//! competition active, commitment length, the competition's constraints; nothing is uploaded
//! when one fails), then private upload, hash of the uploaded revision, commitment on chain
//! (read back), then public. Interrupted pushes resume from the journal under
//! `<home>/miner/push/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use arena_chain::{Chain, ChainClient, LocalChain, LocalChainOptions};
use arena_hub::client::HubClient;
use arena_keys::Keypair;
use arena_miner::journal::Stage;
use arena_miner::push::{push, PushRequest};
use serde_json::json;

use crate::config::Config;

/// Train models, and publish them: upload to the hub, commit the hash to the chain, make the
/// repo public.
#[derive(clap::Subcommand, Debug)]
pub enum MinerCmd {
    /// Fine-tune a base model (full or LoRA) on prompt/response data for a competition.
    Train(super::miner_train::TrainArgs),
    /// Run the validators' checks on a folder and match it against the competition's top model.
    Check(super::miner_check::CheckArgs),
    /// Publish a model folder: upload (private), commit its hash to the chain, make it public.
    Push(PushArgs),
}

/// Where `--stop-after` may stop a push.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum StopAfter {
    /// After the upload and the hash of the uploaded revision.
    Uploaded,
    /// After the commitment was read back from the chain (the repo stays private).
    Committed,
}

/// Flags of `arena miner push`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Model folder (Hugging Face layout: config.json, safetensors, tokenizer files).
    pub dir: PathBuf,
    /// Hub repository `namespace/name` (4 to 38 characters).
    #[arg(long, value_name = "NS/NAME")]
    pub repo: String,
    /// Competition id the model enters.
    #[arg(long, value_name = "ID")]
    pub competition: u32,
    /// Competition schedule TOML. Default: `[validator] schedule`, else the built-in one.
    #[arg(long, value_name = "FILE")]
    pub competitions: Option<PathBuf>,
    /// Wallet (coldkey) name. Default: `[wallet] name`.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Hotkey name inside the wallet; it signs the commitment. Default: `[wallet] hotkey`.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// Development hotkey as a secret URI (`//Alice/hot`), instead of the wallet's.
    #[arg(long, value_name = "URI", conflicts_with_all = ["wallet", "hotkey"])]
    pub hotkey_uri: Option<String>,
    /// Hub URL. Default: HF_ENDPOINT, then `[hub] endpoint`, then huggingface.co. Token: HF_TOKEN or `[hub] token`.
    #[arg(long, value_name = "URL")]
    pub hub: Option<String>,
    /// Chain endpoint: `http://HOST:PORT` or `local` (<home>/chain in-process). Default: `[chain] endpoint`.
    #[arg(long, value_name = "URL")]
    pub chain: Option<String>,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<u16>,
    /// If this epoch's commitment budget is spent, wait for the next epoch instead of failing.
    #[arg(long)]
    pub wait: bool,
    /// Hash the uploaded revision from a download rather than from the hub's file digests.
    #[arg(long)]
    pub verify_download: bool,
    /// Seconds to wait for the commitment to become readable on chain.
    #[arg(long, default_value_t = 120)]
    pub readback_timeout: u64,
    /// Stop at a stage; running the same command again finishes the push.
    #[arg(long, value_enum)]
    pub stop_after: Option<StopAfter>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena miner …`.
pub async fn run(cmd: MinerCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        MinerCmd::Push(args) => push_cmd(args, cfg).await,
        MinerCmd::Train(args) => super::miner_train::run(args, cfg).await,
        MinerCmd::Check(args) => super::miner_check::run(args, cfg).await,
    }
}

/// The hub client: `--hub`, else HF_ENDPOINT, else `[hub] endpoint`; token HF_TOKEN or `[hub] token`.
pub(crate) fn hub_client(hub: Option<&str>, cfg: &Config) -> anyhow::Result<HubClient> {
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let token = from_env("HF_TOKEN").or_else(|| cfg.hub.token.clone());
    let endpoint = hub
        .map(str::to_string)
        .or_else(|| from_env("HF_ENDPOINT"))
        .or_else(|| cfg.hub.endpoint.clone())
        .unwrap_or_else(|| arena_hub::client::DEFAULT_ENDPOINT.to_string());
    Ok(HubClient::new(&endpoint, token)?)
}

fn hotkey(args: &PushArgs, cfg: &Config) -> anyhow::Result<Keypair> {
    super::wallet::signing_hotkey(
        args.hotkey_uri.as_deref(),
        args.wallet.as_deref(),
        args.hotkey.as_deref(),
        cfg,
    )
}

/// A chain client, and the block producer [`chain`] started for an in-process chain.
pub(crate) type OpenedChain = (Arc<dyn Chain>, Option<tokio::task::JoinHandle<()>>);

/// The chain, plus a block producer when it is opened in-process (nothing else would seal
/// the block holding the commitment).
pub(crate) fn chain(endpoint: Option<&str>, cfg: &Config) -> anyhow::Result<OpenedChain> {
    let url = endpoint.unwrap_or(&cfg.chain.endpoint);
    if url == "local" {
        let dir = cfg.home.join("chain");
        let local = Arc::new(
            LocalChain::open(&dir, LocalChainOptions::fast(Duration::from_millis(250)))
                .with_context(|| format!("opening the local chain in {}", dir.display()))?,
        );
        let producer = local.spawn_block_producer();
        return Ok((local, Some(producer)));
    }
    if !url.starts_with("http://") && !url.starts_with("https://") {
        bail!("chain endpoint {url:?}: expected http://HOST:PORT or \"local\"");
    }
    Ok((Arc::new(ChainClient::new(url)?), None))
}

async fn push_cmd(args: PushArgs, cfg: &Config) -> anyhow::Result<()> {
    if !args.dir.join("config.json").is_file() {
        bail!(
            "{} has no config.json: not a model folder",
            args.dir.display()
        );
    }
    let schedule = super::miner_train::load_schedule(args.competitions.as_ref(), cfg)?;
    let hub = hub_client(args.hub.as_deref(), cfg)?;
    let hotkey = hotkey(&args, cfg)?;
    let (chain, producer) = chain(args.chain.as_deref(), cfg)?;
    let mut request = PushRequest::new(
        args.dir.clone(),
        &args.repo,
        args.netuid.unwrap_or(cfg.chain.netuid),
        args.competition,
        cfg.home.clone(),
    );
    // Checked before anything is uploaded: registration, competition, commitment length,
    // the competition's constraints (see `arena_miner::push::preflight`).
    request.schedule = Some(schedule);
    request.schedule_source = super::miner_train::schedule_source(args.competitions.as_ref(), cfg);
    request.wait_for_budget = args.wait;
    request.force_download = args.verify_download;
    request.readback_timeout = Duration::from_secs(args.readback_timeout);
    request.stop_after = args.stop_after.map(|s| match s {
        StopAfter::Uploaded => Stage::Uploaded,
        StopAfter::Committed => Stage::Committed,
    });
    let outcome = push(&hub, chain.as_ref(), &hotkey, &request).await;
    if let Some(producer) = producer {
        producer.abort();
    }
    let outcome = outcome?;
    let j = &outcome.journal;
    if args.json {
        println!(
            "{}",
            json!({
                "repo": j.repo_id,
                "netuid": j.netuid,
                "competition": j.competition_id,
                "hotkey": j.hotkey,
                "stage": j.stage,
                "revision": j.revision,
                "directory_hash": j.directory_hash,
                "secure_hash": j.secure_hash,
                "commitment": j.commitment,
                "commit_block": j.commit_block,
                "resumed": outcome.resumed,
                "commits_sent": outcome.commits_sent,
                "journal": outcome.journal_path,
            })
        );
    } else {
        println!("repo        {} ({:?})", j.repo_id, j.stage);
        println!("revision    {}", j.revision.as_deref().unwrap_or("-"));
        println!("commitment  {}", j.commitment.as_deref().unwrap_or("-"));
        match j.commit_block {
            Some(block) => println!("block       {block} (hotkey {})", j.hotkey),
            None => println!("block       - (hotkey {})", j.hotkey),
        }
        if j.stage != Stage::Public {
            println!(
                "stopped at {:?}; run the same command again to finish",
                j.stage
            );
        }
    }
    Ok(())
}
