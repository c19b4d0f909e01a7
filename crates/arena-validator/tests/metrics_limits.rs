//! The metrics endpoint keeps serving while slow clients hold connections.

use std::time::{Duration, Instant};

use arena_net::probe::{raise_open_file_limit, request, SlowClients};
use arena_validator::metrics::{serve, Metrics};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_request_is_served_within_2s_with_300_idle_and_110_half_sent_connections() {
    assert!(raise_open_file_limit() >= 1024, "open-file limit too low");
    let metrics = Metrics::new();
    metrics.set_block(7);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, metrics));
    let slow = SlowClients::open(addr, 300, 110, "/metrics").await.unwrap();
    let start = Instant::now();
    let (status, text) = request(addr, "GET", "/metrics", None, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&text).contains("arena_validator_block 7"));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    drop(slow);
}
