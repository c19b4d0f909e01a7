//! Memory-mapped safetensors weights of a model folder, single file or sharded.
//!
//! Tensors are looked up by their Hugging Face name, their shape is checked against what the
//! architecture expects before any data is copied, and f16/bf16 are upcast to f32 so every
//! evaluation runs the same f32 arithmetic as the reference implementation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

use crate::error::{ModelError, Result};

/// Name of the single-file weights of a model folder.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Name of the index of sharded weights.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// The safetensors files of one model folder, memory-mapped.
pub struct Weights {
    dir: PathBuf,
    files: MmapedSafetensors,
    device: Device,
}

#[derive(Deserialize)]
struct Index {
    weight_map: std::collections::BTreeMap<String, String>,
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

impl Weights {
    /// Maps the weights of the model folder `dir`; reads only the headers.
    pub fn open(dir: &Path, device: &Device) -> Result<Self> {
        let paths = weight_files(dir)?;
        // SAFETY: the files are mapped read-only; the engine assumes nobody rewrites a model
        // folder while it is being evaluated (the hub client writes to a temporary name first).
        let files =
            unsafe { MmapedSafetensors::multi(&paths) }.map_err(|e| ModelError::weights(dir, e))?;
        Ok(Weights {
            dir: dir.to_path_buf(),
            files,
            device: device.clone(),
        })
    }

    /// Whether a tensor called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.files.get(name).is_ok()
    }

    /// Loads `name` as f32, after checking that its shape is `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let view = self
            .files
            .get(name)
            .map_err(|_| ModelError::MissingTensor(name.to_string()))?;
        if view.shape() != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                actual: view.shape().to_vec(),
                expected: shape.to_vec(),
            });
        }
        let tensor = self
            .files
            .load(name, &self.device)
            .map_err(|e| ModelError::weights(&self.dir, format!("{name}: {e}")))?;
        match tensor.dtype() {
            DType::F32 => Ok(tensor),
            DType::F16 | DType::BF16 => Ok(tensor.to_dtype(DType::F32)?),
            other => Err(ModelError::weights(
                &self.dir,
                format!("{name} has unsupported dtype {other:?}"),
            )),
        }
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
