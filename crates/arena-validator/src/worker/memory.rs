//! The address-space cap (`RLIMIT_AS`) of one evaluation worker, derived from the model it
//! loads and the competition's sequence length instead of one constant: a 135M model gets a
//! few GiB, a 3B bf16 model what it needs, and neither more than the operator's ceiling.
//!
//! `RLIMIT_AS` bounds address space, not resident memory, so the terms also count what is
//! reserved but mostly untouched: allocator arenas and thread stacks. The formula, in bytes
//! (f32 = 4):
//!
//! | term | bytes |
//! |---|---|
//! | load allowance | size of the safetensors files: the engine reads tensors one at a time (no mapping), so this covers the read buffers, the fused copies made at load and allocator slack, generously |
//! | resident weights | one copy: `parameters × 4` when the engine upcasts f16/bf16 to f32 at load, else the file size (stored dtype) |
//! | largest upcast | `4 × max(one layer's parameters, vocab × hidden)` when weights stay in their stored dtype (one matrix group in f32 at a time), else 0 |
//! | layer activations | `2 × 4 × T × (4·hidden + 2·(heads + 2·kv_heads)·head_dim + 3·intermediate)` (×2: candle's temporaries) |
//! | attention scores | `2 × 4 × T × heads × K` (scores and their softmax), `K` = the sequence length, or the key block of a blockwise attention |
//! | kv cache | `4 × layers × 2 × kv_heads × head_dim × T` (generation; also bounds the shared prefix of a scoring batch, one sequence of fewer than `T` positions) |
//! | logits | `2 × 4 × logit_rows × vocab` |
//! | runtime | 1 GiB (binary, tokenizer, samples, allocator slack) + per thread 64 MiB (a glibc malloc arena's reservation) + 8 MiB (stack) |
//!
//! Prefix sharing in arena-model's scoring (`BatchLimits::prefix_sharing`) leaves the formula
//! valid unchanged: the prefix pass and the suffix pass each hold fewer than `T` tokens, and
//! a layer's keys and values (the prefix copied per row) are those of at most `T` positions.
//!
//! where `T = max(batch tokens, sequence length)` is the most tokens in one forward pass (a
//! sequence longer than the batch budget runs alone). The sum gets 25 % headroom for
//! fragmentation and what the terms leave out, and is then clamped to `[floor, ceiling]`.
//! A model whose estimate passes the ceiling still runs, capped at the ceiling: if it truly
//! needs more it fails alone (its worker is killed by the cap), as before.

use std::path::Path;

use arena_checkpoint::checks::inspect;
use arena_checkpoint::config::ModelConfig;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const F32: u64 = 4;

/// Smallest cap ever set: the runtime alone needs about this much address space.
pub const MEMORY_FLOOR: u64 = 2 * GIB;

/// What the formula needs to know of a checkpoint: its size on disk and its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSize {
    /// Bytes of the safetensors files.
    pub file_bytes: u64,
    /// Parameters over all tensors.
    pub parameters: u64,
    /// `hidden_size`.
    pub hidden: u64,
    /// `intermediate_size`.
    pub intermediate: u64,
    /// `num_hidden_layers`.
    pub layers: u64,
    /// `num_attention_heads`.
    pub heads: u64,
    /// `num_key_value_heads`.
    pub kv_heads: u64,
    /// Size of one attention head.
    pub head_dim: u64,
    /// `vocab_size`.
    pub vocab: u64,
}

impl ModelSize {
    /// The size of a model described by `config` whose safetensors hold `parameters`
    /// parameters in `file_bytes` bytes.
    pub fn from_config(config: &ModelConfig, parameters: u64, file_bytes: u64) -> Self {
        let n = |v: usize| v as u64;
        ModelSize {
            file_bytes,
            parameters,
            hidden: n(config.hidden_size),
            intermediate: n(config.intermediate_size),
            layers: n(config.num_hidden_layers),
            heads: n(config.num_attention_heads),
            kv_heads: n(config.num_key_value_heads),
            head_dim: n(config.head_dim),
            vocab: n(config.vocab_size),
        }
    }

    /// Reads config.json and the safetensors headers of a model folder (never the weights).
    pub fn read(dir: &Path) -> Result<Self, arena_core::rejection::Rejection> {
        let inspection = inspect(dir)?;
        Ok(Self::from_config(
            &inspection.config,
            inspection.summary.parameters,
            inspection.summary.weight_bytes,
        ))
    }

    /// Parameters of one decoder layer (attention and MLP projections).
    fn layer_parameters(&self) -> u64 {
        let attention = self
            .hidden
            .saturating_mul(self.head_dim)
            .saturating_mul(self.heads.saturating_add(self.kv_heads).saturating_mul(2));
        let mlp = self
            .hidden
            .saturating_mul(self.intermediate)
            .saturating_mul(3);
        attention.saturating_add(mlp)
    }
}

/// How the engine runs a forward pass: the inputs of the formula that are not the model's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineShape {
    /// Most padded tokens in one forward pass (arena-model's `BatchLimits::max_batch_tokens`).
    pub batch_tokens: u64,
    /// Most logit rows materialised at once (`BatchLimits::max_logit_rows`).
    pub logit_rows: u64,
    /// Keys per block of a blockwise attention; `None` when the engine materialises the
    /// whole score matrix (every query against every key of its sequence).
    pub attention_block: Option<u64>,
    /// Whether f16/bf16 weights are upcast to f32 at load (else kept in their stored dtype
    /// and computed in f32 one layer at a time).
    pub upcast_weights: bool,
    /// Threads of the worker (each has a malloc arena and a stack).
    pub threads: u64,
}

/// The operator's bounds on any worker's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBounds {
    /// Smallest cap (at least [`MEMORY_FLOOR`] is sensible).
    pub floor: u64,
    /// Largest cap (`[validator] worker_memory_max_gib`).
    pub ceiling: u64,
}

/// The formula's terms for one job, in bytes, and the cap it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The load allowance: the safetensors files' size (read buffers, fused copies, slack).
    pub mapped_weights: u64,
    /// The one in-memory copy of the weights.
    pub resident_weights: u64,
    /// One layer (or the output head) in f32, when weights stay in their stored dtype.
    pub largest_upcast: u64,
    /// One layer's activations and their temporaries.
    pub activations: u64,
    /// Attention scores and softmax of one layer.
    pub attention: u64,
    /// The kv-cache of generation, all layers.
    pub kv_cache: u64,
    /// The logit rows and the loss's copy.
    pub logits: u64,
    /// Binary, tokenizer, allocator arenas and thread stacks.
    pub runtime: u64,
    /// Sum of the terms plus 25 % headroom, before clamping.
    pub estimate: u64,
    /// `estimate` clamped to the bounds: what `RLIMIT_AS` is set to.
    pub limit: u64,
}

/// The address-space cap of a worker that scores `model` on sequences of up to
/// `sequence_length` tokens, run as `engine` describes, within `bounds` (see the module
/// documentation for the formula). Saturating: absurd configs give the ceiling.
pub fn memory_limit(
    model: &ModelSize,
    sequence_length: u64,
    engine: &EngineShape,
    bounds: MemoryBounds,
) -> MemoryLimit {
    let tokens = engine.batch_tokens.max(sequence_length).max(1);
    let mul = |a: u64, b: u64| a.saturating_mul(b);
    let resident_weights = if engine.upcast_weights {
        mul(model.parameters, F32).max(model.file_bytes)
    } else {
        model.file_bytes
    };
    let largest_upcast = if engine.upcast_weights {
        0
    } else {
        mul(
            F32,
            model.layer_parameters().max(mul(model.vocab, model.hidden)),
        )
    };
    let per_token = mul(4, model.hidden)
        .saturating_add(mul(
            2,
            mul(
                model.heads.saturating_add(mul(2, model.kv_heads)),
                model.head_dim,
            ),
        ))
        .saturating_add(mul(3, model.intermediate));
    let activations = mul(mul(2 * F32, tokens), per_token);
    let keys = match engine.attention_block {
        Some(block) => block.min(sequence_length).max(1),
        None => sequence_length.max(1),
    };
    let attention = mul(mul(2 * F32, tokens), mul(model.heads, keys));
    let kv_cache = mul(
        mul(F32, model.layers),
        mul(mul(2, model.kv_heads), mul(model.head_dim, tokens)),
    );
    let logits = mul(2 * F32, mul(engine.logit_rows, model.vocab));
    let runtime = GIB.saturating_add(mul(engine.threads.max(1), 64 * MIB + 8 * MIB));
    let sum = [
        model.file_bytes,
        resident_weights,
        largest_upcast,
        activations,
        attention,
        kv_cache,
        logits,
        runtime,
    ]
    .iter()
    .fold(0u64, |acc, &t| acc.saturating_add(t));
    let estimate = sum.saturating_add(sum / 4);
    let floor = bounds.floor.min(bounds.ceiling);
    MemoryLimit {
        mapped_weights: model.file_bytes,
        resident_weights,
        largest_upcast,
        activations,
        attention,
        kv_cache,
        logits,
        runtime,
        estimate,
        limit: estimate.clamp(floor, bounds.ceiling),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M's shape (bf16 on disk: 269 MB).
    fn smollm2() -> ModelSize {
        ModelSize {
            file_bytes: 269_060_552,
            parameters: 134_515_008,
            hidden: 576,
            intermediate: 1536,
            layers: 30,
            heads: 9,
            kv_heads: 3,
            head_dim: 64,
            vocab: 49_152,
        }
    }

    /// A 3.2B Llama-3.2-3B-shaped bf16 model (6.43 GB on disk).
    fn llama_3b() -> ModelSize {
        ModelSize {
            file_bytes: 6_425_499_648,
            parameters: 3_212_749_824,
            hidden: 3072,
            intermediate: 8192,
            layers: 28,
            heads: 24,
            kv_heads: 8,
            head_dim: 128,
            vocab: 128_256,
        }
    }

    fn engine() -> EngineShape {
        EngineShape {
            batch_tokens: 4096,
            logit_rows: 512,
            attention_block: None,
            upcast_weights: true,
            threads: 2,
        }
    }

    const WIDE: MemoryBounds = MemoryBounds {
        floor: MEMORY_FLOOR,
        ceiling: 1 << 50,
    };

    #[test]
    fn every_term_is_the_documented_product() {
        let m = smollm2();
        let l = memory_limit(&m, 2048, &engine(), WIDE);
        let t = 4096u64;
        assert_eq!(l.mapped_weights, m.file_bytes);
        assert_eq!(l.resident_weights, m.parameters * 4);
        assert_eq!(l.largest_upcast, 0);
        assert_eq!(
            l.activations,
            8 * t * (4 * 576 + 2 * (9 + 6) * 64 + 3 * 1536)
        );
        assert_eq!(l.attention, 8 * t * 9 * 2048);
        assert_eq!(l.kv_cache, 4 * 30 * 2 * 3 * 64 * t);
        assert_eq!(l.logits, 8 * 512 * 49_152);
        assert_eq!(l.runtime, GIB + 2 * 72 * MIB);
        let sum = l.mapped_weights
            + l.resident_weights
            + l.activations
            + l.attention
            + l.kv_cache
            + l.logits
            + l.runtime;
        assert_eq!(l.estimate, sum + sum / 4);
        assert_eq!(l.limit, l.estimate);
        // About 3.5 GiB: the old fixed 16 GiB was four times what it needs.
        assert!(l.limit > 3 * GIB && l.limit < 4 * GIB, "{l:?}");
    }

    #[test]
    fn the_limit_grows_with_the_checkpoint_and_the_sequence() {
        let small = memory_limit(&smollm2(), 2048, &engine(), WIDE).limit;
        let big = memory_limit(&llama_3b(), 2048, &engine(), WIDE).limit;
        assert!(big > small + 2 * llama_3b().file_bytes, "{small} {big}");
        let long = memory_limit(&smollm2(), 16_384, &engine(), WIDE);
        // The full score matrix is quadratic in the sequence: 16k tokens of SmolLM2 need
        // 16384 × 9 × 16384 × 8 bytes = 18 GiB for it alone.
        assert_eq!(long.attention, 8 * 16_384 * 9 * 16_384);
        let blockwise = EngineShape {
            attention_block: Some(1024),
            ..engine()
        };
        let linear = memory_limit(&smollm2(), 16_384, &blockwise, WIDE);
        assert_eq!(linear.attention, 8 * 16_384 * 9 * 1024);
        assert!(linear.limit < long.limit / 4);
    }

    #[test]
    fn stored_dtype_weights_count_the_file_and_one_upcast_layer() {
        let kept = EngineShape {
            upcast_weights: false,
            ..engine()
        };
        let m = llama_3b();
        let l = memory_limit(&m, 4096, &kept, WIDE);
        assert_eq!(l.resident_weights, m.file_bytes);
        // The output head (vocab × hidden) is larger than a layer here.
        assert_eq!(l.largest_upcast, 4 * 128_256 * 3072);
        let upcast = memory_limit(&m, 4096, &engine(), WIDE);
        assert_eq!(upcast.resident_weights, 2 * m.file_bytes);
        assert!(l.limit < upcast.limit);
    }

    #[test]
    fn the_bounds_clamp_the_estimate() {
        let tiny = ModelSize {
            file_bytes: 10_000,
            parameters: 2_500,
            hidden: 8,
            intermediate: 16,
            layers: 1,
            heads: 1,
            kv_heads: 1,
            head_dim: 8,
            vocab: 32,
        };
        let l = memory_limit(&tiny, 64, &engine(), WIDE);
        assert!(l.estimate < MEMORY_FLOOR);
        assert_eq!(l.limit, MEMORY_FLOOR);
        let capped = MemoryBounds {
            floor: MEMORY_FLOOR,
            ceiling: 8 * GIB,
        };
        let l = memory_limit(&llama_3b(), 16_384, &engine(), capped);
        assert!(l.estimate > 8 * GIB);
        assert_eq!(l.limit, 8 * GIB);
        // A floor above the ceiling never raises the cap past the ceiling.
        let odd = MemoryBounds {
            floor: 16 * GIB,
            ceiling: 4 * GIB,
        };
        assert_eq!(memory_limit(&tiny, 64, &engine(), odd).limit, 4 * GIB);
    }

    #[test]
    fn absurd_sizes_saturate_to_the_ceiling() {
        let huge = ModelSize {
            file_bytes: u64::MAX,
            parameters: u64::MAX,
            hidden: u64::MAX,
            intermediate: u64::MAX,
            layers: u64::MAX,
            heads: u64::MAX / 2,
            kv_heads: u64::MAX / 4,
            head_dim: u64::MAX,
            vocab: u64::MAX,
        };
        let capped = MemoryBounds {
            floor: MEMORY_FLOOR,
            ceiling: 64 * GIB,
        };
        assert_eq!(
            memory_limit(&huge, u64::MAX, &engine(), capped).limit,
            64 * GIB
        );
    }
}
