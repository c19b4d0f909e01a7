//! Files a competition pins by content (its tokenizer): fetched from a hub repository once,
//! verified against the pinned sha256 of each file, and reused from the cache while they
//! still match, so a validator or a miner scores with exactly the competition's files and
//! never with a model's own copies.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::download::repo_cache_dir;
use super::{DownloadOptions, HubClient};
use crate::{HubError, Result};

/// Largest pinned file read (tokenizers are a few MiB; the cap bounds a hostile hub).
pub const MAX_PINNED_FILE_BYTES: u64 = 64 << 20;

/// sha256 (lowercase hex) of a file, reading at most [`MAX_PINNED_FILE_BYTES`].
fn sha256_file(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut reader = file.take(MAX_PINNED_FILE_BYTES + 1);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    if total > MAX_PINNED_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{} is over {MAX_PINNED_FILE_BYTES} bytes",
            path.display()
        )));
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The first file of `files` (name → sha256) that `dir` lacks or holds with other content.
fn first_mismatch(dir: &Path, files: &BTreeMap<String, String>) -> Option<(String, String)> {
    files.iter().find_map(|(name, want)| {
        let got = sha256_file(&dir.join(name)).unwrap_or_else(|e| format!("unreadable ({e})"));
        (!got.eq_ignore_ascii_case(want)).then(|| (name.clone(), got))
    })
}

/// A cached snapshot of `repo_id` holding every file of `files` with its pinned content.
pub fn find_cached_pinned(
    cache: &Path,
    repo_id: &str,
    files: &BTreeMap<String, String>,
) -> Option<PathBuf> {
    let snapshots = repo_cache_dir(cache, repo_id).join("snapshots");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(snapshots)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .find(|dir| first_mismatch(dir, files).is_none())
}

impl HubClient {
    /// The folder holding the pinned `files` (name → sha256, lowercase hex) of `repo_id` at
    /// `revision` (the default branch when `None`): from the cache when a snapshot there still
    /// matches every pin, else downloaded (only those files) and checked. A file whose content
    /// differs from its pin is an error ([`HubError::DigestMismatch`]), never used.
    pub async fn fetch_pinned(
        &self,
        repo_id: &str,
        revision: Option<&str>,
        files: &BTreeMap<String, String>,
        cache: &Path,
    ) -> Result<PathBuf> {
        if let Some(dir) = find_cached_pinned(cache, repo_id, files) {
            return Ok(dir);
        }
        let names: Vec<String> = files.keys().cloned().collect();
        let options = DownloadOptions {
            max_bytes: Some(MAX_PINNED_FILE_BYTES * names.len().max(1) as u64),
            progress: false,
            ..DownloadOptions::default()
        };
        let snapshot = self
            .download_files(repo_id, revision.unwrap_or("main"), &names, cache, &options)
            .await?;
        if let Some((name, actual)) = first_mismatch(&snapshot.path, files) {
            return Err(HubError::DigestMismatch {
                path: format!("{repo_id}/{name} (pinned by the competition)"),
                expected: files[&name].clone(),
                actual,
            });
        }
        Ok(snapshot.path)
    }
}
