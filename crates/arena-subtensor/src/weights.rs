//! Commit-reveal v4: where timelock encryption plugs in, and the drand round a commitment
//! is revealed at.
//!
//! The client does no cryptography here: a [`WeightsSealer`] (the `arena-timelock` crate's
//! drand quicknet encryption of a `WeightsTlockPayload`) returns the commit bytes, and the
//! client sends them with `commit_timelocked_mechanism_weights` (or
//! `commit_timelocked_weights` on runtimes without mechanisms), the version read from
//! `CommitRevealWeightsVersion`.

use arena_keys::PublicKey;

use crate::error::{Error, Result};

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

/// The sealer the chain can open: drand quicknet timelock encryption (`arena-timelock`) of
/// the SCALE `WeightsTlockPayload`, with fresh randomness from the operating system. The
/// default of [`crate::Options`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DrandQuicknet;

impl WeightsSealer for DrandQuicknet {
    fn seal(
        &self,
        hotkey: &PublicKey,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
        reveal_round: u64,
    ) -> Result<Vec<u8>> {
        arena_timelock::seal_weights(
            &hotkey.0,
            uids,
            values,
            version_key,
            reveal_round,
            &mut rand::rngs::OsRng,
        )
        .map_err(|e| Error::Seal(e.to_string()))
    }
}

/// The drand round weights committed at `current_block` (read at `now_unix_secs`) are
/// revealed at, as the Python SDK computes it for runtimes without the stateful epoch storage
/// (finney at specs 343 and 393): the first block of epoch (current epoch +
/// `RevealPeriodEpochs`) plus three blocks of margin, at 12-second blocks.
pub fn reveal_round(
    current_block: u64,
    netuid: u16,
    tempo: u16,
    reveal_period_epochs: u64,
    now_unix_secs: f64,
) -> u64 {
    arena_timelock::reveal_round(
        current_block,
        now_unix_secs,
        netuid,
        tempo,
        reveal_period_epochs,
        BLOCK_SECS,
    )
}

/// Subtensor's block time in seconds (finney and testnet).
pub const BLOCK_SECS: f64 = 12.0;

#[cfg(test)]
mod tests {
    use super::*;

    /// quicknet's published signature of round 1000.
    const SIG_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

    #[test]
    fn the_default_sealer_commits_what_the_round_signature_opens() {
        let hotkey = PublicKey([7; 32]);
        let commit = DrandQuicknet
            .seal(&hotkey, &[0, 1], &[100, 65535], 4, 1000)
            .unwrap();
        let opened = arena_timelock::open_weights(&commit, &hex::decode(SIG_1000).unwrap())
            .expect("round 1000's signature opens the commit");
        assert_eq!(opened.hotkey, hotkey.0.to_vec());
        assert_eq!(opened.uids, vec![0, 1]);
        assert_eq!(opened.values, vec![100, 65535]);
        assert_eq!(opened.version_key, 4);
    }

    #[test]
    fn reveal_round_by_hand() {
        // tempo 360, netuid 37, period 1, block 1000: epoch (1000+38)/361 = 2, reveal
        // epoch 3, its first block 3·361 − 38 = 1045, + 3 = 1048, 48 blocks = 576 s ahead.
        let now = (arena_timelock::QUICKNET_GENESIS_TIME + 3000) as f64;
        assert_eq!(reveal_round(1000, 37, 360, 1, now), (3000 + 576) / 3);
        // Two epochs ahead: first block 4·361 − 38 = 1406, + 3 = 1409: 409 blocks.
        assert_eq!(reveal_round(1000, 37, 360, 2, now), (3000 + 409 * 12) / 3);
    }
}
