//! `arena-eval`: evaluate one model on one competition's drawn samples.
//!
//! The bridge between the rules ([`arena_core::competition`]: tasks, methods, normalisation),
//! the data ([`arena_data::Sample`], with its choices, answer letter and
//! [`arena_core::ifeval::IfRule`]s) and the engine ([`arena_model`]'s scoring methods). The
//! validator's worker and `arena model eval` both call [`evaluate_model`], so a miner sees
//! the numbers a validator will compute. Samples are tokenized once per step and tokenizer
//! when a [`TokenCache`] folder is given (see [`cache`]).
//!
//! ```no_run
//! use arena_core::competition::default_schedule;
//! use arena_core::seed::Seed;
//! use arena_data::tasks::{TaskGenerator, TaskKind};
//! use arena_eval::{evaluate_model, EvalOptions};
//!
//! let schedule = default_schedule()?;
//! let competition = schedule.competition_at(1, 0).expect("competition 1");
//! let seed = Seed::from_text("example");
//! // Competition 1's tasks are all generated: word_sorting, arithmetic, mmlu, if_eval.
//! let drawn: Vec<_> = [TaskKind::WordSorting, TaskKind::Arithmetic, TaskKind::MultipleChoice, TaskKind::IfEval]
//!     .iter()
//!     .map(|k| Some(k.generate_many(&seed, 8)))
//!     .collect();
//! let dir = std::path::Path::new("fixtures/tiny-llama");
//! let result = evaluate_model(dir, competition, &drawn, &EvalOptions::default(), &arena_model::Device::Cpu)?;
//! println!("score {}", result.score(competition)?.total);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod evaluate;
mod inputs;

use std::path::PathBuf;

pub use cache::TokenCache;
pub use evaluate::{
    evaluate_loaded, evaluate_model, load_evaluator, CacheUse, EarlyStopped, EvalOptions,
    ModelEval, TaskEval,
};
pub use inputs::{answer_index, Dropped, Inputs};

use arena_core::rejection::Rejection;

/// Why a model could not be evaluated at all (per-sample failures are scores, not errors).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The weights failed a check (NaN/inf, norm validation, unreadable file).
    #[error("model refused [{code}]: {0}", code = .0.code())]
    Check(Rejection),
    /// The model or tokenizer folder could not be loaded.
    #[error("loading {}: {source}", path.display())]
    Load {
        /// The folder.
        path: PathBuf,
        /// What failed.
        source: arena_model::ModelError,
    },
    /// The drawn samples do not line up with the competition's tasks.
    #[error("{drawn} task sample lists for a competition with {tasks} tasks")]
    TaskCount {
        /// Tasks in the competition.
        tasks: usize,
        /// Sample lists given.
        drawn: usize,
    },
    /// The token cache folder or an entry of it is unusable (never fatal to an evaluation).
    #[error("token cache {}: {reason}", path.display())]
    Cache {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
