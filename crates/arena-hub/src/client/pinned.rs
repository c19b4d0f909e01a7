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

/// Files to fetch, by name, each with the sha256 (lowercase hex) it must have when pinned.
pub type Pins = BTreeMap<String, Option<String>>;

/// The first pinned file of `files` that `dir` lacks or holds with other content, with the
/// digest found.
fn first_mismatch(dir: &Path, files: &Pins) -> Option<(String, String)> {
    files.iter().find_map(|(name, want)| {
        let want = want.as_ref()?;
        let got = sha256_file(&dir.join(name)).unwrap_or_else(|e| format!("unreadable ({e})"));
        (!got.eq_ignore_ascii_case(want)).then(|| (name.clone(), got))
    })
}

/// A cached snapshot of `repo_id` holding every file of `files` with its pinned content;
/// `None` when a file has no pin (only the hub can say what its current content is).
pub fn find_cached_pinned(cache: &Path, repo_id: &str, files: &Pins) -> Option<PathBuf> {
    if files.values().any(Option::is_none) {
        return None;
    }
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
    /// The folder holding `files` of `repo_id` at `revision` (the default branch when
    /// `None`): from the cache when every file is pinned and a snapshot there still matches
    /// every pin, else downloaded (only those files) and checked. A file whose content
    /// differs from its pin is an error ([`HubError::DigestMismatch`]), never used.
    pub async fn fetch_pinned(
        &self,
        repo_id: &str,
        revision: Option<&str>,
        files: &Pins,
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
                expected: files[&name].clone().unwrap_or_default(),
                actual,
            });
        }
        Ok(snapshot.path)
    }

    /// The folder of a competition's tokenizer when the competition names one on the hub
    /// (`TokenizerSpec::Hub`): its `tokenizer.json`, `tokenizer_config.json` (the chat
    /// template) and every pinned file, fetched into `cache` and checked against the pins.
    /// `None` for other competitions: they score with the model's own files.
    pub async fn fetch_tokenizer(
        &self,
        spec: &arena_core::competition::TokenizerSpec,
        cache: &Path,
    ) -> Result<Option<PathBuf>> {
        let Some(hub) = spec.hub_files() else {
            return Ok(None);
        };
        self.fetch_pinned(hub.repo, hub.revision, &hub.files, cache)
            .await
            .map(Some)
    }
}
