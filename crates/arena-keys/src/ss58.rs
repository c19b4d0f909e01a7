//! SS58 addresses: base58 of `prefix ‖ key ‖ checksum`, checksum = first 2 bytes of
//! blake2b-512("SS58PRE" ‖ prefix ‖ key). Only single-byte prefixes (< 64) are produced;
//! two-byte prefixes are decoded.

use blake2::{Blake2b512, Digest};

/// Bittensor (and generic Substrate) addresses use prefix 42.
pub const BITTENSOR_PREFIX: u16 = 42;

/// Longest text accepted as an address, checked before any decoding (base58 decoding is
/// quadratic in the length). A 36-byte payload is at most 50 characters.
pub const MAX_ADDRESS_CHARS: usize = 64;

/// Why a text is not an SS58 address of this network (prefix 42).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Ss58Error {
    /// Longer than [`MAX_ADDRESS_CHARS`]; refused before decoding.
    #[error("SS58 address {address:?} is {len} bytes long; an address has at most 64")]
    TooLong {
        /// The address as given.
        address: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Not base58 text.
    #[error("SS58 address {0:?} is not base58")]
    Base58(String),
    /// Decodes to a length no account address has.
    #[error(
        "SS58 address {address:?} has {len} bytes; expected 35 (or 36 with a two-byte prefix)"
    )]
    Length {
        /// The address as given.
        address: String,
        /// The decoded length in bytes.
        len: usize,
    },
    /// The two checksum bytes do not match.
    #[error("SS58 address {0:?} has a bad checksum")]
    Checksum(String),
    /// An address of another network.
    #[error("SS58 address {address:?} has prefix {prefix}; expected 42")]
    WrongPrefix {
        /// The address as given.
        address: String,
        /// The network prefix found.
        prefix: u16,
    },
}

fn checksum(payload: &[u8]) -> [u8; 2] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(payload);
    let out = h.finalize();
    [out[0], out[1]]
}

/// The first characters of an over-long address, for error messages.
fn shorten(address: &str) -> String {
    let mut short: String = address.chars().take(16).collect();
    short.push('…');
    short
}

/// Encodes a 32-byte public key with a prefix below 64.
pub fn encode(key: &[u8; 32], prefix: u16) -> String {
    assert!(prefix < 64, "only simple prefixes are encoded");
    let mut payload = Vec::with_capacity(35);
    payload.push(prefix as u8);
    payload.extend_from_slice(key);
    let sum = checksum(&payload);
    payload.extend_from_slice(&sum);
    bs58::encode(payload).into_string()
}

/// Decodes an address into (prefix, key), checking length and checksum.
pub fn decode(address: &str) -> Result<(u16, [u8; 32]), Ss58Error> {
    if address.len() > MAX_ADDRESS_CHARS {
        return Err(Ss58Error::TooLong {
            address: shorten(address),
            len: address.len(),
        });
    }
    let data = bs58::decode(address)
        .into_vec()
        .map_err(|_| Ss58Error::Base58(address.to_string()))?;
    let (prefix, prefix_len) = match data.first() {
        Some(&b) if b < 64 => (b as u16, 1),
        Some(&b) if b < 128 && data.len() > 1 => {
            let lower = (b << 2) | (data[1] >> 6);
            let upper = data[1] & 0b0011_1111;
            ((lower as u16) | ((upper as u16) << 8), 2)
        }
        _ => {
            return Err(Ss58Error::Length {
                address: address.to_string(),
                len: data.len(),
            })
        }
    };
    if data.len() != prefix_len + 32 + 2 {
        return Err(Ss58Error::Length {
            address: address.to_string(),
            len: data.len(),
        });
    }
    let (payload, sum) = data.split_at(prefix_len + 32);
    if checksum(payload) != sum {
        return Err(Ss58Error::Checksum(address.to_string()));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&payload[prefix_len..]);
    Ok((prefix, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn alice_roundtrip() {
        let (p, k) = decode(ALICE).unwrap();
        assert_eq!(p, 42);
        assert_eq!(
            hex::encode(k),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        assert_eq!(encode(&k, 42), ALICE);
    }

    #[test]
    fn malformed_addresses() {
        // Bad checksum: change the last character.
        let mut bad = ALICE.to_string();
        bad.pop();
        bad.push('Z');
        assert_eq!(decode(&bad), Err(Ss58Error::Checksum(bad.clone())));
        // Wrong length.
        assert!(matches!(
            decode(&ALICE[..40]),
            Err(Ss58Error::Length { len: 29, .. })
        ));
        // Too long: refused before decoding, without echoing the whole text.
        let long = "5".repeat(40_000);
        match decode(&long) {
            Err(Ss58Error::TooLong { address, len }) => {
                assert_eq!(len, 40_000);
                assert!(address.chars().count() <= 17, "{address}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode(&format!("{ALICE}{}", "1".repeat(17))),
            Err(Ss58Error::TooLong { len: 65, .. })
        ));
        // Not base58 (0 and l are not in the alphabet).
        assert!(matches!(decode("0lll"), Err(Ss58Error::Base58(_))));
        // Polkadot prefix 0 decodes but is not Bittensor's.
        let (_, k) = decode(ALICE).unwrap();
        let dot = encode(&k, 0);
        assert_eq!(decode(&dot).unwrap().0, 0);
        assert!(crate::PublicKey::from_ss58(&dot).is_err());
    }

    #[test]
    fn a_40k_character_address_is_refused_in_under_10_ms() {
        let long: String = "z".repeat(40_000);
        // Warm up, then time the worst of several tries.
        let _ = decode(&long);
        let worst = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                assert!(decode(&long).is_err());
                assert!(crate::PublicKey::from_ss58(&long).is_err());
                assert!(long.parse::<crate::PublicKey>().is_err());
                start.elapsed()
            })
            .max()
            .unwrap();
        assert!(worst < std::time::Duration::from_millis(10), "{worst:?}");
    }
}
