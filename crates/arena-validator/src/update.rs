//! The model-update loop (SN37 `update_models`): from a hotkey's commitment to a verified
//! folder on disk, or a recorded [`Rejection`].
//!
//! Order matters for incentive integrity: the eval delay is checked before anything is
//! downloaded; then [`arena_hub::verify::fetch_verified`] checks the revision's size against
//! the competition's byte limit before the first byte is fetched and recomputes the secure
//! hash from the files on disk with the *committing* hotkey, so a commitment copied under
//! another hotkey never verifies; then the constraint checks ([`precheck`]) run. One bad model
//! never stops the loop: every failure becomes a verdict.

use std::path::{Path, PathBuf};

use arena_chain::{Chain, ChainError, NetUid};
use arena_core::commitment::ModelCommitment;
use arena_core::competition::Schedule;
use arena_hub::client::HubClient;
use arena_hub::verify::{fetch_verified, FetchError, VerifiedSnapshot};
use arena_hub::HubError;

use crate::precheck::precheck;
use crate::store::{ModelRecord, Store, StoreError};
use crate::verdict::{Rejection, Verdict};

/// The outcome of checking one commitment.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    /// Recorded in the tracker: waiting, accepted or rejected.
    Decided {
        /// Competition named by the commitment, when it parsed.
        competition_id: Option<u32>,
        /// The verdict.
        verdict: Verdict,
        /// Snapshot folder, when downloaded and kept.
        download_path: Option<PathBuf>,
        /// Directory hash of the files, when downloaded.
        content_hash: Option<String>,
    },
    /// A transient failure (network, hub 5xx, local disk): nothing recorded, try next pass.
    Retry {
        /// What failed.
        reason: String,
    },
}

/// Errors that stop a whole sync pass (chain or state unreachable); per-model failures never do.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Reading the chain failed.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// Writing the state failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one sync pass did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    /// Hotkeys whose commitment was checked this pass, with the outcome.
    pub checked: Vec<(String, CheckOutcome)>,
    /// Hotkeys forgotten because they left the metagraph.
    pub removed: Vec<String>,
}

/// Downloads and verifies committed models into a cache folder.
pub struct Updater {
    hub: HubClient,
    cache: PathBuf,
}

fn decided(competition_id: Option<u32>, rejection: Rejection) -> CheckOutcome {
    CheckOutcome::Decided {
        competition_id,
        verdict: Verdict::Rejected { rejection },
        download_path: None,
        content_hash: None,
    }
}

/// Turns a refused or failed download into a verdict (the model's fault) or a retry.
fn refused(competition_id: u32, err: FetchError) -> CheckOutcome {
    let rejection = match err {
        FetchError::Transient { reason } => return CheckOutcome::Retry { reason },
        FetchError::Refused(rejection) => rejection,
    };
    decided(Some(competition_id), rejection)
}

impl Updater {
    /// An updater that downloads through `hub` into `cache` (laid out as the official client's).
    pub fn new(hub: HubClient, cache: impl Into<PathBuf>) -> Updater {
        Updater {
            hub,
            cache: cache.into(),
        }
    }

    /// The cache folder.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// The folder of a competition's tokenizer when the competition names one on the hub
    /// (fetched into `<cache>/tokenizers`, outside what [`crate::cleanup`] sweeps, and checked
    /// against its pins); `None` when models are scored with their own files. Models are then
    /// scored with these files only: a miner's own chat template cannot change its score.
    pub async fn competition_tokenizer(
        &self,
        spec: &arena_core::competition::TokenizerSpec,
    ) -> Result<Option<PathBuf>, HubError> {
        self.hub
            .fetch_tokenizer(spec, &self.cache.join("tokenizers"))
            .await
    }

    /// Checks one commitment of `hotkey_ss58` stored at `commit_block`, as of `current_block`.
    pub async fn check(
        &self,
        schedule: &Schedule,
        hotkey_ss58: &str,
        data: &[u8],
        commit_block: u64,
        current_block: u64,
    ) -> CheckOutcome {
        let parsed = std::str::from_utf8(data)
            .map_err(|e| e.to_string())
            .and_then(|text| text.parse::<ModelCommitment>().map_err(|e| e.to_string()));
        let commitment = match parsed {
            Ok(c) => c,
            Err(reason) => return decided(None, Rejection::Unparseable { reason }),
        };
        let id = commitment.competition_id;
        let Some(competition) = schedule.competition_at(id, commit_block) else {
            let rejection = Rejection::UnknownCompetition {
                competition_id: id,
                block: commit_block,
            };
            return decided(Some(id), rejection);
        };
        let constraints = &competition.constraints;
        let eligible_at = commit_block.saturating_add(constraints.eval_block_delay);
        if current_block < eligible_at {
            return CheckOutcome::Decided {
                competition_id: Some(id),
                verdict: Verdict::Waiting { eligible_at },
                download_path: None,
                content_hash: None,
            };
        }
        // The byte limit is checked before anything is downloaded; the secure hash with the
        // committing hotkey (a copied commitment's snapshot stays: it may be the genuine model
        // of the miner it was copied from).
        let verified = match fetch_verified(
            &self.hub,
            &self.cache,
            &commitment,
            hotkey_ss58,
            constraints.max_bytes,
        )
        .await
        {
            Ok(verified) => verified,
            Err(e) => return refused(id, e),
        };
        let VerifiedSnapshot {
            dir,
            content_hash: directory_hash,
        } = verified;
        let checked = tokio::task::spawn_blocking({
            let dir = dir.clone();
            let constraints = constraints.clone();
            move || precheck(&dir, &constraints)
        })
        .await;
        match checked {
            Ok(Ok(_)) => CheckOutcome::Decided {
                competition_id: Some(id),
                verdict: Verdict::Accepted,
                download_path: Some(dir),
                content_hash: Some(directory_hash),
            },
            Ok(Err(rejection)) => {
                // These files fail the competition whoever commits them.
                remove_snapshot(&dir);
                decided(Some(id), rejection)
            }
            Err(e) => CheckOutcome::Retry {
                reason: e.to_string(),
            },
        }
    }

    /// One pass over the subnet's commitments: checks every new or changed commitment and every
    /// waiting one whose delay has passed, records the verdicts, and forgets hotkeys that left
    /// the metagraph. Already decided commitments are not checked again.
    pub async fn sync(
        &self,
        chain: &dyn Chain,
        netuid: NetUid,
        schedule: &Schedule,
        store: &mut Store,
    ) -> Result<SyncReport, UpdateError> {
        let current_block = chain.block_number().await?;
        let metagraph = chain.metagraph(netuid).await?;
        let commitments = chain.commitments(netuid).await?;
        let mut report = SyncReport::default();
        for known in store.models()? {
            if !metagraph
                .neurons
                .iter()
                .any(|n| n.hotkey.ss58() == known.hotkey)
            {
                store.remove_model(&known.hotkey)?;
                report.removed.push(known.hotkey);
            }
        }
        for commitment in commitments {
            let Some(uid) = metagraph.uid_of(&commitment.hotkey) else {
                continue;
            };
            let hotkey = commitment.hotkey.ss58();
            let text = String::from_utf8_lossy(&commitment.data).to_string();
            let previous = store.model(&hotkey)?;
            let same = previous
                .as_ref()
                .filter(|p| p.commitment == text && p.commit_block == commitment.block);
            let due = match same.map(|p| &p.verdict) {
                None => true,
                Some(Verdict::Waiting { eligible_at }) => current_block >= *eligible_at,
                Some(_) => false,
            };
            if !due {
                continue;
            }
            if previous.is_some() && same.is_none() {
                store.dequeue(&hotkey)?;
            }
            let outcome = self
                .check(
                    schedule,
                    &hotkey,
                    &commitment.data,
                    commitment.block,
                    current_block,
                )
                .await;
            if let CheckOutcome::Decided {
                competition_id,
                verdict,
                download_path,
                content_hash,
            } = &outcome
            {
                match verdict {
                    Verdict::Rejected { rejection } => {
                        tracing::warn!(%hotkey, uid, %rejection, "model rejected")
                    }
                    other => tracing::info!(%hotkey, uid, state = other.kind(), "model checked"),
                }
                store.put_model(&ModelRecord {
                    hotkey: hotkey.clone(),
                    uid,
                    commitment: text,
                    commit_block: commitment.block,
                    competition_id: *competition_id,
                    download_path: download_path.as_ref().map(|p| p.display().to_string()),
                    content_hash: content_hash.clone(),
                    verdict: verdict.clone(),
                    checked_block: current_block,
                })?;
            } else if let CheckOutcome::Retry { reason } = &outcome {
                tracing::warn!(%hotkey, uid, %reason, "model check failed, retrying next pass");
            }
            report.checked.push((hotkey, outcome));
        }
        Ok(report)
    }
}

/// Deletes a snapshot that will never be evaluated; a failure only costs disk space.
fn remove_snapshot(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove a rejected snapshot");
    }
}
