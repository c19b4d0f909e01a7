//! Pinned files (a competition's tokenizer) fetched from a hub: only the pinned files come
//! down, each is checked against its pin, a cached copy is reused while it still matches,
//! and a repository whose file differs from the pin is refused.

mod common;

use std::collections::BTreeMap;

use arena_hub::client::{find_cached_pinned, HubClient};
use arena_hub::HubError;
use common::{sha256_hex, TestHub, ALICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_files_are_fetched_checked_and_reused() {
    let hub = TestHub::start(1000).await;
    let client = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    let dir = hub.home.path().join("tok");
    std::fs::create_dir_all(&dir).unwrap();
    let tokenizer = br#"{"version":"1.0","model":{"type":"BPE"}}"#.repeat(50); // LFS-sized
    let config = br#"{"chat_template":"{{ messages[0].content }}"}"#.to_vec();
    std::fs::write(dir.join("tokenizer.json"), &tokenizer).unwrap();
    std::fs::write(dir.join("tokenizer_config.json"), &config).unwrap();
    std::fs::write(dir.join("model.onnx"), vec![7u8; 5000]).unwrap();
    client.create_repo("alice/tok", false, true).await.unwrap();
    let commit = client
        .upload_folder("alice/tok", &dir, "tokenizer")
        .await
        .unwrap();

    let pins: BTreeMap<String, Option<String>> = [
        ("tokenizer.json".to_string(), Some(sha256_hex(&tokenizer))),
        (
            "tokenizer_config.json".to_string(),
            Some(sha256_hex(&config)),
        ),
    ]
    .into();
    let cache = hub.home.path().join("cache");
    assert!(find_cached_pinned(&cache, "alice/tok", &pins).is_none());
    let anonymous = HubClient::new(&hub.endpoint, None).unwrap();
    let got = anonymous
        .fetch_pinned("alice/tok", Some(&commit), &pins, &cache)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(got.join("tokenizer.json")).unwrap(),
        tokenizer
    );
    assert_eq!(
        std::fs::read(got.join("tokenizer_config.json")).unwrap(),
        config
    );
    assert!(
        !got.join("model.onnx").exists(),
        "only the pinned files are fetched"
    );
    // Reused from the cache, even through a client that cannot reach any hub.
    assert_eq!(
        find_cached_pinned(&cache, "alice/tok", &pins),
        Some(got.clone())
    );
    let offline = HubClient::new("http://127.0.0.1:9", None).unwrap();
    let again = offline
        .fetch_pinned("alice/tok", None, &pins, &cache)
        .await
        .unwrap();
    assert_eq!(again, got);

    // The repository's template changes: the pin no longer matches, and the cached copy is
    // not mistaken for the new revision's.
    std::fs::write(
        dir.join("tokenizer_config.json"),
        b"{\"chat_template\":\"other\"}",
    )
    .unwrap();
    client
        .upload_folder("alice/tok", &dir, "new template")
        .await
        .unwrap();
    let fresh = hub.home.path().join("cache2");
    let err = anonymous
        .fetch_pinned("alice/tok", None, &pins, &fresh)
        .await
        .unwrap_err();
    match err {
        HubError::DigestMismatch { path, expected, .. } => {
            assert!(path.contains("tokenizer_config.json"), "{path}");
            assert_eq!(expected, sha256_hex(&config));
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    // A pinned file the repository lacks.
    let mut missing = pins.clone();
    missing.insert("special_tokens_map.json".into(), Some(sha256_hex(b"{}")));
    let err = anonymous
        .fetch_pinned("alice/tok", Some(&commit), &missing, &fresh)
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::EntryNotFound { .. }), "{err}");

    // Through a competition's tokenizer spec: tokenizer.json pinned, the template fetched
    // unpinned, so each call asks the hub and follows the repository.
    let spec = arena_core::competition::TokenizerSpec::Hub {
        repo: "alice/tok".into(),
        revision: None,
        sha256: Some(sha256_hex(&tokenizer)),
        files: Default::default(),
    };
    let got = anonymous
        .fetch_tokenizer(&spec, &fresh)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        std::fs::read(got.join("tokenizer_config.json")).unwrap(),
        b"{\"chat_template\":\"other\"}"
    );
    let byo = arena_core::competition::TokenizerSpec::BringYourOwn;
    assert!(anonymous
        .fetch_tokenizer(&byo, &fresh)
        .await
        .unwrap()
        .is_none());
}
