//! The validator's state in SQLite (WAL, `synchronous=FULL`): the model tracker, the queues,
//! the competition EMA weights and every step's results.
//!
//! Crash safety: a step is written by [`Store::record_step`] in ONE transaction keyed by
//! `(competition, sync block)`: its results, the models' histories, the queue that follows it
//! and the EMA weights either all land or none do, and a second write of the same key is
//! refused. A `kill -9` at any moment loses at most the step in progress.

mod models;
pub mod query;
mod step;

pub use models::{ModelRecord, QueueEntry};
pub use step::{EarlyStopRecord, ModelStepResult, StepKey, StepRecord};

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

/// Errors of the state database; each names the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (I/O, corruption, lock timeout).
    #[error("validator state {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The driver's error.
        source: rusqlite::Error,
    },
    /// A stored JSON column does not parse: written by an incompatible version, or edited.
    #[error("validator state {path}: column {column} does not parse: {message}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// `table.column` of the bad value.
        column: &'static str,
        /// The parser's message.
        message: String,
    },
    /// The step `(competition, sync block)` is already recorded; steps are never written twice.
    #[error("step of competition {competition_id} at sync block {sync_block} is already recorded")]
    DuplicateStep {
        /// The competition.
        competition_id: u32,
        /// The sync block.
        sync_block: u64,
    },
}

/// Result alias of this module.
pub type StoreResult<T> = Result<T, StoreError>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    hotkey TEXT PRIMARY KEY, uid INTEGER NOT NULL, commitment TEXT NOT NULL,
    commit_block INTEGER NOT NULL, competition_id INTEGER, download_path TEXT,
    content_hash TEXT, verdict_kind TEXT NOT NULL, verdict TEXT NOT NULL,
    checked_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    hotkey TEXT NOT NULL, competition_id INTEGER NOT NULL, block INTEGER NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (hotkey, competition_id, block));
CREATE TABLE IF NOT EXISTS queue (
    competition_id INTEGER NOT NULL, hotkey TEXT NOT NULL, reason TEXT NOT NULL,
    queued_block INTEGER NOT NULL, PRIMARY KEY (competition_id, hotkey));
CREATE TABLE IF NOT EXISTS steps (
    competition_id INTEGER NOT NULL, sync_block INTEGER NOT NULL, block INTEGER NOT NULL,
    seed TEXT NOT NULL, subnet_weights TEXT NOT NULL,
    PRIMARY KEY (competition_id, sync_block));
CREATE TABLE IF NOT EXISTS step_models (
    competition_id INTEGER NOT NULL, sync_block INTEGER NOT NULL, uid INTEGER NOT NULL,
    result TEXT NOT NULL, PRIMARY KEY (competition_id, sync_block, uid),
    FOREIGN KEY (competition_id, sync_block) REFERENCES steps (competition_id, sync_block));
";

/// Key of the serialised `CompetitionTracker` in `meta`.
const TRACKER_KEY: &str = "competition_tracker";

/// An open state database. One writer per file: the service owns it.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode with full syncs.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Store> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let store = Store { conn, path };
        store
            .conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| store.sql(e))?;
        store
            .conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| store.sql(e))?;
        store
            .conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| store.sql(e))?;
        store
            .conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| store.sql(e))?;
        store.conn.execute_batch(SCHEMA).map_err(|e| store.sql(e))?;
        Ok(store)
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

    /// The competition EMA weights as last committed (empty before the first step).
    pub fn tracker(&self) -> StoreResult<arena_core::scoring::CompetitionTracker> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![TRACKER_KEY],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        match text {
            None => Ok(Default::default()),
            Some(t) => serde_json::from_str(&t).map_err(|e| self.corrupt("meta.value", e)),
        }
    }
}

impl Store {
    /// Drops the EMA weights of every competition not in `active` (removed from the schedule),
    /// so a competition that comes back starts from zero instead of reusing stale weights.
    /// Returns the ids dropped.
    pub fn retain_competitions(
        &mut self,
        active: &[arena_core::competition::CompetitionId],
    ) -> StoreResult<Vec<arena_core::competition::CompetitionId>> {
        let mut tracker = self.tracker()?;
        let dropped: Vec<_> = tracker
            .weights
            .keys()
            .copied()
            .filter(|id| !active.contains(id))
            .collect();
        if dropped.is_empty() {
            return Ok(dropped);
        }
        tracker.retain_active(active);
        let ctx = models::StoreErrorCtx(&self.path);
        let tx = self.conn.transaction().map_err(|e| ctx.sql(e))?;
        put_tracker(&tx, &tracker).map_err(|e| ctx.sql(e))?;
        tx.commit().map_err(|e| ctx.sql(e))?;
        Ok(dropped)
    }
}

/// Writes the tracker inside an open transaction (steps and schedule changes).
fn put_tracker(
    tx: &rusqlite::Transaction<'_>,
    tracker: &arena_core::scoring::CompetitionTracker,
) -> rusqlite::Result<()> {
    let json = serde_json::to_string(tracker)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![TRACKER_KEY, json],
    )?;
    Ok(())
}

/// SQLite stores integers as i64; block numbers and ids fit.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
