//! Stake-weighted median, the heart of consensus: for each miner, the largest weight that
//! validators holding at least `kappa` of the active stake agree on.

use super::{normalize, sum, SparseRow, I32F32, ZERO};

/// Stake-weighted median of `score` over the indices in `partition`, by subtensor's
/// deterministic quick-select (pivot = middle of the current partition, order preserved).
///
/// `minority` is `stake_sum − majority`; `lo`/`hi` bound the stake integral of the partition
/// (start with 0 and the stake sum). Returns 0 for an empty partition or mismatched lengths.
pub fn weighted_median(
    stake: &[I32F32],
    score: &[I32F32],
    partition: &[usize],
    minority: I32F32,
    mut lo: I32F32,
    mut hi: I32F32,
) -> I32F32 {
    if stake.len() != score.len() {
        return ZERO;
    }
    let get = |values: &[I32F32], i: usize| values.get(i).copied().unwrap_or(ZERO);
    let mut current: Vec<usize> = partition.to_vec();
    let mut lower: Vec<usize> = Vec::new();
    let mut upper: Vec<usize> = Vec::new();
    let iteration_limit = partition.len();
    let mut iterations = 0usize;
    loop {
        match current.len() {
            0 => return ZERO,
            1 => return get(score, current[0]),
            len => {
                let pivot = get(score, current.get(len / 2).copied().unwrap_or(0));
                let mut lo_stake = ZERO;
                let mut hi_stake = ZERO;
                lower.clear();
                upper.clear();
                for &idx in &current {
                    let s = get(score, idx);
                    if s == pivot {
                        continue;
                    }
                    if s < pivot {
                        lo_stake = lo_stake.saturating_add(get(stake, idx));
                        lower.push(idx);
                    } else {
                        hi_stake = hi_stake.saturating_add(get(stake, idx));
                        upper.push(idx);
                    }
                }
                if minority < lo.saturating_add(lo_stake) && !lower.is_empty() {
                    hi = lo.saturating_add(lo_stake);
                    std::mem::swap(&mut current, &mut lower);
                } else if hi.saturating_sub(hi_stake) <= minority && !upper.is_empty() {
                    lo = hi.saturating_sub(hi_stake);
                    std::mem::swap(&mut current, &mut upper);
                } else {
                    return pivot;
                }
            }
        }
        iterations += 1;
        if iterations > iteration_limit {
            return ZERO;
        }
    }
}

/// Consensus per column: the stake-weighted median of each column of a sparse weight matrix,
/// over the rows with positive stake (their stakes re-normalised to sum 1).
///
/// `majority` is kappa. Rows are read in uid order; a row without an entry for a column
/// scores 0 there.
pub fn weighted_median_col_sparse(
    stake: &[I32F32],
    weights: &[SparseRow],
    columns: u16,
    majority: I32F32,
) -> Vec<I32F32> {
    let mut use_stake: Vec<I32F32> = stake.iter().copied().filter(|s| *s > ZERO).collect();
    normalize(&mut use_stake);
    let stake_sum = sum(&use_stake);
    let minority = stake_sum.saturating_sub(majority);
    let voters = use_stake.len();
    let index: Vec<usize> = (0..voters).collect();

    // Column-major scores of the voting rows only.
    let mut scores = vec![vec![ZERO; voters]; columns as usize];
    let mut k = 0usize;
    for (s, row) in stake.iter().zip(weights) {
        if *s > ZERO {
            for &(j, v) in row {
                if let Some(cell) = scores.get_mut(j as usize).and_then(|col| col.get_mut(k)) {
                    *cell = v;
                }
            }
            k += 1;
        }
    }
    scores
        .iter()
        .map(|col| weighted_median(&use_stake, col, &index, minority, ZERO, stake_sum))
        .collect()
}
