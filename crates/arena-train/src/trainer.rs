//! The training loop: seeded micro-batches, gradient accumulation, global-norm clipping, the
//! fused AdamW step, warmup and decay, a progress bar, periodic checkpoints that a killed run
//! resumes from, and the final Hugging Face folder.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arena_model::tensor::{DType, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::data::{draw, Example};
use crate::model::{make_batch, TrainModel};
use crate::optim::{global_norm, learning_rate, AdamW, AdamWConfig, Decay, Moments};
use arena_model::{ModelError, Result};

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Optimiser steps.
    pub steps: u64,
    /// Peak learning rate.
    pub lr: f64,
    /// Sequences per micro-batch.
    pub batch: usize,
    /// Micro-batches per optimiser step.
    pub accumulation: usize,
    /// Warmup steps.
    pub warmup: u64,
    /// Decay after warmup.
    pub decay: Decay,
    /// Final learning rate as a fraction of the peak.
    pub min_lr_ratio: f64,
    /// AdamW settings.
    pub adamw: AdamWConfig,
    /// Clip the global gradient norm to this (None: no clipping).
    pub clip: Option<f64>,
    /// Seed of the example order.
    pub seed: u64,
    /// Write a checkpoint every this many steps (0: never).
    pub checkpoint_every: u64,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            steps: 100,
            lr: 1e-3,
            batch: 8,
            accumulation: 1,
            warmup: 10,
            decay: Decay::Cosine,
            min_lr_ratio: 0.1,
            adamw: AdamWConfig::default(),
            clip: Some(1.0),
            seed: 0,
            checkpoint_every: 0,
            progress: false,
        }
    }
}

/// One optimiser step, as reported to [`Trainer::on_step`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// Steps done, this one included (1 for the first step of a run).
    pub step: u64,
    /// Mean loss of the step's micro-batches (before the update).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping (of the mean gradient).
    pub grad_norm: f64,
    /// Tokens per second since this run (or resumed run) started.
    pub tokens_per_sec: f64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Step the run started from (non-zero after a resume).
    pub start_step: u64,
    /// Loss of each step taken in this run.
    pub losses: Vec<f64>,
    /// Trained tokens per second over this run.
    pub tokens_per_sec: f64,
    /// Wall-clock seconds of each step taken in this run (its checkpoint included).
    pub step_seconds: Vec<f64>,
    /// The run was asked to stop before reaching its last step.
    pub stopped: bool,
}

/// `state.json` of a checkpoint: where the run is and what it was started with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Optimiser steps done.
    pub step: u64,
    /// The options of the run that wrote it.
    pub options: TrainOptions,
    /// LoRA settings when adapters were trained (then the checkpoint holds only adapters).
    #[serde(default)]
    pub lora: Option<crate::lora::LoraConfig>,
}

impl CheckpointState {
    /// Reads `dir/state.json`.
    pub fn read(dir: &Path) -> Result<CheckpointState> {
        let path = dir.join("state.json");
        let text = std::fs::read(&path).map_err(|e| crate::error::io_error(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| crate::error::json_error(&path, e))
    }
}

/// A model, its optimiser and the step reached.
pub struct Trainer {
    /// The model being trained.
    pub model: TrainModel,
    opt: AdamW,
    /// Optimiser steps done.
    pub step: u64,
    options: TrainOptions,
    /// Called after every optimiser step (after its checkpoint, if one was due).
    pub on_step: Option<Box<dyn FnMut(&StepLog) + Send>>,
}

impl Trainer {
    /// A fresh run over the trainable variables of `model` (every weight, or the LoRA
    /// adapters when enabled before this call).
    pub fn new(model: TrainModel, options: TrainOptions) -> Trainer {
        let sizes: Vec<usize> = model
            .trainable()
            .iter()
            .map(|(_, v)| v.elem_count())
            .collect();
        Trainer {
            opt: AdamW::new(options.adamw, &sizes),
            model,
            step: 0,
            options,
            on_step: None,
        }
    }

    /// The options this run trains with.
    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    /// Loss, gradients (in [`TrainModel::trainable`] order) and token count of one micro-batch.
    pub fn gradients(&self, examples: &[&Example]) -> Result<(f64, Vec<Tensor>, usize)> {
        let seqs: Vec<(&[u32], usize)> = examples
            .iter()
            .map(|e| (&e.ids[..], e.first_target))
            .collect();
        let batch = make_batch(&seqs, self.pad_id(), self.model.device())?;
        let loss = self.model.loss(&batch)?;
        let grads = loss.backward()?;
        let trainable = self.model.trainable();
        let mut out = Vec::with_capacity(trainable.len());
        for (name, var) in trainable {
            let g = match grads.get(var.as_tensor()) {
                Some(g) => g.clone(),
                None => {
                    tracing::warn!(%name, "no gradient reached this tensor");
                    var.as_tensor().zeros_like()?
                }
            };
            out.push(g);
        }
        let tokens = examples.iter().map(|e| e.ids.len()).sum();
        Ok((f64::from(loss.to_scalar::<f32>()?), out, tokens))
    }

    /// The validator's number for the model as it is in memory: the mean over `examples` of
    /// each one's mean response-token loss, forward only, in micro-batches of `batch`.
    pub fn eval_loss(&self, examples: &[Example]) -> Result<f64> {
        if examples.is_empty() {
            return Err(ModelError::Config("no examples to evaluate".into()));
        }
        let mut total = 0.0;
        for chunk in examples.chunks(self.options.batch.max(1)) {
            let seqs: Vec<(&[u32], usize)> =
                chunk.iter().map(|e| (&e.ids[..], e.first_target)).collect();
            let batch = make_batch(&seqs, self.pad_id(), self.model.device())?;
            let loss = self.model.loss(&batch)?.detach();
            total += f64::from(loss.to_scalar::<f32>()?) * chunk.len() as f64;
        }
        Ok(total / examples.len() as f64)
    }

    fn pad_id(&self) -> u32 {
        self.model
            .config
            .eos_token_ids
            .first()
            .copied()
            .unwrap_or(0)
    }

    /// Trains until `options.steps`, checkpointing into `checkpoint` when set.
    pub fn run(&mut self, examples: &[Example], checkpoint: Option<&Path>) -> Result<TrainReport> {
        self.run_until(examples, checkpoint, self.options.steps)
    }

    /// Trains up to step `until` (at most `options.steps`) on the full run's schedule, so a
    /// time-boxed session and its continuation train exactly as one run would.
    pub fn run_until(
        &mut self,
        examples: &[Example],
        checkpoint: Option<&Path>,
        until: u64,
    ) -> Result<TrainReport> {
        self.run_steps(examples, checkpoint, until, None)
    }

    /// [`Self::run_until`] that also returns early, with `stopped` set, when `stop` is raised
    /// (checked before every step).
    pub(crate) fn run_steps(
        &mut self,
        examples: &[Example],
        checkpoint: Option<&Path>,
        until: u64,
        stop: Option<&AtomicBool>,
    ) -> Result<TrainReport> {
        if examples.is_empty() {
            return Err(ModelError::Config("no training examples".into()));
        }
        let o = self.options.clone();
        let start_step = self.step;
        let bar = if o.progress {
            let bar = ProgressBar::new(o.steps);
            if let Ok(style) =
                ProgressStyle::with_template("train [{bar:30}] {pos}/{len} {msg} {eta}")
            {
                bar.set_style(style);
            }
            bar.set_position(self.step);
            bar
        } else {
            ProgressBar::hidden()
        };
        let started = Instant::now();
        let (mut losses, mut tokens) = (Vec::new(), 0usize);
        let mut step_seconds = Vec::new();
        let mut stopped = false;
        let per_step = (o.batch * o.accumulation) as u64;
        while self.step < until.min(o.steps) {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                stopped = true;
                break;
            }
            let step_started = Instant::now();
            let mut sum: Option<Vec<Tensor>> = None;
            let mut loss = 0.0;
            for micro in 0..o.accumulation {
                let first = (self.step * per_step) + (micro * o.batch) as u64;
                let picked: Vec<&Example> = (0..o.batch as u64)
                    .map(|j| &examples[draw(o.seed, first + j, examples.len())])
                    .collect();
                let (l, grads, t) = self.gradients(&picked)?;
                loss += l / o.accumulation as f64;
                tokens += t;
                sum = Some(match sum {
                    None => grads,
                    Some(acc) => acc
                        .iter()
                        .zip(&grads)
                        .map(|(a, g)| a + g)
                        .collect::<arena_model::tensor::Result<_>>()?,
                });
            }
            let grads = sum.unwrap_or_default();
            let mut scale = 1.0 / o.accumulation as f64;
            let grad_norm = global_norm(&grads)? * scale;
            if let Some(max) = o.clip {
                if grad_norm > max {
                    scale *= max / grad_norm;
                }
            }
            let lr = learning_rate(self.step, o.steps, o.warmup, o.lr, o.min_lr_ratio, o.decay);
            let trainable = self.model.trainable();
            let params: Vec<_> = trainable.iter().map(|(_, v)| *v).collect();
            self.opt.step(&params, &grads, lr as f32, scale as f32)?;
            self.step += 1;
            losses.push(loss);
            let tokens_per_sec = tokens as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_position(self.step);
            bar.set_message(format!(
                "loss {loss:.4} lr {lr:.2e} {tokens_per_sec:.0} tok/s"
            ));
            tracing::debug!(step = self.step, loss, lr, "step");
            if let Some(dir) = checkpoint {
                if o.checkpoint_every > 0
                    && (self.step % o.checkpoint_every == 0 || self.step == until.min(o.steps))
                {
                    self.save_checkpoint(dir)?;
                }
            }
            step_seconds.push(step_started.elapsed().as_secs_f64());
            if let Some(callback) = self.on_step.as_mut() {
                callback(&StepLog {
                    step: self.step,
                    loss,
                    lr,
                    grad_norm,
                    tokens_per_sec,
                });
            }
        }
        bar.finish_and_clear();
        Ok(TrainReport {
            start_step,
            losses,
            tokens_per_sec: tokens as f64 / started.elapsed().as_secs_f64().max(1e-9),
            step_seconds,
            stopped,
        })
    }

    /// Writes the trainable variables (every weight, or only the adapters under LoRA),
    /// optimiser moments and the step into `dir`, replacing it as a whole with
    /// [`arena_fs::replace_dir`] (written beside it, then swapped in), so a kill never leaves
    /// half a checkpoint.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        crate::error::replace_dir(dir, |tmp| self.write_checkpoint(tmp), |e| write_err(dir, e))
    }

    /// The files of a checkpoint, written into the (empty) folder `tmp`.
    fn write_checkpoint(&self, tmp: &Path) -> Result<()> {
        let trainable = self.model.trainable();
        let weights: std::collections::HashMap<String, Tensor> = trainable
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().detach()))
            .collect();
        let weights_path = tmp.join("weights.safetensors");
        arena_model::tensor::safetensors::save(&weights, &weights_path)
            .map_err(|e| crate::error::weights_error(&weights_path, e))?;
        let mut moments = std::collections::HashMap::new();
        let dev = self.model.device();
        for ((name, var), state) in trainable.iter().zip(&self.opt.moments) {
            let state = state
                .lock()
                .map_err(|_| ModelError::Config("optimizer state poisoned".into()))?;
            let shape = var.as_tensor().shape().clone();
            moments.insert(
                format!("m.{name}"),
                Tensor::from_slice(&state.m, shape.clone(), dev)?,
            );
            moments.insert(
                format!("v.{name}"),
                Tensor::from_slice(&state.v, shape, dev)?,
            );
        }
        let optim = tmp.join("optimizer.safetensors");
        arena_model::tensor::safetensors::save(&moments, &optim)
            .map_err(|e| crate::error::weights_error(&optim, e))?;
        let state = serde_json::to_vec_pretty(&CheckpointState {
            step: self.step,
            options: self.options.clone(),
            lora: self.model.lora().cloned(),
        })
        .map_err(|e| crate::error::json_error(tmp, e))?;
        std::fs::write(tmp.join("state.json"), state).map_err(|e| write_err(tmp, e))?;
        Ok(())
    }

    /// Restores weights, moments and step from a checkpoint written by [`Self::save_checkpoint`].
    /// The run's options come from the caller; a different seed or batch changes the order.
    /// A checkpoint of adapters only resumes a model with the same LoRA settings.
    /// A checkpoint left aside by a save killed between its two renames is put back first.
    pub fn resume(&mut self, dir: &Path) -> Result<()> {
        arena_fs::recover_dir(dir).map_err(|e| write_err(dir, e))?;
        let state = CheckpointState::read(dir)?;
        if state.lora.as_ref() != self.model.lora() {
            return Err(ModelError::Config(format!(
                "checkpoint {} was written with LoRA {:?}, this run has {:?}",
                dir.display(),
                state.lora,
                self.model.lora()
            )));
        }
        let dev = self.model.device().clone();
        let weights = arena_model::tensor::safetensors::load(dir.join("weights.safetensors"), &dev)
            .map_err(|e| crate::error::weights_error(dir, e))?;
        let optim = arena_model::tensor::safetensors::load(dir.join("optimizer.safetensors"), &dev)
            .map_err(|e| crate::error::weights_error(dir, e))?;
        for ((name, var), slot) in self.model.trainable().into_iter().zip(&self.opt.moments) {
            let get = |map: &std::collections::HashMap<String, Tensor>, key: &str| {
                map.get(key)
                    .cloned()
                    .ok_or_else(|| ModelError::MissingTensor(format!("{key} in {}", dir.display())))
            };
            var.set(&get(&weights, &name)?)?;
            let m = get(&optim, &format!("m.{name}"))?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let v = get(&optim, &format!("v.{name}"))?
                .flatten_all()?
                .to_vec1::<f32>()?;
            *slot
                .lock()
                .map_err(|_| ModelError::Config("optimizer state poisoned".into()))? =
                Moments { m, v };
        }
        self.step = state.step;
        self.opt.step = state.step;
        tracing::info!(step = state.step, dir = %dir.display(), "resumed from checkpoint");
        Ok(())
    }
}

/// Writes a Hugging Face folder: the weights in the base model's dtype with transformers'
/// names, and the base's config and tokenizer files unchanged.
pub fn save_hf_folder(model: &TrainModel, base: &Path, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| write_err(out, e))?;
    let dtype = match model.config.dtype.as_deref() {
        Some("bfloat16") => DType::BF16,
        Some("float16") => DType::F16,
        _ => DType::F32,
    };
    model.save_weights(&out.join("model.safetensors"), dtype)?;
    for name in [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "chat_template.jinja",
    ] {
        let src = base.join(name);
        if src.is_file() {
            std::fs::copy(&src, out.join(name)).map_err(|e| write_err(&out.join(name), e))?;
        }
    }
    Ok(())
}

fn write_err(path: &Path, e: std::io::Error) -> ModelError {
    crate::error::weights_error(path, format!("writing: {e}"))
}
