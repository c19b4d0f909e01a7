//! The leaderboard keeps serving while slow clients hold connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_chain::{LocalChain, LocalChainOptions};
use arena_net::probe::{raise_open_file_limit, request, SlowClients};
use arena_web::Sources;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_request_is_served_within_2s_with_300_idle_and_110_half_sent_connections() {
    assert!(raise_open_file_limit() >= 1024, "open-file limit too low");
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap());
    let src = Arc::new(Sources {
        chain,
        netuid: 1,
        validator_stores: vec![],
        schedule: arena_core::competition::default_schedule().unwrap().into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(arena_web::serve(listener, src, std::future::pending()));
    let slow = SlowClients::open(addr, 300, 110, "/api/standings")
        .await
        .unwrap();
    let start = Instant::now();
    let (status, page) = request(addr, "GET", "/", None, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<html"));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    drop(slow);
}
