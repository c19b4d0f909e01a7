//! Hostile input over Substrate's JSON-RPC: every malformed or refused extrinsic and request
//! is answered with its exact error code and leaves the chain as it was (nonces, metagraph,
//! head, nothing queued), and the chain keeps producing blocks; extrinsics that are included
//! as failed show their dispatch error in `System.Events` and use their nonce.

use std::net::SocketAddr;
use std::sync::Arc;

use arena_chain::{BlockHash, Chain, Hyperparameters, LocalChain, LocalChainOptions, Metagraph};
use arena_keys::Keypair;
use arena_substrate::extrinsic::{self, MAX_EXTRINSIC_BYTES};
use arena_substrate::metadata::{Item, SPEC_VERSION, TRANSACTION_VERSION};
use arena_substrate::rpc::{CODE_CALL, CODE_INVALID_TX, CODE_UNKNOWN_BLOCK, CODE_VERIFICATION};
use arena_substrate::storage::{self, KeyPart};
use arena_substrate::types::*;
use jsonrpsee::types::error::{
    INVALID_PARAMS_CODE, METHOD_NOT_FOUND_CODE, TOO_BIG_BATCH_REQUEST_CODE,
};
use parity_scale_codec::{Compact, Decode, Encode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NETUID: u16 = 1;

struct Net {
    chain: Arc<LocalChain>,
    addr: SocketAddr,
    miner: Keypair,
    stranger: Keypair,
    _server: jsonrpsee::server::ServerHandle,
    _dir: tempfile::TempDir,
}

/// Subnet 1 with one registered miner hotkey (//M0), served on a free port.
async fn net() -> Net {
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap());
    let owner = Keypair::from_uri("//Owner").unwrap();
    let receipt = chain
        .create_subnet(&owner, Hyperparameters::default())
        .await
        .unwrap();
    assert_eq!(receipt.assigned, Some(NETUID));
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
    Net {
        chain,
        addr,
        miner,
        stranger: Keypair::from_uri("//Stranger").unwrap(),
        _server: server,
        _dir: dir,
    }
}

/// One raw HTTP POST: the status code and the body.
async fn post_raw(addr: SocketAddr, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The server may answer (413) and close before the whole body is written.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).to_string();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn post(addr: SocketAddr, body: &Value) -> Value {
    let (status, text) = post_raw(addr, &body.to_string()).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn call(addr: SocketAddr, method: &str, params: Value) -> Value {
    post(
        addr,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await
}

async fn ok(addr: SocketAddr, method: &str, params: Value) -> Value {
    let r = call(addr, method, params).await;
    assert!(r.get("error").is_none(), "{method}: {r}");
    r["result"].clone()
}

/// The error of a call that must fail: (code, message + data).
async fn fails(addr: SocketAddr, method: &str, params: Value, code: i32) -> String {
    let r = call(addr, method, params).await;
    let e = r
        .get("error")
        .unwrap_or_else(|| panic!("{method} succeeded: {r}"));
    assert_eq!(e["code"], json!(code), "{method}: {r}");
    format!("{} {}", e["message"], e["data"])
}

/// What a refused request must leave unchanged.
#[derive(Debug, PartialEq)]
struct Snapshot {
    nonces: Vec<Value>,
    metagraph: Metagraph,
    head: Value,
    /// The hash of every block, genesis to head.
    hashes: Vec<Value>,
    pending: u64,
}

async fn snapshot(net: &Net) -> Snapshot {
    let mut nonces = Vec::new();
    for k in [&net.miner, &net.stranger] {
        let ss58 = k.public().to_string();
        nonces.push(ok(net.addr, "system_accountNextIndex", json!([ss58])).await);
    }
    let head = ok(net.addr, "chain_getHead", json!([])).await;
    let head_number = net.chain.block(None).await.unwrap().unwrap().number;
    let mut hashes = Vec::new();
    for n in 0..=head_number {
        hashes.push(ok(net.addr, "chain_getBlockHash", json!([n])).await);
    }
    assert_eq!(hashes.last(), Some(&head));
    Snapshot {
        nonces,
        metagraph: net.chain.metagraph(NETUID).await.unwrap(),
        head,
        hashes,
        pending: net.chain.pending_number().unwrap(),
    }
}

fn h256(v: &Value) -> BlockHash {
    BlockHash::from_hex(v.as_str().unwrap()).unwrap()
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn immortal(nonce: u32) -> Extra {
    Extra {
        era: Era::Immortal,
        nonce: Compact(nonce),
        tip: Compact(0),
        metadata_hash_mode: 0,
    }
}

/// Signs `call_bytes` as given (they need not decode) with a payload committing to `spec`.
fn sign_raw(
    key: &Keypair,
    call_bytes: &[u8],
    extra: Extra,
    spec: u32,
    genesis: &BlockHash,
    birth: &BlockHash,
) -> Vec<u8> {
    let mut payload = call_bytes.to_vec();
    extra.encode_to(&mut payload);
    spec.encode_to(&mut payload);
    TRANSACTION_VERSION.encode_to(&mut payload);
    payload.extend_from_slice(&genesis.0);
    payload.extend_from_slice(&birth.0);
    payload.push(0);
    if payload.len() > 256 {
        payload = arena_chain::extrinsic::blake2_256(&[&payload]).to_vec();
    }
    let mut body = vec![0x84];
    Address::Id(AccountId32(key.public().0)).encode_to(&mut body);
    MultiSignature::Sr25519(key.sign(&payload).0).encode_to(&mut body);
    extra.encode_to(&mut body);
    body.extend_from_slice(call_bytes);
    let mut out = Compact(body.len() as u32).encode();
    out.extend_from_slice(&body);
    out
}

fn commitment(data: &[u8]) -> RuntimeCall {
    RuntimeCall::Commitments(CommitmentsCall::set_commitment {
        netuid: NETUID,
        info: Box::new(CommitmentInfo {
            fields: BoundedVec(vec![Data::Raw(data.to_vec())]),
        }),
    })
}

/// The body (after the length prefix) of an extrinsic.
fn body(ext: &[u8]) -> Vec<u8> {
    let mut input = ext;
    Compact::<u32>::decode(&mut input).unwrap();
    input.to_vec()
}

fn with_len(body: &[u8]) -> Vec<u8> {
    let mut out = Compact(body.len() as u32).encode();
    out.extend_from_slice(body);
    out
}

/// The events of block `hash`, decoded with our types.
async fn events_at(addr: SocketAddr, hash: &Value) -> Vec<EventRecord> {
    let key = storage::item_key(Item::SystemEvents, &[]);
    let value = ok(addr, "state_getStorage", json!([hex0x(&key), hash])).await;
    let bytes = hex::decode(value.as_str().unwrap().trim_start_matches("0x")).unwrap();
    Vec::<EventRecord>::decode(&mut &bytes[..]).unwrap()
}

/// Produces a block; its hash and its extrinsics' hashes.
async fn produce(net: &Net) -> (Value, Vec<[u8; 32]>) {
    let block = net.chain.produce_block().unwrap();
    let hash = ok(net.addr, "chain_getBlockHash", json!([block.number])).await;
    let b = ok(net.addr, "chain_getBlock", json!([hash])).await;
    let hashes = b["block"]["extrinsics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let bytes = hex::decode(x.as_str().unwrap().trim_start_matches("0x")).unwrap();
            arena_chain::extrinsic::blake2_256(&[&bytes])
        })
        .collect();
    (hash, hashes)
}

fn failed_with(events: &[EventRecord], index: u32) -> Option<DispatchError> {
    events.iter().find_map(|r| match r {
        EventRecord {
            phase: Phase::ApplyExtrinsic(i),
            event: RuntimeEvent::System(SystemEvent::ExtrinsicFailed { dispatch_error, .. }),
            ..
        } if *i == index => Some(*dispatch_error),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_refused_extrinsics_change_nothing() {
    let net = net().await;
    let addr = net.addr;
    let genesis = net.chain.genesis();
    let before = snapshot(&net).await;
    let good = extrinsic::sign(
        &net.miner,
        &commitment(b"m:0"),
        immortal(0),
        &genesis,
        &genesis,
    );
    let good_body = body(&good);
    let submit = |bytes: &[u8]| json!([hex0x(bytes)]);
    let method = "author_submitExtrinsic";

    // Not hex, empty.
    fails(addr, method, json!(["0xzz"]), INVALID_PARAMS_CODE).await;
    fails(addr, method, json!([42]), INVALID_PARAMS_CODE).await;
    fails(addr, method, json!(["0x"]), CODE_VERIFICATION).await;
    // Truncated: the length prefix no longer matches; and re-prefixed, the call is cut.
    fails(
        addr,
        method,
        submit(&good[..good.len() - 3]),
        CODE_VERIFICATION,
    )
    .await;
    let cut = with_len(&good_body[..good_body.len() - 3]);
    let m = fails(addr, method, submit(&cut), CODE_VERIFICATION).await;
    assert!(m.contains("call"), "{m}");
    // A length prefix larger than the bytes, and one of 2^30.
    let mut long = Compact(good_body.len() as u32 + 10).encode();
    long.extend_from_slice(&good_body);
    fails(addr, method, submit(&long), CODE_VERIFICATION).await;
    let mut huge = Compact(1u32 << 30).encode();
    huge.extend_from_slice(&good_body);
    let m = fails(addr, method, submit(&huge), CODE_VERIFICATION).await;
    assert!(m.contains("length prefix"), "{m}");
    // Unsigned (0x04) and version 5.
    for version in [0x04u8, 0x05] {
        let mut b = good_body.clone();
        b[0] = version;
        fails(addr, method, submit(&with_len(&b)), CODE_INVALID_TX).await;
    }
    // MultiAddress::Index (no bytes: Subtensor's index type is ()).
    let mut b = vec![0x84];
    Address::Index(()).encode_to(&mut b);
    b.extend_from_slice(&good_body[34..]);
    let m = fails(addr, method, submit(&with_len(&b)), CODE_INVALID_TX).await;
    assert!(m.contains("MultiAddress::Id"), "{m}");
    // An ed25519 signature.
    let mut b = good_body[..34].to_vec();
    MultiSignature::Ed25519([7; 64]).encode_to(&mut b);
    b.extend_from_slice(&good_body[34 + 65..]);
    let m = fails(addr, method, submit(&with_len(&b)), CODE_INVALID_TX).await;
    assert!(m.contains("sr25519"), "{m}");
    // A call index that does not exist (signed, so only the call is wrong); trailing bytes.
    let no_call = sign_raw(
        &net.miner,
        &[7, 250, 1, 0],
        immortal(0),
        SPEC_VERSION,
        &genesis,
        &genesis,
    );
    fails(addr, method, submit(&no_call), CODE_VERIFICATION).await;
    let mut trailing = commitment(b"m:0").encode();
    trailing.push(0);
    let trailing = sign_raw(
        &net.miner,
        &trailing,
        immortal(0),
        SPEC_VERSION,
        &genesis,
        &genesis,
    );
    fails(addr, method, submit(&trailing), CODE_VERIFICATION).await;
    // One flipped signature bit.
    let mut flipped = good.clone();
    let sig_at = good.len() - good_body.len() + 1 + 33 + 1;
    flipped[sig_at + 10] ^= 0x01;
    let m = fails(addr, method, submit(&flipped), CODE_INVALID_TX).await;
    assert!(m.contains("bad signature"), "{m}");
    // Right key, wrong genesis; wrong spec version.
    let other = BlockHash([9; 32]);
    let wrong_genesis =
        extrinsic::sign(&net.miner, &commitment(b"m:0"), immortal(0), &other, &other);
    let m = fails(addr, method, submit(&wrong_genesis), CODE_INVALID_TX).await;
    assert!(m.contains("bad signature"), "{m}");
    let call_bytes = commitment(b"m:0").encode();
    let wrong_spec = sign_raw(
        &net.miner,
        &call_bytes,
        immortal(0),
        SPEC_VERSION + 1,
        &genesis,
        &genesis,
    );
    let m = fails(addr, method, submit(&wrong_spec), CODE_INVALID_TX).await;
    assert!(m.contains("bad signature"), "{m}");
    // A future nonce.
    let future = extrinsic::sign(
        &net.miner,
        &commitment(b"m:0"),
        immortal(3),
        &genesis,
        &genesis,
    );
    let m = fails(addr, method, submit(&future), CODE_INVALID_TX).await;
    assert!(m.contains("future"), "{m}");
    // Over 128 KiB: a set_weights for 40,000 uids.
    let big = RuntimeCall::SubtensorModule(SubtensorCall::set_weights {
        netuid: NETUID,
        dests: (0..40_000).collect(),
        weights: vec![1; 40_000],
        version_key: 0,
    });
    let big = extrinsic::sign(&net.miner, &big, immortal(0), &genesis, &genesis);
    assert!(big.len() > MAX_EXTRINSIC_BYTES);
    let m = fails(addr, method, submit(&big), CODE_INVALID_TX).await;
    assert!(m.contains("exhaust"), "{m}");
    // A Raw field of 129 bytes (tag 130 is a hash: the rest does not decode).
    let mut raw129 = vec![18, 0];
    NETUID.encode_to(&mut raw129);
    Compact(1u32).encode_to(&mut raw129);
    raw129.push(130);
    raw129.extend_from_slice(&[b'x'; 129]);
    let raw129 = sign_raw(
        &net.miner,
        &raw129,
        immortal(0),
        SPEC_VERSION,
        &genesis,
        &genesis,
    );
    fails(addr, method, submit(&raw129), CODE_VERIFICATION).await;
    // Over 1 MiB: refused, the server still answers.
    let junk = "0".repeat(1 << 21);
    let (status, text) = post_raw(
        addr,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": [junk]}).to_string(),
    )
    .await;
    if status == 200 {
        let r: Value = serde_json::from_str(&text).unwrap();
        assert!(r.get("error").is_some(), "{r}");
    } else {
        assert_eq!(status, 413, "{text}");
    }

    assert_eq!(snapshot(&net).await, before);
    // Nothing was queued: the next block is empty, and produced.
    let (_, included) = produce(&net).await;
    assert!(included.is_empty(), "{included:?}");

    // The good one goes in once; its replay is outdated.
    let hash = ok(addr, method, submit(&good)).await;
    let m = fails(addr, method, submit(&good), CODE_INVALID_TX).await;
    assert!(m.contains("outdated"), "{m}");
    let (_, included) = produce(&net).await;
    assert_eq!(included.len(), 1);
    assert_eq!(hex0x(&included[0]), hash.as_str().unwrap());
    let nonce = ok(
        addr,
        "system_accountNextIndex",
        json!([net.miner.public().to_string()]),
    )
    .await;
    assert_eq!(nonce, json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_failures_are_included_with_their_module_error() {
    let net = net().await;
    let addr = net.addr;
    let genesis = net.chain.genesis();
    let method = "author_submitExtrinsic";
    let metagraph = net.chain.metagraph(NETUID).await.unwrap();

    // A successful set_commitment, mortal (period 64) from the head.
    let head = ok(addr, "chain_getHeader", json!([])).await;
    let head_number = u64::from_str_radix(
        head["number"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let birth = ok(addr, "chain_getBlockHash", json!([head_number])).await;
    let era = Era::Mortal {
        period: 64,
        phase: head_number % 64,
    };
    let extra = Extra { era, ..immortal(0) };
    let ok_ext = extrinsic::sign(
        &net.miner,
        &commitment(b"hf:model:1"),
        extra,
        &genesis,
        &h256(&birth),
    );
    let ok_hash = ok(addr, method, json!([hex0x(&ok_ext)])).await;
    // Two fields: included, failed.
    let two = RuntimeCall::Commitments(CommitmentsCall::set_commitment {
        netuid: NETUID,
        info: Box::new(CommitmentInfo {
            fields: BoundedVec(vec![Data::Raw(b"a".to_vec()), Data::Raw(b"b".to_vec())]),
        }),
    });
    let two = extrinsic::sign(&net.miner, &two, immortal(1), &genesis, &genesis);
    let two_hash = ok(addr, method, json!([hex0x(&two)])).await;
    // Mechanism 1 does not exist.
    let mech = RuntimeCall::SubtensorModule(SubtensorCall::set_mechanism_weights {
        netuid: NETUID,
        mecid: 1,
        dests: vec![0],
        weights: vec![1],
        version_key: 0,
    });
    let mech = extrinsic::sign(&net.miner, &mech, immortal(2), &genesis, &genesis);
    let mech_hash = ok(addr, method, json!([hex0x(&mech)])).await;
    // set_weights from a hotkey that is not registered.
    let sw = RuntimeCall::SubtensorModule(SubtensorCall::set_weights {
        netuid: NETUID,
        dests: vec![0],
        weights: vec![1],
        version_key: 0,
    });
    let sw = extrinsic::sign(&net.stranger, &sw, immortal(0), &genesis, &genesis);
    let sw_hash = ok(addr, method, json!([hex0x(&sw)])).await;

    let (block, included) = produce(&net).await;
    let index_of = |h: &Value| {
        included
            .iter()
            .position(|x| hex0x(x) == h.as_str().unwrap())
            .unwrap_or_else(|| panic!("{h} not in the block")) as u32
    };
    let events = events_at(addr, &block).await;
    let i = index_of(&ok_hash);
    let at_i: Vec<_> = events
        .iter()
        .filter(|r| r.phase == Phase::ApplyExtrinsic(i))
        .map(|r| r.event)
        .collect();
    let commitment_event = RuntimeEvent::Commitments(CommitmentsEvent::Commitment {
        netuid: NETUID,
        who: AccountId32(net.miner.public().0),
    });
    assert!(
        matches!(
            at_i.as_slice(),
            [first, RuntimeEvent::System(SystemEvent::ExtrinsicSuccess { .. })]
                if *first == commitment_event
        ),
        "{at_i:?}"
    );
    let module = |index, error| {
        DispatchError::Module(ModuleError {
            index,
            error: [error, 0, 0, 0],
        })
    };
    assert_eq!(
        failed_with(&events, index_of(&two_hash)),
        Some(module(18, 0))
    );
    assert_eq!(
        failed_with(&events, index_of(&mech_hash)),
        Some(module(7, 71))
    );
    assert_eq!(failed_with(&events, index_of(&sw_hash)), Some(module(7, 4)));
    assert_eq!(events.len(), 5, "{events:?}");
    // Every nonce was used; only the commitment changed state.
    let nonce = |k: &Keypair| {
        ok(
            addr,
            "system_accountNextIndex",
            json!([k.public().to_string()]),
        )
    };
    assert_eq!(nonce(&net.miner).await, json!(3));
    assert_eq!(nonce(&net.stranger).await, json!(1));
    let key = storage::item_key(
        Item::CommitmentOf,
        &[KeyPart::U16(NETUID), KeyPart::Account(net.miner.public().0)],
    );
    let value = ok(addr, "state_getStorage", json!([hex0x(&key)])).await;
    let bytes = hex::decode(value.as_str().unwrap().trim_start_matches("0x")).unwrap();
    let reg = Registration::decode(&mut &bytes[..]).unwrap();
    assert_eq!(reg.info.fields.0, [Data::Raw(b"hf:model:1".to_vec())]);
    let after = net.chain.metagraph(NETUID).await.unwrap();
    assert_eq!(after.neurons.len(), metagraph.neurons.len());
    assert_eq!(after.neurons[0].hotkey, metagraph.neurons[0].hotkey);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_their_error_codes() {
    let net = net().await;
    let addr = net.addr;
    let before = snapshot(&net).await;

    // A batch of 65: one error.
    let batch: Vec<Value> = (0..65)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "chain_getHead", "params": []}))
        .collect();
    let r = post(addr, &json!(batch)).await;
    assert_eq!(r["error"]["code"], json!(TOO_BIG_BATCH_REQUEST_CODE), "{r}");
    // A mixed batch: each answered, by id.
    let r = post(
        addr,
        &json!([
            {"jsonrpc": "2.0", "id": 1, "method": "chain_getHead", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "no_such_method", "params": []},
            {"jsonrpc": "2.0", "id": 3, "method": "author_submitExtrinsic", "params": ["0x00"]},
            {"jsonrpc": "2.0", "id": 4, "method": "system_chain", "params": {"a": 1}},
        ]),
    )
    .await;
    let answers = r.as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(answers.len(), 4);
    let by_id = |id: i64| answers.iter().find(|a| a["id"] == json!(id)).unwrap();
    assert_eq!(by_id(1)["result"], before.head);
    assert_eq!(by_id(2)["error"]["code"], json!(METHOD_NOT_FOUND_CODE));
    assert_eq!(by_id(3)["error"]["code"], json!(CODE_VERIFICATION));
    assert!(
        by_id(4)["result"].is_string(),
        "system_chain ignores params: {r}"
    );

    let tempo = hex0x(&storage::item_key(Item::Tempo, &[KeyPart::U16(NETUID)]));
    let prefix = hex0x(&storage::item_key(Item::Tempo, &[]));
    fails(
        addr,
        "state_getKeysPaged",
        json!([prefix, 1001]),
        INVALID_PARAMS_CODE,
    )
    .await;
    let keys = ok(addr, "state_getKeysPaged", json!([prefix, 1000])).await;
    assert_eq!(keys, json!([tempo]));
    let many: Vec<Value> = (0..1001).map(|_| json!(tempo)).collect();
    fails(
        addr,
        "state_queryStorageAt",
        json!([many]),
        INVALID_PARAMS_CODE,
    )
    .await;
    let r = ok(addr, "state_queryStorageAt", json!([[tempo]])).await;
    assert_eq!(r[0]["changes"][0][0], json!(tempo));
    fails(addr, "state_call", json!(["Nope_nothing", "0x"]), CODE_CALL).await;
    let m = fails(
        addr,
        "state_call",
        json!(["NeuronInfoRuntimeApi_get_neurons_lite", "0x01"]),
        CODE_CALL,
    )
    .await;
    assert!(m.contains("decode"), "{m}");
    assert_eq!(
        ok(addr, "state_getStorage", json!(["0xdeadbeef"])).await,
        Value::Null
    );
    let unknown = hex0x(&[0xab; 32]);
    fails(
        addr,
        "state_getStorage",
        json!([tempo, unknown]),
        CODE_UNKNOWN_BLOCK,
    )
    .await;
    fails(
        addr,
        "state_call",
        json!(["Metadata_metadata_versions", "0x", unknown]),
        CODE_UNKNOWN_BLOCK,
    )
    .await;
    fails(addr, "no_such_method", json!([]), METHOD_NOT_FOUND_CODE).await;
    fails(
        addr,
        "state_getStorage",
        json!({"key": tempo}),
        INVALID_PARAMS_CODE,
    )
    .await;
    fails(
        addr,
        "chain_getBlockHash",
        json!(["0xnope"]),
        INVALID_PARAMS_CODE,
    )
    .await;

    assert_eq!(snapshot(&net).await, before);
    let (_, included) = produce(&net).await;
    assert!(included.is_empty());
}
