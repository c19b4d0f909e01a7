//! Byte transfers: the Git LFS batch API (upload, verify) and `resolve` downloads with ranges.

use std::io::SeekFrom;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::repo::{read_json, readable, resolve_rev};
use super::store::Store;
use super::{ApiError, ApiResult, Ctx, RepoRef, St};
use crate::error::HubError;
use crate::paths::{is_sha256_hex, validate_repo_path};

#[derive(Deserialize)]
struct BatchBody {
    operation: String,
    objects: Vec<BatchObject>,
}

#[derive(Deserialize)]
struct BatchObject {
    oid: String,
    size: u64,
}

fn lfs_json(value: Value) -> Response {
    let mut response = Json(value).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.git-lfs+json"),
    );
    response
}

/// An LFS upload link handed out by the batch API: single use, for one user, until it expires.
#[derive(Debug, Clone)]
pub(crate) struct PendingUpload {
    oid: String,
    size: u64,
    user: String,
    expires: std::time::Instant,
}

pub(super) async fn lfs_batch(ctx: Ctx, repo: RepoRef, body: Body) -> ApiResult {
    let meta = readable(&ctx, &repo)?;
    let user = ctx.require_user()?.to_string();
    if user != meta.owner {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("no write access to {}", repo.id()),
        ));
    }
    let limits = &ctx.state.config.limits;
    let req: BatchBody = read_json(body, limits.list_body).await?;
    if req.operation != "upload" {
        return Err(ApiError::bad_request(
            "this hub's LFS endpoint accepts uploads only; download through resolve/",
        ));
    }
    if req.objects.len() > limits.objects_per_request {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} objects in one batch request; this hub accepts at most {}",
                req.objects.len(),
                limits.objects_per_request
            ),
        ));
    }
    let verify = format!(
        "{}/{}{}.git/info/lfs/objects/verify",
        ctx.base_url,
        repo.kind.url_prefix(),
        repo.id()
    );
    let now = std::time::Instant::now();
    let held = match ctx.state.uploads.lock() {
        Ok(mut uploads) => {
            uploads.retain(|_, pending| pending.expires > now);
            uploads.values().filter(|p| p.user == user).count()
        }
        Err(_) => 0,
    };
    if held + req.objects.len() > limits.pending_uploads_per_user {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{held} upload links are pending for {user} (at most {}): upload or let them expire",
                limits.pending_uploads_per_user
            ),
        ));
    }
    let mut access = BlobAccess::new(&ctx.state.store, &user);
    let mut objects = Vec::with_capacity(req.objects.len());
    for object in req.objects {
        let (oid, size) = (object.oid, object.size);
        if !is_sha256_hex(&oid) {
            objects.push(json!({"oid": oid, "size": size,
                                "error": {"code": 422, "message": "oid must be a sha256 hex"}}));
            continue;
        }
        if size > limits.max_object_size {
            objects.push(
                json!({"oid": oid, "size": size, "error": {"code": 422, "message":
                format!("object of {size} bytes is larger than this hub's limit of {} bytes",
                        limits.max_object_size)}}),
            );
            continue;
        }
        // Whether a blob is stored is told only to who may link it; anyone else uploads it
        // (and so proves they have the content).
        let stored = if access.may_link(&oid)? {
            ctx.state.store.blob_size(&oid)
        } else {
            None
        };
        match stored {
            Some(stored) if stored == size => objects.push(json!({"oid": oid, "size": size})),
            Some(stored) => objects.push(json!({"oid": oid, "size": size, "error": {"code": 422,
                "message": format!("object {oid} is stored with {stored} bytes, not {size}")}})),
            None => {
                let token = hex::encode(rand::thread_rng().gen::<[u8; 24]>());
                let pending = PendingUpload {
                    oid: oid.clone(),
                    size,
                    user: user.clone(),
                    expires: now + limits.upload_token_ttl,
                };
                if let Ok(mut uploads) = ctx.state.uploads.lock() {
                    uploads.insert(token.clone(), pending);
                }
                let href = format!("{}/api/lfs-upload/{token}", ctx.base_url);
                objects.push(json!({"oid": oid, "size": size, "authenticated": true,
                    "actions": {"upload": {"href": href, "expires_in": limits.upload_token_ttl.as_secs()},
                                "verify": {"href": verify}}}));
            }
        }
    }
    Ok(lfs_json(
        json!({"transfer": "basic", "hash_algo": "sha256", "objects": objects}),
    ))
}

/// Which stored LFS blobs a user may link into a commit (and learn the existence of): those
/// they uploaded, and those in the head of a repo they can read (looked up once, when needed).
pub(super) struct BlobAccess<'a> {
    store: &'a Store,
    user: &'a str,
    readable: Option<std::collections::HashSet<String>>,
}

impl<'a> BlobAccess<'a> {
    pub fn new(store: &'a Store, user: &'a str) -> BlobAccess<'a> {
        BlobAccess {
            store,
            user,
            readable: None,
        }
    }

    pub fn may_link(&mut self, oid: &str) -> Result<bool, ApiError> {
        if self.store.uploaded_by(self.user, oid) {
            return Ok(true);
        }
        if self.readable.is_none() {
            self.readable = Some(self.store.readable_lfs_blobs(self.user)?);
        }
        Ok(self.readable.as_ref().is_some_and(|set| set.contains(oid)))
    }
}

/// Receives one LFS object: streamed to a temp file while hashed, published only if its size
/// and sha256 match the oid announced in the batch request.
pub(super) async fn lfs_put(state: St, token: &str, body: Body) -> ApiResult {
    let pending = state
        .uploads
        .lock()
        .ok()
        .and_then(|u| u.get(token).cloned())
        .filter(|p| p.expires > std::time::Instant::now());
    let PendingUpload {
        oid, size, user, ..
    } = pending.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown, used or expired upload link",
        )
    })?;
    let temp = state.store.temp_path();
    let result = receive(&temp, body, size).await;
    let (received, digest) = match result {
        Ok(done) => done,
        Err(err) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(err);
        }
    };
    if received != size || digest != oid {
        let _ = tokio::fs::remove_file(&temp).await;
        tracing::warn!(%oid, received, %digest, "LFS upload rejected");
        return Err(ApiError::bad_request(format!(
            "uploaded content does not match LFS object {oid} ({size} bytes): got sha256 {digest}, {received} bytes"
        )));
    }
    state.store.adopt_blob(&temp, &oid)?;
    state.store.record_uploader(&user, &oid)?;
    if let Ok(mut uploads) = state.uploads.lock() {
        uploads.remove(token);
    }
    tracing::debug!(%oid, size, "LFS object stored");
    Ok(StatusCode::OK.into_response())
}

async fn receive(
    temp: &std::path::Path,
    body: Body,
    limit: u64,
) -> Result<(u64, String), ApiError> {
    let mut file = tokio::fs::File::create(temp)
        .await
        .map_err(HubError::io("creating", temp))?;
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("upload interrupted: {e}")))?;
        received += chunk.len() as u64;
        if received > limit {
            return Err(ApiError::bad_request(format!(
                "upload is larger than the announced {limit} bytes"
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(HubError::io("writing", temp))?;
    }
    file.sync_all()
        .await
        .map_err(HubError::io("syncing", temp))?;
    Ok((received, hex::encode(hasher.finalize())))
}

pub(super) async fn lfs_verify(ctx: Ctx, repo: RepoRef, body: Body) -> ApiResult {
    readable(&ctx, &repo)?;
    let user = ctx.require_user()?;
    let req: BatchObject = read_json(body, ctx.state.config.limits.small_body).await?;
    let stored = if BlobAccess::new(&ctx.state.store, user).may_link(&req.oid)? {
        ctx.state.store.blob_size(&req.oid)
    } else {
        None
    };
    match stored {
        Some(size) if size == req.size => Ok(lfs_json(json!({"oid": req.oid, "size": size}))),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("LFS object {} not stored", req.oid),
        )),
    }
}

/// Parses a single `bytes=S-[E]` range against a length; `Err` means unsatisfiable.
fn parse_range(value: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            (len.saturating_sub(n), len.checked_sub(1).ok_or(())?)
        }
        (s, "") => (s.parse().map_err(|_| ())?, len.checked_sub(1).ok_or(())?),
        (s, e) => (
            s.parse().map_err(|_| ())?,
            e.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1)),
        ),
    };
    if start >= len || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

pub(super) async fn resolve(
    ctx: Ctx,
    repo: RepoRef,
    rev: &str,
    path: &str,
    head_only: bool,
) -> ApiResult {
    validate_repo_path(path)?;
    let meta = readable(&ctx, &repo)?;
    let commit = resolve_rev(&ctx.state, &repo, &meta, rev)?;
    let file = commit
        .files
        .get(path)
        .ok_or_else(|| ApiError::entry_not_found(path, &commit.oid))?;
    let etag = if file.lfs {
        &file.sha256
    } else {
        &file.blob_id
    };
    let blob = ctx.state.store.blob_path(&file.sha256);
    let len = file.size;
    let range = match ctx.headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) => match parse_range(value, len) {
            Ok(range) => range,
            Err(()) => {
                let mut response = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!("range {value} outside 0..{len}"),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(response);
            }
        },
        None => None,
    };
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    let body_len = if len == 0 { 0 } else { end - start + 1 };
    let body = if head_only || body_len == 0 {
        Body::empty()
    } else {
        let mut reader = tokio::fs::File::open(&blob)
            .await
            .map_err(HubError::io("opening", &blob))?;
        reader
            .seek(SeekFrom::Start(start))
            .await
            .map_err(HubError::io("seeking", &blob))?;
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
            reader.take(body_len),
            256 << 10,
        ))
    };
    let mut response = Response::new(body);
    *response.status_mut() = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("x-repo-commit", commit.oid.clone());
    set("etag", format!("\"{etag}\""));
    if file.lfs {
        set("x-linked-etag", format!("\"{}\"", file.sha256));
        set("x-linked-size", file.size.to_string());
    }
    set("content-length", body_len.to_string());
    set("accept-ranges", "bytes".into());
    set("content-type", "application/octet-stream".into());
    if range.is_some() {
        set("content-range", format!("bytes {start}-{end}/{len}"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=10-", 100), Ok(Some((10, 99))));
        assert_eq!(parse_range("bytes=10-19", 100), Ok(Some((10, 19))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=10-500", 100), Ok(Some((10, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("items=1-2", 100), Ok(None));
    }
}
