//! `if_eval`: instruction following with rules a program can verify.
//!
//! The rules, the per-response score (1 − (fraction of rules met)², 0 is perfect) and the
//! near-duplicate test live in [`arena_core::ifeval`], shared with the data crate that writes
//! the prompts. This module generates the responses and applies them: a response that nearly
//! duplicates the response to a different prompt gets the worst score, 1.

use std::collections::HashSet;

use arena_core::ifeval::{near_duplicates, response_score};

use crate::error::Result;
use crate::scoring::{Evaluator, InstructionPrompt, TaskResult};

impl Evaluator {
    /// Generates a response to every prompt (greedy, `max_new_tokens` cap) and scores it.
    pub fn if_eval(&self, prompts: &[InstructionPrompt]) -> TaskResult {
        let responses: Vec<Result<String>> = prompts
            .iter()
            .map(|p| self.respond(&p.prompt, self.max_new_tokens))
            .collect();
        score_responses(prompts, &responses)
    }
}

/// Scores already generated responses (split out so the rules can be tested without a model).
pub fn score_responses(prompts: &[InstructionPrompt], responses: &[Result<String>]) -> TaskResult {
    let ok: Vec<(usize, &str)> = responses
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|s| (i, s.as_str())))
        .collect();
    let texts: Vec<&str> = ok.iter().map(|&(_, s)| s).collect();
    let ok_prompts: Vec<&str> = ok
        .iter()
        .map(|&(i, _)| prompts[i].prompt.as_str())
        .collect();
    let dupes: HashSet<usize> = near_duplicates(&ok_prompts, &texts)
        .into_iter()
        .map(|k| ok[k].0)
        .collect();
    let scores = prompts
        .iter()
        .zip(responses)
        .enumerate()
        .map(|(i, (p, r))| match r {
            Ok(_) if dupes.contains(&i) => Ok(1.0),
            Ok(text) => Ok(response_score(text, &p.rules)),
            Err(e) => Err(crate::ModelError::Sample {
                id: p.id.clone(),
                message: e.to_string(),
            }),
        })
        .collect();
    TaskResult::from_samples(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_core::ifeval::IfRule;

    #[test]
    fn scores_and_penalises_duplicates() {
        let rules = vec![IfRule::NoCommas, IfRule::WordCountAtMost { n: 3 }];
        let prompt = |id: &str, text: &str| InstructionPrompt {
            id: id.into(),
            prompt: text.into(),
            rules: rules.clone(),
        };
        let prompts = [
            prompt("a", "p1"),
            prompt("b", "p2"),
            prompt("c", "p3"),
            prompt("d", "p4"),
        ];
        let same = "the same long answer given to every prompt here".to_string();
        let responses = vec![
            Ok(same.clone()),
            Ok(same),
            Ok("short".to_string()),
            Ok("one, two".to_string()),
        ];
        let result = score_responses(&prompts, &responses);
        assert_eq!(result.per_sample, vec![1.0, 1.0, 0.0, 0.75]);
        assert!((result.raw - 2.75 / 4.0).abs() < 1e-12);
    }
}
