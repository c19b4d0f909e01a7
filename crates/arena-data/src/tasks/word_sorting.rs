//! Word sorting, as Subnet 37 generates it: 2–20 distinct Basic English words (three letters
//! or more) to be put in alphabetical order.

use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tables::sortable_words;

/// The fixed instruction that precedes the words.
pub const PROMPT_PREFIX: &str = "Sort the following words alphabetically: ";

/// One word-sorting sample: the prompt lists the words, the response is them sorted.
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let list = sortable_words();
    let count = rng.range(2, 20) as usize;
    let words: Vec<&str> = rng
        .distinct(list.len(), count)
        .into_iter()
        .map(|i| list[i])
        .collect();
    let mut sorted = words.clone();
    sorted.sort_unstable();
    Sample::new(
        id,
        "word_sorting",
        format!("{PROMPT_PREFIX}{}.", words.join(" ")),
        sorted.join(" "),
    )
}
