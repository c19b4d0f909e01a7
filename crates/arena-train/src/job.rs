//! The one training loop: a [`TrainRun`] describes the run, [`run`] does it.
//!
//! In order: load the base model (and let the caller refuse it), set the compute dtype and
//! LoRA, encode the examples, start fresh or resume the checkpoint, train with a step log,
//! checkpoints and an optional progress bar until the last step (or until the stop flag is
//! raised), score the held-out examples in memory, and save the Hugging Face folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use arena_model::tokenizer::TextTokenizer;
use arena_model::Device;

use crate::data::{encode, Example, Pair};
use crate::error::TrainError;
use crate::lora::LoraConfig;
use crate::model::TrainModel;
use crate::trainer::{save_hf_folder, CheckpointState, StepLog, TrainOptions, Trainer};
use crate::DType;

/// What a run trains on.
#[derive(Debug, Clone, PartialEq)]
pub enum RunData {
    /// Examples already tokenized (the bench's synthetic token ids).
    Examples(Vec<Example>),
    /// Prompt/response pairs, encoded with the validator's masking.
    Pairs {
        /// Pairs to train on.
        train: Vec<Pair>,
        /// Pairs never trained on; their loss is reported after training
        /// ([`RunSummary::held_out_trained`]).
        held_out: Vec<Pair>,
        /// Folder of the tokenizer (its files and chat template) to encode them with.
        tokenizer: PathBuf,
        /// Training examples longer than this (or than the model's
        /// `max_position_embeddings`) are left out; `None`: keep every example.
        max_len: Option<usize>,
    },
}

/// One training run. [`TrainRun::new`] sets the parts every run has; the other fields turn
/// on what only some callers want (checkpoints, a step log, saving, a stop flag, …).
pub struct TrainRun<'a> {
    /// Base model folder: the weights trained from, and the config and tokenizer files copied
    /// into the saved folder.
    pub base: PathBuf,
    /// What to train on.
    pub data: RunData,
    /// Optimiser, schedule, batch, seed, checkpoint interval and progress bar.
    pub options: TrainOptions,
    /// Matrix-product dtype (`F32` or `BF16`).
    pub compute: DType,
    /// Where the model is trained (the CPU unless set).
    pub device: Device,
    /// Train adapters instead of every weight.
    pub lora: Option<LoraConfig>,
    /// Checkpoint folder: written every `options.checkpoint_every` steps (and at the last
    /// one) when that is not 0. A checkpoint already there is refused unless `resume`.
    pub checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint instead of refusing to overwrite it.
    pub resume: bool,
    /// Append one JSON line per optimiser step ([`StepLog`]) to this file.
    pub log: Option<PathBuf>,
    /// Save the trained model here as a Hugging Face folder, replacing the folder as a whole.
    pub save_to: Option<PathBuf>,
    /// Checked before every step: once raised, the run ends without saving anything
    /// ([`RunSummary::stopped`]).
    pub stop: Option<&'a AtomicBool>,
    /// Called with the loaded base model before anything else; an `Err` refuses the run
    /// with that message ([`TrainError::Refused`]).
    pub check_base: Option<Box<dyn FnOnce(&TrainModel) -> Result<(), String> + 'a>>,
    /// Called after every optimiser step (after its checkpoint and log line).
    pub on_step: Option<Box<dyn FnMut(&StepLog) + Send>>,
}

impl<'a> TrainRun<'a> {
    /// A full fine-tune in f32 of `base` on `data`, without checkpoint, log or saved folder.
    pub fn new(base: impl Into<PathBuf>, data: RunData, options: TrainOptions) -> TrainRun<'a> {
        TrainRun {
            base: base.into(),
            data,
            options,
            compute: DType::F32,
            device: Device::Cpu,
            lora: None,
            checkpoint: None,
            resume: false,
            log: None,
            save_to: None,
            stop: None,
            check_base: None,
            on_step: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Step the run started from (non-zero after a resume).
    pub start_step: u64,
    /// Steps done in total (the checkpoint's included).
    pub steps: u64,
    /// Loss of each step taken in this run.
    pub losses: Vec<f64>,
    /// Wall-clock seconds of each step taken in this run.
    pub step_seconds: Vec<f64>,
    /// Trained tokens per second in this run.
    pub tokens_per_sec: f64,
    /// Trainable parameters (adapters only under LoRA).
    pub trainable_params: usize,
    /// Training examples used.
    pub examples: usize,
    /// Examples longer than the length limit, left out.
    pub dropped_too_long: usize,
    /// Loss of the trained model in memory on the held-out pairs (`None` without any).
    pub held_out_trained: Option<f64>,
    /// The stop flag was raised: the run ended early and saved nothing.
    pub stopped: bool,
}

/// Runs `job` (see the module documentation for the order of its parts).
pub fn run(job: TrainRun<'_>) -> Result<RunSummary, TrainError> {
    let TrainRun {
        base,
        data,
        options,
        compute,
        device,
        lora,
        checkpoint,
        resume,
        log,
        save_to,
        stop,
        check_base,
        on_step,
    } = job;
    let mut model = TrainModel::load(&base, &device)?;
    if let Some(check) = check_base {
        check(&model).map_err(TrainError::Refused)?;
    }
    model.set_compute_dtype(compute)?;
    if let Some(lora) = &lora {
        model.enable_lora(lora)?;
    }
    let trainable_params = model.trainable().iter().map(|(_, v)| v.elem_count()).sum();

    let (examples, dropped, held_out) = match data {
        RunData::Examples(examples) => (examples, 0, None),
        RunData::Pairs {
            train,
            held_out,
            tokenizer,
            max_len,
        } => {
            let tokenizer = TextTokenizer::load(&tokenizer)?;
            let limit = max_len.map(|m| m.min(model.config.max_position_embeddings));
            let (examples, dropped) = encode_fitting(&tokenizer, &train, limit)?;
            (examples, dropped, Some((tokenizer, held_out)))
        }
    };

    for path in [&checkpoint, &log, &save_to].into_iter().flatten() {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(TrainError::io("creating", parent))?;
        }
    }
    let mut trainer = Trainer::new(model, options.clone());
    if let Some(dir) = &checkpoint {
        arena_fs::recover_dir(dir).map_err(TrainError::io("recovering", dir))?;
        if dir.join("state.json").is_file() {
            let state = CheckpointState::read(dir)?;
            if !resume {
                return Err(TrainError::Refused(format!(
                    "{} holds a checkpoint at step {}: pass --resume to continue it, or choose another --out",
                    dir.display(),
                    state.step
                )));
            }
            same_run(&state, &options, dir)?;
            trainer.resume(dir)?;
        } else if resume {
            tracing::info!(dir = %dir.display(), "no checkpoint yet; starting from step 0");
        }
    }
    tracing::info!(
        seed = options.seed,
        steps = options.steps,
        start = trainer.step,
        examples = examples.len(),
        trainable_params,
        lora = lora.is_some(),
        compute = ?compute,
        "training"
    );
    trainer.on_step = step_callback(log.as_deref(), on_step)?;
    let ckpt = checkpoint
        .as_deref()
        .filter(|_| options.checkpoint_every > 0);
    let report = trainer.run_steps(&examples, ckpt, options.steps, stop)?;
    let mut summary = RunSummary {
        start_step: report.start_step,
        steps: trainer.step,
        losses: report.losses,
        step_seconds: report.step_seconds,
        tokens_per_sec: report.tokens_per_sec,
        trainable_params,
        examples: examples.len(),
        dropped_too_long: dropped,
        held_out_trained: None,
        stopped: report.stopped,
    };
    if summary.stopped {
        return Ok(summary);
    }

    if let Some((tokenizer, pairs)) = held_out {
        let held = pairs
            .iter()
            .map(|p| encode(&tokenizer, p))
            .collect::<arena_model::Result<Vec<_>>>()?;
        if !held.is_empty() {
            summary.held_out_trained = Some(trainer.eval_loss(&held)?);
        }
    }
    if let Some(dest) = &save_to {
        crate::error::replace_dir(
            dest,
            |staging| Ok(save_hf_folder(&trainer.model, &base, staging)?),
            TrainError::io("replacing", dest),
        )?;
    }
    Ok(summary)
}

/// Encodes `pairs`, leaving out (and counting) the examples longer than `limit`. Refuses a
/// limit that leaves nothing to train on.
fn encode_fitting(
    tokenizer: &TextTokenizer,
    pairs: &[Pair],
    limit: Option<usize>,
) -> Result<(Vec<Example>, usize), TrainError> {
    let mut examples = Vec::with_capacity(pairs.len());
    let mut dropped = 0;
    for pair in pairs {
        let ex = encode(tokenizer, pair)?;
        if limit.is_some_and(|limit| ex.ids.len() > limit) {
            dropped += 1;
        } else {
            examples.push(ex);
        }
    }
    if let Some(limit) = limit {
        if examples.is_empty() {
            return Err(TrainError::Refused(format!(
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
    }
    Ok((examples, dropped))
}

/// The trainer's per-step callback: the log line (when `log` is set), then `user`'s.
#[allow(clippy::type_complexity)]
fn step_callback(
    log: Option<&Path>,
    mut user: Option<Box<dyn FnMut(&StepLog) + Send>>,
) -> Result<Option<Box<dyn FnMut(&StepLog) + Send>>, TrainError> {
    let mut file = match log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(TrainError::io("opening", path))?,
        ),
        None => None,
    };
    if file.is_none() && user.is_none() {
        return Ok(None);
    }
    Ok(Some(Box::new(move |s: &StepLog| {
        if let Some(file) = file.as_mut() {
            if let Ok(line) = serde_json::to_string(s) {
                if let Err(e) = writeln!(file, "{line}") {
                    tracing::warn!("cannot append to the training log: {e}");
                }
            }
        }
        if let Some(user) = user.as_mut() {
            user(s);
        }
    })))
}

/// Refuses to resume a checkpoint written with options that change the run (the progress
/// bar aside).
fn same_run(state: &CheckpointState, options: &TrainOptions, dir: &Path) -> Result<(), TrainError> {
    let mut saved = state.options.clone();
    saved.progress = options.progress;
    if &saved != options {
        return Err(TrainError::Refused(format!(
            "{} was written by a run with other options ({}); resume with the same flags",
            dir.display(),
            serde_json::to_string(&state.options).unwrap_or_default()
        )));
    }
    Ok(())
}
