//! Cross-checks with the Python SDK's timelock code, the oracle the chain's behaviour is
//! defined by: PyPI `bittensor-drand` 1.3.0 (legacy `get_encrypted_commit`) and
//! `bittensor-core` 0.1.5 (`get_encrypted_commit_v2`), both built on the `tle` crate Subtensor
//! uses. Driven through `$ARENA_TEST_PYTHON` (set by `scripts/test`, which installs
//! `scripts/requirements-test.txt`; without it, `.venv/bin/python`). A missing interpreter fails
//! the test: a skipped cross-check proves nothing.
//!
//! Ciphertexts meant for the oracle's decryption are made for quicknet round 1000, whose
//! signature is public. The oracle's commit functions pick the round from the wall clock; to
//! get one of their commits for round 1000, the tests pass a block time that makes the
//! commit's blocks-until-reveal end in round 1000 (the computation under test is unchanged).

use std::io::Write;
use std::process::{Command, Stdio};

use arena_testkit::fixtures::python;
use arena_timelock::{
    decrypt, encrypt, open_weights, reveal_block, reveal_round, seal_weights, EpochState,
    WeightsTlockPayload, SECURITY_BLOCK_OFFSET,
};
use parity_scale_codec::{Decode, Encode};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

const SIG_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";
const PACKAGES: [&str; 2] = ["bittensor_drand", "bittensor_core"];

/// Run one oracle request.
fn oracle(python: &std::path::Path, request: Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "oracle failed on {request}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle answers JSON")
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).unwrap()
}

fn sig1000() -> Vec<u8> {
    hex::decode(SIG_1000).unwrap()
}

/// The oracles' envelope for `encrypt_at_round`/`decrypt_with_signature`: SCALE
/// `UserData { encrypted_data: Vec<u8>, reveal_round: u64 }`.
#[derive(Encode, Decode)]
struct UserData {
    encrypted_data: Vec<u8>,
    reveal_round: u64,
}

/// Bytes of a ciphertext that no randomness touches: every length prefix and the cipher
/// suite (the random U, V, W, AES output and nonce are zeroed).
fn deterministic_part(ct: &[u8]) -> Vec<u8> {
    let mut out = ct.to_vec();
    let aes = u64::from_le_bytes(ct[184..192].try_into().unwrap()) as usize;
    for range in [
        0..96,
        104..136,
        144..176,
        192..192 + aes,
        200 + aes..212 + aes,
    ] {
        out[range].fill(0);
    }
    out
}

#[test]
fn oracle_versions_are_the_pinned_ones() {
    let py = python();
    let v = oracle(&py, json!({"op": "versions"}));
    assert_eq!(v["bittensor_drand"], "1.3.0");
    assert_eq!(v["bittensor_core"], "0.1.5");
}

#[test]
fn our_ciphertext_for_round_1000_decrypts_in_the_oracle() {
    let py = python();
    let mut rng = ChaCha20Rng::seed_from_u64(1000);
    for (i, message) in [b"".to_vec(), b"hello quicknet".to_vec(), vec![0xa5; 3000]]
        .into_iter()
        .enumerate()
    {
        let ct = encrypt(&message, 1000, &mut rng);
        let wrapped = UserData {
            encrypted_data: ct,
            reveal_round: 1000,
        }
        .encode();
        for pkg in PACKAGES {
            let out = oracle(
                &py,
                json!({"op": "decrypt", "pkg": pkg, "ct": hex::encode(&wrapped), "sig": SIG_1000}),
            );
            assert_eq!(unhex(&out["plain"]), message, "{pkg}, message {i}");
        }
    }
}

#[test]
fn the_oracles_ciphertext_opens_with_our_decrypt() {
    let py = python();
    for pkg in PACKAGES {
        for message in [b"".to_vec(), b"from python".to_vec(), vec![7u8; 1500]] {
            let out = oracle(
                &py,
                json!({"op": "encrypt_at_round", "pkg": pkg, "data": hex::encode(&message), "round": 1000}),
            );
            assert_eq!(out["round"], 1000);
            let wrapped = UserData::decode(&mut &unhex(&out["ct"])[..]).unwrap();
            assert_eq!(wrapped.reveal_round, 1000);
            assert_eq!(
                decrypt(&wrapped.encrypted_data, &sig1000()).unwrap(),
                message,
                "{pkg}"
            );
            // Same layout as ours, byte for byte outside the random fields.
            let ours = encrypt(&message, 1000, &mut ChaCha20Rng::seed_from_u64(1));
            assert_eq!(
                deterministic_part(&wrapped.encrypted_data),
                deterministic_part(&ours),
                "{pkg}"
            );
        }
    }
}

/// The known weights vector of the commit tests.
fn weights_case() -> (Vec<u8>, Vec<u16>, Vec<u16>, u64) {
    let hotkey: Vec<u8> = (0u8..32).collect();
    (hotkey, vec![0, 1, 5, 1023], vec![100, 65535, 0, 7], 4)
}

#[test]
fn the_legacy_commit_payload_matches_the_oracle() {
    let py = python();
    let (hotkey, uids, values, version_key) = weights_case();
    let (tempo, current_block, netuid, period) = (360u16, 5_000_000u64, 37u16, 1u64);
    let blocks = reveal_block(current_block, netuid, tempo, period) - current_block;
    let case = json!({"uids": uids, "weights": values, "version_key": version_key,
        "tempo": tempo, "current_block": current_block, "netuid": netuid, "period": period,
        "to_round": 1000, "blocks": blocks, "hotkey": hex::encode(&hotkey)});
    let out = oracle(&py, json!({"op": "commit_v1", "cases": [case]}));
    let theirs = &out[0];
    assert_eq!(
        theirs["round"], 1000,
        "the oracle's commit targets round 1000"
    );
    let their_ct = unhex(&theirs["ct"]);
    check_commit(&py, &their_ct, &hotkey, &uids, &values, version_key);
}

#[test]
fn the_stateful_commit_payload_matches_the_oracle() {
    let py = python();
    let (hotkey, uids, values, version_key) = weights_case();
    let state = EpochState {
        last_epoch_block: 4_999_900,
        pending_epoch_at: 0,
        subnet_epoch_index: 1234,
        tempo: 360,
        blocks_since_last_step: 100,
        current_block: 5_000_000,
    };
    let blocks = state.first_reveal_block(1).unwrap() + SECURITY_BLOCK_OFFSET - state.current_block;
    let case = json!({"uids": uids, "weights": values, "version_key": version_key,
        "state": state_json(&state), "period": 1, "to_round": 1000, "blocks": blocks,
        "hotkey": hex::encode(&hotkey)});
    let out = oracle(&py, json!({"op": "commit_v2", "cases": [case]}));
    assert_eq!(
        out[0]["round"], 1000,
        "the oracle's commit targets round 1000"
    );
    check_commit(
        &py,
        &unhex(&out[0]["ct"]),
        &hotkey,
        &uids,
        &values,
        version_key,
    );
}

/// The oracle's commit and ours: same layout byte for byte where deterministic, same
/// plaintext bytes, and each opens in the other's decryption.
fn check_commit(
    py: &std::path::Path,
    their_ct: &[u8],
    hotkey: &[u8],
    uids: &[u16],
    values: &[u16],
    version_key: u64,
) {
    let expected = WeightsTlockPayload {
        hotkey: hotkey.to_vec(),
        uids: uids.to_vec(),
        values: values.to_vec(),
        version_key,
    };
    // Theirs opens with ours into the same payload.
    assert_eq!(open_weights(their_ct, &sig1000()).unwrap(), expected);
    // Ours: same length and deterministic bytes.
    let mut rng = ChaCha20Rng::seed_from_u64(37);
    let ours = seal_weights(hotkey, uids, values, version_key, 1000, &mut rng).unwrap();
    assert_eq!(ours.len(), their_ct.len());
    assert_eq!(deterministic_part(&ours), deterministic_part(their_ct));
    // Both plaintexts, decrypted by the oracle, are the same SCALE bytes, and they are ours.
    for (who, ct) in [("theirs", their_ct), ("ours", &ours[..])] {
        let wrapped = UserData {
            encrypted_data: ct.to_vec(),
            reveal_round: 1000,
        }
        .encode();
        for pkg in PACKAGES {
            let out = oracle(
                py,
                json!({"op": "decrypt", "pkg": pkg, "ct": hex::encode(&wrapped), "sig": SIG_1000}),
            );
            assert_eq!(unhex(&out["plain"]), expected.to_scale(), "{who} via {pkg}");
        }
    }
}

fn state_json(s: &EpochState) -> Value {
    json!({"last_epoch_block": s.last_epoch_block, "pending_epoch_at": s.pending_epoch_at,
        "subnet_epoch_index": s.subnet_epoch_index, "tempo": s.tempo,
        "blocks_since_last_step": s.blocks_since_last_step, "current_block": s.current_block})
}

/// The oracle's round lies between ours at the instants before and after its call.
fn assert_round_within(theirs: &Value, ours_at: impl Fn(f64) -> u64, what: &str) {
    let round = theirs["round"].as_u64().unwrap();
    let lo = ours_at(theirs["t0"].as_f64().unwrap());
    let hi = ours_at(theirs["t1"].as_f64().unwrap());
    assert!(
        lo <= round && round <= hi,
        "{what}: oracle {round}, ours {lo}..={hi}"
    );
}

#[test]
fn legacy_reveal_round_equals_the_oracles() {
    let py = python();
    // (tempo, current block, netuid, reveal period, block time)
    let inputs: Vec<(u16, u64, u16, u64, f64)> = vec![
        (360, 5_000_000, 37, 1, 12.0),
        (360, 5_000_357, 37, 1, 12.0),
        (360, 5_000_358, 37, 1, 12.0),
        (360, 4_321_000, 9, 2, 12.0),
        (99, 123_456, 1, 3, 12.0),
        (10, 100, 0, 0, 12.0),
        (10, 5, 0, 0, 12.0),
        (1, 77, 3, 1, 12.0),
        (100, 7, 250, 3, 0.25),
        (7200, 6_000_000, 29, 1, 12.0),
        (65535, 123, 65535, 4, 12.0),
    ];
    let cases: Vec<Value> = inputs
        .iter()
        .map(|&(tempo, block, netuid, period, bt)| {
            json!({"uids": [0], "weights": [1], "version_key": 0, "tempo": tempo,
                "current_block": block, "netuid": netuid, "period": period,
                "block_time": bt, "hotkey": "00".repeat(32)})
        })
        .collect();
    let out = oracle(&py, json!({"op": "commit_v1", "cases": cases}));
    for (i, &(tempo, block, netuid, period, bt)) in inputs.iter().enumerate() {
        assert_round_within(
            &out[i],
            |now| reveal_round(block, now, netuid, tempo, period, bt),
            &format!("{:?}", inputs[i]),
        );
    }
}

#[test]
fn stateful_reveal_round_equals_the_oracles() {
    let py = python();
    let s = |last, pending, index, tempo, since, current| EpochState {
        last_epoch_block: last,
        pending_epoch_at: pending,
        subnet_epoch_index: index,
        tempo,
        blocks_since_last_step: since,
        current_block: current,
    };
    let inputs: Vec<(EpochState, u64, f64)> = vec![
        (s(4_999_900, 0, 1234, 360, 100, 5_000_000), 1, 12.0),
        (s(4_999_640, 0, 10, 360, 359, 4_999_999), 1, 12.0),
        (s(4_999_640, 0, 10, 360, 360, 5_000_000), 2, 12.0),
        (s(100, 0, 0, 50, 20, 120), 1, 12.0),
        (s(100, 0, 0, 50, 20, 120), 0, 12.0),
        (s(100, 130, 0, 50, 20, 120), 1, 12.0),
        (s(100, 121, 0, 50, 20, 120), 3, 12.0),
        (s(0, 0, 5, 10, 60_000, 10), 1, 12.0),
        (s(1_000, 0, 3, 1, 0, 1_000), 4, 0.25),
        (s(5, 0, 0, 7200, 0, 6_000_000), 1, 12.0),
    ];
    let cases: Vec<Value> = inputs
        .iter()
        .map(|(state, period, bt)| {
            json!({"uids": [0], "weights": [1], "version_key": 0, "state": state_json(state),
                "period": period, "block_time": bt, "hotkey": "00".repeat(32)})
        })
        .collect();
    let out = oracle(&py, json!({"op": "commit_v2", "cases": cases}));
    for (i, (state, period, bt)) in inputs.iter().enumerate() {
        assert_round_within(
            &out[i],
            |now| state.reveal_round(*period, *bt, now).unwrap(),
            &format!("{state:?} period {period}"),
        );
    }
    // Tempo 0: no epochs, no round, in both.
    let zero = s(100, 0, 0, 0, 20, 120);
    assert!(zero.reveal_round(1, 12.0, 0.0).is_err());
    let case = json!({"uids": [0], "weights": [1], "version_key": 0, "state": state_json(&zero),
        "period": 1, "block_time": 12.0, "hotkey": "00".repeat(32)});
    let out = oracle(&py, json!({"op": "commit_v2", "cases": [case]}));
    assert!(out[0]["error"].is_string(), "oracle: {}", out[0]);
}
