//! The rules of the competition as pure functions: no I/O, no clocks, no randomness that is
//! not seeded by the caller. Everything a miner and a validator must agree on lives here.

pub mod commitment;
pub mod competition;
pub mod epsilon;
pub mod hash;
pub mod queue;
pub mod scoring;
