//! Each limit of `arena_net::serve` against a real loopback socket, with short timeouts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arena_net::probe::{request, SlowClients};
use arena_net::Limits;
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn app() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/echo",
            post(|body: axum::body::Bytes| async move { format!("{} bytes", body.len()) }),
        )
        .route("/big", get(|| async { vec![7u8; 64 << 20] }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
}

async fn start(limits: Limits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(arena_net::serve(
        listener,
        app(),
        limits,
        std::future::pending(),
    ));
    addr
}

fn short() -> Limits {
    Limits {
        max_connections: 8,
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        request_timeout: Some(Duration::from_millis(500)),
        max_body_bytes: Some(1024),
        max_header_bytes: 8192,
        write_timeout: Duration::from_millis(300),
    }
}

const T: Duration = Duration::from_secs(2);

fn is_closed(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.try_read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Reads until the server closes; how long that took.
async fn time_to_close(mut s: TcpStream, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut sink = Vec::new();
    match tokio::time::timeout(bound, s.read_to_end(&mut sink)).await {
        Ok(_) => Some(start.elapsed()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_head_connections_are_closed_after_the_header_timeout() {
    let addr = start(short()).await;
    let idle = TcpStream::connect(addr).await.unwrap();
    let closed = time_to_close(idle, Duration::from_secs(3))
        .await
        .expect("idle closed");
    assert!(closed >= Duration::from_millis(250), "{closed:?}");
    // Half a head, then silence.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    assert!(time_to_close(slow, Duration::from_secs(3)).await.is_some());
    // A kept-alive connection idle after its answer is closed too.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(time_to_close(kept, Duration::from_secs(3)).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_fails_after_the_body_timeout_and_a_large_one_is_refused_unread() {
    let addr = start(short()).await;
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nab")
        .await
        .unwrap();
    let start = Instant::now();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), half.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");

    // Declared over the cap: 413 at once, nothing of the body sent.
    let mut big = TcpStream::connect(addr).await.unwrap();
    big.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1073741824\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(T, big.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 413"));

    let (status, body) = request(addr, "POST", "/echo", Some(("text/plain", b"hello")), T)
        .await
        .unwrap();
    assert_eq!((status, body), (200, b"5 bytes".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_is_answered_408() {
    let addr = start(short()).await;
    let start = Instant::now();
    let (status, _) = request(addr, "GET", "/slow", None, T).await.unwrap();
    assert_eq!(status, 408);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_longest_idle_connections_make_room_for_new_clients() {
    let limits = Limits {
        header_read_timeout: Duration::from_secs(20),
        body_read_timeout: Duration::from_secs(20),
        // The half-sent bodies must be waited on, not refused by their declared length.
        max_body_bytes: None,
        ..short()
    };
    let addr = start(limits).await;
    let slow = SlowClients::open(addr, 20, 3, "/echo").await.unwrap();
    let (status, _) = request(addr, "GET", "/health", None, T).await.unwrap();
    assert_eq!(status, 200);
    // 24 connections for 8 places: at least 16 idle ones were shed, oldest first.
    let deadline = Instant::now() + T;
    while slow.idle_closed() < 16 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(slow.idle_closed() >= 16, "{}", slow.idle_closed());
    assert!(
        slow.idle[..10].iter().all(is_closed),
        "the oldest idle connections go first"
    );
    assert!(!slow.half_sent.iter().any(is_closed), "busy ones are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_a_new_one_is_closed_until_one_frees() {
    let limits = Limits {
        max_connections: 2,
        body_read_timeout: Duration::from_millis(800),
        header_read_timeout: Duration::from_secs(20),
        max_body_bytes: None,
        ..short()
    };
    let addr = start(limits).await;
    let slow = SlowClients::open(addr, 0, 2, "/echo").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = request(addr, "GET", "/health", None, T).await;
    assert!(refused.is_err(), "{refused:?}");
    // The stalled bodies time out; the server serves again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, _) = request(addr, "GET", "/health", None, T).await.unwrap();
    assert_eq!(status, 200);
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_a_download_is_dropped_after_the_write_timeout() {
    let addr = start(short()).await;
    // A 64 MiB download that is not read for a while: the server's writes block, and after
    // the write timeout (300 ms) it gives up on the connection.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut got = Vec::new();
    let ended = tokio::time::timeout(T, async {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server closed the connection");
    assert!(got.len() < 64 << 20, "cut short: {} bytes", got.len());
}
