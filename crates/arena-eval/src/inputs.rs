//! Drawn samples ([`arena_data::Sample`]) turned into the inputs of one scoring method of
//! `arena-model`, per the task's [`EvalMethod`].
//!
//! A sample the method cannot use (a multiple-choice sample without a valid answer letter, an
//! if_eval sample without rules) is a data problem, the same for every model: it is left out
//! and named in [`Inputs::dropped`], never charged to the model.

use arena_core::competition::{EvalMethod, EvalSettings};
use arena_data::Sample;
use arena_model::scoring::{ChoiceQuestion, Document, InstructionPrompt, PromptReference};
use arena_model::Evaluator;

/// The usable samples of one task in the form its method takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// `reference_loss`: prompt and reference response.
    Reference(Vec<PromptReference>),
    /// `text_loss`: documents (`prompt` followed by `response`; corpus samples have no prompt).
    Text(Vec<Document>),
    /// `multiple_choice`: questions with lettered choices.
    Choice(Vec<ChoiceQuestion>),
    /// `if_eval`: prompts with their rules.
    Instruction(Vec<InstructionPrompt>),
}

/// A sample left out of a task, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The sample's id.
    pub id: String,
    /// One line naming the problem.
    pub reason: String,
}

/// Index (A = 0) of a one-letter answer among `n` choices.
pub fn answer_index(letter: &str, n: usize) -> Option<usize> {
    let mut chars = letter.trim().chars();
    let c = chars.next()?;
    if chars.next().is_some() || !c.is_ascii_uppercase() {
        return None;
    }
    let index = (c as u8 - b'A') as usize;
    (index < n).then_some(index)
}

impl Inputs {
    /// Converts `samples` for `method`; unusable samples go to the returned list.
    pub fn from_samples(method: &EvalMethod, samples: &[Sample]) -> (Inputs, Vec<Dropped>) {
        let mut dropped = Vec::new();
        let inputs = match method {
            EvalMethod::ReferenceLoss => Inputs::Reference(
                samples
                    .iter()
                    .map(|s| PromptReference {
                        id: s.id.clone(),
                        prompt: s.prompt.clone(),
                        reference: s.response.clone(),
                    })
                    .collect(),
            ),
            EvalMethod::TextLoss { .. } => Inputs::Text(
                samples
                    .iter()
                    .map(|s| Document {
                        id: s.id.clone(),
                        text: format!("{}{}", s.prompt, s.response),
                    })
                    .collect(),
            ),
            EvalMethod::MultipleChoice { .. } => {
                let mut questions = Vec::with_capacity(samples.len());
                for s in samples {
                    let choices = s.choices.clone().unwrap_or_default();
                    let letter = s.answer.as_deref().unwrap_or(&s.response);
                    match answer_index(letter, choices.len()) {
                        Some(answer) if choices.len() >= 2 => questions.push(ChoiceQuestion {
                            id: s.id.clone(),
                            prompt: s.prompt.clone(),
                            choices,
                            answer,
                        }),
                        _ => dropped.push(Dropped {
                            id: s.id.clone(),
                            reason: format!(
                                "answer {letter:?} is not the letter of one of its {} choices",
                                choices.len()
                            ),
                        }),
                    }
                }
                Inputs::Choice(questions)
            }
            EvalMethod::IfEval => {
                let mut prompts = Vec::with_capacity(samples.len());
                for s in samples {
                    match &s.rules {
                        Some(rules) if !rules.is_empty() => prompts.push(InstructionPrompt {
                            id: s.id.clone(),
                            prompt: s.prompt.clone(),
                            rules: rules.clone(),
                        }),
                        _ => dropped.push(Dropped {
                            id: s.id.clone(),
                            reason: "an if_eval sample needs at least one rule".into(),
                        }),
                    }
                }
                Inputs::Instruction(prompts)
            }
        };
        (inputs, dropped)
    }

    /// The samples at `indices` (indices past the end are skipped), in that order: one chunk
    /// of an early-stopping plan.
    pub fn subset(&self, indices: &[u32]) -> Inputs {
        fn pick<T: Clone>(v: &[T], indices: &[u32]) -> Vec<T> {
            indices
                .iter()
                .filter_map(|&i| v.get(i as usize).cloned())
                .collect()
        }
        match self {
            Inputs::Reference(v) => Inputs::Reference(pick(v, indices)),
            Inputs::Text(v) => Inputs::Text(pick(v, indices)),
            Inputs::Choice(v) => Inputs::Choice(pick(v, indices)),
            Inputs::Instruction(v) => Inputs::Instruction(pick(v, indices)),
        }
    }

    /// Number of usable samples.
    pub fn len(&self) -> usize {
        match self {
            Inputs::Reference(v) => v.len(),
            Inputs::Text(v) => v.len(),
            Inputs::Choice(v) => v.len(),
            Inputs::Instruction(v) => v.len(),
        }
    }

    /// Whether no sample is usable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokenizes every text the method will encode, so that the tokenizer's memo holds them
    /// all before scoring starts (and the time is measured apart from the model's). Returns
    /// the number of encodings asked for; errors are left for the scoring call to report
    /// against the sample they belong to.
    /// `settings` are the task's: a system prompt changes the chat context.
    pub fn pretokenize(
        &self,
        eval: &Evaluator,
        choices_by_loglik: bool,
        settings: &EvalSettings,
    ) -> usize {
        let tok = &eval.tokenizer;
        let system = settings.system_prompt.as_deref();
        let mut asked = 0;
        let mut chat = |p: &str| {
            asked += 1;
            let _ = eval.prompt_ids(p, system);
        };
        let mut plain_texts: Vec<&str> = Vec::new();
        match self {
            Inputs::Reference(v) => v.iter().for_each(|s| {
                chat(&s.prompt);
                plain_texts.push(&s.reference);
            }),
            Inputs::Text(v) => plain_texts.extend(v.iter().map(|d| d.text.as_str())),
            Inputs::Choice(v) => v.iter().for_each(|q| {
                chat(&q.prompt);
                if choices_by_loglik {
                    plain_texts.extend(q.choices.iter().map(String::as_str));
                }
            }),
            Inputs::Instruction(v) => v.iter().for_each(|p| chat(&p.prompt)),
        }
        for text in &plain_texts {
            let _ = tok.encode(text);
        }
        asked + plain_texts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_core::seed::Seed;
    use arena_data::tasks::{TaskGenerator, TaskKind};

    #[test]
    fn letters_map_to_choices() {
        assert_eq!(answer_index("A", 4), Some(0));
        assert_eq!(answer_index(" D ", 4), Some(3));
        assert_eq!(answer_index("E", 4), None);
        assert_eq!(answer_index("b", 4), None);
        assert_eq!(answer_index("AB", 4), None);
        assert_eq!(answer_index("", 4), None);
    }

    #[test]
    fn generated_samples_convert_and_bad_ones_are_dropped() {
        let seed = Seed::from_text("inputs test");
        let mut mc = TaskKind::MultipleChoice.generate_many(&seed, 5);
        mc[2].answer = Some("Z".into());
        let method = EvalMethod::MultipleChoice {
            mode: Default::default(),
        };
        let (inputs, dropped) = Inputs::from_samples(&method, &mc);
        assert_eq!(inputs.len(), 4);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].id, mc[2].id);
        let Inputs::Choice(questions) = inputs else {
            panic!("multiple choice gives questions")
        };
        for (q, s) in questions.iter().zip(mc.iter().filter(|s| s.id != mc[2].id)) {
            let letter = s.answer.as_deref().unwrap();
            assert_eq!(q.choices[q.answer], s.choices.as_ref().unwrap()[q.answer]);
            assert_eq!(answer_index(letter, 4), Some(q.answer));
        }

        let mut ife = TaskKind::IfEval.generate_many(&seed, 3);
        ife[0].rules = None;
        let (inputs, dropped) = Inputs::from_samples(&EvalMethod::IfEval, &ife);
        assert_eq!((inputs.len(), dropped.len()), (2, 1));
        let Inputs::Instruction(prompts) = inputs else {
            panic!("if_eval gives prompts")
        };
        // The reference response meets every rule of its own prompt.
        for (p, s) in prompts.iter().zip(&ife[1..]) {
            assert_eq!(
                arena_core::ifeval::response_score(&s.response, &p.rules),
                0.0
            );
        }
    }
}
