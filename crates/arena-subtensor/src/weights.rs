//! Commit-reveal v4: where timelock encryption plugs in, and the drand round a commitment
//! is revealed at.
//!
//! The client does no cryptography here: a [`WeightsSealer`] (the `arena-timelock` crate's
//! drand quicknet encryption of a `WeightsTlockPayload`) returns the commit bytes, and the
//! client sends them with `commit_timelocked_mechanism_weights` (or
//! `commit_timelocked_weights` on runtimes without mechanisms), the version read from
//! `CommitRevealWeightsVersion`.

use arena_keys::PublicKey;

use crate::error::Result;

/// drand quicknet's genesis time (unix seconds).
pub const QUICKNET_GENESIS: u64 = 1_692_803_367;
/// drand quicknet's period (seconds).
pub const QUICKNET_PERIOD: u64 = 3;
/// Subtensor's block time (seconds).
pub const BLOCK_SECS: u64 = 12;
/// Blocks of margin added to the reveal block, as the SDK does.
pub const REVEAL_MARGIN_BLOCKS: u64 = 3;

/// Timelock-encrypts a weights vector for drand round `reveal_round`: the bytes sent as
/// `commit` (a compressed `TLECiphertext` of the SCALE `WeightsTlockPayload { hotkey, uids,
/// values, version_key }`).
pub trait WeightsSealer: Send + Sync {
    /// The commit bytes.
    fn seal(
        &self,
        hotkey: &PublicKey,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
        reveal_round: u64,
    ) -> Result<Vec<u8>>;
}

/// The drand round at which weights committed at `current_block` are revealed: the first
/// block of epoch (current epoch + `reveal_period_epochs`) plus [`REVEAL_MARGIN_BLOCKS`],
/// converted to wall time with 12-second blocks from `now_unix`, then to a quicknet round.
/// Epochs follow Subtensor's per-subnet offset: epoch = (block + netuid + 1) / (tempo + 1).
pub fn reveal_round(
    current_block: u64,
    netuid: u16,
    tempo: u16,
    reveal_period_epochs: u64,
    now_unix: u64,
) -> u64 {
    let tempo_plus_one = u64::from(tempo) + 1;
    let netuid_plus_one = u64::from(netuid) + 1;
    let current_epoch = (current_block + netuid_plus_one) / tempo_plus_one;
    let reveal_epoch = current_epoch.saturating_add(reveal_period_epochs);
    let first_block = (reveal_epoch.saturating_mul(tempo_plus_one)).saturating_sub(netuid_plus_one);
    let reveal_block = first_block + REVEAL_MARGIN_BLOCKS;
    let blocks_until = reveal_block.saturating_sub(current_block);
    let reveal_time = now_unix.saturating_add(blocks_until.saturating_mul(BLOCK_SECS));
    reveal_time.saturating_sub(QUICKNET_GENESIS) / QUICKNET_PERIOD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reveal_round_by_hand() {
        // tempo 360, netuid 37, period 1, block 1000: epoch (1000+38)/361 = 2, reveal
        // epoch 3, its first block 3·361 − 38 = 1045, + 3 = 1048, 48 blocks = 576 s ahead.
        let now = QUICKNET_GENESIS + 3000;
        assert_eq!(reveal_round(1000, 37, 360, 1, now), (3000 + 576) / 3);
        // Two epochs ahead: first block 4·361 − 38 = 1406, + 3 = 1409: 409 blocks.
        assert_eq!(reveal_round(1000, 37, 360, 2, now), (3000 + 409 * 12) / 3);
    }
}
