//! Dyck-language completion as Subnet 37 defined it: a bracket sequence over `()[]{}<>`
//! with 2–20 pairs whose last 1–3 closing brackets are missing.

use crate::rng::DrawRng;
use crate::sample::Sample;

/// The bracket pairs.
pub const PAIRS: [(char, char); 4] = [('(', ')'), ('[', ']'), ('{', '}'), ('<', '>')];

/// The fixed instruction before the sequence.
pub const PROMPT_PREFIX: &str =
    "Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: ";

/// Appends a random balanced sequence of exactly `pairs` pairs.
fn balanced(rng: &mut DrawRng, pairs: usize, out: &mut Vec<char>) {
    let mut open: Vec<char> = Vec::new();
    let mut remaining = pairs;
    while remaining > 0 || !open.is_empty() {
        let must_open = open.is_empty();
        let must_close = remaining == 0;
        if must_open || (!must_close && rng.chance(1, 2)) {
            let (o, c) = PAIRS[rng.index(PAIRS.len())];
            out.push(o);
            open.push(c);
            remaining -= 1;
        } else if let Some(c) = open.pop() {
            out.push(c);
        }
    }
}

/// One sample: the prompt holds the space-separated prefix, the response the missing closers.
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let pairs = rng.range(2, 20) as usize;
    let missing = rng.range(1, 3.min(pairs as u64)) as usize;
    // prefix = B0 o1 B1 o2 … ok Bk, with the Bi balanced; the answer closes ok … o1.
    let mut inner = vec![0usize; missing + 1];
    for _ in 0..pairs - missing {
        let slot = rng.index(inner.len());
        inner[slot] += 1;
    }
    let mut prefix = Vec::new();
    let mut closers = Vec::new();
    balanced(rng, inner[0], &mut prefix);
    for &count in &inner[1..] {
        let (o, c) = PAIRS[rng.index(PAIRS.len())];
        prefix.push(o);
        closers.push(c);
        balanced(rng, count, &mut prefix);
    }
    closers.reverse();
    let spaced = |chars: &[char]| {
        chars
            .iter()
            .map(char::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    Sample::new(
        id,
        "dyck",
        format!("{PROMPT_PREFIX}{}", spaced(&prefix)),
        spaced(&closers),
    )
}
