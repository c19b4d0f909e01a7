//! Why a model is refused, as ONE serialisable enum with ONE set of stable codes, shared by
//! every surface that refuses a model: the checkpoint checks (`arena-checkpoint`: `arena model
//! check`, `arena miner check`), the competition's constraint checks
//! ([`crate::competition::Constraints`]), and the validator's verdicts (stored per hotkey).
//! The table of codes is in ARCHITECTURE.md (section `arena-checkpoint`).

use serde::{Deserialize, Serialize};

/// Why a model is refused: every reason of every surface (the checkpoint checks, the
/// competition's constraint checks, the validator's verdicts), serialised with a stable
/// snake_case `code` tag and the fields that explain it; `Display` gives a one-line message
/// for people. The codes are an API: validators store them, `--json` outputs print them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Rejection {
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
    /// A weight is NaN or infinite: the model is broken or built to poison comparisons.
    #[error("{file}: tensor {tensor} holds NaN or infinite values")]
    NonFiniteWeights {
        /// The safetensors file (name within the folder).
        file: String,
        /// The first tensor found with such a value.
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
    /// The on-chain bytes are not a valid `namespace:name:commit:secure_hash:competition` string.
    #[error("commitment is not a valid model pointer: {reason}")]
    Unparseable {
        /// The parser's message.
        reason: String,
    },
    /// The commitment names a competition the schedule does not run at its commit block.
    #[error("competition {competition_id} is not active at commit block {block}")]
    UnknownCompetition {
        /// Competition id from the commitment.
        competition_id: u32,
        /// The commit block.
        block: u64,
    },
    /// The hub has no such repository or revision (or it is private).
    #[error("model is not available on the hub: {reason}")]
    RepoUnavailable {
        /// The hub client's message.
        reason: String,
    },
    /// The download itself was refused: a file name escaping the snapshot, a digest mismatch.
    #[error("download refused: {reason}")]
    Download {
        /// The hub client's message.
        reason: String,
    },
    /// The files do not hash to the committed secure hash for this hotkey: someone else's
    /// commitment copied, or files changed after committing.
    #[error("secure hash mismatch: committed {committed}, files give {computed}")]
    HashMismatch {
        /// Secure hash in the commitment.
        committed: String,
        /// `secure_hash(directory_hash, committing hotkey)` of the downloaded files.
        computed: String,
    },
    /// Files a validator does not accept beside the model (pickled weights), or a folder
    /// without any safetensors file.
    #[error("bad model files: {reason}")]
    BadFiles {
        /// Which file and what is wrong with it.
        reason: String,
    },
}

impl Rejection {
    /// The stable short code (the serde tag), for logs and metrics.
    pub fn code(&self) -> &'static str {
        use Rejection::*;
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
            Unparseable { .. } => "unparseable",
            UnknownCompetition { .. } => "unknown_competition",
            RepoUnavailable { .. } => "repo_unavailable",
            Download { .. } => "download",
            HashMismatch { .. } => "hash_mismatch",
            BadFiles { .. } => "bad_files",
        }
    }

    /// An [`Rejection::Unreadable`] for `path`.
    pub fn unreadable(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Rejection::Unreadable {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// Why a safetensors header was refused. Serialised with a stable `code` for validator records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum StHeaderError {
    /// The file could not be read.
    #[error("cannot read: {message}")]
    Io {
        /// The I/O error, as text.
        message: String,
    },
    /// Shorter than the 8-byte length prefix.
    #[error("file of {file_len} bytes has no header")]
    TooShort {
        /// File size.
        file_len: u64,
    },
    /// The declared header length is above the reader's limit.
    #[error("header length {len} exceeds the limit {limit}")]
    HeaderTooLarge {
        /// Declared length.
        len: u64,
        /// Limit.
        limit: u64,
    },
    /// The declared header length runs past the end of the file.
    #[error("header length {len} runs past the end of the {file_len}-byte file")]
    HeaderPastEnd {
        /// Declared length.
        len: u64,
        /// File size.
        file_len: u64,
    },
    /// The header is not the expected JSON.
    #[error("header JSON: {message}")]
    Json {
        /// Parser message.
        message: String,
    },
    /// A dtype this engine does not know.
    #[error("tensor {tensor}: unknown dtype {dtype:?}")]
    UnknownDtype {
        /// Tensor name.
        tensor: String,
        /// The dtype string.
        dtype: String,
    },
    /// A shape whose rank or size is absurd.
    #[error("tensor {tensor}: {reason}")]
    BadShape {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// `data_offsets` do not span `shape × dtype` bytes.
    #[error("tensor {tensor}: offsets span {actual} bytes, shape and dtype need {expected}")]
    SizeMismatch {
        /// Tensor name.
        tensor: String,
        /// Bytes implied by shape and dtype.
        expected: u64,
        /// Bytes spanned by the offsets.
        actual: u64,
    },
    /// Tensors do not tile the data section exactly.
    #[error("data layout: {reason}")]
    Layout {
        /// What is wrong (gap, overlap, past the end).
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_matches_the_serde_tag() {
        let samples = [
            Rejection::MissingConfig,
            Rejection::TooManyParams { params: 2, max: 1 },
            Rejection::InvalidSafetensors {
                file: "model.safetensors".into(),
                error: StHeaderError::HeaderTooLarge { len: 1, limit: 0 },
            },
            Rejection::NormAboveHard {
                tensor: "t".into(),
                norm: 2.0,
                limit: 1.0,
            },
            Rejection::HashMismatch {
                committed: "a".into(),
                computed: "b".into(),
            },
        ];
        for f in samples {
            let json = serde_json::to_value(&f).unwrap();
            assert_eq!(json["code"], f.code(), "{json}");
            let back: Rejection = serde_json::from_value(json).unwrap();
            assert_eq!(back, f);
        }
    }
}
