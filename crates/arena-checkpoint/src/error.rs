//! The error of reading a `config.json`. Every failure names the file or value at fault.

use std::path::PathBuf;

/// Why a `config.json` could not be read or is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, permissions, I/O).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON or misses fields.
    #[error("invalid {path}: {message}")]
    Json {
        /// The file that failed to parse.
        path: PathBuf,
        /// What was wrong, from the JSON parser.
        message: String,
    },
    /// The config parsed but describes something the engine refuses or cannot run.
    #[error("config.json: {0}")]
    Config(String),
}

impl ConfigError {
    /// Builds a `Json` error for `path`.
    pub(crate) fn json(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        ConfigError::Json {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// Builds an `Io` error for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ConfigError::Io {
            path: path.into(),
            source,
        }
    }
}
