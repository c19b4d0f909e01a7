//! The base model miners start from, put into `<home>/base/<name>/`.
//!
//! The tiny model is the repository's `fixtures/tiny-llama` compiled into the binary, so a
//! localnet works offline from any directory. SmolLM2 is imported from the GGUF that
//! `./scripts/test` downloads into `.cache/smollm2/`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::BaseModel;
use crate::error::{LocalnetError, Result};
use crate::home::{write_atomic, Layout};

macro_rules! fixture {
    ($file:literal) => {
        (
            $file,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/tiny-llama/",
                $file
            ))
            .as_slice(),
        )
    };
}

/// The files of `fixtures/tiny-llama` (without its test expectations).
const TINY_FILES: [(&str, &[u8]); 6] = [
    fixture!("config.json"),
    fixture!("generation_config.json"),
    fixture!("special_tokens_map.json"),
    fixture!("tokenizer.json"),
    fixture!("tokenizer_config.json"),
    fixture!("model.safetensors"),
];

/// File name of the SmolLM2 GGUF fetched by `./scripts/test`.
pub const SMOLLM2_GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// A base model folder and the facts the competition schedule is written from.
#[derive(Debug, Clone)]
pub struct Base {
    /// `tiny` or `smollm2`.
    pub name: &'static str,
    /// The Hugging Face folder.
    pub dir: PathBuf,
    /// `architectures[0]` of its config.
    pub architecture: String,
    /// sha256 of `tokenizer.json`: the competition pins it.
    pub tokenizer_sha256: String,
    /// Bytes of `model.safetensors`.
    pub weight_bytes: u64,
}

/// Makes the base model available under the home and describes it.
pub fn prepare(layout: &Layout, which: BaseModel) -> Result<Base> {
    let dir = layout.base_dir(which.name());
    match which {
        BaseModel::Tiny => {
            for (name, bytes) in TINY_FILES {
                let path = dir.join(name);
                let same = std::fs::read(&path).is_ok_and(|have| have == bytes);
                if !same {
                    write_atomic(&path, bytes)?;
                }
            }
        }
        BaseModel::SmolLm2 => {
            if !dir.join("model.safetensors").is_file() {
                let gguf = find_smollm2_gguf().ok_or_else(|| LocalnetError::BaseModel {
                    name: "smollm2".into(),
                    reason: format!(
                        "{SMOLLM2_GGUF} not found in .cache/smollm2/ (current directory or \
                         beside the arena binary) nor in $ARENA_SMOLLM2_GGUF; run \
                         ./scripts/test once to download it, or use --base-model tiny"
                    ),
                })?;
                // Imported into a staging folder and renamed into place: a killed import
                // leaves no half model behind.
                arena_fs::replace_dir::<_, std::io::Error>(&dir, |staging| {
                    arena_checkpoint::gguf::import_gguf(&gguf, staging)
                        .map(drop)
                        .map_err(|e| {
                            std::io::Error::other(format!("importing {}: {e}", gguf.display()))
                        })
                })
                .map_err(|e| LocalnetError::BaseModel {
                    name: "smollm2".into(),
                    reason: e.to_string(),
                })?;
            }
        }
    }
    describe(which.name(), &dir)
}

/// Where `./scripts/test` puts the SmolLM2 GGUF, looked up from the current directory and
/// from the directories above the running binary (`target/release/arena` → the checkout).
fn find_smollm2_gguf() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ARENA_SMOLLM2_GGUF").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    roots
        .into_iter()
        .map(|r| r.join(".cache").join("smollm2").join(SMOLLM2_GGUF))
        .find(|p| p.is_file())
}

fn describe(name: &'static str, dir: &Path) -> Result<Base> {
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read(&path).map_err(LocalnetError::io(path))
    };
    let config: serde_json::Value =
        serde_json::from_slice(&read("config.json")?).map_err(|e| LocalnetError::State {
            path: dir.join("config.json"),
            reason: e.to_string(),
        })?;
    let architecture = config["architectures"][0]
        .as_str()
        .ok_or_else(|| LocalnetError::State {
            path: dir.join("config.json"),
            reason: "no architectures[0]".into(),
        })?
        .to_string();
    let tokenizer_sha256 = hex::encode(Sha256::digest(read("tokenizer.json")?));
    let weights = dir.join("model.safetensors");
    let weight_bytes = std::fs::metadata(&weights)
        .map_err(LocalnetError::io(&weights))?
        .len();
    Ok(Base {
        name,
        dir: dir.to_path_buf(),
        architecture,
        tokenizer_sha256,
        weight_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_is_written_once_and_described() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let base = prepare(&layout, BaseModel::Tiny).unwrap();
        assert_eq!(base.architecture, "LlamaForCausalLM");
        // The pinned tokenizer of the fixtures (fixtures/README.md).
        assert!(
            base.tokenizer_sha256.starts_with("62d37104"),
            "{}",
            base.tokenizer_sha256
        );
        assert_eq!(base.weight_bytes, 896_360);
        let again = prepare(&layout, BaseModel::Tiny).unwrap();
        assert_eq!(again.dir, base.dir);
    }
}
