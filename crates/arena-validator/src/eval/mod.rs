//! One evaluation step of one competition (SN37 `run_step`): draw the samples with the shared
//! seed ([`arena_data::draw::draw_samples`]), evaluate every queued model in its own worker,
//! score the step with the competition's policy, fold it into the EMA, and produce the
//! [`StepRecord`] that the store writes in one transaction.

mod score;

pub use score::{score_step_record, EvaluatedModel, ScoreInputs, StepScoreError};

use std::collections::BTreeMap;
use std::path::PathBuf;

use arena_core::competition::Competition;
use arena_core::seed::Seed;
use arena_data::draw::draw_samples;
use arena_data::source::DataSource;
use async_trait::async_trait;

use crate::store::StepRecord;
use crate::worker::{
    run_worker, EvalJob, EvalReport, TaskSamples, WorkerCommand, WorkerFailure, WorkerLimits,
    PROTOCOL_VERSION,
};

/// Where evaluations run. The service uses [`SubprocessBackend`]; the trait lets tests and
/// other deployments (a remote GPU box) put something else behind the same step logic.
#[async_trait]
pub trait EvalBackend: Send + Sync {
    /// Evaluates one job; a failure costs only this model.
    async fn evaluate(&self, job: &EvalJob) -> Result<EvalReport, WorkerFailure>;
}

/// Runs each job in a fresh worker process (see [`crate::worker`]).
#[derive(Debug, Clone)]
pub struct SubprocessBackend {
    /// How to start the worker.
    pub command: WorkerCommand,
    /// Timeout and memory cap per model.
    pub limits: WorkerLimits,
}

#[async_trait]
impl EvalBackend for SubprocessBackend {
    async fn evaluate(&self, job: &EvalJob) -> Result<EvalReport, WorkerFailure> {
        run_worker(&self.command, &self.limits, job).await
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

/// Evaluates every model on the same samples, one worker at a time (a GPU holds one model),
/// and returns each model with its report or failure, in input order.
pub async fn evaluate_models(
    backend: &dyn EvalBackend,
    competition: &Competition,
    seed: &Seed,
    tasks: &[TaskSamples],
    tokenizer_dir: Option<PathBuf>,
    models: &[QueuedModel],
) -> Vec<EvaluatedModel> {
    let mut out = Vec::with_capacity(models.len());
    for model in models {
        let job = EvalJob {
            version: PROTOCOL_VERSION,
            competition: competition.clone(),
            model_dir: model.model_dir.clone(),
            tokenizer_dir: tokenizer_dir.clone(),
            tasks: tasks.to_vec(),
            seed: seed.to_hex(),
        };
        let result = backend.evaluate(&job).await;
        if let Err(e) = &result {
            tracing::warn!(uid = model.uid, hotkey = %model.hotkey, error = %e, "evaluation failed");
        }
        out.push(EvaluatedModel {
            model: model.clone(),
            result: result.map_err(|e| e.to_string()),
        });
    }
    out
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
    let evaluated = evaluate_models(
        backend,
        inputs.competition,
        &inputs.seed,
        &tasks,
        tokenizer_dir,
        models,
    )
    .await;
    score_step_record(inputs, &tasks, &evaluated)
}
