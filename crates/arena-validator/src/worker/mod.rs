//! The evaluation worker: a separate process that loads ONE model and scores it, so a model
//! that crashes the loader, loops forever or exhausts memory costs that model its step and
//! nothing else (SN37 runs each evaluation in a subprocess with a timeout for the same reason).
//!
//! Protocol (version [`PROTOCOL_VERSION`]): the validator writes one [`EvalJob`] as JSON on the
//! worker's stdin and closes it; the worker writes one [`WorkerReply`] as one JSON line on
//! stdout and exits 0. Only the last non-empty line counts, so a library that prints to stdout
//! cannot corrupt the reply. Anything else (a signal, a non-zero exit, no or bad JSON, the timeout) is a
//! [`WorkerFailure`] for that model. The validator's side is [`run_worker`]; the worker's side
//! is [`serve`] around a [`ModelScorer`], which the binary implements with `arena-model`.

mod memory;
mod runner;

/// A job's samples per task, as drawn by [`arena_data::draw::draw_samples`].
pub use arena_data::draw::TaskSamples;
pub use memory::{memory_limit, EngineShape, MemoryBounds, MemoryLimit, ModelSize, MEMORY_FLOOR};
pub use runner::{run_worker, WorkerCommand, WorkerFailure, WorkerLimits};

use std::io::{Read, Write};
use std::path::PathBuf;

use arena_core::competition::Competition;
use serde::{Deserialize, Serialize};

/// Version of the job/reply JSON; a worker refuses a job of another version. Version 2 added
/// early stopping (the job's `stop`, the report's `stopped` and per-task `scored`).
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest job a worker reads from stdin (samples of every task included).
pub const MAX_JOB_BYTES: u64 = 256 << 20;

/// One model to evaluate on one competition's samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalJob {
    /// Must equal [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The competition (constraints, tasks, sequence length, dtype).
    pub competition: Competition,
    /// The verified snapshot folder.
    pub model_dir: PathBuf,
    /// Folder of the pinned tokenizer, when the competition pins one.
    pub tokenizer_dir: Option<PathBuf>,
    /// Per task of the competition, in schedule order: the samples drawn with the shared seed,
    /// or `None` when the task's data failed to load this step (skipped for every model).
    pub tasks: Vec<TaskSamples>,
    /// The shared seed (hex): it orders the samples into chunks when the competition stops
    /// evaluations early (generation is greedy).
    pub seed: String,
    /// Stop this evaluation against the step's leader (`None`: score every sample).
    #[serde(default)]
    pub stop: Option<arena_core::early_stop::StopRule>,
}

/// One task's result for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// The task's id.
    pub task_id: String,
    /// Raw score, lower is better; `+inf` when the task failed for this model.
    #[serde(with = "arena_core::serde_float")]
    pub raw: f64,
    /// Per-sample scores (the units of per-unit scoring policies), of the scored samples.
    #[serde(with = "arena_core::serde_float::vec")]
    pub sample_scores: Vec<f64>,
    /// Usable samples of the task (0 in reports that predate early stopping).
    #[serde(default)]
    pub samples: usize,
    /// `None` when every usable sample was scored; else the indices scored before an early
    /// stop, one per entry of `sample_scores`.
    #[serde(default)]
    pub scored: Option<Vec<u32>>,
}

/// Where an early-stopped evaluation ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopReport {
    /// Why it stopped.
    pub decision: arena_core::early_stop::Decision,
    /// Lower end of the interval of the full score.
    #[serde(with = "arena_core::serde_float")]
    pub lo: f64,
    /// Upper end.
    #[serde(with = "arena_core::serde_float")]
    pub hi: f64,
    /// Chunks scored.
    pub chunks: usize,
    /// Chunks in the plan.
    pub chunks_total: usize,
}

/// A finished evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Per task that had samples, in job order.
    pub tasks: Vec<TaskOutcome>,
    /// Milliseconds spent loading the model.
    pub load_ms: u64,
    /// Milliseconds spent scoring.
    pub compute_ms: u64,
    /// Set when the evaluation stopped early.
    #[serde(default)]
    pub stopped: Option<StopReport>,
}

/// What a worker prints: a report, or the reason the model could not be evaluated at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WorkerReply {
    /// Evaluated.
    Ok {
        /// The scores.
        report: EvalReport,
    },
    /// The model failed as a whole (load error, failed norm check, bad job).
    Failed {
        /// One line naming the cause.
        message: String,
    },
}

/// The worker's body: scores one model. Implementations must turn a per-sample failure into
/// a `+inf` score and return `Err` only when the model cannot be evaluated at all.
pub trait ModelScorer {
    /// Evaluates `job.model_dir` on `job.tasks`.
    fn evaluate(&mut self, job: &EvalJob) -> Result<EvalReport, String>;
}

/// Runs the worker side of the protocol: reads one job from `input`, evaluates it, writes the
/// reply to `output`. Only I/O on `output` fails this function; a bad job is a `Failed` reply.
pub fn serve(
    scorer: &mut dyn ModelScorer,
    input: impl Read,
    mut output: impl Write,
) -> std::io::Result<()> {
    let reply = match read_job(input) {
        Ok(job) => match scorer.evaluate(&job) {
            Ok(report) => WorkerReply::Ok { report },
            Err(message) => WorkerReply::Failed { message },
        },
        Err(message) => WorkerReply::Failed { message },
    };
    let json = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
    output.write_all(json.as_bytes())?;
    output.write_all(b"\n")?;
    output.flush()
}

fn read_job(input: impl Read) -> Result<EvalJob, String> {
    let mut text = Vec::new();
    input
        .take(MAX_JOB_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("reading the job: {e}"))?;
    if text.len() as u64 > MAX_JOB_BYTES {
        return Err(format!("job is over {MAX_JOB_BYTES} bytes"));
    }
    let job: EvalJob = serde_json::from_slice(&text).map_err(|e| format!("job JSON: {e}"))?;
    if job.version != PROTOCOL_VERSION {
        return Err(format!(
            "job protocol version {} (this worker speaks {PROTOCOL_VERSION})",
            job.version
        ));
    }
    Ok(job)
}
