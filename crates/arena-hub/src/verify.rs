//! Download and verification of a committed model, shared by validators (their update loop)
//! and miners (fetching someone's model to start from or to compare with).
//!
//! Order matters for incentive integrity: the revision's size is read from the hub and checked
//! against the byte limit before the first byte is fetched, the download itself stops at that
//! limit, and the secure hash is recomputed from the files on disk with the *committing*
//! hotkey, so a commitment copied under another hotkey never verifies. What to do with a
//! refusal (record it, retry, report it) is the caller's policy.

use std::path::{Path, PathBuf};

use arena_core::commitment::ModelCommitment;
use arena_core::rejection::Rejection;

use crate::client::{DownloadOptions, HubClient};
use crate::model_hash::hash_directory;
use crate::HubError;

/// A committed model on disk whose files hash to its commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSnapshot {
    /// The snapshot folder in the cache.
    pub dir: PathBuf,
    /// Directory hash of its files (exact-copy detection).
    pub content_hash: String,
}

/// Why [`fetch_verified`] did not produce a verified snapshot.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The model is refused: its fault, so the same commitment would be refused again
    /// (`RepoUnavailable`, `TooManyBytes`, `Download` or `HashMismatch`). The snapshot of a
    /// hash mismatch is kept: it may be the genuine model of the miner the commitment was
    /// copied from.
    #[error(transparent)]
    Refused(#[from] Rejection),
    /// A transient failure (network, hub 5xx, local disk): worth trying again later.
    #[error("{reason}")]
    Transient {
        /// What failed.
        reason: String,
    },
}

/// Sorts a hub failure into a refusal (the model's fault) or a transient failure (ours or the
/// network's).
fn classify(err: HubError) -> FetchError {
    match err {
        HubError::RepoNotFound(_)
        | HubError::RevisionNotFound { .. }
        | HubError::EntryNotFound { .. }
        | HubError::InvalidRepoId(_) => Rejection::RepoUnavailable {
            reason: err.to_string(),
        }
        .into(),
        HubError::Http { status, .. } if (400..500).contains(&status) && status != 429 => {
            Rejection::RepoUnavailable {
                reason: err.to_string(),
            }
            .into()
        }
        HubError::TooLarge { total, limit, .. } => Rejection::TooManyBytes {
            bytes: total,
            max: limit,
        }
        .into(),
        HubError::InvalidPath { .. } | HubError::DigestMismatch { .. } | HubError::Protocol(_) => {
            Rejection::Download {
                reason: err.to_string(),
            }
            .into()
        }
        HubError::Http { .. }
        | HubError::Network(_)
        | HubError::Io { .. }
        | HubError::Parse { .. } => FetchError::Transient {
            reason: err.to_string(),
        },
    }
}

/// Downloads `commitment`'s revision into `cache` (laid out as the official client's) if its
/// files take at most `max_bytes`, and checks that they hash to the committed secure hash for
/// `hotkey_ss58`, the hotkey that stored the commitment.
pub async fn fetch_verified(
    hub: &HubClient,
    cache: &Path,
    commitment: &ModelCommitment,
    hotkey_ss58: &str,
    max_bytes: u64,
) -> Result<VerifiedSnapshot, FetchError> {
    let repo = commitment.repo_id();
    let info = hub
        .repo_info(&repo, &commitment.commit)
        .await
        .map_err(classify)?;
    let mut total = 0u64;
    for sibling in &info.siblings {
        let Some(size) = sibling.lfs.as_ref().map(|l| l.size).or(sibling.size) else {
            let reason = format!("the hub reports no size for {}", sibling.rfilename);
            return Err(Rejection::Download { reason }.into());
        };
        total = total.saturating_add(size);
    }
    if total > max_bytes {
        tracing::info!(hotkey = hotkey_ss58, %repo, total, "over the byte limit, not downloaded");
        return Err(Rejection::TooManyBytes {
            bytes: total,
            max: max_bytes,
        }
        .into());
    }
    let options = DownloadOptions {
        max_bytes: Some(max_bytes),
        progress: false,
        ..DownloadOptions::default()
    };
    let snapshot = hub
        .download(&repo, &commitment.commit, cache, &options)
        .await
        .map_err(classify)?;
    let dir = snapshot.path.clone();
    let hashed = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || hash_directory(&dir)
    })
    .await;
    let hash = match hashed {
        Ok(Ok(hash)) => hash,
        Ok(Err(e)) => {
            return Err(FetchError::Transient {
                reason: e.to_string(),
            })
        }
        Err(e) => {
            return Err(FetchError::Transient {
                reason: e.to_string(),
            })
        }
    };
    let computed = hash.secure_hash(hotkey_ss58);
    if computed != commitment.secure_hash {
        return Err(Rejection::HashMismatch {
            committed: commitment.secure_hash.clone(),
            computed,
        }
        .into());
    }
    Ok(VerifiedSnapshot {
        dir,
        content_hash: hash.directory_hash,
    })
}
