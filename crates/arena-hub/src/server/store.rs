//! On-disk state of the hub server: content-addressed blobs and per-repo JSON metadata.
//!
//! Layout under the root: `blobs/<aa>/<sha256>` (each content once), `repos/<ns>/<name>/repo.json`
//! (owner, visibility, head), `repos/<ns>/<name>/commits/<oid>.json` (immutable snapshots) for
//! models and the same under `datasets/<ns>/<name>/` for datasets (a separate namespace),
//! `uploaders/<user>/<aa>/<sha256>` (empty: who uploaded a blob through LFS), `tmp/` (staging). Every file is written to `tmp/` and renamed into place, and a commit file
//! is written before the head moves to it, so a crash leaves either the old or the new state.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{HubError, Result};
use crate::gitobj::{git_blob_sha1, lfs_pointer};
use crate::paths::{is_sha256_hex, RepoType};

/// One file in a commit.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Size of the content in bytes.
    pub size: u64,
    /// SHA-256 of the content (hex): the blob's name in the store.
    pub sha256: String,
    /// Git blob id as the Hub reports it: of the content, or of the LFS pointer for LFS files.
    pub blob_id: String,
    /// Whether the file was committed through LFS.
    pub lfs: bool,
}

impl StoredFile {
    /// A file committed as an LFS pointer.
    pub fn lfs(sha256: String, size: u64) -> StoredFile {
        let blob_id = git_blob_sha1(lfs_pointer(&sha256, size).as_bytes());
        StoredFile {
            size,
            sha256,
            blob_id,
            lfs: true,
        }
    }

    /// Size of the LFS pointer file that stands for this file in git.
    pub fn pointer_size(&self) -> u64 {
        lfs_pointer(&self.sha256, self.size).len() as u64
    }
}

/// An immutable snapshot of a repository.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Commit {
    /// 40-hex id.
    pub oid: String,
    /// Previous head, if any.
    pub parent: Option<String>,
    /// Commit summary.
    pub message: String,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Every file of the snapshot by path.
    pub files: BTreeMap<String, StoredFile>,
}

/// Repository metadata.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RepoMeta {
    /// User who created the repo (the only one who can write or see it while private).
    pub owner: String,
    /// Visibility.
    pub private: bool,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Commit of the `main` branch.
    pub head: String,
}

/// Handle on the server root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (and creates) the store at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        for dir in ["blobs", "repos", "datasets", "tmp", "uploaders"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).map_err(HubError::io("creating", &path))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// A fresh temporary path on the same filesystem as the store.
    pub fn temp_path(&self) -> PathBuf {
        let nonce: u64 = rand::thread_rng().gen();
        self.root.join("tmp").join(format!("{nonce:016x}.tmp"))
    }

    /// Where the blob with this sha256 lives.
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join("blobs").join(&sha256[..2]).join(sha256)
    }

    /// Size of a stored blob, or `None` if absent.
    pub fn blob_size(&self, sha256: &str) -> Option<u64> {
        if !is_sha256_hex(sha256) {
            return None;
        }
        std::fs::metadata(self.blob_path(sha256))
            .ok()
            .map(|m| m.len())
    }

    /// Moves a fully written and verified temp file into the blob store. A blob already
    /// there is touched instead, so that the garbage collection's grace period starts again.
    pub fn adopt_blob(&self, temp: &Path, sha256: &str) -> Result<()> {
        let dest = self.blob_path(sha256);
        if dest.exists() {
            let _ = std::fs::remove_file(temp);
            touch(&dest);
            return Ok(());
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(HubError::io("creating", parent))?;
        }
        std::fs::rename(temp, &dest).map_err(HubError::io("renaming into", &dest))
    }

    /// Stores in-memory content; returns its `StoredFile` (regular, not LFS).
    pub fn put_inline(&self, content: &[u8]) -> Result<StoredFile> {
        let sha256 = hex::encode(Sha256::digest(content));
        if self.blob_size(&sha256).is_none() {
            let temp = self.temp_path();
            write_synced(&temp, content)?;
            self.adopt_blob(&temp, &sha256)?;
        } else {
            touch(&self.blob_path(&sha256));
        }
        Ok(StoredFile {
            size: content.len() as u64,
            sha256,
            blob_id: git_blob_sha1(content),
            lfs: false,
        })
    }

    fn uploader_marker(&self, user: &str, sha256: &str) -> Option<PathBuf> {
        (crate::paths::is_repo_name_part(user) && is_sha256_hex(sha256)).then(|| {
            self.root
                .join("uploaders")
                .join(user)
                .join(&sha256[..2])
                .join(sha256)
        })
    }

    /// Records that `user` uploaded the blob (they may link it into their commits).
    pub fn record_uploader(&self, user: &str, sha256: &str) -> Result<()> {
        let Some(marker) = self.uploader_marker(user, sha256) else {
            return Ok(());
        };
        if let Some(parent) = marker.parent() {
            std::fs::create_dir_all(parent).map_err(HubError::io("creating", parent))?;
        }
        std::fs::write(&marker, b"").map_err(HubError::io("writing", &marker))
    }

    /// Whether `user` uploaded this blob through LFS.
    pub fn uploaded_by(&self, user: &str, sha256: &str) -> bool {
        self.uploader_marker(user, sha256)
            .is_some_and(|m| m.exists())
    }

    /// Every repo of both kinds as (kind, namespace, name, metadata).
    fn repos(&self) -> Result<Vec<(RepoType, String, String, RepoMeta)>> {
        let mut out = Vec::new();
        for kind in [RepoType::Model, RepoType::Dataset] {
            out.extend(self.repos_of(kind)?);
        }
        Ok(out)
    }

    /// Every repo of one kind as (kind, namespace, name, metadata).
    fn repos_of(&self, kind: RepoType) -> Result<Vec<(RepoType, String, String, RepoMeta)>> {
        let mut out = Vec::new();
        for ns in list_dir(&self.kind_root(kind))? {
            for name in list_dir(&ns)? {
                let (Some(n), Some(m)) = (ns.file_name(), name.file_name()) else {
                    continue;
                };
                let (n, m) = (n.to_string_lossy(), m.to_string_lossy());
                if let Some(meta) = self.repo(kind, &n, &m)? {
                    out.push((kind, n.into_owned(), m.into_owned(), meta));
                }
            }
        }
        Ok(out)
    }

    /// The LFS blobs in the head commit of every repo `user` can read.
    pub fn readable_lfs_blobs(&self, user: &str) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for (kind, ns, name, meta) in self.repos()? {
            if meta.private && meta.owner != user {
                continue;
            }
            if let Some(commit) = self.commit(kind, &ns, &name, &meta.head)? {
                out.extend(
                    commit
                        .files
                        .into_values()
                        .filter(|f| f.lfs)
                        .map(|f| f.sha256),
                );
            }
        }
        Ok(out)
    }

    /// Deletes the blobs that no commit of any repo references and that are older than
    /// `grace` (by modification time: uploads and re-uploads touch them), the uploader records
    /// of blobs gone, and staging files older than `grace`. The caller holds the write lock, so
    /// no commit is being made meanwhile.
    pub fn collect_garbage(&self, grace: std::time::Duration) -> Result<GcReport> {
        let mut referenced = HashSet::new();
        for kind in [RepoType::Model, RepoType::Dataset] {
            for ns in list_dir(&self.kind_root(kind))? {
                for repo in list_dir(&ns)? {
                    for file in list_dir(&repo.join("commits"))? {
                        if let Some(commit) = read_json_opt::<Commit>(&file)? {
                            referenced.extend(commit.files.into_values().map(|f| f.sha256));
                        }
                    }
                }
            }
        }
        let old = |path: &Path| {
            std::fs::symlink_metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= grace)
        };
        let mut report = GcReport::default();
        for shard in list_dir(&self.root.join("blobs"))? {
            for blob in list_dir(&shard)? {
                let name = blob.file_name().map(|n| n.to_string_lossy().into_owned());
                if name.as_ref().is_some_and(|n| referenced.contains(n)) || !old(&blob) {
                    continue;
                }
                let size = std::fs::metadata(&blob).map(|m| m.len()).unwrap_or(0);
                std::fs::remove_file(&blob).map_err(HubError::io("removing", &blob))?;
                report.blobs += 1;
                report.bytes += size;
            }
        }
        for user in list_dir(&self.root.join("uploaders"))? {
            for shard in list_dir(&user)? {
                for marker in list_dir(&shard)? {
                    let gone = marker
                        .file_name()
                        .map(|n| self.blob_size(&n.to_string_lossy()).is_none())
                        .unwrap_or(true);
                    if gone {
                        let _ = std::fs::remove_file(&marker);
                    }
                }
            }
        }
        for temp in list_dir(&self.root.join("tmp"))? {
            if old(&temp) {
                let _ = std::fs::remove_dir_all(&temp).or_else(|_| std::fs::remove_file(&temp));
                report.temps += 1;
            }
        }
        Ok(report)
    }

    fn kind_root(&self, kind: RepoType) -> PathBuf {
        self.root.join(match kind {
            RepoType::Model => "repos",
            RepoType::Dataset => "datasets",
        })
    }

    fn repo_dir(&self, kind: RepoType, namespace: &str, name: &str) -> PathBuf {
        self.kind_root(kind).join(namespace).join(name)
    }

    /// Metadata of a repo, or `None` if it does not exist.
    pub fn repo(&self, kind: RepoType, namespace: &str, name: &str) -> Result<Option<RepoMeta>> {
        let path = self.repo_dir(kind, namespace, name).join("repo.json");
        read_json_opt(&path)
    }

    /// Creates the directories of a new repo (before its first commit is written).
    pub fn save_repo_dirs(&self, kind: RepoType, namespace: &str, name: &str) -> Result<()> {
        let dir = self.repo_dir(kind, namespace, name).join("commits");
        std::fs::create_dir_all(&dir).map_err(HubError::io("creating", &dir))
    }

    /// Writes repo metadata atomically.
    pub fn save_repo(
        &self,
        kind: RepoType,
        namespace: &str,
        name: &str,
        meta: &RepoMeta,
    ) -> Result<()> {
        let dir = self.repo_dir(kind, namespace, name);
        std::fs::create_dir_all(dir.join("commits")).map_err(HubError::io("creating", &dir))?;
        self.write_json(&dir.join("repo.json"), meta)
    }

    /// A commit of a repo, or `None` if it does not exist.
    pub fn commit(
        &self,
        kind: RepoType,
        namespace: &str,
        name: &str,
        oid: &str,
    ) -> Result<Option<Commit>> {
        if !crate::paths::is_commit_id(oid) {
            return Ok(None);
        }
        let path = self
            .repo_dir(kind, namespace, name)
            .join("commits")
            .join(format!("{oid}.json"));
        read_json_opt(&path)
    }

    /// Writes a new commit file (before the head is moved to it).
    pub fn save_commit(
        &self,
        kind: RepoType,
        namespace: &str,
        name: &str,
        commit: &Commit,
    ) -> Result<()> {
        let path = self
            .repo_dir(kind, namespace, name)
            .join("commits")
            .join(format!("{}.json", commit.oid));
        self.write_json(&path, commit)
    }

    /// Removes a repo: renamed away first (atomic), then deleted. Blobs stay (shared by content).
    pub fn delete_repo(&self, kind: RepoType, namespace: &str, name: &str) -> Result<()> {
        let dir = self.repo_dir(kind, namespace, name);
        let trash = self.temp_path();
        std::fs::rename(&dir, &trash).map_err(HubError::io("removing", &dir))?;
        std::fs::remove_dir_all(&trash).map_err(HubError::io("removing", &trash))
    }

    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| HubError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        arena_fs::write_atomic(path, &bytes).map_err(HubError::io("writing", path))
    }
}

/// What one garbage collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted.
    pub blobs: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Stale staging files deleted.
    pub temps: usize,
}

/// The entries of a directory (none if it does not exist).
fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || !dir.is_dir() => Ok(Vec::new()),
        Err(e) => Err(HubError::io("listing", dir)(e)),
    }
}

/// Sets a file's modification time to now (best effort).
fn touch(path: &Path) {
    if let Ok(file) = std::fs::OpenOptions::new().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

/// Writes and fsyncs a file, so that the rename that follows publishes complete content.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(HubError::io("creating", path))?;
    file.write_all(bytes)
        .map_err(HubError::io("writing", path))?;
    file.sync_all().map_err(HubError::io("syncing", path))
}

fn read_json_opt<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| HubError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HubError::io("reading", path)(e)),
    }
}

/// A new commit id: SHA-1 over the parent, the message, the time, a nonce and the file list,
/// formatted like a git commit id.
pub fn new_commit_oid(
    parent: Option<&str>,
    message: &str,
    created_at: &str,
    files: &BTreeMap<String, StoredFile>,
) -> String {
    use sha1::Sha1;
    let mut hasher = Sha1::new();
    let nonce: u64 = rand::thread_rng().gen();
    hasher.update(format!("parent {}\n", parent.unwrap_or("-")));
    hasher.update(format!("time {created_at}\nnonce {nonce}\n{message}\n"));
    for (path, file) in files {
        hasher.update(format!("{path}\0{}\0{}\n", file.sha256, file.size));
    }
    hex::encode(hasher.finalize())
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`, the date format the Python client parses.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn inline_blobs_are_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store.put_inline(b"hello\n").unwrap();
        let b = store.put_inline(b"hello\n").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.blob_id, "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(store.blob_size(&a.sha256), Some(6));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
