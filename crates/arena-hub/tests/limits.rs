//! What a request may cost the hub: authorisation before any body is read, bounded bodies,
//! objects and commits, upload links that expire, collection of unreferenced blobs, no access
//! to (or news of) another user's private blobs, and links that never come from `Host`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends only the head of a request announcing a 16 MiB body; returns the status line the
/// server answers with while the body has not been sent, and how long it took.
async fn head_only(hub: &TestHub, path: &str, token: Option<&str>) -> (String, Duration) {
    let addr = hub.endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        16 << 20
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("the server waited for the body instead of refusing")
            .unwrap();
        assert!(n > 0, "connection closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    (text.lines().next().unwrap().to_string(), started.elapsed())
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn create(hub: &TestHub, token: &str, name: &str, private: bool) {
    let r = client()
        .post(format!("{}/api/repos/create", hub.endpoint))
        .bearer_auth(token)
        .json(&json!({"name": name, "private": private}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn batch(hub: &TestHub, token: &str, repo: &str, objects: Value) -> (u16, Value) {
    let r = client()
        .post(format!(
            "{}/{repo}.git/info/lfs/objects/batch",
            hub.endpoint
        ))
        .bearer_auth(token)
        .json(&json!({"operation": "upload", "transfers": ["basic"], "objects": objects}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Uploads `content` through the LFS batch API as `token`; returns its oid.
async fn lfs_upload(hub: &TestHub, token: &str, repo: &str, content: &[u8]) -> String {
    let oid = sha256_hex(content);
    let (status, answer) = batch(
        hub,
        token,
        repo,
        json!([{"oid": oid, "size": content.len()}]),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    if let Some(href) = answer["objects"][0]["actions"]["upload"]["href"].as_str() {
        let r = client()
            .put(href)
            .body(content.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    oid
}

async fn commit(hub: &TestHub, token: &str, repo: &str, lines: &[Value]) -> (u16, Value) {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let r = client()
        .post(format!("{}/api/models/{repo}/commit/main", hub.endpoint))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn lfs_line(path: &str, oid: &str, size: usize) -> Value {
    json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}})
}

fn blob_file(hub: &TestHub, oid: &str) -> std::path::PathBuf {
    hub.root.path().join("blobs").join(&oid[..2]).join(oid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_authorised_before_the_body_is_read_and_bounded() {
    let hub = TestHub::start(64 * 1024).await;
    create(&hub, ALICE, "open", false).await;
    // No account, a repo that does not exist: refused at once, the 16 MiB never sent.
    let (status, took) = head_only(&hub, "/api/models/nobody/missing/settings", None).await;
    assert!(status.contains(" 404 "), "{status}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // An existing public repo without a token, and another user's: 401 and 403, body unread.
    let (status, _) = head_only(&hub, "/api/models/alice/open/settings", None).await;
    assert!(status.contains(" 401 "), "{status}");
    let (status, _) = head_only(&hub, "/api/models/alice/open/settings", Some(BOB)).await;
    assert!(status.contains(" 403 "), "{status}");
    // The owner's body is typed and small: over 64 KiB is refused, a wrong type too.
    let url = format!("{}/api/models/alice/open/settings", hub.endpoint);
    let big = format!("{{\"private\": true, \"pad\": \"{}\"}}", "x".repeat(70_000));
    let r = client()
        .put(&url)
        .bearer_auth(ALICE)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = client()
        .put(&url)
        .bearer_auth(ALICE)
        .json(&json!({"private": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client()
        .put(&url)
        .bearer_auth(ALICE)
        .json(&json!({"private": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = client()
        .get(format!("{}/api/models/alice/open", hub.endpoint))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["private"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_objects_too_many_objects_and_oversized_commits_are_refused() {
    let hub = TestHub::start_with(64 * 1024, |c| {
        c.limits.objects_per_request = 10;
        c.limits.max_commit_bytes = 256 * 1024;
        c.limits.max_object_size = 1 << 30;
    })
    .await;
    create(&hub, ALICE, "m", false).await;
    let oid = sha256_hex(b"anything");
    // A 2^63-byte object gets an error and no upload link.
    let (status, answer) = batch(
        &hub,
        ALICE,
        "alice/m",
        json!([{"oid": oid, "size": 1u64 << 63}]),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let object = &answer["objects"][0];
    assert_eq!(object["error"]["code"], 422, "{answer}");
    assert!(object.get("actions").is_none(), "{answer}");
    // 11 objects in one request: refused as a whole.
    let many: Vec<Value> = (0..11u8)
        .map(|i| json!({"oid": sha256_hex(&[i]), "size": 1}))
        .collect();
    let (status, _) = batch(&hub, ALICE, "alice/m", Value::Array(many.clone())).await;
    assert_eq!(status, 413);
    let (status, answer) = batch(&hub, ALICE, "alice/m", Value::Array(many[..10].to_vec())).await;
    assert_eq!(status, 200);
    assert_eq!(answer["objects"].as_array().unwrap().len(), 10);
    let files: Vec<Value> = (0..11)
        .map(|i| json!({"path": format!("f{i}"), "size": 1}))
        .collect();
    let r = client()
        .post(format!(
            "{}/api/models/alice/m/preupload/main",
            hub.endpoint
        ))
        .bearer_auth(ALICE)
        .json(&json!({"files": files}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // An inline commit under the cap is read line by line (a 150 KiB line spans many chunks);
    // one over the cap is refused and leaves the head where it was.
    use base64::Engine;
    let content: Vec<u8> = (0..110_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
    let file = |path: &str| json!({"key": "file", "value": {"path": path, "content": encoded, "encoding": "base64"}});
    let header = json!({"key": "header", "value": {"summary": "big inline"}});
    let (status, answer) = commit(&hub, ALICE, "alice/m", &[header.clone(), file("a.bin")]).await;
    assert_eq!(status, 200, "{answer}");
    let head = answer["commitOid"].as_str().unwrap().to_string();
    let got = client()
        .get(format!("{}/alice/m/resolve/main/a.bin", hub.endpoint))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), content.as_slice());
    let (status, _) = commit(
        &hub,
        ALICE,
        "alice/m",
        &[header, file("b.bin"), file("c.bin")],
    )
    .await;
    assert_eq!(status, 413);
    let info: Value = client()
        .get(format!("{}/api/models/alice/m", hub.endpoint))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sha"], head.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_links_expire() {
    let hub = TestHub::start_with(64 * 1024, |c| {
        c.limits.upload_token_ttl = Duration::from_millis(500);
        c.limits.pending_uploads_per_user = 3;
    })
    .await;
    create(&hub, ALICE, "m", false).await;
    let content = b"late upload".to_vec();
    let oid = sha256_hex(&content);
    let (_, answer) = batch(
        &hub,
        ALICE,
        "alice/m",
        json!([{"oid": oid, "size": content.len()}]),
    )
    .await;
    let href = answer["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let r = client()
        .put(&href)
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(!blob_file(&hub, &oid).exists());
    // A fresh link, used in time, works.
    lfs_upload(&hub, ALICE, "alice/m", &content).await;
    assert!(blob_file(&hub, &oid).exists());
    // Unused links count against the user until they expire.
    let four: Vec<Value> = (0..4u8)
        .map(|i| json!({"oid": sha256_hex(&[i]), "size": 1}))
        .collect();
    let (status, _) = batch(&hub, ALICE, "alice/m", Value::Array(four.clone())).await;
    assert_eq!(status, 429);
    let (status, _) = batch(&hub, ALICE, "alice/m", Value::Array(four[..3].to_vec())).await;
    assert_eq!(status, 200);
    let (status, _) = batch(&hub, ALICE, "alice/m", Value::Array(four[..1].to_vec())).await;
    assert_eq!(status, 429);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (status, _) = batch(&hub, ALICE, "alice/m", Value::Array(four[..3].to_vec())).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_private_blob_can_be_neither_linked_nor_learned_of() {
    let hub = TestHub::start(64 * 1024).await;
    create(&hub, ALICE, "secret", true).await;
    create(&hub, BOB, "pub", false).await;
    let content: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    let oid = lfs_upload(&hub, ALICE, "alice/secret", &content).await;
    let (status, _) = commit(
        &hub,
        ALICE,
        "alice/secret",
        &[lfs_line("w.bin", &oid, content.len())],
    )
    .await;
    assert_eq!(status, 200);

    // Bob's batch answer for alice's blob is the one for an absent blob: an upload link, with
    // the right size or a wrong one (no "stored with N bytes").
    let absent = sha256_hex(b"absent");
    let (_, answer) = batch(
        &hub,
        BOB,
        "bob/pub",
        json!([
            {"oid": oid, "size": content.len()}, {"oid": oid, "size": 7}, {"oid": absent, "size": 7}
        ]),
    )
    .await;
    for object in answer["objects"].as_array().unwrap() {
        assert!(object.get("error").is_none(), "{answer}");
        assert!(object["actions"]["upload"]["href"].is_string(), "{answer}");
    }
    // Linking it is refused with the message for a blob never uploaded; verify says absent.
    let (status, refusal) = commit(
        &hub,
        BOB,
        "bob/pub",
        &[lfs_line("stolen.bin", &oid, content.len())],
    )
    .await;
    assert_eq!(status, 422);
    let (_, absent_refusal) =
        commit(&hub, BOB, "bob/pub", &[lfs_line("stolen.bin", &absent, 7)]).await;
    assert_eq!(
        refusal["error"].as_str().unwrap().replace(&oid, "OID"),
        absent_refusal["error"]
            .as_str()
            .unwrap()
            .replace(&absent, "OID")
    );
    let r = client()
        .post(format!(
            "{}/bob/pub.git/info/lfs/objects/verify",
            hub.endpoint
        ))
        .bearer_auth(BOB)
        .json(&json!({"oid": oid, "size": content.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client()
        .get(format!("{}/bob/pub/resolve/main/stolen.bin", hub.endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Once bob uploads the content himself (he has it), he may link it.
    lfs_upload(&hub, BOB, "bob/pub", &content).await;
    let (status, answer) = commit(
        &hub,
        BOB,
        "bob/pub",
        &[lfs_line("mine.bin", &oid, content.len())],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // And a blob in a repo he can read (alice's public one) he may link without uploading.
    create(&hub, ALICE, "open", false).await;
    let shared: Vec<u8> = b"shared weights".repeat(100);
    let shared_oid = lfs_upload(&hub, ALICE, "alice/open", &shared).await;
    let (status, _) = commit(
        &hub,
        ALICE,
        "alice/open",
        &[lfs_line("s.bin", &shared_oid, shared.len())],
    )
    .await;
    assert_eq!(status, 200);
    let (_, answer) = batch(
        &hub,
        BOB,
        "bob/pub",
        json!([{"oid": shared_oid, "size": shared.len()}]),
    )
    .await;
    assert!(answer["objects"][0].get("actions").is_none(), "{answer}");
    let (status, answer) = commit(
        &hub,
        BOB,
        "bob/pub",
        &[lfs_line("s.bin", &shared_oid, shared.len())],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreferenced_blobs_are_collected_after_the_grace_period() {
    let hub = TestHub::start_with(64 * 1024, |c| {
        c.limits.blob_grace = Duration::from_secs(2);
        c.limits.gc_interval = Duration::from_millis(200);
    })
    .await;
    create(&hub, ALICE, "kept", false).await;
    create(&hub, ALICE, "gone", false).await;
    let kept = lfs_upload(&hub, ALICE, "alice/kept", b"kept content").await;
    let (status, _) = commit(&hub, ALICE, "alice/kept", &[lfs_line("k.bin", &kept, 12)]).await;
    assert_eq!(status, 200);
    let in_deleted = lfs_upload(&hub, ALICE, "alice/gone", b"deleted repo content").await;
    let (status, _) = commit(
        &hub,
        ALICE,
        "alice/gone",
        &[lfs_line("d.bin", &in_deleted, 20)],
    )
    .await;
    assert_eq!(status, 200);
    let orphan = lfs_upload(&hub, ALICE, "alice/kept", b"never committed").await;
    // Young orphans stay (an upload is followed by its commit).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(blob_file(&hub, &orphan).exists());
    let r = client()
        .delete(format!("{}/api/repos/delete", hub.endpoint))
        .bearer_auth(ALICE)
        .json(&json!({"name": "gone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // One collection pass removes the blobs, then the uploader records of blobs gone: wait
    // for both, or a check between the two steps of one pass would race it.
    let marker = hub
        .root
        .path()
        .join("uploaders/alice")
        .join(&orphan[..2])
        .join(&orphan);
    let deadline = Instant::now() + Duration::from_secs(10);
    while blob_file(&hub, &orphan).exists()
        || blob_file(&hub, &in_deleted).exists()
        || marker.exists()
    {
        assert!(
            Instant::now() < deadline,
            "unreferenced blobs (and their uploader records) were not collected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(blob_file(&hub, &kept).exists());
    // The kept file still downloads; a collected orphan can be uploaded again.
    let r = client()
        .get(format!("{}/alice/kept/resolve/main/k.bin", hub.endpoint))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"kept content");
    lfs_upload(&hub, ALICE, "alice/kept", b"never committed").await;
    assert!(blob_file(&hub, &orphan).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_links_never_come_from_the_host_header() {
    for public in [None, Some("https://hub.example.org")] {
        let hub = TestHub::start_with(64 * 1024, |c| c.public_url = public.map(String::from)).await;
        let base = public
            .map(String::from)
            .unwrap_or_else(|| hub.endpoint.clone());
        let r = client()
            .post(format!("{}/api/repos/create", hub.endpoint))
            .bearer_auth(ALICE)
            .header("host", "evil.example")
            .json(&json!({"name": "m"}))
            .send()
            .await
            .unwrap();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["url"], format!("{base}/alice/m"), "{answer}");
        let r = client()
            .post(format!(
                "{}/alice/m.git/info/lfs/objects/batch",
                hub.endpoint
            ))
            .bearer_auth(ALICE)
            .header("host", "evil.example")
            .json(
                &json!({"operation": "upload", "objects": [{"oid": sha256_hex(b"x"), "size": 1}]}),
            )
            .send()
            .await
            .unwrap();
        let answer: Value = r.json().await.unwrap();
        let href = answer["objects"][0]["actions"]["upload"]["href"]
            .as_str()
            .unwrap();
        assert!(
            href.starts_with(&format!("{base}/api/lfs-upload/")),
            "{href}"
        );
        assert!(!answer.to_string().contains("evil.example"));
    }
}
