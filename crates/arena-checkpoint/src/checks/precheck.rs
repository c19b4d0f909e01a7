//! The validators' checks on a downloaded model folder that need no weights loaded: parameter
//! counts come from safetensors headers before any weight is read. `config.json`'s
//! architecture, the parameter count over every `.safetensors` file in the folder (each header
//! validated against its file size by [`crate::st_header`], so a header that claims huge tensors
//! is refused without allocating), pickled weights refused, then every floating-point weight
//! scanned for NaN/infinity, then the tokenizer's identity. `arena miner check` runs it too, so
//! a miner sees the validators' verdict. The first failure is returned.

use std::path::Path;

use arena_core::competition::Constraints;
use arena_core::rejection::Rejection;

use super::{file_sha256, read_small, scan_finite, WeightFile};
use crate::st_header::read_header;

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

/// `architectures[0]` of config.json (the rest of the file is the engine's to judge).
fn architecture_of(text: &str) -> Result<String, Rejection> {
    let invalid = |message: String| Rejection::InvalidConfig { message };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    value
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(|a| a.as_str())
        .map(str::to_string)
        .ok_or_else(|| invalid("no architectures[0] string".to_string()))
}

/// Runs every check that reads only metadata, then the NaN/infinity scan of the weights.
pub fn precheck(dir: &Path, constraints: &Constraints) -> Result<Prechecked, Rejection> {
    let text = read_small(&dir.join("config.json"))?.ok_or(Rejection::MissingConfig)?;
    let architecture = architecture_of(&text)?;
    constraints.check_architecture(&architecture)?;
    let mut params = 0u64;
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Rejection::unreadable(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Rejection::unreadable(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".bin") || name.ends_with(".pt") || name.ends_with(".pkl") {
            return Err(bad(format!(
                "{name}: pickled weights are not accepted, use safetensors"
            )));
        }
        if name.ends_with(".safetensors") {
            let header = read_header(&path).map_err(|error| Rejection::InvalidSafetensors {
                file: name.clone(),
                error,
            })?;
            params = params
                .checked_add(header.parameter_count())
                .ok_or_else(|| bad(format!("{name}: parameter count overflows")))?;
            files.push(WeightFile { path, header });
        }
    }
    if files.is_empty() {
        return Err(bad("no .safetensors file in the revision".to_string()));
    }
    constraints.check_params(params)?;
    // Only after the cheap header checks: reading every weight is bounded by `max_bytes`.
    for file in &files {
        scan_finite(file)?;
    }
    let tokenizer_sha256 = file_sha256(&dir.join("tokenizer.json"))?;
    constraints.check_tokenizer(tokenizer_sha256.as_deref())?;
    Ok(Prechecked {
        architecture,
        params,
        tokenizer_sha256,
    })
}
