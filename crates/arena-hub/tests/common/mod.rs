//! Test helpers: an in-process hub, a scriptable fake hub for hostile answers, and the Python
//! driver for the official client.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arena_hub::client::DownloadOptions;
use arena_hub::server::{serve, ServerConfig, User};
pub use arena_testkit::fixtures::python as python_path;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const ALICE: &str = "alice-token-0123";
pub const BOB: &str = "bob-token-4567";
pub const FAKE_SHA: &str = "1234567890abcdef1234567890abcdef12345678";
pub const CUT_AT: usize = 100_000;

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn quiet() -> DownloadOptions {
    DownloadOptions {
        progress: false,
        ..DownloadOptions::default()
    }
}

/// A small model folder: config, README, and one weights file of `big` pseudo-random bytes.
pub fn write_model(dir: &Path, big: usize) {
    std::fs::create_dir_all(dir.join("weights")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        b"{\"architectures\": [\"LlamaForCausalLM\"]}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("README.md"),
        b"---\nlicense: mit\n---\n# test model\n",
    )
    .unwrap();
    let mut state = 0x2545F4914F6CDD1Du64 ^ big as u64;
    let bytes: Vec<u8> = (0..big)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(dir.join("weights/model.bin"), bytes).unwrap();
}

/// `arena hub serve` on a random port with users alice and bob.
pub struct TestHub {
    pub endpoint: String,
    pub root: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl TestHub {
    pub async fn start(inline_threshold: u64) -> TestHub {
        TestHub::start_with(inline_threshold, |_| {}).await
    }

    /// A hub whose settings `adjust` changes first (limits, public URL).
    pub async fn start_with(
        inline_threshold: u64,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> TestHub {
        let root = tempfile::tempdir().unwrap();
        let users = vec![
            User {
                name: "alice".into(),
                token: ALICE.into(),
            },
            User {
                name: "bob".into(),
                token: BOB.into(),
            },
        ];
        let mut config = ServerConfig::new(root.path().to_path_buf(), users);
        config.inline_threshold = inline_threshold;
        config.tree_page_size = 2; // exercise Link pagination in both clients
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { serve(listener, config).await.unwrap() });
        TestHub {
            endpoint,
            root,
            home: tempfile::tempdir().unwrap(),
        }
    }
}

/// Runs tests/py/hf_compat.py with the official client; returns its JSON answer.
pub async fn python(hub: &TestHub, token: &str, disable_xet: bool, args: &[&str]) -> Value {
    python_script(hub, token, disable_xet, "hf_compat.py", args).await
}

/// Runs the script `tests/py/{name}` against the hub; returns its JSON answer (last line).
pub async fn python_script(
    hub: &TestHub,
    token: &str,
    disable_xet: bool,
    name: &str,
    args: &[&str],
) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name);
    let mut command = tokio::process::Command::new(python_path());
    command
        .arg(script)
        .args(args)
        .env("HF_ENDPOINT", &hub.endpoint)
        .env("HF_TOKEN", token)
        .env("HF_HOME", hub.home.path())
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    if disable_xet {
        command.env("HF_HUB_DISABLE_XET", "1");
    } else {
        command.env_remove("HF_HUB_DISABLE_XET");
    }
    let out = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .expect("python timed out")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("python answer {last:?}: {e}"))
}

/// How the fake hub misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    /// Serves bytes that differ from the announced digest.
    Corrupt,
    /// Drops the first GET without a Range after `CUT_AT` bytes.
    CutOnce,
}

/// A hub that serves one repo `eve/model` at `FAKE_SHA` with the given files, as told.
pub struct FakeHub {
    pub endpoint: String,
    ranges: Arc<Mutex<Vec<String>>>,
}

impl FakeHub {
    pub async fn start(files: Vec<(String, Vec<u8>)>, behaviour: Behaviour) -> FakeHub {
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let cut_done = Arc::new(Mutex::new(false));
        let files = Arc::new(files);
        let recorded = ranges.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let (files, ranges, cut_done) = (files.clone(), recorded.clone(), cut_done.clone());
            async move { fake_answer(&files, behaviour, &ranges, &cut_done, uri, headers).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeHub { endpoint, ranges }
    }

    pub fn ranges(&self) -> Vec<String> {
        self.ranges.lock().unwrap().clone()
    }
}

async fn fake_answer(
    files: &[(String, Vec<u8>)],
    behaviour: Behaviour,
    ranges: &Mutex<Vec<String>>,
    cut_done: &Mutex<bool>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .into_owned();
    if path.starts_with("/api/models/eve/model/revision/") {
        let siblings: Vec<Value> = files
            .iter()
            .map(|(name, data)| {
                serde_json::json!({"rfilename": name, "size": data.len(),
                "blobId": arena_hub::gitobj::git_blob_sha1(data)})
            })
            .collect();
        return axum::Json(
            serde_json::json!({"id": "eve/model", "sha": FAKE_SHA, "siblings": siblings}),
        )
        .into_response();
    }
    let prefix = format!("/eve/model/resolve/{FAKE_SHA}/");
    let Some(name) = path.strip_prefix(&prefix) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((_, data)) = files.iter().find(|(n, _)| n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut data = data.clone();
    if behaviour == Behaviour::Corrupt {
        let middle = data.len() / 2;
        data[middle] ^= 0xff;
    }
    if let Some(range) = headers.get("range").and_then(|v| v.to_str().ok()) {
        ranges.lock().unwrap().push(range.to_string());
        let start: usize = range
            .trim_start_matches("bytes=")
            .trim_end_matches('-')
            .parse()
            .unwrap();
        let total = data.len();
        return Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(
                "content-range",
                format!("bytes {start}-{}/{total}", total - 1),
            )
            .header("content-length", total - start)
            .body(Body::from(data[start..].to_vec()))
            .unwrap();
    }
    let cut =
        behaviour == Behaviour::CutOnce && !std::mem::replace(&mut *cut_done.lock().unwrap(), true);
    if cut {
        let total = data.len();
        let head = bytes::Bytes::from(data[..CUT_AT].to_vec());
        let stream = futures_util::stream::unfold(0u8, move |step| {
            let head = head.clone();
            async move {
                match step {
                    0 => Some((Ok::<_, std::io::Error>(head), 1)),
                    1 => {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Some((Err(std::io::Error::other("connection cut")), 2))
                    }
                    _ => None,
                }
            }
        });
        return Response::builder()
            .header("content-length", total)
            .body(Body::from_stream(stream))
            .unwrap();
    }
    Response::builder()
        .header("content-length", data.len())
        .body(Body::from(data))
        .unwrap()
}
