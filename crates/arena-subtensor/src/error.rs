//! The client's errors: one enum, each variant a different thing to do about it.

use arena_chain::ChainError;

/// Everything the Subtensor client can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The metadata could not be read, or lacks a pallet, call, storage item or type this
    /// client needs.
    #[error("metadata: {0}")]
    Metadata(String),
    /// A value does not fit the type the metadata gives it.
    #[error("encode: {0}")]
    Encode(String),
    /// Bytes from the node do not decode as the metadata's type (truncated, corrupt, hostile).
    #[error("decode: {0}")]
    Decode(String),
    /// A JSON-RPC answer of the wrong shape.
    #[error("bad response to {method}: {reason}")]
    Response {
        /// The JSON-RPC method.
        method: String,
        /// What was wrong.
        reason: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("{method}: rpc error {code}: {message}")]
    Rpc {
        /// The JSON-RPC method.
        method: String,
        /// JSON-RPC error code.
        code: i32,
        /// Its message.
        message: String,
    },
    /// The connection failed, dropped or timed out.
    #[error("transport: {0}")]
    Transport(String),
    /// The endpoint is not a URL this client speaks.
    #[error("endpoint {url:?}: {reason}")]
    Endpoint {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A `Raw` commitment holds at most 128 bytes.
    #[error(
        "a Raw commitment holds at most 128 bytes, got {len} (Commitments `Data::Raw0..Raw128`)"
    )]
    CommitmentTooLong {
        /// Bytes given.
        len: usize,
    },
    /// Arguments the chain would reject anyway (lengths differ, …).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The extrinsic was included but its dispatch failed with a pallet error.
    #[error("{pallet}.{name}: {docs}")]
    Dispatch {
        /// The pallet (`SubtensorModule`, `Commitments`).
        pallet: String,
        /// The error variant (`SettingWeightsTooFast`, `CommitRevealEnabled`, …).
        name: String,
        /// The error's documentation from the metadata.
        docs: String,
    },
    /// A dispatch error that is not a pallet error (`BadOrigin`, `Token`, …).
    #[error("dispatch failed: {0}")]
    DispatchOther(String),
    /// The transaction pool refused or dropped the extrinsic.
    #[error("transaction {status}: {detail}")]
    InvalidTransaction {
        /// The watch status (`invalid`, `dropped`, `usurped`, …).
        status: String,
        /// What the node said.
        detail: String,
    },
    /// No answer in time.
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The limit.
        secs: u64,
    },
    /// The operation has no meaning on Subtensor (it exists only on arena's own chain).
    #[error("{0} is not supported on a Subtensor chain")]
    Unsupported(String),
    /// Timelock encryption of a weights commit failed (uids and values of different lengths,
    /// a commit over the chain's size limit).
    #[error("sealing the weights commit: {0}")]
    Seal(String),
    /// Commit-reveal is on but no weights sealer (timelock encryption) was given.
    #[error("subnet {netuid} has commit-reveal on: weights must be timelock-encrypted, and no sealer is configured")]
    NoSealer {
        /// The subnet.
        netuid: u16,
    },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for ChainError {
    fn from(err: Error) -> ChainError {
        match err {
            Error::Dispatch { pallet, name, docs } => ChainError::Dispatch { pallet, name, docs },
            Error::Unsupported(what) => ChainError::Unsupported { what },
            Error::CommitmentTooLong { len } => ChainError::CommitmentTooLong { len, max: 128 },
            Error::Transport(reason) => ChainError::Transport { reason },
            e @ Error::Timeout { .. } => ChainError::Transport {
                reason: e.to_string(),
            },
            Error::Rpc {
                code,
                message,
                method,
            } => ChainError::Rpc {
                code,
                message: format!("{method}: {message}"),
            },
            other => ChainError::InvalidData {
                reason: other.to_string(),
            },
        }
    }
}
