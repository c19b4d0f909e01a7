//! The model tracker (one row per hotkey), evaluation histories and the queues.

use arena_core::queue::{push_history, EvalRecord, QueueReason};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{int, Store, StoreResult};
use crate::verdict::Verdict;

/// What the validator knows about one hotkey's current commitment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The committing hotkey (SS58).
    pub hotkey: String,
    /// Its uid when last seen in the metagraph.
    pub uid: u16,
    /// The commitment text as read from the chain (lossy UTF-8 if it was not text).
    pub commitment: String,
    /// Block the commitment was stored in: the model's age.
    pub commit_block: u64,
    /// Competition named by the commitment, once parsed.
    pub competition_id: Option<u32>,
    /// Snapshot folder of the downloaded revision (set once downloaded).
    pub download_path: Option<String>,
    /// Directory hash of the files (without the hotkey): equal hashes are exact copies.
    pub content_hash: Option<String>,
    /// Where the update loop stands with it, and why if rejected.
    pub verdict: Verdict,
    /// Block of the last check.
    pub checked_block: u64,
}

/// A model waiting to be evaluated in a competition's next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The competition whose step evaluates it.
    pub competition_id: u32,
    /// The model's hotkey.
    pub hotkey: String,
    /// Why it is queued.
    pub reason: QueueReason,
    /// Block at which it was queued.
    pub queued_block: u64,
}

pub(super) fn reason_text(reason: QueueReason) -> &'static str {
    match reason {
        QueueReason::New => "new",
        QueueReason::Retry => "retry",
        QueueReason::TopMinerRecheck => "top_miner_recheck",
    }
}

fn reason_parse(text: &str) -> Option<QueueReason> {
    match text {
        "new" => Some(QueueReason::New),
        "retry" => Some(QueueReason::Retry),
        "top_miner_recheck" => Some(QueueReason::TopMinerRecheck),
        _ => None,
    }
}

impl Store {
    /// Inserts or replaces the record of `record.hotkey`. When the commitment text differs from
    /// the stored one (another repo, revision, hash or competition), the hotkey's evaluation
    /// histories and queue entries belong to the old model and are dropped in the same
    /// transaction, so the new model is queued as new (SN37 queues every new commitment).
    pub fn put_model(&mut self, record: &ModelRecord) -> StoreResult<()> {
        let verdict = serde_json::to_string(&record.verdict)
            .map_err(|e| self.corrupt("models.verdict", e))?;
        let ctx = StoreErrorCtx(&self.path);
        let tx = self.conn.transaction().map_err(|e| ctx.sql(e))?;
        let previous: Option<String> = tx
            .query_row(
                "SELECT commitment FROM models WHERE hotkey = ?1",
                params![record.hotkey],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| ctx.sql(e))?;
        if previous.is_some_and(|p| p != record.commitment) {
            for table in ["history", "queue"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE hotkey = ?1"),
                    params![record.hotkey],
                )
                .map_err(|e| ctx.sql(e))?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO models (hotkey, uid, commitment, commit_block,
                 competition_id, download_path, content_hash, verdict_kind, verdict, checked_block)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                record.hotkey,
                record.uid,
                record.commitment,
                int(record.commit_block),
                record.competition_id,
                record.download_path,
                record.content_hash,
                record.verdict.kind(),
                verdict,
                int(record.checked_block)
            ],
        )
        .map_err(|e| ctx.sql(e))?;
        tx.commit().map_err(|e| ctx.sql(e))
    }

    fn model_row(&self, row: &Row<'_>) -> rusqlite::Result<(ModelRecord, String)> {
        let verdict_text: String = row.get(8)?;
        let record = ModelRecord {
            hotkey: row.get(0)?,
            uid: row.get(1)?,
            commitment: row.get(2)?,
            commit_block: row.get::<_, i64>(3)? as u64,
            competition_id: row.get(4)?,
            download_path: row.get(5)?,
            content_hash: row.get(6)?,
            verdict: Verdict::Accepted,
            checked_block: row.get::<_, i64>(9)? as u64,
        };
        Ok((record, verdict_text))
    }

    fn finish_model(
        &self,
        (mut record, verdict): (ModelRecord, String),
    ) -> StoreResult<ModelRecord> {
        record.verdict =
            serde_json::from_str(&verdict).map_err(|e| self.corrupt("models.verdict", e))?;
        Ok(record)
    }

    /// The record of one hotkey.
    pub fn model(&self, hotkey: &str) -> StoreResult<Option<ModelRecord>> {
        let raw = self
            .conn
            .query_row(
                "SELECT hotkey, uid, commitment, commit_block, competition_id, download_path,
                 content_hash, verdict_kind, verdict, checked_block FROM models WHERE hotkey = ?1",
                params![hotkey],
                |r| self.model_row(r),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        raw.map(|r| self.finish_model(r)).transpose()
    }

    /// Every tracked model, ordered by uid.
    pub fn models(&self) -> StoreResult<Vec<ModelRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT hotkey, uid, commitment, commit_block, competition_id, download_path,
                 content_hash, verdict_kind, verdict, checked_block FROM models ORDER BY uid, hotkey",
            )
            .map_err(|e| self.sql(e))?;
        let raw: Vec<_> = stmt
            .query_map([], |r| self.model_row(r))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sql(e))?;
        raw.into_iter().map(|r| self.finish_model(r)).collect()
    }

    /// Forgets a hotkey that left the metagraph: its record, history and queue entries, and the
    /// competition EMA weight of the uid it held, in one transaction. The uid may be recycled
    /// to a new hotkey, which must start from zero rather than inherit the old model's weight.
    pub fn remove_model(&mut self, hotkey: &str) -> StoreResult<()> {
        let tracker = self.tracker()?;
        let ctx = StoreErrorCtx(&self.path);
        let tx = self.conn.transaction().map_err(|e| ctx.sql(e))?;
        let uid: Option<u16> = tx
            .query_row(
                "SELECT uid FROM models WHERE hotkey = ?1",
                params![hotkey],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| ctx.sql(e))?;
        for table in ["models", "history", "queue"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE hotkey = ?1"),
                params![hotkey],
            )
            .map_err(|e| ctx.sql(e))?;
        }
        if let Some(uid) = uid {
            let mut tracker = tracker;
            tracker.reset_uid(uid);
            super::put_tracker(&tx, &tracker).map_err(|e| ctx.sql(e))?;
        }
        tx.commit().map_err(|e| ctx.sql(e))
    }

    /// The last evaluations (at most 3, oldest first) of a hotkey in a competition.
    pub fn history(&self, hotkey: &str, competition_id: u32) -> StoreResult<Vec<EvalRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT record FROM history WHERE hotkey = ?1 AND competition_id = ?2 ORDER BY block",
            )
            .map_err(|e| self.sql(e))?;
        let texts: Vec<String> = stmt
            .query_map(params![hotkey, competition_id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        texts
            .iter()
            .map(|t| serde_json::from_str(t).map_err(|e| self.corrupt("history.record", e)))
            .collect()
    }

    /// Queues a model unless it is already queued in that competition; returns whether it was added.
    pub fn enqueue(&mut self, entry: &QueueEntry) -> StoreResult<bool> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO queue (competition_id, hotkey, reason, queued_block)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    entry.competition_id,
                    entry.hotkey,
                    reason_text(entry.reason),
                    int(entry.queued_block)
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(n == 1)
    }

    /// Takes a model out of every queue (rejected, or replaced by a new commitment).
    pub fn dequeue(&mut self, hotkey: &str) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM queue WHERE hotkey = ?1", params![hotkey])
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The queue of one competition, oldest entry first.
    pub fn queue(&self, competition_id: u32) -> StoreResult<Vec<QueueEntry>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT hotkey, reason, queued_block FROM queue WHERE competition_id = ?1
                 ORDER BY queued_block, hotkey",
            )
            .map_err(|e| self.sql(e))?;
        let rows: Vec<(String, String, i64)> = stmt
            .query_map(params![competition_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql(e))?;
        rows.into_iter()
            .map(|(hotkey, reason, block)| {
                let reason =
                    reason_parse(&reason).ok_or_else(|| self.corrupt("queue.reason", reason))?;
                Ok(QueueEntry {
                    competition_id,
                    hotkey,
                    reason,
                    queued_block: block as u64,
                })
            })
            .collect()
    }

    /// Models queued in all competitions together (the admission limit counts them all).
    pub fn queued_total(&self) -> StoreResult<usize> {
        self.conn
            .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.sql(e))
    }
}

/// Error context usable while `self.conn` is mutably borrowed by a transaction.
pub(super) struct StoreErrorCtx<'a>(pub &'a std::path::Path);

impl StoreErrorCtx<'_> {
    pub(super) fn sql(&self, source: rusqlite::Error) -> super::StoreError {
        super::StoreError::Sqlite {
            path: self.0.to_path_buf(),
            source,
        }
    }
}

/// Appends a record to a history inside a step transaction, keeping the last three.
pub(super) fn push_history_tx(
    tx: &rusqlite::Transaction<'_>,
    hotkey: &str,
    competition_id: u32,
    record: &EvalRecord,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare(
        "SELECT record FROM history WHERE hotkey = ?1 AND competition_id = ?2 ORDER BY block",
    )?;
    let texts: Vec<String> = stmt
        .query_map(params![hotkey, competition_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let to_sql_err = |e: serde_json::Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
    let mut history: Vec<EvalRecord> = texts
        .iter()
        .map(|t| serde_json::from_str(t))
        .collect::<Result<_, _>>()
        .map_err(to_sql_err)?;
    push_history(&mut history, record.clone());
    tx.execute(
        "DELETE FROM history WHERE hotkey = ?1 AND competition_id = ?2",
        params![hotkey, competition_id],
    )?;
    for r in &history {
        let json = serde_json::to_string(r).map_err(to_sql_err)?;
        tx.execute(
            "INSERT INTO history (hotkey, competition_id, block, record) VALUES (?1, ?2, ?3, ?4)",
            params![hotkey, competition_id, int(r.block), json],
        )?;
    }
    Ok(())
}
