//! `arena chain set-weights|commit`, with the `--dry-run` every chain write has
//! (`context::dry_run`).

use anyhow::bail;
use arena_chain::NetUid;
use arena_subtensor::SubtensorCall;

use crate::config::Config;
use crate::context::{dry_run, open_chain, DryRunArgs, HotkeyArgs};

/// Flags of `arena chain set-weights`.
#[derive(clap::Args, Debug)]
pub struct SetWeightsArgs {
    /// Chain (see `arena chain metagraph --help`). Default: `[chain] network`/`endpoint`.
    #[arg(long = "network", visible_aliases = ["endpoint", "chain"], value_name = "NETWORK")]
    pub network: Option<String>,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<NetUid>,
    /// Destination uids, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub uids: Vec<u16>,
    /// u16 weights, one per uid, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub weights: Vec<u16>,
    /// Version key (at least the subnet's `weights_version_key`).
    #[arg(long, default_value_t = 0)]
    pub version_key: u64,
    #[command(flatten)]
    pub hotkey: HotkeyArgs,
    #[command(flatten)]
    pub dry: DryRunArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena chain commit`.
#[derive(clap::Args, Debug)]
pub struct CommitArgs {
    /// Chain (see `arena chain metagraph --help`). Default: `[chain] network`/`endpoint`.
    #[arg(long = "network", visible_aliases = ["endpoint", "chain"], value_name = "NETWORK")]
    pub network: Option<String>,
    /// Subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<NetUid>,
    /// The commitment text (a `Raw` field: at most 128 bytes).
    #[arg(long)]
    pub data: String,
    #[command(flatten)]
    pub hotkey: HotkeyArgs,
    #[command(flatten)]
    pub dry: DryRunArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `set_weights` (or commit-reveal when the subnet has it on), signed by the hotkey.
pub async fn set_weights(args: SetWeightsArgs, cfg: &Config) -> anyhow::Result<()> {
    let netuid = args.netuid.unwrap_or(cfg.chain.netuid);
    if args.uids.len() != args.weights.len() {
        bail!(
            "--uids has {} entries but --weights has {}",
            args.uids.len(),
            args.weights.len()
        );
    }
    let key = args.hotkey.signing_key(cfg)?;
    if args.dry.dry_run {
        let call = SubtensorCall::SetWeights {
            netuid,
            uids: args.uids.clone(),
            weights: args.weights.clone(),
            version_key: args.version_key,
        };
        return dry_run(
            &call,
            &key.public(),
            &args.dry,
            args.network.as_deref(),
            args.json,
            cfg,
        )
        .await;
    }
    let conn = open_chain(
        args.network.as_deref(),
        cfg,
        arena_chain::LocalChainOptions::default(),
    )?;
    let receipt = conn
        .chain
        .set_weights(&key, netuid, &args.uids, &args.weights, args.version_key)
        .await?;
    conn.seal()?;
    print_receipt(args.json, "weights", &receipt)
}

/// `Commitments.set_commitment` with one `Raw` field, signed by the hotkey.
pub async fn commit(args: CommitArgs, cfg: &Config) -> anyhow::Result<()> {
    let netuid = args.netuid.unwrap_or(cfg.chain.netuid);
    let data = args.data.as_bytes().to_vec();
    if data.len() > arena_subtensor::MAX_RAW_COMMITMENT {
        bail!(
            "--data is {} bytes; a commitment holds at most {}",
            data.len(),
            arena_subtensor::MAX_RAW_COMMITMENT
        );
    }
    let key = args.hotkey.signing_key(cfg)?;
    if args.dry.dry_run {
        let call = SubtensorCall::SetCommitment { netuid, data };
        return dry_run(
            &call,
            &key.public(),
            &args.dry,
            args.network.as_deref(),
            args.json,
            cfg,
        )
        .await;
    }
    let conn = open_chain(
        args.network.as_deref(),
        cfg,
        arena_chain::LocalChainOptions::default(),
    )?;
    let receipt = conn.chain.set_commitment(&key, netuid, &data).await?;
    conn.seal()?;
    print_receipt(args.json, "commitment", &receipt)
}

fn print_receipt(json_out: bool, what: &str, receipt: &arena_chain::Receipt) -> anyhow::Result<()> {
    if json_out {
        println!("{}", serde_json::to_string(receipt)?);
    } else {
        println!("{what}: included in block {}", receipt.block);
    }
    Ok(())
}
