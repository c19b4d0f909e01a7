//! Evaluation data for finetune-arena.
//!
//! * [`tasks`]: seeded generators of synthetic tasks (word sorting, arithmetic, unit
//!   conversion, string operations, Dyck completion, multiple choice, IFEval-style rules);
//! * [`batch`]: signed batches of samples and their canonical signed encoding;
//! * [`feed`]: the HTTP feed (SQLite-backed server and client) producers publish to;
//! * [`accept`]: the validator's acceptance rules and rejection counters, with stake read
//!   through any [`arena_chain::Chain`] ([`chain_stake`]);
//! * [`source`]: the [`DataSource`](source::DataSource) trait validators draw through, with
//!   the feed-backed [`FeedSource`](source::FeedSource); [`local`] and [`corpus`] add
//!   owner-supplied JSONL datasets and paged real prose;
//! * [`hub`]: hub datasets read through the datasets-server rows API with Subnet 37's
//!   loaders and seeded paging ([`hub::HubSource`]);
//! * [`sources`]: the sources a schedule names, built once ([`sources::schedule_sources`]);
//! * [`draw`]: a competition's samples for one step, drawn from those sources with the shared
//!   seed ([`draw::draw_samples`]); validators score on them and miners check against them.
//!
//! Same seed, same samples, on every machine:
//!
//! ```
//! use arena_core::seed::Seed;
//! use arena_data::tasks::{TaskGenerator, TaskKind};
//! let seed = Seed::from_text("sync block 820");
//! let a = TaskKind::WordSorting.generate_many(&seed, 3);
//! let b = TaskKind::WordSorting.generate_many(&seed, 3);
//! assert_eq!(a, b);
//! let words: Vec<&str> = a[0].response.split(' ').collect();
//! assert!(words.windows(2).all(|w| w[0] <= w[1]));
//! ```

pub mod accept;
pub mod batch;
pub mod chain_stake;
pub mod corpus;
pub mod draw;
mod error;
pub mod feed;
pub mod hub;
pub mod local;
pub mod phrases;
pub mod producer;
pub mod rng;
pub mod sample;
pub mod source;
pub mod sources;
pub mod tables;
pub mod tasks;

pub use error::DataError;
pub use sample::Sample;

/// The wall clock in Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
