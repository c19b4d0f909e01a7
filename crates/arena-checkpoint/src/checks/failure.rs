//! The reasons a model is refused, as one serialisable enum with stable codes.

use serde::Serialize;

use crate::st_header::StHeaderError;

/// Why a model folder fails the competition's constraints. A validator records the `code`
/// (stable, snake_case) and the fields; `Display` gives a one-line message for people.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CheckFailure {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {message}")]
    Unreadable {
        /// The path at fault.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// No config.json in the folder.
    #[error("config.json is missing")]
    MissingConfig,
    /// config.json is malformed, too large or out of range.
    #[error("config.json: {message}")]
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
    /// `architectures[0]` is not in the competition's list.
    #[error("architecture {architecture:?} is not allowed (allowed: {allowed:?})")]
    ArchitectureNotAllowed {
        /// The model's architecture.
        architecture: String,
        /// The competition's list.
        allowed: Vec<String>,
    },
    /// `architectures[0]` is not one this engine can evaluate.
    #[error("architecture {architecture:?} is not supported by the evaluator")]
    UnsupportedArchitecture {
        /// The model's architecture.
        architecture: String,
    },
    /// `max_position_embeddings` is below the competition's sequence length.
    #[error(
        "max_position_embeddings {max_position_embeddings} < required sequence length {required}"
    )]
    SequenceTooShort {
        /// From config.json.
        max_position_embeddings: u64,
        /// The competition's sequence length.
        required: u64,
    },
    /// The folder's files are larger than allowed.
    #[error("model files take {bytes} bytes, more than {max}")]
    TooManyBytes {
        /// Total size of the folder.
        bytes: u64,
        /// Limit.
        max: u64,
    },
    /// Neither model.safetensors nor model.safetensors.index.json.
    #[error("no model.safetensors or model.safetensors.index.json")]
    MissingWeights,
    /// model.safetensors.index.json is malformed or disagrees with the shards.
    #[error("model.safetensors.index.json: {message}")]
    InvalidIndex {
        /// What is wrong.
        message: String,
    },
    /// A safetensors header was refused.
    #[error("{file}: {error}")]
    InvalidSafetensors {
        /// File name within the folder.
        file: String,
        /// The header error.
        error: StHeaderError,
    },
    /// The same tensor name appears in two shards.
    #[error("tensor {name} appears in more than one file")]
    DuplicateTensor {
        /// Tensor name.
        name: String,
    },
    /// More parameters than allowed.
    #[error("{params} parameters, more than {max}")]
    TooManyParams {
        /// From the safetensors headers.
        params: u64,
        /// Limit.
        max: u64,
    },
    /// Fewer parameters than required.
    #[error("{params} parameters, fewer than {min}")]
    TooFewParams {
        /// From the safetensors headers.
        params: u64,
        /// Limit.
        min: u64,
    },
    /// A tensor stored in a type the evaluator does not load (int, fp8…).
    #[error("tensor {tensor} is stored as {dtype:?}, not f32/f16/bf16")]
    UnsupportedDtype {
        /// Tensor name.
        tensor: String,
        /// Its dtype.
        dtype: String,
    },
    /// A tensor stored in a precision other than the competition's (or f32).
    #[error("tensor {tensor} is stored as {found}, the competition evaluates {expected}")]
    DtypeMismatch {
        /// Tensor name.
        tensor: String,
        /// The competition's dtype.
        expected: String,
        /// The stored dtype.
        found: String,
    },
    /// A tensor the architecture needs is absent.
    #[error("tensor {name} is missing")]
    MissingTensor {
        /// Expected name.
        name: String,
    },
    /// A tensor the architecture does not use (could smuggle data or parameters).
    #[error("tensor {name} is not part of the architecture")]
    UnexpectedTensor {
        /// Its name.
        name: String,
    },
    /// A tensor whose shape disagrees with config.json.
    #[error("tensor {name} has shape {actual:?}, config.json implies {expected:?}")]
    ShapeMismatch {
        /// Tensor name.
        name: String,
        /// Shape implied by the config.
        expected: Vec<u64>,
        /// Shape in the file.
        actual: Vec<u64>,
    },
    /// No tokenizer.json in the folder.
    #[error("tokenizer.json is missing")]
    MissingTokenizer,
    /// tokenizer.json is not the competition's pinned tokenizer.
    #[error("tokenizer.json has sha256 {found}, the competition pins {expected}")]
    TokenizerMismatch {
        /// Pinned sha256.
        expected: String,
        /// The model's.
        found: String,
    },
    /// A weight is NaN or infinite.
    #[error("tensor {tensor} holds NaN or infinite values")]
    NonFiniteWeights {
        /// Tensor name.
        tensor: String,
    },
    /// A projection's Frobenius norm is above the hard limit.
    #[error("tensor {tensor} has norm {norm:.1}, above the hard limit {limit}")]
    NormAboveHard {
        /// Tensor name.
        tensor: String,
        /// Its Frobenius norm.
        norm: f64,
        /// Hard limit.
        limit: f64,
    },
    /// Too many layers have projection norms above the soft limit.
    #[error("mean fraction of layers with norms above {soft} is {fraction:.3}, more than {limit}")]
    TooManyLargeNorms {
        /// Mean over the six projections of the fraction of layers above `soft`.
        fraction: f64,
        /// Soft norm limit.
        soft: f64,
        /// Largest accepted fraction.
        limit: f64,
    },
}

impl CheckFailure {
    /// The stable short code (the serde tag), for logs and metrics.
    pub fn code(&self) -> &'static str {
        use CheckFailure::*;
        match self {
            Unreadable { .. } => "unreadable",
            MissingConfig => "missing_config",
            InvalidConfig { .. } => "invalid_config",
            ArchitectureNotAllowed { .. } => "architecture_not_allowed",
            UnsupportedArchitecture { .. } => "unsupported_architecture",
            SequenceTooShort { .. } => "sequence_too_short",
            TooManyBytes { .. } => "too_many_bytes",
            MissingWeights => "missing_weights",
            InvalidIndex { .. } => "invalid_index",
            InvalidSafetensors { .. } => "invalid_safetensors",
            DuplicateTensor { .. } => "duplicate_tensor",
            TooManyParams { .. } => "too_many_params",
            TooFewParams { .. } => "too_few_params",
            UnsupportedDtype { .. } => "unsupported_dtype",
            DtypeMismatch { .. } => "dtype_mismatch",
            MissingTensor { .. } => "missing_tensor",
            UnexpectedTensor { .. } => "unexpected_tensor",
            ShapeMismatch { .. } => "shape_mismatch",
            MissingTokenizer => "missing_tokenizer",
            TokenizerMismatch { .. } => "tokenizer_mismatch",
            NonFiniteWeights { .. } => "non_finite_weights",
            NormAboveHard { .. } => "norm_above_hard",
            TooManyLargeNorms { .. } => "too_many_large_norms",
        }
    }

    pub(crate) fn unreadable(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        CheckFailure::Unreadable {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_matches_the_serde_tag() {
        let samples = [
            CheckFailure::MissingConfig,
            CheckFailure::TooManyParams { params: 2, max: 1 },
            CheckFailure::InvalidSafetensors {
                file: "model.safetensors".into(),
                error: StHeaderError::HeaderTooLarge { len: 1, limit: 0 },
            },
            CheckFailure::NormAboveHard {
                tensor: "t".into(),
                norm: 2.0,
                limit: 1.0,
            },
        ];
        for f in samples {
            let json = serde_json::to_value(&f).unwrap();
            assert_eq!(json["code"], f.code(), "{json}");
        }
    }
}
