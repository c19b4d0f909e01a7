//! `arena` against Subtensor through the built binary: offline `--dry-run` signing review
//! equal to the Python codec's byte vectors, and the read commands against a loopback
//! replay of recorded finney sessions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arena_subtensor::replay::{Recording, ReplayServer};
use serde_json::Value;

const FINNEY_GENESIS: &str = "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03";

/// The Subtensor client's test data (one copy, in its crate).
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../arena-subtensor/tests/data")
        .join(name)
}

fn vectors() -> Value {
    serde_json::from_slice(&std::fs::read(data("vectors-spec343.json")).unwrap()).unwrap()
}

fn arena(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    arena_testkit::process::isolated(&mut cmd);
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("ARENA_HOME", dir.join("home"))
        .env("ARENA_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    arena(dir, args).output().expect("running arena")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout {text}\nstderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn offline<'a>(meta: &'a str) -> Vec<&'a str> {
    vec![
        "--metadata",
        meta,
        "--genesis",
        FINNEY_GENESIS,
        "--spec-version",
        "343",
        "--tx-version",
        "1",
    ]
}

#[test]
fn set_weights_dry_run_prints_the_vectors_call_and_signing_payload() {
    let dir = tempfile::tempdir().unwrap();
    let meta = data("metadata-finney-spec343-v15.scale");
    let meta = meta.to_str().unwrap();
    let mut args = vec![
        "chain",
        "set-weights",
        "--network",
        "finney",
        "--netuid",
        "37",
        "--uids",
        "0,1",
        "--weights",
        "100,65535",
        "--version-key",
        "4",
        "--hotkey-uri",
        "//Alice",
        "--dry-run",
        "--json",
        "--nonce",
        "7",
    ];
    args.extend(offline(meta));
    let got = stdout_json(&run(dir.path(), &args));
    let v = vectors();
    let s = &v["signed_set_weights"];
    let call = v["calls"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("SubtensorModule.set_weights("))
        .unwrap()
        .1;
    assert_eq!(got["call"], *call);
    assert_eq!(got["signing_payload"], s["signing_payload"]);
    assert_eq!(got.as_object().unwrap().len(), 2);
}

#[test]
fn commit_dry_run_prints_the_vectors_call() {
    let dir = tempfile::tempdir().unwrap();
    let meta = data("metadata-finney-spec343-v15.scale");
    let meta = meta.to_str().unwrap();
    let base = [
        "chain",
        "commit",
        "--netuid",
        "37",
        "--data",
        "hi!!!",
        "--hotkey-uri",
        "//Alice",
        "--dry-run",
        "--json",
    ];
    let mut args = base.to_vec();
    args.extend(offline(meta));
    let got = stdout_json(&run(dir.path(), &args));
    let v = vectors();
    let want = v["calls"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("Commitments.set_commitment("))
        .unwrap()
        .1;
    assert_eq!(got, serde_json::json!({"call": want}));

    // With --nonce, the signing payload: the call, then the extensions.
    args.extend(["--nonce", "7"]);
    let got = stdout_json(&run(dir.path(), &args));
    let payload = got["signing_payload"].as_str().unwrap();
    assert!(payload.starts_with(want.as_str().unwrap()));
    assert!(payload.ends_with(&format!("{}00", &FINNEY_GENESIS[2..])));

    // Over 128 bytes: a clear error before anything is encoded.
    let long = "x".repeat(129);
    let mut args = base.to_vec();
    args[5] = &long;
    args.extend(offline(meta));
    let out = run(dir.path(), &args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at most 128"), "{err}");
}

#[test]
fn register_dry_run_encodes_burned_register_signed_by_the_coldkey() {
    let dir = tempfile::tempdir().unwrap();
    let meta = data("metadata-finney-spec343-v15.scale");
    let meta = meta.to_str().unwrap();
    let mut args = vec![
        "chain",
        "register",
        "--netuid",
        "37",
        "--coldkey-uri",
        "//Alice",
        "--hotkey-uri",
        "//Alice",
        "--dry-run",
        "--json",
    ];
    args.extend(offline(meta));
    let got = stdout_json(&run(dir.path(), &args));
    let call = got["call"].as_str().unwrap();
    // SubtensorModule (7 at spec 343), netuid 37, then Alice's public key.
    assert!(call.starts_with("0x07"), "{call}");
    assert!(
        call.ends_with("2500d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"),
        "{call}"
    );
}

fn recording() -> Recording {
    Recording::from_json(&std::fs::read(data("recorded-finney-rpc.json")).unwrap()).unwrap()
}

async fn replay(sessions: &[&str]) -> ReplayServer {
    let meta = std::fs::read(data("metadata-finney-spec343-v15.scale")).unwrap();
    ReplayServer::start(recording(), sessions, &meta)
        .await
        .unwrap()
}

async fn run_async(dir: &Path, args: Vec<String>) -> Output {
    let mut cmd = arena(dir, &[]);
    cmd.args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metagraph_against_the_replayed_finney_session() {
    let server = replay(&["metagraph"]).await;
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "chain",
        "metagraph",
        "--network",
        &server.ws_url(),
        "--netuid",
        "1",
        "--json",
    ];
    let out = run_async(dir.path(), args.iter().map(|s| s.to_string()).collect()).await;
    let mg = stdout_json(&out);
    assert_eq!(mg["netuid"], 1);
    assert_eq!(mg["block"], 6_852_690);
    let neurons = mg["neurons"].as_array().unwrap();
    assert_eq!(neurons.len(), 1024);
    // uid 0's hotkey: the first 32 bytes after the compact 1024 of the recorded
    // get_neurons_lite answer (0x4a7a6cf2…).
    let hotkey = arena_keys::PublicKey::from_hex(
        "4a7a6cf22af0de8f0c3566ceb47c255da605cf9243f6c1a6433cc782fa610166",
    )
    .unwrap();
    assert_eq!(neurons[0]["uid"], 0);
    assert_eq!(neurons[0]["hotkey"], hotkey.ss58());
}

fn assert_clear_failure(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.contains("error:"), "{what}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_and_miner_get_as_far_as_the_recording_allows() {
    let server = replay(&["metagraph"]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.ws_url();
    let out = run_async(
        dir.path(),
        [
            "validator",
            "run",
            "--network",
            &url,
            "--netuid",
            "1",
            "--hotkey-uri",
            "//Alice",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    assert_clear_failure(&out, "validator run");
    // It read the head block and the 1024-uid metagraph; the recording has no commitments.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reading the commitments of subnet 1"), "{err}");

    let model = dir.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), "{}").unwrap();
    let out = run_async(
        dir.path(),
        [
            "miner",
            "push",
            model.to_str().unwrap(),
            "--repo",
            "me/model",
            "--competition",
            "1",
            "--network",
            &url,
            "--netuid",
            "1",
            "--hotkey-uri",
            "//Alice",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    assert_clear_failure(&out, "miner push");
    // It read the recorded metagraph: //Alice holds no uid on subnet 1.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not registered"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_is_an_alias_of_network_and_unknown_networks_are_refused() {
    let server = replay(&["metagraph"]).await;
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "chain",
        "metagraph",
        "--chain",
        &server.ws_url(),
        "--netuid",
        "1",
        "--json",
    ];
    let out = run_async(dir.path(), args.iter().map(|s| s.to_string()).collect()).await;
    assert_eq!(stdout_json(&out)["neurons"].as_array().unwrap().len(), 1024);

    let out = run(
        dir.path(),
        &[
            "chain",
            "metagraph",
            "--network",
            "gopher://x",
            "--netuid",
            "1",
        ],
    );
    assert_clear_failure(&out, "unknown network");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected local, finney, test"), "{err}");
}
