//! drand timelock encryption for Subtensor's commit-reveal v4, in Rust on the crates.io
//! arkworks BLS12-381 crates.
//!
//! A validator on a subnet with commit-reveal on does not send its weights in clear: it
//! encrypts a SCALE [`WeightsTlockPayload`] to a future round of drand's **quicknet** beacon and
//! sends the ciphertext with `commit_timelocked_(mechanism_)weights`; when the round's pulse
//! reaches the chain, the chain decrypts it with the round's signature and applies the
//! weights. This crate writes exactly the ciphertext the chain's `tle` crate reads
//! ([`encrypt`], [`seal_weights`]), opens such ciphertexts ([`decrypt`], [`open_weights`]),
//! checks pulses ([`verify_round_signature`]), and computes the round the SDK targets
//! ([`reveal_round`], [`EpochState::reveal_round`]).
//!
//! ```
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let sealed = arena_timelock::seal_weights(&[1; 32], &[0, 1], &[100, 65535], 4, 1000, &mut rng)?;
//! // Quicknet's signature of round 1000.
//! let signature = hex::decode("b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39").unwrap();
//! arena_timelock::verify_round_signature(1000, &signature)?;
//! let opened = arena_timelock::open_weights(&sealed, &signature)?;
//! assert_eq!(opened.values, vec![100, 65535]);
//! # Ok::<(), arena_timelock::Error>(())
//! ```

mod error;
mod quicknet;
mod reveal;
mod tlock;
mod weights;

pub use error::Error;
pub use quicknet::{
    round_at, round_message, round_time, verify_round_signature, QUICKNET_CHAIN_HASH, QUICKNET_DST,
    QUICKNET_GENESIS_TIME, QUICKNET_PERIOD, QUICKNET_PUBLIC_KEY, SIGNATURE_LEN,
};
pub use reveal::{
    reveal_block, reveal_round, round_for_block, unix_now, EpochState, MAX_TEMPO,
    SECURITY_BLOCK_OFFSET,
};
pub use tlock::{decrypt, encrypt, CIPHER_SUITE, MAX_CIPHERTEXT_LEN};
pub use weights::{open_weights, seal_weights, WeightsTlockPayload, MAX_COMMIT_LEN};
