//! Signed extrinsics in Substrate's v4 format, decoded and checked as Subtensor checks them,
//! then handed to the embedded chain; and the `System.Events` each block's extrinsics produce.
//!
//! ```text
//! extrinsic = Compact(len) ‖ 0x84 ‖ MultiAddress::Id(account) ‖ MultiSignature::Sr25519(sig)
//!           ‖ era ‖ Compact(nonce) ‖ Compact(tip) ‖ metadata-hash mode ‖ call
//! payload   = call ‖ era ‖ Compact(nonce) ‖ Compact(tip) ‖ mode
//!           ‖ spec_version u32 ‖ transaction_version u32 ‖ genesis hash ‖ era birth block hash
//!           ‖ metadata hash (None: 0x00)          — blake2-256 of it when over 256 bytes
//! ```
//!
//! The empty transaction extensions (`CheckNonZeroSender`, `CheckWeight`, …) add nothing to
//! either. Checks, in Substrate's order, each a typed [`TxError`] before anything touches
//! state: the length prefix matches, the version is signed v4, the address is an account and
//! the signature sr25519, the call decodes with nothing left over; then the signature over
//! the payload, which commits to this chain's genesis, spec and transaction versions and the
//! era's birth block (a mortal era past its end, or born after the current block, fails here,
//! as on Substrate); then the nonce (`Stale` below the account's next, `Future` above). A call
//! whose own checks fail is included with `ExtrinsicFailed` and uses the nonce.

use arena_chain::{
    BlockHash, BodyExtrinsic, Call, Chain, ChainError, ChainResult, EncodedExtrinsic, LocalChain,
};
use arena_keys::{PublicKey, Signature};
use parity_scale_codec::{Compact, Decode, DecodeLimit, Encode};
use scale_info::TypeInfo;

use crate::metadata::{EXTRINSIC_VERSION, SPEC_VERSION, TRANSACTION_VERSION};
use crate::types::*;

/// Largest extrinsic accepted, in bytes (a set_weights for 4096 uids is about 16 KiB).
pub const MAX_EXTRINSIC_BYTES: usize = 128 * 1024;
/// Nesting limit when decoding a call.
const DEPTH_LIMIT: u32 = 32;

/// Why an extrinsic was refused (not included, nonce unused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes do not decode as an extrinsic of this chain.
    #[error("could not decode the extrinsic: {0}")]
    Malformed(String),
    /// Larger than [`MAX_EXTRINSIC_BYTES`].
    #[error("the extrinsic is {0} bytes; at most {MAX_EXTRINSIC_BYTES} are accepted")]
    Oversize(usize),
    /// Unsigned, another version, another address or signature scheme.
    #[error("{0}")]
    Unsupported(String),
    /// The signature does not match the payload.
    #[error("bad signature: the payload (call, era, nonce, tip, spec {SPEC_VERSION}, transaction version {TRANSACTION_VERSION}, genesis, era birth block) was signed differently, or the mortal era has ended")]
    BadProof,
    /// The era was born after the current block.
    #[error("the era's birth block {birth} is after the current block {current}")]
    AncientBirthBlock {
        /// Birth block.
        birth: u64,
        /// Block being built.
        current: u64,
    },
    /// The chain refused it (nonce, storage).
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// A decoded, not yet verified, signed extrinsic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The signer.
    pub signer: [u8; 32],
    /// The sr25519 signature.
    pub signature: [u8; 64],
    /// The signed extra.
    pub extra: Extra,
    /// The call.
    pub call: RuntimeCall,
    /// The call's bytes.
    pub call_bytes: Vec<u8>,
    /// Hash of the whole extrinsic (blake2-256 of its bytes, length prefix included).
    pub hash: [u8; 32],
}

/// Decodes an extrinsic (with its compact length prefix).
pub fn decode(bytes: &[u8]) -> Result<Decoded, TxError> {
    if bytes.len() > MAX_EXTRINSIC_BYTES {
        return Err(TxError::Oversize(bytes.len()));
    }
    let malformed =
        |what: &str, e: parity_scale_codec::Error| TxError::Malformed(format!("{what}: {e}"));
    let mut input = bytes;
    let len = Compact::<u32>::decode(&mut input)
        .map_err(|e| malformed("length prefix", e))?
        .0;
    if len as usize != input.len() {
        return Err(TxError::Malformed(format!(
            "length prefix says {len} bytes, {} follow",
            input.len()
        )));
    }
    let version = u8::decode(&mut input).map_err(|e| malformed("version", e))?;
    match version {
        0x84 => {}
        0x04 => {
            return Err(TxError::Unsupported(
                "unsigned extrinsics are not accepted: every call of this chain is signed".into(),
            ))
        }
        v => {
            return Err(TxError::Unsupported(format!(
                "extrinsic version byte {v:#04x}: only signed v4 (0x84) is accepted"
            )))
        }
    }
    let address = Address::decode(&mut input).map_err(|e| malformed("address", e))?;
    let MultiAddress::Id(AccountId32(signer)) = address else {
        return Err(TxError::Unsupported(
            "the address must be MultiAddress::Id".into(),
        ));
    };
    let signature =
        match MultiSignature::decode(&mut input).map_err(|e| malformed("signature", e))? {
            MultiSignature::Sr25519(sig) => sig,
            _ => {
                return Err(TxError::Unsupported(
                    "only sr25519 signatures are accepted".into(),
                ))
            }
        };
    let extra = Extra::decode(&mut input).map_err(|e| malformed("signed extra", e))?;
    let call_bytes = input.to_vec();
    let call = RuntimeCall::decode_all_with_depth_limit(DEPTH_LIMIT, &mut input)
        .map_err(|e| malformed("call", e))?;
    Ok(Decoded {
        signer,
        signature,
        extra,
        call,
        call_bytes,
        hash: arena_chain::extrinsic::blake2_256(&[bytes]),
    })
}

/// The bytes the signer signs (hashed when over 256 bytes).
pub fn signing_payload(
    call_bytes: &[u8],
    extra: &Extra,
    genesis: &BlockHash,
    birth_hash: &BlockHash,
) -> Vec<u8> {
    let mut payload = call_bytes.to_vec();
    extra.encode_to(&mut payload);
    SPEC_VERSION.encode_to(&mut payload);
    TRANSACTION_VERSION.encode_to(&mut payload);
    payload.extend_from_slice(&genesis.0);
    payload.extend_from_slice(&birth_hash.0);
    None::<[u8; 32]>.encode_to(&mut payload);
    if payload.len() > 256 {
        arena_chain::extrinsic::blake2_256(&[&payload]).to_vec()
    } else {
        payload
    }
}

/// Builds and signs an extrinsic (for tests and tools: the inverse of [`decode`]).
pub fn sign(
    keypair: &arena_keys::Keypair,
    call: &RuntimeCall,
    extra: Extra,
    genesis: &BlockHash,
    birth_hash: &BlockHash,
) -> Vec<u8> {
    let call_bytes = call.encode();
    let payload = signing_payload(&call_bytes, &extra, genesis, birth_hash);
    let sig = keypair.sign(&payload);
    let mut body = vec![0x84];
    Address::Id(AccountId32(keypair.public().0)).encode_to(&mut body);
    MultiSignature::Sr25519(sig.0).encode_to(&mut body);
    extra.encode_to(&mut body);
    body.extend_from_slice(&call_bytes);
    let mut out = Compact(body.len() as u32).encode();
    out.extend_from_slice(&body);
    out
}

/// Verifies the signature of a decoded extrinsic against the chain's state.
pub async fn verify(chain: &LocalChain, d: &Decoded) -> Result<(), TxError> {
    if d.extra.metadata_hash_mode != 0 {
        return Err(TxError::Unsupported(
            "CheckMetadataHash mode 1: this chain publishes no metadata hash; sign with mode 0"
                .into(),
        ));
    }
    let current = chain.pending_number()?;
    let birth = d.extra.era.birth(current);
    if birth > current {
        return Err(TxError::AncientBirthBlock { birth, current });
    }
    let birth_hash = match d.extra.era {
        Era::Immortal => chain.genesis(),
        Era::Mortal { .. } => chain
            .block_hash(Some(birth))
            .await?
            .ok_or(TxError::BadProof)?,
    };
    let payload = signing_payload(&d.call_bytes, &d.extra, &chain.genesis(), &birth_hash);
    let signer = PublicKey(d.signer);
    if signer.verify_exact(&payload, &Signature(d.signature)) {
        Ok(())
    } else {
        Err(TxError::BadProof)
    }
}

/// Arena's call for a decoded call, or the dispatch error it fails with before dispatch.
pub fn to_call(call: &RuntimeCall) -> Result<Result<Call, ChainError>, TxError> {
    use SubtensorCall as S;
    Ok(Ok(match call {
        RuntimeCall::SubtensorModule(S::set_weights {
            netuid,
            dests,
            weights,
            version_key,
        }) => Call::SetWeights {
            netuid: *netuid,
            uids: dests.clone(),
            weights: weights.clone(),
            version_key: *version_key,
        },
        RuntimeCall::SubtensorModule(S::set_mechanism_weights {
            netuid,
            mecid,
            dests,
            weights,
            version_key,
        }) => {
            if *mecid != 0 {
                return Ok(Err(module_error(
                    "SubtensorModule",
                    "MechanismDoesNotExist",
                    format!("mechanism {mecid} of subnet {netuid}: arena's subnets have mechanism 0 only"),
                )));
            }
            Call::SetWeights {
                netuid: *netuid,
                uids: dests.clone(),
                weights: weights.clone(),
                version_key: *version_key,
            }
        }
        RuntimeCall::SubtensorModule(S::add_stake {
            hotkey,
            netuid,
            amount_staked,
        })
        | RuntimeCall::SubtensorModule(S::add_stake_limit {
            hotkey,
            netuid,
            amount_staked,
            ..
        }) => Call::AddStake {
            hotkey: PublicKey(hotkey.0),
            netuid: *netuid,
            amount: *amount_staked,
        },
        RuntimeCall::SubtensorModule(S::burned_register { netuid, hotkey }) => {
            Call::BurnedRegister {
                netuid: *netuid,
                hotkey: PublicKey(hotkey.0),
            }
        }
        RuntimeCall::SubtensorModule(S::register_network { .. }) => Call::CreateSubnet {
            hyperparameters: arena_chain::Hyperparameters::default(),
        },
        RuntimeCall::ArenaChain(_) => {
            return Err(TxError::Unsupported(
                "ArenaChain calls only show arena's own extrinsics in blocks; submit those with \
                 arena_submitExtrinsic"
                    .into(),
            ))
        }
        RuntimeCall::Commitments(CommitmentsCall::set_commitment { netuid, info }) => {
            match info.fields.0.as_slice() {
                [Data::Raw(bytes)] => Call::SetCommitment {
                    netuid: *netuid,
                    data: bytes.clone(),
                },
                [] | [_] => {
                    return Err(TxError::Unsupported(
                        "arena's chain stores one Raw commitment field; this commitment has none"
                            .into(),
                    ))
                }
                _ => {
                    return Ok(Err(module_error(
                        "Commitments",
                        "TooManyFieldsInCommitmentInfo",
                        "arena's chain stores one Raw field per commitment".into(),
                    )))
                }
            }
        }
    }))
}

fn module_error(pallet: &str, name: &str, docs: String) -> ChainError {
    ChainError::Dispatch {
        pallet: pallet.into(),
        name: name.into(),
        docs,
    }
}

/// Decodes, verifies and submits an extrinsic: its hash, the block it goes into, its index
/// there, and the dispatch error when it was included as failed.
pub async fn submit(chain: &LocalChain, bytes: &[u8]) -> Result<Submitted, TxError> {
    let d = decode(bytes)?;
    verify(chain, &d).await?;
    let call = to_call(&d.call)?;
    let (call, failed) = match call {
        Ok(call) => (Some(call), None),
        Err(err) => (None, Some(err)),
    };
    let (receipt, failed) = chain.submit_encoded(EncodedExtrinsic {
        signer: PublicKey(d.signer),
        nonce: u64::from(d.extra.nonce.0),
        call,
        bytes: bytes.to_vec(),
        failed,
        assigned: None,
    })?;
    Ok(Submitted {
        hash: d.hash,
        block: receipt.block,
        index: receipt.index,
        failed,
    })
}

/// What became of a submitted extrinsic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// Its hash.
    pub hash: [u8; 32],
    /// The block it is in (being built until produced).
    pub block: u64,
    /// Its index in that block.
    pub index: u32,
    /// The dispatch error, when it was included as failed.
    pub failed: Option<ChainError>,
}

/// The dispatch error a chain error shows as: `Module { pallet index, error index }` when a
/// pallet of the metadata has an error of that name, else `Other`.
pub fn dispatch_error(err: &ChainError) -> DispatchError {
    let name = err.name();
    let find = |info: scale_info::Type, pallet: u8| -> Option<DispatchError> {
        let scale_info::TypeDef::Variant(v) = info.type_def else {
            return None;
        };
        v.variants.iter().find(|var| var.name == name).map(|var| {
            DispatchError::Module(ModuleError {
                index: pallet,
                error: [var.index, 0, 0, 0],
            })
        })
    };
    find(SubtensorError::type_info(), 7)
        .or_else(|| find(CommitmentsError::type_info(), 18))
        .unwrap_or(DispatchError::Other)
}

fn info() -> DispatchEventInfo {
    DispatchEventInfo {
        weight: Weight::default(),
        class: DispatchClass::Normal,
        pays_fee: Pays::Yes,
    }
}

/// The events of block `number`: per extrinsic, in order, the pallet event of a successful
/// call, then `ExtrinsicSuccess`, or `ExtrinsicFailed` with its dispatch error.
pub fn events(chain: &LocalChain, number: u64) -> ChainResult<Vec<EventRecord>> {
    if number == 0 {
        return Ok(Vec::new());
    }
    let body = chain.block_extrinsics(number)?;
    let mut out = Vec::new();
    for (i, ext) in body.iter().enumerate() {
        let phase = Phase::ApplyExtrinsic(i as u32);
        let record = |event| EventRecord {
            phase,
            event,
            topics: Vec::new(),
        };
        match ext.failed() {
            Some(err) => out.push(record(RuntimeEvent::System(SystemEvent::ExtrinsicFailed {
                dispatch_error: dispatch_error(err),
                dispatch_info: info(),
            }))),
            None => {
                let assigned = match ext {
                    BodyExtrinsic::Encoded(e) => e.assigned,
                    BodyExtrinsic::Arena(_) => None,
                };
                let signer = AccountId32(ext.signer().0);
                let event = match (ext.call(), assigned) {
                    (Some(Call::SetCommitment { netuid, .. }), _) => {
                        Some(RuntimeEvent::Commitments(CommitmentsEvent::Commitment {
                            netuid: *netuid,
                            who: signer,
                        }))
                    }
                    (Some(Call::BurnedRegister { netuid, hotkey }), Some(uid)) => {
                        Some(RuntimeEvent::SubtensorModule(
                            SubtensorEvent::NeuronRegistered(*netuid, uid, AccountId32(hotkey.0)),
                        ))
                    }
                    (Some(Call::CreateSubnet { .. }), Some(netuid)) => Some(
                        RuntimeEvent::SubtensorModule(SubtensorEvent::NetworkAdded(netuid, 0)),
                    ),
                    (
                        Some(Call::AddStake {
                            hotkey,
                            netuid,
                            amount,
                        }),
                        _,
                    ) => Some(RuntimeEvent::SubtensorModule(SubtensorEvent::StakeAdded(
                        signer,
                        AccountId32(hotkey.0),
                        *amount,
                        *amount,
                        *netuid,
                        0,
                    ))),
                    _ => None,
                };
                if let Some(event) = event {
                    out.push(record(event));
                }
                out.push(record(RuntimeEvent::System(
                    SystemEvent::ExtrinsicSuccess {
                        dispatch_info: info(),
                    },
                )));
            }
        }
    }
    Ok(out)
}

/// The bytes of a block's extrinsics as served by `chain_getBlock`: encoded extrinsics as
/// submitted; arena's own extrinsics (signed with arena's payload) as bare v4 extrinsics of
/// `ArenaChain.arena_extrinsic` carrying their arena bytes, so that every entry decodes with
/// this metadata and indices match `System.Events`.
pub fn block_bytes(chain: &LocalChain, number: u64) -> ChainResult<Vec<Vec<u8>>> {
    chain
        .block_extrinsics(number)?
        .iter()
        .map(|e| match e {
            BodyExtrinsic::Encoded(e) => Ok(e.bytes.clone()),
            BodyExtrinsic::Arena(a) => {
                let call = RuntimeCall::ArenaChain(ArenaCall::arena_extrinsic {
                    extrinsic: a.encoded(&chain.genesis())?,
                });
                let mut body = vec![EXTRINSIC_VERSION];
                call.encode_to(&mut body);
                let mut out = Compact(body.len() as u32).encode();
                out.extend_from_slice(&body);
                Ok(out)
            }
        })
        .collect()
}
