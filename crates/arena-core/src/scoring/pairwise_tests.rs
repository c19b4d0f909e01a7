//! Hand-computed cases for the pairwise policy.

use super::*;
use crate::competition::{Comparison, ScoringPolicy};
use crate::scoring::{score_step, ScoringError};

const FIVE_PCT: EpsilonFunc = EpsilonFunc::Fixed { value: 0.05 };
const QUARTER: EpsilonFunc = EpsilonFunc::Fixed { value: 0.25 };

fn run(
    models: &[Contender],
    current_block: u64,
    epsilon: &EpsilonFunc,
    step_weights: StepWeightRule,
    temperature: f64,
) -> StepResult {
    let rule = Rule {
        step_weights,
        temperature,
        comparison: Comparison::Aggregate,
    };
    score(models, current_block, epsilon, &rule).unwrap()
}

fn c(uid: u16, block: u64, score: f64) -> Contender {
    Contender::new(uid, block, score)
}

fn wta(models: &[Contender], eps: &EpsilonFunc) -> StepResult {
    run(models, 1000, eps, StepWeightRule::WinnerTakesAll, 0.01)
}

fn weights(r: &StepResult) -> Vec<f64> {
    r.outcomes.iter().map(|o| o.step_weight).collect()
}

fn wins(r: &StepResult) -> Vec<u32> {
    r.outcomes.iter().map(|o| o.wins).collect()
}

/// 0 (oldest, 2.0) vs 1 (1.95): 2.0·0.95 = 1.90 < 1.95 → 0 wins.
/// 0 vs 2 (1.80): 1.90 > 1.80 → 2 wins. 1 vs 2: 1.95·0.95 = 1.8525 > 1.80 → 2 wins.
fn three() -> Vec<Contender> {
    vec![c(0, 100, 2.0), c(1, 200, 1.95), c(2, 300, 1.80)]
}

#[test]
fn three_models_winner_takes_all() {
    let r = wta(&three(), &FIVE_PCT);
    assert_eq!(wins(&r), [1, 0, 2]);
    let rates: Vec<f64> = r.outcomes.iter().map(|o| o.win_rate).collect();
    assert_eq!(rates, [0.5, 0.0, 1.0]);
    assert_eq!(weights(&r), [0.0, 0.0, 1.0]);
    assert_eq!(r.top_uid, Some(2));
    assert!(r.outcomes.iter().all(|o| o.advantage == 0.05));
}

#[test]
fn three_models_softmax() {
    // win rates 0.5, 0, 1 at T = 0.5: e^−1, e^−2, e^0 normalised.
    let r = run(&three(), 1000, &FIVE_PCT, StepWeightRule::Softmax, 0.5);
    let expected = [
        0.244_728_471_054_797_64,
        0.090_030_573_170_380_46,
        0.665_240_955_774_821_8,
    ];
    for (w, e) in weights(&r).iter().zip(expected) {
        assert!((w - e).abs() < 1e-12, "{w} vs {e}");
    }
    // SN9's T = 0.01: the runner-up keeps e^−50 / (1 + e^−50 + e^−100).
    let r = run(&three(), 1000, &FIVE_PCT, StepWeightRule::Softmax, 0.01);
    assert!((r.outcomes[0].step_weight / 1.928_749_847_963_917_8e-22 - 1.0).abs() < 1e-9);
    assert!((r.outcomes[2].step_weight - 1.0).abs() < 1e-15);
}

#[test]
fn later_copy_never_beats_the_original() {
    let r = wta(&[c(0, 100, 1.0), c(1, 200, 1.0)], &FIVE_PCT);
    assert_eq!(wins(&r), [1, 0]);
    assert_eq!(weights(&r), [1.0, 0.0]);
    // Even with no epsilon at all: an exact tie is no win for anyone, both share.
    let r = wta(
        &[c(0, 100, 1.0), c(1, 200, 1.0)],
        &EpsilonFunc::Fixed { value: 0.0 },
    );
    assert_eq!(wins(&r), [0, 0]);
    assert_eq!(weights(&r), [0.5, 0.5]);
    assert_eq!(
        r.top_uid,
        Some(0),
        "equal win rates: the older model is the top"
    );
}

#[test]
fn same_block_is_not_adjusted() {
    let r = wta(&[c(4, 100, 1.0), c(3, 100, 0.99)], &QUARTER);
    assert_eq!(wins(&r), [0, 1]);
    let r = wta(&[c(4, 100, 1.0), c(3, 100, 1.0)], &QUARTER);
    assert_eq!(weights(&r), [0.5, 0.5]);
    assert_eq!(r.top_uid, Some(3), "same block and win rate: the lower uid");
}

#[test]
fn epsilon_boundary_is_strict() {
    // Older 1.0 · (1 − 0.25) = 0.75 exactly.
    let at = |newer: f64| wins(&wta(&[c(0, 0, 1.0), c(1, 10, newer)], &QUARTER));
    assert_eq!(at(0.75), [0, 0], "equal adjusted scores: no win either way");
    assert_eq!(at(0.7499), [0, 1]);
    assert_eq!(at(0.7501), [1, 0]);
}

#[test]
fn decayed_epsilon_lets_the_newcomer_through() {
    let decay = EpsilonFunc::LinearDecay {
        start: 0.5,
        end: 0.0,
        blocks: 1000,
    };
    let models = [c(0, 0, 1.0), c(1, 100, 0.8)];
    // cur 100: ε(0) = 0.45 → 0.55 < 0.8, the incumbent wins.
    let early = run(&models, 100, &decay, StepWeightRule::WinnerTakesAll, 0.01);
    assert_eq!(early.top_uid, Some(0));
    assert!(lost_only_on_epsilon(&models[1], &models[0], 100, &decay));
    // cur 900: ε(0) = 0.05 → 0.95 > 0.8, the newcomer wins.
    let late = run(&models, 900, &decay, StepWeightRule::WinnerTakesAll, 0.01);
    assert_eq!(late.top_uid, Some(1));
    assert!(!lost_only_on_epsilon(&models[1], &models[0], 900, &decay));
    assert_eq!(late.outcomes[0].advantage, 0.5 - 0.9 * 0.5);
}

#[test]
fn lost_only_on_epsilon_cases() {
    let winner = c(0, 0, 1.0);
    assert!(lost_only_on_epsilon(&c(1, 10, 0.8), &winner, 0, &QUARTER));
    assert!(
        !lost_only_on_epsilon(&c(1, 10, 1.1), &winner, 0, &QUARTER),
        "worse raw"
    );
    assert!(
        !lost_only_on_epsilon(&c(1, 10, 1.0), &winner, 0, &QUARTER),
        "equal raw"
    );
    assert!(
        !lost_only_on_epsilon(&c(1, 10, 0.7), &winner, 0, &QUARTER),
        "it won"
    );
    assert!(
        !lost_only_on_epsilon(&c(1, 0, 0.8), &winner, 0, &QUARTER),
        "same block"
    );
    let older = c(1, 0, 0.8);
    assert!(
        !lost_only_on_epsilon(&older, &c(0, 10, 1.0), 0, &QUARTER),
        "older model"
    );
    let inf = c(1, 10, f64::INFINITY);
    assert!(!lost_only_on_epsilon(&inf, &winner, 0, &QUARTER));
}

#[test]
fn cycle_shares_the_weight_and_the_oldest_is_top() {
    // ε 0.1: a(5) beats b(1) (0.9 < 0.95), b beats c(3) (0.855 < 0.86), c beats a (0.86 < 0.9).
    let eps = EpsilonFunc::Fixed { value: 0.1 };
    let r = wta(&[c(5, 0, 1.0), c(1, 1, 0.95), c(3, 2, 0.86)], &eps);
    assert_eq!(wins(&r), [1, 1, 1]);
    for w in weights(&r) {
        assert!((w - 1.0 / 3.0).abs() < 1e-15);
    }
    assert_eq!(r.top_uid, Some(5));
}

#[test]
fn infinite_scores() {
    // A failed older model loses to any finite one and gets no weight.
    let r = wta(&[c(0, 0, f64::INFINITY), c(1, 10, 2.0)], &FIVE_PCT);
    assert_eq!(wins(&r), [0, 1]);
    assert_eq!(weights(&r), [0.0, 1.0]);
    // All failed: no wins, no weight, no top (SN37 would share the weight among failures).
    let r = wta(
        &[c(0, 0, f64::INFINITY), c(1, 10, f64::INFINITY)],
        &FIVE_PCT,
    );
    assert_eq!(weights(&r), [0.0, 0.0]);
    assert_eq!(r.top_uid, None);
    let r = run(
        &[c(0, 0, f64::INFINITY)],
        5,
        &FIVE_PCT,
        StepWeightRule::Softmax,
        0.01,
    );
    assert_eq!(weights(&r), [0.0]);
    // Softmax ignores the failed model even though its win rate is 0 like a finite loser's.
    let models = [c(0, 0, f64::INFINITY), c(1, 10, 2.0), c(2, 20, 3.0)];
    let r = run(&models, 1000, &FIVE_PCT, StepWeightRule::Softmax, 1.0);
    assert_eq!(r.outcomes[0].step_weight, 0.0);
    // win rates: uid1 beats both (1.0), uid2 beats the failed one (0.5): e^0 and e^−0.5.
    let w1 = 1.0 / (1.0 + (-0.5f64).exp());
    assert!((r.outcomes[1].step_weight - w1).abs() < 1e-15);
}

#[test]
fn single_and_empty() {
    let r = wta(&[c(9, 0, 3.0)], &FIVE_PCT);
    assert_eq!(
        (r.outcomes[0].win_rate, r.outcomes[0].step_weight),
        (1.0, 1.0)
    );
    assert_eq!(r.top_uid, Some(9));
    let r = wta(&[], &FIVE_PCT);
    assert!(r.outcomes.is_empty());
    assert_eq!(r.top_uid, None);
    assert_eq!(r.weight_vector(3), vec![0.0; 3]);
}

#[test]
fn through_score_step_with_weight_vector() {
    let policy = ScoringPolicy::Pairwise {
        step_weights: StepWeightRule::WinnerTakesAll,
        temperature: 0.01,
        comparison: Comparison::Aggregate,
    };
    let r = score_step(&policy, &three(), 1000, &FIVE_PCT).unwrap();
    assert_eq!(r.weight_vector(5), vec![0.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(r.weight_vector(0).len(), 3, "grows to the largest uid");
    let dup = [c(1, 0, 1.0), c(1, 5, 2.0)];
    assert_eq!(
        score_step(&policy, &dup, 10, &FIVE_PCT),
        Err(ScoringError::DuplicateUid(1))
    );
}

#[test]
fn epsilon_losers_of_a_step() {
    // Top: uid 0 (1.0, oldest). uid 1 (0.8) lost on ε 0.25; uid 2 (1.2) lost outright.
    let models = [c(0, 0, 1.0), c(1, 10, 0.8), c(2, 20, 1.2)];
    let r = wta(&models, &QUARTER);
    assert_eq!(r.top_uid, Some(0));
    assert_eq!(epsilon_losers(&models, r.top_uid, 1000, &QUARTER), [1]);
    assert!(epsilon_losers(&models, None, 1000, &QUARTER).is_empty());
    assert!(epsilon_losers(&[], Some(0), 1000, &QUARTER).is_empty());
}

fn per_unit(uid: u16, block: u64, score: f64, units: &[f64]) -> Contender {
    Contender {
        unit_losses: units.to_vec(),
        ..c(uid, block, score)
    }
}

#[test]
fn per_unit_matches_hand_computed() {
    // ε 0.25 → the older A's unit losses count as 0.75.
    // A–B: u0 B (0.7 < 0.75), u1 A, u2 A.  A–C: u0 A, u1 C (0.6), u2 A (C failed).
    // B–C (same block): u0 B, u1 C, u2 B.  Wins: A 4, B 3, C 2 of 6 matches each.
    let models = [
        per_unit(0, 0, 3.0, &[1.0, 1.0, 1.0]),
        per_unit(1, 10, 2.5, &[0.7, 0.8, 1.0]),
        per_unit(2, 10, f64::INFINITY, &[0.8, 0.6, f64::INFINITY]),
    ];
    let rule = |step_weights| Rule {
        step_weights,
        temperature: 1.0,
        comparison: Comparison::PerUnit,
    };
    let r = score(&models, 50, &QUARTER, &rule(StepWeightRule::WinnerTakesAll)).unwrap();
    assert_eq!(wins(&r), [4, 3, 2]);
    let rates: Vec<f64> = r.outcomes.iter().map(|o| o.win_rate).collect();
    assert_eq!(rates, [4.0 / 6.0, 0.5, 2.0 / 6.0]);
    assert_eq!(weights(&r), [1.0, 0.0, 0.0]);
    assert_eq!(r.top_uid, Some(0));
    // Softmax at T = 1 over the finite models: e^0 and e^(−1/6); C failed overall.
    let r = score(&models, 50, &QUARTER, &rule(StepWeightRule::Softmax)).unwrap();
    let w0 = 1.0 / (1.0 + (-1.0f64 / 6.0).exp());
    assert!((r.outcomes[0].step_weight - w0).abs() < 1e-15);
    assert_eq!(r.outcomes[2].step_weight, 0.0);
}

#[test]
fn per_unit_needs_equal_units() {
    let rule = Rule {
        step_weights: StepWeightRule::WinnerTakesAll,
        temperature: 0.01,
        comparison: Comparison::PerUnit,
    };
    let models = [
        per_unit(0, 0, 1.0, &[1.0, 2.0]),
        per_unit(1, 1, 1.0, &[1.0]),
    ];
    assert_eq!(
        score(&models, 5, &QUARTER, &rule),
        Err(ScoringError::UnitCountMismatch {
            uid: 1,
            expected: 2,
            found: 1
        })
    );
    // No units at all: no matches, everyone at 0, the finite models share.
    let models = [per_unit(0, 0, 1.0, &[]), per_unit(1, 1, 2.0, &[])];
    let r = score(&models, 5, &QUARTER, &rule).unwrap();
    assert_eq!(weights(&r), [0.5, 0.5]);
    // A lone model still has win rate 1.
    let r = score(&[per_unit(3, 0, 1.0, &[1.0])], 5, &QUARTER, &rule).unwrap();
    assert_eq!(r.outcomes[0].win_rate, 1.0);
}
