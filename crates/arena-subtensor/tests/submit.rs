//! A signed write end to end against a scripted loopback node: the nonce from
//! `system_accountNextIndex`, a mortal extrinsic whose signature verifies, the watch
//! subscription up to `inBlock`, the block's extrinsics and `System.Events`, and the outcome
//! (the registered uid, or the pallet error by name).

use std::sync::{Arc, Mutex};

use arena_chain::{Chain, ChainError};
use arena_keys::{Keypair, Signature};
use arena_subtensor::tx::{self, Era, TxParams};
use arena_subtensor::{encode_as, Options, Runtime, Subtensor, SubtensorCall, Value};
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::server::{RpcModule, Server, ServerHandle, SubscriptionMessage};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

const GENESIS: [u8; 32] = [0x2f; 32];
const HEAD: [u8; 32] = [0x11; 32];
const INCLUDED: [u8; 32] = [0x22; 32];
const HEAD_NUMBER: u64 = 1000;
const NONCE: u64 = 42;

fn metadata() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/metadata-finney-spec343-v15.scale");
    std::fs::read(path).unwrap()
}

fn h(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

struct Node {
    rt: Runtime,
    /// The extrinsic submitted, once it is.
    submitted: Mutex<Option<Vec<u8>>>,
    /// The events of the included block, given the extrinsic's index 0.
    events: Vec<u8>,
}

fn event(pallet: &str, name: &str, fields: Vec<(Option<String>, Value)>) -> Value {
    Value::variant(
        pallet,
        vec![Value::Variant {
            name: name.into(),
            fields,
        }],
    )
}

fn record(event: Value) -> Value {
    Value::Composite(vec![
        (
            Some("phase".into()),
            Value::variant("ApplyExtrinsic", vec![Value::U(0)]),
        ),
        (Some("event".into()), event),
        (Some("topics".into()), Value::Seq(vec![])),
    ])
}

fn dispatch_info() -> Value {
    Value::Composite(vec![
        (
            Some("weight".into()),
            Value::Composite(vec![
                (Some("ref_time".into()), Value::U(0)),
                (Some("proof_size".into()), Value::U(0)),
            ]),
        ),
        (Some("class".into()), Value::variant("Normal", vec![])),
        (Some("pays_fee".into()), Value::variant("Yes", vec![])),
    ])
}

fn events(rt: &Runtime, records: Vec<Value>) -> Vec<u8> {
    let ty = rt
        .metadata()
        .pallet_by_name("System")
        .unwrap()
        .storage()
        .unwrap()
        .entry_by_name("Events")
        .unwrap()
        .value_ty();
    let mut out = Vec::new();
    encode_as(rt.types(), ty, &Value::Seq(records), &mut out).unwrap();
    out
}

async fn start(node: Arc<Node>) -> (String, ServerHandle) {
    let mut m = RpcModule::new(node.clone());
    let version = json!({"specVersion": 343, "transactionVersion": 1});
    m.register_method("state_getRuntimeVersion", move |_, _, _| version.clone())
        .unwrap();
    let meta = h(&metadata());
    m.register_method("state_getMetadata", move |_, _, _| meta.clone())
        .unwrap();
    m.register_method("system_accountNextIndex", |p, _, _| {
        let who: Vec<String> = p.parse()?;
        let alice = Keypair::from_uri("//Alice").unwrap().public().ss58();
        if who[0] != alice {
            return Err(ErrorObjectOwned::owned(
                -32602,
                "unknown account",
                None::<()>,
            ));
        }
        Ok(NONCE)
    })
    .unwrap();
    m.register_method("chain_getBlockHash", |p, _, _| {
        let n: Vec<u64> = p.parse()?;
        Ok::<_, ErrorObjectOwned>(if n == [0] { h(&GENESIS) } else { h(&HEAD) })
    })
    .unwrap();
    m.register_method("chain_getHead", |_, _, _| h(&HEAD))
        .unwrap();
    m.register_method(
        "chain_getHeader",
        |_, _, _| json!({"number": format!("0x{HEAD_NUMBER:x}"), "parentHash": h(&[0; 32])}),
    )
    .unwrap();
    m.register_method("chain_getBlock", |p, node, _| {
        let hash: Vec<String> = p.parse()?;
        assert_eq!(hash[0], h(&INCLUDED));
        let xt = node.submitted.lock().unwrap().clone().unwrap_or_default();
        Ok::<_, ErrorObjectOwned>(json!({"block": {
            "header": {"number": format!("0x{:x}", HEAD_NUMBER + 1)},
            "extrinsics": [h(&xt)],
        }}))
    })
    .unwrap();
    m.register_method("state_getStorageAt", |p, node, _| {
        let args: Vec<String> = p.parse()?;
        let events_key = node.rt.storage_key("System", "Events", &[]).unwrap();
        assert_eq!(args[0], h(&events_key));
        assert_eq!(args[1], h(&INCLUDED));
        Ok::<_, ErrorObjectOwned>(h(&node.events))
    })
    .unwrap();
    m.register_subscription(
        "author_submitAndWatchExtrinsic",
        "author_extrinsicUpdate",
        "author_unwatchExtrinsic",
        |p, pending, node, _| async move {
            let xt: Vec<String> = p.parse()?;
            let bytes = hex::decode(xt[0].trim_start_matches("0x")).unwrap();
            *node.submitted.lock().unwrap() = Some(bytes);
            let sink = pending.accept().await?;
            for status in [json!("ready"), json!({"inBlock": h(&INCLUDED)})] {
                sink.send(SubscriptionMessage::from_json(&status)?).await?;
            }
            SubscriptionResult::Ok(())
        },
    )
    .unwrap();
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", server.local_addr().unwrap());
    (url, server.start(m))
}

/// Checks the submitted extrinsic: v4 signed by Alice, mortal era of 64 blocks from the
/// head, nonce 42, signature valid over the payload rebuilt independently.
fn check_signed(node: &Node, call: &SubtensorCall) {
    let xt = node.submitted.lock().unwrap().clone().unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap().public();
    let call_bytes = call.encode(&node.rt).unwrap();
    let params = TxParams {
        nonce: NONCE,
        tip: 0,
        era: Era::Mortal {
            period: 64,
            birth_number: HEAD_NUMBER,
            birth_hash: HEAD,
        },
        genesis: GENESIS,
    };
    let payload = tx::signing_payload(&node.rt, &call_bytes, &params).unwrap();
    // compact length (2 bytes here), 0x84, MultiAddress::Id, MultiSignature::Sr25519.
    let body = &xt[2..];
    assert_eq!(body[0], 0x84);
    assert_eq!(&body[1..34], &[&[0u8][..], &alice.0[..]].concat()[..]);
    assert_eq!(body[34], 1);
    let sig: [u8; 64] = body[35..99].try_into().unwrap();
    assert!(alice.verify(&payload, &Signature(sig)));
    let rebuilt = tx::signed_extrinsic(&node.rt, &call_bytes, &params, &alice, &sig).unwrap();
    assert_eq!(rebuilt, xt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burned_register_is_signed_watched_and_returns_the_uid() {
    let rt = Runtime::from_bytes(&metadata(), 343, 1).unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let hotkey = Keypair::from_uri("//Alice/hot").unwrap().public();
    let registered = event(
        "SubtensorModule",
        "NeuronRegistered",
        vec![
            (None, Value::U(37)),
            (None, Value::U(17)),
            (None, Value::Bytes(hotkey.0.to_vec())),
        ],
    );
    let success = event(
        "System",
        "ExtrinsicSuccess",
        vec![(Some("dispatch_info".into()), dispatch_info())],
    );
    let node = Arc::new(Node {
        events: events(&rt, vec![record(registered), record(success)]),
        rt,
        submitted: Mutex::new(None),
    });
    let (url, _server) = start(node.clone()).await;
    let st = Subtensor::connect(&url, Options::default()).await.unwrap();
    let receipt = st.register(&alice, 37, &hotkey).await.unwrap();
    assert_eq!(receipt.block, HEAD_NUMBER + 1);
    assert_eq!(receipt.index, 0);
    assert_eq!(receipt.assigned, Some(17));
    check_signed(&node, &SubtensorCall::BurnedRegister { netuid: 37, hotkey });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commitment_names_the_pallet_error() {
    let rt = Runtime::from_bytes(&metadata(), 343, 1).unwrap();
    let p = rt.metadata().pallet_by_name("Commitments").unwrap();
    let idx = p
        .error_variants()
        .unwrap()
        .iter()
        .find(|v| v.name == "AccountNotAllowedCommit")
        .unwrap()
        .index;
    let failed = event(
        "System",
        "ExtrinsicFailed",
        vec![
            (
                Some("dispatch_error".into()),
                Value::variant(
                    "Module",
                    vec![Value::Composite(vec![
                        (Some("index".into()), Value::U(p.error_index().into())),
                        (Some("error".into()), Value::Bytes(vec![idx, 0, 0, 0])),
                    ])],
                ),
            ),
            (Some("dispatch_info".into()), dispatch_info()),
        ],
    );
    let node = Arc::new(Node {
        events: events(&rt, vec![record(failed)]),
        rt,
        submitted: Mutex::new(None),
    });
    let (url, _server) = start(node.clone()).await;
    let st = Subtensor::connect(&url, Options::default()).await.unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let err = st
        .set_commitment(&alice, 37, b"me:model:0123:hash:1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::Dispatch { pallet, name, .. }
            if pallet == "Commitments" && name == "AccountNotAllowedCommit"),
        "{err:?}"
    );
    assert_eq!(err.name(), "AccountNotAllowedCommit");
    check_signed(
        &node,
        &SubtensorCall::SetCommitment {
            netuid: 37,
            data: b"me:model:0123:hash:1".to_vec(),
        },
    );
}
