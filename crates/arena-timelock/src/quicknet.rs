//! The drand quicknet beacon: its constants, the identity of a round, and signature checks.
//!
//! Quicknet runs the `bls-unchained-g1-rfc9380` scheme: the group public key is a G2 point, the
//! signature of round `r` is `sk · H(sha256(r as big-endian u64))` in G1, where `H` is RFC 9380's
//! `hash_to_curve` for BLS12-381 G1 (expand_message_xmd with SHA-256, simplified SWU) under the
//! domain separation tag [`QUICKNET_DST`].

use ark_bls12_381::{Bls12_381, G1Affine, G1Projective, G2Affine};
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::hashing::HashToCurve;
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_ff::One;
use ark_serialize::CanonicalDeserialize;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

use crate::Error;

/// Quicknet's chain hash (hex), the name drand's HTTP API uses for the beacon.
pub const QUICKNET_CHAIN_HASH: &str =
    "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";

/// Quicknet's group public key: a compressed G2 point, hex.
pub const QUICKNET_PUBLIC_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";

/// Unix time (seconds) of quicknet's genesis; round 1 is produced at this instant.
pub const QUICKNET_GENESIS_TIME: u64 = 1_692_803_367;

/// Seconds between two quicknet rounds.
pub const QUICKNET_PERIOD: u64 = 3;

/// The domain separation tag quicknet hashes round identities to G1 with.
pub const QUICKNET_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// Length of a compressed quicknet signature (a G1 point).
pub const SIGNATURE_LEN: usize = 48;

/// Quicknet's public key as a point (parsed once).
pub(crate) fn public_key() -> G2Affine {
    static KEY: OnceLock<G2Affine> = OnceLock::new();
    *KEY.get_or_init(|| {
        let bytes = hex::decode(QUICKNET_PUBLIC_KEY).expect("the public key constant is hex");
        G2Affine::deserialize_compressed(&bytes[..]).expect("the public key constant is a point")
    })
}

/// The message drand signs for `round`: sha256 of the round as a big-endian u64.
pub fn round_message(round: u64) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

/// The identity point of `round`: its message hashed to G1 (RFC 9380, [`QUICKNET_DST`]).
pub(crate) fn identity_point(round: u64) -> G1Affine {
    type Hasher = MapToCurveBasedHasher<
        G1Projective,
        DefaultFieldHasher<Sha256, 128>,
        WBMap<ark_bls12_381::g1::Config>,
    >;
    let hasher = Hasher::new(QUICKNET_DST).expect("the G1 map parameters are valid");
    hasher
        .hash(&round_message(round))
        .expect("hashing a 32-byte message to G1 cannot fail")
}

/// Parse a 48-byte compressed signature, checking it is on the curve and in the subgroup.
pub(crate) fn parse_signature(signature: &[u8]) -> Result<G1Affine, Error> {
    if signature.len() != SIGNATURE_LEN {
        return Err(Error::InvalidSignatureEncoding);
    }
    G1Affine::deserialize_compressed(signature).map_err(|_| Error::InvalidSignatureEncoding)
}

/// Check that `signature` (48 bytes, compressed G1) is quicknet's signature of `round`:
/// `e(signature, g2) == e(H(round), public key)`.
pub fn verify_round_signature(round: u64, signature: &[u8]) -> Result<(), Error> {
    let sig = parse_signature(signature)?;
    let minus_g2 = -G2Affine::generator().into_group();
    let check = Bls12_381::multi_pairing(
        [sig, identity_point(round)],
        [minus_g2.into_affine(), public_key()],
    );
    if check.0.is_one() {
        Ok(())
    } else {
        Err(Error::SignatureNotForRound(round))
    }
}

/// The quicknet round being produced at unix time `unix_secs`: `(t − genesis) / period`,
/// rounded down, at least 1 (the arithmetic of the Python SDK; NaN gives 1).
pub fn round_at(unix_secs: f64) -> u64 {
    let round = ((unix_secs - QUICKNET_GENESIS_TIME as f64) / QUICKNET_PERIOD as f64).floor();
    if round.is_nan() || round < 1.0 {
        1
    } else {
        round as u64
    }
}

/// Unix time (seconds) at which quicknet publishes `round` (round 1 at genesis).
pub fn round_time(round: u64) -> u64 {
    QUICKNET_GENESIS_TIME.saturating_add(round.saturating_sub(1).saturating_mul(QUICKNET_PERIOD))
}
