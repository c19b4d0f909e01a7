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
use arena_model::weights::WeightDtype;
use arena_model::Evaluator;
use serde_json::{json, Value};

use crate::config::Config;
use crate::context::{device_help, DeviceArgs};
use crate::reference::{ensure_venv, last_json_line, peak_rss_bytes};

const TORCH_SCRIPT: &str = include_str!("bench_torch.py");

/// `arena bench …` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCmd {
    /// Reference-loss scoring speed: arena-model against PyTorch + transformers.
    Eval(EvalArgs),
    /// Training speed and peak memory: our trainer against PyTorch + transformers.
    Train(super::bench_train::TrainBenchArgs),
    /// Writes a Llama-shaped model with seeded random weights (e.g. TinyLlama-1.1B's shape).
    MakeModel(super::bench_model::MakeModelArgs),
    /// Models a validator judges per hour, with and without early stopping.
    Validator(super::bench_validator::ValidatorBenchArgs),
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
    /// Number of reference-loss samples [default: 24, or 1 with --tokens].
    #[arg(long)]
    pub samples: Option<usize>,
    /// Long-sequence mode: every sample is exactly this many tokens (the corpus repeated as
    /// the prompt, its last eighth — at most 256 tokens — scored). Both engines run the LM
    /// head only on scored positions, and a model whose max_position_embeddings is shorter
    /// is run through a copy of its folder whose config.json allows the length.
    #[arg(long)]
    pub tokens: Option<usize>,
    /// Run our side under the address-space cap (`RLIMIT_AS`) a validator's eval worker would
    /// get for this model and length (`[validator] worker_memory_max_gib` as the ceiling): if
    /// it completes, the model scores within the worker's limit.
    #[arg(long)]
    pub worker_limit: bool,
    /// Dtype of the weights in memory: `stored` (as in the checkpoint), `f32`, `bf16` or `f16`.
    /// PyTorch loads the model in the same dtype (and so also computes in it).
    #[arg(long, default_value = "stored")]
    pub dtype: String,
    /// Text the samples are cut from: paragraph i is a prompt, paragraph i+1 its reference.
    #[arg(long, default_value = "/usr/share/common-licenses/GPL-3")]
    pub corpus: PathBuf,
    /// Most padded tokens per forward pass, for both engines.
    #[arg(long, default_value_t = 4096)]
    pub batch_tokens: usize,
    /// Prefix sharing in our engine (`on`/`off`): a batch's common leading tokens (chat
    /// template, system prompt) run once instead of once per sequence.
    #[arg(long, default_value = "on", value_name = "on|off", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub prefix_share: bool,
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
pub fn run(cmd: BenchCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Eval(args) => eval(args, cfg),
        BenchCmd::Train(args) => super::bench_train::run(args),
        BenchCmd::MakeModel(args) => super::bench_model::run(args),
        BenchCmd::Validator(args) => super::bench_validator::run(args),
    }
}

fn eval(args: EvalArgs, cfg: &Config) -> anyhow::Result<()> {
    // candle and rayon size their pools from RAYON_NUM_THREADS when first used; setting it in
    // this (already multi-threaded) process is unsound, so re-run ourselves with it set.
    let wanted = args.threads.max(1).to_string();
    if std::env::var("RAYON_NUM_THREADS").ok().as_deref() != Some(wanted.as_str()) {
        let exe = std::env::current_exe().context("cannot find the arena executable")?;
        let mut child = Command::new(exe);
        child
            .args(std::env::args_os().skip(1))
            .env("RAYON_NUM_THREADS", &wanted);
        if args.worker_limit {
            let limit = worker_limit(&args, cfg)?;
            eprintln!(
                "worker address-space cap: {:.2} GiB (estimate {:.2} GiB)",
                limit.limit as f64 / (1u64 << 30) as f64,
                limit.estimate as f64 / (1u64 << 30) as f64
            );
            set_soft_address_limit(&mut child, Some(limit.limit));
        }
        let status = child.status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let dtype = WeightDtype::parse(&args.dtype)
        .with_context(|| format!("--dtype {:?} is not stored, f32, bf16 or f16", args.dtype))?;
    let long_dir;
    let model_dir = match args.tokens {
        Some(n) => {
            long_dir = LongContextDir::new(&args.model, n)?;
            long_dir.path().to_path_buf()
        }
        None => args.model.clone(),
    };
    let load_start = Instant::now();
    let device = args.device.open(arena_model::DeviceSpec::Cpu)?;
    let eval = Evaluator::load_as(&model_dir, &device, dtype)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    let load_secs = load_start.elapsed().as_secs_f64();
    let seqs = match args.tokens {
        Some(n) => long_samples(&eval, &args.corpus, args.samples.unwrap_or(1), n)?,
        None => samples(&eval, &args.corpus, args.samples.unwrap_or(24))?,
    };
    let tokens: usize = seqs.iter().map(|s| s.ids.len()).sum();
    let scored: usize = seqs.iter().map(|s| s.ids.len() - s.first_target).sum();
    let mut ours_secs = f64::INFINITY;
    let mut ours = Vec::new();
    let mut engine = eval;
    engine.limits.max_batch_tokens = args.batch_tokens;
    engine.limits.prefix_sharing = args.prefix_share;
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let losses = engine.token_losses(seqs.iter().cloned().map(Ok).collect());
        ours_secs = ours_secs.min(start.elapsed().as_secs_f64());
        ours = losses
            .into_iter()
            .map(|l| l.map(|l| mean(&l)))
            .collect::<Result<Vec<_>, _>>()?;
    }
    // Read before PyTorch starts: its process is a child with its own peak.
    let ours_peak = peak_rss_bytes();
    let weights_bytes = arena_model::weights::weights_size(&args.model)?;
    let torch_dtype = match dtype {
        WeightDtype::Stored => match engine.model.config().dtype.as_deref() {
            Some("bfloat16") => "bfloat16",
            Some("float16") => "float16",
            _ => "float32",
        },
        WeightDtype::F32 => "float32",
        WeightDtype::Bf16 => "bfloat16",
        WeightDtype::F16 => "float16",
    };
    let mut report = json!({
        "model": args.model.display().to_string(), "samples": seqs.len(), "threads": args.threads,
        "tokens": tokens, "scored_tokens": scored, "dtype": args.dtype, "torch_dtype": torch_dtype,
        "weights_bytes": weights_bytes,
        "arena_load_seconds": load_secs, "arena_peak_rss_bytes": ours_peak,
        "arena_peak_rss_over_weights": ours_peak as f64 / weights_bytes.max(1) as f64,
        "prefix_sharing": args.prefix_share, "arena_seconds": ours_secs, "arena_tokens_per_s": tokens as f64 / ours_secs,
    });
    if !args.no_torch {
        let torch = run_torch(&args, &model_dir, torch_dtype, &seqs)?;
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
        report["torch_attention"] = torch["attn"].clone();
        report["torch_load_seconds"] = torch["load_seconds"].clone();
        report["torch_peak_rss_bytes"] = torch["peak_rss_bytes"].clone();
        report["torch_seconds"] = json!(secs);
        report["torch_tokens_per_s"] = json!(tokens as f64 / secs);
        report["ratio"] = json!(secs / ours_secs);
        report["max_abs_diff_of_sample_means"] = json!(max_diff);
    }
    if args.json {
        println!("{report}");
    } else {
        let gb = |v: &Value| v.as_f64().unwrap_or(0.0) / 1e9;
        println!(
            "samples {} ({} tokens, {} scored), threads {}, weights {:.2} GB, dtype {} (torch {})",
            seqs.len(),
            tokens,
            scored,
            args.threads,
            weights_bytes as f64 / 1e9,
            args.dtype,
            torch_dtype
        );
        println!(
            "arena-model : {:8.1} tok/s ({:.2} s), load {:.2} s, peak RSS {:.2} GB ({:.2}x the weights), prefix sharing {}",
            tokens as f64 / ours_secs,
            ours_secs,
            load_secs,
            ours_peak as f64 / 1e9,
            ours_peak as f64 / weights_bytes.max(1) as f64,
            if args.prefix_share { "on" } else { "off" }
        );
        if let Some(ratio) = report["ratio"].as_f64() {
            println!(
                "torch {}: {:8.1} tok/s ({:.2} s), load {:.2} s, peak RSS {:.2} GB ({})",
                report["torch_version"].as_str().unwrap_or("?"),
                report["torch_tokens_per_s"].as_f64().unwrap_or(0.0),
                report["torch_seconds"].as_f64().unwrap_or(0.0),
                report["torch_load_seconds"].as_f64().unwrap_or(0.0),
                gb(&report["torch_peak_rss_bytes"]),
                report["torch_attention"].as_str().unwrap_or("?")
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

/// The cap `arena validator` would give an eval worker scoring `args.model` on sequences of
/// `--tokens` (else 1024) tokens with `--batch-tokens` and `--threads`.
fn worker_limit(
    args: &EvalArgs,
    cfg: &Config,
) -> anyhow::Result<arena_validator::worker::MemoryLimit> {
    use arena_validator::worker::{memory_limit, MemoryBounds, ModelSize, MEMORY_FLOOR};
    let model = ModelSize::read(&args.model)
        .map_err(|e| anyhow::anyhow!("cannot size {}: {e}", args.model.display()))?;
    let engine = arena_validator::worker::EngineShape {
        batch_tokens: args.batch_tokens as u64,
        threads: args.threads as u64,
        ..crate::context::worker_engine_shape()
    };
    let bounds = MemoryBounds {
        floor: MEMORY_FLOOR,
        ceiling: cfg.validator.worker_memory_max_gib.saturating_mul(1 << 30),
    };
    let tokens = args.tokens.unwrap_or(1024) as u64;
    Ok(memory_limit(&model, tokens, &engine, bounds))
}

/// Sets the soft `RLIMIT_AS` of the process `command` starts to `bytes`, or back to the hard
/// limit with `None` (undoing a cap this process runs under).
fn set_soft_address_limit(command: &mut Command, bytes: Option<u64>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getrlimit/setrlimit are async-signal-safe and the closure touches only its
    // copies, as required between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_AS, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = match bytes {
                Some(b) => (b as libc::rlim_t).min(limit.rlim_max),
                None => limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `n` samples of exactly `tokens` tokens: a chat prompt made of the corpus (repeated as often
/// as needed, each sample starting further into it), the last eighth (at most 256 tokens) of
/// the sequence scored as the reference.
fn long_samples(
    eval: &Evaluator,
    corpus: &Path,
    n: usize,
    tokens: usize,
) -> anyhow::Result<Vec<ScoredSeq>> {
    let text = std::fs::read_to_string(corpus)
        .with_context(|| format!("cannot read corpus {}", corpus.display()))?;
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let corpus_ids = eval.tokenizer.encode(&words)?;
    if corpus_ids.len() < 64 {
        bail!("{} is too short for long samples", corpus.display());
    }
    let scored = (tokens / 8).clamp(1, 256);
    let mut seqs = Vec::with_capacity(n);
    for i in 0..n {
        let mut ids = eval.reference_ids("Continue this text.")?;
        if ids.len() + scored >= tokens {
            bail!("--tokens {tokens} is too short for a prompt and {scored} scored tokens");
        }
        let start = i * 997;
        let first_target = tokens - scored;
        ids.extend(
            corpus_ids
                .iter()
                .cycle()
                .skip(start)
                .take(tokens - ids.len()),
        );
        seqs.push(ScoredSeq {
            id: format!("long{i}"),
            ids,
            first_target,
        });
    }
    Ok(seqs)
}

/// A model folder for long-sequence runs: links to the files of the original, and a config.json
/// whose `max_position_embeddings` is at least the benchmark's length (the rotary embedding
/// itself has no length limit; this only lifts the engines' guard). Removed on drop.
struct LongContextDir {
    dir: PathBuf,
}

impl LongContextDir {
    fn new(model: &Path, tokens: usize) -> anyhow::Result<Self> {
        let model = std::fs::canonicalize(model)?;
        let dir = std::env::temp_dir().join(format!("arena-bench-long-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&model)? {
            let entry = entry?;
            if entry.file_name() != "config.json" {
                std::os::unix::fs::symlink(entry.path(), dir.join(entry.file_name()))?;
            }
        }
        let text = std::fs::read_to_string(model.join("config.json"))?;
        let mut config: Value = serde_json::from_str(&text)?;
        let max = config["max_position_embeddings"].as_u64().unwrap_or(0);
        config["max_position_embeddings"] = json!(max.max(tokens as u64));
        std::fs::write(dir.join("config.json"), config.to_string())?;
        Ok(LongContextDir { dir })
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for LongContextDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// Runs the PyTorch side on the same sequences and batches; returns its JSON line.
fn run_torch(
    args: &EvalArgs,
    model: &Path,
    dtype: &str,
    seqs: &[ScoredSeq],
) -> anyhow::Result<Value> {
    let python = ensure_venv(&args.venv)?;
    let lengths: Vec<usize> = seqs.iter().map(|s| s.ids.len()).collect();
    let job = json!({
        "model": std::fs::canonicalize(model)?.display().to_string(),
        "threads": args.threads, "repeat": args.repeat.max(1), "dtype": dtype,
        "scored_only": args.tokens.is_some(),
        "batches": plan_batches(&lengths, args.batch_tokens),
        "seqs": seqs.iter().map(|s| json!({"ids": s.ids, "first_target": s.first_target})).collect::<Vec<_>>(),
    });
    let dir = std::env::temp_dir().join(format!("arena-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (job_path, script_path) = (dir.join("job.json"), dir.join("bench_torch.py"));
    std::fs::write(&job_path, job.to_string())?;
    std::fs::write(&script_path, TORCH_SCRIPT)?;
    let mut torch = Command::new(&python);
    // PyTorch is the reference, not under test: it runs without `--worker-limit`'s cap.
    set_soft_address_limit(&mut torch, None);
    let out = torch
        .arg(&script_path)
        .arg(&job_path)
        .env("OMP_NUM_THREADS", args.threads.to_string())
        .output()?;
    std::fs::remove_dir_all(&dir).ok();
    last_json_line(&out, "torch benchmark")
}
