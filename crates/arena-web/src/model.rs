//! The JSON documents of the leaderboard API. Field names are part of the API: scripts and the
//! page read them. Scores that are not finite (a failed evaluation) are `null`, with `error`
//! saying why.

use serde::{Deserialize, Serialize};

/// `GET /api/standings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standings {
    /// The chain's latest block when the document was built.
    pub block: u64,
    /// The subnet shown.
    pub netuid: u16,
    /// Every validator known from the chain (it set weights) or from a state database.
    pub validators: Vec<ValidatorInfo>,
    /// Active competitions, then any other competition a commitment names.
    pub competitions: Vec<CompetitionStandings>,
    /// Why the schedule file could not be re-read after it changed, if it could not (the
    /// previous schedule is still shown).
    pub schedule_error: Option<String>,
}

/// A validator as the leaderboard sees it: its chain identity and its state database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatorInfo {
    /// Metagraph uid, if its hotkey is registered (or it set weights).
    pub uid: Option<u16>,
    /// SS58 hotkey, if known.
    pub hotkey: Option<String>,
    /// Stake on the subnet, rao.
    pub stake: u64,
    /// Whether the last epoch granted it a validator permit.
    pub validator_permit: bool,
    /// `ok`, or why its weights do not count or its state cannot be read.
    pub status: ValidatorStatus,
    /// The status in a sentence (`None` when `ok`).
    pub status_detail: Option<String>,
    /// Block of its last `set_weights` (`None`: never set weights).
    pub last_update: Option<u64>,
    /// Path of its state database, if one was given.
    pub store: Option<String>,
    /// Block of its most recent step in any competition.
    pub latest_step_block: Option<u64>,
    /// Why its state database could not be read, if it could not.
    pub error: Option<String>,
}

/// What the leaderboard can say about a validator: the first of `not_registered`,
/// `no_permit`, `store_error` that applies, else `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidatorStatus {
    /// Registered, holding a validator permit, state readable (if one was given).
    Ok,
    /// Its state database could not be read (`error` says why).
    StoreError,
    /// Its hotkey is not registered on the subnet (or not known).
    NotRegistered,
    /// Registered but without a validator permit: the last epoch gave the subnet's
    /// `max_allowed_validators` permits to higher stakes, so its weights are ignored (and the
    /// chain refuses new ones with `NeuronNoValidatorPermit`).
    NoPermit,
}

/// One competition's standings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompetitionStandings {
    /// Id that commitments name.
    pub id: u32,
    /// Name from the schedule (`competition N` when the schedule does not know it).
    pub name: String,
    /// Share of the subnet reward at the current block (0 when not active).
    pub reward: f64,
    /// Whether the schedule runs it at the current block.
    pub active: bool,
    /// Task ids, in schedule order (the columns of per-task scores).
    pub tasks: Vec<String>,
    /// The validator step the scores come from, if any validator scored this competition.
    pub scored_by: Option<ScoredBy>,
    /// Models, best first (lowest score; unscored last, by uid).
    pub models: Vec<ModelStanding>,
}

/// Which validator step supplied a competition's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredBy {
    /// Its hotkey, if the state records it.
    pub hotkey: Option<String>,
    /// Its uid, if registered.
    pub uid: Option<u16>,
    /// Its stake, rao.
    pub stake: u64,
    /// Path of its state database.
    pub store: String,
    /// Sync block of the step (its seed).
    pub sync_block: u64,
    /// Chain block at which the step was scored.
    pub step_block: u64,
}

/// One model in a competition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStanding {
    /// 1-based position in the table.
    pub rank: usize,
    /// Metagraph uid.
    pub uid: u16,
    /// SS58 hotkey.
    pub hotkey: String,
    /// Hub repository, `namespace/name`.
    pub repo: String,
    /// Hub revision (40 hex digits).
    pub revision: String,
    /// Block of the commitment.
    pub commit_block: u64,
    /// Competition score in the scoring step (lower is better); `null` if unscored or failed.
    /// When `early_stop` is set, the mean over the samples scored before the stop.
    pub score: Option<f64>,
    /// Set when the scoring step stopped this model's evaluation early (it could not beat
    /// the leader): samples scored, of how many.
    #[serde(default)]
    pub early_stop: Option<arena_validator::store::EarlyStopRecord>,
    /// Win rate in the scoring step.
    pub win_rate: Option<f64>,
    /// Stake-weighted mean of the validators' on-chain weights for this uid, in [0, 1].
    pub weight: f64,
    /// Incentive of the last epoch, in [0, 1].
    pub incentive: f64,
    /// Rao emitted to this uid by the last epoch.
    pub emission: u64,
    /// Per task scores from the scoring step.
    pub tasks: Vec<TaskScoreView>,
    /// Each weight-setting validator's normalised weight for this uid.
    pub validator_weights: Vec<ValidatorWeight>,
    /// Why the evaluation failed, if it did.
    pub error: Option<String>,
    /// Where the model stands with the validators: why it has a score or why it has none.
    pub status: ModelStatus,
}

/// Where a model stands with the validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    /// Scored in the scoring validator's latest step (the row's score).
    Evaluated,
    /// Its eval delay has not passed: it is not downloaded before `block`.
    Waiting,
    /// In the validator's queue for its competition's next step.
    Queued,
    /// Never evaluated, for the reason `code`, until the hotkey commits something else.
    Rejected,
    /// Not (or no longer) evaluated: accepted but not queued (it lost its slot among the
    /// re-evaluated models, or its competition is not active), or no validator has checked
    /// this commitment yet.
    NotEvaluated,
}

/// A model's state, from one validator's view (see [`crate::gather`] for which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStatus {
    /// The state.
    pub state: ModelState,
    /// `rejected`: the rejection's code (`hash_mismatch`, `too_many_bytes`, `repo_unavailable`, …);
    /// `queued`: the queue reason (`new`, `retry`, `top_miner_recheck`).
    pub code: Option<String>,
    /// `waiting`: the first block at which it may be evaluated; `queued`: when it was queued;
    /// `evaluated`: the scoring step's block; `rejected`: when it was checked;
    /// `not_evaluated`: its last evaluation, if it had one.
    pub block: Option<u64>,
    /// Score of its last evaluation (`not_evaluated` models that were evaluated before).
    pub last_score: Option<f64>,
    /// The state in a sentence.
    pub detail: String,
    /// Hotkey of the validator whose state this is (`None`: no configured validator state
    /// knows this commitment).
    pub validator: Option<String>,
}

/// A task's part of a model's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScoreView {
    /// Task id.
    pub task_id: String,
    /// Raw score (lower is better); `null` if the task failed.
    pub raw: Option<f64>,
    /// After normalisation.
    pub normalised: Option<f64>,
    /// Weight of the task in the step.
    pub weight: f64,
    /// `normalised · weight`.
    pub weighted: Option<f64>,
}

/// One validator's weight for one uid, as stored on chain, normalised to sum 1 per validator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatorWeight {
    /// The validator's uid.
    pub validator_uid: u16,
    /// The validator's hotkey.
    pub hotkey: String,
    /// Its weight for the model's uid, in [0, 1].
    pub weight: f64,
}

/// `GET /api/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The chain's latest block.
    pub block: u64,
    /// One entry per competition of the standings.
    pub competitions: Vec<CompetitionHistory>,
}

/// The series of one competition, from one validator's recorded steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompetitionHistory {
    /// Competition id.
    pub id: u32,
    /// Competition name.
    pub name: String,
    /// Whose steps these are (the same validator as the standings' scores).
    pub scored_by: Option<ScoredBy>,
    /// One series per hotkey that appears in a step, by latest uid (then hotkey).
    pub series: Vec<Series>,
    /// Why the scoring validator's steps could not be read, if they could not.
    pub error: Option<String>,
}

/// One miner (hotkey) over time: a series follows its hotkey across uid changes (a hotkey that
/// deregisters and registers again keeps one series), and a recycled uid starts a new series
/// under its new hotkey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Metagraph uid at its latest point.
    pub uid: u16,
    /// SS58 hotkey.
    pub hotkey: String,
    /// Points, oldest first.
    pub points: Vec<Point>,
}

/// A miner in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Chain block at which the step was scored.
    pub block: u64,
    /// Its uid in that step.
    pub uid: u16,
    /// Its score (`null` if its evaluation failed).
    pub score: Option<f64>,
    /// Its win rate.
    pub win_rate: f64,
    /// The subnet weight the validator computed for it after the step.
    pub weight: f64,
}

/// `Some(x)` for finite `x`: JSON has no infinity, and a failed score must not look like 0.
pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}
