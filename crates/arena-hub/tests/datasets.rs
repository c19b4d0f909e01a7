//! Dataset repos and the datasets-server API: the official client and pyarrow against our
//! server, our client against it, retries against a scripted server, hostile data files, and
//! the token lookup.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arena_hub::client::{resolve_token, HubClient, TokenSource, TokenSources};
use arena_hub::datasets_server::{
    DatasetsServerClient, DatasetsServerError, RetryPolicy, RowsResponse, MAX_ROWS_PER_PAGE,
};
use arena_hub::{HubError, RepoType};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::*;
use serde_json::{json, Value};

/// Retries without waiting: the tests count attempts, not seconds.
fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        max_retry_after: Duration::from_millis(20),
    }
}

fn ds_client(hub: &TestHub, token: Option<&str>) -> DatasetsServerClient {
    DatasetsServerClient::new(Some(&hub.endpoint), token.map(str::to_string))
        .unwrap()
        .with_retry(fast_retry(2))
}

/// Every row of a split, through pages of `page` rows.
async fn all_rows(
    client: &DatasetsServerClient,
    dataset: &str,
    config: &str,
    split: &str,
    page: u64,
) -> Vec<Value> {
    let mut rows = Vec::new();
    loop {
        let answer = client
            .rows(dataset, config, split, rows.len() as u64, page)
            .await
            .unwrap();
        for (i, item) in answer.rows.iter().enumerate() {
            assert_eq!(item.row_idx, (rows.len() + i) as u64);
            assert!(item.truncated_cells.is_empty());
        }
        let got = answer.rows.len();
        rows.extend(answer.rows.into_iter().map(|r| Value::Object(r.row)));
        if got == 0 || rows.len() as u64 >= answer.num_rows_total {
            assert_eq!(rows.len() as u64, answer.num_rows_total);
            return rows;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_uploads_a_dataset_and_the_datasets_server_serves_what_pyarrow_wrote() {
    // Parquet files go through LFS (over 1 KiB), under the dataset routes.
    let hub = TestHub::start(1024).await;
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("ds");
    let written = python_script(
        &hub,
        ALICE,
        true,
        "datasets.py",
        &["write", path_str(&folder)],
    )
    .await;
    let expected = &written["expected"];
    let out = python_script(
        &hub,
        ALICE,
        true,
        "datasets.py",
        &[
            "upload",
            "alice/chat",
            path_str(&folder),
            path_str(&work.path().join("pycache")),
            "private",
        ],
    )
    .await;
    let sha = out["sha"].as_str().unwrap().to_string();
    assert!(out["lfs"]
        .as_array()
        .unwrap()
        .contains(&json!("chat/train/0000.parquet")));
    assert!(out["files"]
        .as_array()
        .unwrap()
        .contains(&json!("data/train.jsonl")));

    // A model with the same id is another repo: absent, then separate.
    let rust = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    assert!(matches!(
        rust.repo_info("alice/chat", "main").await,
        Err(HubError::RepoNotFound(_))
    ));
    rust.create_repo("alice/chat", false, false).await.unwrap();
    let model_files = rust.list_files("alice/chat", "main").await.unwrap();
    assert_eq!(model_files, vec![".gitattributes".to_string()]);
    let dataset_files = rust
        .list_files_typed(RepoType::Dataset, "alice/chat", "main")
        .await
        .unwrap();
    assert!(dataset_files.contains(&"chat/train/0001.parquet".to_string()));

    // The Rust client downloads a dataset file (LFS) byte for byte.
    let wanted = vec![
        "chat/train/0001.parquet".to_string(),
        "data/train.jsonl".to_string(),
    ];
    let snap = rust
        .download_typed(
            RepoType::Dataset,
            "alice/chat",
            "main",
            Some(wanted.as_slice()),
            &work.path().join("rust-cache"),
            &quiet(),
        )
        .await
        .unwrap();
    assert_eq!(snap.commit, sha);
    assert!(snap
        .path
        .to_string_lossy()
        .contains("datasets--alice--chat"));
    for file in &wanted {
        assert_eq!(
            std::fs::read(snap.path.join(file)).unwrap(),
            std::fs::read(folder.join(file)).unwrap(),
            "{file}"
        );
    }

    // Private: invisible without alice's token, on every route.
    let anonymous = ds_client(&hub, None);
    match anonymous.splits("alice/chat").await {
        Err(DatasetsServerError::Status {
            status: 404,
            attempts: 1,
            ..
        }) => {}
        other => panic!("anonymous /splits of a private dataset: {other:?}"),
    }
    let bob = ds_client(&hub, Some(BOB));
    assert!(matches!(
        bob.rows("alice/chat", "chat", "train", 0, 1).await,
        Err(DatasetsServerError::Status { status: 404, .. })
    ));

    let client = ds_client(&hub, Some(ALICE));
    let splits = client.splits("alice/chat").await.unwrap();
    let names: Vec<(String, String)> = splits
        .splits
        .iter()
        .map(|s| (s.config.clone(), s.split.clone()))
        .collect();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        names,
        pairs(&[
            ("chat", "test"),
            ("chat", "train"),
            ("default", "train"),
            ("default", "validation")
        ])
    );
    assert!(splits.splits.iter().all(|s| s.dataset == "alice/chat"));

    let size = client.size("alice/chat").await.unwrap();
    let rows_of = |config: &str, split: &str| {
        size.size
            .splits
            .iter()
            .find(|s| s.config == config && s.split == split)
            .map(|s| (s.num_rows, s.num_columns))
    };
    assert_eq!(rows_of("chat", "train"), Some((17, 5)));
    assert_eq!(rows_of("chat", "test"), Some((5, 5)));
    assert_eq!(rows_of("default", "train"), Some((2500, 3)));
    assert_eq!(rows_of("default", "validation"), Some((3, 2)));
    assert_eq!(size.size.dataset.num_rows, 17 + 5 + 2500 + 3);
    let chat = size
        .size
        .configs
        .iter()
        .find(|c| c.config == "chat")
        .unwrap();
    assert_eq!(chat.num_rows, 22);
    let parquet_bytes: u64 = ["chat/train/0000.parquet", "chat/train/0001.parquet"]
        .iter()
        .map(|f| std::fs::metadata(folder.join(f)).unwrap().len())
        .sum();
    let train = size
        .size
        .splits
        .iter()
        .find(|s| s.config == "chat" && s.split == "train")
        .unwrap();
    assert_eq!(train.num_bytes_parquet_files, Some(parquet_bytes));

    // Every row, exactly as pyarrow wrote it, through pages that cross row groups and files.
    for (config, split, page) in [
        ("chat", "train", 3),
        ("chat", "test", 100),
        ("default", "train", 100),
        ("default", "validation", 2),
    ] {
        let rows = all_rows(&client, "alice/chat", config, split, page).await;
        assert_eq!(
            Value::Array(rows),
            expected[format!("{config}/{split}")],
            "{config}/{split}"
        );
    }
    // One page across the row-group boundary at 4 and one across the file boundary at 10.
    let page: RowsResponse = client
        .rows("alice/chat", "chat", "train", 2, 10)
        .await
        .unwrap();
    let ids: Vec<u64> = page
        .rows
        .iter()
        .map(|r| r.row["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (2..12).collect::<Vec<_>>());
    assert_eq!(page.num_rows_total, 17);
    assert_eq!(page.num_rows_per_page, 10);
    assert_eq!(
        page.rows[0].row,
        expected["chat/train"][2].as_object().unwrap().clone()
    );
    let features: Vec<(&str, &Value)> = page
        .features
        .iter()
        .map(|f| (f.name.as_str(), &f.feature_type))
        .collect();
    assert_eq!(
        features[0],
        ("id", &json!({"dtype": "int64", "_type": "Value"}))
    );
    assert_eq!(
        features[3],
        ("prompt", &json!({"dtype": "string", "_type": "Value"}))
    );
    assert_eq!(
        features[4],
        (
            "messages",
            &json!({"feature": {"role": {"dtype": "string", "_type": "Value"},
                                "content": {"dtype": "string", "_type": "Value"}},
                    "_type": "List"})
        )
    );
    // A JSONL page past the first checkpoint (1024 lines) and the tail of the split.
    let page = client
        .rows("alice/chat", "default", "train", 2040, 5)
        .await
        .unwrap();
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.row["n"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![2040, 2041, 2042, 2043, 2044]
    );
    let tail = client
        .rows("alice/chat", "chat", "train", 15, 100)
        .await
        .unwrap();
    assert_eq!(tail.rows.len(), 2);
    let past = client
        .rows("alice/chat", "chat", "train", 99, 5)
        .await
        .unwrap();
    assert!(past.rows.is_empty());

    // Deleting the dataset leaves the model of the same id.
    rust.delete_repo_typed(RepoType::Dataset, "alice/chat")
        .await
        .unwrap();
    assert!(matches!(
        client.splits("alice/chat").await,
        Err(DatasetsServerError::Status { status: 404, .. })
    ));
    assert!(rust.repo_info("alice/chat", "main").await.is_ok());
}

/// Raw GET against the hub's root, for answers the typed client would refuse.
async fn raw(hub: &TestHub, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/{query}", hub.endpoint))
        .bearer_auth(ALICE)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_dataset_files_and_parameters_get_error_answers() {
    let hub = TestHub::start_with(1024, |config| {
        config.limits.datasets.max_row_bytes = 64 * 1024;
    })
    .await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("ds");
    python_script(
        &hub,
        ALICE,
        true,
        "datasets.py",
        &["write", path_str(&source)],
    )
    .await;
    let good = std::fs::read(source.join("chat/train/0000.parquet")).unwrap();
    let folder = work.path().join("hostile");
    let put = |path: &str, bytes: &[u8]| {
        let path = folder.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("good/train.parquet", &good);
    put("truncated/train.parquet", &good[..good.len() / 2]);
    let mut absurd = good.clone();
    let at = absurd.len() - 8;
    absurd[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    put("absurd/train.parquet", &absurd);
    // Data pages overwritten, footer intact: the index builds, reading fails.
    let mut corrupt = good.clone();
    for b in &mut corrupt[4..good.len() / 2] {
        *b = 0xA5;
    }
    put("corrupt/train.parquet", &corrupt);
    let mut big = String::from("{\"text\": \"small\"}\n{\"text\": \"");
    big.push_str(&"x".repeat(100 * 1024));
    big.push_str("\"}\n{\"text\": \"after\"}\n");
    put("bigrow/train.jsonl", big.as_bytes());
    put("notjson/train.jsonl", b"{\"a\": 1}\n[1, 2]\n");
    python_script(
        &hub,
        ALICE,
        true,
        "datasets.py",
        &[
            "upload",
            "alice/hostile",
            path_str(&folder),
            path_str(&work.path().join("pycache")),
        ],
    )
    .await;

    let client = ds_client(&hub, Some(ALICE));
    let splits = client.splits("alice/hostile").await.unwrap();
    assert_eq!(splits.splits.len(), 6);
    // Sizes need every split: an unreadable one is a clean error.
    match client.size("alice/hostile").await {
        Err(DatasetsServerError::Status {
            status: 422,
            message,
            attempts: 1,
            ..
        }) => assert!(message.contains("train.parquet"), "{message}"),
        other => panic!("size of a dataset with broken files: {other:?}"),
    }
    for (config, status, needle) in [
        ("truncated", 422, "magic"),
        ("absurd", 422, "footer claims"),
        ("corrupt", 422, "corrupt"),
        ("notjson", 422, "not a JSON object"),
        ("bigrow", 413, "limit of 65536 bytes"),
    ] {
        let (offset, length) = if config == "notjson" || config == "bigrow" {
            (1, 1)
        } else {
            (0, 100)
        };
        match client
            .rows("alice/hostile", config, "train", offset, length)
            .await
        {
            Err(DatasetsServerError::Status {
                status: s,
                message,
                attempts: 1,
                ..
            }) => {
                assert_eq!(s, status, "{config}: {message}");
                assert!(message.contains(needle), "{config}: {message}");
            }
            other => panic!("{config}: {other:?}"),
        }
    }
    // Rows around the oversized one are served.
    let ok = client
        .rows("alice/hostile", "bigrow", "train", 2, 1)
        .await
        .unwrap();
    assert_eq!(ok.rows[0].row["text"], "after");
    assert_eq!(ok.num_rows_total, 3);

    // Bad parameters: the public server's statuses and words.
    for (query, status, needle) in [
        (
            format!(
                "rows?dataset=alice/hostile&config=good&split=train&length={}",
                MAX_ROWS_PER_PAGE + 1
            )
            .as_str(),
            422,
            "must not be greater than 100",
        ),
        (
            "rows?dataset=alice/hostile&config=good&split=train&offset=-1",
            422,
            "'offset' must be positive",
        ),
        (
            "rows?dataset=alice/hostile&config=good&split=train&offset=abc",
            422,
            "'offset' must be integer",
        ),
        (
            "rows?dataset=alice/hostile&config=good&split=train&length=1e3",
            422,
            "'length' must be integer",
        ),
        (
            "rows?dataset=alice/hostile&split=train",
            422,
            "'config' is required",
        ),
        ("splits", 422, "'dataset' is required"),
        (
            "rows?dataset=alice/hostile&config=good&split=nope",
            404,
            "does not exist",
        ),
        ("size?dataset=alice/nope", 404, "does not exist"),
        ("splits?dataset=../../etc", 404, "does not exist"),
    ] {
        let (s, body) = raw(&hub, query).await;
        assert_eq!(s, status, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }

    // The server keeps serving, the good split included.
    let rows = client
        .rows("alice/hostile", "good", "train", 3, 2)
        .await
        .unwrap();
    assert_eq!(
        rows.rows
            .iter()
            .map(|r| r.row["id"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![3, 4]
    );
}

/// A datasets-server that answers each request with the next scripted status, counting them.
async fn scripted(script: Vec<(u16, Option<&'static str>)>) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let script = Arc::new(script);
    let app = axum::Router::new().fallback(move |_headers: HeaderMap| {
        let (seen, script) = (seen.clone(), script.clone());
        async move {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let (status, retry_after) = script[n.min(script.len() - 1)];
            let status = StatusCode::from_u16(status).unwrap();
            if status.is_success() {
                let body = json!({"splits": [{"dataset": "a/b", "config": "default",
                                              "split": "train"}], "pending": [], "failed": []});
                return axum::Json(body).into_response();
            }
            let mut response = (
                status,
                axum::Json(json!({"error": format!("scripted {status}")})),
            )
                .into_response();
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", value.parse().unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count)
}

#[tokio::test]
async fn client_retries_429_and_5xx_and_gives_up_with_typed_errors() {
    let client = |url: &str| {
        DatasetsServerClient::new(Some(url), None)
            .unwrap()
            .with_retry(fast_retry(10))
    };
    // 429 with Retry-After, then success.
    let (url, count) = scripted(vec![(429, Some("0")), (200, None)]).await;
    let splits = client(&url).splits("a/b").await.unwrap();
    assert_eq!(splits.splits[0].split, "train");
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // 503 twice, then success.
    let (url, count) = scripted(vec![(503, None), (503, None), (200, None)]).await;
    client(&url).splits("a/b").await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 3);

    // 429 forever: a typed error after exactly max_attempts requests; a Retry-After larger than
    // the cap is capped (the test would take an hour otherwise).
    let (url, count) = scripted(vec![(429, Some("3600"))]).await;
    let started = std::time::Instant::now();
    match client(&url).splits("a/b").await {
        Err(DatasetsServerError::RateLimited { attempts: 10, .. }) => {}
        other => panic!("429 forever: {other:?}"),
    }
    assert_eq!(count.load(Ordering::SeqCst), 10);
    assert!(started.elapsed() < Duration::from_secs(10));

    // 500 forever: a status error after every attempt.
    let (url, count) = scripted(vec![(500, None)]).await;
    match client(&url).rows("a/b", "default", "train", 0, 10).await {
        Err(DatasetsServerError::Status {
            status: 500,
            attempts: 10,
            message,
            ..
        }) => assert_eq!(message, "scripted 500 Internal Server Error"),
        other => panic!("500 forever: {other:?}"),
    }
    assert_eq!(count.load(Ordering::SeqCst), 10);

    // 404 is not retried.
    let (url, count) = scripted(vec![(404, None), (200, None)]).await;
    assert!(matches!(
        client(&url).size("a/b").await,
        Err(DatasetsServerError::Status {
            status: 404,
            attempts: 1,
            ..
        })
    ));
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // An answer over the body cap is refused, and a transport error is retried then reported.
    let (url, _) = scripted(vec![(200, None)]).await;
    let small = client(&url).with_max_body_bytes(16);
    assert!(matches!(
        small.splits("a/b").await,
        Err(DatasetsServerError::TooLarge { limit: 16, .. })
    ));
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let client = DatasetsServerClient::new(Some(&closed), None)
        .unwrap()
        .with_retry(fast_retry(3));
    assert!(matches!(
        client.splits("a/b").await,
        Err(DatasetsServerError::Transport { attempts: 3, .. })
    ));
}

#[test]
fn token_lookup_follows_huggingface_hub_order() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let default_file = home.join(".cache/huggingface/token");
    std::fs::create_dir_all(default_file.parent().unwrap()).unwrap();
    std::fs::write(&default_file, "hf_from_home_cache\n").unwrap();
    let hf_home = dir.path().join("hfhome");
    std::fs::create_dir_all(&hf_home).unwrap();
    std::fs::write(hf_home.join("token"), "  hf_from_hf_home  \n").unwrap();
    let explicit = dir.path().join("explicit-token");
    std::fs::write(&explicit, "hf_from_token_path").unwrap();

    let all = TokenSources {
        hf_token: Some("hf_from_env".into()),
        hf_token_path: Some(explicit.clone()),
        hf_home: Some(hf_home.clone()),
        xdg_cache_home: None,
        home: Some(home.clone()),
        configured: Some("hf_from_config".into()),
    };
    assert_eq!(
        resolve_token(&all),
        Some(("hf_from_env".into(), TokenSource::EnvVar))
    );
    let no_env = TokenSources {
        hf_token: Some("   ".into()),
        ..all.clone()
    };
    assert_eq!(
        resolve_token(&no_env),
        Some((
            "hf_from_token_path".into(),
            TokenSource::File(explicit.clone())
        ))
    );
    // HF_TOKEN_PATH names the only file read: a missing one falls through to the configuration.
    let missing_path = TokenSources {
        hf_token_path: Some(dir.path().join("absent")),
        ..no_env.clone()
    };
    assert_eq!(
        resolve_token(&missing_path),
        Some(("hf_from_config".into(), TokenSource::Configured))
    );
    let hf_home_only = TokenSources {
        hf_token_path: None,
        ..no_env.clone()
    };
    assert_eq!(
        resolve_token(&hf_home_only),
        Some((
            "hf_from_hf_home".into(),
            TokenSource::File(hf_home.join("token"))
        ))
    );
    let home_only = TokenSources {
        hf_home: None,
        ..hf_home_only.clone()
    };
    assert_eq!(
        resolve_token(&home_only),
        Some((
            "hf_from_home_cache".into(),
            TokenSource::File(default_file.clone())
        ))
    );
    // An empty or oversized token file counts as absent.
    std::fs::write(&default_file, "\n").unwrap();
    assert_eq!(
        resolve_token(&home_only),
        Some(("hf_from_config".into(), TokenSource::Configured))
    );
    std::fs::write(&default_file, "x".repeat(10_000)).unwrap();
    assert_eq!(
        resolve_token(&home_only),
        Some(("hf_from_config".into(), TokenSource::Configured))
    );
    let nothing = TokenSources {
        configured: None,
        ..home_only
    };
    assert_eq!(resolve_token(&nothing), None);
}
