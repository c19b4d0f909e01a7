//! Joining a running `arena localnet` as a third validator with its `join.toml`, as the README
//! says: wallet, registration, 1500 TAO of stake (more than validator2's 1000), `validator run`.
//! The localnet grants two permits (one per built-in validator), so the joiner takes
//! validator2's: its weights must reach the chain, and the localnet's closing summary must say
//! that validator2 holds no permit instead of counting it among the validators with weights.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(180);

/// Kills the child on drop (a failed assertion must not leave it running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(arena: &Path, dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(arena)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("ARENA_LOG", "warn")
        .env_remove("ARENA_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "arena {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_third_validator_joins_and_the_summary_shows_the_lost_permit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let arena = Path::new(env!("CARGO_BIN_EXE_arena"));
    let started = Instant::now();
    let mut localnet = Running(
        Command::new(arena)
            .args(["localnet", "--home"])
            .arg(dir.join("net"))
            .args(["--chain-port", "0", "--hub-port", "0", "--feed-port", "0"])
            .args([
                "--leaderboard-addr",
                "127.0.0.1:0",
                "--block-time-ms",
                "400",
            ])
            .args(["--train-steps", "8", "--blocks", "3000", "--quiet"])
            .args(["--log-level", "error"])
            .current_dir(dir)
            .env_remove("ARENA_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning arena localnet"),
    );
    let stdout = localnet.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let join = loop {
        assert!(
            started.elapsed() < LIMIT,
            "no join config:\n{}",
            lines.join("\n")
        );
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            if let Some(path) = line.strip_prefix("join config ") {
                break path.to_string();
            }
            lines.push(line);
        }
    };

    // The README's validator commands.
    let cfg = ["--config", join.as_str()];
    let with =
        |rest: &[&str]| -> Vec<String> { cfg.iter().chain(rest).map(|s| s.to_string()).collect() };
    let call = |rest: &[&str]| {
        let args = with(rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(arena, dir, &args)
    };
    call(&["wallet", "new", "--name", "validator3", "--no-password"]);
    call(&["chain", "register", "--wallet", "validator3"]);
    call(&[
        "chain",
        "stake",
        "--wallet",
        "validator3",
        "--amount",
        "1500000000000",
    ]);
    let args = with(&[
        "validator",
        "run",
        "--wallet",
        "validator3",
        "--set",
        "validator.metrics_addr=\"\"",
    ]);
    let _validator = Running(
        Command::new(arena)
            .args(&args)
            .current_dir(dir)
            .env("HOME", dir)
            .env("ARENA_LOG", "warn")
            .env_remove("ARENA_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Its weights reach the chain, with a permit.
    let hotkey = {
        let out = call(&["wallet", "list", "--json"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: Value = serde_json::from_str(&text).unwrap();
        let found = v
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "validator3")
            .unwrap_or_else(|| panic!("{text}"))
            .clone();
        found["hotkeys"][0]["ss58"]
            .as_str()
            .unwrap_or_else(|| panic!("{found}"))
            .to_string()
    };
    loop {
        assert!(
            started.elapsed() < LIMIT,
            "validator3 never set weights with a permit"
        );
        let out = call(&["chain", "metagraph", "--json"]);
        let mg: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours = mg["neurons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["hotkey"] == hotkey.as_str())
            .cloned();
        if ours
            .is_some_and(|n| n["validator_permit"] == true && n["last_update"].as_u64() > Some(0))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    // Stop the localnet as Ctrl-C would; its summary names validator2 as without a permit.
    let pid = localnet.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(90)) {
        rest.push(line);
    }
    let text = rest.join("\n");
    assert!(
        text.contains("stopping: stop signal; the state stays in"),
        "{text}"
    );
    let stopped = rest
        .iter()
        .find(|l| l.starts_with("stopped at block"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        stopped.contains("1 of 2 validators hold a validator permit")
            && stopped.contains("without a permit (their weights do not count): validator2"),
        "{stopped}"
    );
    eprintln!("joined, took a permit, stopped in {:?}", started.elapsed());
}
