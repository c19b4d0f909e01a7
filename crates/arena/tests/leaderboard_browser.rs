//! `arena leaderboard show` and `serve` on a recorded network, and the page in headless
//! Chromium (Debian's package; `scripts/test` installs it): the rendered DOM has every
//! standings row and the charts' data points, and a screenshot is kept as a test artifact
//! (`target/test-artifacts/leaderboard.png`). Fails, never skips, without Chromium.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arena_testkit::demo as testkit;
use arena_testkit::fixtures::workspace_root as root;

fn chromium() -> PathBuf {
    let path = std::env::var_os("ARENA_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "Chromium not found at {} (set ARENA_TEST_CHROMIUM, or install Debian's `chromium` \
         package: scripts/test does)",
        path.display()
    );
    path
}

/// Runs Chromium headless on `url` with `extra` flags, killed after 120 s.
fn run_chromium(url: &str, profile: &Path, extra: &[String]) -> Output {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait chromium").is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("chromium did not finish within 120 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("chromium output")
}

fn arena(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    cmd.current_dir(home).arg("--home").arg(home.join("home"));
    cmd
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[test]
fn leaderboard_page_renders_standings_and_charts_in_chromium() {
    let chromium_path = chromium();
    let dir = tempfile::tempdir().unwrap();
    let schedule = arena_core::competition::default_schedule().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let net = runtime
        .block_on(testkit::build(dir.path(), &schedule))
        .unwrap();
    let (chain_dir, netuid, stores, miners) = (
        net.chain_dir.clone(),
        net.netuid,
        net.validator_stores.clone(),
        net.miners.clone(),
    );
    drop(net); // releases the chain's database for the server process
    let source = |cmd: &mut Command| {
        cmd.arg("--chain")
            .arg(&chain_dir)
            .arg("--netuid")
            .arg(netuid.to_string());
        for s in &stores {
            cmd.arg("--validator-state").arg(s.parent().unwrap());
        }
    };

    // `show`: the table once, then the JSON document.
    let mut show = arena(dir.path());
    show.args(["leaderboard", "show"]);
    source(&mut show);
    let out = show.output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for m in &miners {
        assert!(table.contains(&m.repo), "{table}");
    }
    let mut show_json = arena(dir.path());
    show_json.args(["leaderboard", "show", "--json"]);
    source(&mut show_json);
    let out = show_json.output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("show --json");
    let block = doc["block"].as_u64().unwrap();
    assert!(block > 2 * u64::from(testkit::TEMPO), "{doc}");

    // `serve`, then the page in Chromium.
    let mut serve = arena(dir.path());
    serve.args(["leaderboard", "serve", "--addr", "127.0.0.1:0"]);
    source(&mut serve);
    let mut child = serve.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    let ready: serde_json::Value = serde_json::from_str(&line).expect("readiness line");
    let url = ready["listening"].as_str().unwrap().to_string();

    let out = run_chromium(
        &url,
        &dir.path().join("profile-dom"),
        &["--dump-dom".into()],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium {}: {}",
        chromium_path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dom.matches("class=\"model-row\"").count(),
        miners.len(),
        "{dom}"
    );
    for m in &miners {
        assert!(dom.contains(&m.repo), "row of {} missing", m.repo);
    }
    assert!(
        dom.contains(&format!("block {block}")),
        "status line missing"
    );
    assert!(dom.contains("<svg class=\"chart\""), "no chart");
    // Points: competition 1 has 3 uids × 3 steps of weights and 2 finite uids × 3 of scores;
    // competition 2 one uid × 3 of each.
    let steps = testkit::STEP_SYNC_BLOCKS.len();
    assert_eq!(
        dom.matches("class=\"pt\"").count(),
        (3 + 2 + 1 + 1) * steps,
        "{dom}"
    );
    assert!(
        dom.contains("id=\"error\" hidden"),
        "error banner shown: {dom}"
    );

    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("leaderboard.png");
    std::fs::remove_file(&png).ok();
    let shot = run_chromium(
        &url,
        &dir.path().join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,900".into(),
            "--hide-scrollbars".into(),
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900));
    assert!(
        bytes.len() > 20_000,
        "screenshot of {} bytes looks blank",
        bytes.len()
    );

    // SIGTERM stops the server cleanly.
    let mut server = server;
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "leaderboard exited with {status}");

    // A subnet that does not exist: the page says why instead of rendering nothing.
    let mut serve = arena(dir.path());
    serve.args(["leaderboard", "serve", "--addr", "127.0.0.1:0"]);
    serve
        .arg("--chain")
        .arg(&chain_dir)
        .args(["--netuid", "99"]);
    let mut child = serve.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Server(child);
    let ready: serde_json::Value = serde_json::from_str(&line).expect("readiness line");
    let url = ready["listening"].as_str().unwrap().to_string();
    let out = run_chromium(
        &url,
        &dir.path().join("profile-err"),
        &["--dump-dom".into()],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("Could not load the standings: chain: reading metagraph of subnet 99"),
        "{dom}"
    );
    assert_eq!(dom.matches("class=\"model-row\"").count(), 0);
}

/// Bad sources end `show` with exit 1 and one line naming the bad path; a missing validator
/// state is a warning under the table, not a failure.
#[test]
fn leaderboard_show_names_bad_sources() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = arena(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            stderr,
        )
    };
    let nochain = dir.path().join("nochain");
    let (code, _, err) = run(&["leaderboard", "show", "--chain", nochain.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("nochain") && err.contains("chain.sqlite"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let schedule = dir.path().join("bad.toml");
    std::fs::write(&schedule, "[[entries]]\nstart_block = \"zero\"\n").unwrap();
    let (code, _, err) = run(&[
        "leaderboard",
        "show",
        "--schedule",
        schedule.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("bad.toml"), "{err}");

    // A chain with a subnet but a validator state that does not exist: table plus warning.
    let schedule_ok = arena_core::competition::default_schedule().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let net = runtime
        .block_on(testkit::build(&dir.path().join("net"), &schedule_ok))
        .unwrap();
    let chain_dir = net.chain_dir.clone();
    drop(net);
    let ghost = dir.path().join("ghost");
    let (code, out, err) = run(&[
        "leaderboard",
        "show",
        "--chain",
        chain_dir.to_str().unwrap(),
        "--validator-state",
        ghost.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("miner0/tiny-1"), "{out}");
    assert!(
        out.contains("warning: validator state") && out.contains("ghost"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "leaderboard",
        "show",
        "--chain",
        chain_dir.to_str().unwrap(),
        "--netuid",
        "7",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("subnet 7"), "{err}");
}
