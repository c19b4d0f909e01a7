//! The GGUF header parser: magic, version, metadata key/values and tensor infos.
//!
//! Every count and length read from the file is checked against the bytes that are left before
//! anything is allocated, so a file of n bytes can never make the parser allocate much more
//! than n bytes, and every tensor's data range is checked against the file size.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use super::types::GgmlType;
use super::GgufError;

/// The first four bytes of every GGUF file.
const MAGIC: &[u8; 4] = b"GGUF";
/// Longest key or string value accepted (chat templates are tens of KB; this is generous).
const MAX_STRING: u64 = 16 << 20;
/// Most metadata entries accepted.
const MAX_KV: u64 = 1 << 16;
/// Most tensors accepted (a 405B Llama has about 1,100).
const MAX_TENSORS: u64 = 1 << 16;
/// Most elements in one metadata array (vocabularies are at most a few hundred thousand).
const MAX_ARRAY: u64 = 1 << 24;
/// GGML's limit on tensor rank.
const MAX_DIMS: u32 = 4;
/// Largest `general.alignment` accepted.
const MAX_ALIGNMENT: u64 = 1 << 16;
/// Alignment of the data section when the file does not say.
const DEFAULT_ALIGNMENT: u64 = 32;

/// One metadata value. Arrays are stored typed so a hostile array of a million bytes costs a
/// million bytes, not a million enum values.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Any unsigned integer type, widened.
    UInt(u64),
    /// Any signed integer type, widened.
    Int(i64),
    /// `FLOAT32`, kept as stored (`rms_norm_eps` must stay the f32 value).
    F32(f32),
    /// `FLOAT64`.
    F64(f64),
    /// `BOOL`.
    Bool(bool),
    /// `STRING`.
    String(String),
    /// An array of strings (vocabularies, merges).
    Strings(Vec<String>),
    /// An array of any integer type, widened (token types, token ids).
    Ints(Vec<i64>),
    /// An array of floats (token scores), widened.
    Floats(Vec<f64>),
    /// An array of booleans.
    Bools(Vec<bool>),
}

impl MetaValue {
    /// The value's type, for error messages (never the value: it may be a 50k-entry array).
    pub fn kind(&self) -> &'static str {
        match self {
            MetaValue::UInt(_) => "unsigned integer",
            MetaValue::Int(_) => "integer",
            MetaValue::F32(_) => "f32",
            MetaValue::F64(_) => "f64",
            MetaValue::Bool(_) => "bool",
            MetaValue::String(_) => "string",
            MetaValue::Strings(_) => "array of strings",
            MetaValue::Ints(_) => "array of integers",
            MetaValue::Floats(_) => "array of floats",
            MetaValue::Bools(_) => "array of bools",
        }
    }
}

/// Where one tensor's data lies and how it is encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Name in llama.cpp's scheme, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// GGML dimensions, innermost (row length) first: the reverse of the PyTorch shape.
    pub dims: Vec<u64>,
    /// Storage type.
    pub ggml_type: GgmlType,
    /// Absolute byte offset of the data in the file.
    pub offset: u64,
    /// Number of elements.
    pub n_elements: u64,
    /// Number of bytes of data.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// The PyTorch-order shape (outermost first), as safetensors stores it.
    pub fn torch_shape(&self) -> Vec<u64> {
        self.dims.iter().rev().copied().collect()
    }
}

/// A parsed GGUF header: everything but the tensor data, which stays in the file.
#[derive(Debug, Clone)]
pub struct GgufHeader {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata, by key.
    pub metadata: BTreeMap<String, MetaValue>,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Absolute offset of the (aligned) data section.
    pub data_start: u64,
}

/// A `Read` that knows how many bytes the file has left, so lengths can be checked first.
struct Bounded<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Bounded<R> {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: u64, what: &'static str) -> Result<Vec<u8>, GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Truncated { what, at: self.pos });
        }
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|_| GgufError::Truncated { what, at: self.pos })?;
        self.pos += n;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        if N as u64 > self.remaining() {
            return Err(GgufError::Truncated { what, at: self.pos });
        }
        let mut buf = [0u8; N];
        self.inner
            .read_exact(&mut buf)
            .map_err(|_| GgufError::Truncated { what, at: self.pos })?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        if len > MAX_STRING {
            return Err(GgufError::Limit {
                what,
                value: len,
                limit: MAX_STRING,
            });
        }
        let bytes = self.bytes(len, what)?;
        String::from_utf8(bytes).map_err(|_| GgufError::InvalidUtf8 { what })
    }

    /// Checks that `count` items of at least `min_size` bytes each can still be in the file.
    fn check_count(
        &self,
        count: u64,
        min_size: u64,
        limit: u64,
        what: &'static str,
    ) -> Result<(), GgufError> {
        if count > limit {
            return Err(GgufError::Limit {
                what,
                value: count,
                limit,
            });
        }
        if count.saturating_mul(min_size) > self.remaining() {
            return Err(GgufError::Truncated { what, at: self.pos });
        }
        Ok(())
    }
}

/// Value type ids of the GGUF spec.
mod vt {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// Size in the file of one scalar of `value_type`, or `None` for strings and arrays.
fn scalar_size(value_type: u32) -> Option<u64> {
    match value_type {
        vt::U8 | vt::I8 | vt::BOOL => Some(1),
        vt::U16 | vt::I16 => Some(2),
        vt::U32 | vt::I32 | vt::F32 => Some(4),
        vt::U64 | vt::I64 | vt::F64 => Some(8),
        _ => None,
    }
}

fn read_scalar<R: Read>(r: &mut Bounded<R>, value_type: u32) -> Result<MetaValue, GgufError> {
    const W: &str = "metadata value";
    Ok(match value_type {
        vt::U8 => MetaValue::UInt(r.array::<1>(W)?[0] as u64),
        vt::I8 => MetaValue::Int(r.array::<1>(W)?[0] as i8 as i64),
        vt::U16 => MetaValue::UInt(u16::from_le_bytes(r.array(W)?) as u64),
        vt::I16 => MetaValue::Int(i16::from_le_bytes(r.array(W)?) as i64),
        vt::U32 => MetaValue::UInt(r.u32(W)? as u64),
        vt::I32 => MetaValue::Int(i32::from_le_bytes(r.array(W)?) as i64),
        vt::F32 => MetaValue::F32(f32::from_le_bytes(r.array(W)?)),
        vt::BOOL => MetaValue::Bool(read_bool(r)?),
        vt::U64 => MetaValue::UInt(r.u64(W)?),
        vt::I64 => MetaValue::Int(i64::from_le_bytes(r.array(W)?)),
        vt::F64 => MetaValue::F64(f64::from_le_bytes(r.array(W)?)),
        vt::STRING => MetaValue::String(r.string(W)?),
        other => return Err(GgufError::UnknownValueType(other)),
    })
}

fn read_value<R: Read>(r: &mut Bounded<R>, value_type: u32) -> Result<MetaValue, GgufError> {
    if value_type != vt::ARRAY {
        return read_scalar(r, value_type);
    }
    let elem_type = r.u32("array type")?;
    let count = r.u64("array length")?;
    let min_size = match (elem_type, scalar_size(elem_type)) {
        (vt::STRING, _) => 8,
        (_, Some(size)) => size,
        (vt::ARRAY, None) => {
            return Err(GgufError::BadValue(
                "nested arrays are not supported".into(),
            ))
        }
        (other, None) => return Err(GgufError::UnknownValueType(other)),
    };
    r.check_count(count, min_size, MAX_ARRAY, "array length")?;
    let n = count as usize;
    Ok(match elem_type {
        vt::STRING => MetaValue::Strings(
            (0..n)
                .map(|_| r.string("array string"))
                .collect::<Result<_, _>>()?,
        ),
        vt::BOOL => MetaValue::Bools((0..n).map(|_| read_bool(r)).collect::<Result<_, _>>()?),
        vt::F32 => MetaValue::Floats(
            (0..n)
                .map(|_| Ok(f32::from_le_bytes(r.array("array float")?) as f64))
                .collect::<Result<_, GgufError>>()?,
        ),
        vt::F64 => MetaValue::Floats(
            (0..n)
                .map(|_| Ok(f64::from_le_bytes(r.array("array float")?)))
                .collect::<Result<_, GgufError>>()?,
        ),
        _ => MetaValue::Ints(
            (0..n)
                .map(|_| read_int(r, elem_type))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn read_bool<R: Read>(r: &mut Bounded<R>) -> Result<bool, GgufError> {
    match r.array::<1>("bool")?[0] {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(GgufError::BadValue(format!("bool byte {other}"))),
    }
}

/// Reads one integer of `value_type` (one of the eight integer types) as i64.
fn read_int<R: Read>(r: &mut Bounded<R>, value_type: u32) -> Result<i64, GgufError> {
    match read_scalar(r, value_type)? {
        MetaValue::Int(x) => Ok(x),
        MetaValue::UInt(x) => {
            i64::try_from(x).map_err(|_| GgufError::BadValue(format!("array integer {x}")))
        }
        other => Err(GgufError::BadValue(format!(
            "expected an integer, found {}",
            other.kind()
        ))),
    }
}

fn read_tensor_info<R: Read>(
    r: &mut Bounded<R>,
) -> Result<(String, Vec<u64>, u32, u64), GgufError> {
    let name = r.string("tensor name")?;
    let n_dims = r.u32("tensor rank")?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(GgufError::BadTensor {
            name,
            reason: format!("rank {n_dims} is not in 1..={MAX_DIMS}"),
        });
    }
    let dims = (0..n_dims)
        .map(|_| r.u64("tensor dims"))
        .collect::<Result<Vec<_>, _>>()?;
    let type_id = r.u32("tensor type")?;
    let offset = r.u64("tensor offset")?;
    Ok((name, dims, type_id, offset))
}

/// Parses a GGUF header from `reader`, which holds a file of `file_len` bytes.
///
/// The tensor data is not read; each tensor's range is checked to lie inside the file.
pub fn parse_header<R: Read>(reader: R, file_len: u64) -> Result<GgufHeader, GgufError> {
    let mut r = Bounded {
        inner: reader,
        pos: 0,
        len: file_len,
    };
    let magic = r.array::<4>("magic")?;
    if &magic != MAGIC {
        return Err(GgufError::BadMagic(magic));
    }
    let version = r.u32("version")?;
    if version != 2 && version != 3 {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let n_tensors = r.u64("tensor count")?;
    let n_kv = r.u64("metadata count")?;
    // A metadata entry takes at least 13 bytes (key length, type, one byte), a tensor info 24.
    r.check_count(n_kv, 13, MAX_KV, "metadata count")?;
    r.check_count(n_tensors, 24, MAX_TENSORS, "tensor count")?;

    let mut metadata = BTreeMap::new();
    for _ in 0..n_kv {
        let key = r.string("metadata key")?;
        let value_type = r.u32("metadata type")?;
        let value = read_value(&mut r, value_type)?;
        if metadata.insert(key.clone(), value).is_some() {
            return Err(GgufError::Duplicate(key));
        }
    }
    let raw_tensors = (0..n_tensors)
        .map(|_| read_tensor_info(&mut r))
        .collect::<Result<Vec<_>, _>>()?;

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(MetaValue::UInt(a)) if a.is_power_of_two() && *a <= MAX_ALIGNMENT => *a,
        Some(other) => {
            return Err(GgufError::BadValue(format!(
                "general.alignment is a {}, not a power of two up to {MAX_ALIGNMENT}",
                other.kind()
            )))
        }
    };
    let data_start = r.pos.div_ceil(alignment) * alignment;
    let mut names = HashSet::new();
    let mut tensors = Vec::with_capacity(raw_tensors.len());
    for (name, dims, type_id, rel_offset) in raw_tensors {
        let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| GgufError::BadTensor {
            name: name.clone(),
            reason: format!("unknown ggml type {type_id}"),
        })?;
        let bad = |reason: String| GgufError::BadTensor {
            name: name.clone(),
            reason,
        };
        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n > 0)
            .ok_or_else(|| bad(format!("dims {dims:?} are zero or overflow")))?;
        let n_bytes = ggml_type
            .row_bytes(dims[0])
            .and_then(|row| row.checked_mul(n_elements / dims[0]))
            .ok_or_else(|| {
                bad(format!(
                    "row length {} is not a multiple of the {ggml_type:?} block",
                    dims[0]
                ))
            })?;
        if rel_offset % alignment != 0 {
            return Err(bad(format!(
                "offset {rel_offset} is not aligned to {alignment}"
            )));
        }
        let offset = data_start
            .checked_add(rel_offset)
            .filter(|start| start.checked_add(n_bytes).is_some_and(|end| end <= file_len))
            .ok_or_else(|| bad(format!("data at {rel_offset}+{n_bytes} runs past the end of the file ({file_len} bytes)")))?;
        if !names.insert(name.clone()) {
            return Err(GgufError::Duplicate(name));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            n_elements,
            n_bytes,
        });
    }
    Ok(GgufHeader {
        version,
        metadata,
        tensors,
        data_start,
    })
}
