//! The rules of the competition as pure functions: no I/O, no clocks, no randomness that is
//! not seeded by the caller. Everything a miner and a validator must agree on lives here.
//!
//! ```
//! use arena_core::competition::default_schedule;
//!
//! let schedule = default_schedule()?;
//! let competition = schedule.competition_at(1, 12_345).expect("competition 1 is active");
//! assert!(competition.constraints.check_params(223_552).is_ok());
//! assert!(competition.constraints.check_architecture("GPT2LMHeadModel").is_err());
//! # Ok::<(), arena_core::competition::ScheduleError>(())
//! ```

pub mod commitment;
pub mod competition;
pub mod early_stop;
pub mod epsilon;
pub mod hash;
pub mod ifeval;
pub mod queue;
pub mod rejection;
pub mod scoring;
pub mod seed;
pub mod serde_float;
