//! The Llama-style decoders: `LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`,
//! `GemmaForCausalLM`, `Gemma2ForCausalLM` and `Phi3ForCausalLM`.
//!
//! They share one decoder: RMSNorm, rotary embeddings (rotate-half layout, any
//! [`crate::config::RopeScaling`] via [`Rope`]), grouped-query attention and a gated MLP. They
//! differ in what the config says ([`Family`] and its options): biases (Qwen2's q/k/v, Llama's
//! `attention_bias`/`mlp_bias`), tied embeddings, sliding windows, Gemma's `(1 + w)` norms
//! (the `1 + w` is computed once at load, in f32, as transformers computes it), embedding
//! scale and GeGLU, Gemma 2's extra norms around attention and MLP, its attention scale and
//! soft-capping, and Phi-3's fused tensors. The q/k/v and gate/up projections are fused into
//! one matrix each at load time (Phi-3 stores them fused), so a layer runs four matrix products.

use candle_core::{DType, Device, Tensor};

use crate::attention::{causal_attention, Attention};
use crate::config::{Family, ModelConfig};
use crate::error::{ModelError, Result};
use crate::kernels::{gated_act, matmul_t_half, softcap, CausalMask};
use crate::model::rope::Rope;
use crate::model::{CausalLm, KvCache};
use crate::weights::Weights;

/// A dense projection `x · Wᵀ (+ b)` with `W` stored `[out, in]` as in the checkpoint, in
/// the dtype the weights were loaded in; `x` and the result are f32.
struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// The same projection with an f32 weight (a copy when stored in bf16/f16).
    fn upcast(&self) -> Result<Linear> {
        Ok(Linear {
            weight: self.weight.to_dtype(DType::F32)?,
            bias: self.bias.clone(),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = matmul_t(x, &self.weight)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

/// Rows of the MLP computed at once (see `LlamaFamily::mlp`).
const MLP_ROWS: usize = 1024;

/// Largest f32 copy of a stored bf16/f16 matrix made at once by [`matmul_t`].
const UPCAST_BLOCK_BYTES: usize = 64 << 20;

/// `x · Wᵀ` for an f32 `x` `[n, in]` and a `W` `[out, in]` kept in any float dtype. A
/// bf16/f16 `W` is upcast for this product only (exactly, so the numbers are those of an f32
/// copy) and dropped after it; when the f32 copy would be larger than the result (the LM head
/// scoring a few rows), it is upcast in blocks of rows of at most `UPCAST_BLOCK_BYTES`. For
/// the few rows of incremental decoding it is converted row by row instead.
fn matmul_t(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    matmul_t_blocked(x, w, UPCAST_BLOCK_BYTES)
}

fn matmul_t_blocked(x: &Tensor, w: &Tensor, block_bytes: usize) -> Result<Tensor> {
    if w.dtype() == x.dtype() {
        return Ok(x.matmul(&w.t()?)?);
    }
    if let Some(y) = matmul_t_half(x, w)? {
        return Ok(y);
    }
    let (out, inner) = w.dims2()?;
    let rows = x.elem_count() / inner.max(1);
    let block = (block_bytes / (4 * inner.max(1))).max(1);
    if out <= block || rows * out >= out * inner {
        let w = w.to_dtype(x.dtype())?;
        return Ok(x.matmul(&w.t()?)?);
    }
    let mut parts = Vec::with_capacity(out.div_ceil(block));
    for start in (0..out).step_by(block) {
        let w = w
            .narrow(0, start, block.min(out - start))?
            .to_dtype(x.dtype())?;
        parts.push(x.matmul(&w.t()?)?);
    }
    Ok(Tensor::cat(&parts, x.rank() - 1)?)
}

/// Loads several `[out_i, in]` projections (and their biases) stacked into one.
fn fused(w: &Weights, names: &[(&str, usize)], input: usize, bias: bool) -> Result<Linear> {
    let mut mats = Vec::with_capacity(names.len());
    let mut biases = Vec::with_capacity(names.len());
    for &(name, out) in names {
        mats.push(w.get_matrix(&format!("{name}.weight"), &[out, input])?);
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

/// Where one layer's attention finds the keys and values of earlier positions.
enum PastKv<'a> {
    /// There are none: the pass starts at position 0.
    Fresh,
    /// A growing cache (incremental decoding): read, then extended by this pass.
    Extend(&'a mut Option<(Tensor, Tensor)>),
    /// A prefix of one sequence (`[1, kv_heads, past, d]`) that this pass (batch 1)
    /// continues; read only, so the sequences of a packed pass can all continue it.
    Shared(&'a (Tensor, Tensor)),
}

/// Rope tables of a packed pass: one table for the longest sequence, cut to each length, or
/// where the rope depends on the pass's length, each sequence's own.
struct PackedRope<'a> {
    rope: &'a Rope,
    past: usize,
    longest: Option<(Tensor, Tensor)>,
    device: &'a Device,
}

impl PackedRope<'_> {
    fn tables(&self, len: usize) -> Result<(Tensor, Tensor)> {
        match &self.longest {
            Some((cos, sin)) => Ok((cos.narrow(0, 0, len)?, sin.narrow(0, 0, len)?)),
            None => self.rope.tables(self.past, len, self.device),
        }
    }
}

struct Layer {
    input_norm: Tensor,
    qkv: Linear,
    o: Linear,
    /// Norm of the attention output before the residual add (Gemma 2's `post_attention_layernorm`).
    attn_out_norm: Option<Tensor>,
    /// Norm before the MLP (`post_attention_layernorm`, Gemma 2's `pre_feedforward_layernorm`).
    mlp_norm: Tensor,
    /// Norm of the MLP output before the residual add (Gemma 2's `post_feedforward_layernorm`).
    mlp_out_norm: Option<Tensor>,
    gate_up: Linear,
    down: Linear,
    window: Option<usize>,
}

/// An RMSNorm weight as the forward pass multiplies by it: `w`, or `1 + w` (in f32) for Gemma.
fn norm_weight(w: &Weights, name: &str, size: usize, adds_one: bool) -> Result<Tensor> {
    let weight = w.get(name, &[size])?.to_dtype(DType::F32)?;
    Ok(if adds_one { (weight + 1.0)? } else { weight })
}

/// A loaded model of the Llama family.
pub struct LlamaFamily {
    config: ModelConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
    rope: Rope,
    device: Device,
}

impl LlamaFamily {
    /// Loads every tensor the config implies, checking each shape.
    pub fn load(config: ModelConfig, w: &Weights) -> Result<Self> {
        let c = &config;
        let (h, d) = (c.hidden_size, c.head_dim);
        let (q_out, kv_out) = (c.num_attention_heads * d, c.num_key_value_heads * d);
        let inter = c.intermediate_size;
        let plus_one = c.family.norm_adds_one();
        let norm = |name: &str| norm_weight(w, name, h, plus_one);
        let embed = w.get_matrix("model.embed_tokens.weight", &[c.vocab_size, h])?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let attn = format!("{p}.self_attn");
            let mlp = format!("{p}.mlp");
            let (qkv, gate_up) = if c.family == Family::Phi3 {
                (
                    fused(
                        w,
                        &[(&format!("{attn}.qkv_proj"), q_out + 2 * kv_out)],
                        h,
                        false,
                    )?,
                    fused(w, &[(&format!("{mlp}.gate_up_proj"), 2 * inter)], h, false)?,
                )
            } else {
                (
                    fused(
                        w,
                        &[
                            (&format!("{attn}.q_proj"), q_out),
                            (&format!("{attn}.k_proj"), kv_out),
                            (&format!("{attn}.v_proj"), kv_out),
                        ],
                        h,
                        c.qkv_bias,
                    )?,
                    fused(
                        w,
                        &[
                            (&format!("{mlp}.gate_proj"), inter),
                            (&format!("{mlp}.up_proj"), inter),
                        ],
                        h,
                        c.mlp_bias,
                    )?,
                )
            };
            let gemma2 = c.family == Family::Gemma2;
            layers.push(Layer {
                input_norm: norm(&format!("{p}.input_layernorm.weight"))?,
                qkv,
                o: fused(w, &[(&format!("{attn}.o_proj"), h)], q_out, c.o_bias)?,
                attn_out_norm: if gemma2 {
                    Some(norm(&format!("{p}.post_attention_layernorm.weight"))?)
                } else {
                    None
                },
                mlp_norm: if gemma2 {
                    norm(&format!("{p}.pre_feedforward_layernorm.weight"))?
                } else {
                    norm(&format!("{p}.post_attention_layernorm.weight"))?
                },
                mlp_out_norm: if gemma2 {
                    Some(norm(&format!("{p}.post_feedforward_layernorm.weight"))?)
                } else {
                    None
                },
                gate_up,
                down: fused(w, &[(&format!("{mlp}.down_proj"), h)], inter, c.mlp_bias)?,
                window: c.layer_windows.get(i).copied().flatten(),
            });
        }
        let norm = norm("model.norm.weight")?;
        // As transformers does: a tied model uses the embeddings even if lm_head.weight exists.
        let lm_head = if c.tie_word_embeddings {
            embed.clone()
        } else {
            w.get_matrix("lm_head.weight", &[c.vocab_size, h])?
        };
        let rope = Rope::new(c);
        Ok(LlamaFamily {
            embed,
            layers,
            norm,
            lm_head,
            rope,
            device: w.device().clone(),
            config,
        })
    }

    /// Attention of a right-padded batch `x` `[batch·len, hidden]`, output projection included.
    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        dims: (usize, usize),
        rope: &(Tensor, Tensor),
        past_kv: PastKv,
    ) -> Result<Tensor> {
        let out = self.attend(layer, &layer.qkv.forward(x)?, dims, rope, past_kv)?;
        layer.o.forward(&out)
    }

    /// Attention of packed sequences `x` `[Σ lens, hidden]` (see `hidden_packed`): the
    /// projections run on all rows at once, the attention sequence by sequence (each after
    /// `prefix`, if any), so no padding row is ever computed.
    fn attention_packed(
        &self,
        layer: &Layer,
        x: &Tensor,
        lens: &[usize],
        rope: &PackedRope,
        prefix: Option<&(Tensor, Tensor)>,
    ) -> Result<Tensor> {
        let qkv = layer.qkv.forward(x)?;
        let mut outs = Vec::with_capacity(lens.len());
        let mut offset = 0;
        for &len in lens {
            let past_kv = match prefix {
                Some(kv) => PastKv::Shared(kv),
                None => PastKv::Fresh,
            };
            let tables = rope.tables(len)?;
            outs.push(self.attend(
                layer,
                &qkv.narrow(0, offset, len)?,
                (1, len),
                &tables,
                past_kv,
            )?);
            offset += len;
        }
        layer.o.forward(&Tensor::cat(&outs, 0)?)
    }

    /// Rope, kv-cache and attention of the projected `qkv` `[batch·len, (heads + 2·kv_heads)·d]`;
    /// returns `[batch·len, heads·d]` before the output projection.
    fn attend(
        &self,
        layer: &Layer,
        qkv: &Tensor,
        dims: (usize, usize),
        rope: &(Tensor, Tensor),
        past_kv: PastKv,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (batch, len) = dims;
        let (heads, kv_heads, d) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
        let qkv = qkv.reshape((batch, len, heads + 2 * kv_heads, d))?;
        let split = |start, n| -> Result<Tensor> {
            Ok(qkv.narrow(2, start, n)?.transpose(1, 2)?.contiguous()?)
        };
        let q = candle_nn::rotary_emb::rope(&split(0, heads)?, &rope.0, &rope.1)?;
        let mut k = candle_nn::rotary_emb::rope(&split(heads, kv_heads)?, &rope.0, &rope.1)?;
        let mut v = split(heads + kv_heads, kv_heads)?;
        let mut past = 0;
        match past_kv {
            PastKv::Fresh => {}
            PastKv::Extend(slot) => {
                if let Some((pk, pv)) = slot.as_ref() {
                    past = pk.dim(2)?;
                    k = Tensor::cat(&[pk, &k], 2)?;
                    v = Tensor::cat(&[pv, &v], 2)?;
                }
                *slot = Some((k.clone(), v.clone()));
            }
            PastKv::Shared((pk, pv)) => {
                past = pk.dim(2)?;
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
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
            scale: c.attention_scale() as f32,
            softcap: c.attn_logit_softcapping.map(|cap| cap as f32),
            block: None,
        };
        let out = causal_attention(&q, &k, &v, spec)?
            .reshape((batch, heads, len, d))?
            .transpose(1, 2)?
            .reshape((batch * len, heads * d))?;
        Ok(out)
    }
}

impl LlamaFamily {
    /// The decoder body over `ids` `[batch, len]` after the positions of `cache` (if any),
    /// which the pass extends (its layers already sized to the model's).
    fn body(&self, ids: &Tensor, mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        let past = cache.as_ref().map_or(0, |c| c.len());
        let (batch, len) = ids.dims2()?;
        let rope = self.rope.tables(past, len, &self.device)?;
        self.layers_over(ids, |i, layer, normed| {
            self.attention(
                layer,
                normed,
                (batch, len),
                &rope,
                match cache.as_mut() {
                    Some(c) => PastKv::Extend(&mut c.layers[i]),
                    None => PastKv::Fresh,
                },
            )
        })
    }

    /// The positions of a shared prefix's cache: one sequence's keys and values in every layer.
    fn check_prefix(&self, prefix: &KvCache) -> Result<usize> {
        let positions = prefix.len();
        let one_sequence = |kv: &Option<(Tensor, Tensor)>| match kv {
            Some((k, v)) => {
                k.dims().first() == Some(&1)
                    && k.dims().get(2) == Some(&positions)
                    && k.dims() == v.dims()
            }
            None => false,
        };
        let found = prefix.layers.iter().filter(|kv| one_sequence(kv)).count();
        if positions == 0 || found != self.layers.len() || prefix.layers.len() != found {
            return Err(ModelError::PrefixCache {
                layers: self.layers.len(),
                found,
                positions,
            });
        }
        Ok(positions)
    }

    /// Embeds `ids` (any shape, flattened) and runs every layer on the rows, `attention(i,
    /// layer, normed input)` giving layer `i`'s attention output.
    fn layers_over(
        &self,
        ids: &Tensor,
        mut attention: impl FnMut(usize, &Layer, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let eps = self.config.rms_norm_eps as f32;
        let mut x = self
            .embed
            .index_select(&ids.flatten_all()?, 0)?
            .to_dtype(DType::F32)?;
        if self.config.family.scales_embeddings() {
            // transformers multiplies by `torch.tensor(hidden_size ** 0.5)`: an f32 scalar.
            x = (x * ((self.config.hidden_size as f64).sqrt() as f32) as f64)?;
        }
        let norm = |x: &Tensor, w: &Tensor| candle_nn::ops::rms_norm(x, w, eps);
        for (i, layer) in self.layers.iter().enumerate() {
            let mut attn = attention(i, layer, &norm(&x, &layer.input_norm)?)?;
            if let Some(w) = &layer.attn_out_norm {
                attn = norm(&attn, w)?;
            }
            x = (x + attn)?;
            x = (&x + self.mlp(layer, &x)?)?;
        }
        Ok(x)
    }

    /// The MLP block (its norms included) of `x` `[rows, hidden]`. Its `[rows, 2·inter]`
    /// activations are the largest of a layer, so past `MLP_ROWS` rows it runs on slices of
    /// rows (row-wise operations: the same numbers), with stored bf16/f16 matrices upcast once.
    fn mlp(&self, layer: &Layer, x: &Tensor) -> Result<Tensor> {
        let eps = self.config.rms_norm_eps as f32;
        let run = |gate_up: &Linear, down: &Linear, x: &Tensor| -> Result<Tensor> {
            let normed = candle_nn::ops::rms_norm(x, &layer.mlp_norm, eps)?;
            let gated = gated_act(
                &gate_up.forward(&normed)?,
                self.config.intermediate_size,
                self.config.hidden_act,
            )?;
            let out = down.forward(&gated)?;
            Ok(match &layer.mlp_out_norm {
                Some(w) => candle_nn::ops::rms_norm(&out, w, eps)?,
                None => out,
            })
        };
        let rows = x.dim(0)?;
        if rows <= MLP_ROWS {
            return run(&layer.gate_up, &layer.down, x);
        }
        let (gate_up, down) = (layer.gate_up.upcast()?, layer.down.upcast()?);
        let parts = (0..rows)
            .step_by(MLP_ROWS)
            .map(|start| {
                run(
                    &gate_up,
                    &down,
                    &x.narrow(0, start, MLP_ROWS.min(rows - start))?,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(&parts, 0)?)
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
        if let Some(c) = cache.as_mut() {
            c.layers.resize_with(self.layers.len(), || None);
        }
        self.body(ids, cache)
    }

    fn hidden_packed(&self, seqs: &[&[u32]], prefix: Option<&KvCache>) -> Result<Tensor> {
        if let Some(index) = seqs
            .iter()
            .position(|s| s.is_empty())
            .or(seqs.is_empty().then_some(0))
        {
            return Err(ModelError::NoTokens { index });
        }
        let past = match prefix {
            Some(prefix) => self.check_prefix(prefix)?,
            None => 0,
        };
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let longest = lens.iter().copied().max().unwrap_or(0);
        let rope = PackedRope {
            rope: &self.rope,
            past,
            longest: if self.config.rope_scaling.depends_on_length() {
                None
            } else {
                Some(self.rope.tables(past, longest, &self.device)?)
            },
            device: &self.device,
        };
        let ids = Tensor::new(seqs.concat(), &self.device)?;
        self.layers_over(&ids, |i, layer, normed| {
            let kv = prefix.and_then(|p| p.layers[i].as_ref());
            self.attention_packed(layer, normed, &lens, &rope, kv)
        })
    }

    fn logits(&self, rows: &Tensor) -> Result<Tensor> {
        let normed = candle_nn::ops::rms_norm(rows, &self.norm, self.config.rms_norm_eps as f32)?;
        let logits = matmul_t(&normed, &self.lm_head)?;
        match self.config.final_logit_softcapping {
            Some(cap) => softcap(&logits, cap),
            None => Ok(logits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_upcast_equals_a_whole_upcast() {
        let (n, k, m) = (12, 40, 301);
        let xs: Vec<f32> = (0..n * k)
            .map(|i| ((i * 31) % 17) as f32 / 9.0 - 0.9)
            .collect();
        let ws: Vec<f32> = (0..m * k)
            .map(|i| ((i * 53) % 29) as f32 / 14.0 - 1.0)
            .collect();
        let x = Tensor::from_vec(xs, (n, k), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(ws, (m, k), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        let whole = x
            .matmul(&w.to_dtype(DType::F32).unwrap().t().unwrap())
            .unwrap();
        // 7 rows of W per block: 43 blocks, the last one short.
        let blocked = matmul_t_blocked(&x, &w, 7 * 4 * k).unwrap();
        assert_eq!(blocked.dims(), &[n, m]);
        let (a, b) = (
            whole.to_vec2::<f32>().unwrap(),
            blocked.to_vec2::<f32>().unwrap(),
        );
        for (ra, rb) in a.iter().zip(&b) {
            for (p, q) in ra.iter().zip(rb) {
                // Same products; GEMM may tile (and so sum) a narrower block differently.
                assert!((p - q).abs() <= 1e-6 * p.abs().max(1.0) * 4.0, "{p} vs {q}");
            }
        }
    }
}
