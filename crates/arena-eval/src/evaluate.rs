//! Loading a model for a competition and scoring it on every task's samples.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arena_checkpoint::checks::{self, NormReport};
use arena_core::competition::{
    combine_task_scores, Competition, CompetitionScore, EvalMethod, MultipleChoiceMode, ScoreError,
    Task, TextLossMode,
};
use arena_core::early_stop::{self, Bounds, ChunkScores, Decision, StopRule};
use arena_core::seed::Seed;
use arena_data::Sample;
use arena_model::model::load_model;
use arena_model::scoring::choice::ChoiceMode;
use arena_model::scoring::loss::TextLossMode as ModelTextLoss;
use arena_model::scoring::{
    BatchLimits, Generation, IfEvalSettings, ReferenceSettings, TaskResult,
};
use arena_model::tokenizer::{TextTokenizer, TokenMemo};
use arena_model::{Device, Evaluator};

use crate::cache::{cache_key, TokenCache};
use crate::inputs::{Dropped, Inputs};
use crate::EvalError;

/// How a model is evaluated, beyond what the competition says.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Folder of the competition's pinned tokenizer; `None` uses the model's own.
    pub tokenizer_dir: Option<PathBuf>,
    /// Token-cache folder shared by the workers of a step; `None` disables the cache.
    pub token_cache: Option<PathBuf>,
    /// Cap on generated tokens for every generation task (if_eval, generated multiple choice),
    /// overriding each task's own `max_new_tokens` (SN37: 20 and 200); `None` keeps the
    /// tasks' settings. In tokens, not seconds, so a slow machine and a fast one agree.
    pub max_new_tokens: Option<usize>,
    /// Batch sizes of the loss engine (they change speed, never scores).
    pub limits: BatchLimits,
    /// Run the norm validation of the competition's constraints before scoring.
    pub validate_norms: bool,
    /// The step's seed, which orders the samples into chunks when the competition stops
    /// evaluations early ([`early_stop::applies`]); `None` scores each task whole. A validator
    /// and `arena model eval` with the same seed score the same chunks, so the same numbers.
    pub chunk_seed: Option<Seed>,
    /// Stop against a leader (chunked evaluations only); `None` scores every chunk.
    pub stop: Option<StopRule>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            tokenizer_dir: None,
            token_cache: None,
            max_new_tokens: None,
            limits: BatchLimits::default(),
            validate_norms: true,
            chunk_seed: None,
            stop: None,
        }
    }
}

/// One task's outcome for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEval {
    /// The task's id.
    pub task_id: String,
    /// Raw score, lower is better; `+inf` when any sample failed for this model. For a task
    /// cut short by an early stop, the mean of the scored samples (the method's best score
    /// when none was scored).
    pub raw: f64,
    /// Score of each scored sample, in sample order (`+inf` for a failed one).
    pub per_sample: Vec<f64>,
    /// Usable samples of the task.
    pub samples: usize,
    /// `None` when every usable sample was scored; else the indices of those scored (an early
    /// stop), in order, one per entry of `per_sample`.
    pub scored: Option<Vec<u32>>,
    /// One line per sample that failed for this model.
    pub failures: Vec<String>,
    /// Samples left out for every model (unusable data).
    pub dropped: Vec<Dropped>,
}

/// Whether the token cache helped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// No cache folder was given.
    Off,
    /// Every encoding was read from the cache.
    Hit,
    /// Tokenized here, and written for the next model.
    Miss,
}

/// One model's evaluation on one competition.
#[derive(Debug, Clone)]
pub struct ModelEval {
    /// Per task of the competition, in order; `None` for a task skipped this step (its data
    /// did not load, or no sample was usable).
    pub tasks: Vec<Option<TaskEval>>,
    /// Norms of the projection weights, when validated.
    pub norms: Option<NormReport>,
    /// Milliseconds spent loading (and validating) the model.
    pub load_ms: u64,
    /// Milliseconds spent tokenizing (near zero on a cache hit).
    pub tokenize_ms: u64,
    /// Milliseconds spent in the model.
    pub compute_ms: u64,
    /// What the token cache did.
    pub cache: CacheUse,
    /// Set when the evaluation stopped early against a leader.
    pub stopped: Option<EarlyStopped>,
}

/// Where an early-stopped evaluation ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopped {
    /// Why it stopped.
    pub decision: Decision,
    /// The interval of the full score the decision rests on.
    pub bounds: Bounds,
    /// Chunks scored, of `chunks_total`.
    pub chunks: usize,
    /// Chunks in the plan.
    pub chunks_total: usize,
}

impl ModelEval {
    /// The competition score: normalised, weighted and summed (`arena-core`'s rules).
    pub fn score(&self, competition: &Competition) -> Result<CompetitionScore, ScoreError> {
        let raw: Vec<Option<f64>> = self
            .tasks
            .iter()
            .map(|t| t.as_ref().map(|t| t.raw))
            .collect();
        combine_task_scores(&competition.tasks, &raw)
    }
}

/// Loads `model_dir` with the tokenizer of `tokenizer_dir` (the competition's pinned one)
/// or, when `None`, its own.
pub fn load_evaluator(
    model_dir: &Path,
    tokenizer_dir: Option<&Path>,
    device: &Device,
) -> Result<Evaluator, EvalError> {
    let tok_dir = tokenizer_dir.unwrap_or(model_dir);
    let tokenizer = TextTokenizer::load(tok_dir).map_err(|source| EvalError::Load {
        path: tok_dir.to_path_buf(),
        source,
    })?;
    let model = load_model(model_dir, device).map_err(|source| EvalError::Load {
        path: model_dir.to_path_buf(),
        source,
    })?;
    Ok(Evaluator {
        model,
        tokenizer,
        limits: BatchLimits::default(),
    })
}

/// Loads `model_dir`, validates its weight norms, and scores it on `drawn` (one entry per
/// task of `competition`, `None` for a task skipped this step). A sample that fails costs
/// its task +inf for this model; `Err` means the model cannot be evaluated at all.
pub fn evaluate_model(
    model_dir: &Path,
    competition: &Competition,
    drawn: &[Option<Vec<Sample>>],
    options: &EvalOptions,
    device: &Device,
) -> Result<ModelEval, EvalError> {
    let started = Instant::now();
    let norms = if options.validate_norms {
        let limits = &competition.constraints.norm_validation;
        Some(checks::validate_folder(model_dir, limits).map_err(EvalError::Check)?)
    } else {
        None
    };
    let mut eval = load_evaluator(model_dir, options.tokenizer_dir.as_deref(), device)?;
    eval.limits = options.limits;
    let load_ms = started.elapsed().as_millis() as u64;
    let mut result = evaluate_loaded(&mut eval, competition, drawn, options)?;
    result.norms = norms;
    result.load_ms = load_ms;
    Ok(result)
}

/// Scores an already loaded model (see [`evaluate_model`]) with `eval`'s own batch limits; of
/// `options` the token cache and the `max_new_tokens` override are used. `load_ms` is left 0.
pub fn evaluate_loaded(
    eval: &mut Evaluator,
    competition: &Competition,
    drawn: &[Option<Vec<Sample>>],
    options: &EvalOptions,
) -> Result<ModelEval, EvalError> {
    if drawn.len() != competition.tasks.len() {
        return Err(EvalError::TaskCount {
            tasks: competition.tasks.len(),
            drawn: drawn.len(),
        });
    }
    let prepared: Vec<Option<(Inputs, Vec<Dropped>)>> = competition
        .tasks
        .iter()
        .zip(drawn)
        .map(|(task, samples)| {
            let (inputs, dropped) = Inputs::from_samples(&task.method, samples.as_deref()?);
            for d in &dropped {
                tracing::warn!(task = %task.id, sample = %d.id, reason = %d.reason, "sample left out");
            }
            (!inputs.is_empty()).then_some((inputs, dropped))
        })
        .collect();

    let started = Instant::now();
    let (cache, key) = open_cache(eval, drawn, options);
    let mut cache_use = CacheUse::Off;
    if let (Some(cache), Some(key)) = (&cache, &key) {
        let memo = match cache.load(key) {
            Ok(Some(memo)) => {
                cache_use = CacheUse::Hit;
                memo
            }
            Ok(None) => {
                cache_use = CacheUse::Miss;
                TokenMemo::default()
            }
            Err(e) => {
                tracing::warn!(error = %e, "token cache entry unusable; tokenizing");
                cache_use = CacheUse::Miss;
                TokenMemo::default()
            }
        };
        eval.tokenizer.enable_memo(memo);
    }
    for ((inputs, _), task) in prepared
        .iter()
        .zip(&competition.tasks)
        .filter_map(|(p, t)| Some((p.as_ref()?, t)))
    {
        inputs.pretokenize(eval, uses_loglik(task), &task.settings());
    }
    if let (Some(cache), Some(key), CacheUse::Miss) = (&cache, &key, cache_use) {
        if let Some(memo) = eval.tokenizer.memo() {
            if let Err(e) = cache.store(key, &memo) {
                tracing::warn!(error = %e, "could not write the token cache");
            }
        }
    }
    let tokenize_ms = started.elapsed().as_millis() as u64;

    let started = Instant::now();
    let chunk_seed = options
        .chunk_seed
        .filter(|_| early_stop::applies(competition));
    let (tasks, stopped) = match chunk_seed {
        Some(seed) => score_chunked(eval, competition, prepared, &seed, options),
        None => (score_whole(eval, competition, prepared, options), None),
    };
    if let Some(memo) = eval.tokenizer.memo() {
        tracing::debug!(hits = memo.hits, misses = memo.misses, "token memo");
    }
    Ok(ModelEval {
        tasks,
        norms: None,
        load_ms: 0,
        tokenize_ms,
        compute_ms: started.elapsed().as_millis() as u64,
        cache: cache_use,
        stopped,
    })
}

type Prepared = Vec<Option<(Inputs, Vec<Dropped>)>>;

/// Every task scored whole, in order.
fn score_whole(
    eval: &Evaluator,
    competition: &Competition,
    prepared: Prepared,
    options: &EvalOptions,
) -> Vec<Option<TaskEval>> {
    competition
        .tasks
        .iter()
        .zip(prepared)
        .map(|(task, prepared)| {
            let (inputs, dropped) = prepared?;
            let result = score_task(eval, competition, task, &inputs, options.max_new_tokens);
            for f in &result.failures {
                tracing::info!(task = %task.id, failure = %f, "sample failed for this model");
            }
            Some(TaskEval {
                task_id: task.id.clone(),
                raw: result.raw,
                samples: inputs.len(),
                per_sample: result.per_sample,
                scored: None,
                failures: result.failures,
                dropped,
            })
        })
        .collect()
}

/// The tasks scored chunk by chunk in the seeded order of [`early_stop::chunk_plan`],
/// stopping when `options.stop` decides.
fn score_chunked(
    eval: &Evaluator,
    competition: &Competition,
    prepared: Prepared,
    seed: &Seed,
    options: &EvalOptions,
) -> (Vec<Option<TaskEval>>, Option<EarlyStopped>) {
    let tasks = &competition.tasks;
    let usable: Vec<Option<usize>> = prepared
        .iter()
        .map(|p| p.as_ref().map(|(inputs, _)| inputs.len()))
        .collect();
    let plan = early_stop::chunk_plan(tasks, &usable, seed, competition.early_stop.chunk);
    let mut failures: Vec<Vec<String>> = vec![Vec::new(); tasks.len()];
    let mut whole: Vec<Option<Vec<f64>>> = vec![None; tasks.len()];
    let run = early_stop::run_plan::<std::convert::Infallible>(
        tasks,
        &usable,
        &plan,
        options.stop.as_ref(),
        |chunk| {
            let (Some(Some((inputs, _))), Some(task)) =
                (prepared.get(chunk.task), tasks.get(chunk.task))
            else {
                return Ok(ChunkScores {
                    samples: Vec::new(),
                    raw: None,
                });
            };
            let all = chunk.samples.len() == inputs.len();
            let subset;
            let part = if all {
                inputs
            } else {
                subset = inputs.subset(&chunk.samples);
                &subset
            };
            let result = score_task(eval, competition, task, part, options.max_new_tokens);
            for f in &result.failures {
                tracing::info!(task = %task.id, failure = %f, "sample failed for this model");
            }
            failures[chunk.task].extend(result.failures);
            if !early_stop::splittable(task) {
                whole[chunk.task] = Some(result.per_sample.clone());
            }
            Ok(ChunkScores {
                samples: result.per_sample,
                raw: Some(result.raw),
            })
        },
    );
    let run = match run {
        Ok(run) => run,
        Err(never) => match never {},
    };
    let stopped = run.stopped.map(|(decision, bounds)| EarlyStopped {
        decision,
        bounds,
        chunks: run.chunks,
        chunks_total: plan.len(),
    });
    let evals = tasks
        .iter()
        .zip(prepared)
        .zip(run.partial)
        .enumerate()
        .map(|(t, ((task, prepared), partial))| {
            let (_, dropped) = prepared?;
            let partial = partial?;
            let scored: Vec<(u32, f64)> = partial
                .samples
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some((i as u32, (*s)?)))
                .collect();
            let (raw, per_sample, indices) = match (partial.raw, whole[t].take()) {
                (Some(raw), Some(per_sample)) => (raw, per_sample, None),
                (Some(raw), None) => (raw, scored.iter().map(|s| s.1).collect(), None),
                (None, _) => {
                    let values: Vec<f64> = scored.iter().map(|s| s.1).collect();
                    let raw = if values.is_empty() {
                        early_stop::sample_range(&task.method).0
                    } else {
                        values.iter().sum::<f64>() / values.len() as f64
                    };
                    (raw, values, Some(scored.iter().map(|s| s.0).collect()))
                }
            };
            Some(TaskEval {
                task_id: task.id.clone(),
                raw,
                per_sample,
                samples: partial.samples.len(),
                scored: indices,
                failures: std::mem::take(&mut failures[t]),
                dropped,
            })
        })
        .collect();
    (evals, stopped)
}

fn open_cache(
    eval: &Evaluator,
    drawn: &[Option<Vec<Sample>>],
    options: &EvalOptions,
) -> (Option<TokenCache>, Option<String>) {
    let Some(dir) = &options.token_cache else {
        return (None, None);
    };
    match TokenCache::open(dir) {
        Ok(cache) => {
            let key = cache_key(
                &eval.tokenizer.fingerprint(),
                drawn.iter().map(|d| d.as_deref()),
            );
            (Some(cache), Some(key))
        }
        Err(e) => {
            tracing::warn!(error = %e, "token cache disabled");
            (None, None)
        }
    }
}

fn uses_loglik(task: &Task) -> bool {
    matches!(
        task.method,
        EvalMethod::MultipleChoice {
            mode: MultipleChoiceMode::Loglik
        }
    )
}

/// Runs the task's method on its inputs with the task's settings (see
/// [`Task::settings`]); `max_new_tokens`, when given, replaces every generation's token cap.
pub fn score_task(
    eval: &Evaluator,
    competition: &Competition,
    task: &Task,
    inputs: &Inputs,
    max_new_tokens: Option<usize>,
) -> TaskResult {
    let settings = task.settings();
    let mut generation = Generation::from_settings(&settings);
    if let Some(cap) = max_new_tokens {
        generation.max_new_tokens = cap;
    }
    let system = settings.system_prompt.as_deref();
    match (&task.method, inputs) {
        (EvalMethod::ReferenceLoss, Inputs::Reference(items)) => {
            eval.reference_loss_with(items, &ReferenceSettings::from_settings(&settings))
        }
        (EvalMethod::TextLoss { mode }, Inputs::Text(docs)) => {
            let mode = match mode {
                TextLossMode::Packed => ModelTextLoss::Packed {
                    sequence_length: competition.constraints.sequence_length as usize,
                },
                TextLossMode::PerDocument => ModelTextLoss::PerDocumentSum {
                    sequence_length: competition.constraints.sequence_length as usize,
                },
            };
            eval.text_loss(docs, mode)
        }
        (EvalMethod::MultipleChoice { mode }, Inputs::Choice(questions)) => {
            let mode = match mode {
                MultipleChoiceMode::Loglik => ChoiceMode::LogLikelihood,
                MultipleChoiceMode::Generate => ChoiceMode::Generate(generation),
            };
            eval.multiple_choice_with(questions, mode, system)
        }
        (EvalMethod::IfEval, Inputs::Instruction(prompts)) => {
            let mut if_settings = IfEvalSettings::from_settings(&settings);
            if_settings.generation = generation;
            eval.if_eval(prompts, &if_settings)
        }
        // Inputs are built from the same method, so this cannot happen; fail the task, not
        // the process, if it ever does.
        (method, _) => TaskResult::from_samples(vec![Err(arena_model::ModelError::Config(
            format!("task {}: inputs do not match method {method:?}", task.id),
        ))]),
    }
}
