//! Exponential moving averages of bonds: one fixed alpha (classic bonds, Yuma 3 without liquid
//! alpha) or one alpha per (validator, miner) pair from the liquid-alpha sigmoid.

use super::{exp_safe, I32F32, ONE, ZERO};
use super::{SparseMatrix, SparseRow};

/// `alpha · new + (1 − alpha) · old` over the union of entries, keeping positive results,
/// rows sorted by column. The matrix is square: `new.len()` is also the column count.
pub fn mat_ema_sparse(new: &[SparseRow], old: &[SparseRow], alpha: I32F32) -> SparseMatrix {
    let n = new.len();
    let keep_old = ONE.saturating_sub(alpha);
    let mut old_rows = old.iter();
    new.iter()
        .map(|new_row| {
            let mut acc = vec![ZERO; n];
            for &(j, v) in new_row {
                if let Some(cell) = acc.get_mut(j as usize) {
                    *cell = cell.saturating_add(alpha.saturating_mul(v));
                }
            }
            if let Some(old_row) = old_rows.next() {
                for &(j, v) in old_row {
                    if let Some(cell) = acc.get_mut(j as usize) {
                        *cell = cell.saturating_add(keep_old.saturating_mul(v));
                    }
                }
            }
            acc.iter()
                .enumerate()
                .filter(|(_, v)| **v > ZERO)
                .map(|(j, v)| (j as u16, *v))
                .collect()
        })
        .collect()
}

/// EMA with one alpha per entry: `min(1, (1 − α_ij) · old_ij + max(0, α_ij · new_ij))`.
///
/// Faithful to subtensor's sparse quirk: output entries exist only for the columns of the
/// *new* row (in its order), so a bond whose weight entry is gone vanishes instead of decaying.
/// Shapes that disagree return `new` unchanged, as the chain does. The epoch uses the
/// row-by-row form below; this whole-matrix form carries subtensor's golden numbers in the tests.
#[cfg(test)]
pub fn mat_ema_alpha_sparse(
    new: &[SparseRow],
    old: &[SparseRow],
    alpha: &[Vec<I32F32>],
) -> SparseMatrix {
    if new.len() != old.len() || new.len() != alpha.len() {
        return new.to_vec();
    }
    new.iter()
        .zip(old)
        .zip(alpha)
        .map(|((new_row, old_row), alpha_row)| {
            ema_alpha_row(new_row, old_row, alpha_row.len(), |j| alpha_row[j])
        })
        .collect()
}

/// One row of [`mat_ema_alpha_sparse`] over `width` columns; `alpha_at(j)` is called only for
/// columns below `width`.
fn ema_alpha_row(
    new_row: &[(u16, I32F32)],
    old_row: &[(u16, I32F32)],
    width: usize,
    mut alpha_at: impl FnMut(usize) -> I32F32,
) -> SparseRow {
    // Decayed old values by column; only columns that the new row mentions are read back.
    let mut decayed = vec![ZERO; width];
    for &(j, old_val) in old_row {
        if let Some(cell) = decayed.get_mut(j as usize) {
            *cell = ONE
                .saturating_sub(alpha_at(j as usize))
                .saturating_mul(old_val);
        }
    }
    new_row
        .iter()
        .filter_map(|&(j, new_val)| {
            let old = *decayed.get(j as usize)?;
            let a = alpha_at(j as usize);
            let value = old
                .saturating_add(a.saturating_mul(new_val).max(ZERO))
                .min(ONE);
            (value > ZERO).then_some((j, value))
        })
        .collect()
}

/// Liquid-alpha parameters in the epoch's fixed point (`AlphaValues` / 65535 and
/// `AlphaSigmoidSteepness`).
#[derive(Clone, Copy, Debug)]
pub struct LiquidAlpha {
    /// Lowest alpha (slowest bond growth).
    pub low: I32F32,
    /// Highest alpha.
    pub high: I32F32,
    /// Sigmoid steepness (divided by −100 inside the sigmoid).
    pub steepness: I32F32,
}

impl LiquidAlpha {
    /// The sigmoid's slope, `steepness / −100` (computed once per epoch, not per pair).
    fn slope(&self) -> I32F32 {
        self.steepness.saturating_div(I32F32::from_num(-100))
    }
}

/// The liquid alpha of one (validator, miner) pair from its weight, previous bond and the
/// miner's consensus: a sigmoid of how far the validator is ahead of consensus (buying) or
/// behind its own bond (selling), mapped into `[low, high]`; `slope` is [`LiquidAlpha::slope`].
fn sigmoid_with_slope(
    consensus: I32F32,
    weight: I32F32,
    bond: I32F32,
    params: &LiquidAlpha,
    slope: I32F32,
) -> I32F32 {
    let half = I32F32::from_bits(1 << 31);
    let diff_buy = weight.saturating_sub(consensus).min(ONE).max(ZERO);
    let diff_sell = bond.saturating_sub(weight).min(ONE).max(ZERO);
    let diff = if weight >= bond { diff_buy } else { diff_sell };
    let exponent = slope.saturating_mul(diff.saturating_sub(half));
    let sigmoid = ONE.saturating_div(ONE.saturating_add(exp_safe(exponent)));
    let alpha = params
        .low
        .saturating_add(sigmoid.saturating_mul(params.high.saturating_sub(params.low)));
    alpha.min(params.high).max(params.low)
}

/// Yuma 3 bonds with liquid alpha for a whole matrix (subtensor's
/// `compute_liquid_alpha_values_sparse` followed by [`mat_ema_alpha_sparse`]).
///
/// The weight and bond seen for column j are found by the chain's merge walk over each row
/// (which assumes rows sorted by column; an unsorted row hides the entries it walks past).
/// Alphas are only evaluated for the columns the EMA reads, which gives the same result as the
/// chain's dense alpha matrix at a fraction of the cost.
pub fn liquid_alpha_ema(
    weights: &[SparseRow],
    bonds: &[SparseRow],
    consensus: &[I32F32],
    params: &LiquidAlpha,
) -> SparseMatrix {
    if weights.len() != bonds.len() {
        // The chain's alpha matrix would be empty, and the EMA returns the weights unchanged.
        return weights.to_vec();
    }
    let columns = consensus.len();
    let slope = params.slope();
    weights
        .iter()
        .zip(bonds)
        .map(|(w_row, b_row)| {
            if w_row.is_empty() {
                return Vec::new(); // Entries come only from the weight row.
            }
            let w_seen = merge_walk(w_row, columns);
            let b_seen = merge_walk(b_row, columns);
            let mut cache: Vec<Option<I32F32>> = vec![None; columns];
            ema_alpha_row(w_row, b_row, columns, |j| {
                *cache[j].get_or_insert_with(|| {
                    sigmoid_with_slope(consensus[j], w_seen[j], b_seen[j], params, slope)
                })
            })
        })
        .collect()
}

/// The value the chain's peekable walk assigns to each column 0..columns of a row.
fn merge_walk(row: &[(u16, I32F32)], columns: usize) -> Vec<I32F32> {
    let mut seen = vec![ZERO; columns];
    let mut pos = 0usize;
    for (j, cell) in seen.iter_mut().enumerate() {
        while let Some(&(c, v)) = row.get(pos) {
            if (c as usize) < j {
                pos += 1;
            } else {
                if c as usize == j {
                    *cell = v;
                }
                break;
            }
        }
    }
    seen
}
