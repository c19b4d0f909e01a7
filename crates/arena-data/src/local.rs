//! Local datasets a competition owner brings: JSONL files of prompt/response pairs, of text
//! documents, or of multiple-choice items.
//!
//! One JSON object per line (blank lines ignored):
//! * `pairs`: `{"prompt": "...", "response": "...", "id": "optional"}`
//! * `text`: `{"text": "...", "id": "optional"}` → samples of task `text` with an empty prompt
//! * `multiple_choice`: `{"question": "...", "choices": ["..", ..], "answer": "B" | 1}`
//!   (2–26 choices; the answer as a letter or a 0-based index)

use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use serde::Deserialize;

use crate::accept::RejectionStats;
use crate::error::DataError;
use crate::sample::Sample;
use crate::source::{seeded_pick, DataSource, Draw, DrawRequest};

/// The three line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalFormat {
    /// Prompt/response pairs.
    Pairs,
    /// Text documents.
    Text,
    /// Multiple-choice items.
    MultipleChoice,
}

impl FromStr for LocalFormat {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pairs" => Ok(LocalFormat::Pairs),
            "text" => Ok(LocalFormat::Text),
            "multiple_choice" => Ok(LocalFormat::MultipleChoice),
            other => Err(DataError::Invalid(format!(
                "unknown local dataset format {other:?} (pairs, text, multiple_choice)"
            ))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairLine {
    prompt: String,
    response: String,
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextLine {
    text: String,
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnswerField {
    Letter(String),
    Index(usize),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceLine {
    question: String,
    choices: Vec<String>,
    answer: AnswerField,
    id: Option<String>,
}

/// A dataset loaded from a JSONL file; draws are seeded picks without replacement.
#[derive(Debug)]
pub struct LocalSource {
    path: PathBuf,
    samples: Vec<Sample>,
}

const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn parse_line(format: LocalFormat, line: &str, default_id: String) -> Result<Sample, String> {
    match format {
        LocalFormat::Pairs => {
            let p: PairLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
            Ok(Sample::new(
                p.id.unwrap_or(default_id),
                "pairs",
                p.prompt,
                p.response,
            ))
        }
        LocalFormat::Text => {
            let t: TextLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
            if t.text.trim().is_empty() {
                return Err("empty text".into());
            }
            Ok(Sample::new(t.id.unwrap_or(default_id), "text", "", t.text))
        }
        LocalFormat::MultipleChoice => {
            let c: ChoiceLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
            if !(2..=26).contains(&c.choices.len()) {
                return Err(format!("{} choices; need 2 to 26", c.choices.len()));
            }
            let index = match c.answer {
                AnswerField::Index(i) => i,
                AnswerField::Letter(l) => LETTERS
                    .find(l.trim().to_uppercase().as_str())
                    .filter(|_| l.trim().len() == 1)
                    .ok_or_else(|| format!("answer {l:?} is not a letter"))?,
            };
            if index >= c.choices.len() {
                return Err(format!(
                    "answer index {index} out of {} choices",
                    c.choices.len()
                ));
            }
            let letter = LETTERS[index..index + 1].to_string();
            let listed: Vec<String> = c
                .choices
                .iter()
                .zip(LETTERS.chars())
                .map(|(choice, l)| format!("{l}. {choice}"))
                .collect();
            let prompt = format!(
                "{}\n{}\nAnswer with the letter of the correct option.",
                c.question,
                listed.join("\n")
            );
            let mut sample = Sample::new(
                c.id.unwrap_or(default_id),
                "multiple_choice",
                prompt,
                &letter,
            );
            sample.choices = Some(c.choices);
            sample.answer = Some(letter);
            Ok(sample)
        }
    }
}

impl LocalSource {
    /// Parses a JSONL dataset from memory; `name` labels errors and default ids.
    pub fn parse(name: &str, text: &str, format: LocalFormat) -> Result<LocalSource, DataError> {
        let mut samples = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let sample =
                parse_line(format, line, format!("{name}:{}", number + 1)).map_err(|reason| {
                    DataError::Dataset {
                        path: name.to_string(),
                        line: number + 1,
                        reason,
                    }
                })?;
            samples.push(sample);
        }
        if samples.is_empty() {
            return Err(DataError::Invalid(format!(
                "{name}: dataset has no samples"
            )));
        }
        Ok(LocalSource {
            path: PathBuf::from(name),
            samples,
        })
    }

    /// Loads a JSONL dataset file.
    pub fn load(path: &Path, format: LocalFormat) -> Result<LocalSource, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        LocalSource::parse(&path.display().to_string(), &text, format)
    }

    /// All samples of the dataset, in file order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }
}

#[async_trait]
impl DataSource for LocalSource {
    fn describe(&self) -> String {
        format!("jsonl {}", self.path.display())
    }

    async fn draw(&mut self, request: &DrawRequest) -> Result<Draw, DataError> {
        Ok(Draw {
            samples: seeded_pick(&self.samples, &request.seed, "local", request.count),
            stats: RejectionStats::default(),
        })
    }
}
