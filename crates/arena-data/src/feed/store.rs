//! SQLite storage of a feed's batches.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::batch::Batch;
use crate::error::DataError;
use crate::feed::FeedItem;

/// The feed's database: one row per batch, keyed by an increasing cursor.
pub struct FeedStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// How long a feed keeps batches: a running feed ([`crate::feed::server::serve`]) deletes,
/// every `every`, the batches received more than `max_age` ago and all but the newest
/// `max_batches`. Cursors are never reused, so a validator's `since` cursor stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Batches received longer ago than this are deleted.
    pub max_age: Duration,
    /// At most this many batches are kept (the newest by cursor); at least 1.
    pub max_batches: u64,
    /// Time between two prunes of a running feed.
    pub every: Duration,
}

/// Default [`Retention::max_age`]: 8 hours, twice the 4-hour freshness window validators
/// accept, so nothing a validator may still draw is deleted.
pub const DEFAULT_RETENTION_SECS: u64 = 8 * 3600;
/// Default [`Retention::max_batches`].
pub const DEFAULT_RETENTION_BATCHES: u64 = 10_000;

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(DEFAULT_RETENTION_SECS),
            max_batches: DEFAULT_RETENTION_BATCHES,
            every: Duration::from_secs(60),
        }
    }
}

/// Result of storing a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The batch's cursor.
    pub cursor: u64,
    /// True when the batch was already stored.
    pub duplicate: bool,
}

impl FeedStore {
    /// Opens or creates `path` (`:memory:` for an in-memory store).
    pub fn open(path: &Path) -> Result<FeedStore, DataError> {
        let err = |source| DataError::Store {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS batches (
                 cursor      INTEGER PRIMARY KEY AUTOINCREMENT,
                 signature   TEXT NOT NULL UNIQUE,
                 producer    TEXT NOT NULL,
                 netuid      INTEGER NOT NULL,
                 created_at  INTEGER NOT NULL,
                 block       INTEGER NOT NULL,
                 received_at INTEGER NOT NULL,
                 body        TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS batches_created ON batches(created_at);",
        )
        .map_err(err)?;
        Ok(FeedStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn error(&self, source: rusqlite::Error) -> DataError {
        DataError::Store {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent; keep serving.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a (verified) batch; a batch with the same signature is stored once.
    pub fn insert(&self, batch: &Batch, received_at: u64) -> Result<Stored, DataError> {
        let conn = self.lock();
        let existing: Option<i64> = conn
            .query_row(
                "SELECT cursor FROM batches WHERE signature = ?1",
                params![batch.signature],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        if let Some(cursor) = existing {
            return Ok(Stored {
                cursor: cursor as u64,
                duplicate: true,
            });
        }
        conn.execute(
            "INSERT INTO batches (signature, producer, netuid, created_at, block, received_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                batch.signature,
                batch.producer,
                batch.netuid,
                batch.created_at as i64,
                batch.block as i64,
                received_at as i64,
                batch.to_json()
            ],
        )
        .map_err(|e| self.error(e))?;
        Ok(Stored {
            cursor: conn.last_insert_rowid() as u64,
            duplicate: false,
        })
    }

    fn query(&self, sql: &str, args: &[i64]) -> Result<Vec<FeedItem>, DataError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| self.error(e))?;
        let mut items = Vec::new();
        for row in rows {
            let (cursor, body) = row.map_err(|e| self.error(e))?;
            let batch = serde_json::from_str(&body).map_err(|e| {
                DataError::Invalid(format!(
                    "feed store {}: batch at cursor {cursor} is corrupt: {e}",
                    self.path.display()
                ))
            })?;
            items.push(FeedItem {
                cursor: cursor as u64,
                batch,
            });
        }
        Ok(items)
    }

    /// Up to `limit` batches after `cursor`, oldest first.
    pub fn since(&self, cursor: u64, limit: usize) -> Result<Vec<FeedItem>, DataError> {
        self.query(
            "SELECT cursor, body FROM batches WHERE cursor > ?1 ORDER BY cursor LIMIT ?2",
            &[clamp(cursor), limit as i64],
        )
    }

    /// Up to `limit` batches with `from_ms ≤ created_at < to_ms`, by creation time.
    pub fn range(
        &self,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<FeedItem>, DataError> {
        self.query(
            "SELECT cursor, body FROM batches WHERE created_at >= ?1 AND created_at < ?2
             ORDER BY created_at, cursor LIMIT ?3",
            &[clamp(from_ms), clamp(to_ms), limit as i64],
        )
    }

    /// Applies `retention` at `now_ms` (Unix ms): deletes the batches received before
    /// `now_ms - max_age` and all but the newest `max_batches`. Returns how many were deleted.
    pub fn prune(&self, retention: &Retention, now_ms: u64) -> Result<u64, DataError> {
        let cutoff = now_ms.saturating_sub(retention.max_age.as_millis() as u64);
        let conn = self.lock();
        let by_age = conn
            .execute(
                "DELETE FROM batches WHERE received_at < ?1",
                params![clamp(cutoff)],
            )
            .map_err(|e| self.error(e))?;
        // The cursor of the newest batch beyond the cap (none when under it): it and older go.
        let by_count = conn
            .execute(
                "DELETE FROM batches WHERE cursor <= (
                     SELECT cursor FROM batches ORDER BY cursor DESC LIMIT 1 OFFSET ?1)",
                params![clamp(retention.max_batches.max(1))],
            )
            .map_err(|e| self.error(e))?;
        Ok((by_age + by_count) as u64)
    }

    /// Number of stored batches.
    pub fn count(&self) -> Result<u64, DataError> {
        let conn = self.lock();
        conn.query_row("SELECT COUNT(*) FROM batches", [], |row| {
            row.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(|e| self.error(e))
    }
}

fn clamp(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}
