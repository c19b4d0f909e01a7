//! `multiple_choice`: score = fraction of questions answered wrong.

use crate::error::{ModelError, Result};
use crate::scoring::batch::ScoredSeq;
use crate::scoring::generate::Generation;
use crate::scoring::{ChoiceQuestion, Evaluator, TaskResult};

/// How the model's answer is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChoiceMode {
    /// The choice with the highest summed log-likelihood after the prompt
    /// (lm-evaluation-harness `acc`); no generation.
    LogLikelihood,
    /// Greedy generation (SN37: 20 tokens, repetition penalty 1.1), then the first standalone
    /// letter.
    Generate(Generation),
}

impl Evaluator {
    /// Fraction of `questions` answered wrong.
    pub fn multiple_choice(&self, questions: &[ChoiceQuestion], mode: ChoiceMode) -> TaskResult {
        self.multiple_choice_with(questions, mode, None)
    }

    /// Fraction of `questions` answered wrong, each prompt after the system message `system`
    /// when one is given.
    pub fn multiple_choice_with(
        &self,
        questions: &[ChoiceQuestion],
        mode: ChoiceMode,
        system: Option<&str>,
    ) -> TaskResult {
        let picks: Vec<Result<usize>> = match mode {
            ChoiceMode::LogLikelihood => self.loglik_picks(questions, system),
            ChoiceMode::Generate(generation) => questions
                .iter()
                .map(|q| {
                    let text = self.respond_with(&q.prompt, system, generation)?;
                    Ok(first_letter(&text, q.choices.len()).unwrap_or(usize::MAX))
                })
                .collect(),
        };
        let scores = questions
            .iter()
            .zip(picks)
            .map(|(q, pick)| pick.map(|p| if p == q.answer { 0.0 } else { 1.0 }))
            .collect();
        TaskResult::from_samples(scores)
    }

    /// Index of the most likely choice of each question; all choices of all questions go
    /// through the loss engine together so they share batches.
    fn loglik_picks(
        &self,
        questions: &[ChoiceQuestion],
        system: Option<&str>,
    ) -> Vec<Result<usize>> {
        let mut seqs = Vec::new();
        let mut owners = Vec::new();
        let mut contexts = Vec::with_capacity(questions.len());
        for (qi, q) in questions.iter().enumerate() {
            let context = self.prompt_ids(&q.prompt, system);
            for (ci, choice) in q.choices.iter().enumerate() {
                let seq = match &context {
                    Ok(ctx) => self.tokenizer.encode(choice).map(|cont| {
                        let mut ids = ctx.clone();
                        ids.extend(cont);
                        ScoredSeq {
                            id: format!("{}#{ci}", q.id),
                            ids,
                            first_target: ctx.len(),
                        }
                    }),
                    Err(e) => Err(ModelError::Sample {
                        id: q.id.clone(),
                        message: e.to_string(),
                    }),
                };
                seqs.push(seq);
                owners.push(qi);
            }
            contexts.push(context.err());
        }
        let sums = self.score(seqs, |l| -l.iter().map(|&v| v as f64).sum::<f64>());
        let mut best: Vec<Result<(usize, f64)>> = questions
            .iter()
            .map(|q| {
                if q.choices.is_empty() || q.answer >= q.choices.len() {
                    Err(ModelError::Sample {
                        id: q.id.clone(),
                        message: "no valid answer among the choices".into(),
                    })
                } else {
                    Ok((usize::MAX, f64::NEG_INFINITY))
                }
            })
            .collect();
        let mut seen = vec![0usize; questions.len()];
        for (qi, loglik) in owners.into_iter().zip(sums) {
            let ci = seen[qi];
            seen[qi] += 1;
            if let Ok((pick, top)) = &mut best[qi] {
                match loglik {
                    Ok(v) if v > *top => (*pick, *top) = (ci, v),
                    Ok(_) => {}
                    Err(e) => best[qi] = Err(e),
                }
            }
        }
        best.into_iter().map(|b| b.map(|(pick, _)| pick)).collect()
    }
}

/// Index of the first standalone capital letter among the first `n` letters (A, B, …) in
/// `text`: a letter with no letter or digit right before or after it ("B", "(B)", "B.").
pub fn first_letter(text: &str, n: usize) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
    chars.iter().enumerate().find_map(|(i, &c)| {
        let idx = (c as u32).checked_sub('A' as u32)? as usize;
        let standalone = c.is_ascii_uppercase()
            && !word(i.checked_sub(1).and_then(|p| chars.get(p)))
            && !word(chars.get(i + 1));
        (standalone && idx < n).then_some(idx)
    })
}

#[cfg(test)]
mod tests {
    use super::first_letter;

    #[test]
    fn finds_the_first_standalone_letter() {
        assert_eq!(first_letter("The answer is (B).", 4), Some(1));
        assert_eq!(first_letter("Answer: C", 4), Some(2));
        assert_eq!(first_letter("I think D is wrong, A", 4), Some(3));
        assert_eq!(first_letter("A", 4), Some(0));
        assert_eq!(first_letter("Both options", 4), None);
        assert_eq!(first_letter("E then B", 4), Some(1));
    }
}
