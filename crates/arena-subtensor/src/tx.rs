//! Transactions: the signing payload, the signed v4 extrinsic and its hash.
//!
//! The payload is `call ‖ extra of each extension ‖ additional data of each extension`, the
//! extensions walked in the metadata's order; over 256 bytes it is blake2-256 hashed before
//! signing. Extensions this client does not know are accepted only when both their parts
//! encode to nothing (Subtensor's `SubtensorTransactionExtension`, `DrandPriority`).

use arena_keys::{Keypair, PublicKey};
use parity_scale_codec::Encode;

use crate::error::{Error, Result};
use crate::meta::Runtime;
use crate::value::{encode_as, is_empty_type, Value};

/// A transaction's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// Valid forever (dry runs, cold signing review).
    Immortal,
    /// Valid for `period` blocks from block `birth_number`, whose hash is `birth_hash`.
    Mortal {
        /// Power of two between 4 and 65536 (rounded up).
        period: u64,
        /// The block the era starts at (usually the best block).
        birth_number: u64,
        /// That block's hash (signed as the extension's additional data).
        birth_hash: [u8; 32],
    },
}

impl Era {
    /// The era's SCALE bytes (`sp_runtime::generic::Era`).
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Era::Immortal => vec![0],
            Era::Mortal {
                period,
                birth_number,
                ..
            } => {
                let period = period.clamp(4, 1 << 16).next_power_of_two();
                let phase = birth_number % period;
                let quantize_factor = (period >> 12).max(1);
                let quantized_phase = phase / quantize_factor * quantize_factor;
                let encoded = (period.trailing_zeros() - 1).clamp(1, 15) as u16
                    | ((quantized_phase / quantize_factor) << 4) as u16;
                encoded.to_le_bytes().to_vec()
            }
        }
    }
}

/// Everything the extensions sign besides the call.
#[derive(Clone, Copy, Debug)]
pub struct TxParams {
    /// The signer's nonce.
    pub nonce: u64,
    /// Tip in rao.
    pub tip: u128,
    /// The lifetime.
    pub era: Era,
    /// The chain's genesis hash.
    pub genesis: [u8; 32],
}

/// The two encoded parts of the extensions: what the extrinsic carries, what is only signed.
struct Extensions {
    extra: Vec<u8>,
    additional: Vec<u8>,
}

fn extensions(runtime: &Runtime, params: &TxParams) -> Result<Extensions> {
    let types = runtime.types();
    let mut extra = Vec::new();
    let mut additional = Vec::new();
    let era_hash = match params.era {
        Era::Immortal => params.genesis,
        Era::Mortal { birth_hash, .. } => birth_hash,
    };
    let exts = runtime
        .metadata()
        .extrinsic()
        .transaction_extensions_by_version(0)
        .ok_or_else(|| Error::Metadata("no transaction extensions of version 0".into()))?;
    for ext in exts {
        let (e_ty, a_ty) = (ext.extra_ty(), ext.additional_ty());
        let put = |ty: u32, v: Value, out: &mut Vec<u8>| encode_as(types, ty, &v, out);
        match ext.identifier() {
            "CheckNonZeroSender" | "CheckWeight" => {}
            "CheckSpecVersion" => {
                put(a_ty, Value::U(runtime.spec_version.into()), &mut additional)?
            }
            "CheckTxVersion" => put(a_ty, Value::U(runtime.tx_version.into()), &mut additional)?,
            "CheckGenesis" => put(a_ty, Value::Bytes(params.genesis.to_vec()), &mut additional)?,
            "CheckMortality" | "CheckEra" => {
                extra.extend_from_slice(&params.era.encode());
                put(a_ty, Value::Bytes(era_hash.to_vec()), &mut additional)?;
            }
            "CheckNonce" => put(e_ty, Value::U(params.nonce.into()), &mut extra)?,
            "ChargeTransactionPayment" => put(e_ty, Value::U(params.tip), &mut extra)?,
            "CheckMetadataHash" => {
                // Mode::Disabled, and no hash signed.
                put(e_ty, Value::variant("Disabled", vec![]), &mut extra)?;
                put(a_ty, Value::variant("None", vec![]), &mut additional)?;
            }
            other => {
                if !is_empty_type(types, e_ty) || !is_empty_type(types, a_ty) {
                    return Err(Error::Metadata(format!(
                        "transaction extension {other} carries data this client cannot fill"
                    )));
                }
            }
        }
    }
    Ok(Extensions { extra, additional })
}

/// The bytes a signer signs for `call` (blake2-256 of them when over 256 bytes).
pub fn signing_payload(runtime: &Runtime, call: &[u8], params: &TxParams) -> Result<Vec<u8>> {
    let ext = extensions(runtime, params)?;
    let mut payload = Vec::with_capacity(call.len() + ext.extra.len() + ext.additional.len());
    payload.extend_from_slice(call);
    payload.extend_from_slice(&ext.extra);
    payload.extend_from_slice(&ext.additional);
    if payload.len() > 256 {
        return Ok(sp_crypto_hashing::blake2_256(&payload).to_vec());
    }
    Ok(payload)
}

/// The signed v4 extrinsic (length-prefixed, as `author_submitExtrinsic` takes it) with a
/// given sr25519 signature over [`signing_payload`].
pub fn signed_extrinsic(
    runtime: &Runtime,
    call: &[u8],
    params: &TxParams,
    signer: &PublicKey,
    signature: &[u8; 64],
) -> Result<Vec<u8>> {
    let ext = extensions(runtime, params)?;
    let types = runtime.types();
    let (address_ty, signature_ty) = address_and_signature_types(runtime)?;
    let mut body = vec![0x84]; // version 4, signed
    encode_as(
        types,
        address_ty,
        &Value::variant("Id", vec![Value::Bytes(signer.0.to_vec())]),
        &mut body,
    )?;
    encode_as(
        types,
        signature_ty,
        &Value::variant("Sr25519", vec![Value::Bytes(signature.to_vec())]),
        &mut body,
    )?;
    body.extend_from_slice(&ext.extra);
    body.extend_from_slice(call);
    let mut out = parity_scale_codec::Compact(body.len() as u32).encode();
    out.extend_from_slice(&body);
    Ok(out)
}

/// Signs `call` with `signer` and returns the extrinsic.
pub fn sign(
    runtime: &Runtime,
    call: &[u8],
    params: &TxParams,
    signer: &Keypair,
) -> Result<Vec<u8>> {
    let payload = signing_payload(runtime, call, params)?;
    let signature = signer.sign(&payload);
    signed_extrinsic(runtime, call, params, &signer.public(), &signature.0)
}

/// The extrinsic's hash (blake2-256 of its bytes), as the node reports it.
pub fn extrinsic_hash(extrinsic: &[u8]) -> [u8; 32] {
    sp_crypto_hashing::blake2_256(extrinsic)
}

/// The address and signature types of the extrinsic, from the metadata (`MultiAddress`,
/// `MultiSignature` on Subtensor).
fn address_and_signature_types(runtime: &Runtime) -> Result<(u32, u32)> {
    use frame_decode::extrinsics::ExtrinsicTypeInfo;
    let info = runtime
        .metadata()
        .extrinsic_signature_info()
        .map_err(|e| Error::Metadata(format!("extrinsic signature types: {e}")))?;
    Ok((info.address_id, info.signature_id))
}
