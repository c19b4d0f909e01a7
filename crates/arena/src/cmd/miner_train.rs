//! `arena miner train`: flags → [`arena_miner::train::TrainJob`]. The loop, checkpoints,
//! resume and saving live in the library; this only reads flags, the schedule and, with
//! `--from-uid`, fetches the base model from the chain and the hub.

use std::path::PathBuf;

use anyhow::{bail, Context};
use arena_core::seed::Seed;
use arena_data::tasks::TaskKind;
use arena_miner::train::{find_competition, train, TrainJob, TrainingData};
use arena_train::lora::LoraConfig;
use arena_train::optim::{AdamWConfig, Decay};
use arena_train::{DType, TrainOptions};

use crate::config::Config;
use crate::context::{
    competition_tokenizer, device_help, ChainArgs, DeviceArgs, HubArgs, ScheduleArgs,
};

/// Learning-rate shape after warmup.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LrScheduleArg {
    /// Half a cosine down to `--min-lr-ratio` of the peak.
    Cosine,
    /// A straight line down to `--min-lr-ratio` of the peak.
    Linear,
    /// Stay at the peak.
    Constant,
}

/// Dtype of the matrix products while training (not the stored dtype: that is the base's).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ComputeDtypeArg {
    /// Everything in f32.
    F32,
    /// Matrix products on bfloat16 copies (f32 master weights, norms, softmax, loss, AdamW).
    Bf16,
}

/// Flags of `arena miner train`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "task"])))]
#[command(group(clap::ArgGroup::new("start").required(true).args(["base", "from_uid"])))]
#[command(mut_arg("schedule", |a| a.alias("competitions")))]
#[command(mut_arg("hub", |a| a.help("With --from-uid: hub URL (default HF_ENDPOINT, then `[hub] endpoint`)")))]
#[command(mut_arg("chain", |a| a.help(
    "With --from-uid: chain endpoint (`http://HOST:PORT` or `local`). Default: `[chain] endpoint`"
)))]
#[command(mut_arg("netuid", |a| a.help("With --from-uid: subnet. Default: `[chain] netuid`")))]
#[command(mut_arg("device", |a| a.help(device_help("cpu"))))]
pub struct TrainArgs {
    /// Base model folder (Hugging Face layout).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Start from the model uid N has committed (downloaded and verified as a validator does).
    #[arg(long, value_name = "N")]
    pub from_uid: Option<u16>,
    /// Competition the model is trained for (sequence length, architecture).
    #[arg(long, value_name = "ID")]
    pub competition: u32,
    /// `--schedule FILE` (`--competitions` is the old spelling, kept as a hidden alias).
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Take the competition active at this block (default: the newest entry that has it).
    #[arg(long)]
    pub block: Option<u64>,
    /// Training data: JSONL of {"prompt": …, "response": …}; the last --held-out lines are held out.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Training data: a synthetic task of arena-data (word_sorting, arithmetic, unit_conversion, string_ops, dyck, multiple_choice, if_eval).
    #[arg(long, value_name = "KIND")]
    pub task: Option<TaskKind>,
    /// With --task: number of training samples to generate.
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// With --task: seed text of the generated data (default: the --seed number).
    #[arg(long)]
    pub data_seed: Option<String>,
    /// Samples held out to report the validator's loss before and after (0: none).
    #[arg(long, default_value_t = 32)]
    pub held_out: usize,
    /// Output folder: model/ (the HF folder), checkpoint/, log.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Optimiser steps.
    #[arg(long, default_value_t = 200)]
    pub steps: u64,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Micro-batches per optimiser step.
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Linear warmup steps.
    #[arg(long, default_value_t = 10)]
    pub warmup: u64,
    /// Learning-rate decay after warmup.
    #[arg(long, value_enum, default_value_t = LrScheduleArg::Cosine)]
    pub lr_schedule: LrScheduleArg,
    /// Final learning rate as a fraction of the peak.
    #[arg(long, default_value_t = 0.1)]
    pub min_lr_ratio: f64,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f32,
    /// Clip the global gradient norm to this (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Seed of the example order (and of the LoRA initialisation).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Matrix-product dtype.
    #[arg(long, value_enum, default_value_t = ComputeDtypeArg::F32)]
    pub dtype: ComputeDtypeArg,
    /// Train rank-R LoRA adapters on the projections instead of every weight (0: full fine-tune).
    #[arg(long, default_value_t = 0, value_name = "R")]
    pub lora_rank: usize,
    /// LoRA alpha (the update is scaled by alpha / rank). Default: 2 × rank.
    #[arg(long, value_name = "A")]
    pub lora_alpha: Option<f64>,
    /// LoRA targets, comma-separated (default: q,k,v,o,gate,up,down projections).
    #[arg(long, value_delimiter = ',')]
    pub lora_targets: Vec<String>,
    /// Write a checkpoint every N steps (0: never; then a killed run cannot resume).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub checkpoint_every: u64,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// `--hub URL`, used with --from-uid.
    #[command(flatten)]
    pub hub: HubArgs,
    /// `--chain URL`, `--netuid N`, used with --from-uid.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena miner train`.
pub async fn run(args: TrainArgs, cfg: &Config) -> anyhow::Result<()> {
    let schedule = args.schedule.load(cfg)?;
    let competition = find_competition(&schedule, args.competition, args.block)?;
    let base = match (&args.base, args.from_uid) {
        (Some(dir), _) => dir.clone(),
        (None, Some(uid)) => {
            let hub = args.hub.client(cfg)?;
            let (chain, producer) = args.chain.open_producing(cfg)?;
            let netuid = args.chain.netuid(cfg);
            let cache = cfg.home.join("miner/models");
            let fetched =
                arena_miner::fetch::fetch_uid(chain.as_ref(), hub, netuid, uid, &schedule, &cache)
                    .await;
            if let Some(p) = producer {
                p.abort();
            }
            let fetched = fetched?;
            tracing::info!(uid, hotkey = %fetched.hotkey, dir = %fetched.dir.display(), "base model fetched and verified");
            fetched.dir
        }
        (None, None) => bail!("pass --base DIR or --from-uid N"),
    };
    let data = match (&args.data, args.task) {
        (Some(path), _) => TrainingData::Jsonl(path.clone()),
        (None, Some(kind)) => TrainingData::Task {
            kind,
            count: args.samples,
            seed: Seed::from_text(
                &args
                    .data_seed
                    .clone()
                    .unwrap_or_else(|| args.seed.to_string()),
            ),
        },
        (None, None) => bail!("pass --data FILE or --task KIND"),
    };
    if args.batch == 0 || args.grad_accum == 0 || args.steps == 0 {
        bail!("--steps, --batch and --grad-accum must be at least 1");
    }
    let options = TrainOptions {
        steps: args.steps,
        lr: args.lr,
        batch: args.batch,
        accumulation: args.grad_accum,
        warmup: args.warmup,
        decay: match args.lr_schedule {
            LrScheduleArg::Cosine => Decay::Cosine,
            LrScheduleArg::Linear => Decay::Linear,
            LrScheduleArg::Constant => Decay::Constant,
        },
        min_lr_ratio: args.min_lr_ratio,
        adamw: AdamWConfig {
            weight_decay: args.weight_decay,
            ..AdamWConfig::default()
        },
        clip: (args.clip > 0.0).then_some(args.clip),
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        progress: false,
    };
    let lora = (args.lora_rank > 0).then(|| {
        let mut l = LoraConfig::all_projections(
            args.lora_rank,
            args.lora_alpha.unwrap_or(2.0 * args.lora_rank as f64),
            args.seed,
        );
        if !args.lora_targets.is_empty() {
            l.targets = args.lora_targets.clone();
        }
        l
    });
    // The competition's own tokenizer when it names one: train on the prompts validators
    // will score.
    let tokenizer = competition_tokenizer(&competition, cfg)?;
    let job = TrainJob {
        base,
        out: args.out.clone(),
        competition,
        data,
        held_out: args.held_out,
        options,
        lora,
        compute: match args.dtype {
            ComputeDtypeArg::F32 => DType::F32,
            ComputeDtypeArg::Bf16 => DType::BF16,
        },
        device: args.device.open(arena_model::DeviceSpec::Cpu)?,
        resume: args.resume,
        tokenizer,
    };
    let progress = !args.no_progress && !args.json;
    let summary = tokio::task::spawn_blocking(move || train(&job, progress))
        .await
        .context("the training task failed")??;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
        return Ok(());
    }
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "trained steps {}..{} (seed {}), loss {} -> {}, {:.0} tok/s",
        summary.start_step,
        summary.steps,
        args.seed,
        opt(summary.first_loss),
        opt(summary.last_loss),
        summary.tokens_per_sec
    );
    println!(
        "held-out reference loss {} -> {} ({} held out)",
        opt(summary.held_out_before),
        opt(summary.held_out_after),
        args.held_out
    );
    println!("model       {}", summary.model_dir.display());
    Ok(())
}
