//! The epoch's input and output: exactly the storage items subtensor reads and writes, in
//! their storage units (u16 proportions, rao, blocks), so a chain can pass its state through.

use serde::{Deserialize, Serialize};

/// Subtensor's default `TaoWeight` (about 0.0527 of `u64::MAX`).
pub const DEFAULT_TAO_WEIGHT: u64 = 971_718_665_099_567_868;

/// A subnet's parameters, in subtensor's storage names and units. The one type for them:
/// the epoch reads the consensus fields, the chain (`arena-chain` re-exports it) the rest
/// (capacity, rate limits, commitment space, emission).
///
/// `Default` gives the values a subnet created today gets (`init_new_network` on top of the
/// runtime defaults): Yuma 3 on, liquid alpha off, 64 validators, activity cutoff 5000 blocks.
/// The serialised field order is fixed: arena's chain signs the JSON of this struct in
/// `create_subnet`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hyperparameters {
    /// Blocks between epochs.
    pub tempo: u16,
    /// Consensus quantile, u16/65535.
    pub kappa: u16,
    /// Classic EMA: α = 1 − value/1e6.
    pub bonds_moving_average: u64,
    /// β, u16/65535: how much bonds follow clipped instead of raw weights.
    pub bonds_penalty: u16,
    /// Yuma 3 bonds (on for every new subnet).
    pub yuma3: bool,
    /// Liquid alpha (Yuma 3 only).
    pub liquid_alpha: bool,
    /// Liquid alpha low bound, u16/65535.
    pub alpha_low: u16,
    /// Liquid alpha high bound, u16/65535.
    pub alpha_high: u16,
    /// Liquid alpha sigmoid steepness.
    pub alpha_sigmoid_steepness: i16,
    /// Blocks without a weight update after which a validator counts as inactive.
    pub activity_cutoff: u64,
    /// Validator permits granted per epoch (top stakes).
    #[serde(alias = "max_validators")]
    pub max_allowed_validators: u16,
    /// Capacity of the subnet; a registration into a full subnet replaces a neuron.
    pub max_allowed_uids: u16,
    /// A weight vector must name at least min(n, this) uids.
    pub min_allowed_weights: u16,
    /// Largest normalised weight allowed, u16/65535 (65535 = no limit).
    #[serde(alias = "max_weight_limit")]
    pub max_weights_limit: u16,
    /// Blocks between two `set_weights` of one hotkey (`WeightsSetRateLimit`).
    pub weights_rate_limit: u64,
    /// Minimum `version_key` accepted by `set_weights`.
    pub weights_version_key: u64,
    /// Blocks after registration during which a neuron is not replaced if another can be.
    pub immunity_period: u64,
    /// Stake (rao) below which a non-owner uid counts as zero stake in the epoch.
    pub stake_threshold: u64,
    /// Commitments pallet `MaxSpace`: bytes a hotkey may commit per epoch.
    pub max_commitment_space: u64,
    /// Alpha emitted into the subnet per block, in rao; an epoch distributes
    /// `blocks since last epoch × this`.
    pub emission_per_block: u64,
    /// Weights are committed timelocked and revealed by the chain instead of set
    /// (`CommitRevealWeightsEnabled`; never on arena's own chain).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub commit_reveal_weights_enabled: bool,
    /// Epochs between a timelocked commit and its reveal (`RevealPeriodEpochs`).
    #[serde(skip_serializing_if = "is_one")]
    pub reveal_period_epochs: u64,
}

/// Fields added after arena's chain began signing this struct's JSON (`create_subnet`) are
/// left out at their defaults, so the bytes of every earlier payload stay the same.
fn is_one(value: &u64) -> bool {
    *value == 1
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Hyperparameters {
            tempo: 360,
            kappa: 32_767,
            bonds_moving_average: 900_000,
            bonds_penalty: 65_535,
            yuma3: true,
            liquid_alpha: false,
            alpha_low: 45_875,
            alpha_high: 58_982,
            alpha_sigmoid_steepness: 1000,
            activity_cutoff: 5000,
            max_allowed_validators: 64,
            max_allowed_uids: 256,
            min_allowed_weights: 1,
            max_weights_limit: 65_535,
            weights_rate_limit: 100,
            weights_version_key: 0,
            immunity_period: 5000,
            stake_threshold: 0,
            max_commitment_space: 3100,
            emission_per_block: 1_000_000_000,
            commit_reveal_weights_enabled: false,
            reveal_period_epochs: 1,
        }
    }
}

/// Everything one epoch of one subnet reads. Per-uid vectors have length `n` unless noted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochInput {
    /// Number of uids (`SubnetworkN`).
    pub n: u16,
    /// Block the epoch runs at.
    pub current_block: u64,
    /// Block of the previous epoch of this subnet (`LastMechansimStepBlock`), 0 if none; bonds
    /// to uids registered after it are dropped.
    pub last_epoch_block: u64,
    /// Alpha emission to distribute this epoch, in rao.
    pub rao_emission: u64,
    /// Alpha stake per uid in rao (after child/parent inheritance).
    pub stakes: Vec<u64>,
    /// Weight of root TAO stake, as a fraction of `u64::MAX` (`TaoWeight`, one value for the
    /// whole chain; [`DEFAULT_TAO_WEIGHT`] is subtensor's default).
    pub tao_weight: u64,
    /// Root TAO stake per uid in rao, weighted by `tao_weight`; empty means none.
    #[serde(default)]
    pub root_stakes: Vec<u64>,
    /// Validator permits from the previous epoch (`ValidatorPermit`); may be shorter than n
    /// (missing entries are forbidden; an empty vector leaves active stake unmasked).
    pub validator_permit: Vec<bool>,
    /// `Weights` rows as stored: `(uid, max-upscaled u16)` in submission order. Rows and
    /// entries at uids ≥ n are ignored, missing rows are empty.
    pub weights: Vec<Vec<(u16, u16)>>,
    /// `Bonds` rows as stored by the previous epoch.
    pub bonds: Vec<Vec<(u16, u16)>>,
    /// Block each uid last set weights (`LastUpdate`).
    pub last_update: Vec<u64>,
    /// Block each uid was (re)registered (`BlockAtRegistration`).
    pub block_at_registration: Vec<u64>,
    /// Uid of the subnet owner's hotkey, if registered: always permitted, exempt from the stake
    /// threshold, its self-weight counts.
    #[serde(default)]
    pub owner_uid: Option<u16>,
    /// With commit-reveal on: per uid, the block of its earliest unexpired weight commit
    /// (`u64::MAX` for none). Weights to uids registered after that block are dropped.
    #[serde(default)]
    pub commit_blocks: Option<Vec<u64>>,
    /// Subnet hyperparameters.
    #[serde(default)]
    pub hyperparameters: Hyperparameters,
}

/// What one epoch writes, per uid, in storage units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochOutput {
    /// `Active`: set weights within the activity cutoff.
    pub active: Vec<bool>,
    /// `ValidatorPermit` for the next epoch (top `max_validators` by stake, owner forced).
    pub validator_permit: Vec<bool>,
    /// `StakeWeight`: normalised stake · 65535.
    pub stake_weight: Vec<u16>,
    /// `Consensus`: stake-weighted median weight per uid.
    pub consensus: Vec<u16>,
    /// `Incentive`: normalised rank from clipped weights.
    pub incentive: Vec<u16>,
    /// `Dividends`: normalised validator reward share.
    pub dividends: Vec<u16>,
    /// `ValidatorTrust`: sum of a validator's clipped normalised weights.
    pub validator_trust: Vec<u16>,
    /// Rank (unnormalised stake-weighted clipped weight). No longer stored by the chain (0
    /// since Oct 2025); kept because it explains incentive.
    pub rank: Vec<u16>,
    /// Trust (rank after clipping / rank before). No longer stored by the chain, as `rank`.
    pub trust: Vec<u16>,
    /// `Bonds` rows to store: the new bonds for uids with a new permit, empty for all others.
    pub bonds: Vec<Vec<(u16, u16)>>,
    /// Rao to each uid as a miner (incentive share).
    pub server_emission: Vec<u64>,
    /// Rao to each uid as a validator (dividend share, or stake share when nothing scored).
    pub validator_emission: Vec<u64>,
    /// `Emission`: the combined normalised emission in rao, as the chain stores it.
    pub emission: Vec<u64>,
}

/// Why an epoch input cannot be evaluated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum YumaError {
    /// A per-uid vector does not have one entry per uid.
    #[error("{field} has {actual} entries, expected n = {expected}")]
    LengthMismatch {
        /// Name of the input field.
        field: &'static str,
        /// Its length.
        actual: usize,
        /// n.
        expected: usize,
    },
}
