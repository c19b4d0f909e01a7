//! `if_eval`: instruction following with rules a program can verify.
//!
//! Each response scores 1 − (fraction of its rules met)², so 0 is perfect. A model that
//! answers different prompts with (nearly) the same text is gaming the rules, not following
//! instructions: such responses get the worst score, 1.

use std::collections::HashSet;

use crate::error::Result;
use crate::scoring::{Evaluator, InstructionPrompt, TaskResult};

/// Word-trigram Jaccard similarity above which two responses count as near-duplicates.
pub const DUPLICATE_SIMILARITY: f64 = 0.8;

/// One verifiable instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// At least this many words.
    MinWords(usize),
    /// At most this many words.
    MaxWords(usize),
    /// At least this many sentences.
    MinSentences(usize),
    /// At most this many sentences.
    MaxSentences(usize),
    /// No uppercase letter.
    AllLowercase,
    /// No lowercase letter.
    AllUppercase,
    /// No comma at all.
    NoCommas,
    /// Every keyword appears (case-insensitive, as a whole word).
    IncludeKeywords(Vec<String>),
    /// Exactly this many bullet lines (starting with `* ` or `- `).
    BulletPoints(usize),
    /// The trimmed response ends with this phrase.
    EndsWith(String),
    /// The trimmed response starts and ends with a double quote.
    WrapInQuotes,
}

impl Rule {
    /// Whether `response` follows the rule.
    pub fn check(&self, response: &str) -> bool {
        let text = response.trim();
        match self {
            Rule::MinWords(n) => word_count(text) >= *n,
            Rule::MaxWords(n) => word_count(text) <= *n,
            Rule::MinSentences(n) => sentence_count(text) >= *n,
            Rule::MaxSentences(n) => sentence_count(text) <= *n,
            Rule::AllLowercase => !text.chars().any(char::is_uppercase),
            Rule::AllUppercase => !text.chars().any(char::is_lowercase),
            Rule::NoCommas => !text.contains(','),
            Rule::IncludeKeywords(words) => {
                let present: HashSet<String> = words_of(text).map(|w| w.to_lowercase()).collect();
                words.iter().all(|k| present.contains(&k.to_lowercase()))
            }
            Rule::BulletPoints(n) => {
                let bullets = text.lines().filter(|l| {
                    let l = l.trim_start();
                    l.starts_with("* ") || l.starts_with("- ")
                });
                bullets.count() == *n
            }
            Rule::EndsWith(phrase) => text.ends_with(phrase.trim()),
            Rule::WrapInQuotes => text.len() >= 2 && text.starts_with('"') && text.ends_with('"'),
        }
    }
}

fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
}

/// Number of words (runs of letters, digits and apostrophes).
pub fn word_count(text: &str) -> usize {
    words_of(text).count()
}

/// Number of sentences: runs of text ended by `.`, `!` or `?` (or the end) with a word in them.
pub fn sentence_count(text: &str) -> usize {
    text.split(['.', '!', '?'])
        .filter(|s| word_count(s) > 0)
        .count()
}

/// 1 − (fraction of `rules` met)²; 1 when there are no rules to meet.
pub fn response_score(response: &str, rules: &[Rule]) -> f64 {
    if rules.is_empty() {
        return 1.0;
    }
    let met = rules.iter().filter(|r| r.check(response)).count() as f64 / rules.len() as f64;
    1.0 - met * met
}

fn trigrams(text: &str) -> HashSet<(String, String, String)> {
    let words: Vec<String> = words_of(text).map(str::to_lowercase).collect();
    if words.len() < 3 {
        return std::iter::once((words.join(" "), String::new(), String::new())).collect();
    }
    words
        .windows(3)
        .map(|w| (w[0].clone(), w[1].clone(), w[2].clone()))
        .collect()
}

/// Indices of responses that nearly duplicate a response to a different prompt.
pub fn near_duplicates(prompts: &[&str], responses: &[&str]) -> HashSet<usize> {
    let grams: Vec<_> = responses.iter().map(|r| trigrams(r)).collect();
    let mut flagged = HashSet::new();
    for i in 0..responses.len() {
        for j in i + 1..responses.len() {
            if prompts[i] == prompts[j] {
                continue;
            }
            let inter = grams[i].intersection(&grams[j]).count() as f64;
            let union = grams[i].union(&grams[j]).count() as f64;
            if union > 0.0 && inter / union > DUPLICATE_SIMILARITY {
                flagged.insert(i);
                flagged.insert(j);
            }
        }
    }
    flagged
}

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

    #[test]
    fn rules_check_what_they_say() {
        let text = "- apples are red\n- pears are green\nThat is all. Really!";
        assert!(Rule::BulletPoints(2).check(text));
        assert!(!Rule::BulletPoints(3).check(text));
        assert_eq!(word_count(text), 10);
        assert_eq!(sentence_count(text), 2);
        assert!(Rule::AllLowercase.check("no caps here, ok"));
        assert!(!Rule::NoCommas.check("no caps here, ok"));
        assert!(Rule::IncludeKeywords(vec!["Pears".into()]).check(text));
        assert!(!Rule::IncludeKeywords(vec!["pear".into()]).check(text));
        assert!(Rule::EndsWith("Really!".into()).check(text));
        assert!(Rule::WrapInQuotes.check(" \"quoted\" "));
        assert!(Rule::AllUppercase.check("LOUD 123"));
    }

    #[test]
    fn scores_and_penalises_duplicates() {
        let rules = vec![Rule::NoCommas, Rule::MaxWords(3)];
        assert_eq!(response_score("one two", &rules), 0.0);
        assert_eq!(response_score("one, two", &rules), 0.75);
        assert_eq!(response_score("one, two three four", &rules), 1.0);
        let prompt = |id: &str, text: &str| InstructionPrompt {
            id: id.into(),
            prompt: text.into(),
            rules: rules.clone(),
        };
        let prompts = [prompt("a", "p1"), prompt("b", "p2"), prompt("c", "p3")];
        let same = "the same long answer given to every prompt here".to_string();
        let responses = vec![Ok(same.clone()), Ok(same), Ok("short".to_string())];
        let result = score_responses(&prompts, &responses);
        assert_eq!(result.per_sample, vec![1.0, 1.0, 0.0]);
        assert!((result.raw - 2.0 / 3.0).abs() < 1e-12);
    }
}
