//! Step results: one transaction per `(competition, sync block)`.

use arena_core::competition::TaskScore;
use arena_core::queue::{EvalRecord, QueueReason};
use arena_core::scoring::CompetitionTracker;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::models::{push_history_tx, StoreErrorCtx};
use super::{int, put_tracker, Store, StoreError, StoreResult};

/// The unique key of a step: a validator runs one step per competition per sync window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StepKey {
    /// The competition evaluated.
    pub competition_id: u32,
    /// The sync block whose hash seeded the samples.
    pub sync_block: u64,
}

/// One model's result in a step (what SN37 sends to its dashboard, per uid).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStepResult {
    /// Metagraph uid.
    pub uid: u16,
    /// Hotkey (SS58).
    pub hotkey: String,
    /// Commit block of the evaluated model.
    pub commit_block: u64,
    /// Competition score, lower is better; `+inf` when evaluation failed.
    #[serde(with = "arena_core::serde_float")]
    pub score: f64,
    /// Per task: raw, normalised and weighted scores.
    pub tasks: Vec<TaskScore>,
    /// Win rate in this step.
    pub win_rate: f64,
    /// Share of this step's weight.
    pub step_weight: f64,
    /// The model's epsilon advantage as the older model.
    pub epsilon_advantage: f64,
    /// Its competition EMA weight after the step.
    pub ema_weight: f64,
    /// Time to load the model in the worker, milliseconds.
    pub load_ms: u64,
    /// Time to score all tasks, milliseconds.
    pub compute_ms: u64,
    /// Why the worker failed, if it did (timeout, memory cap, crash).
    pub error: Option<String>,
    /// Set when the evaluation stopped early against the step's leader: then `score` and
    /// the task scores are means over the scored samples only.
    #[serde(default)]
    pub early_stop: Option<EarlyStopRecord>,
}

/// How far an early-stopped evaluation went.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopRecord {
    /// Samples scored.
    pub samples: usize,
    /// Usable samples of the step.
    pub of: usize,
    /// Why it stopped (`cannot_win`, `cannot_lose`).
    pub decision: arena_core::early_stop::Decision,
}

/// Everything one step changes, written atomically by [`Store::record_step`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// `(competition, sync block)`, unique.
    pub key: StepKey,
    /// Chain block at which the step was scored (epsilon, ages).
    pub block: u64,
    /// The shared seed, hex.
    pub seed: String,
    /// Per evaluated model.
    pub models: Vec<ModelStepResult>,
    /// Competition EMA weights after this step (replaces the stored ones).
    pub tracker: CompetitionTracker,
    /// Subnet weights (uid-indexed) computed after this step.
    pub subnet_weights: Vec<f64>,
    /// History records to append, per hotkey.
    pub history: Vec<(String, EvalRecord)>,
    /// Hotkeys that stay queued in this competition for the next step (the kept top models);
    /// every other queue entry of the competition is removed.
    pub kept: Vec<String>,
}

impl Store {
    /// Writes a whole step in one transaction, or nothing. Refuses a key already recorded.
    pub fn record_step(&mut self, step: &StepRecord) -> StoreResult<()> {
        let ctx = StoreErrorCtx(&self.path);
        let tx = self.conn.transaction().map_err(|e| ctx.sql(e))?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM steps WHERE competition_id = ?1 AND sync_block = ?2",
                params![step.key.competition_id, int(step.key.sync_block)],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| ctx.sql(e))?;
        if exists.is_some() {
            return Err(StoreError::DuplicateStep {
                competition_id: step.key.competition_id,
                sync_block: step.key.sync_block,
            });
        }
        write_step(&tx, step).map_err(|e| ctx.sql(e))?;
        tx.commit().map_err(|e| ctx.sql(e))
    }

    /// Deletes the oldest steps of a competition (by sync block) beyond the newest `keep`,
    /// with their model results, in one transaction; returns how many went. Steps are a
    /// record for people and the leaderboard: the EMA, histories and queue live elsewhere.
    pub fn prune_steps(&mut self, competition_id: u32, keep: usize) -> StoreResult<usize> {
        let ctx = StoreErrorCtx(&self.path);
        let tx = self.conn.transaction().map_err(|e| ctx.sql(e))?;
        let cutoff: Option<i64> = tx
            .query_row(
                "SELECT sync_block FROM steps WHERE competition_id = ?1
                 ORDER BY sync_block DESC LIMIT 1 OFFSET ?2",
                params![competition_id, int(keep as u64)],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| ctx.sql(e))?;
        let Some(cutoff) = cutoff else {
            return Ok(0);
        };
        for table in ["step_models", "steps"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE competition_id = ?1 AND sync_block <= ?2"),
                params![competition_id, cutoff],
            )
            .map_err(|e| ctx.sql(e))?;
        }
        let gone = tx.changes() as usize;
        tx.commit().map_err(|e| ctx.sql(e))?;
        Ok(gone)
    }

    /// Every recorded step key, in order.
    pub fn step_keys(&self) -> StoreResult<Vec<StepKey>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT competition_id, sync_block FROM steps ORDER BY sync_block, competition_id",
            )
            .map_err(|e| self.sql(e))?;
        let keys = stmt
            .query_map([], |r| {
                Ok(StepKey {
                    competition_id: r.get(0)?,
                    sync_block: r.get::<_, i64>(1)? as u64,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        Ok(keys)
    }

    /// The stored step, with its model results ordered by uid (tracker and queue are not
    /// stored per step: `tracker` holds the current weights, `history`/`kept` are empty).
    pub fn step(&self, key: StepKey) -> StoreResult<Option<StepRecord>> {
        let head: Option<(i64, String, String)> = self
            .conn
            .query_row(
                "SELECT block, seed, subnet_weights FROM steps WHERE competition_id = ?1 AND sync_block = ?2",
                params![key.competition_id, int(key.sync_block)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let Some((block, seed, weights)) = head else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT result FROM step_models WHERE competition_id = ?1 AND sync_block = ?2 ORDER BY uid",
            )
            .map_err(|e| self.sql(e))?;
        let texts: Vec<String> = stmt
            .query_map(params![key.competition_id, int(key.sync_block)], |r| {
                r.get(0)
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        let models = texts
            .iter()
            .map(|t| serde_json::from_str(t).map_err(|e| self.corrupt("step_models.result", e)))
            .collect::<StoreResult<Vec<ModelStepResult>>>()?;
        let subnet_weights =
            serde_json::from_str(&weights).map_err(|e| self.corrupt("steps.subnet_weights", e))?;
        Ok(Some(StepRecord {
            key,
            block: block as u64,
            seed,
            models,
            tracker: self.tracker()?,
            subnet_weights,
            history: Vec::new(),
            kept: Vec::new(),
        }))
    }
}

/// The body of a step transaction (also used by the crash tests to write half a step).
pub(super) fn write_step(
    tx: &rusqlite::Transaction<'_>,
    step: &StepRecord,
) -> rusqlite::Result<()> {
    let to_sql = |e: serde_json::Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
    let key = step.key;
    tx.execute(
        "INSERT INTO steps (competition_id, sync_block, block, seed, subnet_weights) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key.competition_id,
            int(key.sync_block),
            int(step.block),
            step.seed,
            serde_json::to_string(&step.subnet_weights).map_err(to_sql)?
        ],
    )?;
    for m in &step.models {
        tx.execute(
            "INSERT INTO step_models (competition_id, sync_block, uid, result) VALUES (?1, ?2, ?3, ?4)",
            params![
                key.competition_id,
                int(key.sync_block),
                m.uid,
                serde_json::to_string(m).map_err(to_sql)?
            ],
        )?;
    }
    for (hotkey, record) in &step.history {
        push_history_tx(tx, hotkey, key.competition_id, record)?;
    }
    let mut stmt = tx.prepare("SELECT hotkey FROM queue WHERE competition_id = ?1")?;
    let queued: Vec<String> = stmt
        .query_map(params![key.competition_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for hotkey in queued.iter().filter(|h| !step.kept.contains(h)) {
        tx.execute(
            "DELETE FROM queue WHERE competition_id = ?1 AND hotkey = ?2",
            params![key.competition_id, hotkey],
        )?;
    }
    for hotkey in step.kept.iter().filter(|h| !queued.contains(h)) {
        tx.execute(
            "INSERT OR IGNORE INTO queue (competition_id, hotkey, reason, queued_block) VALUES (?1, ?2, ?3, ?4)",
            params![key.competition_id, hotkey, super::models::reason_text(QueueReason::Retry), int(step.block)],
        )?;
    }
    put_tracker(tx, &step.tracker)
}

#[cfg(test)]
mod tests;
