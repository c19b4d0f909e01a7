//! Constraint checks on a model folder before any weight is loaded, and the weight
//! validation after.
//!
//! [`inspect`] reads config.json and the safetensors headers only (bounded, see
//! [`crate::st_header`]); [`check`] compares them with a competition's [`Limits`] and returns
//! every failure as a typed `arena_core::rejection::Rejection`; [`validate_weights`] streams the
//! weights to refuse NaN/infinite values and blown-up projection norms; [`precheck`] is the
//! validators' header-level policy (first failure only, every `.safetensors` file counted,
//! pickles refused, every float weight scanned).
//!
//! ```no_run
//! use arena_checkpoint::checks::{check, Limits};
//! let limits = Limits { max_params: Some(200_000_000), ..Limits::default() };
//! let report = check(std::path::Path::new("hf_model"), &limits);
//! for failure in &report.failures {
//!     println!("{}: {failure}", failure.code());
//! }
//! ```

mod norms;
mod precheck;
mod shapes;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use arena_core::competition::{Constraints, Dtype};
use arena_core::rejection::Rejection;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use norms::{
    judge_norms, scan_finite, validate_folder, validate_weights, NormReport, PROJECTIONS,
};
pub use precheck::{precheck, Prechecked};
pub use shapes::{compare_tensors, expected_tensors, SUPPORTED_ARCHITECTURES};

use crate::config::ModelConfig;
use crate::st_header::{read_header, StHeader};

/// Largest config.json or index file read (real ones are a few KB; indexes a few hundred KB).
const MAX_JSON_BYTES: u64 = 16 << 20;
/// Most shards accepted in an index.
const MAX_SHARDS: usize = 4096;
/// Most directory entries walked when summing the folder's size.
const MAX_ENTRIES: usize = 100_000;

/// Limits a model folder is checked against; `None` means "not checked".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Limits {
    /// Smallest parameter count.
    pub min_params: Option<u64>,
    /// Largest parameter count.
    pub max_params: Option<u64>,
    /// Largest total size of the folder's files.
    pub max_bytes: Option<u64>,
    /// Accepted `architectures[0]` values (exact match).
    pub architectures: Option<Vec<String>>,
    /// Sequence length the model must support (`max_position_embeddings` at least this).
    pub sequence_length: Option<u64>,
    /// Precision the competition evaluates in; weights must be stored in it or in f32.
    pub dtype: Option<Dtype>,
    /// sha256 (lowercase hex) tokenizer.json must have.
    pub tokenizer_sha256: Option<String>,
}

impl From<&Constraints> for Limits {
    fn from(c: &Constraints) -> Self {
        Limits {
            min_params: (c.min_params > 0).then_some(c.min_params),
            max_params: Some(c.max_params),
            max_bytes: Some(c.max_bytes),
            architectures: Some(c.architectures.clone()),
            sequence_length: Some(c.sequence_length as u64),
            dtype: Some(c.dtype),
            tokenizer_sha256: c.tokenizer.pinned_sha256().map(str::to_ascii_lowercase),
        }
    }
}

/// One safetensors file of the model and its validated header.
#[derive(Debug, Clone)]
pub struct WeightFile {
    /// Path of the file.
    pub path: PathBuf,
    /// Its header.
    pub header: StHeader,
}

/// What [`inspect`] learns without reading weights.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    /// `architectures[0]`.
    pub architecture: String,
    /// Parameters in the safetensors files.
    pub parameters: u64,
    /// Number of tensors.
    pub tensors: usize,
    /// Stored dtypes (e.g. `["BF16"]`).
    pub dtypes: Vec<String>,
    /// Size of the safetensors files.
    pub weight_bytes: u64,
    /// Size of every file in the folder.
    pub total_bytes: u64,
    /// `max_position_embeddings`.
    pub max_position_embeddings: u64,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Whether the output head reuses the embeddings.
    pub tie_word_embeddings: bool,
    /// sha256 of tokenizer.json, if present.
    pub tokenizer_sha256: Option<String>,
    /// Safetensors file names.
    pub weight_files: Vec<String>,
}

/// The parsed, not-yet-judged state of a folder.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// config.json.
    pub config: ModelConfig,
    /// The safetensors files.
    pub weight_files: Vec<WeightFile>,
    /// Summary for display and JSON.
    pub summary: ModelSummary,
}

/// The outcome of [`check`]: passed when `failures` is empty.
#[derive(Debug, Clone, Serialize)]
pub struct FolderReport {
    /// Whether every check passed.
    pub passed: bool,
    /// What was read, when the folder could be read at all.
    pub summary: Option<ModelSummary>,
    /// Every failure found.
    pub failures: Vec<Rejection>,
}

fn read_small(path: &Path) -> Result<Option<String>, Rejection> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Rejection::unreadable(path, e)),
    };
    let mut text = String::new();
    file.take(MAX_JSON_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| Rejection::unreadable(path, e))?;
    if text.len() as u64 > MAX_JSON_BYTES {
        return Err(Rejection::unreadable(
            path,
            format!("larger than {MAX_JSON_BYTES} bytes"),
        ));
    }
    Ok(Some(text))
}

/// A safetensors file and, when an index names it, the tensors the index puts in it.
type Shard = (PathBuf, Option<BTreeSet<String>>);

/// The safetensors files of `dir`: the shards named by the index, or model.safetensors.
fn weight_paths(dir: &Path) -> Result<Vec<Shard>, Rejection> {
    let index_path = dir.join("model.safetensors.index.json");
    let Some(text) = read_small(&index_path)? else {
        let single = dir.join("model.safetensors");
        return if single.is_file() {
            Ok(vec![(single, None)])
        } else {
            Err(Rejection::MissingWeights)
        };
    };
    let bad = |message: String| Rejection::InvalidIndex { message };
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: BTreeMap<String, String>,
    }
    let index: Index = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let mut shards: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (tensor, file) in index.weight_map {
        let plain = Path::new(&file)
            .file_name()
            .is_some_and(|f| f == file.as_str());
        if !plain || !file.ends_with(".safetensors") {
            return Err(bad(format!(
                "shard name {file:?} is not a .safetensors file in the folder"
            )));
        }
        shards.entry(file).or_default().insert(tensor);
        if shards.len() > MAX_SHARDS {
            return Err(bad(format!("more than {MAX_SHARDS} shards")));
        }
    }
    Ok(shards
        .into_iter()
        .map(|(file, names)| (dir.join(file), Some(names)))
        .collect())
}

fn total_bytes(dir: &Path) -> Result<u64, Rejection> {
    let (mut total, mut seen, mut stack) = (0u64, 0usize, vec![dir.to_path_buf()]);
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| Rejection::unreadable(&d, e))? {
            let entry = entry.map_err(|e| Rejection::unreadable(&d, e))?;
            seen += 1;
            if seen > MAX_ENTRIES {
                return Err(Rejection::unreadable(
                    dir,
                    format!("more than {MAX_ENTRIES} entries"),
                ));
            }
            let meta = std::fs::metadata(entry.path())
                .map_err(|e| Rejection::unreadable(&entry.path(), e))?;
            let is_link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(true);
            if meta.is_dir() && !is_link {
                stack.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

/// sha256 of a file, streamed, as lowercase hex; `None` if absent.
pub fn file_sha256(path: &Path) -> Result<Option<String>, Rejection> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Rejection::unreadable(path, e)),
    };
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Rejection::unreadable(path, e))?;
    Ok(Some(hex::encode(hasher.finalize())))
}

/// Reads config.json and the safetensors headers of `dir` (never the weights).
pub fn inspect(dir: &Path) -> Result<Inspection, Rejection> {
    let config_path = dir.join("config.json");
    let text = read_small(&config_path)?.ok_or(Rejection::MissingConfig)?;
    let config = ModelConfig::from_json_str(&text).map_err(|e| Rejection::InvalidConfig {
        message: e.to_string(),
    })?;
    let mut weight_files = Vec::new();
    let mut names = HashSet::new();
    for (path, listed) in weight_paths(dir)? {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let header = read_header(&path).map_err(|error| Rejection::InvalidSafetensors {
            file: file.clone(),
            error,
        })?;
        for t in &header.tensors {
            if !names.insert(t.name.clone()) {
                return Err(Rejection::DuplicateTensor {
                    name: t.name.clone(),
                });
            }
        }
        if let Some(listed) = listed {
            let actual: BTreeSet<String> = header.tensors.iter().map(|t| t.name.clone()).collect();
            if actual != listed {
                return Err(Rejection::InvalidIndex {
                    message: format!("the index and the header of {file} list different tensors"),
                });
            }
        }
        weight_files.push(WeightFile { path, header });
    }
    let tensors = weight_files.iter().flat_map(|w| &w.header.tensors);
    let dtypes: BTreeSet<String> = tensors.clone().map(|t| format!("{:?}", t.dtype)).collect();
    let summary = ModelSummary {
        architecture: config.architecture.clone(),
        parameters: tensors
            .clone()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements)),
        tensors: tensors.count(),
        dtypes: dtypes.into_iter().collect(),
        weight_bytes: weight_files.iter().map(|w| w.header.file_len).sum(),
        total_bytes: total_bytes(dir)?,
        max_position_embeddings: config.max_position_embeddings as u64,
        num_hidden_layers: config.num_hidden_layers,
        vocab_size: config.vocab_size,
        tie_word_embeddings: config.tie_word_embeddings,
        tokenizer_sha256: file_sha256(&dir.join("tokenizer.json"))?,
        weight_files: weight_files
            .iter()
            .map(|w| {
                w.path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect(),
    };
    Ok(Inspection {
        config,
        weight_files,
        summary,
    })
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::Bf16 => "BF16",
        Dtype::F16 => "F16",
        Dtype::F32 => "F32",
    }
}

/// Checks `dir` against `limits` without reading any weight; every failure is reported.
pub fn check(dir: &Path, limits: &Limits) -> FolderReport {
    let inspection = match inspect(dir) {
        Ok(i) => i,
        Err(f) => {
            return FolderReport {
                passed: false,
                summary: None,
                failures: vec![f],
            }
        }
    };
    let failures = judge(&inspection, limits);
    FolderReport {
        passed: failures.is_empty(),
        summary: Some(inspection.summary),
        failures,
    }
}

/// The limit, shape and tokenizer checks on an inspected folder.
pub fn judge(inspection: &Inspection, limits: &Limits) -> Vec<Rejection> {
    let (cfg, s) = (&inspection.config, &inspection.summary);
    let mut failures = Vec::new();
    if let Some(max) = limits.max_bytes.filter(|&m| s.total_bytes > m) {
        failures.push(Rejection::TooManyBytes {
            bytes: s.total_bytes,
            max,
        });
    }
    if let Some(allowed) = &limits.architectures {
        if !allowed.contains(&cfg.architecture) {
            failures.push(Rejection::ArchitectureNotAllowed {
                architecture: cfg.architecture.clone(),
                allowed: allowed.clone(),
            });
        }
    }
    if let Some(required) = limits
        .sequence_length
        .filter(|&r| s.max_position_embeddings < r)
    {
        failures.push(Rejection::SequenceTooShort {
            max_position_embeddings: s.max_position_embeddings,
            required,
        });
    }
    if let Some(max) = limits.max_params.filter(|&m| s.parameters > m) {
        failures.push(Rejection::TooManyParams {
            params: s.parameters,
            max,
        });
    }
    if let Some(min) = limits.min_params.filter(|&m| s.parameters < m) {
        failures.push(Rejection::TooFewParams {
            params: s.parameters,
            min,
        });
    }
    let tensors = inspection
        .weight_files
        .iter()
        .flat_map(|w| &w.header.tensors);
    for t in tensors.clone() {
        let found = format!("{:?}", t.dtype);
        if !t.dtype.is_model_float() {
            failures.push(Rejection::UnsupportedDtype {
                tensor: t.name.clone(),
                dtype: found,
            });
        } else if let Some(want) = limits
            .dtype
            .map(dtype_name)
            .filter(|&w| w != found && found != "F32")
        {
            failures.push(Rejection::DtypeMismatch {
                tensor: t.name.clone(),
                expected: want.into(),
                found,
            });
        }
    }
    failures.extend(compare_tensors(
        cfg,
        tensors.map(|t| (t.name.as_str(), t.shape.as_slice())),
    ));
    match (&s.tokenizer_sha256, &limits.tokenizer_sha256) {
        (None, _) => failures.push(Rejection::MissingTokenizer),
        (Some(found), Some(expected)) if !found.eq_ignore_ascii_case(expected) => {
            failures.push(Rejection::TokenizerMismatch {
                expected: expected.clone(),
                found: found.clone(),
            })
        }
        _ => {}
    }
    failures
}
