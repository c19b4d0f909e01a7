//! Early-stopping evaluation: most challengers lose, so a challenger's samples are scored in a
//! seeded order, chunk by chunk, and scoring stops as soon as the outcome against the step's
//! leader (the queued model with the most EMA weight, evaluated first and in full) is decided.
//!
//! * [`chunk_plan`]: the order. Each task that can be scored piecewise ([`splittable`]) has its
//!   usable samples permuted by SHA-256 of (seed, task id, index) and cut into chunks of
//!   [`EarlyStop::chunk`]; chunks are taken round-robin over the tasks; tasks whose score needs
//!   every sample at once (if_eval's duplicate rules, packed text loss) come last, whole.
//! * [`exact_bounds`]: the interval the full score must fall in, given the scored samples: each
//!   unscored sample at its method's best (lower bound) or worst (upper bound) score, pushed
//!   through the same normalisation and weights as [`combine_task_scores`].
//! * [`statistical_bounds`] (mode `statistical`): a narrower interval from a paired sequential
//!   test against the leader's per-sample scores (see the function).
//! * [`decide`]: [`Decision::CannotWin`] when even the lower bound does not beat the leader
//!   (epsilon included), [`Decision::CannotLose`] when even the upper bound beats it.
//! * [`undecided`]: after every model of the step is scored, which stopped models must still be
//!   scored in full so that the step's outcome is *identical* to a full evaluation: every
//!   comparison involving a stopped model must come out the same anywhere in its interval, and a
//!   stopped model that could still fail must not be a candidate for the top.
//!
//! Early stopping applies to the pairwise policy with aggregate scores and winner-takes-all
//! step weights ([`applies`]): there the step's weights depend only on who beats whom. Under
//! softmax, a stopped model's exact win rate and finiteness would change every weight a little,
//! and per-unit comparisons need every unit, so those competitions are evaluated in full.
//!
//! Everything here is deterministic: the same samples, seed and scores give the same chunks,
//! bounds and decisions on every validator.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::competition::{
    combine_task_scores, Comparison, Competition, EvalMethod, ScoringPolicy, StepWeightRule, Task,
    TextLossMode,
};
use crate::epsilon::EpsilonFunc;
use crate::scoring::pairwise::beats;
use crate::scoring::Contender;
use crate::seed::Seed;

/// How a competition stops evaluations early (the competition's `early_stop` table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStop {
    /// `off`, `exact` (default) or `statistical`.
    pub mode: StopMode,
    /// Samples per chunk of one task (1 to [`MAX_CHUNK`]).
    pub chunk: u32,
    /// Statistical mode: the largest share of decisions allowed to differ from a full
    /// evaluation (0 < error < 0.5).
    pub error: f64,
    /// Statistical mode: samples of a task scored before its interval may narrow below the
    /// exact one (at least 2).
    pub min_samples: u32,
}

/// The stop rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StopMode {
    /// Every model scores every sample.
    Off,
    /// Stop only when the outcome against the leader cannot change.
    #[default]
    Exact,
    /// Stop when a sequential test decides, with at most `error` of decisions differing.
    Statistical,
}

/// Largest chunk size a schedule may set.
pub const MAX_CHUNK: u32 = 4096;

/// Scores are compared with this relative slack, so a sum taken in another order (one rounding
/// per sample) can never cross a bound.
const SLACK: f64 = 1e-9;

impl Default for EarlyStop {
    fn default() -> Self {
        EarlyStop {
            mode: StopMode::Exact,
            chunk: 16,
            error: 0.001,
            min_samples: 32,
        }
    }
}

impl EarlyStop {
    /// Why the settings are unusable, if they are: `(field, reason)`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(1..=MAX_CHUNK).contains(&self.chunk) {
            return Err(("chunk", format!("{} is not in 1..={MAX_CHUNK}", self.chunk)));
        }
        if !(self.error > 0.0 && self.error < 0.5) {
            return Err(("error", format!("{} is not in (0, 0.5)", self.error)));
        }
        if self.min_samples < 2 {
            return Err(("min_samples", format!("{} is below 2", self.min_samples)));
        }
        Ok(())
    }
}

/// Whether `competition` stops evaluations early: its mode is not `off` and its policy is
/// pairwise on aggregate scores with winner-takes-all step weights (see the module doc).
pub fn applies(competition: &Competition) -> bool {
    competition.early_stop.mode != StopMode::Off
        && matches!(
            competition.scoring,
            ScoringPolicy::Pairwise {
                step_weights: StepWeightRule::WinnerTakesAll,
                comparison: Comparison::Aggregate,
                ..
            }
        )
}

/// Whether a task's score is the plain mean of independent per-sample scores, so its samples
/// can be scored in chunks and the mean taken at the end: reference loss, per-document text
/// loss and multiple choice. Packed text loss packs documents across samples, and if_eval
/// weighs by rule count and judges duplicates across responses, so those run whole.
pub fn splittable(task: &Task) -> bool {
    match &task.method {
        EvalMethod::ReferenceLoss | EvalMethod::MultipleChoice { .. } => true,
        EvalMethod::TextLoss { mode } => *mode == TextLossMode::PerDocument,
        EvalMethod::IfEval => false,
    }
}

/// The best and worst score one sample of `method` can get (every score is lower-is-better).
/// Losses are unbounded above; a multiple-choice answer is 0 or 1; an if_eval response scores
/// in `[0, 1]`, and its duplicate rules can only raise a task's score, never above 1.
pub fn sample_range(method: &EvalMethod) -> (f64, f64) {
    match method {
        EvalMethod::ReferenceLoss | EvalMethod::TextLoss { .. } => (0.0, f64::INFINITY),
        EvalMethod::MultipleChoice { .. } | EvalMethod::IfEval => (0.0, 1.0),
    }
}

/// One piece of work: some samples (indices into the task's usable samples) of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Index of the task in the competition.
    pub task: usize,
    /// Sample indices, ascending.
    pub samples: Vec<u32>,
}

/// The order in which a model's samples are scored (see the module doc). `usable[t]` is the
/// number of usable samples of task `t`, `None` when the task is skipped this step.
pub fn chunk_plan(tasks: &[Task], usable: &[Option<usize>], seed: &Seed, chunk: u32) -> Vec<Chunk> {
    let chunk = chunk.clamp(1, MAX_CHUNK) as usize;
    let mut split: Vec<std::collections::VecDeque<Chunk>> = Vec::new();
    let mut whole = Vec::new();
    for (t, (task, n)) in tasks.iter().zip(usable).enumerate() {
        let Some(n) = n.filter(|&n| n > 0) else {
            continue;
        };
        if !splittable(task) {
            whole.push(Chunk {
                task: t,
                samples: (0..n as u32).collect(),
            });
            continue;
        }
        let mut order: Vec<(Vec<u8>, u32)> = (0..n as u32)
            .map(|i| {
                let mut h = Sha256::new();
                h.update(seed.0);
                h.update((task.id.len() as u64).to_le_bytes());
                h.update(task.id.as_bytes());
                h.update(i.to_le_bytes());
                (h.finalize().to_vec(), i)
            })
            .collect();
        order.sort();
        split.push(
            order
                .chunks(chunk)
                .map(|c| {
                    let mut samples: Vec<u32> = c.iter().map(|(_, i)| *i).collect();
                    samples.sort_unstable();
                    Chunk { task: t, samples }
                })
                .collect(),
        );
    }
    let mut plan = Vec::new();
    while split.iter().any(|q| !q.is_empty()) {
        for queue in &mut split {
            if let Some(c) = queue.pop_front() {
                plan.push(c);
            }
        }
    }
    plan.extend(whole);
    plan
}

/// What is known of one task's scores for one model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskPartial {
    /// One entry per usable sample: its score, or `None` while it is not scored.
    pub samples: Vec<Option<f64>>,
    /// The task's raw score, once every sample is scored (its method's own rule: a mean, or
    /// if_eval's weighting and duplicate rules).
    pub raw: Option<f64>,
}

impl TaskPartial {
    /// A task of `n` samples, none scored.
    pub fn new(n: usize) -> Self {
        TaskPartial {
            samples: vec![None; n],
            raw: None,
        }
    }

    /// A task scored in full.
    pub fn complete(samples: &[f64], raw: f64) -> Self {
        TaskPartial {
            samples: samples.iter().map(|&s| Some(s)).collect(),
            raw: Some(raw),
        }
    }
}

/// What is known of one model's scores: per task of the competition, `None` when the task is
/// skipped this step.
pub type Partial = [Option<TaskPartial>];

/// An interval the full competition score lies in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Lowest possible score (`+inf` when a scored sample already failed).
    pub lo: f64,
    /// Highest possible score (`+inf` while a loss sample is unscored).
    pub hi: f64,
}

impl Bounds {
    /// A score known exactly.
    pub fn exact(score: f64) -> Bounds {
        Bounds {
            lo: score,
            hi: score,
        }
    }
}

/// Per-task raw intervals, combined with the competition's normalisation and weights, widened
/// by the comparison slack.
fn combine_bounds(tasks: &[Task], raw: &[Option<(f64, f64)>]) -> Bounds {
    let lo: Vec<Option<f64>> = raw.iter().map(|r| r.map(|r| r.0)).collect();
    let hi: Vec<Option<f64>> = raw.iter().map(|r| r.map(|r| r.1)).collect();
    let total =
        |raw: &[Option<f64>]| combine_task_scores(tasks, raw).map_or(f64::INFINITY, |s| s.total);
    let (lo, hi) = (total(&lo), total(&hi));
    Bounds {
        lo: if lo.is_finite() {
            lo - SLACK * lo.abs()
        } else {
            lo
        },
        hi: if hi.is_finite() {
            hi + SLACK * hi.abs()
        } else {
            hi
        },
    }
}

/// The exact raw interval of one task: unscored samples at their best and worst. A failed
/// sample fails the task (`+inf`), as in a full evaluation.
fn task_exact(task: &Task, partial: &TaskPartial) -> (f64, f64) {
    if let Some(raw) = partial.raw {
        return (raw, raw);
    }
    let (best, worst) = sample_range(&task.method);
    if partial.samples.iter().flatten().any(|v| !v.is_finite()) {
        return (f64::INFINITY, f64::INFINITY);
    }
    // A task that runs whole (if_eval) has a score in [best, worst] until it is done.
    if !splittable(task) {
        return (best, worst);
    }
    let n = partial.samples.len().max(1) as f64;
    let sum: f64 = partial.samples.iter().flatten().sum();
    let missing = partial.samples.iter().filter(|s| s.is_none()).count() as f64;
    ((sum + best * missing) / n, (sum + worst * missing) / n)
}

/// The interval the full score of a model must lie in (see the module doc).
pub fn exact_bounds(tasks: &[Task], partial: &Partial) -> Bounds {
    let raw: Vec<Option<(f64, f64)>> = tasks
        .iter()
        .zip(partial)
        .map(|(task, p)| p.as_ref().map(|s| task_exact(task, s)))
        .collect();
    combine_bounds(tasks, &raw)
}

/// The score shown for a stopped model: each task's mean over its scored samples (a task not
/// scored at all counts at its best), combined as usual. It lies inside [`exact_bounds`].
pub fn estimate(tasks: &[Task], partial: &Partial) -> f64 {
    let raw: Vec<Option<f64>> = tasks
        .iter()
        .zip(partial)
        .map(|(task, p)| {
            let p = p.as_ref()?;
            if let Some(raw) = p.raw {
                return Some(raw);
            }
            let scored: Vec<f64> = p.samples.iter().flatten().copied().collect();
            Some(if scored.is_empty() {
                sample_range(&task.method).0
            } else {
                scored.iter().sum::<f64>() / scored.len() as f64
            })
        })
        .collect();
    combine_task_scores(tasks, &raw).map_or(f64::INFINITY, |s| s.total)
}

/// Samples scored and samples in all, over the tasks of this step.
pub fn progress(partial: &Partial) -> (usize, usize) {
    partial.iter().flatten().fold((0, 0), |(done, all), task| {
        (
            done + task.samples.iter().flatten().count(),
            all + task.samples.len(),
        )
    })
}

/// The narrower interval of the statistical mode: per splittable task with at least
/// `min_samples` scored (and some not), the paired differences `d = own − leader` on the
/// scored samples estimate the task's full raw score as `leader_raw + mean(d)`, with the
/// standard error of a sample drawn without replacement (`sd(d) · √((N − k) / (k (N − 1)))`).
/// The interval is that estimate ± `z` standard errors, intersected with the exact one, where
/// `z` is the normal quantile of `1 − error / (2 · tasks · looks)`: a union bound over the two
/// sides, the tasks and every look the plan allows. The error statement rests on the normal
/// approximation of the mean of the remaining samples. Tasks without enough samples, or whose
/// leader scores are missing, keep their exact interval.
pub fn statistical_bounds(
    tasks: &[Task],
    partial: &Partial,
    leader: &Partial,
    rule: &EarlyStop,
    looks: usize,
) -> Bounds {
    let n_tasks = partial.iter().flatten().count().max(1);
    let alpha = rule.error / (2.0 * n_tasks as f64 * looks.max(1) as f64);
    let z = normal_quantile(1.0 - alpha);
    let raw: Vec<Option<(f64, f64)>> = tasks
        .iter()
        .zip(partial)
        .zip(leader.iter().chain(std::iter::repeat(&None)))
        .map(|((task, own), theirs)| {
            let own = own.as_ref()?;
            let exact = task_exact(task, own);
            let Some(theirs) = theirs
                .as_ref()
                .filter(|t| t.samples.len() == own.samples.len())
            else {
                return Some(exact);
            };
            let Some(leader_raw) = theirs.raw.filter(|r| r.is_finite()) else {
                return Some(exact);
            };
            if own.raw.is_some() || !splittable(task) || !exact.0.is_finite() {
                return Some(exact);
            }
            let n = own.samples.len();
            let diffs: Vec<f64> = own
                .samples
                .iter()
                .zip(&theirs.samples)
                .filter_map(|(o, t)| Some(o.as_ref()? - t.as_ref()?))
                .collect();
            let k = diffs.len();
            if k < rule.min_samples as usize || k >= n || diffs.iter().any(|d| !d.is_finite()) {
                return Some(exact);
            }
            let mean = diffs.iter().sum::<f64>() / k as f64;
            let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
            let se = var.sqrt() * ((n - k) as f64 / (k as f64 * (n - 1) as f64)).sqrt();
            let centre = leader_raw + mean;
            let lo = (centre - z * se).max(exact.0);
            let hi = (centre + z * se).min(exact.1);
            Some(if lo <= hi { (lo, hi) } else { exact })
        })
        .collect();
    combine_bounds(tasks, &raw)
}

/// One chunk's scores, from whatever runs the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkScores {
    /// Per sample of the chunk, in the chunk's order (`+inf` for a failed sample).
    pub samples: Vec<f64>,
    /// For a task that runs whole, its raw score (its method's rule); ignored for splittable
    /// tasks, whose raw score is the mean of the samples in index order.
    pub raw: Option<f64>,
}

/// Where a run over a plan ended.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRun {
    /// Per task of the competition: what was scored.
    pub partial: Vec<Option<TaskPartial>>,
    /// Set when the rule stopped the run before the end: the decision and its interval.
    pub stopped: Option<(Decision, Bounds)>,
    /// Chunks scored.
    pub chunks: usize,
}

/// The raw score of a splittable task: the mean of its samples in index order, as a full
/// evaluation computes it.
fn mean_in_order(samples: &[Option<f64>]) -> f64 {
    let sum: f64 = samples.iter().map(|s| s.unwrap_or(f64::INFINITY)).sum();
    sum / samples.len().max(1) as f64
}

/// Scores `plan` chunk by chunk with `score`, checking `rule` after each chunk and stopping as
/// soon as it decides (without a rule, every chunk is scored). `usable[t]` is the number of
/// usable samples of task `t` (`None`: skipped). An error from `score` ends the run.
pub fn run_plan<E>(
    tasks: &[Task],
    usable: &[Option<usize>],
    plan: &[Chunk],
    rule: Option<&StopRule>,
    mut score: impl FnMut(&Chunk) -> Result<ChunkScores, E>,
) -> Result<PlanRun, E> {
    let mut partial: Vec<Option<TaskPartial>> = usable
        .iter()
        .map(|n| n.filter(|&n| n > 0).map(TaskPartial::new))
        .collect();
    let mut chunks = 0;
    for chunk in plan {
        let scores = score(chunk)?;
        chunks += 1;
        let (Some(Some(task)), Some(spec)) = (partial.get_mut(chunk.task), tasks.get(chunk.task))
        else {
            continue;
        };
        for (&i, &v) in chunk.samples.iter().zip(&scores.samples) {
            if let Some(slot) = task.samples.get_mut(i as usize) {
                *slot = Some(v);
            }
        }
        if !splittable(spec) {
            // A whole task is done in one chunk, whatever its method counts as a sample
            // (packed text loss scores windows, not documents).
            let raw = scores.raw.unwrap_or(f64::INFINITY);
            for slot in task.samples.iter_mut().filter(|s| s.is_none()) {
                *slot = Some(raw);
            }
        }
        if task.samples.iter().all(Option::is_some) {
            task.raw = Some(match (splittable(spec), scores.raw) {
                (false, Some(raw)) => raw,
                _ => mean_in_order(&task.samples),
            });
        }
        if let Some(rule) = rule {
            let (decision, bounds) = rule.check(tasks, &partial, plan.len());
            if decision != Decision::Continue && chunks < plan.len() {
                return Ok(PlanRun {
                    partial,
                    stopped: Some((decision, bounds)),
                    chunks,
                });
            }
        }
    }
    Ok(PlanRun {
        partial,
        stopped: None,
        chunks,
    })
}

/// The outcome of a challenger against the leader, as far as its bounds tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Not decided yet: score more samples.
    Continue,
    /// Even at its lower bound the challenger does not beat the leader.
    CannotWin,
    /// Even at its upper bound the challenger beats the leader.
    CannotLose,
}

/// Decides a challenger committed at `block` with score `bounds` against `leader` (whose
/// score is exact), with the competition's epsilon at `current_block`.
pub fn decide(
    bounds: Bounds,
    block: u64,
    leader: &Contender,
    current_block: u64,
    epsilon: &EpsilonFunc,
) -> Decision {
    let at = |score: f64| Contender::new(u16::MAX, block, score);
    if !beats(&at(bounds.lo), leader, current_block, epsilon) {
        Decision::CannotWin
    } else if beats(&at(bounds.hi), leader, current_block, epsilon) {
        Decision::CannotLose
    } else {
        Decision::Continue
    }
}

/// Everything a worker needs to stop a challenger's evaluation early: the competition's
/// settings, the leader (scored in full) and the challenger's own commit block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopRule {
    /// The competition's `early_stop` table.
    pub settings: EarlyStop,
    /// The leader: uid, commit block and its full score.
    pub leader: Contender,
    /// The leader's per-task scores (statistical mode pairs with them), in competition order.
    pub leader_tasks: Vec<Option<LeaderTask>>,
    /// The challenger's commit block (its epsilon and seniority).
    pub block: u64,
    /// The chain block of the step (epsilon decay).
    pub current_block: u64,
    /// The competition's epsilon.
    pub epsilon: EpsilonFunc,
}

/// One task of the leader, scored in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderTask {
    /// Per usable sample.
    #[serde(with = "crate::serde_float::vec")]
    pub samples: Vec<f64>,
    /// The task's raw score.
    #[serde(with = "crate::serde_float")]
    pub raw: f64,
}

impl StopRule {
    /// The interval of the challenger's full score under the rule's mode; `looks` is the
    /// number of chunks of the plan (every point where the rule is checked).
    pub fn bounds(&self, tasks: &[Task], partial: &Partial, looks: usize) -> Bounds {
        match self.settings.mode {
            StopMode::Statistical => {
                let leader: Vec<Option<TaskPartial>> = self
                    .leader_tasks
                    .iter()
                    .map(|t| t.as_ref().map(|t| TaskPartial::complete(&t.samples, t.raw)))
                    .collect();
                statistical_bounds(tasks, partial, &leader, &self.settings, looks)
            }
            StopMode::Exact | StopMode::Off => exact_bounds(tasks, partial),
        }
    }

    /// The decision after some chunks, and the interval it rests on. Mode `off` never stops.
    pub fn check(&self, tasks: &[Task], partial: &Partial, looks: usize) -> (Decision, Bounds) {
        let bounds = self.bounds(tasks, partial, looks);
        if self.settings.mode == StopMode::Off {
            return (Decision::Continue, bounds);
        }
        let decision = decide(
            bounds,
            self.block,
            &self.leader,
            self.current_block,
            &self.epsilon,
        );
        (decision, bounds)
    }
}

/// A model whose evaluation stopped early, and the interval of its full score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopped {
    /// Its uid.
    pub uid: u16,
    /// Where its full score lies.
    pub bounds: Bounds,
}

/// The stopped models that must be scored in full before the step can be scored, so that its
/// winner-takes-all weights and its top model are those of a full evaluation. Call it again
/// after scoring them, until it returns nothing.
///
/// Every model's win count is bounded over the intervals of the stopped models (`contenders`
/// carries every model of the step, a stopped one with its estimate, which its interval is
/// widened to include): a comparison with a stopped model that comes out differently at the
/// ends of the intervals may go either way. Let `M` be the best lowest win count of a model
/// that cannot fail. The step is decided when the models that can reach `M` all have exact
/// win counts equal to `M` and cannot fail: then they and only they share the weight, in any
/// full evaluation. Otherwise the stopped models among those that can reach `M`, and those
/// whose open comparisons touch one of them, are returned. Win counts below the top (and so
/// the win rates recorded for stopped models) may differ from a full evaluation; weights and
/// the top model may not.
pub fn undecided(
    contenders: &[Contender],
    stopped: &[Stopped],
    current_block: u64,
    epsilon: &EpsilonFunc,
) -> Vec<u16> {
    let is_stopped = |c: &Contender| stopped.iter().any(|s| s.uid == c.uid);
    let interval = |c: &Contender| -> (f64, f64) {
        match stopped.iter().find(|s| s.uid == c.uid) {
            Some(s) => (s.bounds.lo.min(c.score), s.bounds.hi.max(c.score)),
            None => (c.score, c.score),
        }
    };
    let with = |c: &Contender, score: f64| Contender { score, ..c.clone() };
    let n = contenders.len();
    // open[i][j]: whether "i beats j" depends on where the stopped scores lie.
    let mut open = vec![vec![false; n]; n];
    let (mut wmin, mut wmax) = (vec![0usize; n], vec![0usize; n]);
    for (i, a) in contenders.iter().enumerate() {
        for (j, b) in contenders.iter().enumerate() {
            if i == j {
                continue;
            }
            let (a_lo, a_hi) = interval(a);
            let (b_lo, b_hi) = interval(b);
            // `beats` falls as a's score rises and rises with b's: two corners bound it.
            let best = beats(&with(a, a_lo), &with(b, b_hi), current_block, epsilon);
            let worst = beats(&with(a, a_hi), &with(b, b_lo), current_block, epsilon);
            wmin[i] += usize::from(worst);
            wmax[i] += usize::from(best);
            open[i][j] = best != worst;
        }
    }
    let surely_finite = |i: usize| interval(&contenders[i]).1.is_finite();
    let surely_failed = |i: usize| !interval(&contenders[i]).0.is_finite();
    let Some(m) = (0..n).filter(|&i| surely_finite(i)).map(|i| wmin[i]).max() else {
        // No model is sure to have a finite score: only full scores can tell.
        return contenders
            .iter()
            .enumerate()
            .filter(|&(i, c)| is_stopped(c) && !surely_failed(i))
            .map(|(_, c)| c.uid)
            .collect();
    };
    let top: Vec<usize> = (0..n)
        .filter(|&i| !surely_failed(i) && wmax[i] >= m)
        .collect();
    let decided = top
        .iter()
        .all(|&i| wmin[i] == m && wmax[i] == m && surely_finite(i));
    if decided {
        return Vec::new();
    }
    let mut resume = vec![false; n];
    for &t in &top {
        resume[t] |= is_stopped(&contenders[t]);
        for o in 0..n {
            if open[t][o] || open[o][t] {
                resume[o] |= is_stopped(&contenders[o]);
            }
        }
    }
    contenders
        .iter()
        .zip(resume)
        .filter(|(_, r)| *r)
        .map(|(c, _)| c.uid)
        .collect()
}

/// The standard normal quantile (Acklam's rational approximation, refined by one Halley step
/// on `erfc`; relative error far below what a stop rule needs).
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step: e = Φ(x) − p with Φ(x) = erfc(−x/√2)/2.
    let e = 0.5 * erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7 before
/// the Halley step that uses it).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
#[path = "early_stop_tests.rs"]
mod tests;
