//! Weights on a subnet with commit-reveal on go through the `WeightsSealer` (the timelock
//! encryption) and `commit_timelocked_mechanism_weights`, with the version the chain stores
//! and the SDK's reveal round; without a sealer they are refused, and with commit-reveal off
//! they are a plain `set_weights`.

use std::sync::{Arc, Mutex};

use arena_chain::Call;
use arena_keys::{Keypair, PublicKey};
use arena_subtensor::replay::{Recording, ReplayServer};
use arena_subtensor::weights::reveal_round;
use arena_subtensor::{
    encode_as, Error, Options, Runtime, Subtensor, SubtensorCall, Value, WeightsSealer,
};
use serde_json::json;

/// The recorded `tempo` session's head (block number from its header) and netuid.
const HEAD: &str = "0x03a008636efbe7706f79f2c7d7d4e85ff26a3e67922e5fefab71e7f6d9dab43d";
const NETUID: u16 = 23;

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap()
}

/// What the sealer was asked to seal.
type Sealed = (PublicKey, Vec<u16>, Vec<u16>, u64, u64);

#[derive(Default)]
struct RecordingSealer(Mutex<Vec<Sealed>>);

impl WeightsSealer for RecordingSealer {
    fn seal(
        &self,
        hotkey: &PublicKey,
        uids: &[u16],
        values: &[u16],
        version_key: u64,
        reveal_round: u64,
    ) -> arena_subtensor::Result<Vec<u8>> {
        self.0.lock().unwrap().push((
            *hotkey,
            uids.to_vec(),
            values.to_vec(),
            version_key,
            reveal_round,
        ));
        Ok(b"sealed".to_vec())
    }
}

/// The `tempo` session, with commit-reveal storage answered: enabled or not, version 4,
/// reveal period 1 epoch; every other hyperparameter absent (the metadata's default).
async fn server(enabled: bool) -> ReplayServer {
    let meta = data("metadata-finney-spec343-v15.scale");
    let rt = Runtime::from_bytes(&meta, 343, 1).unwrap();
    let mut rec = Recording::from_json(&data("recorded-finney-rpc.json")).unwrap();
    let n = [Value::U(NETUID.into())];
    let entries: [(&str, &[Value], Option<Value>); 12] = [
        ("CommitRevealWeightsEnabled", &n, Some(Value::Bool(enabled))),
        ("CommitRevealWeightsVersion", &[], Some(Value::U(4))),
        ("RevealPeriodEpochs", &n, Some(Value::U(1))),
        ("WeightsSetRateLimit", &n, None),
        ("WeightsVersionKey", &n, None),
        ("MinAllowedWeights", &n, None),
        ("MaxWeightsLimit", &n, None),
        ("ImmunityPeriod", &n, None),
        ("Kappa", &n, None),
        ("ActivityCutoff", &n, None),
        ("MaxAllowedValidators", &n, None),
        ("MaxAllowedUids", &n, None),
    ];
    for (entry, keys, value) in entries {
        let key = rt.storage_key("SubtensorModule", entry, keys).unwrap();
        let result = match value {
            Some(v) => {
                let ty = rt
                    .metadata()
                    .pallet_by_name("SubtensorModule")
                    .unwrap()
                    .storage()
                    .unwrap()
                    .entry_by_name(entry)
                    .unwrap()
                    .value_ty();
                let mut bytes = Vec::new();
                encode_as(rt.types(), ty, &v, &mut bytes).unwrap();
                json!(format!("0x{}", hex::encode(bytes)))
            }
            None => json!(null),
        };
        rec.insert(
            "tempo",
            "state_getStorageAt",
            json!([format!("0x{}", hex::encode(key)), HEAD]),
            json!({ "result": result }),
        );
    }
    ReplayServer::start(rec, &["tempo"], &meta).await.unwrap()
}

fn weights() -> Call {
    Call::SetWeights {
        netuid: NETUID,
        uids: vec![0, 5],
        weights: vec![65535, 100],
        version_key: 7,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_reveal_on_seals_and_commits_with_the_chains_version() {
    let server = server(true).await;
    let sealer = Arc::new(RecordingSealer::default());
    let options = Options {
        sealer: Some(sealer.clone()),
        ..Options::default()
    };
    let st = Subtensor::connect(&server.ws_url(), options).await.unwrap();
    let hp = st.subnet_hyperparameters(NETUID).await.unwrap();
    assert!(hp.commit_reveal_weights_enabled);
    assert_eq!((hp.tempo, hp.reveal_period_epochs), (1000, 1));
    assert_eq!(st.commit_reveal_version().await.unwrap(), 4);

    let key = Keypair::from_uri("//Alice").unwrap();
    let (block, _) = st.head().await.unwrap();
    let before = now();
    let call = st.subtensor_call(&key, &weights()).await.unwrap();
    let after = now();
    let SubtensorCall::CommitTimelockedMechanismWeights {
        netuid,
        mecid,
        commit,
        reveal_round: round,
        version,
    } = &call
    else {
        panic!("{call:?}");
    };
    assert_eq!((*netuid, *mecid, version), (NETUID, 0, &4));
    assert_eq!(commit, b"sealed");
    let lo = reveal_round(block, NETUID, 1000, 1, before as f64);
    let hi = reveal_round(block, NETUID, 1000, 1, after as f64);
    assert!((lo..=hi).contains(round), "{round} not in {lo}..={hi}");
    let sealed = sealer.0.lock().unwrap().clone();
    assert_eq!(
        sealed,
        vec![(key.public(), vec![0, 5], vec![65535, 100], 7, *round)]
    );
    // The call encodes with the metadata's argument types.
    let rt = st.runtime().await.unwrap();
    let bytes = call.encode(&rt).unwrap();
    let p = rt.metadata().pallet_by_name("SubtensorModule").unwrap();
    assert_eq!(bytes[0], p.call_index());
    assert_eq!(
        bytes[1],
        p.call_variant_by_name("commit_timelocked_mechanism_weights")
            .unwrap()
            .index
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_reveal_without_a_sealer_is_refused() {
    let server = server(true).await;
    let st = Subtensor::connect(
        &server.ws_url(),
        Options {
            sealer: None,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let key = Keypair::from_uri("//Alice").unwrap();
    let err = st.subtensor_call(&key, &weights()).await.unwrap_err();
    assert!(matches!(err, Error::NoSealer { netuid: NETUID }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_reveal_off_sets_weights_in_the_clear() {
    let server = server(false).await;
    let st = Subtensor::connect(&server.ws_url(), Options::default())
        .await
        .unwrap();
    let key = Keypair::from_uri("//Alice").unwrap();
    let call = st.subtensor_call(&key, &weights()).await.unwrap();
    assert_eq!(
        call,
        SubtensorCall::SetWeights {
            netuid: NETUID,
            uids: vec![0, 5],
            weights: vec![65535, 100],
            version_key: 7
        }
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
