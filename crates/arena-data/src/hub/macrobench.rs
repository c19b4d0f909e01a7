//! SN1 Macrobench rows (`macrocosm-os/macrobench-bittensor-01`) as evaluation samples.
//!
//! Subnet 37 reads the same rows for two tasks (§4.2, §4.5 of its notes), and so does arena;
//! the task's method says which a source serves:
//! * `multiple_choice` ([`choice_sample`]): the challenge as the prompt (unchanged, as SN37
//!   feeds it), the options parsed out of it ([`parse_options`]), the reference letter as the
//!   answer, so a Macrobench question is scored exactly like a generated one. A challenge whose
//!   options cannot be parsed is dropped (arena's scorer needs the options, also in `loglik`
//!   mode).
//! * `if_eval` ([`if_eval_pairs`]): each row gives (question, text of the right option);
//!   answers of fewer than two words are dropped; pair *i* asks question *i* and question
//!   *i + 1* under the same rule kinds and parameters (2–5 compatible rules of SN37's V2 pool),
//!   as samples `2i` and `2i + 1`, which is the layout the pair duplicate rule reads.
//!   Keyword rules take a keyword per prompt from that prompt's answer text (words over two
//!   letters, not a stop word; SN37 uses an NLTK part-of-speech filter arena does not have).
//!
//! Options are found as SN37's regex `(.*)\s+A\. (.*)\s+B\. (.*)\s+C\. (.*)\s+D\. (.*)` finds
//! them (greedy: the last `D. ` after whitespace, then the last `C. ` before it, …); unlike the
//! regex, an option may span lines, and the `D` option ends at the end of its line.

use arena_core::seed::Seed;

use super::loaders::{MacrobenchRow, RowError};
use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tasks::if_eval::{keyword_words, IfRule, RuleKind, END_PHRASES, RULE_KINDS};

/// Option letters in order.
const LETTERS: [char; 4] = ['A', 'B', 'C', 'D'];

/// Words never used as keywords.
const STOP_WORDS: [&str; 24] = [
    "the", "and", "for", "are", "has", "was", "this", "that", "with", "you", "any", "its", "can",
    "will", "like", "one", "their", "these", "every", "each", "which", "what", "your", "all",
];

/// Keywords when an answer offers none (SN37's fallbacks).
const FALLBACK_KEYWORDS: [&str; 3] = ["answer", "question", "response"];

/// The byte offset of the last `letter. ` before `before` that follows whitespace.
fn last_marker(text: &str, letter: char, before: usize) -> Option<usize> {
    let marker = format!("{letter}. ");
    text[..before]
        .rmatch_indices(&marker)
        .map(|(at, _)| at)
        .find(|&at| {
            text[..at]
                .chars()
                .next_back()
                .is_some_and(char::is_whitespace)
        })
}

/// The question and the four options of a challenge, or `None` when it does not list
/// `A.`–`D.` (each option and the question non-empty).
pub fn parse_options(challenge: &str) -> Option<(String, [String; 4])> {
    let mut at = [0usize; 4];
    let mut before = challenge.len();
    for (slot, letter) in LETTERS.iter().enumerate().rev() {
        at[slot] = last_marker(challenge, *letter, before)?;
        before = at[slot];
    }
    let question = challenge[..at[0]].trim();
    let option = |slot: usize| -> String {
        let from = at[slot] + 3;
        let to = if slot == 3 {
            challenge[from..]
                .find('\n')
                .map_or(challenge.len(), |n| from + n)
        } else {
            at[slot + 1]
        };
        challenge[from..to].trim().to_string()
    };
    let options = [option(0), option(1), option(2), option(3)];
    if question.is_empty() || options.iter().any(String::is_empty) {
        return None;
    }
    Some((question.to_string(), options))
}

/// A Macrobench row as a multiple-choice sample (prompt = the challenge).
pub fn choice_sample(row: &MacrobenchRow, id: String) -> Result<Sample, RowError> {
    let (_, options) = parse_options(&row.challenge).ok_or(RowError::NoChoices)?;
    let mut sample = Sample::new(id, "multiple_choice", row.challenge.clone(), &row.reference);
    sample.choices = Some(options.to_vec());
    sample.answer = Some(row.reference.clone());
    Ok(sample)
}

/// A question and the text of its right option, for IFEval prompts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionAnswer {
    /// The row's sample id.
    pub id: String,
    /// The question, without its options.
    pub question: String,
    /// The right option's text.
    pub answer: String,
}

/// A Macrobench row as a question and answer (SN37's `mmlu_parser`): dropped when the options
/// cannot be parsed or the right one has fewer than two words.
pub fn question_answer(row: &MacrobenchRow, id: String) -> Result<QuestionAnswer, RowError> {
    let (question, options) = parse_options(&row.challenge).ok_or(RowError::NoChoices)?;
    let slot = LETTERS
        .iter()
        .position(|l| row.reference.starts_with(*l))
        .ok_or_else(|| RowError::BadReference(row.reference.clone()))?;
    let answer = options[slot].clone();
    if answer.split_whitespace().count() < 2 {
        return Err(RowError::ShortAnswer(answer));
    }
    Ok(QuestionAnswer {
        id,
        question,
        answer,
    })
}

/// Shuffles the pool, wants 2–5 kinds, skips kinds that clash with chosen ones (SN37 V2).
fn choose_kinds(rng: &mut DrawRng) -> Vec<RuleKind> {
    let mut pool = RULE_KINDS;
    rng.shuffle(&mut pool);
    let want = rng.range(2, 5) as usize;
    let mut chosen: Vec<RuleKind> = Vec::new();
    for kind in pool {
        if chosen.len() == want {
            break;
        }
        if chosen.iter().all(|c| c.compatible(kind)) {
            chosen.push(kind);
        }
    }
    chosen
}

/// A keyword from `answer` not in `taken` (then any word of it, then a fallback).
fn keyword(rng: &mut DrawRng, answer: &str, taken: &mut Vec<String>) -> String {
    let words = keyword_words(answer);
    let mut interesting: Vec<&String> = words
        .iter()
        .filter(|w| {
            w.len() > 2 && w.chars().all(char::is_alphabetic) && !STOP_WORDS.contains(&w.as_str())
        })
        .filter(|w| !taken.contains(w))
        .collect();
    interesting.sort_unstable();
    interesting.dedup();
    let mut any: Vec<&String> = words.iter().filter(|w| !taken.contains(w)).collect();
    any.sort_unstable();
    any.dedup();
    let fallback: Vec<String> = FALLBACK_KEYWORDS
        .iter()
        .map(|w| w.to_string())
        .filter(|w| !taken.contains(w))
        .collect();
    let word = if !interesting.is_empty() {
        interesting[rng.index(interesting.len())].clone()
    } else if !any.is_empty() {
        any[rng.index(any.len())].clone()
    } else if !fallback.is_empty() {
        fallback[rng.index(fallback.len())].clone()
    } else {
        FALLBACK_KEYWORDS[0].to_string()
    };
    taken.push(word.clone());
    word
}

/// The IFEval prompt text (SN37's wording).
fn prompt(rules: &[IfRule], question: &str) -> String {
    let numbered: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{}. {}", i + 1, r.instruction()))
        .collect();
    format!(
        "Please answer the question below, denoted between quotes. Your response must follow these rules:\n{}\n\n\"{}\"\n",
        numbered.join("\n"),
        question
    )
}

/// Up to `pairs` IFEval prompt pairs from `qa` (at most `qa.len() − 1`): pair *i* is samples
/// `2i` (question *i*) and `2i + 1` (question *i + 1*), with the same rule kinds and
/// parameters and a keyword per prompt. Rules of pair *i* come from `DrawRng(seed, stream, i)`.
/// Each sample's reference response is its answer text.
pub fn if_eval_pairs(
    qa: &[QuestionAnswer],
    pairs: usize,
    seed: &Seed,
    stream: &str,
) -> Vec<Sample> {
    let n = pairs.min(qa.len().saturating_sub(1));
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        let mut rng = DrawRng::new(seed, stream, i as u64);
        let kinds = choose_kinds(&mut rng);
        let pick = |rng: &mut DrawRng, options: &[usize]| options[rng.index(options.len())];
        let word_max = pick(&mut rng, &[25, 30, 35, 40, 45]);
        let word_min = pick(&mut rng, &[25, 30, 35, 40, 45]);
        let sent_max = pick(&mut rng, &[1, 2, 3]);
        let sent_min = pick(&mut rng, &[2, 3]);
        let bullets = pick(&mut rng, &[1, 2, 3]);
        let ending = END_PHRASES[rng.index(END_PHRASES.len())];
        for (k, item) in [&qa[i], &qa[i + 1]].into_iter().enumerate() {
            let mut taken = Vec::new();
            let rules: Vec<IfRule> = kinds
                .iter()
                .map(|kind| match kind {
                    RuleKind::WordAtMost => IfRule::WordCountAtMost { n: word_max },
                    RuleKind::WordAtLeast => IfRule::WordCountAtLeast { n: word_min },
                    RuleKind::SentenceAtMost => IfRule::SentenceCountAtMost { n: sent_max },
                    RuleKind::SentenceAtLeast => IfRule::SentenceCountAtLeast { n: sent_min },
                    RuleKind::Upper => IfRule::AllUpperCase,
                    RuleKind::Lower => IfRule::AllLowerCase,
                    RuleKind::NoCommas => IfRule::NoCommas,
                    RuleKind::KeywordInclusion => IfRule::KeywordInclusion {
                        keyword: keyword(&mut rng, &item.answer, &mut taken),
                    },
                    RuleKind::KeywordFrequency => IfRule::KeywordFrequency {
                        keyword: keyword(&mut rng, &item.answer, &mut taken),
                        count: rng.range(1, 4) as usize,
                    },
                    RuleKind::KeywordForbidden => IfRule::KeywordForbidden {
                        keyword: keyword(&mut rng, &item.answer, &mut taken),
                    },
                    RuleKind::Bullets => IfRule::BulletCount { n: bullets },
                    RuleKind::EndsWith => IfRule::EndsWith {
                        phrase: ending.to_string(),
                    },
                    RuleKind::Quotation => IfRule::Quotation,
                })
                .collect();
            let mut sample = Sample::new(
                format!("{}#pair{i}.{k}", item.id),
                "if_eval",
                prompt(&rules, &item.question),
                item.answer.clone(),
            );
            sample.rules = Some(rules);
            out.push(sample);
        }
    }
    out
}
