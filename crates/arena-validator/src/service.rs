//! The validator service loop: each tick reloads the schedule if its file changed, syncs the
//! models, admits models to the queues, runs the step of the sync window if it has not run,
//! and sets weights when the chain's rate limit allows. All state lives in the [`Store`], so a
//! restart after a kill continues where the last committed step left off.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arena_chain::{Chain, ChainError, NetUid};
use arena_core::competition::{Competition, CompetitionId, Schedule, ScheduleError};
use arena_core::queue::{
    plan_admissions, top_miners, QueueContext, QueuePolicy, UidState, ValidatorWeights,
};
use arena_core::scoring::MIN_COMPETITION_WEIGHT;
use arena_core::seed::{sync_block, Seed};
use arena_data::source::DataSource;
use arena_keys::Keypair;

use crate::eval::{run_step, EvalBackend, QueuedModel, ScoreInputs, StepScoreError};
use crate::metrics::Metrics;
use crate::store::{QueueEntry, StepKey, StepRecord, Store, StoreError};
use crate::update::{UpdateError, Updater};
use crate::verdict::Verdict;
use crate::weights::{set_weights_if_due, SetOutcome, WeightSetError};

/// Unreferenced model files younger than this are left alone (SN37 waits 300 s too).
pub const CLEAN_GRACE: std::time::Duration = std::time::Duration::from_secs(300);

/// Settings of the service (the binary fills them from `[validator]` in the config).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The subnet validated.
    pub netuid: NetUid,
    /// Schedule file, re-read when its modification time changes; `None` = the built-in one.
    pub schedule_path: Option<PathBuf>,
    /// Blocks per sync window (one step per window; SN37: 360).
    pub sync_cadence: u64,
    /// Block the sync windows count from.
    pub genesis_block: u64,
    /// Queue limits and re-check cadence.
    pub queue: QueuePolicy,
    /// Pinned tokenizer folder handed to workers.
    pub tokenizer_dir: Option<PathBuf>,
    /// JSONL file that receives one event per step.
    pub events_path: Option<PathBuf>,
    /// `version_key` of `set_weights`.
    pub version_key: u64,
    /// How much history the validator keeps on disk.
    pub retention: Retention,
}

/// Bounds on what a long-running validator keeps on disk, applied while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Steps kept per competition in the state database (the newest by sync block); older
    /// ones are deleted after each recorded step. Histories, queue and EMA do not need them.
    pub keep_steps: usize,
    /// Size at which the events file is rotated to `<events>.1` (replacing an older one), so
    /// events take at most about twice this.
    pub events_max_bytes: u64,
}

impl Default for Retention {
    /// 2000 steps per competition (100 days at SN37's 72-minute windows) and 16 MiB of events.
    fn default() -> Self {
        Retention {
            keep_steps: 2000,
            events_max_bytes: 16 << 20,
        }
    }
}

/// Errors that end a tick (the loop logs them and tries again next tick).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Chain unreachable or refusing reads.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// State database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Model update failure (chain or store).
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// A step could not be scored.
    #[error(transparent)]
    Score(#[from] StepScoreError),
    /// Weights could not be set.
    #[error(transparent)]
    Weights(#[from] WeightSetError),
    /// The schedule file is unreadable or invalid (at start; later reloads keep the old one).
    #[error("schedule {path}: {reason}")]
    Schedule {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The events file cannot be written.
    #[error("events file {path}: {source}")]
    Events {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    /// Chain block at the start of the tick.
    pub block: u64,
    /// The step recorded this tick, if one ran.
    pub step: Option<StepKey>,
    /// The weight-setting outcome, if weights were due.
    pub weights: Option<SetOutcome>,
}

/// The running validator.
pub struct Service {
    chain: Arc<dyn Chain>,
    hotkey: Keypair,
    config: ServiceConfig,
    updater: Updater,
    store: Store,
    backend: Box<dyn EvalBackend>,
    sources: BTreeMap<String, Box<dyn DataSource>>,
    schedule: Schedule,
    schedule_mtime: Option<SystemTime>,
    metrics: Arc<Metrics>,
    /// Why the chain refuses this validator's weights, while it holds no validator permit.
    permit_missing: Option<String>,
}

fn load_schedule(path: &std::path::Path) -> Result<(Schedule, Option<SystemTime>), ServiceError> {
    let err = |reason: String| ServiceError::Schedule {
        path: path.display().to_string(),
        reason,
    };
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let schedule = Schedule::from_toml_str(&text).map_err(|e: ScheduleError| err(e.to_string()))?;
    Ok((schedule, mtime))
}

impl Service {
    /// Builds the service; reads the schedule file once (an invalid file is an error here).
    pub fn new(
        chain: Arc<dyn Chain>,
        hotkey: Keypair,
        config: ServiceConfig,
        updater: Updater,
        store: Store,
        backend: Box<dyn EvalBackend>,
        sources: BTreeMap<String, Box<dyn DataSource>>,
    ) -> Result<Service, ServiceError> {
        let (schedule, schedule_mtime) = match &config.schedule_path {
            Some(path) => load_schedule(path)?,
            None => (
                arena_core::competition::default_schedule().map_err(|e| {
                    ServiceError::Schedule {
                        path: "(built-in)".into(),
                        reason: e.to_string(),
                    }
                })?,
                None,
            ),
        };
        Ok(Service {
            chain,
            hotkey,
            config,
            updater,
            store,
            backend,
            sources,
            schedule,
            schedule_mtime,
            metrics: Metrics::new(),
            permit_missing: None,
        })
    }

    /// The metrics this service updates (serve them with [`crate::metrics::serve`]).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Why this validator's weights are refused, while it holds no validator permit.
    pub fn permit_missing(&self) -> Option<&str> {
        self.permit_missing.as_deref()
    }

    /// The state database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Re-reads the schedule file if it changed; a bad new file is logged and ignored.
    fn reload_schedule(&mut self) {
        let Some(path) = self.config.schedule_path.clone() else {
            return;
        };
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if mtime == self.schedule_mtime {
            return;
        }
        match load_schedule(&path) {
            Ok((schedule, mtime)) => {
                // At WARN, the level operators run at: a new schedule changes what is
                // evaluated and how weights are set, so it must not pass unseen.
                let changes = self.schedule.changes(&schedule);
                tracing::warn!(
                    path = %path.display(),
                    changes = changes.len(),
                    "schedule reloaded"
                );
                for change in changes {
                    tracing::warn!(%change, "schedule changed");
                }
                self.schedule = schedule;
                self.schedule_mtime = mtime;
            }
            Err(e) => {
                tracing::error!(error = %e, "schedule reload failed; keeping the previous schedule");
                self.schedule_mtime = mtime;
            }
        }
    }

    /// One pass of the loop.
    pub async fn tick(&mut self) -> Result<TickReport, ServiceError> {
        self.reload_schedule();
        let block = self.chain.block_number().await?;
        self.metrics.set_block(block);
        self.updater
            .sync(
                self.chain.as_ref(),
                self.config.netuid,
                &self.schedule,
                &mut self.store,
            )
            .await?;
        self.clean_cache()?;
        // Competitions are stepped and weighted per sync window: the set is the window's.
        let sync = sync_block(block, self.config.genesis_block, self.config.sync_cadence);
        let active: Vec<CompetitionId> =
            self.schedule.active_at(sync).iter().map(|c| c.id).collect();
        for id in self.store.retain_competitions(&active)? {
            tracing::info!(
                competition = id,
                "competition left the schedule; its EMA weights are dropped"
            );
        }
        self.admit(block).await?;
        let step = self.maybe_step(block).await?;
        let weights = self.maybe_set_weights(block).await?;
        self.update_model_metrics()?;
        Ok(TickReport {
            block,
            step,
            weights,
        })
    }

    /// Runs [`Service::tick`] every `interval` until `stop` resolves; tick errors are logged.
    pub async fn run(
        mut self,
        interval: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            match self.tick().await {
                Ok(report) => tracing::debug!(?report, "tick"),
                Err(e) => tracing::error!(error = %e, "tick failed"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Removes downloaded snapshots that no tracked model names (replaced commitments,
    /// hotkeys that left, copies), sparing anything touched within [`CLEAN_GRACE`].
    fn clean_cache(&self) -> Result<(), ServiceError> {
        let referenced = self
            .store
            .models()?
            .into_iter()
            .filter_map(|m| m.download_path.map(PathBuf::from))
            .collect();
        crate::cleanup::remove_unreferenced(self.updater.cache(), &referenced, CLEAN_GRACE);
        Ok(())
    }

    fn update_model_metrics(&self) -> Result<(), ServiceError> {
        let mut by_verdict = BTreeMap::new();
        for m in self.store.models()? {
            *by_verdict.entry(m.verdict.kind().to_string()).or_insert(0) += 1;
        }
        self.metrics
            .set_models(by_verdict, self.store.queued_total()? as u64);
        Ok(())
    }

    /// Queues accepted models per the queue policy (new, retry after epsilon decay, top miners).
    async fn admit(&mut self, block: u64) -> Result<(), ServiceError> {
        let metagraph = self.chain.metagraph(self.config.netuid).await?;
        let rows = self.chain.weights(self.config.netuid).await?;
        let validators: Vec<ValidatorWeights> = rows
            .iter()
            .filter_map(|row| {
                let n = metagraph.neurons.get(usize::from(row.uid))?;
                Some(ValidatorWeights {
                    stake: n.stake as f64 / 1e9,
                    validator_permit: n.validator_permit,
                    weights: row
                        .weights
                        .iter()
                        .map(|&(u, w)| (u, f64::from(w)))
                        .collect(),
                })
            })
            .collect();
        let top = top_miners(&validators, &self.config.queue);
        for competition in self.schedule.active_at(block).to_vec() {
            let mut states = Vec::new();
            let mut hotkeys = BTreeMap::new();
            let queued: Vec<String> = self
                .store
                .queue(competition.id)?
                .into_iter()
                .map(|e| e.hotkey)
                .collect();
            for m in self.store.models()? {
                if m.verdict != Verdict::Accepted || m.competition_id != Some(competition.id) {
                    continue;
                }
                let history = self.store.history(&m.hotkey, competition.id)?;
                states.push(UidState {
                    uid: m.uid,
                    commit_block: m.commit_block,
                    new_commitment: history.is_empty(),
                    queued: queued.contains(&m.hotkey),
                    delay_passed: true,
                    last_evaluated: history.iter().map(|r| r.block).max(),
                    history,
                    top_miner: top.contains(&m.uid),
                });
                hotkeys.insert(m.uid, m.hotkey);
            }
            let ctx = QueueContext {
                current_block: block,
                queued_total: self.store.queued_total()?,
                policy: self.config.queue,
                epsilon: &competition.constraints.epsilon,
            };
            for (uid, reason) in plan_admissions(&states, &ctx).queued {
                let Some(hotkey) = hotkeys.get(&uid) else {
                    continue;
                };
                let entry = QueueEntry {
                    competition_id: competition.id,
                    hotkey: hotkey.clone(),
                    reason,
                    queued_block: block,
                };
                if self.store.enqueue(&entry)? {
                    tracing::info!(uid, %hotkey, competition = competition.id, ?reason, "queued");
                }
            }
        }
        Ok(())
    }

    /// Runs the next step of the current sync window that has not been recorded yet: every
    /// competition active at the window's sync block gets one step per window (as SN37), one
    /// per tick, the highest reward first (then the lower id), so when a window is too short
    /// for all of them the ones that weigh most are the ones evaluated. The set is read at the
    /// sync block, not the current one, so a schedule change inside a window cannot give that
    /// window a second step.
    async fn maybe_step(&mut self, block: u64) -> Result<Option<StepKey>, ServiceError> {
        let sync = sync_block(block, self.config.genesis_block, self.config.sync_cadence);
        let active = self.schedule.active_at(sync).to_vec();
        let mut order: Vec<&Competition> = active.iter().collect();
        order.sort_by(|a, b| b.reward.total_cmp(&a.reward).then(a.id.cmp(&b.id)));
        for competition in order {
            let key = StepKey {
                competition_id: competition.id,
                sync_block: sync,
            };
            if self.store.step(key)?.is_some() {
                continue;
            }
            if let Some(key) = self.step(block, key, competition, &active).await? {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// Evaluates the queue of one competition at sync block `key.sync_block` and records the
    /// step; `None` when nothing is queued.
    async fn step(
        &mut self,
        block: u64,
        key: StepKey,
        competition: &Competition,
        active: &[Competition],
    ) -> Result<Option<StepKey>, ServiceError> {
        let sync = key.sync_block;
        let queue = self.store.queue(competition.id)?;
        let mut models = Vec::new();
        for entry in &queue {
            let Some(m) = self.store.model(&entry.hotkey)? else {
                continue;
            };
            let Some(dir) = m
                .download_path
                .clone()
                .filter(|_| m.verdict == Verdict::Accepted)
            else {
                continue;
            };
            models.push(QueuedModel {
                uid: m.uid,
                hotkey: m.hotkey,
                commit_block: m.commit_block,
                model_dir: dir.into(),
                content_hash: m.content_hash,
            });
        }
        if models.is_empty() {
            return Ok(None);
        }
        let Some(hash) = self.chain.block_hash(Some(sync)).await? else {
            return Ok(None);
        };
        // The competition's own tokenizer (files and chat template) when it names one; the
        // configured folder otherwise. Unreachable now: the step waits for a later tick.
        let tokenizer_dir = match self
            .updater
            .competition_tokenizer(&competition.constraints.tokenizer)
            .await
        {
            Ok(Some(dir)) => Some(dir),
            Ok(None) => self.config.tokenizer_dir.clone(),
            Err(e) => {
                tracing::warn!(
                    competition = competition.id,
                    error = %e,
                    "the competition's tokenizer cannot be fetched; its step waits"
                );
                return Ok(None);
            }
        };
        let metagraph = self.chain.metagraph(self.config.netuid).await?;
        let rewards: Vec<(CompetitionId, f64)> = active.iter().map(|c| (c.id, c.reward)).collect();
        let inputs = ScoreInputs {
            competition,
            key,
            seed: Seed::from_block_hash(&hash.0),
            current_block: block,
            n_uids: metagraph.neurons.len(),
            tracker: self.store.tracker()?,
            rewards,
            keep_top: self.config.queue.keep_top,
        };
        let started = Instant::now();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let not_before_ms = self
            .data_time_bound(&models, competition.constraints.eval_block_delay)
            .await?;
        let record = run_step(
            self.backend.as_ref(),
            &inputs,
            tokenizer_dir,
            &mut self.sources,
            (now_ms, not_before_ms),
            &models,
        )
        .await?;
        self.store.record_step(&record)?;
        let pruned = self
            .store
            .prune_steps(key.competition_id, self.config.retention.keep_steps)?;
        if pruned > 0 {
            tracing::debug!(
                competition = key.competition_id,
                pruned,
                "old steps deleted"
            );
        }
        let failures = record.models.iter().filter(|m| m.error.is_some()).count() as u64;
        let scores: Vec<(u16, f64)> = record.models.iter().map(|m| (m.uid, m.score)).collect();
        self.metrics
            .step_done(started.elapsed().as_secs_f64(), failures, &scores);
        self.write_event(&record)?;
        tracing::info!(
            competition = key.competition_id,
            sync_block = sync,
            models = record.models.len(),
            "step recorded"
        );
        Ok(Some(key))
    }

    /// The time bound of this step's data: the wall-clock time of the block at which the
    /// youngest model became eligible (commit block + eval delay). Samples created before it
    /// could have been seen by that model's miner, so they are not used.
    async fn data_time_bound(
        &self,
        models: &[QueuedModel],
        delay: u64,
    ) -> Result<u64, ServiceError> {
        let Some(eligible) = models
            .iter()
            .map(|m| m.commit_block.saturating_add(delay))
            .max()
        else {
            return Ok(0);
        };
        let info = self.chain.block(Some(eligible)).await?;
        Ok(info.map_or(0, |b| b.timestamp_ms))
    }

    fn write_event(&self, record: &StepRecord) -> Result<(), ServiceError> {
        let Some(path) = &self.config.events_path else {
            return Ok(());
        };
        let err = |source| ServiceError::Events {
            path: path.display().to_string(),
            source,
        };
        // Only the uids with weight: a subnet has up to 256 uids and most have none.
        let weights: Vec<(usize, f64)> = record
            .subnet_weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0.0)
            .map(|(uid, w)| (uid, *w))
            .collect();
        let event = serde_json::json!({
            "event": "step",
            "competition_id": record.key.competition_id,
            "sync_block": record.key.sync_block,
            "block": record.block,
            "seed": record.seed,
            "models": record.models,
            "subnet_weights": weights,
        });
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        if size >= self.config.retention.events_max_bytes {
            let mut old = path.as_os_str().to_owned();
            old.push(".1");
            std::fs::rename(path, &old).map_err(err)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        writeln!(file, "{event}").map_err(err)
    }

    /// Sets the subnet weights from the stored EMA if any competition has run.
    async fn maybe_set_weights(&mut self, block: u64) -> Result<Option<SetOutcome>, ServiceError> {
        let tracker = self.store.tracker()?;
        if tracker.weights.is_empty() {
            return Ok(None);
        }
        let sync = sync_block(block, self.config.genesis_block, self.config.sync_cadence);
        let rewards: Vec<(CompetitionId, f64)> = self
            .schedule
            .active_at(sync)
            .iter()
            .map(|c| (c.id, c.reward))
            .collect();
        let metagraph = self.chain.metagraph(self.config.netuid).await?;
        let weights =
            tracker.subnet_weights(&rewards, MIN_COMPETITION_WEIGHT, metagraph.neurons.len());
        let outcome = set_weights_if_due(
            self.chain.as_ref(),
            &self.hotkey,
            self.config.netuid,
            &weights,
            self.config.version_key,
        )
        .await?;
        match &outcome {
            SetOutcome::Sent { .. } => {
                self.metrics.weights_set(&weights);
                if self.permit_missing.take().is_some() {
                    tracing::warn!("validator permit regained: weights are being set again");
                }
            }
            SetOutcome::NoPermit { reason } => {
                // Said once per loss, not every tick: the service keeps evaluating meanwhile.
                if self.permit_missing.is_none() {
                    tracing::warn!(
                        hotkey = %self.hotkey.public().ss58(),
                        "weights not set: {reason}; evaluation continues and weights are retried every tick"
                    );
                }
                self.permit_missing = Some(reason.clone());
            }
            SetOutcome::RateLimited { .. } | SetOutcome::Empty => {}
        }
        Ok(Some(outcome))
    }
}
