//! The Llama family: `LlamaForCausalLM`, `MistralForCausalLM` and `Qwen2ForCausalLM`.
//!
//! They share one decoder: RMSNorm, rotary embeddings (rotate-half layout), grouped-query
//! attention and a SwiGLU MLP. They differ only in what the config already says: biases
//! (Qwen2's q/k/v, Llama's `attention_bias`/`mlp_bias`), tied embeddings and sliding windows.
//! The q/k/v and gate/up projections are fused into one matrix each at load time, so a
//! layer runs four matrix products.

use candle_core::{Device, Tensor};

use crate::attention::{causal_attention, Attention};
use crate::config::ModelConfig;
use crate::error::Result;
use crate::kernels::{silu_mul, CausalMask};
use crate::model::{CausalLm, KvCache};
use crate::weights::Weights;

/// A dense projection `x · Wᵀ (+ b)` with `W` stored `[out, in]` as in the checkpoint.
struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul(&self.weight.t()?)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

/// Loads several `[out_i, in]` projections (and their biases) stacked into one.
fn fused(w: &Weights, names: &[(&str, usize)], input: usize, bias: bool) -> Result<Linear> {
    let mut mats = Vec::with_capacity(names.len());
    let mut biases = Vec::with_capacity(names.len());
    for &(name, out) in names {
        mats.push(w.get(&format!("{name}.weight"), &[out, input])?);
        if bias {
            biases.push(w.get(&format!("{name}.bias"), &[out])?);
        }
    }
    Ok(Linear {
        weight: Tensor::cat(&mats, 0)?,
        bias: if bias {
            Some(Tensor::cat(&biases, 0)?)
        } else {
            None
        },
    })
}

struct Layer {
    input_norm: Tensor,
    qkv: Linear,
    o: Linear,
    post_norm: Tensor,
    gate_up: Linear,
    down: Linear,
    window: Option<usize>,
}

/// A loaded model of the Llama family.
pub struct LlamaFamily {
    config: ModelConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
    inv_freq: Vec<f32>,
    device: Device,
}

impl LlamaFamily {
    /// Loads every tensor the config implies, checking each shape.
    pub fn load(config: ModelConfig, w: &Weights) -> Result<Self> {
        let c = &config;
        let (h, d) = (c.hidden_size, c.head_dim);
        let (q_out, kv_out) = (c.num_attention_heads * d, c.num_key_value_heads * d);
        let embed = w.get("model.embed_tokens.weight", &[c.vocab_size, h])?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let attn = format!("{p}.self_attn");
            let mlp = format!("{p}.mlp");
            layers.push(Layer {
                input_norm: w.get(&format!("{p}.input_layernorm.weight"), &[h])?,
                qkv: fused(
                    w,
                    &[
                        (&format!("{attn}.q_proj"), q_out),
                        (&format!("{attn}.k_proj"), kv_out),
                        (&format!("{attn}.v_proj"), kv_out),
                    ],
                    h,
                    c.qkv_bias,
                )?,
                o: fused(w, &[(&format!("{attn}.o_proj"), h)], q_out, c.o_bias)?,
                post_norm: w.get(&format!("{p}.post_attention_layernorm.weight"), &[h])?,
                gate_up: fused(
                    w,
                    &[
                        (&format!("{mlp}.gate_proj"), c.intermediate_size),
                        (&format!("{mlp}.up_proj"), c.intermediate_size),
                    ],
                    h,
                    c.mlp_bias,
                )?,
                down: fused(
                    w,
                    &[(&format!("{mlp}.down_proj"), h)],
                    c.intermediate_size,
                    c.mlp_bias,
                )?,
                window: c.layer_windows.get(i).copied().flatten(),
            });
        }
        let norm = w.get("model.norm.weight", &[h])?;
        // As transformers does: a tied model uses the embeddings even if lm_head.weight exists.
        let lm_head = if c.tie_word_embeddings {
            embed.clone()
        } else {
            w.get("lm_head.weight", &[c.vocab_size, h])?
        };
        // Same arithmetic as transformers' default rope: 1 / θ^(2i/d), in f32.
        let inv_freq = (0..d / 2)
            .map(|i| 1.0 / (c.rope_theta as f32).powf((2 * i) as f32 / d as f32))
            .collect();
        Ok(LlamaFamily {
            embed,
            layers,
            norm,
            lm_head,
            inv_freq,
            device: w.device().clone(),
            config,
        })
    }

    /// cos and sin tables `[len, head_dim/2]` for positions `start..start+len`.
    fn rope_tables(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for pos in start..start + len {
            for &f in &self.inv_freq {
                let angle = pos as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Ok((
            Tensor::from_vec(cos, (len, half), &self.device)?,
            Tensor::from_vec(sin, (len, half), &self.device)?,
        ))
    }

    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        dims: (usize, usize),
        rope: &(Tensor, Tensor),
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (batch, len) = dims;
        let (heads, kv_heads, d) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
        let qkv = layer
            .qkv
            .forward(x)?
            .reshape((batch, len, heads + 2 * kv_heads, d))?;
        let split = |start, n| -> Result<Tensor> {
            Ok(qkv.narrow(2, start, n)?.transpose(1, 2)?.contiguous()?)
        };
        let q = candle_nn::rotary_emb::rope(&split(0, heads)?, &rope.0, &rope.1)?;
        let mut k = candle_nn::rotary_emb::rope(&split(heads, kv_heads)?, &rope.0, &rope.1)?;
        let mut v = split(heads + kv_heads, kv_heads)?;
        let mut past = 0;
        if let Some(slot) = cache {
            if let Some((pk, pv)) = slot.as_ref() {
                past = pk.dim(2)?;
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            *slot = Some((k.clone(), v.clone()));
        }
        // Queries of the heads sharing a kv head are stacked as rows: no copy of k and v.
        let group = c.group_size();
        let q = q.reshape((batch, kv_heads, group * len, d))?;
        let spec = Attention {
            mask: CausalMask {
                past,
                len,
                window: layer.window,
            },
            scale: (1.0 / (d as f64).sqrt()) as f32,
            softcap: None,
            block: None,
        };
        let out = causal_attention(&q, &k, &v, spec)?
            .reshape((batch, heads, len, d))?
            .transpose(1, 2)?
            .reshape((batch * len, heads * d))?;
        layer.o.forward(&out)
    }
}

impl CausalLm for LlamaFamily {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn hidden(&self, ids: &Tensor, mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let eps = self.config.rms_norm_eps as f32;
        let past = cache.as_ref().map(|c| c.len()).unwrap_or(0);
        if let Some(c) = cache.as_mut() {
            c.layers.resize_with(self.layers.len(), || None);
        }
        let rope = self.rope_tables(past, len)?;
        let mut x = self.embed.index_select(&ids.flatten_all()?, 0)?;
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_mut().map(|c| &mut c.layers[i]);
            let normed = candle_nn::ops::rms_norm(&x, &layer.input_norm, eps)?;
            x = (x + self.attention(layer, &normed, (batch, len), &rope, slot)?)?;
            let normed = candle_nn::ops::rms_norm(&x, &layer.post_norm, eps)?;
            let gated = silu_mul(
                &layer.gate_up.forward(&normed)?,
                self.config.intermediate_size,
            )?;
            x = (x + layer.down.forward(&gated)?)?;
        }
        Ok(x)
    }

    fn logits(&self, rows: &Tensor) -> Result<Tensor> {
        let normed = candle_nn::ops::rms_norm(rows, &self.norm, self.config.rms_norm_eps as f32)?;
        Ok(normed.matmul(&self.lm_head.t()?)?)
    }
}
