//! The reveal-round arithmetic on hand-computed cases (the oracle comparison is in
//! `oracle.rs`).

use arena_timelock::{
    reveal_block, reveal_round, round_at, round_for_block, round_time, EpochState, Error,
    QUICKNET_GENESIS_TIME,
};

const G: f64 = QUICKNET_GENESIS_TIME as f64;

#[test]
fn legacy_reveal_block_is_the_first_block_of_the_reveal_epoch_plus_three() {
    // Subnet 37, tempo 360: epochs are 361 blocks, offset by netuid + 1 = 38.
    // (5_000_000 + 38) / 361 = 13850; epoch 13851 starts at 13851 · 361 − 38 = 5_000_173.
    assert_eq!(reveal_block(5_000_000, 37, 360, 1), 5_000_176);
    // Two epochs ahead: one more epoch of 361 blocks.
    assert_eq!(reveal_block(5_000_000, 37, 360, 2), 5_000_176 + 361);
    // The last block of an epoch and the first of the next.
    assert_eq!(reveal_block(5_000_172, 37, 360, 1), 5_000_176);
    assert_eq!(reveal_block(5_000_173, 37, 360, 1), 5_000_176 + 361);
    // Period 0 targets the current epoch's first block (already past): 3 blocks after it.
    assert_eq!(reveal_block(5_000_000, 37, 360, 0), 5_000_173 - 361 + 3);
    // Extremes saturate instead of overflowing.
    assert_eq!(reveal_block(u64::MAX, 65535, 65535, u64::MAX), u64::MAX);
    assert_eq!(reveal_block(0, 0, 10, 0), 3);
}

#[test]
fn legacy_reveal_round_converts_blocks_to_quicknet_rounds() {
    // 176 blocks of 12 s from 3000 s after genesis: (3000 + 2112) / 3 = 1704.
    assert_eq!(reveal_round(5_000_000, G + 3000.0, 37, 360, 1, 12.0), 1704);
    // A fraction of a round rounds down.
    assert_eq!(reveal_round(5_000_000, G + 3002.9, 37, 360, 1, 12.0), 1704);
    assert_eq!(reveal_round(5_000_000, G + 3003.0, 37, 360, 1, 12.0), 1705);
    // Before genesis the round is 1.
    assert_eq!(reveal_round(5_000_000, 0.0, 37, 360, 1, 12.0), 1);
    // A reveal block in the past contributes no time.
    assert_eq!(round_for_block(100, 90, G + 30.0, 12.0), 10);
}

#[test]
fn rounds_and_times() {
    assert_eq!(round_at(G + 2999.0), 999);
    assert_eq!(round_at(G - 10.0), 1);
    assert_eq!(round_at(f64::NAN), 1);
    assert_eq!(round_time(1), QUICKNET_GENESIS_TIME);
    assert_eq!(round_time(1000), QUICKNET_GENESIS_TIME + 2997);
}

fn state(last: u64, pending: u64, index: u64, tempo: u16, since: u64, current: u64) -> EpochState {
    EpochState {
        last_epoch_block: last,
        pending_epoch_at: pending,
        subnet_epoch_index: index,
        tempo,
        blocks_since_last_step: since,
        current_block: current,
    }
}

#[test]
fn stateful_first_reveal_block_follows_the_epoch_trigger() {
    // Last epoch at 100, tempo 50: the next runs at 150; a commit landing at 121 is filed
    // under epoch 0 and revealed when epoch 1 is seen, at 150.
    assert_eq!(state(100, 0, 0, 50, 20, 120).first_reveal_block(1), Ok(150));
    // Two periods: the epoch after, 50 blocks later.
    assert_eq!(state(100, 0, 0, 50, 20, 120).first_reveal_block(2), Ok(200));
    // An owner-triggered epoch at 130 comes first.
    assert_eq!(
        state(100, 130, 0, 50, 20, 120).first_reveal_block(1),
        Ok(130)
    );
    // Overdue steps (> MAX_TEMPO blocks) run an epoch in the commit's own block: the commit is
    // filed under the new epoch and revealed one tempo later.
    assert_eq!(state(0, 0, 5, 10, 60_000, 10).first_reveal_block(1), Ok(21));
    // Period 0: revealed in the commit's block.
    assert_eq!(state(100, 0, 0, 50, 20, 120).first_reveal_block(0), Ok(121));
    // Tempo 0 runs no epochs.
    assert!(matches!(
        state(100, 0, 0, 0, 20, 120).first_reveal_block(1),
        Err(Error::Schedule(_))
    ));
}

#[test]
fn stateful_reveal_round_adds_three_blocks_and_converts() {
    // Reveal at 150 + 3 = 153, 33 blocks after 120: 396 s; (3000 + 396) / 3 = 1132.
    assert_eq!(
        state(100, 0, 0, 50, 20, 120).reveal_round(1, 12.0, G + 3000.0),
        Ok(1132)
    );
}
