//! IFEval-style instruction following (Subnet 37's IF_EVAL V2 rule set).
//!
//! A prompt asks a question from the fact tables and states 2–5 compatible rules; the sample's
//! `rules` field carries them as [`IfRule`] values that an evaluator checks with
//! [`IfRule::is_satisfied_by`], and the reference response satisfies all of them. The rules
//! themselves (and their text conventions) live in [`arena_core::ifeval`], shared with the
//! evaluator; this module only draws prompts and reference answers.

pub use arena_core::ifeval::{keyword_words, sentence_count, IfRule, RuleKind, RULE_KINDS};

use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tables::{basic_english, countries, elements};

/// Subnet 37's closing phrases for the ends-with rule.
pub const END_PHRASES: [&str; 3] = [
    "Let me know if you have additional questions.",
    "Is there anything else I can help with?",
    "Hope that helps.",
];

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
