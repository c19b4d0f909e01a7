//! One evaluation sample, the unit every source yields and every batch carries.

use serde::{Deserialize, Serialize};

use crate::tasks::if_eval::IfRule;

/// A prompt with its reference response, plus the task-specific extras an evaluation needs.
///
/// The JSON form is what `arena data sample` prints and what a batch carries; unknown fields
/// are refused so that every byte of a signed batch is covered by its signature.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Identifier, unique within a batch or a draw (seeded draws give the same id everywhere).
    pub id: String,
    /// Task name (`word_sorting`, `if_eval`, …, or a producer's own label such as `chat`).
    pub task: String,
    /// What the model is given.
    pub prompt: String,
    /// The reference continuation (for `multiple_choice`, the letter of the right option).
    pub response: String,
    /// Multiple choice: the options, in the order the prompt lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// Multiple choice: the letter (`A`…) of the right option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Instruction following: the machine-checkable rules the prompt states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<IfRule>>,
}

impl Sample {
    /// A plain prompt/response sample.
    pub fn new(
        id: impl Into<String>,
        task: impl Into<String>,
        prompt: impl Into<String>,
        response: impl Into<String>,
    ) -> Sample {
        Sample {
            id: id.into(),
            task: task.into(),
            prompt: prompt.into(),
            response: response.into(),
            choices: None,
            answer: None,
            rules: None,
        }
    }

    /// Every piece of text in the sample, for content filters.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        [self.prompt.as_str(), self.response.as_str()]
            .into_iter()
            .chain(self.choices.iter().flatten().map(String::as_str))
    }
}
