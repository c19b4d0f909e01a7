//! A bounded reader of safetensors headers, used to check a model before any weight is read.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON header describing each
//! tensor (`dtype`, `shape`, `data_offsets` into the data that follows) and the data. Only the
//! header is read: its length is capped and checked against the file size before allocating,
//! every size product is overflow-checked, and the tensors must tile the data exactly (no gaps,
//! overlaps or trailing bytes), as the `safetensors` crate itself requires.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest header accepted (the `safetensors` crate's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Largest tensor rank accepted.
const MAX_RANK: usize = 8;

pub use arena_core::rejection::StHeaderError;

/// Element types of safetensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum StDtype {
    /// Boolean byte.
    BOOL,
    /// Unsigned byte.
    U8,
    /// Signed byte.
    I8,
    /// 8-bit float, 5-bit exponent.
    F8_E5M2,
    /// 8-bit float, 4-bit exponent.
    F8_E4M3,
    /// 16-bit signed.
    I16,
    /// 16-bit unsigned.
    U16,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// 32-bit signed.
    I32,
    /// 32-bit unsigned.
    U32,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 64-bit signed.
    I64,
    /// 64-bit unsigned.
    U64,
}

impl StDtype {
    fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        use StDtype::*;
        match self {
            BOOL | U8 | I8 | F8_E5M2 | F8_E4M3 => 1,
            I16 | U16 | F16 | BF16 => 2,
            I32 | U32 | F32 => 4,
            F64 | I64 | U64 => 8,
        }
    }

    /// Whether this is a floating type the engine can evaluate (f32, f16, bf16).
    pub fn is_model_float(self) -> bool {
        matches!(self, StDtype::F32 | StDtype::F16 | StDtype::BF16)
    }
}

/// One tensor of a safetensors file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StTensor {
    /// Name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    pub name: String,
    /// Element type.
    pub dtype: StDtype,
    /// Shape, outermost first.
    pub shape: Vec<u64>,
    /// Number of elements (overflow-checked product of `shape`).
    pub n_elements: u64,
    /// Absolute byte offset of the data in the file.
    pub offset: u64,
    /// Data length in bytes.
    pub n_bytes: u64,
}

/// A parsed and validated safetensors header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StHeader {
    /// Tensors in data order.
    pub tensors: Vec<StTensor>,
    /// The free-form `__metadata__` map.
    pub metadata: BTreeMap<String, String>,
    /// Size of the file the header describes.
    pub file_len: u64,
}

impl StHeader {
    /// Total parameters (saturating, so an absurd header cannot wrap around a limit).
    pub fn parameter_count(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements))
    }
}

#[derive(Deserialize)]
struct RawTensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Reads and validates the header of the safetensors file at `path`, reading only the header.
pub fn read_header(path: &Path) -> Result<StHeader, StHeaderError> {
    let io = |e: std::io::Error| StHeaderError::Io {
        message: e.to_string(),
    };
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut prefix = [0u8; 8];
    if file_len < 8 {
        return Err(StHeaderError::TooShort { file_len });
    }
    file.read_exact(&mut prefix).map_err(io)?;
    let len = check_header_len(u64::from_le_bytes(prefix), file_len)?;
    let mut json = vec![0u8; len as usize];
    file.read_exact(&mut json).map_err(io)?;
    parse_json(&json, file_len)
}

/// Validates a header from the first bytes of a file of `file_len` bytes; the entry point for
/// fuzzing (`prefix` must hold at least the length prefix and the JSON).
pub fn parse_prefix(prefix: &[u8], file_len: u64) -> Result<StHeader, StHeaderError> {
    let Some(len_bytes) = prefix.get(..8) else {
        return Err(StHeaderError::TooShort { file_len });
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(len_bytes);
    let len = check_header_len(u64::from_le_bytes(len), file_len)?;
    let json = prefix
        .get(8..8 + len as usize)
        .ok_or(StHeaderError::HeaderPastEnd { len, file_len })?;
    parse_json(json, file_len)
}

fn check_header_len(len: u64, file_len: u64) -> Result<u64, StHeaderError> {
    if len > MAX_HEADER_BYTES {
        return Err(StHeaderError::HeaderTooLarge {
            len,
            limit: MAX_HEADER_BYTES,
        });
    }
    if len.saturating_add(8) > file_len {
        return Err(StHeaderError::HeaderPastEnd { len, file_len });
    }
    Ok(len)
}

fn parse_json(json: &[u8], file_len: u64) -> Result<StHeader, StHeaderError> {
    let data_start = 8 + json.len() as u64;
    let raw: BTreeMap<String, Value> =
        serde_json::from_slice(json).map_err(|e| StHeaderError::Json {
            message: e.to_string(),
        })?;
    let mut header = StHeader {
        file_len,
        ..StHeader::default()
    };
    for (name, value) in raw {
        if name == "__metadata__" {
            header.metadata = serde_json::from_value(value).map_err(|e| StHeaderError::Json {
                message: format!("__metadata__: {e}"),
            })?;
            continue;
        }
        let t: RawTensor = serde_json::from_value(value).map_err(|e| StHeaderError::Json {
            message: format!("tensor {name}: {e}"),
        })?;
        let dtype = StDtype::parse(&t.dtype).ok_or_else(|| StHeaderError::UnknownDtype {
            tensor: name.clone(),
            dtype: t.dtype.clone(),
        })?;
        if t.shape.len() > MAX_RANK {
            return Err(StHeaderError::BadShape {
                tensor: name,
                reason: format!("rank {} > {MAX_RANK}", t.shape.len()),
            });
        }
        let n_elements = t.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let expected = n_elements.and_then(|n| n.checked_mul(dtype.size()));
        let (Some(n_elements), Some(expected)) = (n_elements, expected) else {
            return Err(StHeaderError::BadShape {
                tensor: name,
                reason: format!("shape {:?} overflows", t.shape),
            });
        };
        let [begin, end] = t.data_offsets;
        let actual = end
            .checked_sub(begin)
            .ok_or_else(|| StHeaderError::Layout {
                reason: format!("tensor {name} ends ({end}) before it begins ({begin})"),
            })?;
        if actual != expected {
            return Err(StHeaderError::SizeMismatch {
                tensor: name,
                expected,
                actual,
            });
        }
        header.tensors.push(StTensor {
            name,
            dtype,
            shape: t.shape,
            n_elements,
            offset: data_start.saturating_add(begin),
            n_bytes: actual,
        });
    }
    header.tensors.sort_by_key(|t| (t.offset, t.n_bytes));
    let mut cursor = data_start;
    for t in &header.tensors {
        if t.offset != cursor {
            let kind = if t.offset > cursor {
                "a gap"
            } else {
                "an overlap"
            };
            return Err(StHeaderError::Layout {
                reason: format!("{kind} before tensor {} at {}", t.name, t.offset),
            });
        }
        cursor = cursor.saturating_add(t.n_bytes);
        if cursor > file_len {
            return Err(StHeaderError::Layout {
                reason: format!("tensor {} runs past the end of the file", t.name),
            });
        }
    }
    if cursor != file_len {
        return Err(StHeaderError::Layout {
            reason: format!("{} trailing bytes after the last tensor", file_len - cursor),
        });
    }
    Ok(header)
}
