//! Generated samples: diverse, correct, and identical for validators sharing a sync block.

use std::collections::HashSet;

use arena_core::seed::{sync_block, Seed};
use arena_data::corpus::Corpus;
use arena_data::local::{LocalFormat, LocalSource};
use arena_data::phrases::PhraseFilter;
use arena_data::tables::{countries, elements, sortable_words, MANY_CONTINENTS};
use arena_data::tasks::if_eval::{keyword_words, IfRule};
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_data::Sample;
use sha2::{Digest, Sha256};

const N: usize = 10_000;

fn quoted(prompt: &str) -> Vec<&str> {
    prompt.split('"').skip(1).step_by(2).collect()
}

fn check_word_sorting(s: &Sample) {
    let body = s
        .prompt
        .strip_prefix("Sort the following words alphabetically: ")
        .and_then(|p| p.strip_suffix('.'))
        .expect("word sorting prompt format");
    let words: Vec<&str> = body.split(' ').collect();
    assert!((2..=20).contains(&words.len()), "{}", s.prompt);
    let unique: HashSet<&&str> = words.iter().collect();
    assert_eq!(unique.len(), words.len(), "words repeat: {}", s.prompt);
    assert!(words.iter().all(|w| sortable_words().contains(w)));
    let mut sorted = words.clone();
    sorted.sort();
    assert_eq!(s.response, sorted.join(" "));
    let answer: Vec<&str> = s.response.split(' ').collect();
    assert!(
        answer.windows(2).all(|w| w[0] < w[1]),
        "not sorted: {}",
        s.response
    );
}

fn check_arithmetic(s: &Sample) {
    let body = s
        .prompt
        .strip_prefix("What is ")
        .and_then(|p| p.strip_suffix('?'))
        .unwrap();
    let parts: Vec<&str> = body.split(' ').collect();
    let a: i128 = parts[0].parse().unwrap();
    let b: i128 = parts[2].parse().unwrap();
    assert!(a >= 10 && b >= 10, "operands must be multi-digit: {body}");
    let expected = match parts[1] {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        op => panic!("unknown operator {op}"),
    };
    assert_eq!(
        s.response.parse::<i128>().unwrap(),
        expected,
        "{}",
        s.prompt
    );
}

/// Independent table: unit name → (scale to base, offset, category).
fn unit(name: &str) -> (f64, f64, u8) {
    match name {
        "millimetres" => (1e-3, 0.0, 0),
        "centimetres" => (1e-2, 0.0, 0),
        "metres" => (1.0, 0.0, 0),
        "kilometres" => (1e3, 0.0, 0),
        "inches" => (0.0254, 0.0, 0),
        "feet" => (0.3048, 0.0, 0),
        "yards" => (0.9144, 0.0, 0),
        "miles" => (1609.344, 0.0, 0),
        "milligrams" => (1e-3, 0.0, 1),
        "grams" => (1.0, 0.0, 1),
        "kilograms" => (1e3, 0.0, 1),
        "tonnes" => (1e6, 0.0, 1),
        "ounces" => (28.349523125, 0.0, 1),
        "pounds" => (453.59237, 0.0, 1),
        "millilitres" => (1.0, 0.0, 2),
        "litres" => (1e3, 0.0, 2),
        "cubic metres" => (1e6, 0.0, 2),
        "US gallons" => (3785.411784, 0.0, 2),
        "imperial gallons" => (4546.09, 0.0, 2),
        "seconds" => (1.0, 0.0, 3),
        "minutes" => (60.0, 0.0, 3),
        "hours" => (3600.0, 0.0, 3),
        "days" => (86400.0, 0.0, 3),
        "weeks" => (604800.0, 0.0, 3),
        "degrees Celsius" => (1.0, 273.15, 4),
        "degrees Fahrenheit" => (5.0 / 9.0, 255.3722222222222, 4),
        "kelvins" => (1.0, 0.0, 4),
        other => panic!("unknown unit {other:?}"),
    }
}

fn check_unit_conversion(s: &Sample) {
    let body = s
        .prompt
        .strip_prefix("Convert ")
        .and_then(|p| p.strip_suffix(". Round the answer to three decimal places."))
        .unwrap();
    let (value, rest) = body.split_once(' ').unwrap();
    let (from, to) = rest.split_once(" to ").unwrap();
    let (fs, fo, fc) = unit(from);
    let (ts, to_off, tc) = unit(to);
    assert_eq!(fc, tc, "units of different kinds: {}", s.prompt);
    assert_ne!(from, to);
    let value: f64 = value.parse().unwrap();
    let exact = ((value * fs + fo) - to_off) / ts;
    let (answer, answer_unit) = s.response.split_once(' ').unwrap();
    assert_eq!(answer_unit, to);
    let answer: f64 = answer.parse().unwrap();
    let tolerance = 0.0005 + exact.abs() * 1e-12;
    assert!(
        (answer - exact).abs() <= tolerance,
        "{} -> {} (exact {exact})",
        s.prompt,
        s.response
    );
}

fn check_string_ops(s: &Sample) {
    let q = quoted(&s.prompt);
    let p = s.prompt.as_str();
    if p.starts_with("Reverse the string") {
        assert_eq!(s.response, q[0].chars().rev().collect::<String>());
    } else if p.starts_with("Reverse the order") {
        let mut words: Vec<&str> = q[0].split(' ').collect();
        words.reverse();
        assert_eq!(s.response, words.join(" "));
    } else if p.starts_with("How many times does the letter") {
        let letter = q[0].chars().next().unwrap();
        assert_eq!(s.response, q[1].matches(letter).count().to_string());
    } else if p.starts_with("How many words") {
        assert_eq!(s.response, q[0].split_whitespace().count().to_string());
    } else if p.starts_with("How many characters") {
        assert_eq!(s.response, q[0].chars().count().to_string());
    } else {
        panic!("unknown string op: {p}");
    }
}

fn check_dyck(s: &Sample) {
    let body = s.prompt.split("Input: ").nth(1).unwrap();
    let prefix: Vec<char> = body.split(' ').map(|t| t.chars().next().unwrap()).collect();
    let completion: Vec<char> = s
        .response
        .split(' ')
        .map(|t| t.chars().next().unwrap())
        .collect();
    assert!((1..=3).contains(&completion.len()), "{}", s.response);
    let mut stack = Vec::new();
    for c in prefix.iter().chain(&completion) {
        match c {
            '(' | '[' | '{' | '<' => stack.push(*c),
            _ => {
                let open = stack.pop().expect("closer without opener");
                let want = match open {
                    '(' => ')',
                    '[' => ']',
                    '{' => '}',
                    _ => '>',
                };
                assert_eq!(*c, want, "mismatched bracket in {}", s.prompt);
            }
        }
    }
    assert!(stack.is_empty(), "completion leaves brackets open");
    let pairs = (prefix.len() + completion.len()) / 2;
    assert!((2..=20).contains(&pairs));
}

fn find_country(name: &str) -> arena_data::tables::Country {
    countries().iter().find(|c| c.name == name).unwrap().clone()
}

fn find_element(name: &str) -> arena_data::tables::Element {
    elements()
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(name))
        .unwrap()
        .clone()
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Sakamoto's weekday method (0 = Sunday), independent of the crate's day count.
fn sakamoto(year: i64, month: usize, day: i64) -> &'static str {
    const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    DAYS[((y + y / 4 - y / 100 + y / 400 + T[month - 1] + day) % 7) as usize]
}

/// Independent table: (smaller unit, larger unit) → how many of the smaller make one larger.
fn unit_factor(small: &str, big: &str) -> i64 {
    match (small, big) {
        ("metres", "kilometres") | ("grams", "kilograms") | ("millilitres", "litres") => 1000,
        ("centimetres", "metres") => 100,
        ("millimetres", "centimetres") => 10,
        ("minutes", "hours") | ("seconds", "minutes") => 60,
        ("hours", "days") => 24,
        ("days", "weeks") => 7,
        ("inches", "feet") => 12,
        ("feet", "yards") => 3,
        ("ounces", "pounds") => 16,
        other => panic!("unknown units {other:?}"),
    }
}

fn between<'a>(text: &'a str, before: &str, after: &str) -> Option<&'a str> {
    text.strip_prefix(before)?.strip_suffix(after)
}

fn num(text: &str) -> i64 {
    text.parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

/// The one option satisfying `test` (panics unless exactly one does).
fn the_one(question: &str, choices: &[String], test: impl Fn(&str) -> bool) -> String {
    let hits: Vec<&String> = choices.iter().filter(|c| test(c)).collect();
    assert_eq!(hits.len(), 1, "{question}: {choices:?}");
    hits[0].clone()
}

/// The option with the unique largest `key` (panics on a tie).
fn the_max<K: Ord>(question: &str, choices: &[String], key: impl Fn(&str) -> K) -> String {
    let best = choices.iter().map(|c| key(c)).max().unwrap();
    the_one(question, choices, |c| key(c) == best)
}

/// The right option of a generated question, recomputed from the question and the options.
fn right_answer(question: &str, choices: &[String]) -> String {
    let is_prime = |n: i64| n > 1 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0);
    if let Some(c) = between(question, "What is the capital of ", "?") {
        find_country(c).capital.to_string()
    } else if let Some(cap) = question.strip_suffix(" is the capital of which country?") {
        countries()
            .iter()
            .find(|c| c.capital == cap)
            .unwrap()
            .name
            .to_string()
    } else if let Some(c) = between(question, "On which continent is ", "?") {
        assert!(!MANY_CONTINENTS.contains(&c), "{c} spans continents");
        find_country(c).continent.to_string()
    } else if let Some(e) = between(question, "What is the chemical symbol of ", "?") {
        find_element(e).symbol.to_string()
    } else if let Some(sym) = between(question, "Which element has the chemical symbol ", "?") {
        elements()
            .iter()
            .find(|e| e.symbol == sym)
            .unwrap()
            .name
            .to_string()
    } else if let Some(e) = between(question, "What is the atomic number of ", "?") {
        find_element(e).number.to_string()
    } else if let Some(n) = between(question, "Which element has atomic number ", "?") {
        elements()[n.parse::<usize>().unwrap() - 1].name.to_string()
    } else if let Some((a, b)) =
        between(question, "What is ", "?").and_then(|q| q.split_once(" plus "))
    {
        (num(a) + num(b)).to_string()
    } else if let Some((a, b)) =
        between(question, "What is ", "?").and_then(|q| q.split_once(" minus "))
    {
        (num(a) - num(b)).to_string()
    } else if let Some((a, b)) =
        between(question, "What is ", "?").and_then(|q| q.split_once(" times "))
    {
        (num(a) * num(b)).to_string()
    } else if let Some((a, b)) = between(question, "What is the remainder when ", "?")
        .and_then(|q| q.split_once(" is divided by "))
    {
        (num(a) % num(b)).to_string()
    } else if let Some((small, rest)) =
        between(question, "How many ", "?").and_then(|q| q.split_once(" are there in "))
    {
        let (n, big) = rest.split_once(' ').unwrap();
        (num(n) * unit_factor(small, big)).to_string()
    } else if let Some((today, n)) = between(question, "If today is ", " days?")
        .and_then(|q| q.split_once(", what day of the week will it be in "))
    {
        let at = DAYS.iter().position(|d| *d == today).unwrap() as i64;
        DAYS[((at + num(n)) % 7) as usize].to_string()
    } else if let Some(date) = between(
        question,
        "On which day of the week is ",
        " in the Gregorian calendar?",
    ) {
        let parts: Vec<&str> = date.split(' ').collect();
        let months = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let month = months.iter().position(|m| *m == parts[1]).unwrap() + 1;
        let year = num(parts[2]);
        assert!((1900..=2099).contains(&year));
        sakamoto(year, month, num(parts[0])).to_string()
    } else if let Some(word) = between(question, "How many letters are in the word \"", "\"?") {
        word.chars().count().to_string()
    } else if let Some((nth, word)) = between(question, "What is the ", "\"?")
        .and_then(|q| q.split_once(" letter of the word \""))
    {
        let position = nth.trim_end_matches(char::is_alphabetic);
        let expected_suffix = match num(position) {
            1 => "st",
            2 => "nd",
            3 => "rd",
            _ => "th",
        };
        assert!(nth.ends_with(expected_suffix), "{nth}");
        let at = num(position) as usize - 1;
        word.chars().nth(at).unwrap().to_string()
    } else if question == "Which of these numbers is prime?" {
        the_one(question, choices, |c| is_prime(num(c)))
    } else if let Some(k) = between(question, "Which of these numbers is divisible by ", "?") {
        the_one(question, choices, |c| num(c) % num(k) == 0)
    } else if question == "Which of these numbers is a perfect square?" {
        the_one(question, choices, |c| (1..=40).any(|r| r * r == num(c)))
    } else if question == "Which of these numbers is the largest?" {
        the_max(question, choices, num)
    } else if question == "Which of these numbers is the smallest?" {
        the_max(question, choices, |c| -num(c))
    } else if let Some(continent) = between(question, "Which of these countries is in ", "?") {
        for c in choices {
            assert!(
                !MANY_CONTINENTS.contains(&c.as_str()),
                "{c} spans continents"
            );
        }
        the_one(question, choices, |c| {
            find_country(c).continent == continent
        })
    } else if question == "Which of these elements has the largest atomic number?" {
        the_max(question, choices, |c| find_element(c).number)
    } else if question == "Which of these elements has the smallest atomic number?" {
        the_max(question, choices, |c| -i64::from(find_element(c).number))
    } else if question == "Which of these words comes first in alphabetical order?" {
        the_max(question, choices, |c| std::cmp::Reverse(c.to_string()))
    } else if question == "Which of these words comes last in alphabetical order?" {
        the_max(question, choices, |c| c.to_string())
    } else if question == "Which of these words has the most letters?" {
        the_max(question, choices, |c| c.chars().count())
    } else if question == "Which of these words has the fewest letters?" {
        the_max(question, choices, |c| -(c.chars().count() as i64))
    } else {
        panic!("unknown question {question}")
    }
}

fn check_multiple_choice(s: &Sample) {
    let choices = s.choices.as_ref().expect("choices");
    assert_eq!(choices.len(), 4);
    let distinct: HashSet<&String> = choices.iter().collect();
    assert_eq!(distinct.len(), 4, "options repeat: {choices:?}");
    let question = s.prompt.lines().next().unwrap();
    let right = right_answer(question, choices);
    let hits: Vec<usize> = (0..4).filter(|&i| choices[i] == right).collect();
    assert_eq!(
        hits.len(),
        1,
        "right option must appear exactly once: {}",
        s.prompt
    );
    let letter = ["A", "B", "C", "D"][hits[0]];
    assert_eq!(s.answer.as_deref(), Some(letter));
    assert_eq!(s.response, letter);
    assert!(s.prompt.contains(&format!("{letter}. {right}\n")));
}

fn check_if_eval(s: &Sample) {
    // The question is the last quoted line; the reference states its right answer.
    let question = s
        .prompt
        .trim_end()
        .rsplit('\n')
        .next()
        .and_then(|l| between(l, "\"", "\""))
        .expect("quoted question");
    let question = match between(question, "How many letters are in the word '", "'?") {
        Some(word) => format!("How many letters are in the word \"{word}\"?"),
        None => question.to_string(),
    };
    let answer = right_answer(&question, &[]).to_lowercase();
    assert!(
        keyword_words(&s.response).contains(&answer) || s.response.to_lowercase().contains(&answer),
        "{question}: {answer} not in {:?}",
        s.response
    );
    let rules: &Vec<IfRule> = s.rules.as_ref().expect("rules");
    assert!((2..=5).contains(&rules.len()), "{} rules", rules.len());
    for (i, a) in rules.iter().enumerate() {
        assert!(s.prompt.contains(&a.instruction()), "prompt lacks {a:?}");
        assert!(
            a.is_satisfied_by(&s.response),
            "reference breaks {a:?}:\n{}",
            s.response
        );
        for b in &rules[i + 1..] {
            assert!(a.kind().compatible(b.kind()), "{a:?} clashes with {b:?}");
        }
    }
}

#[test]
fn ten_thousand_per_task_are_diverse_and_correct() {
    let seed = Seed::from_text("diversity");
    for task in TaskKind::ALL {
        let samples = task.generate_many(&seed, N);
        let prompts: HashSet<&str> = samples.iter().map(|s| s.prompt.as_str()).collect();
        let ids: HashSet<&str> = samples.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), N, "{task}: ids must be unique");
        // Minimum share of distinct prompts.
        let floor = match task {
            TaskKind::MultipleChoice | TaskKind::IfEval => 9_900,
            TaskKind::StringOps | TaskKind::Dyck => 9_000,
            _ => 9_500,
        };
        println!("{task}: {} distinct prompts of {N}", prompts.len());
        assert!(
            prompts.len() >= floor,
            "{task}: only {} distinct prompts",
            prompts.len()
        );
        let filter = PhraseFilter::default();
        for s in &samples {
            assert_eq!(s.task, task.name());
            assert_eq!(filter.find_in_sample(s), None, "{}", s.prompt);
            match task {
                TaskKind::WordSorting => check_word_sorting(s),
                TaskKind::Arithmetic => check_arithmetic(s),
                TaskKind::UnitConversion => check_unit_conversion(s),
                TaskKind::StringOps => check_string_ops(s),
                TaskKind::Dyck => check_dyck(s),
                TaskKind::MultipleChoice => check_multiple_choice(s),
                TaskKind::IfEval => check_if_eval(s),
            }
        }
    }
}

/// A stand-in chain: the hash of block `b` is SHA-256 of its number.
fn block_hash(block: u64) -> [u8; 32] {
    Sha256::digest(block.to_le_bytes()).into()
}

#[test]
fn validators_at_one_sync_block_agree_and_windows_differ() {
    let genesis = 1_000;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..40 {
        // Two validators at different blocks inside one 360-block window.
        let base = genesis + next() % 1_000_000;
        let window = sync_block(base, genesis, 360);
        let block_a = window + next() % 360;
        let block_b = window + next() % 360;
        let seed_a = Seed::from_block_hash(&block_hash(sync_block(block_a, genesis, 360)));
        let seed_b = Seed::from_block_hash(&block_hash(sync_block(block_b, genesis, 360)));
        let later = Seed::from_block_hash(&block_hash(sync_block(block_a + 360, genesis, 360)));
        let corpus = Corpus::shipped();
        for task in TaskKind::ALL {
            let a = task.generate_many(&seed_a, 20);
            assert_eq!(
                a,
                task.generate_many(&seed_b, 20),
                "{task} differs inside a window"
            );
            assert_ne!(
                a,
                task.generate_many(&later, 20),
                "{task} repeats across windows"
            );
        }
        assert_eq!(corpus.pages(&seed_a, 50, 3), corpus.pages(&seed_b, 50, 3));
        assert_ne!(corpus.pages(&seed_a, 50, 3), corpus.pages(&later, 50, 3));
    }
}

#[test]
fn corpus_pages_never_partly_overlap() {
    let corpus = Corpus::shipped();
    assert!(
        corpus.documents().len() > 2_500,
        "{}",
        corpus.documents().len()
    );
    let bytes: usize = corpus.documents().iter().map(String::len).sum();
    assert!(bytes > 1_000_000);
    for i in 0..200u32 {
        let seed = Seed::from_text(&format!("pages {i}"));
        let rows = 1 + (i as usize % 60);
        let pages = corpus.pages(&seed, rows, 8);
        assert_eq!(pages.len(), 8);
        let offset = pages[0].start % rows;
        let mut starts = HashSet::new();
        for page in &pages {
            assert_eq!(page.start % rows, offset, "page off the grid");
            assert!(starts.insert(page.start), "duplicate page");
            assert_eq!(page.documents.len(), rows);
            assert_eq!(page.documents[0], corpus.documents()[page.start]);
        }
    }
}

#[test]
fn local_datasets_parse_and_report_bad_lines() {
    let pairs = "{\"prompt\":\"2+2?\",\"response\":\"4\"}\n\n{\"prompt\":\"hi\",\"response\":\"hello\",\"id\":\"x\"}\n";
    let source = LocalSource::parse("qa.jsonl", pairs, LocalFormat::Pairs).unwrap();
    assert_eq!(source.samples().len(), 2);
    assert_eq!(source.samples()[0].id, "qa.jsonl:1");
    assert_eq!(source.samples()[1].id, "x");

    let mc = "{\"question\":\"Sky?\",\"choices\":[\"red\",\"blue\"],\"answer\":\"b\"}\n{\"question\":\"Grass?\",\"choices\":[\"green\",\"red\",\"blue\"],\"answer\":0}";
    let source = LocalSource::parse("mc.jsonl", mc, LocalFormat::MultipleChoice).unwrap();
    assert_eq!(source.samples()[0].answer.as_deref(), Some("B"));
    assert_eq!(source.samples()[1].answer.as_deref(), Some("A"));
    assert!(source.samples()[1].prompt.contains("C. blue"));

    let text = "{\"text\":\"It is a truth universally acknowledged.\"}";
    let source = LocalSource::parse("docs.jsonl", text, LocalFormat::Text).unwrap();
    assert_eq!(source.samples()[0].task, "text");

    let bad = "{\"prompt\":\"a\",\"response\":\"b\"}\n{\"prompt\":\"a\"}\n";
    let err = LocalSource::parse("bad.jsonl", bad, LocalFormat::Pairs)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("bad.jsonl:2:"), "{err}");
    let err = LocalSource::parse(
        "mc.jsonl",
        "{\"question\":\"q\",\"choices\":[\"a\",\"b\"],\"answer\":5}",
        LocalFormat::MultipleChoice,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("out of 2 choices"), "{err}");
}
