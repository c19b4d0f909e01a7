//! `arena-train`: the trainer of finetune-arena. It fine-tunes a causal LM on prompt/response
//! pairs with the loss on the response tokens only, exactly as the validator's
//! `reference_loss` scores them.
//!
//! * [`run`]: the one training loop of the workspace, called by `arena miner train`
//!   (`arena-miner`), the localnet's built-in miners (`arena-localnet`) and `arena bench
//!   train`: load the base, encode the examples, start or resume from a checkpoint, step,
//!   checkpoint, report progress, save the Hugging Face folder. What differs between them
//!   (progress bar, checkpoints, step log, stop flag, step timings) is a field of [`TrainRun`].
//! * [`model`]: the Llama-family decoder with trainable variables and differentiable ops,
//!   f32 or bf16 matrix products.
//! * [`lora`]: low-rank adapters on the projections, merged into the weights when saved.
//! * [`optim`]: fused in-place AdamW, gradient clipping, warmup and cosine/linear decay.
//! * [`data`]: tokenization with the validator's masking, JSONL pairs, the seeded order.
//! * [`trainer`]: the step loop, checkpoints and resume, and the saved Hugging Face folder.
//!
//! The crate does not depend on candle itself: tensors, variables and the differentiable ops
//! come through [`arena_model::tensor`], so the evaluation engine stays the only crate that
//! declares candle.
//!
//! ```no_run
//! use arena_train::{run, RunData, TrainRun, TrainOptions};
//! # fn demo(examples: Vec<arena_train::data::Example>) -> Result<(), arena_train::TrainError> {
//! let job = TrainRun {
//!     checkpoint: Some("out/checkpoint".into()),
//!     save_to: Some("out/model".into()),
//!     ..TrainRun::new(
//!         "base/",
//!         RunData::Examples(examples),
//!         TrainOptions { steps: 200, checkpoint_every: 50, ..Default::default() },
//!     )
//! };
//! let summary = run(job)?;
//! println!("loss {:?} -> {:?}", summary.losses.first(), summary.losses.last());
//! # Ok(()) }
//! ```

/// The dtype of [`model::TrainModel::set_compute_dtype`], re-exported for crates without candle.
pub use arena_model::tensor::DType;

pub mod data;
mod error;
mod fused;
mod job;
pub mod lora;
pub mod model;
pub mod optim;
pub mod trainer;

/// Helpers shared by the unit tests of several modules.
#[cfg(test)]
pub(crate) mod test_util {
    use arena_model::tensor::Tensor;

    /// The largest absolute elementwise difference of two tensors of one shape.
    pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }
}

pub use error::TrainError;
pub use job::{run, RunData, RunSummary, TrainRun};
pub use trainer::{StepLog, TrainOptions};
