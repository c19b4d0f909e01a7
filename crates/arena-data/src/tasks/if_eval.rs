//! IFEval-style instruction following (Subnet 37's IF_EVAL V2 rule set).
//!
//! A prompt asks a question and states 2–5 compatible rules; the sample's `rules` field carries
//! them as [`IfRule`] values that an evaluator checks with [`IfRule::is_satisfied_by`], and the
//! reference response satisfies all of them. The rules themselves (and their text conventions)
//! live in [`arena_core::ifeval`], shared with the evaluator; this module only draws prompts and
//! reference answers.
//!
//! Questions come from [`TOPICS`], each a fact family whose question `i` is a pure function of
//! `i` (capitals, continents, elements, and computed facts: sums, products, remainders, exact
//! unit ratios, weekdays, letter counts); a sample picks a topic uniformly, then a question of
//! it uniformly. Rule kinds are an ordered list of 2–5 pairwise-compatible kinds; the
//! structural rules take a parameter from a range ([`WORD_MAX`], [`WORD_MIN`], …).
//!
//! **The prompt space** ([`distinct_prompts`]) is [`distinct_questions`] × [`rule_lists`]: a
//! prompt is counted by its question and its numbered rules with every parameter except the
//! keywords (keyword rules pick words from the reference answer, so prompts that differ only in
//! their keywords count once; the real number of distinct prompts is larger still).

pub use arena_core::ifeval::{keyword_words, sentence_count, IfRule, RuleKind, RULE_KINDS};

use super::facts::{nth_date, ordinal, MONTHS, UNIT_MAX, UNIT_MIN, UNIT_PAIRS, WEEKDAYS};
use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tables::{basic_english, countries, elements, one_continent_countries};

/// Closing phrases for the ends-with rule (Subnet 37's three first).
pub const END_PHRASES: [&str; 6] = [
    "Let me know if you have additional questions.",
    "Is there anything else I can help with?",
    "Hope that helps.",
    "Thank you for asking.",
    "Feel free to ask another question.",
    "That is my answer.",
];

/// Range of the word-count upper bound (every topic's answer sentence is shorter).
pub const WORD_MAX: (u64, u64) = (20, 60);
/// Range of the word-count lower bound (every topic has more words than the top).
pub const WORD_MIN: (u64, u64) = (10, 50);
/// Range of the sentence-count upper bound.
pub const SENTENCE_MAX: (u64, u64) = (1, 4);
/// Range of the sentence-count lower bound.
pub const SENTENCE_MIN: (u64, u64) = (2, 5);
/// Range of the exact bullet count.
pub const BULLETS: (u64, u64) = (1, 4);

/// Operand range of sums.
const SUM_OPERAND: (u64, u64) = (10, 999);
/// Factor ranges of products.
const PRODUCT: [(u64, u64); 2] = [(2, 99), (11, 999)];
/// Dividend and divisor ranges of remainders.
const REMAINDER: [(u64, u64); 2] = [(10, 9999), (3, 12)];
/// Range of the days-ahead count of weekday questions.
const DAYS_AHEAD: (u64, u64) = (2, 1000);

fn span((lo, hi): (u64, u64)) -> u64 {
    hi - lo + 1
}

/// A question family of the IFEval prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// What is the capital of COUNTRY?
    Capital,
    /// On which continent is COUNTRY? (single-continent states only)
    Continent,
    /// What is the chemical symbol of ELEMENT?
    Symbol,
    /// What is the atomic number of ELEMENT?
    AtomicNumber,
    /// What is A plus B?
    Sum,
    /// What is A times B?
    Product,
    /// What is the remainder when A is divided by B?
    Remainder,
    /// How many SMALL units are there in N BIG units?
    UnitCount,
    /// If today is DAY, what day of the week will it be in N days?
    WeekdayAfter,
    /// On which day of the week is DATE in the Gregorian calendar?
    DateWeekday,
    /// How many letters are in the word 'WORD'?
    WordLength,
}

/// Every topic, in the order a sample's topic index counts them.
pub const TOPICS: [Topic; 11] = [
    Topic::Capital,
    Topic::Continent,
    Topic::Symbol,
    Topic::AtomicNumber,
    Topic::Sum,
    Topic::Product,
    Topic::Remainder,
    Topic::UnitCount,
    Topic::WeekdayAfter,
    Topic::DateWeekday,
    Topic::WordLength,
];

/// A question with the sentences a reference answer is built from (first = the answer; all
/// true, none with a comma).
struct Question {
    question: String,
    sentences: Vec<String>,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

const GEOGRAPHY: [&str; 3] = [
    "This is a simple fact that you can check in any good atlas.",
    "Many students learn facts like this one at school when they study the world.",
    "Geography is a useful subject for understanding the countries of the world.",
];
const CHEMISTRY: [&str; 3] = [
    "Chemists use facts like these every day in their work in the laboratory.",
    "You can find this in any printed table of the chemical elements.",
    "The periodic table orders all of the known elements by their atomic number.",
];
const NUMBERS: [&str; 3] = [
    "You can check the result by working it out again on paper.",
    "Working through the steps slowly is the best way to avoid a mistake.",
    "Simple arithmetic like this is one of the first things taught in school.",
];
const CALENDAR: [&str; 3] = [
    "A week always has seven days from Monday through to Sunday.",
    "You can check this answer by counting forward on a printed calendar.",
    "Calendars have been used for thousands of years to keep track of time.",
];

impl Topic {
    /// A short name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Capital => "capital",
            Topic::Continent => "continent",
            Topic::Symbol => "symbol",
            Topic::AtomicNumber => "atomic_number",
            Topic::Sum => "sum",
            Topic::Product => "product",
            Topic::Remainder => "remainder",
            Topic::UnitCount => "unit_count",
            Topic::WeekdayAfter => "weekday_after",
            Topic::DateWeekday => "date_weekday",
            Topic::WordLength => "word_length",
        }
    }

    /// Number of distinct questions of the topic.
    pub fn count(self) -> u64 {
        match self {
            Topic::Capital => countries().len() as u64,
            Topic::Continent => one_continent_countries().len() as u64,
            Topic::Symbol | Topic::AtomicNumber => elements().len() as u64,
            Topic::Sum => span(SUM_OPERAND) * span(SUM_OPERAND),
            Topic::Product => span(PRODUCT[0]) * span(PRODUCT[1]),
            Topic::Remainder => span(REMAINDER[0]) * span(REMAINDER[1]),
            Topic::UnitCount => UNIT_PAIRS.len() as u64 * (UNIT_MAX - UNIT_MIN + 1),
            Topic::WeekdayAfter => 7 * span(DAYS_AHEAD),
            Topic::DateWeekday => super::facts::date_count(),
            Topic::WordLength => basic_english().len() as u64,
        }
    }

    /// Question `index` (in `0..count`) with its answer sentences; `None` out of range.
    fn question(self, index: u64) -> Option<Question> {
        if index >= self.count() {
            return None;
        }
        let i = index as usize;
        let q = |question: String, sentences: Vec<String>, filler: [&str; 3]| {
            let mut sentences = sentences;
            sentences.extend(filler.iter().map(|s| s.to_string()));
            Question {
                question,
                sentences,
            }
        };
        Some(match self {
            Topic::Capital => {
                let c = &countries()[i];
                q(
                    format!("What is the capital of {}?", c.name),
                    vec![
                        format!("The capital of {} is {}.", c.name, c.capital),
                        format!("{} is the capital city of {}.", c.capital, c.name),
                        format!("The government of {} meets in {}.", c.name, c.capital),
                        format!(
                            "Any good map of {} will show {} clearly.",
                            c.name, c.capital
                        ),
                        format!(
                            "If you travel to {} you may well visit {}.",
                            c.name, c.capital
                        ),
                    ],
                    GEOGRAPHY,
                )
            }
            Topic::Continent => {
                let c = &one_continent_countries()[i];
                q(
                    format!("On which continent is {}?", c.name),
                    vec![
                        format!("{} is a country in {}.", c.name, c.continent),
                        format!("{} lies on the continent of {}.", c.name, c.continent),
                        format!("The capital city of {} is {}.", c.name, c.capital),
                        format!(
                            "On a map of the world you will find {} in {}.",
                            c.name, c.continent
                        ),
                        format!("All of {} lies within {}.", c.name, c.continent),
                    ],
                    GEOGRAPHY,
                )
            }
            Topic::Symbol | Topic::AtomicNumber => {
                let e = &elements()[i];
                let core = if self == Topic::Symbol {
                    format!("The chemical symbol of {} is {}.", e.name, e.symbol)
                } else {
                    format!("The atomic number of {} is {}.", e.name, e.number)
                };
                let asked = if self == Topic::Symbol {
                    "chemical symbol"
                } else {
                    "atomic number"
                };
                q(
                    format!("What is the {asked} of {}?", e.name.to_lowercase()),
                    vec![
                        core,
                        format!(
                            "{} has the symbol {} in the periodic table.",
                            e.name, e.symbol
                        ),
                        format!(
                            "Each atom of {} has {} in its nucleus.",
                            e.name,
                            plural(u64::from(e.number), "proton", "protons")
                        ),
                        format!(
                            "{} is element number {} of the periodic table.",
                            e.name, e.number
                        ),
                        format!("The symbol {} stands for the element {}.", e.symbol, e.name),
                    ],
                    CHEMISTRY,
                )
            }
            Topic::Sum => {
                let a = SUM_OPERAND.0 + index / span(SUM_OPERAND);
                let b = SUM_OPERAND.0 + index % span(SUM_OPERAND);
                let s = a + b;
                q(
                    format!("What is {a} plus {b}?"),
                    vec![
                        format!("{a} plus {b} makes {s} in total."),
                        format!("Adding {b} to {a} gives {s}."),
                        format!("The sum of {a} and {b} is {s}."),
                        format!("Taking {b} away from {s} leaves {a}."),
                        format!("Taking {a} away from {s} leaves {b}."),
                    ],
                    NUMBERS,
                )
            }
            Topic::Product => {
                let a = PRODUCT[0].0 + index / span(PRODUCT[1]);
                let b = PRODUCT[1].0 + index % span(PRODUCT[1]);
                let p = a * b;
                q(
                    format!("What is {a} times {b}?"),
                    vec![
                        format!("{a} times {b} makes {p} in total."),
                        format!("Multiplying {a} by {b} gives {p}."),
                        format!("The product of {a} and {b} is {p}."),
                        format!("Dividing {p} by {a} gives {b}."),
                        format!("Dividing {p} by {b} gives {a}."),
                    ],
                    NUMBERS,
                )
            }
            Topic::Remainder => {
                let a = REMAINDER[0].0 + index / span(REMAINDER[1]);
                let b = REMAINDER[1].0 + index % span(REMAINDER[1]);
                let (quotient, r) = (a / b, a % b);
                q(
                    format!("What is the remainder when {a} is divided by {b}?"),
                    vec![
                        format!("The remainder when {a} is divided by {b} is {r}."),
                        format!(
                            "{b} goes into {a} {} with {r} left over.",
                            plural(quotient, "whole time", "whole times")
                        ),
                        format!("{quotient} times {b} is {}.", quotient * b),
                        format!(
                            "Adding the remainder {r} to {} gives back {a}.",
                            quotient * b
                        ),
                        format!("A remainder is always smaller than the number {b} you divide by."),
                    ],
                    NUMBERS,
                )
            }
            Topic::UnitCount => {
                let amounts = UNIT_MAX - UNIT_MIN + 1;
                let pair = &UNIT_PAIRS[(index / amounts) as usize];
                let n = UNIT_MIN + index % amounts;
                let total = n * pair.factor;
                q(
                    format!("How many {} are there in {n} {}?", pair.small, pair.big),
                    vec![
                        format!("There are {total} {} in {n} {}.", pair.small, pair.big),
                        format!(
                            "One {} is equal to {} {}.",
                            pair.big_one, pair.factor, pair.small
                        ),
                        format!("Multiplying {n} by {} gives {total}.", pair.factor),
                        format!("So {n} {} make {total} {} in all.", pair.big, pair.small),
                        format!(
                            "To go from {} to {} you multiply by {}.",
                            pair.big, pair.small, pair.factor
                        ),
                    ],
                    NUMBERS,
                )
            }
            Topic::WeekdayAfter => {
                let today = (index / span(DAYS_AHEAD)) as usize;
                let ahead = DAYS_AHEAD.0 + index % span(DAYS_AHEAD);
                let then = WEEKDAYS[(today + ahead as usize) % 7];
                q(
                    format!(
                        "If today is {}, what day of the week will it be in {ahead} days?",
                        WEEKDAYS[today]
                    ),
                    vec![
                        format!("In {ahead} days it will be {then}."),
                        format!(
                            "{ahead} days make {} and {}.",
                            plural(ahead / 7, "week", "weeks"),
                            plural(ahead % 7, "day", "days")
                        ),
                        "Whole weeks always bring you back to the same day of the week."
                            .to_string(),
                        format!(
                            "Counting {} on from {} gives {then}.",
                            plural(ahead % 7, "day", "days"),
                            WEEKDAYS[today]
                        ),
                        format!(
                            "So the day {ahead} days after a {} is a {then}.",
                            WEEKDAYS[today]
                        ),
                    ],
                    CALENDAR,
                )
            }
            Topic::DateWeekday => {
                let date = nth_date(index);
                let day = WEEKDAYS[date.weekday()];
                q(
                    format!(
                        "On which day of the week is {} in the Gregorian calendar?",
                        date.written()
                    ),
                    vec![
                        format!("{} is a {day}.", date.written()),
                        format!("That date falls on a {day} in the Gregorian calendar."),
                        format!(
                            "The {} of {} {} is a {day}.",
                            ordinal(u64::from(date.day)),
                            MONTHS[date.month as usize - 1],
                            date.year
                        ),
                        "The Gregorian calendar repeats its weekdays every four hundred years."
                            .to_string(),
                        format!("A {day} is one of the seven days of the week."),
                    ],
                    CALENDAR,
                )
            }
            Topic::WordLength => {
                let word = basic_english()[i];
                let n = word.chars().count() as u64;
                q(
                    format!("How many letters are in the word '{word}'?"),
                    vec![
                        format!("The word {word} has {}.", plural(n, "letter", "letters")),
                        format!("Counting each letter of {word} gives {n}."),
                        format!(
                            "Spelled out letter by letter the word {word} is {}.",
                            word.chars()
                                .map(|c| c.to_string())
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        format!("{word} is one of the words in the Basic English list."),
                        "Counting letters carefully means looking at each one in turn.".to_string(),
                    ],
                    [
                        "Words in English can be as short as one letter or very long.",
                        "A good dictionary shows the spelling of every English word.",
                        "Spelling is one of the first things children learn to read and write.",
                    ],
                )
            }
        })
    }
}

/// Number of distinct questions the prompts ask: the sum of [`Topic::count`] over [`TOPICS`].
pub fn distinct_questions() -> u128 {
    TOPICS.iter().map(|t| u128::from(t.count())).sum()
}

/// Number of parameter values a rule kind is drawn with (1 for kinds without a parameter and
/// for keyword kinds, whose keywords are not counted).
pub fn parameter_choices(kind: RuleKind) -> u128 {
    let width = |range: (u64, u64)| u128::from(span(range));
    match kind {
        RuleKind::WordAtMost => width(WORD_MAX),
        RuleKind::WordAtLeast => width(WORD_MIN),
        RuleKind::SentenceAtMost => width(SENTENCE_MAX),
        RuleKind::SentenceAtLeast => width(SENTENCE_MIN),
        RuleKind::Bullets => width(BULLETS),
        RuleKind::EndsWith => END_PHRASES.len() as u128,
        _ => 1,
    }
}

/// Number of distinct rule lists a prompt can state: ordered lists of 2–5 pairwise-compatible
/// kinds (what [`choose_kinds`] can return), each kind with its [`parameter_choices`].
pub fn rule_lists() -> u128 {
    fn extend(list: &mut Vec<RuleKind>) -> u128 {
        let mut total = if list.len() >= 2 { 1 } else { 0 };
        if list.len() == 5 {
            return total;
        }
        for kind in RULE_KINDS {
            if list.iter().all(|k| k.compatible(kind)) {
                list.push(kind);
                total += parameter_choices(kind) * extend(list);
                list.pop();
            }
        }
        total
    }
    extend(&mut Vec::new())
}

/// Number of distinct prompts: [`distinct_questions`] × [`rule_lists`] (prompts differing
/// only in their keywords count once).
pub fn distinct_prompts() -> u128 {
    distinct_questions() * rule_lists()
}

fn draw_topic(rng: &mut DrawRng) -> Question {
    let topic = TOPICS[rng.index(TOPICS.len())];
    let mut question = topic
        .question(rng.below(topic.count()))
        .unwrap_or_else(|| Question {
            question: "What is 10 plus 10?".into(),
            sentences: vec!["10 plus 10 is 20.".into()],
        });
    rng.shuffle(&mut question.sentences[1..]);
    question
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

/// The words of `text` a keyword rule may name (sorted, distinct): alphabetic, longer than two
/// letters, not a stop word. Every question's answer sentence has at least two, so the two
/// keyword rules that name present words always find them.
fn keyword_candidates(text: &str) -> Vec<String> {
    let mut candidates: Vec<String> = keyword_words(text)
        .into_iter()
        .filter(|w| {
            w.len() > 2 && w.chars().all(char::is_alphabetic) && !STOP_WORDS.contains(&w.as_str())
        })
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    candidates
}

/// Picks the rule kinds: shuffle the pool, want 2–5, skip kinds that clash with chosen ones.
pub fn choose_kinds(rng: &mut DrawRng) -> Vec<RuleKind> {
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
    let pick = |rng: &mut DrawRng, (lo, hi): (u64, u64)| rng.range(lo, hi) as usize;

    // Parameters of the structural rules.
    let word_max = has(RuleKind::WordAtMost).then(|| pick(rng, WORD_MAX));
    let word_min = has(RuleKind::WordAtLeast).then(|| pick(rng, WORD_MIN));
    let sent_max = has(RuleKind::SentenceAtMost).then(|| pick(rng, SENTENCE_MAX));
    let sent_min = has(RuleKind::SentenceAtLeast).then(|| pick(rng, SENTENCE_MIN));
    let bullets = if has(RuleKind::Bullets) {
        pick(rng, BULLETS)
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
    let candidates = keyword_candidates(&text);
    let mut taken: Vec<String> = Vec::new();
    let take_present = |rng: &mut DrawRng, taken: &mut Vec<String>| -> String {
        let free: Vec<&String> = candidates.iter().filter(|w| !taken.contains(w)).collect();
        // Never short: the answer sentence alone has two candidates (a test checks every
        // question), and at most two keyword rules name present words.
        let word = free
            .get(rng.index(free.len().max(1)))
            .map(|w| (*w).clone())
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
    use arena_core::seed::Seed;
    use std::collections::HashSet;

    #[test]
    fn rule_lists_match_a_brute_force_count() {
        // Every tuple of 2–5 kinds, kept when the kinds are distinct and pairwise compatible.
        let mut total = 0u128;
        for len in 2..=5u32 {
            for code in 0..13usize.pow(len) {
                let kinds: Vec<RuleKind> = (0..len)
                    .map(|d| RULE_KINDS[code / 13usize.pow(d) % 13])
                    .collect();
                let ok = kinds
                    .iter()
                    .enumerate()
                    .all(|(i, a)| kinds[i + 1..].iter().all(|b| a != b && a.compatible(*b)));
                if ok {
                    total += kinds
                        .iter()
                        .map(|k| parameter_choices(*k))
                        .product::<u128>();
                }
            }
        }
        assert_eq!(rule_lists(), total);
        // Also computed independently (a Python transcription of the compatibility table).
        assert_eq!(total, 10_860_916);
        // Every list choose_kinds returns is one of them.
        let seed = Seed([5; 32]);
        for i in 0..2_000 {
            let kinds = choose_kinds(&mut DrawRng::new(&seed, "kinds", i));
            assert!((2..=5).contains(&kinds.len()), "{kinds:?}");
            for (j, a) in kinds.iter().enumerate() {
                assert!(kinds[j + 1..].iter().all(|b| a.compatible(*b)), "{kinds:?}");
            }
        }
    }

    #[test]
    fn every_question_is_distinct_and_fits_every_parameter() {
        let mut questions = HashSet::new();
        for topic in TOPICS {
            for i in 0..topic.count() {
                let q = topic.question(i).unwrap();
                // One question per index; the answer sentence fits the tightest upper bounds,
                // and all sentences together reach the highest lower bounds.
                assert!(
                    questions.insert(q.question.clone()),
                    "repeats {}",
                    q.question
                );
                assert_eq!(q.sentences.len(), 8, "{}", q.question);
                assert!(
                    q.sentences.iter().all(|s| !s.contains(',')),
                    "{:?}",
                    q.sentences
                );
                assert!(
                    q.sentences.iter().all(|s| sentence_count(s) == 1),
                    "{:?}",
                    q.sentences
                );
                assert!(
                    keyword_candidates(&q.sentences[0]).len() >= 2,
                    "{}",
                    q.sentences[0]
                );
                let core = q.sentences[0].split_whitespace().count() as u64;
                assert!(core <= WORD_MAX.0, "{}", q.sentences[0]);
                let words: usize = q
                    .sentences
                    .iter()
                    .map(|s| s.split_whitespace().count())
                    .sum();
                assert!(
                    words as u64 >= WORD_MIN.1,
                    "{} words: {:?}",
                    words,
                    q.sentences
                );
            }
            assert!(topic.question(topic.count()).is_none());
        }
        assert_eq!(questions.len() as u128, distinct_questions());
    }

    #[test]
    fn questions_state_hand_checked_answers() {
        let first = |t: Topic, i: u64| {
            let q = t.question(i).unwrap();
            (q.question, q.sentences[0].clone())
        };
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            first(Topic::Sum, 1),
            s("What is 10 plus 11?", "10 plus 11 makes 21 in total.")
        );
        assert_eq!(
            first(Topic::Product, 0),
            s("What is 2 times 11?", "2 times 11 makes 22 in total.")
        );
        assert_eq!(
            first(Topic::Remainder, 19),
            s(
                "What is the remainder when 11 is divided by 12?",
                "The remainder when 11 is divided by 12 is 11."
            )
        );
        assert_eq!(
            first(Topic::UnitCount, 0),
            s(
                "How many metres are there in 2 kilometres?",
                "There are 2000 metres in 2 kilometres."
            )
        );
        assert_eq!(
            first(Topic::WeekdayAfter, 0),
            s(
                "If today is Monday, what day of the week will it be in 2 days?",
                "In 2 days it will be Wednesday."
            )
        );
        assert_eq!(
            first(Topic::DateWeekday, 365),
            s(
                "On which day of the week is 1 January 1901 in the Gregorian calendar?",
                "1 January 1901 is a Tuesday."
            )
        );
        assert_eq!(
            first(Topic::WordLength, 0),
            s(
                "How many letters are in the word 'come'?",
                "The word come has 4 letters."
            )
        );
    }

    #[test]
    fn the_prompt_space_is_the_product_of_questions_and_rule_lists() {
        assert_eq!(distinct_questions(), 1_270_385);
        assert_eq!(distinct_prompts(), distinct_questions() * rule_lists());
        assert!(distinct_prompts() >= 1_000_000_000);
        // Distinct prompts keep growing with the draw count: 20,000 samples barely repeat.
        let seed = Seed([11; 32]);
        let prompts: HashSet<String> = (0..20_000)
            .map(|i| generate(&mut DrawRng::new(&seed, "if_eval", i), i.to_string()).prompt)
            .collect();
        assert!(prompts.len() >= 19_990, "{}", prompts.len());
    }
}
