//! `if_eval`: instruction following with rules a program can verify.
//!
//! The rules, the per-response score (1 − (fraction of rules met)², 0 is perfect) and the
//! trigram near-duplicate test live in [`arena_core::ifeval`], shared with the data crate that
//! writes the prompts. This module generates the responses and applies the task's settings:
//! * duplicates, by default Subnet 37's rule: samples are paired (0, 1), (2, 3), …; a pair
//!   whose responses have a `difflib.SequenceMatcher` ratio (spaces and tabs junk) above the
//!   threshold is a duplicate, and more than the allowed fraction of duplicated pairs makes the
//!   raw score 1 (the worst); the older trigram rule scores each flagged response 1;
//! * weighting, by default Subnet 37's: each response counts once per rule it was given.

use std::collections::{HashMap, HashSet};

use arena_core::competition::{DuplicateRule, EvalSettings, RuleWeighting};
use arena_core::ifeval::{near_duplicates, response_score};

use crate::error::Result;
use crate::scoring::generate::Generation;
use crate::scoring::{Evaluator, InstructionPrompt, TaskResult};

/// How an if_eval task is run and scored.
#[derive(Debug, Clone, PartialEq)]
pub struct IfEvalSettings {
    /// Token cap and repetition penalty of the responses.
    pub generation: Generation,
    /// A system message before each prompt.
    pub system_prompt: Option<String>,
    /// The duplicate rule.
    pub duplicates: DuplicateRule,
    /// How responses are weighted.
    pub weighting: RuleWeighting,
}

impl IfEvalSettings {
    /// The settings of a task (see [`arena_core::competition::Task::settings`]).
    pub fn from_settings(settings: &EvalSettings) -> Self {
        IfEvalSettings {
            generation: Generation::from_settings(settings),
            system_prompt: settings.system_prompt.clone(),
            duplicates: settings.duplicates,
            weighting: settings.rule_weighting,
        }
    }
}

impl Evaluator {
    /// Generates a response to every prompt and scores it under `settings`.
    pub fn if_eval(&self, prompts: &[InstructionPrompt], settings: &IfEvalSettings) -> TaskResult {
        let system = settings.system_prompt.as_deref();
        let responses: Vec<Result<String>> = prompts
            .iter()
            .map(|p| self.respond_with(&p.prompt, system, settings.generation))
            .collect();
        score_responses(prompts, &responses, settings.duplicates, settings.weighting)
    }
}

/// Scores already generated responses (split out so the rules can be tested without a model).
pub fn score_responses(
    prompts: &[InstructionPrompt],
    responses: &[Result<String>],
    duplicates: DuplicateRule,
    weighting: RuleWeighting,
) -> TaskResult {
    let ok: Vec<(usize, &str)> = responses
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|s| (i, s.as_str())))
        .collect();
    let flagged: HashSet<usize> = match duplicates {
        DuplicateRule::Trigram => {
            let texts: Vec<&str> = ok.iter().map(|&(_, s)| s).collect();
            let ok_prompts: Vec<&str> = ok
                .iter()
                .map(|&(i, _)| prompts[i].prompt.as_str())
                .collect();
            near_duplicates(&ok_prompts, &texts)
                .into_iter()
                .map(|k| ok[k].0)
                .collect()
        }
        DuplicateRule::Pairs { .. } | DuplicateRule::None => HashSet::new(),
    };
    let scores = prompts
        .iter()
        .zip(responses)
        .enumerate()
        .map(|(i, (p, r))| match r {
            Ok(_) if flagged.contains(&i) => Ok(1.0),
            Ok(text) => Ok(response_score(text, &p.rules)),
            Err(e) => Err(crate::ModelError::Sample {
                id: p.id.clone(),
                message: e.to_string(),
            }),
        })
        .collect();
    let mut result = TaskResult::from_samples(scores);
    if !result.failures.is_empty() || result.per_sample.is_empty() {
        return result;
    }
    if weighting == RuleWeighting::RuleCount {
        let weights: Vec<f64> = prompts.iter().map(|p| p.rules.len() as f64).collect();
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            let sum: f64 = result
                .per_sample
                .iter()
                .zip(&weights)
                .map(|(s, w)| s * w)
                .sum();
            result.raw = sum / total;
        }
    }
    if let DuplicateRule::Pairs {
        similarity,
        max_fraction,
    } = duplicates
    {
        let pairs: Vec<(&str, &str)> = responses
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [Ok(a), Ok(b)] => Some((a.as_str(), b.as_str())),
                _ => None,
            })
            .collect();
        let duplicated = pairs
            .iter()
            .filter(|(a, b)| sequence_ratio(a, b) > similarity)
            .count();
        if !pairs.is_empty() && duplicated as f64 > max_fraction * pairs.len() as f64 {
            result.raw = 1.0;
        }
    }
    result
}

/// Python's `difflib.SequenceMatcher(lambda c: c in " \t", a, b).ratio()` over characters:
/// `2·M / (len a + len b)` with `M` the characters of the matching blocks (1.0 when both are
/// empty). Includes difflib's "autojunk" (in a `b` of 200 characters or more, a character
/// occurring more than 1 % + 1 times is not used to start a match).
pub fn sequence_ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let matcher = Matcher::new(&a, &b);
    let mut matched = 0usize;
    let mut queue = vec![(0, a.len(), 0, b.len())];
    while let Some((alo, ahi, blo, bhi)) = queue.pop() {
        let (i, j, k) = matcher.longest_match(alo, ahi, blo, bhi);
        if k > 0 {
            matched += k;
            if alo < i && blo < j {
                queue.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                queue.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    2.0 * matched as f64 / (a.len() + b.len()) as f64
}

struct Matcher<'a> {
    a: &'a [char],
    b: &'a [char],
    /// Positions in `b` of each usable (not junk, not popular) character.
    b2j: HashMap<char, Vec<usize>>,
}

fn is_junk(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl<'a> Matcher<'a> {
    fn new(a: &'a [char], b: &'a [char]) -> Self {
        let mut b2j: HashMap<char, Vec<usize>> = HashMap::new();
        for (j, &c) in b.iter().enumerate() {
            b2j.entry(c).or_default().push(j);
        }
        b2j.retain(|&c, _| !is_junk(c));
        if b.len() >= 200 {
            let most = b.len() / 100 + 1;
            b2j.retain(|_, idx| idx.len() <= most);
        }
        Matcher { a, b, b2j }
    }

    /// difflib's `find_longest_match`: the longest block of non-junk matches (earliest in `a`,
    /// then in `b`), extended by equal non-junk then equal junk characters on both sides.
    fn longest_match(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
    ) -> (usize, usize, usize) {
        let (a, b) = (self.a, self.b);
        let (mut besti, mut bestj, mut best) = (alo, blo, 0usize);
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for (i, c) in a.iter().enumerate().take(ahi).skip(alo) {
            let mut next: HashMap<usize, usize> = HashMap::new();
            if let Some(js) = self.b2j.get(c) {
                for &j in js {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    let k = j
                        .checked_sub(1)
                        .and_then(|p| j2len.get(&p))
                        .copied()
                        .unwrap_or(0)
                        + 1;
                    next.insert(j, k);
                    if k > best {
                        (besti, bestj, best) = (i + 1 - k, j + 1 - k, k);
                    }
                }
            }
            j2len = next;
        }
        for junk in [false, true] {
            while besti > alo
                && bestj > blo
                && is_junk(b[bestj - 1]) == junk
                && a[besti - 1] == b[bestj - 1]
            {
                besti -= 1;
                bestj -= 1;
                best += 1;
            }
            while besti + best < ahi
                && bestj + best < bhi
                && is_junk(b[bestj + best]) == junk
                && a[besti + best] == b[bestj + best]
            {
                best += 1;
            }
        }
        (besti, bestj, best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_core::competition::SN37_IFEVAL_DUPLICATES;
    use arena_core::ifeval::IfRule;

    fn prompt(id: &str, rules: Vec<IfRule>) -> InstructionPrompt {
        InstructionPrompt {
            id: id.into(),
            prompt: format!("prompt {id}"),
            rules,
        }
    }

    #[test]
    fn trigram_rule_scores_and_penalises_duplicates() {
        let rules = vec![IfRule::NoCommas, IfRule::WordCountAtMost { n: 3 }];
        let prompts: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| prompt(id, rules.clone()))
            .collect();
        let same = "the same long answer given to every prompt here".to_string();
        let responses = vec![
            Ok(same.clone()),
            Ok(same),
            Ok("short".to_string()),
            Ok("one, two".to_string()),
        ];
        let result = score_responses(
            &prompts,
            &responses,
            DuplicateRule::Trigram,
            RuleWeighting::Uniform,
        );
        assert_eq!(result.per_sample, vec![1.0, 1.0, 0.0, 0.75]);
        assert!((result.raw - 2.75 / 4.0).abs() < 1e-12);
    }

    #[test]
    fn sequence_ratio_matches_difflib() {
        // difflib.SequenceMatcher(lambda x: x in " \t", a, b).ratio(), computed in Python.
        assert_eq!(sequence_ratio("", ""), 1.0);
        assert_eq!(sequence_ratio("abc", ""), 0.0);
        assert_eq!(sequence_ratio("abcd", "bcde"), 0.75); // "bcd": 2·3/8
        assert_eq!(sequence_ratio("hello world", "hello world"), 1.0);
        // "qabxcd" vs "abycdf": matches "ab" and "cd" → 2·4/12.
        assert!((sequence_ratio("qabxcd", "abycdf") - 2.0 / 3.0).abs() < 1e-12);
        // Junk spaces cannot start a match but extend one: "a b" vs "a  b" → "a " + "b" = 3,
        // 2·3/7.
        assert!((sequence_ratio("a b", "a  b") - 6.0 / 7.0).abs() < 1e-12);
        // Autojunk: in a b of 200+ characters, 'x' (200 times > 3) cannot start a match, but
        // an empty match at the start still extends over it: 2·4/204.
        let long_b = "x".repeat(200);
        assert!((sequence_ratio("xxxx", &long_b) - 8.0 / 204.0).abs() < 1e-12);
        let a = "The quick brown fox jumps over the lazy dog. ".repeat(5);
        let b = "A quick brown dog jumps over the lazy fox! ".repeat(5);
        assert_eq!(sequence_ratio(&a, &b), 0.0);
        let a = "The capital of France is Paris. Let me know if you have additional questions.";
        let b = "The capital of Italy is Rome, of course. Let me know if you have additional questions.";
        assert!((sequence_ratio(a, b) - 0.846_625_766_871_165_6).abs() < 1e-12);
    }

    #[test]
    fn sn37_pairs_rule_and_rule_count_weighting_hand_computed() {
        let two = vec![IfRule::NoCommas, IfRule::WordCountAtMost { n: 3 }];
        let four = vec![
            IfRule::NoCommas,
            IfRule::WordCountAtMost { n: 3 },
            IfRule::AllLowerCase,
            IfRule::Quotation,
        ];
        let prompts = vec![
            prompt("0", two.clone()),
            prompt("1", two.clone()),
            prompt("2", four.clone()),
            prompt("3", four.clone()),
        ];
        // Scores: "ok" 0 (2/2); "a, b" 1 − (1/2)² = 0.75; "fine" 1 − (3/4)² = 0.4375 (not quoted);
        // "Yes, Sure" 1 − (1/4)² = 0.9375 (≤ 3 words only).
        let texts = ["ok", "a, b", "fine", "Yes, Sure"];
        let owned =
            |t: &[&str]| -> Vec<Result<String>> { t.iter().map(|s| Ok(s.to_string())).collect() };
        let responses = owned(&texts);
        let uniform = score_responses(
            &prompts,
            &responses,
            DuplicateRule::None,
            RuleWeighting::Uniform,
        );
        assert_eq!(uniform.per_sample, vec![0.0, 0.75, 0.4375, 0.9375]);
        assert!((uniform.raw - 2.125 / 4.0).abs() < 1e-12);
        // Rule-count weighting: (0·2 + 0.75·2 + 0.4375·4 + 0.9375·4) / 12 = 7 / 12.
        let weighted = score_responses(
            &prompts,
            &responses,
            SN37_IFEVAL_DUPLICATES,
            RuleWeighting::RuleCount,
        );
        assert!(
            (weighted.raw - 7.0 / 12.0).abs() < 1e-12,
            "{}",
            weighted.raw
        );
        // One of two pairs duplicated (ratio 1 > 0.6): 50 % > 10 % → raw 1.
        let dup = owned(&["ok", "a, b", "fine", "fine"]);
        let r = score_responses(
            &prompts,
            &dup,
            SN37_IFEVAL_DUPLICATES,
            RuleWeighting::RuleCount,
        );
        assert_eq!(r.raw, 1.0);
        // Identical responses to prompts of *different* pairs are not a duplicate pair.
        let across = owned(&["ok", "a, b", "ok", "Yes, Sure"]);
        let r = score_responses(
            &prompts,
            &across,
            SN37_IFEVAL_DUPLICATES,
            RuleWeighting::RuleCount,
        );
        assert!(r.raw < 1.0);
        // With 11 pairs one duplicate is 9.1 % ≤ 10 %: scored normally; two (18 %) are not.
        let many: Vec<_> = (0..22)
            .map(|i| prompt(&i.to_string(), two.clone()))
            .collect();
        // "aaa", "bbb", …: different letters, ratio 0 between any two.
        let mut texts: Vec<Result<String>> = (0..22u8)
            .map(|i| Ok(char::from(b'a' + i).to_string().repeat(3)))
            .collect();
        texts[1] = Ok("aaa".to_string());
        let r = score_responses(
            &many,
            &texts,
            SN37_IFEVAL_DUPLICATES,
            RuleWeighting::RuleCount,
        );
        assert_eq!(r.raw, 0.0);
        texts[3] = Ok("ccc".to_string());
        let r = score_responses(
            &many,
            &texts,
            SN37_IFEVAL_DUPLICATES,
            RuleWeighting::RuleCount,
        );
        assert_eq!(r.raw, 1.0);
    }

    #[test]
    fn a_failed_response_fails_the_task() {
        let prompts = vec![prompt("0", vec![IfRule::NoCommas])];
        let responses = vec![Err(crate::ModelError::Config("boom".into()))];
        let r = score_responses(
            &prompts,
            &responses,
            SN37_IFEVAL_DUPLICATES,
            RuleWeighting::RuleCount,
        );
        assert_eq!(r.raw, f64::INFINITY);
        assert_eq!(r.failures.len(), 1);
    }
}
