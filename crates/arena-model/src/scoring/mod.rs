//! The scoring methods of the competitions, on one loaded model and its tokenizer.
//!
//! Each method takes plain sample structs (the data crate converts its datasets to them) and
//! returns a [`TaskResult`]: a raw score, lower is better, and the per-sample scores. A sample
//! that cannot be scored makes its own score +inf, and so the task's score; it never stops an
//! evaluation. Normalisation and the weighted combination of tasks live in `arena-core`.

pub mod batch;
pub mod choice;
pub mod generate;
pub mod ifeval;
pub mod loss;

use std::path::Path;

use candle_core::Device;

use crate::error::Result;
use crate::model::{load_model_as, CausalLm};
use crate::tokenizer::TextTokenizer;
use crate::weights::WeightDtype;
pub use batch::BatchLimits;
pub use generate::Generation;
pub use ifeval::IfEvalSettings;
pub use loss::ReferenceSettings;

/// A prompt and the reference answer whose tokens are scored (`reference_loss`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptReference {
    /// Sample id, for error messages.
    pub id: String,
    /// The user prompt, rendered with the chat template and a generation prompt.
    pub prompt: String,
    /// The text whose tokens are scored.
    pub reference: String,
}

/// A document of a text corpus (`text_loss`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Sample id.
    pub id: String,
    /// Raw text, tokenized without special tokens.
    pub text: String,
}

/// A question with lettered choices (`multiple_choice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceQuestion {
    /// Sample id.
    pub id: String,
    /// The question as shown to the model (choices included when generating).
    pub prompt: String,
    /// Choice texts, in letter order A, B, C, …
    pub choices: Vec<String>,
    /// Index of the right choice.
    pub answer: usize,
}

/// A prompt with verifiable rules (`if_eval`).
#[derive(Debug, Clone, PartialEq)]
pub struct InstructionPrompt {
    /// Sample id.
    pub id: String,
    /// The instruction as shown to the model.
    pub prompt: String,
    /// Rules the response must follow.
    pub rules: Vec<arena_core::ifeval::IfRule>,
}

/// Outcome of one task for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    /// Raw task score, lower is better; +inf when any sample failed.
    pub raw: f64,
    /// Score of each sample in input order (+inf for a failed sample).
    pub per_sample: Vec<f64>,
    /// One line per failed sample.
    pub failures: Vec<String>,
}

impl TaskResult {
    /// Builds the result from per-sample outcomes; the raw score is their mean.
    pub fn from_samples(samples: Vec<Result<f64>>) -> Self {
        let mut failures = Vec::new();
        let per_sample: Vec<f64> = samples
            .into_iter()
            .map(|s| match s {
                Ok(v) if v.is_finite() => v,
                Ok(v) => {
                    failures.push(format!("non-finite score {v}"));
                    f64::INFINITY
                }
                Err(e) => {
                    failures.push(e.to_string());
                    f64::INFINITY
                }
            })
            .collect();
        let raw = if per_sample.is_empty() {
            f64::INFINITY
        } else {
            per_sample.iter().sum::<f64>() / per_sample.len() as f64
        };
        TaskResult {
            raw,
            per_sample,
            failures,
        }
    }
}

/// A model and its tokenizer, ready to score tasks.
pub struct Evaluator {
    /// The loaded model.
    pub model: Box<dyn CausalLm>,
    /// Its tokenizer and chat template.
    pub tokenizer: TextTokenizer,
    /// Batch sizes of the loss engine.
    pub limits: BatchLimits,
}

impl Evaluator {
    /// Loads the model folder `dir` (config.json, safetensors, tokenizer.json).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_as(dir, device, WeightDtype::Stored)
    }

    /// Loads model and tokenizer from `dir`, the model's matrices kept in `dtype`.
    pub fn load_as(dir: &Path, device: &Device, dtype: WeightDtype) -> Result<Self> {
        let tokenizer = TextTokenizer::load(dir)?;
        let model = load_model_as(dir, device, dtype)?;
        Ok(Evaluator {
            model,
            tokenizer,
            limits: BatchLimits::default(),
        })
    }
}
