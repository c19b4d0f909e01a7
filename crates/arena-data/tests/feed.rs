//! The data feed end to end: every acceptance rule drops and counts its batch, a good batch
//! passes, the server refuses oversize bodies, and the batch parser survives random bytes.

use std::sync::Arc;

use arena_core::seed::Seed;
use arena_data::accept::{AcceptancePolicy, Rejection, StaticStakes};
use arena_data::batch::{Batch, BatchLimits};
use arena_data::feed::client::FeedClient;
use arena_data::feed::server::{serve, FeedState};
use arena_data::feed::store::{FeedStore, Retention};
use arena_data::producer::Producer;
use arena_data::rng::DrawRng;
use arena_data::source::{DataSource, DrawRequest, FeedSource};
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_data::Sample;
use arena_keys::Keypair;

const NETUID: u16 = 7;
const MIN_STAKE: u64 = 1_000;
const HOUR: u64 = 3_600_000;

struct Feed {
    url: String,
    state: Arc<FeedState>,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_feed(max_bytes: usize) -> Feed {
    start_feed_with(max_bytes, Retention::default()).await
}

async fn start_feed_with(max_bytes: usize, retention: Retention) -> Feed {
    let dir = tempfile::tempdir().unwrap();
    let store = FeedStore::open(&dir.path().join("feed.sqlite")).unwrap();
    let limits = BatchLimits {
        max_bytes,
        ..BatchLimits::default()
    };
    let state = FeedState::with_retention(store, limits, retention);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Feed {
        url,
        state,
        _dir: dir,
        _stop: stop,
    }
}

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).unwrap()
}

fn samples(tag: &str, n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            Sample::new(
                format!("{tag}-{i}"),
                "chat",
                format!("Question {tag} {i}?"),
                format!("Answer {i}."),
            )
        })
        .collect()
}

fn oracle() -> Arc<StaticStakes> {
    Arc::new(
        StaticStakes::default()
            .with(NETUID, key("//Alice").public(), 5_000)
            .with(NETUID, key("//Bob").public(), MIN_STAKE - 1)
            .with(NETUID + 1, key("//Charlie").public(), 1_000_000),
    )
}

fn request(now_ms: u64, not_before_ms: u64) -> DrawRequest {
    DrawRequest {
        seed: Seed::from_text("draw"),
        count: 1_000,
        now_ms,
        not_before_ms,
    }
}

/// Publishes through HTTP (the server verifies the signature).
async fn publish(client: &FeedClient, batch: &Batch) {
    client.publish(batch).await.unwrap();
}

#[tokio::test]
async fn each_rule_drops_and_counts_and_good_batches_pass() {
    let feed = start_feed(1 << 20).await;
    let client = FeedClient::new(&feed.url).unwrap();
    let now = arena_data::now_ms();
    let alice = key("//Alice");

    let good = Batch::sign(&alice, NETUID, now - HOUR, 10, samples("good", 3));
    publish(&client, &good).await;
    publish(
        &client,
        &Batch::sign(
            &key("//Charlie"),
            NETUID,
            now - HOUR,
            10,
            samples("unreg", 2),
        ),
    )
    .await;
    publish(
        &client,
        &Batch::sign(&key("//Bob"), NETUID, now - HOUR, 10, samples("poor", 2)),
    )
    .await;
    publish(
        &client,
        &Batch::sign(&alice, NETUID, now - 5 * HOUR, 10, samples("stale", 2)),
    )
    .await;
    publish(
        &client,
        &Batch::sign(&alice, NETUID, now - 3 * HOUR, 10, samples("early", 2)),
    )
    .await;
    publish(
        &client,
        &Batch::sign(&alice, NETUID + 1, now - HOUR, 10, samples("othernet", 2)),
    )
    .await;
    let mut dirty = samples("dirty", 2);
    dirty[1].response = "As an AI language model, I cannot answer.".into();
    publish(&client, &Batch::sign(&alice, NETUID, now - HOUR, 10, dirty)).await;
    let mut eot = samples("eot", 1);
    eot[0].prompt.push_str("<|endoftext|>");
    publish(&client, &Batch::sign(&alice, NETUID, now - HOUR, 10, eot)).await;

    // A forged batch cannot enter through HTTP…
    let mut forged = Batch::sign(&alice, NETUID, now - HOUR, 10, samples("forged", 2));
    forged.samples[0].response = "tampered".into();
    let err = client.publish(&forged).await.unwrap_err().to_string();
    assert!(err.contains("401"), "{err}");
    assert_eq!(feed.state.stats().bad_signature, 1);
    // …so plant it in the store, as a compromised feed would serve it.
    feed.state.store().insert(&forged, now).unwrap();

    let policy = AcceptancePolicy::new(NETUID, MIN_STAKE);
    let mut source = FeedSource::new(client.clone(), policy, oracle());
    // Models committed 2.5 h ago plus delay: the 3-hour-old batch is too early.
    let draw = source
        .draw(&request(now, now - 150 * 60_000))
        .await
        .unwrap();
    let stats = &draw.stats;
    assert_eq!(stats.rejected(Rejection::BadSignature), 1, "{stats:?}");
    assert_eq!(stats.rejected(Rejection::NotRegistered), 1, "{stats:?}");
    assert_eq!(stats.rejected(Rejection::LowStake), 1, "{stats:?}");
    assert_eq!(stats.rejected(Rejection::Stale), 1, "{stats:?}");
    assert_eq!(stats.rejected(Rejection::TooEarly), 1, "{stats:?}");
    assert_eq!(stats.rejected(Rejection::WrongNetuid), 1, "{stats:?}");
    assert_eq!(stats.rejected(Rejection::UndesirablePhrase), 2, "{stats:?}");
    assert_eq!(stats.total_rejected(), 8);
    assert_eq!(stats.accepted_batches, 1);
    let mut ids: Vec<&str> = draw.samples.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["good-0", "good-1", "good-2"]);
    assert_eq!(source.totals(), stats);

    // A model committed after the good batch was created: nothing is usable for it.
    let draw = source.draw(&request(now, now - HOUR)).await.unwrap();
    assert!(draw.samples.is_empty());
    assert_eq!(draw.stats.rejected(Rejection::TooEarly), 2);
    // Nothing new was pulled the second time: lasting rules are not re-counted.
    assert_eq!(draw.stats.rejected(Rejection::LowStake), 0);
}

#[tokio::test]
async fn oversize_batches_are_refused_while_reading() {
    let cap = 4_096;
    let feed = start_feed(cap).await;
    let client = FeedClient::new(&feed.url).unwrap();
    let alice = key("//Alice");
    let now = arena_data::now_ms();
    let small = Batch::sign(&alice, NETUID, now, 1, samples("small", 2));
    assert!(small.to_json().len() < cap);
    publish(&client, &small).await;
    let mut big_samples = samples("big", 1);
    big_samples[0].response = "word ".repeat(2_000);
    let big = Batch::sign(&alice, NETUID, now, 1, big_samples);
    let err = client.publish(&big).await.unwrap_err().to_string();
    assert!(err.contains("413"), "{err}");

    // Without a Content-Length header the cap is enforced on the stream itself.
    let body = big.to_json().into_bytes();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(1024).map(|c| Ok(c.to_vec())).collect();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/batches", feed.url))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    let stats = feed.state.stats();
    assert_eq!(stats.oversize, 2, "{stats:?}");
    assert_eq!(stats.stored, 1);
    assert_eq!(feed.state.store().count().unwrap(), 1);

    // The validator's own cap counts an oversize batch it pulls.
    let mut policy = AcceptancePolicy::new(NETUID, MIN_STAKE);
    policy.limits.max_bytes = 200;
    let mut source = FeedSource::new(client, policy, oracle());
    let draw = source.draw(&request(now, 0)).await.unwrap();
    assert_eq!(draw.stats.rejected(Rejection::Oversize), 1);
    assert!(draw.samples.is_empty());
}

#[tokio::test]
async fn feed_serves_by_cursor_and_time_and_validators_agree() {
    let feed = start_feed(1 << 20).await;
    let client = FeedClient::new(&feed.url).unwrap();
    let producer = Producer::new(key("//Alice"), NETUID, TaskKind::ALL.to_vec(), 14);
    let now = arena_data::now_ms();
    let mut created = Vec::new();
    for i in 0..5u64 {
        let batch = producer.make_batch(now - (10 - i) * 60_000, 100 + i);
        batch.verify().unwrap();
        created.push(batch.created_at);
        let receipt = client.publish(&batch).await.unwrap();
        assert_eq!(receipt.cursor, i + 1);
        assert!(client.publish(&batch).await.unwrap().duplicate);
    }
    assert_eq!(feed.state.stats().duplicates, 5);
    let page = client.since(2, 100).await.unwrap();
    assert_eq!(
        page.items.iter().map(|i| i.cursor).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(page.next_cursor, 5);
    assert!(client.since(5, 100).await.unwrap().items.is_empty());
    let page = client.range(created[1], created[3], 100).await.unwrap();
    assert_eq!(
        page.items.iter().map(|i| i.cursor).collect::<Vec<_>>(),
        [2, 3]
    );

    let policy = AcceptancePolicy::new(NETUID, MIN_STAKE);
    let mut one = FeedSource::new(client.clone(), policy.clone(), oracle());
    let mut two = FeedSource::new(client, policy, oracle());
    let mut req = request(now, 0);
    req.count = 20;
    let a = one.draw(&req).await.unwrap();
    let b = two.draw(&req).await.unwrap();
    assert_eq!(a.samples.len(), 20);
    assert_eq!(a.samples, b.samples);
    req.seed = Seed::from_text("another window");
    assert_ne!(one.draw(&req).await.unwrap().samples, a.samples);
}

/// Bounded fuzzing of the batch parser in the normal test run (the cargo-fuzz target in
/// `fuzz/` runs the same property unbounded).
#[test]
fn parser_survives_random_and_mutated_input() {
    let limits = BatchLimits::default();
    let alice = key("//Alice");
    let mut valid = Batch::sign(
        &alice,
        NETUID,
        1_700_000_000_000,
        5,
        TaskKind::IfEval.generate_many(&Seed([3; 32]), 3),
    );
    valid
        .samples
        .extend(TaskKind::MultipleChoice.generate_many(&Seed([4; 32]), 2));
    let valid = Batch::sign(&alice, NETUID, 1_700_000_000_000, 5, valid.samples);
    let json = valid.to_json().into_bytes();
    assert!(Batch::parse_verified(&json, &limits).is_ok());
    let mut rng = DrawRng::new(&Seed([9; 32]), "fuzz", 0);
    let mut accepted_mutants = 0;
    for round in 0..20_000u32 {
        let input: Vec<u8> = if round % 2 == 0 {
            let len = rng.index(300);
            (0..len).map(|_| rng.below(256) as u8).collect()
        } else {
            let mut bytes = json.clone();
            for _ in 0..1 + rng.index(4) {
                let at = rng.index(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = rng.below(256) as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, b"{}[]\":,0a\\"[rng.index(10)]),
                }
            }
            bytes
        };
        if let Ok(batch) = Batch::parse(&input, &limits) {
            // Whatever parses re-serializes and parses to the same batch.
            assert_eq!(
                Batch::parse(batch.to_json().as_bytes(), &limits).unwrap(),
                batch
            );
            if batch != valid && batch.verify().is_ok() {
                accepted_mutants += 1;
            }
        }
    }
    // A mutation may change only JSON layout, never signed content.
    assert_eq!(accepted_mutants, 0);
}

/// Stake read from the real local chain: registered with enough stake passes, too little
/// stake and no registration are dropped and counted.
#[tokio::test]
async fn stake_is_read_through_the_local_chain() {
    use arena_chain::{Chain, Hyperparameters, LocalChain, LocalChainOptions};
    use arena_data::chain_stake::chain_oracle;

    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap());
    let owner = key("//Owner");
    let netuid = chain
        .create_subnet(&owner, Hyperparameters::default())
        .await
        .unwrap()
        .assigned
        .unwrap();
    chain.produce_block().unwrap();
    let cold = key("//Cold");
    for hot in ["//Alice", "//Bob"] {
        chain
            .register(&cold, netuid, &key(hot).public())
            .await
            .unwrap();
    }
    chain.produce_block().unwrap();
    chain
        .add_stake(&cold, &key("//Alice").public(), netuid, 2 * MIN_STAKE)
        .await
        .unwrap();
    chain
        .add_stake(&cold, &key("//Bob").public(), netuid, MIN_STAKE / 2)
        .await
        .unwrap();
    chain.produce_block().unwrap();

    let feed = start_feed(1 << 20).await;
    let client = FeedClient::new(&feed.url).unwrap();
    let now = arena_data::now_ms();
    for (uri, tag) in [
        ("//Alice", "staked"),
        ("//Bob", "poor"),
        ("//Charlie", "unregistered"),
    ] {
        publish(
            &client,
            &Batch::sign(&key(uri), netuid, now - HOUR, 3, samples(tag, 2)),
        )
        .await;
    }
    let policy = AcceptancePolicy::new(netuid, MIN_STAKE);
    let mut source = FeedSource::new(client, policy, chain_oracle(chain.clone()));
    let draw = source.draw(&request(now, 0)).await.unwrap();
    assert_eq!(draw.stats.accepted_batches, 1, "{:?}", draw.stats);
    assert_eq!(draw.stats.rejected(Rejection::LowStake), 1);
    assert_eq!(draw.stats.rejected(Rejection::NotRegistered), 1);
    assert!(draw.samples.iter().all(|s| s.id.starts_with("staked-")));
}

fn cursors(page: &arena_data::feed::FeedPage) -> Vec<u64> {
    page.items.iter().map(|i| i.cursor).collect()
}

/// The store's prune: batches received before the age cut-off go, then all but the newest
/// `max_batches`; cursors are not reused afterwards.
#[test]
fn prune_deletes_by_age_then_by_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = FeedStore::open(&dir.path().join("feed.sqlite")).unwrap();
    let producer = Producer::new(key("//Alice"), NETUID, vec![TaskKind::Arithmetic], 2);
    let now = 10 * HOUR;
    // Received 9 h, 8 h, …, 1 h ago.
    for age in (1..=9u64).rev() {
        let batch = producer.make_batch(now - age * HOUR, 1);
        store.insert(&batch, now - age * HOUR).unwrap();
    }
    let retention = Retention {
        max_age: std::time::Duration::from_secs(5 * 3600),
        max_batches: 3,
        every: std::time::Duration::from_secs(60),
    };
    // Ages 9..=6 h are older than 5 h (4 batches); of the 5 left, the 2 oldest exceed the cap.
    assert_eq!(store.prune(&retention, now).unwrap(), 6);
    let left: Vec<u64> = store
        .since(0, 100)
        .unwrap()
        .iter()
        .map(|i| i.cursor)
        .collect();
    assert_eq!(left, [7, 8, 9]);
    assert_eq!(store.prune(&retention, now).unwrap(), 0, "idempotent");
    let stored = store.insert(&producer.make_batch(now, 1), now).unwrap();
    assert_eq!(stored.cursor, 10, "cursors are never reused");
    assert_eq!(store.prune(&retention, now).unwrap(), 1);
    assert_eq!(store.count().unwrap(), 3);
}

/// A running feed applies its retention on its own: a burst beyond the cap is cut to the
/// newest batches, batches past their age disappear, and a batch published afterwards is
/// served from the old cursor on.
#[tokio::test]
async fn running_feed_prunes_old_batches_and_serves_new_ones() {
    let retention = Retention {
        max_age: std::time::Duration::from_millis(1500),
        max_batches: 4,
        every: std::time::Duration::from_millis(100),
    };
    let feed = start_feed_with(1 << 20, retention).await;
    let client = FeedClient::new(&feed.url).unwrap();
    let producer = Producer::new(key("//Alice"), NETUID, vec![TaskKind::Arithmetic], 2);
    let now = arena_data::now_ms();
    for i in 0..6u64 {
        publish(&client, &producer.make_batch(now + i, 1)).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let wait_for = |want: u64| {
        let state = feed.state.clone();
        async move {
            while state.store().count().unwrap() != want {
                assert!(
                    std::time::Instant::now() < deadline,
                    "feed never pruned to {want} batches"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    wait_for(4).await;
    assert_eq!(cursors(&client.since(0, 100).await.unwrap()), [3, 4, 5, 6]);
    // Past max_age, everything published above is gone…
    wait_for(0).await;
    assert!(client.since(0, 100).await.unwrap().items.is_empty());
    // …and a new batch is served to a validator still holding cursor 6.
    publish(&client, &producer.make_batch(arena_data::now_ms(), 1)).await;
    let page = client.since(6, 100).await.unwrap();
    assert_eq!(cursors(&page), [7]);
    assert_eq!(page.next_cursor, 7);
}

/// A producer given the chain stamps each batch with the chain's current block.
#[tokio::test]
async fn producer_stamps_the_current_block() {
    use arena_chain::{Chain, LocalChain, LocalChainOptions};

    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap());
    for _ in 0..7 {
        chain.produce_block().unwrap();
    }
    assert_eq!(chain.block_number().await.unwrap(), 7);
    let feed = start_feed(1 << 20).await;
    let client = FeedClient::new(&feed.url).unwrap();
    let producer = Producer::new(key("//Alice"), NETUID, vec![TaskKind::Arithmetic], 2)
        .with_chain(chain.clone());
    let every = std::time::Duration::from_millis(10);
    let published = producer
        .run(&client, every, Some(1), std::future::pending())
        .await
        .unwrap();
    assert_eq!(published, 1);
    chain.produce_block().unwrap();
    chain.produce_block().unwrap();
    producer
        .run(&client, every, Some(1), std::future::pending())
        .await
        .unwrap();
    let page = client.since(0, 100).await.unwrap();
    let blocks: Vec<u64> = page
        .items
        .iter()
        .map(|i| i.batch["block"].as_u64().unwrap())
        .collect();
    assert_eq!(blocks, [7, 9]);
}
