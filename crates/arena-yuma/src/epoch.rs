//! One Yuma Consensus epoch: subtensor's sparse `epoch_mechanism` as a pure function.

use crate::bonds::{classic_bonds, yuma3_bonds, BondsResult};
use crate::math::*;
use crate::types::{EpochInput, EpochOutput, YumaError};

/// Run one epoch over `input` and return what the chain would store.
///
/// Follows subtensor's sparse path step by step (activity, stake, permits, weight masks,
/// consensus, clipping, incentive, bonds, dividends, emission) with the same fixed-point
/// types and rounding, so the stored u16 and rao values match the chain bit for bit.
pub fn epoch(input: &EpochInput) -> Result<EpochOutput, YumaError> {
    check_lengths(input)?;
    let n = input.n;
    let nu = n as usize;
    let hp = &input.hyperparameters;

    // Activity: set weights within the cutoff.
    let active: Vec<bool> = input
        .last_update
        .iter()
        .map(|updated| updated.saturating_add(hp.activity_cutoff) >= input.current_block)
        .collect();

    // Stake: alpha + weighted root stake, threshold, normalised in 128 bits then narrowed.
    let stake = normalized_stake(input);

    // Permits: this epoch masks with the previous permits; new ones are for the next epoch.
    let mut permits = input.validator_permit.clone();
    let mut new_permits = is_topk_nonzero(&stake, hp.max_allowed_validators as usize);
    if let Some(owner) = input.owner_uid {
        if let Some(p) = permits.get_mut(owner as usize) {
            *p = true;
        }
        if let Some(p) = new_permits.get_mut(owner as usize) {
            *p = true;
        }
    }
    let forbidden: Vec<bool> = permits.iter().map(|p| !p).collect();

    // Active stake: stake of active, permitted validators, re-normalised.
    let mut active_stake = stake.clone();
    mask_vector(&active, &mut active_stake, false);
    mask_vector(&forbidden, &mut active_stake, true);
    normalize(&mut active_stake);

    // Weights: permitted rows, no self-weight (but the owner's), nothing set before the
    // target's registration (or, with commit-reveal, committed before it), row-normalised.
    let mut weights = read_sparse(&input.weights, nu);
    mask_rows_sparse(&forbidden, &mut weights);
    mask_diag_sparse(&mut weights, input.owner_uid);
    mask_by_vectors(
        &mut weights,
        &input.last_update,
        &input.block_at_registration,
        |u, r| u <= r,
    );
    if let Some(commit_blocks) = &input.commit_blocks {
        mask_by_vectors(
            &mut weights,
            commit_blocks,
            &input.block_at_registration,
            |c, r| c < r,
        );
    }
    row_normalize_sparse(&mut weights);

    // Consensus, clipping, validator trust, incentive.
    let kappa = u16_proportion_to_fixed(hp.kappa);
    let consensus = weighted_median_col_sparse(&active_stake, &weights, n, kappa);
    let clipped = col_clip_sparse(&weights, &consensus);
    let validator_trust = row_sum_sparse(&clipped);
    let rank_unclipped = matmul_sparse(&weights, &active_stake, n);
    let rank = matmul_sparse(&clipped, &active_stake, n);
    let trust = vec_div(&rank, &rank_unclipped);
    let mut incentive = rank.clone();
    normalize(&mut incentive);

    // Bonds and dividends.
    let penalty = u16_proportion_to_fixed(hp.bonds_penalty);
    let weights_for_bonds = interpolate_sparse(&weights, &clipped, n, penalty);
    let last_tempo = if input.last_epoch_block == 0 {
        input.current_block.saturating_sub(hp.tempo as u64)
    } else {
        input.last_epoch_block.saturating_add(1)
    };
    let mut old_bonds = read_sparse(&input.bonds, nu);
    mask_by_vectors(
        &mut old_bonds,
        &vec![last_tempo; nu],
        &input.block_at_registration,
        |t, r| t <= r,
    );
    let BondsResult { bonds, dividends } = if hp.yuma3 {
        yuma3_bonds(
            hp,
            &weights_for_bonds,
            old_bonds,
            &consensus,
            &incentive,
            &active_stake,
            n,
        )
    } else {
        classic_bonds(
            hp,
            &weights_for_bonds,
            old_bonds,
            &incentive,
            &active_stake,
            n,
        )
    };

    let emissions = split_emission(
        &incentive,
        &dividends,
        &active_stake,
        &stake,
        input.rao_emission,
    );

    let to_u16 = |v: &[I32F32]| {
        v.iter()
            .map(|x| fixed_proportion_to_u16(*x))
            .collect::<Vec<u16>>()
    };
    let stored_bonds = bonds
        .iter()
        .zip(&new_permits)
        .map(|(row, permitted)| {
            if *permitted {
                row.iter()
                    .map(|(j, v)| (*j, fixed_proportion_to_u16(*v)))
                    .collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    Ok(EpochOutput {
        active,
        validator_permit: new_permits,
        stake_weight: to_u16(&stake),
        consensus: to_u16(&consensus),
        incentive: to_u16(&incentive),
        dividends: to_u16(&dividends),
        validator_trust: to_u16(&validator_trust),
        rank: to_u16(&rank),
        trust: to_u16(&trust),
        bonds: stored_bonds,
        server_emission: emissions.server,
        validator_emission: emissions.validator,
        emission: emissions.combined,
    })
}

fn check_lengths(input: &EpochInput) -> Result<(), YumaError> {
    let expected = input.n as usize;
    let mut fields: Vec<(&'static str, usize)> = vec![
        ("stakes", input.stakes.len()),
        ("last_update", input.last_update.len()),
        ("block_at_registration", input.block_at_registration.len()),
    ];
    if !input.root_stakes.is_empty() {
        fields.push(("root_stakes", input.root_stakes.len()));
    }
    if let Some(commit_blocks) = &input.commit_blocks {
        fields.push(("commit_blocks", commit_blocks.len()));
    }
    match fields.into_iter().find(|(_, len)| *len != expected) {
        Some((field, actual)) => Err(YumaError::LengthMismatch {
            field,
            actual,
            expected,
        }),
        None => Ok(()),
    }
}

/// Stake as the epoch sees it: alpha plus weighted root stake, thresholded, normalised.
fn normalized_stake(input: &EpochInput) -> Vec<I32F32> {
    let tao_weight = tao_weight_to_fixed(input.tao_weight);
    let raw: Vec<I64F64> = (0..input.n as usize)
        .map(|uid| {
            let alpha = I64F64::saturating_from_num(input.stakes[uid]);
            let root =
                I64F64::saturating_from_num(input.root_stakes.get(uid).copied().unwrap_or(0));
            alpha.saturating_add(root.saturating_mul(tao_weight))
        })
        .collect();
    let mut filtered: Vec<I64F64> = raw
        .iter()
        .enumerate()
        .map(|(uid, s)| {
            let is_owner = input.owner_uid == Some(uid as u16);
            if !is_owner && s.saturating_to_num::<u64>() < input.hyperparameters.stake_threshold {
                I64F64::from_bits(0)
            } else {
                *s
            }
        })
        .collect();
    normalize_64(&mut filtered);
    filtered
        .into_iter()
        .map(I32F32::saturating_from_num)
        .collect()
}

/// Zero the entries where `mask` is true (`when` = true) or false (`when` = false); entries
/// past the mask's end count as masked, and an empty mask masks nothing (as on chain).
fn mask_vector(mask: &[bool], values: &mut [I32F32], when: bool) {
    if mask.is_empty() {
        return;
    }
    for (i, v) in values.iter_mut().enumerate() {
        if mask.get(i).is_none_or(|m| *m == when) {
            *v = ZERO;
        }
    }
}

/// Stored u16 rows as fixed-point integers (not proportions), dropping uids ≥ n.
fn read_sparse(rows: &[Vec<(u16, u16)>], n: usize) -> SparseMatrix {
    let mut matrix: SparseMatrix = vec![Vec::new(); n];
    for (row, out) in rows.iter().zip(matrix.iter_mut()) {
        out.extend(
            row.iter()
                .filter(|(j, _)| (*j as usize) < n)
                .map(|(j, v)| (*j, I32F32::from_num(*v))),
        );
    }
    matrix
}

struct Emissions {
    server: Vec<u64>,
    validator: Vec<u64>,
    combined: Vec<u64>,
}

/// Incentive and dividends as rao: each normalised by their joint sum; when nothing scored,
/// validators get it all in proportion to active stake (or stake if none is active).
fn split_emission(
    incentive: &[I32F32],
    dividends: &[I32F32],
    active_stake: &[I32F32],
    stake: &[I32F32],
    rao_emission: u64,
) -> Emissions {
    let combined: Vec<I32F32> = incentive
        .iter()
        .zip(dividends)
        .map(|(i, d)| i.saturating_add(*d))
        .collect();
    let total = sum(&combined);
    let by_total = |v: &[I32F32]| -> Vec<I32F32> {
        if total == ZERO {
            v.to_vec()
        } else {
            v.iter().map(|x| safe_div(*x, total)).collect()
        }
    };
    let server = by_total(incentive);
    let mut validator = by_total(dividends);
    let mut combined_norm = combined.clone();
    normalize(&mut combined_norm);
    if total == ZERO {
        let fallback = if is_zero(active_stake) {
            stake
        } else {
            active_stake
        };
        validator = fallback.to_vec();
        combined_norm = fallback.to_vec();
    }
    let rao = I96F32::saturating_from_num(rao_emission);
    let to_rao = |v: &[I32F32]| -> Vec<u64> {
        v.iter()
            .map(|x| {
                I96F32::saturating_from_num(*x)
                    .saturating_mul(rao)
                    .saturating_to_num::<u64>()
            })
            .collect()
    };
    Emissions {
        server: to_rao(&server),
        validator: to_rao(&validator),
        combined: to_rao(&combined_norm),
    }
}
