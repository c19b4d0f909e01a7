//! Who is evaluated: pure decisions over plain data, for the validator's update
//! loop (which models enter the queue) and for the end of a step (which ones stay).
//!
//! Follows SN37 (`_update_uids_to_eval`, `should_retry_model`, `_queue_top_models_for_eval`):
//! the best 3 per competition stay between steps; new commitments are queued while fewer than
//! 16 models wait; a beaten model is re-queued when it lost only on an epsilon that has since
//! decayed; a model that high-stake validators weight is re-checked if this validator has not
//! evaluated it for 1200 blocks, ignoring the limit, which pulls validators towards consensus.
//! Where SN37 is arbitrary (set order, a random starting uid), we order by commit block, then uid.
//!
//! ```
//! use arena_core::queue::{plan_admissions, QueueContext, QueuePolicy, QueueReason, UidState};
//! use arena_core::epsilon::EpsilonFunc;
//!
//! let eps = EpsilonFunc::Fixed { value: 0.01 };
//! let ctx = QueueContext { current_block: 5_000, queued_total: 15, policy: QueuePolicy::default(), epsilon: &eps };
//! let models = [UidState::new_commitment(4, 900), UidState::new_commitment(2, 950)];
//! let plan = plan_admissions(&models, &ctx);
//! assert_eq!(plan.queued, vec![(4, QueueReason::New)]); // one slot left: the older commit
//! assert_eq!(plan.deferred, vec![2]);
//! ```

use crate::epsilon::EpsilonFunc;
use crate::scoring::Contender;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The queueing constants; defaults are SN37's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QueuePolicy {
    /// Models kept per competition between steps (SN37 `sample_min` = 3).
    pub keep_top: usize,
    /// Most models queued at once, all competitions together (SN37 `updated_models_limit` = 16).
    pub max_queued: usize,
    /// Blocks after which a top miner is re-checked (SN37 `model_retry_cadence` = 1200).
    pub retry_cadence_blocks: u64,
    /// A uid is a top miner if it holds at least this fraction of a big validator's weight (1 %).
    pub top_miner_min_fraction: f64,
    /// Stake a validator needs for its weights to count (SN37: 100 000).
    pub top_validator_min_stake: f64,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy {
            keep_top: 3,
            max_queued: 16,
            retry_cadence_blocks: 1200,
            top_miner_min_fraction: 0.01,
            top_validator_min_stake: 100_000.0,
        }
    }
}

/// One evaluation of a model, kept (the last 3 per hotkey and competition) to decide retries
/// (SN37 `EvalResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Block at which the step ran.
    pub block: u64,
    /// The model's score (`+inf` if its evaluation failed).
    #[serde(with = "crate::serde_float")]
    pub score: f64,
    /// Commit block of that step's top model.
    pub winning_block: u64,
    /// Score of that step's top model.
    #[serde(with = "crate::serde_float")]
    pub winning_score: f64,
}

/// SN37/SN9 `should_retry_model`: whether a known model deserves another evaluation.
///
/// No history → yes. Otherwise take the most recent record with a finite score: if the model
/// scored worse than the winner → no; else yes iff it now beats the winner's decayed handicap,
/// `score < winning_score · (1 − ε(current, winning_block))`, i.e. it lost only on epsilon and
/// epsilon has since decayed enough. If every record failed → one retry only (fewer than 2).
pub fn should_retry(history: &[EvalRecord], current_block: u64, epsilon: &EpsilonFunc) -> bool {
    if history.is_empty() {
        return true;
    }
    let last_finite = history
        .iter()
        .filter(|r| r.score.is_finite())
        .max_by_key(|r| r.block);
    match last_finite {
        None => history.len() < 2,
        Some(r) if r.score > r.winning_score => false,
        Some(r) => {
            let handicap = 1.0 - epsilon.epsilon(current_block, r.winning_block);
            r.score < r.winning_score * handicap
        }
    }
}

/// Evaluation records kept per hotkey and competition (taoverse `ModelTracker`).
pub const HISTORY_LEN: usize = 3;

/// Appends `record` to a model's history, keeping the [`HISTORY_LEN`] most recent by block
/// (oldest first), as SN37's model tracker does.
pub fn push_history(history: &mut Vec<EvalRecord>, record: EvalRecord) {
    history.push(record);
    history.sort_by_key(|r| r.block);
    let excess = history.len().saturating_sub(HISTORY_LEN);
    history.drain(..excess);
}

/// The record each evaluated model gets after a step: its own score, and the block and score
/// of the step's top model (SN37 `run_step` item 7). Empty if the step had no top model.
pub fn step_records(
    contenders: &[Contender],
    top_uid: Option<u16>,
    step_block: u64,
) -> Vec<(u16, EvalRecord)> {
    let Some(top) = top_uid.and_then(|uid| contenders.iter().find(|c| c.uid == uid)) else {
        return Vec::new();
    };
    contenders
        .iter()
        .map(|c| {
            let record = EvalRecord {
                block: step_block,
                score: c.score,
                winning_block: top.block,
                winning_score: top.score,
            };
            (c.uid, record)
        })
        .collect()
}

/// A validator's view of the chain that the top-miner scan needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatorWeights {
    /// Its stake.
    pub stake: f64,
    /// Whether it holds a validator permit.
    pub validator_permit: bool,
    /// The weights it set, `(uid, weight)`, any scale.
    pub weights: Vec<(u16, f64)>,
}

/// uids holding at least `top_miner_min_fraction` of the total weight of any validator with a
/// permit and at least `top_validator_min_stake` (SN37 `_queue_top_models_for_eval`).
pub fn top_miners(validators: &[ValidatorWeights], policy: &QueuePolicy) -> BTreeSet<u16> {
    let mut top = BTreeSet::new();
    for v in validators
        .iter()
        .filter(|v| v.validator_permit && v.stake >= policy.top_validator_min_stake)
    {
        let valid = |w: f64| w.is_finite() && w > 0.0;
        let total: f64 = v
            .weights
            .iter()
            .map(|&(_, w)| w)
            .filter(|&w| valid(w))
            .sum();
        if total <= 0.0 {
            continue;
        }
        top.extend(
            v.weights
                .iter()
                .filter(|&&(_, w)| valid(w) && w / total >= policy.top_miner_min_fraction)
                .map(|&(uid, _)| uid),
        );
    }
    top
}

/// What the update loop knows about one uid's current model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UidState {
    /// Metagraph uid.
    pub uid: u16,
    /// Commit block of its current model.
    pub commit_block: u64,
    /// The commitment differs from the one this validator last downloaded (or it is new).
    pub new_commitment: bool,
    /// The model is already queued or kept for evaluation.
    pub queued: bool,
    /// `commit_block + eval_block_delay ≤ current block`: the model may be evaluated.
    pub delay_passed: bool,
    /// Evaluation history of this model in its competition (newest last or any order).
    pub history: Vec<EvalRecord>,
    /// Block of this validator's last evaluation of the uid in any competition, failures included.
    pub last_evaluated: Option<u64>,
    /// Whether [`top_miners`] lists the uid.
    pub top_miner: bool,
}

impl UidState {
    /// A freshly committed model, past its delay, never evaluated.
    pub fn new_commitment(uid: u16, commit_block: u64) -> Self {
        UidState {
            uid,
            commit_block,
            new_commitment: true,
            queued: false,
            delay_passed: true,
            history: Vec::new(),
            last_evaluated: None,
            top_miner: false,
        }
    }
}

/// Why a model enters the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueReason {
    /// A new or changed commitment.
    New,
    /// It lost only on epsilon, which has decayed since (or it was never evaluated).
    Retry,
    /// Big validators weight it and this validator has not evaluated it recently.
    TopMinerRecheck,
}

/// The decision for one uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueDecision {
    /// Queue it now.
    Queue(QueueReason),
    /// It qualifies but must wait: the eval delay has not passed, or the queue is full.
    Defer,
    /// Nothing to do.
    Skip,
}

/// Everything [`decide`] needs besides the uid itself.
#[derive(Debug, Clone, Copy)]
pub struct QueueContext<'a> {
    /// The chain's current block.
    pub current_block: u64,
    /// Models queued or kept now, all competitions together.
    pub queued_total: usize,
    /// Limits and cadences.
    pub policy: QueuePolicy,
    /// The epsilon of the uid's competition (for [`should_retry`]).
    pub epsilon: &'a EpsilonFunc,
}

/// Decides for one uid, in this order: already queued → skip; eval delay not passed → defer;
/// a top miner not evaluated for `retry_cadence_blocks` (or never) → queue, ignoring the limit;
/// queue full → defer if it would qualify; new commitment → queue; retry rule → queue; else skip.
pub fn decide(state: &UidState, ctx: &QueueContext) -> QueueDecision {
    if state.queued {
        return QueueDecision::Skip;
    }
    if !state.delay_passed {
        return QueueDecision::Defer;
    }
    let stale = match state.last_evaluated {
        None => true,
        Some(at) => ctx.current_block.saturating_sub(at) >= ctx.policy.retry_cadence_blocks,
    };
    if state.top_miner && stale {
        return QueueDecision::Queue(QueueReason::TopMinerRecheck);
    }
    let reason = if state.new_commitment {
        QueueReason::New
    } else if should_retry(&state.history, ctx.current_block, ctx.epsilon) {
        QueueReason::Retry
    } else {
        return QueueDecision::Skip;
    };
    if ctx.queued_total >= ctx.policy.max_queued {
        QueueDecision::Defer
    } else {
        QueueDecision::Queue(reason)
    }
}

/// The outcome of one pass of the update loop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdmissionPlan {
    /// uids to queue now, with the reason, in the order they were admitted.
    pub queued: Vec<(u16, QueueReason)>,
    /// uids that qualify but wait (delay not passed or queue full).
    pub deferred: Vec<u16>,
}

/// Runs [`decide`] over many uids, oldest commit first (then lower uid), counting each admission
/// against the limit, so the queue never exceeds `max_queued` except for top-miner re-checks.
pub fn plan_admissions(states: &[UidState], ctx: &QueueContext) -> AdmissionPlan {
    let mut order: Vec<&UidState> = states.iter().collect();
    order.sort_by_key(|s| (s.commit_block, s.uid));
    let mut ctx = *ctx;
    let mut plan = AdmissionPlan::default();
    for state in order {
        match decide(state, &ctx) {
            QueueDecision::Queue(reason) => {
                plan.queued.push((state.uid, reason));
                ctx.queued_total += 1;
            }
            QueueDecision::Defer => plan.deferred.push(state.uid),
            QueueDecision::Skip => {}
        }
    }
    plan
}

/// A model's standing after a step, for [`select_kept`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// Metagraph uid.
    pub uid: u16,
    /// Commit block (tie-break: older first).
    pub block: u64,
    /// Win rate in the step just scored.
    pub win_rate: f64,
    /// Its competition EMA weight after the step.
    pub ema_weight: f64,
}

/// Which evaluated models stay for the next step and which are dropped (SN37
/// `_update_uids_to_eval`): priority `1 + ema_weight` if `ema_weight ≥ 0.001` (models being
/// paid always stay first), else the win rate; the `keep_top` highest stay, ties to the older
/// block, then the lower uid. Both lists come back in priority order.
///
/// `leader` is the step's top model. It always stays (in place of the last kept model when
/// it is not among the `keep_top` highest): a new model that won its first step has only one
/// step of EMA behind it, less than every paid incumbent's, and under SN37's rule alone it
/// would be dropped and, having won, never retried, so a better model could never take the
/// weight. Keeping it bounds the re-evaluated models to `keep_top` all the same.
pub fn select_kept(
    standings: &[Standing],
    keep_top: usize,
    leader: Option<u16>,
) -> (Vec<u16>, Vec<u16>) {
    let priority = |s: &Standing| {
        if s.ema_weight >= 0.001 {
            1.0 + s.ema_weight
        } else if s.win_rate.is_nan() {
            0.0
        } else {
            s.win_rate
        }
    };
    let mut order: Vec<&Standing> = standings.iter().collect();
    order.sort_by(|a, b| {
        priority(b)
            .total_cmp(&priority(a))
            .then(a.block.cmp(&b.block))
            .then(a.uid.cmp(&b.uid))
    });
    let mut uids: Vec<u16> = order.iter().map(|s| s.uid).collect();
    let split = keep_top.min(uids.len());
    if let Some(at) = leader.and_then(|l| uids.iter().position(|&u| u == l)) {
        if split > 0 && at >= split {
            let leader = uids.remove(at);
            uids.insert(split - 1, leader);
        }
    }
    (uids[..split].to_vec(), uids[split..].to_vec())
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
