//! `arena-checkpoint`: reading and checking model checkpoints without loading them, and without
//! candle, so the validator service, the miner and the engine share one implementation.
//!
//! - [`st_header`]: bounded safetensors header reader.
//! - [`config`]: `config.json` of a Hugging Face causal LM as one [`config::ModelConfig`].
//! - [`checks`]: the constraint checks on a model folder (parameters, bytes, architecture,
//!   dtype, tokenizer, tensor names and shapes), the streamed NaN/infinity scan and norm rule,
//!   and file hashing; every failure is one `arena_core::rejection::Rejection`, whose stable codes
//!   every surface shares (table in ARCHITECTURE.md).
//! - [`gguf`]: llama.cpp's GGUF format: hardened reader, dequantisation, import into a Hugging
//!   Face folder.
//!
//! ```no_run
//! use arena_checkpoint::config::ModelConfig;
//! let cfg = ModelConfig::from_file(std::path::Path::new("model/config.json"))?;
//! println!("{} with {} layers", cfg.architecture, cfg.num_hidden_layers);
//! # Ok::<(), arena_checkpoint::ConfigError>(())
//! ```

pub mod checks;
pub mod config;
mod error;
pub mod gguf;
pub mod st_header;

pub use error::ConfigError;
