//! Competition weights over time (taoverse `CompetitionTracker`, SN37 §5.2).
//!
//! One step says little (one data draw), so each competition keeps an exponential moving
//! average of its step weights; a new winner needs two wins to cross the threshold, and an old
//! one fades over ~17 steps instead of vanishing at once.

use crate::competition::CompetitionId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// SN37's EMA factor since 2025-05-12: `w ← 0.9·w_old + 0.1·w_step`.
pub const EMA_ALPHA: f64 = 0.9;

/// SN37's minimum competition weight: smaller entries are zeroed before mixing, so a model
/// must win repeatedly before it is paid and stragglers stop being paid.
pub const MIN_COMPETITION_WEIGHT: f64 = 0.18;

/// Per competition, the EMA of step weights as a uid-indexed vector. Serialisable so the
/// validator can persist it across restarts (SN37 keeps it even when other state is reset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompetitionTracker {
    /// Competition id → weight per uid (sums to 1 once recorded).
    pub weights: BTreeMap<CompetitionId, Vec<f64>>,
}

/// Scales `v` to sum 1; returns false (leaving `v` untouched) if there is nothing to scale.
fn normalise(v: &mut [f64]) -> bool {
    let total: f64 = v.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= total);
    true
}

impl CompetitionTracker {
    /// Folds one step's weights (uid-indexed; negative or NaN entries count as 0) into
    /// competition `id`: normalised, then stored as is the first time, else
    /// `α·old + (1 − α)·step`. Vectors grow with the metagraph and never shrink.
    ///
    /// Returns false and changes nothing when the step carries no weight (every model failed):
    /// SN37 would decay everyone towards zero on such a step, punishing models for a bad data draw.
    pub fn record(&mut self, id: CompetitionId, step: &[f64], alpha: f64) -> bool {
        let mut new: Vec<f64> = step
            .iter()
            .map(|&w| if w.is_finite() && w > 0.0 { w } else { 0.0 })
            .collect();
        if !normalise(&mut new) {
            return false;
        }
        match self.weights.get_mut(&id) {
            None => {
                self.weights.insert(id, new);
            }
            Some(old) => {
                let len = old.len().max(new.len());
                old.resize(len, 0.0);
                new.resize(len, 0.0);
                for (o, n) in old.iter_mut().zip(&new) {
                    *o = alpha * *o + (1.0 - alpha) * n;
                }
            }
        }
        true
    }

    /// The tracked weights of a competition, if it has run.
    pub fn get(&self, id: CompetitionId) -> Option<&[f64]> {
        self.weights.get(&id).map(Vec::as_slice)
    }

    /// Forgets competitions that are no longer in the active schedule (SN37 `reset_competitions`).
    pub fn retain_active(&mut self, active: &[CompetitionId]) {
        self.weights.retain(|id, _| active.contains(id));
    }

    /// Zeroes a uid everywhere: a new hotkey on a recycled uid must not inherit the old weight.
    pub fn reset_uid(&mut self, uid: u16) {
        for v in self.weights.values_mut() {
            if let Some(w) = v.get_mut(uid as usize) {
                *w = 0.0;
            }
        }
    }

    /// Subnet weights (SN37 `get_subnet_weights`): for each active `(id, reward)` that has
    /// run, normalise its vector, zero entries below `threshold`, renormalise, and add
    /// `reward · w`; finally normalise the sum, so a competition that has not run yet (or whose
    /// entries all fell below the threshold) does not deflate the others. The result has length
    /// `max(n_uids, longest tracked vector)` and is all zeros if nothing qualifies.
    pub fn subnet_weights(
        &self,
        active: &[(CompetitionId, f64)],
        threshold: f64,
        n_uids: usize,
    ) -> Vec<f64> {
        let len = self.weights.values().map(Vec::len).fold(n_uids, usize::max);
        let mut subnet = vec![0.0; len];
        for &(id, reward) in active {
            let Some(tracked) = self.weights.get(&id) else {
                continue;
            };
            let mut w = tracked.clone();
            if !normalise(&mut w) {
                continue;
            }
            w.iter_mut()
                .filter(|x| **x < threshold)
                .for_each(|x| *x = 0.0);
            if !normalise(&mut w) {
                continue;
            }
            for (s, x) in subnet.iter_mut().zip(&w) {
                *s += reward * x;
            }
        }
        normalise(&mut subnet);
        subnet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn first_record_is_stored_normalised() {
        let mut t = CompetitionTracker::default();
        assert!(t.record(1, &[0.0, 2.0, 2.0], EMA_ALPHA));
        assert_eq!(t.get(1), Some(&[0.0, 0.5, 0.5][..]));
        assert_eq!(t.get(2), None);
    }

    #[test]
    fn ema_hand_computed() {
        let mut t = CompetitionTracker::default();
        t.record(1, &[1.0, 0.0], EMA_ALPHA);
        t.record(1, &[0.0, 1.0], EMA_ALPHA);
        assert!(close(t.get(1).unwrap(), &[0.9, 0.1]));
        t.record(1, &[0.0, 1.0], EMA_ALPHA);
        // 0.9·0.9 = 0.81; 0.9·0.1 + 0.1 = 0.19.
        assert!(close(t.get(1).unwrap(), &[0.81, 0.19]));
    }

    #[test]
    fn new_winner_crosses_threshold_after_two_wins_old_fades_after_seventeen() {
        let mut t = CompetitionTracker::default();
        t.record(1, &[1.0, 0.0], EMA_ALPHA);
        let mut crossings = vec![];
        for step in 1..=20 {
            t.record(1, &[0.0, 1.0], EMA_ALPHA);
            let s = t.subnet_weights(&[(1, 1.0)], MIN_COMPETITION_WEIGHT, 2);
            crossings.push((step, s[0] > 0.0, s[1] > 0.0));
        }
        // After 1 win: 0.1 < 0.18 (not paid); after 2: 0.19 (paid).
        assert_eq!(crossings[0], (1, true, false));
        assert_eq!(crossings[1], (2, true, true));
        // Old winner 0.9^n ≥ 0.18 up to n = 16 (0.185), below at 17 (0.167).
        assert_eq!(crossings[15], (16, true, true));
        assert_eq!(crossings[16], (17, false, true));
    }

    #[test]
    fn empty_step_is_ignored() {
        let mut t = CompetitionTracker::default();
        assert!(!t.record(1, &[0.0, 0.0], EMA_ALPHA));
        assert!(!t.record(1, &[], EMA_ALPHA));
        assert!(!t.record(1, &[f64::NAN, -1.0], EMA_ALPHA));
        assert!(t.weights.is_empty());
        t.record(1, &[1.0], EMA_ALPHA);
        assert!(!t.record(1, &[0.0, 0.0], EMA_ALPHA));
        assert_eq!(t.get(1), Some(&[1.0][..]));
    }

    #[test]
    fn vectors_grow_with_the_metagraph() {
        let mut t = CompetitionTracker::default();
        t.record(1, &[1.0], 0.5);
        t.record(1, &[0.0, 0.0, 1.0], 0.5);
        assert_eq!(t.get(1), Some(&[0.5, 0.0, 0.5][..]));
        t.record(1, &[1.0], 0.5);
        assert_eq!(t.get(1), Some(&[0.75, 0.0, 0.25][..]));
    }

    #[test]
    fn threshold_renormalisation_and_reward_mix() {
        let mut t = CompetitionTracker::default();
        t.record(1, &[0.5, 0.3, 0.2, 0.0], EMA_ALPHA); // 0.2 ≥ 0.18 stays
        t.record(2, &[0.0, 0.0, 0.1, 0.9], EMA_ALPHA); // 0.1 dropped → [0, 0, 0, 1]
        let s = t.subnet_weights(&[(1, 0.75), (2, 0.25)], MIN_COMPETITION_WEIGHT, 4);
        assert!(close(&s, &[0.375, 0.225, 0.15, 0.25]));
        // Entries below threshold in competition 1: 0.1 and 0.15 dropped → [0.75/0.75, 0, 0].
        let mut t = CompetitionTracker::default();
        t.record(1, &[0.75, 0.15, 0.1], EMA_ALPHA);
        let s = t.subnet_weights(&[(1, 1.0)], MIN_COMPETITION_WEIGHT, 3);
        assert_eq!(s, vec![1.0, 0.0, 0.0]);
        // Exactly at the threshold is kept (only strictly smaller entries are zeroed).
        let mut t = CompetitionTracker::default();
        t.record(1, &[0.82, 0.18], EMA_ALPHA);
        let s = t.subnet_weights(&[(1, 1.0)], MIN_COMPETITION_WEIGHT, 2);
        assert!(close(&s, &[0.82, 0.18]));
    }

    #[test]
    fn missing_or_all_below_threshold_competition_does_not_deflate_others() {
        let mut t = CompetitionTracker::default();
        t.record(1, &[0.0, 1.0], EMA_ALPHA);
        // Competition 2 never ran; competition 3's entries are all below 0.18.
        t.record(3, &[0.1; 10], EMA_ALPHA);
        let s = t.subnet_weights(&[(1, 0.5), (2, 0.3), (3, 0.2)], MIN_COMPETITION_WEIGHT, 2);
        assert_eq!(s.len(), 10);
        assert_eq!(&s[..2], &[0.0, 1.0]);
        assert!(s[2..].iter().all(|&x| x == 0.0));
        // Inactive competitions are not mixed in even if tracked.
        let s = t.subnet_weights(&[(2, 1.0)], MIN_COMPETITION_WEIGHT, 2);
        assert!(s.iter().all(|&x| x == 0.0));
        assert!(CompetitionTracker::default().subnet_weights(&[], 0.18, 3) == vec![0.0; 3]);
    }

    #[test]
    fn retain_and_reset_uid() {
        let mut t = CompetitionTracker::default();
        t.record(1, &[1.0, 1.0], EMA_ALPHA);
        t.record(2, &[1.0], EMA_ALPHA);
        t.reset_uid(1);
        t.reset_uid(40);
        assert_eq!(t.get(1), Some(&[0.5, 0.0][..]));
        t.retain_active(&[1]);
        assert_eq!(t.weights.keys().copied().collect::<Vec<_>>(), [1]);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            serde_json::from_str::<CompetitionTracker>(&json).unwrap(),
            t
        );
    }
}
