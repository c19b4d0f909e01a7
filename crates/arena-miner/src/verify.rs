//! The model hash of an uploaded revision, established the way a validator will see it.
//!
//! Validators hash the files of the committed revision. After an upload we ask the
//! hub for that revision's file list with digests and match every hashed file against the
//! local folder: LFS files by SHA-256 and size, inline files by git blob SHA-1, both of which
//! the local hashing pass computed. The directory hash is then built over exactly the files
//! the hub lists. When the revision holds a file the folder lacks (left over from an earlier
//! revision), or when asked to, the revision is downloaded back and hashed from its bytes.

use std::collections::HashMap;
use std::path::Path;

use arena_hub::client::{DownloadOptions, HubClient};
use arena_hub::model_hash::{FileDigest, ModelHash};

use crate::error::MinerError;

/// The hash of a revision and how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionHash {
    /// `arena_core::hash::directory_hash` over the revision's hashed files.
    pub directory_hash: String,
    /// Number of hashed files.
    pub files: usize,
    /// Whether the revision was downloaded back (otherwise matched from the hub's report).
    pub downloaded: bool,
}

/// Computes the directory hash of `revision` of `repo_id`, checking it against `local`.
/// With `download_cache` set to `Some`, falls back to (or, with `force_download`, always
/// uses) a download into that cache.
pub async fn revision_hash(
    hub: &HubClient,
    repo_id: &str,
    revision: &str,
    local: &ModelHash,
    download_cache: &Path,
    force_download: bool,
) -> Result<RevisionHash, MinerError> {
    let mismatch = |reason: String| MinerError::RevisionMismatch {
        repo: repo_id.to_string(),
        revision: revision.to_string(),
        reason,
    };
    let info = hub.repo_info(repo_id, revision).await?;
    if info.sha.as_deref() != Some(revision) {
        return Err(mismatch(format!(
            "the hub resolved it to {:?}",
            info.sha.as_deref().unwrap_or("nothing")
        )));
    }
    let by_path: HashMap<&str, &FileDigest> =
        local.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let hashed: Vec<_> = info
        .siblings
        .iter()
        .filter(|s| arena_core::hash::is_hashed_file(&s.rfilename))
        .collect();
    for file in local
        .files
        .iter()
        .filter(|f| arena_core::hash::is_hashed_file(&f.path))
    {
        if !hashed.iter().any(|s| s.rfilename == file.path) {
            return Err(mismatch(format!(
                "{} is missing from the revision",
                file.path
            )));
        }
    }
    let mut matched = Vec::with_capacity(hashed.len());
    let mut unknown = None;
    for sibling in &hashed {
        let Some(digest) = by_path.get(sibling.rfilename.as_str()) else {
            unknown = Some(sibling.rfilename.clone());
            continue;
        };
        let same = match (&sibling.lfs, &sibling.blob_id) {
            (Some(lfs), _) => lfs.sha256 == digest.sha256_hex && lfs.size == digest.size,
            (None, Some(blob)) => *blob == digest.git_sha1,
            (None, None) => {
                unknown = Some(sibling.rfilename.clone());
                continue;
            }
        };
        if !same {
            return Err(mismatch(format!(
                "{} differs from the local file",
                sibling.rfilename
            )));
        }
        matched.push((*digest).clone());
    }
    if unknown.is_none() && !force_download {
        let hash = ModelHash::from_digests(matched);
        return Ok(RevisionHash {
            directory_hash: hash.directory_hash,
            files: hashed.len(),
            downloaded: false,
        });
    }
    if let Some(path) = &unknown {
        tracing::info!(%repo_id, %revision, %path, "revision holds a file the folder lacks; downloading it back to hash it");
    }
    let options = DownloadOptions {
        progress: false,
        ..DownloadOptions::default()
    };
    let snapshot = hub
        .download(repo_id, revision, download_cache, &options)
        .await?;
    for file in &local.files {
        if !arena_core::hash::is_hashed_file(&file.path) {
            continue;
        }
        let remote = snapshot
            .model_hash
            .files
            .iter()
            .find(|f| f.path == file.path);
        if remote.map(|f| &f.sha256_hex) != Some(&file.sha256_hex) {
            return Err(mismatch(format!(
                "downloaded {} differs from the local file",
                file.path
            )));
        }
    }
    let files = snapshot
        .model_hash
        .files
        .iter()
        .filter(|f| arena_core::hash::is_hashed_file(&f.path))
        .count();
    Ok(RevisionHash {
        directory_hash: snapshot.model_hash.directory_hash,
        files,
        downloaded: true,
    })
}
