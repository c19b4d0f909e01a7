//! `config.json` of a Hugging Face causal LM, parsed into one architecture-neutral struct.
//!
//! Both config styles found on hubs are accepted: transformers 5 writes `rope_theta` inside
//! `rope_parameters`, 4.x writes it at the top level. Silently defaulting to 10000 would give
//! wrong losses, so a config with a rope type other than the default is refused instead.

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
    max_position_embeddings: usize,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_parameters: Option<Value>,
    rope_scaling: Option<Value>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    sliding_window: Option<usize>,
    use_sliding_window: Option<bool>,
    max_window_layers: Option<usize>,
    layer_types: Option<Vec<String>>,
    hidden_act: Option<String>,
    dtype: Option<String>,
    torch_dtype: Option<String>,
    bos_token_id: Option<Value>,
    eos_token_id: Option<Value>,
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
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::json("config.json", e))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawConfig) -> Result<Self> {
        let architecture = raw
            .architectures
            .as_ref()
            .and_then(|a| a.first().cloned())
            .ok_or_else(|| ConfigError::Config("no entry in \"architectures\"".into()))?;
        for (name, value, max) in [
            ("vocab_size", raw.vocab_size, MAX_VOCAB),
            ("hidden_size", raw.hidden_size, MAX_DIM),
            ("intermediate_size", raw.intermediate_size, MAX_DIM),
            ("num_hidden_layers", raw.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", raw.num_attention_heads, MAX_DIM),
            (
                "max_position_embeddings",
                raw.max_position_embeddings,
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
        let head_dim = raw.head_dim.unwrap_or(raw.hidden_size / heads);
        if head_dim == 0
            || !head_dim.is_multiple_of(2)
            || head_dim > MAX_DIM
            || head_dim * heads > MAX_DIM
        {
            return Err(ConfigError::Config(format!(
                "head_dim = {head_dim} is not a positive even size"
            )));
        }
        if let Some(act) = &raw.hidden_act {
            if act != "silu" && act != "swish" {
                return Err(ConfigError::Config(format!(
                    "hidden_act {act:?} is not supported (only silu)"
                )));
            }
        }
        let rope_theta = rope_theta(
            raw.rope_theta,
            raw.rope_parameters.as_ref(),
            raw.rope_scaling.as_ref(),
        )?;
        let rms_norm_eps = raw.rms_norm_eps.unwrap_or(1e-6);
        if !(rms_norm_eps.is_finite() && rms_norm_eps > 0.0) {
            return Err(ConfigError::Config(format!(
                "rms_norm_eps = {rms_norm_eps} is not positive"
            )));
        }
        let is_qwen2 = architecture.starts_with("Qwen2");
        let attention_bias = raw.attention_bias.unwrap_or(false);
        let layer_windows = layer_windows(&raw, is_qwen2)?;
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
            max_position_embeddings: raw.max_position_embeddings,
            rms_norm_eps,
            rope_theta,
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            qkv_bias: is_qwen2 || attention_bias,
            o_bias: !is_qwen2 && attention_bias,
            mlp_bias: raw.mlp_bias.unwrap_or(false),
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
}

/// Finds rope_theta in either config style; refuses rope scalings this engine does not implement.
fn rope_theta(top: Option<f64>, params: Option<&Value>, scaling: Option<&Value>) -> Result<f64> {
    let mut theta = top;
    for block in [params, scaling].into_iter().flatten() {
        if block.is_null() {
            continue;
        }
        let kind = block
            .get("rope_type")
            .or_else(|| block.get("type"))
            .and_then(Value::as_str);
        if let Some(kind) = kind {
            if kind != "default" {
                return Err(ConfigError::Config(format!(
                    "rope type {kind:?} is not supported"
                )));
            }
        }
        if let Some(t) = block.get("rope_theta").and_then(Value::as_f64) {
            theta = Some(t);
        }
    }
    let theta = theta.unwrap_or(10_000.0);
    if !(theta.is_finite() && theta > 1.0) {
        return Err(ConfigError::Config(format!(
            "rope_theta = {theta} is not a valid base"
        )));
    }
    Ok(theta)
}

/// The attention window of every layer, following transformers' rules per family.
fn layer_windows(raw: &RawConfig, is_qwen2: bool) -> Result<Vec<Option<usize>>> {
    let n = raw.num_hidden_layers;
    let window = match raw.sliding_window {
        Some(0) => return Err(ConfigError::Config("sliding_window = 0".into())),
        other => other,
    };
    if let Some(types) = &raw.layer_types {
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
