//! Fixed-point building blocks of the epoch, written to round exactly as subtensor's
//! `epoch/math.rs` does on top of `substrate-fixed`.
//!
//! Conventions shared by every function here (they are subtensor's, not choices of ours):
//! * values are [`I32F32`]; products truncate (floor for the non-negative values used here);
//! * a division by zero (or one that overflows) yields 0, never an error;
//! * a vector or column whose sum is 0 is left as it is by normalisation.

mod ema;
mod median;
mod sparse;

pub use ema::{liquid_alpha_ema, mat_ema_sparse, LiquidAlpha};
pub use median::weighted_median_col_sparse;
pub use sparse::*;

use substrate_fixed::types::U96F32;
pub use substrate_fixed::types::{I32F32, I64F64, I96F32};

/// One row of a sparse matrix as the chain keeps it: `(column uid, value)` in storage order.
pub type SparseRow = Vec<(u16, I32F32)>;

/// A sparse matrix: one [`SparseRow`] per uid (row index = uid).
pub type SparseMatrix = Vec<SparseRow>;

/// 0 in the epoch's fixed-point type.
pub const ZERO: I32F32 = I32F32::from_bits(0);

/// 1 in the epoch's fixed-point type.
pub const ONE: I32F32 = I32F32::from_bits(1 << 32);

/// `u16::MAX` (65535) as a fixed-point number: the scale of every stored proportion.
pub const U16_MAX: I32F32 = I32F32::from_bits((u16::MAX as i64) << 32);

/// Division as subtensor's `safe_div`: `a / b`, or 0 when `b` is 0 or the quotient overflows.
pub fn safe_div(a: I32F32, b: I32F32) -> I32F32 {
    a.checked_div(b).unwrap_or(ZERO)
}

/// [`safe_div`] for the 128-bit type used for raw stake.
pub fn safe_div_64(a: I64F64, b: I64F64) -> I64F64 {
    a.checked_div(b).unwrap_or(I64F64::from_bits(0))
}

/// A stored u16 proportion (`x / 65535`) as a fixed-point number.
pub fn u16_proportion_to_fixed(x: u16) -> I32F32 {
    safe_div(I32F32::from_num(x), U16_MAX)
}

/// The value the chain stores for a proportion: `floor(x · 65535)`, saturating to `0..=65535`.
pub fn fixed_proportion_to_u16(x: I32F32) -> u16 {
    x.saturating_mul(U16_MAX).saturating_to_num::<u16>()
}

/// Sum with saturation (the chain's sums never come near the limits, so this equals a plain sum).
pub fn sum(values: &[I32F32]) -> I32F32 {
    values.iter().fold(ZERO, |acc, v| acc.saturating_add(*v))
}

/// Scale a vector so its largest element becomes 65535, rounding each entry, as `set_weights`
/// stores weights (`vec_max_upscale_to_u16`).
///
/// Three regimes, kept for bit-exactness: all zeros (or max 0) → `floor(e · 65535)`; a maximum
/// above 32768 (raw u16 input) → `round(e · (65535 / max))`; otherwise `round(e · 65535 / max)`.
pub fn vec_max_upscale_to_u16(values: &[I32F32]) -> Vec<u16> {
    let Some(max) = values.iter().max().copied() else {
        return Vec::new();
    };
    let threshold = I32F32::from_num(32768);
    if max == ZERO {
        return values
            .iter()
            .map(|e| e.saturating_mul(U16_MAX).saturating_to_num::<u16>())
            .collect();
    }
    if max > threshold {
        let scale = safe_div(U16_MAX, max);
        return values
            .iter()
            .map(|e| e.saturating_mul(scale).round().saturating_to_num::<u16>())
            .collect();
    }
    values
        .iter()
        .map(|e| {
            safe_div(e.saturating_mul(U16_MAX), max)
                .round()
                .saturating_to_num::<u16>()
        })
        .collect()
}

/// [`vec_max_upscale_to_u16`] of raw u16 weights, exactly what `set_weights` stores.
pub fn u16_max_upscale(values: &[u16]) -> Vec<u16> {
    let fixed: Vec<I32F32> = values.iter().map(|v| I32F32::from_num(*v)).collect();
    vec_max_upscale_to_u16(&fixed)
}

/// Normalise in place so the entries sum to 1; a zero-sum vector is left unchanged.
pub fn normalize(values: &mut [I32F32]) {
    let total = sum(values);
    if total == ZERO {
        return;
    }
    values.iter_mut().for_each(|v| *v = safe_div(*v, total));
}

/// [`normalize`] in the 128-bit type used for raw stake.
pub fn normalize_64(values: &mut [I64F64]) {
    let zero = I64F64::from_bits(0);
    let total = values.iter().fold(zero, |acc, v| acc.saturating_add(*v));
    if total == zero {
        return;
    }
    values.iter_mut().for_each(|v| *v = safe_div_64(*v, total));
}

/// Whether each entry is non-zero and among the `k` largest. Ties are decided by a stable
/// ascending sort, so among equal values the higher uids win (subtensor's `is_topk_nonzero`).
pub fn is_topk_nonzero(values: &[I32F32], k: usize) -> Vec<bool> {
    let mut result: Vec<bool> = values.iter().map(|v| *v != ZERO).collect();
    let n = values.len();
    if n < k {
        return result;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| values[i]);
    for &i in order.iter().take(n - k) {
        result[i] = false;
    }
    result
}

/// `exp(x)` with the input clamped to [-20, 20], computed by substrate-fixed's Taylor series
/// (the series, not the true value, is what the chain uses).
pub fn exp_safe(x: I32F32) -> I32F32 {
    let clamped = x.clamp(I32F32::from_num(-20), I32F32::from_num(20));
    match exp_series(clamped) {
        Some(value) => value,
        None if clamped <= ZERO => ZERO,
        None => I32F32::max_value(),
    }
}

/// substrate-fixed's `transcendental::exp` for I32F32, bit for bit, but fast: the series
/// `1 + x + Σ_{i=2}^{31} t_i`, `t_i = floor(t_{i-1} · |x|) / i`, then `1 / result` for x < 0.
///
/// The series runs on |x| ≥ 0, so every term is non-negative and dividing the fixed-point
/// term by the integer `i` equals integer division of its bits (the crate does a 128-bit
/// fixed-point division, the costliest step of liquid alpha). `None` where the crate errs.
fn exp_series(x: I32F32) -> Option<I32F32> {
    if x == ZERO || x == ONE {
        // The crate answers these from constants.
        return substrate_fixed::transcendental::exp::<I32F32, I32F32>(x).ok();
    }
    let operand = x.checked_abs()?.to_bits();
    let mut result = operand.checked_add(ONE.to_bits())?;
    let mut term = operand;
    for i in 2..32i64 {
        let product = (term as i128 * operand as i128) >> 32;
        term = i64::try_from(product).ok()? / i;
        if term == 0 {
            break; // Every later term is 0 too: the sum is final.
        }
        result = result.checked_add(term)?;
    }
    let result = I32F32::from_bits(result);
    if x < ZERO {
        ONE.checked_div(result)
    } else {
        Some(result)
    }
}

/// `TaoWeight` (a u64 fraction of `u64::MAX`) as the multiplier of root stake.
pub fn tao_weight_to_fixed(raw: u64) -> I64F64 {
    let weight = U96F32::saturating_from_num(raw)
        .checked_div(U96F32::saturating_from_num(u64::MAX))
        .unwrap_or(U96F32::from_bits(0));
    I64F64::saturating_from_num(weight)
}

#[cfg(test)]
mod tests;
