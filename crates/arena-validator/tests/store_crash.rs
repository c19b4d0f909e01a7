//! Crash safety of the state database: a child process writes steps as fast as it can and is
//! killed with SIGKILL at random moments; after each kill the database opens, every recorded
//! step is complete, none is missing from the sequence, none is duplicated, and the EMA
//! weights match the last recorded step.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use arena_core::queue::EvalRecord;
use arena_core::scoring::CompetitionTracker;
use arena_validator::store::{ModelStepResult, StepKey, StepRecord, Store};

const MODELS_PER_STEP: u16 = 40;
const CHILD_ENV: &str = "ARENA_VALIDATOR_CRASH_CHILD_DB";

/// The deterministic tracker after the steps `1..=n` (what the child folds in, step by step).
fn tracker_after(n: u64) -> CompetitionTracker {
    let mut t = CompetitionTracker::default();
    for s in 1..=n {
        t.record(1, &step_weights(s), 0.9);
    }
    t
}

fn step_weights(s: u64) -> Vec<f64> {
    (0..MODELS_PER_STEP)
        .map(|u| if u64::from(u) == s % 40 { 1.0 } else { 0.0 })
        .collect()
}

fn step(s: u64, tracker: CompetitionTracker) -> StepRecord {
    let models = (0..MODELS_PER_STEP)
        .map(|uid| ModelStepResult {
            uid,
            hotkey: format!("hotkey-{uid}"),
            commit_block: 1,
            score: s as f64 + f64::from(uid),
            tasks: Vec::new(),
            win_rate: 0.0,
            step_weight: step_weights(s)[usize::from(uid)],
            epsilon_advantage: 0.0,
            ema_weight: 0.0,
            load_ms: 0,
            compute_ms: 0,
            error: None,
            early_stop: None,
        })
        .collect();
    let history = (0..MODELS_PER_STEP)
        .map(|uid| {
            let record = EvalRecord {
                block: s,
                score: 1.0,
                winning_block: 1,
                winning_score: 1.0,
            };
            (format!("hotkey-{uid}"), record)
        })
        .collect();
    StepRecord {
        key: StepKey {
            competition_id: 1,
            sync_block: s,
        },
        block: s,
        seed: format!("{s:064x}"),
        models,
        tracker,
        subnet_weights: step_weights(s),
        history,
        kept: vec!["hotkey-0".into(), "hotkey-1".into()],
    }
}

/// Child mode: append steps after the last recorded one until killed.
#[test]
fn crash_child() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = Store::open(Path::new(&db)).unwrap();
    let mut next = store
        .step_keys()
        .unwrap()
        .last()
        .map_or(1, |k| k.sync_block + 1);
    let mut tracker = store.tracker().unwrap();
    loop {
        tracker.record(1, &step_weights(next), 0.9);
        store.record_step(&step(next, tracker.clone())).unwrap();
        next += 1;
    }
}

#[test]
fn kill_minus_nine_ten_times_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("validator.sqlite");
    let exe = std::env::current_exe().unwrap();
    let mut seen = 0u64;
    for round in 0..10u64 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .spawn()
            .unwrap();
        // Random-ish moments: 150..=600 ms, varied by round.
        std::thread::sleep(Duration::from_millis(150 + (round * 7919) % 450));
        child.kill().unwrap();
        child.wait().unwrap();

        let store = Store::open(&db).unwrap();
        let keys = store.step_keys().unwrap();
        let n = keys.len() as u64;
        let expected: Vec<StepKey> = (1..=n)
            .map(|s| StepKey {
                competition_id: 1,
                sync_block: s,
            })
            .collect();
        assert_eq!(
            keys, expected,
            "round {round}: steps are contiguous and unique"
        );
        assert!(n >= seen, "round {round}: a committed step was lost");
        seen = n;
        for key in &keys {
            let s = store.step(*key).unwrap().unwrap();
            assert_eq!(
                s.models.len(),
                usize::from(MODELS_PER_STEP),
                "step {key:?} is complete"
            );
        }
        assert_eq!(
            store.tracker().unwrap(),
            tracker_after(n),
            "round {round}: EMA matches step {n}"
        );
        let history = store.history("hotkey-3", 1).unwrap();
        let blocks: Vec<u64> = history.iter().map(|r| r.block).collect();
        let want: Vec<u64> = (n.saturating_sub(2).max(1)..=n)
            .filter(|&b| b >= 1)
            .collect();
        assert_eq!(
            blocks, want,
            "round {round}: history holds the last three steps"
        );
    }
    assert!(seen > 0, "the child never committed a step");
}
