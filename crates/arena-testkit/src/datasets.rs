//! Copies of Subnet 37's reasoning datasets (SYNTHETIC-1-SFT, codeforces-cots) in their real
//! schemas, written as Parquet by pyarrow and uploaded to a hub with the official
//! `huggingface_hub` client (`python/reasoning_datasets.py`).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::fixtures::python;
use crate::net::hub_token;

/// The hub users that own the copies (the datasets' real namespaces).
pub const DATASET_OWNERS: [&str; 2] = ["PrimeIntellect", "open-r1"];

/// Writes the two datasets under `dir` and uploads them to the hub at `hub_url`, whose users
/// must include [`DATASET_OWNERS`] (tokens: [`hub_token`]). Returns the script's summary:
/// `kept` (rows a loader keeps per dataset or config) and the row counts.
pub fn upload_reasoning_datasets(hub_url: &str, dir: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/reasoning_datasets.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(dir)
        .args(["--endpoint", hub_url])
        .args(["--token-synthetic", &hub_token(DATASET_OWNERS[0])])
        .args(["--token-codeforces", &hub_token(DATASET_OWNERS[1])])
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "reasoning_datasets.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).expect("the summary is JSON")
}
