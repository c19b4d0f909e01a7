//! The decoder of [`arena_model::model::llama`] with every weight a candle `Var` under its
//! transformers name, run with differentiable operations only.
//!
//! The evaluation model fuses q/k/v and gate/up at load time and uses fast kernels that record
//! no gradient (candle's `rms_norm`, `rope`, and our `silu_mul`), so it cannot be trained.
//! This one keeps the checkpoint's tensors as they are (so saving writes the same names and
//! shapes back) and uses the trainer's fused ops with hand-written backward (`crate::fused`:
//! RMSNorm, `silu(gate)·up`, rotary embedding with the split into heads, the weighted
//! cross-entropy; each tested against the candle graph it replaces) and `gelu`. It follows the same
//! [`Family`] options as the engine (Gemma's `(1 + w)` norms, embedding scale and GeGLU;
//! Gemma 2's extra norms, attention scale and soft-caps; Phi-3's fused `qkv_proj`/`gate_up_proj`,
//! split with `narrow`) and the same [`Rope`]. Attention is the evaluation engine's blockwise
//! kernel ([`arena_model::attention::causal_attention`]), which is differentiable: its backward
//! recomputes each block's probabilities, so no `len²` tensor is kept for the backward pass.
//! Its loss is tested equal to the evaluation engine's on the same weights and to transformers'
//! on the long fixture texts, and its gradients equal to those of the full score matrix.
//!
//! Two options change what is trained and how it is computed:
//! * LoRA ([`TrainModel::enable_lora`]): the base weights are frozen and low-rank adapters on
//!   the projections are the only trainable variables (the frozen products compute no weight
//!   gradient); saving writes merged weights.
//! * The compute dtype ([`TrainModel::set_compute_dtype`]): with `BF16` every matrix product
//!   (projections, LM head) multiplies operands rounded to bfloat16, accumulates in f32 and
//!   rounds the result to bfloat16, like PyTorch's CPU autocast (run as an f32 product of the
//!   rounded values: exact products, through candle's f32 kernel rather than its slower bf16 one);
//!   attention gets q, k and v rounded to bfloat16 and computes in f32.
//!   The master weights, the residual stream, RMSNorm, softmax, the loss, the gradients and the
//!   optimiser stay f32.

use std::collections::BTreeMap;
use std::path::Path;

use arena_model::tensor::{DType, Device, Tensor, Var};

use crate::lora::{Adapter, LoraConfig};
use arena_checkpoint::config::ModelConfig;
use arena_checkpoint::config::{Activation, Family};
use arena_model::attention::{causal_attention, Attention};
use arena_model::kernels::{softcap, CausalMask};
use arena_model::model::rope::Rope;
use arena_model::weights::Weights;
use arena_model::{ModelError, Result};

/// Architectures the trainer can fine-tune: every one the engine evaluates, with any rope
/// scaling. (LoRA needs separate projections, so Phi-3 trains fully only.)
pub const TRAINABLE_ARCHITECTURES: &[&str] = arena_model::model::SUPPORTED_ARCHITECTURES;

/// A trainable model of any [`TRAINABLE_ARCHITECTURES`] entry.
pub struct TrainModel {
    /// The parsed config.json.
    pub config: ModelConfig,
    /// Every weight, by transformers name (sorted, so the order is stable).
    pub params: BTreeMap<String, Var>,
    /// LoRA adapters by projection name (`model.layers.0.self_attn.q_proj`); empty for a full
    /// fine-tune.
    pub adapters: BTreeMap<String, Adapter>,
    lora: Option<LoraConfig>,
    compute: DType,
    rope: Rope,
    device: Device,
    /// Tests only: query positions per attention block (`None` lets the kernel choose).
    #[cfg(test)]
    attention_block: Option<usize>,
    /// Tests only: attention by the full score matrix and autograd, the kernel's oracle.
    #[cfg(test)]
    naive_attention: bool,
}

/// A right-padded batch: ids and, per row, the weight of each predicted token's loss.
pub struct Batch {
    /// `[batch, len]` token ids.
    pub ids: Tensor,
    /// Flattened positions whose next token is scored.
    pub rows: Tensor,
    /// Target id of each scored row.
    pub targets: Tensor,
    /// Weight of each scored row (they sum to 1 over the batch).
    pub weights: Tensor,
    /// Number of scored tokens.
    pub scored: usize,
}

impl TrainModel {
    /// Names and shapes of every tensor of the config's architecture (the pre-load checks'
    /// list, so loading and checking cannot disagree).
    pub fn expected_tensors(c: &ModelConfig) -> Result<Vec<(String, Vec<usize>)>> {
        let expected = arena_checkpoint::checks::expected_tensors(c)
            .map_err(|r| ModelError::Config(r.to_string()))?;
        Ok(expected
            .into_iter()
            .map(|(name, shape)| (name, shape.into_iter().map(|x| x as usize).collect()))
            .collect())
    }

    /// Loads the model folder `dir` (f32 copies of the weights, as trainable variables).
    pub fn load(dir: &Path, device: &Device) -> Result<TrainModel> {
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        if !TRAINABLE_ARCHITECTURES.contains(&config.architecture.as_str()) {
            return Err(ModelError::Config(format!(
                "{} cannot be trained (trainable: {})",
                config.architecture,
                TRAINABLE_ARCHITECTURES.join(", ")
            )));
        }
        let weights = Weights::open(dir, device)?;
        let mut params = BTreeMap::new();
        for (name, shape) in Self::expected_tensors(&config)? {
            let tensor = weights.get(&name, &shape)?;
            params.insert(name, Var::from_tensor(&tensor)?);
        }
        let rope = Rope::new(&config);
        Ok(TrainModel {
            config,
            params,
            adapters: BTreeMap::new(),
            lora: None,
            compute: DType::F32,
            rope,
            device: device.clone(),
            #[cfg(test)]
            attention_block: None,
            #[cfg(test)]
            naive_attention: false,
        })
    }

    /// The device the variables live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Freezes the base weights and adds fresh adapters (identity at the start) to the
    /// configured projections of every layer.
    pub fn enable_lora(&mut self, lora: &LoraConfig) -> Result<()> {
        lora.validate()?;
        if self.config.family == Family::Phi3 {
            return Err(ModelError::Config(
                "LoRA adapts separate projections; Phi-3 stores qkv_proj and gate_up_proj fused \
                 (train it fully)"
                    .into(),
            ));
        }
        let mut adapters = BTreeMap::new();
        let mut stream = 0u64;
        for i in 0..self.config.num_hidden_layers {
            for target in &lora.targets {
                let name = format!("model.layers.{i}.{target}");
                let (out, inp) = self.p(&format!("{name}.weight"))?.dims2()?;
                stream += 1;
                let adapter = Adapter::new(out, inp, lora.rank, lora.seed, stream, &self.device)?;
                adapters.insert(name, adapter);
            }
        }
        self.adapters = adapters;
        self.lora = Some(lora.clone());
        Ok(())
    }

    /// The LoRA settings, when adapters are trained.
    pub fn lora(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// Runs matrix products in `dtype` (`F32` or `BF16`, see the module doc).
    pub fn set_compute_dtype(&mut self, dtype: DType) -> Result<()> {
        if !matches!(dtype, DType::F32 | DType::BF16) {
            return Err(ModelError::Config(format!(
                "training computes in f32 or bf16, not {dtype:?}"
            )));
        }
        self.compute = dtype;
        Ok(())
    }

    /// The dtype matrix products run in.
    pub fn compute_dtype(&self) -> DType {
        self.compute
    }

    /// The variables the optimiser updates, by name, in a stable order: every weight for a
    /// full fine-tune, else `<projection>.lora_A.weight` / `.lora_B.weight` of each adapter
    /// (PEFT's names).
    pub fn trainable(&self) -> Vec<(String, &Var)> {
        if self.lora.is_none() {
            return self.params.iter().map(|(n, v)| (n.clone(), v)).collect();
        }
        self.adapters
            .iter()
            .flat_map(|(n, a)| {
                [
                    (format!("{n}.lora_A.weight"), &a.a),
                    (format!("{n}.lora_B.weight"), &a.b),
                ]
            })
            .collect()
    }

    /// A base weight as the forward pass reads it: detached (no gradient) under LoRA.
    fn p(&self, name: &str) -> Result<Tensor> {
        let var = self
            .params
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
        Ok(if self.lora.is_some() {
            var.as_tensor().detach()
        } else {
            var.as_tensor().clone()
        })
    }

    /// `a · bᵀ` in the compute dtype, returned in f32. Under bf16 the operands and the
    /// result are rounded to bfloat16 and the product runs in f32: a product of two bfloat16
    /// numbers is exact in f32, so this is a bf16 GEMM with f32 accumulation (what PyTorch's
    /// CPU autocast computes) through candle's f32 kernel, faster than its bf16 one.
    fn mm_t(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if self.compute == DType::F32 {
            return crate::fused::matmul_t(a, b);
        }
        let product = crate::fused::matmul_t(&self.round(a)?, &self.round(b)?)?;
        self.round(&product)
    }

    /// [`Self::mm_t`] for a frozen `b` (a base weight under LoRA): only `a` gets a gradient,
    /// where candle's matmul would also compute `b`'s and drop it.
    fn mm_t_frozen(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if self.compute == DType::F32 {
            return crate::fused::frozen_matmul_t(a, b);
        }
        let product = crate::fused::frozen_matmul_t(&self.round(a)?, &self.round(b)?)?;
        self.round(&product)
    }

    /// `t` rounded to the compute dtype, as f32 (unchanged under f32 compute).
    fn round(&self, t: &Tensor) -> Result<Tensor> {
        Ok(match self.compute {
            DType::F32 => t.clone(),
            dtype => t.to_dtype(dtype)?.to_dtype(DType::F32)?,
        })
    }

    /// `x · Wᵀ` with the base weight `W`, which is frozen under LoRA.
    fn base_product(&self, x: &Tensor, weight: &str) -> Result<Tensor> {
        let w = self.p(weight)?;
        match self.lora {
            Some(_) => self.mm_t_frozen(x, &w),
            None => self.mm_t(x, &w),
        }
    }

    fn linear(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        let mut y = self.base_product(x, &format!("{name}.weight"))?;
        if let (Some(adapter), Some(lora)) = (self.adapters.get(name), &self.lora) {
            let down = self.mm_t(x, adapter.a.as_tensor())?;
            y = (y + (self.mm_t(&down, adapter.b.as_tensor())? * lora.scale())?)?;
        }
        match self.params.get(&format!("{name}.bias")) {
            Some(_) => Ok(y.broadcast_add(&self.p(&format!("{name}.bias"))?)?),
            None => Ok(y),
        }
    }

    /// Causal self-attention of layer `layer` (q `[b, kv_heads, group·len, d]`, k and v
    /// `[b, kv_heads, len, d]`) through the evaluation engine's blockwise kernel, whose
    /// backward recomputes each block's probabilities: no `len²` tensor in either pass. Under
    /// bf16 compute the operands are rounded to bfloat16 first (the kernel computes in f32).
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        layer: usize,
        len: usize,
    ) -> Result<Tensor> {
        let spec = Attention {
            mask: CausalMask {
                past: 0,
                len,
                window: self.config.layer_windows.get(layer).copied().flatten(),
            },
            scale: self.config.attention_scale() as f32,
            softcap: self.config.attn_logit_softcapping.map(|cap| cap as f32),
            block: None,
        };
        #[cfg(test)]
        let spec = Attention {
            block: self.attention_block,
            ..spec
        };
        #[cfg(test)]
        if self.naive_attention {
            return tests::naive_attention(self, q, k, v, &spec);
        }
        causal_attention(&self.round(q)?, &self.round(k)?, &self.round(v)?, spec)
    }

    /// Mean weighted cross-entropy of `batch` (a scalar with a gradient to every variable).
    pub fn loss(&self, batch: &Batch) -> Result<Tensor> {
        let c = &self.config;
        let (b, len) = batch.ids.dims2()?;
        let (heads, kvh, d) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
        let group = heads / kvh;
        let eps = c.rms_norm_eps as f32;
        // The padded batch is one pass of `len` positions (what a length-dependent rope sees).
        let (cos, sin) = self.rope.tables(0, len, &self.device)?;
        let mut x = self
            .p("model.embed_tokens.weight")?
            .index_select(&batch.ids.flatten_all()?, 0)?;
        if c.family.scales_embeddings() {
            // As the evaluation model: `sqrt(hidden_size)` rounded to f32.
            x = (x * ((c.hidden_size as f64).sqrt() as f32) as f64)?;
        }
        let gemma2 = c.family == Family::Gemma2;
        let norm = |x: &Tensor, name: &str| -> Result<Tensor> {
            let mut w = self.p(name)?;
            if c.family.norm_adds_one() {
                w = (w + 1.0)?;
            }
            crate::fused::rms_norm(x, &w, eps)
        };
        let (q_out, kv_out) = (heads * d, kvh * d);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let normed = norm(&x, &format!("{p}.input_layernorm.weight"))?;
            let heads_of = |y: Tensor, n: usize| -> Result<Tensor> {
                Ok(y.reshape((b, len, n, d))?.transpose(1, 2)?.contiguous()?)
            };
            let (q, k, v) = if c.family == Family::Phi3 {
                let qkv = self.linear(&normed, &format!("{p}.self_attn.qkv_proj"))?;
                (
                    qkv.narrow(1, 0, q_out)?,
                    qkv.narrow(1, q_out, kv_out)?,
                    qkv.narrow(1, q_out + kv_out, kv_out)?,
                )
            } else {
                let proj = |name: &str| self.linear(&normed, &format!("{p}.self_attn.{name}"));
                (proj("q_proj")?, proj("k_proj")?, proj("v_proj")?)
            };
            let q = crate::fused::rope_heads(&q, &cos, &sin, b, heads)?;
            let k = crate::fused::rope_heads(&k, &cos, &sin, b, kvh)?;
            let v = heads_of(v, kvh)?;
            // Heads sharing a kv head are stacked as rows, as in the evaluation model.
            let q = q.reshape((b, kvh, group * len, d))?;
            let out = self
                .attend(&q, &k, &v, i, len)?
                .reshape((b, heads, len, d))?
                .transpose(1, 2)?
                .reshape((b * len, heads * d))?;
            let mut attn = self.linear(&out, &format!("{p}.self_attn.o_proj"))?;
            if gemma2 {
                attn = norm(&attn, &format!("{p}.post_attention_layernorm.weight"))?;
            }
            x = (x + attn)?;
            let mlp_norm = if gemma2 {
                "pre_feedforward_layernorm"
            } else {
                "post_attention_layernorm"
            };
            let normed = norm(&x, &format!("{p}.{mlp_norm}.weight"))?;
            let inter = c.intermediate_size;
            let (gate, up) = if c.family == Family::Phi3 {
                let gate_up = self.linear(&normed, &format!("{p}.mlp.gate_up_proj"))?;
                (
                    gate_up.narrow(1, 0, inter)?,
                    gate_up.narrow(1, inter, inter)?,
                )
            } else {
                (
                    self.linear(&normed, &format!("{p}.mlp.gate_proj"))?,
                    self.linear(&normed, &format!("{p}.mlp.up_proj"))?,
                )
            };
            let hidden = match c.hidden_act {
                Activation::Silu => crate::fused::silu_mul(&gate, &up)?,
                Activation::GeluTanh => (gate.gelu()? * up)?,
            };
            let mut mlp = self.linear(&hidden, &format!("{p}.mlp.down_proj"))?;
            if gemma2 {
                mlp = norm(&mlp, &format!("{p}.post_feedforward_layernorm.weight"))?;
            }
            x = (x + mlp)?;
        }
        let rows = x.index_select(&batch.rows, 0)?;
        let normed = norm(&rows, "model.norm.weight")?;
        let head = if c.tie_word_embeddings {
            "model.embed_tokens.weight"
        } else {
            "lm_head.weight"
        };
        let mut logits = self.base_product(&normed, head)?;
        if let Some(cap) = c.final_logit_softcapping {
            logits = softcap(&logits, cap)?;
        }
        crate::fused::weighted_nll(&logits, &batch.targets, &batch.weights)
    }

    /// Every weight under its transformers name, with the adapters merged in
    /// (`W + (α/r)·B·A`): what the model computes, as a plain checkpoint.
    pub fn merged_weights(&self) -> Result<BTreeMap<String, Tensor>> {
        let mut out = BTreeMap::new();
        for (name, var) in &self.params {
            let base = var.as_tensor().detach();
            let merged = match (name.strip_suffix(".weight"), &self.lora) {
                (Some(proj), Some(lora)) => match self.adapters.get(proj) {
                    Some(adapter) => (base + adapter.delta(lora.scale())?)?,
                    None => base,
                },
                _ => base,
            };
            out.insert(name.clone(), merged);
        }
        Ok(out)
    }

    /// Writes the (merged) weights as `model.safetensors` in `dtype`, with transformers' names.
    pub fn save_weights(&self, path: &Path, dtype: DType) -> Result<()> {
        let mut tensors = std::collections::HashMap::new();
        for (name, tensor) in self.merged_weights()? {
            tensors.insert(name, tensor.to_dtype(dtype)?);
        }
        arena_model::tensor::safetensors::save(&tensors, path)
            .map_err(|e| crate::error::weights_error(path, e))?;
        Ok(())
    }
}

/// Builds a right-padded batch from `(ids, first_target)` sequences, weighting each scored
/// token by 1 / (sequences · its sequence's scored tokens): the per-sample mean, then the mean
/// over samples, exactly as `reference_loss` scores.
pub fn make_batch(seqs: &[(&[u32], usize)], pad: u32, device: &Device) -> Result<Batch> {
    let len = seqs.iter().map(|(ids, _)| ids.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(seqs.len() * len);
    let (mut rows, mut targets, mut weights) = (Vec::new(), Vec::new(), Vec::new());
    for (s, (seq, first)) in seqs.iter().enumerate() {
        if *first == 0 || *first >= seq.len() {
            return Err(ModelError::Config(format!(
                "sequence {s} has no token to score"
            )));
        }
        let scored = seq.len() - first;
        let w = 1.0 / (seqs.len() * scored) as f32;
        for (t, &target) in seq.iter().enumerate().skip(*first) {
            rows.push((s * len + t - 1) as u32);
            targets.push(target);
            weights.push(w);
        }
        ids.extend_from_slice(seq);
        ids.extend(std::iter::repeat_n(pad, len - seq.len()));
    }
    let scored = rows.len();
    Ok(Batch {
        ids: Tensor::from_vec(ids, (seqs.len(), len), device)?,
        rows: Tensor::from_vec(rows, scored, device)?,
        targets: Tensor::from_vec(targets, scored, device)?,
        weights: Tensor::from_vec(weights, scored, device)?,
        scored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::max_abs_diff;
    use arena_model::tensor::D;

    /// The attention this model computed before the blockwise kernel (in f32): the whole score
    /// matrix, an additive −∞ mask and candle's softmax, differentiated by autograd.
    pub(super) fn naive_attention(
        model: &TrainModel,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        spec: &Attention,
    ) -> Result<Tensor> {
        let (rows, keys) = (q.dim(2)?, k.dim(2)?);
        let mut scores = (model.mm_t(q, k)? * spec.scale as f64)?;
        if let Some(cap) = spec.softcap {
            scores = arena_model::kernels::softcap(&scores, cap as f64)?;
        }
        let bias: Vec<f32> = (0..rows)
            .flat_map(|r| {
                let (lo, hi) = spec.mask.range(r);
                (0..keys).map(move |j| {
                    if j >= lo && j < hi {
                        0.0
                    } else {
                        f32::NEG_INFINITY
                    }
                })
            })
            .collect();
        let bias = Tensor::from_vec(bias, (rows, keys), q.device())?;
        let probs = arena_model::tensor::ops::softmax(&scores.broadcast_add(&bias)?, D::Minus1)?;
        Ok(probs.matmul(v)?)
    }

    /// Loss and the gradient of every trainable variable, by name.
    fn loss_and_grads(model: &TrainModel, batch: &Batch) -> (f32, BTreeMap<String, Tensor>) {
        let loss = model.loss(batch).unwrap();
        let grads = loss.backward().unwrap();
        let by_name = model
            .trainable()
            .into_iter()
            .map(|(name, var)| (name, grads.get(var.as_tensor()).unwrap().clone()))
            .collect();
        (loss.to_scalar::<f32>().unwrap(), by_name)
    }

    fn test_batch() -> Batch {
        let seqs: Vec<Vec<u32>> = [37usize, 23, 9]
            .iter()
            .enumerate()
            .map(|(s, &n)| {
                (0..n)
                    .map(|t| ((t * 37 + s * 101) % 1000) as u32 + 3)
                    .collect()
            })
            .collect();
        let pairs: Vec<(&[u32], usize)> = seqs.iter().map(|s| (s.as_slice(), 4)).collect();
        make_batch(&pairs, 0, &Device::Cpu).unwrap()
    }

    /// The fused ops (`crate::fused`) give the loss and every gradient of the candle graph they
    /// replace, through whole models: Llama, Gemma 2 (extra norms, soft-caps) and Phi-3 (fused
    /// projections split with `narrow`), fully and under LoRA (frozen products).
    #[test]
    fn fused_ops_give_the_gradients_of_the_candle_graph() {
        let batch = test_batch();
        for name in ["tiny-llama", "tiny-gemma2", "tiny-phi3"] {
            let dir = arena_testkit::fixtures::fixtures().join(name);
            let mut model = TrainModel::load(&dir, &Device::Cpu).unwrap();
            let lora_too = name != "tiny-phi3";
            for lora in [false, true].into_iter().filter(|&l| !l || lora_too) {
                if lora {
                    model
                        .enable_lora(&LoraConfig::all_projections(4, 8.0, 7))
                        .unwrap();
                    // A non-zero B, so the adapters' gradients are not trivially equal.
                    for adapter in model.adapters.values() {
                        let b = adapter.b.as_tensor();
                        adapter
                            .b
                            .set(&(b.ones_like().unwrap() * 0.01).unwrap())
                            .unwrap();
                    }
                }
                crate::fused::tests::PLAIN_OPS.with(|plain| plain.set(true));
                let (want_loss, want) = loss_and_grads(&model, &batch);
                crate::fused::tests::PLAIN_OPS.with(|plain| plain.set(false));
                let (loss, got) = loss_and_grads(&model, &batch);
                assert!(
                    (loss - want_loss).abs() <= 1e-5,
                    "{name} lora {lora}: loss {loss} vs {want_loss}"
                );
                assert_eq!(got.len(), want.len());
                for (param, g) in &got {
                    let diff = max_abs_diff(g, &want[param]);
                    assert!(
                        diff <= 1e-5,
                        "{name} lora {lora}: gradient of {param} differs by {diff}"
                    );
                }
            }
        }
    }

    /// The blockwise kernel (forced to blocks far shorter than the sequences, with and without
    /// a sliding window) gives the loss and every gradient of the full-matrix attention.
    #[test]
    fn blockwise_attention_gives_the_gradients_of_the_full_score_matrix() {
        let dir = arena_testkit::fixtures::fixtures().join("tiny-llama");
        let seqs: Vec<Vec<u32>> = [37usize, 23, 9]
            .iter()
            .enumerate()
            .map(|(s, &n)| {
                (0..n)
                    .map(|t| ((t * 37 + s * 101) % 1000) as u32 + 3)
                    .collect()
            })
            .collect();
        let pairs: Vec<(&[u32], usize)> = seqs.iter().map(|s| (s.as_slice(), 4)).collect();
        for window in [None, Some(6)] {
            let mut model = TrainModel::load(&dir, &Device::Cpu).unwrap();
            if window.is_some() {
                model.config.layer_windows = vec![window; model.config.num_hidden_layers];
            }
            let batch = make_batch(&pairs, 0, &Device::Cpu).unwrap();
            model.naive_attention = true;
            let (want_loss, want) = loss_and_grads(&model, &batch);
            model.naive_attention = false;
            for block in [Some(5), Some(1), None] {
                model.attention_block = block;
                let (loss, got) = loss_and_grads(&model, &batch);
                assert!(
                    (loss - want_loss).abs() <= 1e-5,
                    "window {window:?} block {block:?}: loss {loss} vs {want_loss}"
                );
                for (name, g) in &got {
                    let diff = max_abs_diff(g, &want[name]);
                    assert!(
                        diff <= 1e-5,
                        "window {window:?} block {block:?}: gradient of {name} differs by {diff}"
                    );
                }
            }
        }
    }
}
