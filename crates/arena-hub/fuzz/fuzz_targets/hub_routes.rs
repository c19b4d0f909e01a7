//! The hub's request routing end to end: any method, path, query, token and body goes through
//! the real router over a store on disk. It must never panic nor answer 500, and a request
//! without a valid token must never change the store.
//!
//! Input: byte 0 picks the method, byte 1 the caller, then the path and query up to the first
//! newline, then the body.
#![no_main]

use std::sync::OnceLock;

use arena_hub::server::{router, ServerConfig, User};
use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Hub {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    root: std::path::PathBuf,
}

const ALICE: &str = "alice-fuzz-token";
const BOB: &str = "bob-fuzz-token";

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("arena-hub-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let users = ["alice", "bob"]
            .iter()
            .zip([ALICE, BOB])
            .map(|(name, token)| User {
                name: name.to_string(),
                token: token.to_string(),
            })
            .collect();
        let mut config = ServerConfig::new(root.clone(), users);
        config.public_url = Some("http://hub.invalid".into());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = runtime.block_on(async { router(config).unwrap() });
        let hub = Hub { runtime, app, root };
        // One public and one private repo of alice's, each with a file.
        for (name, private) in [("public", false), ("secret", true)] {
            let body = format!(r#"{{"name": "{name}", "private": {private}}}"#);
            assert_eq!(send(&hub, Method::POST, Some(ALICE), "/api/repos/create", body.into()), 200);
            let commit = "{\"key\":\"header\",\"value\":{\"summary\":\"s\"}}\n\
                          {\"key\":\"file\",\"value\":{\"path\":\"config.json\",\"content\":\"e30=\",\"encoding\":\"base64\"}}\n";
            let path = format!("/api/models/alice/{name}/commit/main");
            assert_eq!(send(&hub, Method::POST, Some(ALICE), &path, commit.into()), 200);
        }
        hub
    })
}

fn send(hub: &Hub, method: Method, token: Option<&str>, path: &str, body: Vec<u8>) -> u16 {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let Ok(request) = request.body(Body::from(body)) else {
        return 0;
    };
    let app = hub.app.clone();
    hub.runtime.block_on(async move {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let _ = axum::body::to_bytes(response.into_body(), 1 << 20).await;
        status
    })
}

fn snapshot(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("repos")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                out.push(format!("{} {len}", path.display()));
            }
        }
    }
    out.sort();
    out
}

fuzz_target!(|data: &[u8]| {
    let hub = hub();
    let (Some(&m), Some(&who)) = (data.first(), data.get(1)) else {
        return;
    };
    let rest = &data[2..];
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let Ok(path) = std::str::from_utf8(&rest[..split]) else {
        return;
    };
    let body = rest.get(split + 1..).unwrap_or_default().to_vec();
    let method = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
    ][m as usize % 5]
        .clone();
    let writes = method != Method::GET && method != Method::HEAD;
    // Reads as anyone; writes as nobody, a wrong token or bob (who owns no repo), so that the
    // store stays small and any change to it is a bug.
    let token = match (who % 3, writes) {
        (0, _) => None,
        (1, false) => Some(ALICE),
        (1, true) => Some("not-a-token"),
        _ => Some(BOB),
    };
    if writes && path.contains("create") {
        return;
    }
    let before = snapshot(&hub.root);
    let status = send(hub, method.clone(), token, path, body);
    assert_ne!(status, 500, "{method} {path:?}");
    if token != Some(BOB) {
        assert_eq!(
            before,
            snapshot(&hub.root),
            "{method} {path:?} changed the store"
        );
    }
});
