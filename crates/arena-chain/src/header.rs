//! Block headers in Substrate's layout, so that a block's hash is what a Substrate client
//! computes from the header it is served: `blake2_256(SCALE(header))` with
//!
//! ```text
//! header = parent_hash [u8; 32] ‖ number Compact<u32> ‖ state_root [u8; 32]
//!        ‖ extrinsics_root [u8; 32] ‖ digest Vec<DigestItem> (always empty here)
//! ```
//!
//! The roots are digests, not Merkle-trie roots: arena keeps its state in SQLite, not in a
//! trie. `extrinsics_root` is `blake2_256(SCALE(Vec<Vec<u8>>))` over the body's extrinsic
//! bytes, so it still commits to the body; `state_root` is zero, except in the genesis header,
//! where it is `blake2_256("arena-chain/genesis" ‖ chain name)`, so that chains with different
//! names have different genesis hashes (and reject each other's signatures).

use parity_scale_codec::{Compact, Encode};

use crate::error::{ChainError, ChainResult};
use crate::extrinsic::blake2_256;
use crate::types::{BlockHash, BlockNumber};

/// A block header as Substrate encodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Hash of the parent block (zero for genesis).
    pub parent_hash: BlockHash,
    /// Block number (a u32 in Subtensor's header).
    pub number: u32,
    /// See the module documentation.
    pub state_root: [u8; 32],
    /// See the module documentation.
    pub extrinsics_root: [u8; 32],
}

impl Header {
    /// The header of block `number`; numbers beyond u32 are refused, as Subtensor's header
    /// cannot hold them.
    pub fn new(
        parent_hash: BlockHash,
        number: BlockNumber,
        state_root: [u8; 32],
        extrinsics: &[Vec<u8>],
    ) -> ChainResult<Self> {
        let number = u32::try_from(number).map_err(|_| ChainError::InvalidData {
            reason: format!("block number {number} does not fit a Substrate header (u32)"),
        })?;
        Ok(Header {
            parent_hash,
            number,
            state_root,
            extrinsics_root: extrinsics_root(extrinsics),
        })
    }

    /// The genesis header of the chain called `chain_name`.
    pub fn genesis(chain_name: &str) -> Self {
        Header {
            parent_hash: BlockHash([0; 32]),
            number: 0,
            state_root: blake2_256(&[b"arena-chain/genesis", chain_name.as_bytes()]),
            extrinsics_root: extrinsics_root(&[]),
        }
    }

    /// SCALE encoding (the digest is an empty vector).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 5 + 32 + 32 + 1);
        self.parent_hash.0.encode_to(&mut out);
        Compact(self.number).encode_to(&mut out);
        self.state_root.encode_to(&mut out);
        self.extrinsics_root.encode_to(&mut out);
        Compact(0u32).encode_to(&mut out);
        out
    }

    /// The block hash: blake2-256 of the encoded header.
    pub fn hash(&self) -> BlockHash {
        BlockHash(blake2_256(&[&self.encode()]))
    }
}

/// `blake2_256(SCALE(Vec<Vec<u8>>))` of a block body's extrinsic bytes.
pub fn extrinsics_root(extrinsics: &[Vec<u8>]) -> [u8; 32] {
    blake2_256(&[&extrinsics.encode()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_encoding_follows_substrate() {
        let h = Header {
            parent_hash: BlockHash([1; 32]),
            number: 70,
            state_root: [2; 32],
            extrinsics_root: [3; 32],
        };
        let bytes = h.encode();
        assert_eq!(bytes.len(), 32 + 2 + 32 + 32 + 1);
        assert_eq!(&bytes[..32], &[1; 32]);
        // Compact 70 = 70 << 2 | 0b01 over two bytes, little-endian.
        assert_eq!(&bytes[32..34], &[0x19, 0x01]);
        assert_eq!(&bytes[34..66], &[2; 32]);
        assert_eq!(&bytes[66..98], &[3; 32]);
        assert_eq!(bytes[98], 0);
        assert_eq!(h.hash().0, blake2_256(&[&bytes]));
        assert_ne!(Header::genesis("a").hash(), Header::genesis("b").hash());
        assert!(Header::new(BlockHash::default(), 1 << 33, [0; 32], &[]).is_err());
    }
}
