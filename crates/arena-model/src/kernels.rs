//! Hand-written CPU kernels for the hot spots candle's generic ops handle slowly.
//!
//! * `cross_entropy_rows`: per-row log-sum-exp minus the target logit, in one pass over the
//!   logits, parallel over rows. It never materialises a log_softmax tensor.
//! * `silu_mul`: the SwiGLU gate `silu(gate) * up` from one fused `[n, 2·i]` projection.
//!
//! * `matmul_t_half`: `x · Wᵀ` for a few f32 rows (incremental decoding) against a bf16/f16
//!   matrix, converting each weight row in registers instead of upcasting the whole matrix.
//! * `softcap` and `gated_act`: Gemma's logit soft-capping and gated activations.
//!
//! All fall back to candle ops for tensors that are not on the CPU. `fast_exp` and
//! `CausalMask` are shared with the attention kernel (`crate::attention`).

use candle_core::{DType, Device, Storage, Tensor, D};
use rayon::prelude::*;

use crate::error::{ModelError, Result};

/// Runs `f` on the contiguous f32 data of a CPU tensor.
fn with_cpu_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<Option<R>> {
    if !matches!(t.device(), Device::Cpu) || t.dtype() != DType::F32 {
        return Ok(None);
    }
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Ok(None);
    };
    let data = cpu.as_slice::<f32>()?;
    let start = layout.start_offset();
    let len = layout.shape().elem_count();
    f(&data[start..start + len]).map(Some)
}

/// Negative log-likelihood of `targets[r]` under the softmax of row r of `logits` `[n, V]`.
/// Natural log; the sum of exponentials is accumulated in f64.
pub fn cross_entropy_rows(logits: &Tensor, targets: &[u32]) -> Result<Vec<f32>> {
    let (rows, vocab) = logits.dims2()?;
    if rows != targets.len() {
        return Err(ModelError::Candle(candle_core::Error::Msg(format!(
            "{rows} logit rows for {} targets",
            targets.len()
        ))));
    }
    if let Some(&bad) = targets.iter().find(|&&t| t as usize >= vocab) {
        return Err(ModelError::Candle(candle_core::Error::Msg(format!(
            "target token {bad} is outside the vocabulary of {vocab}"
        ))));
    }
    let fast = with_cpu_slice(logits, |data| {
        Ok(data
            .par_chunks(vocab)
            .zip(targets.par_iter())
            .map(|(row, &target)| row_nll(row, target as usize))
            .collect())
    })?;
    if let Some(out) = fast {
        return Ok(out);
    }
    let lse = logits.exp()?.sum_keepdim(D::Minus1)?.log()?.squeeze(1)?;
    let idx = Tensor::new(targets, logits.device())?.unsqueeze(1)?;
    let picked = logits.gather(&idx, 1)?.squeeze(1)?;
    Ok((lse - picked)?.to_vec1::<f32>()?)
}

/// log Σ exp(row) − row[target], with the max subtracted first for stability.
fn row_nll(row: &[f32], target: usize) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return f32::NAN;
    }
    // Eight partial sums let the compiler vectorise the loop.
    let mut acc = [0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    let mut total = 0f64;
    for (n, chunk) in chunks.enumerate() {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a += fast_exp(x - max);
        }
        // Flush to f64 now and then so long rows keep f32 sums small.
        if n % 64 == 63 {
            total += acc.iter().map(|&a| a as f64).sum::<f64>();
            acc = [0.0; 8];
        }
    }
    total += acc.iter().map(|&a| a as f64).sum::<f64>();
    total += tail.iter().map(|&x| fast_exp(x - max) as f64).sum::<f64>();
    (max as f64 + total.ln() - row[target] as f64) as f32
}

/// e^x for x ≤ 0 (as used after subtracting a max), branch-free so loops vectorise.
/// Relative error below 2e-7 on [-87, 0]; returns 0 below that.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    let x = x.max(-87.0);
    // x = k·ln2 + r with |r| ≤ ln2/2, then e^r by a degree-6 polynomial.
    let k = (x * std::f32::consts::LOG2_E).round();
    let r = x - k * 0.693_145_75 - k * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    let bits = ((k as i32 + 127) as u32) << 23;
    p * f32::from_bits(bits)
}

/// Rows of `x` up to which [`matmul_t_half`] converts weight rows on the fly; above it a
/// whole-matrix upcast and candle's GEMM are faster.
pub const HALF_GEMV_MAX_ROWS: usize = 8;

/// `x · Wᵀ` for `x` `[n, k]` f32 and `W` `[m, k]` bf16 or f16 on the CPU, accumulated in f32;
/// `None` when the operands are not of that kind (the caller then upcasts `W`). Every weight
/// is converted exactly, so the result differs from an f32 GEMM only by summation order.
pub fn matmul_t_half(x: &Tensor, w: &Tensor) -> Result<Option<Tensor>> {
    if !matches!(x.device(), Device::Cpu) || x.dtype() != DType::F32 || x.rank() != 2 {
        return Ok(None);
    }
    let (n, k) = x.dims2()?;
    let (m, k2) = w.dims2()?;
    if k != k2 || n > HALF_GEMV_MAX_ROWS || !w.is_contiguous() {
        return Ok(None);
    }
    let (storage, layout) = w.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Ok(None);
    };
    let start = layout.start_offset();
    let x = x.contiguous()?;
    let xs = x.flatten_all()?.to_vec1::<f32>()?;
    let transposed: Vec<f32> = match w.dtype() {
        DType::BF16 => {
            let data = &cpu.as_slice::<half::bf16>()?[start..start + m * k];
            rows_times(data, &xs, n, k, |v: &half::bf16| v.to_f32())
        }
        DType::F16 => {
            let data = &cpu.as_slice::<half::f16>()?[start..start + m * k];
            rows_times(data, &xs, n, k, |v: &half::f16| v.to_f32())
        }
        _ => return Ok(None),
    };
    drop(storage);
    // `transposed` is [m, n]; the caller wants [n, m].
    let mut out = vec![0f32; n * m];
    for (o, row) in transposed.chunks_exact(n.max(1)).enumerate() {
        for (r, &v) in row.iter().enumerate() {
            out[r * m + o] = v;
        }
    }
    Ok(Some(Tensor::from_vec(out, (n, m), &Device::Cpu)?))
}

/// For every weight row (converted once), its dot product with each of the `n` rows of `xs`.
fn rows_times<T: Sync>(
    data: &[T],
    xs: &[f32],
    n: usize,
    k: usize,
    to_f32: impl Fn(&T) -> f32 + Sync,
) -> Vec<f32> {
    let m = data.len() / k.max(1);
    let mut out = vec![0f32; m * n];
    out.par_chunks_mut(n.max(1) * 64)
        .zip(data.par_chunks(k.max(1) * 64))
        .for_each(|(dst, rows)| {
            let mut w = vec![0f32; k];
            for (o, row) in rows.chunks_exact(k.max(1)).enumerate() {
                w.iter_mut().zip(row).for_each(|(d, v)| *d = to_f32(v));
                for r in 0..n {
                    dst[o * n + r] = dot(&w, &xs[r * k..(r + 1) * k]);
                }
            }
        });
    out
}

/// Dot product with eight partial sums, so the loop vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Which keys each query row of an attention score matrix may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CausalMask {
    /// Positions already in the kv-cache before these queries.
    pub past: usize,
    /// Number of new query positions; rows are `len` queries repeated per stacked head.
    pub len: usize,
    /// Sliding window: a query sees at most this many keys, itself included.
    pub window: Option<usize>,
}

impl CausalMask {
    /// Visible key range `lo..hi` of query row `row`.
    pub fn range(&self, row: usize) -> (usize, usize) {
        let pos = self.past + row % self.len;
        let lo = self.window.map_or(0, |w| (pos + 1).saturating_sub(w));
        (lo, pos + 1)
    }
}

/// `cap · tanh(x / cap)`, elementwise.
pub fn softcap(x: &Tensor, cap: f64) -> Result<Tensor> {
    Ok(((x / cap)?.tanh()? * cap)?)
}

/// The gated MLP activation `act(gate) * up` of a fused `[n, 2·inter]` projection (gate first).
pub fn gated_act(gate_up: &Tensor, inter: usize, act: crate::config::Activation) -> Result<Tensor> {
    match act {
        crate::config::Activation::Silu => silu_mul(gate_up, inter),
        crate::config::Activation::GeluTanh => {
            let (_, width) = gate_up.dims2()?;
            if width != 2 * inter {
                return Err(ModelError::Candle(candle_core::Error::Msg(format!(
                    "gate_up width {width} is not 2 x {inter}"
                ))));
            }
            let gate = gate_up.narrow(1, 0, inter)?;
            let up = gate_up.narrow(1, inter, inter)?;
            // candle's `gelu` is the tanh approximation (PyTorch's `approximate="tanh"`).
            Ok((gate.gelu()? * up)?)
        }
    }
}

/// `silu(gate) * up` where `gate_up` is `[n, 2·inter]` with the gate in the first half.
pub fn silu_mul(gate_up: &Tensor, inter: usize) -> Result<Tensor> {
    let (n, width) = gate_up.dims2()?;
    if width != 2 * inter {
        return Err(ModelError::Candle(candle_core::Error::Msg(format!(
            "gate_up width {width} is not 2 x {inter}"
        ))));
    }
    let fast = with_cpu_slice(gate_up, |data| {
        let mut out = vec![0f32; n * inter];
        out.par_chunks_mut(inter)
            .zip(data.par_chunks(width))
            .for_each(|(dst, row)| {
                let (gate, up) = row.split_at(inter);
                for ((d, &g), &u) in dst.iter_mut().zip(gate).zip(up) {
                    // sigmoid from e^(-|g|) so the fast exp only sees non-positive input.
                    let e = fast_exp(-g.abs());
                    let sigmoid = if g >= 0.0 {
                        1.0 / (1.0 + e)
                    } else {
                        e / (1.0 + e)
                    };
                    *d = g * sigmoid * u;
                }
            });
        Ok(Tensor::from_vec(out, (n, inter), &Device::Cpu)?)
    })?;
    match fast {
        Some(t) => Ok(t),
        None => {
            let gate = gate_up.narrow(1, 0, inter)?;
            let up = gate_up.narrow(1, inter, inter)?;
            Ok((candle_nn::ops::silu(&gate)? * up)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        for i in 0..20_000 {
            let x = -(i as f32) * 0.0043;
            let rel = ((fast_exp(x) - x.exp()) / x.exp()).abs();
            assert!(rel < 5e-7, "x={x} rel={rel}");
        }
        assert!(fast_exp(-1000.0) < 1e-37);
    }

    #[test]
    fn fused_cross_entropy_matches_log_softmax() {
        let logits = Tensor::new(
            &[[1.0f32, 2.0, 3.0, -4.0], [0.5, 0.5, 0.5, 0.5]],
            &Device::Cpu,
        )
        .unwrap();
        let nll = cross_entropy_rows(&logits, &[2, 0]).unwrap();
        let lse0 = (1f64.exp() + 2f64.exp() + 3f64.exp() + (-4f64).exp()).ln();
        assert!((nll[0] as f64 - (lse0 - 3.0)).abs() < 1e-6);
        assert!((nll[1] as f64 - 4f64.ln()).abs() < 1e-6);
        assert!(cross_entropy_rows(&logits, &[4, 0]).is_err());
    }

    #[test]
    fn half_gemv_matches_an_upcast_matmul() {
        let (n, k, m) = (3, 37, 131);
        let xs: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7919) % 23) as f32 / 11.0 - 1.0)
            .collect();
        let ws: Vec<f32> = (0..m * k)
            .map(|i| ((i * 104729) % 31) as f32 / 15.0 - 1.0)
            .collect();
        let x = Tensor::from_vec(xs, (n, k), &Device::Cpu).unwrap();
        for dtype in [DType::BF16, DType::F16] {
            let w = Tensor::from_vec(ws.clone(), (m, k), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let ours = matmul_t_half(&x, &w).unwrap().expect("fast path");
            let up = w.to_dtype(DType::F32).unwrap();
            let theirs = x.matmul(&up.t().unwrap()).unwrap();
            let (a, b) = (
                ours.to_vec2::<f32>().unwrap(),
                theirs.to_vec2::<f32>().unwrap(),
            );
            for (ra, rb) in a.iter().zip(&b) {
                for (p, q) in ra.iter().zip(rb) {
                    assert!((p - q).abs() < 1e-5, "{dtype:?}: {p} vs {q}");
                }
            }
        }
        // Too many rows, or an f32 matrix: not this kernel's job.
        let big = Tensor::zeros((HALF_GEMV_MAX_ROWS + 1, k), DType::F32, &Device::Cpu).unwrap();
        let w = Tensor::zeros((m, k), DType::BF16, &Device::Cpu).unwrap();
        assert!(matmul_t_half(&big, &w).unwrap().is_none());
        let w32 = Tensor::zeros((m, k), DType::F32, &Device::Cpu).unwrap();
        assert!(matmul_t_half(&x, &w32).unwrap().is_none());
    }

    #[test]
    fn gelu_tanh_gate_matches_the_formula() {
        let x = Tensor::new(&[[1.0f32, -2.0, 3.0, 0.5]], &Device::Cpu).unwrap();
        let ours = gated_act(&x, 2, crate::config::Activation::GeluTanh)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let gelu = |v: f32| {
            0.5 * v
                * (1.0 + ((2.0 / std::f32::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
        };
        assert!((ours[0][0] - gelu(1.0) * 3.0).abs() < 1e-6);
        assert!((ours[0][1] - gelu(-2.0) * 0.5).abs() < 1e-6);
    }

    #[test]
    fn silu_mul_matches_candle() {
        let x = Tensor::new(
            &[[1.0f32, -2.0, 3.0, 0.5], [0.0, 4.0, -1.0, 2.0]],
            &Device::Cpu,
        )
        .unwrap();
        let ours = silu_mul(&x, 2).unwrap().to_vec2::<f32>().unwrap();
        let gate = x.narrow(1, 0, 2).unwrap();
        let up = x.narrow(1, 2, 2).unwrap();
        let theirs = (candle_nn::ops::silu(&gate).unwrap() * up)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (a, b) in ours.iter().flatten().zip(theirs.iter().flatten()) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
