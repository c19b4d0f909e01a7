//! JSON-RPC to a Subtensor node over WebSocket (`ws://`, `wss://`) or HTTP, with a timeout on
//! every request, bounded response sizes and reconnection with backoff when the socket drops.

use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::client::{ClientT, Error as ClientError, Subscription, SubscriptionClientT};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde_json::Value as Json;
use tokio::sync::Mutex;

use crate::error::{Error, Result};

/// Largest JSON-RPC response accepted (metadata is ~300 KB hex-doubled; a 1024-uid
/// metagraph a few hundred KB).
pub const MAX_RESPONSE_BYTES: u32 = 32 << 20;

/// Reconnection attempts after a dropped socket, with doubling backoff from 250 ms.
const RECONNECT_ATTEMPTS: u32 = 5;

// Held behind an `Arc`, one per connection: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Conn {
    Ws(WsClient),
    Http(HttpClient),
}

/// A JSON-RPC connection that reconnects.
pub(crate) struct Rpc {
    url: String,
    timeout: Duration,
    conn: Mutex<Option<Arc<Conn>>>,
}

impl Rpc {
    /// A client of `url` (`ws://`, `wss://`, `http://`, `https://`) that connects on first
    /// use.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Rpc> {
        let lower = url.to_ascii_lowercase();
        if !["ws://", "wss://", "http://", "https://"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            return Err(Error::Endpoint {
                url: url.to_string(),
                reason: "expected ws://, wss://, http:// or https://".into(),
            });
        }
        Ok(Rpc {
            url: url.to_string(),
            timeout,
            conn: Mutex::new(None),
        })
    }

    /// The endpoint.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    async fn open(&self) -> Result<Conn> {
        let transport = |e: ClientError| Error::Transport(format!("{}: {e}", self.url));
        if self.url.starts_with("http") {
            let client = HttpClientBuilder::default()
                .request_timeout(self.timeout)
                .max_response_size(MAX_RESPONSE_BYTES)
                .build(&self.url)
                .map_err(transport)?;
            return Ok(Conn::Http(client));
        }
        let build = WsClientBuilder::default()
            .request_timeout(self.timeout)
            .connection_timeout(self.timeout)
            .max_response_size(MAX_RESPONSE_BYTES)
            .build(&self.url);
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), build).await {
            Ok(Ok(client)) => Ok(Conn::Ws(client)),
            Ok(Err(e)) => Err(transport(e)),
            Err(_) => Err(Error::Timeout {
                what: format!("connecting to {}", self.url),
                secs: self.timeout.as_secs(),
            }),
        }
    }

    /// The live connection, reconnecting (with backoff) when there is none or it dropped.
    async fn conn(&self) -> Result<Arc<Conn>> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            let alive = match c.as_ref() {
                Conn::Ws(ws) => ws.is_connected(),
                Conn::Http(_) => true,
            };
            if alive {
                return Ok(c.clone());
            }
            tracing::warn!(url = %self.url, "connection to the Subtensor node dropped; reconnecting");
        }
        *guard = None;
        let mut delay = Duration::from_millis(250);
        let mut last = None;
        for attempt in 0..RECONNECT_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            match self.open().await {
                Ok(c) => {
                    let c = Arc::new(c);
                    *guard = Some(c.clone());
                    return Ok(c);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Transport(format!("{}: cannot connect", self.url))))
    }

    async fn drop_conn(&self) {
        *self.conn.lock().await = None;
    }

    /// One request; transport failures reconnect and retry (reads are idempotent), JSON-RPC
    /// errors are returned as [`Error::Rpc`].
    pub(crate) async fn request(&self, method: &str, params: Vec<Json>) -> Result<Json> {
        let mut last = None;
        for _ in 0..2 {
            let conn = self.conn().await?;
            let mut p = ArrayParams::new();
            for v in &params {
                p.insert(v).map_err(|e| Error::Encode(e.to_string()))?;
            }
            let call = async {
                match conn.as_ref() {
                    Conn::Ws(c) => c.request::<Json, _>(method, p).await,
                    Conn::Http(c) => c.request::<Json, _>(method, p).await,
                }
            };
            match tokio::time::timeout(self.timeout + Duration::from_secs(1), call).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(ClientError::Call(e))) => {
                    return Err(Error::Rpc {
                        method: method.to_string(),
                        code: e.code(),
                        message: e.message().to_string(),
                    })
                }
                Ok(Err(ClientError::ParseError(e))) => {
                    return Err(Error::Response {
                        method: method.to_string(),
                        reason: e.to_string(),
                    })
                }
                Ok(Err(ClientError::RequestTimeout)) | Err(_) => {
                    return Err(Error::Timeout {
                        what: method.to_string(),
                        secs: self.timeout.as_secs(),
                    })
                }
                Ok(Err(e)) => {
                    tracing::debug!(method, error = %e, "request failed; reconnecting");
                    last = Some(Error::Transport(format!("{}: {method}: {e}", self.url)));
                    self.drop_conn().await;
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Transport(self.url.clone())))
    }

    /// A subscription (WebSocket only), e.g. `author_submitAndWatchExtrinsic`.
    pub(crate) async fn subscribe(
        &self,
        method: &str,
        params: Vec<Json>,
        unsubscribe: &str,
    ) -> Result<Subscription<Json>> {
        let conn = self.conn().await?;
        let Conn::Ws(ws) = conn.as_ref() else {
            return Err(Error::Unsupported(format!(
                "{method} over HTTP (use a ws:// or wss:// endpoint)"
            )));
        };
        let mut p = ArrayParams::new();
        for v in &params {
            p.insert(v).map_err(|e| Error::Encode(e.to_string()))?;
        }
        match tokio::time::timeout(self.timeout, ws.subscribe(method, p, unsubscribe)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(ClientError::Call(e))) => Err(Error::Rpc {
                method: method.to_string(),
                code: e.code(),
                message: e.message().to_string(),
            }),
            Ok(Err(e)) => Err(Error::Transport(format!("{}: {method}: {e}", self.url))),
            Err(_) => Err(Error::Timeout {
                what: method.to_string(),
                secs: self.timeout.as_secs(),
            }),
        }
    }
}
