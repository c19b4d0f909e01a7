//! End-to-end tests of the hub: our server and client, the official Python client against our
//! server, hostile peers, and the model hash against Python's hashlib.

mod common;

use std::path::Path;

use arena_hub::client::{DownloadOptions, HubClient};
use arena_hub::HubError;
use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_client_and_rust_client_interoperate() {
    let hub = TestHub::start(64 * 1024).await;
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("py-model");
    write_model(&folder, 300 * 1024);

    // Python uploads (LFS for the big file), checks info, snapshot, single file, visibility.
    let out = python(
        &hub,
        ALICE,
        true,
        &[
            "upload",
            "alice/py-model",
            path_str(&folder),
            path_str(&work.path().join("pycache")),
        ],
    )
    .await;
    let sha = out["sha"].as_str().unwrap().to_string();
    assert_eq!(out["lfs"], serde_json::json!(["weights/model.bin"]));

    // The Rust client downloads what Python uploaded, byte for byte.
    let client = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    let cache = work.path().join("rust-cache");
    let snap = client
        .download("alice/py-model", &sha, &cache, &quiet())
        .await
        .unwrap();
    assert_eq!(snap.commit, sha);
    assert_same_files(&folder, &snap.path);
    let local = arena_hub::model_hash::hash_directory(&folder).unwrap();
    assert_eq!(snap.model_hash.directory_hash, local.directory_hash);

    // Python downloads what the Rust client uploaded.
    let folder2 = work.path().join("rust-model");
    write_model(&folder2, 200 * 1024);
    client
        .create_repo("alice/rust-model", false, false)
        .await
        .unwrap();
    let commit = client
        .upload_folder("alice/rust-model", &folder2, "rust upload")
        .await
        .unwrap();
    let info = client.repo_info("alice/rust-model", &commit).await.unwrap();
    let lfs: Vec<&str> = info
        .siblings
        .iter()
        .filter(|s| s.lfs.is_some())
        .map(|s| s.rfilename.as_str())
        .collect();
    assert_eq!(lfs, ["weights/model.bin"]);
    python(
        &hub,
        ALICE,
        true,
        &[
            "download",
            "alice/rust-model",
            &commit,
            path_str(&folder2),
            path_str(&work.path().join("pycache2")),
        ],
    )
    .await;
    // Uploading the same folder again changes nothing: no new commit.
    let again = client
        .upload_folder("alice/rust-model", &folder2, "again")
        .await
        .unwrap();
    assert_eq!(again, commit);
    let mut files = client
        .list_files("alice/rust-model", &commit)
        .await
        .unwrap();
    files.sort();
    assert_eq!(
        files,
        [
            ".gitattributes",
            "README.md",
            "config.json",
            "weights/model.bin"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_disable_xet_small_uploads_work_and_large_ones_name_the_variable() {
    let hub = TestHub::start(64 * 1024).await;
    let work = tempfile::tempdir().unwrap();
    let small = work.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("config.json"), b"{\"a\": 1}").unwrap();
    let out = python(
        &hub,
        ALICE,
        false,
        &["upload_only", "alice/xet-small", path_str(&small)],
    )
    .await;
    assert_eq!(out["ok"], true, "{out}");
    let large = work.path().join("large");
    write_model(&large, 100 * 1024);
    let out = python(
        &hub,
        ALICE,
        false,
        &["upload_only", "alice/xet-large", path_str(&large)],
    )
    .await;
    assert_eq!(out["ok"], false, "{out}");
    let error = out["error"].as_str().unwrap();
    assert!(error.contains("HF_HUB_DISABLE_XET=1"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_repos_are_invisible_to_others() {
    let hub = TestHub::start(64 * 1024).await;
    let alice = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    alice
        .create_repo("alice/secret", true, false)
        .await
        .unwrap();
    for token in [Some(BOB), None] {
        let other = HubClient::new(&hub.endpoint, token.map(String::from)).unwrap();
        let err = other.repo_info("alice/secret", "main").await.unwrap_err();
        assert!(matches!(err, HubError::RepoNotFound(_)), "{err}");
        let raw = reqwest::Client::new().get(format!(
            "{}/alice/secret/resolve/main/.gitattributes",
            hub.endpoint
        ));
        let raw = match token {
            Some(t) => raw.bearer_auth(t),
            None => raw,
        };
        assert_eq!(raw.send().await.unwrap().status(), 404);
        let out = python(
            &hub,
            token.unwrap_or(""),
            true,
            &["private_probe", "alice/secret"],
        )
        .await;
        assert_eq!(
            out,
            serde_json::json!({"visible": false, "error": "RepositoryNotFoundError"})
        );
        assert!(other.set_visibility("alice/secret", false).await.is_err());
    }
    assert_eq!(
        alice
            .repo_info("alice/secret", "main")
            .await
            .unwrap()
            .private,
        Some(true)
    );
    alice.set_visibility("alice/secret", false).await.unwrap();
    let anonymous = HubClient::new(&hub.endpoint, None).unwrap();
    assert_eq!(
        anonymous
            .repo_info("alice/secret", "main")
            .await
            .unwrap()
            .private,
        Some(false)
    );
    // Bob cannot write to Alice's public repo, nor delete it.
    let bob = HubClient::new(&hub.endpoint, Some(BOB.into())).unwrap();
    assert!(matches!(
        bob.delete_repo("alice/secret").await,
        Err(HubError::Http { status: 403, .. })
    ));
    alice.delete_repo("alice/secret").await.unwrap();
    assert!(matches!(
        alice.repo_info("alice/secret", "main").await,
        Err(HubError::RepoNotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_revision_stays_downloadable() {
    let hub = TestHub::start(1024).await;
    let work = tempfile::tempdir().unwrap();
    let client = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    client
        .create_repo("alice/versions", false, false)
        .await
        .unwrap();
    let folder = work.path().join("m");
    write_model(&folder, 4096);
    let first = client
        .upload_folder("alice/versions", &folder, "v1")
        .await
        .unwrap();
    std::fs::write(folder.join("weights/model.bin"), vec![7u8; 5000]).unwrap();
    let second = client
        .upload_folder("alice/versions", &folder, "v2")
        .await
        .unwrap();
    assert_ne!(first, second);
    let cache = work.path().join("cache");
    let old = client
        .download("alice/versions", &first, &cache, &quiet())
        .await
        .unwrap();
    let new = client
        .download("alice/versions", "main", &cache, &quiet())
        .await
        .unwrap();
    assert_eq!(new.commit, second);
    assert_eq!(
        std::fs::metadata(old.path.join("weights/model.bin"))
            .unwrap()
            .len(),
        4096
    );
    assert_eq!(
        std::fs::read(new.path.join("weights/model.bin")).unwrap(),
        vec![7u8; 5000]
    );
    assert_ne!(old.model_hash.directory_hash, new.model_hash.directory_hash);
    // A second download of a cached revision re-verifies and gives the same hash.
    let again = client
        .download("alice/versions", &first, &cache, &quiet())
        .await
        .unwrap();
    assert_eq!(
        again.model_hash.directory_hash,
        old.model_hash.directory_hash
    );
    let missing = "0".repeat(40);
    let err = client
        .download("alice/versions", &missing, &cache, &quiet())
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::RevisionNotFound { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revision_over_the_size_limit_is_refused_before_writing() {
    let hub = TestHub::start(1024).await;
    let work = tempfile::tempdir().unwrap();
    let client = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    client.create_repo("alice/big", false, false).await.unwrap();
    let folder = work.path().join("m");
    write_model(&folder, 50_000);
    let commit = client
        .upload_folder("alice/big", &folder, "v1")
        .await
        .unwrap();
    let cache = work.path().join("cache");
    let options = DownloadOptions {
        max_bytes: Some(40_000),
        ..quiet()
    };
    let err = client
        .download("alice/big", &commit, &cache, &options)
        .await
        .unwrap_err();
    match err {
        HubError::TooLarge { total, limit, .. } => assert!(total > 50_000 && limit == 40_000),
        other => panic!("expected TooLarge, got {other}"),
    }
    assert!(
        !cache.exists(),
        "nothing may be written for a refused revision"
    );
    let options = DownloadOptions {
        max_bytes: Some(60_000),
        ..quiet()
    };
    client
        .download("alice/big", &commit, &cache, &options)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_rejects_bad_names_and_mismatched_lfs_content() {
    let hub = TestHub::start(1024).await;
    let client = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    client.create_repo("alice/bad", false, false).await.unwrap();
    let http = reqwest::Client::new();
    let commit_url = format!("{}/api/models/alice/bad/commit/main", hub.endpoint);
    for name in [
        "../escape.txt",
        "a/../../b",
        "/etc/passwd",
        "nul\u{0}byte",
        "back\\slash",
    ] {
        let line = serde_json::json!({"key": "file", "value": {"path": name, "content": "aGk=", "encoding": "base64"}});
        let body = format!("{{\"key\":\"header\",\"value\":{{\"summary\":\"x\"}}}}\n{line}\n");
        let response = http
            .post(&commit_url)
            .bearer_auth(ALICE)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{name:?} accepted");
        let preupload = serde_json::json!({"files": [{"path": name, "size": 2, "sample": ""}]});
        let response = http
            .post(format!(
                "{}/api/models/alice/bad/preupload/main",
                hub.endpoint
            ))
            .bearer_auth(ALICE)
            .json(&preupload)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{name:?} accepted by preupload");
    }
    // LFS: announce one object, send other bytes.
    let content = vec![1u8; 4000];
    let oid = sha256_hex(&content);
    let batch = serde_json::json!({"operation": "upload", "transfers": ["basic"],
                                   "objects": [{"oid": oid, "size": content.len()}]});
    let answer: Value = http
        .post(format!(
            "{}/alice/bad.git/info/lfs/objects/batch",
            hub.endpoint
        ))
        .bearer_auth(ALICE)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let href = answer["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    let mut forged = content.clone();
    forged[10] = 2;
    let response = http.put(&href).body(forged).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("does not match"));
    let line = serde_json::json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": 4000}});
    let body = format!("{{\"key\":\"header\",\"value\":{{\"summary\":\"x\"}}}}\n{line}\n");
    let response = http
        .post(&commit_url)
        .bearer_auth(ALICE)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        422,
        "commit of a never-stored LFS object accepted"
    );
    // The right bytes are accepted, after which the same commit works.
    assert_eq!(
        http.put(&href).body(content).send().await.unwrap().status(),
        200
    );
    let response = http
        .post(&commit_url)
        .bearer_auth(ALICE)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The client refuses to upload a folder holding a file name it cannot represent.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("back\\slash"), b"x").unwrap();
    let err = client
        .upload_folder("alice/bad", work.path(), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::InvalidPath { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_refuses_hostile_names_and_corrupt_content_and_resumes_cut_transfers() {
    let cache_root = tempfile::tempdir().unwrap();
    for name in ["../evil.txt", "/abs.txt", "a\u{0}b", "sub/../../x"] {
        let fake = FakeHub::start(
            vec![(name.to_string(), b"hello".to_vec())],
            Behaviour::Normal,
        )
        .await;
        let client = HubClient::new(&fake.endpoint, None).unwrap();
        let cache = cache_root.path().join("c1");
        let err = client
            .download("eve/model", FAKE_SHA, &cache, &quiet())
            .await
            .unwrap_err();
        assert!(
            matches!(err, HubError::InvalidPath { .. }),
            "{name:?}: {err}"
        );
        assert!(!cache.exists(), "{name:?}: something was written");
    }
    // Corrupt bytes: reported, and no file lands in the snapshot.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let fake = FakeHub::start(vec![("w.bin".into(), data.clone())], Behaviour::Corrupt).await;
    let client = HubClient::new(&fake.endpoint, None).unwrap();
    let cache = cache_root.path().join("c2");
    let err = client
        .download("eve/model", FAKE_SHA, &cache, &quiet())
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::DigestMismatch { .. }), "{err}");
    assert!(!cache
        .join("models--eve--model/snapshots")
        .join(FAKE_SHA)
        .join("w.bin")
        .exists());
    // Cut in the middle: resumed with Range, file complete and verified.
    let fake = FakeHub::start(vec![("w.bin".into(), data.clone())], Behaviour::CutOnce).await;
    let client = HubClient::new(&fake.endpoint, None).unwrap();
    let cache = cache_root.path().join("c3");
    let snap = client
        .download("eve/model", FAKE_SHA, &cache, &quiet())
        .await
        .unwrap();
    assert_eq!(std::fs::read(snap.path.join("w.bin")).unwrap(), data);
    assert_eq!(fake.ranges(), vec![format!("bytes={}-", CUT_AT)]);
    // Cut with no retries left: reported; the partial file stays outside the snapshot and a
    // later call resumes from it.
    let fake = FakeHub::start(vec![("w.bin".into(), data.clone())], Behaviour::CutOnce).await;
    let client = HubClient::new(&fake.endpoint, None).unwrap();
    let cache = cache_root.path().join("c4");
    let options = DownloadOptions {
        retries: 0,
        ..quiet()
    };
    assert!(client
        .download("eve/model", FAKE_SHA, &cache, &options)
        .await
        .is_err());
    assert!(!cache
        .join("models--eve--model/snapshots")
        .join(FAKE_SHA)
        .join("w.bin")
        .exists());
    let snap = client
        .download("eve/model", FAKE_SHA, &cache, &options)
        .await
        .unwrap();
    assert_eq!(std::fs::read(snap.path.join("w.bin")).unwrap(), data);
    assert_eq!(fake.ranges(), vec![format!("bytes={}-", CUT_AT)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_hash_matches_python_hashlib() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("b/c")).unwrap();
    std::fs::write(root.join("config.json"), b"{\"hidden_size\": 64}\n").unwrap();
    std::fs::write(root.join("README.md"), b"# excluded\n").unwrap();
    std::fs::write(root.join(".gitattributes"), b"*.bin filter=lfs\n").unwrap();
    std::fs::write(
        root.join("b/c/weights.bin"),
        (0..3_000_000u32)
            .map(|i| (i * 7 % 256) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(root.join("b/README.md"), b"nested readme counts\n").unwrap();
    std::fs::write(root.join("a.txt"), b"").unwrap();
    let hotkey = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    let ours = arena_hub::model_hash::hash_directory(root).unwrap();
    let script = r#"
import base64, hashlib, os, sys
root, hotkey = sys.argv[1], sys.argv[2]
d = lambda b: base64.b64encode(hashlib.sha256(b).digest()).decode()
paths = []
for dirpath, _, names in os.walk(root):
    for n in names:
        paths.append(os.path.relpath(os.path.join(dirpath, n), root).replace(os.sep, "/"))
paths = sorted(p for p in paths if p not in ("README.md", ".gitattributes"))
h = hashlib.sha256()
for p in paths:
    h.update(d(open(os.path.join(root, p), "rb").read()).encode())
dh = base64.b64encode(h.digest()).decode()
print(dh, d((dh + hotkey).encode()))
"#;
    let out = std::process::Command::new(python_path())
        .args(["-c", script, path_str(root), hotkey])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let expected: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(ours.directory_hash, expected[0]);
    assert_eq!(ours.secure_hash(hotkey), expected[1]);
    assert_eq!(
        ours.files.len(),
        6,
        "README.md and .gitattributes are listed, just not hashed"
    );
}

fn assert_same_files(expected: &Path, actual: &Path) {
    for (abs, rel) in arena_hub::model_hash::list_files(expected).unwrap() {
        assert_eq!(
            std::fs::read(&abs).unwrap(),
            std::fs::read(actual.join(&rel)).unwrap(),
            "{rel}"
        );
    }
}
