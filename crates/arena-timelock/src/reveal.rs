//! Which drand round a commit is encrypted to: the Python SDK's arithmetic, as pure functions.
//!
//! Both SDK models pick a chain block at which the commit must be revealed, add
//! [`SECURITY_BLOCK_OFFSET`] blocks so the chain has already ingested the round's pulse, turn the
//! blocks left into seconds with the block time, add them to the wall clock, and take the
//! quicknet round of that instant: `floor((now + blocks·block_time − 1692803367) / 3)`, at
//! least 1 ([`crate::round_at`]).
//!
//! * [`reveal_round`], the model of `bittensor-drand` 1.x `get_encrypted_commit` (SDK 9.x–10.x;
//!   Subtensor specs without the stateful epoch storage, 343 and 393 among them): epochs are
//!   `tempo + 1` blocks long and offset by the netuid, so the epoch of block `b` is
//!   `(b + netuid + 1) / (tempo + 1)`; the reveal block is the first block of epoch
//!   `current + reveal_period_epochs`, `(epoch · (tempo + 1)) − (netuid + 1)`.
//! * [`EpochState::reveal_round`], the stateful model of `bittensor-drand` 2.x
//!   `get_encrypted_commit_v2` for runtimes that store `LastEpochBlock`, `PendingEpochAt` and
//!   `SubnetEpochIndex`: the chain's per-block epoch trigger is simulated from the head state.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::quicknet::round_at;
use crate::Error;

/// Blocks added to the reveal block so that the chain has ingested the round's pulse by then.
pub const SECURITY_BLOCK_OFFSET: u64 = 3;

/// Subtensor's largest tempo (`MAX_TEMPO`): past this many blocks since the last step an epoch
/// runs regardless of tempo (stateful model).
pub const MAX_TEMPO: u64 = 50_400;

/// Blocks between the head the SDK reads and the block its extrinsic lands in (stateful model).
const COMMIT_INCLUSION_BLOCK_OFFSET: u64 = 1;

/// The current unix time in seconds, as the SDK reads it.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The quicknet round whose pulse the chain has at `target_block`, seen from `current_block`
/// at unix time `now_unix_secs` with `block_time_secs`-second blocks.
pub fn round_for_block(
    current_block: u64,
    target_block: u64,
    now_unix_secs: f64,
    block_time_secs: f64,
) -> u64 {
    let blocks = target_block.saturating_sub(current_block);
    round_at(now_unix_secs + blocks as f64 * block_time_secs)
}

/// The block whose pulse a commit made at `current_block` targets in the legacy model: the
/// first block of epoch `current + reveal_period_epochs` plus [`SECURITY_BLOCK_OFFSET`].
pub fn reveal_block(current_block: u64, netuid: u16, tempo: u16, reveal_period_epochs: u64) -> u64 {
    let period = u128::from(tempo) + 1;
    let offset = u128::from(netuid) + 1;
    let epoch = (u128::from(current_block) + offset) / period;
    let reveal_epoch = epoch + u128::from(reveal_period_epochs);
    let first = (reveal_epoch * period).saturating_sub(offset);
    let target = first + u128::from(SECURITY_BLOCK_OFFSET);
    u64::try_from(target).unwrap_or(u64::MAX)
}

/// The drand round `bittensor-drand` 1.x `get_encrypted_commit` encrypts weights to, for a
/// commit at `current_block` (read at unix time `now_unix_secs`) on subnet `netuid` with its
/// `tempo` and `RevealPeriodEpochs`; `block_time_secs` is 12 on finney and testnet.
pub fn reveal_round(
    current_block: u64,
    now_unix_secs: f64,
    netuid: u16,
    tempo: u16,
    reveal_period_epochs: u64,
    block_time_secs: f64,
) -> u64 {
    let target = reveal_block(current_block, netuid, tempo, reveal_period_epochs);
    round_for_block(current_block, target, now_unix_secs, block_time_secs)
}

/// A subnet's epoch schedule at the head block, as the stateful runtimes store it; the input
/// of the `get_encrypted_commit_v2` model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochState {
    /// `LastEpochBlock`: the block at which the subnet's last epoch ran.
    pub last_epoch_block: u64,
    /// `PendingEpochAt`: a block at which an owner-triggered epoch is due, 0 if none.
    pub pending_epoch_at: u64,
    /// `SubnetEpochIndex`: the subnet's epoch counter.
    pub subnet_epoch_index: u64,
    /// `Tempo`.
    pub tempo: u16,
    /// `BlocksSinceLastStep`.
    pub blocks_since_last_step: u64,
    /// The head block the state was read at.
    pub current_block: u64,
}

impl EpochState {
    /// Whether the chain runs the subnet's epoch in `block`, given the state after the block
    /// before it.
    fn epoch_due(&self, block: u64) -> bool {
        if self.tempo == 0 {
            return false;
        }
        if self.pending_epoch_at > 0 && block >= self.pending_epoch_at {
            return true;
        }
        if self.blocks_since_last_step > MAX_TEMPO {
            return true;
        }
        block.saturating_sub(self.last_epoch_block) >= u64::from(self.tempo)
    }

    /// The epoch index the chain's reveal step sees in `block` (reveals run before the
    /// epoch step of the same block).
    fn epoch_at_reveal(&self, block: u64) -> u64 {
        self.subnet_epoch_index + u64::from(self.epoch_due(block))
    }

    /// The state after `block`'s epoch step.
    fn step(mut self, block: u64) -> Self {
        self.blocks_since_last_step = self.blocks_since_last_step.saturating_add(1);
        self.current_block = block;
        if self.epoch_due(block) {
            self.last_epoch_block = block;
            self.pending_epoch_at = 0;
            self.subnet_epoch_index = self.subnet_epoch_index.saturating_add(1);
            self.blocks_since_last_step = 0;
        }
        self
    }

    /// The first block at which the chain reveals a commit sent now: the commit lands in the
    /// next block, is filed under that block's epoch, and is revealed in the first block whose
    /// reveal step sees epoch `commit epoch + reveal_period_epochs`. Simulates at most
    /// `(reveal_period_epochs + 1) · MAX_TEMPO` blocks.
    pub fn first_reveal_block(&self, reveal_period_epochs: u64) -> Result<u64, Error> {
        if self.tempo == 0 {
            return Err(Error::Schedule("tempo is 0: the subnet runs no epochs"));
        }
        let head = self.current_block;
        let extrinsic_block = head + COMMIT_INCLUSION_BLOCK_OFFSET;
        let mut state = *self;
        for block in head + 1..extrinsic_block {
            state = state.step(block);
        }
        let target = state
            .epoch_at_reveal(extrinsic_block)
            .saturating_add(reveal_period_epochs);
        let budget = reveal_period_epochs
            .saturating_mul(MAX_TEMPO)
            .saturating_add(MAX_TEMPO);
        let mut block = extrinsic_block;
        loop {
            if state.epoch_at_reveal(block) == target {
                return Ok(block);
            }
            if block >= extrinsic_block.saturating_add(budget) {
                return Err(Error::Schedule(
                    "no reveal block within the simulation bound",
                ));
            }
            state = state.step(block);
            block += 1;
        }
    }

    /// The drand round `bittensor-drand` 2.x `get_encrypted_commit_v2` encrypts weights to:
    /// the round of [`Self::first_reveal_block`] plus [`SECURITY_BLOCK_OFFSET`].
    pub fn reveal_round(
        &self,
        reveal_period_epochs: u64,
        block_time_secs: f64,
        now_unix_secs: f64,
    ) -> Result<u64, Error> {
        let first = self.first_reveal_block(reveal_period_epochs)?;
        Ok(round_for_block(
            self.current_block,
            first.saturating_add(SECURITY_BLOCK_OFFSET),
            now_unix_secs,
            block_time_secs,
        ))
    }
}
