//! `config.json` of a Hugging Face causal LM, parsed into one architecture-neutral struct.
//!
//! Both config styles found on hubs are accepted: transformers 5 writes `rope_theta` and the
//! rope type inside `rope_parameters`, 4.x writes `rope_theta` at the top level and the scaling in
//! `rope_scaling` (keyed `rope_type` or the older `type`). The rope types transformers 5.23
//! implements for these families are parsed into [`RopeScaling`]; any other type is refused,
//! since silently running the default rope would give wrong losses.
//!
//! Missing keys take the default of transformers' config class of the architecture (Gemma ties
//! its embeddings and has `head_dim` 256 unless told otherwise, Gemma 2 caps its logits, ...),
//! because that is what transformers runs when it loads the same file.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ConfigError;

/// Result of parsing a config.
type Result<T> = std::result::Result<T, ConfigError>;

/// Upper bounds that keep a hostile config.json from requesting absurd allocations.
const MAX_DIM: usize = 1 << 20;
const MAX_VOCAB: usize = 1 << 24;
const MAX_LAYERS: usize = 1024;

/// The architecture-neutral description of a decoder-only model, read from config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// First entry of `architectures`, e.g. `LlamaForCausalLM`.
    pub architecture: String,
    /// `model_type`, e.g. `llama`, when present.
    pub model_type: Option<String>,
    /// Number of rows of the embedding matrix.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP's hidden layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention when fewer than query heads).
    pub num_key_value_heads: usize,
    /// Dimension of one head.
    pub head_dim: usize,
    /// Longest sequence the model was built for.
    pub max_position_embeddings: usize,
    /// Epsilon of RMSNorm.
    pub rms_norm_eps: f64,
    /// Base of the rotary position embedding.
    pub rope_theta: f64,
    /// How the rotary frequencies are scaled (`default`: not at all).
    pub rope_scaling: RopeScaling,
    /// The decoder layout of the architecture.
    pub family: Family,
    /// The MLP's gate activation.
    pub hidden_act: Activation,
    /// Attention scores are multiplied by `query_pre_attn_scalar^-1/2` instead of
    /// `head_dim^-1/2` (Gemma 2).
    pub query_pre_attn_scalar: Option<f64>,
    /// `cap · tanh(score / cap)` on the scaled attention scores before masking (Gemma 2).
    pub attn_logit_softcapping: Option<f64>,
    /// `cap · tanh(logit / cap)` on the final logits (Gemma 2).
    pub final_logit_softcapping: Option<f64>,
    /// Whether `lm_head` reuses the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on the q/k/v projections (Qwen2 always; Llama with `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on the output projection (Llama with `attention_bias`).
    pub o_bias: bool,
    /// Biases on the MLP projections (Llama with `mlp_bias`).
    pub mlp_bias: bool,
    /// Sliding-window size for each layer; `None` means full causal attention.
    pub layer_windows: Vec<Option<usize>>,
    /// Declared storage dtype (`dtype` or legacy `torch_dtype`), e.g. `bfloat16`.
    pub dtype: Option<String>,
    /// Token that begins a sequence, when declared.
    pub bos_token_id: Option<u32>,
    /// Tokens that end generation (config.json may give one id or a list).
    pub eos_token_ids: Vec<u32>,
}

/// The decoder layouts this crate knows, one per group of architectures sharing tensor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`: RMSNorm, SwiGLU, separate
    /// q/k/v and gate/up projections.
    Llama,
    /// `GemmaForCausalLM`: the Llama layout with `(1 + w)` norms, embeddings scaled by
    /// `sqrt(hidden_size)` and a GeGLU MLP.
    Gemma,
    /// `Gemma2ForCausalLM`: Gemma plus a norm after attention and around the MLP (four per
    /// layer), soft-capped attention scores and logits, alternating sliding-window layers.
    Gemma2,
    /// `Phi3ForCausalLM`: the Llama decoder with fused `qkv_proj` and `gate_up_proj` tensors.
    Phi3,
}

impl Family {
    /// The family of an `architectures` entry, if this crate knows it.
    pub fn of(architecture: &str) -> Option<Family> {
        Some(match architecture {
            "LlamaForCausalLM" | "MistralForCausalLM" | "Qwen2ForCausalLM" => Family::Llama,
            "GemmaForCausalLM" => Family::Gemma,
            "Gemma2ForCausalLM" => Family::Gemma2,
            "Phi3ForCausalLM" => Family::Phi3,
            _ => return None,
        })
    }

    /// Whether RMSNorm multiplies by `1 + w` (computed in f32) instead of `w`.
    pub fn norm_adds_one(self) -> bool {
        matches!(self, Family::Gemma | Family::Gemma2)
    }

    /// Whether the embeddings are multiplied by `sqrt(hidden_size)` (as an f32) before layer 0.
    pub fn scales_embeddings(self) -> bool {
        matches!(self, Family::Gemma | Family::Gemma2)
    }
}

/// The MLP activation applied to the gate projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x · sigmoid(x)` (`silu`, `swish`).
    Silu,
    /// GELU with the tanh approximation (`gelu_pytorch_tanh`; Gemma's legacy `gelu` means it too).
    GeluTanh,
}

/// Rotary-embedding scaling, as transformers 5.23's `modeling_rope_utils` implements it. The
/// inverse frequencies are computed from it in one place, `arena_model::model::rope`.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    /// `1 / θ^(2i/d)`.
    Default,
    /// Default frequencies divided by `factor`.
    Linear {
        /// Divisor of every frequency.
        factor: f64,
    },
    /// Dynamic NTK: for a forward pass of `n > max_position_embeddings` positions the base becomes
    /// `θ · (factor·n/max − (factor−1))^(d/(d−2))`; shorter passes use the default frequencies.
    Dynamic {
        /// The NTK factor.
        factor: f64,
    },
    /// YaRN: interpolated low frequencies, extrapolated high ones, a linear ramp between the
    /// correction dimensions of `beta_fast` and `beta_slow`, and cos/sin scaled by the attention
    /// factor.
    Yarn {
        /// Interpolation factor.
        factor: f64,
        /// Context length of pre-training.
        original_max_position_embeddings: usize,
        /// Rotations at which extrapolation starts (default 32).
        beta_fast: f64,
        /// Rotations at which interpolation is complete (default 1).
        beta_slow: f64,
        /// Multiplier of cos and sin; derived from `factor` (and `mscale`/`mscale_all_dim`)
        /// when not given.
        attention_factor: Option<f64>,
        /// DeepSeek-style mscale numerator.
        mscale: Option<f64>,
        /// DeepSeek-style mscale denominator.
        mscale_all_dim: Option<f64>,
        /// Round the correction range outwards to whole dimensions (default true).
        truncate: bool,
    },
    /// Llama 3: low frequencies divided by `factor`, high ones kept, a smooth blend between.
    Llama3 {
        /// Divisor of the low frequencies.
        factor: f64,
        /// Wavelengths above `original / low_freq_factor` are scaled.
        low_freq_factor: f64,
        /// Wavelengths below `original / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// Context length of pre-training.
        original_max_position_embeddings: usize,
    },
    /// Phi-3's LongRoPE: per-frequency divisors, `short_factor` for passes of at most
    /// `original_max_position_embeddings` positions and `long_factor` beyond, cos/sin scaled by
    /// the attention factor.
    LongRope {
        /// Divisors for short passes (`head_dim / 2` values).
        short_factor: Vec<f64>,
        /// Divisors for long passes (`head_dim / 2` values).
        long_factor: Vec<f64>,
        /// Context length of pre-training.
        original_max_position_embeddings: usize,
        /// Multiplier of cos and sin (derived from the context extension when not given).
        attention_factor: f64,
    },
}

impl RopeScaling {
    /// The name transformers gives the type.
    pub fn name(&self) -> &'static str {
        match self {
            RopeScaling::Default => "default",
            RopeScaling::Linear { .. } => "linear",
            RopeScaling::Dynamic { .. } => "dynamic",
            RopeScaling::Yarn { .. } => "yarn",
            RopeScaling::Llama3 { .. } => "llama3",
            RopeScaling::LongRope { .. } => "longrope",
        }
    }

    /// Whether the frequencies depend on the length of the forward pass (so a padded batch
    /// would not give the numbers of batch size 1).
    pub fn depends_on_length(&self) -> bool {
        matches!(
            self,
            RopeScaling::Dynamic { .. } | RopeScaling::LongRope { .. }
        )
    }
}

#[derive(Deserialize)]
struct RawConfig {
    architectures: Option<Vec<String>>,
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    max_position_embeddings: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_parameters: Option<Value>,
    rope_scaling: Option<Value>,
    partial_rotary_factor: Option<f64>,
    original_max_position_embeddings: Option<Value>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    sliding_window: Option<usize>,
    use_sliding_window: Option<bool>,
    max_window_layers: Option<usize>,
    layer_types: Option<Vec<String>>,
    hidden_act: Option<String>,
    hidden_activation: Option<String>,
    dtype: Option<String>,
    torch_dtype: Option<String>,
    bos_token_id: Option<Value>,
    eos_token_id: Option<Value>,
}

/// A key that is absent (the class default applies), `null` (switched off) or a number.
fn optional_number(doc: &Value, key: &str, default: Option<f64>) -> Result<Option<f64>> {
    match doc.get(key) {
        None => Ok(default),
        Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Ok(Some(x)),
            _ => Err(ConfigError::Config(format!(
                "{key} = {v} is not a positive number"
            ))),
        },
    }
}

impl ModelConfig {
    /// Reads and validates `path` (a config.json).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
        Self::from_json_str(&text).map_err(|e| match e {
            ConfigError::Json { message, .. } => ConfigError::json(path, message),
            other => other,
        })
    }

    /// Parses and validates config.json text; the entry point for fuzzing.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::json("config.json", e))?;
        let raw: RawConfig =
            serde_json::from_value(doc.clone()).map_err(|e| ConfigError::json("config.json", e))?;
        Self::from_raw(raw, &doc)
    }

    fn from_raw(raw: RawConfig, doc: &Value) -> Result<Self> {
        let architecture = raw
            .architectures
            .as_ref()
            .and_then(|a| a.first().cloned())
            .ok_or_else(|| ConfigError::Config("no entry in \"architectures\"".into()))?;
        // Unknown architectures still parse (the checks reject them with a typed rejection);
        // they are read with the Llama family's defaults.
        let family = Family::of(&architecture).unwrap_or(Family::Llama);
        let gemma = matches!(family, Family::Gemma | Family::Gemma2);
        let max_position_embeddings = raw.max_position_embeddings.unwrap_or(match family {
            Family::Gemma | Family::Gemma2 => 8192,
            Family::Phi3 => 4096,
            Family::Llama => 0,
        });
        for (name, value, max) in [
            ("vocab_size", raw.vocab_size, MAX_VOCAB),
            ("hidden_size", raw.hidden_size, MAX_DIM),
            ("intermediate_size", raw.intermediate_size, MAX_DIM),
            ("num_hidden_layers", raw.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", raw.num_attention_heads, MAX_DIM),
            (
                "max_position_embeddings",
                max_position_embeddings,
                MAX_DIM * 16,
            ),
        ] {
            if value == 0 || value > max {
                return Err(ConfigError::Config(format!(
                    "{name} = {value} is out of range 1..={max}"
                )));
            }
        }
        let heads = raw.num_attention_heads;
        let kv_heads = raw.num_key_value_heads.unwrap_or(heads);
        if kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            return Err(ConfigError::Config(format!(
                "num_key_value_heads = {kv_heads} does not divide num_attention_heads = {heads}"
            )));
        }
        let head_dim = raw
            .head_dim
            .unwrap_or(if gemma { 256 } else { raw.hidden_size / heads });
        if head_dim == 0
            || !head_dim.is_multiple_of(2)
            || head_dim > MAX_DIM
            || head_dim * heads > MAX_DIM
        {
            return Err(ConfigError::Config(format!(
                "head_dim = {head_dim} is not a positive even size"
            )));
        }
        let hidden_act = activation(family, &raw)?;
        let (rope_theta, rope_scaling) = rope(&raw, family, head_dim, max_position_embeddings)?;
        let rms_norm_eps = raw.rms_norm_eps.unwrap_or(1e-6);
        if !(rms_norm_eps.is_finite() && rms_norm_eps > 0.0) {
            return Err(ConfigError::Config(format!(
                "rms_norm_eps = {rms_norm_eps} is not positive"
            )));
        }
        let is_qwen2 = architecture.starts_with("Qwen2");
        let attention_bias = raw.attention_bias.unwrap_or(false) && family != Family::Phi3;
        let layer_windows = layer_windows(&raw, doc, family, is_qwen2)?;
        let gemma2 = family == Family::Gemma2;
        let (query_pre_attn_scalar, attn_cap, final_cap) = if gemma2 {
            (
                optional_number(doc, "query_pre_attn_scalar", Some(256.0))?,
                optional_number(doc, "attn_logit_softcapping", Some(50.0))?,
                optional_number(doc, "final_logit_softcapping", Some(30.0))?,
            )
        } else {
            (None, None, None)
        };
        Ok(ModelConfig {
            architecture,
            model_type: raw.model_type,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            max_position_embeddings,
            rms_norm_eps,
            rope_theta,
            rope_scaling,
            family,
            hidden_act,
            query_pre_attn_scalar,
            attn_logit_softcapping: attn_cap,
            final_logit_softcapping: final_cap,
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(gemma),
            qkv_bias: is_qwen2 || attention_bias,
            o_bias: !is_qwen2 && attention_bias,
            mlp_bias: family == Family::Llama && raw.mlp_bias.unwrap_or(false),
            layer_windows,
            dtype: raw.dtype.or(raw.torch_dtype),
            bos_token_id: raw
                .bos_token_id
                .as_ref()
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok()),
            eos_token_ids: token_ids(raw.eos_token_id.as_ref()),
        })
    }

    /// Number of query heads sharing one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// The attention scale: `query_pre_attn_scalar^-1/2` where set, else `head_dim^-1/2`.
    pub fn attention_scale(&self) -> f64 {
        1.0 / self
            .query_pre_attn_scalar
            .unwrap_or(self.head_dim as f64)
            .sqrt()
    }

    /// The longest sequence the engine scores: `max_position_embeddings`, times the factor for
    /// dynamic NTK rope (whose purpose is running past the trained length).
    pub fn max_sequence_len(&self) -> usize {
        match &self.rope_scaling {
            RopeScaling::Dynamic { factor } => {
                (self.max_position_embeddings as f64 * factor).min((MAX_DIM * 16) as f64) as usize
            }
            _ => self.max_position_embeddings,
        }
    }
}

/// The MLP activation: transformers reads `hidden_act`, except Gemma 2 (`hidden_activation`).
fn activation(family: Family, raw: &RawConfig) -> Result<Activation> {
    let (key, name) = match family {
        Family::Gemma2 => ("hidden_activation", raw.hidden_activation.as_deref()),
        _ => ("hidden_act", raw.hidden_act.as_deref()),
    };
    let default = match family {
        Family::Gemma | Family::Gemma2 => "gelu_pytorch_tanh",
        Family::Llama | Family::Phi3 => "silu",
    };
    match (family, name.unwrap_or(default)) {
        (_, "silu" | "swish") => Ok(Activation::Silu),
        (_, "gelu_pytorch_tanh") => Ok(Activation::GeluTanh),
        // GemmaConfig turns the legacy "gelu" of the original releases into the tanh form.
        (Family::Gemma, "gelu") => Ok(Activation::GeluTanh),
        (_, other) => Err(ConfigError::Config(format!(
            "{key} {other:?} is not supported (silu or gelu_pytorch_tanh)"
        ))),
    }
}

/// A number of a rope block, required or with a default.
fn rope_number(block: &Value, key: &str, kind: &str) -> Result<Option<f64>> {
    match block.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(ConfigError::Config(format!(
                "rope type {kind:?}: {key} = {v} is not a number"
            ))),
        },
    }
}

fn required(value: Option<f64>, key: &str, kind: &str) -> Result<f64> {
    value.ok_or_else(|| ConfigError::Config(format!("rope type {kind:?} needs {key}")))
}

/// A scaling factor: finite and at least 1, as transformers' validation asks.
fn scale_factor(value: f64, key: &str, kind: &str) -> Result<f64> {
    if (1.0..=1e6).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Config(format!(
            "rope type {kind:?}: {key} = {value} is not in 1..=1e6"
        )))
    }
}

/// A context length of pre-training.
fn context_len(value: f64, kind: &str) -> Result<usize> {
    if value.fract() == 0.0 && value >= 1.0 && value <= (MAX_DIM * 16) as f64 {
        Ok(value as usize)
    } else {
        Err(ConfigError::Config(format!(
            "rope type {kind:?}: original_max_position_embeddings = {value} is not a length"
        )))
    }
}

/// Finds rope_theta and the rope scaling in either config style, as transformers 5.23's
/// `convert_rope_params_to_dict` and `standardize_rope_params` do: a non-empty `rope_scaling`
/// replaces `rope_parameters`; `rope_theta` comes from the block, else the top level, else
/// 10000; the type from `rope_type`, else `type`, else default.
fn rope(
    raw: &RawConfig,
    family: Family,
    head_dim: usize,
    max_position_embeddings: usize,
) -> Result<(f64, RopeScaling)> {
    let non_empty = |v: &Option<Value>| {
        v.clone()
            .filter(|b| !b.is_null() && b.as_object().is_none_or(|o| !o.is_empty()))
    };
    let block = non_empty(&raw.rope_scaling)
        .or_else(|| non_empty(&raw.rope_parameters))
        .unwrap_or_else(|| Value::Object(Default::default()));
    let Some(map) = block.as_object() else {
        return Err(ConfigError::Config(
            "rope_parameters / rope_scaling is not an object".into(),
        ));
    };
    if map
        .keys()
        .any(|k| k == "full_attention" || k == "sliding_attention")
    {
        return Err(ConfigError::Config(
            "rope parameters per layer type are not supported".into(),
        ));
    }
    let kind = map
        .get("rope_type")
        .or_else(|| map.get("type"))
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ConfigError::Config(format!("rope type {v} is not a string")))
        })
        .transpose()?
        .unwrap_or_else(|| "default".into());
    // Phi3Config renames its "su" and "yarn" types to longrope.
    let kind = if family == Family::Phi3 && (kind == "su" || kind == "yarn") {
        "longrope".to_string()
    } else {
        kind
    };
    let theta = rope_number(&block, "rope_theta", &kind)?
        .or(raw.rope_theta)
        .unwrap_or(10_000.0);
    if !(theta.is_finite() && theta > 1.0) {
        return Err(ConfigError::Config(format!(
            "rope_theta = {theta} is not a valid base"
        )));
    }
    let partial = rope_number(&block, "partial_rotary_factor", &kind)?
        .or(raw.partial_rotary_factor)
        .unwrap_or(1.0);
    if partial != 1.0 {
        return Err(ConfigError::Config(format!(
            "partial_rotary_factor = {partial} is not supported (only 1.0)"
        )));
    }
    let num = |key: &str| rope_number(&block, key, &kind);
    // A top-level original_max_position_embeddings (Phi-3 writes it there; its config class
    // defaults it to 4096) takes priority over the block's; else the block's; else
    // max_position_embeddings.
    let original = || -> Result<usize> {
        let top = match &raw.original_max_position_embeddings {
            Some(v) if !v.is_null() => Some(v.as_f64().ok_or_else(|| {
                ConfigError::Config(format!("original_max_position_embeddings = {v}"))
            })?),
            _ if family == Family::Phi3 => Some(4096.0),
            _ => None,
        };
        let value = top
            .or(num("original_max_position_embeddings")?)
            .unwrap_or(max_position_embeddings as f64);
        context_len(value, &kind)
    };
    let scaling = match kind.as_str() {
        "default" => RopeScaling::Default,
        "linear" => RopeScaling::Linear {
            factor: scale_factor(required(num("factor")?, "factor", &kind)?, "factor", &kind)?,
        },
        "dynamic" => RopeScaling::Dynamic {
            factor: scale_factor(required(num("factor")?, "factor", &kind)?, "factor", &kind)?,
        },
        "yarn" => {
            let original_max_position_embeddings = original()?;
            let factor = match num("factor")? {
                Some(f) => f,
                None => max_position_embeddings as f64 / original_max_position_embeddings as f64,
            };
            // transformers reads these with `or`: 0 means the default too.
            let or_default = |v: Option<f64>, d: f64| v.filter(|&x| x != 0.0).unwrap_or(d);
            let beta_fast = or_default(num("beta_fast")?, 32.0);
            let beta_slow = or_default(num("beta_slow")?, 1.0);
            if !(beta_fast > 0.0 && beta_slow > 0.0) {
                return Err(ConfigError::Config(format!(
                    "rope type \"yarn\": beta_fast = {beta_fast}, beta_slow = {beta_slow} must be positive"
                )));
            }
            let truncate = match block.get("truncate") {
                None | Some(Value::Null) => true,
                Some(v) => v.as_bool().ok_or_else(|| {
                    ConfigError::Config(format!("rope type \"yarn\": truncate = {v}"))
                })?,
            };
            let attention_factor = num("attention_factor")?;
            if attention_factor.is_some_and(|a| a <= 0.0) {
                return Err(ConfigError::Config(
                    "rope type \"yarn\": attention_factor must be positive".into(),
                ));
            }
            RopeScaling::Yarn {
                factor: scale_factor(factor, "factor", &kind)?,
                original_max_position_embeddings,
                beta_fast,
                beta_slow,
                attention_factor,
                mscale: num("mscale")?,
                mscale_all_dim: num("mscale_all_dim")?,
                truncate,
            }
        }
        "llama3" => {
            let low = required(num("low_freq_factor")?, "low_freq_factor", &kind)?;
            let high = required(num("high_freq_factor")?, "high_freq_factor", &kind)?;
            if !(low > 0.0 && high > low) {
                return Err(ConfigError::Config(format!(
                    "rope type \"llama3\": need 0 < low_freq_factor < high_freq_factor, got {low} and {high}"
                )));
            }
            RopeScaling::Llama3 {
                factor: scale_factor(required(num("factor")?, "factor", &kind)?, "factor", &kind)?,
                low_freq_factor: low,
                high_freq_factor: high,
                original_max_position_embeddings: original()?,
            }
        }
        "longrope" => {
            let list = |key: &str| -> Result<Vec<f64>> {
                let values: Option<Vec<f64>> =
                    block.get(key).and_then(Value::as_array).and_then(|a| {
                        a.iter()
                            .map(|x| x.as_f64().filter(|v| v.is_finite() && *v > 0.0))
                            .collect::<Option<Vec<f64>>>()
                    });
                match values {
                    Some(v) if v.len() == head_dim / 2 => Ok(v),
                    _ => Err(ConfigError::Config(format!(
                        "rope type \"longrope\": {key} must be {} positive numbers",
                        head_dim / 2
                    ))),
                }
            };
            let original_max_position_embeddings = original()?;
            let factor = num("factor")?.unwrap_or(
                max_position_embeddings as f64 / original_max_position_embeddings as f64,
            );
            let attention_factor = match num("attention_factor")? {
                Some(a) if a > 0.0 => a,
                Some(a) => {
                    return Err(ConfigError::Config(format!(
                        "rope type \"longrope\": attention_factor = {a} must be positive"
                    )))
                }
                None if factor <= 1.0 => 1.0,
                None => (1.0
                    + factor.ln() / (original_max_position_embeddings as f64).ln().max(f64::MIN_POSITIVE))
                .sqrt(),
            };
            if !attention_factor.is_finite() {
                return Err(ConfigError::Config(
                    "rope type \"longrope\": attention factor is not finite".into(),
                ));
            }
            RopeScaling::LongRope {
                short_factor: list("short_factor")?,
                long_factor: list("long_factor")?,
                original_max_position_embeddings,
                attention_factor,
            }
        }
        other => {
            return Err(ConfigError::Config(format!(
                "rope type {other:?} is not supported (default, linear, dynamic, yarn, llama3, longrope)"
            )))
        }
    };
    Ok((theta, scaling))
}

/// The attention window of every layer, following transformers' rules per family.
fn layer_windows(
    raw: &RawConfig,
    doc: &Value,
    family: Family,
    is_qwen2: bool,
) -> Result<Vec<Option<usize>>> {
    let n = raw.num_hidden_layers;
    let window = match raw.sliding_window {
        Some(0) => return Err(ConfigError::Config("sliding_window = 0".into())),
        // Gemma2Config defaults the window to 4096 when the key is absent (`null` is no window).
        None if family == Family::Gemma2 && doc.get("sliding_window").is_none() => Some(4096),
        other => other,
    };
    if family == Family::Gemma {
        // GemmaConfig has no sliding window: every layer is full attention.
        return Ok(vec![None; n]);
    }
    let gemma2_rule;
    let types = match &raw.layer_types {
        Some(types) => Some(types),
        // Gemma2Config's rule: even layers (0, 2, ...) slide, odd layers are full.
        None if family == Family::Gemma2 => {
            gemma2_rule = (0..n)
                .map(|i| {
                    if (i + 1) % 2 == 1 {
                        "sliding_attention".to_string()
                    } else {
                        "full_attention".to_string()
                    }
                })
                .collect::<Vec<_>>();
            Some(&gemma2_rule)
        }
        None => None,
    };
    if let Some(types) = types {
        if types.len() != n {
            return Err(ConfigError::Config(format!(
                "layer_types has {} entries for {n} layers",
                types.len()
            )));
        }
        return types
            .iter()
            .map(|t| match t.as_str() {
                "full_attention" => Ok(None),
                "sliding_attention" => window.map(Some).ok_or_else(|| {
                    ConfigError::Config("sliding_attention layer without sliding_window".into())
                }),
                other => Err(ConfigError::Config(format!("unknown layer type {other:?}"))),
            })
            .collect();
    }
    if is_qwen2 {
        // Qwen2 slides only when asked to, and only from layer `max_window_layers` on.
        let enabled = raw.use_sliding_window.unwrap_or(false);
        let first = raw.max_window_layers.unwrap_or(n);
        return Ok((0..n)
            .map(|i| if enabled && i >= first { window } else { None })
            .collect());
    }
    Ok(vec![window; n])
}

fn token_ids(value: Option<&Value>) -> Vec<u32> {
    let as_id = |v: &Value| v.as_u64().and_then(|x| u32::try_from(x).ok());
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(as_id).collect(),
        Some(v) => as_id(v).into_iter().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#""architectures":["LlamaForCausalLM"],"vocab_size":32,"hidden_size":8,
        "intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"max_position_embeddings":64"#;

    #[test]
    fn both_rope_styles_give_the_same_theta() {
        let new = ModelConfig::from_json_str(&format!(
            r#"{{{BASE},"rope_parameters":{{"rope_theta":100000.0,"rope_type":"default"}}}}"#
        ))
        .unwrap();
        let old = ModelConfig::from_json_str(&format!(
            r#"{{{BASE},"rope_theta":100000.0,"rope_scaling":null}}"#
        ))
        .unwrap();
        assert_eq!(new.rope_theta, 100000.0);
        assert_eq!(old.rope_theta, 100000.0);
        assert_eq!(new.head_dim, 4);
        assert_eq!(new.num_key_value_heads, 2);
    }

    #[test]
    fn refuses_bad_configs() {
        let scaled = format!(r#"{{{BASE},"rope_scaling":{{"rope_type":"llama3","factor":8.0}}}}"#);
        assert!(matches!(
            ModelConfig::from_json_str(&scaled),
            Err(ConfigError::Config(_))
        ));
        let gqa = format!(r#"{{{BASE},"num_key_value_heads":3}}"#);
        assert!(matches!(
            ModelConfig::from_json_str(&gqa),
            Err(ConfigError::Config(_))
        ));
        let huge = BASE.replace("\"vocab_size\":32", "\"vocab_size\":100000000000");
        assert!(matches!(
            ModelConfig::from_json_str(&format!("{{{huge}}}")),
            Err(ConfigError::Config(_))
        ));
        assert!(matches!(
            ModelConfig::from_json_str("{"),
            Err(ConfigError::Json { .. })
        ));
    }

    fn parse(extra: &str) -> Result<ModelConfig> {
        ModelConfig::from_json_str(&format!("{{{BASE}{extra}}}"))
    }

    fn refused(extra: &str) -> String {
        match parse(extra) {
            Err(ConfigError::Config(m)) => m,
            other => panic!("{extra}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_rope_type_parses_in_both_styles() {
        let linear =
            parse(r#","rope_theta":500.0,"rope_scaling":{"type":"linear","factor":2.0}"#).unwrap();
        assert_eq!(linear.rope_scaling, RopeScaling::Linear { factor: 2.0 });
        assert_eq!(linear.rope_theta, 500.0);
        let dynamic = parse(r#","rope_scaling":{"rope_type":"dynamic","factor":4.0}"#).unwrap();
        assert_eq!(dynamic.rope_scaling, RopeScaling::Dynamic { factor: 4.0 });
        assert!(dynamic.rope_scaling.depends_on_length());
        assert_eq!(dynamic.max_sequence_len(), 256);
        let llama3 = parse(
            r#","rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":8.0,
            "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}"#,
        )
        .unwrap();
        assert_eq!(llama3.rope_theta, 500000.0);
        assert_eq!(
            llama3.rope_scaling,
            RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192
            }
        );
        assert_eq!(llama3.max_sequence_len(), 64);
        // yarn: defaults of beta_fast/beta_slow/truncate; original length from the config.
        let yarn = parse(r#","rope_scaling":{"type":"yarn","factor":4.0}"#).unwrap();
        match yarn.rope_scaling {
            RopeScaling::Yarn {
                factor,
                original_max_position_embeddings,
                beta_fast,
                beta_slow,
                truncate,
                attention_factor,
                ..
            } => {
                assert_eq!(
                    (
                        factor,
                        original_max_position_embeddings,
                        beta_fast,
                        beta_slow
                    ),
                    (4.0, 64, 32.0, 1.0)
                );
                assert!(truncate && attention_factor.is_none());
            }
            other => panic!("{other:?}"),
        }
        // An empty rope_scaling falls back to rope_parameters, as in transformers.
        let empty = parse(
            r#","rope_scaling":{},"rope_parameters":{"rope_type":"default","rope_theta":7.0}"#,
        )
        .unwrap();
        assert_eq!(
            (empty.rope_theta, empty.rope_scaling),
            (7.0, RopeScaling::Default)
        );
    }

    #[test]
    fn longrope_reads_phi3_layout() {
        let phi3 = BASE.replace("LlamaForCausalLM", "Phi3ForCausalLM");
        let short = "[1.0,1.0]";
        let c = ModelConfig::from_json_str(&format!(
            r#"{{{phi3},"original_max_position_embeddings":16,
            "rope_scaling":{{"type":"su","short_factor":{short},"long_factor":[2.0,4.0]}}}}"#
        ))
        .unwrap();
        match &c.rope_scaling {
            RopeScaling::LongRope {
                long_factor,
                original_max_position_embeddings,
                attention_factor,
                ..
            } => {
                assert_eq!(long_factor, &vec![2.0, 4.0]);
                assert_eq!(*original_max_position_embeddings, 16);
                // factor = 64 / 16 = 4: sqrt(1 + ln 4 / ln 16) = sqrt(1.5).
                assert!((attention_factor - 1.5f64.sqrt()).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
        let wrong_len = ModelConfig::from_json_str(&format!(
            r#"{{{phi3},"rope_scaling":{{"type":"longrope","short_factor":[1.0],"long_factor":[2.0,4.0]}}}}"#
        ));
        assert!(matches!(wrong_len, Err(ConfigError::Config(_))));
    }

    #[test]
    fn hostile_rope_configs_are_refused() {
        assert!(
            refused(r#","rope_scaling":{"type":"ntk-by-parts","factor":2.0}"#)
                .contains("not supported")
        );
        assert!(refused(r#","rope_scaling":{"type":"linear"}"#).contains("needs factor"));
        assert!(refused(r#","rope_scaling":{"type":"linear","factor":0.5}"#).contains("factor"));
        assert!(refused(r#","rope_scaling":{"type":"dynamic","factor":"big"}"#).contains("factor"));
        assert!(refused(r#","rope_scaling":{"type":"linear","factor":1e300}"#).contains("factor"));
        assert!(refused(
            r#","rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":4.0,"high_freq_factor":4.0}"#
        )
        .contains("low_freq_factor"));
        assert!(refused(
            r#","rope_scaling":{"rope_type":"yarn","factor":2.0,"original_max_position_embeddings":-3}"#
        )
        .contains("original_max_position_embeddings"));
        assert!(refused(r#","rope_scaling":{"type":7}"#).contains("not a string"));
        assert!(refused(r#","rope_scaling":[1,2]"#).contains("not an object"));
        assert!(refused(r#","partial_rotary_factor":0.5"#).contains("partial_rotary_factor"));
        assert!(refused(
            r#","rope_parameters":{"full_attention":{"rope_type":"default"},"sliding_attention":{"rope_type":"default"}}"#
        )
        .contains("per layer"));
    }

    #[test]
    fn gemma_defaults_follow_its_config_class() {
        let gemma = BASE.replace("LlamaForCausalLM", "GemmaForCausalLM");
        let c = ModelConfig::from_json_str(&format!(r#"{{{gemma},"hidden_act":"gelu"}}"#)).unwrap();
        assert_eq!(c.family, Family::Gemma);
        assert_eq!(c.hidden_act, Activation::GeluTanh);
        assert_eq!(c.head_dim, 256, "GemmaConfig's default head_dim");
        assert!(c.tie_word_embeddings);
        assert_eq!(c.layer_windows, vec![None, None]);
        assert_eq!(c.attention_scale(), 1.0 / 16.0);
        assert!(c.final_logit_softcapping.is_none());
        let bad = ModelConfig::from_json_str(&format!(r#"{{{gemma},"hidden_act":"relu"}}"#));
        assert!(matches!(bad, Err(ConfigError::Config(_))));
    }

    #[test]
    fn gemma2_defaults_and_explicit_values() {
        let g2 = BASE.replace("LlamaForCausalLM", "Gemma2ForCausalLM");
        let c = ModelConfig::from_json_str(&format!(r#"{{{g2},"head_dim":4}}"#)).unwrap();
        assert_eq!(c.family, Family::Gemma2);
        assert_eq!(c.query_pre_attn_scalar, Some(256.0));
        assert_eq!(c.attn_logit_softcapping, Some(50.0));
        assert_eq!(c.final_logit_softcapping, Some(30.0));
        // Gemma2Config's rule: layer 0 slides (window 4096), layer 1 is full.
        assert_eq!(c.layer_windows, vec![Some(4096), None]);
        assert_eq!(c.attention_scale(), 1.0 / 16.0);
        let c = ModelConfig::from_json_str(&format!(
            r#"{{{g2},"head_dim":4,"query_pre_attn_scalar":16,"attn_logit_softcapping":null,
            "final_logit_softcapping":5.0,"sliding_window":8,
            "layer_types":["full_attention","sliding_attention"],"hidden_activation":"gelu_pytorch_tanh"}}"#
        ))
        .unwrap();
        assert_eq!(c.attention_scale(), 0.25);
        assert_eq!(c.attn_logit_softcapping, None);
        assert_eq!(c.final_logit_softcapping, Some(5.0));
        assert_eq!(c.layer_windows, vec![None, Some(8)]);
        for hostile in [
            r#","final_logit_softcapping":-1.0"#,
            r#","query_pre_attn_scalar":"x""#,
            r#","hidden_activation":"gelu""#,
            r#","layer_types":["sliding_attention"]"#,
        ] {
            let bad = ModelConfig::from_json_str(&format!(r#"{{{g2},"head_dim":4{hostile}}}"#));
            assert!(matches!(bad, Err(ConfigError::Config(_))), "{hostile}");
        }
    }

    #[test]
    fn phi3_has_no_biases_and_slides_every_layer() {
        let phi3 = BASE.replace("LlamaForCausalLM", "Phi3ForCausalLM");
        let c = ModelConfig::from_json_str(&format!(
            r#"{{{phi3},"sliding_window":16,"attention_bias":true,"mlp_bias":true}}"#
        ))
        .unwrap();
        assert_eq!(c.family, Family::Phi3);
        assert!(!c.qkv_bias && !c.o_bias && !c.mlp_bias);
        assert_eq!(c.layer_windows, vec![Some(16), Some(16)]);
        assert!(!c.tie_word_embeddings);
        assert_eq!(c.hidden_act, Activation::Silu);
    }

    #[test]
    fn qwen2_windows_follow_max_window_layers() {
        let cfg = BASE.replace("LlamaForCausalLM", "Qwen2ForCausalLM");
        let c = ModelConfig::from_json_str(&format!(
            r#"{{{cfg},"sliding_window":16,"use_sliding_window":true,"max_window_layers":1}}"#
        ))
        .unwrap();
        assert_eq!(c.layer_windows, vec![None, Some(16)]);
        assert!(c.qkv_bias && !c.o_bias);
    }
}
