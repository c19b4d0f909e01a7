//! The JSON-RPC server under slow clients, over-long addresses and oversized batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_chain::{rpc, LocalChain, LocalChainOptions};
use arena_net::probe::{raise_open_file_limit, request, SlowClients};
use serde_json::Value;

async fn call(addr: std::net::SocketAddr, body: &str) -> (u16, Value) {
    let (status, bytes) = request(
        addr,
        "POST",
        "/",
        Some(("application/json", body.as_bytes())),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_limits() {
    assert!(raise_open_file_limit() >= 1024, "open-file limit too low");
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap());
    let (addr, handle) = rpc::serve(chain, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let number = r#"{"jsonrpc":"2.0","id":1,"method":"arena_blockNumber","params":[]}"#;

    // A 40k-character address is refused (invalid params) in under 10 ms.
    let long = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"arena_accountNextIndex","params":["{}"]}}"#,
        "z".repeat(40_000)
    );
    let _ = call(addr, number).await;
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let (status, json) = call(addr, &long).await;
        best = best.min(start.elapsed());
        assert_eq!(status, 200);
        assert_eq!(json["error"]["code"], -32602, "{json}");
        assert!(
            json.to_string().len() < 1000,
            "the error does not echo the address"
        );
    }
    assert!(best < Duration::from_millis(10), "{best:?}");

    // Batches: 64 calls answered, 65 refused with one error.
    let batch = |n: usize| format!("[{}]", vec![number; n].join(","));
    let (_, ok) = call(addr, &batch(64)).await;
    assert_eq!(ok.as_array().map(Vec::len), Some(64), "{ok}");
    let (_, refused) = call(addr, &batch(65)).await;
    assert!(refused.get("error").is_some(), "{refused}");

    // 300 idle and 110 half-sent connections: a normal client is still served within 2 s.
    let slow = SlowClients::open(addr, 300, 110, "/").await.unwrap();
    let start = Instant::now();
    let (status, json) = call(addr, number).await;
    assert_eq!(status, 200);
    assert_eq!(json["result"], 0, "{json}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    drop(slow);

    handle.stop().unwrap();
    tokio::time::timeout(Duration::from_secs(20), handle.stopped())
        .await
        .expect("server stops");
}
