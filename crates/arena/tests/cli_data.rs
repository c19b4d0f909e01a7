//! `arena data` end to end through the built binary: seeded sampling, and a feed served,
//! fed by a producer and inspected, with one-line errors on bad input.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("ARENA_CONFIG")
        .env("ARENA_LOG", "error")
        .stdin(Stdio::null());
    cmd
}

/// Runs to completion: (exit code, stdout, stderr).
fn arena(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = command(dir, args).output().expect("running arena");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn sample_prints_seeded_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = arena(
        dir.path(),
        &[
            "data",
            "sample",
            "--task",
            "multiple_choice",
            "--seed",
            "42",
            "--count",
            "5",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let samples = lines(&out);
    assert_eq!(samples.len(), 5);
    for s in &samples {
        for field in ["id", "task", "prompt", "response", "choices", "answer"] {
            assert!(s.get(field).is_some(), "missing {field}: {s}");
        }
        assert_eq!(s["choices"].as_array().unwrap().len(), 4);
        assert_eq!(s["answer"], s["response"]);
    }
    let (_, again, _) = arena(
        dir.path(),
        &[
            "data",
            "sample",
            "--task",
            "multiple_choice",
            "--seed",
            "42",
            "--count",
            "5",
        ],
    );
    assert_eq!(out, again, "same seed, same samples");
    let (_, other, _) = arena(
        dir.path(),
        &[
            "data",
            "sample",
            "--task",
            "multiple_choice",
            "--seed",
            "43",
            "--count",
            "5",
        ],
    );
    assert_ne!(out, other);

    let (code, out, _) = arena(
        dir.path(),
        &[
            "data", "sample", "--task", "text", "--seed", "1", "--count", "3",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(lines(&out).len(), 3);

    let (code, _, err) = arena(
        dir.path(),
        &["data", "sample", "--task", "poetry", "--seed", "1"],
    );
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("unknown task \"poetry\""), "{err}");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_produce_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("http://{addr}");
    let home = dir.path().join("home");
    let _server = Server(
        command(
            dir.path(),
            &[
                "data",
                "serve",
                "--addr",
                &addr,
                "--home",
                home.to_str().unwrap(),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "feed did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The producer stamps the chain's current block: a local chain at height 4.
    {
        use arena_chain::{LocalChain, LocalChainOptions};
        let chain = LocalChain::open(
            dir.path().join(".arena/chain"),
            LocalChainOptions::default(),
        )
        .unwrap();
        for _ in 0..4 {
            chain.produce_block().unwrap();
        }
    }
    let (code, _, err) = arena(
        dir.path(),
        &[
            "data",
            "produce",
            "--key-uri",
            "//Alice",
            "--chain",
            "local",
            "--feed",
            &url,
            "--netuid",
            "3",
            "--samples",
            "7",
            "--tasks",
            "arithmetic,dyck",
            "--batches",
            "2",
            "--interval-secs",
            "1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(home.join("data/feed.sqlite").exists());

    let (code, out, err) = arena(
        dir.path(),
        &["data", "inspect", "--json", &format!("{url}/v1/batches")],
    );
    assert_eq!(code, 0, "{err}");
    let batches = lines(&out);
    assert_eq!(batches.len(), 2);
    for b in &batches {
        assert_eq!(
            b["producer"],
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        assert_eq!(b["netuid"], 3);
        assert_eq!(b["block"], 4);
        assert_eq!(b["samples"], 7);
        assert_eq!(b["signature_valid"], true);
        assert_eq!(b["tasks"]["arithmetic"], 4);
        assert_eq!(b["tasks"]["dyck"], 3);
    }

    // A tampered batch file is reported and fails the command.
    let page: Value = serde_json::from_str(&http_get(&addr, "/v1/batches?limit=1")).unwrap();
    let mut batch = page["items"][0]["batch"].clone();
    batch["samples"][0]["response"] = Value::String("tampered".into());
    let file = dir.path().join("batch.json");
    std::fs::write(&file, batch.to_string()).unwrap();
    let (code, out, err) = arena(dir.path(), &["data", "inspect", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("signature INVALID"), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // No chain to read the block from: a one-line error naming the flag, nothing published.
    let (code, _, err) = arena(
        dir.path(),
        &[
            "data",
            "produce",
            "--key-uri",
            "//Alice",
            "--feed",
            &url,
            "--chain",
            "http://127.0.0.1:1",
            "--batches",
            "1",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--chain"), "{err}");
    let (code, _, err) = arena(
        dir.path(),
        &[
            "data",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--retention-batches",
            "0",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--retention-batches"), "{err}");

    let (code, _, err) = arena(dir.path(), &["data", "inspect", "/nonexistent/batch.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/batch.json"), "{err}");
}

/// A minimal HTTP/1.1 GET, so this test needs no HTTP client crate.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

#[test]
fn sample_space_prints_the_question_counts() {
    use arena_data::tasks::{if_eval, multiple_choice};
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = arena(
        dir.path(),
        &["data", "sample", "--task", "multiple_choice", "--space"],
    );
    assert_eq!(code, 0, "{err}");
    let space: Value = serde_json::from_str(out.trim()).unwrap();
    let total = space["distinct_questions"].as_u64().unwrap();
    assert_eq!(u128::from(total), multiple_choice::distinct_questions());
    assert!(total >= 1_000_000);
    let families = space["families"].as_array().unwrap();
    assert_eq!(families.len(), multiple_choice::FAMILIES.len());
    let sum: u64 = families
        .iter()
        .map(|f| f["questions"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, total);
    let fixed: u64 = families
        .iter()
        .filter(|f| f["options_decide"] == false)
        .map(|f| f["questions"].as_u64().unwrap())
        .sum();
    assert_eq!(space["fixed_answer_questions"].as_u64(), Some(fixed));

    let (code, out, err) = arena(
        dir.path(),
        &["data", "sample", "--task", "if_eval", "--space"],
    );
    assert_eq!(code, 0, "{err}");
    let space: Value = serde_json::from_str(out.trim()).unwrap();
    let questions = space["distinct_questions"].as_u64().unwrap();
    let lists = space["rule_lists"].as_u64().unwrap();
    assert_eq!(u128::from(questions), if_eval::distinct_questions());
    assert_eq!(space["distinct_prompts"].as_u64(), Some(questions * lists));
    let topics: u64 = space["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["questions"].as_u64().unwrap())
        .sum();
    assert_eq!(topics, questions);

    // Other tasks have no counted space; a seed with --space is refused by the parser.
    let (code, _, err) = arena(dir.path(), &["data", "sample", "--task", "dyck", "--space"]);
    assert_eq!(code, 1);
    assert!(err.contains("--space is counted for"), "{err}");
    let (code, _, _) = arena(
        dir.path(),
        &[
            "data", "sample", "--task", "if_eval", "--space", "--seed", "1",
        ],
    );
    assert_ne!(code, 0);
}
