//! The feed keeps serving while slow clients hold connections, refuses a batch whose
//! `created_at` would wrap in storage, and refuses an over-long producer address at once.

use std::time::{Duration, Instant};

use arena_data::batch::{Batch, BatchLimits};
use arena_data::feed::server::{serve, FeedState};
use arena_data::feed::store::FeedStore;
use arena_data::Sample;
use arena_keys::Keypair;
use arena_net::probe::{raise_open_file_limit, request, SlowClients};

async fn start() -> (
    std::net::SocketAddr,
    std::sync::Arc<FeedState>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = FeedStore::open(&dir.path().join("feed.sqlite")).unwrap();
    let state = FeedState::new(store, BatchLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, state.clone(), std::future::pending()));
    (addr, state, dir)
}

fn samples() -> Vec<Sample> {
    vec![Sample::new("s-0", "chat", "Question?", "Answer.")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_request_is_served_within_2s_with_300_idle_and_110_half_sent_connections() {
    // Both ends of ~410 connections live in this process.
    assert!(raise_open_file_limit() >= 1024, "open-file limit too low");
    let (addr, _state, _dir) = start().await;
    // Half-sent batches declare 1 MiB, under the 4 MiB cap: the server waits on their bodies.
    let slow = SlowClients::open_declaring(addr, 300, 110, "/v1/batches", 1 << 20)
        .await
        .unwrap();
    let start = Instant::now();
    let (status, body) = request(addr, "GET", "/health", None, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // Room was made by closing idle connections (256 places for 411 connections).
    let deadline = Instant::now() + Duration::from_secs(2);
    while slow.idle_closed() < 155 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(slow.idle_closed() >= 155, "{}", slow.idle_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_at_above_i64_max_and_a_40k_producer_are_refused() {
    let (addr, state, _dir) = start().await;
    let alice = Keypair::from_uri("//Alice").unwrap();
    for (created_at, block) in [(u64::MAX, 1), (i64::MAX as u64 + 1, 1), (1, u64::MAX)] {
        let batch = Batch::sign(&alice, 1, created_at, block, samples());
        let json = serde_json::to_vec(&batch).unwrap();
        let (status, body) = request(
            addr,
            "POST",
            "/v1/batches",
            Some(("application/json", &json)),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("above"));
    }
    // The largest storable time is accepted.
    let batch = Batch::sign(&alice, 1, i64::MAX as u64, 1, samples());
    let json = serde_json::to_vec(&batch).unwrap();
    let (status, _) = request(
        addr,
        "POST",
        "/v1/batches",
        Some(("application/json", &json)),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    assert_eq!(state.stats().stored, 1);

    // A 40k-character producer: refused without decoding it.
    let mut long = Batch::sign(&alice, 1, 1, 1, samples());
    long.producer = "z".repeat(40_000);
    let json = serde_json::to_vec(&long).unwrap();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let (status, body) = request(
            addr,
            "POST",
            "/v1/batches",
            Some(("application/json", &json)),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        best = best.min(start.elapsed());
        assert_eq!(status, 400);
        assert!(body.len() < 1000, "the error does not echo the address");
    }
    assert!(best < Duration::from_millis(10), "{best:?}");
}
