//! Evaluation tasks: method, dataset, weight and normalisation (DESIGN §4, SN37 `EvalTask`).

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
/// TOML: `dataset = { generator = "word_sorting" }`, `{ feed = "prompts" }`, `{ corpus = "austen" }`,
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
