use super::*;
use crate::store::QueueEntry;

fn result(uid: u16, score: f64) -> ModelStepResult {
    ModelStepResult {
        uid,
        hotkey: format!("hk{uid}"),
        commit_block: 10 + u64::from(uid),
        score,
        tasks: Vec::new(),
        win_rate: 0.5,
        step_weight: 0.5,
        epsilon_advantage: 0.01,
        ema_weight: 0.5,
        load_ms: 1,
        compute_ms: 2,
        error: None,
        early_stop: None,
    }
}

fn step(sync_block: u64, models: usize) -> StepRecord {
    let mut tracker = CompetitionTracker::default();
    tracker.record(1, &[1.0, sync_block as f64], 0.9);
    StepRecord {
        key: StepKey {
            competition_id: 1,
            sync_block,
        },
        block: sync_block + 3,
        seed: format!("{sync_block:064x}"),
        models: (0..models as u16)
            .map(|u| result(u, 1.0 + f64::from(u)))
            .collect(),
        tracker,
        subnet_weights: vec![0.25, 0.75],
        history: (0..models as u16)
            .map(|u| {
                let rec = EvalRecord {
                    block: sync_block,
                    score: 1.0,
                    winning_block: 10,
                    winning_score: 1.0,
                };
                (format!("hk{u}"), rec)
            })
            .collect(),
        kept: vec!["hk0".to_string()],
    }
}

#[test]
fn step_roundtrip_and_duplicate_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("v.sqlite")).unwrap();
    let mut s = step(20, 2);
    s.models[1].score = f64::INFINITY;
    s.models[1].error = Some("timeout".into());
    store.record_step(&s).unwrap();
    let back = store.step(s.key).unwrap().unwrap();
    assert_eq!(back.models, s.models);
    assert_eq!(back.seed, s.seed);
    assert_eq!(back.tracker, s.tracker);
    assert_eq!(back.subnet_weights, s.subnet_weights);

    let mut again = step(20, 3);
    again.tracker = CompetitionTracker::default();
    let err = store.record_step(&again).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::DuplicateStep {
                competition_id: 1,
                sync_block: 20
            }
        ),
        "{err}"
    );
    assert_eq!(store.step(s.key).unwrap().unwrap().models.len(), 2);
    assert_eq!(store.tracker().unwrap(), s.tracker);
    assert_eq!(store.history("hk2", 1).unwrap(), vec![]);
}

#[test]
fn half_written_step_vanishes_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.sqlite");
    {
        let mut store = Store::open(&path).unwrap();
        store.record_step(&step(20, 2)).unwrap();
        let tx = store.conn.transaction().unwrap();
        let half = step(40, 5);
        // Write the step row and two of five models, then drop without commit (as a kill would).
        let mut partial = half.clone();
        partial.models.truncate(2);
        partial.history.clear();
        write_step(&tx, &partial).unwrap();
        drop(tx);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.step_keys().unwrap(),
        vec![StepKey {
            competition_id: 1,
            sync_block: 20
        }]
    );
    assert!(store
        .step(StepKey {
            competition_id: 1,
            sync_block: 40
        })
        .unwrap()
        .is_none());
    assert_eq!(store.tracker().unwrap(), step(20, 2).tracker);
}

#[test]
fn history_keeps_three_and_queue_follows_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("v.sqlite")).unwrap();
    for hk in ["hk0", "hk1", "hk9"] {
        let entry = QueueEntry {
            competition_id: 1,
            hotkey: hk.into(),
            reason: QueueReason::New,
            queued_block: 5,
        };
        assert!(store.enqueue(&entry).unwrap());
        assert!(!store.enqueue(&entry).unwrap());
    }
    let other = QueueEntry {
        competition_id: 2,
        hotkey: "hk5".into(),
        reason: QueueReason::New,
        queued_block: 6,
    };
    store.enqueue(&other).unwrap();
    for sync in [20, 40, 60, 80] {
        store.record_step(&step(sync, 2)).unwrap();
    }
    let blocks: Vec<u64> = store
        .history("hk1", 1)
        .unwrap()
        .iter()
        .map(|r| r.block)
        .collect();
    assert_eq!(blocks, vec![40, 60, 80]);
    let queue: Vec<String> = store
        .queue(1)
        .unwrap()
        .into_iter()
        .map(|e| e.hotkey)
        .collect();
    assert_eq!(queue, vec!["hk0"]);
    assert_eq!(store.queue(2).unwrap(), vec![other]);
    assert_eq!(store.queued_total().unwrap(), 2);
}

#[test]
fn removing_a_hotkey_zeroes_its_uid_for_the_next_owner() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("v.sqlite")).unwrap();
    // Step at sync 20: uid 1 holds weight 20/21 of competition 1 (see `step`).
    store.record_step(&step(20, 2)).unwrap();
    let before = store.tracker().unwrap().get(1).unwrap().to_vec();
    assert!(before[1] > 0.9, "{before:?}");
    let record = crate::store::ModelRecord {
        hotkey: "hk1".into(),
        uid: 1,
        commitment: "a/b:c:d:1".into(),
        commit_block: 11,
        competition_id: Some(1),
        download_path: None,
        content_hash: None,
        verdict: crate::Verdict::Accepted,
        checked_block: 12,
    };
    store.put_model(&record).unwrap();
    store.remove_model("hk1").unwrap();
    let after = store.tracker().unwrap().get(1).unwrap().to_vec();
    assert_eq!(after, vec![before[0], 0.0], "uid 1 starts from zero");
    assert!(store.model("hk1").unwrap().is_none());
    assert!(store.history("hk1", 1).unwrap().is_empty());
    assert!(store.queue(1).unwrap().iter().all(|e| e.hotkey != "hk1"));
    // A hotkey without a record touches no weight.
    store.remove_model("never-seen").unwrap();
    assert_eq!(store.tracker().unwrap().get(1).unwrap(), &after[..]);
}
