//! Four-option multiple-choice questions, composed from the shipped fact tables and from facts
//! computed exactly (sums, remainders, unit ratios, calendar weekdays, primes, word spellings).
//!
//! Every question belongs to one [`Family`]; a sample first picks a family uniformly, then a
//! question of that family. Two kinds of family:
//!
//! * *fixed-answer* families ("What is 417 plus 86?"): the question text alone decides the
//!   answer. Question `i` of such a family is a pure function of `i` (mixed-radix digits over
//!   the family's parameters), drawn uniformly from `0..count`; the three distractors are drawn
//!   from plausible wrong answers (other capitals, near misses, other weekdays);
//! * *option-decided* families ("Which of these numbers is prime?"): the answer depends on the
//!   options, which are drawn so that exactly one satisfies the question.
//!
//! The right option appears exactly once and the four options are distinct. Continent
//! questions leave out states commonly counted on two continents
//! ([`crate::tables::MANY_CONTINENTS`]).
//!
//! **The question space** ([`distinct_questions`]) counts a question as its text for
//! fixed-answer families, and as its text with its (unordered) option set for option-decided
//! ones; option order, and the distractors of fixed-answer questions, are not counted.
//! [`fixed_answer_questions`] counts the fixed-answer families alone: a lower bound on what a
//! miner would have to memorise question by question. Both are computed from the tables and
//! ranges below; tests enumerate every fixed-answer family to check them.

use super::facts::{choose, is_prime, nth_date, ordinal, UNIT_MAX, UNIT_MIN, UNIT_PAIRS, WEEKDAYS};
use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tables::{
    basic_english, continents, countries, elements, one_continent_countries, sortable_words,
};

/// Option letters, in prompt order.
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// Smallest number in numeric operands and option pools (sums, differences, primes, …).
pub const NUMBER_MIN: u64 = 10;
/// Largest number in numeric operands and option pools.
pub const NUMBER_MAX: u64 = 999;
/// Range of the first factor of products.
const PRODUCT_A: (u64, u64) = (2, 99);
/// Range of the second factor of products.
const PRODUCT_B: (u64, u64) = (11, 999);
/// Range of dividends of remainder questions.
const DIVIDEND: (u64, u64) = (10, 9999);
/// Range of divisors, for remainders and "divisible by" questions.
const DIVISOR: (u64, u64) = (3, 12);
/// Range of the days-ahead count of weekday questions.
const DAYS_AHEAD: (u64, u64) = (2, 1000);

/// A family of questions built from one template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// What is the capital of COUNTRY?
    CapitalOf,
    /// CAPITAL is the capital of which country?
    CountryOfCapital,
    /// On which continent is COUNTRY? (single-continent states only)
    ContinentOf,
    /// What is the chemical symbol of ELEMENT?
    SymbolOf,
    /// Which element has the chemical symbol SYMBOL?
    ElementOfSymbol,
    /// What is the atomic number of ELEMENT?
    NumberOf,
    /// Which element has atomic number N?
    ElementOfNumber,
    /// What is A plus B?
    Sum,
    /// What is A minus B? (answers may be zero or negative)
    Difference,
    /// What is A times B?
    Product,
    /// What is the remainder when A is divided by B?
    Remainder,
    /// How many SMALL units are there in N BIG units?
    UnitCount,
    /// If today is DAY, what day of the week will it be in N days?
    WeekdayAfter,
    /// On which day of the week is DATE? (1900–2099)
    DateWeekday,
    /// How many letters are in the word "WORD"?
    WordLength,
    /// What is the Kth letter of the word "WORD"?
    LetterAt,
    /// Which of these numbers is prime?
    Prime,
    /// Which of these numbers is divisible by K?
    Divisible,
    /// Which of these numbers is a perfect square?
    Square,
    /// Which of these numbers is the largest / the smallest?
    NumberExtreme,
    /// Which of these countries is in CONTINENT?
    CountryOnContinent,
    /// Which of these elements has the largest / the smallest atomic number?
    ElementExtreme,
    /// Which of these words comes first / last in alphabetical order?
    Alphabetical,
    /// Which of these words has the most / the fewest letters?
    WordLengthExtreme,
}

/// Every family, in the order a sample's family index counts them.
pub const FAMILIES: [Family; 24] = [
    Family::CapitalOf,
    Family::CountryOfCapital,
    Family::ContinentOf,
    Family::SymbolOf,
    Family::ElementOfSymbol,
    Family::NumberOf,
    Family::ElementOfNumber,
    Family::Sum,
    Family::Difference,
    Family::Product,
    Family::Remainder,
    Family::UnitCount,
    Family::WeekdayAfter,
    Family::DateWeekday,
    Family::WordLength,
    Family::LetterAt,
    Family::Prime,
    Family::Divisible,
    Family::Square,
    Family::NumberExtreme,
    Family::CountryOnContinent,
    Family::ElementExtreme,
    Family::Alphabetical,
    Family::WordLengthExtreme,
];

/// A question with its right answer and candidate wrong answers (at least three distinct
/// ones differ from `right`; the ones equal to it are filtered out).
struct Question {
    text: String,
    right: String,
    wrong: Vec<String>,
}

fn span((lo, hi): (u64, u64)) -> u64 {
    hi - lo + 1
}

fn numbers() -> impl Iterator<Item = u64> {
    NUMBER_MIN..=NUMBER_MAX
}

/// Wrong numeric answers near `right`: `right + offset` for each offset, at least `min`.
fn near(right: i64, offsets: &[i64], min: i64) -> Vec<String> {
    offsets
        .iter()
        .map(|o| right + o)
        .filter(|&n| n >= min && n != right)
        .map(|n| n.to_string())
        .collect()
}

const NEAR: [i64; 12] = [-100, -11, -10, -9, -2, -1, 1, 2, 9, 10, 11, 100];

fn letters(word: &str) -> usize {
    word.chars().count()
}

/// For each length, the number of words of `basic_english()` strictly shorter (`shorter`) or
/// strictly longer than it (indexed by length; lengths past the longest word map to 0 longer).
fn words_around(shorter: bool) -> Vec<usize> {
    let longest = basic_english()
        .iter()
        .map(|w| letters(w))
        .max()
        .unwrap_or(0);
    let mut of_length = vec![0usize; longest + 2];
    for w in basic_english() {
        of_length[letters(w)] += 1;
    }
    (0..of_length.len())
        .map(|len| {
            if shorter {
                of_length[..len].iter().sum()
            } else {
                of_length[len + 1..].iter().sum()
            }
        })
        .collect()
}

/// The single-continent countries on (`on`) or off `continent`.
fn on_continent(continent: &str, on: bool) -> Vec<&'static str> {
    one_continent_countries()
        .iter()
        .filter(|c| (c.continent == continent) == on)
        .map(|c| c.name)
        .collect()
}

/// The numbers of the option pool that do / do not satisfy an option-decided number question.
fn number_pool(test: impl Fn(u64) -> bool, yes: bool) -> Vec<u64> {
    numbers().filter(|&n| test(n) == yes).collect()
}

fn is_square(n: u64) -> bool {
    let r = (n as f64).sqrt() as u64;
    (r.saturating_sub(1)..=r + 1).any(|k| k * k == n)
}

impl Family {
    /// A short name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::CapitalOf => "capital_of",
            Family::CountryOfCapital => "country_of_capital",
            Family::ContinentOf => "continent_of",
            Family::SymbolOf => "symbol_of",
            Family::ElementOfSymbol => "element_of_symbol",
            Family::NumberOf => "number_of",
            Family::ElementOfNumber => "element_of_number",
            Family::Sum => "sum",
            Family::Difference => "difference",
            Family::Product => "product",
            Family::Remainder => "remainder",
            Family::UnitCount => "unit_count",
            Family::WeekdayAfter => "weekday_after",
            Family::DateWeekday => "date_weekday",
            Family::WordLength => "word_length",
            Family::LetterAt => "letter_at",
            Family::Prime => "prime",
            Family::Divisible => "divisible",
            Family::Square => "square",
            Family::NumberExtreme => "number_extreme",
            Family::CountryOnContinent => "country_on_continent",
            Family::ElementExtreme => "element_extreme",
            Family::Alphabetical => "alphabetical",
            Family::WordLengthExtreme => "word_length_extreme",
        }
    }

    /// Whether the answer depends on the option set (true) or on the question text alone.
    pub fn options_decide(self) -> bool {
        matches!(
            self,
            Family::Prime
                | Family::Divisible
                | Family::Square
                | Family::NumberExtreme
                | Family::CountryOnContinent
                | Family::ElementExtreme
                | Family::Alphabetical
                | Family::WordLengthExtreme
        )
    }

    /// Number of distinct questions of the family (see the module documentation for what
    /// makes two questions distinct).
    pub fn count(self) -> u128 {
        let n = |x: usize| x as u128;
        let yes_no = |yes: usize, no: usize| n(yes) * choose(n(no), 3);
        match self {
            Family::CapitalOf | Family::CountryOfCapital => n(countries().len()),
            Family::ContinentOf => n(one_continent_countries().len()),
            Family::SymbolOf
            | Family::ElementOfSymbol
            | Family::NumberOf
            | Family::ElementOfNumber => n(elements().len()),
            Family::Sum | Family::Difference => n(numbers().count()).pow(2),
            Family::Product => u128::from(span(PRODUCT_A) * span(PRODUCT_B)),
            Family::Remainder => u128::from(span(DIVIDEND) * span(DIVISOR)),
            Family::UnitCount => n(UNIT_PAIRS.len()) * u128::from(UNIT_MAX - UNIT_MIN + 1),
            Family::WeekdayAfter => 7 * u128::from(span(DAYS_AHEAD)),
            Family::DateWeekday => u128::from(super::facts::date_count()),
            Family::WordLength => n(basic_english().len()),
            Family::LetterAt => basic_english().iter().map(|w| n(letters(w))).sum(),
            Family::Prime => yes_no(
                number_pool(is_prime, true).len(),
                number_pool(is_prime, false).len(),
            ),
            Family::Divisible => (DIVISOR.0..=DIVISOR.1)
                .map(|k| {
                    let divides = move |x: u64| x % k == 0;
                    yes_no(
                        number_pool(divides, true).len(),
                        number_pool(divides, false).len(),
                    )
                })
                .sum(),
            Family::Square => yes_no(
                number_pool(is_square, true).len(),
                number_pool(is_square, false).len(),
            ),
            Family::NumberExtreme => 2 * choose(n(numbers().count()), 4),
            Family::CountryOnContinent => continents()
                .iter()
                .map(|c| yes_no(on_continent(c, true).len(), on_continent(c, false).len()))
                .sum(),
            Family::ElementExtreme => 2 * choose(n(elements().len()), 4),
            Family::Alphabetical => 2 * choose(n(sortable_words().len()), 4),
            Family::WordLengthExtreme => {
                let (shorter, longer) = (words_around(true), words_around(false));
                basic_english()
                    .iter()
                    .map(|w| choose(n(shorter[letters(w)]), 3) + choose(n(longer[letters(w)]), 3))
                    .sum()
            }
        }
    }

    /// Question `index` (in `0..count`) of a fixed-answer family; `None` for option-decided
    /// families or an index out of range.
    fn fixed(self, index: u64) -> Option<Question> {
        if self.options_decide() || u128::from(index) >= self.count() {
            return None;
        }
        let i = index as usize;
        let q = |text: String, right: String, wrong: Vec<String>| Question { text, right, wrong };
        let weekdays = || WEEKDAYS.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        Some(match self {
            Family::CapitalOf => {
                let c = &countries()[i];
                q(
                    format!("What is the capital of {}?", c.name),
                    c.capital.to_string(),
                    countries().iter().map(|c| c.capital.to_string()).collect(),
                )
            }
            Family::CountryOfCapital => {
                let c = &countries()[i];
                q(
                    format!("{} is the capital of which country?", c.capital),
                    c.name.to_string(),
                    countries().iter().map(|c| c.name.to_string()).collect(),
                )
            }
            Family::ContinentOf => {
                let c = &one_continent_countries()[i];
                q(
                    format!("On which continent is {}?", c.name),
                    c.continent.to_string(),
                    continents().iter().map(|c| c.to_string()).collect(),
                )
            }
            Family::SymbolOf => {
                let e = &elements()[i];
                q(
                    format!("What is the chemical symbol of {}?", e.name.to_lowercase()),
                    e.symbol.to_string(),
                    elements().iter().map(|e| e.symbol.to_string()).collect(),
                )
            }
            Family::ElementOfSymbol => {
                let e = &elements()[i];
                q(
                    format!("Which element has the chemical symbol {}?", e.symbol),
                    e.name.to_string(),
                    elements().iter().map(|e| e.name.to_string()).collect(),
                )
            }
            Family::NumberOf => {
                let e = &elements()[i];
                q(
                    format!("What is the atomic number of {}?", e.name.to_lowercase()),
                    e.number.to_string(),
                    elements().iter().map(|e| e.number.to_string()).collect(),
                )
            }
            Family::ElementOfNumber => {
                let e = &elements()[i];
                q(
                    format!("Which element has atomic number {}?", e.number),
                    e.name.to_string(),
                    elements().iter().map(|e| e.name.to_string()).collect(),
                )
            }
            Family::Sum | Family::Difference => {
                let width = numbers().count() as u64;
                let a = (NUMBER_MIN + index / width) as i64;
                let b = (NUMBER_MIN + index % width) as i64;
                if self == Family::Sum {
                    q(
                        format!("What is {a} plus {b}?"),
                        (a + b).to_string(),
                        near(a + b, &NEAR, 0),
                    )
                } else {
                    let mut wrong = near(a - b, &NEAR, i64::MIN);
                    wrong.push((b - a).to_string());
                    q(
                        format!("What is {a} minus {b}?"),
                        (a - b).to_string(),
                        wrong,
                    )
                }
            }
            Family::Product => {
                let a = (PRODUCT_A.0 + index / span(PRODUCT_B)) as i64;
                let b = (PRODUCT_B.0 + index % span(PRODUCT_B)) as i64;
                let right = a * b;
                q(
                    format!("What is {a} times {b}?"),
                    right.to_string(),
                    near(right, &[-b, -a, -10, -1, 1, 10, a, b], 1),
                )
            }
            Family::Remainder => {
                let a = DIVIDEND.0 + index / span(DIVISOR);
                let b = DIVISOR.0 + index % span(DIVISOR);
                q(
                    format!("What is the remainder when {a} is divided by {b}?"),
                    (a % b).to_string(),
                    (0..=b).map(|r| r.to_string()).collect(),
                )
            }
            Family::UnitCount => {
                let amounts = UNIT_MAX - UNIT_MIN + 1;
                let pair = &UNIT_PAIRS[(index / amounts) as usize];
                let amount = (UNIT_MIN + index % amounts) as i64;
                let factor = pair.factor as i64;
                let right = amount * factor;
                q(
                    format!(
                        "How many {} are there in {amount} {}?",
                        pair.small, pair.big
                    ),
                    right.to_string(),
                    near(
                        right,
                        &[-amount, amount, -factor, factor, -10, 10, 9 * right],
                        1,
                    ),
                )
            }
            Family::WeekdayAfter => {
                let today = (index / span(DAYS_AHEAD)) as usize;
                let ahead = DAYS_AHEAD.0 + index % span(DAYS_AHEAD);
                q(
                    format!(
                        "If today is {}, what day of the week will it be in {ahead} days?",
                        WEEKDAYS[today]
                    ),
                    WEEKDAYS[(today + ahead as usize) % 7].to_string(),
                    weekdays(),
                )
            }
            Family::DateWeekday => {
                let date = nth_date(index);
                q(
                    format!(
                        "On which day of the week is {} in the Gregorian calendar?",
                        date.written()
                    ),
                    WEEKDAYS[date.weekday()].to_string(),
                    weekdays(),
                )
            }
            Family::WordLength => {
                let word = basic_english()[i];
                let len = letters(word) as i64;
                q(
                    format!("How many letters are in the word \"{word}\"?"),
                    len.to_string(),
                    near(len, &[-3, -2, -1, 1, 2, 3], 1),
                )
            }
            Family::LetterAt => {
                let mut rest = i;
                let word = basic_english()
                    .iter()
                    .find(|w| {
                        let fits = rest < letters(w);
                        if !fits {
                            rest -= letters(w);
                        }
                        fits
                    })
                    .copied()?;
                let letter = word.chars().nth(rest)?;
                q(
                    format!(
                        "What is the {} letter of the word \"{word}\"?",
                        ordinal(rest as u64 + 1)
                    ),
                    letter.to_string(),
                    ('a'..='z').map(|c| c.to_string()).collect(),
                )
            }
            _ => return None,
        })
    }

    /// A random question of an option-decided family (exactly three wrong options).
    fn decided(self, rng: &mut DrawRng) -> Option<Question> {
        let to_strings = |items: Vec<u64>| items.iter().map(u64::to_string).collect::<Vec<_>>();
        // One option from `yes`, three distinct from `no`.
        fn one_of<T: Clone>(rng: &mut DrawRng, yes: &[T], no: &[T]) -> Option<(T, Vec<T>)> {
            let right = rng.pick(yes)?.clone();
            let wrong: Vec<T> = rng
                .distinct(no.len(), 3)
                .into_iter()
                .map(|i| no[i].clone())
                .collect();
            (wrong.len() == 3).then_some((right, wrong))
        }
        // Four distinct items; the right one is the extreme by `key` (ties are impossible
        // where this is used: keys are distinct).
        fn extreme<T: Clone, K: Ord>(
            rng: &mut DrawRng,
            pool: &[T],
            largest: bool,
            key: impl Fn(&T) -> K,
        ) -> Option<(T, Vec<T>)> {
            let mut four: Vec<T> = rng
                .distinct(pool.len(), 4)
                .into_iter()
                .map(|i| pool[i].clone())
                .collect();
            four.sort_by_key(|x| key(x));
            if four.len() != 4 {
                return None;
            }
            let right = if largest { four.pop()? } else { four.remove(0) };
            Some((right, four))
        }
        let largest = rng.chance(1, 2);
        let (most, least) = if largest {
            ("largest", "most")
        } else {
            ("smallest", "fewest")
        };
        let question =
            |text: String, (right, wrong): (String, Vec<String>)| Question { text, right, wrong };
        Some(match self {
            Family::Prime => {
                let (r, w) = one_of(
                    rng,
                    &number_pool(is_prime, true),
                    &number_pool(is_prime, false),
                )?;
                question(
                    "Which of these numbers is prime?".into(),
                    (r.to_string(), to_strings(w)),
                )
            }
            Family::Divisible => {
                let k = rng.range(DIVISOR.0, DIVISOR.1);
                let divides = move |x: u64| x % k == 0;
                let (r, w) = one_of(
                    rng,
                    &number_pool(divides, true),
                    &number_pool(divides, false),
                )?;
                question(
                    format!("Which of these numbers is divisible by {k}?"),
                    (r.to_string(), to_strings(w)),
                )
            }
            Family::Square => {
                let (r, w) = one_of(
                    rng,
                    &number_pool(is_square, true),
                    &number_pool(is_square, false),
                )?;
                question(
                    "Which of these numbers is a perfect square?".into(),
                    (r.to_string(), to_strings(w)),
                )
            }
            Family::NumberExtreme => {
                let pool: Vec<u64> = numbers().collect();
                let (r, w) = extreme(rng, &pool, largest, |x| *x)?;
                question(
                    format!("Which of these numbers is the {most}?"),
                    (r.to_string(), to_strings(w)),
                )
            }
            Family::CountryOnContinent => {
                let continent = *rng.pick(continents())?;
                let (r, w) = one_of(
                    rng,
                    &on_continent(continent, true),
                    &on_continent(continent, false),
                )?;
                question(
                    format!("Which of these countries is in {continent}?"),
                    (r.to_string(), w.iter().map(|c| c.to_string()).collect()),
                )
            }
            Family::ElementExtreme => {
                let (r, w) = extreme(rng, elements(), largest, |e| e.number)?;
                question(
                    format!("Which of these elements has the {most} atomic number?"),
                    (
                        r.name.to_string(),
                        w.iter().map(|e| e.name.to_string()).collect(),
                    ),
                )
            }
            Family::Alphabetical => {
                let (r, w) = extreme(rng, sortable_words(), !largest, |w| *w)?;
                let place = if largest { "first" } else { "last" };
                question(
                    format!("Which of these words comes {place} in alphabetical order?"),
                    (r.to_string(), w.iter().map(|w| w.to_string()).collect()),
                )
            }
            Family::WordLengthExtreme => {
                // The right word, then three words strictly shorter (most) / longer (fewest).
                let beyond = |w: &str, x: &str| {
                    if largest {
                        letters(x) < letters(w)
                    } else {
                        letters(x) > letters(w)
                    }
                };
                let around = words_around(largest);
                let eligible: Vec<&str> = basic_english()
                    .iter()
                    .copied()
                    .filter(|w| around[letters(w)] >= 3)
                    .collect();
                let right = *rng.pick(&eligible)?;
                let others: Vec<&str> = basic_english()
                    .iter()
                    .copied()
                    .filter(|x| beyond(right, x))
                    .collect();
                let wrong = rng
                    .distinct(others.len(), 3)
                    .into_iter()
                    .map(|i| others[i].to_string())
                    .collect();
                question(
                    format!("Which of these words has the {least} letters?"),
                    (right.to_string(), wrong),
                )
            }
            _ => return None,
        })
    }

    fn draw(self, rng: &mut DrawRng) -> Option<Question> {
        if self.options_decide() {
            self.decided(rng)
        } else {
            let count = u64::try_from(self.count()).ok()?;
            self.fixed(rng.below(count))
        }
    }
}

/// Number of distinct questions the generator can produce: the sum of [`Family::count`] over
/// [`FAMILIES`] (a question is its text, plus its unordered option set where the options
/// decide the answer).
pub fn distinct_questions() -> u128 {
    FAMILIES.iter().map(|f| f.count()).sum()
}

/// Number of distinct questions of the fixed-answer families alone: questions whose text
/// decides the answer.
pub fn fixed_answer_questions() -> u128 {
    FAMILIES
        .iter()
        .filter(|f| !f.options_decide())
        .map(|f| f.count())
        .sum()
}

/// One question: the prompt lists options A–D; the response and `answer` are the right letter.
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let family = FAMILIES[rng.index(FAMILIES.len())];
    // Every family yields a question for every draw (tests enumerate and sample them all); a
    // fixed sum stands in should an embedded table ever come up short.
    let question = family.draw(rng).unwrap_or_else(|| Question {
        text: "What is 10 plus 10?".into(),
        right: "20".into(),
        wrong: near(20, &NEAR, 0),
    });
    let mut pool: Vec<String> = question
        .wrong
        .into_iter()
        .filter(|option| *option != question.right)
        .collect();
    pool.sort_unstable();
    pool.dedup();
    let mut choices: Vec<String> = rng
        .distinct(pool.len(), 3)
        .into_iter()
        .map(|i| pool[i].clone())
        .collect();
    let right_at = rng.index(4);
    choices.insert(right_at.min(choices.len()), question.right);
    let letter = LETTERS[right_at.min(choices.len() - 1)];
    let listed: Vec<String> = choices
        .iter()
        .zip(LETTERS)
        .map(|(choice, letter)| format!("{letter}. {choice}"))
        .collect();
    let prompt = format!(
        "{}\n{}\nAnswer with the letter of the correct option.",
        question.text,
        listed.join("\n")
    );
    let mut sample = Sample::new(id, "multiple_choice", prompt, letter);
    sample.choices = Some(choices);
    sample.answer = Some(letter.to_string());
    sample
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_core::seed::Seed;
    use std::collections::hash_map::DefaultHasher;
    use std::collections::{HashMap, HashSet};
    use std::hash::{Hash, Hasher};

    fn digest(parts: &[&str]) -> u64 {
        let mut h = DefaultHasher::new();
        parts.hash(&mut h);
        h.finish()
    }

    /// The key a question is counted by: its text, plus the sorted options where they decide.
    fn key(family: Family, q: &Question) -> u64 {
        if family.options_decide() {
            let mut options: Vec<&str> = q.wrong.iter().map(String::as_str).collect();
            options.push(&q.right);
            options.sort_unstable();
            options.insert(0, &q.text);
            digest(&options)
        } else {
            digest(&[&q.text])
        }
    }

    #[test]
    fn every_fixed_answer_question_is_distinct_and_has_three_distractors() {
        let mut all = HashSet::new();
        for family in FAMILIES.into_iter().filter(|f| !f.options_decide()) {
            let count = u64::try_from(family.count()).unwrap();
            for i in 0..count {
                let q = family.fixed(i).unwrap_or_else(|| panic!("{family:?} {i}"));
                assert!(
                    all.insert(digest(&[&q.text])),
                    "{family:?} repeats {}",
                    q.text
                );
                let wrong: HashSet<&String> = q.wrong.iter().filter(|w| **w != q.right).collect();
                assert!(wrong.len() >= 3, "{}: {:?}", q.text, q.wrong);
            }
            assert!(family.fixed(count).is_none());
        }
        assert_eq!(all.len() as u128, fixed_answer_questions());
        assert_eq!(fixed_answer_questions(), 2_255_367);
    }

    #[test]
    fn fixed_answers_are_the_hand_computed_ones() {
        let case = |f: Family, i: u64| {
            let q = f.fixed(i).unwrap();
            (q.text, q.right)
        };
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(case(Family::Sum, 0), s("What is 10 plus 10?", "20"));
        assert_eq!(
            case(Family::Sum, 990 * 989 + 989),
            s("What is 999 plus 999?", "1998")
        );
        assert_eq!(case(Family::Difference, 5), s("What is 10 minus 15?", "-5"));
        assert_eq!(case(Family::Product, 989), s("What is 3 times 11?", "33"));
        assert_eq!(
            case(Family::Remainder, 0),
            s("What is the remainder when 10 is divided by 3?", "1")
        );
        assert_eq!(
            case(Family::UnitCount, 998 + 3),
            s("How many centimetres are there in 5 metres?", "500")
        );
        assert_eq!(
            case(Family::WeekdayAfter, 999 * 6 + 5),
            s(
                "If today is Sunday, what day of the week will it be in 7 days?",
                "Sunday"
            )
        );
        assert_eq!(
            case(Family::DateWeekday, 0),
            s(
                "On which day of the week is 1 January 1900 in the Gregorian calendar?",
                "Monday"
            )
        );
        let (text, right) = case(Family::LetterAt, 1);
        let first = basic_english()[0];
        assert_eq!(
            text,
            format!("What is the 2nd letter of the word \"{first}\"?")
        );
        assert_eq!(right, first[1..2]);
        assert_eq!(
            case(Family::ContinentOf, 0),
            s("On which continent is Afghanistan?", "Asia")
        );
    }

    #[test]
    fn option_decided_counts_match_independent_arithmetic() {
        // Computed independently (Python's math.comb over the same tables and ranges).
        let expected = [
            (Family::Prime, 15_348_071_200u128),
            (Family::Divisible, 137_188_896_186),
            (Family::Square, 4_141_679_360),
            (Family::NumberExtreme, 79_565_415_930),
            (Family::CountryOnContinent, 59_234_732),
            (Family::ElementExtreme, 15_347_670),
            (Family::Alphabetical, 39_643_841_120),
            (Family::WordLengthExtreme, 30_721_780_271),
        ];
        for (family, count) in expected {
            assert!(family.options_decide());
            assert_eq!(family.count(), count, "{family:?}");
        }
        assert_eq!(distinct_questions(), 306_686_521_836);
        assert!(fixed_answer_questions() >= 1_000_000);
    }

    #[test]
    fn draws_reach_every_question_of_the_small_families() {
        let seed = Seed([3; 32]);
        for family in FAMILIES {
            let count = family.count();
            if family.options_decide() || count > 10_000 {
                continue;
            }
            let mut seen = HashSet::new();
            let mut rng = DrawRng::new(&seed, family.name(), 0);
            for _ in 0..count * 20 {
                seen.insert(key(family, &family.draw(&mut rng).unwrap()));
            }
            assert_eq!(seen.len() as u128, count, "{family:?}");
        }
    }

    #[test]
    fn distinct_samples_grow_as_the_counts_predict() {
        // N samples, each family with probability 1/24, uniform within fixed families: the
        // expected number of distinct keys is Σ K·(1 − (1 − p/K)^N).
        const N: u64 = 24_000;
        let seed = Seed([9; 32]);
        let mut by_family: HashMap<&str, HashSet<u64>> = HashMap::new();
        for i in 0..N {
            let mut rng = DrawRng::new(&seed, "mc-growth", i);
            let family = FAMILIES[rng.index(FAMILIES.len())];
            let q = family.draw(&mut rng).unwrap();
            by_family
                .entry(family.name())
                .or_default()
                .insert(key(family, &q));
        }
        let observed: usize = by_family.values().map(HashSet::len).sum();
        let p = 1.0 / FAMILIES.len() as f64;
        let expected: f64 = FAMILIES
            .iter()
            .map(|f| {
                let k = f.count() as f64;
                k * (1.0 - (1.0 - p / k).powf(N as f64))
            })
            .sum();
        let diff = (observed as f64 - expected).abs();
        assert!(
            diff < 0.01 * N as f64,
            "observed {observed}, expected {expected:.0}"
        );
    }
}
