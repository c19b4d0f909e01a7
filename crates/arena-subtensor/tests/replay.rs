//! The client against a loopback WebSocket server that answers from the recorded finney
//! sessions (`tests/data/recorded-finney-rpc.json`) and the spec-343 metadata.

use arena_chain::{Chain, ChainError, Hyperparameters};
use arena_keys::{Keypair, PublicKey};
use arena_subtensor::replay::{Recording, ReplayServer};
use arena_subtensor::{Options, Subtensor, Value};
use serde_json::{json, Value as Json};

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn recording() -> Recording {
    Recording::from_json(&data("recorded-finney-rpc.json")).unwrap()
}

async fn serve(rec: Recording, sessions: &[&str]) -> ReplayServer {
    ReplayServer::start(rec, sessions, &data("metadata-finney-spec343-v15.scale"))
        .await
        .unwrap()
}

async fn client(server: &ReplayServer) -> Subtensor {
    Subtensor::connect(&server.ws_url(), Options::default())
        .await
        .unwrap()
}

/// The raw JSON of the recording, for values the tests check independently.
fn raw() -> Json {
    serde_json::from_slice(&data("recorded-finney-rpc.json")).unwrap()
}

fn recorded_hex(session: &str, method: &str, params_prefix: &str) -> Vec<u8> {
    let r = raw();
    let calls = r[session][method].as_object().unwrap();
    let (_, resp) = calls
        .iter()
        .find(|(p, _)| p.starts_with(params_prefix))
        .unwrap_or_else(|| panic!("{session}.{method} {params_prefix}"));
    let text = resp["result"].as_str().unwrap();
    hex::decode(text.trim_start_matches("0x")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metagraph_reads_the_recorded_1024_neurons() {
    let server = serve(recording(), &["metagraph"]).await;
    let st = client(&server).await;
    assert_eq!(st.block_number().await.unwrap(), 0x689052);
    let mg = st.metagraph(1).await.unwrap();
    assert_eq!(mg.netuid, 1);
    assert_eq!(mg.block, 6_852_690);
    assert_eq!(mg.neurons.len(), 1024);
    for (i, n) in mg.neurons.iter().enumerate() {
        assert_eq!(n.uid as usize, i);
    }

    // uid 0's hotkey and coldkey as the session's independent `get_neurons_lite` answer
    // holds them: compact 1024 (0x01 0x10), then hotkey, coldkey.
    let lite = recorded_hex(
        "metagraph",
        "state_call",
        "[\"NeuronInfoRuntimeApi_get_neurons_lite\"",
    );
    assert_eq!(&lite[..2], &[0x01, 0x10]);
    assert_eq!(mg.neurons[0].hotkey.0, lite[2..34]);
    assert_eq!(mg.neurons[0].coldkey.0, lite[34..66]);
    assert_eq!(
        mg.neurons[0].hotkey.ss58(),
        PublicKey(lite[2..34].try_into().unwrap()).ss58()
    );

    // Every uid agrees with get_neurons_lite decoded through the metadata's runtime-API types.
    let rt = st.runtime().await.unwrap();
    let at: [u8; 32] =
        hex::decode("db13c066e2c63969f140164fb3bfe7a0aaa7b71407fc0fe525d68e57329ef9d0")
            .unwrap()
            .try_into()
            .unwrap();
    let neurons = st
        .runtime_api(
            &rt,
            "NeuronInfoRuntimeApi",
            "get_neurons_lite",
            &[Value::U(1)],
            &at,
        )
        .await
        .unwrap();
    let neurons = neurons.as_seq().unwrap();
    assert_eq!(neurons.len(), 1024);
    for (n, lite) in mg.neurons.iter().zip(neurons) {
        assert_eq!(lite.field("uid").unwrap().as_u128(), Some(n.uid.into()));
        assert_eq!(
            lite.field("hotkey").unwrap().as_bytes(),
            Some(&n.hotkey.0[..])
        );
        assert_eq!(
            lite.field("coldkey").unwrap().as_bytes(),
            Some(&n.coldkey.0[..])
        );
        assert_eq!(lite.field("active").unwrap().as_bool(), Some(n.active));
        assert_eq!(
            lite.field("validator_permit").unwrap().as_bool(),
            Some(n.validator_permit)
        );
        assert_eq!(
            lite.field("last_update").unwrap().as_u128(),
            Some(n.last_update.into())
        );
        assert_eq!(
            lite.field("incentive").unwrap().as_u128(),
            Some(n.incentive.into())
        );
        assert_eq!(
            lite.field("dividends").unwrap().as_u128(),
            Some(n.dividends.into())
        );
    }
    assert!(mg.neurons.iter().any(|n| n.validator_permit));
    assert!(mg.neurons.iter().any(|n| n.incentive > 0));
    assert!(mg.neurons.iter().any(|n| n.stake > 0));
    assert!(mg.neurons.iter().all(|n| n.registration_block <= mg.block));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metagraph_hyperparameters_are_the_recorded_ones() {
    let server = serve(recording(), &["metagraph"]).await;
    let st = client(&server).await;
    let hp = st.metagraph(1).await.unwrap().hyperparameters;
    let want = RECORDED_SN1_HYPERPARAMETERS;
    assert_eq!(
        (
            hp.tempo,
            hp.weights_rate_limit,
            hp.weights_version_key,
            hp.min_allowed_weights,
            hp.max_weights_limit,
            hp.immunity_period,
            hp.max_allowed_uids,
            hp.max_allowed_validators,
        ),
        want,
        "{hp:?}"
    );
    let d = Hyperparameters::default();
    assert_eq!(hp.bonds_penalty, d.bonds_penalty);
}

/// Subnet 1 at block 6,852,690 as the recorded `get_selective_mechagraph` answer holds it:
/// (tempo, weights rate limit, version key, min allowed weights, max weights limit,
/// immunity period, max uids, max validators).
const RECORDED_SN1_HYPERPARAMETERS: (u16, u64, u64, u16, u16, u64, u16, u16) =
    (99, 100, 21706, 1, 65535, 7200, 1024, 128);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tempo_block_hash_and_commitment_are_the_recorded_values() {
    let server = serve(recording(), &["tempo"]).await;
    let st = client(&server).await;
    assert_eq!(st.tempo(23).await.unwrap(), 1000);
    drop(server);

    let server = serve(recording(), &["get_block_hash"]).await;
    let st = client(&server).await;
    let h = st.block_hash(Some(6_522_038)).await.unwrap().unwrap();
    assert_eq!(
        h.to_hex(),
        "0x4f0bbe5e96a78ca4cc1df9a7e757d335165d6d71c545cf6eb4794986424bcd29"
    );
    drop(server);

    // get_commitment: the recorded hotkey has no commitment on subnet 23.
    let r = raw();
    let key = r["get_commitment"]["state_getStorageAt"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let params: Json = serde_json::from_str(&key).unwrap();
    let storage_key = hex::decode(params[0].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let hotkey = PublicKey(storage_key[storage_key.len() - 32..].try_into().unwrap());
    let server = serve(recording(), &["get_commitment"]).await;
    let st = client(&server).await;
    assert_eq!(st.commitment(23, &hotkey).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_commitment_is_read_as_text_with_its_block() {
    // The recording has no commitment that exists: store one (encoded with the metadata's
    // `Registration` type) at the session's head, and read it back through the client.
    let rt =
        arena_subtensor::Runtime::from_bytes(&data("metadata-finney-spec343-v15.scale"), 343, 1)
            .unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap().public();
    let text = b"me:model:0123abcd:5f3a:1";
    let reg = Value::Composite(vec![
        (Some("deposit".into()), Value::U(0)),
        (Some("block".into()), Value::U(6_400_000)),
        (
            Some("info".into()),
            Value::Composite(vec![(
                Some("fields".into()),
                Value::Seq(vec![arena_subtensor::raw_data(text).unwrap()]),
            )]),
        ),
    ]);
    let (_, entry) = (
        (),
        rt.metadata()
            .pallet_by_name("Commitments")
            .unwrap()
            .storage()
            .unwrap()
            .entry_by_name("CommitmentOf")
            .unwrap()
            .value_ty(),
    );
    let mut bytes = Vec::new();
    arena_subtensor::encode_as(rt.types(), entry, &reg, &mut bytes).unwrap();
    let key = rt
        .storage_key(
            "Commitments",
            "CommitmentOf",
            &[Value::U(23), Value::Bytes(alice.0.to_vec())],
        )
        .unwrap();
    let head = "0xa049374c707f9a426866a090c66eff7106a75597dd0d87a8fbe39a7f7887ed16";
    let mut rec = recording();
    rec.insert(
        "get_commitment",
        "state_getStorageAt",
        json!([format!("0x{}", hex::encode(&key)), head]),
        json!({"result": format!("0x{}", hex::encode(&bytes))}),
    );
    let server = serve(rec, &["get_commitment"]).await;
    let st = client(&server).await;
    let c = st.commitment(23, &alice).await.unwrap().unwrap();
    assert_eq!(c.text(), Some("me:model:0123abcd:5f3a:1"));
    assert_eq!(c.block, 6_400_000);
    assert_eq!(c.hotkey, alice);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_subtensor_has_no_meaning_for_is_unsupported_and_unrecorded_requests_fail() {
    let server = serve(recording(), &["tempo"]).await;
    let st = client(&server).await;
    let alice = Keypair::from_uri("//Alice").unwrap();
    let err = st
        .create_subnet(&alice, Hyperparameters::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Unsupported { .. }), "{err}");
    assert_eq!(err.name(), "Unsupported");
    assert!(matches!(
        st.subnets().await.unwrap_err(),
        ChainError::Unsupported { .. }
    ));
    // add_stake is a real Subtensor call now: it gets as far as the node, which recorded no
    // nonce for it (tests/arena_node.rs runs it end to end).
    let err = st
        .add_stake(&alice, &alice.public(), 23, 5)
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Rpc { code: -32601, .. }), "{err}");
    // The session recorded no runtime-API call: a JSON-RPC error, not a panic.
    let err = st.metagraph(23).await.unwrap_err();
    assert!(matches!(err, ChainError::Rpc { code: -32601, .. }), "{err}");
    assert!(err.to_string().contains("state_call"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints_work_too() {
    let server = serve(recording(), &["tempo"]).await;
    let st = Subtensor::connect(&server.http_url(), Options::default())
        .await
        .unwrap();
    assert_eq!(st.tempo(23).await.unwrap(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_reconnects() {
    let server = serve(recording(), &["tempo"]).await;
    let url = server.ws_url();
    let st = client(&server).await;
    assert_eq!(st.tempo(23).await.unwrap(), 1000);
    // Restart the server on the same port: the client reconnects on its next request.
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    server.stop();
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let restarted = start_on(port).await;
    assert_eq!(st.tempo(23).await.unwrap(), 1000);
    drop(restarted);
}

async fn start_on(port: u16) -> ReplayServer {
    for _ in 0..50 {
        if let Ok(s) = ReplayServer::start_on(
            recording(),
            &["tempo"],
            &data("metadata-finney-spec343-v15.scale"),
            port,
        )
        .await
        {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("port {port} stayed busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_upgrade_reloads_the_metadata() {
    let server = serve(recording(), &["tempo"]).await;
    let port: u16 = server.ws_url().rsplit(':').next().unwrap().parse().unwrap();
    let st = client(&server).await;
    let before = st.runtime().await.unwrap();
    assert_eq!(before.spec_version, 208);
    assert_eq!(before.metadata().pallets().len(), 26);
    server.stop();
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // The node comes back with spec 393 and its V16 metadata.
    let mut rec = recording();
    for (_, resp) in rec
        .responses_mut("tempo", "state_getRuntimeVersion")
        .unwrap()
    {
        resp["result"]["specVersion"] = json!(393);
    }
    let meta = data("metadata-finney-spec393-v16.scale");
    let mut upgraded = None;
    for _ in 0..50 {
        if let Ok(s) = ReplayServer::start_on(rec.clone(), &["tempo"], &meta, port).await {
            upgraded = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _upgraded = upgraded.expect("port stayed busy");
    let after = st.runtime().await.unwrap();
    assert_eq!(after.spec_version, 393);
    assert_eq!(after.metadata().pallets().len(), 27);
    assert_eq!(st.tempo(23).await.unwrap(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weight_and_bond_rows_are_read_from_storage() {
    // The recordings read no Weights or Bonds: store rows (encoded with the metadata's value
    // types) under the session's head and list them through the paged-keys path.
    let rt =
        arena_subtensor::Runtime::from_bytes(&data("metadata-finney-spec343-v15.scale"), 343, 1)
            .unwrap();
    let head = "0xa049374c707f9a426866a090c66eff7106a75597dd0d87a8fbe39a7f7887ed16";
    let hex0x = |b: &[u8]| format!("0x{}", hex::encode(b));
    let value_ty = |entry: &str| {
        rt.metadata()
            .pallet_by_name("SubtensorModule")
            .unwrap()
            .storage()
            .unwrap()
            .entry_by_name(entry)
            .unwrap()
            .value_ty()
    };
    let tables: [(&str, Vec<(u16, Vec<(u16, u16)>)>); 2] = [
        (
            "Weights",
            vec![
                (5, vec![(0, 65535), (3, 100)]),
                (2, vec![(1, 7)]),
                (9, vec![]),
            ],
        ),
        ("Bonds", vec![(1, vec![(2, 9)])]),
    ];
    let mut rec = recording();
    for (entry, rows) in &tables {
        let prefix = rt
            .storage_key("SubtensorModule", entry, &[Value::U(23)])
            .unwrap();
        let (mut keys, mut changes) = (Vec::new(), Vec::new());
        for (uid, pairs) in rows {
            let key = rt
                .storage_key(
                    "SubtensorModule",
                    entry,
                    &[Value::U(23), Value::U((*uid).into())],
                )
                .unwrap();
            let row = Value::Seq(
                pairs
                    .iter()
                    .map(|&(u, w)| Value::tuple(vec![Value::U(u.into()), Value::U(w.into())]))
                    .collect(),
            );
            let mut bytes = Vec::new();
            arena_subtensor::encode_as(rt.types(), value_ty(entry), &row, &mut bytes).unwrap();
            keys.push(json!(hex0x(&key)));
            changes.push(json!([hex0x(&key), hex0x(&bytes)]));
        }
        rec.insert(
            "get_commitment",
            "state_getKeysPaged",
            json!([hex0x(&prefix), 500, null, head]),
            json!({ "result": keys }),
        );
        rec.insert(
            "get_commitment",
            "state_queryStorageAt",
            json!([keys, head]),
            json!({ "result": [{"block": head, "changes": changes}] }),
        );
    }
    let server = serve(rec, &["get_commitment"]).await;
    let st = client(&server).await;
    let weights = st.weights(23).await.unwrap();
    let rows: Vec<(u16, Vec<(u16, u16)>)> =
        weights.into_iter().map(|r| (r.uid, r.weights)).collect();
    // Ordered by uid; the empty row is left out.
    assert_eq!(
        rows,
        vec![(2, vec![(1, 7)]), (5, vec![(0, 65535), (3, 100)])]
    );
    let bonds = st.bonds(23).await.unwrap();
    let rows: Vec<(u16, Vec<(u16, u16)>)> = bonds.into_iter().map(|r| (r.uid, r.weights)).collect();
    assert_eq!(rows, vec![(1, vec![(2, 9)])]);
}
