//! SS58 addresses: base58 of `prefix ‖ key ‖ checksum`, checksum = first 2 bytes of
//! blake2b-512("SS58PRE" ‖ prefix ‖ key). Only single-byte prefixes (< 64) are produced;
//! two-byte prefixes are decoded.

use blake2::{Blake2b512, Digest};

/// Bittensor (and generic Substrate) addresses use prefix 42.
pub const BITTENSOR_PREFIX: u16 = 42;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Ss58Error {
    #[error("SS58 address {0:?} is not base58")]
    Base58(String),
    #[error(
        "SS58 address {address:?} has {len} bytes; expected 35 (or 36 with a two-byte prefix)"
    )]
    Length { address: String, len: usize },
    #[error("SS58 address {0:?} has a bad checksum")]
    Checksum(String),
    #[error("SS58 address {address:?} has prefix {prefix}; expected 42")]
    WrongPrefix { address: String, prefix: u16 },
}

fn checksum(payload: &[u8]) -> [u8; 2] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(payload);
    let out = h.finalize();
    [out[0], out[1]]
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
        // Not base58 (0 and l are not in the alphabet).
        assert!(matches!(decode("0lll"), Err(Ss58Error::Base58(_))));
        // Polkadot prefix 0 decodes but is not Bittensor's.
        let (_, k) = decode(ALICE).unwrap();
        let dot = encode(&k, 0);
        assert_eq!(decode(&dot).unwrap().0, 0);
        assert!(crate::PublicKey::from_ss58(&dot).is_err());
    }
}
