//! `arena chain serve` as a real process: register four hotkeys (through the CLI), commit,
//! set weights, pass an epoch, `kill -9` the server, restart it on the same home, and find
//! block height, commitments, weights and emissions all still there.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arena_chain::{Chain, ChainClient, Hyperparameters};
use arena_keys::Keypair;

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).expect("dev uri")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts `arena chain serve` and waits for its readiness line.
fn serve(home: &Path, port: u16, block_ms: u64) -> Child {
    let mut child = Command::new(ARENA)
        .args(["chain", "serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(["--home", home.to_str().unwrap()])
        .args(["--block-time-ms", &block_ms.to_string()])
        .env("ARENA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn arena chain serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read readiness line");
    let ready: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("readiness line {line:?}: {e}"));
    assert_eq!(ready["listening"], format!("http://127.0.0.1:{port}"));
    child
}

/// Runs an `arena chain …` CLI command against `url` and parses its JSON output.
fn cli(home: &Path, url: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(ARENA)
        .arg("chain")
        .args(args)
        .args([
            "--endpoint",
            url,
            "--home",
            home.to_str().unwrap(),
            "--json",
        ])
        .env("ARENA_LOG", "warn")
        .output()
        .expect("run arena");
    assert!(
        out.status.success(),
        "arena chain {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

async fn wait_for_block(chain: &ChainClient, block: u64) {
    let start = Instant::now();
    while chain.block_number().await.unwrap() < block {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "block {block} never came"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_survives_kill_9() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(home.path(), port, 100);
    let chain = ChainClient::new(&url).unwrap();

    let hp = Hyperparameters {
        tempo: 20,
        ..Default::default()
    };
    let owner = key("//Owner");
    let created = chain.create_subnet(&owner, hp).await.unwrap();
    let netuid = created.assigned.unwrap();
    wait_for_block(&chain, created.block).await;

    // Four hotkeys registered through the CLI (coldkey-signed), two of them staked.
    let hotkeys: Vec<Keypair> = (0..4).map(|i| key(&format!("//Hot{i}"))).collect();
    let mut last = 0;
    for i in 0..hotkeys.len() {
        let uri = format!("//Hot{i}");
        let netuid_arg = netuid.to_string();
        let r = cli(
            home.path(),
            &url,
            &[
                "register",
                "--netuid",
                &netuid_arg,
                "--coldkey-uri",
                "//Cold",
                "--hotkey-uri",
                &uri,
            ],
        );
        assert_eq!(r["assigned"], i as u64, "{r}");
        if i < 2 {
            let r = cli(
                home.path(),
                &url,
                &[
                    "stake",
                    "--netuid",
                    &netuid_arg,
                    "--coldkey-uri",
                    "//Cold",
                    "--hotkey-uri",
                    &uri,
                    "--amount",
                    "1000000000000",
                ],
            );
            last = r["block"].as_u64().unwrap();
        }
    }
    wait_for_block(&chain, last).await;

    // First epoch grants permits to the staked hotkeys.
    let start = Instant::now();
    while !chain.metagraph(netuid).await.unwrap().neurons[0].validator_permit {
        assert!(start.elapsed() < Duration::from_secs(30), "no permit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (i, miner) in hotkeys[2..].iter().enumerate() {
        let text = format!("miner{i}/model:{}:hash{i}:1", "ab".repeat(20));
        chain
            .set_commitment(miner, netuid, text.as_bytes())
            .await
            .unwrap();
    }
    let mut weights_block = 0;
    for validator in &hotkeys[..2] {
        let r = chain
            .set_weights(validator, netuid, &[2, 3], &[65535, 16384], 0)
            .await
            .unwrap();
        weights_block = r.block;
    }
    wait_for_block(&chain, weights_block).await;
    // Wait for the epoch after the weights: miners earn incentive.
    let start = Instant::now();
    loop {
        let mg = chain.metagraph(netuid).await.unwrap();
        if mg.neurons[2].incentive > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no epoch paid out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let head = chain.block(None).await.unwrap().unwrap();
    let subnet = chain.subnet(netuid).await.unwrap();
    let metagraph = chain.metagraph(netuid).await.unwrap();
    let commitments = chain.commitments(netuid).await.unwrap();
    let weights = chain.weights(netuid).await.unwrap();
    assert_eq!(commitments.len(), 2);
    assert_eq!(weights.len(), 2);
    assert!(metagraph.neurons.iter().map(|n| n.emission).sum::<u64>() > 0);

    // kill -9: no shutdown path runs.
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    assert!(
        chain.block_number().await.is_err(),
        "server still answering"
    );

    // Restart with a block time long enough that nothing moves while we look.
    let mut server = serve(home.path(), port, 600_000);
    let after = chain.block(None).await.unwrap().unwrap();
    assert!(
        after.number >= head.number,
        "height went back: {after:?} < {head:?}"
    );
    let same = chain.block(Some(head.number)).await.unwrap().unwrap();
    assert_eq!(same, head, "block {} rewritten", head.number);
    assert_eq!(chain.commitments(netuid).await.unwrap(), commitments);
    assert_eq!(chain.weights(netuid).await.unwrap(), weights);
    let restarted = chain.subnet(netuid).await.unwrap();
    assert_eq!(
        restarted.last_epoch_block, subnet.last_epoch_block,
        "an epoch ran between the snapshot and the kill; widen tempo"
    );
    let mut mg = chain.metagraph(netuid).await.unwrap();
    mg.block = metagraph.block;
    assert_eq!(mg, metagraph);

    // The CLI reads the same state.
    let status = cli(home.path(), &url, &["status"]);
    assert_eq!(status["head"]["number"], after.number);
    assert_eq!(status["subnets"][0]["n"], 4);
    let netuid_arg = netuid.to_string();
    let mg_json = cli(home.path(), &url, &["metagraph", "--netuid", &netuid_arg]);
    assert_eq!(
        mg_json["neurons"][2]["emission"],
        metagraph.neurons[2].emission
    );
    assert_eq!(mg_json["neurons"][2]["hotkey"], hotkeys[2].public().ss58());
    let c_json = cli(home.path(), &url, &["commitments", "--netuid", &netuid_arg]);
    assert_eq!(c_json.as_array().unwrap().len(), 2);
    server.kill().ok();
    server.wait().ok();
}

/// `--endpoint local` opens `<home>/chain` in-process and seals a block after each signed
/// call, so a sequence of CLI invocations builds up state without a server.
#[test]
fn cli_against_the_in_process_chain() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let created = cli(
        h,
        "local",
        &["create-subnet", "--coldkey-uri", "//Owner", "--tempo", "5"],
    );
    assert_eq!(
        (created["assigned"].as_u64(), created["block"].as_u64()),
        (Some(1), Some(1))
    );
    let reg = cli(
        h,
        "local",
        &[
            "register",
            "--netuid",
            "1",
            "--coldkey-uri",
            "//Cold",
            "--hotkey-uri",
            "//Hot",
        ],
    );
    assert_eq!(
        (reg["assigned"].as_u64(), reg["block"].as_u64()),
        (Some(0), Some(2))
    );
    let staked = cli(
        h,
        "local",
        &[
            "stake",
            "--netuid",
            "1",
            "--coldkey-uri",
            "//Cold",
            "--hotkey-uri",
            "//Hot",
            "--amount",
            "42",
        ],
    );
    assert_eq!(staked["block"].as_u64(), Some(3));
    let mg = cli(h, "local", &["metagraph", "--netuid", "1"]);
    assert_eq!(mg["block"], 3);
    assert_eq!(mg["neurons"][0]["hotkey"], key("//Hot").public().ss58());
    assert_eq!(mg["neurons"][0]["coldkey"], key("//Cold").public().ss58());
    assert_eq!(mg["neurons"][0]["stake"], 42);
    // The same hotkey again is refused with subtensor's error name and a non-zero exit.
    let out = Command::new(ARENA)
        .args([
            "chain",
            "register",
            "--netuid",
            "1",
            "--coldkey-uri",
            "//Cold",
        ])
        .args([
            "--hotkey-uri",
            "//Hot",
            "--endpoint",
            "local",
            "--home",
            h.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HotKeyAlreadyRegisteredInSubNet"),
        "{stderr}"
    );
    let status = cli(h, "local", &["status"]);
    assert_eq!(
        status["head"]["number"], 3,
        "a rejected call must not seal a block"
    );
}
