//! The reference side of `arena bench`: PyTorch + transformers in a venv made on demand, run
//! as a subprocess that prints its result as one JSON line. Shared by every bench command.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::Value;

/// What the venv gets: the versions every figure in the closing notes was measured with.
const TORCH_PACKAGES: &[&str] = &["torch==2.15.0", "transformers==5.23.0"];

/// The venv's python, creating the venv with torch + transformers when it is absent.
pub(crate) fn ensure_venv(venv: &Path) -> anyhow::Result<PathBuf> {
    let python = venv.join("bin/python");
    if !python.is_file() {
        eprintln!(
            "creating {} with {} (about 5.6 GB)…",
            venv.display(),
            TORCH_PACKAGES.join(" ")
        );
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(venv)
            .status()?
            .success()
            && Command::new(venv.join("bin/pip"))
                .arg("install")
                .arg("-q")
                .args(TORCH_PACKAGES)
                .status()?
                .success();
        if !ok {
            bail!("could not create the benchmark venv {}", venv.display());
        }
    }
    Ok(python)
}

/// The JSON object a benchmark subprocess prints as its last line, or its last stderr line as
/// the error when it failed.
pub(crate) fn last_json_line(out: &std::process::Output, what: &str) -> anyhow::Result<Value> {
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .last()
        .with_context(|| format!("{what} printed nothing"))?;
    Ok(serde_json::from_str(line)?)
}

/// Peak resident set of this process (`VmHWM` of `/proc/self/status`), in bytes; 0 where the
/// kernel does not report it.
pub(crate) fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
