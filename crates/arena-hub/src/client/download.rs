//! Snapshot download into a cache laid out by repo and revision:
//! `<cache>/models--<ns>--<name>/snapshots/<commit>/<path>` (`datasets--…` for datasets).
//!
//! The size of the revision is checked before anything is written. Each file is streamed into
//! `<repo>/incomplete/<commit>/<path>` while hashed, resumed with `Range` after a cut, verified
//! against its LFS sha256 or git blob SHA-1, and only then renamed into the snapshot, so the
//! snapshot never holds a partial or corrupt file.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{encode_path, ErrCtx, HubClient};
use crate::error::{HubError, Result};
use crate::gitobj::GitBlobHasher;
use crate::model_hash::{digest_file, FileDigest, ModelHash};
use crate::paths::{is_commit_id, split_repo_id, validate_repo_path, RepoType};

/// How to download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Refuse revisions whose files add up to more bytes than this.
    pub max_bytes: Option<u64>,
    /// Files downloaded at the same time.
    pub parallel: usize,
    /// Attempts per file after a network error (each resumes where the last stopped).
    pub retries: u32,
    /// Draw a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            max_bytes: None,
            parallel: 8,
            retries: 5,
            progress: true,
        }
    }
}

/// A complete, verified revision in the cache.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `…/snapshots/<commit>`.
    pub path: PathBuf,
    /// The commit id the revision resolved to.
    pub commit: String,
    /// Model hash of the files, from the digests computed while downloading.
    pub model_hash: ModelHash,
}

/// What a file must hash to.
#[derive(Debug, Clone)]
enum Expected {
    Sha256(String),
    GitSha1(String),
}

#[derive(Debug, Clone)]
struct Planned {
    path: String,
    size: u64,
    expected: Expected,
}

/// Cache folder of one model repo, named as the official client names it.
pub fn repo_cache_dir(cache: &Path, repo_id: &str) -> PathBuf {
    typed_repo_cache_dir(cache, RepoType::Model, repo_id)
}

/// Cache folder of one repo of either kind (`models--…` or `datasets--…`).
pub fn typed_repo_cache_dir(cache: &Path, repo_type: RepoType, repo_id: &str) -> PathBuf {
    cache.join(format!(
        "{}--{}",
        repo_type.api_segment(),
        repo_id.replace('/', "--")
    ))
}

impl HubClient {
    /// Downloads `revision` of `repo_id` into `cache` and returns the verified snapshot.
    pub async fn download(
        &self,
        repo_id: &str,
        revision: &str,
        cache: &Path,
        options: &DownloadOptions,
    ) -> Result<Snapshot> {
        self.download_some(RepoType::Model, repo_id, revision, cache, options, None)
            .await
    }

    /// Downloads only the files named in `files` of `revision` (each must exist) and returns
    /// the verified snapshot folder holding them; the model hash covers just those files.
    pub async fn download_files(
        &self,
        repo_id: &str,
        revision: &str,
        files: &[String],
        cache: &Path,
        options: &DownloadOptions,
    ) -> Result<Snapshot> {
        self.download_some(
            RepoType::Model,
            repo_id,
            revision,
            cache,
            options,
            Some(files),
        )
        .await
    }

    /// [`HubClient::download_files`] for a repo of either kind (`None`: every file), e.g. the
    /// files of a dataset: `download_typed(RepoType::Dataset, "alice/chat", "main", None, …)`.
    pub async fn download_typed(
        &self,
        repo_type: RepoType,
        repo_id: &str,
        revision: &str,
        files: Option<&[String]>,
        cache: &Path,
        options: &DownloadOptions,
    ) -> Result<Snapshot> {
        self.download_some(repo_type, repo_id, revision, cache, options, files)
            .await
    }

    async fn download_some(
        &self,
        repo_type: RepoType,
        repo_id: &str,
        revision: &str,
        cache: &Path,
        options: &DownloadOptions,
        only: Option<&[String]>,
    ) -> Result<Snapshot> {
        split_repo_id(repo_id)?;
        let info = self.repo_info_typed(repo_type, repo_id, revision).await?;
        let commit = info
            .sha
            .clone()
            .filter(|s| is_commit_id(s))
            .ok_or_else(|| {
                HubError::Protocol(format!("repo info of {repo_id} has no valid sha"))
            })?;
        if is_commit_id(revision) && revision != commit {
            return Err(HubError::Protocol(format!(
                "asked for {revision}, hub answered {commit}"
            )));
        }
        let mut plan = plan(&info.siblings)?;
        if let Some(only) = only {
            plan.retain(|p| only.contains(&p.path));
            if let Some(missing) = only.iter().find(|f| !plan.iter().any(|p| &p.path == *f)) {
                return Err(HubError::EntryNotFound {
                    repo: repo_id.to_string(),
                    path: missing.clone(),
                });
            }
        }
        let total: u64 = plan.iter().map(|p| p.size).sum();
        if let Some(limit) = options.max_bytes {
            if total > limit {
                return Err(HubError::TooLarge {
                    repo: repo_id.to_string(),
                    revision: commit,
                    total,
                    limit,
                });
            }
        }
        let repo_dir = typed_repo_cache_dir(cache, repo_type, repo_id);
        let snapshot = repo_dir.join("snapshots").join(&commit);
        let partial = repo_dir.join("incomplete").join(&commit);
        let bar = if options.progress && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "download [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let job = Arc::new(Job {
            client: self.clone(),
            repo_type,
            repo_id: repo_id.to_string(),
            commit: commit.clone(),
            snapshot: snapshot.clone(),
            partial,
            retries: options.retries,
            bar: bar.clone(),
        });
        let digests: Vec<FileDigest> = futures_util::stream::iter(plan.into_iter().map(|file| {
            let job = job.clone();
            async move { job.fetch(file).await }
        }))
        .buffer_unordered(options.parallel.max(1))
        .try_collect()
        .await?;
        bar.finish_and_clear();
        let _ = std::fs::remove_dir_all(repo_dir.join("incomplete").join(&commit));
        tracing::info!(repo = repo_id, %commit, files = digests.len(), bytes = total, "snapshot ready");
        Ok(Snapshot {
            path: snapshot,
            commit,
            model_hash: ModelHash::from_digests(digests),
        })
    }
}

/// Validates every announced file before anything touches the disk.
fn plan(siblings: &[super::Sibling]) -> Result<Vec<Planned>> {
    siblings
        .iter()
        .map(|s| {
            validate_repo_path(&s.rfilename)?;
            let missing =
                |what| HubError::Protocol(format!("repo info lacks the {what} of {}", s.rfilename));
            let (size, expected) = match &s.lfs {
                Some(lfs) => {
                    if !crate::paths::is_sha256_hex(&lfs.sha256) {
                        return Err(missing("sha256"));
                    }
                    (lfs.size, Expected::Sha256(lfs.sha256.clone()))
                }
                None => {
                    let blob = s
                        .blob_id
                        .clone()
                        .filter(|b| b.len() == 40)
                        .ok_or_else(|| missing("blobId"))?;
                    (
                        s.size.ok_or_else(|| missing("size"))?,
                        Expected::GitSha1(blob),
                    )
                }
            };
            Ok(Planned {
                path: s.rfilename.clone(),
                size,
                expected,
            })
        })
        .collect()
}

struct Job {
    client: HubClient,
    repo_type: RepoType,
    repo_id: String,
    commit: String,
    snapshot: PathBuf,
    partial: PathBuf,
    retries: u32,
    bar: ProgressBar,
}

/// Running digests of a partial file.
struct Hashing {
    sha256: Sha256,
    sha1: GitBlobHasher,
    len: u64,
}

impl Hashing {
    fn new(size: u64) -> Hashing {
        Hashing {
            sha256: Sha256::new(),
            sha1: GitBlobHasher::new(size),
            len: 0,
        }
    }
    fn update(&mut self, chunk: &[u8]) {
        self.sha256.update(chunk);
        self.sha1.update(chunk);
        self.len += chunk.len() as u64;
    }
}

fn matches(expected: &Expected, digest: &FileDigest) -> std::result::Result<(), (String, String)> {
    let (want, got) = match expected {
        Expected::Sha256(want) => (want, &digest.sha256_hex),
        Expected::GitSha1(want) => (want, &digest.git_sha1),
    };
    if want == got {
        Ok(())
    } else {
        Err((want.clone(), got.clone()))
    }
}

impl Job {
    async fn fetch(&self, file: Planned) -> Result<FileDigest> {
        let dest = self.snapshot.join(&file.path);
        if dest.exists() {
            // Already in the cache: it was verified before it was moved there, but a cache can be
            // edited by hand, so check again (the digest is needed for the model hash anyway).
            let (d, p) = (dest.clone(), file.path.clone());
            let digest = tokio::task::spawn_blocking(move || digest_file(&d, &p))
                .await
                .map_err(|e| HubError::Protocol(format!("hashing task failed: {e}")))??;
            if digest.size == file.size && matches(&file.expected, &digest).is_ok() {
                self.bar.inc(file.size);
                return Ok(digest);
            }
            tracing::warn!(path = %dest.display(), "cached file does not match; downloading again");
            tokio::fs::remove_file(&dest)
                .await
                .map_err(HubError::io("removing", &dest))?;
        }
        let part = self.partial.join(format!("{}.incomplete", file.path));
        if let Some(parent) = part.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(HubError::io("creating", parent))?;
        }
        let mut state = self.resume_state(&part, file.size).await?;
        let mut attempt = 0;
        loop {
            match self.transfer(&file, &part, &mut state).await {
                Ok(()) => break,
                Err(err @ (HubError::Network(_) | HubError::Protocol(_)))
                    if attempt < self.retries =>
                {
                    attempt += 1;
                    tracing::warn!(path = %file.path, done = state.len, attempt, error = %err, "download cut; resuming");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                Err(err) => return Err(err),
            }
        }
        let digest = FileDigest {
            path: file.path.clone(),
            size: state.len,
            sha256_hex: hex::encode(state.sha256.finalize()),
            git_sha1: state.sha1.finish(),
        };
        if let Err((expected, actual)) = matches(&file.expected, &digest) {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(HubError::DigestMismatch {
                path: file.path,
                expected,
                actual,
            });
        }
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(HubError::io("creating", parent))?;
        }
        tokio::fs::rename(&part, &dest)
            .await
            .map_err(HubError::io("renaming into", &dest))?;
        Ok(digest)
    }

    /// Hashes the bytes a previous run left behind, so the download resumes after them.
    async fn resume_state(&self, part: &Path, size: u64) -> Result<Hashing> {
        let existing = tokio::fs::metadata(part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        if existing == 0 || existing > size {
            let _ = tokio::fs::remove_file(part).await;
            return Ok(Hashing::new(size));
        }
        let path = part.to_path_buf();
        let state = tokio::task::spawn_blocking(move || -> Result<Hashing> {
            use std::io::Read;
            let mut state = Hashing::new(size);
            let mut reader = std::fs::File::open(&path).map_err(HubError::io("opening", &path))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(HubError::io("reading", &path))?;
                if n == 0 {
                    break;
                }
                state.update(&buf[..n]);
            }
            Ok(state)
        })
        .await
        .map_err(|e| HubError::Protocol(format!("hashing task failed: {e}")))??;
        tracing::info!(path = %part.display(), bytes = state.len, "resuming partial download");
        self.bar.inc(state.len);
        Ok(state)
    }

    /// One GET from `state.len` to the end, appending to `part`.
    async fn transfer(&self, file: &Planned, part: &Path, state: &mut Hashing) -> Result<()> {
        if state.len == file.size {
            return Ok(());
        }
        let url = format!(
            "{}/{}{}/resolve/{}/{}",
            self.client.endpoint,
            self.repo_type.url_prefix(),
            self.repo_id,
            self.commit,
            encode_path(&file.path)
        );
        let mut request = self.client.request(Method::GET, &url);
        if state.len > 0 {
            request = request.header(RANGE, format!("bytes={}-", state.len));
        }
        let response = request.send().await?;
        let ctx = ErrCtx {
            repo: &self.repo_id,
            revision: &self.commit,
            path: &file.path,
        };
        let response = HubClient::check(response, ctx).await?;
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .await
            .map_err(HubError::io("opening", part))?;
        if state.len > 0 {
            let start = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|s| s.parse::<u64>().ok());
            if response.status() != StatusCode::PARTIAL_CONTENT || start != Some(state.len) {
                // The server ignored the range: start over.
                out.set_len(0)
                    .await
                    .map_err(HubError::io("truncating", part))?;
                self.bar
                    .set_position(self.bar.position().saturating_sub(state.len));
                *state = Hashing::new(file.size);
            }
        }
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if state.len + chunk.len() as u64 > file.size {
                out.set_len(0)
                    .await
                    .map_err(HubError::io("truncating", part))?;
                return Err(HubError::DigestMismatch {
                    path: file.path.clone(),
                    expected: format!("{} bytes", file.size),
                    actual: "more bytes".into(),
                });
            }
            out.write_all(&chunk)
                .await
                .map_err(HubError::io("writing", part))?;
            state.update(&chunk);
            self.bar.inc(chunk.len() as u64);
        }
        out.sync_all()
            .await
            .map_err(HubError::io("syncing", part))?;
        if state.len != file.size {
            return Err(HubError::Protocol(format!(
                "{}: connection ended after {} of {} bytes",
                file.path, state.len, file.size
            )));
        }
        Ok(())
    }
}
