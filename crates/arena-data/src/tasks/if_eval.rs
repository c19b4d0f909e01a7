//! IFEval-style instruction following (Subnet 37's IF_EVAL V2 rule set).
//!
//! A prompt asks a question from the fact tables and states 2–5 compatible rules; the sample's
//! `rules` field carries them as [`IfRule`] values that an evaluator checks with
//! [`IfRule::is_satisfied_by`], and the reference response satisfies all of them.
//!
//! Text conventions every rule uses:
//! * words: `text.split_whitespace()`;
//! * keyword words: the text lowercased, ASCII punctuation removed, then split on whitespace;
//! * sentences: whitespace-separated tokens; a token that ends in `.`, `!` or `?` (after
//!   stripping closing quotes and brackets) ends a sentence, and trailing tokens with a letter
//!   or digit after the last end make one more sentence;
//! * bullets: lines whose left-trimmed text starts with `*`.

use serde::{Deserialize, Serialize};

use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tables::{basic_english, countries, elements};

/// One machine-checkable instruction.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum IfRule {
    /// At most `n` words.
    WordCountAtMost { n: usize },
    /// At least `n` words.
    WordCountAtLeast { n: usize },
    /// At most `n` sentences.
    SentenceCountAtMost { n: usize },
    /// At least `n` sentences.
    SentenceCountAtLeast { n: usize },
    /// Has a letter, and no lowercase letter.
    AllUpperCase,
    /// Has a letter, and no uppercase letter.
    AllLowerCase,
    /// No `,` anywhere.
    NoCommas,
    /// `keyword` is one of the keyword words.
    KeywordInclusion { keyword: String },
    /// `keyword` occurs exactly `count` times among the keyword words.
    KeywordFrequency { keyword: String, count: usize },
    /// `keyword` is not one of the keyword words.
    KeywordForbidden { keyword: String },
    /// Exactly `n` bullet lines.
    BulletCount { n: usize },
    /// Ends (case-insensitively, ignoring trailing whitespace) with `phrase`.
    EndsWith { phrase: String },
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

/// Subnet 37's closing phrases for the ends-with rule.
pub const END_PHRASES: [&str; 3] = [
    "Let me know if you have additional questions.",
    "Is there anything else I can help with?",
    "Hope that helps.",
];

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

/// A question with the sentences a reference answer can be built from (first = the answer).
struct Topic {
    question: String,
    sentences: Vec<String>,
}

fn draw_topic(rng: &mut DrawRng) -> Topic {
    if rng.chance(1, 2) {
        let c = &countries()[rng.index(countries().len())];
        let (question, core) = if rng.chance(1, 2) {
            (
                format!("What is the capital of {}?", c.name),
                format!("The capital of {} is {}.", c.name, c.capital),
            )
        } else {
            (
                format!("On which continent is {}?", c.name),
                format!("{} is a country in {}.", c.name, c.continent),
            )
        };
        let mut sentences = vec![
            core,
            format!("{} is the capital city of {}.", c.capital, c.name),
            format!("{} lies on the continent of {}.", c.name, c.continent),
            format!("The government of {} meets in {}.", c.name, c.capital),
            format!(
                "Any good map of {} will show {} clearly.",
                c.continent, c.capital
            ),
            "This is a simple fact that you can check in an atlas.".to_string(),
            "Many students learn facts like this one at school.".to_string(),
            "Geography is a useful subject for understanding the world.".to_string(),
        ];
        rng.shuffle(&mut sentences[1..]);
        Topic {
            question,
            sentences,
        }
    } else {
        let e = &elements()[rng.index(elements().len())];
        let (question, core) = if rng.chance(1, 2) {
            (
                format!("What is the chemical symbol of {}?", e.name.to_lowercase()),
                format!("The chemical symbol of {} is {}.", e.name, e.symbol),
            )
        } else {
            (
                format!("What is the atomic number of {}?", e.name.to_lowercase()),
                format!("The atomic number of {} is {}.", e.name, e.number),
            )
        };
        let mut sentences = vec![
            core,
            format!(
                "{} has the symbol {} in the periodic table.",
                e.name, e.symbol
            ),
            format!(
                "Each atom of {} has {} protons in its nucleus.",
                e.name, e.number
            ),
            format!(
                "{} is element number {} of the periodic table.",
                e.name, e.number
            ),
            format!("The symbol {} stands for {}.", e.symbol, e.name),
            "Chemists use these facts every day in their work.".to_string(),
            "You can find this in any table of the chemical elements.".to_string(),
            "The periodic table orders the elements by their atomic number.".to_string(),
        ];
        rng.shuffle(&mut sentences[1..]);
        Topic {
            question,
            sentences,
        }
    }
}

/// Builds the response text from `used` sentences under the formatting rules.
fn assemble(sentences: &[String], bullets: usize, ending: Option<&str>, quote: bool) -> String {
    let split = sentences.len().saturating_sub(bullets);
    let mut lines = vec![sentences[..split].join(" ")];
    lines.extend(sentences[split..].iter().map(|s| format!("* {s}")));
    if let Some(phrase) = ending {
        lines.push(phrase.to_string());
    }
    let text = lines.join("\n");
    if quote {
        format!("\"{text}\"")
    } else {
        text
    }
}

const STOP_WORDS: [&str; 24] = [
    "the", "and", "for", "are", "has", "was", "this", "that", "with", "you", "any", "its", "can",
    "will", "like", "one", "their", "these", "every", "each", "which", "what", "your", "all",
];

/// Picks the rule kinds: shuffle the pool, want 2–5, skip kinds that clash with chosen ones.
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

/// One instruction-following sample with its rules and a reference response meeting them.
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let topic = draw_topic(rng);
    let kinds = choose_kinds(rng);
    let has = |k: RuleKind| kinds.contains(&k);
    let pick = |rng: &mut DrawRng, options: &[usize]| options[rng.index(options.len())];

    // Parameters of the structural rules.
    let word_max = has(RuleKind::WordAtMost).then(|| pick(rng, &[25, 30, 35, 40, 45]));
    let word_min = has(RuleKind::WordAtLeast).then(|| pick(rng, &[25, 30, 35, 40, 45]));
    let sent_max = has(RuleKind::SentenceAtMost).then(|| pick(rng, &[1, 2, 3]));
    let sent_min = has(RuleKind::SentenceAtLeast).then(|| pick(rng, &[2, 3]));
    let bullets = if has(RuleKind::Bullets) {
        pick(rng, &[1, 2, 3])
    } else {
        0
    };
    let ending = has(RuleKind::EndsWith).then(|| END_PHRASES[rng.index(END_PHRASES.len())]);
    let quote = has(RuleKind::Quotation);

    // Grow the answer until the lower bounds hold, then optionally by a sentence or two more
    // while the upper bounds still hold, so lengths vary.
    let mut used = 1usize;
    let fits = |used: usize| {
        let text = assemble(&topic.sentences[..used], bullets, ending, quote);
        word_max.is_none_or(|n| text.split_whitespace().count() <= n)
            && sent_max.is_none_or(|n| sentence_count(&text) <= n)
    };
    let short = |used: usize| {
        let text = assemble(&topic.sentences[..used], bullets, ending, quote);
        word_min.is_some_and(|n| text.split_whitespace().count() < n)
            || sent_min.is_some_and(|n| sentence_count(&text) < n)
            || used < bullets + 1
    };
    while used < topic.sentences.len() && short(used) {
        used += 1;
    }
    for _ in 0..rng.below(3) {
        if used < topic.sentences.len() && fits(used + 1) {
            used += 1;
        }
    }
    let mut text = assemble(&topic.sentences[..used], bullets, ending, quote);
    if has(RuleKind::Upper) {
        text = text.to_uppercase();
    } else if has(RuleKind::Lower) {
        text = text.to_lowercase();
    }

    // Keyword rules are set from the finished text, so the reference meets them.
    let words = keyword_words(&text);
    let mut candidates: Vec<&String> = words
        .iter()
        .filter(|w| {
            w.len() > 2 && w.chars().all(char::is_alphabetic) && !STOP_WORDS.contains(&w.as_str())
        })
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let mut taken: Vec<String> = Vec::new();
    let take_present = |rng: &mut DrawRng, taken: &mut Vec<String>| -> String {
        let free: Vec<&&String> = candidates.iter().filter(|w| !taken.contains(w)).collect();
        let word = free
            .get(rng.index(free.len().max(1)))
            .map(|w| (**w).clone())
            .unwrap_or_else(|| "answer".to_string());
        taken.push(word.clone());
        word
    };
    let mut rules = Vec::new();
    for kind in &kinds {
        let rule = match kind {
            RuleKind::WordAtMost => IfRule::WordCountAtMost {
                n: word_max.unwrap_or(45),
            },
            RuleKind::WordAtLeast => IfRule::WordCountAtLeast {
                n: word_min.unwrap_or(25),
            },
            RuleKind::SentenceAtMost => IfRule::SentenceCountAtMost {
                n: sent_max.unwrap_or(3),
            },
            RuleKind::SentenceAtLeast => IfRule::SentenceCountAtLeast {
                n: sent_min.unwrap_or(2),
            },
            RuleKind::Upper => IfRule::AllUpperCase,
            RuleKind::Lower => IfRule::AllLowerCase,
            RuleKind::NoCommas => IfRule::NoCommas,
            RuleKind::KeywordInclusion => IfRule::KeywordInclusion {
                keyword: take_present(rng, &mut taken),
            },
            RuleKind::KeywordFrequency => {
                let keyword = take_present(rng, &mut taken);
                let count = words.iter().filter(|w| **w == keyword).count();
                IfRule::KeywordFrequency { keyword, count }
            }
            RuleKind::KeywordForbidden => {
                let absent: Vec<&&str> = basic_english()
                    .iter()
                    .filter(|w| w.len() > 3 && !words.iter().any(|x| x == *w))
                    .filter(|w| !taken.iter().any(|t| t == *w))
                    .collect();
                let keyword = absent[rng.index(absent.len())].to_string();
                taken.push(keyword.clone());
                IfRule::KeywordForbidden { keyword }
            }
            RuleKind::Bullets => IfRule::BulletCount { n: bullets },
            RuleKind::EndsWith => IfRule::EndsWith {
                phrase: ending.unwrap_or(END_PHRASES[0]).to_string(),
            },
            RuleKind::Quotation => IfRule::Quotation,
        };
        rules.push(rule);
    }

    let numbered: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{}. {}", i + 1, r.instruction()))
        .collect();
    let prompt = format!(
        "Please answer the question below, denoted between quotes. Your response must follow these rules:\n{}\n\n\"{}\"\n",
        numbered.join("\n"),
        topic.question
    );
    let mut sample = Sample::new(id, "if_eval", prompt, text);
    sample.rules = Some(rules);
    sample
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
}
