//! Instruction-following rules (the `if_eval` task, Subnet 37's IF_EVAL V2 rule set): the one
//! definition the data crate generates prompts from and the evaluator checks responses with,
//! so what a prompt asks and what is scored can never drift apart.
//!
//! Text conventions every rule uses:
//! * words: `text.split_whitespace()`;
//! * keyword words: the text lowercased, ASCII punctuation removed, then split on whitespace;
//! * sentences: whitespace-separated tokens; a token that ends in `.`, `!` or `?` (after
//!   stripping closing quotes and brackets) ends a sentence, and trailing tokens with a letter
//!   or digit after the last end make one more sentence;
//! * bullets: lines whose left-trimmed text starts with `*`.
//!
//! ```
//! use arena_core::ifeval::{response_score, IfRule};
//! let rules = [IfRule::NoCommas, IfRule::WordCountAtMost { n: 3 }];
//! assert_eq!(response_score("Paris is it", &rules), 0.0);
//! assert_eq!(response_score("Paris, France", &rules), 0.75);
//! ```

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// One machine-checkable instruction.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum IfRule {
    /// At most `n` words.
    WordCountAtMost {
        /// Bound.
        n: usize,
    },
    /// At least `n` words.
    WordCountAtLeast {
        /// Bound.
        n: usize,
    },
    /// At most `n` sentences.
    SentenceCountAtMost {
        /// Bound.
        n: usize,
    },
    /// At least `n` sentences.
    SentenceCountAtLeast {
        /// Bound.
        n: usize,
    },
    /// Has a letter, and no lowercase letter.
    AllUpperCase,
    /// Has a letter, and no uppercase letter.
    AllLowerCase,
    /// No `,` anywhere.
    NoCommas,
    /// `keyword` is one of the keyword words.
    KeywordInclusion {
        /// The word.
        keyword: String,
    },
    /// `keyword` occurs exactly `count` times among the keyword words.
    KeywordFrequency {
        /// The word.
        keyword: String,
        /// Exact number of occurrences.
        count: usize,
    },
    /// `keyword` is not one of the keyword words.
    KeywordForbidden {
        /// The word.
        keyword: String,
    },
    /// Exactly `n` bullet lines.
    BulletCount {
        /// Exact number of bullets.
        n: usize,
    },
    /// Ends (case-insensitively, ignoring trailing whitespace) with `phrase`.
    EndsWith {
        /// The closing phrase.
        phrase: String,
    },
    /// The trimmed text starts and ends with `"`.
    Quotation,
}

/// The rule kinds, without parameters: what compatibility is defined on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// [`IfRule::WordCountAtMost`].
    WordAtMost,
    /// [`IfRule::WordCountAtLeast`].
    WordAtLeast,
    /// [`IfRule::SentenceCountAtMost`].
    SentenceAtMost,
    /// [`IfRule::SentenceCountAtLeast`].
    SentenceAtLeast,
    /// [`IfRule::AllUpperCase`].
    Upper,
    /// [`IfRule::AllLowerCase`].
    Lower,
    /// [`IfRule::NoCommas`].
    NoCommas,
    /// [`IfRule::KeywordInclusion`].
    KeywordInclusion,
    /// [`IfRule::KeywordFrequency`].
    KeywordFrequency,
    /// [`IfRule::KeywordForbidden`].
    KeywordForbidden,
    /// [`IfRule::BulletCount`].
    Bullets,
    /// [`IfRule::EndsWith`].
    EndsWith,
    /// [`IfRule::Quotation`].
    Quotation,
}

/// All kinds, the pool rules are drawn from.
pub const RULE_KINDS: [RuleKind; 13] = [
    RuleKind::WordAtMost,
    RuleKind::WordAtLeast,
    RuleKind::SentenceAtMost,
    RuleKind::SentenceAtLeast,
    RuleKind::Upper,
    RuleKind::Lower,
    RuleKind::NoCommas,
    RuleKind::KeywordInclusion,
    RuleKind::KeywordFrequency,
    RuleKind::KeywordForbidden,
    RuleKind::Bullets,
    RuleKind::EndsWith,
    RuleKind::Quotation,
];

/// Word-trigram Jaccard similarity above which two responses count as near-duplicates.
pub const DUPLICATE_SIMILARITY: f64 = 0.8;

impl RuleKind {
    /// Whether two kinds can be asked together (Subnet 37's incompatibility table).
    pub fn compatible(self, other: RuleKind) -> bool {
        use RuleKind::*;
        let clash = |a: RuleKind, b: RuleKind| match a {
            WordAtMost => matches!(
                b,
                WordAtMost | WordAtLeast | SentenceAtMost | SentenceAtLeast | Bullets | EndsWith
            ),
            WordAtLeast => matches!(b, WordAtLeast | SentenceAtMost),
            SentenceAtMost => matches!(b, SentenceAtMost | SentenceAtLeast | Bullets | EndsWith),
            SentenceAtLeast => matches!(b, SentenceAtLeast),
            Upper => matches!(b, Upper | Lower),
            Lower => matches!(b, Lower),
            EndsWith => matches!(b, EndsWith | Quotation),
            _ => a == b,
        };
        !clash(self, other) && !clash(other, self)
    }
}

impl IfRule {
    /// The rule's kind.
    pub fn kind(&self) -> RuleKind {
        match self {
            IfRule::WordCountAtMost { .. } => RuleKind::WordAtMost,
            IfRule::WordCountAtLeast { .. } => RuleKind::WordAtLeast,
            IfRule::SentenceCountAtMost { .. } => RuleKind::SentenceAtMost,
            IfRule::SentenceCountAtLeast { .. } => RuleKind::SentenceAtLeast,
            IfRule::AllUpperCase => RuleKind::Upper,
            IfRule::AllLowerCase => RuleKind::Lower,
            IfRule::NoCommas => RuleKind::NoCommas,
            IfRule::KeywordInclusion { .. } => RuleKind::KeywordInclusion,
            IfRule::KeywordFrequency { .. } => RuleKind::KeywordFrequency,
            IfRule::KeywordForbidden { .. } => RuleKind::KeywordForbidden,
            IfRule::BulletCount { .. } => RuleKind::Bullets,
            IfRule::EndsWith { .. } => RuleKind::EndsWith,
            IfRule::Quotation => RuleKind::Quotation,
        }
    }

    /// The instruction as the prompt states it.
    pub fn instruction(&self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match self {
            IfRule::WordCountAtMost { n } => format!("Your response must be no more than {n} words."),
            IfRule::WordCountAtLeast { n } => format!("Your response must be at least {n} words."),
            IfRule::SentenceCountAtMost { n } => {
                format!("Your response must be no more than {n} sentence{}.", plural(*n))
            }
            IfRule::SentenceCountAtLeast { n } => {
                format!("Your response must be at least {n} sentence{}.", plural(*n))
            }
            IfRule::AllUpperCase => "All letters in your response must be uppercase.".into(),
            IfRule::AllLowerCase => "All letters in your response must be lowercase.".into(),
            IfRule::NoCommas => "Do not use any commas in your response.".into(),
            IfRule::KeywordInclusion { keyword } => {
                format!("The word \"{keyword}\" must be included in your response.")
            }
            IfRule::KeywordFrequency { keyword, count } => format!(
                "Include the word \"{keyword}\" exactly {count} time{} in your response.",
                plural(*count)
            ),
            IfRule::KeywordForbidden { keyword } => {
                format!("The word \"{keyword}\" must not be included in your response.")
            }
            IfRule::BulletCount { n } => format!(
                "Your response must have exactly {n} bullet point{} in markdown format, each on its own line starting with \"*\".",
                plural(*n)
            ),
            IfRule::EndsWith { phrase } => {
                format!("End your response with the exact phrase \"{phrase}\".")
            }
            IfRule::Quotation => "Wrap your entire response in double quotation marks.".into(),
        }
    }

    /// Whether `text` follows the rule (see the module documentation for the conventions).
    pub fn is_satisfied_by(&self, text: &str) -> bool {
        match self {
            IfRule::WordCountAtMost { n } => text.split_whitespace().count() <= *n,
            IfRule::WordCountAtLeast { n } => text.split_whitespace().count() >= *n,
            IfRule::SentenceCountAtMost { n } => sentence_count(text) <= *n,
            IfRule::SentenceCountAtLeast { n } => sentence_count(text) >= *n,
            IfRule::AllUpperCase => {
                text.chars().any(char::is_alphabetic) && !text.chars().any(char::is_lowercase)
            }
            IfRule::AllLowerCase => {
                text.chars().any(char::is_alphabetic) && !text.chars().any(char::is_uppercase)
            }
            IfRule::NoCommas => !text.contains(','),
            IfRule::KeywordInclusion { keyword } => keyword_count(text, keyword) > 0,
            IfRule::KeywordFrequency { keyword, count } => keyword_count(text, keyword) == *count,
            IfRule::KeywordForbidden { keyword } => keyword_count(text, keyword) == 0,
            IfRule::BulletCount { n } => {
                text.lines()
                    .filter(|l| l.trim_start().starts_with('*'))
                    .count()
                    == *n
            }
            IfRule::EndsWith { phrase } => text
                .trim_end()
                .to_lowercase()
                .ends_with(&phrase.to_lowercase()),
            IfRule::Quotation => {
                let t = text.trim();
                t.len() >= 2 && t.starts_with('"') && t.ends_with('"')
            }
        }
    }
}

/// The keyword words of a text (lowercased, ASCII punctuation removed).
pub fn keyword_words(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    cleaned.split_whitespace().map(str::to_string).collect()
}

fn keyword_count(text: &str, keyword: &str) -> usize {
    let keyword = keyword.to_lowercase();
    keyword_words(text)
        .iter()
        .filter(|w| **w == keyword)
        .count()
}

/// Number of sentences under the module's convention.
pub fn sentence_count(text: &str) -> usize {
    let mut count = 0;
    let mut pending = false;
    for token in text.split_whitespace() {
        let core = token.trim_end_matches(['"', '\'', ')', ']', '*']);
        if core.chars().any(char::is_alphanumeric) {
            pending = true;
        }
        if core.ends_with(['.', '!', '?']) && pending {
            count += 1;
            pending = false;
        }
    }
    count + usize::from(pending)
}

/// Score of one response, lower is better: 1 − (fraction of `rules` met)²; 1 when there are
/// no rules (a prompt without rules tests nothing, so it cannot be passed).
pub fn response_score(response: &str, rules: &[IfRule]) -> f64 {
    if rules.is_empty() {
        return 1.0;
    }
    let met = rules.iter().filter(|r| r.is_satisfied_by(response)).count() as f64;
    let fraction = met / rules.len() as f64;
    1.0 - fraction * fraction
}

fn trigrams(text: &str) -> HashSet<[String; 3]> {
    let words = keyword_words(text);
    if words.len() < 3 {
        return HashSet::from([[words.join(" "), String::new(), String::new()]]);
    }
    words
        .windows(3)
        .map(|w| [w[0].clone(), w[1].clone(), w[2].clone()])
        .collect()
}

/// Indices of responses that nearly duplicate (word-trigram Jaccard similarity above
/// [`DUPLICATE_SIMILARITY`]) a response to a *different* prompt: one canned text that happens
/// to satisfy common rules is gaming the task, not following instructions.
pub fn near_duplicates(prompts: &[&str], responses: &[&str]) -> HashSet<usize> {
    let grams: Vec<_> = responses.iter().map(|r| trigrams(r)).collect();
    let mut flagged = HashSet::new();
    for i in 0..responses.len() {
        for j in i + 1..responses.len() {
            if prompts.get(i) == prompts.get(j) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_semantics() {
        assert_eq!(sentence_count("One. Two! Three?"), 3);
        assert_eq!(sentence_count("\"One two. Three\""), 2);
        assert_eq!(sentence_count("Intro.\n* a point.\n* another."), 3);
        assert_eq!(sentence_count("pi is 3.14 roughly"), 1);
        assert_eq!(sentence_count(""), 0);
        assert!(IfRule::AllUpperCase.is_satisfied_by("HELLO 42."));
        assert!(!IfRule::AllUpperCase.is_satisfied_by("42"));
        assert!(!IfRule::AllLowerCase.is_satisfied_by("hello World"));
        let freq = IfRule::KeywordFrequency {
            keyword: "iron".into(),
            count: 2,
        };
        assert!(freq.is_satisfied_by("Iron, iron. Ironic."));
        assert!(!freq.is_satisfied_by("iron"));
        assert!(IfRule::BulletCount { n: 2 }.is_satisfied_by("x\n* a\n  * b"));
        assert!(IfRule::EndsWith {
            phrase: "Hope that helps.".into()
        }
        .is_satisfied_by("done. HOPE THAT HELPS.  "));
        assert!(IfRule::Quotation.is_satisfied_by(" \"hi\" "));
        assert!(!IfRule::Quotation.is_satisfied_by("\""));
        assert!(!RuleKind::WordAtMost.compatible(RuleKind::EndsWith));
        assert!(!RuleKind::EndsWith.compatible(RuleKind::WordAtMost));
        assert!(RuleKind::NoCommas.compatible(RuleKind::Quotation));
        assert!(!RuleKind::Upper.compatible(RuleKind::Lower));
    }

    #[test]
    fn rules_serialize_with_a_tag() {
        let rule = IfRule::KeywordFrequency {
            keyword: "gold".into(),
            count: 1,
        };
        let json = serde_json::to_string(&rule).unwrap();
        assert_eq!(
            json,
            r#"{"rule":"keyword_frequency","keyword":"gold","count":1}"#
        );
        assert_eq!(serde_json::from_str::<IfRule>(&json).unwrap(), rule);
    }

    #[test]
    fn scores_and_flags_duplicates() {
        let rules = [IfRule::NoCommas, IfRule::WordCountAtMost { n: 3 }];
        assert_eq!(response_score("one two", &rules), 0.0);
        assert_eq!(response_score("one, two", &rules), 0.75);
        assert_eq!(response_score("one, two three four", &rules), 1.0);
        assert_eq!(response_score("anything", &[]), 1.0);
        let same = "the same long answer given to every prompt here";
        let flagged = near_duplicates(&["p1", "p2", "p3"], &[same, same, "short"]);
        assert_eq!(flagged, HashSet::from([0, 1]));
        // The same answer to the same prompt (a repeated sample) is not gaming.
        assert!(near_duplicates(&["p", "p"], &[same, same]).is_empty());
    }
}
