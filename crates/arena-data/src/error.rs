//! The crate's error type.

use crate::batch::BatchError;

/// Errors of data sources, feeds and producers. Each names the file, URL or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A line of a local dataset could not be parsed.
    #[error("{path}:{line}: {reason}")]
    Dataset {
        path: String,
        line: usize,
        reason: String,
    },
    /// A batch was malformed or its signature failed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The feed's SQLite store failed.
    #[error("feed store {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// An HTTP request to a feed failed.
    #[error("feed {url}: {reason}")]
    Http { url: String, reason: String },
    /// The stake oracle (the chain) could not answer.
    #[error("stake lookup failed: {0}")]
    Stake(String),
    /// A request that cannot be met (empty source, unknown task, …).
    #[error("{0}")]
    Invalid(String),
}
