//! Repository endpoints: create, delete, settings, info, tree, pre-upload and commit.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::store::{new_commit_oid, now_rfc3339, Commit, RepoMeta, StoredFile};
use super::transfer::BlobAccess;
use super::{ApiError, ApiResult, AppState, Ctx, RepoRef};
use crate::paths::{is_commit_id, is_sha256_hex, validate_repo_path, RepoType};
use futures_util::StreamExt;

/// The `.gitattributes` of a new repo, as on the real Hub (shortened): the LFS patterns.
const GITATTRIBUTES: &str = "*.bin filter=lfs diff=lfs merge=lfs -text\n\
*.safetensors filter=lfs diff=lfs merge=lfs -text\n\
*.pt filter=lfs diff=lfs merge=lfs -text\n\
*.gguf filter=lfs diff=lfs merge=lfs -text\n";

pub(super) async fn read_json<T: for<'de> Deserialize<'de>>(
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        // axum reports a body over the limit as "length limit exceeded".
        if e.to_string().contains("length limit") {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than this route's limit of {limit} bytes"),
            )
        } else {
            ApiError::bad_request(format!("cannot read request body: {e}"))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// The repo if the caller may see it; private repos look missing to everyone but the owner.
pub(super) fn readable(ctx: &Ctx, repo: &RepoRef) -> Result<RepoMeta, ApiError> {
    match ctx
        .state
        .store
        .repo(repo.kind, &repo.namespace, &repo.name)?
    {
        Some(meta) if !meta.private || ctx.user.as_deref() == Some(meta.owner.as_str()) => Ok(meta),
        _ => Err(ApiError::repo_not_found(&repo.id())),
    }
}

fn writable(ctx: &Ctx, repo: &RepoRef) -> Result<RepoMeta, ApiError> {
    let meta = readable(ctx, repo)?;
    let user = ctx.require_user()?;
    if user != meta.owner {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("You don't have the rights to write to {}", repo.id()),
        ));
    }
    Ok(meta)
}

/// Resolves `main` or a 40-hex commit id to the commit.
pub(super) fn resolve_rev(
    state: &AppState,
    repo: &RepoRef,
    meta: &RepoMeta,
    rev: &str,
) -> Result<Commit, ApiError> {
    let oid = if rev == "main" {
        meta.head.as_str()
    } else {
        rev
    };
    if !is_commit_id(oid) {
        return Err(ApiError::revision_not_found(rev));
    }
    state
        .store
        .commit(repo.kind, &repo.namespace, &repo.name, oid)?
        .ok_or_else(|| ApiError::revision_not_found(rev))
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    organization: Option<String>,
    visibility: Option<String>,
    private: Option<bool>,
    #[serde(rename = "type")]
    repo_type: Option<String>,
}

pub(super) async fn create(ctx: Ctx, body: Body) -> ApiResult {
    let user = ctx.require_user()?.to_string();
    let req: CreateBody = read_json(body, ctx.state.config.limits.small_body).await?;
    let kind = RepoType::parse(req.repo_type.as_deref())
        .ok_or_else(|| ApiError::bad_request("this hub stores model and dataset repos only"))?;
    let namespace = req.organization.unwrap_or_else(|| user.clone());
    let repo = RepoRef::new(kind, &namespace, &req.name).map_err(|_| {
        ApiError::bad_request(format!("invalid repo name {namespace}/{}", req.name))
    })?;
    if namespace != user {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("You can only create repos in your own namespace {user}"),
        ));
    }
    let private = match (req.visibility.as_deref(), req.private) {
        (Some("private"), _) => true,
        (Some("public"), _) => false,
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "unknown visibility {other:?}"
            )))
        }
        (None, private) => private.unwrap_or(false),
    };
    let url = format!("{}/{}{}", ctx.base_url, kind.url_prefix(), repo.id());
    let store = &ctx.state.store;
    let _guard = ctx.state.write_lock.lock().await;
    if store
        .repo(repo.kind, &repo.namespace, &repo.name)?
        .is_some()
    {
        let body = json!({"error": format!("You already created this {} repo", kind.as_str()),
                          "url": url});
        return Ok((StatusCode::CONFLICT, Json(body)).into_response());
    }
    let mut files = BTreeMap::new();
    files.insert(
        ".gitattributes".to_string(),
        store.put_inline(GITATTRIBUTES.as_bytes())?,
    );
    let created_at = now_rfc3339();
    let message = "initial commit".to_string();
    let oid = new_commit_oid(None, &message, &created_at, &files);
    let commit = Commit {
        oid: oid.clone(),
        parent: None,
        message,
        created_at: created_at.clone(),
        files,
    };
    let meta = RepoMeta {
        owner: user,
        private,
        created_at,
        head: oid,
    };
    // The commit first: a crash in between leaves an orphan commit file, never a dangling head.
    store.save_repo_dirs(repo.kind, &repo.namespace, &repo.name)?;
    store.save_commit(repo.kind, &repo.namespace, &repo.name, &commit)?;
    store.save_repo(repo.kind, &repo.namespace, &repo.name, &meta)?;
    tracing::info!(repo = %repo.id(), private, "repo created");
    Ok(Json(json!({"url": url, "name": repo.id(), "id": commit.oid})).into_response())
}

#[derive(Deserialize)]
struct DeleteBody {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    repo_type: Option<String>,
}

pub(super) async fn delete(ctx: Ctx, body: Body) -> ApiResult {
    let user = ctx.require_user()?.to_string();
    let req: DeleteBody = read_json(body, ctx.state.config.limits.small_body).await?;
    let kind = RepoType::parse(req.repo_type.as_deref())
        .ok_or_else(|| ApiError::bad_request("this hub stores model and dataset repos only"))?;
    let repo = RepoRef::new(kind, &req.organization.unwrap_or(user), &req.name)?;
    let _guard = ctx.state.write_lock.lock().await;
    writable(&ctx, &repo)?;
    ctx.state
        .store
        .delete_repo(repo.kind, &repo.namespace, &repo.name)?;
    tracing::info!(repo = %repo.id(), "repo deleted");
    Ok(Json(json!({})).into_response())
}

/// The settings this hub acts on (other keys the official client sends are ignored).
#[derive(Deserialize)]
struct SettingsBody {
    visibility: Option<String>,
    private: Option<bool>,
}

pub(super) async fn settings(ctx: Ctx, repo: RepoRef, body: Body) -> ApiResult {
    // Who asks is checked before a byte of the body is read.
    writable(&ctx, &repo)?;
    let req: SettingsBody = read_json(body, ctx.state.config.limits.small_body).await?;
    let private = match (req.visibility.as_deref(), req.private) {
        (Some("private"), _) => Some(true),
        (Some("public"), _) => Some(false),
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "unknown visibility {other:?}"
            )))
        }
        (None, private) => private,
    };
    let _guard = ctx.state.write_lock.lock().await;
    let mut meta = writable(&ctx, &repo)?;
    if let Some(private) = private {
        meta.private = private;
        ctx.state
            .store
            .save_repo(repo.kind, &repo.namespace, &repo.name, &meta)?;
        tracing::info!(repo = %repo.id(), private, "visibility changed");
    }
    Ok(Json(json!({})).into_response())
}

pub(super) async fn info(ctx: Ctx, repo: RepoRef, rev: &str) -> ApiResult {
    let meta = readable(&ctx, &repo)?;
    let commit = resolve_rev(&ctx.state, &repo, &meta, rev)?;
    let blobs = ctx.query.get("blobs").map(String::as_str) == Some("true");
    let siblings: Vec<Value> = commit
        .files
        .iter()
        .map(|(path, file)| {
            if !blobs {
                return json!({"rfilename": path});
            }
            let mut entry = json!({"rfilename": path, "size": file.size, "blobId": file.blob_id});
            if file.lfs {
                entry["lfs"] = json!({"sha256": file.sha256, "size": file.size,
                                      "pointerSize": file.pointer_size()});
            }
            entry
        })
        .collect();
    let used: u64 = commit.files.values().map(|f| f.size).sum();
    let mut answer = json!({
        "_id": commit.oid, "id": repo.id(), "author": meta.owner,
        "sha": commit.oid, "private": meta.private, "gated": false, "disabled": false,
        "lastModified": commit.created_at, "createdAt": meta.created_at,
        "tags": [], "downloads": 0, "likes": 0, "usedStorage": used, "siblings": siblings,
    });
    if repo.kind == RepoType::Model {
        answer["modelId"] = json!(repo.id());
    }
    Ok(Json(answer).into_response())
}

pub(super) async fn tree(ctx: Ctx, repo: RepoRef, rev: &str, dir: &str) -> ApiResult {
    let meta = readable(&ctx, &repo)?;
    let commit = resolve_rev(&ctx.state, &repo, &meta, rev)?;
    let recursive = ctx.query.get("recursive").map(String::as_str) == Some("true");
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    if !prefix.is_empty() && !commit.files.keys().any(|p| p.starts_with(&prefix)) {
        return Err(ApiError::entry_not_found(dir, &commit.oid));
    }
    let entries = tree_entries(&commit.files, &prefix, recursive);
    let page = ctx.state.config.tree_page_size.max(1);
    let start: usize = ctx
        .query
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let end = (start + page).min(entries.len());
    let body: Vec<Value> = entries.get(start..end).unwrap_or_default().to_vec();
    let mut response = Json(body).into_response();
    if end < entries.len() {
        let mut query: Vec<String> = ctx
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("cursor="))
            .map(str::to_string)
            .collect();
        query.push(format!("cursor={end}"));
        let link = format!(
            "<{}{}?{}>; rel=\"next\"",
            ctx.base_url,
            ctx.uri.path(),
            query.join("&")
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert("link", value);
        }
    }
    Ok(response)
}

/// Tree entries under `prefix`: files and directories, sorted by path.
fn tree_entries(files: &BTreeMap<String, StoredFile>, prefix: &str, recursive: bool) -> Vec<Value> {
    let mut dirs: BTreeMap<String, sha1::Sha1> = BTreeMap::new();
    let mut out: Vec<(String, Value)> = Vec::new();
    for (path, file) in files.range(prefix.to_string()..) {
        let Some(rest) = path.strip_prefix(prefix) else {
            break;
        };
        // Every ancestor directory below the prefix gets an oid derived from its content.
        let parts: Vec<&str> = rest.split('/').collect();
        for depth in 1..parts.len() {
            let dir = format!("{prefix}{}", parts[..depth].join("/"));
            use sha1::Digest;
            dirs.entry(dir)
                .or_default()
                .update(format!("{path}\0{}\n", file.blob_id));
        }
        if !recursive && parts.len() > 1 {
            continue;
        }
        let mut entry =
            json!({"type": "file", "oid": file.blob_id, "size": file.size, "path": path});
        if file.lfs {
            entry["lfs"] =
                json!({"oid": file.sha256, "size": file.size, "pointerSize": file.pointer_size()});
        }
        out.push((path.clone(), entry));
    }
    for (dir, hasher) in dirs {
        let depth = dir[prefix.len()..].split('/').count();
        if recursive || depth == 1 {
            use sha1::Digest;
            let oid = hex::encode(hasher.finalize());
            out.push((
                dir.clone(),
                json!({"type": "directory", "oid": oid, "size": 0, "path": dir}),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

#[derive(Deserialize)]
struct PreuploadBody {
    files: Vec<PreuploadFile>,
}

#[derive(Deserialize)]
struct PreuploadFile {
    path: String,
    size: u64,
}

pub(super) async fn preupload(ctx: Ctx, repo: RepoRef, rev: &str, body: Body) -> ApiResult {
    let meta = writable(&ctx, &repo)?;
    let commit = resolve_rev(&ctx.state, &repo, &meta, rev)?;
    let limits = &ctx.state.config.limits;
    let req: PreuploadBody = read_json(body, limits.list_body).await?;
    if req.files.len() > limits.objects_per_request {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} files in one pre-upload request; this hub accepts at most {}",
                req.files.len(),
                limits.objects_per_request
            ),
        ));
    }
    let threshold = ctx.state.config.inline_threshold;
    let mut files = Vec::with_capacity(req.files.len());
    for file in req.files {
        validate_repo_path(&file.path)?;
        let lfs = file.size >= threshold;
        let oid = commit
            .files
            .get(&file.path)
            .and_then(|existing| match (lfs, existing.lfs) {
                (true, true) => Some(existing.sha256.clone()),
                (false, false) => Some(existing.blob_id.clone()),
                _ => None,
            });
        files.push(
            json!({"path": file.path, "uploadMode": if lfs { "lfs" } else { "regular" },
                          "shouldIgnore": false, "oid": oid}),
        );
    }
    Ok(Json(json!({"files": files, "commitOid": commit.oid})).into_response())
}

/// One line of the commit NDJSON, typed: only the fields this hub uses are kept.
#[derive(Deserialize)]
struct Line {
    key: String,
    value: LineValue,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LineValue {
    summary: Option<String>,
    parent_commit: Option<String>,
    path: Option<String>,
    content: Option<String>,
    encoding: Option<String>,
    oid: Option<String>,
    algo: Option<String>,
    size: Option<u64>,
}

/// A commit operation, checked and with its inline content already stored.
enum Op {
    Header {
        parent: Option<String>,
    },
    File {
        path: String,
        stored: StoredFile,
    },
    LfsFile {
        path: String,
        oid: String,
        size: Option<u64>,
    },
    DeletedFile(String),
    DeletedFolder(String),
}

pub(super) async fn commit(ctx: Ctx, repo: RepoRef, rev: &str, body: Body) -> ApiResult {
    if ctx.query.contains_key("create_pr") {
        return Err(ApiError::bad_request(
            "pull requests are not supported by this hub",
        ));
    }
    if rev != "main" {
        return Err(ApiError::bad_request(format!(
            "commits go to branch main, not {rev:?}"
        )));
    }
    writable(&ctx, &repo)?;
    let state = ctx.state.clone();
    let (ops, summary) = read_commit(&state, body).await?;
    let _guard = state.write_lock.lock().await;
    let mut meta = writable(&ctx, &repo)?;
    let head = resolve_rev(&state, &repo, &meta, "main")?;
    let user = ctx.require_user()?;
    let mut files = head.files.clone();
    let mut access = BlobAccess::new(&state.store, user);
    for op in ops {
        apply_op(&state, &mut access, &mut files, &head.oid, op)?;
    }
    let created_at = now_rfc3339();
    let oid = new_commit_oid(Some(&head.oid), &summary, &created_at, &files);
    let commit = Commit {
        oid: oid.clone(),
        parent: Some(head.oid),
        message: summary.clone(),
        created_at,
        files,
    };
    state
        .store
        .save_commit(repo.kind, &repo.namespace, &repo.name, &commit)?;
    meta.head = oid.clone();
    state
        .store
        .save_repo(repo.kind, &repo.namespace, &repo.name, &meta)?;
    tracing::info!(repo = %repo.id(), commit = %oid, files = commit.files.len(), "commit");
    let url = format!(
        "{}/{}{}/commit/{oid}",
        ctx.base_url,
        repo.kind.url_prefix(),
        repo.id()
    );
    Ok(
        Json(json!({"success": true, "commitOid": oid, "commitUrl": url,
                   "commitMessage": summary, "pullRequestUrl": null}))
        .into_response(),
    )
}

/// Reads the commit NDJSON as it arrives, one line at a time: inline files are decoded and
/// stored as their line completes, so memory holds one line, never the whole body; the body
/// and the number of operations are bounded by the hub's limits.
async fn read_commit(state: &AppState, body: Body) -> Result<(Vec<Op>, String), ApiError> {
    let limits = &state.config.limits;
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let (mut scanned, mut total, mut number) = (0usize, 0u64, 0usize);
    let mut ops = Vec::new();
    let mut summary = String::from("Upload files");
    let mut ended = false;
    while !ended {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk
                    .map_err(|e| ApiError::bad_request(format!("cannot read commit body: {e}")))?;
                total += chunk.len() as u64;
                if total > limits.max_commit_bytes {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "commit body is larger than this hub's limit of {} bytes: upload \
                             large files through LFS",
                            limits.max_commit_bytes
                        ),
                    ));
                }
                buf.extend_from_slice(&chunk);
            }
            None => {
                ended = true;
                buf.push(b'\n');
            }
        }
        let mut consumed = 0;
        while let Some(at) = buf[scanned..].iter().position(|b| *b == b'\n') {
            let end = scanned + at;
            number += 1;
            let raw = &buf[consumed..end];
            if !raw.iter().all(u8::is_ascii_whitespace) {
                if ops.len() >= limits.max_commit_ops {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "more than {} operations in one commit",
                            limits.max_commit_ops
                        ),
                    ));
                }
                let line: Line = serde_json::from_slice(raw)
                    .map_err(|e| ApiError::bad_request(format!("commit line {number}: {e}")))?;
                if let Some(op) = parse_op(state, line, &mut summary)? {
                    ops.push(op);
                }
            }
            consumed = end + 1;
            scanned = consumed;
        }
        buf.drain(..consumed);
        scanned = buf.len();
    }
    Ok((ops, summary))
}

fn field(value: &Option<String>, key: &str) -> Result<String, ApiError> {
    value
        .clone()
        .ok_or_else(|| ApiError::bad_request(format!("commit operation without {key:?}")))
}

/// Checks one operation; stores an inline file's content.
fn parse_op(state: &AppState, line: Line, summary: &mut String) -> Result<Option<Op>, ApiError> {
    let value = line.value;
    let op = match line.key.as_str() {
        "header" => {
            if let Some(s) = value.summary {
                *summary = s;
            }
            Op::Header {
                parent: value.parent_commit,
            }
        }
        "file" => {
            let path = field(&value.path, "path")?;
            validate_repo_path(&path)?;
            let content = value
                .content
                .ok_or_else(|| ApiError::bad_request("commit operation without \"content\""))?;
            let bytes = match value.encoding.as_deref() {
                Some("base64") => base64::engine::general_purpose::STANDARD
                    .decode(&content)
                    .map_err(|e| ApiError::bad_request(format!("{path}: invalid base64: {e}")))?,
                _ => content.into_bytes(),
            };
            let stored = state.store.put_inline(&bytes)?;
            Op::File { path, stored }
        }
        "lfsFile" => {
            let path = field(&value.path, "path")?;
            validate_repo_path(&path)?;
            let oid = field(&value.oid, "oid")?;
            if value.algo.as_deref().unwrap_or("sha256") != "sha256" || !is_sha256_hex(&oid) {
                return Err(ApiError::bad_request(format!(
                    "{path}: LFS oid must be a sha256 hex"
                )));
            }
            Op::LfsFile {
                path,
                oid,
                size: value.size,
            }
        }
        "deletedFile" => Op::DeletedFile(field(&value.path, "path")?),
        "deletedFolder" => Op::DeletedFolder(field(&value.path, "path")?),
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown commit operation {other:?}"
            )))
        }
    };
    Ok(Some(op))
}

/// Applies one operation to the files of the new commit (under the write lock).
fn apply_op(
    state: &AppState,
    access: &mut BlobAccess<'_>,
    files: &mut BTreeMap<String, StoredFile>,
    head: &str,
    op: Op,
) -> Result<(), ApiError> {
    match op {
        Op::Header { parent } => {
            if let Some(parent) = parent {
                if parent != head {
                    return Err(ApiError::new(
                        StatusCode::PRECONDITION_FAILED,
                        format!("parent commit {parent} is not the head {head}"),
                    ));
                }
            }
        }
        Op::File { path, stored } => {
            if state.store.blob_size(&stored.sha256).is_none() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("{path}: content was collected while the commit was read; retry"),
                ));
            }
            files.insert(path, stored);
        }
        Op::LfsFile { path, oid, size } => {
            // Only the uploader, or a reader of a repo holding it, may link a blob; to anyone
            // else it does not exist.
            let stored = if access.may_link(&oid)? {
                state.store.blob_size(&oid)
            } else {
                None
            };
            let stored = stored.ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{path}: LFS object {oid} was not uploaded"),
                )
            })?;
            if let Some(size) = size {
                if size != stored {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("{path}: LFS object {oid} has {stored} bytes, commit says {size}"),
                    ));
                }
            }
            files.insert(path, StoredFile::lfs(oid, stored));
        }
        Op::DeletedFile(path) => {
            if files.remove(&path).is_none() {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("A file with this name doesn't exist: {path}"),
                ));
            }
        }
        Op::DeletedFolder(path) => {
            let prefix = format!("{}/", path.trim_end_matches('/'));
            let before = files.len();
            files.retain(|p, _| !p.starts_with(&prefix));
            if files.len() == before {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("A folder with this name doesn't exist: {path}"),
                ));
            }
        }
    }
    Ok(())
}
