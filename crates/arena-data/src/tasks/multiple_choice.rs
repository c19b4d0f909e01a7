//! Four-option multiple-choice questions built from the shipped fact tables.
//!
//! The right option appears exactly once: distractors are drawn from other rows whose answer
//! text differs from the right one.

use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tables::{continents, countries, elements};

/// Option letters, in prompt order.
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// A question with its right answer and the pool distractors come from.
struct Question {
    text: String,
    right: String,
    pool: Vec<String>,
}

fn draw_question(rng: &mut DrawRng) -> Question {
    let countries = countries();
    let elements = elements();
    let country = &countries[rng.index(countries.len())];
    let element = &elements[rng.index(elements.len())];
    match rng.below(7) {
        0 => Question {
            text: format!("What is the capital of {}?", country.name),
            right: country.capital.to_string(),
            pool: countries.iter().map(|c| c.capital.to_string()).collect(),
        },
        1 => Question {
            text: format!("{} is the capital of which country?", country.capital),
            right: country.name.to_string(),
            pool: countries.iter().map(|c| c.name.to_string()).collect(),
        },
        2 => Question {
            text: format!("On which continent is {}?", country.name),
            right: country.continent.to_string(),
            pool: continents().iter().map(|c| c.to_string()).collect(),
        },
        3 => Question {
            text: format!(
                "What is the chemical symbol of {}?",
                element.name.to_lowercase()
            ),
            right: element.symbol.to_string(),
            pool: elements.iter().map(|e| e.symbol.to_string()).collect(),
        },
        4 => Question {
            text: format!("Which element has the chemical symbol {}?", element.symbol),
            right: element.name.to_string(),
            pool: elements.iter().map(|e| e.name.to_string()).collect(),
        },
        5 => Question {
            text: format!(
                "What is the atomic number of {}?",
                element.name.to_lowercase()
            ),
            right: element.number.to_string(),
            pool: elements.iter().map(|e| e.number.to_string()).collect(),
        },
        _ => Question {
            text: format!("Which element has atomic number {}?", element.number),
            right: element.name.to_string(),
            pool: elements.iter().map(|e| e.name.to_string()).collect(),
        },
    }
}

/// One question: the prompt lists options A–D; the response and `answer` are the right letter.
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let question = draw_question(rng);
    let mut pool: Vec<String> = question
        .pool
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
