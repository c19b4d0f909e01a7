//! Competitions (DESIGN §4): what a model must be, how it is evaluated, and how its reward is
//! decided. A [`Schedule`] says which competitions are active at which block; it is TOML so an
//! operator can change it without a release, as SN29 does with `competitions.json` and SN37/SN9
//! do with `COMPETITION_SCHEDULE_BY_BLOCK`.

mod schedule;
mod score;

pub use schedule::{
    default_schedule, Schedule, ScheduleEntry, ScheduleError, DEFAULT_SCHEDULE_TOML,
};
pub use score::{combine_task_scores, CompetitionScore, ScoreError, TaskScore};

use crate::epsilon::EpsilonFunc;
use serde::{Deserialize, Serialize};

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

/// One evaluation task of a competition. Lower scores are better for every task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Name for logs (`WORD_SORTING.raw_score`…); unique within a competition.
    pub id: String,
    /// How a model is scored on the samples.
    pub method: EvalMethod,
    /// Where the samples come from.
    pub dataset: DatasetSpec,
    /// Samples drawn per step.
    pub samples: u32,
    /// Share of the competition score; a competition's weights sum to 1.
    pub weight: f64,
    /// Map from raw score to `[0, 1]`-ish so tasks of different scales can be added.
    #[serde(default)]
    pub normalization: Normalization,
}

/// Evaluation method and its options (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EvalMethod {
    /// Mean cross-entropy over the reference tokens after the context (SN37 word sorting).
    ReferenceLoss,
    /// Next-token loss over documents.
    TextLoss {
        /// Packing of documents into windows.
        #[serde(default)]
        mode: TextLossMode,
    },
    /// Fraction of questions answered wrong.
    MultipleChoice {
        /// How the answer is read from the model.
        #[serde(default)]
        mode: MultipleChoiceMode,
    },
    /// Instruction following with verifiable rules; 1 − (fraction met)² per response.
    IfEval,
}

/// How `text_loss` cuts documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextLossMode {
    /// Concatenate with EOS and cut `sequence_length` windows; mean token loss (SN9).
    #[default]
    Packed,
    /// One document per sample, summed loss in nats, comparable across tokenizers (SN29).
    PerDocument,
}

/// How `multiple_choice` picks the model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultipleChoiceMode {
    /// Highest log-likelihood choice (lm-evaluation-harness); no generation, deterministic.
    #[default]
    Loglik,
    /// Greedy generation, first standalone letter (SN37).
    Generate,
}

/// Where a task's samples come from.
///
/// TOML: `dataset = { generator = "word_sorting" }`, `{ feed = "prompts" }`, `{ corpus = "prose" }`,
/// `{ file = "x.jsonl" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DatasetSpec {
    /// A synthetic generator seeded by the shared seed.
    Generator(GeneratorTask),
    /// A signed data feed, by name (DESIGN §3 data batches).
    Feed(String),
    /// A text corpus of the data crate, by name, sampled in pages (for `text_loss`).
    Corpus(String),
    /// A local file (validator-side path, resolved by the caller).
    File(String),
}

/// The synthetic task generators of the data crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorTask {
    /// Sort words alphabetically (SN37 WORD_SORTING).
    WordSorting,
    /// Integer arithmetic.
    Arithmetic,
    /// Unit conversions.
    UnitConversion,
    /// String manipulation.
    StringOps,
    /// Close a bracket sequence (SN37 DYCK).
    Dyck,
    /// Generated multiple-choice questions.
    MultipleChoice,
    /// Instruction-following prompts with rules (SN37 IF_EVAL V2).
    IfEval,
}

/// Raw-score normalisation (taoverse `normalization.py`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Normalization {
    /// Identity.
    #[default]
    None,
    /// `1` if `x ≥ ceiling`, else `(1 − e^(−x/c)) / (1 − e^(−1))`: maps `[0, c)` to `[0, 1)`.
    InverseExponential {
        /// Raw score mapped to 1; must be positive.
        ceiling: f64,
    },
}

impl Normalization {
    /// Normalises a finite raw score. Non-finite input is returned unchanged so a failed task
    /// keeps failing (SN37 would map +inf to 1 under inverse_exponential; we do not, so a model
    /// that crashes a task can never look as good as one that merely scored badly).
    pub fn apply(&self, raw: f64) -> f64 {
        match *self {
            _ if !raw.is_finite() => raw,
            Normalization::None => raw,
            Normalization::InverseExponential { ceiling } if raw >= ceiling => 1.0,
            Normalization::InverseExponential { ceiling } => {
                (1.0 - (-raw / ceiling).exp()) / (1.0 - (-1.0f64).exp())
            }
        }
    }
}

/// How a competition turns scores into step weights (DESIGN §5).
///
/// TOML: `scoring = { policy = "pairwise", step_weights = "winner_takes_all" }`,
/// `{ policy = "pairwise", step_weights = "softmax", temperature = 0.01 }`, or
/// `{ policy = "leader_per_unit", skew = 2.0, group_samples = 10 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScoringPolicy {
    /// Pairwise comparison of aggregate scores with the epsilon advantage (SN37/SN9).
    Pairwise {
        /// Winner-takes-all or softmax.
        step_weights: StepWeightRule,
        /// Softmax temperature (SN9: 0.01); ignored for winner-takes-all.
        #[serde(default = "default_temperature")]
        temperature: f64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_exponential_hand_computed() {
        let n = Normalization::InverseExponential { ceiling: 40.0 };
        assert_eq!(n.apply(0.0), 0.0);
        // x = c/2: (1 − e^−0.5)/(1 − e^−1) = 0.393469340/0.632120559 = 0.622459331
        assert!((n.apply(20.0) - 0.622_459_331_201_854_6).abs() < 1e-12);
        assert_eq!(n.apply(40.0), 1.0);
        assert_eq!(n.apply(1e9), 1.0);
        assert_eq!(n.apply(f64::INFINITY), f64::INFINITY);
        assert!(n.apply(f64::NAN).is_nan());
        assert_eq!(Normalization::None.apply(3.25), 3.25);
    }

    #[test]
    fn inverse_exponential_is_monotone_below_ceiling() {
        let n = Normalization::InverseExponential { ceiling: 20.0 };
        let mut last = -1.0;
        for i in 0..200 {
            let v = n.apply(i as f64 * 0.1);
            assert!(v > last && v < 1.0);
            last = v;
        }
    }
}
