//! Hand-computed cases for the leader-per-unit policy.

use super::*;
use crate::competition::ScoringPolicy;
use crate::epsilon::EpsilonFunc;
use crate::scoring::score_step;

const SN29: Advantage = Advantage {
    initial: 0.004,
    decay: 0.995,
    epoch_blocks: 361,
};
const INF: f64 = f64::INFINITY;

fn m(uid: u16, block: u64, units: &[f64], hash: Option<&str>) -> Contender {
    Contender {
        uid,
        block,
        score: units.iter().sum(),
        unit_losses: units.to_vec(),
        content_hash: hash.map(str::to_string),
    }
}

/// At block 722: A (uid 2, block 0, 2 epochs) factor 1 − 0.004·0.995² = 0.9960399,
/// B (uid 0, block 361) 0.99602, C (uid 1, block 722) 0.996.
/// u0: B 9.97 ≥ 10·0.9960399 = 9.960399, C 9.99 too → A.
/// u1: B 9.9 < 9.960399 → B; C 9.95 ≥ 9.9·0.99602 = 9.860598 → B.
/// u2: B leads; C 9.8 < 9.860598 → C.  u3: all equal → A.
fn abc() -> Vec<Contender> {
    vec![
        m(2, 0, &[10.0, 10.0, 10.0, 10.0], Some("h-a")),
        m(0, 361, &[9.97, 9.9, 9.9, 10.0], Some("h-b")),
        m(1, 722, &[9.99, 9.95, 9.8, 10.0], None),
    ]
}

fn points(r: &StepResult) -> Vec<u32> {
    r.outcomes.iter().map(|o| o.wins).collect()
}

#[test]
fn advantage_factor_hand_computed() {
    assert!((SN29.factor(722, 0) - 0.996_039_9).abs() < 1e-15);
    assert!((SN29.factor(722, 361) - 0.99602).abs() < 1e-15);
    assert!((SN29.factor(722, 722) - 0.996).abs() < 1e-15);
    assert_eq!(SN29.factor(10, 11), 1.0, "future block: no advantage");
    // Halves in about 138 epochs: 0.995^138 = 0.5008.
    let adv = 1.0 - SN29.factor(138 * 361, 0);
    assert!((adv - 0.004 * 0.995f64.powi(138)).abs() < 1e-15);
}

#[test]
fn three_models_points_and_skewed_weights() {
    let r = score(&abc(), 722, &SN29, 2.0).unwrap();
    assert_eq!(points(&r), [2, 1, 1]);
    let rates: Vec<f64> = r.outcomes.iter().map(|o| o.win_rate).collect();
    assert_eq!(rates, [0.5, 0.25, 0.25]);
    // 0.25, 0.0625, 0.0625 over 0.375.
    let w: Vec<f64> = r.outcomes.iter().map(|o| o.step_weight).collect();
    for (got, want) in w.iter().zip([2.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0]) {
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    }
    assert_eq!(r.top_uid, Some(2));
    assert!((r.outcomes[2].advantage - 0.004).abs() < 1e-15);
    // Skew 1: proportional to points.
    let r = score(&abc(), 722, &SN29, 1.0).unwrap();
    assert!((r.outcomes[0].step_weight - 0.5).abs() < 1e-15);
}

#[test]
fn exact_copy_gets_nothing_even_when_it_looks_better() {
    let mut models = abc();
    models.push(m(3, 700, &[1.0, 1.0, 1.0, 1.0], Some("h-a")));
    let r = score(&models, 722, &SN29, 2.0).unwrap();
    assert_eq!(points(&r), [2, 1, 1, 0]);
    assert_eq!(r.outcomes[3].copy_of, Some(2));
    assert_eq!(r.outcomes[3].step_weight, 0.0);
    assert_eq!(r.top_uid, Some(2));
    // Copies in the same block: the lower uid is the original.
    let same = [m(7, 5, &[1.0], Some("h")), m(4, 5, &[2.0], Some("h"))];
    let r = score(&same, 10, &SN29, 2.0).unwrap();
    assert_eq!(r.outcomes[0].copy_of, Some(4));
    assert_eq!(points(&r), [0, 1]);
}

#[test]
fn later_identical_losses_never_take_a_point() {
    let r = score(
        &[m(0, 0, &[5.0; 3], None), m(1, 9, &[5.0; 3], None)],
        9,
        &SN29,
        2.0,
    )
    .unwrap();
    assert_eq!(points(&r), [3, 0]);
    // Zero advantage (fully decayed): equal loss is still not strictly smaller.
    let none = Advantage {
        initial: 0.0,
        ..SN29
    };
    let r = score(
        &[m(0, 0, &[5.0], None), m(1, 9, &[5.0], None)],
        9,
        &none,
        2.0,
    )
    .unwrap();
    assert_eq!(points(&r), [1, 0]);
}

#[test]
fn failed_units_and_models() {
    // u0: the leader failed, B takes it. u1: every model failed, not counted. u2: A.
    let models = [
        m(0, 0, &[INF, INF, 1.0], None),
        m(1, 5, &[3.0, f64::NAN, 2.0], None),
    ];
    let r = score(&models, 5, &SN29, 2.0).unwrap();
    assert_eq!(points(&r), [1, 1]);
    assert_eq!(r.outcomes[0].win_rate, 0.5);
    assert_eq!(r.top_uid, Some(0), "tie on win rate: the older model");
    // A model that failed everywhere is never the top, even alone.
    let r = score(&[m(4, 0, &[INF, INF], None)], 5, &SN29, 2.0).unwrap();
    assert_eq!(
        (r.outcomes[0].win_rate, r.outcomes[0].step_weight),
        (0.0, 0.0)
    );
    assert_eq!(r.top_uid, None);
}

#[test]
fn single_and_empty() {
    let r = score(&[m(4, 0, &[1.0, 2.0], None)], 5, &SN29, 2.0).unwrap();
    assert_eq!(
        (r.outcomes[0].win_rate, r.outcomes[0].step_weight),
        (1.0, 1.0)
    );
    assert_eq!(r.top_uid, Some(4));
    let r = score(&[], 5, &SN29, 2.0).unwrap();
    assert!(r.outcomes.is_empty() && r.top_uid.is_none());
    // Models without any unit: nothing counted, nothing won.
    let r = score(&[m(1, 0, &[], None), m(2, 1, &[], None)], 5, &SN29, 2.0).unwrap();
    assert_eq!(points(&r), [0, 0]);
    assert_eq!(r.top_uid, None);
}

#[test]
fn unit_count_mismatch_is_an_error() {
    let err = score(
        &[m(0, 0, &[1.0, 2.0], None), m(1, 1, &[1.0], None)],
        5,
        &SN29,
        2.0,
    );
    assert_eq!(
        err,
        Err(ScoringError::UnitCountMismatch {
            uid: 1,
            expected: 2,
            found: 1
        })
    );
}

#[test]
fn group_samples_hand_computed() {
    let per_model = vec![
        vec![1.0, 2.0, INF, 3.0, 4.0, 5.0],
        vec![INF, 2.0, INF, 1.0, 1.0, f64::NAN],
    ];
    // Sample 2 failed for everyone: dropped. Kept 0,1,3,4,5 → groups (0,1), (3,4); 5 left over.
    let units = group_samples(&per_model, 2);
    assert_eq!(units, vec![vec![3.0, 7.0], vec![INF, 2.0]]);
    assert_eq!(
        group_samples(&per_model, 10),
        vec![Vec::<f64>::new(), Vec::new()]
    );
    assert!(group_samples(&[], 3).is_empty());
}

#[test]
fn through_score_step() {
    let policy = ScoringPolicy::LeaderPerUnit {
        advantage_initial: 0.004,
        advantage_decay: 0.995,
        epoch_blocks: 361,
        skew: 2.0,
        group_samples: 10,
    };
    let unused = EpsilonFunc::Fixed { value: 0.5 };
    let r = score_step(&policy, &abc(), 722, &unused).unwrap();
    assert_eq!(points(&r), [2, 1, 1]);
}
