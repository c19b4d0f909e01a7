//! Fetch the model a uid has committed, verified exactly as a validator verifies it: the
//! commitment is read from the chain, its competition is looked up at its commit block,
//! [`arena_hub::verify::fetch_verified`] checks the byte limit before downloading and the
//! secure hash against the committing hotkey, and the validators' constraint checks run. A miner uses it to start from someone's model (`train
//! --from-uid`) or to compare with the incumbent (`check`).

use std::path::{Path, PathBuf};

use arena_chain::{Chain, NetUid};
use arena_core::commitment::ModelCommitment;
use arena_core::competition::Schedule;
use arena_hub::client::HubClient;
use arena_hub::verify::{fetch_verified, FetchError};

use crate::error::MinerError;

/// A committed model on disk, verified.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedModel {
    /// Its uid.
    pub uid: u16,
    /// The committing hotkey (SS58).
    pub hotkey: String,
    /// The parsed commitment.
    pub commitment: ModelCommitment,
    /// Block that stored the commitment (the model's block for epsilon).
    pub block: u64,
    /// The downloaded, verified snapshot folder.
    pub dir: PathBuf,
}

/// Reads uid `uid`'s commitment on `netuid` and downloads and verifies its model into `cache`.
///
/// The eval delay is not applied: it keeps validators from scoring a model on data drawn
/// before it was committed, which does not concern a miner reading it.
pub async fn fetch_uid(
    chain: &dyn Chain,
    hub: HubClient,
    netuid: NetUid,
    uid: u16,
    schedule: &Schedule,
    cache: &Path,
) -> Result<FetchedModel, MinerError> {
    let metagraph = chain.metagraph(netuid).await?;
    let neuron = metagraph
        .neurons
        .iter()
        .find(|n| n.uid == uid)
        .ok_or_else(|| {
            MinerError::Train(format!(
                "uid {uid} is not registered on subnet {netuid} ({} uids)",
                metagraph.neurons.len()
            ))
        })?;
    let hotkey = neuron.hotkey.ss58();
    let fail = |reason: String| MinerError::Fetch {
        uid,
        hotkey: hotkey.clone(),
        reason,
    };
    let commitment = chain
        .commitment(netuid, &neuron.hotkey)
        .await?
        .ok_or_else(|| fail("has no commitment".into()))?;
    let text = commitment
        .text()
        .ok_or_else(|| fail("commitment is not UTF-8".into()))?;
    let parsed: ModelCommitment = text
        .parse()
        .map_err(|e| fail(format!("commitment {text:?}: {e}")))?;
    let Some(competition) = schedule.competition_at(parsed.competition_id, commitment.block) else {
        return Err(fail(format!(
            "validators reject {text}: competition {} is not active at commit block {}",
            parsed.competition_id, commitment.block
        )));
    };
    let constraints = competition.constraints.clone();
    let verified = fetch_verified(&hub, cache, &parsed, &hotkey, constraints.max_bytes).await;
    let dir = match verified {
        Ok(verified) => verified.dir,
        Err(FetchError::Refused(refusal)) => {
            return Err(fail(format!("validators reject {text}: {refusal}")))
        }
        Err(FetchError::Transient { reason }) => {
            return Err(fail(format!("fetching {text} failed: {reason}")))
        }
    };
    let checked = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || arena_checkpoint::checks::precheck(&dir, &constraints)
    })
    .await;
    match checked {
        Ok(Ok(_)) => Ok(FetchedModel {
            uid,
            hotkey,
            commitment: parsed,
            block: commitment.block,
            dir,
        }),
        Ok(Err(rejection)) => {
            // These files fail the competition whoever commits them.
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove a rejected snapshot");
            }
            Err(fail(format!("validators reject {text}: {rejection}")))
        }
        Err(e) => Err(fail(format!("fetching {text} failed: {e}"))),
    }
}
