//! Test doubles of the validator's evaluation engine, and the real worker as the binary's
//! end-to-end tests start it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use arena_validator::eval::{EvalBackend, SubprocessBackend};
use arena_validator::worker::{
    EvalJob, EvalReport, TaskOutcome, WorkerCommand, WorkerFailure, WorkerLimits,
};

/// The real worker (`arena validator eval-worker` of the binary at `arena`), one lane, a
/// 300 s timeout and an 8 GiB address-space cap, logging only warnings.
pub fn real_worker(arena: &Path) -> SubprocessBackend {
    SubprocessBackend::new(
        WorkerCommand {
            program: arena.to_path_buf(),
            args: vec!["validator".into(), "eval-worker".into()],
            env: vec![("ARENA_LOG".into(), "warn".into())],
        },
        WorkerLimits {
            timeout: Duration::from_secs(300),
            memory_bytes: Some(8 << 30),
            ..WorkerLimits::default()
        },
    )
}
use async_trait::async_trait;

/// An evaluation engine whose score of a model is fixed per repository (matched as a part of
/// the model's folder path), so tests of the service logic know which miner must win without
/// model code; the real worker is exercised by the binary's end-to-end tests.
pub struct FixedQuality(pub BTreeMap<&'static str, f64>);

#[async_trait]
impl EvalBackend for FixedQuality {
    async fn evaluate(&self, _lane: usize, job: &EvalJob) -> Result<EvalReport, WorkerFailure> {
        let path = job.model_dir.display().to_string();
        let (_, score) = self
            .0
            .iter()
            .find(|(repo, _)| path.contains(*repo))
            .ok_or_else(|| WorkerFailure::Evaluation(format!("unknown model {path}")))?;
        let samples = job.tasks[0].samples.as_ref().map_or(0, Vec::len);
        Ok(EvalReport {
            tasks: vec![TaskOutcome {
                task_id: job.tasks[0].task_id.clone(),
                raw: *score,
                sample_scores: vec![*score; samples],
                samples: 0,
                scored: None,
            }],
            load_ms: 3,
            compute_ms: 4,
            stopped: None,
        })
    }
}
