//! Scoring: from the models evaluated in one step to weights on chain.
//!
//! The pipeline a validator runs each step, all pure functions:
//! 1. [`score_step`] applies the competition's [`ScoringPolicy`]: [`pairwise`] (SN37/SN9) or
//!    [`leader`] per unit (SN29) gives each model a win rate and a step weight;
//! 2. [`CompetitionTracker::record`] folds the step weights into the competition's EMA;
//! 3. [`CompetitionTracker::subnet_weights`] drops entries under the threshold and mixes the
//!    competitions by reward share; [`blend_bounties`] optionally adds Hall-of-Fame entries;
//! 4. [`to_u16_weights`] max-upscales the result for `set_weights`.
//!
//! ```
//! use arena_core::competition::{ScoringPolicy, StepWeightRule};
//! use arena_core::epsilon::EpsilonFunc;
//! use arena_core::scoring::{score_step, Contender, CompetitionTracker, EMA_ALPHA, MIN_COMPETITION_WEIGHT};
//!
//! let policy = ScoringPolicy::Pairwise {
//!     step_weights: StepWeightRule::WinnerTakesAll,
//!     temperature: 0.01,
//!     comparison: Default::default(),
//! };
//! let eps = EpsilonFunc::Fixed { value: 0.05 };
//! let models = [Contender::new(0, 100, 2.0), Contender::new(1, 200, 1.0)];
//! let step = score_step(&policy, &models, 1000, &eps).unwrap();
//! assert_eq!(step.top_uid, Some(1)); // 1.0 < 2.0 · 0.95
//!
//! let mut tracker = CompetitionTracker::default();
//! tracker.record(7, &step.weight_vector(2), EMA_ALPHA);
//! let subnet = tracker.subnet_weights(&[(7, 1.0)], MIN_COMPETITION_WEIGHT, 2);
//! assert_eq!(subnet, vec![0.0, 1.0]);
//! ```

mod bounty;
mod ema;
pub mod leader;
pub mod pairwise;
mod weights_u16;

pub use bounty::{blend_bounties, bounty_weight, Bounty, BOUNTY_CAP, BOUNTY_DECAY, BOUNTY_FACTOR};
pub use ema::{CompetitionTracker, EMA_ALPHA, MIN_COMPETITION_WEIGHT};
pub use weights_u16::{to_u16_weights, WeightError};

use crate::competition::ScoringPolicy;
use crate::epsilon::EpsilonFunc;
use serde::{Deserialize, Serialize};

/// One model evaluated in a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contender {
    /// Metagraph uid (index into weight vectors).
    pub uid: u16,
    /// Block of the model's commitment: its age, for epsilon and seniority.
    pub block: u64,
    /// Aggregate competition score, lower is better; `+inf` if evaluation failed. The leader
    /// policy ranks by `unit_losses` and uses this only in records and logs.
    #[serde(with = "crate::serde_float")]
    pub score: f64,
    /// Per scoring unit loss (leader-per-unit only; empty for pairwise).
    #[serde(with = "crate::serde_float::vec")]
    pub unit_losses: Vec<f64>,
    /// Directory hash of the model files, without the hotkey: equal hashes are exact copies.
    pub content_hash: Option<String>,
}

impl Contender {
    /// A contender for the pairwise policy (no unit losses, no content hash).
    pub fn new(uid: u16, block: u64, score: f64) -> Self {
        Contender {
            uid,
            block,
            score,
            unit_losses: Vec::new(),
            content_hash: None,
        }
    }
}

/// What one model got out of a step, in the order of the input contenders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Metagraph uid.
    pub uid: u16,
    /// Opponents beaten (pairwise) or units led (leader per unit).
    pub wins: u32,
    /// Pairwise: wins / (n − 1) (1 for a lone model with a finite score). Leader: units / counted units.
    pub win_rate: f64,
    /// Share of this step's weight; the step weights sum to 1, or are all 0 if no model has a
    /// finite score.
    pub step_weight: f64,
    /// The model's own advantage when it is the older one: ε (pairwise) or `1 − factor` (leader).
    pub advantage: f64,
    /// Set when the model is an exact copy of an older one (leader policy): the original's uid.
    pub copy_of: Option<u16>,
}

/// The result of one step of one competition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// Per model, in input order.
    pub outcomes: Vec<Outcome>,
    /// The best model: highest win rate among finite scores, ties to the older block, then the
    /// lower uid (SN37 breaks ties by set order, which is not reproducible). `None` if no
    /// model has a finite score.
    pub top_uid: Option<u16>,
}

impl StepResult {
    /// The step weights as a uid-indexed vector of length `max(n_uids, largest uid + 1)`,
    /// ready for [`CompetitionTracker::record`].
    pub fn weight_vector(&self, n_uids: usize) -> Vec<f64> {
        let len = self
            .outcomes
            .iter()
            .map(|o| o.uid as usize + 1)
            .max()
            .unwrap_or(0)
            .max(n_uids);
        let mut v = vec![0.0; len];
        for o in &self.outcomes {
            v[o.uid as usize] += o.step_weight;
        }
        v
    }
}

/// Why a step cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    /// Weight vectors are indexed by uid, so a uid may appear once per step.
    #[error("uid {0} appears twice in the step")]
    DuplicateUid(u16),
    /// Per-unit policies compare models unit by unit; all must have the same units.
    #[error("uid {uid} has {found} unit losses, expected {expected}")]
    UnitCountMismatch {
        /// The offending model.
        uid: u16,
        /// Units of the first model.
        expected: usize,
        /// Units of this one.
        found: usize,
    },
}

/// Scores one step with the competition's policy. An empty step gives an empty result.
pub fn score_step(
    policy: &ScoringPolicy,
    contenders: &[Contender],
    current_block: u64,
    epsilon: &EpsilonFunc,
) -> Result<StepResult, ScoringError> {
    let mut seen = std::collections::BTreeSet::new();
    if let Some(c) = contenders.iter().find(|c| !seen.insert(c.uid)) {
        return Err(ScoringError::DuplicateUid(c.uid));
    }
    match *policy {
        ScoringPolicy::Pairwise {
            step_weights,
            temperature,
            comparison,
        } => {
            let rule = pairwise::Rule {
                step_weights,
                temperature,
                comparison,
            };
            pairwise::score(contenders, current_block, epsilon, &rule)
        }
        ScoringPolicy::LeaderPerUnit {
            advantage_initial,
            advantage_decay,
            epoch_blocks,
            skew,
            ..
        } => {
            let advantage = leader::Advantage {
                initial: advantage_initial,
                decay: advantage_decay,
                epoch_blocks,
            };
            leader::score(contenders, current_block, &advantage, skew)
        }
    }
}

/// The common number of unit losses of all contenders (0 for an empty step).
fn unit_count(contenders: &[Contender]) -> Result<usize, ScoringError> {
    let units = contenders.first().map_or(0, |c| c.unit_losses.len());
    match contenders.iter().find(|c| c.unit_losses.len() != units) {
        Some(c) => Err(ScoringError::UnitCountMismatch {
            uid: c.uid,
            expected: units,
            found: c.unit_losses.len(),
        }),
        None => Ok(units),
    }
}

/// Index of the best outcome among the `eligible` ones (a finite score, not a copy): highest
/// win rate, then older block, then lower uid.
fn top_index(contenders: &[Contender], outcomes: &[Outcome], eligible: &[bool]) -> Option<usize> {
    (0..contenders.len())
        .filter(|&i| eligible[i])
        .max_by(|&a, &b| {
            outcomes[a]
                .win_rate
                .total_cmp(&outcomes[b].win_rate)
                .then(contenders[b].block.cmp(&contenders[a].block))
                .then(contenders[b].uid.cmp(&contenders[a].uid))
        })
}

#[cfg(test)]
mod flow_tests {
    use super::*;
    use crate::competition::StepWeightRule;

    /// Several steps of two competitions through every stage, hand-computed.
    #[test]
    fn steps_to_ema_to_subnet_to_u16() {
        let wta = ScoringPolicy::Pairwise {
            step_weights: StepWeightRule::WinnerTakesAll,
            temperature: 0.01,
            comparison: Default::default(),
        };
        let leader = ScoringPolicy::LeaderPerUnit {
            advantage_initial: 0.004,
            advantage_decay: 0.995,
            epoch_blocks: 361,
            skew: 2.0,
            group_samples: 1,
        };
        let eps = EpsilonFunc::Fixed { value: 0.05 };
        let mut tracker = CompetitionTracker::default();

        // Competition 1: uid 0 alone, then uid 1 (0.5 < 1.0 · 0.95) wins twice.
        let alone = score_step(&wta, &[Contender::new(0, 10, 1.0)], 100, &eps).unwrap();
        tracker.record(1, &alone.weight_vector(4), EMA_ALPHA);
        let pair = [Contender::new(0, 10, 1.0), Contender::new(1, 20, 0.5)];
        for _ in 0..2 {
            let step = score_step(&wta, &pair, 100, &eps).unwrap();
            tracker.record(1, &step.weight_vector(4), EMA_ALPHA);
        }
        // 1 → [0.9, 0.1] → [0.81, 0.19].
        let c1 = tracker.get(1).unwrap();
        assert!((c1[0] - 0.81).abs() < 1e-12 && (c1[1] - 0.19).abs() < 1e-12);

        // Competition 2: uid 2 leads units 0 and 2, uid 3 takes unit 1 → 2/3, 1/3 → 0.8, 0.2.
        let mut a = Contender::new(2, 0, 3.0);
        a.unit_losses = vec![1.0, 1.0, 1.0];
        let mut b = Contender::new(3, 5, 4.5);
        b.unit_losses = vec![2.0, 0.5, 2.0];
        let step = score_step(&leader, &[a, b], 100, &eps).unwrap();
        tracker.record(2, &step.weight_vector(4), EMA_ALPHA);

        // 0.75 · [0.81, 0.19, 0, 0] + 0.25 · [0, 0, 0.8, 0.2].
        let subnet = tracker.subnet_weights(&[(1, 0.75), (2, 0.25)], MIN_COMPETITION_WEIGHT, 4);
        for (got, want) in subnet.iter().zip([0.6075, 0.1425, 0.2, 0.05]) {
            assert!((got - want).abs() < 1e-12, "{subnet:?}");
        }
        // Max-upscaled: x / 0.6075 · 65535, rounded.
        let pairs = to_u16_weights(&subnet).unwrap();
        assert_eq!(pairs, vec![(0, 65535), (1, 15372), (2, 21575), (3, 5394)]);
    }
}
