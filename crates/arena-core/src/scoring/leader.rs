//! Leader per scoring unit (SN29 Coldint `compute_wins`, Nov 2024 form).
//!
//! Models are sorted by commit block (then uid). For each unit the oldest model leads; walking
//! the newer ones in order, a model takes over iff its unit loss is strictly below
//! `leader_loss · factor(leader)`, with `factor = 1 − initial · decay^(age / epoch_blocks)`
//! (SN29: 0.004, 0.995, 361). The final leader gets the unit's one point, so points are
//! conserved: copies cannot inflate anybody's total, and a later identical model (equal loss)
//! never takes a point. `win_rate = points / counted units`; step weight ∝ `win_rate^skew`.
//!
//! Deviations from SN29, all for determinism or fairness: exact copies (same content hash) are
//! removed before the scan, keeping the oldest (then lowest uid); a unit on which every model
//! failed awards no point and is not counted (SN29 zeroes such samples, which hands the unit to
//! the oldest model); NaN counts as +inf.

use super::{top_index, unit_count, Contender, Outcome, ScoringError, StepResult};
use std::collections::BTreeMap;

/// The leader's shrinking advantage (SN29 `advantage_initial`, `advantage_decay`, epoch length).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Advantage {
    /// Advantage of a model committed at the current block (SN29: 0.004).
    pub initial: f64,
    /// Multiplier per epoch of age (SN29: 0.995).
    pub decay: f64,
    /// Blocks per epoch (SN29: 361).
    pub epoch_blocks: u64,
}

impl Advantage {
    /// `1 − initial · decay^(age / epoch_blocks)`; a model block in the future (SN29's
    /// benchmark models) gets no advantage: factor 1.
    pub fn factor(&self, current_block: u64, model_block: u64) -> f64 {
        if model_block > current_block {
            return 1.0;
        }
        let epochs = (current_block - model_block) as f64 / self.epoch_blocks.max(1) as f64;
        1.0 - self.initial * self.decay.powf(epochs)
    }
}

/// Sums consecutive groups of `group` samples into scoring units, per model (SN29
/// `group_samples`). Samples on which every model failed are dropped first (they tell nothing
/// apart), then the remainder that does not fill a group. `per_model[m][s]` is model `m`'s loss on
/// sample `s`; all rows must have the same length (shorter rows are treated as failed samples).
pub fn group_samples(per_model: &[Vec<f64>], group: usize) -> Vec<Vec<f64>> {
    let samples = per_model.iter().map(Vec::len).max().unwrap_or(0);
    let loss = |m: &Vec<f64>, s: usize| match m.get(s) {
        Some(v) if !v.is_nan() => *v,
        _ => f64::INFINITY,
    };
    let kept: Vec<usize> = (0..samples)
        .filter(|&s| per_model.iter().any(|m| loss(m, s).is_finite()))
        .collect();
    let group = group.max(1);
    per_model
        .iter()
        .map(|m| {
            kept.chunks_exact(group)
                .map(|chunk| chunk.iter().map(|&s| loss(m, s)).sum())
                .collect()
        })
        .collect()
}

/// Scores one step (see the module doc). `contenders[i].unit_losses` must all have one length.
pub fn score(
    contenders: &[Contender],
    current_block: u64,
    advantage: &Advantage,
    skew: f64,
) -> Result<StepResult, ScoringError> {
    let units = unit_count(contenders)?;
    // Block order, ties by uid: the scan order and the copy-suppression order.
    let mut order: Vec<usize> = (0..contenders.len()).collect();
    order.sort_by_key(|&i| (contenders[i].block, contenders[i].uid));
    let mut copy_of: Vec<Option<u16>> = vec![None; contenders.len()];
    let mut originals: BTreeMap<&str, u16> = BTreeMap::new();
    for &i in &order {
        if let Some(hash) = contenders[i].content_hash.as_deref() {
            match originals.get(hash) {
                Some(&uid) => copy_of[i] = Some(uid),
                None => {
                    originals.insert(hash, contenders[i].uid);
                }
            }
        }
    }
    let scan: Vec<usize> = order
        .into_iter()
        .filter(|&i| copy_of[i].is_none())
        .collect();
    let factor: Vec<f64> = contenders
        .iter()
        .map(|c| advantage.factor(current_block, c.block))
        .collect();
    let loss = |i: usize, u: usize| {
        let v = contenders[i].unit_losses[u];
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };

    let mut points = vec![0u32; contenders.len()];
    let mut counted = 0u32;
    for unit in 0..units {
        if !scan.iter().any(|&i| loss(i, unit).is_finite()) {
            continue;
        }
        counted += 1;
        let mut leader = scan[0];
        for &i in &scan[1..] {
            if loss(i, unit) < loss(leader, unit) * factor[leader] {
                leader = i;
            }
        }
        points[leader] += 1;
    }

    let win_rate = |i: usize| {
        if counted == 0 {
            0.0
        } else {
            f64::from(points[i]) / f64::from(counted)
        }
    };
    let powered: Vec<f64> = (0..contenders.len())
        .map(|i| win_rate(i).powf(skew))
        .collect();
    let total: f64 = powered.iter().sum();
    let outcomes: Vec<Outcome> = contenders
        .iter()
        .enumerate()
        .map(|(i, c)| Outcome {
            uid: c.uid,
            wins: points[i],
            win_rate: win_rate(i),
            step_weight: if total > 0.0 { powered[i] / total } else { 0.0 },
            advantage: 1.0 - factor[i],
            copy_of: copy_of[i],
        })
        .collect();
    let eligible: Vec<bool> = (0..contenders.len())
        .map(|i| copy_of[i].is_none() && (0..units).any(|u| loss(i, u).is_finite()))
        .collect();
    let top_uid = top_index(contenders, &outcomes, &eligible).map(|i| contenders[i].uid);
    Ok(StepResult { outcomes, top_uid })
}

#[cfg(test)]
#[path = "leader_tests.rs"]
mod tests;
