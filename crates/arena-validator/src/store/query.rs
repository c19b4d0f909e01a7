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

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{int, ModelStepResult, StepKey, Store, StoreError, StoreResult};

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
