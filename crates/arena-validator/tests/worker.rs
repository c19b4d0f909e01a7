//! The isolated worker: this test binary re-runs itself in a child mode as the worker, so the
//! real protocol (`serve` on one side, `run_worker` on the other) is exercised end to end, and
//! a worker that hangs, crashes, prints garbage or exceeds its memory cap costs only its job.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arena_core::competition::default_schedule;
use arena_data::tasks::TaskGenerator;
use arena_validator::worker::{
    run_worker, serve, EvalJob, EvalReport, ModelScorer, TaskOutcome, TaskSamples, WorkerCommand,
    WorkerFailure, WorkerLimits, PROTOCOL_VERSION,
};

const MODE_ENV: &str = "ARENA_VALIDATOR_WORKER_MODE";

/// Test double for the model engine: scores each task by the number of samples it was given,
/// which proves the samples crossed the process boundary intact.
struct CountingEvaluator;

impl ModelScorer for CountingEvaluator {
    fn evaluate(&mut self, job: &EvalJob) -> Result<EvalReport, String> {
        if !job.model_dir.exists() {
            return Err(format!("no model at {}", job.model_dir.display()));
        }
        let tasks = job
            .tasks
            .iter()
            .filter_map(|t| {
                let samples = t.samples.as_ref()?;
                Some(TaskOutcome {
                    task_id: t.task_id.clone(),
                    raw: samples.len() as f64,
                    sample_scores: samples.iter().map(|s| s.prompt.len() as f64).collect(),
                })
            })
            .collect();
        Ok(EvalReport {
            tasks,
            load_ms: 1,
            compute_ms: 2,
        })
    }
}

/// Child mode: behave as the worker named by the environment, then exit without returning to
/// the test harness (which would print to stdout).
#[test]
fn worker_child() {
    let Ok(mode) = std::env::var(MODE_ENV) else {
        return;
    };
    match mode.as_str() {
        "serve" => {
            println!("a library banner on stdout");
            serve(&mut CountingEvaluator, std::io::stdin(), std::io::stdout()).unwrap();
        }
        "sleep" => std::thread::sleep(Duration::from_secs(120)),
        "crash" => {
            eprintln!("loader exploded on layer 3");
            std::process::exit(3);
        }
        "garbage" => println!("{{not json"),
        "alloc" => {
            let v = vec![7u8; 4 << 30];
            println!("{}", v[v.len() - 1]);
        }
        other => panic!("unknown mode {other}"),
    }
    std::process::exit(0);
}

fn command(mode: &str) -> WorkerCommand {
    WorkerCommand {
        program: std::env::current_exe().unwrap(),
        args: vec![
            "worker_child".into(),
            "--exact".into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
        ],
        env: vec![(MODE_ENV.to_string(), mode.to_string())],
    }
}

fn job(model_dir: PathBuf) -> EvalJob {
    let competition = default_schedule()
        .unwrap()
        .competition_at(1, 0)
        .unwrap()
        .clone();
    let tasks = competition
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| TaskSamples {
            task_id: t.id.clone(),
            samples: (i != 1).then(|| {
                arena_data::tasks::TaskKind::WordSorting
                    .generate_many(&arena_core::seed::Seed::from_text("x"), i + 2)
            }),
        })
        .collect();
    EvalJob {
        version: PROTOCOL_VERSION,
        competition,
        model_dir,
        tokenizer_dir: None,
        tasks,
        seed: "00".repeat(32),
    }
}

async fn run(mode: &str, limits: WorkerLimits, job: &EvalJob) -> Result<EvalReport, WorkerFailure> {
    run_worker(&command(mode), &limits, job).await
}

fn limits(timeout_ms: u64) -> WorkerLimits {
    WorkerLimits {
        timeout: Duration::from_millis(timeout_ms),
        memory_bytes: Some(1 << 30),
        max_reply_bytes: 1 << 20,
    }
}

// The mode travels in the child's environment only: the harness also runs `worker_child` in
// this process, where it must stay a no-op.
#[tokio::test]
async fn worker_protocol_and_isolation() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let report = run("serve", limits(60_000), &job(here.clone()))
        .await
        .unwrap();
    let ids: Vec<&str> = report.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["word_sorting", "mmlu", "if_eval"],
        "the skipped task is absent"
    );
    assert_eq!(report.tasks[0].raw, 2.0);
    assert_eq!(report.tasks[2].raw, 5.0);
    assert_eq!(report.tasks[2].sample_scores.len(), 5);

    let err = run("serve", limits(60_000), &job(here.join("missing")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WorkerFailure::Evaluation(m) if m.contains("no model")),
        "{err}"
    );

    let started = Instant::now();
    let err = run("sleep", limits(1_500), &job(here.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerFailure::Timeout(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the hung worker was killed"
    );

    let err = run("crash", limits(60_000), &job(here.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WorkerFailure::Crashed { status, stderr_tail } if status.contains('3') && stderr_tail.contains("layer 3")),
        "{err}"
    );

    let err = run("garbage", limits(60_000), &job(here.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerFailure::BadReply(_)), "{err}");

    let err = run("alloc", limits(60_000), &job(here.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WorkerFailure::Crashed { .. }),
        "4 GiB under a 1 GiB cap must fail: {err}"
    );

    let missing = WorkerCommand {
        program: here.join("no-such-binary"),
        args: vec![],
        env: vec![],
    };
    let err = run_worker(&missing, &limits(1_000), &job(here))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerFailure::Spawn { .. }), "{err}");
}
