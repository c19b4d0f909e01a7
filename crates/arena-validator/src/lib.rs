//! The validator service of finetune-arena: it reads miners'
//! commitments from the chain, downloads and checks their models, evaluates them in an
//! isolated worker process on data drawn with the shared seed, scores each step with
//! `arena-core`'s policies and sets weights on chain.
//!
//! Modules, in the order a model travels through them:
//! * [`update`]: commitment → competition → eval delay → size before download → download →
//!   secure hash against the committing hotkey → constraint checks ([`precheck`]), with a
//!   typed [`Rejection`] recorded for every refusal;
//! * [`worker`]: the JSON protocol of the evaluation worker, the [`worker::ModelScorer`] trait its
//!   body implements, and the runner that spawns it with a timeout and a memory cap;
//! * [`store`]: the state in SQLite, one transaction per step;
//! * [`cleanup`]: removal of downloaded files no tracked model refers to.
//!
//! The samples of a step are drawn by `arena-data` ([`arena_data::draw::draw_samples`] through
//! the sources of [`arena_data::sources::schedule_sources`]), which miners' checks use too.
//!
//! ```
//! use arena_validator::store::Store;
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path().join("validator.sqlite"))?;
//! assert!(store.step_keys()?.is_empty());
//! assert!(store.tracker()?.weights.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cleanup;
pub mod eval;
pub mod metrics;
pub mod precheck;
pub mod service;
pub mod store;
pub mod update;
mod verdict;
pub mod weights;
pub mod worker;

pub use verdict::{Rejection, Verdict};
