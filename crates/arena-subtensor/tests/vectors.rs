//! Every entry of `tests/data/vectors-spec343.json` (computed by the official Python codec
//! over finney's spec-343 metadata) reproduced byte for byte; the same calls encoded over the
//! V16 spec-393 metadata with the indices that metadata gives.

use arena_keys::{Keypair, PublicKey};
use arena_subtensor::tx::{self, Era, TxParams};
use arena_subtensor::{Runtime, SubtensorCall, Value};
use serde_json::Value as Json;

const FINNEY_GENESIS: &str = "2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03";

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn spec343() -> Runtime {
    Runtime::from_bytes(&data("metadata-finney-spec343-v15.scale"), 343, 1).unwrap()
}

fn vectors() -> Json {
    serde_json::from_slice(&data("vectors-spec343.json")).unwrap()
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn alice() -> PublicKey {
    Keypair::from_uri("//Alice").unwrap().public()
}

fn genesis() -> [u8; 32] {
    hex::decode(FINNEY_GENESIS).unwrap().try_into().unwrap()
}

fn set_weights() -> SubtensorCall {
    SubtensorCall::SetWeights {
        netuid: 37,
        uids: vec![0, 1],
        weights: vec![100, 65535],
        version_key: 4,
    }
}

/// The call of each `calls` entry, by its key.
fn call_for(key: &str) -> SubtensorCall {
    if key.starts_with("SubtensorModule.set_weights(") {
        set_weights()
    } else if key.starts_with("Commitments.set_commitment(") {
        SubtensorCall::SetCommitment {
            netuid: 37,
            data: b"hi!!!".to_vec(),
        }
    } else if key.starts_with("SubtensorModule.commit_timelocked_weights(") {
        SubtensorCall::CommitTimelockedWeights {
            netuid: 37,
            commit: vec![1, 2],
            reveal_round: 1000,
            version: 4,
        }
    } else {
        panic!("no call for vector {key}")
    }
}

#[test]
fn every_call_vector_is_reproduced() {
    let rt = spec343();
    let v = vectors();
    let calls = v["calls"].as_object().unwrap();
    assert_eq!(calls.len(), 3);
    for (key, want) in calls {
        let got = call_for(key).encode(&rt).unwrap();
        assert_eq!(hex0x(&got), want.as_str().unwrap(), "{key}");
    }
}

/// The storage key of each `storage_keys` entry, by its key.
fn storage_key(rt: &Runtime, key: &str) -> Vec<u8> {
    let netuid = Value::U(37);
    let alice = Value::Bytes(alice().0.to_vec());
    let (pallet, entry) = key.split_once('.').unwrap();
    let keys = match entry {
        "Keys" => vec![netuid, Value::U(0)],
        "Uids" | "CommitmentOf" => vec![netuid, alice],
        "TotalHotkeyAlpha" => vec![alice, netuid],
        "TimelockedWeightCommits" => vec![netuid, Value::U(5)],
        "CommitRevealWeightsVersion" => vec![],
        "CommitmentOf_prefix37" => {
            return rt.storage_key(pallet, "CommitmentOf", &[netuid]).unwrap()
        }
        _ => vec![netuid],
    };
    rt.storage_key(pallet, entry, &keys).unwrap()
}

#[test]
fn every_storage_key_vector_is_reproduced() {
    let rt = spec343();
    let v = vectors();
    let keys = v["storage_keys"].as_object().unwrap();
    assert_eq!(keys.len(), 13);
    for (key, want) in keys {
        assert_eq!(
            hex0x(&storage_key(&rt, key)),
            want.as_str().unwrap(),
            "{key}"
        );
    }
}

#[test]
fn signing_payload_signed_extrinsic_and_hash_are_reproduced() {
    let rt = spec343();
    let v = vectors();
    let s = &v["signed_set_weights"];
    assert_eq!(
        s["genesis_hash"].as_str().unwrap(),
        format!("0x{FINNEY_GENESIS}")
    );
    let names: Vec<&str> = rt
        .metadata()
        .extrinsic()
        .transaction_extensions_by_version(0)
        .unwrap()
        .map(|e| e.identifier())
        .collect();
    let want: Vec<&str> = s["transaction_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(names, want);

    let call = set_weights().encode(&rt).unwrap();
    let (_, want_call) = v["calls"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_str() == s["call"].as_str().unwrap())
        .unwrap();
    assert_eq!(hex0x(&call), want_call.as_str().unwrap());
    let params = TxParams {
        nonce: s["nonce"].as_u64().unwrap(),
        tip: 0,
        era: Era::Immortal,
        genesis: genesis(),
    };
    let payload = tx::signing_payload(&rt, &call, &params).unwrap();
    assert_eq!(hex0x(&payload), s["signing_payload"].as_str().unwrap());

    let fake: [u8; 64] = std::array::from_fn(|i| i as u8 + 1);
    let xt = tx::signed_extrinsic(&rt, &call, &params, &alice(), &fake).unwrap();
    assert_eq!(
        hex0x(&xt),
        s["signed_extrinsic_with_fake_signature"].as_str().unwrap()
    );
    assert_eq!(
        hex0x(&tx::extrinsic_hash(&xt)),
        s["extrinsic_hash"].as_str().unwrap()
    );

    // A real signature verifies over the payload.
    let key = Keypair::from_uri("//Alice").unwrap();
    let signed = tx::sign(&rt, &call, &params, &key).unwrap();
    assert_eq!(signed.len(), xt.len());
    let sig: [u8; 64] = signed[2 + 1 + 33 + 1..2 + 1 + 33 + 1 + 64]
        .try_into()
        .unwrap();
    assert!(key.public().verify(&payload, &arena_keys::Signature(sig)));
}

#[test]
fn payloads_over_256_bytes_are_hashed() {
    let rt = spec343();
    let uids: Vec<u16> = (0..100).collect();
    let call = SubtensorCall::SetWeights {
        netuid: 37,
        weights: uids.clone(),
        uids,
        version_key: 4,
    }
    .encode(&rt)
    .unwrap();
    let params = TxParams {
        nonce: 7,
        tip: 0,
        era: Era::Immortal,
        genesis: genesis(),
    };
    let payload = tx::signing_payload(&rt, &call, &params).unwrap();
    assert_eq!(payload.len(), 32);
    // The hash is of call ‖ extra ‖ additional: recompute it by hand.
    let mut unhashed = call;
    unhashed.extend_from_slice(&[0x00, 0x1c, 0x00, 0x00]);
    unhashed.extend_from_slice(&343u32.to_le_bytes());
    unhashed.extend_from_slice(&1u32.to_le_bytes());
    unhashed.extend_from_slice(&genesis());
    unhashed.extend_from_slice(&genesis());
    unhashed.push(0);
    assert!(unhashed.len() > 256);
    assert_eq!(payload, sp_crypto_hashing::blake2_256(&unhashed).to_vec());
}

#[test]
fn raw_commitments_over_128_bytes_are_refused() {
    let rt = spec343();
    let ok = SubtensorCall::SetCommitment {
        netuid: 37,
        data: vec![b'x'; 128],
    }
    .encode(&rt)
    .unwrap();
    // pallet, call, netuid (2), one field (compact 1), Raw128 = byte 129, then the bytes.
    assert_eq!(ok[4], 4);
    assert_eq!(ok[5], 129);
    assert_eq!(ok.len(), 6 + 128);
    let err = SubtensorCall::SetCommitment {
        netuid: 37,
        data: vec![b'x'; 129],
    }
    .encode(&rt)
    .unwrap_err();
    assert!(
        matches!(err, arena_subtensor::Error::CommitmentTooLong { len: 129 }),
        "{err}"
    );
    assert!(err.to_string().contains("at most 128 bytes"), "{err}");
}

#[test]
fn mortal_eras_encode_as_substrate_does() {
    // period 64 at block 1000: phase 1000 % 64 = 40; 64 = 2^6 → low nibble 5, phase << 4.
    let era = Era::Mortal {
        period: 64,
        birth_number: 1000,
        birth_hash: [0; 32],
    };
    assert_eq!(era.encode(), ((40u16 << 4) | 5).to_le_bytes().to_vec());
    assert_eq!(Era::Immortal.encode(), vec![0]);
}

#[test]
fn spec393_v16_metadata_encodes_the_same_calls_with_its_own_indices() {
    let rt = Runtime::from_bytes(&data("metadata-finney-spec393-v16.scale"), 393, 1).unwrap();
    let old = spec343();
    let calls = [
        set_weights(),
        SubtensorCall::SetCommitment {
            netuid: 37,
            data: b"hi!!!".to_vec(),
        },
        SubtensorCall::CommitTimelockedWeights {
            netuid: 37,
            commit: vec![1, 2],
            reveal_round: 1000,
            version: 4,
        },
        SubtensorCall::CommitTimelockedMechanismWeights {
            netuid: 37,
            mecid: 0,
            commit: vec![1, 2],
            reveal_round: 1000,
            version: 4,
        },
        SubtensorCall::BurnedRegister {
            netuid: 37,
            hotkey: alice(),
        },
    ];
    for call in &calls {
        let (pallet, name) = call.name();
        let bytes = call.encode(&rt).unwrap();
        let p = rt.metadata().pallet_by_name(pallet).unwrap();
        assert_eq!(bytes[0], p.call_index(), "{pallet}");
        assert_eq!(
            bytes[1],
            p.call_variant_by_name(name).unwrap().index,
            "{name}"
        );
        // Same argument types as at spec 343 where the call exists there: same bytes after
        // the two index bytes.
        if old.has_call(pallet, name) {
            assert_eq!(bytes[2..], call.encode(&old).unwrap()[2..], "{name}");
        }
    }
    // The signing payload walks V16's extensions (version 0) the same way.
    let call = set_weights().encode(&rt).unwrap();
    let params = TxParams {
        nonce: 7,
        tip: 0,
        era: Era::Immortal,
        genesis: genesis(),
    };
    let payload = tx::signing_payload(&rt, &call, &params).unwrap();
    assert!(payload.starts_with(&call));
    assert!(payload.ends_with(&genesis().iter().chain(&[0u8]).copied().collect::<Vec<u8>>()));
    // Storage keys only depend on names and hashers.
    assert_eq!(
        rt.storage_key("SubtensorModule", "Tempo", &[Value::U(37)])
            .unwrap(),
        old.storage_key("SubtensorModule", "Tempo", &[Value::U(37)])
            .unwrap()
    );
}
