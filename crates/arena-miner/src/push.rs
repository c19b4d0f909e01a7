//! `push`: upload a model folder (private), hash the uploaded revision as validators will,
//! commit it to the chain within the commitment budget, read it back, make the repo public.
//!
//! Each stage is recorded in the push journal ([`crate::journal`]) before the next begins, and
//! the chain is asked first whether this hotkey already committed this very model, so a push
//! interrupted anywhere resumes without uploading or committing a second time. A commitment
//! that may have been sent is recognised by the hotkey's account nonce: if it moved, the
//! commitment was accepted and is only waited for, never sent again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arena_chain::{Chain, ChainError, NetUid};
use arena_core::commitment::ModelCommitment;
use arena_core::competition::Schedule;
use arena_hub::client::HubClient;
use arena_hub::model_hash::{default_workers, digest_files_with, list_files, ModelHash};
use arena_keys::Keypair;

use crate::budget;
use crate::check::constraint_check;
use crate::error::MinerError;
use crate::journal::{self, PushJournal, Stage};
use crate::verify::revision_hash;

/// What to push, where, and how patiently.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The model folder (HF layout).
    pub dir: PathBuf,
    /// Hub repo `namespace/name`.
    pub repo_id: String,
    /// Subnet to commit on.
    pub netuid: NetUid,
    /// Competition the model enters.
    pub competition_id: u32,
    /// State directory: the journal goes to `<home>/miner/push/`, downloads to
    /// `<home>/miner/verify-cache/`.
    pub home: PathBuf,
    /// When the commitment budget is spent, wait for the next epoch instead of failing.
    pub wait_for_budget: bool,
    /// Hash the revision from a download even when the hub's report suffices.
    pub force_download: bool,
    /// How long to wait for the commitment to become readable.
    pub readback_timeout: Duration,
    /// Interval between chain polls.
    pub poll: Duration,
    /// Stop once this stage is reached (`Uploaded`, `CommitSent` or `Committed`); a later run
    /// finishes the job. `None` runs to the end.
    pub stop_after: Option<Stage>,
    /// The competition schedule validators follow. When set, [`preflight`] also refuses a
    /// competition id not active at the head block and a folder that fails the
    /// competition's checks, before anything is uploaded.
    pub schedule: Option<Schedule>,
    /// Where `schedule` came from, for messages (a file path, or "the built-in schedule").
    pub schedule_source: String,
}

impl PushRequest {
    /// A request with the defaults: no waiting for budget, hub-report verification, two
    /// minutes to read the commitment back, polling every 250 ms, run to the end.
    pub fn new(
        dir: PathBuf,
        repo_id: &str,
        netuid: NetUid,
        competition_id: u32,
        home: PathBuf,
    ) -> PushRequest {
        PushRequest {
            dir,
            repo_id: repo_id.to_string(),
            netuid,
            competition_id,
            home,
            wait_for_budget: false,
            force_download: false,
            readback_timeout: Duration::from_secs(120),
            poll: Duration::from_millis(250),
            stop_after: None,
            schedule: None,
            schedule_source: "the schedule".to_string(),
        }
    }
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushOutcome {
    /// The journal as last written.
    pub journal: PushJournal,
    /// Where it is.
    pub journal_path: PathBuf,
    /// Whether an earlier, interrupted push of the same folder was continued.
    pub resumed: bool,
    /// `set_commitment` calls this run sent (0 when the commitment had already landed).
    pub commits_sent: u32,
}

/// A secure hash of the length every real one has (base64 of 32 bytes), for sizing.
const PLACEHOLDER_SECURE_HASH: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
/// A revision of the length every hub commit id has (40 hex digits), for sizing.
const PLACEHOLDER_REVISION: &str = "0000000000000000000000000000000000000000";

/// The checks a push makes before it uploads anything, each refusal a [`MinerError`] that
/// says what to change: the commitment would be one validators parse (repo id form and
/// length, at most 128 bytes: only the revision and the secure hash are unknown before the
/// upload, and both have fixed lengths); the hotkey is registered on the subnet; and, when
/// the request carries the schedule, the competition is active at the head block and the
/// folder passes that competition's checks ([`crate::check::constraint_check`], the same
/// as `arena model check DIR --competition ID` and `arena miner check`).
pub async fn preflight(
    chain: &dyn Chain,
    hotkey: &arena_keys::PublicKey,
    request: &PushRequest,
) -> Result<(), MinerError> {
    commitment_text(
        &request.repo_id,
        PLACEHOLDER_REVISION,
        PLACEHOLDER_SECURE_HASH,
        request.competition_id,
    )
    .map_err(|e| match e {
        // Show what is not known yet as what it stands for, not as the placeholder.
        MinerError::Commitment { text, source } => MinerError::Commitment {
            text: text
                .replace(PLACEHOLDER_REVISION, "<commit: 40 hex>")
                .replace(PLACEHOLDER_SECURE_HASH, "<secure hash: 44 chars>"),
            source,
        },
        other => other,
    })?;
    let metagraph = chain.metagraph(request.netuid).await?;
    if !metagraph.neurons.iter().any(|n| &n.hotkey == hotkey) {
        return Err(MinerError::NotRegistered {
            hotkey: hotkey.ss58(),
            netuid: request.netuid,
        });
    }
    let Some(schedule) = &request.schedule else {
        return Ok(());
    };
    let head = chain.block_number().await?;
    let Some(competition) = schedule.competition_at(request.competition_id, head) else {
        return Err(MinerError::UnknownCompetition {
            competition: request.competition_id,
            block: head,
            schedule: request.schedule_source.clone(),
            active: schedule.active_at(head).iter().map(|c| c.id).collect(),
        });
    };
    let (dir, competition) = (request.dir.clone(), competition.clone());
    tokio::task::spawn_blocking(move || constraint_check(&dir, &competition))
        .await
        .map_err(|e| MinerError::Task(e.to_string()))?
}

/// Runs (or resumes) a push. See the module documentation for the stages. [`preflight`]
/// runs first, so a push that would be refused uploads nothing.
pub async fn push(
    hub: &HubClient,
    chain: &dyn Chain,
    hotkey: &Keypair,
    request: &PushRequest,
) -> Result<PushOutcome, MinerError> {
    preflight(chain, &hotkey.public(), request).await?;
    let ss58 = hotkey.public().ss58();
    let dir = request.dir.clone();
    // The git blob SHA-1 is needed too: the hub reports it as the oid of every inline file, and
    // verification matches the uploaded revision against it.
    let local = tokio::task::spawn_blocking(move || hash_directory_with_git_oids(&dir))
        .await
        .map_err(|e| MinerError::Task(e.to_string()))??;
    let path = journal::journal_path(&request.home, &ss58, &request.repo_id);
    let fresh = PushJournal::new(
        &request.repo_id,
        request.netuid,
        request.competition_id,
        &ss58,
        &local.directory_hash,
    );
    let (mut j, resumed) = match journal::load(&path)? {
        Some(old) if old.same_push(&fresh) => (old, true),
        Some(old) => {
            tracing::info!(stage = ?old.stage, "folder or target changed since the last push; starting a new one");
            (fresh, false)
        }
        None => (fresh, false),
    };
    if resumed {
        tracing::info!(stage = ?j.stage, journal = %path.display(), "resuming push");
    }
    journal::save(&path, &j)?;
    let mut run = Run {
        hub,
        chain,
        hotkey,
        request,
        local,
        path,
        cache: request.home.join("miner").join("verify-cache"),
        commits_sent: 0,
    };
    if j.stage < Stage::Committed {
        run.adopt_landed_commitment(&mut j).await?;
    }
    loop {
        if request.stop_after.is_some_and(|stop| j.stage >= stop) || j.stage == Stage::Public {
            break;
        }
        match j.stage {
            Stage::Started => run.upload(&mut j).await?,
            Stage::Uploaded | Stage::CommitSent => run.commit(&mut j).await?,
            Stage::Committed => run.publish(&mut j).await?,
            Stage::Public => unreachable!("loop exits at Public"),
        }
    }
    Ok(PushOutcome {
        journal: j,
        journal_path: run.path,
        resumed,
        commits_sent: run.commits_sent,
    })
}

struct Run<'a> {
    hub: &'a HubClient,
    chain: &'a dyn Chain,
    hotkey: &'a Keypair,
    request: &'a PushRequest,
    local: ModelHash,
    path: PathBuf,
    cache: PathBuf,
    commits_sent: u32,
}

impl Run<'_> {
    fn ss58(&self) -> String {
        self.hotkey.public().ss58()
    }

    fn save(&self, j: &PushJournal) -> Result<(), MinerError> {
        journal::save(&self.path, j)
    }

    /// If the chain already holds this hotkey's commitment of this folder (a push whose
    /// journal is behind, or lost), records it as committed instead of committing again.
    async fn adopt_landed_commitment(&mut self, j: &mut PushJournal) -> Result<(), MinerError> {
        let req = self.request;
        let Some(current) = self
            .chain
            .commitment(req.netuid, &self.hotkey.public())
            .await?
        else {
            return Ok(());
        };
        let Some(text) = current.text() else {
            return Ok(());
        };
        let Ok(landed) = text.parse::<ModelCommitment>() else {
            return Ok(());
        };
        let ours = j.commitment.as_deref() == Some(text)
            || (landed.repo_id() == req.repo_id
                && landed.competition_id == req.competition_id
                && landed.secure_hash
                    == arena_core::hash::secure_hash(&self.local.directory_hash, &self.ss58()));
        if !ours {
            return Ok(());
        }
        let hash = revision_hash(
            self.hub,
            &req.repo_id,
            &landed.commit,
            &self.local,
            &self.cache,
            req.force_download,
        )
        .await?;
        if arena_core::hash::secure_hash(&hash.directory_hash, &self.ss58()) != landed.secure_hash {
            return Ok(());
        }
        tracing::info!(commitment = %text, block = current.block, "this model is already committed; not committing again");
        j.revision = Some(landed.commit.clone());
        j.directory_hash = Some(hash.directory_hash);
        j.secure_hash = Some(landed.secure_hash.clone());
        j.commitment = Some(text.to_string());
        j.commit_block = Some(current.block);
        j.stage = Stage::Committed;
        self.save(j)
    }

    /// Started → Uploaded: private repo, upload, hash of the revision, commitment text.
    async fn upload(&mut self, j: &mut PushJournal) -> Result<(), MinerError> {
        let req = self.request;
        self.hub.create_repo(&req.repo_id, true, true).await?;
        let revision = self
            .hub
            .upload_folder(&req.repo_id, &req.dir, "arena miner push")
            .await?;
        tracing::info!(repo = %req.repo_id, %revision, "uploaded");
        let hash = revision_hash(
            self.hub,
            &req.repo_id,
            &revision,
            &self.local,
            &self.cache,
            req.force_download,
        )
        .await?;
        let secure_hash = arena_core::hash::secure_hash(&hash.directory_hash, &self.ss58());
        let text = commitment_text(&req.repo_id, &revision, &secure_hash, req.competition_id)?;
        j.revision = Some(revision);
        j.directory_hash = Some(hash.directory_hash);
        j.secure_hash = Some(secure_hash);
        j.commitment = Some(text);
        j.stage = Stage::Uploaded;
        self.save(j)
    }

    /// Uploaded/CommitSent → Committed: send (unless an earlier send was accepted), then
    /// wait until the chain returns the commitment.
    async fn commit(&mut self, j: &mut PushJournal) -> Result<(), MinerError> {
        let req = self.request;
        let text = j.commitment.clone().ok_or_else(|| MinerError::Journal {
            path: self.path.clone(),
            message: format!("stage {:?} without a commitment", j.stage),
        })?;
        let public = self.hotkey.public();
        let already_sent = match (j.stage, j.nonce_before) {
            (Stage::CommitSent, Some(before)) => self.chain.account_nonce(&public).await? > before,
            _ => false,
        };
        if already_sent {
            tracing::info!("the commitment sent earlier was accepted; waiting for it");
        } else {
            self.send(j, &text).await?;
            if req.stop_after == Some(Stage::CommitSent) {
                return Ok(());
            }
        }
        let started = Instant::now();
        loop {
            if let Some(c) = self.chain.commitment(req.netuid, &public).await? {
                if c.text() == Some(text.as_str()) {
                    tracing::info!(block = c.block, commitment = %text, "commitment on chain");
                    j.commit_block = Some(c.block);
                    j.stage = Stage::Committed;
                    return self.save(j);
                }
            }
            if started.elapsed() > req.readback_timeout {
                return Err(MinerError::NotVisible {
                    text,
                    netuid: req.netuid,
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(req.poll).await;
        }
    }

    /// Sends the commitment, waiting for the next epoch's budget when allowed.
    async fn send(&mut self, j: &mut PushJournal, text: &str) -> Result<(), MinerError> {
        let req = self.request;
        let public = self.hotkey.public();
        loop {
            j.nonce_before = Some(self.chain.account_nonce(&public).await?);
            j.stage = Stage::CommitSent;
            self.save(j)?;
            let sent = self
                .chain
                .set_commitment(self.hotkey, req.netuid, text.as_bytes())
                .await;
            match sent {
                Ok(receipt) => {
                    self.commits_sent += 1;
                    tracing::info!(block = receipt.block, "commitment accepted");
                    return Ok(());
                }
                // A transport failure may hide an accepted call: stay at CommitSent, so a
                // re-run compares nonces before sending again.
                Err(e @ (ChainError::Transport { .. } | ChainError::Rpc { .. })) => {
                    return Err(e.into())
                }
                Err(ChainError::SpaceLimitExceeded {
                    used, cost, max, ..
                }) => {
                    j.stage = Stage::Uploaded;
                    j.nonce_before = None;
                    self.save(j)?;
                    let subnet = self.chain.subnet(req.netuid).await?;
                    let head = self.chain.block_number().await?;
                    let from_block = budget::next_budget_block(&subnet, head);
                    if !req.wait_for_budget {
                        return Err(MinerError::BudgetExhausted {
                            hotkey: public.ss58(),
                            used,
                            cost,
                            max,
                            head,
                            from_block,
                        });
                    }
                    tracing::info!(
                        head,
                        from_block,
                        "commitment budget spent; waiting for the next epoch"
                    );
                    budget::wait_for_new_epoch(
                        self.chain,
                        req.netuid,
                        subnet.epoch_index,
                        req.poll,
                    )
                    .await?;
                }
                Err(e) => {
                    j.stage = Stage::Uploaded;
                    j.nonce_before = None;
                    self.save(j)?;
                    return Err(e.into());
                }
            }
        }
    }

    /// Committed → Public.
    async fn publish(&mut self, j: &mut PushJournal) -> Result<(), MinerError> {
        let repo = &self.request.repo_id;
        self.hub.set_visibility(repo, false).await?;
        let revision = j.revision.clone().unwrap_or_else(|| "main".to_string());
        let info = self.hub.repo_info(repo, &revision).await?;
        if info.private == Some(true) {
            return Err(MinerError::StillPrivate(repo.clone()));
        }
        tracing::info!(%repo, "repository is public");
        j.stage = Stage::Public;
        self.save(j)
    }
}

/// Builds `namespace:name:commit:secure_hash:competition` and checks it with the parser
/// validators use, so nothing the chain would store but validators reject is ever sent.
pub fn commitment_text(
    repo_id: &str,
    revision: &str,
    secure_hash: &str,
    competition_id: u32,
) -> Result<String, MinerError> {
    let text = format!(
        "{}:{revision}:{secure_hash}:{competition_id}",
        repo_id.replacen('/', ":", 1)
    );
    match text.parse::<ModelCommitment>() {
        Ok(parsed) if parsed.repo_id() == repo_id && parsed.to_string() == text => Ok(text),
        Ok(_) => Err(MinerError::Commitment {
            text,
            source: arena_core::commitment::CommitmentError::RepoId(repo_id.to_string()),
        }),
        Err(source) => Err(MinerError::Commitment { text, source }),
    }
}

/// The journal path a push of `repo_id` by `hotkey_ss58` uses under `home`.
pub fn journal_for(home: &Path, hotkey_ss58: &str, repo_id: &str) -> PathBuf {
    journal::journal_path(home, hotkey_ss58, repo_id)
}

/// The model hash of `dir` with every file's git blob SHA-1 as well as its SHA-256.
fn hash_directory_with_git_oids(dir: &std::path::Path) -> arena_hub::Result<ModelHash> {
    let files = list_files(dir)?;
    let digests = digest_files_with(&files, default_workers(), true)?;
    Ok(ModelHash::from_digests(digests))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECURE: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

    #[test]
    fn commitment_text_is_checked_by_the_validator_parser() {
        let rev = "0123456789abcdef0123456789abcdef01234567";
        let text = commitment_text("alice/tiny-1", rev, SECURE, 3).unwrap();
        assert_eq!(text, format!("alice:tiny-1:{rev}:{SECURE}:3"));
        let err = commitment_text("a/b", rev, SECURE, 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a/b"), "{err}");
        // Upper-case hex would be stored as sent but read back lower-cased: refused.
        let err = commitment_text("alice/tiny-1", &rev.to_uppercase(), SECURE, 3).unwrap_err();
        assert!(matches!(err, MinerError::Commitment { .. }));
        let long = format!("alice/{}", "n".repeat(33));
        assert!(commitment_text(&long, rev, SECURE, 3).is_err());
    }
}
