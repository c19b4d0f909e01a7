//! `arena miner push`, `arena miner check` and `arena model check` as processes, on what a
//! newcomer gets wrong:
//!
//! * a model folder that `model check --competition` refuses (hidden_size doubled in
//!   config.json) is refused by `miner check --constraints-only` with the same codes;
//! * `miner push` refuses an unregistered hotkey, a competition the schedule does not run, a
//!   repo id too long for the commitment and a folder that fails the competition's checks
//!   before it uploads anything: the hub has no such repository afterwards;
//! * errors say each cause once, with a hint where one exists (a hub that refuses the token
//!   names HF_TOKEN, a missing wallet or hotkey names the file and `arena wallet list`), and
//!   logs written to a pipe carry no colour codes;
//! * `miner check` draws a feed task from `[data] feed_url` and takes the schedule and the
//!   sync cadence from the configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use arena_chain::{Chain, Hyperparameters, LocalChainOptions};
use arena_data::feed::client::FeedClient;
use arena_data::producer::Producer;
use arena_data::tasks::TaskKind;
use arena_hub::client::HubClient;
use arena_hub::HubError;
use arena_keys::Keypair;
use arena_testkit::fixtures::copy_fixture;
use arena_testkit::process::{isolated, last_json, output_blocking, stderr};
use arena_testkit::TinyCompetition;
use serde_json::Value;

const ARENA: &str = env!("CARGO_BIN_EXE_arena");
const TOKEN: &str = "alice-token-0123";

/// Competition 1 sized for the tiny fixture; its one task draws from `dataset`.
fn schedule(dataset: &str) -> String {
    TinyCompetition::new("tiny-push").dataset(dataset).toml()
}

/// A copy of tiny-llama; with `double_hidden`, config.json claims twice the hidden size.
fn tiny_llama(to: &Path, double_hidden: bool) -> PathBuf {
    copy_fixture("tiny-llama", to);
    if double_hidden {
        let path = to.join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let hidden = config["hidden_size"].as_u64().unwrap();
        config["hidden_size"] = Value::from(hidden * 2);
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    }
    to.to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    isolated(cmd).output().unwrap()
}

fn codes(report: &Value) -> Vec<String> {
    report["failures"]
        .as_array()
        .unwrap_or_else(|| panic!("no failures array: {report}"))
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// `model check --competition` and `miner check --constraints-only` are one code path: the
/// broken model gets the same failure codes from both, and the fixture passes both.
#[test]
fn model_check_and_miner_check_refuse_a_broken_model_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let schedule_path = tmp.path().join("competitions.toml");
    std::fs::write(
        &schedule_path,
        schedule(r#"{ generator = "word_sorting" }"#),
    )
    .unwrap();
    let home = tmp.path().join("home");
    let check = |kind: &str, dir: &Path| {
        let mut cmd = Command::new(ARENA);
        cmd.arg("--home").arg(&home);
        match kind {
            "model" => cmd.args(["model", "check"]).arg(dir).arg("--schedule"),
            _ => cmd
                .args(["miner", "check", "--constraints-only"])
                .arg(dir)
                .arg("--competitions"),
        };
        cmd.arg(&schedule_path)
            .args(["--competition", "1", "--json"]);
        run(&mut cmd)
    };
    let broken = tiny_llama(&tmp.path().join("broken"), true);
    let by_model = check("model", &broken);
    let by_miner = check("miner", &broken);
    assert_eq!(by_model.status.code(), Some(1), "{}", stderr(&by_model));
    assert_eq!(by_miner.status.code(), Some(1), "{}", stderr(&by_miner));
    let (model_report, miner_report) = (last_json(&by_model), last_json(&by_miner));
    let model_codes = codes(&model_report);
    assert!(
        model_codes
            .iter()
            .filter(|c| *c == "shape_mismatch")
            .count()
            > 1,
        "{model_report}"
    );
    assert_eq!(codes(&miner_report), model_codes);
    assert_eq!(miner_report["failures"], model_report["failures"]);
    assert_eq!(miner_report["passed"], false);
    assert!(stderr(&by_miner).contains(&format!("{} check(s) failed", model_codes.len())));

    // The text report of --constraints-only lists the same failures, one per line.
    let mut cmd = Command::new(ARENA);
    cmd.arg("--home").arg(&home);
    cmd.args(["miner", "check", "--constraints-only"])
        .arg(&broken);
    cmd.arg("--competitions").arg(&schedule_path);
    cmd.args(["--competition", "1"]);
    let text = run(&mut cmd);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("FAIL shape_mismatch"))
            .count(),
        model_codes
            .iter()
            .filter(|c| *c == "shape_mismatch")
            .count(),
        "{stdout}"
    );

    let good = tiny_llama(&tmp.path().join("good"), false);
    for kind in ["model", "miner"] {
        let out = check(kind, &good);
        assert_eq!(out.status.code(), Some(0), "{kind}: {}", stderr(&out));
        let report = last_json(&out);
        assert_eq!(report["passed"], true, "{kind}: {report}");
        assert_eq!(codes(&report), Vec::<String>::new());
    }
}

/// A local chain over JSON-RPC and a hub, in this process.
struct Net(arena_testkit::Net);

impl std::ops::Deref for Net {
    type Target = arena_testkit::Net;
    fn deref(&self) -> &arena_testkit::Net {
        &self.0
    }
}

impl Net {
    async fn start() -> Net {
        let net = arena_testkit::Net::builder()
            .chain_options(LocalChainOptions::fast(Duration::from_millis(100)))
            .hyperparameters(Hyperparameters::default())
            .hub_users(&["alice"])
            .rpc()
            .start()
            .await;
        Net(net)
    }

    async fn register(&self, netuid: u16, hotkey: &Keypair) {
        self.chain
            .register(&self.owner, netuid, &hotkey.public())
            .await
            .unwrap();
        self.chain.produce_block().unwrap();
    }

    /// `arena --home … miner push DIR --repo REPO --competition ID <extra…>` against this
    /// network, with `token` as HF_TOKEN.
    async fn push(
        &self,
        dir: &Path,
        repo: &str,
        competition: u32,
        token: &str,
        extra: &[&str],
    ) -> Output {
        let mut cmd = Command::new(ARENA);
        cmd.arg("--home").arg(self.root.path().join("home"));
        cmd.arg("--set").arg(format!(
            "wallet.root=\"{}\"",
            self.root.path().join("wallets").display()
        ));
        cmd.args(["miner", "push"]).arg(dir);
        cmd.args(["--repo", repo, "--competition", &competition.to_string()]);
        cmd.args(["--chain", self.chain_url(), "--hub", &self.hub_url]);
        cmd.arg("--competitions")
            .arg(self.root.path().join("competitions.toml"));
        cmd.args(["--readback-timeout", "20"]);
        cmd.args(extra);
        cmd.env("ARENA_LOG", "info").env("RAYON_NUM_THREADS", "2");
        cmd.env_remove("HF_ENDPOINT").env_remove("ARENA_CONFIG");
        cmd.env("HF_TOKEN", token);
        output_blocking(cmd).await
    }

    async fn assert_no_repo(&self, repo: &str) {
        let hub = HubClient::new(&self.hub_url, Some(TOKEN.into())).unwrap();
        match hub.repo_info(repo, "main").await {
            Err(HubError::RepoNotFound(_)) | Err(HubError::InvalidRepoId(_)) => {}
            other => panic!("{repo} exists on the hub after a refused push: {other:?}"),
        }
    }
}

/// `text` occurs exactly once in `haystack`.
fn once(haystack: &str, text: &str) {
    assert_eq!(
        haystack.matches(text).count(),
        1,
        "{text:?} not exactly once in:\n{haystack}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_refuses_before_uploading_and_errors_say_each_cause_once() {
    let net = Net::start().await;
    std::fs::write(
        net.root.path().join("competitions.toml"),
        schedule(r#"{ generator = "word_sorting" }"#),
    )
    .unwrap();
    let miner = Keypair::from_uri("//push-miner").unwrap();
    net.register(net.netuid, &miner).await;
    let good = tiny_llama(&net.root.path().join("good"), false);
    let netuid = net.netuid.to_string();
    let with_uri = ["--hotkey-uri", "//push-miner", "--netuid", netuid.as_str()];

    // (1) an unregistered hotkey.
    let out = net
        .push(
            &good,
            "alice/stranger",
            1,
            TOKEN,
            &["--hotkey-uri", "//stranger", "--netuid", &netuid],
        )
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    once(&err, "is not registered on subnet");
    assert!(
        err.contains(&Keypair::from_uri("//stranger").unwrap().public().ss58()),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "colour codes written to a pipe:\n{err}"
    );
    net.assert_no_repo("alice/stranger").await;

    // (2) a competition the schedule does not run.
    let out = net.push(&good, "alice/comp", 5, TOKEN, &with_uri).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    once(&err, "competition 5 is not active at block");
    assert!(err.contains("competitions.toml"), "{err}");
    net.assert_no_repo("alice/comp").await;

    // (3) a repo id too long for validators (and for the 128-byte commitment).
    // 40 characters: the commitment would fit in 128 bytes, the repo id is still refused.
    let long = format!("alice/{}", "x".repeat(34));
    let out = net.push(&good, &long, 1, TOKEN, &with_uri).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    once(&err, "must be 4 to 38 characters");
    net.assert_no_repo(&long).await;

    // (4) a folder that fails the competition's checks.
    let broken = tiny_llama(&net.root.path().join("broken"), true);
    let out = net.push(&broken, "alice/broken", 1, TOKEN, &with_uri).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    once(&err, "fails the validators' checks for competition 1");
    assert!(err.contains("shape_mismatch"), "{err}");
    net.assert_no_repo("alice/broken").await;

    // A subnet that does not exist: the chain's error once, not repeated by its wrapper.
    let out = net
        .push(
            &good,
            "alice/nosubnet",
            1,
            TOKEN,
            &["--hotkey-uri", "//push-miner", "--netuid", "77"],
        )
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    once(&err, "SubnetNotExists");
    once(&err, "subnet 77 does not exist");

    // A good folder gets past every check; a wrong token is then refused by the hub, and the
    // error says so once and names HF_TOKEN.
    let out = net
        .push(&good, "alice/good", 1, "wrong-token", &with_uri)
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hub answered 401"), "{err}");
    once(&err, "hub answered 401");
    let hint = err
        .lines()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(hint.contains("HF_TOKEN"), "{err}");
    net.assert_no_repo("alice/good").await;

    // A wallet or hotkey that does not exist: which file was expected, and how to list them.
    let out = net
        .push(&good, "alice/good", 1, TOKEN, &["--wallet", "nosuch"])
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    once(&err, "wallet \"nosuch\" not found");
    assert!(err.contains("hint: `arena wallet list`"), "{err}");
    assert!(!err.contains("os error"), "{err}");
    std::fs::create_dir_all(net.root.path().join("wallets/w1/hotkeys")).unwrap();
    let out = net
        .push(
            &good,
            "alice/good",
            1,
            TOKEN,
            &["--wallet", "w1", "--hotkey", "h9"],
        )
        .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let expected = net.root.path().join("wallets/w1/hotkeys/h9");
    once(&err, "wallet \"w1\" has no hotkey \"h9\"");
    once(
        &err,
        &format!("expected its key file at {}", expected.display()),
    );
    assert!(err.contains("hint: `arena wallet list`"), "{err}");
}

/// `miner check` reads the schedule and the sync cadence from `[validator]` and draws the
/// feed task from `[data] feed_url`, accepting batches as validators do (signed by a
/// producer staked on `[data] netuid`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miner_check_draws_the_feed_task_with_the_configured_schedule_and_cadence() {
    let net = Net::start().await;
    let data_netuid = net
        .chain
        .create_subnet(&net.owner, Hyperparameters::default())
        .await
        .unwrap()
        .assigned
        .unwrap();
    net.chain.produce_block().unwrap();
    let producer_key = Keypair::from_uri("//check-feed-producer").unwrap();
    net.register(data_netuid, &producer_key).await;
    net.chain
        .add_stake(&net.owner, &producer_key.public(), data_netuid, 5_000_000)
        .await
        .unwrap();
    for _ in 0..12 {
        net.chain.produce_block().unwrap();
    }

    let feed_url = net.start_feed().await;
    let producer = Producer::new(producer_key, data_netuid, vec![TaskKind::WordSorting], 4);
    let client = FeedClient::new(&feed_url).unwrap();
    for _ in 0..4 {
        client
            .publish(&producer.make_batch(arena_data::now_ms(), 0))
            .await
            .unwrap();
    }

    let schedule_path = net.root.path().join("feed-competitions.toml");
    std::fs::write(&schedule_path, schedule(r#"{ feed = "word_sorting" }"#)).unwrap();
    let config = net.root.path().join("arena.toml");
    std::fs::write(
        &config,
        format!(
            "[chain]\nendpoint = \"{}\"\nnetuid = {}\n[hub]\nendpoint = \"{}\"\n\
             [data]\nnetuid = {data_netuid}\nfeed_url = \"{feed_url}\"\nmin_stake = 1000000\n\
             [validator]\nschedule = \"{}\"\nsync_cadence = 5\nsync_origin = 2\n",
            net.chain_url(),
            net.netuid,
            net.hub_url,
            schedule_path.display()
        ),
    )
    .unwrap();
    let model = tiny_llama(&net.root.path().join("model"), false);
    let mut cmd = Command::new(ARENA);
    cmd.arg("--config").arg(&config);
    cmd.arg("--home").arg(net.root.path().join("home"));
    cmd.args(["miner", "check"]).arg(&model);
    cmd.args(["--competition", "1", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("no data source configured"), "{err}");
    let report = last_json(&out);
    assert_eq!(
        report["samples"],
        serde_json::json!([["word_sorting", 8]]),
        "{report}\n{err}"
    );
    // Windows of the configured 5 blocks from block 2, not the default 360 from 0.
    let current = report["current_block"].as_u64().unwrap();
    let sync = report["sync_block"].as_u64().unwrap();
    assert!(current >= 15, "{report}");
    assert_eq!(sync, 2 + (current - 2) / 5 * 5, "{report}");
    assert!(
        report["ours"]["total"].as_f64().unwrap().is_finite(),
        "{report}"
    );
    assert!(report["incumbent"].is_null());
    assert_eq!(report["would_win"], true);
}
