//! Evaluation tasks: method, dataset, weight and normalisation (SN37 `EvalTask`).

use serde::{Deserialize, Serialize};

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
    /// Evaluation settings that differ from the method's defaults (SN37's values); see
    /// [`Task::settings`] for the resolved values.
    #[serde(default, skip_serializing_if = "TaskSettings::is_empty")]
    pub settings: TaskSettings,
}

/// Per-task evaluation settings as the schedule writes them: every field optional, the
/// method's default (Subnet 37's value) when absent.
///
/// TOML: `settings = { max_new_tokens = 32, repetition_penalty = 1.0, system_prompt = "…" }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSettings {
    /// Cap on generated tokens (generation-based methods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u32>,
    /// transformers' repetition penalty over the prompt and the tokens generated so far
    /// (1.0 = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// How the next token is picked; only greedy decoding exists (deterministic, so every
    /// validator computes the same score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding: Option<Decoding>,
    /// A system message rendered before the user's prompt with the chat template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Whether the reference is encoded with the tokenizer's special tokens (a BOS for
    /// tokenizers that add one), as SN37's `tokenizer.encode(reference)` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_special_tokens: Option<bool>,
    /// if_eval: when responses count as duplicates and what that costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<DuplicateRule>,
    /// if_eval: how responses are weighted in the task's raw score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_weighting: Option<RuleWeighting>,
}

impl TaskSettings {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == TaskSettings::default()
    }
}

/// Decoding of the generation-based methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decoding {
    /// Highest logit after the repetition penalty; ties go to the lowest token id.
    #[default]
    Greedy,
}

/// if_eval's rule against answering every prompt with one canned text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DuplicateRule {
    /// SN37: samples are taken in consecutive pairs (0, 1), (2, 3), …; a pair whose two
    /// responses have a `difflib.SequenceMatcher` ratio (spaces and tabs junk) above
    /// `similarity` is a duplicate; more than `max_fraction` of the pairs duplicated makes the
    /// raw score 1, the worst.
    Pairs {
        /// Ratio above which two responses are duplicates (SN37: 0.6).
        similarity: f64,
        /// Largest fraction of duplicated pairs still scored normally (SN37: 0.1).
        max_fraction: f64,
    },
    /// Arena's earlier rule: a response whose word trigrams overlap (Jaccard above 0.8) a
    /// response to a different prompt scores 1.
    Trigram,
    /// No duplicate test.
    None,
}

/// if_eval: how per-response scores make the task's raw score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleWeighting {
    /// SN37: each response counts once per rule it was given, so prompts with more rules
    /// weigh more.
    RuleCount,
    /// Every response counts once.
    Uniform,
}

/// A task's settings with every default filled in (see [`Task::settings`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Cap on generated tokens (0 for methods that do not generate).
    pub max_new_tokens: u32,
    /// Repetition penalty (1.0 = none).
    pub repetition_penalty: f64,
    /// Decoding rule.
    pub decoding: Decoding,
    /// System message, if any.
    pub system_prompt: Option<String>,
    /// Encode the reference with special tokens.
    pub reference_special_tokens: bool,
    /// if_eval duplicate rule.
    pub duplicates: DuplicateRule,
    /// if_eval weighting.
    pub rule_weighting: RuleWeighting,
}

/// SN37 multiple choice: 20 new tokens (validation.py `max_new_tokens=20`).
pub const SN37_CHOICE_MAX_NEW_TOKENS: u32 = 20;
/// SN37 multiple choice: repetition penalty 1.1.
pub const SN37_CHOICE_REPETITION_PENALTY: f64 = 1.1;
/// SN37 IFEval: 200 new tokens.
pub const SN37_IFEVAL_MAX_NEW_TOKENS: u32 = 200;
/// SN37 IFEval: repetition penalty 1.2.
pub const SN37_IFEVAL_REPETITION_PENALTY: f64 = 1.2;
/// SN37 IFEval duplicate rule: ratio above 0.6, more than 10 % of the pairs.
pub const SN37_IFEVAL_DUPLICATES: DuplicateRule = DuplicateRule::Pairs {
    similarity: 0.6,
    max_fraction: 0.1,
};
/// Longest generation a schedule may ask for (bounds a step's time and memory).
pub const MAX_NEW_TOKENS_LIMIT: u32 = 32_768;

impl EvalMethod {
    /// The method's default settings: Subnet 37's values.
    pub fn default_settings(&self) -> EvalSettings {
        let mut s = EvalSettings {
            max_new_tokens: 0,
            repetition_penalty: 1.0,
            decoding: Decoding::Greedy,
            system_prompt: None,
            reference_special_tokens: false,
            duplicates: DuplicateRule::None,
            rule_weighting: RuleWeighting::Uniform,
        };
        match self {
            EvalMethod::MultipleChoice { .. } => {
                s.max_new_tokens = SN37_CHOICE_MAX_NEW_TOKENS;
                s.repetition_penalty = SN37_CHOICE_REPETITION_PENALTY;
            }
            EvalMethod::IfEval => {
                s.max_new_tokens = SN37_IFEVAL_MAX_NEW_TOKENS;
                s.repetition_penalty = SN37_IFEVAL_REPETITION_PENALTY;
                s.duplicates = SN37_IFEVAL_DUPLICATES;
                s.rule_weighting = RuleWeighting::RuleCount;
            }
            EvalMethod::ReferenceLoss => s.reference_special_tokens = true,
            EvalMethod::TextLoss { .. } => {}
        }
        s
    }
}

impl Task {
    /// The settings this task is evaluated with: the schedule's overrides over the method's
    /// defaults.
    pub fn settings(&self) -> EvalSettings {
        let mut s = self.method.default_settings();
        let o = &self.settings;
        if let Some(v) = o.max_new_tokens {
            s.max_new_tokens = v;
        }
        if let Some(v) = o.repetition_penalty {
            s.repetition_penalty = v;
        }
        if let Some(v) = o.decoding {
            s.decoding = v;
        }
        if let Some(v) = &o.system_prompt {
            s.system_prompt = Some(v.clone());
        }
        if let Some(v) = o.reference_special_tokens {
            s.reference_special_tokens = v;
        }
        if let Some(v) = o.duplicates {
            s.duplicates = v;
        }
        if let Some(v) = o.rule_weighting {
            s.rule_weighting = v;
        }
        s
    }
}

/// Evaluation method and its options.
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
/// TOML: `dataset = { generator = "word_sorting" }`, `{ feed = "prompts" }`, `{ corpus = "austen" }`,
/// `{ file = "x.jsonl" }`, or a hub dataset:
/// `{ hub = "HuggingFaceFW/fineweb-edu-score-2", split = "train", format = "text", pages = 4, rows_per_page = 100 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DatasetFields", into = "DatasetFields")]
pub enum DatasetSpec {
    /// A synthetic generator seeded by the shared seed.
    Generator(TaskKind),
    /// A signed data feed of producers' batches, by name.
    Feed(String),
    /// A text corpus of the data crate, by name, sampled in pages (for `text_loss`).
    Corpus(String),
    /// A local file (validator-side path, resolved by the caller).
    File(String),
    /// A dataset on the hub, read in pages of rows (SN37/SN9 datasets-server loaders). A
    /// validator without a loader for it skips the task for every model alike.
    Hub(HubDataset),
}

impl DatasetSpec {
    /// The name a validator keys its data source by: the feed, corpus or file name, the hub
    /// repository (with its config, if one is fixed); `None` for a generator.
    pub fn source_name(&self) -> Option<String> {
        match self {
            DatasetSpec::Generator(_) => None,
            DatasetSpec::Feed(n) | DatasetSpec::Corpus(n) | DatasetSpec::File(n) => Some(n.clone()),
            DatasetSpec::Hub(h) => Some(h.name()),
        }
    }
}

/// A hub dataset and how its rows are drawn and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubDataset {
    /// Repository id, `owner/name`.
    pub repo: String,
    /// Revision (branch, tag or commit); `None` = the default branch.
    pub revision: Option<String>,
    /// Config (subset); `None` = a config drawn per page among all of them (SN37/SN9 FineWeb).
    pub config: Option<String>,
    /// Split rows are read from; `None` = the one the dataset's layout implies (SN37: the
    /// config's only split; Macrobench names each split after its config).
    pub split: Option<String>,
    /// How a row becomes a sample.
    pub format: HubFormat,
    /// Pages drawn per step (`None`: the loader's default).
    pub pages: Option<u32>,
    /// Rows per page (`None`: the loader's default).
    pub rows_per_page: Option<u32>,
}

impl HubDataset {
    /// `repo` or `repo/config`.
    pub fn name(&self) -> String {
        match &self.config {
            Some(c) => format!("{}/{c}", self.repo),
            None => self.repo.clone(),
        }
    }
}

/// Row layouts of the hub datasets the reference subnets read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubFormat {
    /// A document in the `text` field (FineWeb, FineWeb-Edu).
    Text,
    /// A document in the `content` field (Falcon RefinedWeb, code datasets).
    Content,
    /// SN1 Macrobench rows: `challenge` and a reference letter A–D.
    Macrobench,
    /// PrimeIntellect SYNTHETIC-1-SFT: `messages`, `task_type` (verifiable_math and
    /// code_output_prediction kept).
    #[serde(rename = "synthetic_1_sft")]
    Synthetic1Sft,
    /// open-r1 codeforces-cots: a user and an assistant message.
    CodeforcesCots,
}

/// The flat TOML form of [`DatasetSpec`]: exactly one of the source keys, and the hub keys
/// only with `hub`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generator: Option<TaskKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    feed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    corpus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    split: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<HubFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pages: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows_per_page: Option<u32>,
}

impl TryFrom<DatasetFields> for DatasetSpec {
    type Error = String;

    fn try_from(f: DatasetFields) -> Result<Self, String> {
        let hub_only = [
            ("revision", f.revision.is_some()),
            ("config", f.config.is_some()),
            ("split", f.split.is_some()),
            ("format", f.format.is_some()),
            ("pages", f.pages.is_some()),
            ("rows_per_page", f.rows_per_page.is_some()),
        ];
        let given = [
            f.generator.is_some(),
            f.feed.is_some(),
            f.corpus.is_some(),
            f.file.is_some(),
            f.hub.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() != 1 {
            return Err(
                "a dataset needs exactly one of `generator`, `feed`, `corpus`, `file`, `hub`"
                    .into(),
            );
        }
        if f.hub.is_none() {
            if let Some((key, _)) = hub_only.iter().find(|(_, set)| *set) {
                return Err(format!("`{key}` applies only to a `hub` dataset"));
            }
        }
        let spec = match f {
            DatasetFields {
                generator: Some(g), ..
            } => DatasetSpec::Generator(g),
            DatasetFields { feed: Some(n), .. } => DatasetSpec::Feed(n),
            DatasetFields {
                corpus: Some(n), ..
            } => DatasetSpec::Corpus(n),
            DatasetFields { file: Some(n), .. } => DatasetSpec::File(n),
            DatasetFields {
                hub: Some(repo),
                revision,
                config,
                split,
                format,
                pages,
                rows_per_page,
                ..
            } => {
                let valid_repo = repo.split('/').count() == 2
                    && repo.split('/').all(|p| {
                        !p.is_empty()
                            && p.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    });
                if !valid_repo {
                    return Err(format!("hub {repo:?} is not an `owner/name` repository id"));
                }
                let format = format.ok_or_else(|| {
                    format!("hub dataset {repo:?} needs a `format` (how a row becomes a sample)")
                })?;
                if pages == Some(0) || rows_per_page == Some(0) {
                    return Err(format!(
                        "hub dataset {repo:?}: pages and rows_per_page must be positive"
                    ));
                }
                DatasetSpec::Hub(HubDataset {
                    repo,
                    revision,
                    config,
                    split,
                    format,
                    pages,
                    rows_per_page,
                })
            }
            _ => return Err("a dataset needs exactly one source key".into()),
        };
        Ok(spec)
    }
}

impl From<DatasetSpec> for DatasetFields {
    fn from(spec: DatasetSpec) -> Self {
        let mut f = DatasetFields::default();
        match spec {
            DatasetSpec::Generator(g) => f.generator = Some(g),
            DatasetSpec::Feed(n) => f.feed = Some(n),
            DatasetSpec::Corpus(n) => f.corpus = Some(n),
            DatasetSpec::File(n) => f.file = Some(n),
            DatasetSpec::Hub(h) => {
                f.hub = Some(h.repo);
                f.revision = h.revision;
                f.config = h.config;
                f.split = h.split;
                f.format = Some(h.format);
                f.pages = h.pages;
                f.rows_per_page = h.rows_per_page;
            }
        }
        f
    }
}

/// The synthetic tasks `arena-data` generates: the one list of them, named the same way in
/// schedules (`dataset = { generator = "word_sorting" }`), samples, feed batches and the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Sort 2–20 Basic English words alphabetically (Subnet 37's WORD_SORTING).
    WordSorting,
    /// Multi-digit addition, subtraction and multiplication.
    Arithmetic,
    /// Length, mass, volume, time and temperature conversions.
    UnitConversion,
    /// String reversal and counting of letters, words and characters.
    StringOps,
    /// Close the open brackets of a Dyck-language prefix (Subnet 37's DYCK_LANGUAGE).
    Dyck,
    /// Four-option questions from the shipped fact tables.
    MultipleChoice,
    /// IFEval-style prompts with 2–5 compatible, machine-checkable rules (SN37 IF_EVAL V2).
    IfEval,
}

impl TaskKind {
    /// Every task, in a fixed order.
    pub const ALL: [TaskKind; 7] = [
        TaskKind::WordSorting,
        TaskKind::Arithmetic,
        TaskKind::UnitConversion,
        TaskKind::StringOps,
        TaskKind::Dyck,
        TaskKind::MultipleChoice,
        TaskKind::IfEval,
    ];

    /// The task's name in samples, configuration and the CLI (its serde name too).
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::WordSorting => "word_sorting",
            TaskKind::Arithmetic => "arithmetic",
            TaskKind::UnitConversion => "unit_conversion",
            TaskKind::StringOps => "string_ops",
            TaskKind::Dyck => "dyck",
            TaskKind::MultipleChoice => "multiple_choice",
            TaskKind::IfEval => "if_eval",
        }
    }
}

/// A task name that is not one of [`TaskKind::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown task {0:?}; known tasks: word_sorting, arithmetic, unit_conversion, string_ops, dyck, multiple_choice, if_eval")]
pub struct UnknownTask(pub String);

impl std::str::FromStr for TaskKind {
    type Err = UnknownTask;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskKind::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTask(s.to_string()))
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
