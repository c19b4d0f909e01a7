//! Checks on a downloaded model folder that need no weights loaded (DESIGN §4: parameter counts
//! come from safetensors headers, before any weight is read): `config.json`'s architecture,
//! the parameter count from every safetensors header (each header is validated against its
//! file size, so a header that claims huge tensors is refused without allocating anything),
//! and the tokenizer's identity. Norm checks need the weights and run in the worker.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use arena_core::competition::Constraints;
use sha2::{Digest, Sha256};

use crate::verdict::Rejection;

/// Largest `config.json` read (a real one is a few KB).
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Largest safetensors header read (the format's own limit is 100 MB; real ones are KBs).
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// What the header-level checks found in a folder that passed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prechecked {
    /// `architectures[0]` of `config.json`.
    pub architecture: String,
    /// Parameters summed over every safetensors file.
    pub params: u64,
    /// sha256 (hex) of `tokenizer.json`, if the model ships one.
    pub tokenizer_sha256: Option<String>,
}

fn bad(reason: String) -> Rejection {
    Rejection::BadFiles { reason }
}

/// Runs every check that reads only metadata. The first failure is returned.
pub fn precheck(dir: &Path, constraints: &Constraints) -> Result<Prechecked, Rejection> {
    let architecture = read_architecture(&dir.join("config.json"))?;
    constraints
        .check_architecture(&architecture)
        .map_err(|violation| Rejection::Constraint { violation })?;
    let mut params = 0u64;
    let mut shards = 0;
    let mut tables = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| bad(format!("{}: {e}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".bin") || name.ends_with(".pt") || name.ends_with(".pkl") {
            return Err(bad(format!(
                "{name}: pickled weights are not accepted, use safetensors"
            )));
        }
        if name.ends_with(".safetensors") {
            shards += 1;
            let table = read_table(&path)?;
            params = params
                .checked_add(table.params)
                .ok_or_else(|| bad(format!("{name}: parameter count overflows")))?;
            tables.push((path, table));
        }
    }
    if shards == 0 {
        return Err(bad("no .safetensors file in the revision".to_string()));
    }
    constraints
        .check_params(params)
        .map_err(|violation| Rejection::Constraint { violation })?;
    // Only after the cheap header checks: reading every weight is bounded by `max_bytes`.
    for (path, table) in &tables {
        check_finite(path, table)?;
    }
    let tokenizer = dir.join("tokenizer.json");
    let tokenizer_sha256 = if tokenizer.is_file() {
        Some(sha256_file(&tokenizer)?)
    } else {
        None
    };
    constraints
        .check_tokenizer(tokenizer_sha256.as_deref())
        .map_err(|violation| Rejection::Constraint { violation })?;
    Ok(Prechecked {
        architecture,
        params,
        tokenizer_sha256,
    })
}

fn read_architecture(path: &Path) -> Result<String, Rejection> {
    let file = File::open(path).map_err(|e| bad(format!("config.json: {e}")))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| bad(format!("config.json: {e}")))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(bad(format!("config.json is over {MAX_CONFIG_BYTES} bytes")));
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("config.json: {e}")))?;
    value
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(|a| a.as_str())
        .map(str::to_string)
        .ok_or_else(|| bad("config.json has no architectures[0] string".to_string()))
}

fn sha256_file(path: &Path) -> Result<String, Rejection> {
    let mut file = File::open(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    Ok(hex::encode(hasher.finalize()))
}

fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "F8_E4M3" | "F8_E5M2" | "I8" | "U8" | "BOOL" => 1,
        _ => return None,
    })
}

/// Parameter count of one safetensors file from its header; every tensor's byte range must
/// match its dtype and shape and lie inside the file, and ranges must tile the data exactly.
pub fn safetensors_params(path: &Path) -> Result<u64, Rejection> {
    read_table(path).map(|t| t.params)
}

/// One tensor's bytes in a safetensors file, relative to the start of the data.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    dtype: String,
    begin: u64,
    end: u64,
}

/// The validated header of a safetensors file.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// Offset of the first data byte in the file.
    data_start: u64,
    /// Elements over all tensors.
    params: u64,
    /// Tensors sorted by offset; they tile the data exactly.
    spans: Vec<Span>,
}

fn read_table(path: &Path) -> Result<Table, Rejection> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let err = |m: String| bad(format!("{name}: {m}"));
    let mut file = File::open(path).map_err(|e| err(e.to_string()))?;
    let file_len = file.metadata().map_err(|e| err(e.to_string()))?.len();
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|_| err("shorter than 8 bytes".into()))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES || header_len > file_len - 8 {
        return Err(err(format!(
            "header length {header_len} exceeds the limit or the file"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|e| err(e.to_string()))?;
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| err(format!("header: {e}")))?;
    let data_len = file_len - 8 - header_len;
    let mut spans = Vec::new();
    let mut params = 0u64;
    for (tensor, info) in map.iter().filter(|(k, _)| k.as_str() != "__metadata__") {
        let terr = |m: &str| err(format!("tensor {tensor}: {m}"));
        let dtype = info
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| terr("no dtype"))?;
        let width = dtype_bytes(dtype).ok_or_else(|| terr("unknown dtype"))?;
        let shape = info
            .get("shape")
            .and_then(|s| s.as_array())
            .ok_or_else(|| terr("no shape"))?;
        let mut count = 1u64;
        for dim in shape {
            let dim = dim
                .as_u64()
                .ok_or_else(|| terr("shape is not unsigned integers"))?;
            count = count
                .checked_mul(dim)
                .ok_or_else(|| terr("shape overflows"))?;
        }
        let offsets = info
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .ok_or_else(|| terr("no data_offsets"))?;
        let (begin, end) = match offsets.as_slice() {
            [b, e] => (b.as_u64(), e.as_u64()),
            _ => (None, None),
        };
        let (Some(begin), Some(end)) = (begin, end) else {
            return Err(terr("data_offsets must be two unsigned integers"));
        };
        let bytes = count
            .checked_mul(width)
            .ok_or_else(|| terr("byte size overflows"))?;
        if end < begin || end - begin != bytes || end > data_len {
            return Err(terr(&format!(
                "claims {bytes} bytes at {begin}..{end}, the file holds {data_len} bytes of data"
            )));
        }
        spans.push(Span {
            name: tensor.clone(),
            dtype: dtype.to_string(),
            begin,
            end,
        });
        params = params
            .checked_add(count)
            .ok_or_else(|| terr("parameter count overflows"))?;
    }
    spans.sort_by_key(|s| (s.begin, s.end));
    let mut cursor = 0;
    for &Span { begin, end, .. } in &spans {
        if begin != cursor {
            return Err(err(format!(
                "tensor data overlaps or leaves a gap at byte {cursor}"
            )));
        }
        cursor = end;
    }
    if cursor != data_len {
        return Err(err(format!(
            "{} trailing bytes after the last tensor",
            data_len - cursor
        )));
    }
    Ok(Table {
        data_start: 8 + header_len,
        params,
        spans,
    })
}

/// Whether a little-endian element of a floating dtype is NaN or infinite (`None`: not a float).
fn non_finite(dtype: &str, b: &[u8]) -> Option<bool> {
    Some(match dtype {
        "F64" => !f64::from_le_bytes(b.try_into().ok()?).is_finite(),
        "F32" => !f32::from_le_bytes(b.try_into().ok()?).is_finite(),
        // Exponent bits all ones: infinity or NaN.
        "F16" => u16::from_le_bytes(b.try_into().ok()?) & 0x7c00 == 0x7c00,
        "BF16" => u16::from_le_bytes(b.try_into().ok()?) & 0x7f80 == 0x7f80,
        "F8_E5M2" => b[0] & 0x7c == 0x7c,
        // E4M3 (fn) has no infinity; S.1111.111 is NaN.
        "F8_E4M3" => b[0] & 0x7f == 0x7f,
        _ => return None,
    })
}

/// Reads every floating-point weight once and refuses the file at the first NaN or infinity
/// (a model with one is either broken or built to poison comparisons).
fn check_finite(path: &Path, table: &Table) -> Result<(), Rejection> {
    use std::io::{BufReader, Seek, SeekFrom};
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let io = |e: std::io::Error| bad(format!("{file_name}: {e}"));
    let mut file = File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(table.data_start)).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut chunk = vec![0u8; 1 << 20];
    for span in &table.spans {
        let width = dtype_bytes(&span.dtype).unwrap_or(1) as usize;
        let mut left = span.end - span.begin;
        let float = non_finite(&span.dtype, &vec![0u8; width]).is_some();
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            reader.read_exact(&mut chunk[..n]).map_err(io)?;
            left -= n as u64;
            if float
                && chunk[..n]
                    .chunks_exact(width)
                    .any(|b| non_finite(&span.dtype, b) == Some(true))
            {
                return Err(Rejection::NonFinite {
                    file: file_name,
                    tensor: span.name.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
