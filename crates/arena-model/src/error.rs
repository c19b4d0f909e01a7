//! The one error type of the crate. Every failure names the file or value at fault, so a
//! validator can record it as the reason a model scored +inf.

use std::path::PathBuf;

/// Why loading or evaluating a model failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read (missing, permissions, I/O).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A JSON file (config.json, tokenizer_config.json, index) is not valid or misses fields.
    #[error("invalid {path}: {message}")]
    Json {
        /// The file that failed to parse.
        path: PathBuf,
        /// What was wrong, from the JSON parser.
        message: String,
    },
    /// config.json parsed but describes something this engine refuses or cannot run.
    #[error("config.json: {0}")]
    Config(String),
    /// The architecture in config.json is not implemented.
    #[error("unsupported architecture {0:?}")]
    UnsupportedArchitecture(String),
    /// A safetensors file is malformed or disagrees with the config.
    #[error("weights {path}: {message}")]
    Weights {
        /// The weights file (or folder) at fault.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A tensor the architecture needs is absent from the weights.
    #[error("missing tensor {0}")]
    MissingTensor(String),
    /// A tensor has a shape other than the config implies.
    #[error("tensor {name} has shape {actual:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Tensor name as stored in safetensors.
        name: String,
        /// Shape found in the file.
        actual: Vec<usize>,
        /// Shape the config implies.
        expected: Vec<usize>,
    },
    /// tokenizer.json is missing or cannot be parsed or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template failed to compile or render.
    #[error("chat template: {0}")]
    ChatTemplate(String),
    /// A sample cannot be scored (empty reference, too long for the model, bad token id).
    #[error("sample {id}: {message}")]
    Sample {
        /// The sample's id.
        id: String,
        /// Why it cannot be scored.
        message: String,
    },
    /// q, k, v and the mask of an attention call do not fit together.
    #[error("attention: {0}")]
    AttentionShape(String),
    /// A shared prefix's kv-cache that does not fit the model (a caller's bug, not bad input).
    #[error("the shared prefix holds {found} of the model's {layers} layers as one sequence of {positions} positions")]
    PrefixCache {
        /// Layers of the model.
        layers: usize,
        /// Layers of the cache holding keys and values of one sequence of `positions`.
        found: usize,
        /// Positions of the prefix.
        positions: usize,
    },
    /// A packed pass was given no sequences, or an empty one.
    #[error("a packed pass needs tokens in every sequence; sequence {index} has none (or there are no sequences)")]
    NoTokens {
        /// Index of the empty sequence.
        index: usize,
    },
    /// An error from the tensor library.
    #[error("tensor op: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Result alias used throughout the crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    /// Builds a `Json` error for `path`.
    pub(crate) fn json(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        ModelError::Json {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// Builds an `Io` error for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds a `Weights` error for `path`.
    pub(crate) fn weights(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        ModelError::Weights {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

impl From<arena_checkpoint::ConfigError> for ModelError {
    /// Keeps the variant (and so the message) a config.json failure had before config parsing
    /// moved to `arena-checkpoint`.
    fn from(e: arena_checkpoint::ConfigError) -> Self {
        use arena_checkpoint::ConfigError as C;
        match e {
            C::Io { path, source } => ModelError::Io { path, source },
            C::Json { path, message } => ModelError::Json { path, message },
            C::Config(message) => ModelError::Config(message),
        }
    }
}
