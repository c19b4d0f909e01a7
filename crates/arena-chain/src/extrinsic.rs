//! Signed extrinsics: the only way state changes.
//!
//! # Canonical signing payload (version 1)
//!
//! Every integer is little-endian; `vec<T>` is a u32 element count followed by the elements;
//! `bytes` is a u32 length followed by the bytes.
//!
//! ```text
//! payload = "arena-chain/extrinsic/v1"      (24 ASCII bytes, domain separation)
//!         ‖ genesis_hash                      (32 bytes: ties the signature to one chain)
//!         ‖ signer                            (32-byte sr25519 public key)
//!         ‖ nonce                             (u64)
//!         ‖ call_index                        (u8, see below)
//!         ‖ call fields                       (in the order listed)
//!
//! 0 create_subnet   hyperparameters: bytes (the JSON of `Hyperparameters`, field order fixed)
//! 1 burned_register netuid: u16, hotkey: [u8; 32]
//! 2 add_stake       hotkey: [u8; 32], netuid: u16, amount: u64
//! 3 set_commitment  netuid: u16, data: bytes
//! 4 set_weights     netuid: u16, uids: vec<u16>, weights: vec<u16>, version_key: u64
//! ```
//!
//! The signature is sr25519 (signing context `substrate`) over `payload`. The chain rebuilds
//! the payload from the decoded call and its own genesis hash and verifies before anything
//! touches state, so a changed field, a different chain or a different signer fails with
//! `BadProof`; the nonce must equal the signer's next nonce (`Stale` below, `Future` above).

use arena_keys::{Keypair, PublicKey, Signature};
use blake2::digest::{Update, VariableOutput};
use serde::{Deserialize, Serialize};

use crate::error::{ChainError, ChainResult};
use crate::types::{hex_bytes, ss58_serde, BlockHash, Hyperparameters, NetUid, Uid};

/// Domain-separation prefix of every signing payload.
pub const PAYLOAD_DOMAIN: &[u8; 24] = b"arena-chain/extrinsic/v1";

/// A state-changing call, with the same arguments as the subtensor/Commitments dispatchable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    /// `register_network`: creates a subnet owned by the signing coldkey.
    CreateSubnet {
        /// The new subnet's parameters.
        hyperparameters: Hyperparameters,
    },
    /// `burned_register(netuid, hotkey)`, signed by the coldkey that will own the hotkey.
    BurnedRegister {
        /// The subnet.
        netuid: NetUid,
        /// The hotkey.
        #[serde(with = "ss58_serde")]
        hotkey: PublicKey,
    },
    /// `add_stake(hotkey, netuid, amount)`, signed by a coldkey. The local chain has no
    /// balances: the amount is minted into the hotkey's stake.
    AddStake {
        /// The hotkey.
        #[serde(with = "ss58_serde")]
        hotkey: PublicKey,
        /// The subnet.
        netuid: NetUid,
        /// Stake to add, in rao.
        amount: u64,
    },
    /// `Commitments.set_commitment(netuid, info)` with one `Raw` field, signed by the hotkey.
    SetCommitment {
        /// The subnet.
        netuid: NetUid,
        /// The commitment's bytes (at most 128).
        #[serde(with = "hex_bytes")]
        data: Vec<u8>,
    },
    /// `set_weights(netuid, dests, weights, version_key)`, signed by the hotkey.
    SetWeights {
        /// The subnet.
        netuid: NetUid,
        /// Destination uids (`dests`).
        uids: Vec<Uid>,
        /// One u16 weight per uid.
        weights: Vec<u16>,
        /// Must be at least the subnet's `WeightsVersionKey`.
        version_key: u64,
    },
}

impl Call {
    /// The dispatchable's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Call::CreateSubnet { .. } => "create_subnet",
            Call::BurnedRegister { .. } => "burned_register",
            Call::AddStake { .. } => "add_stake",
            Call::SetCommitment { .. } => "set_commitment",
            Call::SetWeights { .. } => "set_weights",
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> ChainResult<()> {
        match self {
            Call::CreateSubnet { hyperparameters } => {
                out.push(0);
                let json =
                    serde_json::to_vec(hyperparameters).map_err(|e| ChainError::InvalidData {
                        reason: format!("hyperparameters: {e}"),
                    })?;
                put_bytes(out, &json);
            }
            Call::BurnedRegister { netuid, hotkey } => {
                out.push(1);
                out.extend_from_slice(&netuid.to_le_bytes());
                out.extend_from_slice(&hotkey.0);
            }
            Call::AddStake {
                hotkey,
                netuid,
                amount,
            } => {
                out.push(2);
                out.extend_from_slice(&hotkey.0);
                out.extend_from_slice(&netuid.to_le_bytes());
                out.extend_from_slice(&amount.to_le_bytes());
            }
            Call::SetCommitment { netuid, data } => {
                out.push(3);
                out.extend_from_slice(&netuid.to_le_bytes());
                put_bytes(out, data);
            }
            Call::SetWeights {
                netuid,
                uids,
                weights,
                version_key,
            } => {
                out.push(4);
                out.extend_from_slice(&netuid.to_le_bytes());
                put_u16s(out, uids);
                put_u16s(out, weights);
                out.extend_from_slice(&version_key.to_le_bytes());
            }
        }
        Ok(())
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_u16s(out: &mut Vec<u8>, values: &[u16]) {
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The canonical bytes a signer signs (see the module documentation).
pub fn signing_payload(
    genesis: &BlockHash,
    signer: &PublicKey,
    nonce: u64,
    call: &Call,
) -> ChainResult<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(PAYLOAD_DOMAIN);
    out.extend_from_slice(&genesis.0);
    out.extend_from_slice(&signer.0);
    out.extend_from_slice(&nonce.to_le_bytes());
    call.encode_into(&mut out)?;
    Ok(out)
}

/// A call with its signer, nonce and signature, as submitted and stored in blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedExtrinsic {
    /// Account that signed (coldkey or hotkey depending on the call).
    #[serde(with = "ss58_serde")]
    pub signer: PublicKey,
    /// The signer's nonce; each accepted extrinsic increments it by one.
    pub nonce: u64,
    /// What to do.
    pub call: Call,
    /// sr25519 signature over [`signing_payload`], `0x` hex in JSON.
    #[serde(with = "sig_serde")]
    pub signature: Signature,
}

impl SignedExtrinsic {
    /// Signs `call` for the chain with `genesis` hash.
    pub fn sign(
        genesis: &BlockHash,
        keypair: &Keypair,
        nonce: u64,
        call: Call,
    ) -> ChainResult<Self> {
        let signer = keypair.public();
        let payload = signing_payload(genesis, &signer, nonce, &call)?;
        Ok(SignedExtrinsic {
            signer,
            nonce,
            call,
            signature: keypair.sign(&payload),
        })
    }

    /// Checks the signature against this chain's genesis hash; `BadProof` if it fails.
    pub fn verify(&self, genesis: &BlockHash) -> ChainResult<()> {
        let payload = signing_payload(genesis, &self.signer, self.nonce, &self.call)?;
        // Exactly the payload: a `<Bytes>`-wrapped message signature does not count here.
        if self.signer.verify_exact(&payload, &self.signature) {
            Ok(())
        } else {
            Err(ChainError::BadProof {
                signer: self.signer.ss58(),
            })
        }
    }

    /// The bytes that go into the block hash: payload followed by the signature.
    pub fn encoded(&self, genesis: &BlockHash) -> ChainResult<Vec<u8>> {
        let mut bytes = signing_payload(genesis, &self.signer, self.nonce, &self.call)?;
        bytes.extend_from_slice(&self.signature.0);
        Ok(bytes)
    }
}

/// An extrinsic verified by a front end that speaks another wire format (the Substrate
/// JSON-RPC of `arena-substrate`), stored with its original bytes. The front end has checked
/// its signature; the chain checks its nonce and dispatches its call. Unlike an arena
/// [`SignedExtrinsic`], a failed dispatch is included all the same and uses its nonce, as
/// on Substrate: `failed` then holds the dispatch error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncodedExtrinsic {
    /// The verified signer.
    #[serde(with = "ss58_serde")]
    pub signer: PublicKey,
    /// The signer's nonce.
    pub nonce: u64,
    /// What it does, in arena's terms; `None` when the front end already knows that it fails
    /// (a call arena cannot dispatch, such as weights for a mechanism other than 0): then
    /// `failed` holds the error and the extrinsic is included as failed.
    pub call: Option<Call>,
    /// The extrinsic exactly as submitted (`0x` hex in JSON).
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
    /// The dispatch error when it failed (set by the chain, or by the front end with no call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<ChainError>,
    /// What the call assigned (the uid of a registration, the netuid of a new subnet); set by
    /// the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<u16>,
}

/// One extrinsic of a block body: arena's own format, or another front end's bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BodyExtrinsic {
    /// Signed with arena's payload ([`SignedExtrinsic`]).
    Arena(SignedExtrinsic),
    /// Verified by another front end ([`EncodedExtrinsic`]).
    Encoded(EncodedExtrinsic),
}

impl BodyExtrinsic {
    /// The account that signed it.
    pub fn signer(&self) -> &PublicKey {
        match self {
            BodyExtrinsic::Arena(e) => &e.signer,
            BodyExtrinsic::Encoded(e) => &e.signer,
        }
    }

    /// Its nonce.
    pub fn nonce(&self) -> u64 {
        match self {
            BodyExtrinsic::Arena(e) => e.nonce,
            BodyExtrinsic::Encoded(e) => e.nonce,
        }
    }

    /// Its call (`None` for an encoded extrinsic that failed before dispatch).
    pub fn call(&self) -> Option<&Call> {
        match self {
            BodyExtrinsic::Arena(e) => Some(&e.call),
            BodyExtrinsic::Encoded(e) => e.call.as_ref(),
        }
    }

    /// The dispatch error of an included extrinsic that failed (only encoded extrinsics:
    /// a failing arena extrinsic is never included).
    pub fn failed(&self) -> Option<&ChainError> {
        match self {
            BodyExtrinsic::Arena(_) => None,
            BodyExtrinsic::Encoded(e) => e.failed.as_ref(),
        }
    }

    /// The bytes the block commits to: arena's payload and signature, or the submitted bytes.
    pub fn bytes(&self, genesis: &BlockHash) -> ChainResult<Vec<u8>> {
        match self {
            BodyExtrinsic::Arena(e) => e.encoded(genesis),
            BodyExtrinsic::Encoded(e) => Ok(e.bytes.clone()),
        }
    }
}

/// blake2b with a 256-bit output (Substrate's `blake2_256`).
pub fn blake2_256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = blake2::Blake2bVar::new(32).expect("32 is a valid blake2b output size");
    for part in parts {
        hasher.update(part);
    }
    let mut out = [0u8; 32];
    hasher
        .finalize_variable(&mut out)
        .expect("output buffer matches the requested size");
    out
}

mod sig_serde {
    use arena_keys::Signature;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &Signature, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&sig.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Signature, D::Error> {
        let text = String::deserialize(d)?;
        Signature::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_layout_is_fixed() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let genesis = BlockHash([7; 32]);
        let call = Call::SetWeights {
            netuid: 2,
            uids: vec![1, 3],
            weights: vec![10, 65535],
            version_key: 9,
        };
        let p = signing_payload(&genesis, &alice.public(), 5, &call).unwrap();
        assert_eq!(&p[..24], PAYLOAD_DOMAIN);
        assert_eq!(&p[24..56], &[7; 32]);
        assert_eq!(&p[56..88], &alice.public().0);
        assert_eq!(&p[88..96], &5u64.to_le_bytes());
        assert_eq!(
            &p[96..],
            &[
                4, 2, 0, 2, 0, 0, 0, 1, 0, 3, 0, 2, 0, 0, 0, 10, 0, 255, 255, 9, 0, 0, 0, 0, 0, 0,
                0
            ]
        );
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let genesis = BlockHash([1; 32]);
        let call = Call::SetCommitment {
            netuid: 1,
            data: b"a:b:c".to_vec(),
        };
        let ext = SignedExtrinsic::sign(&genesis, &alice, 0, call).unwrap();
        ext.verify(&genesis).unwrap();
        assert!(ext.verify(&BlockHash([2; 32])).is_err(), "other chain");
        let mut bumped = ext.clone();
        bumped.nonce = 1;
        assert_eq!(bumped.verify(&genesis).unwrap_err().name(), "BadProof");
        let json = serde_json::to_string(&ext).unwrap();
        let back: SignedExtrinsic = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ext);
    }

    #[test]
    fn a_wrapped_message_signature_is_not_an_extrinsic_signature() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let genesis = BlockHash([1; 32]);
        let call = Call::SetCommitment {
            netuid: 1,
            data: b"a:b:c".to_vec(),
        };
        let mut ext = SignedExtrinsic::sign(&genesis, &alice, 0, call).unwrap();
        let payload = signing_payload(&genesis, &ext.signer, ext.nonce, &ext.call).unwrap();
        // What `wallet sign` over the payload bytes would give.
        let mut wrapped = b"<Bytes>".to_vec();
        wrapped.extend_from_slice(&payload);
        wrapped.extend_from_slice(b"</Bytes>");
        ext.signature = alice.sign(&wrapped);
        assert!(
            alice.public().verify(&payload, &ext.signature),
            "valid as a message"
        );
        assert_eq!(ext.verify(&genesis).unwrap_err().name(), "BadProof");
    }

    #[test]
    fn blake2_256_matches_known_vector() {
        // blake2b-256("") from RFC 7693's parameterisation (Substrate's blake2_256 of empty input).
        assert_eq!(
            hex::encode(blake2_256(&[b""])),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
    }
}
