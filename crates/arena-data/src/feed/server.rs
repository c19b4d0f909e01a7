//! The feed's HTTP server (axum).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::batch::{BatchError, BatchLimits};
use crate::error::DataError;
use crate::feed::store::{FeedStore, Retention};
use crate::feed::{FeedPage, IngestStats};

/// Default and largest page size of `GET /v1/batches`.
pub const MAX_PAGE: usize = 100;

/// Shared state of a running feed.
pub struct FeedState {
    store: FeedStore,
    limits: BatchLimits,
    retention: Retention,
    stats: Mutex<IngestStats>,
}

impl FeedState {
    /// A feed over `store` that refuses batches beyond `limits` and keeps batches for the
    /// default [`Retention`].
    pub fn new(store: FeedStore, limits: BatchLimits) -> Arc<FeedState> {
        FeedState::with_retention(store, limits, Retention::default())
    }

    /// A feed that prunes its store by `retention` while it runs.
    pub fn with_retention(
        store: FeedStore,
        limits: BatchLimits,
        retention: Retention,
    ) -> Arc<FeedState> {
        Arc::new(FeedState {
            store,
            limits,
            retention,
            stats: Mutex::new(IngestStats::default()),
        })
    }

    /// How long this feed keeps batches.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// The ingest counters so far.
    pub fn stats(&self) -> IngestStats {
        self.stats_mut().clone()
    }

    /// The store behind the feed.
    pub fn store(&self) -> &FeedStore {
        &self.store
    }

    fn stats_mut(&self) -> std::sync::MutexGuard<'_, IngestStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The feed's routes.
pub fn router(state: Arc<FeedState>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/stats", get(stats))
        .route("/v1/batches", get(list).post(publish))
        .with_state(state)
}

/// Serves the feed on `listener` until `shutdown` resolves, pruning the store by the state's
/// [`Retention`] at start and then every `retention.every`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<FeedState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DataError> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, retention = ?state.retention, "data feed listening");
    let pruner = tokio::spawn(prune_loop(state.clone()));
    let served = arena_net::serve(listener, router(state), serve_limits(), shutdown)
        .await
        .map_err(|e| DataError::Http {
            url: addr.map(|a| a.to_string()).unwrap_or_default(),
            reason: e.to_string(),
        });
    pruner.abort();
    served
}

/// The shared timeouts and connection limit of [`arena_net::Limits`]; no server-wide body
/// cap because `POST /v1/batches` caps (and counts) its own at the batch limit and the other
/// routes read no body.
fn serve_limits() -> arena_net::Limits {
    arena_net::Limits {
        max_body_bytes: None,
        ..arena_net::Limits::default()
    }
}

/// Applies the retention now and then every `retention.every`; a failed prune is logged and
/// tried again at the next tick.
async fn prune_loop(state: Arc<FeedState>) {
    let every = state
        .retention
        .every
        .max(std::time::Duration::from_millis(10));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let s = state.clone();
        let pruned =
            tokio::task::spawn_blocking(move || s.store.prune(&s.retention, crate::now_ms())).await;
        match pruned {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(pruned = n, "old feed batches deleted"),
            Ok(Err(err)) => tracing::warn!(%err, "pruning the feed failed; retrying later"),
            Err(err) => tracing::warn!(%err, "pruning task failed; retrying later"),
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn stats(State(state): State<Arc<FeedState>>) -> Json<IngestStats> {
    Json(state.stats())
}

async fn publish(State(state): State<Arc<FeedState>>, headers: HeaderMap, body: Body) -> Response {
    let cap = state.limits.max_bytes;
    let oversize = |state: &FeedState| {
        state.stats_mut().oversize += 1;
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("batch over the {cap}-byte limit"),
        )
    };
    // Refuse early on a declared length; otherwise stop reading at the cap.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap as u64) {
        return oversize(&state);
    }
    let bytes = match axum::body::to_bytes(body, cap).await {
        Ok(bytes) => bytes,
        Err(err) if is_length_limit(&err) => return oversize(&state),
        Err(err) => {
            // The client stalled (body read timeout) or went away.
            state.stats_mut().malformed += 1;
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!("reading the batch: {err}"),
            );
        }
    };
    // Parsing and the signature check are CPU work: off the async runtime.
    let limits = state.limits;
    let parsed =
        tokio::task::spawn_blocking(move || crate::batch::Batch::parse_verified(&bytes, &limits))
            .await;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            tracing::error!(%err, "batch verification task failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string());
        }
    };
    let batch = match parsed {
        Ok(batch) => batch,
        Err(BatchError::BadSignature(producer)) => {
            state.stats_mut().bad_signature += 1;
            return error(
                StatusCode::UNAUTHORIZED,
                format!("signature of batch from {producer} does not verify"),
            );
        }
        Err(BatchError::TooLarge { .. }) => return oversize(&state),
        Err(err) => {
            state.stats_mut().malformed += 1;
            return error(StatusCode::BAD_REQUEST, err.to_string());
        }
    };
    let now = crate::now_ms();
    match state.store.insert(&batch, now) {
        Ok(stored) => {
            {
                let mut stats = state.stats_mut();
                if stored.duplicate {
                    stats.duplicates += 1;
                } else {
                    stats.stored += 1;
                }
            }
            tracing::debug!(producer = %batch.producer, cursor = stored.cursor, samples = batch.samples.len(), "batch stored");
            let status = if stored.duplicate {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            (
                status,
                Json(serde_json::json!({ "cursor": stored.cursor, "duplicate": stored.duplicate })),
            )
                .into_response()
        }
        Err(err) => {
            tracing::error!(%err, "storing batch failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
        }
    }
}

/// Whether a body read failed on the length cap (rather than a stall or a disconnect).
fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Query of `GET /v1/batches`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    since: Option<u64>,
    from: Option<u64>,
    to: Option<u64>,
    limit: Option<usize>,
}

async fn list(State(state): State<Arc<FeedState>>, Query(q): Query<ListQuery>) -> Response {
    let limit = q.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let since = q.since.unwrap_or(0);
    let result = match (q.from, q.to) {
        (None, None) => state.store.since(since, limit),
        (from, to) => state
            .store
            .range(from.unwrap_or(0), to.unwrap_or(u64::MAX), limit),
    };
    match result {
        Ok(items) => {
            let next_cursor = items
                .iter()
                .map(|i| i.cursor)
                .max()
                .unwrap_or(since)
                .max(since);
            Json(FeedPage { items, next_cursor }).into_response()
        }
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}
