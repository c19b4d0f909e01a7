//! Serving HTTP/1.1 with limits, for every server of the workspace (hub, chain JSON-RPC, data
//! feed, leaderboard, validator metrics).
//!
//! [`serve`] (an axum [`Router`]) and [`serve_service`] (any tower service, e.g. jsonrpsee's)
//! run an accept loop over hyper's HTTP/1 connection builder with a [`TokioTimer`] and the
//! tower-http layers, so a client cannot hold the server by being slow, idle or large:
//!
//! - **header read timeout** ([`Limits::header_read_timeout`]): hyper starts this timer as
//!   soon as a connection waits for a request head, so it bounds both a slowly sent head and
//!   the idle time of a kept-alive connection (the idle timeout);
//! - **body read timeout** ([`Limits::body_read_timeout`], tower-http `RequestBodyTimeoutLayer`):
//!   a request body that delivers nothing for this long fails, so a client that declares a
//!   large `Content-Length` and then goes silent releases its handler;
//! - **request timeout** ([`Limits::request_timeout`], tower-http `TimeoutLayer`): time from
//!   the request head to the response head; answers `408`;
//! - **request size** ([`Limits::max_body_bytes`], tower-http `RequestBodyLimitLayer`): a
//!   declared length above it is answered `413` before any byte is read; routes may set
//!   smaller caps of their own; the head is capped by [`Limits::max_header_bytes`];
//! - **write timeout** ([`Limits::write_timeout`]): a response write blocked this long on a
//!   client that does not read fails and closes the connection;
//! - **connection limit** ([`Limits::max_connections`]): when a new connection would exceed
//!   it, the connection that has been idle the longest (no request in progress, including one
//!   still sending its head) is closed to make room; when every connection is busy, the new one
//!   is closed instead. Running out of file descriptors on accept is handled the same way.
//!
//! [`probe::SlowClients`] opens the idle and half-sent connections the tests and the load
//! test hold against a server.

pub mod probe;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// Boxed error of services and bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future of one request on a connection.
type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

/// A year: stands for "no limit" where a layer needs a duration.
const NO_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The limits of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; beyond it the longest-idle connection is shed.
    pub max_connections: usize,
    /// Time allowed for a complete request head, counted from when the connection starts
    /// waiting for it (so also the keep-alive idle timeout).
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_read_timeout: Duration,
    /// Longest time from a request head to its response head (`408` after); `None`: no limit
    /// (servers that read large uploads before answering).
    pub request_timeout: Option<Duration>,
    /// Largest request body; `None`: no server-wide cap (routes cap their own bodies).
    pub max_body_bytes: Option<usize>,
    /// Largest request head (request line and headers), at least 8 KiB.
    pub max_header_bytes: usize,
    /// Longest a write may stay blocked on a client that does not read (a stalled download
    /// closes the connection after it).
    pub write_timeout: Duration,
}

impl Default for Limits {
    /// 256 connections, 10 s for a head (and idle), 30 s between body reads, 60 s to a
    /// response head, 1 MiB bodies, 64 KiB heads, 30 s for a blocked write.
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            request_timeout: Some(Duration::from_secs(60)),
            max_body_bytes: Some(1 << 20),
            max_header_bytes: 64 << 10,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then lets open
/// requests finish (bounded by the limits' timeouts). Handlers may extract
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_service(listener, router, limits, shutdown).await
}

/// [`serve`] for any tower service taking an axum [`Body`] (jsonrpsee's tower service, an
/// axum router with state applied, ...). Each request carries `ConnectInfo<SocketAddr>`.
pub async fn serve_service<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let registry = Arc::new(Registry::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(limits.max_header_bytes.max(8192));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of descriptors (or another transient failure): make room and retry.
                tracing::warn!(%err, "accept failed; shedding the longest-idle connection");
                registry.shed_idle();
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if registry.len() >= limits.max_connections.max(1) && !registry.shed_idle() {
            tracing::debug!(%peer, "connection limit reached and no idle connection; closing the new one");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let conn = registry.add();
        let svc = with_limits(service.clone(), limits, peer, conn.clone());
        let http = http.clone();
        let registry = registry.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(WriteTimeout::new(stream, limits.write_timeout));
            // Upgrades allowed: a JSON-RPC service may turn the connection into a WebSocket
            // (the write timeout above still bounds it).
            let connection = http
                .serve_connection(io, TowerToHyperService::new(svc))
                .with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                r = connection.as_mut() => r,
                _ = conn.shed.notified() => {
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            if let Err(err) = result {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
            registry.remove(conn.id);
        });
    }
    drop(listener);
    // Stop accepting; idle connections close now, busy ones after their response.
    registry.shed_all();
    let deadline = Instant::now() + limits.header_read_timeout + limits.body_read_timeout;
    while registry.len() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Wraps one connection's service in the request limits and the busy/idle tracking.
fn with_limits<S, B>(
    service: S,
    limits: Limits,
    peer: SocketAddr,
    conn: Arc<Conn>,
) -> impl Service<
    Request<hyper::body::Incoming>,
    Response = Response<Body>,
    Error = BoxError,
    Future = ResponseFuture,
> + Clone
       + Send
       + 'static
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let inner = ServiceBuilder::new()
        .layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout))
        .layer(RequestBodyLimitLayer::new(
            limits.max_body_bytes.unwrap_or(usize::MAX),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout.unwrap_or(NO_TIMEOUT),
        ))
        .map_request(move |mut req: Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.map(Body::new)
        })
        .map_response(|res: Response<B>| res.map(Body::new))
        .map_err(Into::<BoxError>::into)
        .service(service);
    tower::service_fn(move |req: Request<hyper::body::Incoming>| {
        let busy = Busy::start(conn.clone());
        let inner = inner.clone();
        Box::pin(async move {
            let response = inner.oneshot(req).await?;
            // The connection stays busy until the response body is written (or dropped).
            Ok(response.map(|body| {
                Body::new(Tracked {
                    inner: Body::new(body),
                    _busy: busy,
                })
            }))
        }) as ResponseFuture
    })
}

/// Open connections by id (ids grow, so lower is older).
struct Registry {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    epoch: Instant,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            next: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }
}

/// One open connection: requests in progress, when it last became idle, and its shed signal.
struct Conn {
    id: u64,
    epoch: Instant,
    in_flight: AtomicUsize,
    idle_since_ms: AtomicU64,
    shed: Notify,
    shed_sent: std::sync::atomic::AtomicBool,
}

impl Registry {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn len(&self) -> usize {
        self.map()
            .values()
            .filter(|c| !c.shed_sent.load(Ordering::Relaxed))
            .count()
    }

    fn add(&self) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            epoch: self.epoch,
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            shed: Notify::new(),
            shed_sent: Default::default(),
        });
        self.map().insert(conn.id, conn.clone());
        conn
    }

    fn remove(&self, id: u64) {
        self.map().remove(&id);
    }

    /// Signals the longest-idle connection to close; false when every connection is busy.
    fn shed_idle(&self) -> bool {
        let map = self.map();
        let victim = map
            .values()
            .filter(|c| {
                c.in_flight.load(Ordering::Acquire) == 0 && !c.shed_sent.load(Ordering::Relaxed)
            })
            .min_by_key(|c| (c.idle_since_ms.load(Ordering::Relaxed), c.id));
        match victim {
            Some(conn) => {
                conn.shed_sent.store(true, Ordering::Relaxed);
                conn.shed.notify_one();
                true
            }
            None => false,
        }
    }

    fn shed_all(&self) {
        for conn in self.map().values() {
            conn.shed_sent.store(true, Ordering::Relaxed);
            conn.shed.notify_one();
        }
    }
}

/// A request in progress on a connection; dropping it marks the connection idle again.
struct Busy(Arc<Conn>);

impl Busy {
    fn start(conn: Arc<Conn>) -> Busy {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let now = self.0.epoch.elapsed().as_millis() as u64;
        self.0.idle_since_ms.store(now, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection marked busy until it is done.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A stream whose writes fail with `TimedOut` once they have been blocked (the peer not
/// reading) for longer than the timeout.
struct WriteTimeout {
    inner: tokio::net::TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteTimeout {
    fn new(inner: tokio::net::TcpStream, timeout: Duration) -> WriteTimeout {
        WriteTimeout {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Maps a write's poll: ready clears the stall clock; pending starts it, and an expired
    /// clock turns into an error.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match poll {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "client stopped reading",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl tokio::io::AsyncRead for WriteTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for WriteTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
