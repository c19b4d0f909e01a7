//! Causal language models: one file per architecture family behind one trait.
//!
//! The trait splits a forward pass in two so scoring pays for the vocabulary projection only
//! where it needs it: `hidden` runs the decoder body over a right-padded batch, `logits_at`
//! applies the final norm and `lm_head` to the gathered rows that are scored.
//!
//! `hidden_packed` runs sequences of different lengths without padding (the loss engine's
//! path). Right padding needs no padding mask: with a causal mask a real token only attends to
//! earlier positions, which are never padding, so a batch gives the numbers of batch size 1.

pub mod llama;
pub mod rope;

use std::path::Path;

use candle_core::{Device, Tensor};

use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::weights::{WeightDtype, Weights};

/// Keys and values of earlier positions, one entry per layer, for incremental decoding.
#[derive(Default)]
pub struct KvCache {
    /// `(keys, values)` of each layer, `[batch, kv_heads, positions, head_dim]`.
    pub layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// Number of positions already cached.
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .and_then(|(k, _)| k.dims().get(2).copied())
            .unwrap_or(0)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decoder-only language model ready for evaluation.
pub trait CausalLm: Send + Sync {
    /// The configuration the model was built from.
    fn config(&self) -> &ModelConfig;

    /// Runs the decoder body on `ids` `[batch, seq]` placed after the positions held in
    /// `cache` (if any; the cache is extended). Returns hidden states `[batch·seq, hidden]`
    /// before the final norm.
    fn hidden(&self, ids: &Tensor, cache: Option<&mut KvCache>) -> Result<Tensor>;

    /// Runs the decoder body on sequences of different lengths without padding: their
    /// tokens are packed into one `[Σ len, hidden]` result (sequence after sequence), every
    /// row-wise operation runs on real tokens only and attention runs per sequence. With
    /// `prefix` (one sequence's keys and values, as `hidden` leaves them in a cache after a
    /// `[1, n]` pass) every sequence continues that prefix, which is not extended. The rows
    /// get the numbers of running each (whole) sequence alone.
    fn hidden_packed(&self, seqs: &[&[u32]], prefix: Option<&KvCache>) -> Result<Tensor>;

    /// Final norm and vocabulary projection of `rows` `[n, hidden]` taken from `hidden`.
    fn logits(&self, rows: &Tensor) -> Result<Tensor>;

    /// The device the weights live on.
    fn device(&self) -> &Device;

    /// Convenience: logits `[n, vocab]` of the flattened positions `rows` of a `hidden` output.
    fn logits_at(&self, hidden: &Tensor, rows: &[u32]) -> Result<Tensor> {
        let index = Tensor::new(rows, hidden.device())?;
        self.logits(&hidden.index_select(&index, 0)?)
    }
}

/// Architectures this engine can evaluate, as written in config.json.
pub const SUPPORTED_ARCHITECTURES: &[&str] = arena_checkpoint::checks::SUPPORTED_ARCHITECTURES;

/// Builds the model of the folder `dir` from its config.json and safetensors, its matrices
/// kept in the dtype they are stored in.
pub fn load_model(dir: &Path, device: &Device) -> Result<Box<dyn CausalLm>> {
    load_model_as(dir, device, WeightDtype::Stored)
}

/// Builds the model of the folder `dir`, its matrices kept in `dtype`.
pub fn load_model_as(dir: &Path, device: &Device, dtype: WeightDtype) -> Result<Box<dyn CausalLm>> {
    let config = ModelConfig::from_file(&dir.join("config.json"))?;
    let weights = Weights::open_as(dir, device, dtype)?;
    build_model(config, &weights)
}

/// Builds a model from an already parsed config and opened weights.
pub fn build_model(config: ModelConfig, weights: &Weights) -> Result<Box<dyn CausalLm>> {
    match config.architecture.as_str() {
        name if SUPPORTED_ARCHITECTURES.contains(&name) => {
            Ok(Box::new(llama::LlamaFamily::load(config, weights)?))
        }
        other => Err(ModelError::UnsupportedArchitecture(other.to_string())),
    }
}
