//! Bounty entries blended into the model weights (SN29 "Hall of Fame").
//!
//! A subnet owner can pay for bug reports or code the way SN29 does: an entry `{uid, block,
//! reward}` adds `(reward / 200) · 0.995^(Δblocks / 361)` to that uid's weight. The sum over all
//! future epochs of that decaying weight equals `reward`, so a reward of 1.0 is worth "one epoch
//! of 100 % of miner weight", spread over weeks. The total bounty weight `R` is capped, and the
//! models keep `(1 − R)`.

use serde::{Deserialize, Serialize};

/// Divisor of the reward: `1 / (1 − 0.995)` = 200 (SN29 `REWARDS_IV_FACTOR`).
pub const BOUNTY_FACTOR: f64 = 200.0;
/// Decay per 361-block epoch (SN29).
pub const BOUNTY_DECAY: f64 = 0.995;
/// Blocks per decay epoch (SN29 `blocks_per_epoch`).
pub const BOUNTY_EPOCH_BLOCKS: u64 = 361;
/// Default cap on the total bounty share (SN29 until July 2025: 0.4).
pub const BOUNTY_CAP: f64 = 0.4;

/// One bounty award.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bounty {
    /// The uid currently holding the rewarded hotkey.
    pub uid: u16,
    /// Block the award was granted at; the weight decays from there.
    pub block: u64,
    /// Total reward in "epochs of 100 % weight"; non-positive or non-finite entries are ignored.
    pub reward: f64,
    /// Why it was awarded (for the leaderboard).
    #[serde(default)]
    pub description: String,
}

/// The current weight of one award: `(reward / 200) · 0.995^(max(cur − block, 0) / 361)`.
pub fn bounty_weight(bounty: &Bounty, current_block: u64) -> f64 {
    if !(bounty.reward.is_finite() && bounty.reward > 0.0) {
        return 0.0;
    }
    let epochs = current_block.saturating_sub(bounty.block) as f64 / BOUNTY_EPOCH_BLOCKS as f64;
    bounty.reward / BOUNTY_FACTOR * BOUNTY_DECAY.powf(epochs)
}

/// Blends bounties into normalised model weights: `(1 − R)·models + bounties`, with `R` the
/// total bounty weight scaled down to `cap` (clamped to `[0, 1]`) if larger; the result is
/// normalised to sum 1 (all zeros if both parts are empty). Its length is the larger of the
/// model vector and the largest bounty uid + 1.
pub fn blend_bounties(
    model_weights: &[f64],
    bounties: &[Bounty],
    current_block: u64,
    cap: f64,
) -> Vec<f64> {
    let len = bounties
        .iter()
        .map(|b| b.uid as usize + 1)
        .fold(model_weights.len(), usize::max);
    let mut extra = vec![0.0; len];
    for b in bounties {
        extra[b.uid as usize] += bounty_weight(b, current_block);
    }
    let mut total: f64 = extra.iter().sum();
    let cap = if cap.is_finite() {
        cap.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if total > cap {
        extra.iter_mut().for_each(|x| *x *= cap / total);
        total = cap;
    }
    let model_sum: f64 = model_weights.iter().sum();
    let mut out = extra;
    if model_sum > 0.0 {
        for (o, m) in out.iter_mut().zip(model_weights) {
            *o += (1.0 - total) * m / model_sum;
        }
    }
    let sum: f64 = out.iter().sum();
    if sum > 0.0 {
        out.iter_mut().for_each(|x| *x /= sum);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn award(uid: u16, block: u64, reward: f64) -> Bounty {
        Bounty {
            uid,
            block,
            reward,
            description: String::new(),
        }
    }

    #[test]
    fn weight_hand_computed() {
        // reward 1: 0.005 now, 0.005·0.995 one epoch later, 0.005·0.995^2 two epochs later.
        assert!((bounty_weight(&award(0, 1000, 1.0), 1000) - 0.005).abs() < 1e-15);
        assert!((bounty_weight(&award(0, 1000, 1.0), 1361) - 0.004_975).abs() < 1e-15);
        assert!((bounty_weight(&award(0, 0, 2.0), 722) - 0.01 * 0.990_025).abs() < 1e-15);
        assert_eq!(
            bounty_weight(&award(0, 5000, 1.0), 10),
            0.005,
            "future grant: no decay"
        );
        assert_eq!(bounty_weight(&award(0, 0, -1.0), 10), 0.0);
        assert_eq!(bounty_weight(&award(0, 0, f64::NAN), 10), 0.0);
    }

    #[test]
    fn blend_under_the_cap() {
        // R = 0.005 + 0.005 = 0.01: models keep 0.99.
        let out = blend_bounties(&[0.5, 0.5], &[award(1, 0, 1.0), award(3, 0, 1.0)], 0, 0.4);
        let want = [0.495, 0.5, 0.0, 0.005];
        assert!(
            out.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15),
            "{out:?}"
        );
    }

    #[test]
    fn blend_capped() {
        // An "emission control" award of 1e9 takes exactly the cap.
        let out = blend_bounties(&[0.0, 1.0], &[award(0, 0, 1e9)], 0, 0.4);
        assert!(
            (out[0] - 0.4).abs() < 1e-12 && (out[1] - 0.6).abs() < 1e-12,
            "{out:?}"
        );
        // Two capped awards split the cap in proportion: 3:1.
        let out = blend_bounties(&[1.0], &[award(1, 0, 300.0), award(2, 0, 100.0)], 0, 0.4);
        assert!(
            (out[1] - 0.3).abs() < 1e-12 && (out[2] - 0.1).abs() < 1e-12,
            "{out:?}"
        );
        assert!((out[0] - 0.6).abs() < 1e-12);
    }

    #[test]
    fn blend_edge_cases() {
        assert_eq!(blend_bounties(&[0.2, 0.8], &[], 0, 0.4), vec![0.2, 0.8]);
        assert_eq!(blend_bounties(&[0.0, 0.0], &[], 0, 0.4), vec![0.0, 0.0]);
        // No model weight at all: the bounties alone, normalised.
        let out = blend_bounties(&[], &[award(1, 0, 1.0)], 0, 0.4);
        assert_eq!(out, vec![0.0, 1.0]);
        // Cap 0 disables bounties.
        assert_eq!(
            blend_bounties(&[1.0], &[award(0, 0, 5.0)], 0, 0.0),
            vec![1.0]
        );
    }
}
