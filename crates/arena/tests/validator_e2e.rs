//! The validator end to end with the REAL evaluator: every model is scored by the `arena
//! validator eval-worker` subprocess of this binary (arena-model on the CPU) on the tiny fixture
//! models, never by a test double.
//!
//! * `real_worker_best_wins_copies_lose_two_validators_agree`: an in-process local chain, hub and
//!   signed data feed; four miners commit models of known quality (the tiny Llama with its
//!   output head scaled by 0.25, 1 and 2: by convexity of cross-entropy in the logit scale,
//!   a smaller scale is strictly better whenever the random head is worse than uniform, which
//!   the test checks) plus a later re-upload of the best model's exact files under another
//!   hotkey. Two validators evaluate them at the same block with the same feed, one with one
//!   eval worker, the other with two CPU workers in parallel: identical step results (every
//!   model's score and per-task raw scores, bit for bit), the best wins, the copy never beats the original, weights land on chain and after
//!   an epoch the best miner has the largest incentive.
//! * `kill_nine_the_validator_process_ten_times`: `arena validator run` against the chain over
//!   JSON-RPC, killed with SIGKILL at ten seeded random moments; after each kill the state
//!   opens, every step recorded before is still there unchanged, none is duplicated, and the
//!   restarted process goes on recording steps and setting weights.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_chain::{Chain, Hyperparameters, LocalChainOptions};
use arena_data::accept::{AcceptancePolicy, StaticStakes};
use arena_data::feed::client::FeedClient;
use arena_data::producer::Producer;
use arena_data::source::{DataSource, FeedSource};
use arena_data::tasks::TaskKind;
use arena_hub::client::HubClient;
use arena_keys::Keypair;
use arena_testkit::fixtures::{fixtures, tiny_llama_scaled, TOKENIZER_SHA256};
use arena_testkit::{Miner, Net, TinyCompetition};
use arena_validator::eval::{plan_slots, SubprocessBackend};
use arena_validator::service::{Service, ServiceConfig};
use arena_validator::store::{StepKey, StepRecord, Store};
use arena_validator::update::Updater;
use arena_validator::weights::SetOutcome;
use arena_validator::{Rejection, Verdict};

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

/// Competition 1 sized for the tiny models; `dataset` is the TOML of the one task's source.
fn schedule(dataset: &str, samples: u32, delay: u64) -> String {
    TinyCompetition::new("tiny-e2e")
        .dataset(dataset)
        .samples(samples)
        .eval_block_delay(delay)
        .toml()
}

/// A local chain (tempo 10, weights every 5 blocks) and a hub, in this process.
async fn start_net(options: LocalChainOptions) -> Net {
    Net::builder()
        .chain_options(options)
        .hub_users(&["alice", "bob", "carol", "dave", "erin", "frank", "nancy"])
        .start()
        .await
}

/// The real worker; with `lanes` > 1, that many CPU workers at once sharing the machine's two
/// threads (one each), as `arena validator run --eval-workers N` sets them up.
fn worker_backend(lanes: usize) -> SubprocessBackend {
    let one = arena_testkit::eval::real_worker(Path::new(ARENA));
    if lanes <= 1 {
        return one;
    }
    SubprocessBackend {
        slots: plan_slots(&[("cpu".to_string(), false)], lanes, 2),
        ..one
    }
}

/// A validator service over the in-process network, reading the feed at `feed_url`.
fn validator(
    net: &Net,
    name: &str,
    hotkey: Keypair,
    feed_url: &str,
    producer: &Keypair,
    lanes: usize,
) -> Service {
    let stakes = StaticStakes::default().with(7, producer.public(), 1_000);
    let source = FeedSource::new(
        FeedClient::new(feed_url).unwrap(),
        AcceptancePolicy::new(7, 1_000),
        Arc::new(stakes),
    )
    .with_tasks(vec!["word_sorting".into()]);
    let mut sources: BTreeMap<String, Box<dyn DataSource>> = BTreeMap::new();
    sources.insert("fresh".into(), Box::new(source));
    let schedule = schedule(r#"{ feed = "fresh" }"#, 6, 5);
    validator_with(net, name, hotkey, &schedule, sources, lanes)
}

/// A validator service over the in-process network with its own schedule and data sources.
fn validator_with(
    net: &Net,
    name: &str,
    hotkey: Keypair,
    schedule: &str,
    sources: BTreeMap<String, Box<dyn DataSource>>,
    lanes: usize,
) -> Service {
    let dir = net.root.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let schedule_path = dir.join("competitions.toml");
    std::fs::write(&schedule_path, schedule).unwrap();
    let config = ServiceConfig {
        netuid: net.netuid,
        schedule_path: Some(schedule_path),
        sync_cadence: 20,
        genesis_block: 0,
        queue: Default::default(),
        tokenizer_dir: None,
        events_path: Some(dir.join("events.jsonl")),
        version_key: 0,
        retention: Default::default(),
    };
    let updater = Updater::new(
        HubClient::new(&net.hub_url, None).unwrap(),
        dir.join("models"),
    );
    let store = Store::open(dir.join("validator.sqlite")).unwrap();
    let chain: Arc<dyn Chain> = net.chain.clone();
    Service::new(
        chain,
        hotkey,
        config,
        updater,
        store,
        Box::new(worker_backend(lanes)),
        sources,
    )
    .unwrap()
}

/// What must agree between validators: everything but timings.
fn ranking(step: &StepRecord) -> Vec<(u16, u64, f64, f64, f64)> {
    step.models
        .iter()
        .map(|m| {
            (
                m.uid,
                m.score.to_bits(),
                m.win_rate,
                m.step_weight,
                m.ema_weight,
            )
        })
        .collect()
}

/// The integrity hole of a pinned tokenizer: a competition that names its tokenizer on the
/// hub is scored with the competition's files, chat template included, so the same weights
/// shipped with another template score bit for bit the same, while a competition that pins
/// only `tokenizer.json`'s hash lets the miner's own template change the score. A model whose
/// `tokenizer.json` differs from the pin is refused with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_competitions_tokenizer_decides_the_prompt_not_the_miners_template() {
    use sha2::{Digest, Sha256};
    let net = start_net(LocalChainOptions::default()).await;
    let (v1, _) = net
        .register("//validator-hub-tokenizer", 1_000_000_000_000)
        .await;
    let (v2, _) = net
        .register("//validator-hash-only", 1_000_000_000_000)
        .await;
    // The competition's tokenizer: tiny-llama's files in a hub repository.
    let tok = net.root.path().join("tokenizer");
    std::fs::create_dir_all(&tok).unwrap();
    for file in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixtures().join("tiny-llama").join(file), tok.join(file)).unwrap();
    }
    let alice = HubClient::new(&net.hub_url, Some("alice-token-0123".into())).unwrap();
    alice
        .create_repo("alice/tokenizer", false, true)
        .await
        .unwrap();
    alice
        .upload_folder("alice/tokenizer", &tok, "tokenizer")
        .await
        .unwrap();
    let config_sha = hex::encode(Sha256::digest(
        std::fs::read(tok.join("tokenizer_config.json")).unwrap(),
    ));

    let bob = net.miner("bob").await; // the fixture as it is
    let carol = net.miner("carol").await; // the same weights, another chat template
    let erin = net.miner("erin").await; // another tokenizer.json
    let work = net.root.path().join("work");
    let dir = work.join("bob");
    tiny_llama_scaled(&dir, 1.0);
    net.publish(&bob, "m", &dir).await;
    let dir = work.join("carol");
    tiny_llama_scaled(&dir, 1.0);
    let path = dir.join("tokenizer_config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let template = config["chat_template"].as_str().unwrap().to_string();
    config["chat_template"] =
        format!("{{{{ 'You are graded: answer briefly.\\n' }}}}{template}").into();
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    net.publish(&carol, "m", &dir).await;
    let dir = work.join("erin");
    tiny_llama_scaled(&dir, 1.0);
    let mut tokenizer = std::fs::read(dir.join("tokenizer.json")).unwrap();
    tokenizer.extend_from_slice(b"\n");
    std::fs::write(dir.join("tokenizer.json"), tokenizer).unwrap();
    net.publish(&erin, "m", &dir).await;
    net.produce(20);

    let pinned = format!(r#"tokenizer = {{ kind = "pinned", sha256 = "{TOKENIZER_SHA256}" }}"#);
    let generated = schedule(r#"{ generator = "word_sorting" }"#, 6, 5);
    assert!(generated.contains(&pinned));
    let by_hub = generated.replace(
        &pinned,
        &format!(
            r#"tokenizer = {{ kind = "hub", repo = "alice/tokenizer", sha256 = "{TOKENIZER_SHA256}", files = {{ "tokenizer_config.json" = "{config_sha}" }} }}"#
        ),
    );
    let scores = |service: &Service, key| -> BTreeMap<u16, f64> {
        let step = service.store().step(key).unwrap().unwrap();
        step.models.iter().map(|m| (m.uid, m.score)).collect()
    };
    let mut hub_validator = validator_with(&net, "v-hub", v1, &by_hub, BTreeMap::new(), 1);
    let key = hub_validator
        .tick()
        .await
        .unwrap()
        .step
        .expect("a step ran");
    let with_pin = scores(&hub_validator, key);
    assert_eq!(with_pin.len(), 2, "bob and carol evaluated: {with_pin:?}");
    assert!(with_pin[&bob.uid].is_finite());
    assert_eq!(
        with_pin[&bob.uid].to_bits(),
        with_pin[&carol.uid].to_bits(),
        "the miner's template changes nothing: {with_pin:?}"
    );
    let erin_verdict = hub_validator
        .store()
        .model(&erin.hotkey.public().ss58())
        .unwrap()
        .unwrap()
        .verdict;
    match erin_verdict {
        Verdict::Rejected { rejection } => assert!(
            matches!(rejection, Rejection::TokenizerMismatch { .. }),
            "{rejection:?}"
        ),
        other => panic!("erin's tokenizer must be refused: {other:?}"),
    }

    // Pinning only the hash of tokenizer.json leaves the template to the miner.
    let mut hash_only = validator_with(&net, "v-hash", v2, &generated, BTreeMap::new(), 1);
    let key = hash_only.tick().await.unwrap().step.expect("a step ran");
    let without = scores(&hash_only, key);
    assert_eq!(without[&bob.uid].to_bits(), with_pin[&bob.uid].to_bits());
    assert_ne!(
        without[&bob.uid], without[&carol.uid],
        "a template of the miner's own changes its score: {without:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_worker_best_wins_copies_lose_two_validators_agree() {
    let net = start_net(LocalChainOptions::default()).await;
    let work = net.root.path().join("work");
    let (v1, v1_uid) = net.register("//validator-one", 1_000_000_000_000).await;
    let (v2, v2_uid) = net.register("//validator-two", 1_000_000_000_000).await;
    let best = net.miner("alice").await;
    let middle = net.miner("bob").await;
    let worst = net.miner("carol").await;
    let copier = net.miner("dave").await;
    let nan = net.miner("nancy").await; // NaN weights
    let wrong_arch = net.miner("erin").await; // would be the best, but not an allowed class
    for (miner, scale) in [
        (&best, 0.25f32),
        (&middle, 1.0),
        (&worst, 2.0),
        (&nan, f32::NAN),
        (&wrong_arch, 0.1),
    ] {
        let dir = work.join(&miner.namespace);
        tiny_llama_scaled(&dir, scale);
        if miner.namespace == "erin" {
            let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
            let config = config.replace("LlamaForCausalLM", "Qwen2ForCausalLM");
            std::fs::write(dir.join("config.json"), config).unwrap();
        }
        net.publish(miner, "m", &dir).await;
    }
    net.produce(1);
    // The copier re-uploads the best model's exact files later, under its own hotkey and repo.
    net.publish(&copier, "m", &work.join("alice")).await;
    net.produce(20); // past the eval delay (5) and an epoch (validator permits)

    // The feed: signed batches created now, after every model became eligible.
    let feed_url = net.start_feed().await;
    let producer_key = Keypair::from_uri("//data-producer").unwrap();
    let producer = Producer::new(producer_key.clone(), 7, vec![TaskKind::WordSorting], 4);
    let client = FeedClient::new(&feed_url).unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    for _ in 0..3 {
        client
            .publish(&producer.make_batch(arena_data::now_ms(), 0))
            .await
            .unwrap();
    }

    // Validator one evaluates one model at a time with both threads; validator two runs two
    // CPU workers at once, one thread each: the results must not depend on it.
    let mut one = validator(&net, "v1", v1, &feed_url, &producer_key, 1);
    let mut two = validator(&net, "v2", v2, &feed_url, &producer_key, 2);
    let t = Instant::now();
    let tick1 = one.tick().await.unwrap();
    let tick2 = two.tick().await.unwrap();
    eprintln!(
        "two validator ticks with the real worker: {:?}",
        t.elapsed()
    );
    let key = tick1.step.expect("validator one ran a step");
    assert_eq!(tick2.step, Some(key), "same block, same step");
    for tick in [&tick1, &tick2] {
        assert!(
            matches!(tick.weights, Some(SetOutcome::Sent { .. })),
            "{:?}",
            tick.weights
        );
    }
    let s1 = one.store().step(key).unwrap().unwrap();
    let s2 = two.store().step(key).unwrap().unwrap();
    assert_eq!(s1.seed, s2.seed);
    assert_eq!(
        ranking(&s1),
        ranking(&s2),
        "same data and seed, same ranking, whatever the worker count"
    );
    for (a, b) in s1.models.iter().zip(&s2.models) {
        let raw = |m: &arena_validator::store::ModelStepResult| {
            m.tasks.iter().map(|t| t.raw.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(raw(a), raw(b), "uid {}: per-task raw scores", a.uid);
    }

    // The bad models are rejected with their reason; the good ones are evaluated.
    let verdict = |m: &Miner| {
        let hotkey = m.hotkey.public().ss58();
        one.store()
            .model(&hotkey)
            .unwrap()
            .expect("tracked")
            .verdict
    };
    match verdict(&nan) {
        Verdict::Rejected {
            rejection: Rejection::NonFiniteWeights { tensor, .. },
        } => {
            assert_eq!(tensor, "lm_head.weight")
        }
        other => panic!("NaN model: {other:?}"),
    }
    assert!(matches!(
        verdict(&wrong_arch),
        Verdict::Rejected {
            rejection: Rejection::ArchitectureNotAllowed { .. }
        }
    ));
    let by_uid = |uid: u16| s1.models.iter().find(|m| m.uid == uid).unwrap();
    assert_eq!(s1.models.len(), 4);
    for m in &s1.models {
        assert!(m.error.is_none() && m.score.is_finite(), "{m:?}");
        assert_eq!(m.tasks.len(), 1, "{m:?}");
    }
    let (b, m, w, c) = (
        by_uid(best.uid),
        by_uid(middle.uid),
        by_uid(worst.uid),
        by_uid(copier.uid),
    );
    eprintln!(
        "scores: best {} middle {} worst {} copy {}",
        b.score, m.score, w.score, c.score
    );
    // The premise of the known order: the untouched random head is worse than uniform.
    assert!(
        m.score > (1024f64).ln(),
        "random head {} vs ln 1024",
        m.score
    );
    assert!(b.score < m.score && m.score < w.score, "quality order");
    assert_eq!(
        c.score.to_bits(),
        b.score.to_bits(),
        "an exact copy scores the same"
    );
    assert_eq!(
        (b.win_rate, b.step_weight),
        (1.0, 1.0),
        "the original beats its copy"
    );
    assert!(c.win_rate < b.win_rate && c.step_weight == 0.0 && c.ema_weight == 0.0);

    // Weights are on chain; an epoch later the best miner has the largest incentive.
    net.produce(1); // the block that includes both set_weights
    let rows = net.chain.weights(net.netuid).await.unwrap();
    for uid in [v1_uid, v2_uid] {
        let row = rows.iter().find(|r| r.uid == uid).expect("weights row");
        assert_eq!(row.weights, vec![(best.uid, u16::MAX)], "winner takes all");
    }
    net.produce(11);
    let metagraph = net.chain.metagraph(net.netuid).await.unwrap();
    let incentive = |uid: u16| metagraph.neurons[usize::from(uid)].incentive;
    for other in metagraph.neurons.iter().filter(|n| n.uid != best.uid) {
        assert!(
            incentive(best.uid) > other.incentive,
            "{:?}",
            metagraph.neurons
        );
    }
    assert_eq!(incentive(copier.uid), 0);

    // A later step (next sync window) still prefers the original over its copy, and a better
    // model committed 2 blocks before it is not evaluated: its eval delay (5) has not passed.
    let late = net.miner("frank").await;
    let dir = work.join("frank");
    tiny_llama_scaled(&dir, 0.1);
    let block = net.chain.block_number().await.unwrap();
    net.produce(19 - block % 20);
    net.publish(&late, "m", &dir).await;
    net.produce(2);
    assert_eq!(net.chain.block_number().await.unwrap() % 20, 1);
    for _ in 0..2 {
        client
            .publish(&producer.make_batch(arena_data::now_ms(), 0))
            .await
            .unwrap();
    }
    let tick = one.tick().await.unwrap();
    let later = one
        .store()
        .step(tick.step.expect("second step"))
        .unwrap()
        .unwrap();
    let copy_later = later.models.iter().find(|m| m.uid == copier.uid);
    let best_later = later.models.iter().find(|m| m.uid == best.uid).unwrap();
    assert_eq!(best_later.win_rate, 1.0);
    assert!(copy_later.is_none_or(|c| c.step_weight == 0.0));
    assert!(
        later.models.iter().all(|m| m.uid != late.uid),
        "evaluated before its delay"
    );
    let hotkey = late.hotkey.public().ss58();
    let waiting = one
        .store()
        .model(&hotkey)
        .unwrap()
        .expect("tracked")
        .verdict;
    assert!(matches!(waiting, Verdict::Waiting { .. }), "{waiting:?}");
    let cache = net.root.path().join("v1/models/models--frank--m");
    assert!(!cache.exists(), "nothing of it downloaded before its delay");
}

/// Seeded xorshift64*: reproducible kill moments, printed for the log.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn spawn_validator(home: &Path, chain_url: &str, hub_url: &str, netuid: u16, log: &Path) -> Child {
    spawn_validator_with(home, chain_url, hub_url, netuid, log, &[])
}

fn spawn_validator_with(
    home: &Path,
    chain_url: &str,
    hub_url: &str,
    netuid: u16,
    log: &Path,
    extra: &[String],
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let config = home.join("arena.toml");
    Command::new(ARENA)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--home",
            home.to_str().unwrap(),
        ])
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
        .args(extra)
        .args(["validator", "run", "--hotkey-uri", "//crash-validator"])
        .args([
            "--netuid",
            &netuid.to_string(),
            "--chain",
            chain_url,
            "--hub",
            hub_url,
        ])
        .args([
            "--schedule",
            home.join("competitions.toml").to_str().unwrap(),
        ])
        .env("ARENA_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn arena validator run")
}

/// Every step in the store, as comparable JSON (the tracker column is the current one, so the
/// per-step part only: block, seed, model results, subnet weights).
fn recorded_steps(db: &Path) -> BTreeMap<StepKey, String> {
    let store = Store::open(db).expect("the state opens after a kill");
    let keys = store.step_keys().unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let step = store.step(key).unwrap().expect("listed step reads back");
        assert!(!step.models.is_empty(), "a recorded step is complete");
        let json = serde_json::json!([step.block, step.seed, step.models, step.subnet_weights]);
        assert!(
            out.insert(key, json.to_string()).is_none(),
            "duplicate step {key:?}"
        );
    }
    store.tracker().expect("the EMA weights parse");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_the_validator_process_ten_times() {
    let net = start_net(LocalChainOptions::fast(Duration::from_millis(250))).await;
    let (_, v_uid) = net.register("//crash-validator", 1_000_000_000_000).await;
    let work = net.root.path().join("work");
    let mut miners = Vec::new();
    for (ns, scale) in [("alice", 0.5f32), ("bob", 1.0), ("carol", 1.5)] {
        let miner = net.miner(ns).await;
        let dir = work.join(ns);
        tiny_llama_scaled(&dir, scale);
        net.publish(&miner, "m", &dir).await;
        miners.push(miner);
    }
    let (addr, _rpc) = arena_chain::rpc::serve(net.chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let chain_url = format!("http://{addr}");
    let _producer = net.chain.spawn_block_producer();
    let home = net.root.path().join("validator-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("arena.toml"), "").unwrap();
    let generated = r#"{ generator = "word_sorting" }"#;
    std::fs::write(home.join("competitions.toml"), schedule(generated, 3, 2)).unwrap();
    let db = home.join("validator/validator.sqlite");
    let log = home.join("validator.log");
    let last_update = || async {
        let metagraph = net.chain.metagraph(net.netuid).await.unwrap();
        metagraph.neurons[usize::from(v_uid)].last_update
    };

    let mut rng = Rng(0x7e57_c4a5_5eed_0001);
    let mut seen: BTreeMap<StepKey, String> = BTreeMap::new();
    let mut updates = Vec::new();
    for round in 1..=10 {
        let mut child = spawn_validator(&home, &chain_url, &net.hub_url, net.netuid, &log);
        let delay = Duration::from_millis(400 + rng.next() % 3600);
        tokio::time::sleep(delay).await;
        child.kill().expect("SIGKILL"); // std's kill sends SIGKILL on Unix
        let status = child.wait().unwrap();
        let now = recorded_steps(&db);
        for (key, record) in &seen {
            assert_eq!(
                now.get(key),
                Some(record),
                "round {round}: step {key:?} lost or changed"
            );
        }
        updates.push(last_update().await);
        eprintln!(
            "round {round}: killed after {delay:?} ({status}); steps {} (+{}), weights last set at {}",
            now.len(),
            now.len() - seen.len(),
            updates[round - 1]
        );
        seen = now;
    }
    // Restart once more and let it run: new steps and new weights after all those kills.
    let mut child = spawn_validator(&home, &chain_url, &net.hub_url, net.netuid, &log);
    let before = (seen.len(), updates[9]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut done = false;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let steps = Store::open(&db).unwrap().step_keys().unwrap().len();
        if steps >= before.0 + 2 && last_update().await > before.1 {
            done = true;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: String = log_text
        .chars()
        .rev()
        .take(3000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        done,
        "no new steps or weights after the last restart; log tail:\n{tail}"
    );
    let now = recorded_steps(&db);
    for (key, record) in &seen {
        assert_eq!(
            now.get(key),
            Some(record),
            "final: step {key:?} lost or changed"
        );
    }
    assert!(now.len() >= 3, "{} steps", now.len());
    assert!(
        updates.windows(2).any(|w| w[1] > w[0]),
        "weights set between kills: {updates:?}"
    );
    // Events are appended after each committed step: never duplicated, never invented.
    let events = std::fs::read_to_string(home.join("validator/events.jsonl")).unwrap();
    let mut event_keys = Vec::new();
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = StepKey {
            competition_id: v["competition_id"].as_u64().unwrap() as u32,
            sync_block: v["sync_block"].as_u64().unwrap(),
        };
        assert!(
            now.contains_key(&key),
            "event for an unrecorded step {key:?}"
        );
        assert!(!event_keys.contains(&key), "duplicate event {key:?}");
        event_keys.push(key);
    }
    // Every recorded step evaluated the three miners with the real worker.
    let store = Store::open(&db).unwrap();
    for key in now.keys() {
        let step = store.step(*key).unwrap().unwrap();
        let uids: Vec<u16> = step.models.iter().map(|m| m.uid).collect();
        assert_eq!(uids, miners.iter().map(|m| m.uid).collect::<Vec<_>>());
        let best = &step.models[0];
        assert!(best.error.is_none() && best.win_rate == 1.0, "{best:?}");
    }
    eprintln!(
        "{} steps, {} events, weights set at blocks {:?}",
        now.len(),
        event_keys.len(),
        updates
    );
}

/// `arena validator run` draws a feed dataset from `[data] feed_url`, accepting only batches
/// signed by a producer staked on the data subnet: without the feed the task has no data and
/// no step could be recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_run_scores_on_the_signed_feed() {
    let net = start_net(LocalChainOptions::fast(Duration::from_millis(250))).await;
    net.register("//crash-validator", 1_000_000_000_000).await;
    let data_netuid = net
        .chain
        .create_subnet(&net.owner, Hyperparameters::default())
        .await
        .unwrap()
        .assigned
        .unwrap();
    net.produce(1);
    let producer_key = Keypair::from_uri("//feed-producer").unwrap();
    net.chain
        .register(&net.owner, data_netuid, &producer_key.public())
        .await
        .unwrap();
    net.chain
        .add_stake(&net.owner, &producer_key.public(), data_netuid, 5_000_000)
        .await
        .unwrap();
    let work = net.root.path().join("work");
    let mut uids = Vec::new();
    for (ns, scale) in [("alice", 0.5f32), ("bob", 1.0)] {
        let miner = net.miner(ns).await;
        let dir = work.join(ns);
        tiny_llama_scaled(&dir, scale);
        net.publish(&miner, "m", &dir).await;
        uids.push(miner.uid);
    }
    let (addr, _rpc) = arena_chain::rpc::serve(net.chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let _blocks = net.chain.spawn_block_producer();
    let feed_url = net.start_feed().await;
    let producer = Producer::new(producer_key, data_netuid, vec![TaskKind::WordSorting], 4);
    let client = FeedClient::new(&feed_url).unwrap();
    tokio::spawn(async move {
        let every = Duration::from_millis(300);
        producer
            .run(&client, every, None, std::future::pending())
            .await
    });

    let home = net.root.path().join("validator-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("arena.toml"), "").unwrap();
    let feed = r#"{ feed = "word_sorting" }"#;
    std::fs::write(home.join("competitions.toml"), schedule(feed, 4, 2)).unwrap();
    let extra: Vec<String> = [
        format!("data.feed_url=\"{feed_url}\""),
        format!("data.netuid={data_netuid}"),
        "data.min_stake=1000000".to_string(),
    ]
    .iter()
    .flat_map(|kv| ["--set".to_string(), kv.clone()])
    .collect();
    let log = home.join("validator.log");
    let chain_url = format!("http://{addr}");
    let mut child = spawn_validator_with(&home, &chain_url, &net.hub_url, net.netuid, &log, &extra);
    let db = home.join("validator/validator.sqlite");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut step = None;
    while step.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let store = Store::open(&db).unwrap();
        if let Some(key) = store.step_keys().unwrap().first() {
            step = store.step(*key).unwrap();
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let step = step.unwrap_or_else(|| panic!("no step recorded; log:\n{log_text}"));
    assert!(log_text.contains(&format!("feed {feed_url}")), "{log_text}");
    let evaluated: Vec<u16> = step.models.iter().map(|m| m.uid).collect();
    assert_eq!(evaluated, uids);
    for m in &step.models {
        assert!(m.error.is_none() && m.score.is_finite(), "{m:?}");
        assert_eq!(m.tasks[0].raw, m.score, "one task of weight 1");
    }
    assert_eq!(
        step.models[0].win_rate, 1.0,
        "the better model wins on feed data"
    );
}
