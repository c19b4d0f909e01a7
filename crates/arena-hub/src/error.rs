//! Typed errors of the hub library: client, server storage and hashing share one enum so a
//! caller can match on the failure kind (not found, too large, bad content) without parsing text.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A repository path or repo id that could escape a directory or is not portable.
    #[error("invalid file name {name:?}: {reason}")]
    InvalidPath {
        /// The rejected name, as received.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A repo id that is not `namespace/name`.
    #[error("invalid repo id {0:?}: expected namespace/name")]
    InvalidRepoId(String),
    /// The repository does not exist or is private to someone else (the hub does not say which).
    #[error("repository {0} not found (or private)")]
    RepoNotFound(String),
    /// The revision is not a branch or commit of the repository.
    #[error("revision {revision} not found in {repo}")]
    RevisionNotFound {
        /// Repo id.
        repo: String,
        /// Requested revision.
        revision: String,
    },
    /// A file is missing from the revision.
    #[error("file {path} not found in {repo}")]
    EntryNotFound {
        /// Repo id.
        repo: String,
        /// Missing path.
        path: String,
    },
    /// The revision is larger than the caller allows; nothing was written.
    #[error("revision {revision} of {repo} is {total} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Repo id.
        repo: String,
        /// Resolved revision.
        revision: String,
        /// Sum of the file sizes announced by the hub.
        total: u64,
        /// Caller's limit.
        limit: u64,
    },
    /// Downloaded or uploaded bytes do not match the digest announced for them.
    #[error("content of {path} does not match its digest (expected {expected}, got {actual})")]
    DigestMismatch {
        /// File concerned.
        path: String,
        /// Announced digest.
        expected: String,
        /// Computed digest.
        actual: String,
    },
    /// The hub answered with an HTTP error.
    #[error("hub answered {status} for {url}: {message}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// Request URL.
        url: String,
        /// Error text from `X-Error-Message` or the JSON body.
        message: String,
    },
    /// The hub answered something this client cannot read.
    #[error("unexpected answer from the hub: {0}")]
    Protocol(String),
    /// Network failure (connection refused, reset, timeout).
    #[error("network error: {0}")]
    Network(#[from] reqwest::Error),
    /// A local file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "writing", "renaming", …).
        op: &'static str,
        /// File or directory concerned.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration or metadata file could not be parsed.
    #[error("cannot parse {}: {message}", path.display())]
    Parse {
        /// File concerned.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
}

impl HubError {
    /// Wraps an I/O error with the operation and the path, for one-line messages.
    pub fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> HubError {
        let path = path.into();
        move |source| HubError::Io { op, path, source }
    }
}

/// Result alias of this crate.
pub type Result<T, E = HubError> = std::result::Result<T, E>;
