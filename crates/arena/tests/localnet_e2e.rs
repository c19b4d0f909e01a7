//! End-to-end: `arena localnet` on the built-in tiny model, as a user runs it, for a short
//! number of blocks. While it runs, the leaderboard's `/api/standings` is fetched over HTTP;
//! after it exits, the chain database, the validators' state databases, `localnet.json` and the
//! final standings under the home are read back and checked against each other:
//!
//! * at least 2 epochs ran, and every validator's weights are on chain;
//! * the miner that trained most has the highest incentive on chain;
//! * the leaderboard (the live API document and the final one) agrees with the chain;
//! * all validators' top model per competition is the same (same shared seed, same ranking);
//! * a second run continues: same chain (height goes on), no re-registration, no re-training.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arena_chain::{Chain, LocalChain, LocalChainOptions};
use arena_validator::store::query::StoreReader;
use serde_json::Value;

const VALIDATORS: usize = 2;
const RUN_LIMIT: Duration = Duration::from_secs(420);

fn spawn(home: &Path, blocks: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["localnet", "--blocks", blocks, "--home"])
        .arg(home)
        .args([
            "--leaderboard-addr",
            "127.0.0.1:0",
            "--chain-port",
            "0",
            "--hub-port",
            "0",
            "--feed-port",
            "0",
            "--seed",
            "7",
            "--block-time-ms",
            "500",
        ])
        .args(["--train-steps", "40", "--json", "--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning arena localnet")
}

/// Collects stdout lines on a thread; `lines` receives each as it comes.
fn reader(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A plain HTTP/1.0 GET (no client crate needed); returns the body of a 200.
fn http_get(base: &str, path: &str) -> Option<String> {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    // hyper answers an HTTP/1.0 request with an HTTP/1.0 status line.
    let status = head.lines().next()?;
    status.contains(" 200 ").then(|| body.to_string())
}

struct RunOutput {
    lines: Vec<String>,
    live: Option<Value>,
    stderr: String,
}

/// Validators with weights on chain, per a standings document.
fn validators_with_weights(doc: &Value) -> usize {
    doc["validators"].as_array().map_or(0, |v| {
        v.iter().filter(|v| v["last_update"].is_u64()).count()
    })
}

/// Runs a localnet. With `until_weights`, watches `/api/standings` and sends SIGTERM (what
/// Ctrl-C does) once every validator has weights on chain and two more epochs have passed;
/// `blocks` is then only a safety cap. Without, runs to the block limit.
fn run(home: &Path, blocks: &str, until_weights: bool) -> RunOutput {
    let mut child = spawn(home, blocks);
    let rx = reader(&mut child);
    let started = Instant::now();
    let (mut lines, mut live, mut web) = (Vec::new(), None::<Value>, None::<String>);
    let (mut weights_at, mut signalled) = (None::<u64>, false);
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                if let Some(url) = line.strip_prefix("leaderboard ") {
                    web = Some(url.trim().to_string());
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let doc = web.as_deref().and_then(|w| http_get(w, "/api/standings"));
        if let (Some(doc), true) = (doc, until_weights && !signalled) {
            let v: Value = serde_json::from_str(&doc).expect("/api/standings is JSON");
            let block = v["block"].as_u64().expect("block");
            if weights_at.is_none() && validators_with_weights(&v) == VALIDATORS {
                weights_at = Some(block);
            }
            // Two epochs of 10 blocks after every validator set weights.
            if weights_at.is_some_and(|b| block > b + 21) {
                live = Some(v);
                let pid = child.id().to_string();
                assert!(Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap()
                    .success());
                signalled = true;
            }
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!(
                "localnet did not stop within {RUN_LIMIT:?}; output:\n{}",
                lines.join("\n")
            );
        }
    }
    let status = child.wait().expect("waiting for localnet");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let all = lines.join("\n");
    assert!(
        status.success(),
        "localnet failed: {status}\nstdout:\n{all}\nstderr:\n{stderr}"
    );
    assert!(
        !until_weights || signalled,
        "validators never all set weights:\n{all}\n{stderr}"
    );
    RunOutput {
        lines,
        live,
        stderr,
    }
}

#[test]
fn localnet_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(tmp.path(), "600", true);
    let first_run = started.elapsed();
    let home = tmp.path().join("localnet");
    let all = out.lines.join("\n");
    let summary: Value =
        serde_json::from_str(out.lines.last().expect("output")).expect("--json summary last");

    // Stopped by the signal, at least two epochs, every validator's weights on chain.
    assert!(all.contains("stopping: stop signal"), "{all}");
    assert!(summary["epochs"].as_u64().unwrap() >= 2, "{all}");
    let state: Value =
        serde_json::from_slice(&std::fs::read(home.join("localnet.json")).unwrap()).unwrap();
    let nodes = state["nodes"].as_array().unwrap();
    let role = |r: &str| {
        nodes
            .iter()
            .filter(|n| n["role"] == r)
            .cloned()
            .collect::<Vec<_>>()
    };
    let (miners, validators) = (role("miner"), role("validator"));
    assert_eq!((miners.len(), validators.len()), (3, VALIDATORS));
    let netuid = state["netuid"].as_u64().unwrap() as u16;

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let chain = LocalChain::open(home.join("chain"), LocalChainOptions::default()).unwrap();
    let end_block = rt.block_on(chain.block_number()).unwrap();
    assert_eq!(end_block, summary["end_block"].as_u64().unwrap());
    let mg = rt.block_on(chain.metagraph(netuid)).unwrap();
    let weights = rt.block_on(chain.weights(netuid)).unwrap();
    let neuron = |n: &Value| &mg.neurons[n["uid"].as_u64().unwrap() as usize];
    for v in &validators {
        assert_eq!(neuron(v).hotkey.ss58(), v["hotkey"].as_str().unwrap());
        assert!(
            neuron(v).last_update > 0,
            "{} never set weights\n{all}",
            v["name"]
        );
        assert!(weights
            .iter()
            .any(|w| u64::from(w.uid) == v["uid"].as_u64().unwrap()));
    }

    // The miner that trained most has the highest incentive.
    let best = miners
        .iter()
        .max_by_key(|m| m["train_steps"].as_u64().unwrap())
        .unwrap();
    for m in &miners {
        if m["name"] != best["name"] {
            assert!(
                neuron(best).incentive > neuron(m).incentive,
                "{} (incentive {}) should lead {} ({})\n{all}",
                best["name"],
                neuron(best).incentive,
                m["name"],
                neuron(m).incentive
            );
        }
    }

    // The leaderboard agrees with the chain: the final document exactly, at the final block.
    let fin: Value =
        serde_json::from_slice(&std::fs::read(home.join("standings.json")).unwrap()).unwrap();
    assert_eq!(fin["block"].as_u64().unwrap(), end_block);
    let models = fin["competitions"][0]["models"].as_array().unwrap();
    assert_eq!(models.len(), 3, "every miner's model is listed");
    for m in models {
        let n = &mg.neurons[m["uid"].as_u64().unwrap() as usize];
        assert_eq!(m["hotkey"].as_str().unwrap(), n.hotkey.ss58());
        assert_eq!(m["emission"].as_u64().unwrap(), n.emission);
        assert!((m["incentive"].as_f64().unwrap() - n.incentive_f64()).abs() < 1e-9);
    }
    assert_eq!(
        models[0]["hotkey"], best["hotkey"],
        "the best-scored model is the most-trained one"
    );
    // …and the live API document fetched during the run names the same models and hotkeys.
    let live = out.live.expect("no /api/standings document");
    assert_eq!(validators_with_weights(&live), VALIDATORS);
    assert!(live["block"].as_u64().unwrap() <= end_block);
    for m in live["competitions"][0]["models"].as_array().unwrap() {
        let n = &mg.neurons[m["uid"].as_u64().unwrap() as usize];
        assert_eq!(m["hotkey"].as_str().unwrap(), n.hotkey.ss58());
        assert!(m["repo"].as_str().unwrap().starts_with("miner"));
    }

    // Same seed, same top model at every validator, per competition.
    let mut tops = Vec::new();
    for v in &validators {
        let db = home
            .join("validators")
            .join(v["name"].as_str().unwrap())
            .join("validator.sqlite");
        let steps = StoreReader::open(&db).unwrap().latest_steps().unwrap();
        assert!(!steps.is_empty(), "{} recorded no step", v["name"]);
        for step in steps {
            let top = step
                .models
                .iter()
                .min_by(|a, b| a.score.total_cmp(&b.score))
                .unwrap();
            tops.push((step.key.competition_id, top.hotkey.clone()));
        }
    }
    for (c, top) in &tops {
        assert!(
            tops.iter().filter(|(c2, _)| c2 == c).all(|(_, t)| t == top),
            "{tops:?}"
        );
        assert_eq!(top, best["hotkey"].as_str().unwrap());
    }
    drop(chain);

    // A second run continues: the chain goes on, nobody registers or trains again.
    let again = run(tmp.path(), "6", false);
    let text = again.lines.join("\n");
    let summary2: Value = serde_json::from_str(again.lines.last().unwrap()).unwrap();
    assert!(
        summary2["start_block"].as_u64().unwrap() >= end_block,
        "{text}"
    );
    assert!(
        !text.contains("steps (lr") && !text.contains(" trained "),
        "a committed miner was trained again:\n{text}"
    );
    assert_eq!(
        text.matches("already committed").count(),
        3,
        "{text}\n{}",
        again.stderr
    );
    let state2: Value =
        serde_json::from_slice(&std::fs::read(home.join("localnet.json")).unwrap()).unwrap();
    assert_eq!(state2, state, "no node was re-registered");
    eprintln!(
        "first run {first_run:?}, whole test {:?}",
        started.elapsed()
    );
}
