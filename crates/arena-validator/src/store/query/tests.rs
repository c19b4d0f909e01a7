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
    let err = reader.latest_steps().err().expect("corrupt");
    assert!(err.to_string().contains("step_models.result"), "{err}");
}
