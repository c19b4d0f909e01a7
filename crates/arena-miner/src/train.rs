//! `arena miner train` as a library: turn a base model and prompt/response data into a
//! Hugging Face folder a competition accepts, resumably.
//!
//! The run lives in one output folder: `model/` (the saved HF folder, written at the end),
//! `checkpoint/` (trainable variables, optimiser moments, step and options; replaced
//! atomically every `checkpoint_every` steps) and `log.jsonl` (one line per optimiser step).
//! A killed run restarted with `resume` reloads the checkpoint and continues on the same
//! schedule and example order, so it ends where an uninterrupted run would.

use std::io::Write;
use std::path::{Path, PathBuf};

use arena_core::competition::{Competition, CompetitionId, Schedule};
use arena_core::seed::Seed;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_model::train::data::{encode, read_jsonl, Example, Pair};
use arena_model::train::lora::LoraConfig;
use arena_model::train::model::TrainModel;
use arena_model::train::trainer::{save_hf_folder, CheckpointState, TrainOptions, Trainer};
use arena_model::train::DType;
use arena_model::Device;
use serde::Serialize;

use crate::error::MinerError;

/// Where the prompt/response pairs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A JSONL file of `{"prompt": …, "response": …}` objects.
    Jsonl(PathBuf),
    /// `count` samples of a synthetic task of `arena-data`, drawn under `seed`
    /// (indices `0..count`; held-out samples come after them).
    Task {
        /// The generator.
        kind: TaskKind,
        /// Training samples.
        count: usize,
        /// Seed of the draw.
        seed: Seed,
    },
}

/// One training run.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// Base model folder.
    pub base: PathBuf,
    /// Output folder (`model/`, `checkpoint/`, `log.jsonl`).
    pub out: PathBuf,
    /// The competition the model is trained for (sequence length, architecture).
    pub competition: Competition,
    /// Training data.
    pub data: DataSource,
    /// Samples held out (never trained on) to report the validator's loss before and after.
    pub held_out: usize,
    /// Optimiser, schedule, batch and seed.
    pub options: TrainOptions,
    /// Train adapters instead of every weight.
    pub lora: Option<LoraConfig>,
    /// Matrix-product dtype (`F32` or `BF16`).
    pub compute: DType,
    /// Continue from `out/checkpoint` instead of refusing to overwrite it.
    pub resume: bool,
    /// Folder of the competition's tokenizer (its files and chat template) when it names
    /// one; examples are encoded and held-out losses scored with it, as validators score.
    /// `None`: the base model's own files.
    pub tokenizer: Option<PathBuf>,
}

/// What a run did, for the CLI's summary.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// The saved Hugging Face folder.
    pub model_dir: PathBuf,
    /// Step the run started from (non-zero after a resume).
    pub start_step: u64,
    /// Steps done in total.
    pub steps: u64,
    /// Loss of the first and last step of this run.
    pub first_loss: Option<f64>,
    /// Loss of the last step of this run.
    pub last_loss: Option<f64>,
    /// Trained tokens per second in this run.
    pub tokens_per_sec: f64,
    /// Trainable parameters (adapters only under LoRA).
    pub trainable_params: usize,
    /// Training examples used (after the sequence-length filter) and dropped.
    pub examples: usize,
    /// Examples longer than the competition's sequence length, left out.
    pub dropped_too_long: usize,
    /// Validator's `reference_loss` on the held-out samples: base, then saved model.
    pub held_out_before: Option<f64>,
    /// Held-out loss of the saved folder.
    pub held_out_after: Option<f64>,
    /// Held-out loss of the trained model in memory, before saving (equals
    /// `held_out_after` up to the saved dtype's rounding and bf16 products).
    pub held_out_trained: Option<f64>,
}

/// Finds competition `id` in `schedule`: at `block` when given, else in the newest entry
/// that has it.
pub fn find_competition(
    schedule: &Schedule,
    id: CompetitionId,
    block: Option<u64>,
) -> Result<Competition, MinerError> {
    let found = match block {
        Some(b) => schedule.competition_at(id, b),
        None => schedule
            .entries
            .iter()
            .rev()
            .find_map(|e| e.competitions.iter().find(|c| c.id == id)),
    };
    found.cloned().ok_or_else(|| {
        let known: Vec<String> = schedule
            .entries
            .iter()
            .flat_map(|e| e.competitions.iter().map(|c| c.id.to_string()))
            .collect();
        MinerError::Train(format!(
            "competition {id} is not in the schedule (known: {})",
            known.join(", ")
        ))
    })
}

/// The training pairs and the held-out pairs of `data`.
pub fn load_pairs(
    data: &DataSource,
    held_out: usize,
) -> Result<(Vec<Pair>, Vec<Pair>), MinerError> {
    match data {
        DataSource::Jsonl(path) => {
            let mut pairs = read_jsonl(path)?;
            if pairs.len() <= held_out {
                return Err(MinerError::Train(format!(
                    "{} has {} pairs: not enough to hold {held_out} out",
                    path.display(),
                    pairs.len()
                )));
            }
            let held = pairs.split_off(pairs.len() - held_out);
            Ok((pairs, held))
        }
        DataSource::Task { kind, count, seed } => {
            let pair = |i: u64| {
                let s = kind.generate(seed, i);
                Pair {
                    prompt: s.prompt,
                    response: s.response,
                }
            };
            let train = (0..*count as u64).map(pair).collect();
            let held = (*count as u64..(*count + held_out) as u64)
                .map(pair)
                .collect();
            Ok((train, held))
        }
    }
}

/// Runs `job` to the end and saves `out/model`.
pub fn train(job: &TrainJob, progress: bool) -> Result<TrainSummary, MinerError> {
    let constraints = &job.competition.constraints;
    let mut model = TrainModel::load(&job.base, &Device::Cpu)?;
    constraints
        .check_architecture(&model.config.architecture)
        .map_err(|v| MinerError::Train(format!("base {}: {v}", job.base.display())))?;
    model.set_compute_dtype(job.compute)?;
    if let Some(lora) = &job.lora {
        model.enable_lora(lora)?;
    }
    let trainable_params = model.trainable().iter().map(|(_, v)| v.elem_count()).sum();

    let (train_pairs, held_pairs) = load_pairs(&job.data, job.held_out)?;
    let tokenizer =
        arena_model::tokenizer::TextTokenizer::load(job.tokenizer.as_deref().unwrap_or(&job.base))?;
    let limit = (constraints.sequence_length as usize).min(model.config.max_position_embeddings);
    let mut examples: Vec<Example> = Vec::with_capacity(train_pairs.len());
    let mut dropped = 0;
    for pair in &train_pairs {
        let ex = encode(&tokenizer, pair)?;
        if ex.ids.len() > limit {
            dropped += 1;
        } else {
            examples.push(ex);
        }
    }
    if examples.is_empty() {
        return Err(MinerError::Train(format!(
            "no training example fits the sequence length {limit} ({dropped} too long)"
        )));
    }
    if dropped > 0 {
        tracing::warn!(
            dropped,
            limit,
            "examples longer than the sequence length left out"
        );
    }

    let checkpoint = job.out.join("checkpoint");
    std::fs::create_dir_all(&job.out).map_err(MinerError::io("creating", &job.out))?;
    let mut trainer = Trainer::new(model, job.options.clone());
    if checkpoint.join("state.json").is_file() {
        if !job.resume {
            let state = CheckpointState::read(&checkpoint)?;
            return Err(MinerError::Train(format!(
                "{} holds a checkpoint at step {}: pass --resume to continue it, or choose another --out",
                checkpoint.display(),
                state.step
            )));
        }
        same_run(
            &CheckpointState::read(&checkpoint)?,
            &job.options,
            &checkpoint,
        )?;
        trainer.resume(&checkpoint)?;
    } else if job.resume {
        tracing::info!(dir = %checkpoint.display(), "no checkpoint yet; starting from step 0");
    }
    tracing::info!(
        seed = job.options.seed,
        steps = job.options.steps,
        start = trainer.step,
        examples = examples.len(),
        trainable_params,
        lora = job.lora.is_some(),
        compute = ?job.compute,
        "training"
    );
    let log_path = job.out.join("log.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(MinerError::io("opening", &log_path))?;
    trainer.on_step = Some(Box::new(move |s| {
        if let Ok(line) = serde_json::to_string(s) {
            if let Err(e) = writeln!(log, "{line}") {
                tracing::warn!("cannot append to the training log: {e}");
            }
        }
    }));
    let mut options = job.options.clone();
    options.progress = progress;
    let ckpt = (options.checkpoint_every > 0).then_some(checkpoint.as_path());
    let report = trainer.run(&examples, ckpt)?;

    let held_examples = held_pairs
        .iter()
        .map(|p| encode(&tokenizer, p))
        .collect::<arena_model::Result<Vec<_>>>()?;
    let held_out_trained = if held_examples.is_empty() {
        None
    } else {
        Some(trainer.eval_loss(&held_examples)?)
    };
    let model_dir = job.out.join("model");
    save_hf_folder(&trainer.model, &job.base, &model_dir)?;
    let (held_out_before, held_out_after) = if held_pairs.is_empty() {
        (None, None)
    } else {
        (
            Some(held_out_loss(
                &job.base,
                &held_pairs,
                job.tokenizer.as_deref(),
            )?),
            Some(held_out_loss(
                &model_dir,
                &held_pairs,
                job.tokenizer.as_deref(),
            )?),
        )
    };
    Ok(TrainSummary {
        model_dir,
        start_step: report.start_step,
        steps: trainer.step,
        first_loss: report.losses.first().copied(),
        last_loss: report.losses.last().copied(),
        tokens_per_sec: report.tokens_per_sec,
        trainable_params,
        examples: examples.len(),
        dropped_too_long: dropped,
        held_out_before,
        held_out_after,
        held_out_trained,
    })
}

/// Refuses to resume a checkpoint written with options that change the run.
fn same_run(state: &CheckpointState, options: &TrainOptions, dir: &Path) -> Result<(), MinerError> {
    let mut saved = state.options.clone();
    saved.progress = options.progress;
    if &saved != options {
        return Err(MinerError::Train(format!(
            "{} was written by a run with other options ({}); resume with the same flags",
            dir.display(),
            serde_json::to_string(&state.options).unwrap_or_default()
        )));
    }
    Ok(())
}

/// The validator's number: mean over samples of the per-sample reference loss, from the
/// evaluation engine loading `dir` as a validator would (with the competition's tokenizer
/// folder when it names one).
pub fn held_out_loss(
    dir: &Path,
    pairs: &[Pair],
    tokenizer: Option<&Path>,
) -> Result<f64, MinerError> {
    let eval = arena_eval::load_evaluator(dir, tokenizer, &Device::Cpu)
        .map_err(|e| MinerError::Train(format!("loading {}: {e}", dir.display())))?;
    let samples: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| arena_model::scoring::PromptReference {
            id: format!("held-{i}"),
            prompt: p.prompt.clone(),
            reference: p.response.clone(),
        })
        .collect();
    let result = eval.reference_loss(&samples);
    if let Some(failure) = result.failures.first() {
        return Err(MinerError::Train(format!(
            "scoring {} failed on a held-out sample: {failure}",
            dir.display()
        )));
    }
    Ok(result.raw)
}
