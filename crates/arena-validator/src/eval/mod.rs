//! One evaluation step of one competition (SN37 `run_step`): draw the samples with the shared
//! seed ([`arena_data::draw::draw_samples`]), evaluate every queued model in its own worker,
//! score the step with the competition's policy, fold it into the EMA, and produce the
//! [`StepRecord`] that the store writes in one transaction.

mod score;

pub use score::{
    contender_of, early_stop_record, score_step_record, EvaluatedModel, ScoreInputs, StepScoreError,
};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use arena_core::competition::Competition;
use arena_core::early_stop::{self, Bounds, LeaderTask, StopRule, Stopped};
use arena_core::seed::Seed;
use arena_data::draw::draw_samples;
use arena_data::source::DataSource;
use async_trait::async_trait;
use futures_util::future::join_all;

use crate::store::StepRecord;
use crate::worker::{
    memory_limit, run_worker, EngineShape, EvalJob, EvalReport, MemoryBounds, ModelSize,
    TaskSamples, WorkerCommand, WorkerFailure, WorkerLimits, PROTOCOL_VERSION,
};

/// Where evaluations run. The service uses [`SubprocessBackend`]; the trait lets tests and
/// other deployments (a remote GPU box) put something else behind the same step logic.
#[async_trait]
pub trait EvalBackend: Send + Sync {
    /// How many evaluations run at once (one lane per device or CPU worker); at least 1.
    fn lanes(&self) -> usize {
        1
    }

    /// Evaluates one job on `lane` (`< lanes()`; a lane runs one job at a time); a failure
    /// costs only this model.
    async fn evaluate(&self, lane: usize, job: &EvalJob) -> Result<EvalReport, WorkerFailure>;
}

/// One lane of a [`SubprocessBackend`]: where its workers run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerSlot {
    /// For logs: the device (`cpu`, `cuda:1`).
    pub label: String,
    /// Environment of this lane's workers on top of the command's (device, thread count).
    pub env: Vec<(String, String)>,
    /// Compute threads of this lane's workers; the memory formula adds one per core for the
    /// worker's async runtime.
    pub threads: u64,
    /// Whether `RLIMIT_AS` applies. Off for GPU workers: the CUDA driver reserves virtual
    /// address space for unified addressing far beyond what is resident, and fails to
    /// initialise under an address-space cap (the timeout still applies).
    pub cap_address_space: bool,
}

/// Environment variable that names a worker's device (`cpu`, `cuda:1`, `auto`); the worker
/// opens that device.
pub const DEVICE_ENV: &str = "ARENA_EVAL_DEVICE";

/// Environment variable that sizes a worker's thread pools (candle's matrix products and
/// rayon's pool both read it).
pub const THREADS_ENV: &str = "RAYON_NUM_THREADS";

impl WorkerSlot {
    /// A CPU lane of `threads` threads, under the address-space cap.
    pub fn cpu(device: &str, threads: u64) -> Self {
        let threads = threads.max(1);
        WorkerSlot {
            label: device.to_string(),
            env: vec![
                (DEVICE_ENV.to_string(), device.to_string()),
                (THREADS_ENV.to_string(), threads.to_string()),
            ],
            threads,
            cap_address_space: true,
        }
    }

    /// A GPU lane (no address-space cap; threads as the service's).
    pub fn gpu(device: &str, threads: u64) -> Self {
        WorkerSlot {
            label: device.to_string(),
            env: vec![(DEVICE_ENV.to_string(), device.to_string())],
            threads: threads.max(1),
            cap_address_space: false,
        }
    }
}

/// The lanes of a validator: `per_device` lanes for each of `devices` (its name and whether it
/// is a GPU), in order; the CPU lanes share the machine's `threads` equally (at least one
/// each), so two CPU workers evaluate two models at once without oversubscribing the cores.
pub fn plan_slots(devices: &[(String, bool)], per_device: usize, threads: u64) -> Vec<WorkerSlot> {
    let per_device = per_device.max(1);
    let cpu_lanes = devices.iter().filter(|(_, gpu)| !gpu).count() * per_device;
    let cpu_threads = threads / (cpu_lanes.max(1) as u64);
    devices
        .iter()
        .flat_map(|(name, gpu)| {
            (0..per_device).map(move |_| match gpu {
                true => WorkerSlot::gpu(name, threads),
                false => WorkerSlot::cpu(name, cpu_threads),
            })
        })
        .collect()
}

/// How a [`SubprocessBackend`] chooses each job's address-space cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPolicy {
    /// How the engine runs (batch size, attention, dtype); `threads` is the lane's.
    pub engine: EngineShape,
    /// Floor and ceiling of every cap.
    pub bounds: MemoryBounds,
}

impl MemoryPolicy {
    /// The cap of a worker with `threads` threads that evaluates `job`: [`memory_limit`] of
    /// its model and sequence length, or the ceiling when the folder cannot be read (it was
    /// prechecked; the worker will then report the actual problem).
    pub fn limit_for(&self, job: &EvalJob, threads: u64) -> u64 {
        let engine = EngineShape {
            threads,
            ..self.engine
        };
        match ModelSize::read(&job.model_dir) {
            Ok(size) => {
                let sequence = u64::from(job.competition.constraints.sequence_length);
                let limit = memory_limit(&size, sequence, &engine, self.bounds);
                tracing::debug!(model = %job.model_dir.display(), ?limit, "worker memory");
                if limit.estimate > self.bounds.ceiling {
                    tracing::warn!(
                        model = %job.model_dir.display(),
                        estimate_mib = limit.estimate >> 20,
                        ceiling_mib = self.bounds.ceiling >> 20,
                        "the model may need more memory than the worker ceiling allows"
                    );
                }
                limit.limit
            }
            Err(e) => {
                tracing::warn!(model = %job.model_dir.display(), error = %e, "sizing the worker");
                self.bounds.ceiling
            }
        }
    }
}

/// Runs each job in a fresh worker process (see [`crate::worker`]), one per lane at a time.
#[derive(Debug, Clone)]
pub struct SubprocessBackend {
    /// How to start the worker (its `env` is shared by every lane).
    pub command: WorkerCommand,
    /// Timeout and reply cap per model; `memory_bytes` is the cap when `memory` is `None`.
    pub limits: WorkerLimits,
    /// Derive each job's cap from its model; `None` applies `limits.memory_bytes` to all.
    pub memory: Option<MemoryPolicy>,
    /// The lanes; empty means one lane with the command as it is.
    pub slots: Vec<WorkerSlot>,
}

impl SubprocessBackend {
    /// One lane, the fixed cap of `limits`.
    pub fn new(command: WorkerCommand, limits: WorkerLimits) -> Self {
        SubprocessBackend {
            command,
            limits,
            memory: None,
            slots: Vec::new(),
        }
    }
}

#[async_trait]
impl EvalBackend for SubprocessBackend {
    fn lanes(&self) -> usize {
        self.slots.len().max(1)
    }

    async fn evaluate(&self, lane: usize, job: &EvalJob) -> Result<EvalReport, WorkerFailure> {
        // Besides its compute pool, a worker runs an async runtime with a thread per core.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let Some(slot) = self.slots.get(lane) else {
            let mut limits = self.limits;
            if let Some(policy) = &self.memory {
                limits.memory_bytes = Some(policy.limit_for(job, 2 * cores));
            }
            return run_worker(&self.command, &limits, job).await;
        };
        let mut command = self.command.clone();
        command.env.extend(slot.env.iter().cloned());
        let mut limits = self.limits;
        limits.memory_bytes = match (&self.memory, slot.cap_address_space) {
            (_, false) => None,
            (Some(policy), true) => Some(policy.limit_for(job, slot.threads + cores)),
            (None, true) => self.limits.memory_bytes,
        };
        tracing::debug!(lane, device = %slot.label, model = %job.model_dir.display(), "worker");
        run_worker(&command, &limits, job).await
    }
}

/// A model selected for this step.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedModel {
    /// Metagraph uid.
    pub uid: u16,
    /// Hotkey (SS58).
    pub hotkey: String,
    /// Commit block.
    pub commit_block: u64,
    /// Verified snapshot folder.
    pub model_dir: PathBuf,
    /// Directory hash (exact-copy detection).
    pub content_hash: Option<String>,
}

/// Evaluates every model on the same samples and returns each model with its report or
/// failure, in input order. With one lane, one worker at a time (a GPU holds one model); with
/// several, each lane takes the next model as soon as its previous one is done, so a slow
/// model never holds the others back. Each model is evaluated alone on one lane, so its
/// scores do not depend on the lane count or on which lane took it.
///
/// `rules[i]`, when given, stops model `i`'s evaluation early (an empty slice: none stops).
pub async fn evaluate_models(
    backend: &dyn EvalBackend,
    competition: &Competition,
    seed: &Seed,
    tasks: &[TaskSamples],
    tokenizer_dir: Option<PathBuf>,
    models: &[QueuedModel],
    rules: &[Option<StopRule>],
) -> Vec<EvaluatedModel> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<EvalReport, String>>>> =
        Mutex::new(vec![None; models.len()]);
    let run_lane = |lane: usize| {
        let (next, results, tokenizer_dir) = (&next, &results, &tokenizer_dir);
        async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(model) = models.get(index) else {
                    return;
                };
                let job = EvalJob {
                    version: PROTOCOL_VERSION,
                    competition: competition.clone(),
                    model_dir: model.model_dir.clone(),
                    tokenizer_dir: tokenizer_dir.clone(),
                    tasks: tasks.to_vec(),
                    seed: seed.to_hex(),
                    stop: rules.get(index).cloned().flatten(),
                };
                let result = backend.evaluate(lane, &job).await;
                if let Err(e) = &result {
                    tracing::warn!(uid = model.uid, hotkey = %model.hotkey, lane, error = %e, "evaluation failed");
                }
                let mut slots = results.lock().unwrap_or_else(|p| p.into_inner());
                slots[index] = Some(result.map_err(|e| e.to_string()));
            }
        }
    };
    let lanes = backend.lanes().clamp(1, models.len().max(1));
    join_all((0..lanes).map(run_lane)).await;
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    models
        .iter()
        .zip(results)
        .map(|(model, result)| EvaluatedModel {
            model: model.clone(),
            result: result.unwrap_or_else(|| Err("not evaluated".into())),
        })
        .collect()
}

/// Convenience for the service: draws, evaluates and scores one step. `not_before_ms` is the
/// time bound of the data: only samples created after every scored model became
/// eligible (commit + eval delay) may be used, so no model can have trained on them.
pub async fn run_step(
    backend: &dyn EvalBackend,
    inputs: &ScoreInputs<'_>,
    tokenizer_dir: Option<PathBuf>,
    named: &mut BTreeMap<String, Box<dyn DataSource>>,
    (now_ms, not_before_ms): (u64, u64),
    models: &[QueuedModel],
) -> Result<StepRecord, StepScoreError> {
    let tasks = draw_samples(
        inputs.competition,
        &inputs.seed,
        now_ms,
        not_before_ms,
        named,
    )
    .await;
    let evaluated = evaluate_step_models(backend, inputs, &tasks, tokenizer_dir, models).await?;
    score_step_record(inputs, &tasks, &evaluated)
}

/// The leader of a step: the queued model with the most EMA weight in the competition
/// (ties: the older commit, then the lower uid); `None` when no queued model has weight.
pub fn step_leader(models: &[QueuedModel], inputs: &ScoreInputs<'_>) -> Option<usize> {
    let ema = inputs.tracker.get(inputs.competition.id).unwrap_or(&[]);
    let weight = |m: &QueuedModel| ema.get(m.uid as usize).copied().unwrap_or(0.0);
    (0..models.len())
        .filter(|&i| weight(&models[i]) > 0.0)
        .min_by(|&a, &b| {
            let (a, b) = (&models[a], &models[b]);
            weight(b)
                .total_cmp(&weight(a))
                .then(a.commit_block.cmp(&b.commit_block))
                .then(a.uid.cmp(&b.uid))
        })
}

/// Evaluates a step's models, with early stopping where the competition has it
/// ([`arena_core::early_stop`]): the leader ([`step_leader`]) first and in full, then every
/// other model with a [`StopRule`] against it; then the stopped models whose full scores the
/// step's outcome still depends on ([`arena_core::early_stop::undecided`]) are evaluated again
/// in full, until none is left, so the weights and the top model are those of a full
/// evaluation. Without a leader (or a finite leader score), every model is scored in full.
pub async fn evaluate_step_models(
    backend: &dyn EvalBackend,
    inputs: &ScoreInputs<'_>,
    tasks: &[TaskSamples],
    tokenizer_dir: Option<PathBuf>,
    models: &[QueuedModel],
) -> Result<Vec<EvaluatedModel>, StepScoreError> {
    let competition = inputs.competition;
    let seed = &inputs.seed;
    let leader = early_stop::applies(competition)
        .then(|| step_leader(models, inputs))
        .flatten()
        .filter(|_| models.len() > 1);
    let Some(leader) = leader else {
        return Ok(evaluate_models(
            backend,
            competition,
            seed,
            tasks,
            tokenizer_dir,
            models,
            &[],
        )
        .await);
    };
    let first = evaluate_models(
        backend,
        competition,
        seed,
        tasks,
        tokenizer_dir.clone(),
        std::slice::from_ref(&models[leader]),
        &[],
    )
    .await;
    let Some(leader_eval) = first.into_iter().next() else {
        return Ok(Vec::new());
    };
    let (leader_contender, _) = contender_of(competition, tasks, &leader_eval)?;
    let rules: Vec<Option<StopRule>> = match &leader_eval.result {
        Ok(report) if leader_contender.score.is_finite() => {
            let leader_tasks: Vec<Option<LeaderTask>> = competition
                .tasks
                .iter()
                .map(|task| {
                    let t = report.tasks.iter().find(|t| t.task_id == task.id)?;
                    Some(LeaderTask {
                        samples: t.sample_scores.clone(),
                        raw: t.raw,
                    })
                })
                .collect();
            models
                .iter()
                .map(|m| {
                    Some(StopRule {
                        settings: competition.early_stop,
                        leader: leader_contender.clone(),
                        leader_tasks: leader_tasks.clone(),
                        block: m.commit_block,
                        current_block: inputs.current_block,
                        epsilon: competition.constraints.epsilon,
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    };
    tracing::info!(
        competition = competition.id,
        leader = models[leader].uid,
        leader_score = leader_contender.score,
        early_stop = !rules.is_empty(),
        "leader evaluated"
    );
    let rest: Vec<usize> = (0..models.len()).filter(|&i| i != leader).collect();
    let rest_models: Vec<QueuedModel> = rest.iter().map(|&i| models[i].clone()).collect();
    let rest_rules: Vec<Option<StopRule>> = rest
        .iter()
        .map(|&i| rules.get(i).cloned().flatten())
        .collect();
    let evaluated_rest = evaluate_models(
        backend,
        competition,
        seed,
        tasks,
        tokenizer_dir.clone(),
        &rest_models,
        &rest_rules,
    )
    .await;
    let mut evaluated: Vec<Option<EvaluatedModel>> = vec![None; models.len()];
    evaluated[leader] = Some(leader_eval);
    for (i, e) in rest.into_iter().zip(evaluated_rest) {
        evaluated[i] = Some(e);
    }
    let mut evaluated: Vec<EvaluatedModel> = evaluated.into_iter().flatten().collect();
    // Each round scores at least one stopped model in full, so this ends.
    loop {
        let mut contenders = Vec::with_capacity(evaluated.len());
        let mut stopped = Vec::new();
        for m in &evaluated {
            let (contender, _) = contender_of(competition, tasks, m)?;
            if let Ok(EvalReport {
                stopped: Some(stop),
                ..
            }) = &m.result
            {
                stopped.push(Stopped {
                    uid: contender.uid,
                    bounds: Bounds {
                        lo: stop.lo,
                        hi: stop.hi,
                    },
                });
            }
            contenders.push(contender);
        }
        let open = early_stop::undecided(
            &contenders,
            &stopped,
            inputs.current_block,
            &competition.constraints.epsilon,
        );
        if open.is_empty() {
            return Ok(evaluated);
        }
        tracing::info!(competition = competition.id, uids = ?open, "stopped models the step still depends on: evaluating them in full");
        let again: Vec<usize> = (0..evaluated.len())
            .filter(|&i| open.contains(&evaluated[i].model.uid))
            .collect();
        let again_models: Vec<QueuedModel> =
            again.iter().map(|&i| evaluated[i].model.clone()).collect();
        let redone = evaluate_models(
            backend,
            competition,
            seed,
            tasks,
            tokenizer_dir.clone(),
            &again_models,
            &[],
        )
        .await;
        for (i, e) in again.into_iter().zip(redone) {
            evaluated[i] = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::TaskOutcome;
    use std::time::Duration;

    /// Scores a model by the number in its folder name, slowly for the first ones, and records
    /// the most jobs that ran at once and which lanes were used.
    struct Slow {
        lanes: usize,
        running: AtomicUsize,
        most: AtomicUsize,
        used: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl EvalBackend for Slow {
        fn lanes(&self) -> usize {
            self.lanes
        }

        async fn evaluate(&self, lane: usize, job: &EvalJob) -> Result<EvalReport, WorkerFailure> {
            assert!(lane < self.lanes);
            self.used.lock().unwrap().push(lane);
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let n: u64 = job.model_dir.to_string_lossy().parse().unwrap();
            tokio::time::sleep(Duration::from_millis(40 / (n + 1))).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            if n == 3 {
                return Err(WorkerFailure::Evaluation("model 3 is broken".into()));
            }
            Ok(EvalReport {
                tasks: vec![TaskOutcome {
                    task_id: "t".into(),
                    raw: n as f64,
                    sample_scores: vec![n as f64],
                    samples: 0,
                    scored: None,
                }],
                load_ms: 0,
                compute_ms: 0,
                stopped: None,
            })
        }
    }

    async fn run(lanes: usize) -> (Vec<Result<f64, String>>, usize, Vec<usize>) {
        let backend = Slow {
            lanes,
            running: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            used: Mutex::new(Vec::new()),
        };
        let competition =
            arena_core::competition::default_schedule().unwrap().entries[0].competitions[0].clone();
        let models: Vec<QueuedModel> = (0..7)
            .map(|n| QueuedModel {
                uid: n,
                hotkey: format!("hk{n}"),
                commit_block: 1,
                model_dir: PathBuf::from(n.to_string()),
                content_hash: None,
            })
            .collect();
        let out = evaluate_models(
            &backend,
            &competition,
            &Seed::from_text("s"),
            &[],
            None,
            &models,
            &[],
        )
        .await;
        assert_eq!(
            out.iter().map(|m| m.model.uid).collect::<Vec<_>>(),
            (0..7).collect::<Vec<_>>(),
            "input order"
        );
        let scores = out
            .into_iter()
            .map(|m| m.result.map(|r| r.tasks[0].raw))
            .collect();
        let mut used = backend.used.into_inner().unwrap();
        used.sort();
        used.dedup();
        (scores, backend.most.into_inner(), used)
    }

    #[test]
    fn cpu_lanes_share_the_threads_and_gpu_lanes_are_uncapped() {
        let cpu = |n: usize| plan_slots(&[("cpu".to_string(), false)], n, 16);
        assert_eq!(cpu(1), vec![WorkerSlot::cpu("cpu", 16)]);
        let four = cpu(4);
        assert_eq!(four.len(), 4);
        assert!(four.iter().all(|s| s.threads == 4 && s.cap_address_space));
        assert!(four[0]
            .env
            .contains(&(THREADS_ENV.to_string(), "4".to_string())));
        assert_eq!(cpu(32)[31].threads, 1, "never fewer than one thread");
        let gpus = plan_slots(
            &[("cuda:0".to_string(), true), ("cuda:1".to_string(), true)],
            1,
            16,
        );
        let labels: Vec<&str> = gpus.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["cuda:0", "cuda:1"]);
        assert!(gpus.iter().all(|s| !s.cap_address_space));
        assert_eq!(
            gpus[1].env,
            vec![(DEVICE_ENV.to_string(), "cuda:1".to_string())]
        );
        let mixed = plan_slots(
            &[("cuda:0".to_string(), true), ("cpu".to_string(), false)],
            2,
            8,
        );
        assert_eq!(mixed.len(), 4);
        assert_eq!((mixed[2].threads, mixed[3].threads), (4, 4));
    }

    #[tokio::test]
    async fn lanes_run_models_at_once_and_give_the_results_of_one_lane_in_order() {
        let (one, most, used) = run(1).await;
        assert_eq!((most, used), (1, vec![0]));
        assert!(one[3].as_ref().unwrap_err().contains("model 3 is broken"));
        assert_eq!(one[6], Ok(6.0));
        let (three, most, used) = run(3).await;
        assert_eq!(three, one, "same results whatever the lane count");
        assert_eq!((most, used), (3, vec![0, 1, 2]));
        // More lanes than models: one model per lane, none twice.
        let (many, most, _) = run(16).await;
        assert_eq!((many, most), (one, 7));
    }
}
