use super::*;
use crate::store::StepRecord;
use arena_core::scoring::CompetitionTracker;

fn result(uid: u16, score: f64) -> ModelStepResult {
    ModelStepResult {
        uid,
        hotkey: format!("hk{uid}"),
        commit_block: 10 + u64::from(uid),
        score,
        tasks: Vec::new(),
        win_rate: 1.0 / (1.0 + f64::from(uid)),
        step_weight: 0.5,
        epsilon_advantage: 0.01,
        ema_weight: 0.5,
        load_ms: 1,
        compute_ms: 2,
        error: None,
        early_stop: None,
    }
}

fn step(competition_id: u32, sync_block: u64, weights: Vec<f64>) -> StepRecord {
    StepRecord {
        key: StepKey {
            competition_id,
            sync_block,
        },
        block: sync_block + 2,
        seed: format!("{sync_block:064x}"),
        models: vec![result(1, 2.5), result(0, f64::INFINITY)],
        tracker: CompetitionTracker::default(),
        subnet_weights: weights,
        history: Vec::new(),
        kept: Vec::new(),
    }
}

#[test]
fn reads_latest_and_recent_steps_while_the_writer_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validator.sqlite");
    let mut store = Store::open(&path).unwrap();
    store.record_step(&step(1, 10, vec![0.2, 0.8])).unwrap();
    store.record_step(&step(2, 10, vec![0.5, 0.5])).unwrap();
    store.record_step(&step(1, 20, vec![0.1, 0.9])).unwrap();
    store.set_validator_hotkey("5Fake").unwrap();

    let reader = StoreReader::open(&path).unwrap();
    assert_eq!(reader.validator_hotkey().unwrap().as_deref(), Some("5Fake"));
    let latest = reader.latest_steps().unwrap();
    let keys: Vec<(u32, u64)> = latest
        .iter()
        .map(|s| (s.key.competition_id, s.key.sync_block))
        .collect();
    assert_eq!(keys, vec![(1, 20), (2, 10)]);
    assert_eq!(latest[0].subnet_weights, vec![0.1, 0.9]);
    assert_eq!(latest[0].block, 22);
    let uids: Vec<u16> = latest[0].models.iter().map(|m| m.uid).collect();
    assert_eq!(uids, vec![0, 1], "ordered by uid");
    assert!(latest[0].models[0].score.is_infinite());

    // A step committed after the reader opened is visible to its next query.
    store.record_step(&step(1, 30, vec![0.3, 0.7])).unwrap();
    let recent = reader.recent_steps(1, 2).unwrap();
    let blocks: Vec<u64> = recent.iter().map(|s| s.key.sync_block).collect();
    assert_eq!(blocks, vec![20, 30], "last two, oldest first");
}

#[test]
fn refuses_missing_and_foreign_files_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite");
    let err = StoreReader::open(&missing).err().expect("missing file");
    assert!(err.to_string().contains("nope.sqlite"), "{err}");
    assert!(!missing.exists(), "a reader never creates the file");

    let foreign = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    let err = StoreReader::open(&foreign).err().expect("foreign db");
    assert!(
        err.to_string().contains("not a validator state database"),
        "{err}"
    );

    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, b"this is not sqlite at all, just some bytes...").unwrap();
    let err = StoreReader::open(&garbage).err().expect("garbage");
    assert!(err.to_string().contains("garbage.sqlite"), "{err}");
}

#[test]
fn a_corrupt_result_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validator.sqlite");
    let mut store = Store::open(&path).unwrap();
    store.record_step(&step(1, 10, vec![1.0])).unwrap();
    store
        .conn
        .execute("UPDATE step_models SET result = '{oops' WHERE uid = 1", [])
        .unwrap();
    let reader = StoreReader::open(&path).unwrap();
    let err = reader.latest_steps().expect_err("corrupt");
    assert!(err.to_string().contains("step_models.result"), "{err}");
}

fn record(hotkey: &str, uid: u16, commit_block: u64, verdict: Verdict) -> ModelRecord {
    ModelRecord {
        hotkey: hotkey.into(),
        uid,
        commitment: format!("ns:{hotkey}:rev:hash:1"),
        commit_block,
        competition_id: Some(1),
        download_path: None,
        content_hash: None,
        verdict,
        checked_block: commit_block + 1,
    }
}

#[test]
fn model_views_give_verdicts_queue_entries_and_evaluations_of_the_current_commitment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validator.sqlite");
    let mut store = Store::open(&path).unwrap();
    let rejection = crate::verdict::Rejection::HashMismatch {
        committed: "a".into(),
        computed: "b".into(),
    };
    store
        .put_model(&record("hkw", 3, 40, Verdict::Waiting { eligible_at: 50 }))
        .unwrap();
    store
        .put_model(&record("hkr", 1, 30, Verdict::Rejected { rejection }))
        .unwrap();
    store
        .put_model(&record("hkq", 2, 20, Verdict::Accepted))
        .unwrap();
    store
        .put_model(&record("hke", 4, 10, Verdict::Accepted))
        .unwrap();
    // hke was evaluated at blocks 12 and 16 (the latest counts); hkq's evaluation at block 15
    // precedes its commit block 20, so it was of an older commitment and does not count.
    let mut s = step(1, 10, vec![0.0; 5]);
    s.history = vec![
        (
            "hke".into(),
            EvalRecord {
                block: 12,
                score: 3.0,
                winning_block: 10,
                winning_score: 3.0,
            },
        ),
        (
            "hkq".into(),
            EvalRecord {
                block: 15,
                score: 9.0,
                winning_block: 10,
                winning_score: 3.0,
            },
        ),
    ];
    store.record_step(&s).unwrap();
    let mut s2 = step(1, 14, vec![0.0; 5]);
    s2.history = vec![(
        "hke".into(),
        EvalRecord {
            block: 16,
            score: 2.5,
            winning_block: 10,
            winning_score: 2.5,
        },
    )];
    store.record_step(&s2).unwrap();
    store
        .enqueue(&QueueEntry {
            competition_id: 1,
            hotkey: "hkq".into(),
            reason: QueueReason::New,
            queued_block: 25,
        })
        .unwrap();

    let views = StoreReader::open(&path).unwrap().model_views().unwrap();
    let hotkeys: Vec<&str> = views.iter().map(|v| v.record.hotkey.as_str()).collect();
    assert_eq!(hotkeys, ["hkr", "hkq", "hkw", "hke"], "by uid");
    let by = |h: &str| views.iter().find(|v| v.record.hotkey == h).unwrap();
    assert!(matches!(
        &by("hkr").record.verdict,
        Verdict::Rejected {
            rejection: crate::verdict::Rejection::HashMismatch { .. }
        }
    ));
    assert_eq!(
        by("hkw").record.verdict,
        Verdict::Waiting { eligible_at: 50 }
    );
    let q = by("hkq").queued.clone().unwrap();
    assert_eq!((q.reason, q.queued_block), (QueueReason::New, 25));
    assert_eq!(
        by("hkq").last_evaluation,
        None,
        "an evaluation before the commit block belongs to an older commitment"
    );
    let e = by("hke").last_evaluation.clone().unwrap();
    assert_eq!((e.block, e.score), (16, 2.5));
    assert!(by("hke").queued.is_none());
}
