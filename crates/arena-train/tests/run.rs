//! The one training loop, `arena_train::run`, on the tiny fixture: what it writes (step log,
//! checkpoint, saved folder, nothing left beside them), what it refuses (a checkpoint without
//! `resume`, a length limit nothing fits), and a raised stop flag that saves nothing.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use arena_testkit::fixtures::fixtures;
use arena_train::data::Pair;
use arena_train::{run, RunData, TrainError, TrainOptions, TrainRun};

fn data(base: &Path, max_len: Option<usize>) -> RunData {
    let pair = |i: usize| Pair {
        prompt: format!("Count to {i}"),
        response: (1..=i).map(|n| n.to_string()).collect::<Vec<_>>().join(" "),
    };
    RunData::Pairs {
        train: (1..9).map(pair).collect(),
        held_out: (9..11).map(pair).collect(),
        tokenizer: base.to_path_buf(),
        max_len,
    }
}

fn options() -> TrainOptions {
    TrainOptions {
        steps: 4,
        batch: 2,
        warmup: 1,
        checkpoint_every: 2,
        seed: 5,
        ..Default::default()
    }
}

#[test]
fn a_run_writes_its_log_checkpoint_and_folder_and_refuses_to_overwrite_the_checkpoint() {
    let base = fixtures().join("tiny-llama");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let job = |resume: bool| TrainRun {
        checkpoint: Some(out.join("checkpoint")),
        resume,
        log: Some(out.join("log.jsonl")),
        save_to: Some(out.join("model")),
        ..TrainRun::new(&base, data(&base, Some(4096)), options())
    };
    let summary = run(job(false)).unwrap();
    assert_eq!((summary.start_step, summary.steps), (0, 4));
    assert_eq!(summary.losses.len(), 4);
    assert_eq!(summary.step_seconds.len(), 4);
    assert_eq!((summary.examples, summary.dropped_too_long), (8, 0));
    assert!(summary.held_out_trained.is_some() && !summary.stopped);
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4);
    let state = arena_train::trainer::CheckpointState::read(&out.join("checkpoint")).unwrap();
    assert_eq!(state.step, 4);
    assert!(out.join("model/model.safetensors").is_file());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["checkpoint", "log.jsonl", "model"]);

    let err = run(job(false)).unwrap_err();
    assert!(
        matches!(&err, TrainError::Refused(m) if m.contains("holds a checkpoint at step 4")),
        "{err}"
    );
    let resumed = run(job(true)).unwrap();
    assert_eq!((resumed.start_step, resumed.steps), (4, 4));
    assert!(resumed.losses.is_empty());
}

#[test]
fn a_raised_stop_flag_saves_nothing_and_a_limit_nothing_fits_is_refused() {
    let base = fixtures().join("tiny-llama");
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(true);
    let summary = run(TrainRun {
        stop: Some(&stop),
        save_to: Some(dir.path().join("model")),
        ..TrainRun::new(&base, data(&base, None), options())
    })
    .unwrap();
    assert!(summary.stopped && summary.losses.is_empty());
    assert!(!dir.path().join("model").exists());

    let err = run(TrainRun::new(&base, data(&base, Some(3)), options())).unwrap_err();
    assert!(
        matches!(&err, TrainError::Refused(m) if m.contains("no training example fits the sequence length 3 (8 too long)")),
        "{err}"
    );
}
