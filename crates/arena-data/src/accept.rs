//! The acceptance rules a validator applies to every batch, and their counters.
//!
//! A batch is used only if (1) its signature verifies, (2) its producer is registered on the
//! data subnet with stake ≥ `min_stake`, (3) it was created within the freshness window and
//! after the commit time plus eval delay of every model it will score, and (4) no sample
//! contains an undesirable phrase. Rules (1), (2) and (4) hold for good once checked; rule (3)
//! depends on the clock and the models, so it is applied at each draw.

use std::collections::{BTreeMap, HashMap};

use arena_keys::PublicKey;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::batch::{Batch, BatchLimits};
use crate::error::DataError;
use crate::phrases::PhraseFilter;

/// Subnet 37's freshness window: 4 hours.
pub const DEFAULT_FRESHNESS_MS: u64 = 4 * 3600 * 1000;

/// How far in the future a batch's clock may be (producer clock skew).
pub const DEFAULT_MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// Reads a producer's stake on the data subnet. The validator backs it with the chain.
#[async_trait]
pub trait StakeOracle: Send + Sync {
    /// Total stake behind `hotkey` on `netuid`, or `None` when the hotkey is not registered
    /// there. Units are the chain's (rao on Subtensor, where 1 TAO = 10⁹ rao).
    async fn producer_stake(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
    ) -> Result<Option<u64>, DataError>;

    /// Whether `hotkey` holds a validator permit on `netuid`: `Some(false)` when it does not
    /// or is not registered, `None` when this oracle cannot tell (the default).
    async fn validator_permit(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
    ) -> Result<Option<bool>, DataError> {
        let _ = (netuid, hotkey);
        Ok(None)
    }
}

/// A fixed table of registrations: for tests, dev networks and offline inspection.
#[derive(Debug, Clone, Default)]
pub struct StaticStakes {
    stakes: HashMap<(u16, PublicKey), u64>,
}

impl StaticStakes {
    /// Registers `hotkey` on `netuid` with `stake`.
    pub fn with(mut self, netuid: u16, hotkey: PublicKey, stake: u64) -> Self {
        self.stakes.insert((netuid, hotkey), stake);
        self
    }
}

#[async_trait]
impl StakeOracle for StaticStakes {
    async fn producer_stake(
        &self,
        netuid: u16,
        hotkey: &PublicKey,
    ) -> Result<Option<u64>, DataError> {
        Ok(self.stakes.get(&(netuid, *hotkey)).copied())
    }
}

/// Why a batch was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Not parseable as a batch, or breaks a structural rule.
    Malformed,
    /// Over the byte cap.
    Oversize,
    /// The signature does not verify.
    BadSignature,
    /// Signed for another subnet than the data subnet.
    WrongNetuid,
    /// The producer is not registered on the data subnet.
    NotRegistered,
    /// The producer's stake is below `min_stake`.
    LowStake,
    /// The chain could not tell the producer's stake.
    StakeUnavailable,
    /// Older than the freshness window.
    Stale,
    /// Dated further in the future than the allowed clock skew.
    FromFuture,
    /// Not newer than a scored model's commit time plus eval delay.
    TooEarly,
    /// A sample contains an undesirable phrase.
    UndesirablePhrase,
}

/// Counts of accepted and rejected batches, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionStats {
    /// Batches that passed every rule.
    pub accepted_batches: u64,
    /// Samples in those batches.
    pub accepted_samples: u64,
    /// Dropped batches per reason.
    pub rejected: BTreeMap<Rejection, u64>,
}

impl RejectionStats {
    /// Records one dropped batch.
    pub fn reject(&mut self, reason: Rejection) {
        *self.rejected.entry(reason).or_insert(0) += 1;
    }

    /// Records one accepted batch of `samples` samples.
    pub fn accept(&mut self, samples: usize) {
        self.accepted_batches += 1;
        self.accepted_samples += samples as u64;
    }

    /// Dropped batches for one reason.
    pub fn rejected(&self, reason: Rejection) -> u64 {
        self.rejected.get(&reason).copied().unwrap_or(0)
    }

    /// Dropped batches for all reasons.
    pub fn total_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Adds another set of counts to this one.
    pub fn merge(&mut self, other: &RejectionStats) {
        self.accepted_batches += other.accepted_batches;
        self.accepted_samples += other.accepted_samples;
        for (reason, count) in &other.rejected {
            *self.rejected.entry(*reason).or_insert(0) += count;
        }
    }
}

/// The validator's acceptance settings.
#[derive(Debug, Clone)]
pub struct AcceptancePolicy {
    /// The data subnet producers must be registered on.
    pub netuid: u16,
    /// Least stake a producer needs, in chain units.
    pub min_stake: u64,
    /// Oldest accepted batch age.
    pub freshness_ms: u64,
    /// Largest accepted clock skew into the future.
    pub max_clock_skew_ms: u64,
    /// Size limits for parsing.
    pub limits: BatchLimits,
    /// The undesirable phrases.
    pub phrases: PhraseFilter,
}

impl AcceptancePolicy {
    /// Defaults for `netuid`: 4 h freshness, 5 min skew, default limits and phrases.
    pub fn new(netuid: u16, min_stake: u64) -> AcceptancePolicy {
        AcceptancePolicy {
            netuid,
            min_stake,
            freshness_ms: DEFAULT_FRESHNESS_MS,
            max_clock_skew_ms: DEFAULT_MAX_CLOCK_SKEW_MS,
            limits: BatchLimits::default(),
            phrases: PhraseFilter::default(),
        }
    }

    /// Parses untrusted bytes into a batch, mapping failures to a rejection reason.
    pub fn parse(&self, bytes: &[u8]) -> Result<Batch, Rejection> {
        use crate::batch::BatchError;
        Batch::parse(bytes, &self.limits).map_err(|e| match e {
            BatchError::TooLarge { .. } => Rejection::Oversize,
            _ => Rejection::Malformed,
        })
    }

    /// The rules that hold for good: signature, subnet, registration and stake, phrases.
    pub async fn check_lasting(
        &self,
        batch: &Batch,
        oracle: &dyn StakeOracle,
    ) -> Result<(), Rejection> {
        let key = batch.verify().map_err(|_| Rejection::BadSignature)?;
        if batch.netuid != self.netuid {
            return Err(Rejection::WrongNetuid);
        }
        match oracle.producer_stake(self.netuid, &key).await {
            Err(err) => {
                tracing::warn!(producer = %batch.producer, %err, "stake lookup failed");
                return Err(Rejection::StakeUnavailable);
            }
            Ok(None) => return Err(Rejection::NotRegistered),
            Ok(Some(stake)) if stake < self.min_stake => return Err(Rejection::LowStake),
            Ok(Some(_)) => {}
        }
        if let Some((sample, phrase)) = batch
            .samples
            .iter()
            .find_map(|s| self.phrases.find_in_sample(s).map(|p| (s, p)))
        {
            tracing::debug!(producer = %batch.producer, sample = %sample.id, phrase, "undesirable phrase");
            return Err(Rejection::UndesirablePhrase);
        }
        Ok(())
    }

    /// The clock rules at `now_ms`: fresh, not from the future, and strictly newer than
    /// `not_before_ms` (the latest commit time + eval delay among the models to be scored).
    pub fn check_timing(
        &self,
        batch: &Batch,
        now_ms: u64,
        not_before_ms: u64,
    ) -> Result<(), Rejection> {
        if batch.created_at > now_ms.saturating_add(self.max_clock_skew_ms) {
            return Err(Rejection::FromFuture);
        }
        if now_ms.saturating_sub(batch.created_at) > self.freshness_ms {
            return Err(Rejection::Stale);
        }
        if batch.created_at <= not_before_ms {
            return Err(Rejection::TooEarly);
        }
        Ok(())
    }

    /// Every rule at once.
    pub async fn check(
        &self,
        batch: &Batch,
        oracle: &dyn StakeOracle,
        now_ms: u64,
        not_before_ms: u64,
    ) -> Result<(), Rejection> {
        self.check_lasting(batch, oracle).await?;
        self.check_timing(batch, now_ms, not_before_ms)
    }
}
