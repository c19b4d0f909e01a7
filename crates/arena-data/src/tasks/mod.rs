//! Seeded generators of synthetic evaluation tasks.
//!
//! Each generator turns `(seed, index)` into one [`Sample`] through its own [`DrawRng`]
//! stream, so any validator holding the shared seed rebuilds exactly the same samples, and a
//! producer using fresh entropy makes data nobody could have trained on.

pub mod arithmetic;
pub mod dyck;
pub mod if_eval;
pub mod multiple_choice;
pub mod string_ops;
pub mod unit_conversion;
pub mod word_sorting;

use std::fmt;
use std::str::FromStr;

use arena_core::seed::Seed;
use sha2::{Digest, Sha256};

use crate::rng::DrawRng;
use crate::sample::Sample;

/// The synthetic tasks this crate can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskKind {
    /// Sort 2–20 Basic English words alphabetically (Subnet 37's WORD_SORTING).
    WordSorting,
    /// Multi-digit addition, subtraction and multiplication.
    Arithmetic,
    /// Length, mass, volume, time and temperature conversions.
    UnitConversion,
    /// String reversal and counting of letters, words and characters.
    StringOps,
    /// Close the open brackets of a Dyck-language prefix (Subnet 37's DYCK_LANGUAGE).
    Dyck,
    /// Four-option questions from the shipped fact tables.
    MultipleChoice,
    /// IFEval-style prompts with 2–5 compatible, machine-checkable rules.
    IfEval,
}

impl TaskKind {
    /// Every task, in a fixed order.
    pub const ALL: [TaskKind; 7] = [
        TaskKind::WordSorting,
        TaskKind::Arithmetic,
        TaskKind::UnitConversion,
        TaskKind::StringOps,
        TaskKind::Dyck,
        TaskKind::MultipleChoice,
        TaskKind::IfEval,
    ];

    /// The task's name in samples, configuration and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::WordSorting => "word_sorting",
            TaskKind::Arithmetic => "arithmetic",
            TaskKind::UnitConversion => "unit_conversion",
            TaskKind::StringOps => "string_ops",
            TaskKind::Dyck => "dyck",
            TaskKind::MultipleChoice => "multiple_choice",
            TaskKind::IfEval => "if_eval",
        }
    }

    /// Sample `index` of this task under `seed`.
    pub fn generate(self, seed: &Seed, index: u64) -> Sample {
        let mut rng = DrawRng::new(seed, self.name(), index);
        let id = sample_id(seed, self.name(), index);
        self.generate_with(&mut rng, id)
    }

    /// `count` consecutive samples (indices `0..count`).
    pub fn generate_many(self, seed: &Seed, count: usize) -> Vec<Sample> {
        (0..count as u64).map(|i| self.generate(seed, i)).collect()
    }

    /// One sample drawn from an arbitrary stream (producers pass an entropy-seeded one).
    pub fn generate_with(self, rng: &mut DrawRng, id: String) -> Sample {
        match self {
            TaskKind::WordSorting => word_sorting::generate(rng, id),
            TaskKind::Arithmetic => arithmetic::generate(rng, id),
            TaskKind::UnitConversion => unit_conversion::generate(rng, id),
            TaskKind::StringOps => string_ops::generate(rng, id),
            TaskKind::Dyck => dyck::generate(rng, id),
            TaskKind::MultipleChoice => multiple_choice::generate(rng, id),
            TaskKind::IfEval => if_eval::generate(rng, id),
        }
    }
}

/// A stable id: the task name and the first 16 hex digits of SHA-256(seed ‖ task ‖ index).
pub fn sample_id(seed: &Seed, task: &str, index: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(seed.0);
    hasher.update(task.as_bytes());
    hasher.update(index.to_le_bytes());
    let digest = hasher.finalize();
    format!("{task}-{}", hex::encode(&digest[..8]))
}

/// A task name that is not one of [`TaskKind::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown task {0:?}; known tasks: word_sorting, arithmetic, unit_conversion, string_ops, dyck, multiple_choice, if_eval")]
pub struct UnknownTask(pub String);

impl FromStr for TaskKind {
    type Err = UnknownTask;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskKind::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTask(s.to_string()))
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
