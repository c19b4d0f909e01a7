//! The isolated worker: this test binary re-runs itself in a child mode as the worker, so the
//! real protocol (`serve` on one side, `run_worker` on the other) is exercised end to end, and
//! a worker that hangs, crashes, prints garbage or exceeds its memory cap costs only its job.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arena_core::competition::default_schedule;
use arena_data::tasks::TaskGenerator;
use arena_validator::eval::{EvalBackend, MemoryPolicy, SubprocessBackend, WorkerSlot};
use arena_validator::worker::{
    memory_limit, run_worker, serve, EngineShape, EvalJob, EvalReport, MemoryBounds, ModelScorer,
    ModelSize, TaskOutcome, TaskSamples, WorkerCommand, WorkerFailure, WorkerLimits,
    PROTOCOL_VERSION,
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
                    samples: 0,
                    scored: None,
                })
            })
            .collect();
        Ok(EvalReport {
            tasks,
            load_ms: 1,
            compute_ms: 2,
            stopped: None,
        })
    }
}

/// Reports the worker's own address-space cap (`u64::MAX` when unlimited) and the device its
/// lane named, so a test sees what the validator's side set for this model.
struct AddressSpaceReporter;

impl ModelScorer for AddressSpaceReporter {
    fn evaluate(&mut self, _job: &EvalJob) -> Result<EvalReport, String> {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0 {
            return Err("getrlimit failed".into());
        }
        let cap = if limit.rlim_cur == libc::RLIM_INFINITY {
            u64::MAX
        } else {
            limit.rlim_cur as u64
        };
        Ok(EvalReport {
            tasks: vec![TaskOutcome {
                task_id: std::env::var("ARENA_EVAL_DEVICE").unwrap_or_default(),
                // Exact: every cap of this test is far below 2^53.
                raw: if cap == u64::MAX { -1.0 } else { cap as f64 },
                sample_scores: vec![],
                samples: 0,
                scored: None,
            }],
            load_ms: 0,
            compute_ms: 0,
            stopped: None,
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
        "rlimit" => {
            println!(); // the harness's "test worker_child ..." has no line end
            serve(
                &mut AddressSpaceReporter,
                std::io::stdin(),
                std::io::stdout(),
            )
            .unwrap();
        }
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
        stop: None,
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

/// The cap of a worker follows the model it evaluates: the f32 and the bf16 tiny Llama (same
/// shape, files of 896 KB and 449 KB) get exactly `memory_limit` of their own size and the
/// competition's sequence length, the bigger file the bigger cap; a GPU lane gets none.
#[tokio::test]
async fn the_memory_cap_follows_the_model() {
    let fixtures = arena_testkit::fixtures::fixtures();
    let engine = EngineShape {
        batch_tokens: 4096,
        logit_rows: 512,
        attention_block: None,
        upcast_weights: true,
        threads: 1,
    };
    // No floor, so the tiny models' own estimates show (each about 1.5 GiB, the runtime's
    // allowance included).
    let bounds = MemoryBounds {
        floor: 0,
        ceiling: 64 << 30,
    };
    let slot = |device: &str, cap_address_space: bool| WorkerSlot {
        label: device.into(),
        env: vec![("ARENA_EVAL_DEVICE".into(), device.into())],
        threads: 1,
        cap_address_space,
    };
    let backend = SubprocessBackend {
        memory: Some(MemoryPolicy { engine, bounds }),
        slots: vec![slot("cpu", true), slot("cuda:0", false)],
        ..SubprocessBackend::new(command("rlimit"), limits(60_000))
    };
    assert_eq!(backend.lanes(), 2);
    let mut caps = Vec::new();
    for name in ["tiny-llama", "tiny-llama-bf16"] {
        let dir = fixtures.join(name);
        let job = job(dir.clone());
        let report = backend.evaluate(0, &job).await.unwrap();
        assert_eq!(report.tasks[0].task_id, "cpu", "the lane's environment");
        let size = ModelSize::read(&dir).unwrap();
        let sequence = u64::from(job.competition.constraints.sequence_length);
        // The lane's one compute thread and the worker's async runtime, a thread per core.
        let cores = std::thread::available_parallelism().unwrap().get() as u64;
        let threads = EngineShape {
            threads: 1 + cores,
            ..engine
        };
        let expected = memory_limit(&size, sequence, &threads, bounds);
        assert_eq!(
            report.tasks[0].raw, expected.limit as f64,
            "{name}: {expected:?}"
        );
        assert_eq!(
            expected.mapped_weights,
            std::fs::metadata(dir.join("model.safetensors"))
                .unwrap()
                .len()
        );
        caps.push(expected.limit);

        let gpu = backend.evaluate(1, &job).await.unwrap();
        assert_eq!(gpu.tasks[0].task_id, "cuda:0");
        assert_eq!(gpu.tasks[0].raw, -1.0, "no address-space cap on a GPU lane");
    }
    // Same parameters, so the same f32 copy in memory: the f32 file's cap is larger by at
    // least its extra mapped bytes (plus headroom).
    assert!(caps[0] >= caps[1] + (896_360 - 449_280), "{caps:?}");
}
