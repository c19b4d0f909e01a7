//! The two bond models and the dividends they pay.
//!
//! * Classic ("Yuma 2 (subtensor)"): bonds are stake-weighted shares of each miner, column
//!   normalised, stored column max-upscaled; dividends are bonds times incentive.
//! * Yuma 3: bonds are per-pair values in [0, 1] that track the validator's own weights
//!   (optionally with liquid alpha), stored as plain proportions; stake enters only when
//!   dividends are paid.

use crate::math::*;
use crate::types::Hyperparameters;

/// New bonds (fixed point, before conversion to stored u16) and normalised dividends.
pub(crate) struct BondsResult {
    pub bonds: SparseMatrix,
    pub dividends: Vec<I32F32>,
}

/// EMA coefficient `1 − bonds_moving_average / 1e6`, computed in I64F64 then narrowed.
fn fixed_alpha(hp: &Hyperparameters) -> I32F32 {
    let average = safe_div_64(
        I64F64::saturating_from_num(hp.bonds_moving_average),
        I64F64::saturating_from_num(1_000_000u64),
    );
    ONE.saturating_sub(I32F32::saturating_from_num(average))
}

/// Classic bonds: `old` holds the stored (column max-upscaled) u16 values as fixed-point
/// integers, already masked for re-registered miners.
pub(crate) fn classic_bonds(
    hp: &Hyperparameters,
    weights_for_bonds: &[SparseRow],
    mut old: SparseMatrix,
    incentive: &[I32F32],
    active_stake: &[I32F32],
    n: u16,
) -> BondsResult {
    col_normalize_sparse(&mut old, n);
    let mut delta = row_hadamard_sparse(weights_for_bonds, active_stake);
    col_normalize_sparse(&mut delta, n);
    let mut bonds = mat_ema_sparse(&delta, &old, fixed_alpha(hp));
    col_normalize_sparse(&mut bonds, n);
    let mut dividends = matmul_transpose_sparse(&bonds, incentive);
    normalize(&mut dividends);
    col_max_upscale_sparse(&mut bonds, n);
    BondsResult { bonds, dividends }
}

/// Yuma 3 bonds: `old` holds the stored u16 values as fixed-point integers, already masked;
/// they are read as proportions (`/ 65535`).
pub(crate) fn yuma3_bonds(
    hp: &Hyperparameters,
    weights_for_bonds: &[SparseRow],
    mut old: SparseMatrix,
    consensus: &[I32F32],
    incentive: &[I32F32],
    active_stake: &[I32F32],
    n: u16,
) -> BondsResult {
    for row in old.iter_mut() {
        row.iter_mut().for_each(|(_, v)| *v = safe_div(*v, U16_MAX));
    }
    let liquid = hp.liquid_alpha && consensus.iter().any(|c| *c != ZERO);
    let bonds = if liquid {
        let params = LiquidAlpha {
            low: u16_proportion_to_fixed(hp.alpha_low),
            high: u16_proportion_to_fixed(hp.alpha_high),
            steepness: I32F32::from_num(hp.alpha_sigmoid_steepness),
        };
        liquid_alpha_ema(weights_for_bonds, &old, consensus, &params)
    } else {
        mat_ema_sparse(weights_for_bonds, &old, fixed_alpha(hp))
    };
    let mut bonds_norm = bonds.clone();
    col_normalize_sparse(&mut bonds_norm, n);
    let per_validator = row_sum_sparse(&mat_vec_mul_sparse(&bonds_norm, incentive));
    let mut dividends = vec_mul(&per_validator, active_stake);
    normalize(&mut dividends);
    BondsResult { bonds, dividends }
}
