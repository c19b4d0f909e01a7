//! Competitions: what a model must be, how it is evaluated, and how its reward is
//! decided. A [`Schedule`] says which competitions are active at which block; it is TOML so an
//! operator can change it without a release, as SN29 does with `competitions.json` and SN37/SN9
//! do with `COMPETITION_SCHEDULE_BY_BLOCK`.

mod check;
mod diff;
mod schedule;
mod score;
mod task;

pub use schedule::{
    default_schedule, Schedule, ScheduleEntry, ScheduleError, DEFAULT_SCHEDULE_TOML,
};
pub use score::{combine_task_scores, CompetitionScore, ScoreError, TaskScore};
pub use task::{
    DatasetSpec, Decoding, DuplicateRule, EvalMethod, EvalSettings, HubDataset, HubFormat,
    MultipleChoiceMode, Normalization, RuleWeighting, Task, TaskKind, TaskSettings, TextLossMode,
    UnknownTask, MAX_NEW_TOKENS_LIMIT, SN37_CHOICE_MAX_NEW_TOKENS, SN37_CHOICE_REPETITION_PENALTY,
    SN37_IFEVAL_DUPLICATES, SN37_IFEVAL_MAX_NEW_TOKENS, SN37_IFEVAL_REPETITION_PENALTY,
};

use crate::epsilon::EpsilonFunc;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The number in a model commitment that names a competition (SN37: 4 = DISTILLED_REASONING_3B).
pub type CompetitionId = u32;

/// One competition: the unit that owns a share of the subnet's reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Competition {
    /// Id miners put in their commitment; unique within a schedule entry.
    pub id: CompetitionId,
    /// Human name for logs and the leaderboard.
    pub name: String,
    /// Share of the subnet's model reward, in `(0, 1]`; an entry's shares sum to 1.
    pub reward: f64,
    /// What a model must satisfy before it is evaluated at all.
    pub constraints: Constraints,
    /// The evaluation tasks; their weights sum to 1.
    pub tasks: Vec<Task>,
    /// How scores become weights.
    pub scoring: ScoringPolicy,
    /// How evaluations stop early (default: exact stopping; see [`crate::early_stop`]).
    #[serde(default)]
    pub early_stop: crate::early_stop::EarlyStop,
}

/// Model constraints, checked from the safetensors header and config before any weight is loaded
/// (SN37 `ModelConstraints`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// Smallest accepted parameter count (0 = no lower bound).
    #[serde(default)]
    pub min_params: u64,
    /// Largest accepted parameter count.
    pub max_params: u64,
    /// Largest total size of the revision's files; checked before downloading.
    pub max_bytes: u64,
    /// Longest sequence (in tokens) evaluated.
    pub sequence_length: u32,
    /// Accepted `architectures[0]` values of `config.json`, compared exactly (as SN37's
    /// `type(model) in list`, so look-alike names never pass).
    pub architectures: Vec<String>,
    /// Which tokenizer scores the model.
    pub tokenizer: TokenizerSpec,
    /// Weight dtype the model is evaluated in.
    pub dtype: Dtype,
    /// Blocks a commitment must wait before it is evaluated, so a model cannot be trained on
    /// the data its first evaluation will draw (SN37: cadence + 100 = 460).
    pub eval_block_delay: u64,
    /// Advantage of the older model in pairwise comparisons.
    pub epsilon: EpsilonFunc,
    /// Per-layer weight-norm limits; defaults to SN37's 1000 / 200 / 0.15.
    #[serde(default)]
    pub norm_validation: NormValidation,
}

/// Which tokenizer evaluates a competition's models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenizerSpec {
    /// One tokenizer for everyone, identified by the sha256 (64 lowercase hex) of its
    /// `tokenizer.json`, so losses are comparable token for token (SN37 comp 4, SN9).
    Pinned {
        /// sha256 of `tokenizer.json`, lowercase hex.
        sha256: String,
        /// Where the validator finds it (a hub repo id or a name); informational.
        #[serde(default)]
        name: Option<String>,
    },
    /// Each model ships its own `tokenizer.json` (SN37 INSTRUCT_8B, SN29 `free_tokenizer`).
    BringYourOwn,
    /// One tokenizer for everyone, named by its hub repository (SN37/SN9: `Xenova/gpt-4`),
    /// which the validator fetches and scores with. With `sha256` a model's shipped
    /// `tokenizer.json` must match it, as for [`TokenizerSpec::Pinned`]; without it (the
    /// schedule does not record the file's hash yet) the shipped file is not compared.
    Hub {
        /// Repository id, `owner/name`.
        repo: String,
        /// Revision; `None` = the default branch.
        #[serde(default)]
        revision: Option<String>,
        /// sha256 of the repository's `tokenizer.json`, lowercase hex, when recorded.
        #[serde(default)]
        sha256: Option<String>,
        /// sha256 (lowercase hex) of each further file scored with, by name: above all
        /// `tokenizer_config.json`, whose chat template decides the prompt format, and
        /// `special_tokens_map.json`. Pinned files are checked after every download; a file
        /// that differs is never used.
        #[serde(default)]
        files: BTreeMap<String, String>,
    },
}

/// The files of a hub tokenizer the evaluation uses.
pub const TOKENIZER_FILES: [&str; 2] = ["tokenizer.json", "tokenizer_config.json"];

/// What to fetch for a hub tokenizer ([`TokenizerSpec::hub_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubTokenizerFiles<'a> {
    /// Repository id.
    pub repo: &'a str,
    /// Revision; `None` = the default branch.
    pub revision: Option<&'a str>,
    /// File name → the sha256 it must have, when the schedule pins it.
    pub files: BTreeMap<String, Option<String>>,
}

impl TokenizerSpec {
    /// For a hub tokenizer, the files to fetch (`tokenizer.json`, `tokenizer_config.json`
    /// and every pinned one), each with its pin when the schedule records one.
    pub fn hub_files(&self) -> Option<HubTokenizerFiles<'_>> {
        let TokenizerSpec::Hub {
            repo,
            revision,
            sha256,
            files,
        } = self
        else {
            return None;
        };
        let mut all: BTreeMap<String, Option<String>> = TOKENIZER_FILES
            .iter()
            .map(|f| (f.to_string(), None))
            .collect();
        all.insert("tokenizer.json".into(), sha256.clone());
        for (name, pin) in files {
            all.insert(name.clone(), Some(pin.clone()));
        }
        Some(HubTokenizerFiles {
            repo,
            revision: revision.as_deref(),
            files: all,
        })
    }

    /// The sha256 a model's `tokenizer.json` must have, if the competition fixes one.
    pub fn pinned_sha256(&self) -> Option<&str> {
        match self {
            TokenizerSpec::Pinned { sha256, .. } => Some(sha256),
            TokenizerSpec::Hub { sha256, .. } => sha256.as_deref(),
            TokenizerSpec::BringYourOwn => None,
        }
    }
}

/// Weight precision a competition evaluates in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// bfloat16 (all reference competitions).
    Bf16,
    /// IEEE half precision.
    F16,
    /// Single precision (tiny test models).
    F32,
}

/// Norm validation thresholds (taoverse `NormValidationConstraints`): rejects models whose
/// projection weights were blown up to game the loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormValidation {
    /// Any q/k/v/o/up/down Frobenius norm above this rejects the model.
    pub hard: f64,
    /// A norm above this counts towards the soft fraction.
    pub soft: f64,
    /// Largest accepted mean (over the six projections) of the fraction of layers above `soft`.
    pub soft_fraction: f64,
}

impl Default for NormValidation {
    fn default() -> Self {
        NormValidation {
            hard: 1000.0,
            soft: 200.0,
            soft_fraction: 0.15,
        }
    }
}

/// How a competition turns scores into step weights.
///
/// TOML: `scoring = { policy = "pairwise", step_weights = "winner_takes_all" }`,
/// `{ policy = "pairwise", step_weights = "softmax", temperature = 0.01 }`, or
/// `{ policy = "leader_per_unit", skew = 2.0, group_samples = 10 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScoringPolicy {
    /// Pairwise comparison with the epsilon advantage (SN37/SN9).
    Pairwise {
        /// Winner-takes-all or softmax.
        step_weights: StepWeightRule,
        /// Softmax temperature (SN9: 0.01); ignored for winner-takes-all.
        #[serde(default = "default_temperature")]
        temperature: f64,
        /// One aggregate score per model (default, current SN37/SN9) or per-unit matches
        /// (SN9 until Sep 2024).
        #[serde(default)]
        comparison: Comparison,
    },
    /// Per scoring unit, the leader after a block-ordered scan gets a point (SN29).
    LeaderPerUnit {
        /// Advantage of a fresh leader (SN29: 0.004).
        #[serde(default = "default_advantage_initial")]
        advantage_initial: f64,
        /// Per-epoch decay of the advantage (SN29: 0.995).
        #[serde(default = "default_advantage_decay")]
        advantage_decay: f64,
        /// Blocks per decay epoch (SN29: 361).
        #[serde(default = "default_epoch_blocks")]
        epoch_blocks: u64,
        /// Exponent on win rate (SN29: 2.0 since Feb 2025).
        #[serde(default = "default_skew")]
        skew: f64,
        /// Samples summed into one scoring unit (SN29: 10).
        #[serde(default = "default_group_samples")]
        group_samples: u32,
    },
}

/// What the pairwise policy compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// One aggregate score per model; `win_rate = wins / (n − 1)`.
    #[default]
    Aggregate,
    /// Every pair on every scoring unit is one match; `win_rate = matches won / matches played`.
    PerUnit,
}

/// Step weights of the pairwise policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepWeightRule {
    /// Every model tied at the top win rate shares 1 (SN37 since v2.3.0).
    WinnerTakesAll,
    /// `softmax(win_rate / temperature)` (SN9).
    Softmax,
}

fn default_temperature() -> f64 {
    0.01
}
fn default_advantage_initial() -> f64 {
    0.004
}
fn default_advantage_decay() -> f64 {
    0.995
}
fn default_epoch_blocks() -> u64 {
    361
}
fn default_skew() -> f64 {
    2.0
}
fn default_group_samples() -> u32 {
    10
}
