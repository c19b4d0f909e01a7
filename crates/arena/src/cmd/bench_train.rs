//! `arena bench train`: training speed and peak memory of our trainer and of PyTorch +
//! transformers on the same model, token ids, batch, loss masking (second half of each
//! sequence scored, per-sequence mean as the validator), AdamW, clipping and steps.
//!
//! Each side runs in its own process (ours re-executes this binary with `--worker`), so the
//! peak resident set (`VmHWM` of `/proc/self/status`) is that trainer's alone. Speed is the
//! median step time after the first (warm-up) step. Not a test: torch is installed on demand.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};

use crate::reference::{ensure_venv, last_json_line, peak_rss_bytes};
use arena_train::data::Example;
use arena_train::lora::LoraConfig;
use arena_train::optim::Decay;
use arena_train::{DType, RunData, TrainOptions, TrainRun};
use serde_json::{json, Value};

const TORCH_SCRIPT: &str = include_str!("bench_train.py");

/// Flags of `arena bench train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainBenchArgs {
    /// Model folder (config.json, safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// CPU threads for both trainers.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Tokens per sequence (the second half is scored).
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    /// Optimiser steps per trainer (the first is a warm-up and not timed).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// LoRA rank on the seven projections (0: full fine-tune).
    #[arg(long, default_value_t = 0)]
    pub lora_rank: usize,
    /// Matrix-product dtype: f32, or bf16 (ours: bf16 products; torch: CPU autocast).
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16"])]
    pub dtype: String,
    /// Learning rate (constant; the speed does not depend on it).
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// transformers attention implementation (sdpa is its default; eager is the textbook one).
    #[arg(long, default_value = "sdpa", value_parser = ["sdpa", "eager"])]
    pub attn: String,
    /// Python venv with torch + transformers; created (about 5.6 GB) when absent.
    #[arg(long, default_value = ".cache/venv-bench")]
    pub venv: PathBuf,
    /// Measure only our trainer.
    #[arg(long)]
    pub no_torch: bool,
    /// Internal: run our trainer in this process and print its JSON line.
    #[arg(long, hide = true)]
    pub worker: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `vocab_size` of the model's config.json: the range of [`token_ids`] for both trainers.
fn vocab_size(args: &TrainBenchArgs) -> anyhow::Result<usize> {
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(args.model.join("config.json"))
            .with_context(|| format!("cannot read {}/config.json", args.model.display()))?,
    )?;
    Ok(config["vocab_size"]
        .as_u64()
        .context("config.json has no vocab_size")? as usize)
}

/// Seeded token ids in `[3, vocab)`: the same for both trainers.
fn token_ids(vocab: usize, batch: usize, len: usize) -> Vec<Vec<u32>> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..batch)
        .map(|_| {
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    3 + (state % (vocab as u64 - 3)) as u32
                })
                .collect()
        })
        .collect()
}

fn median_after_first(times: &[f64]) -> f64 {
    let mut t: Vec<f64> = times.iter().skip(1).copied().collect();
    if t.is_empty() {
        t = times.to_vec();
    }
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Our side, in this process: prints `{step_seconds, losses, peak_rss_bytes, …}`.
fn worker(args: &TrainBenchArgs) -> anyhow::Result<()> {
    let examples: Vec<Example> = token_ids(vocab_size(args)?, args.batch, args.seq_len)
        .into_iter()
        .map(|ids| Example {
            ids,
            first_target: args.seq_len / 2,
        })
        .collect();
    let options = TrainOptions {
        steps: args.steps as u64,
        lr: args.lr,
        batch: args.batch,
        warmup: 0,
        decay: Decay::Constant,
        ..TrainOptions::default()
    };
    let run = TrainRun {
        compute: if args.dtype == "bf16" {
            DType::BF16
        } else {
            DType::F32
        },
        lora: (args.lora_rank > 0)
            .then(|| LoraConfig::all_projections(args.lora_rank, 2.0 * args.lora_rank as f64, 0)),
        ..TrainRun::new(&args.model, RunData::Examples(examples), options)
    };
    let report =
        arena_train::run(run).with_context(|| format!("cannot train {}", args.model.display()))?;
    println!(
        "{}",
        json!({"step_seconds": report.step_seconds, "losses": report.losses,
               "peak_rss_bytes": peak_rss_bytes(), "trainable_params": report.trainable_params})
    );
    Ok(())
}

/// Runs `arena bench train`.
pub fn run(args: TrainBenchArgs) -> anyhow::Result<()> {
    if args.batch == 0 || args.steps == 0 || args.seq_len < 4 {
        bail!("--batch and --steps must be at least 1 and --seq-len at least 4");
    }
    if args.worker {
        return worker(&args);
    }
    let exe = std::env::current_exe().context("cannot find the arena executable")?;
    let ours = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .arg("--worker")
        .env("RAYON_NUM_THREADS", args.threads.max(1).to_string())
        .output()?;
    let ours = last_json_line(&ours, "our trainer")?;
    let secs = |v: &Value| -> Vec<f64> {
        v["step_seconds"]
            .as_array()
            .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_f64).collect())
    };
    let tokens = (args.batch * args.seq_len) as f64;
    let ours_step = median_after_first(&secs(&ours));
    let mut report = json!({
        "model": args.model.display().to_string(), "threads": args.threads, "batch": args.batch,
        "seq_len": args.seq_len, "steps": args.steps, "lora_rank": args.lora_rank, "dtype": args.dtype,
        "arena_step_seconds": ours_step, "arena_tokens_per_s": tokens / ours_step,
        "arena_peak_rss_bytes": ours["peak_rss_bytes"], "arena_losses": ours["losses"],
        "trainable_params": ours["trainable_params"],
        "load_average": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    });
    if !args.no_torch {
        let torch = run_torch(&args)?;
        let step = median_after_first(&secs(&torch));
        report["torch_version"] = torch["torch"].clone();
        report["torch_attn"] = json!(args.attn);
        report["torch_step_seconds"] = json!(step);
        report["torch_tokens_per_s"] = json!(tokens / step);
        report["torch_peak_rss_bytes"] = torch["peak_rss_bytes"].clone();
        report["torch_losses"] = torch["losses"].clone();
        report["torch_trainable_params"] = torch["trainable_params"].clone();
        report["ratio"] = json!(step / ours_step);
    }
    if args.json {
        println!("{report}");
        return Ok(());
    }
    let gib = |v: &Value| v.as_f64().unwrap_or(0.0) / (1u64 << 30) as f64;
    println!(
        "{} × {} tokens, {} steps, {} threads, {}{} (load average {})",
        args.batch,
        args.seq_len,
        args.steps,
        args.threads,
        args.dtype,
        if args.lora_rank > 0 {
            format!(", LoRA r={}", args.lora_rank)
        } else {
            String::new()
        },
        report["load_average"].as_str().unwrap_or("?")
    );
    println!(
        "arena   : {:8.1} tok/s ({:.3} s/step), peak RSS {:.2} GiB",
        tokens / ours_step,
        ours_step,
        gib(&report["arena_peak_rss_bytes"])
    );
    if let Some(ratio) = report["ratio"].as_f64() {
        println!(
            "torch {} ({}): {:8.1} tok/s ({:.3} s/step), peak RSS {:.2} GiB",
            report["torch_version"].as_str().unwrap_or("?"),
            args.attn,
            report["torch_tokens_per_s"].as_f64().unwrap_or(0.0),
            report["torch_step_seconds"].as_f64().unwrap_or(0.0),
            gib(&report["torch_peak_rss_bytes"])
        );
        println!("ratio (arena / torch speed): {ratio:.2}x");
    }
    Ok(())
}

fn run_torch(args: &TrainBenchArgs) -> anyhow::Result<Value> {
    let python = ensure_venv(&args.venv)?;
    let vocab = vocab_size(args)?;
    let job = json!({
        "model": std::fs::canonicalize(&args.model)?.display().to_string(),
        "threads": args.threads, "seed": 0, "steps": args.steps, "lr": args.lr,
        "dtype": args.dtype, "attn": args.attn,
        "lora_rank": args.lora_rank, "lora_alpha": 2.0 * args.lora_rank as f64,
        "ids": token_ids(vocab, args.batch, args.seq_len), "first_target": args.seq_len / 2,
    });
    let dir = std::env::temp_dir().join(format!("arena-bench-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (job_path, script_path) = (dir.join("job.json"), dir.join("bench_train.py"));
    std::fs::write(&job_path, job.to_string())?;
    std::fs::write(&script_path, TORCH_SCRIPT)?;
    let out = Command::new(&python)
        .arg(&script_path)
        .arg(&job_path)
        .env("OMP_NUM_THREADS", args.threads.to_string())
        .output();
    std::fs::remove_dir_all(&dir).ok();
    last_json_line(&out?, "torch trainer")
}
