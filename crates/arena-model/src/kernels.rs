//! Hand-written CPU kernels for the hot spots candle's generic ops handle slowly.
//!
//! * `cross_entropy_rows`: per-row log-sum-exp minus the target logit, in one pass over the
//!   logits, parallel over rows. It never materialises a log_softmax tensor.
//! * `silu_mul`: the SwiGLU gate `silu(gate) * up` from one fused `[n, 2·i]` projection.
//!
//! Both fall back to candle ops for tensors that are not on the CPU. `fast_exp` and
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
