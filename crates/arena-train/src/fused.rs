//! Differentiable operations with hand-written backward passes, where candle's autograd does
//! work the trainer does not need.
//!
//! * [`matmul_t`]: `x · Wᵀ` whose backward writes the weight's gradient as one contiguous
//!   product (candle's comes out transposed and is added up through a strided copy), and
//!   [`frozen_matmul_t`], whose backward computes only the gradient of `x`: candle's matmul
//!   backward always computes both operands' gradients, so under LoRA every frozen projection
//!   (and the LM head) cost one product more than in a full fine-tune.
//! * [`weighted_nll`]: `−Σ wᵣ · log softmax(logitsᵣ)[targetᵣ]` as one operation: the forward is
//!   the evaluation engine's per-row cross-entropy kernel, the backward writes
//!   `wᵣ · (softmax − onehot)` in one pass. candle's `log_softmax`, `gather` and their
//!   backward pass over the `[rows, vocab]` logits about a dozen times.
//! * [`rms_norm`]: RMSNorm `x / √(mean(x²) + ε) · w` forward in one pass and backward (both
//!   gradients) in one more, where `rms_norm_slow` is 6 candle ops and about 15 in backward.
//! * [`silu_mul`]: the SwiGLU gate `silu(gate) · up`, forward and backward in one pass each.
//! * [`rope_heads`]: a projection's `[b·len, heads·d]` rows split into `[b, heads, len, d]` heads
//!   and rotated, in one pass (and its backward in one), where the candle graph copies the
//!   transposed heads and then runs `rope_slow`'s 7 ops and about a dozen in backward.
//!
//! Both run on the CPU in f32; on any other device or dtype they fall back to the candle ops
//! they replace (same results, autograd's cost).

use arena_model::kernels::{cross_entropy_rows, fast_exp};
use arena_model::tensor::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Device, Layout, Shape, Tensor, D,
};
use arena_model::{ModelError, Result};
use rayon::prelude::*;

/// Logit elements below which [`weighted_nll`]'s backward stays on one thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 18;

fn op_error(message: String) -> arena_model::tensor::Error {
    arena_model::tensor::Error::Msg(message)
}

/// The f32 slice a CPU storage holds under a contiguous layout.
fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> arena_model::tensor::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        return Err(op_error(format!("{op} needs f32 input")));
    };
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| op_error(format!("{op} needs a contiguous input")))?;
    Ok(&data[start..end])
}

fn fused_cpu(t: &Tensor) -> bool {
    #[cfg(test)]
    if tests::PLAIN_OPS.with(|plain| plain.get()) {
        return false;
    }
    matches!(t.device(), Device::Cpu) && t.dtype() == DType::F32
}

/// `x · Wᵀ` (`x` `[n, in]`, `w` `[out, in]`) with both gradients, each a contiguous product:
/// `grad · W` and `gradᵀ · x`. candle's matmul of `W.t()` returns the weight's gradient
/// transposed, which autograd then adds up through a strided (unvectorised) copy.
pub fn matmul_t(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if !fused_cpu(x) || !fused_cpu(w) || x.rank() != 2 || w.rank() != 2 {
        return Ok(x.matmul(&w.t()?)?);
    }
    let value = x.detach().matmul(&w.detach().t()?)?;
    Ok(x.apply_op2(w, Product::new(value, true))?)
}

/// [`matmul_t`] with a gradient for `x` only; `w` is treated as a constant (a frozen weight).
pub fn frozen_matmul_t(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let w = w.detach();
    if !fused_cpu(x) || !fused_cpu(&w) || x.rank() != 2 || w.rank() != 2 {
        // Other devices: the plain product (its weight gradient is computed and dropped).
        return Ok(x.matmul(&w.t()?)?);
    }
    let value = x.detach().matmul(&w.t()?)?;
    Ok(x.apply_op2(&w, Product::new(value, false))?)
}

/// Forward: the product candle computed before the call (moved out, so the graph does not
/// keep a second copy of it); backward: `grad · W` and, unless the weight is frozen, `gradᵀ · x`.
struct Product {
    value: std::sync::Mutex<Option<Tensor>>,
    weight_grad: bool,
}

impl Product {
    fn new(value: Tensor, weight_grad: bool) -> Product {
        Product {
            value: std::sync::Mutex::new(Some(value)),
            weight_grad,
        }
    }
}

impl CustomOp2 for Product {
    fn name(&self) -> &'static str {
        "matmul-t"
    }

    fn cpu_fwd(
        &self,
        _x: &CpuStorage,
        _xl: &Layout,
        _w: &CpuStorage,
        _wl: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let value = self
            .value
            .lock()
            .map_err(|_| op_error("matmul-t: state poisoned".into()))?
            .take()
            .ok_or_else(|| op_error("matmul-t: the forward pass ran twice".into()))?;
        let data = value.flatten_all()?.to_vec1::<f32>()?;
        Ok((CpuStorage::F32(data), value.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> arena_model::tensor::Result<(Option<Tensor>, Option<Tensor>)> {
        let dx = grad.matmul(w)?;
        let dw = match self.weight_grad {
            true => Some(grad.t()?.matmul(x)?),
            false => None,
        };
        Ok((Some(dx), dw))
    }
}

/// `−Σᵣ weights[r] · log softmax(logits[r])[targets[r]]`, a scalar, for `logits` `[rows, vocab]`
/// and `targets`/`weights` `[rows]`.
pub fn weighted_nll(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<Tensor> {
    if !fused_cpu(logits) || weights.dtype() != DType::F32 {
        let logp = arena_model::tensor::ops::log_softmax(logits, D::Minus1)?;
        let picked = logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
        return Ok((picked * weights)?.sum_all()?.neg()?);
    }
    let logits = logits.contiguous()?;
    let targets = targets.to_vec1::<u32>()?;
    let weights = weights.to_vec1::<f32>()?;
    if weights.len() != targets.len() {
        return Err(ModelError::Config(format!(
            "{} loss weights for {} targets",
            weights.len(),
            targets.len()
        )));
    }
    // Checks the shapes and the target range too.
    let nll = cross_entropy_rows(&logits, &targets)?;
    let value = nll
        .iter()
        .zip(&weights)
        .map(|(&l, &w)| f64::from(l) * f64::from(w))
        .sum::<f64>() as f32;
    Ok(logits.apply_op1(WeightedNll {
        targets,
        weights,
        nll,
        value,
    })?)
}

/// Forward: the loss computed before the call; backward: [`NllGrad`].
struct WeightedNll {
    targets: Vec<u32>,
    weights: Vec<f32>,
    nll: Vec<f32>,
    value: f32,
}

impl CustomOp1 for WeightedNll {
    fn name(&self) -> &'static str {
        "weighted-nll"
    }

    fn cpu_fwd(
        &self,
        _logits: &CpuStorage,
        _layout: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        Ok((CpuStorage::F32(vec![self.value]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> arena_model::tensor::Result<Option<Tensor>> {
        let scale = grad.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        let grad = logits.apply_op1_no_bwd(&NllGrad { loss: self, scale })?;
        Ok(Some(grad))
    }
}

/// `scale · wᵣ · (softmax(logitsᵣ) − onehot(targetᵣ))`, each row's log-sum-exp recovered from
/// its forward loss (`lse = nll + logit[target]`) so the logits are read once.
struct NllGrad<'a> {
    loss: &'a WeightedNll,
    scale: f32,
}

impl CustomOp1 for NllGrad<'_> {
    fn name(&self) -> &'static str {
        "weighted-nll-grad"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let logits = contiguous_f32(storage, layout, self.name())?;
        let (rows, vocab) = layout.shape().dims2()?;
        let WeightedNll {
            targets,
            weights,
            nll,
            ..
        } = self.loss;
        if targets.len() != rows || rows * vocab != logits.len() {
            return Err(op_error(format!(
                "{rows} logit rows for {} targets",
                targets.len()
            )));
        }
        let mut out = vec![0f32; logits.len()];
        let row_grad = |(r, (dst, row)): (usize, (&mut [f32], &[f32]))| {
            let target = targets[r] as usize;
            let lse = nll[r] + row[target];
            let w = self.scale * weights[r];
            for (d, &x) in dst.iter_mut().zip(row) {
                *d = w * fast_exp(x - lse);
            }
            dst[target] -= w;
        };
        if logits.len() >= PARALLEL_MIN_ELEMENTS {
            out.par_chunks_mut(vocab)
                .zip(logits.par_chunks(vocab))
                .enumerate()
                .for_each(row_grad);
        } else {
            out.chunks_mut(vocab)
                .zip(logits.chunks(vocab))
                .enumerate()
                .for_each(row_grad);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// Splits the `[2, …]` output of a backward kernel into its two gradients.
fn two_grads(both: Tensor) -> arena_model::tensor::Result<(Option<Tensor>, Option<Tensor>)> {
    Ok((Some(both.get(0)?), Some(both.get(1)?)))
}

/// RMSNorm of the rows of `x` `[n, h]` with weight `w` `[h]`, in f32 as candle-nn's
/// `rms_norm_slow` computes it (mean of squares, plus ε, square root, divide, times `w`).
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f32) -> Result<Tensor> {
    if !fused_cpu(x) || !fused_cpu(w) || x.rank() != 2 || w.rank() != 1 {
        return Ok(arena_model::tensor::ops::rms_norm_slow(x, w, eps)?);
    }
    Ok(x.contiguous()?
        .apply_op2(&w.contiguous()?, RmsNorm { eps })?)
}

struct RmsNorm {
    eps: f32,
}

impl RmsNorm {
    /// `√(mean(row²) + ε)`.
    fn root(&self, row: &[f32]) -> f32 {
        let sum: f32 = row.iter().map(|v| v * v).sum();
        (sum * (1.0 / row.len() as f32) + self.eps).sqrt()
    }
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let (x, w) = (
            contiguous_f32(xs, xl, self.name())?,
            contiguous_f32(ws, wl, self.name())?,
        );
        let (_, h) = xl.shape().dims2()?;
        if w.len() != h {
            return Err(op_error(format!(
                "rms-norm: {h} columns, weight of {}",
                w.len()
            )));
        }
        let mut out = vec![0f32; x.len()];
        for (dst, row) in out.chunks_mut(h).zip(x.chunks(h)) {
            let root = self.root(row);
            for ((d, &v), &wi) in dst.iter_mut().zip(row).zip(w) {
                *d = v / root * wi;
            }
        }
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> arena_model::tensor::Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, h) = x.dims2()?;
        let both = x.apply_op3_no_bwd(w, &grad.contiguous()?, &RmsNormGrad { norm: self })?;
        let dx = both.narrow(0, 0, n * h)?.reshape((n, h))?;
        let dw = both.narrow(0, n * h, h)?;
        Ok((Some(dx), Some(dw)))
    }
}

/// `dx = (w·g − x̂ · mean(x̂·w·g)) / root` per row and `dw = Σ_rows g·x̂` (`x̂ = x / root`),
/// written as one flat buffer: `dx` then `dw`.
struct RmsNormGrad<'a> {
    norm: &'a RmsNorm,
}

impl CustomOp3 for RmsNormGrad<'_> {
    fn name(&self) -> &'static str {
        "rms-norm-grad"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let (x, w, g) = (
            contiguous_f32(xs, xl, self.name())?,
            contiguous_f32(ws, wl, self.name())?,
            contiguous_f32(gs, gl, self.name())?,
        );
        let (n, h) = xl.shape().dims2()?;
        if w.len() != h || g.len() != x.len() {
            return Err(op_error("rms-norm-grad: shapes differ".into()));
        }
        let mut out = vec![0f32; n * h + h];
        let (dx, dw) = out.split_at_mut(n * h);
        for ((dst, row), grow) in dx.chunks_mut(h).zip(x.chunks(h)).zip(g.chunks(h)) {
            let inv = 1.0 / self.norm.root(row);
            let mut dot = 0f32;
            for ((&v, &gi), &wi) in row.iter().zip(grow).zip(w) {
                dot += v * inv * wi * gi;
            }
            let mean = dot / h as f32;
            for ((((d, &v), &gi), &wi), dwi) in
                dst.iter_mut().zip(row).zip(grow).zip(w).zip(dw.iter_mut())
            {
                let normed = v * inv;
                *d = (wi * gi - normed * mean) * inv;
                *dwi += gi * normed;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(n * h + h)))
    }
}

/// `silu(gate) · up` for two `[n, i]` tensors.
pub fn silu_mul(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if !fused_cpu(gate) || !fused_cpu(up) || gate.shape() != up.shape() {
        return Ok((gate.silu()? * up)?);
    }
    Ok(gate.contiguous()?.apply_op2(&up.contiguous()?, SiluMul)?)
}

/// The logistic function, from `e^(−|g|)` so the fast exp only sees non-positive input.
fn sigmoid(g: f32) -> f32 {
    let e = fast_exp(-g.abs());
    if g >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

struct SiluMul;

impl CustomOp2 for SiluMul {
    fn name(&self) -> &'static str {
        "silu-mul"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let (gate, up) = (
            contiguous_f32(gs, gl, self.name())?,
            contiguous_f32(us, ul, self.name())?,
        );
        let out = gate
            .iter()
            .zip(up)
            .map(|(&g, &u)| g * sigmoid(g) * u)
            .collect();
        Ok((CpuStorage::F32(out), gl.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> arena_model::tensor::Result<(Option<Tensor>, Option<Tensor>)> {
        two_grads(gate.apply_op3_no_bwd(up, &grad.contiguous()?, &SiluMulGrad)?)
    }
}

/// `d gate = grad · up · σ(g)(1 + g(1 − σ(g)))` and `d up = grad · silu(g)`, stacked `[2, …]`.
struct SiluMulGrad;

impl CustomOp3 for SiluMulGrad {
    fn name(&self) -> &'static str {
        "silu-mul-grad"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
        ds: &CpuStorage,
        dl: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let (gate, up, grad) = (
            contiguous_f32(gs, gl, self.name())?,
            contiguous_f32(us, ul, self.name())?,
            contiguous_f32(ds, dl, self.name())?,
        );
        if up.len() != gate.len() || grad.len() != gate.len() {
            return Err(op_error("silu-mul-grad: shapes differ".into()));
        }
        let n = gate.len();
        let mut out = vec![0f32; 2 * n];
        let (d_gate, d_up) = out.split_at_mut(n);
        for i in 0..n {
            let (g, s) = (gate[i], sigmoid(gate[i]));
            d_gate[i] = grad[i] * up[i] * s * (1.0 + g * (1.0 - s));
            d_up[i] = grad[i] * g * s;
        }
        let mut dims = vec![2];
        dims.extend_from_slice(gl.shape().dims());
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

/// Rotary embedding of a projection `y` `[batch·len, heads·d]` (rows batch-major), returned as
/// heads `[batch, heads, len, d]`: what `rope_slow` gives on `y` reshaped to
/// `[batch, len, heads, d]` and transposed, with `cos`/`sin` `[len, d/2]` (the halves layout).
pub fn rope_heads(
    y: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    batch: usize,
    heads: usize,
) -> Result<Tensor> {
    let (rows, width) = y.dims2()?;
    let (len, half) = cos.dims2()?;
    let d = 2 * half;
    if rows != batch * len || width != heads * d || sin.dims2()? != (len, half) {
        return Err(ModelError::Config(format!(
            "rope: rows {rows} × {width} do not split into {batch} × {len} positions of {heads} \
             heads of {d}"
        )));
    }
    if !fused_cpu(y) || !fused_cpu(cos) || !fused_cpu(sin) {
        let x = y
            .reshape((batch, len, heads, d))?
            .transpose(1, 2)?
            .contiguous()?;
        return Ok(arena_model::tensor::ops::rope_slow(&x, cos, sin)?);
    }
    let op = RopeHeads {
        cos: cos.flatten_all()?.to_vec1::<f32>()?,
        sin: sin.flatten_all()?.to_vec1::<f32>()?,
        batch,
        len,
        heads,
        half,
    };
    Ok(y.contiguous()?.apply_op1(op)?)
}

struct RopeHeads {
    cos: Vec<f32>,
    sin: Vec<f32>,
    batch: usize,
    len: usize,
    heads: usize,
    half: usize,
}

impl RopeHeads {
    /// Rotates every `d`-wide head of `src` by `sign · angle` and moves it between the row
    /// layout `[batch·len, heads·d]` and the head layout `[batch, heads, len, d]`
    /// (`to_heads` says which way).
    fn apply(
        &self,
        src: &[f32],
        sign: f32,
        to_heads: bool,
    ) -> arena_model::tensor::Result<Vec<f32>> {
        let (h, d, len) = (self.half, 2 * self.half, self.len);
        if src.len() != self.batch * len * self.heads * d {
            return Err(op_error("rope: input size changed".into()));
        }
        let mut out = vec![0f32; src.len()];
        for b in 0..self.batch {
            for head in 0..self.heads {
                for t in 0..len {
                    let row = (b * len + t) * self.heads * d + head * d;
                    let headed = ((b * self.heads + head) * len + t) * d;
                    let (from, to) = if to_heads {
                        (row, headed)
                    } else {
                        (headed, row)
                    };
                    let (cos, sin) = (&self.cos[t * h..(t + 1) * h], &self.sin[t * h..(t + 1) * h]);
                    for j in 0..h {
                        let (x1, x2) = (src[from + j], src[from + h + j]);
                        let s = sign * sin[j];
                        out[to + j] = x1 * cos[j] - x2 * s;
                        out[to + h + j] = x2 * cos[j] + x1 * s;
                    }
                }
            }
        }
        Ok(out)
    }
}

impl CustomOp1 for RopeHeads {
    fn name(&self) -> &'static str {
        "rope-heads"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let y = contiguous_f32(storage, layout, self.name())?;
        let out = self.apply(y, 1.0, true)?;
        let shape = Shape::from((self.batch, self.heads, self.len, 2 * self.half));
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        y: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> arena_model::tensor::Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let back = grad.apply_op1_no_bwd(&RopeHeadsGrad { rope: self })?;
        Ok(Some(back.reshape(y.shape())?))
    }
}

/// The transpose of [`RopeHeads`]: the inverse rotation (the rotation is orthogonal), back to
/// the row layout.
struct RopeHeadsGrad<'a> {
    rope: &'a RopeHeads,
}

impl CustomOp1 for RopeHeadsGrad<'_> {
    fn name(&self) -> &'static str {
        "rope-heads-grad"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> arena_model::tensor::Result<(CpuStorage, Shape)> {
        let g = contiguous_f32(storage, layout, self.name())?;
        let r = self.rope;
        let out = r.apply(g, -1.0, false)?;
        let shape = Shape::from((r.batch * r.len, r.heads * 2 * r.half));
        Ok((CpuStorage::F32(out), shape))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_util::max_abs_diff;
    use arena_model::tensor::Var;

    thread_local! {
        /// Set: every op of this module takes its candle-graph fallback (the model-level test
        /// compares the two).
        pub(crate) static PLAIN_OPS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 20_001) as f32 / 10_000.0 - 1.0
            })
            .collect()
    }

    /// The loss and the logits' gradient equal candle's log_softmax + gather graph (1e-5),
    /// with uneven weights and a repeated target.
    #[test]
    fn weighted_nll_matches_the_candle_graph() {
        let dev = Device::Cpu;
        let (rows, vocab) = (5, 37);
        let scaled: Vec<f32> = values(rows * vocab, 3).iter().map(|v| v * 8.0).collect();
        let logits =
            Var::from_tensor(&Tensor::from_vec(scaled, (rows, vocab), &dev).unwrap()).unwrap();
        let targets = Tensor::new(&[3u32, 36, 0, 3, 17], &dev).unwrap();
        let weights = Tensor::new(&[0.1f32, 0.3, 0.2, 0.25, 0.15], &dev).unwrap();
        // The candle graph, times 3 so the incoming gradient is not 1.
        let logp = arena_model::tensor::ops::log_softmax(logits.as_tensor(), D::Minus1).unwrap();
        let picked = logp
            .gather(&targets.unsqueeze(1).unwrap(), 1)
            .unwrap()
            .squeeze(1)
            .unwrap();
        let want = ((picked * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .neg()
            .unwrap()
            * 3.0)
            .unwrap();
        let got = (weighted_nll(logits.as_tensor(), &targets, &weights).unwrap() * 3.0).unwrap();
        let (want_value, got_value) = (
            want.to_scalar::<f32>().unwrap(),
            got.to_scalar::<f32>().unwrap(),
        );
        assert!(
            (want_value - got_value).abs() <= 1e-5,
            "{got_value} vs {want_value}"
        );
        let want_grad = want.backward().unwrap();
        let got_grad = got.backward().unwrap();
        let (want_grad, got_grad) = (
            want_grad.get(logits.as_tensor()).unwrap(),
            got_grad.get(logits.as_tensor()).unwrap(),
        );
        let diff = max_abs_diff(want_grad, got_grad);
        assert!(diff <= 1e-5, "gradient differs by {diff}");
        // A target outside the vocabulary is an error, not a panic.
        let bad = Tensor::new(&[3u32, 37, 0, 3, 17], &dev).unwrap();
        assert!(weighted_nll(logits.as_tensor(), &bad, &weights).is_err());
    }

    /// The product and both gradients equal candle's `x.matmul(w.t())` graph.
    #[test]
    fn product_gives_the_gradients_of_candles_matmul() {
        let dev = Device::Cpu;
        let x =
            Var::from_tensor(&Tensor::from_vec(values(6 * 9, 1), (6, 9), &dev).unwrap()).unwrap();
        let w =
            Var::from_tensor(&Tensor::from_vec(values(4 * 9, 2), (4, 9), &dev).unwrap()).unwrap();
        let probe = Tensor::from_vec(values(6 * 4, 5), (6, 4), &dev).unwrap();
        let want = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap();
        let got = matmul_t(x.as_tensor(), w.as_tensor()).unwrap();
        assert!(max_abs_diff(&want, &got) <= 1e-6);
        let want = probe_grads(&want, &probe, &[&x, &w]);
        let got = probe_grads(&got, &probe, &[&x, &w]);
        for (name, (a, b)) in ["x", "w"].iter().zip(want.iter().zip(&got)) {
            assert!(b.is_contiguous(), "gradient of {name} is strided");
            let diff = max_abs_diff(a, b);
            assert!(diff <= 1e-5, "gradient of {name} differs by {diff}");
        }
    }

    /// The product equals candle's, the gradient of `x` equals candle's, and `w` gets none.
    #[test]
    fn frozen_product_gives_the_input_gradient_only() {
        let dev = Device::Cpu;
        let x =
            Var::from_tensor(&Tensor::from_vec(values(6 * 9, 1), (6, 9), &dev).unwrap()).unwrap();
        let w =
            Var::from_tensor(&Tensor::from_vec(values(4 * 9, 2), (4, 9), &dev).unwrap()).unwrap();
        let probe = Tensor::from_vec(values(6 * 4, 5), (6, 4), &dev).unwrap();
        let want = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap();
        let got = frozen_matmul_t(x.as_tensor(), w.as_tensor()).unwrap();
        assert!(max_abs_diff(&want, &got) <= 1e-6);
        let want_grads = (want * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let got_grads = (got * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let diff = max_abs_diff(
            want_grads.get(x.as_tensor()).unwrap(),
            got_grads.get(x.as_tensor()).unwrap(),
        );
        assert!(diff <= 1e-5, "input gradient differs by {diff}");
        assert!(want_grads.get(w.as_tensor()).is_some());
        assert!(got_grads.get(w.as_tensor()).is_none());
    }

    /// Loss `Σ probe · f(inputs)` and the gradient of every input, for comparing graphs.
    fn probe_grads(out: &Tensor, probe: &Tensor, inputs: &[&Var]) -> Vec<Tensor> {
        let grads = (out * probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        inputs
            .iter()
            .map(|v| grads.get(v.as_tensor()).unwrap().clone())
            .collect()
    }

    /// RMSNorm's output and both gradients equal candle-nn's `rms_norm_slow` graph (1e-5).
    #[test]
    fn rms_norm_matches_the_candle_graph() {
        let dev = Device::Cpu;
        let (n, h) = (7, 24);
        let x =
            Var::from_tensor(&Tensor::from_vec(values(n * h, 11), (n, h), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::from_vec(values(h, 12), h, &dev).unwrap()).unwrap();
        let probe = Tensor::from_vec(values(n * h, 13), (n, h), &dev).unwrap();
        let want =
            arena_model::tensor::ops::rms_norm_slow(x.as_tensor(), w.as_tensor(), 1e-5).unwrap();
        let got = rms_norm(x.as_tensor(), w.as_tensor(), 1e-5).unwrap();
        assert!(max_abs_diff(&want, &got) <= 1e-5);
        let want = probe_grads(&want, &probe, &[&x, &w]);
        let got = probe_grads(&got, &probe, &[&x, &w]);
        for (name, (a, b)) in ["x", "w"].iter().zip(want.iter().zip(&got)) {
            let diff = max_abs_diff(a, b);
            assert!(diff <= 1e-5, "gradient of {name} differs by {diff}");
        }
        // Mismatched widths are an error, not a panic.
        let short = Tensor::from_vec(values(h - 1, 12), h - 1, &dev).unwrap();
        assert!(rms_norm(x.as_tensor(), &short, 1e-5).is_err());
    }

    /// `silu(gate) · up` and both gradients equal candle's `silu` and `mul` graph (1e-5).
    #[test]
    fn silu_mul_matches_the_candle_graph() {
        let dev = Device::Cpu;
        let (n, i) = (5, 19);
        let scaled: Vec<f32> = values(n * i, 21).iter().map(|v| v * 6.0).collect();
        let gate = Var::from_tensor(&Tensor::from_vec(scaled, (n, i), &dev).unwrap()).unwrap();
        let up =
            Var::from_tensor(&Tensor::from_vec(values(n * i, 22), (n, i), &dev).unwrap()).unwrap();
        let probe = Tensor::from_vec(values(n * i, 23), (n, i), &dev).unwrap();
        let want = (gate.as_tensor().silu().unwrap() * up.as_tensor()).unwrap();
        let got = silu_mul(gate.as_tensor(), up.as_tensor()).unwrap();
        assert!(max_abs_diff(&want, &got) <= 1e-5);
        let want = probe_grads(&want, &probe, &[&gate, &up]);
        let got = probe_grads(&got, &probe, &[&gate, &up]);
        for (name, (a, b)) in ["gate", "up"].iter().zip(want.iter().zip(&got)) {
            let diff = max_abs_diff(a, b);
            assert!(diff <= 1e-5, "gradient of {name} differs by {diff}");
        }
    }

    /// Heads and rotation equal the reshape, transpose and `rope_slow` graph, and so does the
    /// gradient (1e-5).
    #[test]
    fn rope_heads_matches_the_candle_graph() {
        let dev = Device::Cpu;
        let (batch, len, heads, d) = (2, 5, 3, 8);
        let y = Var::from_tensor(
            &Tensor::from_vec(
                values(batch * len * heads * d, 31),
                (batch * len, heads * d),
                &dev,
            )
            .unwrap(),
        )
        .unwrap();
        let angles: Vec<f32> = (0..len * d / 2).map(|i| i as f32 * 0.37).collect();
        let cos =
            Tensor::from_vec(angles.iter().map(|a| a.cos()).collect(), (len, d / 2), &dev).unwrap();
        let sin =
            Tensor::from_vec(angles.iter().map(|a| a.sin()).collect(), (len, d / 2), &dev).unwrap();
        let probe = Tensor::from_vec(
            values(batch * len * heads * d, 32),
            (batch, heads, len, d),
            &dev,
        )
        .unwrap();
        let x = y
            .as_tensor()
            .reshape((batch, len, heads, d))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap();
        let want = arena_model::tensor::ops::rope_slow(&x, &cos, &sin).unwrap();
        let got = rope_heads(y.as_tensor(), &cos, &sin, batch, heads).unwrap();
        assert_eq!(got.dims(), want.dims());
        assert!(max_abs_diff(&want, &got) <= 1e-6);
        let want = probe_grads(&want, &probe, &[&y]);
        let got = probe_grads(&got, &probe, &[&y]);
        let diff = max_abs_diff(&want[0], &got[0]);
        assert!(diff <= 1e-5, "gradient differs by {diff}");
        assert!(rope_heads(y.as_tensor(), &cos, &sin, batch, heads + 1).is_err());
    }
}
