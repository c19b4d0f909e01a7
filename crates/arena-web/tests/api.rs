//! The leaderboard API against an in-process chain and real validator state databases: every
//! number must equal what the chain and the stores hold, and broken inputs must be reported,
//! not crash the server.

use std::collections::BTreeMap;
use std::sync::Arc;

use arena_chain::Chain;
use arena_testkit::demo::{self as testkit, DemoNetwork};
use arena_validator::store::{StepKey, Store};
use arena_web::Sources;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn demo() -> (tempfile::TempDir, DemoNetwork, Arc<Sources>) {
    let dir = tempfile::tempdir().unwrap();
    let schedule = arena_core::competition::default_schedule().unwrap();
    let net = testkit::build(dir.path(), &schedule).await.unwrap();
    let src = Arc::new(Sources {
        chain: net.chain.clone(),
        netuid: net.netuid,
        validator_stores: net.validator_stores.clone(),
        schedule: schedule.into(),
    });
    (dir, net, src)
}

async fn get(src: &Arc<Sources>, uri: &str) -> (StatusCode, String, String) {
    let req = Request::get(uri).body(Body::empty()).unwrap();
    let resp = arena_web::router(src.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8(body.to_vec()).unwrap())
}

async fn get_json(src: &Arc<Sources>, uri: &str) -> (StatusCode, Value) {
    let (status, ctype, body) = get(src, uri).await;
    assert!(ctype.starts_with("application/json"), "{uri}: {ctype}");
    (status, serde_json::from_str(&body).unwrap())
}

fn competition(doc: &Value, id: u64) -> &Value {
    doc["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("competition {id} missing"))
}

#[tokio::test]
async fn standings_agree_with_the_chain_and_the_highest_stake_validator() {
    let (_dir, net, src) = demo().await;
    let (status, doc) = get_json(&src, "/api/standings").await;
    assert_eq!(status, StatusCode::OK);

    let chain = &net.chain;
    let mg = chain.metagraph(net.netuid).await.unwrap();
    assert_eq!(doc["block"], mg.block);
    assert_eq!(doc["block"], chain.block_number().await.unwrap());

    // Expected consensus weights, computed here from the raw rows and stakes.
    let rows = chain.weights(net.netuid).await.unwrap();
    assert_eq!(rows.len(), 2, "both validators set weights");
    let stake = |uid: u16| mg.neurons[usize::from(uid)].stake as f64;
    let total_stake: f64 = rows.iter().map(|r| stake(r.uid)).sum();
    let mut consensus: BTreeMap<u16, f64> = BTreeMap::new();
    for r in &rows {
        let sum: f64 = r.weights.iter().map(|&(_, w)| f64::from(w)).sum();
        for &(uid, w) in &r.weights {
            *consensus.entry(uid).or_default() += stake(r.uid) * f64::from(w) / sum / total_stake;
        }
    }

    // Scores come from V0 (3000 TAO), not V1 (1000 TAO).
    let v0 = Store::open(&net.validator_stores[0]).unwrap();
    let last = *testkit::STEP_SYNC_BLOCKS.last().unwrap();
    let mut checked = 0;
    for miner in &net.miners {
        let c = competition(&doc, u64::from(miner.competition_id));
        let m = c["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["uid"] == miner.uid)
            .unwrap_or_else(|| panic!("uid {} missing", miner.uid));
        for field in [
            "uid",
            "hotkey",
            "repo",
            "revision",
            "score",
            "win_rate",
            "weight",
            "incentive",
            "emission",
        ] {
            assert!(m.get(field).is_some(), "field {field} missing in {m}");
        }
        assert_eq!(m["hotkey"], miner.hotkey.as_str());
        assert_eq!(m["repo"], miner.repo.as_str());
        assert_eq!(m["revision"], miner.revision.as_str());
        let n = &mg.neurons[usize::from(miner.uid)];
        assert_eq!(m["incentive"].as_f64().unwrap(), n.incentive_f64());
        assert_eq!(m["emission"].as_u64().unwrap(), n.emission);
        let want = consensus.get(&miner.uid).copied().unwrap_or(0.0);
        assert!((m["weight"].as_f64().unwrap() - want).abs() < 1e-12, "{m}");
        assert_eq!(m["validator_weights"].as_array().unwrap().len(), 2);

        let key = StepKey {
            competition_id: miner.competition_id,
            sync_block: last,
        };
        let step = v0.step(key).unwrap().unwrap();
        let rec = step.models.iter().find(|r| r.uid == miner.uid).unwrap();
        if rec.score.is_finite() {
            assert_eq!(m["score"].as_f64().unwrap(), rec.score);
            assert_eq!(m["tasks"].as_array().unwrap().len(), rec.tasks.len());
            assert_eq!(m["tasks"][0]["raw"].as_f64().unwrap(), rec.tasks[0].raw);
        } else {
            assert!(m["score"].is_null(), "failed score must be null: {m}");
            assert!(m["error"].as_str().unwrap().contains("timed out"), "{m}");
        }
        assert_eq!(m["win_rate"].as_f64().unwrap(), rec.win_rate);
        checked += 1;
    }
    assert_eq!(checked, 4);

    // Competition 1: M0 is best, is paid most, and ranks first; the failed model ranks last.
    let c1 = competition(&doc, 1);
    assert_eq!(c1["name"], "tiny-instruct");
    assert_eq!(c1["scored_by"]["hotkey"], net.validator_hotkeys[0].as_str());
    let ranked: Vec<u64> = c1["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["uid"].as_u64().unwrap())
        .collect();
    assert_eq!(ranked, vec![2, 3, 4]);
    let inc = |uid: usize| mg.neurons[uid].incentive;
    assert!(
        inc(2) > inc(3) && inc(2) > 0,
        "incentive {:?}",
        (inc(2), inc(3))
    );

    // Validators: both, by stake, each with its store.
    let vals = doc["validators"].as_array().unwrap();
    assert_eq!(vals.len(), 2);
    assert_eq!(vals[0]["hotkey"], net.validator_hotkeys[0].as_str());
    assert!(vals
        .iter()
        .all(|v| v["store"].is_string() && v["error"].is_null()));

    // The text table names every model.
    let table = arena_web::render_table(&arena_web::standings(&src).await.unwrap());
    for miner in &net.miners {
        assert!(table.contains(&miner.repo), "{table}");
    }
    assert!(
        table.lines().nth(1).unwrap().starts_with("competition"),
        "{table}"
    );

    // A model whose evaluation stopped early says so, with its sample count, in the JSON, the
    // table and the page's script, and ranks after the models scored in full.
    let stopped: Vec<&Value> = doc["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["models"].as_array().unwrap())
        .filter(|m| !m["early_stop"].is_null())
        .collect();
    assert!(!stopped.is_empty(), "the demo records an early stop");
    for m in &stopped {
        assert_eq!(m["early_stop"]["samples"], 12);
        assert_eq!(m["early_stop"]["of"], 48);
        assert_eq!(m["early_stop"]["decision"], "cannot_win");
        assert!(m["score"].is_number());
    }
    assert!(table.contains("(stopped 12/48)"), "{table}");
    for c in doc["competitions"].as_array().unwrap() {
        let models = c["models"].as_array().unwrap();
        let first_stopped = models.iter().position(|m| !m["early_stop"].is_null());
        if let Some(at) = first_stopped {
            assert!(models[at..]
                .iter()
                .all(|m| !m["early_stop"].is_null() || m["score"].is_null()));
        }
    }
    assert!(include_str!("../assets/app.js").contains("m.early_stop"));
}

#[tokio::test]
async fn scores_follow_stake_not_argument_order_and_history_has_every_step() {
    let (_dir, net, src) = demo().await;
    let swapped = Arc::new(Sources {
        chain: src.chain.clone(),
        netuid: src.netuid,
        validator_stores: vec![
            net.validator_stores[1].clone(),
            net.validator_stores[0].clone(),
        ],
        schedule: src.schedule.clone(),
    });
    let doc = arena_web::standings(&swapped).await.unwrap();
    let c1 = doc.competitions.iter().find(|c| c.id == 1).unwrap();
    assert_eq!(
        c1.scored_by.as_ref().unwrap().hotkey.as_deref(),
        Some(net.validator_hotkeys[0].as_str())
    );

    // With only V1's state, V1's (1% worse) scores are shown.
    let only_v1 = Arc::new(Sources {
        chain: src.chain.clone(),
        netuid: src.netuid,
        validator_stores: vec![net.validator_stores[1].clone()],
        schedule: src.schedule.clone(),
    });
    let doc1 = arena_web::standings(&only_v1).await.unwrap();
    let s0 = c1.models[0].score.unwrap();
    let s1 = doc1.competitions.iter().find(|c| c.id == 1).unwrap().models[0]
        .score
        .unwrap();
    assert!((s1 / s0 - 1.01).abs() < 1e-12, "{s0} vs {s1}");

    let (status, hist) = get_json(&src, "/api/history").await;
    assert_eq!(status, StatusCode::OK);
    let h1 = competition(&hist, 1);
    let series = h1["series"].as_array().unwrap();
    assert_eq!(series.len(), 3, "{h1}");
    let v0 = Store::open(&net.validator_stores[0]).unwrap();
    for s in series {
        let points = s["points"].as_array().unwrap();
        assert_eq!(points.len(), testkit::STEP_SYNC_BLOCKS.len());
        for (p, &sync) in points.iter().zip(&testkit::STEP_SYNC_BLOCKS) {
            let step = v0
                .step(StepKey {
                    competition_id: 1,
                    sync_block: sync,
                })
                .unwrap()
                .unwrap();
            assert_eq!(p["block"], step.block);
            let uid = s["uid"].as_u64().unwrap() as usize;
            assert_eq!(p["weight"].as_f64().unwrap(), step.subnet_weights[uid]);
        }
    }
}

#[tokio::test]
async fn broken_stores_are_reported_and_a_missing_subnet_is_a_json_error() {
    let (dir, net, src) = demo().await;
    let missing = dir.path().join("nowhere/validator.sqlite");
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x42u8; 4096]).unwrap();
    let broken = Arc::new(Sources {
        chain: src.chain.clone(),
        netuid: src.netuid,
        validator_stores: vec![
            missing.clone(),
            garbage.clone(),
            net.validator_stores[0].clone(),
        ],
        schedule: src.schedule.clone(),
    });
    let (status, doc) = get_json(&broken, "/api/standings").await;
    assert_eq!(status, StatusCode::OK);
    let errors: Vec<String> = doc["validators"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["error"].as_str().map(String::from))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("nowhere/validator.sqlite") && e.contains("no such file")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("garbage.sqlite")),
        "{errors:?}"
    );
    assert!(
        competition(&doc, 1)["models"][0]["score"].is_number(),
        "the good store still scores"
    );
    let (status, _) = get_json(&broken, "/api/history").await;
    assert_eq!(status, StatusCode::OK);

    let wrong = Arc::new(Sources {
        chain: src.chain.clone(),
        netuid: 99,
        validator_stores: Vec::new(),
        schedule: src.schedule.clone(),
    });
    let (status, doc) = get_json(&wrong, "/api/standings").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let msg = doc["error"].as_str().unwrap();
    assert!(msg.contains("subnet 99"), "{msg}");

    let (status, ctype, page) = get(&src, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"));
    assert!(
        page.contains("/assets/app.js") && !page.contains("http://") && !page.contains("https://")
    );
    let (status, ctype, js) = get(&src, "/assets/app.js").await;
    assert_eq!(
        (status, ctype.starts_with("text/javascript")),
        (StatusCode::OK, true)
    );
    assert!(js.contains("/api/standings") && js.contains("/api/history"));
}

/// The same documents through the JSON-RPC client as through the in-process chain, and a
/// served page: what `arena leaderboard serve --chain http://…` shows equals the local view.
#[tokio::test]
async fn the_json_rpc_chain_gives_the_same_documents_over_real_http() {
    let (_dir, net, src) = demo().await;
    let (addr, handle) = arena_chain::rpc::serve(net.chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = arena_chain::ChainClient::new(&format!("http://{addr}")).unwrap();
    let remote = Arc::new(Sources {
        chain: Arc::new(client),
        netuid: src.netuid,
        validator_stores: src.validator_stores.clone(),
        schedule: src.schedule.clone(),
    });
    let local_doc = arena_web::standings(&src).await.unwrap();
    assert_eq!(arena_web::standings(&remote).await.unwrap(), local_doc);
    assert_eq!(
        arena_web::history(&remote).await.unwrap(),
        arena_web::history(&src).await.unwrap()
    );

    // Over a real socket, with graceful shutdown.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(arena_web::serve(listener, remote, async {
        stopped.await.ok();
    }));
    let mut stream = tokio::net::TcpStream::connect(web).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /api/standings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let body = &raw[raw.find("\r\n\r\n").unwrap() + 4..];
    let served: arena_web::Standings = serde_json::from_str(body).unwrap();
    assert_eq!(served, local_doc);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    handle.stop().ok();
}

/// A validator keeps committing steps while the leaderboard reads: every document is built
/// without a store error, and the scoring step's block only moves forward.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_stay_consistent_while_a_validator_writes() {
    let (_dir, net, src) = demo().await;
    let path = net.validator_stores[0].clone();
    let writer = std::thread::spawn(move || {
        let mut store = Store::open(&path).unwrap();
        let last = *testkit::STEP_SYNC_BLOCKS.last().unwrap();
        let template = store
            .step(StepKey {
                competition_id: 1,
                sync_block: last,
            })
            .unwrap()
            .unwrap();
        for i in 1..=40u64 {
            let mut step = template.clone();
            step.key.sync_block = last + i;
            step.block = last + i + 2;
            store.record_step(&step).unwrap();
        }
    });
    let mut seen = 0;
    while !writer.is_finished() || seen < 5 {
        let doc = arena_web::standings(&src).await.unwrap();
        assert!(
            doc.validators.iter().all(|v| v.error.is_none()),
            "{:?}",
            doc.validators
        );
        let by = doc.competitions[0].scored_by.clone().unwrap();
        assert!(
            by.step_block >= seen,
            "went back from {seen} to {}",
            by.step_block
        );
        seen = by.step_block;
        let hist = arena_web::history(&src).await.unwrap();
        assert!(hist.competitions[0].error.is_none());
    }
    writer.join().unwrap();
    let doc = arena_web::standings(&src).await.unwrap();
    let last = *testkit::STEP_SYNC_BLOCKS.last().unwrap();
    assert_eq!(
        doc.competitions[0].scored_by.as_ref().unwrap().step_block,
        last + 42
    );
}
