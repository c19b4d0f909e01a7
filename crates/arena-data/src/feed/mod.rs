//! The HTTP data feed: producers publish signed batches, validators pull them.
//!
//! Routes (JSON):
//! * `POST /v1/batches` — body: one batch. 201 `{cursor, duplicate}` when stored; 413 over
//!   the byte cap (enforced while the body is read); 400 malformed; 401 bad signature.
//! * `GET /v1/batches?since=C&limit=N` — batches stored after cursor `C`, oldest first.
//! * `GET /v1/batches?from=MS&to=MS&limit=N` — batches with `from ≤ created_at < to`.
//!   Both answer [`FeedPage`]: `{items: [{cursor, batch}], next_cursor}`.
//! * `GET /v1/stats` — ingest counters ([`IngestStats`]); `GET /health` — `ok`.
//!
//! The feed checks signatures but not stake: that is each validator's job, through its own
//! view of the chain.
//!
//! A running feed deletes old batches by its [`store::Retention`] (age and count).

pub mod client;
pub mod server;
pub mod store;

use serde::{Deserialize, Serialize};

/// One stored batch and its position in the feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedItem {
    /// Ingest position; strictly increasing.
    pub cursor: u64,
    /// The batch, as published.
    pub batch: serde_json::Value,
}

/// A page of batches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FeedPage {
    /// The batches, in cursor order.
    pub items: Vec<FeedItem>,
    /// Pass as `since` to continue (equal to the request's `since` when nothing is new).
    pub next_cursor: u64,
}

/// What the server did with published batches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestStats {
    /// Batches stored.
    pub stored: u64,
    /// Batches already present (same signature), not stored again.
    pub duplicates: u64,
    /// Refused: over the byte cap.
    pub oversize: u64,
    /// Refused: not a valid batch.
    pub malformed: u64,
    /// Refused: signature does not verify.
    pub bad_signature: u64,
}
