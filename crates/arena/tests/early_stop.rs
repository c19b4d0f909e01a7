//! Early-stopping evaluation end to end with the REAL worker (`arena validator eval-worker`
//! scoring the tiny Llama on the CPU): a step of seven models of spread quality against an
//! EMA leader, scored three times (early stopping off, exact, statistical). The step weights,
//! the top model and the subnet weights are identical; the exact and statistical runs stop
//! the weak challengers early (fewer samples scored, recorded as such), never the leader.

use std::path::Path;

use arena_core::competition::Schedule;
use arena_core::early_stop::{Decision, StopMode};
use arena_core::scoring::{CompetitionTracker, EMA_ALPHA};
use arena_core::seed::Seed;
use arena_data::draw::TaskSamples;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_testkit::fixtures::tiny_llama_scaled;
use arena_testkit::TinyCompetition;
use arena_validator::eval::{
    evaluate_step_models, score_step_record, QueuedModel, ScoreInputs, SubprocessBackend,
};
use arena_validator::store::{StepKey, StepRecord};

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

fn backend() -> SubprocessBackend {
    arena_testkit::eval::real_worker(Path::new(ARENA))
}

async fn step(mode: StopMode, models: &[QueuedModel], samples: &[TaskSamples]) -> StepRecord {
    let schedule = TinyCompetition::new("early-stop").samples(64).toml();
    let schedule = Schedule::from_toml_str(&schedule).unwrap();
    let mut competition = schedule.competition_at(1, 0).unwrap().clone();
    competition.early_stop.mode = mode;
    competition.early_stop.chunk = 4;
    competition.early_stop.min_samples = 12;
    let mut tracker = CompetitionTracker::default();
    // uid 0 holds the weight: it is the step's leader.
    tracker.record(competition.id, &[1.0], EMA_ALPHA);
    let inputs = ScoreInputs {
        competition: &competition,
        key: StepKey {
            competition_id: competition.id,
            sync_block: 100,
        },
        seed: Seed::from_text("early-stop-e2e"),
        current_block: 120,
        n_uids: models.len(),
        tracker,
        rewards: vec![(competition.id, 1.0)],
        keep_top: 3,
    };
    let evaluated = evaluate_step_models(&backend(), &inputs, samples, None, models)
        .await
        .unwrap();
    score_step_record(&inputs, samples, &evaluated).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_stopping_keeps_the_winner_and_the_weights_and_scores_fewer_samples() {
    let dir = tempfile::tempdir().unwrap();
    // uid 0 is the leader (oldest); uid 2 is better and wins; the others are worse.
    let scales = [0.5f32, 1.0, 0.25, 2.0, 3.0, 0.55, 1.5];
    let models: Vec<QueuedModel> = scales
        .iter()
        .enumerate()
        .map(|(uid, &scale)| {
            let model_dir = dir.path().join(format!("m{uid}"));
            tiny_llama_scaled(&model_dir, scale);
            QueuedModel {
                uid: uid as u16,
                hotkey: format!("hotkey-{uid}"),
                commit_block: 10 + uid as u64,
                model_dir,
                content_hash: None,
            }
        })
        .collect();
    let samples = vec![TaskSamples {
        task_id: "word_sorting".into(),
        samples: Some(TaskKind::WordSorting.generate_many(&Seed::from_text("e2e-data"), 64)),
    }];
    let full = step(StopMode::Off, &models, &samples).await;
    let exact = step(StopMode::Exact, &models, &samples).await;
    let statistical = step(StopMode::Statistical, &models, &samples).await;

    let weights = |s: &StepRecord| {
        s.models
            .iter()
            .map(|m| (m.uid, m.step_weight, m.ema_weight))
            .collect::<Vec<_>>()
    };
    let winner = |s: &StepRecord| {
        s.models
            .iter()
            .filter(|m| m.step_weight > 0.0)
            .map(|m| m.uid)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        winner(&full),
        vec![2],
        "the better challenger wins: {full:#?}"
    );
    for (name, run) in [("exact", &exact), ("statistical", &statistical)] {
        assert_eq!(weights(run), weights(&full), "{name}: step and EMA weights");
        assert_eq!(
            run.subnet_weights, full.subnet_weights,
            "{name}: subnet weights"
        );
        assert!(full.models.iter().all(|m| m.early_stop.is_none()));
        let stopped: Vec<_> = run
            .models
            .iter()
            .filter(|m| m.early_stop.is_some())
            .collect();
        eprintln!(
            "{name}: stopped {:?}",
            stopped
                .iter()
                .map(|m| (m.uid, m.early_stop.unwrap().samples))
                .collect::<Vec<_>>()
        );
        assert!(
            stopped.len() >= 2,
            "{name}: the weak challengers stop early"
        );
        for m in &stopped {
            let stop = m.early_stop.unwrap();
            assert_ne!(m.uid, 0, "{name}: the leader is scored in full");
            assert!(stop.samples < stop.of && stop.of == 64, "{stop:?}");
            // A loser stops because it cannot win; the winner may stop once it cannot lose
            // (its comparisons are then decided anywhere in its interval).
            let expected = if m.uid == 2 {
                Decision::CannotLose
            } else {
                Decision::CannotWin
            };
            assert_eq!(stop.decision, expected, "{name}: uid {}", m.uid);
            assert!(m.score.is_finite());
        }
        // A model evaluated in full scores the same whatever the mode: the chunks are the same.
        for (a, b) in run.models.iter().zip(&exact.models) {
            if a.early_stop.is_none() && b.early_stop.is_none() {
                assert_eq!(a.score.to_bits(), b.score.to_bits(), "uid {}", a.uid);
            }
        }
    }
    let scored = |s: &StepRecord| -> usize {
        s.models
            .iter()
            .map(|m| m.early_stop.map_or(64, |e| e.samples))
            .sum()
    };
    assert!(
        scored(&statistical) <= scored(&exact),
        "the statistical stop comes no later"
    );
    assert!(scored(&exact) < scored(&full));
}
