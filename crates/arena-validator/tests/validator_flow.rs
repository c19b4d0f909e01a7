//! The validator against an in-process chain and hub: incentive integrity of the update loop
//! (copied commitments, eval delay, byte limit), crafted bad models rejected with their reason
//! while good ones are accepted, and the service loop from commitments to weights on chain and
//! incentive after an epoch.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use arena_chain::Chain;
use arena_core::competition::Schedule;
use arena_hub::client::HubClient;
use arena_validator::service::{Service, ServiceConfig};
use arena_validator::store::Store;
use arena_validator::update::Updater;
use arena_validator::weights::SetOutcome;
use arena_validator::{Rejection, Verdict};
use async_trait::async_trait;
use common::{copy_fixture, write_one_tensor, FixedQuality, Net, SCHEDULE};

fn verdict(store: &Store, miner: &common::Miner) -> Verdict {
    store
        .model(&miner.hotkey.public().ss58())
        .unwrap()
        .expect("model is tracked")
        .verdict
}

fn rejection(store: &Store, miner: &common::Miner) -> Rejection {
    match verdict(store, miner) {
        Verdict::Rejected { rejection } => rejection,
        other => panic!("{} was not rejected: {other:?}", miner.namespace),
    }
}

fn snapshots_of(cache: &std::path::Path, repo: &str) -> bool {
    cache
        .join(format!("models--{}", repo.replace('/', "--")))
        .join("snapshots")
        .exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrity_and_bad_models_rejected_with_reasons() {
    let net = common::net().await;
    let work = net.root.path().join("work");
    let schedule = Schedule::from_toml_str(&SCHEDULE).unwrap();
    // Register everyone first so that every commitment lands in the same block.
    let alice = net.miner("alice").await;
    let mallory = net.miner("mallory").await;
    let carol = net.miner("carol").await; // over the byte limit (3 MB)
    let dave = net.miner("dave").await; // unknown architecture
    let erin = net.miner("erin").await; // wrong tokenizer
    let frank = net.miner("frank").await; // header claiming huge tensors
    let grace = net.miner("grace").await; // too many parameters (a second shard)
    let nancy = net.miner("nancy").await; // a NaN weight
    let bob = net.miner("bob").await; // good, and two malformed pointers from other hotkeys
    let oscar = net.miner("oscar").await;
    let (hk_unknown, _) = net.register("//unknown-competition", 0).await;
    let unknown = common::Miner {
        hotkey: hk_unknown,
        uid: 0,
        namespace: "unknown".into(),
        token: String::new(),
    };

    let dir = work.join("alice");
    copy_fixture("tiny-llama", &dir);
    let alice_text = net.publish(&alice, "tiny-a", &dir).await;

    // Mallory commits Alice's exact commitment string under her own hotkey.
    net.commit_text(&mallory, &alice_text).await;

    let dir = work.join("carol");
    copy_fixture("tiny-llama", &dir);
    std::fs::write(dir.join("padding.bin.txt"), vec![b'x'; 2_500_000]).unwrap();
    net.publish(&carol, "big", &dir).await;

    let dir = work.join("dave");
    copy_fixture("tiny-llama", &dir);
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        config.replace("LlamaForCausalLM", "GPT2LMHeadModel"),
    )
    .unwrap();
    net.publish(&dave, "arch", &dir).await;

    let dir = work.join("erin");
    copy_fixture("tiny-llama", &dir);
    std::fs::write(
        dir.join("tokenizer.json"),
        "{\"version\":\"1.0\",\"model\":{\"type\":\"WordLevel\"}}",
    )
    .unwrap();
    net.publish(&erin, "tok", &dir).await;

    let dir = work.join("frank");
    copy_fixture("tiny-llama", &dir);
    let header =
        r#"{"lm_head.weight":{"dtype":"F32","shape":[4000000000,4000000],"data_offsets":[0,64]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + 64, 0);
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
    net.publish(&frank, "huge", &dir).await;

    let dir = work.join("grace");
    copy_fixture("tiny-llama", &dir);
    write_one_tensor(
        &dir.join("model-extra.safetensors"),
        "extra.weight",
        100_000,
    );
    net.publish(&grace, "params", &dir).await;

    let dir = work.join("nancy");
    copy_fixture("tiny-llama", &dir);
    let mut weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let at = weights.len() - 4;
    weights[at..].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(dir.join("model.safetensors"), weights).unwrap();
    net.publish(&nancy, "nan", &dir).await;

    let dir = work.join("bob");
    copy_fixture("tiny-qwen2", &dir);
    let bob_text = net.publish(&bob, "tiny-b", &dir).await;
    net.commit_text(&oscar, "not a model pointer").await;
    let elsewhere = format!("{}:9", bob_text.strip_suffix(":1").unwrap());
    net.commit_text(&unknown, &elsewhere).await;
    net.produce(1);
    let commit_block = net.block().await;

    let cache = net.root.path().join("cache");
    let updater = Updater::new(HubClient::new(&net.hub_url, None).unwrap(), &cache);
    let mut store = Store::open(net.root.path().join("validator.sqlite")).unwrap();

    // Before the eval delay: nothing is downloaded, models wait.
    let report = updater
        .sync(net.chain.as_ref(), net.netuid, &schedule, &mut store)
        .await
        .unwrap();
    assert_eq!(report.checked.len(), 11);
    assert!(
        matches!(verdict(&store, &alice), Verdict::Waiting { eligible_at } if eligible_at >= commit_block)
    );
    assert!(matches!(verdict(&store, &mallory), Verdict::Waiting { .. }));
    assert!(
        !cache.exists() || std::fs::read_dir(&cache).unwrap().next().is_none(),
        "nothing downloaded early"
    );
    assert!(matches!(
        rejection(&store, &oscar),
        Rejection::Unparseable { .. }
    ));
    assert!(matches!(
        rejection(&store, &unknown),
        Rejection::UnknownCompetition {
            competition_id: 9,
            ..
        }
    ));

    net.produce(5);
    updater
        .sync(net.chain.as_ref(), net.netuid, &schedule, &mut store)
        .await
        .unwrap();
    assert_eq!(verdict(&store, &alice), Verdict::Accepted);
    assert_eq!(verdict(&store, &bob), Verdict::Accepted);
    let alice_record = store.model(&alice.hotkey.public().ss58()).unwrap().unwrap();
    assert!(
        std::path::Path::new(alice_record.download_path.as_ref().unwrap())
            .join("model.safetensors")
            .exists()
    );

    assert!(
        matches!(rejection(&store, &mallory), Rejection::HashMismatch { .. }),
        "copied commitment"
    );
    assert_eq!(
        verdict(&store, &alice),
        Verdict::Accepted,
        "the copy does not hurt the original"
    );
    assert!(matches!(
        rejection(&store, &carol),
        Rejection::TooManyBytes { max: 3_000_000, .. }
    ));
    assert!(
        !snapshots_of(&cache, "carol/big"),
        "an oversize model is never downloaded"
    );
    let requests = net.hub_log.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/models/carol/big/revision/")),
        "its size was read from the repo info: {requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.contains("/carol/big/resolve/")),
        "the hub served no file of the oversize model: {requests:?}"
    );
    assert!(requests
        .iter()
        .any(|r| r.contains("/alice/tiny-a/resolve/")));
    assert!(matches!(
        rejection(&store, &nancy),
        Rejection::NonFiniteWeights { ref file, .. } if file == "model.safetensors"
    ));
    let nancy_record = store.model(&nancy.hotkey.public().ss58()).unwrap().unwrap();
    assert!(
        nancy_record.download_path.is_none(),
        "rejected files are not kept"
    );
    assert!(matches!(
        rejection(&store, &dave),
        Rejection::ArchitectureNotAllowed { .. }
    ));
    assert!(matches!(
        rejection(&store, &erin),
        Rejection::TokenizerMismatch { .. }
    ));
    assert!(matches!(
        rejection(&store, &frank),
        Rejection::InvalidSafetensors { .. }
    ));
    assert!(matches!(
        rejection(&store, &grace),
        Rejection::TooManyParams {
            params: 323_552,
            ..
        }
    ));
    assert!(
        !snapshots_of(&cache, "dave/arch")
            || std::fs::read_dir(cache.join("models--dave--arch/snapshots"))
                .unwrap()
                .next()
                .is_none()
    );

    // Decided commitments are not checked again; a new commitment is.
    let report = updater
        .sync(net.chain.as_ref(), net.netuid, &schedule, &mut store)
        .await
        .unwrap();
    assert!(report.checked.is_empty(), "{:?}", report.checked);
    let dir = work.join("dave2");
    copy_fixture("tiny-mistral", &dir);
    net.publish(&dave, "fixed", &dir).await;
    net.produce(6);
    let report = updater
        .sync(net.chain.as_ref(), net.netuid, &schedule, &mut store)
        .await
        .unwrap();
    assert_eq!(report.checked.len(), 1);
    assert_eq!(verdict(&store, &dave), Verdict::Accepted);

    // The service goes on: the three good models are evaluated, none of the bad ones (eight
    // still committed: dave replaced his).
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;
    net.produce(11);
    let schedule_path = net.root.path().join("competitions.toml");
    std::fs::write(&schedule_path, &*SCHEDULE).unwrap();
    let backend = FixedQuality(
        [
            ("models--alice--tiny-a", 2.0),
            ("models--bob--tiny-b", 1.0),
            ("models--dave--fixed", 3.0),
        ]
        .into(),
    );
    let config = ServiceConfig {
        netuid: net.netuid,
        schedule_path: Some(schedule_path),
        sync_cadence: 20,
        genesis_block: 0,
        queue: Default::default(),
        tokenizer_dir: None,
        events_path: None,
        version_key: 0,
        retention: Default::default(),
    };
    let chain: Arc<dyn Chain> = net.chain.clone();
    let mut service = Service::new(
        chain,
        validator,
        config,
        updater,
        store,
        Box::new(backend),
        BTreeMap::new(),
    )
    .unwrap();
    let key = service.tick().await.unwrap().step.expect("a step ran");
    let step = service.store().step(key).unwrap().unwrap();
    let evaluated: Vec<u16> = step.models.iter().map(|m| m.uid).collect();
    assert_eq!(evaluated, vec![alice.uid, dave.uid, bob.uid]);
    assert!(step.models.iter().all(|m| m.error.is_none()));
    let rejected = service
        .store()
        .models()
        .unwrap()
        .into_iter()
        .filter(|m| matches!(m.verdict, Verdict::Rejected { .. }))
        .count();
    assert_eq!(rejected, 8, "each bad model keeps its recorded reason");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_evaluates_sets_weights_and_best_gets_incentive() {
    let net = common::net().await;
    let work = net.root.path().join("work");
    let schedule_path = net.root.path().join("competitions.toml");
    std::fs::write(&schedule_path, &*SCHEDULE).unwrap();
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;

    let mut miners = Vec::new();
    for (ns, fixture) in [
        ("alice", "tiny-llama"),
        ("bob", "tiny-qwen2"),
        ("carol", "tiny-mistral"),
    ] {
        let miner = net.miner(ns).await;
        let dir = work.join(ns);
        copy_fixture(fixture, &dir);
        net.publish(&miner, "m", &dir).await;
        miners.push(miner);
    }
    net.produce(20); // past the eval delay and at least one epoch (validator permit)

    let backend = FixedQuality(
        [
            ("models--alice--m", 2.0),
            ("models--bob--m", 1.0),
            ("models--carol--m", 3.0),
        ]
        .into(),
    );
    let config = ServiceConfig {
        netuid: net.netuid,
        schedule_path: Some(schedule_path),
        sync_cadence: 20,
        genesis_block: 0,
        queue: Default::default(),
        tokenizer_dir: None,
        events_path: Some(net.root.path().join("events.jsonl")),
        version_key: 0,
        retention: Default::default(),
    };
    let updater = Updater::new(
        HubClient::new(&net.hub_url, None).unwrap(),
        net.root.path().join("cache"),
    );
    let store = Store::open(net.root.path().join("validator.sqlite")).unwrap();
    let chain: Arc<dyn Chain> = net.chain.clone();
    let mut service = Service::new(
        chain,
        validator,
        config,
        updater,
        store,
        Box::new(backend),
        BTreeMap::new(),
    )
    .unwrap();

    let tick = service.tick().await.unwrap();
    let key = tick.step.expect("a step ran");
    assert!(
        matches!(tick.weights, Some(SetOutcome::Sent { .. })),
        "{:?}",
        tick.weights
    );
    let step = service.store().step(key).unwrap().unwrap();
    assert_eq!(step.models.len(), 3);
    let best = step.models.iter().find(|m| m.uid == miners[1].uid).unwrap();
    assert_eq!((best.win_rate, best.step_weight), (1.0, 1.0));
    assert_eq!(best.tasks[0].raw, 1.0);

    // Same window again: no second step, and the rate limit holds the weights back.
    net.produce(1);
    let again = service.tick().await.unwrap();
    assert_eq!(again.step, None);
    assert!(
        matches!(again.weights, Some(SetOutcome::RateLimited { .. })),
        "{:?}",
        again.weights
    );

    net.produce(12); // an epoch runs over the weights set above
    let metagraph = net.chain.metagraph(net.netuid).await.unwrap();
    let incentive = |uid: u16| metagraph.neurons[usize::from(uid)].incentive;
    assert!(
        incentive(miners[1].uid) > incentive(miners[0].uid),
        "{:?}",
        metagraph.neurons
    );
    assert!(incentive(miners[1].uid) > incentive(miners[2].uid));

    let events = std::fs::read_to_string(net.root.path().join("events.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "step");
    assert_eq!(first["models"].as_array().unwrap().len(), 3);
    assert!(service
        .metrics()
        .render()
        .contains("arena_validator_steps_total 1\n"));
}

/// A path escaping the snapshot folder: the hub refuses to store it, and when a hostile hub
/// announces it anyway, the downloader refuses the revision before writing or fetching a byte
/// and the reason is recorded for the hotkey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_file_names_refused_by_hub_and_downloader() {
    use axum::response::IntoResponse;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let net = common::net().await;
    let trudy = net.miner("trudy").await;

    // 1. Our hub: a commit with a file named `../../x` is refused and stores nothing.
    let client = HubClient::new(&net.hub_url, Some(trudy.token.clone())).unwrap();
    client.create_repo("trudy/evil", false, true).await.unwrap();
    let line = r#"{"key":"file","value":{"path":"../../x","content":"aGk=","encoding":"base64"}}"#;
    let addr = net.hub_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/models/trudy/evil/commit/main HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{line}\n",
        trudy.token,
        line.len() + 1
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let files = client.list_files("trudy/evil", "main").await.unwrap();
    assert!(files.iter().all(|f| !f.contains("..")), "{files:?}");
    assert!(!net.root.path().join("x").exists() && !net.root.path().join("hub/x").exists());

    // 2. A hostile hub announcing `../../x` in a revision.
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let info = serde_json::json!({
        "id": "trudy/evil", "sha": rev, "private": false,
        "siblings": [
            {"rfilename": "config.json", "size": 2, "blobId": "1".repeat(40)},
            {"rfilename": "../../x", "size": 2, "blobId": "2".repeat(40)}
        ]
    });
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let info = info.clone();
        async move {
            if req
                .uri()
                .path()
                .starts_with("/api/models/trudy/evil/revision/")
            {
                axum::Json(info).into_response()
            } else {
                "hi".into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_url = format!("http://{}", listener.local_addr().unwrap());
    let (evil_log, _evil) = common::serve_logged(listener, app);
    let text = format!("trudy:evil:{rev}:{}:1", "A".repeat(43) + "=");
    net.commit_text(&trudy, &text).await;
    net.produce(7);

    let schedule = Schedule::from_toml_str(&SCHEDULE).unwrap();
    let cache = net.root.path().join("deep/cache");
    let updater = Updater::new(HubClient::new(&evil_url, None).unwrap(), &cache);
    let mut store = Store::open(net.root.path().join("validator.sqlite")).unwrap();
    updater
        .sync(net.chain.as_ref(), net.netuid, &schedule, &mut store)
        .await
        .unwrap();
    match rejection(&store, &trudy) {
        Rejection::Download { reason } => assert!(reason.contains("../../x"), "{reason}"),
        other => panic!("expected a refused download, got {other:?}"),
    }
    let requests = evil_log.lock().unwrap().clone();
    assert!(
        requests.iter().all(|r| !r.contains("/resolve/")),
        "nothing fetched: {requests:?}"
    );
    // `snapshots/<rev>/../../x` would have landed in the repo folder: nothing was created.
    assert!(!cache.join("models--trudy--evil").exists());
    assert!(!net.root.path().join("deep/x").exists());
}

/// Who is evaluated, through the service: a model that lost only on the older
/// model's epsilon is dropped, then re-queued once epsilon has decayed enough and wins; a
/// model that a high-stake validator weights is re-checked once it is stale, though it would
/// never qualify for a retry on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_epsilon_decay_and_recheck_of_top_miners() {
    let net = common::net().await;
    let work = net.root.path().join("work");
    let schedule_path = net.root.path().join("competitions.toml");
    let decaying = SCHEDULE.replace(
        r#"epsilon = { kind = "fixed", value = 0.005 }"#,
        r#"epsilon = { kind = "linear_decay", start = 0.2, end = 0.0, blocks = 200 }"#,
    );
    assert_ne!(decaying, *SCHEDULE);
    std::fs::write(&schedule_path, decaying).unwrap();
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;
    let (big, _) = net.register("//big-validator", 1_000_000_000_000).await;
    let mut miners = Vec::new();
    for (ns, fixture) in [
        ("alice", "tiny-llama"),
        ("bob", "tiny-qwen2"),
        ("carol", "tiny-mistral"),
    ] {
        let miner = net.miner(ns).await;
        let dir = work.join(ns);
        copy_fixture(fixture, &dir);
        net.publish(&miner, "m", &dir).await;
        net.produce(1); // alice is the oldest
        miners.push(miner);
    }
    let (alice, bob, carol) = (miners[0].uid, miners[1].uid, miners[2].uid);
    net.produce(20);
    // bob is 10 % better than alice; alice's epsilon (20 % decaying to 0 over 200 blocks)
    // protects her until she is about 100 blocks old.
    let backend = FixedQuality(
        [
            ("models--alice--m", 1.0),
            ("models--bob--m", 0.9),
            ("models--carol--m", 2.0),
        ]
        .into(),
    );
    let config = ServiceConfig {
        netuid: net.netuid,
        schedule_path: Some(schedule_path),
        sync_cadence: 20,
        genesis_block: 0,
        queue: arena_core::queue::QueuePolicy {
            keep_top: 1,
            retry_cadence_blocks: 50,
            top_validator_min_stake: 100.0,
            ..Default::default()
        },
        tokenizer_dir: None,
        events_path: None,
        version_key: 0,
        retention: Default::default(),
    };
    let updater = Updater::new(
        HubClient::new(&net.hub_url, None).unwrap(),
        net.root.path().join("cache"),
    );
    let store = Store::open(net.root.path().join("validator.sqlite")).unwrap();
    let chain: Arc<dyn Chain> = net.chain.clone();
    let mut service = Service::new(
        chain,
        validator,
        config,
        updater,
        store,
        Box::new(backend),
        BTreeMap::new(),
    )
    .unwrap();
    let uids_of_step = |service: &Service, key| -> Vec<(u16, f64)> {
        let step = service.store().step(key).unwrap().unwrap();
        step.models.iter().map(|m| (m.uid, m.win_rate)).collect()
    };
    let next_window = |net: &Net| {
        let block = net.chain.produce_block().unwrap().number;
        net.produce(20 - block % 20);
    };

    let first = service.tick().await.unwrap().step.expect("step 1");
    assert_eq!(
        uids_of_step(&service, first),
        vec![(alice, 1.0), (bob, 0.5), (carol, 0.0)],
        "bob loses to alice only on epsilon"
    );
    // A high-stake validator puts its weight on carol, whom this validator just dropped.
    net.chain
        .set_weights(&big, net.netuid, &[carol], &[u16::MAX], 0)
        .await
        .unwrap();
    next_window(&net);
    let second = service.tick().await.unwrap().step.expect("step 2");
    assert_eq!(
        uids_of_step(&service, second),
        vec![(alice, 1.0)],
        "nobody else qualifies yet"
    );
    for _ in 0..4 {
        next_window(&net);
    }
    let third = service.tick().await.unwrap().step.expect("step 3");
    assert_eq!(
        uids_of_step(&service, third),
        vec![(alice, 0.5), (bob, 1.0), (carol, 0.0)],
        "bob retried after the decay and now wins; carol re-checked for the big validator"
    );
}

/// Records what the service asks of a data source and answers with generated samples.
struct RecordingSource(Arc<std::sync::Mutex<Vec<arena_data::source::DrawRequest>>>);

#[async_trait]
impl arena_data::source::DataSource for RecordingSource {
    fn describe(&self) -> String {
        "recording".into()
    }

    async fn draw(
        &mut self,
        request: &arena_data::source::DrawRequest,
    ) -> Result<arena_data::source::Draw, arena_data::DataError> {
        self.0.lock().unwrap().push(request.clone());
        let kind = arena_data::tasks::TaskKind::WordSorting;
        let mut generated = arena_data::source::GeneratedSource::new(kind);
        generated.draw(request).await
    }
}

/// A step uses only data created after every scored model became eligible (commit
/// block + eval delay), so no miner can have trained on it. The bound is the timestamp of the
/// youngest model's eligibility block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_drawn_only_after_the_youngest_model_became_eligible() {
    let net = common::net().await;
    let work = net.root.path().join("work");
    let schedule_path = net.root.path().join("competitions.toml");
    let fed = SCHEDULE.replace(
        r#"dataset = { generator = "word_sorting" }"#,
        r#"dataset = { feed = "fresh" }"#,
    );
    assert_ne!(fed, *SCHEDULE);
    std::fs::write(&schedule_path, fed).unwrap();
    let (validator, _) = net.register("//validator", 1_000_000_000_000).await;
    let alice = net.miner("alice").await;
    let bob = net.miner("bob").await;
    for (miner, fixture) in [(&alice, "tiny-llama"), (&bob, "tiny-qwen2")] {
        let dir = work.join(&miner.namespace);
        copy_fixture(fixture, &dir);
        net.publish(miner, "m", &dir).await;
        net.produce(1);
    }
    // Blocks a few milliseconds apart, so each has its own timestamp.
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        net.produce(1);
    }
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sources: BTreeMap<String, Box<dyn arena_data::source::DataSource>> = BTreeMap::new();
    sources.insert("fresh".into(), Box::new(RecordingSource(requests.clone())));
    let backend = FixedQuality([("models--alice--m", 1.0), ("models--bob--m", 2.0)].into());
    let config = ServiceConfig {
        netuid: net.netuid,
        schedule_path: Some(schedule_path),
        sync_cadence: 20,
        genesis_block: 0,
        queue: Default::default(),
        tokenizer_dir: None,
        events_path: None,
        version_key: 0,
        retention: Default::default(),
    };
    let updater = Updater::new(
        HubClient::new(&net.hub_url, None).unwrap(),
        net.root.path().join("cache"),
    );
    let store = Store::open(net.root.path().join("validator.sqlite")).unwrap();
    let chain: Arc<dyn Chain> = net.chain.clone();
    let mut service = Service::new(
        chain,
        validator,
        config,
        updater,
        store,
        Box::new(backend),
        sources,
    )
    .unwrap();
    let key = service.tick().await.unwrap().step.expect("a step ran");
    assert_eq!(service.store().step(key).unwrap().unwrap().models.len(), 2);
    let commit_block = |m: &common::Miner| {
        let record = service.store().model(&m.hotkey.public().ss58()).unwrap();
        record.unwrap().commit_block
    };
    let (a, b) = (commit_block(&alice), commit_block(&bob));
    assert!(b > a, "bob committed later");
    let eligible_ms = |block: u64| {
        let chain = net.chain.clone();
        async move {
            chain
                .block(Some(block + 5))
                .await
                .unwrap()
                .unwrap()
                .timestamp_ms
        }
    };
    let (alice_ms, bob_ms) = (eligible_ms(a).await, eligible_ms(b).await);
    assert!(bob_ms > alice_ms, "{alice_ms} {bob_ms}");
    let seen = requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].not_before_ms, bob_ms,
        "bounded by the youngest model"
    );
    assert!(seen[0].now_ms >= bob_ms);
}
