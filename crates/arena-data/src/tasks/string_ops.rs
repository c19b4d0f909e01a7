//! String reversal and counting: character-level skills a tokenizer makes hard.

use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tables::basic_english;

/// The kinds of string question, so tests and evaluators can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringOp {
    /// Reverse the characters of a string.
    ReverseChars,
    /// Reverse the order of the words of a text.
    ReverseWords,
    /// Count one letter's occurrences.
    CountLetter,
    /// Count the words of a text.
    CountWords,
    /// Count the characters of a string.
    CountChars,
}

fn words(rng: &mut DrawRng, min: u64, max: u64) -> Vec<&'static str> {
    let list = basic_english();
    let count = rng.range(min, max) as usize;
    (0..count).map(|_| list[rng.index(list.len())]).collect()
}

/// One string question. Quoted strings contain only lowercase letters and spaces.
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let op = [
        StringOp::ReverseChars,
        StringOp::ReverseWords,
        StringOp::CountLetter,
        StringOp::CountWords,
        StringOp::CountChars,
    ][rng.index(5)];
    let (prompt, response) = match op {
        StringOp::ReverseChars => {
            let text = words(rng, 1, 3).concat();
            let reversed: String = text.chars().rev().collect();
            (format!("Reverse the string \"{text}\"."), reversed)
        }
        StringOp::ReverseWords => {
            let list = words(rng, 2, 8);
            let reversed: Vec<&str> = list.iter().rev().copied().collect();
            (
                format!("Reverse the order of the words in \"{}\".", list.join(" ")),
                reversed.join(" "),
            )
        }
        StringOp::CountLetter => {
            let text = words(rng, 1, 4).join(" ");
            let letters: Vec<char> = text.chars().filter(|c| c.is_ascii_lowercase()).collect();
            // Mostly a letter that occurs; sometimes any letter, so zero is a possible answer.
            let letter = if rng.chance(3, 4) && !letters.is_empty() {
                letters[rng.index(letters.len())]
            } else {
                (b'a' + rng.below(26) as u8) as char
            };
            let count = text.chars().filter(|&c| c == letter).count();
            (
                format!("How many times does the letter \"{letter}\" appear in \"{text}\"?"),
                count.to_string(),
            )
        }
        StringOp::CountWords => {
            let list = words(rng, 1, 15);
            (
                format!("How many words are in \"{}\"?", list.join(" ")),
                list.len().to_string(),
            )
        }
        StringOp::CountChars => {
            let text = words(rng, 1, 3).join(" ");
            (
                format!("How many characters, spaces included, are in \"{text}\"?"),
                text.chars().count().to_string(),
            )
        }
    };
    Sample::new(id, "string_ops", prompt, response)
}
