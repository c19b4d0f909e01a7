//! Errors of the trainer. The tensor-level steps (loading, forward and backward passes,
//! saving) fail with the engine's [`ModelError`], unchanged; a whole run adds the refusals of
//! [`crate::run()`] and the files it creates.

use std::path::{Path, PathBuf};

use arena_model::ModelError;

/// Everything a training run ([`crate::run()`]) can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loading, training, checkpointing or saving the model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The run cannot do what it was asked (no usable example, a checkpoint it may not
    /// overwrite or that another run wrote, a base model the caller refused).
    #[error("{0}")]
    Refused(String),
    /// Creating, opening or replacing a file or folder of the run failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`creating`, `opening`, …).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl TrainError {
    /// A closure for `map_err` that wraps an I/O error with its action and path.
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| TrainError::Io {
            action,
            path,
            source,
        }
    }
}

/// The engine's error for a file that cannot be read.
pub(crate) fn io_error(path: impl Into<PathBuf>, source: std::io::Error) -> ModelError {
    ModelError::Io {
        path: path.into(),
        source,
    }
}

/// The engine's error for a JSON file (or line) that does not parse.
pub(crate) fn json_error(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> ModelError {
    ModelError::Json {
        path: path.into(),
        message: message.to_string(),
    }
}

/// The engine's error for a weights file that cannot be read or written.
pub(crate) fn weights_error(
    path: impl Into<PathBuf>,
    message: impl std::fmt::Display,
) -> ModelError {
    ModelError::Weights {
        path: path.into(),
        message: message.to_string(),
    }
}

/// [`arena_fs::replace_dir`] for a `fill` that fails with its own error type: a failure of
/// the folder swap itself becomes `swap_error(e)`.
pub(crate) fn replace_dir<E>(
    dest: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
    swap_error: impl FnOnce(std::io::Error) -> E,
) -> Result<(), E> {
    enum Failure<E> {
        Swap(std::io::Error),
        Fill(E),
    }
    impl<E> From<std::io::Error> for Failure<E> {
        fn from(e: std::io::Error) -> Self {
            Failure::Swap(e)
        }
    }
    arena_fs::replace_dir(dest, |staging| fill(staging).map_err(Failure::Fill)).map_err(|f| match f
    {
        Failure::Swap(e) => swap_error(e),
        Failure::Fill(e) => e,
    })
}
