//! `arena hub serve`: the Hugging Face Hub HTTP API subset that publishing and downloading
//! models uses, over an on-disk [`store::Store`].
//!
//! Requests are dispatched by hand from the decoded path segments (repo ids and revisions carry
//! `/` and `%2F`), each handler returns `Result<Response, ApiError>`, and every error carries the
//! `X-Error-Code` / `X-Error-Message` headers the official client classifies errors by.

mod repo;
pub mod store;
mod transfer;
pub mod users;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use crate::error::{HubError, Result};
use crate::paths::RepoType;
use store::Store;

/// Files at least this large are uploaded through LFS by default (10 MiB, as the real Hub).
pub const DEFAULT_INLINE_THRESHOLD: u64 = 10 * 1024 * 1024;

/// An account given in code or in a legacy users file: a name and its token in clear (hashed
/// when the server starts; see [`users`] for the accounts file under the storage root).
#[derive(Deserialize, Debug, Clone)]
pub struct User {
    /// User name, also the namespace of the user's repos.
    pub name: String,
    /// Bearer token.
    pub token: String,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Storage root.
    pub root: PathBuf,
    /// Fixed accounts (tokens in clear, compared by hash like every other).
    pub users: Vec<User>,
    /// Users files (see [`users`]), re-read while serving when they change. Default: the
    /// accounts file under `root` (`users.toml`, absent until `arena hub user add`).
    pub users_files: Vec<PathBuf>,
    /// Files of at least this many bytes are marked `lfs` in the pre-upload answer.
    pub inline_threshold: u64,
    /// Entries per page of a tree listing.
    pub tree_page_size: usize,
    /// Base URL put in answers (`url`, `commitUrl`, LFS hrefs). The `Host` header is never
    /// used: without this, [`serve`] uses `http://<listener address>`.
    pub public_url: Option<String>,
    /// Resource limits of the requests.
    pub limits: Limits,
}

/// What one request may cost the hub; every field has a default suited to model repos.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest body of the small JSON routes (create, delete, settings, verify).
    pub small_body: usize,
    /// Largest body of a pre-upload or LFS batch request.
    pub list_body: usize,
    /// Most files in one pre-upload request and objects in one LFS batch request.
    pub objects_per_request: usize,
    /// Largest LFS object accepted for upload, in bytes.
    pub max_object_size: u64,
    /// Largest commit body (inline files travel base64-encoded inside it), in bytes.
    pub max_commit_bytes: u64,
    /// Most operations in one commit.
    pub max_commit_ops: usize,
    /// How long an LFS upload link stays valid.
    pub upload_token_ttl: std::time::Duration,
    /// Most unexpired upload links one user may hold.
    pub pending_uploads_per_user: usize,
    /// Blobs referenced by no commit are deleted once older than this.
    pub blob_grace: std::time::Duration,
    /// How often unreferenced blobs are looked for.
    pub gc_interval: std::time::Duration,
    /// What the datasets-server routes (`/splits`, `/size`, `/rows`) may cost.
    pub datasets: crate::datasets_server::DatasetsLimits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            small_body: 64 << 10,
            list_body: 4 << 20,
            objects_per_request: 1000,
            max_object_size: 64 << 30,
            max_commit_bytes: 256 << 20,
            max_commit_ops: 100_000,
            upload_token_ttl: std::time::Duration::from_secs(3600),
            pending_uploads_per_user: 10_000,
            blob_grace: std::time::Duration::from_secs(24 * 3600),
            gc_interval: std::time::Duration::from_secs(3600),
            datasets: crate::datasets_server::DatasetsLimits::default(),
        }
    }
}

impl ServerConfig {
    /// Defaults for everything but the root and the users.
    pub fn new(root: PathBuf, users: Vec<User>) -> ServerConfig {
        ServerConfig {
            users_files: vec![users::users_file(&root)],
            root,
            users,
            inline_threshold: DEFAULT_INLINE_THRESHOLD,
            tree_page_size: 1000,
            public_url: None,
            limits: Limits::default(),
        }
    }
}

/// Shared state of the handlers.
pub(crate) struct AppState {
    pub store: Store,
    pub config: ServerConfig,
    accounts: users::Accounts,
    /// Serialises every metadata write (create, commit, settings, delete).
    pub write_lock: tokio::sync::Mutex<()>,
    /// Pending LFS uploads by upload token.
    pub uploads: std::sync::Mutex<HashMap<String, transfer::PendingUpload>>,
    /// Indexes of dataset commits for the datasets-server routes.
    pub datasets_cache: crate::datasets_server::server::SharedIndexCache,
}

type St = Arc<AppState>;

/// Builds the HTTP service over the store at `config.root`.
pub fn router(config: ServerConfig) -> Result<axum::Router> {
    let store = Store::open(&config.root)?;
    let fixed = config
        .users
        .iter()
        .map(|u| users::Account {
            name: u.name.clone(),
            token_sha256: users::token_sha256(&u.token),
        })
        .collect();
    let accounts = users::Accounts::load(fixed, config.users_files.clone())?;
    let state = Arc::new(AppState {
        store,
        config,
        accounts,
        write_lock: tokio::sync::Mutex::new(()),
        uploads: std::sync::Mutex::new(HashMap::new()),
        datasets_cache: Default::default(),
    });
    // Unreferenced blobs are collected while the router lives (when built inside a runtime).
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(collect_garbage_every(Arc::downgrade(&state)));
    }
    Ok(axum::Router::new().fallback(dispatch).with_state(state))
}

/// Collects unreferenced blobs every `gc_interval`, under the write lock, until the state is
/// dropped.
async fn collect_garbage_every(state: std::sync::Weak<AppState>) {
    loop {
        let Some(interval) = state.upgrade().map(|s| s.config.limits.gc_interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let _guard = state.write_lock.lock().await;
        let (store, grace) = (state.store.clone(), state.config.limits.blob_grace);
        match tokio::task::spawn_blocking(move || store.collect_garbage(grace)).await {
            Ok(Ok(report)) if report.blobs + report.temps > 0 => {
                tracing::info!(
                    blobs = report.blobs,
                    bytes = report.bytes,
                    temps = report.temps,
                    "unreferenced blobs collected"
                )
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "garbage collection failed"),
            Err(err) => tracing::warn!(error = %err, "garbage collection task failed"),
        }
    }
}

/// Serves on an already bound listener until the task is dropped (tests bind port 0 first).
pub async fn serve(listener: tokio::net::TcpListener, mut config: ServerConfig) -> Result<()> {
    let addr = listener.local_addr().ok();
    if let (None, Some(addr)) = (&config.public_url, addr) {
        config.public_url = Some(format!("http://{addr}"));
    }
    let app = router(config)?;
    tracing::info!(?addr, "hub listening");
    arena_net::serve(listener, app, serve_limits(), std::future::pending())
        .await
        .map_err(HubError::io("serving on", "listener"))
}

/// Connection limits of the hub: uploads are large and read before the answer, so no
/// server-wide body cap or request timeout (routes cap their own bodies); a body that
/// stalls for 30 s fails.
fn serve_limits() -> arena_net::Limits {
    arena_net::Limits {
        max_body_bytes: None,
        request_timeout: None,
        ..arena_net::Limits::default()
    }
}

/// An HTTP error in the shape the Hub clients expect.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: Option<&'static str>,
    message: String,
    repo_commit: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: None,
            message: message.into(),
            repo_commit: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn repo_not_found(repo: &str) -> ApiError {
        ApiError {
            code: Some("RepoNotFound"),
            ..ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Repository not found: {repo}"),
            )
        }
    }
    pub fn revision_not_found(revision: &str) -> ApiError {
        ApiError {
            code: Some("RevisionNotFound"),
            ..ApiError::new(StatusCode::NOT_FOUND, format!("Invalid rev id: {revision}"))
        }
    }
    pub fn entry_not_found(path: &str, commit: &str) -> ApiError {
        ApiError {
            code: Some("EntryNotFound"),
            repo_commit: Some(commit.to_string()),
            ..ApiError::new(StatusCode::NOT_FOUND, format!("Entry not found: {path}"))
        }
    }
}

impl From<HubError> for ApiError {
    fn from(err: HubError) -> ApiError {
        match err {
            HubError::InvalidPath { .. } | HubError::InvalidRepoId(_) => {
                ApiError::bad_request(err.to_string())
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(code) = self.code {
            headers.insert("x-error-code", HeaderValue::from_static(code));
        }
        let printable: String = self
            .message
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&printable) {
            headers.insert("x-error-message", value);
        }
        if let Some(commit) = self
            .repo_commit
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert("x-repo-commit", commit);
        }
        response
    }
}

pub(crate) type ApiResult = std::result::Result<Response, ApiError>;

/// What every handler gets: state, the caller, the base URL, the query and the body.
pub(crate) struct Ctx {
    pub state: St,
    pub user: Option<String>,
    pub base_url: String,
    pub query: HashMap<String, String>,
    pub uri: Uri,
    pub headers: HeaderMap,
}

impl Ctx {
    pub fn require_user(&self) -> std::result::Result<&str, ApiError> {
        self.user.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "A token is required for this operation",
            )
        })
    }
}

fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> std::result::Result<Option<String>, ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match token.and_then(|t| state.accounts.user_of(t)) {
        Some(name) => Ok(Some(name)),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid credentials in Authorization header",
        )),
    }
}

async fn dispatch(
    State(state): State<St>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match route(state, method.clone(), uri.clone(), headers, body).await {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(%method, %uri, status = %err.status, message = %err.message, "request failed");
            err.into_response()
        }
    }
}

async fn route(state: St, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> ApiResult {
    let segments: Vec<String> = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let query = parse_query(uri.query().unwrap_or(""));
    // Upload hrefs authorise by their token, and carry no Authorization header.
    if let ["api", "lfs-upload", token] = strs(&segments).as_slice() {
        if method == Method::PUT {
            return transfer::lfs_put(state, token, body).await;
        }
    }
    let user = authenticate(&state, &headers)?;
    // Never the Host header: a client must not choose the links handed to others.
    let base_url = match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => "http://localhost".to_string(),
    };
    let ctx = Ctx {
        state,
        user,
        base_url,
        query,
        uri,
        headers,
    };
    let segs = strs(&segments);
    match (method, segs.as_slice()) {
        (Method::POST, ["api", "validate-yaml"]) => {
            Ok(axum::Json(serde_json::json!({"errors": [], "warnings": []})).into_response())
        }
        (Method::GET, ["api", "whoami-v2"]) => {
            let name = ctx.require_user()?;
            Ok(axum::Json(serde_json::json!({"type": "user", "name": name})).into_response())
        }
        (Method::POST, ["api", "repos", "create"]) => repo::create(ctx, body).await,
        (Method::DELETE, ["api", "repos", "delete"]) => repo::delete(ctx, body).await,
        (m, ["api", kind @ ("models" | "datasets"), ns, name, rest @ ..]) => {
            let kind = if *kind == "models" {
                RepoType::Model
            } else {
                RepoType::Dataset
            };
            let repo = RepoRef::new(kind, ns, name)?;
            match (m, rest) {
                (Method::GET, []) => repo::info(ctx, repo, "main").await,
                (Method::GET, ["revision", rev]) => repo::info(ctx, repo, rev).await,
                (Method::GET, ["tree", rev, path @ ..]) => {
                    repo::tree(ctx, repo, rev, &path.join("/")).await
                }
                (Method::POST, ["preupload", rev]) => repo::preupload(ctx, repo, rev, body).await,
                (Method::POST, ["commit", rev]) => repo::commit(ctx, repo, rev, body).await,
                (Method::PUT, ["settings"]) => repo::settings(ctx, repo, body).await,
                (Method::GET, ["xet-write-token", ..]) => Ok(xet_write_token(&ctx)),
                (_, [kind, ..]) if kind.starts_with("xet-") => Err(xet_refused()),
                _ => Err(not_found()),
            }
        }
        (_, [XET_UNSUPPORTED, ..]) => Err(xet_refused()),
        (Method::POST, ["datasets", ns, name_git, "info", "lfs", "objects", action]) => {
            let name = name_git.strip_suffix(".git").ok_or_else(not_found)?;
            let repo = RepoRef::new(RepoType::Dataset, ns, name)?;
            match *action {
                "batch" => transfer::lfs_batch(ctx, repo, body).await,
                "verify" => transfer::lfs_verify(ctx, repo, body).await,
                _ => Err(not_found()),
            }
        }
        (Method::POST, [ns, name_git, "info", "lfs", "objects", action]) => {
            let name = name_git.strip_suffix(".git").ok_or_else(not_found)?;
            let repo = RepoRef::new(RepoType::Model, ns, name)?;
            match *action {
                "batch" => transfer::lfs_batch(ctx, repo, body).await,
                "verify" => transfer::lfs_verify(ctx, repo, body).await,
                _ => Err(not_found()),
            }
        }
        (m @ (Method::GET | Method::HEAD), ["datasets", ns, name, "resolve", rev, path @ ..])
            if !path.is_empty() =>
        {
            let repo = RepoRef::new(RepoType::Dataset, ns, name)?;
            transfer::resolve(ctx, repo, rev, &path.join("/"), m == Method::HEAD).await
        }
        (Method::GET, [route @ ("splits" | "size" | "rows")]) => {
            crate::datasets_server::server::answer(ctx, route).await
        }
        (m @ (Method::GET | Method::HEAD), [ns, name, "resolve", rev, path @ ..])
            if !path.is_empty() =>
        {
            let repo = RepoRef::new(RepoType::Model, ns, name)?;
            transfer::resolve(ctx, repo, rev, &path.join("/"), m == Method::HEAD).await
        }
        _ => Err(not_found()),
    }
}

/// The repo if the caller may read it (for the datasets-server routes).
pub(crate) fn repo_readable(
    ctx: &Ctx,
    repo: &RepoRef,
) -> std::result::Result<store::RepoMeta, ApiError> {
    repo::readable(ctx, repo)
}

fn strs(segments: &[String]) -> Vec<&str> {
    segments.iter().map(String::as_str).collect()
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not found")
}

/// The answer to Xet token requests: this hub stores large files through Git LFS only.
fn xet_refused() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "This hub does not support Xet storage: set HF_HUB_DISABLE_XET=1 so that huggingface_hub \
         uploads large files through Git LFS",
    )
}

/// Path prefix of the pseudo CAS URL handed to Xet clients (see [`xet_write_token`]).
const XET_UNSUPPORTED: &str = "xet-unsupported-set-HF_HUB_DISABLE_XET=1";

/// Answers the Xet write-token request with a CAS URL on this server whose path names the fix.
///
/// `hf_xet` reports a failed token request with its status and URL only, never the body, so an
/// error here would not tell the user what to do. Its CAS requests then fail against this
/// server with an error that quotes the URL, and with it `HF_HUB_DISABLE_XET=1`.
fn xet_write_token(ctx: &Ctx) -> Response {
    let cas_url = format!("{}/{XET_UNSUPPORTED}", ctx.base_url);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or(0);
    let mut response = axum::Json(serde_json::json!({
        "accessToken": "xet-is-not-supported-by-this-hub", "exp": exp, "casUrl": cas_url,
    }))
    .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-xet-cas-url", cas_url),
        (
            "x-xet-access-token",
            "xet-is-not-supported-by-this-hub".to_string(),
        ),
        ("x-xet-token-expiration", exp.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// A validated `namespace/name` of one kind (model or dataset).
#[derive(Debug, Clone)]
pub(crate) struct RepoRef {
    pub kind: RepoType,
    pub namespace: String,
    pub name: String,
}

impl RepoRef {
    pub fn new(
        kind: RepoType,
        namespace: &str,
        name: &str,
    ) -> std::result::Result<RepoRef, ApiError> {
        let id = format!("{namespace}/{name}");
        crate::paths::split_repo_id(&id).map_err(|_| ApiError::repo_not_found(&id))?;
        Ok(RepoRef {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
