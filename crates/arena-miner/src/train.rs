//! `arena miner train` as a library: turn a base model and prompt/response data into a
//! Hugging Face folder a competition accepts, resumably.
//!
//! The run lives in one output folder: `model/` (the saved HF folder, written at the end),
//! `checkpoint/` (trainable variables, optimiser moments, step and options; replaced
//! atomically every `checkpoint_every` steps) and `log.jsonl` (one line per optimiser step).
//! A killed run restarted with `resume` reloads the checkpoint and continues on the same
//! schedule and example order, so it ends where an uninterrupted run would. The loop itself
//! is [`arena_train::run`]; this module picks the competition, the data and the folders, and
//! scores the held-out samples as validators do.

use std::path::{Path, PathBuf};

use arena_core::competition::{Competition, CompetitionId, Schedule};
use arena_core::seed::Seed;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_model::Device;
use arena_train::data::{read_jsonl, Pair};
use arena_train::lora::LoraConfig;
use arena_train::{DType, RunData, TrainError, TrainOptions, TrainRun};
use serde::Serialize;

use crate::error::MinerError;

/// Where the prompt/response pairs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingData {
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
    pub data: TrainingData,
    /// Samples held out (never trained on) to report the validator's loss before and after.
    pub held_out: usize,
    /// Optimiser, schedule, batch and seed.
    pub options: TrainOptions,
    /// Train adapters instead of every weight.
    pub lora: Option<LoraConfig>,
    /// Matrix-product dtype (`F32` or `BF16`).
    pub compute: DType,
    /// Where the model is trained and the held-out losses are scored.
    pub device: Device,
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
        None => schedule.newest_competition(id),
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
    data: &TrainingData,
    held_out: usize,
) -> Result<(Vec<Pair>, Vec<Pair>), MinerError> {
    match data {
        TrainingData::Jsonl(path) => {
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
        TrainingData::Task { kind, count, seed } => {
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
    let (train_pairs, held_pairs) = load_pairs(&job.data, job.held_out)?;
    let constraints = &job.competition.constraints;
    let base = job.base.clone();
    let mut options = job.options.clone();
    options.progress = progress;
    let run = TrainRun {
        compute: job.compute,
        device: job.device.clone(),
        lora: job.lora.clone(),
        checkpoint: Some(job.out.join("checkpoint")),
        resume: job.resume,
        log: Some(job.out.join("log.jsonl")),
        save_to: Some(job.out.join("model")),
        check_base: Some(Box::new(move |model| {
            constraints
                .check_architecture(&model.config.architecture)
                .map_err(|v| format!("base {}: {v}", base.display()))
        })),
        ..TrainRun::new(
            &job.base,
            RunData::Pairs {
                train: train_pairs,
                held_out: held_pairs.clone(),
                tokenizer: job.tokenizer.clone().unwrap_or_else(|| job.base.clone()),
                max_len: Some(constraints.sequence_length as usize),
            },
            options,
        )
    };
    let report = arena_train::run(run)?;
    let model_dir = job.out.join("model");
    let (held_out_before, held_out_after) = if held_pairs.is_empty() {
        (None, None)
    } else {
        (
            Some(held_out_loss(
                &job.base,
                &held_pairs,
                job.tokenizer.as_deref(),
                &job.device,
            )?),
            Some(held_out_loss(
                &model_dir,
                &held_pairs,
                job.tokenizer.as_deref(),
                &job.device,
            )?),
        )
    };
    Ok(TrainSummary {
        model_dir,
        start_step: report.start_step,
        steps: report.steps,
        first_loss: report.losses.first().copied(),
        last_loss: report.losses.last().copied(),
        tokens_per_sec: report.tokens_per_sec,
        trainable_params: report.trainable_params,
        examples: report.examples,
        dropped_too_long: report.dropped_too_long,
        held_out_before,
        held_out_after,
        held_out_trained: report.held_out_trained,
    })
}

impl From<TrainError> for MinerError {
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Model(e) => MinerError::Model(e),
            TrainError::Refused(message) => MinerError::Train(message),
            TrainError::Io {
                action,
                path,
                source,
            } => MinerError::Io {
                action,
                path,
                source,
            },
        }
    }
}

/// The validator's number: mean over samples of the per-sample reference loss, from the
/// evaluation engine loading `dir` as a validator would (with the competition's tokenizer
/// folder when it names one), on `device`.
pub fn held_out_loss(
    dir: &Path,
    pairs: &[Pair],
    tokenizer: Option<&Path>,
    device: &Device,
) -> Result<f64, MinerError> {
    let eval = arena_eval::load_evaluator(dir, tokenizer, device)
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
