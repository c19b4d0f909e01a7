//! Yuma Consensus as a pure function, bit-exact with subtensor's epoch.
//!
//! [`epoch`] takes what subtensor's `epoch_mechanism` reads from storage ([`EpochInput`]:
//! stakes, previous validator permits, weight and bond rows as stored, last updates,
//! registration blocks, hyperparameters) and returns what it writes ([`EpochOutput`]: active,
//! new permits, consensus, incentive, dividends, validator trust, bonds and rao emission),
//! computed with the same fixed-point types (`substrate-fixed` I32F32 / I64F64 / I96F32) and
//! the same rounding: products and conversions round down, x / 0 = 0, stored proportions are
//! `floor(x · 65535)`.
//!
//! Behaviour followed: `opentensor/subtensor` at commit `14bc6f9f` (2026-06-30, runtime
//! spec 425, same epoch code as tag `v3.4.9-424`), the **sparse** production path
//! (`epoch_mechanism`, one mechanism): classic EMA bonds and Yuma 3 bonds, with and without
//! liquid alpha; owner uid exemptions; commit-reveal column mask; the sparse liquid-alpha
//! quirk (a bond whose weight entry is gone disappears). Every uid without a new permit gets
//! an empty bond row, as the chain stores it. Not modelled: child/parent stake inheritance
//! (pass inherited stake), several mechanisms per subnet, the coinbase split of emission.
//!
//! No I/O, no clock, no randomness: the same input always gives the same output.
//!
//! ```
//! use arena_yuma::{epoch, EpochInput, Hyperparameters};
//!
//! // Two validators (uids 0, 1) both weight miner 2; nothing else is registered.
//! let input = EpochInput {
//!     n: 3,
//!     current_block: 10,
//!     rao_emission: 1_000_000_000,
//!     stakes: vec![600, 400, 0],
//!     validator_permit: vec![true, true, false],
//!     weights: vec![vec![(2, 65535)], vec![(2, 65535)], vec![]],
//!     bonds: vec![vec![]; 3],
//!     last_update: vec![9, 9, 0],
//!     block_at_registration: vec![0; 3],
//!     hyperparameters: Hyperparameters::default(),
//!     ..Default::default()
//! };
//! let out = epoch(&input).unwrap();
//! assert_eq!(out.incentive, vec![0, 0, 65535]);
//! assert_eq!(out.validator_permit, vec![true, true, false]);
//! // Miner and validators split the epoch's emission in half.
//! assert!(out.server_emission[2] > 499_999_000 && out.server_emission[2] <= 500_000_000);
//! ```

mod bonds;
mod epoch;
mod math;
pub mod scenario;
mod types;
pub mod weights;

pub use epoch::epoch;
pub use types::{EpochInput, EpochOutput, Hyperparameters, YumaError, DEFAULT_TAO_WEIGHT};
