//! Why a localnet could not start or stopped early. Every variant names the file, service or
//! node concerned, so the one-line error the CLI prints is enough to act on.

use std::path::PathBuf;

/// A localnet failure.
#[derive(Debug, thiserror::Error)]
pub enum LocalnetError {
    /// A file or directory under the home could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The state file or the schedule under the home is not what this version writes.
    #[error("{path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested base model is not available.
    #[error("base model {name}: {reason}")]
    BaseModel {
        /// `tiny` or `smollm2`.
        name: String,
        /// What is missing and how to get it.
        reason: String,
    },
    /// A flag value that cannot work.
    #[error("{0}")]
    Config(String),
    /// A chain read or call failed.
    #[error("chain: {0}")]
    Chain(#[from] arena_chain::ChainError),
    /// A wallet could not be created or read.
    #[error("wallet: {0}")]
    Wallet(#[from] arena_keys::wallet::WalletError),
    /// A service could not bind its address.
    #[error("{service}: cannot listen on {addr}: {source} (another program uses it? choose another port with {flag})")]
    Bind {
        /// The service (`hub`, `feed`, `chain RPC`, `leaderboard`).
        service: &'static str,
        /// The flag that sets its address.
        flag: &'static str,
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Starting or running a service failed.
    #[error("{service}: {reason}")]
    Service {
        /// The service.
        service: String,
        /// What failed.
        reason: String,
    },
    /// A miner could not train or publish its model.
    #[error("miner {miner}: {reason}")]
    Miner {
        /// The miner's name.
        miner: String,
        /// What failed.
        reason: String,
    },
}

impl LocalnetError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LocalnetError {
        let path = path.into();
        move |source| LocalnetError::Io { path, source }
    }

    /// A service failure from any displayable error.
    pub fn service(service: impl Into<String>, err: impl std::fmt::Display) -> LocalnetError {
        LocalnetError::Service {
            service: service.into(),
            reason: err.to_string(),
        }
    }

    /// A miner failure from any displayable error.
    pub fn miner(miner: &str, err: impl std::fmt::Display) -> LocalnetError {
        LocalnetError::Miner {
            miner: miner.to_string(),
            reason: err.to_string(),
        }
    }
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, LocalnetError>;
