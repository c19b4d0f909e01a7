//! The crate's error type.

use crate::batch::BatchError;

/// Errors of data sources, feeds and producers. Each names the file, URL or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a local dataset could not be parsed.
    #[error("{path}:{line}: {reason}")]
    Dataset {
        /// The file at fault.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A batch was malformed or its signature failed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The feed's SQLite store failed.
    #[error("feed store {path}: {source}")]
    Store {
        /// The file at fault.
        path: String,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// An HTTP request to a feed failed.
    #[error("feed {url}: {reason}")]
    Http {
        /// The URL requested.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The stake oracle (the chain) could not answer.
    #[error("stake lookup failed: {0}")]
    Stake(String),
    /// A request that cannot be met (empty source, unknown task, …).
    #[error("{0}")]
    Invalid(String),
    /// A hub dataset could not be read (rate limited, unavailable, no usable rows).
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
}
