//! The hub keeps serving while slow clients hold connections.

use std::time::{Duration, Instant};

use arena_hub::server::{serve, ServerConfig};
use arena_net::probe::{raise_open_file_limit, request, SlowClients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_request_is_served_within_2s_with_300_idle_and_110_half_sent_connections() {
    assert!(raise_open_file_limit() >= 1024, "open-file limit too low");
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(dir.path().to_path_buf(), vec![]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, config));
    // Idle connections and half-sent commits.
    let slow = SlowClients::open(addr, 300, 110, "/api/models/alice/m/commit/main")
        .await
        .unwrap();
    let start = Instant::now();
    // Anonymous whoami: a complete answer (401 with the Hub's error headers).
    let (status, _) = request(addr, "GET", "/api/whoami-v2", None, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // A missing repo is answered too.
    let (status, _) = request(
        addr,
        "GET",
        "/api/models/nobody/none",
        None,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(status, 404);
    drop(slow);
}
