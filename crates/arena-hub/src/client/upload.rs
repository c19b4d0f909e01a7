//! `upload_folder`: pre-upload, LFS transfers for large files, then one NDJSON commit.
//!
//! The server decides which files go through LFS (its pre-upload answer); LFS objects are
//! streamed from disk, inline files are read whole (they are below the server's threshold).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{ErrCtx, HubClient};
use crate::error::{HubError, Result};
use crate::model_hash::{default_workers, digest_files_with, list_files, FileDigest};
use crate::paths::split_repo_id;

const LFS_JSON: &str = "application/vnd.git-lfs+json";
/// Files per pre-upload or LFS batch request, as the official client sends.
const BATCH: usize = 256;
/// LFS objects uploaded at the same time.
const PARALLEL_UPLOADS: usize = 4;

#[derive(Deserialize)]
struct PreuploadAnswer {
    files: Vec<PreuploadFile>,
}

#[derive(Deserialize)]
struct PreuploadFile {
    path: String,
    #[serde(rename = "uploadMode")]
    upload_mode: String,
    #[serde(rename = "shouldIgnore", default)]
    should_ignore: bool,
    oid: Option<String>,
}

/// A local file with its digests and where it goes.
struct LocalFile {
    abs: PathBuf,
    digest: FileDigest,
    lfs: bool,
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar
}

impl HubClient {
    /// Uploads every file under `dir` to branch `main` of `repo_id` in one commit and returns
    /// the new commit id (or the current head when nothing changed).
    pub async fn upload_folder(&self, repo_id: &str, dir: &Path, message: &str) -> Result<String> {
        split_repo_id(repo_id)?;
        let dir = dir.to_path_buf();
        let listed = tokio::task::spawn_blocking(move || list_files(&dir))
            .await
            .map_err(|e| HubError::Protocol(format!("listing task failed: {e}")))??;
        let ctx = ErrCtx {
            repo: repo_id,
            revision: "main",
            path: "",
        };
        // Pre-upload first: the mode decides which digest a file needs (SHA-256 for LFS, the
        // git blob SHA-1 for inline files), so no file is hashed twice over.
        let mut planned: Vec<(PathBuf, String, bool, Option<String>)> = Vec::new();
        for chunk in listed.chunks(BATCH) {
            let mut request = Vec::new();
            for (abs, rel) in chunk {
                let size = tokio::fs::metadata(abs)
                    .await
                    .map_err(HubError::io("reading", abs))?
                    .len();
                request.push(json!({"path": rel, "size": size, "sample": sample(abs).await?}));
            }
            let url = format!("{}/api/models/{repo_id}/preupload/main", self.endpoint);
            let response = self
                .request(Method::POST, &url)
                .json(&json!({"files": request}))
                .send()
                .await?;
            let answer: PreuploadAnswer = Self::check(response, ctx).await?.json().await?;
            let modes: HashMap<String, PreuploadFile> = answer
                .files
                .into_iter()
                .map(|f| (f.path.clone(), f))
                .collect();
            for (abs, rel) in chunk {
                let mode = modes.get(rel).ok_or_else(|| {
                    HubError::Protocol(format!("pre-upload answer does not mention {rel}"))
                })?;
                let lfs = match mode.upload_mode.as_str() {
                    "lfs" => true,
                    "regular" => false,
                    other => {
                        return Err(HubError::Protocol(format!("{rel}: upload mode {other:?}")))
                    }
                };
                if mode.should_ignore {
                    tracing::debug!(path = %rel, "ignored by the hub");
                    continue;
                }
                planned.push((abs.clone(), rel.clone(), lfs, mode.oid.clone()));
            }
        }
        let to_hash = planned.clone();
        let digests = tokio::task::spawn_blocking(move || {
            let (lfs, regular): (Vec<_>, Vec<_>) = to_hash.into_iter().partition(|p| p.2);
            let pairs =
                |v: Vec<(PathBuf, String, bool, Option<String>)>| -> Vec<(PathBuf, String)> {
                    v.into_iter().map(|(abs, rel, _, _)| (abs, rel)).collect()
                };
            let mut digests = digest_files_with(&pairs(lfs), default_workers(), false)?;
            digests.extend(digest_files_with(&pairs(regular), default_workers(), true)?);
            Ok::<_, HubError>(digests)
        })
        .await
        .map_err(|e| HubError::Protocol(format!("hashing task failed: {e}")))??;
        let by_path: HashMap<&str, &FileDigest> =
            digests.iter().map(|d| (d.path.as_str(), d)).collect();
        let mut files = Vec::new();
        for (abs, rel, lfs, remote_oid) in &planned {
            let digest = by_path
                .get(rel.as_str())
                .ok_or_else(|| HubError::Protocol(format!("{rel} was not hashed")))?;
            let local_oid = if *lfs {
                &digest.sha256_hex
            } else {
                &digest.git_sha1
            };
            if remote_oid.as_deref() == Some(local_oid.as_str()) {
                tracing::debug!(path = %rel, "unchanged; not uploaded");
                continue;
            }
            files.push(LocalFile {
                abs: abs.clone(),
                digest: (*digest).clone(),
                lfs: *lfs,
            });
        }
        if files.is_empty() {
            let info = self.repo_info(repo_id, "main").await?;
            return info
                .sha
                .ok_or_else(|| HubError::Protocol("repo info without sha".into()));
        }
        self.upload_lfs_objects(repo_id, &files).await?;
        self.commit(repo_id, &files, message).await
    }

    async fn upload_lfs_objects(&self, repo_id: &str, files: &[LocalFile]) -> Result<()> {
        let lfs: Vec<&LocalFile> = files.iter().filter(|f| f.lfs).collect();
        let bar = progress_bar(lfs.iter().map(|f| f.digest.size).sum());
        bar.set_message("upload");
        let url = format!("{}/{repo_id}.git/info/lfs/objects/batch", self.endpoint);
        for chunk in lfs.chunks(BATCH) {
            let objects: Vec<Value> = chunk
                .iter()
                .map(|f| json!({"oid": f.digest.sha256_hex, "size": f.digest.size}))
                .collect();
            let body = json!({"operation": "upload", "transfers": ["basic", "multipart"],
                              "objects": objects, "hash_algo": "sha256", "ref": {"name": "main"}});
            let response = self
                .request(Method::POST, &url)
                .header("accept", LFS_JSON)
                .header(CONTENT_TYPE, LFS_JSON)
                .body(body.to_string())
                .send()
                .await?;
            let ctx = ErrCtx {
                repo: repo_id,
                revision: "main",
                path: "",
            };
            let answer: Value = Self::check(response, ctx).await?.json().await?;
            let answered = answer
                .get("objects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let by_oid: HashMap<&str, &LocalFile> = chunk
                .iter()
                .map(|f| (f.digest.sha256_hex.as_str(), *f))
                .collect();
            let mut jobs = Vec::new();
            for object in &answered {
                let oid = object
                    .get("oid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let file = by_oid.get(oid).ok_or_else(|| {
                    HubError::Protocol(format!("LFS batch answered unknown oid {oid}"))
                })?;
                if let Some(error) = object.get("error") {
                    return Err(HubError::Http {
                        status: error.get("code").and_then(Value::as_u64).unwrap_or(0) as u16,
                        url: url.clone(),
                        message: format!(
                            "{}: {}",
                            file.digest.path,
                            error
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or("LFS error")
                        ),
                    });
                }
                jobs.push((*file, object.get("actions").cloned()));
            }
            futures_util::stream::iter(jobs.into_iter().map(|(file, actions)| {
                let bar = bar.clone();
                async move { self.transfer_one(file, actions, &bar).await }
            }))
            .buffer_unordered(PARALLEL_UPLOADS)
            .try_collect::<Vec<()>>()
            .await?;
        }
        bar.finish_and_clear();
        Ok(())
    }

    /// Rewrites `https://huggingface.co` hrefs onto the configured endpoint, as the official
    /// client does; other hosts (signed storage URLs) are used as they are.
    fn href(&self, href: &str) -> String {
        match href.strip_prefix("https://huggingface.co") {
            Some(rest) => format!("{}{rest}", self.endpoint),
            None => href.to_string(),
        }
    }

    async fn transfer_one(
        &self,
        file: &LocalFile,
        actions: Option<Value>,
        bar: &ProgressBar,
    ) -> Result<()> {
        let Some(upload) = actions.as_ref().and_then(|a| a.get("upload")) else {
            bar.inc(file.digest.size);
            return Ok(()); // already stored on the hub
        };
        let href = upload
            .get("href")
            .and_then(Value::as_str)
            .map(|h| self.href(h));
        let href =
            href.ok_or_else(|| HubError::Protocol("LFS upload action without href".into()))?;
        let header = upload.get("header").cloned().unwrap_or(Value::Null);
        match header.get("chunk_size") {
            Some(chunk) => {
                let chunk_size = chunk
                    .as_u64()
                    .or_else(|| chunk.as_str().and_then(|s| s.parse().ok()))
                    .filter(|c| *c > 0)
                    .ok_or_else(|| HubError::Protocol(format!("bad chunk_size {chunk}")))?;
                self.put_multipart(file, &href, &header, chunk_size, bar)
                    .await?;
            }
            None => self.put_basic(file, &href, bar).await?,
        }
        if let Some(verify) = actions
            .as_ref()
            .and_then(|a| a.get("verify"))
            .and_then(|v| v.get("href"))
            .and_then(Value::as_str)
        {
            let body = json!({"oid": file.digest.sha256_hex, "size": file.digest.size});
            let response = self
                .request(Method::POST, &self.href(verify))
                .json(&body)
                .send()
                .await?;
            Self::check(
                response,
                ErrCtx {
                    path: &file.digest.path,
                    ..Default::default()
                },
            )
            .await?;
        }
        tracing::debug!(path = %file.digest.path, size = file.digest.size, "LFS object uploaded");
        Ok(())
    }

    /// One streamed PUT, without the Hub token: the href authorises itself.
    async fn put_basic(&self, file: &LocalFile, href: &str, bar: &ProgressBar) -> Result<()> {
        let reader = tokio::fs::File::open(&file.abs)
            .await
            .map_err(HubError::io("opening", &file.abs))?;
        let progress = bar.clone();
        let stream =
            tokio_util::io::ReaderStream::with_capacity(reader, 1 << 20).inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    progress.inc(bytes.len() as u64);
                }
            });
        let response = self
            .http
            .put(href)
            .header(CONTENT_LENGTH, file.digest.size)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await?;
        Self::check(
            response,
            ErrCtx {
                path: &file.digest.path,
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }

    async fn put_multipart(
        &self,
        file: &LocalFile,
        complete: &str,
        header: &Value,
        chunk_size: u64,
        bar: &ProgressBar,
    ) -> Result<()> {
        let parts = file.digest.size.div_ceil(chunk_size);
        let mut reader = tokio::fs::File::open(&file.abs)
            .await
            .map_err(HubError::io("opening", &file.abs))?;
        let mut etags = Vec::new();
        for number in 1..=parts {
            let url = header
                .get(number.to_string())
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    HubError::Protocol(format!("multipart offer lacks part {number}"))
                })?;
            let offset = (number - 1) * chunk_size;
            let len = chunk_size.min(file.digest.size - offset);
            let mut buf = vec![0u8; len as usize];
            reader
                .seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(HubError::io("seeking", &file.abs))?;
            reader
                .read_exact(&mut buf)
                .await
                .map_err(HubError::io("reading", &file.abs))?;
            let response = self.http.put(url).body(buf).send().await?;
            let response = Self::check(
                response,
                ErrCtx {
                    path: &file.digest.path,
                    ..Default::default()
                },
            )
            .await?;
            let etag = response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| HubError::Protocol(format!("part {number} answer without ETag")))?;
            etags.push(json!({"partNumber": number, "etag": etag}));
            bar.inc(len);
        }
        let body = json!({"oid": file.digest.sha256_hex, "parts": etags});
        let response = self
            .http
            .post(complete)
            .header(CONTENT_TYPE, LFS_JSON)
            .header("accept", LFS_JSON)
            .body(body.to_string())
            .send()
            .await?;
        Self::check(
            response,
            ErrCtx {
                path: &file.digest.path,
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }

    async fn commit(&self, repo_id: &str, files: &[LocalFile], message: &str) -> Result<String> {
        let mut body = String::new();
        let header = json!({"key": "header", "value": {"summary": message, "description": ""}});
        body.push_str(&header.to_string());
        body.push('\n');
        for file in files {
            let line = if file.lfs {
                json!({"key": "lfsFile", "value": {"path": file.digest.path, "algo": "sha256",
                       "oid": file.digest.sha256_hex, "size": file.digest.size}})
            } else {
                let content = tokio::fs::read(&file.abs)
                    .await
                    .map_err(HubError::io("reading", &file.abs))?;
                if crate::gitobj::git_blob_sha1(&content) != file.digest.git_sha1 {
                    return Err(HubError::Io {
                        op: "reading (file changed during upload)",
                        path: file.abs.clone(),
                        source: std::io::Error::other("content differs from its digest"),
                    });
                }
                let encoded = base64::engine::general_purpose::STANDARD.encode(content);
                json!({"key": "file", "value": {"content": encoded, "path": file.digest.path, "encoding": "base64"}})
            };
            body.push_str(&line.to_string());
            body.push('\n');
        }
        let url = format!("{}/api/models/{repo_id}/commit/main", self.endpoint);
        let response = self
            .request(Method::POST, &url)
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body)
            .send()
            .await?;
        let ctx = ErrCtx {
            repo: repo_id,
            revision: "main",
            path: "",
        };
        let answer: Value = Self::check(response, ctx).await?.json().await?;
        let oid = answer
            .get("commitOid")
            .and_then(Value::as_str)
            .ok_or_else(|| HubError::Protocol("commit answer without commitOid".into()))?;
        tracing::info!(
            repo = repo_id,
            commit = oid,
            files = files.len(),
            "uploaded"
        );
        Ok(oid.to_string())
    }
}

/// Base64 of the first 512 bytes, the sample the Hub uses to sniff binary content.
async fn sample(path: &Path) -> Result<String> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(HubError::io("opening", path))?;
    let mut buf = Vec::with_capacity(512);
    (&mut file)
        .take(512)
        .read_to_end(&mut buf)
        .await
        .map_err(HubError::io("reading", path))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}
