//! `arena bench validator`: how many models a validator judges per hour, with and without
//! early stopping. The bench writes `--models` copies of a base model whose final norm weights
//! (so their logits) are scaled to spread their quality (the first is the leader, holding the
//! EMA weight; the others sharper or flatter), then runs the validator's own evaluation step
//! ([`evaluate_step_models`]: real `arena validator eval-worker` subprocesses) twice on the same
//! drawn samples: early stopping `off`, then `--mode`. It prints models per hour for both,
//! where the wall time goes (checks, worker load, tokenize + compute, process overhead), and
//! whether the winner and the weights are identical. Nothing here is a test.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use arena_core::competition::Competition;
use arena_core::early_stop::StopMode;
use arena_core::scoring::{CompetitionTracker, EMA_ALPHA};
use arena_core::seed::Seed;
use arena_data::draw::TaskSamples;
use arena_validator::eval::{
    evaluate_step_models, score_step_record, EvalBackend, QueuedModel, ScoreInputs,
    SubprocessBackend,
};
use arena_validator::store::{StepKey, StepRecord};
use arena_validator::worker::{EvalJob, EvalReport, WorkerCommand, WorkerFailure, WorkerLimits};
use async_trait::async_trait;
use serde_json::json;

/// Flags of `arena bench validator`.
#[derive(clap::Args, Debug)]
pub struct ValidatorBenchArgs {
    /// Base model: a Llama-shaped folder (f32 or bf16 `model.norm.weight`). The competition's
    /// constraints are widened to admit it: the bench measures evaluation, not admission.
    #[arg(long, default_value = "fixtures/tiny-llama")]
    pub model: PathBuf,
    /// Models in the step (at least 3: the leader, a better one, worse ones).
    #[arg(long, default_value_t = 8)]
    pub models: usize,
    /// Competition of the shipped example schedule at block 0 (its tasks and constraints).
    #[arg(long, default_value_t = 1)]
    pub competition: u32,
    /// Keep only these tasks of the competition (comma-separated ids; weights rescaled to
    /// sum to 1); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Samples drawn per task.
    #[arg(long, default_value_t = 48)]
    pub samples: u32,
    /// Samples per chunk of the early-stopping plan.
    #[arg(long, default_value_t = 8)]
    pub chunk: u32,
    /// Early-stopping mode to compare with `off`: `exact` or `statistical`.
    #[arg(long, default_value = "exact")]
    pub mode: String,
    /// Allowed error of the statistical mode.
    #[arg(long, default_value_t = 0.001)]
    pub error: f64,
    /// Seed of the drawn samples and the chunk order.
    #[arg(long, default_value = "bench-validator")]
    pub seed: String,
    /// Folder for the generated models (rewritten on each run).
    #[arg(long, default_value = ".cache/bench-validator")]
    pub work: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Wall time of each worker run, by model folder.
struct Timed {
    inner: SubprocessBackend,
    runs: Mutex<Vec<(PathBuf, Duration)>>,
}

#[async_trait]
impl EvalBackend for Timed {
    fn lanes(&self) -> usize {
        self.inner.lanes()
    }

    async fn evaluate(&self, lane: usize, job: &EvalJob) -> Result<EvalReport, WorkerFailure> {
        let started = Instant::now();
        let result = self.inner.evaluate(lane, job).await;
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.push((job.model_dir.clone(), started.elapsed()));
        result
    }
}

/// Logit scales: the leader untouched, one copy close to it, then ever further away on both
/// sides (a real model loses quality when its logits are sharpened or flattened).
fn scales(n: usize) -> Vec<f32> {
    let mut out = vec![1.0, 0.97];
    let mut step = 1;
    while out.len() < n {
        let d = 0.15 * step as f32;
        out.push(1.0 + d);
        out.push((1.0 - d).max(0.05));
        step += 1;
    }
    out.truncate(n);
    out
}

/// The tensor whose scale sets a copy's logit scale: the final RMSNorm weight, which
/// multiplies every logit (tied head or not).
const SCALED: &str = "model.norm.weight";

/// Copies `base` to `to` with [`SCALED`] multiplied by `scale`.
fn scaled_copy(base: &Path, to: &Path, scale: f32) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(base).with_context(|| format!("reading {}", base.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_file() && name != "model.safetensors" {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    let bytes = std::fs::read(base.join("model.safetensors"))
        .with_context(|| format!("{}/model.safetensors", base.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)?;
    let mut scaled = None;
    let mut tensors = Vec::new();
    for (name, view) in st.tensors() {
        if name != SCALED {
            tensors.push((name, view));
            continue;
        }
        let data: Vec<u8> = match view.dtype() {
            safetensors::Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .flat_map(|b| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * scale).to_le_bytes())
                .collect(),
            safetensors::Dtype::BF16 => view
                .data()
                .chunks_exact(2)
                .flat_map(|b| {
                    let v = half::bf16::from_le_bytes([b[0], b[1]]).to_f32() * scale;
                    half::bf16::from_f32(v).to_le_bytes()
                })
                .collect(),
            other => bail!("{SCALED} is {other:?}; the bench scales f32 or bf16"),
        };
        scaled = Some((name.clone(), view.dtype(), view.shape().to_vec(), data));
    }
    let Some((name, dtype, shape, data)) = scaled else {
        bail!("{} has no {SCALED}", base.display());
    };
    let view = safetensors::tensor::TensorView::new(dtype, shape, &data)?;
    tensors.push((name, view));
    safetensors::serialize_to_file(tensors, None, &to.join("model.safetensors"))?;
    Ok(())
}

struct RunResult {
    record: StepRecord,
    wall: Duration,
    worker_runs: usize,
    worker_wall: Duration,
}

async fn one_run(
    competition: &Competition,
    seed: &Seed,
    tasks: &[TaskSamples],
    models: &[QueuedModel],
) -> anyhow::Result<RunResult> {
    let exe = std::env::current_exe().context("locating the arena binary")?;
    let backend = Timed {
        inner: SubprocessBackend::new(
            WorkerCommand {
                program: exe,
                args: vec!["validator".into(), "eval-worker".into()],
                env: vec![("ARENA_LOG".into(), "warn".into())],
            },
            WorkerLimits {
                timeout: Duration::from_secs(1800),
                memory_bytes: None,
                ..WorkerLimits::default()
            },
        ),
        runs: Mutex::new(Vec::new()),
    };
    let mut tracker = CompetitionTracker::default();
    tracker.record(competition.id, &[1.0], EMA_ALPHA);
    let inputs = ScoreInputs {
        competition,
        key: StepKey {
            competition_id: competition.id,
            sync_block: 100,
        },
        seed: *seed,
        current_block: 200,
        n_uids: models.len(),
        tracker,
        rewards: vec![(competition.id, 1.0)],
        keep_top: 3,
    };
    let started = Instant::now();
    let evaluated = evaluate_step_models(&backend, &inputs, tasks, None, models).await?;
    let wall = started.elapsed();
    let record = score_step_record(&inputs, tasks, &evaluated)?;
    let runs = backend.runs.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(RunResult {
        record,
        wall,
        worker_runs: runs.len(),
        worker_wall: runs.iter().map(|r| r.1).sum(),
    })
}

/// Runs the bench.
pub fn run(args: ValidatorBenchArgs) -> anyhow::Result<()> {
    if args.models < 3 {
        bail!("--models must be at least 3 (a leader, a better model, a worse one)");
    }
    let mode: StopMode = match args.mode.as_str() {
        "exact" => StopMode::Exact,
        "statistical" => StopMode::Statistical,
        other => bail!("--mode {other:?}: expected exact or statistical"),
    };
    let schedule = arena_core::competition::default_schedule()?;
    let mut competition = schedule
        .competition_at(args.competition, 0)
        .with_context(|| {
            format!(
                "competition {} is not in the example schedule",
                args.competition
            )
        })?
        .clone();
    if !args.tasks.is_empty() {
        if let Some(unknown) = args
            .tasks
            .iter()
            .find(|id| !competition.tasks.iter().any(|t| &t.id == *id))
        {
            bail!("competition {} has no task {unknown:?}", competition.id);
        }
        competition.tasks.retain(|t| args.tasks.contains(&t.id));
        let total: f64 = competition.tasks.iter().map(|t| t.weight).sum();
        for task in &mut competition.tasks {
            task.weight /= total;
        }
    }
    for task in &mut competition.tasks {
        task.samples = args.samples;
    }
    let constraints = &mut competition.constraints;
    constraints.min_params = 0;
    constraints.max_params = u64::MAX;
    constraints.max_bytes = u64::MAX;
    constraints.tokenizer = arena_core::competition::TokenizerSpec::BringYourOwn;
    competition.early_stop.chunk = args.chunk;
    competition.early_stop.error = args.error;
    if let Err((field, reason)) = competition.early_stop.validate() {
        bail!("early_stop.{field}: {reason}");
    }
    let work = &args.work;
    let seed = Seed::from_text(&args.seed);
    tracing::info!(seed = %seed, "bench validator seed");
    let mut models = Vec::new();
    let mut checks = Duration::ZERO;
    for (uid, scale) in scales(args.models).into_iter().enumerate() {
        let dir = work.join(format!("model-{uid}"));
        scaled_copy(&args.model, &dir, scale)?;
        let started = Instant::now();
        arena_validator::precheck::precheck(&dir, &competition.constraints)
            .map_err(|r| anyhow::anyhow!("model {uid} refused: {r}"))?;
        checks += started.elapsed();
        models.push(QueuedModel {
            uid: uid as u16,
            hotkey: format!("bench-{uid}"),
            commit_block: 10 + uid as u64,
            model_dir: dir,
            content_hash: None,
        });
    }
    let runtime = tokio::runtime::Handle::current();
    let tasks = tokio::task::block_in_place(|| {
        runtime.block_on(arena_data::draw::draw_samples(
            &competition,
            &seed,
            arena_data::now_ms(),
            0,
            &mut Default::default(),
        ))
    });
    let mut results = Vec::new();
    for m in [StopMode::Off, mode] {
        let mut c = competition.clone();
        c.early_stop.mode = m;
        let r =
            tokio::task::block_in_place(|| runtime.block_on(one_run(&c, &seed, &tasks, &models)))?;
        results.push((m, r));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let view = |(m, r): &(StopMode, RunResult)| {
        let rec = &r.record;
        let (load_ms, compute_ms): (u64, u64) = rec
            .models
            .iter()
            .fold((0, 0), |(l, c), m| (l + m.load_ms, c + m.compute_ms));
        let stopped = rec.models.iter().filter(|m| m.early_stop.is_some()).count();
        let samples: usize = rec
            .models
            .iter()
            .map(|m| m.early_stop.map_or(0, |e| e.samples))
            .sum();
        let wall = r.wall.as_secs_f64();
        // Load and compute of re-run models are in the worker wall time but the record keeps
        // only the last run's: the overhead is what the worker runs took beyond them.
        let overhead =
            (r.worker_wall.as_secs_f64() - (load_ms + compute_ms) as f64 / 1000.0).max(0.0);
        json!({
            "mode": format!("{m:?}").to_lowercase(),
            "wall_s": wall,
            "models_per_hour": rec.models.len() as f64 / wall * 3600.0,
            "worker_runs": r.worker_runs,
            "stopped": stopped,
            "stopped_samples_scored": samples,
            "checks_s": checks.as_secs_f64(),
            "load_s": load_ms as f64 / 1000.0,
            "tokenize_compute_s": compute_ms as f64 / 1000.0,
            "process_overhead_s": overhead,
            "compute_share": compute_ms as f64 / 1000.0 / (wall + checks.as_secs_f64()),
            "winner": rec.models.iter().filter(|m| m.step_weight > 0.0).map(|m| m.uid).collect::<Vec<_>>(),
        })
    };
    let (full, early) = (&results[0].1.record, &results[1].1.record);
    let weights = |r: &StepRecord| -> Vec<(u16, f64)> {
        r.models.iter().map(|m| (m.uid, m.step_weight)).collect()
    };
    let identical = weights(full) == weights(early) && full.subnet_weights == early.subnet_weights;
    let gain = results[0].1.wall.as_secs_f64() / results[1].1.wall.as_secs_f64();
    let out = json!({
        "models": args.models,
        "samples_per_task": args.samples,
        "tasks": competition.tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        "chunk": args.chunk,
        "seed": seed.to_hex(),
        "load_average": load.trim(),
        "download_s": 0.0,
        "runs": results.iter().map(view).collect::<Vec<_>>(),
        "models_per_hour_gain": gain,
        "winner_and_weights_identical": identical,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "validator step: {} models, competition {} ({} samples per task, chunks of {}), load {}",
            args.models,
            competition.id,
            args.samples,
            args.chunk,
            load.trim()
        );
        println!(
            "download: none (local folders); checks {:.2} s",
            checks.as_secs_f64()
        );
        for run in out["runs"].as_array().into_iter().flatten() {
            println!(
                "{:<12} wall {:>7.1} s  {:>8.1} models/h  runs {}  stopped {}  load {:.1} s  tokenize+compute {:.1} s  overhead {:.1} s  compute share {:.0} %  winner {}",
                run["mode"].as_str().unwrap_or(""),
                run["wall_s"].as_f64().unwrap_or(0.0),
                run["models_per_hour"].as_f64().unwrap_or(0.0),
                run["worker_runs"],
                run["stopped"],
                run["load_s"].as_f64().unwrap_or(0.0),
                run["tokenize_compute_s"].as_f64().unwrap_or(0.0),
                run["process_overhead_s"].as_f64().unwrap_or(0.0),
                100.0 * run["compute_share"].as_f64().unwrap_or(0.0),
                run["winner"],
            );
        }
        println!(
            "models per hour: {gain:.2}x with early stopping; winner and weights identical: {identical}"
        );
    }
    if !identical {
        bail!("early stopping changed the step's outcome");
    }
    Ok(())
}
