//! Pure-Rust checks of the timelock scheme against quicknet's real round-1000 pulse, and of
//! the refusals of damaged or hostile ciphertexts.

use arena_timelock::{
    decrypt, encrypt, open_weights, seal_weights, verify_round_signature, Error,
    WeightsTlockPayload, CIPHER_SUITE, MAX_COMMIT_LEN,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Quicknet's signature of round 1000 (drand's public record; Subtensor's pallet tests use it).
const SIG_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

/// A commit made by the Python SDK's timelock (PyPI `bittensor-drand` 1.3.0
/// `get_encrypted_commit`, on the chain's `tle` crate) for quicknet round 1000: hotkey bytes
/// 0..=31, uids [0, 1, 5, 1023], values [100, 65535, 0, 7], version key 4. Recorded once so that
/// this file checks a foreign ciphertext without Python; `oracle.rs` makes fresh ones.
const SDK_COMMIT_ROUND_1000: &str = concat!(
    "816d1ebc98350f917cebdeeca6b3e1c522e8f75c93826b01abca4a888bc1b21b1bf042688b8c05c52bb9ade1e8763252",
    "0a54dda82e6c9834d0e1ca5c15a59d44a854c0cde40cc29ad87f62a16207ae42d2628d798294054fee334d79e63d2103",
    "2000000000000000239c8329f53e9e569396c479ce2fca6afac02090ae87dd60116ad84e84d0871c2000000000000000",
    "060eb221f5cddaf1d9fc4fb463303d23a91e927c7bccc1db55b44a19c0660f7567000000000000004b00000000000000",
    "3ab9f3c2ad163503321538aad647dc16bd1214c3cb8e7e3f6c091360193def52c87500c6dca0db33cbf75ed46a244036",
    "ecd5c3a3b95cbf8b63fa8e0c75e9d1084ad5bd7684d047a1c9be310c00000000000000f68e86c003fcf5098ab7e1da08",
    "000000000000004145535f47434d5f",
);

fn sig1000() -> Vec<u8> {
    hex::decode(SIG_1000).unwrap()
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

#[test]
fn quicknet_signature_of_round_1000_verifies_and_no_other_round() {
    verify_round_signature(1000, &sig1000()).unwrap();
    assert_eq!(
        verify_round_signature(1001, &sig1000()),
        Err(Error::SignatureNotForRound(1001))
    );
    assert_eq!(
        verify_round_signature(999, &sig1000()),
        Err(Error::SignatureNotForRound(999))
    );
    // Wrong length, and 48 bytes that are no point.
    assert_eq!(
        verify_round_signature(1000, &sig1000()[..47]),
        Err(Error::InvalidSignatureEncoding)
    );
    let mut bad = sig1000();
    bad[47] ^= 1;
    assert_eq!(
        verify_round_signature(1000, &bad),
        Err(Error::InvalidSignatureEncoding)
    );
}

#[test]
fn roundtrip_with_the_round_signature() {
    let message = b"weights for subnet 37".to_vec();
    let ct = encrypt(&message, 1000, &mut rng(1));
    assert_eq!(decrypt(&ct, &sig1000()).unwrap(), message);
    // The empty message too.
    let ct = encrypt(b"", 1000, &mut rng(2));
    assert_eq!(decrypt(&ct, &sig1000()).unwrap(), Vec::<u8>::new());
}

#[test]
fn seeded_encryption_is_deterministic_and_fresh_randomness_changes_every_random_field() {
    let a = encrypt(b"same", 1000, &mut rng(9));
    let b = encrypt(b"same", 1000, &mut rng(9));
    let c = encrypt(b"same", 1000, &mut rng(10));
    assert_eq!(a, b);
    assert_eq!(a.len(), c.len());
    // U, V, W, the AES ciphertext and the nonce all differ; the length prefixes and the
    // cipher suite do not.
    for (name, range) in [
        ("u", 0..96),
        ("v", 104..136),
        ("w", 144..176),
        ("aes", 192..192 + 4 + 16),
        ("nonce", 220..232),
    ] {
        assert_ne!(a[range.clone()], c[range], "{name}");
    }
}

#[test]
fn ciphertext_layout_is_the_tle_layout() {
    let message = [7u8; 51];
    let ct = encrypt(&message, 1000, &mut rng(3));
    let le = |n: u64| n.to_le_bytes();
    assert_eq!(ct.len(), 96 + 40 + 40 + 8 + (8 + 67 + 8 + 12) + 8 + 8);
    assert_eq!(ct[96..104], le(32));
    assert_eq!(ct[136..144], le(32));
    assert_eq!(ct[176..184], le(8 + 67 + 8 + 12));
    assert_eq!(ct[184..192], le(67));
    assert_eq!(ct[259..267], le(12));
    assert_eq!(ct[279..287], le(8));
    assert_eq!(&ct[287..], CIPHER_SUITE);
    assert_eq!(CIPHER_SUITE, b"AES_GCM_");
    // U is a compressed point: the top bit of its first byte is the compression flag.
    assert_eq!(ct[0] & 0x80, 0x80);
}

#[test]
fn another_rounds_signature_or_any_other_point_does_not_open() {
    let ct = encrypt(b"later", 1001, &mut rng(4));
    assert_eq!(decrypt(&ct, &sig1000()), Err(Error::WrongSignature));
    // The G1 generator (compressed) is a valid point, and the wrong key.
    let g1 = hex::decode("97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb").unwrap();
    let ct = encrypt(b"now", 1000, &mut rng(5));
    assert_eq!(decrypt(&ct, &g1), Err(Error::WrongSignature));
    assert_eq!(
        decrypt(&ct, &[0u8; 10]),
        Err(Error::InvalidSignatureEncoding)
    );
}

#[test]
fn every_altered_byte_is_refused() {
    let ct = encrypt(b"tamper with me", 1000, &mut rng(6));
    let sig = sig1000();
    for i in 0..ct.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = ct.clone();
            bad[i] ^= flip;
            let result = decrypt(&bad, &sig);
            assert!(
                result.is_err(),
                "byte {i} ^ {flip:#x} decrypted: {result:?}"
            );
        }
    }
    // Specific refusals by region.
    let mut bad = ct.clone();
    bad[120] ^= 1; // header.v
    assert_eq!(decrypt(&bad, &sig), Err(Error::WrongSignature));
    let mut bad = ct.clone();
    bad[160] ^= 1; // header.w
    assert_eq!(decrypt(&bad, &sig), Err(Error::WrongSignature));
    let mut bad = ct.clone();
    bad[195] ^= 1; // AES ciphertext
    assert_eq!(decrypt(&bad, &sig), Err(Error::BodyAuthentication));
    let mut bad = ct.clone();
    let n = bad.len();
    bad[n - 1] = b'X'; // cipher suite
    assert!(matches!(
        decrypt(&bad, &sig),
        Err(Error::UnsupportedCipherSuite(_))
    ));
}

#[test]
fn every_truncation_and_any_trailing_byte_is_refused() {
    let ct = encrypt(b"short", 1000, &mut rng(7));
    for len in 0..ct.len() {
        assert!(decrypt(&ct[..len], &sig1000()).is_err(), "prefix {len}");
    }
    let mut long = ct.clone();
    long.push(0);
    assert_eq!(decrypt(&long, &sig1000()), Err(Error::TrailingBytes(1)));
    assert!(matches!(
        decrypt(
            &vec![0u8; arena_timelock::MAX_CIPHERTEXT_LEN + 1],
            &sig1000()
        ),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn hostile_length_prefixes_are_refused_before_any_allocation() {
    let ct = encrypt(b"prefixes", 1000, &mut rng(8));
    // Offsets of every u64 length prefix in the layout.
    let body_len = u64::from_le_bytes(ct[176..184].try_into().unwrap()) as usize;
    let aes_len = u64::from_le_bytes(ct[184..192].try_into().unwrap()) as usize;
    let prefixes = [96, 136, 176, 184, 192 + aes_len, 184 + body_len];
    for at in prefixes {
        for value in [u64::MAX, u64::MAX / 2, 1 << 40, 0] {
            let mut bad = ct.clone();
            bad[at..at + 8].copy_from_slice(&value.to_le_bytes());
            let result = decrypt(&bad, &sig1000());
            assert!(
                matches!(
                    result,
                    Err(Error::LengthPastEnd { .. }
                        | Error::FieldLength { .. }
                        | Error::Truncated { .. }
                        | Error::TrailingBytes(_)
                        | Error::UnsupportedCipherSuite(_))
                ),
                "prefix at {at} = {value}: {result:?}"
            );
        }
    }
    // Random bytes of many lengths: an error, never a panic.
    let mut r = rng(11);
    for len in [0, 1, 95, 96, 200, 295, 4096] {
        let mut junk = vec![0u8; len];
        rand::RngCore::fill_bytes(&mut r, &mut junk);
        assert!(decrypt(&junk, &sig1000()).is_err());
    }
}

#[test]
fn weights_payload_is_the_scale_of_the_chain_struct() {
    let payload = WeightsTlockPayload {
        hotkey: vec![0xaa; 32],
        uids: vec![0, 1],
        values: vec![100, 65535],
        version_key: 4,
    };
    let mut expected = vec![32 << 2];
    expected.extend([0xaa; 32]);
    expected.extend([2 << 2, 0, 0, 1, 0]);
    expected.extend([2 << 2, 100, 0, 0xff, 0xff]);
    expected.extend(4u64.to_le_bytes());
    assert_eq!(payload.to_scale(), expected);
    assert_eq!(WeightsTlockPayload::from_scale(&expected).unwrap(), payload);
    // Trailing bytes and truncation are refused.
    let mut long = expected.clone();
    long.push(0);
    assert!(matches!(
        WeightsTlockPayload::from_scale(&long),
        Err(Error::Payload(_))
    ));
    assert!(WeightsTlockPayload::from_scale(&expected[..50]).is_err());
    // A compact length announcing 2^30 uids in 10 bytes is refused without allocating them.
    let hostile = [0u8, 0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0];
    assert!(WeightsTlockPayload::from_scale(&hostile).is_err());
}

#[test]
fn sealed_weights_open_to_the_same_payload() {
    let hotkey = [0x42u8; 32];
    let sealed =
        seal_weights(&hotkey, &[0, 1, 7], &[100, 65535, 3], 4, 1000, &mut rng(12)).unwrap();
    assert_eq!(sealed.len(), 176 + 8 + (8 + 55 + 16 + 8 + 12) + 16);
    let opened = open_weights(&sealed, &sig1000()).unwrap();
    assert_eq!(
        opened,
        WeightsTlockPayload {
            hotkey: hotkey.to_vec(),
            uids: vec![0, 1, 7],
            values: vec![100, 65535, 3],
            version_key: 4,
        }
    );
    // A ciphertext of something else opens but is no payload.
    let other = encrypt(b"\x01not a payload", 1000, &mut rng(13));
    assert!(matches!(
        open_weights(&other, &sig1000()),
        Err(Error::Payload(_))
    ));
}

#[test]
fn seal_refuses_mismatched_vectors_and_commits_over_the_chain_limit() {
    assert_eq!(
        seal_weights(&[0; 32], &[0, 1], &[1], 0, 1000, &mut rng(14)),
        Err(Error::WeightsMismatch { uids: 2, values: 1 })
    );
    let uids: Vec<u16> = (0..2048).collect();
    assert!(matches!(
        seal_weights(&[0; 32], &uids, &uids, 0, 1000, &mut rng(15)),
        Err(Error::CommitTooLarge {
            max: MAX_COMMIT_LEN,
            ..
        })
    ));
    // 1024 uids (a full metagraph of SN37's size) fit: 4 bytes each plus the overhead.
    let uids: Vec<u16> = (0..1024).collect();
    let sealed = seal_weights(&[0; 32], &uids, &uids, 0, 1000, &mut rng(16)).unwrap();
    assert!(sealed.len() <= MAX_COMMIT_LEN);
}

#[test]
fn a_commit_recorded_from_the_python_sdk_opens() {
    let ct = hex::decode(SDK_COMMIT_ROUND_1000).unwrap();
    assert_eq!(
        open_weights(&ct, &sig1000()).unwrap(),
        WeightsTlockPayload {
            hotkey: (0u8..32).collect(),
            uids: vec![0, 1, 5, 1023],
            values: vec![100, 65535, 0, 7],
            version_key: 4,
        }
    );
    // Its layout is ours: same length as our seal of the same weights.
    let hotkey: Vec<u8> = (0u8..32).collect();
    let ours = seal_weights(
        &hotkey,
        &[0, 1, 5, 1023],
        &[100, 65535, 0, 7],
        4,
        1000,
        &mut rng(17),
    )
    .unwrap();
    assert_eq!(ours.len(), ct.len());
    assert_eq!(ours[96..104], ct[96..104]);
    assert_eq!(ours[ours.len() - 16..], ct[ct.len() - 16..]);
}
