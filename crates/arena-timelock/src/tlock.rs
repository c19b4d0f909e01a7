//! Timelock encryption to a quicknet round: Boneh–Franklin FullIdent IBE for a 32-byte key,
//! AES-256-GCM for the message, serialized as Subtensor's `tle` crate writes a `TLECiphertext`.
//!
//! Layout (ark-serialize compressed; every byte vector is a little-endian u64 length, then the
//! bytes):
//!
//! ```text
//! header.u        96   compressed G2 point U = r·G2
//! header.v      8+32   sigma ⊕ sha256(compressed e(Q_id, r·P_pub))     (576-byte GT element)
//! header.w      8+32   key ⊕ sha256(sigma)
//! body        8+n      the AES output, itself serialized:
//!   ciphertext  8+m      AES-256-GCM(key, nonce, message) with its 16-byte tag
//!   nonce       8+12
//! cipher_suite  8+8    "AES_GCM_"
//! ```
//!
//! with `sigma = sha256(compressed t)` for a random scalar `t`, `r = sha256(sigma ‖ key)` read
//! big-endian modulo the group order, `Q_id` the round's identity point and `P_pub` quicknet's
//! public key. Decryption with the round's signature `s = sk·Q_id` recomputes
//! `e(s, U) = e(Q_id, r·P_pub)`, recovers sigma and the key, and checks `U == r·G2`.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ark_bls12_381::{Bls12_381, Fr, G1Affine, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{PrimeField, UniformRand};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::quicknet::{identity_point, parse_signature, public_key};
use crate::Error;

/// The cipher suite tag the chain's `tle` writes for AES-256-GCM bodies.
pub const CIPHER_SUITE: &[u8] = b"AES_GCM_";

/// Length of a compressed G2 point.
const G2_LEN: usize = 96;
/// AES-GCM nonce length.
const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// The largest ciphertext [`decrypt`] reads (1 MiB); Subtensor's commits are at most 5000 bytes.
pub const MAX_CIPHERTEXT_LEN: usize = 1 << 20;

/// Encrypt `message` so that it opens with quicknet's signature of `round`.
///
/// The result is the compressed `TLECiphertext` the chain's `tle` crate reads. The randomness
/// (AES key, IBE scalar, nonce) comes from `rng`.
pub fn encrypt<R: RngCore + CryptoRng>(message: &[u8], round: u64, rng: &mut R) -> Vec<u8> {
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);

    // Header: BF-IBE FullIdent encryption of the 32-byte key to the round's identity.
    let t = Fr::rand(rng);
    let mut t_bytes = Vec::with_capacity(32);
    t.serialize_compressed(&mut t_bytes)
        .expect("a scalar serializes into a Vec");
    let sigma: [u8; 32] = Sha256::digest(&t_bytes).into();
    let r = h3(&sigma, &key);
    let u = (G2Affine::generator() * r).into_affine();
    let g_id = Bls12_381::pairing(identity_point(round), (public_key() * r).into_affine());
    let v = xor32(&sigma, &h2(&g_id.0));
    let w = xor32(&key, &Sha256::digest(sigma).into());

    // Body: AES-256-GCM under the key, empty associated data.
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let sealed = Aes256Gcm::new((&key).into())
        .encrypt(Nonce::from_slice(&nonce), message)
        .expect("AES-GCM encrypts any message shorter than 64 GiB");

    let mut body = Vec::with_capacity(8 + sealed.len() + 8 + NONCE_LEN);
    put_bytes(&mut body, &sealed);
    put_bytes(&mut body, &nonce);

    let mut out = Vec::with_capacity(G2_LEN + 2 * 40 + 8 + body.len() + 8 + CIPHER_SUITE.len());
    u.serialize_compressed(&mut out)
        .expect("a point serializes into a Vec");
    put_bytes(&mut out, &v);
    put_bytes(&mut out, &w);
    put_bytes(&mut out, &body);
    put_bytes(&mut out, CIPHER_SUITE);
    out
}

/// Decrypt a compressed `TLECiphertext` with the drand signature (48 bytes, compressed G1) of
/// the round it was encrypted to.
///
/// Refuses, with a typed [`Error`] and without allocating more than the input's size: a
/// truncated or over-long input, a length prefix past the end, fields of the wrong size, an
/// invalid point, another cipher suite, a signature of another round, an altered body.
pub fn decrypt(ciphertext: &[u8], signature: &[u8]) -> Result<Vec<u8>, Error> {
    let parsed = Parsed::read(ciphertext)?;
    let sig = parse_signature(signature)?;
    let key = open_header(&parsed, sig)?;
    Aes256Gcm::new((&key).into())
        .decrypt(Nonce::from_slice(parsed.nonce), parsed.sealed)
        .map_err(|_| Error::BodyAuthentication)
}

/// Recover the AES key from the IBE header with the round's signature.
fn open_header(ct: &Parsed<'_>, sig: G1Affine) -> Result<[u8; 32], Error> {
    let g_id = Bls12_381::pairing(sig, ct.u);
    let sigma = xor32(ct.v, &h2(&g_id.0));
    let key = xor32(ct.w, &Sha256::digest(sigma).into());
    let r = h3(&sigma, &key);
    if G2Projective::from(ct.u) != G2Affine::generator() * r {
        return Err(Error::WrongSignature);
    }
    Ok(key)
}

/// `H2`: GT → 32 bytes, sha256 of the element's compressed serialization.
fn h2<T: CanonicalSerialize>(gt: &T) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(576);
    gt.serialize_compressed(&mut bytes)
        .expect("a field element serializes into a Vec");
    Sha256::digest(&bytes).into()
}

/// `H3`: (sigma, key) → scalar, sha256(sigma ‖ key) read big-endian modulo the group order.
fn h3(sigma: &[u8; 32], key: &[u8; 32]) -> Fr {
    let mut h = Sha256::new();
    h.update(sigma);
    h.update(key);
    Fr::from_be_bytes_mod_order(&h.finalize())
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A ciphertext's fields, borrowed from the input.
struct Parsed<'a> {
    u: G2Affine,
    v: &'a [u8; 32],
    w: &'a [u8; 32],
    sealed: &'a [u8],
    nonce: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn read(input: &'a [u8]) -> Result<Self, Error> {
        if input.len() > MAX_CIPHERTEXT_LEN {
            return Err(Error::TooLong {
                len: input.len(),
                max: MAX_CIPHERTEXT_LEN,
            });
        }
        let mut r = Reader(input);
        let u_bytes = r.take(G2_LEN, "header.u")?;
        let u = G2Affine::deserialize_compressed(u_bytes).map_err(|_| Error::InvalidHeaderPoint)?;
        let v = r.fixed::<32>("header.v")?;
        let w = r.fixed::<32>("header.w")?;
        let body = r.bytes("body")?;
        let suite = r.bytes("cipher_suite")?;
        if !r.0.is_empty() {
            return Err(Error::TrailingBytes(r.0.len()));
        }
        let mut b = Reader(body);
        let sealed = b.bytes("body.ciphertext")?;
        let nonce = b.bytes("body.nonce")?;
        if !b.0.is_empty() {
            return Err(Error::TrailingBytes(b.0.len()));
        }
        if nonce.len() != NONCE_LEN {
            return Err(Error::FieldLength {
                field: "body.nonce",
                len: nonce.len() as u64,
                expected: NONCE_LEN,
            });
        }
        if sealed.len() < TAG_LEN {
            return Err(Error::Truncated {
                field: "body.ciphertext",
            });
        }
        if suite != CIPHER_SUITE {
            return Err(Error::UnsupportedCipherSuite(
                String::from_utf8_lossy(suite).into_owned(),
            ));
        }
        Ok(Parsed {
            u,
            v,
            w,
            sealed,
            nonce,
        })
    }
}

/// A cursor over borrowed bytes; lengths are checked against what is left before any use.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Truncated { field });
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    /// `N` bytes, no length prefix.
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<&'a [u8; N], Error> {
        let bytes = self.take(N, field)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    /// A u64 little-endian length, then that many bytes.
    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], Error> {
        let len = u64::from_le_bytes(*self.array::<8>(field)?);
        let left = self.0.len();
        if len > left as u64 {
            return Err(Error::LengthPastEnd { field, len, left });
        }
        self.take(len as usize, field)
    }

    /// A byte vector that must hold exactly `N` bytes.
    fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<&'a [u8; N], Error> {
        let len = u64::from_le_bytes(*self.array::<8>(field)?);
        if len != N as u64 {
            return Err(Error::FieldLength {
                field,
                len,
                expected: N,
            });
        }
        self.array::<N>(field)
    }
}
