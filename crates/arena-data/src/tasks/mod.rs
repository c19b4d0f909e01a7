//! Seeded generators of synthetic evaluation tasks.
//!
//! Each generator turns `(seed, index)` into one [`Sample`] through its own [`DrawRng`]
//! stream, so any validator holding the shared seed rebuilds exactly the same samples, and a
//! producer using fresh entropy makes data nobody could have trained on.

pub mod arithmetic;
pub mod dyck;
pub mod facts;
pub mod if_eval;
pub mod multiple_choice;
pub mod string_ops;
pub mod unit_conversion;
pub mod word_sorting;

use arena_core::seed::Seed;
use sha2::{Digest, Sha256};

use crate::rng::DrawRng;
use crate::sample::Sample;

pub use arena_core::competition::{TaskKind, UnknownTask};

/// Sample generation for [`TaskKind`], which lives in `arena-core` (schedules name it) while
/// its generators live here. Bring it into scope to call `TaskKind::WordSorting.generate(…)`.
pub trait TaskGenerator: Copy {
    /// Sample `index` of this task under `seed`.
    fn generate(self, seed: &Seed, index: u64) -> Sample;

    /// `count` consecutive samples (indices `0..count`).
    fn generate_many(self, seed: &Seed, count: usize) -> Vec<Sample> {
        (0..count as u64).map(|i| self.generate(seed, i)).collect()
    }

    /// One sample drawn from an arbitrary stream (producers pass an entropy-seeded one).
    fn generate_with(self, rng: &mut DrawRng, id: String) -> Sample;
}

impl TaskGenerator for TaskKind {
    fn generate(self, seed: &Seed, index: u64) -> Sample {
        let mut rng = DrawRng::new(seed, self.name(), index);
        let id = sample_id(seed, self.name(), index);
        self.generate_with(&mut rng, id)
    }

    fn generate_with(self, rng: &mut DrawRng, id: String) -> Sample {
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
