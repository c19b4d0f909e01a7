//! LocalChain and its JSON-RPC service: the happy path, every rejection leaving the state
//! unchanged, persistence across reopen, and malformed JSON-RPC.

use std::sync::Arc;

use arena_chain::extrinsic::blake2_256;
use arena_chain::{
    rpc, Call, Chain, ChainClient, ChainError, Commitment, Hyperparameters, LocalChain,
    LocalChainOptions, Metagraph, NetUid, SignedExtrinsic, WeightRow,
};
use arena_keys::Keypair;

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).expect("dev uri")
}

const TEMPO: u16 = 20;

struct Net {
    chain: Arc<LocalChain>,
    netuid: NetUid,
    owner: Keypair,
    validators: Vec<Keypair>,
    miners: Vec<Keypair>,
    _dir: tempfile::TempDir,
}

fn hyperparameters() -> Hyperparameters {
    Hyperparameters {
        tempo: TEMPO,
        weights_rate_limit: 10,
        ..Default::default()
    }
}

fn advance_to(chain: &LocalChain, target: u64) {
    loop {
        let head = chain.produce_block().expect("produce").number;
        if head >= target {
            assert_eq!(head, target, "overshot");
            return;
        }
    }
}

/// Subnet 1 (created in block 1, epochs at 21, 41, …), validators v0, v1 with stake and
/// permits (from the epoch at 21), miners m0, m1; both validators set weights in block 22;
/// the epoch at 41 pays out. Returns at head = 41.
async fn network() -> Net {
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap());
    let owner = key("//Owner");
    let receipt = chain
        .create_subnet(&owner, hyperparameters())
        .await
        .unwrap();
    let netuid = receipt.assigned.unwrap();
    assert_eq!((receipt.block, netuid), (1, 1));
    chain.produce_block().unwrap();
    let validators = vec![key("//V0"), key("//V1")];
    let miners = vec![key("//M0"), key("//M1")];
    let cold = key("//Cold");
    for (i, hot) in validators.iter().chain(&miners).enumerate() {
        let r = chain.register(&cold, netuid, &hot.public()).await.unwrap();
        assert_eq!(r.assigned, Some(i as u16));
    }
    chain
        .add_stake(&cold, &validators[0].public(), netuid, 3_000_000_000_000)
        .await
        .unwrap();
    chain
        .add_stake(&cold, &validators[1].public(), netuid, 1_000_000_000_000)
        .await
        .unwrap();
    advance_to(&chain, 21);
    let mg = chain.metagraph(netuid).await.unwrap();
    let permits: Vec<bool> = mg.neurons.iter().map(|n| n.validator_permit).collect();
    assert_eq!(permits, vec![true, true, false, false]);
    for v in &validators {
        chain
            .set_weights(v, netuid, &[2, 3], &[60000, 20000], 0)
            .await
            .unwrap();
    }
    advance_to(&chain, 41);
    Net {
        chain,
        netuid,
        owner,
        validators,
        miners,
        _dir: dir,
    }
}

/// Everything observable about the subnet and the test accounts, minus the head number.
#[derive(Debug, PartialEq)]
struct Snapshot {
    metagraph: Metagraph,
    commitments: Vec<Commitment>,
    weights: Vec<WeightRow>,
    nonces: Vec<u64>,
}

async fn snapshot(net: &Net) -> Snapshot {
    let c = &net.chain;
    let mut metagraph = c.metagraph(net.netuid).await.unwrap();
    metagraph.block = 0;
    let mut nonces = Vec::new();
    for k in net.validators.iter().chain(&net.miners).chain([&net.owner]) {
        nonces.push(c.account_nonce(&k.public()).await.unwrap());
    }
    Snapshot {
        metagraph,
        commitments: c.commitments(net.netuid).await.unwrap(),
        weights: c.weights(net.netuid).await.unwrap(),
        nonces,
    }
}

/// Asserts `err` has `name`, then that producing the block changes nothing and includes
/// no extrinsic.
async fn assert_rejected_unchanged(net: &Net, before: &Snapshot, err: ChainError, name: &str) {
    assert_eq!(err.name(), name, "{err}");
    let block = net.chain.produce_block().unwrap();
    assert_eq!(block.extrinsics, 0, "a rejected extrinsic was included");
    assert_eq!(&snapshot(net).await, before, "state changed after {name}");
}

#[tokio::test]
async fn epoch_pays_miners_and_validators() {
    let net = network().await;
    let mg = net.chain.metagraph(net.netuid).await.unwrap();
    assert_eq!(mg.block, 41);
    let inc: Vec<u16> = mg.neurons.iter().map(|n| n.incentive).collect();
    let div: Vec<u16> = mg.neurons.iter().map(|n| n.dividends).collect();
    assert_eq!(&inc[..2], &[0, 0]);
    assert!(
        inc[2] > inc[3] && inc[3] > 0,
        "incentive follows weights: {inc:?}"
    );
    assert!(
        div[0] > div[1] && div[1] > 0,
        "dividends follow stake: {div:?}"
    );
    assert_eq!(&div[2..], &[0, 0]);
    // 20 blocks × 1e9 rao distributed (floor rounding loses a few rao).
    let total: u64 = mg.neurons.iter().map(|n| n.emission).sum();
    assert!(total <= 20_000_000_000 && total > 19_999_990_000, "{total}");
    let weights = net.chain.weights(net.netuid).await.unwrap();
    assert_eq!(weights.len(), 2);
    // Max-upscaled: 60000 → 65535, 20000 → round(20000·65535/60000) = 21845.
    assert_eq!(weights[0].weights, vec![(2, 65535), (3, 21845)]);
    assert_eq!(mg.neurons[0].last_update, 22);
    // Bonds kept for the permitted validators (Yuma 3: u16 fractions), towards both miners.
    let bonds = net.chain.bonds(net.netuid).await.unwrap();
    assert_eq!(bonds.iter().map(|r| r.uid).collect::<Vec<_>>(), vec![0, 1]);
    for row in &bonds {
        let dests: Vec<u16> = row.weights.iter().map(|&(d, _)| d).collect();
        assert_eq!(dests, vec![2, 3], "{row:?}");
        assert!(row.weights.iter().all(|&(_, b)| b > 0));
    }
    let sub = net.chain.subnet(net.netuid).await.unwrap();
    assert_eq!((sub.epoch_index, sub.last_epoch_block, sub.n), (2, 41, 4));
}

#[tokio::test]
async fn block_hashes_chain_over_parent_number_and_extrinsics() {
    let net = network().await;
    let c = &net.chain;
    for number in 1..=41u64 {
        let block = c.block(Some(number)).await.unwrap().unwrap();
        let parent = c.block(Some(number - 1)).await.unwrap().unwrap();
        assert_eq!(block.parent_hash, parent.hash);
        let body = c.block_extrinsics(number).unwrap();
        assert_eq!(body.len() as u32, block.extrinsics);
        // Substrate's header layout: parent ‖ Compact(number) ‖ state root (zero) ‖
        // extrinsics root ‖ empty digest, hashed with blake2-256.
        let bytes: Vec<Vec<u8>> = body
            .iter()
            .map(|e| e.bytes(&c.genesis()).unwrap())
            .collect();
        let mut header = parent.hash.0.to_vec();
        header.extend_from_slice(&parity_scale_codec::Encode::encode(
            &parity_scale_codec::Compact(number as u32),
        ));
        header.extend_from_slice(&[0; 32]);
        header.extend_from_slice(&blake2_256(&[&parity_scale_codec::Encode::encode(&bytes)]));
        header.push(0);
        assert_eq!(block.hash.0, blake2_256(&[&header]), "block {number}");
        let served = c.header(number).unwrap().unwrap();
        assert_eq!(served.encode(), header);
        assert_eq!(served.hash(), block.hash);
    }
    assert_eq!(c.header(0).unwrap().unwrap().hash(), c.genesis());
    assert_eq!(c.header(42).unwrap(), None);
    assert_eq!(
        c.block_extrinsics(1).unwrap()[0].call().unwrap().name(),
        "create_subnet"
    );
    assert_eq!(c.block(Some(42)).await.unwrap(), None);
    assert_eq!(
        c.block_hash(None).await.unwrap(),
        c.block_hash(Some(41)).await.unwrap()
    );
}

#[tokio::test]
async fn forged_signature_is_bad_proof() {
    let net = network().await;
    let before = snapshot(&net).await;
    let victim = &net.miners[0];
    let mallory = key("//Mallory");
    let genesis = net.chain.genesis();
    let call = Call::SetCommitment {
        netuid: net.netuid,
        data: b"mallory:model:x:y:1".to_vec(),
    };
    // Signed by Mallory but claiming to be the victim.
    let mut forged = SignedExtrinsic::sign(&genesis, &mallory, 0, call.clone()).unwrap();
    forged.signer = victim.public();
    let err = net.chain.submit(forged).unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "BadProof").await;
    // A genuine extrinsic with its call changed after signing.
    let mut tampered = SignedExtrinsic::sign(&genesis, victim, 0, call).unwrap();
    tampered.call = Call::SetCommitment {
        netuid: net.netuid,
        data: b"other".to_vec(),
    };
    let err = net.chain.submit(tampered).unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "BadProof").await;
}

#[tokio::test]
async fn replayed_nonce_is_stale() {
    let net = network().await;
    let miner = &net.miners[0];
    let call = Call::SetCommitment {
        netuid: net.netuid,
        data: b"m0:model:a:b:1".to_vec(),
    };
    let ext = SignedExtrinsic::sign(&net.chain.genesis(), miner, 0, call).unwrap();
    net.chain.submit(ext.clone()).unwrap();
    net.chain.produce_block().unwrap();
    let before = snapshot(&net).await;
    assert_eq!(before.commitments[0].block, 42);
    let err = net.chain.submit(ext).unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "Stale").await;
    // A nonce from the future is refused too.
    let call = Call::SetCommitment {
        netuid: net.netuid,
        data: b"later".to_vec(),
    };
    let ahead = SignedExtrinsic::sign(&net.chain.genesis(), miner, 5, call).unwrap();
    let err = net.chain.submit(ahead).unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "Future").await;
}

#[tokio::test]
async fn commitment_rules() {
    let net = network().await;
    let c = &net.chain;
    let before = snapshot(&net).await;
    let stranger = key("//Stranger");
    let err = c
        .set_commitment(&stranger, net.netuid, b"x:y:z:w:1")
        .await
        .unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "AccountNotAllowedCommit").await;

    let miner = &net.miners[0];
    let err = c
        .set_commitment(miner, net.netuid, &[b'a'; 129])
        .await
        .unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "CommitmentTooLong").await;

    // 128 bytes is fine; the latest commitment replaces the previous one with its block.
    c.set_commitment(miner, net.netuid, &[b'a'; 128])
        .await
        .unwrap();
    let head = c.produce_block().unwrap().number;
    c.set_commitment(miner, net.netuid, b"second")
        .await
        .unwrap();
    c.produce_block().unwrap();
    let got = c
        .commitment(net.netuid, &miner.public())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.text(), got.block), (Some("second"), head + 1));
    assert_eq!(c.commitments(net.netuid).await.unwrap().len(), 1);

    // Budget 3100 per epoch, each call costs max(100, len): used 128 + 100 so far; 28 more
    // calls of ≤ 100 bytes bring it to 3028, the next one would need 3128.
    for i in 0..28 {
        c.set_commitment(miner, net.netuid, format!("n{i}").as_bytes())
            .await
            .unwrap();
    }
    c.produce_block().unwrap();
    let before = snapshot(&net).await;
    let err = c
        .set_commitment(miner, net.netuid, b"one too many")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::SpaceLimitExceeded {
                used: 3028,
                cost: 100,
                max: 3100,
                ..
            }
        ),
        "{err:?}"
    );
    assert_rejected_unchanged(&net, &before, err, "SpaceLimitExceeded").await;
    // The other miner has its own budget, and the budget resets at the next epoch (block 61).
    c.set_commitment(&net.miners[1], net.netuid, b"m1")
        .await
        .unwrap();
    advance_to(c, 61);
    c.set_commitment(miner, net.netuid, b"new epoch")
        .await
        .unwrap();
    c.produce_block().unwrap();
    let got = c.commitment(net.netuid, &miner.public()).await.unwrap();
    assert_eq!(got.unwrap().text(), Some("new epoch"));
}

#[tokio::test]
async fn weights_rules() {
    let net = network().await;
    let c = &net.chain;
    let before = snapshot(&net).await;
    let (v0, m0) = (&net.validators[0], &net.miners[0]);
    let err = c
        .set_weights(m0, net.netuid, &[3], &[1], 0)
        .await
        .unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "NeuronNoValidatorPermit").await;

    // v0 last set weights at 22; at 43 the limit of 10 has passed. A second call in the
    // same block, or within 10 blocks, is too fast.
    c.set_weights(v0, net.netuid, &[2, 3], &[1, 1], 0)
        .await
        .unwrap();
    let first = c.produce_block().unwrap().number;
    let before = snapshot(&net).await;
    assert_eq!(before.metagraph.neurons[0].last_update, first);
    let err = c
        .set_weights(v0, net.netuid, &[2], &[1], 0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChainError::SettingWeightsTooFast { last_update, limit: 10, .. } if last_update == first),
        "{err:?}"
    );
    assert_rejected_unchanged(&net, &before, err, "SettingWeightsTooFast").await;

    let v1 = &net.validators[1];
    let cases: [(&[u16], &[u16], u64, &str); 5] = [
        (&[2, 2], &[1, 1], 0, "DuplicateUids"),
        (&[2, 9], &[1, 1], 0, "UidVecContainInvalidOne"),
        (&[2, 3], &[1], 0, "WeightVecNotEqualSize"),
        (&[2, 3, 0, 1, 1], &[1; 5], 0, "UidsLengthExceedUidsInSubNet"),
        (&[], &[], 0, "WeightVecLengthIsLow"),
    ];
    for (uids, weights, version, name) in cases {
        let err = c
            .set_weights(v1, net.netuid, uids, weights, version)
            .await
            .unwrap_err();
        assert_rejected_unchanged(&net, &before, err, name).await;
    }
    let err = c
        .set_weights(&key("//Nobody"), net.netuid, &[2], &[1], 0)
        .await
        .unwrap_err();
    assert_rejected_unchanged(&net, &before, err, "HotKeyNotRegisteredInSubNet").await;
    // A miner may set a single self-weight without a permit.
    c.set_weights(m0, net.netuid, &[2], &[7], 0).await.unwrap();
    c.produce_block().unwrap();
    let rows = c.weights(net.netuid).await.unwrap();
    assert!(rows.contains(&WeightRow {
        uid: 2,
        weights: vec![(2, 65535)]
    }));
    assert_eq!(Hyperparameters::default().weights_rate_limit, 100);
}

#[tokio::test]
async fn version_key_and_registration_rules() {
    let dir = tempfile::tempdir().unwrap();
    let chain = LocalChain::open(dir.path(), LocalChainOptions::default()).unwrap();
    let owner = key("//Owner");
    let hp = Hyperparameters {
        tempo: 5,
        max_allowed_uids: 2,
        immunity_period: 3,
        weights_version_key: 7,
        ..Default::default()
    };
    let netuid = chain
        .create_subnet(&owner, hp)
        .await
        .unwrap()
        .assigned
        .unwrap();
    let cold = key("//Cold");
    let (a, b, c) = (key("//A"), key("//B"), key("//C"));
    chain.register(&cold, netuid, &a.public()).await.unwrap();
    chain.produce_block().unwrap();
    chain.register(&cold, netuid, &b.public()).await.unwrap();
    let err = chain
        .register(&cold, netuid, &b.public())
        .await
        .unwrap_err();
    assert_eq!(err.name(), "HotKeyAlreadyRegisteredInSubNet");
    let other = chain
        .create_subnet(
            &owner,
            Hyperparameters {
                tempo: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .assigned
        .unwrap();
    let err = chain
        .register(&key("//OtherCold"), other, &a.public())
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NonAssociatedColdKey");
    let err = chain.register(&cold, 9, &c.public()).await.unwrap_err();
    assert_eq!(err.name(), "SubnetNotExists");
    let err = chain
        .add_stake(&cold, &key("//Unknown").public(), netuid, 5)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "HotKeyAccountNotExists");
    let err = chain
        .add_stake(&cold, &a.public(), netuid, 0)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AmountTooLow");
    let err = chain
        .set_weights(&a, netuid, &[0], &[1], 6)
        .await
        .unwrap_err();
    assert_eq!(err.name(), "IncorrectWeightVersionKey");
    let err = chain
        .create_subnet(
            &owner,
            Hyperparameters {
                tempo: 0,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.name(), "InvalidHyperparameter");
    // Subnet full (2 uids), both immune at block 3 (registered at 1 and 2, immunity 3):
    // the earliest registration (uid 0, hotkey A) is replaced.
    chain.produce_block().unwrap();
    let r = chain.register(&cold, netuid, &c.public()).await.unwrap();
    assert_eq!(r.assigned, Some(0));
    chain.produce_block().unwrap();
    let mg = chain.metagraph(netuid).await.unwrap();
    assert_eq!(mg.neurons.len(), 2);
    assert_eq!(mg.neurons[0].hotkey, c.public());
    assert_eq!(mg.neurons[0].registration_block, 3);
    assert_eq!(mg.neurons[1].hotkey, b.public());
    assert_eq!(mg.uid_of(&a.public()), None);
}

#[tokio::test]
async fn restart_keeps_produced_blocks_and_drops_the_unsealed_one() {
    let net = network().await;
    let miner = &net.miners[0];
    net.chain
        .set_commitment(miner, net.netuid, b"kept")
        .await
        .unwrap();
    net.chain.produce_block().unwrap();
    let before = snapshot(&net).await;
    let head = net.chain.block(None).await.unwrap().unwrap();
    let net_bonds = net.chain.bonds(net.netuid).await.unwrap();
    assert!(!net_bonds.is_empty());
    // Accepted but never sealed: lost on restart, like a transaction pool.
    net.chain
        .set_commitment(miner, net.netuid, b"unsealed")
        .await
        .unwrap();
    let dir = net.chain.dir().to_path_buf();
    let Net { chain, .. } = net;
    let genesis = chain.genesis();
    drop(chain);
    let reopened = LocalChain::open(&dir, LocalChainOptions::default()).unwrap();
    assert_eq!(reopened.genesis(), genesis);
    assert_eq!(reopened.block(None).await.unwrap().unwrap(), head);
    let got = reopened
        .commitment(1, &miner.public())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.text(), Some("kept"));
    assert_eq!(reopened.commitments(1).await.unwrap(), before.commitments);
    assert_eq!(reopened.weights(1).await.unwrap(), before.weights);
    assert_eq!(reopened.bonds(1).await.unwrap(), net_bonds);
    let mut mg = reopened.metagraph(1).await.unwrap();
    mg.block = 0;
    assert_eq!(mg, before.metagraph);
    assert_eq!(reopened.account_nonce(&miner.public()).await.unwrap(), 1);
    assert_eq!(reopened.produce_block().unwrap().number, head.number + 1);
}

// ---------------------------------------------------------------- JSON-RPC

async fn raw_post(addr: std::net::SocketAddr, body: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let json = response.split("\r\n\r\n").nth(1).expect("http body");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {response}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_client_matches_local_chain_and_rejects_malformed_requests() {
    let net = network().await;
    let (addr, handle) = rpc::serve(net.chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = ChainClient::new(&format!("http://{addr}")).unwrap();
    let remote: &dyn Chain = &client;
    let local: &dyn Chain = net.chain.as_ref();

    assert_eq!(remote.block_number().await.unwrap(), 41);
    assert_eq!(remote.genesis_hash().await.unwrap(), net.chain.genesis());
    assert_eq!(
        remote.block_hash(Some(7)).await.unwrap(),
        local.block_hash(Some(7)).await.unwrap()
    );
    assert_eq!(remote.block(Some(999)).await.unwrap(), None);
    assert_eq!(
        remote.metagraph(1).await.unwrap(),
        local.metagraph(1).await.unwrap()
    );
    assert_eq!(remote.subnets().await.unwrap(), vec![1]);
    assert_eq!(remote.hyperparameters(1).await.unwrap(), hyperparameters());
    // Signed over RPC, applied by the server.
    let miner = &net.miners[1];
    remote
        .set_commitment(miner, 1, b"remote:model:c:h:1")
        .await
        .unwrap();
    assert_eq!(remote.account_nonce(&miner.public()).await.unwrap(), 1);
    net.chain.produce_block().unwrap();
    let got = remote
        .commitment(1, &miner.public())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.text(), got.block), (Some("remote:model:c:h:1"), 42));
    assert_eq!(
        remote.commitments(1).await.unwrap(),
        local.commitments(1).await.unwrap()
    );
    assert_eq!(
        remote.weights(1).await.unwrap(),
        local.weights(1).await.unwrap()
    );
    assert_eq!(
        remote.bonds(1).await.unwrap(),
        local.bonds(1).await.unwrap()
    );
    assert!(!remote.bonds(1).await.unwrap().is_empty());
    // Chain errors come back as the same variant.
    let err = remote
        .set_commitment(&key("//Stranger"), 1, b"x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::AccountNotAllowedCommit { netuid: 1, .. }),
        "{err:?}"
    );
    let err = remote.metagraph(77).await.unwrap_err();
    assert_eq!(err, ChainError::SubnetNotExists { netuid: 77 });
    let arena_chain::BodyExtrinsic::Arena(replay) =
        net.chain.block_extrinsics(42).unwrap().remove(0)
    else {
        panic!("block 42 holds arena extrinsics");
    };
    let err = client.submit(&replay).await.unwrap_err();
    assert_eq!(err.name(), "Stale");

    // Malformed JSON-RPC: standard codes, no state change.
    let before = snapshot(&net).await;
    let bad_json = raw_post(addr, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":").await;
    assert_eq!(bad_json["error"]["code"], -32700, "{bad_json}");
    let unknown = raw_post(
        addr,
        r#"{"jsonrpc":"2.0","id":2,"method":"arena_nope","params":[]}"#,
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let wrong = raw_post(
        addr,
        r#"{"jsonrpc":"2.0","id":3,"method":"arena_metagraph","params":["one"]}"#,
    )
    .await;
    assert_eq!(wrong["error"]["code"], -32602, "{wrong}");
    let missing = raw_post(
        addr,
        r#"{"jsonrpc":"2.0","id":4,"method":"arena_commitment","params":[1]}"#,
    )
    .await;
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    let bad_ext = raw_post(
        addr,
        r#"{"jsonrpc":"2.0","id":5,"method":"arena_submitExtrinsic","params":[{"signer":"nope"}]}"#,
    )
    .await;
    assert_eq!(bad_ext["error"]["code"], -32602, "{bad_ext}");
    let bad_key = raw_post(
        addr,
        r#"{"jsonrpc":"2.0","id":6,"method":"arena_accountNextIndex","params":["5Gxx"]}"#,
    )
    .await;
    assert_eq!(bad_key["error"]["code"], -32602, "{bad_key}");
    let ok = raw_post(
        addr,
        r#"{"jsonrpc":"2.0","id":7,"method":"arena_blockNumber","params":[]}"#,
    )
    .await;
    assert_eq!(ok["result"], 42, "{ok}");
    let block = net.chain.produce_block().unwrap();
    assert_eq!(block.extrinsics, 0);
    assert_eq!(snapshot(&net).await, before);
    handle.stop().unwrap();
}
