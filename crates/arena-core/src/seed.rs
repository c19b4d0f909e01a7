//! The shared evaluation seed.
//!
//! Validators must draw the same evaluation samples, or their weights disagree and their
//! validator trust suffers. They agree on a *sync block* (the last multiple of `cadence` blocks
//! since the subnet's genesis) and derive the seed from that block's hash, which nobody can
//! know before the block exists. As Subnet 37 does, the seed is SHA-256 of the block hash
//! written as a `0x`-prefixed lowercase hex string (66 ASCII bytes).
//!
//! ```
//! use arena_core::seed::{sync_block, Seed, DEFAULT_SYNC_CADENCE};
//! assert_eq!(sync_block(1_000, 100, DEFAULT_SYNC_CADENCE), 820);
//! let seed = Seed::from_block_hash(&[0u8; 32]);
//! assert_eq!(seed, Seed::from_block_hash_hex(&format!("0x{}", "00".repeat(32))).unwrap());
//! ```

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Blocks between two sync blocks (Subnet 37 uses 360 since May 2025: one tempo).
pub const DEFAULT_SYNC_CADENCE: u64 = 360;

/// The sync block for `block`: `genesis + floor((block − genesis) / cadence) · cadence`.
///
/// Blocks before `genesis` map to `genesis` (there is no earlier window), and a cadence of 0 is
/// treated as 1 so the function is total.
pub fn sync_block(block: u64, genesis: u64, cadence: u64) -> u64 {
    let cadence = cadence.max(1);
    if block <= genesis {
        return genesis;
    }
    genesis + (block - genesis) / cadence * cadence
}

/// The first sync block strictly after `block`: the next time validators switch samples.
pub fn next_sync_block(block: u64, genesis: u64, cadence: u64) -> u64 {
    let cadence = cadence.max(1);
    if block < genesis {
        return genesis;
    }
    sync_block(block, genesis, cadence) + cadence
}

/// Errors from parsing a seed or a block hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedError {
    /// The text was not 64 hex digits (optionally `0x`-prefixed).
    #[error("invalid 32-byte hex value {0:?}: expected 64 hex digits, optionally prefixed by 0x")]
    BadHex(String),
}

/// A 32-byte seed every validator derives the same way.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// The seed of a block: SHA-256 of `"0x" + lowercase hex(hash)` (Subnet 37's recipe).
    pub fn from_block_hash(hash: &[u8; 32]) -> Seed {
        let text = format!("0x{}", to_hex(hash));
        Seed(Sha256::digest(text.as_bytes()).into())
    }

    /// Like [`Seed::from_block_hash`] for a hash as an RPC returns it (`0x…`, any case).
    pub fn from_block_hash_hex(hash_hex: &str) -> Result<Seed, SeedError> {
        Ok(Seed::from_block_hash(&parse_hex32(hash_hex)?))
    }

    /// A seed named by a person (CLI `--seed`): 64 hex digits are taken as the seed itself,
    /// anything else is hashed with SHA-256, so `--seed 7` and `--seed hello` both work.
    pub fn from_text(text: &str) -> Seed {
        match parse_hex32(text) {
            Ok(bytes) => Seed(bytes),
            Err(_) => Seed(Sha256::digest(text.as_bytes()).into()),
        }
    }

    /// The seed as 64 lowercase hex digits (no prefix).
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed({})", self.to_hex())
    }
}

impl FromStr for Seed {
    type Err = SeedError;
    /// Strict: exactly 64 hex digits (optionally `0x`-prefixed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(Seed)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex32(text: &str) -> Result<[u8; 32], SeedError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bad = || SeedError::BadHex(text.to_string());
    if digits.len() != 64 || !digits.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_block_windows() {
        // Subnet 37's genesis and cadence.
        let genesis = 3_138_611;
        assert_eq!(sync_block(genesis, genesis, 360), genesis);
        assert_eq!(sync_block(genesis + 359, genesis, 360), genesis);
        assert_eq!(sync_block(genesis + 360, genesis, 360), genesis + 360);
        assert_eq!(sync_block(genesis + 1000, genesis, 360), genesis + 720);
        assert_eq!(sync_block(5, 10, 360), 10);
        assert_eq!(
            next_sync_block(genesis + 1000, genesis, 360),
            genesis + 1080
        );
        assert_eq!(next_sync_block(genesis + 720, genesis, 360), genesis + 1080);
        assert_eq!(sync_block(7, 0, 0), 7);
    }

    #[test]
    fn seed_is_sha256_of_prefixed_hex() {
        // sha256("0x" + "00"*32), computed independently with Python's hashlib.
        let seed = Seed::from_block_hash(&[0u8; 32]);
        assert_eq!(
            seed.to_hex(),
            "6aed34e6bddff5e1d872b5d7d5698a7b73abd6f3b33402732edc73ab9ffb9c70"
        );
    }

    #[test]
    fn hex_parsing() {
        let upper = format!("0X{}", "AB".repeat(32));
        let lower = "ab".repeat(32);
        assert_eq!(
            Seed::from_block_hash_hex(&upper).unwrap(),
            Seed::from_block_hash_hex(&lower).unwrap()
        );
        assert!(Seed::from_block_hash_hex("0x1234").is_err());
        assert!("zz".repeat(32).parse::<Seed>().is_err());
        assert_eq!(Seed::from_text(&lower).0, [0xab; 32]);
        assert_ne!(Seed::from_text("7"), Seed::from_text("8"));
    }
}
