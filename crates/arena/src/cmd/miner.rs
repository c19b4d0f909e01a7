//! `arena miner`: the miner's commands. `train` fine-tunes a base model (see
//! [`super::miner_train`]); `push` publishes a model folder: checks first (hotkey registered,
//! competition active, commitment length, the competition's constraints; nothing is uploaded
//! when one fails), then private upload, hash of the uploaded revision, commitment on chain
//! (read back), then public. Interrupted pushes resume from the journal under
//! `<home>/miner/push/`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use arena_miner::journal::Stage;
use arena_miner::push::{push, PushRequest};
use serde_json::json;

use crate::config::Config;
use crate::context::{ChainArgs, HotkeyArgs, HubArgs, ScheduleArgs};

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
#[command(mut_arg("schedule", |a| a.alias("competitions")))]
#[command(mut_arg("hotkey", |a| a.help(
    "Hotkey name inside the wallet; it signs the commitment. Default: `[wallet] hotkey`"
)))]
#[command(mut_arg("hub", |a| a.help(
    "Hub URL. Default: HF_ENDPOINT, then `[hub] endpoint`, then huggingface.co. Token: HF_TOKEN or `[hub] token`"
)))]
pub struct PushArgs {
    /// Model folder (Hugging Face layout: config.json, safetensors, tokenizer files).
    pub dir: PathBuf,
    /// Hub repository `namespace/name` (4 to 38 characters).
    #[arg(long, value_name = "NS/NAME")]
    pub repo: String,
    /// Competition id the model enters.
    #[arg(long, value_name = "ID")]
    pub competition: u32,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    #[command(flatten)]
    pub key: HotkeyArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
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

async fn push_cmd(args: PushArgs, cfg: &Config) -> anyhow::Result<()> {
    if !args.dir.join("config.json").is_file() {
        bail!(
            "{} has no config.json: not a model folder",
            args.dir.display()
        );
    }
    let schedule = args.schedule.load(cfg)?;
    let hub = args.hub.client(cfg)?;
    let hotkey = args.key.signing_key(cfg)?;
    let (chain, producer) = args.chain.open_producing(cfg)?;
    let mut request = PushRequest::new(
        args.dir.clone(),
        &args.repo,
        args.chain.netuid(cfg),
        args.competition,
        cfg.home.clone(),
    );
    // Checked before anything is uploaded: registration, competition, commitment length,
    // the competition's constraints (see `arena_miner::push::preflight`).
    request.schedule = Some(schedule);
    request.schedule_source = args.schedule.source(cfg);
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
