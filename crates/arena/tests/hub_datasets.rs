//! Evaluation on hub datasets end to end: copies of Subnet 37's SYNTHETIC-1-SFT and
//! codeforces-cots datasets, written as Parquet by pyarrow in the real schemas and uploaded by
//! the official `huggingface_hub` client to a hub, are read through that hub's datasets-server
//! API (`/size`, `/rows`) by the loaders validators use.
//!
//! * `data_commands_and_model_eval_read_the_uploaded_datasets`: `arena data splits` lists
//!   the configs and row counts; `arena data preview` draws seeded rows and extracts the
//!   references SN37 scores (checked against what the script wrote, row by row); `arena model
//!   eval` scores a model on `schedules/sn37.toml`'s competition 4 (DISTILLED_REASONING_3B,
//!   whose tasks are SYNTHETIC_1_SFT and CODEFORCES_COTS) with both tasks drawn from the hub.
//! * `the_validator_scores_models_on_hub_datasets`: `arena validator run` on
//!   `schedules/tiny-reasoning.toml` (the same two tasks sized for the tiny models) scores
//!   three committed models on rows read from the hub, both tasks present in every step, the
//!   best model first.
//! * `a_rate_limited_dataset_is_skipped_and_the_other_task_scored`: behind a front that answers
//!   429 to every `/rows` request for codeforces-cots (and redirects the rest to the hub), the
//!   client tries exactly ten times, the task is skipped and the other task carries the whole
//!   weight.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_chain::LocalChainOptions;
use arena_testkit::datasets::{upload_reasoning_datasets, DATASET_OWNERS};
use arena_testkit::fixtures::{fixtures, tiny_llama_scaled, workspace_root};
use arena_testkit::process::{isolated, output_blocking, stderr};
use arena_testkit::Net;
use arena_validator::store::Store;
use serde_json::Value;

const ARENA: &str = env!("CARGO_BIN_EXE_arena");
const SYNTHETIC: &str = "PrimeIntellect/SYNTHETIC-1-SFT-Data";
const CODEFORCES: &str = "open-r1/codeforces-cots";

fn arena(home: &Path) -> Command {
    let mut cmd = Command::new(ARENA);
    isolated(&mut cmd);
    cmd.args(["--home", home.to_str().unwrap()]);
    cmd
}

async fn run_json(cmd: Command) -> Vec<Value> {
    let out = output_blocking(cmd).await;
    assert!(out.status.success(), "arena failed:\n{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The row index at the end of a hub sample id (`dataset/config/split/row_idx`).
fn row_of(id: &str) -> (String, u64) {
    let (head, idx) = id.rsplit_once('/').unwrap();
    (head.to_string(), idx.parse().unwrap())
}

/// What SN37's SYNTHETIC-1 loader makes of row `i` the script wrote: the trace before the
/// answer, then the answer (the last `\boxed{…}`, nested braces kept, or the output JSON).
fn synthetic_reference(i: u64) -> Option<String> {
    match i % 5 {
        0 | 3 => Some(format!(
            "<think>\nExercise {i} reduces to a fraction.\n</think>\nThe result of exercise {i} is \\boxed{{\\frac{{{i}}}{{{}}}}}",
            i + 1
        )),
        1 => Some(format!(
            "<think>\nTrace the string transform of case {i}.\n</think> {{\"output\": \"out-{i}\"}}"
        )),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_commands_and_model_eval_read_the_uploaded_datasets() {
    let net = Net::builder().hub_users(&DATASET_OWNERS).start().await;
    let work = net.root.path().join("work");
    let summary = upload_reasoning_datasets(&net.hub_url, &work.join("datasets"));
    let home = net.root.path().join("home");

    // The size listing, from the Parquet footers.
    let mut cmd = arena(&home);
    cmd.args(["data", "splits", CODEFORCES, "--json"]);
    cmd.args(["--datasets-server", &net.hub_url]);
    let size = &run_json(cmd).await[0];
    let mut splits: Vec<(String, String, u64)> = size["size"]["splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["config"].as_str().unwrap().to_string(),
                s["split"].as_str().unwrap().to_string(),
                s["num_rows"].as_u64().unwrap(),
            )
        })
        .collect();
    splits.sort();
    assert_eq!(
        splits,
        [
            ("solutions".into(), "train".into(), 160),
            ("solutions_py".into(), "train".into(), 140)
        ]
    );

    // Seeded previews: every sample is a row the loader keeps, its reference extracted as
    // SN37 does; the same seed draws the same rows, another seed other rows.
    let preview = |seed: &str| {
        let mut cmd = arena(&home);
        cmd.args(["data", "preview", SYNTHETIC, "--format", "synthetic_1_sft"]);
        cmd.args(["--seed", seed, "--count", "12", "--json"]);
        cmd.args(["--datasets-server", &net.hub_url]);
        run_json(cmd)
    };
    let first = preview("block-1").await;
    assert_eq!(first.len(), 12);
    for sample in &first {
        let (head, i) = row_of(sample["id"].as_str().unwrap());
        assert_eq!(head, format!("{SYNTHETIC}/default/train"));
        let expected = synthetic_reference(i)
            .unwrap_or_else(|| panic!("row {i} is of a task type SN37 drops: {sample}"));
        assert_eq!(sample["response"].as_str().unwrap(), expected, "row {i}");
        assert_eq!(
            sample["prompt"].as_str().unwrap(),
            format!("Problem {i}: compute the value asked for in exercise {i}.")
        );
    }
    // One page, kept rows in page order: consecutive kept rows of one aligned window.
    let rows: Vec<u64> = first
        .iter()
        .map(|s| row_of(s["id"].as_str().unwrap()).1)
        .collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
    assert_eq!(preview("block-1").await, first, "same seed, same samples");
    assert_ne!(preview("block-2").await, first, "another seed, other rows");

    let mut cmd = arena(&home);
    cmd.args(["data", "preview", CODEFORCES, "--format", "codeforces_cots"]);
    cmd.args(["--seed", "block-1", "--count", "200", "--json"]);
    cmd.args(["--datasets-server", &net.hub_url]);
    let codeforces = run_json(cmd).await;
    assert!(!codeforces.is_empty());
    for sample in &codeforces {
        let (head, i) = row_of(sample["id"].as_str().unwrap());
        let config = head.rsplit('/').nth(1).unwrap().to_string();
        assert!(
            i % 10 != 3 && i % 10 != 7,
            "row {i} should have been dropped"
        );
        assert_eq!(
            sample["prompt"].as_str().unwrap(),
            format!(
                "[{config} {i}] Given n integers, print their sum modulo {}.",
                1000 + i
            )
        );
        assert!(sample["response"]
            .as_str()
            .unwrap()
            .ends_with(&format!("print({i})\n```")));
    }
    // One 120-row page of one config, without the rows SN37 drops: at most 96 samples.
    assert!(codeforces.len() <= 96, "{}", codeforces.len());
    assert!(summary["kept"]["solutions"].as_u64().unwrap() >= codeforces.len() as u64);

    // The shipped SN37 schedule's competition 4, evaluated on the hub's rows.
    let model = work.join("model");
    tiny_llama_scaled(&model, 1.0);
    let mut cmd = arena(&home);
    cmd.args([
        "model",
        "eval",
        model.to_str().unwrap(),
        "--competition",
        "4",
    ]);
    let schedule = workspace_root().join("schedules/sn37.toml");
    cmd.args(["--schedule", schedule.to_str().unwrap()]);
    cmd.args([
        "--tokenizer",
        fixtures().join("tiny-llama").to_str().unwrap(),
    ]);
    cmd.args(["--samples", "6", "--seed", "block-1", "--json"]);
    cmd.args(["--datasets-server", &net.hub_url]);
    let out = output_blocking(cmd).await;
    assert!(out.status.success(), "model eval failed:\n{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["name"], "DISTILLED_REASONING_3B");
    let tasks = result["tasks"].as_array().unwrap();
    let ids: Vec<&str> = tasks
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["SYNTHETIC_1_SFT", "CODEFORCES_COTS"]);
    for task in tasks {
        assert!(task["skipped"].is_null(), "{task}");
        assert_eq!(task["samples"], 6, "{task}");
        let raw = task["score"]["raw"].as_f64().unwrap();
        assert!(raw.is_finite() && raw > 0.0, "{task}");
        assert_eq!(task["score"]["weight"], 0.5, "{task}");
    }
}

fn spawn_validator(
    home: &Path,
    chain_url: &str,
    hub_url: &str,
    netuid: u16,
) -> std::process::Child {
    let log = std::fs::File::create(home.join("validator.log")).unwrap();
    let schedule = workspace_root().join("schedules/tiny-reasoning.toml");
    let mut cmd = Command::new(ARENA);
    isolated(&mut cmd);
    cmd.args(["--home", home.to_str().unwrap()])
        .args([
            "--set",
            "validator.sync_cadence=4",
            "--set",
            "validator.interval_secs=1",
        ])
        .args([
            "--set",
            "validator.metrics_addr=\"\"",
            "--set",
            "validator.worker_memory_max_gib=8",
        ])
        .args(["validator", "run", "--hotkey-uri", "//hub-data-validator"])
        .args([
            "--netuid",
            &netuid.to_string(),
            "--chain",
            chain_url,
            "--hub",
            hub_url,
        ])
        .args(["--schedule", schedule.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn arena validator run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_validator_scores_models_on_hub_datasets() {
    let mut users = vec!["alice", "bob", "carol"];
    users.extend(DATASET_OWNERS);
    let net = Net::builder()
        .chain_options(LocalChainOptions::fast(Duration::from_millis(250)))
        .hub_users(&users)
        .log_hub_requests()
        .rpc()
        .start()
        .await;
    let work = net.root.path().join("work");
    upload_reasoning_datasets(&net.hub_url, &work.join("datasets"));
    net.register("//hub-data-validator", 1_000_000_000_000)
        .await;
    let mut uids = Vec::new();
    for (ns, scale) in [("alice", 0.5f32), ("bob", 1.0), ("carol", 2.0)] {
        let miner = net.miner(ns).await;
        let dir: PathBuf = work.join(ns);
        tiny_llama_scaled(&dir, scale);
        let (commit, secure) = net.upload(&miner, "m", &dir).await;
        // Competition 4: the schedule's one competition.
        net.commit_text(&miner, &format!("{ns}:m:{commit}:{secure}:4"))
            .await;
        uids.push(miner.uid);
    }
    let _producer = net.chain.spawn_block_producer();
    let home = net.root.path().join("validator-home");
    std::fs::create_dir_all(&home).unwrap();
    let chain_url = net.chain_url().to_string();
    let mut child = spawn_validator(&home, &chain_url, &net.hub_url, net.netuid);
    let db = home.join("validator/validator.sqlite");
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut step = None;
    while Instant::now() < deadline && step.is_none() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !db.exists() {
            continue;
        }
        let Ok(store) = Store::open(&db) else {
            continue;
        };
        if let Some(key) = store.step_keys().unwrap().into_iter().next() {
            step = store.step(key).unwrap();
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(home.join("validator.log")).unwrap_or_default();
    let step = step.unwrap_or_else(|| panic!("no step recorded; validator log:\n{log}"));
    assert_eq!(step.key.competition_id, 4);
    let scored: Vec<u16> = step.models.iter().map(|m| m.uid).collect();
    assert_eq!(scored, uids, "{log}");
    for model in &step.models {
        assert!(model.error.is_none(), "{model:?}");
        let tasks: Vec<(&str, f64)> = model
            .tasks
            .iter()
            .map(|t| (t.task_id.as_str(), t.weight))
            .collect();
        assert_eq!(
            tasks,
            [("SYNTHETIC_1_SFT", 0.5), ("CODEFORCES_COTS", 0.5)],
            "both hub tasks were drawn and scored: {model:?}"
        );
        assert!(model.tasks.iter().all(|t| t.raw.is_finite()), "{model:?}");
    }
    // The head scaled by 0.5 is the best of the three (see validator_e2e.rs), and wins.
    let best = &step.models[0];
    assert!(best.win_rate == 1.0, "{:?}", step.models);
    // The rows came through the hub's datasets-server API.
    let requests = net.hub_log.lock().unwrap().clone();
    for path in ["GET /size", "GET /rows"] {
        assert!(
            requests.iter().any(|r| r == path),
            "{path} not requested: {requests:?}"
        );
    }
}

/// A datasets-server front for `hub`: `/rows` of `throttled` answers 429 (`Retry-After: 0`) and
/// is counted; every other request is redirected to the hub.
async fn throttling_front(hub: String, throttled: &'static str) -> (String, Arc<AtomicUsize>) {
    use axum::http::{header, StatusCode, Uri};
    use axum::response::IntoResponse;
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (hub, seen) = (hub.clone(), seen.clone());
        async move {
            let query = uri.query().unwrap_or("");
            let dataset = format!("dataset={}", throttled.replace('/', "%2F"));
            if uri.path() == "/rows" && query.split('&').any(|kv| kv == dataset) {
                seen.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"error":"Too many requests"}"#;
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "0")],
                    body,
                )
                    .into_response();
            }
            let to = format!(
                "{hub}{}",
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            );
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limited_dataset_is_skipped_and_the_other_task_scored() {
    let net = Net::builder().hub_users(&DATASET_OWNERS).start().await;
    let work = net.root.path().join("work");
    upload_reasoning_datasets(&net.hub_url, &work.join("datasets"));
    let (front, throttled) = throttling_front(net.hub_url.clone(), CODEFORCES).await;
    let model = work.join("model");
    tiny_llama_scaled(&model, 1.0);
    let mut cmd = arena(&net.root.path().join("home"));
    cmd.args([
        "model",
        "eval",
        model.to_str().unwrap(),
        "--competition",
        "4",
    ]);
    let schedule = workspace_root().join("schedules/sn37.toml");
    cmd.args(["--schedule", schedule.to_str().unwrap()]);
    cmd.args([
        "--tokenizer",
        fixtures().join("tiny-llama").to_str().unwrap(),
    ]);
    cmd.args(["--samples", "4", "--json", "--datasets-server", &front]);
    let out = output_blocking(cmd).await;
    assert!(out.status.success(), "model eval failed:\n{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tasks = result["tasks"].as_array().unwrap();
    let synthetic = &tasks[0];
    assert_eq!(synthetic["task_id"], "SYNTHETIC_1_SFT");
    assert_eq!(synthetic["samples"], 4, "{synthetic}");
    assert_eq!(
        synthetic["score"]["weight"], 1.0,
        "the weights are renormalised: {synthetic}"
    );
    let codeforces = &tasks[1];
    assert_eq!(codeforces["task_id"], "CODEFORCES_COTS");
    assert!(codeforces["samples"].is_null(), "{codeforces}");
    assert!(codeforces["skipped"].is_string(), "{codeforces}");
    // SN37's policy: ten attempts, then the draw stops (no other page is tried).
    assert_eq!(throttled.load(Ordering::SeqCst), 10);
    assert!(stderr(&out).contains("rate limited"), "{}", stderr(&out));
}
