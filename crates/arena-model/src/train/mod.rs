//! Training: fine-tune a causal LM on prompt/response pairs with the loss on the response
//! tokens only, exactly as the validator's `reference_loss` scores them.
//!
//! * [`model`]: the Llama-family decoder with trainable variables and differentiable ops,
//!   f32 or bf16 matrix products.
//! * [`lora`]: low-rank adapters on the projections, merged into the weights when saved.
//! * [`optim`]: fused in-place AdamW, gradient clipping, warmup and cosine/linear decay.
//! * [`data`]: tokenization with the validator's masking, JSONL pairs, the seeded order.
//! * [`trainer`]: the loop, checkpoints and resume, and the saved Hugging Face folder.
//!
//! ```no_run
//! use arena_model::train::{model::TrainModel, trainer::{Trainer, TrainOptions, save_hf_folder}};
//! # fn demo(examples: Vec<arena_model::train::data::Example>) -> arena_model::Result<()> {
//! let base = std::path::Path::new("base/");
//! let model = TrainModel::load(base, &arena_model::Device::Cpu)?;
//! let mut trainer = Trainer::new(model, TrainOptions { steps: 200, ..Default::default() });
//! trainer.run(&examples, Some(std::path::Path::new("out/checkpoint")))?;
//! save_hf_folder(&trainer.model, base, std::path::Path::new("out/model"))?;
//! # Ok(()) }
//! ```

/// The dtype of [`model::TrainModel::set_compute_dtype`], re-exported for crates without candle.
pub use candle_core::DType;

pub mod data;
pub mod lora;
pub mod model;
pub mod optim;
pub mod trainer;
