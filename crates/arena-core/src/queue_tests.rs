//! Hand-computed cases for the queue decisions.

use super::*;
use crate::scoring::Contender;

const QUARTER: EpsilonFunc = EpsilonFunc::Fixed { value: 0.25 };
/// 0.5 at the commit block, 0 after 1000 blocks.
const DECAY: EpsilonFunc = EpsilonFunc::LinearDecay {
    start: 0.5,
    end: 0.0,
    blocks: 1000,
};

fn rec(block: u64, score: f64, winning_block: u64, winning_score: f64) -> EvalRecord {
    EvalRecord {
        block,
        score,
        winning_block,
        winning_score,
    }
}

fn ctx(current_block: u64, queued_total: usize, epsilon: &EpsilonFunc) -> QueueContext<'_> {
    QueueContext {
        current_block,
        queued_total,
        policy: QueuePolicy::default(),
        epsilon,
    }
}

fn known(uid: u16, commit_block: u64, history: Vec<EvalRecord>) -> UidState {
    UidState {
        new_commitment: false,
        last_evaluated: history.iter().map(|r| r.block).max(),
        history,
        ..UidState::new_commitment(uid, commit_block)
    }
}

#[test]
fn retry_rule() {
    assert!(should_retry(&[], 0, &QUARTER), "never evaluated");
    // Worse than the winner: never.
    assert!(!should_retry(&[rec(10, 1.1, 0, 1.0)], 10, &QUARTER));
    // Better raw, but 0.8 ≥ 1.0 · 0.75: still losing on epsilon.
    assert!(!should_retry(&[rec(10, 0.8, 0, 1.0)], 10, &QUARTER));
    // Beats the handicap: 0.7 < 0.75.
    assert!(should_retry(&[rec(10, 0.7, 0, 1.0)], 10, &QUARTER));
    // The winner itself: score == winning score → no.
    assert!(!should_retry(&[rec(10, 1.0, 0, 1.0)], 10, &QUARTER));
    // Decay: winner committed at block 0. At 100, ε = 0.45 → 0.8 ≥ 0.55; at 900, ε = 0.05 → 0.8 < 0.95.
    let lost = [rec(100, 0.8, 0, 1.0)];
    assert!(!should_retry(&lost, 100, &DECAY));
    assert!(should_retry(&lost, 900, &DECAY));
}

#[test]
fn retry_uses_the_latest_finite_record() {
    // Latest finite (block 30) says "worse": no retry, although an older one lost on epsilon.
    let h = [
        rec(10, 0.8, 0, 1.0),
        rec(30, 1.2, 0, 1.0),
        rec(40, f64::INFINITY, 0, 1.0),
    ];
    assert!(!should_retry(&h, 5000, &DECAY));
    // Order in the slice does not matter.
    let h = [rec(30, 0.8, 0, 1.0), rec(10, 1.2, 0, 1.0)];
    assert!(should_retry(&h, 5000, &DECAY));
}

#[test]
fn only_failures_retry_once() {
    let inf = f64::INFINITY;
    assert!(should_retry(&[rec(10, inf, 0, 1.0)], 20, &QUARTER));
    assert!(!should_retry(
        &[rec(10, inf, 0, 1.0), rec(20, inf, 0, 1.0)],
        30,
        &QUARTER
    ));
}

#[test]
fn top_miners_from_big_validators() {
    let policy = QueuePolicy::default();
    let v = |stake: f64, permit: bool, weights: Vec<(u16, f64)>| ValidatorWeights {
        stake,
        validator_permit: permit,
        weights,
    };
    let validators = [
        // total 1000: uid 1 has 98.9 %, uid 2 exactly 1 %, uid 3 0.1 %.
        v(200_000.0, true, vec![(1, 989.0), (2, 10.0), (3, 1.0)]),
        // small stake: ignored.
        v(50_000.0, true, vec![(4, 1.0)]),
        // no permit: ignored.
        v(500_000.0, false, vec![(5, 1.0)]),
        // exactly the minimum stake counts; zero and NaN weights are ignored.
        v(100_000.0, true, vec![(6, 65535.0), (7, 0.0), (8, f64::NAN)]),
        v(300_000.0, true, vec![]),
    ];
    let top: Vec<u16> = top_miners(&validators, &policy).into_iter().collect();
    assert_eq!(top, [1, 2, 6]);
    assert!(top_miners(&[], &policy).is_empty());
}

#[test]
fn decide_order_of_rules() {
    let c = ctx(5000, 0, &QUARTER);
    assert_eq!(
        decide(&UidState::new_commitment(1, 10), &c),
        QueueDecision::Queue(QueueReason::New)
    );
    let queued = UidState {
        queued: true,
        ..UidState::new_commitment(1, 10)
    };
    assert_eq!(decide(&queued, &c), QueueDecision::Skip);
    let early = UidState {
        delay_passed: false,
        top_miner: true,
        ..UidState::new_commitment(1, 10)
    };
    assert_eq!(decide(&early, &c), QueueDecision::Defer);
    // Known model that lost on epsilon, now beating the handicap.
    let retry = known(2, 10, vec![rec(4000, 0.7, 0, 1.0)]);
    assert_eq!(decide(&retry, &c), QueueDecision::Queue(QueueReason::Retry));
    let settled = known(2, 10, vec![rec(4000, 1.5, 0, 1.0)]);
    assert_eq!(decide(&settled, &c), QueueDecision::Skip);
}

#[test]
fn top_miner_recheck_cadence_and_limit() {
    let mut state = known(3, 10, vec![rec(3800, 1.5, 0, 1.0)]);
    state.top_miner = true;
    // Full queue, last evaluated 1200 blocks ago: re-checked anyway.
    assert_eq!(
        decide(&state, &ctx(5000, 16, &QUARTER)),
        QueueDecision::Queue(QueueReason::TopMinerRecheck)
    );
    // 1199 blocks: not yet; its own history says no retry either.
    assert_eq!(decide(&state, &ctx(4999, 0, &QUARTER)), QueueDecision::Skip);
    // Never evaluated by us: re-checked.
    state.last_evaluated = None;
    state.history.clear();
    assert_eq!(
        decide(&state, &ctx(4999, 99, &QUARTER)),
        QueueDecision::Queue(QueueReason::TopMinerRecheck)
    );
}

#[test]
fn full_queue_defers_new_models() {
    assert_eq!(
        decide(&UidState::new_commitment(1, 10), &ctx(5000, 16, &QUARTER)),
        QueueDecision::Defer
    );
    let settled = known(2, 10, vec![rec(4000, 1.5, 0, 1.0)]);
    assert_eq!(
        decide(&settled, &ctx(5000, 16, &QUARTER)),
        QueueDecision::Skip
    );
}

#[test]
fn admissions_oldest_first_within_the_limit() {
    let mut top = known(9, 4000, vec![rec(100, 2.0, 0, 1.0)]);
    top.top_miner = true;
    let states = [
        UidState::new_commitment(5, 300),
        UidState::new_commitment(1, 300),
        UidState::new_commitment(7, 100),
        UidState {
            delay_passed: false,
            ..UidState::new_commitment(8, 4900)
        },
        UidState {
            queued: true,
            ..UidState::new_commitment(2, 50)
        },
        top,
    ];
    // 13 queued: 3 slots → uid 7 (block 100), then uids 1 and 5 (block 300, lower uid first);
    // the top miner comes last by block but ignores the limit.
    let plan = plan_admissions(&states, &ctx(5000, 13, &QUARTER));
    assert_eq!(
        plan.queued,
        vec![
            (7, QueueReason::New),
            (1, QueueReason::New),
            (5, QueueReason::New),
            (9, QueueReason::TopMinerRecheck)
        ]
    );
    assert_eq!(plan.deferred, vec![8]);
    // 14 queued: uid 5 waits.
    let plan = plan_admissions(&states, &ctx(5000, 14, &QUARTER));
    assert_eq!(plan.deferred, vec![5, 8]);
    assert!(plan_admissions(&[], &ctx(5000, 0, &QUARTER))
        .queued
        .is_empty());
}

#[test]
fn keep_top_three() {
    let s = |uid: u16, block: u64, win_rate: f64, ema_weight: f64| Standing {
        uid,
        block,
        win_rate,
        ema_weight,
    };
    let standings = [
        s(1, 10, 1.0, 0.0),      // priority 1.0
        s(2, 20, 0.0, 0.9),      // 1.9: paid models first
        s(3, 30, 0.5, 0.0005),   // 0.5 (weight under 0.001 does not count)
        s(4, 5, 0.5, 0.0),       // 0.5, older than uid 3
        s(5, 40, f64::NAN, 0.0), // 0
    ];
    let (kept, dropped) = select_kept(&standings, 3, None);
    assert_eq!(kept, [2, 1, 4]);
    assert_eq!(dropped, [3, 5]);
    let (kept, dropped) = select_kept(&standings, 10, None);
    assert_eq!((kept.len(), dropped.len()), (5, 0));
    let (kept, dropped) = select_kept(&[], 3, None);
    assert!(kept.is_empty() && dropped.is_empty());
    // Equal priority and block: lower uid.
    let (kept, _) = select_kept(&[s(9, 1, 0.5, 0.0), s(8, 1, 0.5, 0.0)], 1, None);
    assert_eq!(kept, [8]);
}

#[test]
fn the_step_leader_is_always_kept() {
    let s = |uid: u16, block: u64, win_rate: f64, ema_weight: f64| Standing {
        uid,
        block,
        win_rate,
        ema_weight,
    };
    // Three paid incumbents and a newcomer that beat them all in its first step: its one-step
    // EMA is the smallest, so SN37's priority alone would drop it.
    let standings = [
        s(0, 10, 0.0, 0.50),
        s(1, 20, 1.0 / 3.0, 0.30),
        s(2, 30, 2.0 / 3.0, 0.15),
        s(7, 90, 1.0, 0.05),
    ];
    assert_eq!(select_kept(&standings, 3, None).0, [0, 1, 2]);
    let (kept, dropped) = select_kept(&standings, 3, Some(7));
    assert_eq!(kept, [0, 1, 7]);
    assert_eq!(dropped, [2]);
    // A leader already kept changes nothing; keep_top 0 keeps nothing, leader or not.
    assert_eq!(select_kept(&standings, 3, Some(1)).0, [0, 1, 2]);
    assert!(select_kept(&standings, 0, Some(7)).0.is_empty());
    // An unknown leader uid is ignored.
    assert_eq!(select_kept(&standings, 3, Some(99)).0, [0, 1, 2]);
}

#[test]
fn history_keeps_the_three_most_recent() {
    let mut h = Vec::new();
    for block in [30, 10, 50, 40] {
        push_history(&mut h, rec(block, 1.0, 0, 1.0));
    }
    assert_eq!(h.iter().map(|r| r.block).collect::<Vec<_>>(), [30, 40, 50]);
    // An older record arriving late is the one dropped.
    push_history(&mut h, rec(5, 1.0, 0, 1.0));
    assert_eq!(h.iter().map(|r| r.block).collect::<Vec<_>>(), [30, 40, 50]);
}

#[test]
fn records_after_a_step() {
    let models = [
        Contender::new(4, 100, 2.0),
        Contender::new(6, 200, f64::INFINITY),
    ];
    let records = step_records(&models, Some(4), 777);
    assert_eq!(
        records,
        vec![
            (4, rec(777, 2.0, 100, 2.0)),
            (6, rec(777, f64::INFINITY, 100, 2.0))
        ]
    );
    assert!(step_records(&models, None, 777).is_empty());
    assert!(step_records(&models, Some(9), 777).is_empty());
    // The winner's own record never asks for a retry; the failed one retries once.
    assert!(!should_retry(&[records[0].1.clone()], 800, &QUARTER));
    assert!(should_retry(&[records[1].1.clone()], 800, &QUARTER));
}

#[test]
fn failed_records_survive_json() {
    let r = rec(5, f64::INFINITY, 1, 2.0);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(r#""score":"inf""#), "{json}");
    assert_eq!(serde_json::from_str::<EvalRecord>(&json).unwrap(), r);
}
