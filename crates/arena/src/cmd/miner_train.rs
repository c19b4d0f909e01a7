//! `arena miner train`: flags → [`arena_miner::train::TrainJob`]. The loop, checkpoints,
//! resume and saving live in the library; this only reads flags, the schedule and, with
//! `--from-uid`, fetches the base model from the chain and the hub.

use std::path::PathBuf;

use anyhow::{bail, Context};
use arena_core::competition::{default_schedule, Schedule};
use arena_core::seed::Seed;
use arena_data::tasks::TaskKind;
use arena_miner::train::{find_competition, train, DataSource, TrainJob};
use arena_train::lora::LoraConfig;
use arena_train::optim::{AdamWConfig, Decay};
use arena_train::{DType, TrainOptions};

use crate::config::Config;

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

/// Dtype of the matrix products.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum DtypeArg {
    /// Everything in f32.
    F32,
    /// Matrix products on bfloat16 copies (f32 master weights, norms, softmax, loss, AdamW).
    Bf16,
}

/// Flags of `arena miner train`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "task"])))]
#[command(group(clap::ArgGroup::new("start").required(true).args(["base", "from_uid"])))]
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
    /// Competition schedule TOML. Default: `[validator] schedule`, else the built-in one.
    // `--competitions` is the old spelling, kept as a hidden alias.
    #[arg(long, value_name = "FILE", alias = "competitions")]
    pub schedule: Option<PathBuf>,
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
    #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
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
    /// With --from-uid: hub URL (default HF_ENDPOINT, then `[hub] endpoint`).
    #[arg(long, value_name = "URL")]
    pub hub: Option<String>,
    /// With --from-uid: chain endpoint (`http://HOST:PORT` or `local`). Default: `[chain] endpoint`.
    #[arg(long, value_name = "URL")]
    pub chain: Option<String>,
    /// With --from-uid: subnet. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<u16>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Loads `--schedule`, else `[validator] schedule`, else the built-in schedule.
pub(crate) fn load_schedule(path: Option<&PathBuf>, cfg: &Config) -> anyhow::Result<Schedule> {
    match path.or(cfg.validator.schedule.as_ref()) {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read schedule {}", p.display()))?;
            Schedule::from_toml_str(&text).with_context(|| format!("schedule {}", p.display()))
        }
        None => Ok(default_schedule()?),
    }
}

/// Names the schedule [`load_schedule`] reads, for messages.
pub(crate) fn schedule_source(path: Option<&PathBuf>, cfg: &Config) -> String {
    match path.or(cfg.validator.schedule.as_ref()) {
        Some(p) => format!("schedule {}", p.display()),
        None => "the built-in schedule".to_string(),
    }
}

/// Runs `arena miner train`.
pub async fn run(args: TrainArgs, cfg: &Config) -> anyhow::Result<()> {
    let schedule = load_schedule(args.schedule.as_ref(), cfg)?;
    let competition = find_competition(&schedule, args.competition, args.block)?;
    let base = match (&args.base, args.from_uid) {
        (Some(dir), _) => dir.clone(),
        (None, Some(uid)) => {
            let hub = super::miner::hub_client(args.hub.as_deref(), cfg)?;
            let (chain, producer) = super::miner::chain(args.chain.as_deref(), cfg)?;
            let netuid = args.netuid.unwrap_or(cfg.chain.netuid);
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
        (Some(path), _) => DataSource::Jsonl(path.clone()),
        (None, Some(kind)) => DataSource::Task {
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
    let tokenizer = super::model_eval::competition_tokenizer(&competition, cfg)?;
    let job = TrainJob {
        base,
        out: args.out.clone(),
        competition,
        data,
        held_out: args.held_out,
        options,
        lora,
        compute: match args.dtype {
            DtypeArg::F32 => DType::F32,
            DtypeArg::Bf16 => DType::BF16,
        },
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
