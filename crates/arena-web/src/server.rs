//! The HTTP side: the JSON API and the page, whose assets are compiled into the binary.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::{Sources, WebError};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// The leaderboard's routes: `GET /` (the page), `/assets/app.js`, `/assets/style.css`,
/// `/api/standings` and `/api/history`. API errors are `502` with `{"error": "..."}`.
pub fn router(src: Arc<Sources>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/api/standings", get(api_standings))
        .route("/api/history", get(api_history))
        .with_state(src)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then finishes open requests,
/// within the connection limits and timeouts of [`arena_net`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    src: Arc<Sources>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, netuid = src.netuid, "leaderboard listening");
    }
    arena_net::serve(listener, router(src), serve_limits(), shutdown).await
}

/// The page and the API take no request bodies: 64 KiB at most; otherwise the shared
/// defaults of [`arena_net::Limits`].
fn serve_limits() -> arena_net::Limits {
    arena_net::Limits {
        max_body_bytes: Some(64 << 10),
        ..arena_net::Limits::default()
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn json_or_error<T: serde::Serialize>(result: Result<T, WebError>) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    match result {
        Ok(doc) => (no_store, Json(doc)).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "leaderboard request failed");
            let body = serde_json::json!({ "error": e.to_string() });
            (StatusCode::BAD_GATEWAY, no_store, Json(body)).into_response()
        }
    }
}

async fn api_standings(State(src): State<Arc<Sources>>) -> Response {
    json_or_error(crate::standings(&src).await)
}

async fn api_history(State(src): State<Arc<Sources>>) -> Response {
    json_or_error(crate::history(&src).await)
}
