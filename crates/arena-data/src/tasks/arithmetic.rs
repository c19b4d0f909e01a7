//! Multi-digit integer arithmetic with the exact answer.

use crate::rng::DrawRng;
use crate::sample::Sample;

/// A number with exactly `digits` decimal digits (no leading zero).
fn with_digits(rng: &mut DrawRng, digits: u32) -> i64 {
    let low = 10i64.pow(digits - 1);
    rng.range(low as u64, (low * 10 - 1) as u64) as i64
}

/// One problem `a op b` with `op` one of `+`, `-`, `*`; operands of 2–6 digits (2–4 for
/// products, so answers stay within what a small model can learn to carry).
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let (symbol, max_digits) = match rng.below(3) {
        0 => ('+', 6),
        1 => ('-', 6),
        _ => ('*', 4),
    };
    let a_digits = rng.range(2, max_digits) as u32;
    let b_digits = rng.range(2, max_digits) as u32;
    let a = with_digits(rng, a_digits);
    let b = with_digits(rng, b_digits);
    let answer = match symbol {
        '+' => a + b,
        '-' => a - b,
        _ => a * b,
    };
    Sample::new(
        id,
        "arithmetic",
        format!("What is {a} {symbol} {b}?"),
        answer.to_string(),
    )
}
