//! Joining a running `arena localnet` as a new user would: the localnet prints the path of its
//! `join.toml` and the commands that join as a miner; this test runs exactly those commands
//! (with the built `arena` first on PATH) from another process while the localnet runs, then
//! checks that the new hotkey is registered, its model committed on chain under the joiner's
//! hub account, and that the validators scored it (`/api/standings`).
//!
//! Ports are 0 (any free port), so this runs beside other tests; `join.toml` names the ports
//! actually bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The whole test, localnet start to the joiner's score.
const LIMIT: Duration = Duration::from_secs(420);

struct Localnet(Child);

impl Drop for Localnet {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(base: &str, path: &str) -> Option<String> {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.lines()
        .next()?
        .contains(" 200 ")
        .then(|| body.to_string())
}

/// Waits for stdout lines until `done` holds for the lines so far.
fn wait_lines(
    rx: &mpsc::Receiver<String>,
    lines: &mut Vec<String>,
    started: Instant,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) {
    while !done(lines) {
        assert!(
            started.elapsed() < LIMIT,
            "timed out waiting for {what}:\n{}",
            lines.join("\n")
        );
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => lines.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!(
                    "localnet exited while waiting for {what}:\n{}",
                    lines.join("\n")
                )
            }
        }
    }
}

#[test]
fn a_new_miner_joins_with_the_printed_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let arena = Path::new(env!("CARGO_BIN_EXE_arena"));
    let started = Instant::now();
    let mut child = Localnet(
        Command::new(arena)
            .args(["localnet", "--home"])
            .arg(tmp.path().join("net"))
            .args(["--chain-port", "0", "--hub-port", "0", "--feed-port", "0"])
            .args([
                "--leaderboard-addr",
                "127.0.0.1:0",
                "--block-time-ms",
                "400",
            ])
            .args([
                "--train-steps",
                "8",
                "--blocks",
                "3000",
                "--log-level",
                "warn",
            ])
            .current_dir(tmp.path())
            .env_remove("ARENA_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning arena localnet"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    // The built-in miners' models are on chain: the joiner starts from the leader's.
    wait_lines(&rx, &mut lines, started, "3 commitments", |l| {
        l.iter().filter(|l| l.contains(" committed ")).count() == 3
    });
    let text = lines.join("\n");
    let join = text
        .lines()
        .find_map(|l| l.strip_prefix("join config "))
        .expect("the join config path is printed")
        .to_string();
    let web = text
        .lines()
        .find_map(|l| l.strip_prefix("leaderboard "))
        .expect("leaderboard URL")
        .trim()
        .to_string();
    assert!(Path::new(&join).is_file(), "{join}");
    let config = std::fs::read_to_string(&join).unwrap();
    let commands: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (n, rest) = l.split_once(". ")?;
            n.parse::<u32>().ok()?;
            Some(rest.to_string())
        })
        .collect();
    assert_eq!(commands.len(), 6, "{text}");
    assert!(
        commands
            .iter()
            .all(|c| c.contains(&format!("--config {join}"))),
        "{commands:?}"
    );

    // Run them as printed, in one shell; `miner check` exits 3 when the model would not win,
    // which is an answer, not a failure.
    let mut script = String::from("set -e\n");
    for c in &commands {
        script.push_str(c);
        if c.contains(" miner check ") {
            script.push_str(" || test $? -eq 3");
        }
        script.push('\n');
    }
    // Kept for the second push below, as the user's shell would keep it.
    script.push_str("printf %s \"$HF_TOKEN\" > hf_token\n");
    let path = format!(
        "{}:{}",
        arena.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .current_dir(tmp.path())
        .env("PATH", path)
        .env("HOME", tmp.path())
        .env("ARENA_LOG", "warn")
        .env_remove("ARENA_CONFIG")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the join commands failed: {}\n{said}\njoin.toml:\n{config}",
        out.status
    );

    // The joiner's commitment is on chain…
    let commitments = Command::new(arena)
        .args(["--config", &join, "chain", "commitments"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(commitments.status.success());
    let listed = String::from_utf8_lossy(&commitments.stdout).into_owned();
    // `uid N HOTKEY block B namespace:name:revision:hash:competition`
    let ours = listed
        .lines()
        .find(|l| l.contains(" joiner:model-1:"))
        .unwrap_or_else(|| panic!("no commitment of joiner/model-1:\n{listed}\n{said}"));
    let hotkey = ours.split_whitespace().nth(2).unwrap().to_string();
    assert!(ours.starts_with("uid "), "the joiner is registered: {ours}");

    // …and the validators score it.
    let first = wait_scored(&web, &hotkey, "model-1", started);
    eprintln!("joined and scored in {:?}: {first}", started.elapsed());

    // A second, better model under the same hotkey: trained further from the first, pushed
    // as a new repository with the same join.toml. It must be evaluated as a new commitment
    // (the validator bug: a hotkey with history was never evaluated again) and lead.
    // Trained on both tasks of the competition (the first was trained on one), from the first.
    let second = format!(
        "arena data sample --task word_sorting --seed joiner --count 1500 > mix.jsonl\n\
         arena data sample --task arithmetic --seed joiner --count 1500 >> mix.jsonl\n\
         arena --config {join} miner train --base joiner-model/model --competition 1 --data mix.jsonl --steps 200 --lr 2e-3 --out joiner-model-2\n\
         arena --config {join} miner push joiner-model-2/model --competition 1 --repo joiner/model-2\n"
    );
    let out = Command::new("sh")
        .args(["-c", &format!("set -e\n{second}")])
        .current_dir(tmp.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                arena.parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", tmp.path())
        .env("ARENA_LOG", "warn")
        .env(
            "HF_TOKEN",
            std::fs::read_to_string(tmp.path().join("hf_token")).unwrap(),
        )
        .env_remove("ARENA_CONFIG")
        .env_remove("HF_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the second push failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let better = wait_scored(&web, &hotkey, "model-2", started);
    eprintln!("second model scored in {:?}: {better}", started.elapsed());
    // Steps draw other samples, so scores of two steps do not compare; within its step the
    // second model beats every other model, the built-in leader included.
    assert_eq!(better["win_rate"].as_f64(), Some(1.0), "it leads: {better}");
    assert_ne!(better["revision"], first["revision"]);
}

/// Waits until `/api/standings` scores `hotkey`'s model from repository `joiner/<repo>`;
/// returns its row.
fn wait_scored(web: &str, hotkey: &str, repo: &str, started: Instant) -> Value {
    loop {
        let doc = http_get(web, "/api/standings").unwrap_or_default();
        assert!(
            started.elapsed() < LIMIT,
            "the joiner's {repo} was never scored:\n{doc}"
        );
        let parsed: Option<Value> = serde_json::from_str(&doc).ok();
        let row = parsed.as_ref().and_then(|d| {
            d["competitions"][0]["models"]
                .as_array()?
                .iter()
                .find(|m| {
                    m["hotkey"] == hotkey
                        && m["score"].is_f64()
                        && m["repo"].as_str().is_some_and(|r| r.ends_with(repo))
                })
                .cloned()
        });
        if let Some(row) = row {
            return row;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
