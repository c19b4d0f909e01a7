//! `arena-model`: the evaluation engine of finetune-arena.
//!
//! It loads a Hugging Face causal LM folder (config.json, safetensors, tokenizer.json) with
//! candle and scores it the way the competitions ask: reference loss, text loss,
//! multiple choice and instruction following. It is the only crate of the workspace that
//! depends on candle, so nothing else waits for candle to compile.
//!
//! Layout: `model/` (one file per architecture family), `attention` (blockwise causal
//! attention, differentiable), `kernels` (fused loss, SwiGLU), `scoring/`
//! (the scoring methods). config.json parsing, the pre-load checks and GGUF import live in the
//! candle-free `arena-checkpoint`.
//!
//! ```no_run
//! use arena_model::{load_model, Device};
//! let model = load_model(std::path::Path::new("model"), &Device::Cpu)?;
//! println!("{} layers", model.config().num_hidden_layers);
//! # Ok::<(), arena_model::ModelError>(())
//! ```

pub mod attention;
mod device;
mod error;
pub mod kernels;
pub mod model;
pub mod scoring;
pub mod tensor;
pub mod tokenizer;
pub mod weights;

/// Where tensors live; re-exported so callers need not depend on candle.
pub use candle_core::Device;
pub use device::{parse_device, parse_device_list, DeviceError, DeviceSpec};
pub use error::{ModelError, Result};
pub use model::{load_model, CausalLm};
pub use scoring::Evaluator;

/// config.json parsing lives in `arena-checkpoint`; the engine's modules reach it as
/// `crate::config`.
pub(crate) use arena_checkpoint::config;
