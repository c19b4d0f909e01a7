//! Generated samples: diverse, correct, and identical for validators sharing a sync block.

use std::collections::HashSet;

use arena_core::seed::{sync_block, Seed};
use arena_data::corpus::Corpus;
use arena_data::local::{LocalFormat, LocalSource};
use arena_data::tables::{countries, elements, sortable_words};
use arena_data::tasks::if_eval::IfRule;
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

fn right_answer(question: &str) -> String {
    let find_country = |name: &str| countries().iter().find(|c| c.name == name).unwrap().clone();
    let find_element = |name: &str| {
        elements()
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
            .unwrap()
            .clone()
    };
    if let Some(c) = question
        .strip_prefix("What is the capital of ")
        .and_then(|q| q.strip_suffix('?'))
    {
        find_country(c).capital.to_string()
    } else if let Some(cap) = question.strip_suffix(" is the capital of which country?") {
        countries()
            .iter()
            .find(|c| c.capital == cap)
            .unwrap()
            .name
            .to_string()
    } else if let Some(c) = question
        .strip_prefix("On which continent is ")
        .and_then(|q| q.strip_suffix('?'))
    {
        find_country(c).continent.to_string()
    } else if let Some(e) = question
        .strip_prefix("What is the chemical symbol of ")
        .and_then(|q| q.strip_suffix('?'))
    {
        find_element(e).symbol.to_string()
    } else if let Some(sym) = question
        .strip_prefix("Which element has the chemical symbol ")
        .and_then(|q| q.strip_suffix('?'))
    {
        elements()
            .iter()
            .find(|e| e.symbol == sym)
            .unwrap()
            .name
            .to_string()
    } else if let Some(e) = question
        .strip_prefix("What is the atomic number of ")
        .and_then(|q| q.strip_suffix('?'))
    {
        find_element(e).number.to_string()
    } else if let Some(n) = question
        .strip_prefix("Which element has atomic number ")
        .and_then(|q| q.strip_suffix('?'))
    {
        elements()[n.parse::<usize>().unwrap() - 1].name.to_string()
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
    let right = right_answer(question);
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
        // Minimum share of distinct prompts: the small fact tables bound multiple choice.
        let floor = match task {
            TaskKind::MultipleChoice => 8_000,
            TaskKind::StringOps | TaskKind::Dyck => 9_000,
            _ => 9_500,
        };
        println!("{task}: {} distinct prompts of {N}", prompts.len());
        assert!(
            prompts.len() >= floor,
            "{task}: only {} distinct prompts",
            prompts.len()
        );
        for s in &samples {
            assert_eq!(s.task, task.name());
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
