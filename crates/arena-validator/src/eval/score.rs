//! From worker reports to a [`StepRecord`]: pure, so two validators with the same reports
//! compute the same record.

use arena_core::competition::{
    combine_task_scores, Competition, CompetitionId, CompetitionScore, ScoringPolicy,
};
use arena_core::queue::{select_kept, step_records, Standing};
use arena_core::scoring::{
    leader::group_samples, score_step, CompetitionTracker, Contender, ScoringError, EMA_ALPHA,
    MIN_COMPETITION_WEIGHT,
};
use arena_core::seed::Seed;

use super::QueuedModel;
use crate::store::{EarlyStopRecord, ModelStepResult, StepKey, StepRecord};
use crate::worker::{EvalReport, TaskSamples};

/// A model and what its worker returned (or why it failed).
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatedModel {
    /// The model.
    pub model: QueuedModel,
    /// The report, or the failure message.
    pub result: Result<EvalReport, String>,
}

/// Everything besides the reports that scoring a step needs.
#[derive(Debug, Clone)]
pub struct ScoreInputs<'a> {
    /// The competition of this step.
    pub competition: &'a Competition,
    /// `(competition, sync block)`.
    pub key: StepKey,
    /// The shared seed of the sync block.
    pub seed: Seed,
    /// Chain block now (epsilon decay, ages).
    pub current_block: u64,
    /// Metagraph size (weight vector length).
    pub n_uids: usize,
    /// EMA weights before this step.
    pub tracker: CompetitionTracker,
    /// `(competition, reward)` of the active schedule entry, for the subnet weights.
    pub rewards: Vec<(CompetitionId, f64)>,
    /// Models kept queued between steps (SN37: 3).
    pub keep_top: usize,
}

/// Why a step cannot be scored (a bug or an inconsistent schedule; never a model's fault).
#[derive(Debug, thiserror::Error)]
pub enum StepScoreError {
    /// Every task was skipped (no data for any).
    #[error("no task of competition {0} had data this step")]
    NoData(CompetitionId),
    /// The scoring policy refused the contenders.
    #[error("scoring: {0}")]
    Scoring(#[from] ScoringError),
}

/// A model's contender (uid, commit block, combined score, content hash; its per-sample
/// scores as units) and its combined task scores. A failed model scores `+inf`; an
/// early-stopped one the means of its scored samples (see [`early_stop_record`]).
pub fn contender_of(
    competition: &Competition,
    tasks: &[TaskSamples],
    m: &EvaluatedModel,
) -> Result<(Contender, CompetitionScore), StepScoreError> {
    let raw: Vec<Option<f64>> = competition
        .tasks
        .iter()
        .zip(tasks)
        .map(|(task, drawn)| {
            drawn.samples.as_ref()?;
            let found = m
                .result
                .as_ref()
                .ok()
                .and_then(|r| r.tasks.iter().find(|t| t.task_id == task.id));
            Some(found.map_or(f64::INFINITY, |t| t.raw))
        })
        .collect();
    let combined = combine_task_scores(&competition.tasks, &raw)
        .map_err(|_| StepScoreError::NoData(competition.id))?;
    let mut contender = Contender::new(m.model.uid, m.model.commit_block, combined.total);
    contender.content_hash = m.model.content_hash.clone();
    if let Ok(report) = &m.result {
        contender.unit_losses = report
            .tasks
            .iter()
            .flat_map(|t| t.sample_scores.iter().copied())
            .collect();
    }
    Ok((contender, combined))
}

/// How far an early-stopped report went: samples scored of the usable ones.
pub fn early_stop_record(report: &EvalReport) -> Option<EarlyStopRecord> {
    let stop = report.stopped?;
    let (samples, of) = report.tasks.iter().fold((0, 0), |(done, all), t| {
        (done + t.sample_scores.len(), all + t.samples)
    });
    Some(EarlyStopRecord {
        samples,
        of,
        decision: stop.decision,
    })
}

/// Scores the evaluated models and builds the step's record (results, EMA, subnet weights,
/// histories, the kept queue).
pub fn score_step_record(
    inputs: &ScoreInputs<'_>,
    tasks: &[TaskSamples],
    evaluated: &[EvaluatedModel],
) -> Result<StepRecord, StepScoreError> {
    let competition = inputs.competition;
    if tasks.iter().all(|t| t.samples.is_none()) {
        return Err(StepScoreError::NoData(competition.id));
    }
    let mut contenders = Vec::with_capacity(evaluated.len());
    let mut details = Vec::with_capacity(evaluated.len());
    for m in evaluated {
        let (contender, combined) = contender_of(competition, tasks, m)?;
        contenders.push(contender);
        details.push(combined.tasks);
    }
    if let ScoringPolicy::LeaderPerUnit {
        group_samples: group,
        ..
    } = competition.scoring
    {
        let samples = contenders
            .iter()
            .map(|c| c.unit_losses.len())
            .max()
            .unwrap_or(0);
        let per_model: Vec<Vec<f64>> = contenders
            .iter()
            .map(|c| {
                let mut v = c.unit_losses.clone();
                v.resize(samples, f64::INFINITY);
                v
            })
            .collect();
        for (c, units) in contenders
            .iter_mut()
            .zip(group_samples(&per_model, group as usize))
        {
            c.unit_losses = units;
        }
    } else {
        contenders.iter_mut().for_each(|c| c.unit_losses.clear());
    }
    let step = score_step(
        &competition.scoring,
        &contenders,
        inputs.current_block,
        &competition.constraints.epsilon,
    )?;
    let mut tracker = inputs.tracker.clone();
    tracker.record(
        competition.id,
        &step.weight_vector(inputs.n_uids),
        EMA_ALPHA,
    );
    let ema = tracker.get(competition.id).unwrap_or(&[]).to_vec();
    let subnet_weights =
        tracker.subnet_weights(&inputs.rewards, MIN_COMPETITION_WEIGHT, inputs.n_uids);
    let hotkey_of = |uid: u16| {
        evaluated
            .iter()
            .find(|m| m.model.uid == uid)
            .map(|m| m.model.hotkey.clone())
            .unwrap_or_default()
    };
    let standings: Vec<Standing> = step
        .outcomes
        .iter()
        .zip(&contenders)
        .map(|(o, c)| Standing {
            uid: o.uid,
            block: c.block,
            win_rate: o.win_rate,
            ema_weight: ema.get(o.uid as usize).copied().unwrap_or(0.0),
        })
        .collect();
    let (kept, _dropped) = select_kept(&standings, inputs.keep_top, step.top_uid);
    let models = evaluated
        .iter()
        .zip(&contenders)
        .zip(&step.outcomes)
        .zip(details)
        .map(|(((m, c), o), tasks)| {
            let (load_ms, compute_ms) = m
                .result
                .as_ref()
                .map_or((0, 0), |r| (r.load_ms, r.compute_ms));
            ModelStepResult {
                uid: c.uid,
                hotkey: m.model.hotkey.clone(),
                commit_block: c.block,
                score: c.score,
                tasks,
                win_rate: o.win_rate,
                step_weight: o.step_weight,
                epsilon_advantage: o.advantage,
                ema_weight: ema.get(c.uid as usize).copied().unwrap_or(0.0),
                load_ms,
                compute_ms,
                error: m.result.as_ref().err().cloned(),
                early_stop: m.result.as_ref().ok().and_then(early_stop_record),
            }
        })
        .collect();
    let history = step_records(&contenders, step.top_uid, inputs.current_block)
        .into_iter()
        .map(|(uid, record)| (hotkey_of(uid), record))
        .collect();
    Ok(StepRecord {
        key: inputs.key,
        block: inputs.current_block,
        seed: inputs.seed.to_hex(),
        models,
        tracker,
        subnet_weights,
        history,
        kept: kept.into_iter().map(hotkey_of).collect(),
    })
}
