//! Read-only access to a validator's state for other processes (the leaderboard), while the
//! validator itself keeps writing.
//!
//! [`StoreReader`] opens the database with `SQLITE_OPEN_READ_ONLY`: it never creates the file,
//! never changes its schema or journal mode, and reads under WAL snapshot isolation, so a step
//! is seen whole or not at all. A file that is not a validator state database is refused with an
//! error naming it.
//!
//! The validator's own hotkey is not part of a step; a service that wants its steps attributed
//! records it once with [`Store::set_validator_hotkey`] (key `validator_hotkey` of `meta`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use arena_core::queue::{EvalRecord, QueueReason};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::models::reason_text;
use super::{
    int, ModelRecord, ModelStepResult, QueueEntry, StepKey, Store, StoreError, StoreResult,
};
use crate::verdict::Verdict;

/// Key in `meta` of the SS58 hotkey of the validator that owns the database.
pub const VALIDATOR_HOTKEY_KEY: &str = "validator_hotkey";

/// One recorded step as the leaderboard needs it: results and the subnet weights it led to.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    /// `(competition, sync block)`.
    pub key: StepKey,
    /// Chain block at which the step was scored.
    pub block: u64,
    /// The shared seed, hex.
    pub seed: String,
    /// Per evaluated model, ordered by uid.
    pub models: Vec<ModelStepResult>,
    /// Subnet weights (uid-indexed) the validator computed after this step.
    pub subnet_weights: Vec<f64>,
}

/// One tracked hotkey as the leaderboard needs it: the validator's verdict on its current
/// commitment, whether it waits in a queue, and its latest evaluation of that commitment.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelView {
    /// The tracker's record (commitment text and block identify the model).
    pub record: ModelRecord,
    /// Its queue entry, if queued (the one of its own competition when there are several).
    pub queued: Option<QueueEntry>,
    /// Its most recent evaluation in its competition at or after its commit block (an older
    /// one belongs to a previous commitment of the hotkey).
    pub last_evaluation: Option<EvalRecord>,
}

impl Store {
    /// Records which hotkey owns this database, so readers can attribute its steps (and look
    /// up its stake). Idempotent; a later call replaces the value.
    pub fn set_validator_hotkey(&self, ss58: &str) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![VALIDATOR_HOTKEY_KEY, ss58],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }
}

/// A read-only view of a validator state database.
pub struct StoreReader {
    conn: Connection,
    path: PathBuf,
}

impl StoreReader {
    /// Opens `path` read-only. Fails (naming the file) if it does not exist, is not SQLite, or
    /// has no `steps` table.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<StoreReader> {
        let path = path.as_ref().to_path_buf();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(&path, flags).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'
                 AND name IN ('meta', 'steps', 'step_models')",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if tables != 3 {
            return Err(StoreError::Corrupt {
                path,
                column: "sqlite_master",
                message: "not a validator state database (tables meta, steps, step_models missing)"
                    .into(),
            });
        }
        Ok(StoreReader { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, column: &'static str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            column,
            message: e.to_string(),
        }
    }

    /// The owner's hotkey as recorded by [`Store::set_validator_hotkey`], if it was.
    pub fn validator_hotkey(&self) -> StoreResult<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![VALIDATOR_HOTKEY_KEY],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// The latest step of every competition this validator has scored, by competition id.
    pub fn latest_steps(&self) -> StoreResult<Vec<StepView>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT competition_id, max(sync_block) FROM steps
                 GROUP BY competition_id ORDER BY competition_id",
            )
            .map_err(|e| self.sql(e))?;
        let keys: Vec<StepKey> = stmt
            .query_map([], |r| {
                Ok(StepKey {
                    competition_id: r.get(0)?,
                    sync_block: r.get::<_, i64>(1)? as u64,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        self.snapshot(|| {
            let mut out = Vec::with_capacity(keys.len());
            for key in &keys {
                out.extend(self.recent_inner(key.competition_id, 1)?);
            }
            Ok(out)
        })
    }

    /// Every tracked model with its queue entry and latest evaluation, by uid, read in one
    /// snapshot.
    pub fn model_views(&self) -> StoreResult<Vec<ModelView>> {
        self.snapshot(|| {
            let records = self.model_records()?;
            let queue = self.queue_entries()?;
            let evaluations = self.latest_evaluations()?;
            Ok(records
                .into_iter()
                .map(|record| {
                    let mine = |entry: &&QueueEntry| entry.hotkey == record.hotkey;
                    let queued = queue
                        .iter()
                        .filter(mine)
                        .find(|e| Some(e.competition_id) == record.competition_id)
                        .or_else(|| queue.iter().find(mine))
                        .cloned();
                    let last_evaluation = record.competition_id.and_then(|id| {
                        evaluations
                            .iter()
                            .find(|(h, c, r)| {
                                *h == record.hotkey && *c == id && r.block >= record.commit_block
                            })
                            .map(|(_, _, r)| r.clone())
                    });
                    ModelView {
                        record,
                        queued,
                        last_evaluation,
                    }
                })
                .collect())
        })
    }

    fn model_records(&self) -> StoreResult<Vec<ModelRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT hotkey, uid, commitment, commit_block, competition_id, download_path,
                 content_hash, verdict, checked_block FROM models ORDER BY uid, hotkey",
            )
            .map_err(|e| self.sql(e))?;
        type Row = (
            String,
            u16,
            String,
            i64,
            Option<u32>,
            Option<String>,
            Option<String>,
            String,
            i64,
        );
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        rows.into_iter()
            .map(
                |(hotkey, uid, commitment, commit, competition_id, path, hash, v, checked)| {
                    let verdict: Verdict =
                        serde_json::from_str(&v).map_err(|e| self.corrupt("models.verdict", e))?;
                    Ok(ModelRecord {
                        hotkey,
                        uid,
                        commitment,
                        commit_block: commit as u64,
                        competition_id,
                        download_path: path,
                        content_hash: hash,
                        verdict,
                        checked_block: checked as u64,
                    })
                },
            )
            .collect()
    }

    fn queue_entries(&self) -> StoreResult<Vec<QueueEntry>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT competition_id, hotkey, reason, queued_block FROM queue
                 ORDER BY competition_id, queued_block, hotkey",
            )
            .map_err(|e| self.sql(e))?;
        let rows: Vec<(u32, String, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        rows.into_iter()
            .map(|(competition_id, hotkey, reason, block)| {
                let reason = [
                    QueueReason::New,
                    QueueReason::Retry,
                    QueueReason::TopMinerRecheck,
                ]
                .into_iter()
                .find(|r| reason_text(*r) == reason)
                .ok_or_else(|| self.corrupt("queue.reason", &reason))?;
                Ok(QueueEntry {
                    competition_id,
                    hotkey,
                    reason,
                    queued_block: block as u64,
                })
            })
            .collect()
    }

    /// The most recent history record of every `(hotkey, competition)`.
    fn latest_evaluations(&self) -> StoreResult<Vec<(String, u32, EvalRecord)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT h.hotkey, h.competition_id, h.record FROM history h
                 JOIN (SELECT hotkey, competition_id, max(block) AS block FROM history
                       GROUP BY hotkey, competition_id) m
                 ON h.hotkey = m.hotkey AND h.competition_id = m.competition_id
                    AND h.block = m.block",
            )
            .map_err(|e| self.sql(e))?;
        let rows: Vec<(String, u32, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        rows.into_iter()
            .map(|(hotkey, competition_id, text)| {
                let record: EvalRecord =
                    serde_json::from_str(&text).map_err(|e| self.corrupt("history.record", e))?;
                Ok((hotkey, competition_id, record))
            })
            .collect()
    }

    /// The last `limit` steps of `competition_id`, oldest first.
    pub fn recent_steps(&self, competition_id: u32, limit: usize) -> StoreResult<Vec<StepView>> {
        self.snapshot(|| self.recent_inner(competition_id, limit))
    }

    /// Runs `f` inside one read transaction, so every row it reads comes from the same WAL
    /// snapshot even while the validator commits new steps.
    fn snapshot<T>(&self, f: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(|e| self.sql(e))?;
        let result = f();
        let end = self.conn.execute_batch("COMMIT").map_err(|e| self.sql(e));
        let value = result?;
        end.map(|()| value)
    }

    fn recent_inner(&self, competition_id: u32, limit: usize) -> StoreResult<Vec<StepView>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT sync_block, block, seed, subnet_weights FROM steps
                 WHERE competition_id = ?1 ORDER BY sync_block DESC LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let heads: Vec<(i64, i64, String, String)> = stmt
            .query_map(params![competition_id, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::with_capacity(heads.len());
        for (sync_block, block, seed, weights) in heads.into_iter().rev() {
            let key = StepKey {
                competition_id,
                sync_block: sync_block as u64,
            };
            out.push(StepView {
                key,
                block: block as u64,
                seed,
                models: self.step_models(key)?,
                subnet_weights: serde_json::from_str(&weights)
                    .map_err(|e| self.corrupt("steps.subnet_weights", e))?,
            });
        }
        Ok(out)
    }

    fn step_models(&self, key: StepKey) -> StoreResult<Vec<ModelStepResult>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT result FROM step_models WHERE competition_id = ?1 AND sync_block = ?2
                 ORDER BY uid",
            )
            .map_err(|e| self.sql(e))?;
        let texts: Vec<String> = stmt
            .query_map(params![key.competition_id, int(key.sync_block)], |r| {
                r.get(0)
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        texts
            .iter()
            .map(|t| serde_json::from_str(t).map_err(|e| self.corrupt("step_models.result", e)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
