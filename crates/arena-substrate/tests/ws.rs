//! Substrate's subscriptions over WebSocket: new heads whose SCALE header hashes to the
//! block hash, a watched extrinsic's `ready` / `inBlock` / `finalized`, refusal inside the
//! subscription call, and the per-connection subscription limit.

use std::sync::Arc;
use std::time::Duration;

use arena_chain::rpc::RpcLimits;
use arena_chain::{BlockHash, Chain, Hyperparameters, LocalChain, LocalChainOptions};
use arena_keys::Keypair;
use arena_substrate::extrinsic;
use arena_substrate::rpc::CODE_INVALID_TX;
use arena_substrate::types::*;
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::core::ClientError;
use jsonrpsee::rpc_params;
use jsonrpsee::types::error::TOO_MANY_SUBSCRIPTIONS_CODE;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::{Compact, Encode};
use serde_json::{json, Value};

const NETUID: u16 = 1;

struct Net {
    chain: Arc<LocalChain>,
    client: WsClient,
    url: String,
    miner: Keypair,
    _server: jsonrpsee::server::ServerHandle,
    _dir: tempfile::TempDir,
}

async fn net() -> Net {
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap());
    let owner = Keypair::from_uri("//Owner").unwrap();
    chain
        .create_subnet(&owner, Hyperparameters::default())
        .await
        .unwrap();
    chain.produce_block().unwrap();
    let miner = Keypair::from_uri("//M0").unwrap();
    let cold = Keypair::from_uri("//Cold").unwrap();
    chain
        .register(&cold, NETUID, &miner.public())
        .await
        .unwrap();
    chain.produce_block().unwrap();
    let (addr, server) = arena_substrate::serve(chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("ws://{addr}");
    let client = WsClientBuilder::default().build(&url).await.unwrap();
    Net {
        chain,
        client,
        url,
        miner,
        _server: server,
        _dir: dir,
    }
}

async fn next(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a notification within 10 s")
        .expect("subscription open")
        .expect("notification decodes")
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

fn number(header: &Value) -> u64 {
    u64::from_str_radix(
        header["number"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap()
}

/// blake2-256 of the SCALE header rebuilt from its JSON (empty digest).
fn header_hash(header: &Value) -> String {
    let mut scale = bytes(&header["parentHash"]);
    Compact(number(header) as u32).encode_to(&mut scale);
    scale.extend_from_slice(&bytes(&header["stateRoot"]));
    scale.extend_from_slice(&bytes(&header["extrinsicsRoot"]));
    assert_eq!(header["digest"]["logs"], json!([]));
    Compact(0u32).encode_to(&mut scale);
    format!(
        "0x{}",
        hex::encode(arena_chain::extrinsic::blake2_256(&[&scale]))
    )
}

async fn block_hash(client: &WsClient, n: u64) -> String {
    let v: Value = client
        .request("chain_getBlockHash", rpc_params![n])
        .await
        .unwrap();
    v.as_str().unwrap().to_string()
}

fn commitment(nonce: u32, genesis: &BlockHash, key: &Keypair) -> Vec<u8> {
    let call = RuntimeCall::Commitments(CommitmentsCall::set_commitment {
        netuid: NETUID,
        info: Box::new(CommitmentInfo {
            fields: BoundedVec(vec![Data::Raw(b"ws:model".to_vec())]),
        }),
    });
    let extra = Extra {
        era: Era::Immortal,
        nonce: Compact(nonce),
        tip: Compact(0),
        metadata_hash_mode: 0,
    };
    extrinsic::sign(key, &call, extra, genesis, genesis)
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_heads_hash_to_the_block_hashes() {
    let net = net().await;
    let head = net.chain.block(None).await.unwrap().unwrap().number;
    let mut sub: Subscription<Value> = net
        .client
        .subscribe(
            "chain_subscribeNewHeads",
            rpc_params![],
            "chain_unsubscribeNewHeads",
        )
        .await
        .unwrap();
    let first = next(&mut sub).await;
    assert_eq!(number(&first), head);
    let mut previous = header_hash(&first);
    assert_eq!(previous, block_hash(&net.client, head).await);
    for _ in 0..3 {
        net.chain.produce_block().unwrap();
    }
    for expected in head + 1..=head + 3 {
        let h = next(&mut sub).await;
        assert_eq!(number(&h), expected, "consecutive headers");
        assert_eq!(h["parentHash"], json!(previous));
        let hash = header_hash(&h);
        assert_eq!(hash, block_hash(&net.client, expected).await);
        previous = hash;
    }
    sub.unsubscribe().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_extrinsic_is_ready_then_in_block_then_finalized() {
    let net = net().await;
    let genesis = net.chain.genesis();
    let ext = commitment(0, &genesis, &net.miner);
    let mut sub: Subscription<Value> = net
        .client
        .subscribe(
            "author_submitAndWatchExtrinsic",
            rpc_params![hex0x(&ext)],
            "author_unwatchExtrinsic",
        )
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await, json!("ready"));
    let block = net.chain.produce_block().unwrap();
    let in_block = next(&mut sub).await;
    let hash = in_block["inBlock"].as_str().expect("inBlock").to_string();
    assert_eq!(hash, block_hash(&net.client, block.number).await);
    assert_eq!(next(&mut sub).await, json!({"finalized": hash}));
    // The block lists the extrinsic's bytes, and its header hashes to that hash.
    let b: Value = net
        .client
        .request("chain_getBlock", rpc_params![hash.clone()])
        .await
        .unwrap();
    let ours = arena_chain::extrinsic::blake2_256(&[&ext]);
    let listed: Vec<[u8; 32]> = b["block"]["extrinsics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| arena_chain::extrinsic::blake2_256(&[&bytes(x)]))
        .collect();
    assert_eq!(listed, [ours]);
    assert_eq!(header_hash(&b["block"]["header"]), hash);

    // A refused extrinsic (its nonce is used now) is refused by the subscription call.
    let err = net
        .client
        .subscribe::<Value, _>(
            "author_submitAndWatchExtrinsic",
            rpc_params![hex0x(&ext)],
            "author_unwatchExtrinsic",
        )
        .await
        .expect_err("a replay is refused");
    match err {
        ClientError::Call(e) => {
            assert_eq!(e.code(), CODE_INVALID_TX, "{e:?}");
            assert!(format!("{:?}", e.data()).contains("outdated"), "{e:?}");
        }
        e => panic!("{e:?}"),
    }
    let mut bad = commitment(1, &genesis, &net.miner);
    let at = bad.len() - 20;
    bad[at] ^= 0xff;
    let err = net
        .client
        .subscribe::<Value, _>(
            "author_submitAndWatchExtrinsic",
            rpc_params![hex0x(&bad)],
            "author_unwatchExtrinsic",
        )
        .await
        .expect_err("a bad extrinsic is refused");
    assert!(
        matches!(&err, ClientError::Call(e) if [CODE_INVALID_TX, arena_substrate::rpc::CODE_VERIFICATION].contains(&e.code())),
        "{err:?}"
    );
    // Nothing more was queued.
    let next_block = net.chain.produce_block().unwrap();
    assert!(net
        .chain
        .block_extrinsics(next_block.number)
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_beyond_the_limit_are_refused_and_the_connection_lives() {
    let net = net().await;
    let limit = RpcLimits::default().max_subscriptions as usize;
    assert_eq!(limit, 64);
    let client = WsClientBuilder::default().build(&net.url).await.unwrap();
    let mut subs: Vec<Subscription<Value>> = Vec::new();
    for _ in 0..limit {
        subs.push(
            client
                .subscribe(
                    "chain_subscribeNewHeads",
                    rpc_params![],
                    "chain_unsubscribeNewHeads",
                )
                .await
                .unwrap(),
        );
    }
    let err = client
        .subscribe::<Value, _>(
            "chain_subscribeNewHeads",
            rpc_params![],
            "chain_unsubscribeNewHeads",
        )
        .await
        .expect_err("over the limit");
    match err {
        ClientError::Call(e) => assert_eq!(e.code(), TOO_MANY_SUBSCRIPTIONS_CODE, "{e:?}"),
        e => panic!("{e:?}"),
    }
    // The connection still answers and its subscriptions still deliver.
    let head: Value = client
        .request("chain_getHead", rpc_params![])
        .await
        .unwrap();
    assert!(head.is_string());
    let first = next(&mut subs[0]).await;
    let produced = net.chain.produce_block().unwrap();
    assert_eq!(number(&first) + 1, produced.number);
    let last = subs.last_mut().unwrap();
    next(last).await;
    assert_eq!(number(&next(last).await), produced.number);
    // One closed, one more fits.
    subs.pop().unwrap().unsubscribe().await.unwrap();
    // The server frees the slot when it has processed the unsubscription: retry briefly.
    let mut again: Result<Subscription<Value>, _> = Err(ClientError::Custom("not tried".into()));
    for _ in 0..100 {
        again = client
            .subscribe(
                "chain_subscribeNewHeads",
                rpc_params![],
                "chain_unsubscribeNewHeads",
            )
            .await;
        if again.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_ok(), "{:?}", again.err());
    // Other connections are not affected.
    let other: Value = net
        .client
        .request("system_chain", rpc_params![])
        .await
        .unwrap();
    assert!(other.is_string());
}
