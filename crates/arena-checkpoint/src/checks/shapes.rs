//! The tensors (names and shapes) an architecture needs, derived from config.json alone.

use std::collections::BTreeMap;

use crate::config::{Family, ModelConfig};

use arena_core::rejection::Rejection;

/// Architectures the evaluator runs (and whose tensor layout these checks know).
pub const SUPPORTED_ARCHITECTURES: &[&str] = &[
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "Qwen2ForCausalLM",
    "GemmaForCausalLM",
    "Gemma2ForCausalLM",
    "Phi3ForCausalLM",
];

/// Names transformers ignores when loading (buffers saved by old versions).
fn ignorable(name: &str) -> bool {
    name.ends_with(".rotary_emb.inv_freq")
}

/// Name → shape of every tensor the config implies, in transformers' naming: per layer two
/// norms (Gemma 2: four, `pre_feedforward_layernorm` and `post_feedforward_layernorm` added),
/// q/k/v/o and gate/up/down projections (Phi-3: `qkv_proj` `[q + 2·kv, hidden]` and
/// `gate_up_proj` `[2·intermediate, hidden]`), and `lm_head.weight` unless the head is tied.
pub fn expected_tensors(cfg: &ModelConfig) -> Result<BTreeMap<String, Vec<u64>>, Rejection> {
    if !SUPPORTED_ARCHITECTURES.contains(&cfg.architecture.as_str()) {
        return Err(Rejection::UnsupportedArchitecture {
            architecture: cfg.architecture.clone(),
        });
    }
    let u = |x: usize| x as u64;
    let (hidden, inter, vocab) = (
        u(cfg.hidden_size),
        u(cfg.intermediate_size),
        u(cfg.vocab_size),
    );
    let q_rows = u(cfg.num_attention_heads * cfg.head_dim);
    let kv_rows = u(cfg.num_key_value_heads * cfg.head_dim);
    let mut out = BTreeMap::new();
    out.insert("model.embed_tokens.weight".to_string(), vec![vocab, hidden]);
    out.insert("model.norm.weight".to_string(), vec![hidden]);
    if !cfg.tie_word_embeddings {
        out.insert("lm_head.weight".to_string(), vec![vocab, hidden]);
    }
    for layer in 0..cfg.num_hidden_layers {
        let mut add =
            |part: &str, shape: Vec<u64>| out.insert(format!("model.layers.{layer}.{part}"), shape);
        add("input_layernorm.weight", vec![hidden]);
        add("post_attention_layernorm.weight", vec![hidden]);
        if cfg.family == Family::Gemma2 {
            add("pre_feedforward_layernorm.weight", vec![hidden]);
            add("post_feedforward_layernorm.weight", vec![hidden]);
        }
        if cfg.family == Family::Phi3 {
            add(
                "self_attn.qkv_proj.weight",
                vec![q_rows + 2 * kv_rows, hidden],
            );
            add("mlp.gate_up_proj.weight", vec![2 * inter, hidden]);
        } else {
            add("self_attn.q_proj.weight", vec![q_rows, hidden]);
            add("self_attn.k_proj.weight", vec![kv_rows, hidden]);
            add("self_attn.v_proj.weight", vec![kv_rows, hidden]);
            add("mlp.gate_proj.weight", vec![inter, hidden]);
            add("mlp.up_proj.weight", vec![inter, hidden]);
        }
        add("self_attn.o_proj.weight", vec![hidden, q_rows]);
        add("mlp.down_proj.weight", vec![hidden, inter]);
        if cfg.qkv_bias {
            add("self_attn.q_proj.bias", vec![q_rows]);
            add("self_attn.k_proj.bias", vec![kv_rows]);
            add("self_attn.v_proj.bias", vec![kv_rows]);
        }
        if cfg.o_bias {
            add("self_attn.o_proj.bias", vec![hidden]);
        }
        if cfg.mlp_bias {
            add("mlp.gate_proj.bias", vec![inter]);
            add("mlp.up_proj.bias", vec![inter]);
            add("mlp.down_proj.bias", vec![hidden]);
        }
    }
    Ok(out)
}

/// Compares the tensors found (name → shape) with those the config implies. A tied model may
/// still carry `lm_head.weight` (transformers ignores it) if its shape is right.
pub fn compare_tensors<'a>(
    cfg: &ModelConfig,
    found: impl IntoIterator<Item = (&'a str, &'a [u64])>,
) -> Vec<Rejection> {
    let mut expected = match expected_tensors(cfg) {
        Ok(e) => e,
        Err(f) => return vec![f],
    };
    let tied_head = cfg
        .tie_word_embeddings
        .then(|| vec![cfg.vocab_size as u64, cfg.hidden_size as u64]);
    let mut failures = Vec::new();
    for (name, shape) in found {
        let want = match expected.remove(name) {
            Some(want) => want,
            None if name == "lm_head.weight" && tied_head.is_some() => {
                tied_head.clone().unwrap_or_default()
            }
            None if ignorable(name) => continue,
            None => {
                failures.push(Rejection::UnexpectedTensor {
                    name: name.to_string(),
                });
                continue;
            }
        };
        if want != shape {
            failures.push(Rejection::ShapeMismatch {
                name: name.to_string(),
                expected: want,
                actual: shape.to_vec(),
            });
        }
    }
    failures.extend(
        expected
            .into_keys()
            .map(|name| Rejection::MissingTensor { name }),
    );
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(arch: &str, extra: &str) -> ModelConfig {
        ModelConfig::from_json_str(&format!(
            r#"{{"architectures":["{arch}"],"vocab_size":32,"hidden_size":8,"intermediate_size":16,
            "num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":4,
            "max_position_embeddings":64{extra}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn phi3_expects_fused_projections() {
        let t = expected_tensors(&config("Phi3ForCausalLM", "")).unwrap();
        assert_eq!(t["model.layers.1.self_attn.qkv_proj.weight"], vec![16, 8]);
        assert_eq!(t["model.layers.1.mlp.gate_up_proj.weight"], vec![32, 8]);
        assert!(!t.contains_key("model.layers.0.self_attn.q_proj.weight"));
        assert!(!t.contains_key("model.layers.0.mlp.up_proj.weight"));
        assert!(t.contains_key("lm_head.weight"));
        // A Phi-3 checkpoint with separate projections is refused.
        let found = vec![("model.layers.0.self_attn.q_proj.weight", &[8u64, 8][..])];
        let failures = compare_tensors(&config("Phi3ForCausalLM", ""), found);
        assert!(failures
            .iter()
            .any(|f| matches!(f, Rejection::UnexpectedTensor { name } if name.contains("q_proj"))));
    }

    #[test]
    fn gemma2_has_four_norms_per_layer_and_a_tied_head() {
        let t = expected_tensors(&config("Gemma2ForCausalLM", "")).unwrap();
        for norm in [
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ] {
            assert_eq!(t[&format!("model.layers.1.{norm}.weight")], vec![8]);
        }
        assert!(!t.contains_key("lm_head.weight"), "Gemma 2 ties by default");
        let gemma = expected_tensors(&config("GemmaForCausalLM", "")).unwrap();
        assert!(!gemma.contains_key("model.layers.0.pre_feedforward_layernorm.weight"));
        assert!(!gemma.contains_key("lm_head.weight"));
        let untied = expected_tensors(&config(
            "GemmaForCausalLM",
            r#","tie_word_embeddings":false"#,
        ))
        .unwrap();
        assert_eq!(untied["lm_head.weight"], vec![32, 8]);
    }

    #[test]
    fn unknown_architectures_are_refused() {
        let err = expected_tensors(&config("FalconForCausalLM", "")).unwrap_err();
        assert!(matches!(err, Rejection::UnsupportedArchitecture { .. }));
    }
}
