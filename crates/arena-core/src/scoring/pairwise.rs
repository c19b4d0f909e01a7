//! Pairwise comparison with the epsilon advantage (SN37 `compute_wins`, SN9 `iswin`).
//!
//! What is implemented, exactly: by default every model has **one aggregate score** (the
//! weighted task score), as in SN37 since Sep 2024 and SN9 since Oct 2024 (both moved away from
//! per-batch counting, which made win rates noisier). `comparison = "per_unit"` restores SN9's
//! earlier per-batch matches. For each ordered pair (i, j) the strictly older model's score is
//! multiplied by `1 − ε(current, its own block)`; equal blocks are not adjusted; i beats j iff
//! its adjusted score is strictly lower. `win_rate = wins / (n − 1)`. Not implemented: SN9's "competitive
//! filter", which drops models that cannot beat every older one even after full decay.
//! Scores are non-negative losses (every method is lower-is-better and ≥ 0); with a negative
//! score the multiplication by `1 − ε` would turn the advantage into a handicap.

use super::{top_index, unit_count, Contender, Outcome, ScoringError, StepResult};
use crate::competition::{Comparison, StepWeightRule};
use crate::epsilon::EpsilonFunc;

/// The pairwise policy's parameters, as in [`crate::competition::ScoringPolicy::Pairwise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Winner-takes-all or softmax.
    pub step_weights: StepWeightRule,
    /// Softmax temperature.
    pub temperature: f64,
    /// Aggregate scores or per-unit matches.
    pub comparison: Comparison,
}

/// Whether loss `a` (committed at `a_block`) beats loss `b` (at `b_block`): the strictly older
/// one is multiplied by `1 − ε(current, its block)`, and the adjusted `a` must be strictly lower.
/// NaN counts as `+inf`.
fn beats_loss(a: (f64, u64), b: (f64, u64), current_block: u64, epsilon: &EpsilonFunc) -> bool {
    let adjusted = |(loss, block): (f64, u64), other_block: u64| {
        let loss = if loss.is_nan() { f64::INFINITY } else { loss };
        if block < other_block {
            loss * (1.0 - epsilon.epsilon(current_block, block))
        } else {
            loss
        }
    };
    adjusted(a, b.1) < adjusted(b, a.1)
}

/// Whether `a` beats `b` on their aggregate scores at `current_block` (SN9 `iswin`). Ties in
/// adjusted score are no win for either side, so an identical copy uploaded later never beats
/// the original.
pub fn beats(a: &Contender, b: &Contender, current_block: u64, epsilon: &EpsilonFunc) -> bool {
    beats_loss(
        (a.score, a.block),
        (b.score, b.block),
        current_block,
        epsilon,
    )
}

/// True when `model` lost to the older `winner` only because of the winner's epsilon: its raw
/// score is strictly lower, but not lower than `winner · (1 − ε)`. Such a model is worth a
/// re-check once ε has decayed (SN37/SN9 `should_retry_model`).
pub fn lost_only_on_epsilon(
    model: &Contender,
    winner: &Contender,
    current_block: u64,
    epsilon: &EpsilonFunc,
) -> bool {
    winner.block < model.block
        && model.score.is_finite()
        && model.score < winner.score
        && !beats(model, winner, current_block, epsilon)
}

/// The uids that lost to the step's top model only because of its epsilon (for the step log;
/// the retry decision itself uses [`crate::queue::should_retry`] on stored records).
pub fn epsilon_losers(
    contenders: &[Contender],
    top_uid: Option<u16>,
    current_block: u64,
    epsilon: &EpsilonFunc,
) -> Vec<u16> {
    let Some(top) = top_uid.and_then(|uid| contenders.iter().find(|c| c.uid == uid)) else {
        return Vec::new();
    };
    contenders
        .iter()
        .filter(|c| lost_only_on_epsilon(c, top, current_block, epsilon))
        .map(|c| c.uid)
        .collect()
}

/// Win rates and step weights for one step (see the module doc for the exact rule).
///
/// With [`Comparison::PerUnit`] (SN9 until Sep 2024), every ordered pair plays one match per
/// scoring unit on `unit_losses`, with the same epsilon rule, and
/// `win_rate = matches won / ((n − 1) · units)`; the models must have equally many units.
///
/// A lone model with a finite score gets win rate 1 (SN9; SN37 gives 0, which also makes it the
/// maximum). Models with a non-finite score never get step weight: SN37 would let a step where
/// every model failed share the weight equally; here such a step gives all zeros and
/// [`super::CompetitionTracker::record`] ignores it.
pub fn score(
    contenders: &[Contender],
    current_block: u64,
    epsilon: &EpsilonFunc,
    rule: &Rule,
) -> Result<StepResult, ScoringError> {
    let n = contenders.len();
    let units = match rule.comparison {
        Comparison::Aggregate => 1,
        Comparison::PerUnit => unit_count(contenders)?,
    };
    let wins_of = |c: &Contender| -> u32 {
        let others = contenders.iter().filter(|o| o.uid != c.uid);
        let won = match rule.comparison {
            Comparison::Aggregate => others
                .filter(|o| beats(c, o, current_block, epsilon))
                .count(),
            Comparison::PerUnit => others
                .map(|o| {
                    (0..units)
                        .filter(|&k| {
                            let mine = (c.unit_losses[k], c.block);
                            let theirs = (o.unit_losses[k], o.block);
                            beats_loss(mine, theirs, current_block, epsilon)
                        })
                        .count()
                })
                .sum(),
        };
        won as u32
    };
    let matches = (n.saturating_sub(1) * units) as f64;
    let finite: Vec<bool> = contenders.iter().map(|c| c.score.is_finite()).collect();
    let mut outcomes: Vec<Outcome> = contenders
        .iter()
        .map(|c| {
            let wins = wins_of(c);
            let win_rate = if n == 1 && c.score.is_finite() {
                1.0
            } else if matches > 0.0 {
                f64::from(wins) / matches
            } else {
                0.0
            };
            Outcome {
                uid: c.uid,
                wins,
                win_rate,
                step_weight: 0.0,
                advantage: epsilon.epsilon(current_block, c.block),
                copy_of: None,
            }
        })
        .collect();
    match rule.step_weights {
        StepWeightRule::WinnerTakesAll => winner_takes_all(&mut outcomes, &finite),
        StepWeightRule::Softmax => softmax(&mut outcomes, &finite, rule.temperature),
    }
    let top_uid = top_index(contenders, &outcomes, &finite).map(|i| contenders[i].uid);
    Ok(StepResult { outcomes, top_uid })
}

/// Weight 1 shared equally by every eligible model whose win count equals the maximum
/// (SN37 since v2.3.0). Wins are compared as integers, so ties are exact.
pub(crate) fn winner_takes_all(outcomes: &mut [Outcome], eligible: &[bool]) {
    let best = outcomes
        .iter()
        .zip(eligible)
        .filter(|(_, &e)| e)
        .map(|(o, _)| o.wins)
        .max();
    let Some(best) = best else { return };
    let is_top = |o: &Outcome, e: bool| e && o.wins == best;
    let count = outcomes
        .iter()
        .zip(eligible)
        .filter(|(o, &e)| is_top(o, e))
        .count();
    for (o, &e) in outcomes.iter_mut().zip(eligible) {
        o.step_weight = if is_top(o, e) {
            1.0 / count as f64
        } else {
            0.0
        };
    }
}

/// `softmax(win_rate / temperature)` over the eligible models (SN9, T = 0.01), computed with
/// the maximum subtracted so small temperatures cannot overflow.
pub(crate) fn softmax(outcomes: &mut [Outcome], eligible: &[bool], temperature: f64) {
    let max = outcomes
        .iter()
        .zip(eligible)
        .filter(|(_, &e)| e)
        .map(|(o, _)| o.win_rate)
        .fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return;
    }
    let exps: Vec<f64> = outcomes
        .iter()
        .zip(eligible)
        .map(|(o, &e)| {
            if e {
                ((o.win_rate - max) / temperature).exp()
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = exps.iter().sum();
    for (o, e) in outcomes.iter_mut().zip(exps) {
        o.step_weight = e / total;
    }
}

#[cfg(test)]
#[path = "pairwise_tests.rs"]
mod tests;
