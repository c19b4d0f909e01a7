//! `arena-model`: the evaluation engine of finetune-arena.
//!
//! It loads a Hugging Face causal LM folder (config.json, safetensors, tokenizer.json) with
//! candle and scores it the way the competitions of DESIGN §4 ask: reference loss, text loss,
//! multiple choice and instruction following. It is the only crate of the workspace that
//! depends on candle, so nothing else waits for candle to compile.
//!
//! Layout: `config` (config.json), `model/` (one file per architecture family), `kernels`
//! (fused loss), `scoring/` (the scoring methods).
//!
//! ```no_run
//! use arena_model::config::ModelConfig;
//! let cfg = ModelConfig::from_file(std::path::Path::new("model/config.json"))?;
//! println!("{} with {} layers", cfg.architecture, cfg.num_hidden_layers);
//! # Ok::<(), arena_model::ModelError>(())
//! ```

pub mod checks;
pub mod config;
pub mod error;
pub mod gguf;
pub mod kernels;
pub mod model;
pub mod scoring;
pub mod st_header;
pub mod tensor;
pub mod tokenizer;
pub mod weights;

/// Where tensors live; re-exported so callers need not depend on candle.
pub use candle_core::Device;
pub use error::{ModelError, Result};
pub use model::{load_model, CausalLm};
pub use scoring::Evaluator;
