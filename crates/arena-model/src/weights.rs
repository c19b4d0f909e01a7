//! Safetensors weights of a model folder, single file or sharded, read tensor by tensor.
//!
//! Tensors are looked up by their Hugging Face name and their shape is checked against what
//! the architecture expects before any data is read. Matrices are kept in the dtype chosen by
//! [`WeightDtype`] (by default the one stored in the file, so a bf16 checkpoint costs its file
//! size in memory, not twice that); the model upcasts a matrix to f32 only for the product it
//! takes part in, and an exact upcast gives the numbers of an f32 copy. Vectors (norms,
//! biases) are always f32.
//!
//! The files are read with positioned reads, not memory-mapped: a mapping would keep every
//! page it touched resident beside the copy, doubling the peak at load. The largest transient
//! is one tensor's bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use arena_checkpoint::st_header::{read_header, StDtype, StTensor};
use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

use crate::error::{ModelError, Result};

/// Name of the single-file weights of a model folder.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Name of the index of sharded weights.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// The dtype the model's matrices are kept in while it is loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WeightDtype {
    /// As stored in the checkpoint (f32, f16 or bf16). Numbers equal an f32 upcast.
    #[default]
    Stored,
    /// Upcast to f32 at load (twice the memory of a bf16 checkpoint; no per-product cast).
    F32,
    /// Every tensor rounded to bfloat16 at load, as if the checkpoint had been saved in it
    /// (vectors are then held in f32): changes the numbers of an f32 checkpoint.
    Bf16,
    /// Every tensor rounded to IEEE half at load, as `Bf16`.
    F16,
}

impl WeightDtype {
    /// Parses `stored`, `f32`, `bf16` or `f16` (as on the command line).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stored" | "auto" => Some(WeightDtype::Stored),
            "f32" | "float32" => Some(WeightDtype::F32),
            "bf16" | "bfloat16" => Some(WeightDtype::Bf16),
            "f16" | "float16" => Some(WeightDtype::F16),
            _ => None,
        }
    }

    /// The in-memory dtype of a matrix stored as `stored`.
    fn resolve(self, stored: DType) -> DType {
        match self {
            WeightDtype::Stored => stored,
            WeightDtype::F32 => DType::F32,
            WeightDtype::Bf16 => DType::BF16,
            WeightDtype::F16 => DType::F16,
        }
    }
}

/// The safetensors files of one model folder, with their parsed headers.
pub struct Weights {
    dir: PathBuf,
    files: Vec<File>,
    /// Tensor name → (index into `files`, header entry).
    tensors: BTreeMap<String, (usize, StTensor)>,
    device: Device,
    dtype: WeightDtype,
}

#[derive(Deserialize)]
struct Index {
    weight_map: BTreeMap<String, String>,
}

/// Lists the safetensors files of `dir`: the shards named by the index, or `model.safetensors`.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index_path = dir.join(INDEX_FILE);
    if index_path.is_file() {
        let text =
            std::fs::read_to_string(&index_path).map_err(|e| ModelError::io(&index_path, e))?;
        let index: Index =
            serde_json::from_str(&text).map_err(|e| ModelError::json(&index_path, e))?;
        let shards: BTreeSet<&String> = index.weight_map.values().collect();
        if shards.is_empty() {
            return Err(ModelError::json(&index_path, "weight_map is empty"));
        }
        return shards
            .into_iter()
            .map(|name| {
                // A shard name is a plain file name; anything else could escape the folder.
                let plain = Path::new(name)
                    .file_name()
                    .map(|f| f == name.as_str())
                    .unwrap_or(false);
                if !plain {
                    return Err(ModelError::json(
                        &index_path,
                        format!("shard name {name:?} is not a file name"),
                    ));
                }
                Ok(dir.join(name))
            })
            .collect();
    }
    let single = dir.join(SINGLE_FILE);
    if single.is_file() {
        Ok(vec![single])
    } else {
        Err(ModelError::weights(
            dir,
            format!("neither {SINGLE_FILE} nor {INDEX_FILE} found"),
        ))
    }
}

/// Total bytes of the safetensors files of `dir`.
pub fn weights_size(dir: &Path) -> Result<u64> {
    let mut total = 0u64;
    for path in weight_files(dir)? {
        let meta = std::fs::metadata(&path).map_err(|e| ModelError::io(&path, e))?;
        total = total.saturating_add(meta.len());
    }
    Ok(total)
}

fn candle_dtype(dtype: StDtype) -> Option<DType> {
    match dtype {
        StDtype::F32 => Some(DType::F32),
        StDtype::F16 => Some(DType::F16),
        StDtype::BF16 => Some(DType::BF16),
        _ => None,
    }
}

impl Weights {
    /// Opens the weights of the model folder `dir`, keeping matrices as stored; reads only
    /// the headers.
    pub fn open(dir: &Path, device: &Device) -> Result<Self> {
        Self::open_as(dir, device, WeightDtype::Stored)
    }

    /// Opens the weights of `dir`, keeping matrices in `dtype`; reads only the headers.
    pub fn open_as(dir: &Path, device: &Device, dtype: WeightDtype) -> Result<Self> {
        let paths = weight_files(dir)?;
        let mut files = Vec::with_capacity(paths.len());
        let mut tensors = BTreeMap::new();
        for path in &paths {
            let header = read_header(path)
                .map_err(|e| ModelError::weights(dir, format!("{}: {e}", path.display())))?;
            let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
            for t in header.tensors {
                let name = t.name.clone();
                if tensors.insert(name.clone(), (files.len(), t)).is_some() {
                    return Err(ModelError::weights(
                        dir,
                        format!("tensor {name} appears in more than one file"),
                    ));
                }
            }
            files.push(file);
        }
        Ok(Weights {
            dir: dir.to_path_buf(),
            files,
            tensors,
            device: device.clone(),
            dtype,
        })
    }

    /// Whether a tensor called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Reads `name` in its stored dtype after checking that its shape is `shape`.
    fn read(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let (file, t) = self
            .tensors
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
        let actual: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
        if actual != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                actual,
                expected: shape.to_vec(),
            });
        }
        let dtype = candle_dtype(t.dtype).ok_or_else(|| {
            ModelError::weights(
                &self.dir,
                format!("{name} has unsupported dtype {:?}", t.dtype),
            )
        })?;
        // The header parser checked that offset + n_bytes lies inside the file and equals
        // the element count times the element size.
        let len = usize::try_from(t.n_bytes)
            .map_err(|_| ModelError::weights(&self.dir, format!("{name} is too large")))?;
        let mut bytes = vec![0u8; len];
        self.files[*file]
            .read_exact_at(&mut bytes, t.offset)
            .map_err(|e| ModelError::weights(&self.dir, format!("{name}: {e}")))?;
        Ok(Tensor::from_raw_buffer(&bytes, dtype, shape, &self.device)?)
    }

    /// Loads `name` as f32 (vectors, and every tensor of a model trained in f32). With
    /// `Bf16`/`F16` the values are first rounded to that dtype, as if the checkpoint had been
    /// saved in it.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.read(name, shape)?;
        let t = match self.dtype {
            WeightDtype::Bf16 | WeightDtype::F16 => t.to_dtype(self.dtype.resolve(t.dtype()))?,
            WeightDtype::Stored | WeightDtype::F32 => t,
        };
        Ok(t.to_dtype(DType::F32)?)
    }

    /// Loads the matrix `name` in the dtype these weights were opened with.
    pub fn get_matrix(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.read(name, shape)?;
        let want = self.dtype.resolve(t.dtype());
        Ok(t.to_dtype(want)?)
    }

    /// Loads `name` if present (optional biases, untied heads).
    pub fn get_opt(&self, name: &str, shape: &[usize]) -> Result<Option<Tensor>> {
        if self.contains(name) {
            self.get(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The device tensors are loaded onto.
    pub fn device(&self) -> &Device {
        &self.device
    }
}
