//! The chain's errors. Dispatch errors carry subtensor's (or the Commitments pallet's) error
//! names so logs read the same against either chain; transaction-validity errors use
//! Substrate's `InvalidTransaction` names (`BadProof`, `Stale`, `Future`).
//!
//! The enum is serialisable: the JSON-RPC server sends it in the error's `data` field and
//! [`crate::ChainClient`] rebuilds the same variant, so remote callers can match on it.

use serde::{Deserialize, Serialize};

use crate::types::{BlockNumber, NetUid, Uid};

/// Everything a chain call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error")]
#[non_exhaustive]
pub enum ChainError {
    /// The signature does not verify over the canonical payload (wrong key, tampered call, or
    /// signed for another chain's genesis hash).
    #[error("BadProof: the signature of {signer} does not match the extrinsic")]
    BadProof {
        /// SS58 address of the signing account.
        signer: String,
    },
    /// The nonce was already used: a replay, or a stale transaction.
    #[error("Stale: nonce {nonce} of {signer} already used (next is {expected})")]
    Stale {
        /// SS58 address of the signing account.
        signer: String,
        /// The nonce the extrinsic carries.
        nonce: u64,
        /// The account's next nonce.
        expected: u64,
    },
    /// The nonce skips ahead; the local chain has no pool to hold it.
    #[error("Future: nonce {nonce} of {signer} is ahead of the next nonce {expected}")]
    Future {
        /// SS58 address of the signing account.
        signer: String,
        /// The nonce the extrinsic carries.
        nonce: u64,
        /// The account's next nonce.
        expected: u64,
    },
    /// No such subnet.
    #[error("SubnetNotExists: subnet {netuid} does not exist")]
    SubnetNotExists {
        /// The subnet.
        netuid: NetUid,
    },
    /// The hotkey has no uid on the subnet.
    #[error("HotKeyNotRegisteredInSubNet: {hotkey} is not registered on subnet {netuid}")]
    HotKeyNotRegisteredInSubNet {
        /// The subnet.
        netuid: NetUid,
        /// SS58 address of the hotkey.
        hotkey: String,
    },
    /// Commitments pallet: only hotkeys registered on the subnet may commit.
    #[error("AccountNotAllowedCommit: {hotkey} is not registered on subnet {netuid}")]
    AccountNotAllowedCommit {
        /// The subnet.
        netuid: NetUid,
        /// SS58 address of the hotkey.
        hotkey: String,
    },
    /// Commitments pallet: a `Raw` field holds at most 128 bytes (`Raw0`…`Raw128`).
    #[error("CommitmentTooLong: a Raw commitment holds at most {max} bytes, got {len}")]
    CommitmentTooLong {
        /// Its length in bytes.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// Commitments pallet: this epoch's space budget would be exceeded.
    #[error("SpaceLimitExceeded: {hotkey} used {used} of {max} bytes this epoch; this call costs {cost}")]
    SpaceLimitExceeded {
        /// SS58 address of the hotkey.
        hotkey: String,
        /// Bytes already charged this epoch.
        used: u64,
        /// What this call would charge.
        cost: u64,
        /// The most allowed.
        max: u64,
    },
    /// Weights from a uid that holds no validator permit.
    #[error("NeuronNoValidatorPermit: uid {uid} on subnet {netuid} has no validator permit")]
    NeuronNoValidatorPermit {
        /// The subnet.
        netuid: NetUid,
        /// The uid at fault.
        uid: Uid,
    },
    /// `WeightsSetRateLimit` blocks have not passed since the last `set_weights`.
    #[error("SettingWeightsTooFast: last update at block {last_update}, now {current}, rate limit {limit} blocks")]
    SettingWeightsTooFast {
        /// Block of its last weights.
        last_update: BlockNumber,
        /// The current block.
        current: BlockNumber,
        /// `WeightsSetRateLimit` in blocks.
        limit: u64,
    },
    /// The hotkey's stake is below the subnet's `StakeThreshold`.
    #[error("NotEnoughStakeToSetWeights: stake {stake} rao is below the threshold {required}")]
    NotEnoughStakeToSetWeights {
        /// The hotkey's stake in rao.
        stake: u64,
        /// The least value accepted.
        required: u64,
    },
    /// `version_key` below the subnet's `WeightsVersionKey`.
    #[error("IncorrectWeightVersionKey: version key {got} is below the subnet's {required}")]
    IncorrectWeightVersionKey {
        /// The value given.
        got: u64,
        /// The least value accepted.
        required: u64,
    },
    /// Uids and values differ in length.
    #[error("WeightVecNotEqualSize: {uids} uids but {weights} weights")]
    WeightVecNotEqualSize {
        /// Number of uids given.
        uids: usize,
        /// Number of weights given.
        weights: usize,
    },
    /// More uids than the subnet has.
    #[error("UidsLengthExceedUidsInSubNet: {got} uids, the subnet has {n}")]
    UidsLengthExceedUidsInSubNet {
        /// The value given.
        got: usize,
        /// Number of uids the subnet has.
        n: u16,
    },
    /// A uid appears twice.
    #[error("DuplicateUids: uid {uid} appears more than once")]
    DuplicateUids {
        /// The uid at fault.
        uid: Uid,
    },
    /// A uid is not registered.
    #[error("UidVecContainInvalidOne: uid {uid} does not exist (subnet has {n} uids)")]
    UidVecContainInvalidOne {
        /// The uid at fault.
        uid: Uid,
        /// Number of uids the subnet has.
        n: u16,
    },
    /// Fewer uids than min(n, MinAllowedWeights).
    #[error("WeightVecLengthIsLow: {got} weights, at least {min} required")]
    WeightVecLengthIsLow {
        /// The value given.
        got: usize,
        /// The least number required.
        min: usize,
    },
    /// A normalised weight exceeds `MaxWeightsLimit`.
    #[error("MaxWeightExceeded: a weight exceeds the subnet's limit {limit}/65535")]
    MaxWeightExceeded {
        /// `WeightsSetRateLimit` in blocks.
        limit: u16,
    },
    /// The hotkey already has a uid on this subnet.
    #[error("HotKeyAlreadyRegisteredInSubNet: {hotkey} is already registered on subnet {netuid}")]
    HotKeyAlreadyRegisteredInSubNet {
        /// The subnet.
        netuid: NetUid,
        /// SS58 address of the hotkey.
        hotkey: String,
    },
    /// The hotkey belongs to another coldkey.
    #[error("NonAssociatedColdKey: {hotkey} is owned by coldkey {owner}")]
    NonAssociatedColdKey {
        /// SS58 address of the hotkey.
        hotkey: String,
        /// SS58 address of the owning coldkey.
        owner: String,
    },
    /// Staking to a hotkey nobody registered.
    #[error("HotKeyAccountNotExists: {hotkey} has never been registered")]
    HotKeyAccountNotExists {
        /// SS58 address of the hotkey.
        hotkey: String,
    },
    /// Stake amount of zero.
    #[error("AmountTooLow: stake amount must be positive")]
    AmountTooLow,
    /// A hyperparameter out of range (for example tempo 0 or max_allowed_uids 0).
    #[error("InvalidHyperparameter: {reason}")]
    InvalidHyperparameter {
        /// What was wrong.
        reason: String,
    },
    /// No block with that number or hash.
    #[error("BlockNotFound: no block {number}")]
    BlockNotFound {
        /// The block number asked for.
        number: BlockNumber,
    },
    /// The SQLite store failed or holds data this code cannot read.
    #[error("storage: {reason}")]
    Storage {
        /// What was wrong.
        reason: String,
    },
    /// A request or response could not be encoded or decoded.
    #[error("invalid data: {reason}")]
    InvalidData {
        /// What was wrong.
        reason: String,
    },
    /// The JSON-RPC transport failed (connection refused, timeout, HTTP error).
    #[error("transport: {reason}")]
    Transport {
        /// What was wrong.
        reason: String,
    },
    /// The server answered with a JSON-RPC error this client cannot map to a variant.
    #[error("rpc error {code}: {message}")]
    Rpc {
        /// The JSON-RPC error code.
        code: i32,
        /// The error message.
        message: String,
    },
    /// A pallet error of a chain whose errors have no variant here (a Subtensor node's
    /// `DispatchError::Module`, named from its metadata): `name` is the pallet's error name.
    #[error("{name}: {docs} ({pallet})")]
    Dispatch {
        /// The pallet that raised it (`SubtensorModule`, `Commitments`, …).
        pallet: String,
        /// The error's name in the pallet (`SettingWeightsTooFast`, …).
        name: String,
        /// The error's documentation from the runtime metadata.
        docs: String,
    },
    /// The operation exists only on arena's own chain (creating a subnet, minting stake on a
    /// Subtensor node, …).
    #[error("Unsupported: {what} is not supported on this chain")]
    Unsupported {
        /// The operation refused.
        what: String,
    },
}

impl ChainError {
    /// The variant's name (subtensor's error name for dispatch errors), for logs and tests.
    pub fn name(&self) -> String {
        if let ChainError::Dispatch { name, .. } = self {
            return name.clone();
        }
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| "Unknown".to_string())
    }

    /// Whether this is a call's own check failing (a pallet error, `DispatchError::Module` on
    /// Substrate), as opposed to an invalid transaction (signature, nonce), a missing block or
    /// a fault of the store or the transport.
    pub fn is_dispatch(&self) -> bool {
        !matches!(
            self,
            ChainError::BadProof { .. }
                | ChainError::Stale { .. }
                | ChainError::Future { .. }
                | ChainError::BlockNotFound { .. }
                | ChainError::Storage { .. }
                | ChainError::InvalidData { .. }
                | ChainError::Transport { .. }
                | ChainError::Rpc { .. }
                | ChainError::Unsupported { .. }
        )
    }
}

impl From<rusqlite::Error> for ChainError {
    fn from(err: rusqlite::Error) -> Self {
        ChainError::Storage {
            reason: err.to_string(),
        }
    }
}

/// Result alias for chain calls.
pub type ChainResult<T> = Result<T, ChainError>;
