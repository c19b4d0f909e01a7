//! This client end to end against arena's own chain served with Subtensor's protocol
//! (`arena-substrate`): metadata loaded from the node, register, stake, commit a model, set
//! weights, read back the metagraph, the commitments and the weight rows, across epochs until
//! the miner's incentive appears; and a dispatch error named from the node's metadata.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_chain::{Chain, ChainError, Hyperparameters, LocalChain, LocalChainOptions};
use arena_keys::Keypair;
use arena_subtensor::{Options, Subtensor};

const TAO: u64 = 1_000_000_000;

async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_of_the_client_works_against_arena_chain() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(
        LocalChain::open(
            dir.path(),
            LocalChainOptions::fast(Duration::from_millis(100)),
        )
        .unwrap(),
    );
    // The subnet comes from arena's own API: creating one has no Subtensor call here.
    let owner = Keypair::from_uri("//Owner").unwrap();
    let hp = Hyperparameters {
        tempo: 4,
        weights_rate_limit: 2,
        ..Hyperparameters::default()
    };
    let netuid = chain
        .create_subnet(&owner, hp)
        .await
        .unwrap()
        .assigned
        .unwrap();
    chain.produce_block().unwrap();
    let (addr, server) = arena_substrate::serve(chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let producer = chain.spawn_block_producer();

    let client = Subtensor::connect(&format!("ws://{addr}"), Options::default())
        .await
        .unwrap();
    assert_eq!(client.genesis_hash().await.unwrap(), chain.genesis());
    let read = client.hyperparameters(netuid).await.unwrap();
    assert_eq!((read.tempo, read.weights_rate_limit), (4, 2));
    assert!(!read.commit_reveal_weights_enabled);

    let coldkey = Keypair::from_uri("//Alice").unwrap();
    let miner = Keypair::from_uri("//Alice//miner").unwrap();
    let validator = Keypair::from_uri("//Alice//validator").unwrap();
    let miner_uid = client
        .register(&coldkey, netuid, &miner.public())
        .await
        .unwrap()
        .assigned
        .expect("burned_register reports the uid (NeuronRegistered or the metagraph)");
    let validator_uid = client
        .register(&coldkey, netuid, &validator.public())
        .await
        .unwrap()
        .assigned
        .unwrap();
    assert_ne!(miner_uid, validator_uid);

    // A dispatch error comes back by name, from the node's metadata; the nonce is used.
    let nonce = chain.account_nonce(&coldkey.public()).await.unwrap();
    let err = client
        .register(&coldkey, netuid, &miner.public())
        .await
        .unwrap_err();
    assert_eq!(err.name(), "HotKeyAlreadyRegisteredInSubNet", "{err:?}");
    assert!(matches!(err, ChainError::Dispatch { ref pallet, .. } if pallet == "SubtensorModule"));
    assert_eq!(
        chain.account_nonce(&coldkey.public()).await.unwrap(),
        nonce + 1
    );

    client
        .add_stake(&coldkey, &validator.public(), netuid, 1_000 * TAO)
        .await
        .unwrap();
    let pointer = b"arena-e2e:model:0123456789abcdef:hash:1";
    client
        .set_commitment(&miner, netuid, pointer)
        .await
        .unwrap();
    let c = client
        .commitment(netuid, &miner.public())
        .await
        .unwrap()
        .expect("commitment read back");
    assert_eq!(c.data, pointer);
    let all = client.commitments(netuid).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].hotkey, miner.public());

    // The stake gives the validator a permit at the next epoch.
    until("the validator permit", Duration::from_secs(30), || async {
        let m = client.metagraph(netuid).await.unwrap();
        let v = m.neurons.iter().find(|n| n.uid == validator_uid)?;
        assert_eq!(v.stake, 1_000 * TAO);
        v.validator_permit.then_some(())
    })
    .await;
    client
        .set_weights(&validator, netuid, &[miner_uid], &[u16::MAX], 0)
        .await
        .unwrap();
    let rows = client.weights(netuid).await.unwrap();
    let row = rows.iter().find(|r| r.uid == validator_uid).unwrap();
    assert_eq!(row.weights, vec![(miner_uid, u16::MAX)]);

    // The next epoch turns the weights into incentive; client and chain agree on it.
    let incentive = until("the miner's incentive", Duration::from_secs(30), || async {
        let m = client.metagraph(netuid).await.unwrap();
        let n = m.neurons.iter().find(|n| n.uid == miner_uid)?;
        (n.incentive > 0).then_some(n.incentive)
    })
    .await;
    assert_eq!(incentive, u16::MAX, "all weight on the only miner");
    let local = chain.metagraph(netuid).await.unwrap();
    let remote = client.metagraph(netuid).await.unwrap();
    for n in &local.neurons {
        let r = remote.neurons.iter().find(|x| x.uid == n.uid).unwrap();
        assert_eq!(
            (r.hotkey, r.coldkey, r.stake, r.validator_permit),
            (n.hotkey, n.coldkey, n.stake, n.validator_permit)
        );
    }

    producer.abort();
    server.stop().unwrap();
}
