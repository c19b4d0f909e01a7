//! The official Python SDK (`bittensor` 10.2.0, installed by `scripts/test` into
//! `.venv-bittensor`) against arena's chain, through nothing but its public API
//! (`tests/py/sdk_e2e.py`): register two hotkeys, commit a model pointer and read it back,
//! stake on the second, wait for its validator permit, set weights from it on the first, and
//! read the first's incentive from `neurons_lite` and from the metagraph after an epoch.
//! Once against `arena chain serve`, once against `arena localnet` (whose own miners and
//! validators run beside it); there, the same flow runs again through arena's own CLI and
//! Subtensor client (`--network ws://…`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

/// Runs the SDK script against `url`; returns its summary (asserting it succeeded).
fn run_sdk(url: &str, netuid: u16, max_epochs: u32) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/sdk_e2e.py");
    let out = Command::new(arena_testkit::fixtures::bittensor_python())
        .arg(&script)
        .args(["--url", url, "--netuid", &netuid.to_string()])
        .args(["--max-epochs", &max_epochs.to_string()])
        // No network: the SDK must not look anything up beyond the node it is given.
        .env("BT_MEV_PROTECTION", "0")
        .output()
        .expect("running the SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the SDK script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().expect("a summary line"))
        .unwrap_or_else(|e| panic!("summary: {e}\n{stdout}"));
    assert_eq!(summary["ok"], true, "{stdout}");
    let r = &summary["results"];
    for step in [
        "connect",
        "burned_register_hotkey1",
        "burned_register_hotkey2",
        "set_commitment",
        "get_commitment",
        "add_stake",
        "validator_permit",
        "set_weights",
        "incentive",
    ] {
        assert_eq!(r[step]["ok"], true, "step {step}: {stdout}");
    }
    assert_eq!(r["get_commitment"]["by_uid_ok"], true, "{stdout}");
    assert!(
        r["incentive"]["incentive"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    assert!(
        r["incentive"]["metagraph_incentive"].as_f64().unwrap() > 0.0,
        "{stdout}"
    );
    summary
}

/// Collects a child's stdout lines on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
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

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn python_sdk_against_arena_chain_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let mut child = Command::new(ARENA)
        .args([
            "chain",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--block-time-ms",
            "250",
        ])
        .arg("--home")
        .arg(&home)
        .env("ARENA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn arena chain serve");
    let rx = lines_of(&mut child);
    let _guard = Killed(child);
    let ready: Value = serde_json::from_str(&rx.recv_timeout(Duration::from_secs(30)).unwrap())
        .expect("readiness line");
    let http = ready["listening"].as_str().unwrap().to_string();
    let ws = ready["substrate"].as_str().unwrap().to_string();
    assert_eq!(
        ws.trim_start_matches("ws://"),
        http.trim_start_matches("http://")
    );

    // A subnet with a short tempo, made with arena's own CLI on the same port.
    let hp = tmp.path().join("hp.json");
    std::fs::write(&hp, r#"{"tempo": 5, "weights_rate_limit": 1}"#).unwrap();
    let out = Command::new(ARENA)
        .args([
            "chain",
            "create-subnet",
            "--network",
            &http,
            "--coldkey-uri",
            "//Owner",
        ])
        .arg("--hyperparameters")
        .arg(&hp)
        .arg("--home")
        .arg(&home)
        .arg("--json")
        .env("ARENA_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    let netuid = receipt["assigned"].as_u64().unwrap() as u16;

    run_sdk(&ws, netuid, 6);
}

#[test]
fn python_sdk_against_arena_localnet() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("localnet");
    let mut child = Command::new(ARENA)
        .args(["localnet", "--blocks", "100000", "--home"])
        .arg(&home)
        .args(["--leaderboard-addr", "127.0.0.1:0", "--chain-port", "0"])
        .args(["--hub-port", "0", "--feed-port", "0", "--seed", "7"])
        .args(["--block-time-ms", "500", "--train-steps", "20", "--json"])
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning arena localnet");
    let rx = lines_of(&mut child);
    let _guard = Killed(child);
    let start = Instant::now();
    let ws = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("localnet printed its endpoints");
        if let Some(rest) = line.strip_prefix("substrate") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "no substrate line"
        );
    };
    assert!(ws.starts_with("ws://127.0.0.1:"), "{ws}");
    // The competition subnet of a new localnet is netuid 1; its own validators hold stake
    // there, so the SDK's validator stakes twice the subnet's stake to decide consensus.
    run_sdk(&ws, 1, 8);

    // The same flow through arena's own client, over the Subtensor protocol.
    let cli_home = tmp.path().join("cli");
    let cli = |args: &[&str]| -> Value {
        let out = Command::new(ARENA)
            .arg("chain")
            .args(args)
            .args(["--network", &ws, "--netuid", "1", "--json", "--home"])
            .arg(&cli_home)
            .env("ARENA_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "arena chain {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (cold, miner, validator) = ("//Bob", "//Bob//miner", "//Bob//validator");
    let miner_uid = cli(&["register", "--coldkey-uri", cold, "--hotkey-uri", miner])["assigned"]
        .as_u64()
        .unwrap();
    let validator_uid = cli(&["register", "--coldkey-uri", cold, "--hotkey-uri", validator])
        ["assigned"]
        .as_u64()
        .unwrap();
    let pointer = "bob:tiny-model:0123abcd:hash:1";
    cli(&["commit", "--hotkey-uri", miner, "--data", pointer]);
    let commitments = cli(&["commitments"]);
    assert!(
        commitments
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["uid"] == miner_uid && c["data"] == format!("0x{}", hex(pointer))),
        "{commitments}"
    );
    let neuron = |m: &Value, uid: u64| -> Value {
        m["neurons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["uid"] == uid)
            .cloned()
            .unwrap()
    };
    let total: u64 = cli(&["metagraph"])["neurons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["stake"].as_u64().unwrap())
        .sum();
    let amount = (2 * total).max(1_000_000_000_000).to_string();
    cli(&[
        "stake",
        "--coldkey-uri",
        cold,
        "--hotkey-uri",
        validator,
        "--amount",
        &amount,
    ]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while neuron(&cli(&["metagraph"]), validator_uid)["validator_permit"] != true {
        assert!(
            Instant::now() < deadline,
            "no validator permit through arena's client"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let uid = miner_uid.to_string();
    cli(&[
        "set-weights",
        "--hotkey-uri",
        validator,
        "--uids",
        &uid,
        "--weights",
        "65535",
    ]);
    while neuron(&cli(&["metagraph"]), miner_uid)["incentive"]
        .as_u64()
        .unwrap()
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "no incentive through arena's client"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
