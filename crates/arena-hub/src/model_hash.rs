//! Model hash of a folder on disk: walks the files, hashes them in parallel with
//! bounded memory, and combines the digests with [`arena_core::hash`].

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::error::{HubError, Result};
use crate::gitobj::GitBlobHasher;
use crate::paths::validate_repo_path;

/// Read buffer for streamed hashing: large enough to amortise syscalls, small enough to run
/// many workers at once.
const CHUNK: usize = 1 << 20;

/// Digests of one file, computed in a single pass over its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex (the LFS oid).
    pub sha256_hex: String,
    /// Git blob SHA-1, lowercase hex (the regular-file oid); empty when not asked for.
    pub git_sha1: String,
}

impl FileDigest {
    /// SHA-256 in standard base64, the per-file digest of the model hash.
    pub fn sha256_b64(&self) -> String {
        // The hex was produced by us from 32 bytes, so decoding cannot fail.
        let raw = hex::decode(&self.sha256_hex).unwrap_or_default();
        arena_core::hash::digest_b64(&raw)
    }
}

/// The model hash of a folder, with the per-file digests it was made from.
#[derive(Debug, Clone)]
pub struct ModelHash {
    /// Every file found, sorted by path (including those the hash excludes).
    pub files: Vec<FileDigest>,
    /// `arena_core::hash::directory_hash` over the hashed files.
    pub directory_hash: String,
}

impl ModelHash {
    /// Combines already-computed digests (for example from a download) into a model hash.
    pub fn from_digests(mut files: Vec<FileDigest>) -> ModelHash {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let b64: Vec<(String, String)> = files
            .iter()
            .map(|f| (f.path.clone(), f.sha256_b64()))
            .collect();
        let directory_hash =
            arena_core::hash::directory_hash(b64.iter().map(|(p, d)| (p.as_str(), d.as_str())));
        ModelHash {
            files,
            directory_hash,
        }
    }

    /// The secure hash binding this model to a miner's hotkey.
    pub fn secure_hash(&self, hotkey_ss58: &str) -> String {
        arena_core::hash::secure_hash(&self.directory_hash, hotkey_ss58)
    }
}

/// Hashes one file in a streamed pass: SHA-256 and git blob SHA-1 together.
pub fn digest_file(path: &Path, relative: &str) -> Result<FileDigest> {
    digest_file_with(path, relative, true)
}

/// Hashes one file; the git blob SHA-1 only when `git_sha1` (LFS files and the model hash need
/// SHA-256 alone, and skipping SHA-1 saves a second hash over gigabytes).
pub fn digest_file_with(path: &Path, relative: &str, git_sha1: bool) -> Result<FileDigest> {
    let mut file = File::open(path).map_err(HubError::io("opening", path))?;
    let size = file
        .metadata()
        .map_err(HubError::io("reading metadata of", path))?
        .len();
    let mut sha256 = Sha256::new();
    let mut sha1 = GitBlobHasher::new(size);
    let mut buf = vec![0u8; CHUNK];
    let mut seen = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(HubError::io("reading", path))?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        if git_sha1 {
            sha1.update(&buf[..n]);
        }
        seen += n as u64;
    }
    if seen != size {
        return Err(HubError::Io {
            op: "reading (file changed while hashing)",
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("expected {size} bytes, read {seen}")),
        });
    }
    Ok(FileDigest {
        path: relative.to_string(),
        size,
        sha256_hex: hex::encode(sha256.finalize()),
        git_sha1: if git_sha1 {
            sha1.finish()
        } else {
            String::new()
        },
    })
}

/// Lists the regular files under `dir` (following symlinks, skipping `.git` and `.cache`
/// folders) as `(absolute path, relative path with '/')`, sorted by relative path. Every
/// relative path passes [`validate_repo_path`].
pub fn list_files(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&abs).map_err(HubError::io("listing", &abs))?;
        for entry in entries {
            let entry = entry.map_err(HubError::io("listing", &abs))?;
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| HubError::InvalidPath {
                name: entry.path().display().to_string(),
                reason: "not valid UTF-8",
            })?;
            let child_rel = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let child_abs = entry.path();
            let meta =
                std::fs::metadata(&child_abs).map_err(HubError::io("reading", &child_abs))?;
            if meta.is_dir() {
                if name == ".git" || name == ".cache" {
                    tracing::debug!(dir = %child_abs.display(), "skipping");
                    continue;
                }
                stack.push((child_abs, child_rel));
            } else if meta.is_file() {
                validate_repo_path(&child_rel)?;
                out.push((child_abs, child_rel));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Digests many files on `workers` threads; the result is in the input order.
pub fn digest_files(files: &[(PathBuf, String)], workers: usize) -> Result<Vec<FileDigest>> {
    digest_files_with(files, workers, true)
}

/// As [`digest_files`], with the git blob SHA-1 only when `git_sha1`.
pub fn digest_files_with(
    files: &[(PathBuf, String)],
    workers: usize,
    git_sha1: bool,
) -> Result<Vec<FileDigest>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<FileDigest>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, files.len().max(1)) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some((abs, rel)) = files.get(index) else {
                    break;
                };
                let digest = digest_file_with(abs, rel, git_sha1);
                if let Ok(mut slots) = results.lock() {
                    slots[index] = Some(digest);
                }
            });
        }
    });
    let slots = results
        .into_inner()
        .map_err(|_| HubError::Protocol("a hashing worker panicked".into()))?;
    slots
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err(HubError::Protocol("file not hashed".into()))))
        .collect()
}

/// Default number of hashing threads: the machine's parallelism, at most 8.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8)
}

/// The model hash of every file under `dir` (`README.md` and `.gitattributes` at the top are
/// listed but excluded from the hash).
pub fn hash_directory(dir: &Path) -> Result<ModelHash> {
    let files = list_files(dir)?;
    let digests = digest_files_with(&files, default_workers(), false)?;
    Ok(ModelHash::from_digests(digests))
}
