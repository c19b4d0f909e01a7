//! A network over time: a miner improving its model under one hotkey, competitions joining and
//! leaving the schedule mid-window, a validator losing its permit, and what a long-running
//! validator keeps on disk. The service runs in-process against a local chain and hub; model
//! quality is fixed per repository by [`FixedQuality`], so each test knows who must win.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arena_chain::{Chain, Hyperparameters};
use arena_hub::client::HubClient;
use arena_validator::service::{Retention, Service, ServiceConfig};
use arena_validator::store::{StepKey, Store};
use arena_validator::update::Updater;
use arena_validator::weights::SetOutcome;
use common::{copy_fixture, FixedQuality, Miner, Net, SCHEDULE};

const CADENCE: u64 = 10;

fn config(net: &Net, schedule: &Path, softmax: bool) -> ServiceConfig {
    if softmax {
        let text = std::fs::read_to_string(schedule).unwrap().replace(
            r#"step_weights = "winner_takes_all""#,
            r#"step_weights = "softmax", temperature = 0.5"#,
        );
        std::fs::write(schedule, text).unwrap();
    }
    ServiceConfig {
        netuid: net.netuid,
        schedule_path: Some(schedule.to_path_buf()),
        sync_cadence: CADENCE,
        genesis_block: 0,
        queue: Default::default(),
        tokenizer_dir: None,
        events_path: Some(net.root.path().join("events.jsonl")),
        version_key: 0,
        retention: Retention::default(),
    }
}

fn service(
    net: &Net,
    validator: arena_keys::Keypair,
    config: ServiceConfig,
    quality: FixedQuality,
) -> Service {
    let updater = Updater::new(
        HubClient::new(&net.hub_url, None).unwrap(),
        net.root.path().join("cache"),
    );
    let store = Store::open(net.root.path().join("validator.sqlite")).unwrap();
    let chain: Arc<dyn Chain> = net.chain.clone();
    Service::new(
        chain,
        validator,
        config,
        updater,
        store,
        Box::new(quality),
        BTreeMap::new(),
    )
    .unwrap()
}

/// Produces blocks up to the next sync block, then ticks until the window has no step left;
/// returns the steps recorded.
async fn next_window(net: &Net, service: &mut Service) -> Vec<StepKey> {
    let block = net.chain.produce_block().unwrap().number;
    net.produce((CADENCE - block % CADENCE) % CADENCE);
    let mut steps = Vec::new();
    while let Some(key) = service.tick().await.unwrap().step {
        steps.push(key);
    }
    steps
}

/// Uploads a fixture as `<namespace>/<name>` and commits it for `competition`.
async fn publish_for(net: &Net, miner: &Miner, name: &str, fixture: &str, competition: u32) -> u64 {
    let dir = net
        .root
        .path()
        .join("work")
        .join(format!("{}-{name}", miner.namespace));
    copy_fixture(fixture, &dir);
    let (commit, secure) = net.upload(miner, name, &dir).await;
    let text = format!("{}:{name}:{commit}:{secure}:{competition}", miner.namespace);
    net.commit_text(miner, &text).await;
    net.produce(1);
    net.block().await
}

/// The validator bug of a hotkey with history: every new commitment of the same hotkey must be
/// evaluated as new (within two sync windows of its eval delay), and the best model of the
/// subnet, the third one, must end up with the weight, even with graded (softmax) step
/// weights, where every incumbent's EMA outweighs a newcomer's single step: the step's leader
/// stays queued although it is not among the three highest EMAs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotkeys_improved_models_are_each_evaluated_and_the_best_takes_the_weight() {
    let net = common::net().await;
    let schedule = net.root.path().join("competitions.toml");
    std::fs::write(&schedule, &*SCHEDULE).unwrap();
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;
    let mut incumbents = Vec::new();
    for (ns, fixture) in [
        ("alice", "tiny-llama"),
        ("bob", "tiny-qwen2"),
        ("carol", "tiny-mistral"),
    ] {
        let miner = net.miner(ns).await;
        publish_for(&net, &miner, "m", fixture, 1).await;
        incumbents.push(miner);
    }
    let frank = net.miner("frank").await;
    net.produce(20); // past the eval delay and an epoch (validator permit)
    let quality = FixedQuality(
        [
            ("models--alice--m", 2.0),
            ("models--bob--m", 2.5),
            ("models--carol--m", 3.0),
            ("models--frank--v1", 1.8), // already the best: it leads its first step
            ("models--frank--v2", 1.5),
            ("models--frank--v3", 1.2),
        ]
        .into(),
    );
    let config = config(&net, &schedule, true);
    let mut service = service(&net, validator, config, quality);
    // The incumbents build up EMA over several windows.
    for _ in 0..6 {
        assert_eq!(next_window(&net, &mut service).await.len(), 1);
    }
    let frank_hotkey = frank.hotkey.public().ss58();
    for (version, fixture, score) in [
        ("v1", "tiny-llama", 1.8),
        ("v2", "tiny-qwen2", 1.5),
        ("v3", "tiny-mistral", 1.2),
    ] {
        let commit_block = publish_for(&net, &frank, version, fixture, 1).await;
        let eligible = commit_block + 5; // the schedule's eval delay
        let mut evaluated_at = None;
        let mut evaluations = 0;
        for _ in 0..4 {
            for key in next_window(&net, &mut service).await {
                let step = service.store().step(key).unwrap().unwrap();
                let mine = step.models.iter().find(|m| m.hotkey == frank_hotkey);
                if let Some(m) = mine.filter(|m| m.score == score) {
                    evaluated_at.get_or_insert((key.sync_block, m.win_rate));
                    evaluations += 1;
                }
            }
        }
        let (sync, win_rate) =
            evaluated_at.unwrap_or_else(|| panic!("frank's {version} was never evaluated"));
        assert!(
            sync <= eligible + 2 * CADENCE,
            "{version} eligible at {eligible}, first evaluated at sync block {sync}"
        );
        assert_eq!(win_rate, 1.0, "{version} leads its first step");
        // Its one step of EMA is below the three incumbents', yet as the leader it stays.
        assert!(
            evaluations >= 2,
            "{version} evaluated {evaluations} time(s)"
        );
    }
    // frank's v3 keeps being evaluated (it leads every step) until its EMA dominates.
    for _ in 0..30 {
        next_window(&net, &mut service).await;
    }
    let last = *service.store().step_keys().unwrap().last().unwrap();
    let step = service.store().step(last).unwrap().unwrap();
    let frank_result = step
        .models
        .iter()
        .find(|m| m.hotkey == frank_hotkey)
        .expect("the leader is evaluated in every step");
    assert_eq!(frank_result.score, 1.2);
    assert_eq!(frank_result.win_rate, 1.0);
    let best = (0..step.subnet_weights.len())
        .max_by(|&a, &b| step.subnet_weights[a].total_cmp(&step.subnet_weights[b]))
        .unwrap();
    assert_eq!(
        best,
        usize::from(frank.uid),
        "weights {:?}",
        step.subnet_weights
    );
    assert!(step.subnet_weights[best] > 0.5, "{:?}", step.subnet_weights);
    for m in &incumbents {
        assert!(step.subnet_weights[usize::from(m.uid)] < step.subnet_weights[best]);
    }
}

/// The schedule for the mid-window test: competitions 1 (reward 0.3) and 2 (0.7) from block 0;
/// at `s1 + 5` (inside the window of sync block `s1`) competition 2 leaves and 3 arrives; at
/// `s2 + 2` the set is {1, 2} again.
fn changing_schedule(s1: u64, s2: u64) -> String {
    let competition = |id: u32| {
        let block = SCHEDULE.split("[[entries.competitions]]").nth(1).unwrap();
        let reward = if id == 1 { "0.3" } else { "0.7" };
        block
            .replace("id = 1\n", &format!("id = {id}\n"))
            .replace("name = \"tiny-instruct\"", &format!("name = \"tiny-{id}\""))
            .replace("reward = 1.0", &format!("reward = {reward}"))
    };
    let entry = |start: u64, ids: [u32; 2]| {
        let mut text = format!("[[entries]]\nstart_block = {start}\n");
        for id in ids {
            text.push_str("  [[entries.competitions]]");
            text.push_str(&competition(id));
        }
        text
    };
    [
        entry(0, [1, 2]),
        entry(s1 + 5, [1, 3]),
        entry(s2 + 2, [1, 2]),
    ]
    .join("\n")
}

/// Soak findings: a window whose active competitions change inside it gets exactly one step
/// per competition active at its sync block (never a second step), every active competition
/// is stepped in every window, and a competition that leaves the schedule loses its EMA, so
/// when it returns its weights start from zero instead of reusing stale ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competitions_changing_mid_window_get_one_step_each_and_removed_ema_is_dropped() {
    let net = common::net().await;
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;
    let alice = net.miner("alice").await;
    let carol = net.miner("carol").await;
    let dave = net.miner("dave").await;
    let start = net.block().await;
    let s1 = (start / CADENCE + 3) * CADENCE;
    let (s2, s3) = (s1 + CADENCE, s1 + 2 * CADENCE);
    let schedule = net.root.path().join("competitions.toml");
    std::fs::write(&schedule, changing_schedule(s1, s2)).unwrap();
    publish_for(&net, &alice, "m", "tiny-llama", 1).await;
    publish_for(&net, &carol, "m", "tiny-qwen2", 2).await;
    let quality = FixedQuality(
        [
            ("models--alice--m", 2.0),
            ("models--carol--m", 2.0),
            ("models--dave--m", 1.0),
        ]
        .into(),
    );
    let config = config(&net, &schedule, false);
    let mut service = service(&net, validator, config, quality);
    // Up to s1: windows before it (a permit needs an epoch first) may already have stepped.
    let mut stepped = Vec::new();
    while net.block().await < s1 {
        net.produce(1);
        while let Some(key) = service.tick().await.unwrap().step {
            stepped.push(key);
        }
    }
    let order: Vec<u32> = stepped
        .iter()
        .filter(|k| k.sync_block == s1)
        .map(|k| k.competition_id)
        .collect();
    assert_eq!(
        order,
        [2, 1],
        "the higher reward is evaluated first in a window"
    );
    assert_eq!(net.block().await, s1);
    let key = |competition_id, sync_block| StepKey {
        competition_id,
        sync_block,
    };
    let in_window = |keys: Vec<StepKey>, sync: u64| -> Vec<StepKey> {
        keys.into_iter().filter(|k| k.sync_block == sync).collect()
    };
    // Tick through the whole window s1, across the change at s1 + 5.
    for _ in 0..CADENCE {
        while service.tick().await.unwrap().step.is_some() {}
        net.produce(1);
    }
    let keys = service.store().step_keys().unwrap();
    assert_eq!(in_window(keys, s1), [key(1, s1), key(2, s1)]);
    let tracker = service.store().tracker().unwrap();
    assert!(tracker.get(2).is_some(), "competition 2 has run");
    // Window s2: {1, 3} at its sync block; competition 2 is gone, and so is its EMA.
    assert_eq!(net.block().await, s2);
    for _ in 0..2 {
        while service.tick().await.unwrap().step.is_some() {}
        net.produce(1);
    }
    let keys = service.store().step_keys().unwrap();
    assert_eq!(
        in_window(keys, s2),
        [key(1, s2)],
        "no step for 2 or 3 (3 has no models)"
    );
    let tracker = service.store().tracker().unwrap();
    assert!(
        tracker.get(2).is_none(),
        "the removed competition's EMA is dropped"
    );
    assert!(tracker.get(1).is_some());
    // Competition 2 is back from s2 + 2: dave commits a better model to it.
    publish_for(&net, &dave, "m", "tiny-mistral", 2).await;
    while net.block().await < s3 {
        net.produce(1);
        while service.tick().await.unwrap().step.is_some() {}
    }
    let keys = service.store().step_keys().unwrap();
    assert_eq!(in_window(keys, s3), [key(1, s3), key(2, s3)]);
    let step = service.store().step(key(2, s3)).unwrap().unwrap();
    let ema = |m: &Miner| {
        let hotkey = m.hotkey.public().ss58();
        step.models
            .iter()
            .find(|r| r.hotkey == hotkey)
            .unwrap()
            .ema_weight
    };
    // A fresh EMA: dave's first win gives him all of it; a reused one would leave carol 0.9.
    assert_eq!((ema(&dave), ema(&carol)), (1.0, 0.0));
}

/// A validator evicted from the permitted set (max_allowed_validators) keeps evaluating, says
/// why once (not every tick), and reports the state; it sets weights again once it has a permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_without_permit_says_so_once_and_keeps_running() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let logs = logs.clone();
        move || LogWriter(logs.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let net = common::net_with(Hyperparameters {
        tempo: 10,
        weights_rate_limit: 1,
        max_allowed_validators: 1,
        ..Default::default()
    })
    .await;
    let schedule = net.root.path().join("competitions.toml");
    std::fs::write(&schedule, &*SCHEDULE).unwrap();
    let (_big, _) = net.register("//big-validator", 5_000_000_000_000).await;
    let (small, _) = net.register("//small-validator", 1_000_000_000_000).await;
    let alice = net.miner("alice").await;
    publish_for(&net, &alice, "m", "tiny-llama", 1).await;
    net.produce(20); // an epoch hands the one permit to the bigger stake
    let quality = FixedQuality([("models--alice--m", 2.0)].into());
    let config = config(&net, &schedule, false);
    let mut service = service(&net, small, config, quality);
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let report = service.tick().await.expect("the tick goes on");
        outcomes.push(report.weights);
        net.produce(2);
    }
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Some(SetOutcome::NoPermit { .. }))),
        "{outcomes:?}"
    );
    assert!(
        !service.store().step_keys().unwrap().is_empty(),
        "it still evaluates"
    );
    let reason = service
        .permit_missing()
        .expect("the state is reported")
        .to_string();
    assert!(reason.contains("max_allowed_validators"), "{reason}");
    assert!(reason.contains("1000.000 TAO"), "its own stake: {reason}");
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("weights not set: no validator permit").count(),
        1,
        "said once:\n{text}"
    );
}

/// A schedule edit the validator picks up is said at WARN, the level operators run at, with
/// what changed; a bad edit is said too and the old schedule stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_reloads_are_said_at_warn_level() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let logs = logs.clone();
        move || LogWriter(logs.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let net = common::net().await;
    let schedule = net.root.path().join("competitions.toml");
    std::fs::write(&schedule, &*SCHEDULE).unwrap();
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;
    let config = config(&net, &schedule, false);
    let mut service = service(&net, validator, config, FixedQuality(BTreeMap::new()));
    service.tick().await.unwrap();
    // mtime resolution: make sure the edit is seen as a new file.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&schedule, SCHEDULE.replace("samples = 4", "samples = 9")).unwrap();
    net.produce(1);
    service.tick().await.unwrap();
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN") && text.contains("schedule reloaded"),
        "{text}"
    );
    assert!(text.contains("schedule changed"), "{text}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&schedule, "not a schedule [").unwrap();
    net.produce(1);
    service.tick().await.unwrap();
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(text.contains("schedule reload failed"), "{text}");
}

/// A `MakeWriter` into a shared buffer.
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Retention: the store keeps the newest `keep_steps` steps per competition and the events
/// file rotates at its size limit, while running; events carry only the uids with weight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_and_events_are_bounded_while_running() {
    let net = common::net().await;
    let schedule = net.root.path().join("competitions.toml");
    std::fs::write(&schedule, &*SCHEDULE).unwrap();
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;
    let alice = net.miner("alice").await;
    let bob = net.miner("bob").await;
    publish_for(&net, &alice, "m", "tiny-llama", 1).await;
    publish_for(&net, &bob, "m", "tiny-qwen2", 1).await;
    net.produce(20);
    let quality = FixedQuality([("models--alice--m", 2.0), ("models--bob--m", 1.0)].into());
    let mut config = config(&net, &schedule, false);
    config.retention = Retention {
        keep_steps: 3,
        events_max_bytes: 3000,
    };
    let events = config.events_path.clone().unwrap();
    let mut service = service(&net, validator, config, quality);
    let mut all = Vec::new();
    for _ in 0..9 {
        all.extend(next_window(&net, &mut service).await);
    }
    assert_eq!(all.len(), 9);
    assert_eq!(
        service.store().step_keys().unwrap(),
        all[6..],
        "the newest three"
    );
    let rotated = events.with_file_name("events.jsonl.1");
    let (now, old) = (
        std::fs::read_to_string(&events).unwrap(),
        std::fs::read_to_string(&rotated).unwrap(),
    );
    let line_len = now.lines().chain(old.lines()).map(str::len).max().unwrap() as u64 + 1;
    for text in [&now, &old] {
        assert!(text.len() as u64 <= 3000 + line_len, "{} bytes", text.len());
    }
    // The newest event is the last step, and its weights are sparse: bob's uid alone.
    let last: serde_json::Value = serde_json::from_str(now.lines().last().unwrap()).unwrap();
    assert_eq!(last["sync_block"].as_u64().unwrap(), all[8].sync_block);
    let weights = last["subnet_weights"].as_array().unwrap();
    assert_eq!(weights.len(), 1, "{weights:?}");
    assert_eq!(weights[0][0].as_u64().unwrap(), u64::from(bob.uid));
}
