//! `arena bench`: measure our engines against the reference tools on the same work.
//!
//! `arena bench eval` scores the same reference-loss samples (same token ids, same batches,
//! same scored positions) with `arena-model` and with PyTorch + transformers, and prints both
//! speeds and their ratio. PyTorch lives in a venv created on demand; nothing here is a test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use arena_model::scoring::batch::{mean, plan_batches, ScoredSeq};
use arena_model::Evaluator;
use serde_json::{json, Value};

use crate::config::Config;
use crate::context::{device_help, DeviceArgs};
use crate::reference::{ensure_venv, last_json_line};

const TORCH_SCRIPT: &str = include_str!("bench_torch.py");

/// `arena bench …` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCmd {
    /// Reference-loss scoring speed: arena-model against PyTorch + transformers.
    Eval(EvalArgs),
    /// Training speed and peak memory: our trainer against PyTorch + transformers.
    Train(super::bench_train::TrainBenchArgs),
}

/// Flags of `arena bench eval`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("device", |a| a.help(device_help("cpu (PyTorch always runs on the CPU)"))))]
pub struct EvalArgs {
    /// Model folder (config.json, safetensors, tokenizer.json with a chat template).
    #[arg(long)]
    pub model: PathBuf,
    /// CPU threads for both engines.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Number of reference-loss samples.
    #[arg(long, default_value_t = 24)]
    pub samples: usize,
    /// Text the samples are cut from: paragraph i is a prompt, paragraph i+1 its reference.
    #[arg(long, default_value = "/usr/share/common-licenses/GPL-3")]
    pub corpus: PathBuf,
    /// Most padded tokens per forward pass, for both engines.
    #[arg(long, default_value_t = 4096)]
    pub batch_tokens: usize,
    /// Timed passes per engine; the fastest counts.
    #[arg(long, default_value_t = 2)]
    pub repeat: usize,
    /// Python venv with torch + transformers; created (about 5.6 GB) when absent.
    #[arg(long, default_value = ".cache/venv-bench")]
    pub venv: PathBuf,
    /// Measure only arena-model.
    #[arg(long)]
    pub no_torch: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `arena bench` subcommand.
pub fn run(cmd: BenchCmd, _cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Eval(args) => eval(args),
        BenchCmd::Train(args) => super::bench_train::run(args),
    }
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    // candle and rayon size their pools from RAYON_NUM_THREADS when first used; setting it in
    // this (already multi-threaded) process is unsound, so re-run ourselves with it set.
    let wanted = args.threads.max(1).to_string();
    if std::env::var("RAYON_NUM_THREADS").ok().as_deref() != Some(wanted.as_str()) {
        let exe = std::env::current_exe().context("cannot find the arena executable")?;
        let status = Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("RAYON_NUM_THREADS", &wanted)
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let device = args.device.open(arena_model::DeviceSpec::Cpu)?;
    let eval = Evaluator::load(&args.model, &device)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    let seqs = samples(&eval, &args.corpus, args.samples)?;
    let tokens: usize = seqs.iter().map(|s| s.ids.len()).sum();
    let scored: usize = seqs.iter().map(|s| s.ids.len() - s.first_target).sum();
    let mut ours_secs = f64::INFINITY;
    let mut ours = Vec::new();
    let mut engine = eval;
    engine.limits.max_batch_tokens = args.batch_tokens;
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let losses = engine.token_losses(seqs.iter().cloned().map(Ok).collect());
        ours_secs = ours_secs.min(start.elapsed().as_secs_f64());
        ours = losses
            .into_iter()
            .map(|l| l.map(|l| mean(&l)))
            .collect::<Result<Vec<_>, _>>()?;
    }
    let mut report = json!({
        "model": args.model.display().to_string(), "samples": seqs.len(), "threads": args.threads,
        "tokens": tokens, "scored_tokens": scored,
        "arena_seconds": ours_secs, "arena_tokens_per_s": tokens as f64 / ours_secs,
    });
    if !args.no_torch {
        let torch = run_torch(&args, &seqs)?;
        let secs = torch["seconds"]
            .as_f64()
            .context("torch run gave no time")?;
        let theirs: Vec<f64> = torch["means"]
            .as_array()
            .context("torch run gave no losses")?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let max_diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        report["torch_version"] = torch["torch"].clone();
        report["torch_seconds"] = json!(secs);
        report["torch_tokens_per_s"] = json!(tokens as f64 / secs);
        report["ratio"] = json!(secs / ours_secs);
        report["max_abs_diff_of_sample_means"] = json!(max_diff);
    }
    if args.json {
        println!("{report}");
    } else {
        println!(
            "samples {} ({} tokens, {} scored), threads {}",
            seqs.len(),
            tokens,
            scored,
            args.threads
        );
        println!(
            "arena-model : {:8.1} tok/s ({:.2} s)",
            tokens as f64 / ours_secs,
            ours_secs
        );
        if let Some(ratio) = report["ratio"].as_f64() {
            println!(
                "torch {}: {:8.1} tok/s ({:.2} s)",
                report["torch_version"].as_str().unwrap_or("?"),
                report["torch_tokens_per_s"].as_f64().unwrap_or(0.0),
                report["torch_seconds"].as_f64().unwrap_or(0.0)
            );
            println!(
                "ratio (arena / torch speed): {ratio:.2}x; max |diff| of sample means {:.2e}",
                report["max_abs_diff_of_sample_means"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}

/// Reference-loss samples cut from `corpus`: paragraph i (as a chat prompt) then paragraph i+1.
fn samples(eval: &Evaluator, corpus: &Path, n: usize) -> anyhow::Result<Vec<ScoredSeq>> {
    let text = std::fs::read_to_string(corpus)
        .with_context(|| format!("cannot read corpus {}", corpus.display()))?;
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| p.len() >= 40)
        .collect();
    let limit = eval.model.config().max_position_embeddings.min(1024);
    let mut seqs = Vec::new();
    for (i, pair) in paragraphs.windows(2).enumerate() {
        if seqs.len() == n {
            break;
        }
        let mut ids = eval.reference_ids(&pair[0])?;
        let first_target = ids.len();
        ids.extend(eval.tokenizer.encode(&pair[1])?);
        ids.truncate(limit);
        if ids.len() > first_target {
            seqs.push(ScoredSeq {
                id: format!("p{i}"),
                ids,
                first_target,
            });
        }
    }
    if seqs.len() < n {
        bail!("{} yields only {} samples", corpus.display(), seqs.len());
    }
    Ok(seqs)
}

/// Runs the PyTorch side on the same sequences and batches; returns its JSON line.
fn run_torch(args: &EvalArgs, seqs: &[ScoredSeq]) -> anyhow::Result<Value> {
    let python = ensure_venv(&args.venv)?;
    let lengths: Vec<usize> = seqs.iter().map(|s| s.ids.len()).collect();
    let job = json!({
        "model": std::fs::canonicalize(&args.model)?.display().to_string(),
        "threads": args.threads, "repeat": args.repeat.max(1),
        "batches": plan_batches(&lengths, args.batch_tokens),
        "seqs": seqs.iter().map(|s| json!({"ids": s.ids, "first_target": s.first_target})).collect::<Vec<_>>(),
    });
    let dir = std::env::temp_dir().join(format!("arena-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (job_path, script_path) = (dir.join("job.json"), dir.join("bench_torch.py"));
    std::fs::write(&job_path, job.to_string())?;
    std::fs::write(&script_path, TORCH_SCRIPT)?;
    let out = Command::new(&python)
        .arg(&script_path)
        .arg(&job_path)
        .env("OMP_NUM_THREADS", args.threads.to_string())
        .output()?;
    std::fs::remove_dir_all(&dir).ok();
    last_json_line(&out, "torch benchmark")
}
