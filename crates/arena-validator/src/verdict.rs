//! What the update loop concluded about a hotkey's commitment, persisted per hotkey so the
//! leaderboard and the operator can see why a model is not being evaluated.

use arena_core::competition::Violation;
use serde::{Deserialize, Serialize};

/// Why a committed model will not be evaluated. Serialised with a `kind` tag into the state
/// database; each variant names the offending value so the record explains itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rejection {
    /// The on-chain bytes are not a valid `namespace:name:commit:secure_hash:competition` string.
    #[error("commitment is not a valid model pointer: {reason}")]
    Unparseable {
        /// The parser's message.
        reason: String,
    },
    /// The commitment names a competition the schedule does not run at its commit block.
    #[error("competition {competition_id} is not active at commit block {block}")]
    UnknownCompetition {
        /// Competition id from the commitment.
        competition_id: u32,
        /// The commit block.
        block: u64,
    },
    /// The hub has no such repository or revision (or it is private).
    #[error("model is not available on the hub: {reason}")]
    RepoUnavailable {
        /// The hub client's message.
        reason: String,
    },
    /// A constraint of the competition failed (size before download, or a header check).
    #[error("constraint failed: {violation}")]
    Constraint {
        /// The failed rule, as `arena-core` reports it.
        violation: Violation,
    },
    /// The download itself was refused: a file name escaping the snapshot, a digest mismatch.
    #[error("download refused: {reason}")]
    Download {
        /// The hub client's message.
        reason: String,
    },
    /// The files do not hash to the committed secure hash for this hotkey: someone else's
    /// commitment copied, or files changed after committing.
    #[error("secure hash mismatch: committed {committed}, files give {computed}")]
    HashMismatch {
        /// Secure hash in the commitment.
        committed: String,
        /// `secure_hash(directory_hash, committing hotkey)` of the downloaded files.
        computed: String,
    },
    /// A weight is NaN or infinite: the model is broken or built to poison comparisons.
    #[error("{file}: tensor {tensor} holds NaN or infinite values")]
    NonFinite {
        /// The safetensors file.
        file: String,
        /// The first tensor found with such a value.
        tensor: String,
    },
    /// A model file could not be read as what it claims to be (config.json, safetensors).
    #[error("bad model files: {reason}")]
    BadFiles {
        /// Which file and what is wrong with it.
        reason: String,
    },
}

/// The current state of one hotkey's model in the tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Verdict {
    /// Parsed and its competition known, but its eval delay has not passed yet: nothing is
    /// downloaded before `eligible_at`, so a model cannot be checked early.
    Waiting {
        /// First block at which the model may be downloaded and evaluated.
        eligible_at: u64,
    },
    /// Downloaded, hash verified, constraints passed: it may be queued.
    Accepted,
    /// Never evaluated, for the recorded reason (until the hotkey commits something else).
    Rejected {
        /// Why.
        rejection: Rejection,
    },
}

impl Verdict {
    /// Short name stored in its own column for queries (`waiting`, `accepted`, `rejected`).
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Waiting { .. } => "waiting",
            Verdict::Accepted => "accepted",
            Verdict::Rejected { .. } => "rejected",
        }
    }
}
