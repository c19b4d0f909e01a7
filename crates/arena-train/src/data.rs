//! Training examples with the validator's masking: the context is the chat template of the
//! prompt with the generation prompt, the response is encoded separately and appended, and
//! only the response tokens are scored (as `Evaluator::reference_loss`).

use std::path::Path;

use arena_model::tokenizer::{ChatMessage, TextTokenizer};
use arena_model::{ModelError, Result};

/// One tokenized example: the tokens from `first_target` on are trained on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Context then response ids.
    pub ids: Vec<u32>,
    /// Index of the first response token.
    pub first_target: usize,
}

/// A prompt and the response to learn.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Pair {
    /// User prompt.
    pub prompt: String,
    /// Target response (`reference` is accepted too).
    #[serde(alias = "reference")]
    pub response: String,
}

/// Tokenizes `pair` exactly as `reference_loss` scores it; responses that encode to nothing
/// are refused (nothing would be learned).
pub fn encode(tokenizer: &TextTokenizer, pair: &Pair) -> Result<Example> {
    let context = tokenizer.apply_chat_template(&[ChatMessage::new("user", &pair.prompt)], true)?;
    let mut ids = tokenizer.encode(&context)?;
    let first_target = ids.len();
    ids.extend(tokenizer.encode(&pair.response)?);
    if ids.len() == first_target || first_target == 0 {
        return Err(ModelError::Sample {
            id: pair.prompt.chars().take(40).collect(),
            message: "empty response or context".into(),
        });
    }
    Ok(Example { ids, first_target })
}

/// Reads a JSONL file of `{"prompt": …, "response": …}` objects (blank lines skipped).
pub fn read_jsonl(path: &Path) -> Result<Vec<Pair>> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::error::io_error(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| crate::error::json_error(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// A seeded order over `n` examples: the `k`-th draw of the run, reshuffled every epoch.
/// A pure function of (seed, k), so a resumed run draws what the killed one would have.
pub fn draw(seed: u64, k: u64, n: usize) -> usize {
    let epoch = k / n as u64;
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for i in (1..n).rev() {
        state = splitmix(state);
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order[(k % n as u64) as usize]
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_visits_every_example_once_per_epoch_and_depends_on_the_seed() {
        let mut seen: Vec<usize> = (0..10).map(|k| draw(7, k, 10)).collect();
        let first = seen.clone();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let other: Vec<usize> = (0..10).map(|k| draw(8, k, 10)).collect();
        assert_ne!(first, other);
        let next: Vec<usize> = (10..20).map(|k| draw(7, k, 10)).collect();
        assert_ne!(first, next, "each epoch is reshuffled");
    }
}
