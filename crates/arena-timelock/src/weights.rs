//! Subtensor's commit-reveal v4 payload: the weights a validator commits, sealed to a round.

use parity_scale_codec::{Decode, DecodeAll, Encode};
use rand::{CryptoRng, RngCore};

use crate::tlock::{decrypt, encrypt};
use crate::Error;

/// Subtensor's `MAX_CRV3_COMMIT_SIZE_BYTES`: the longest `commit` that
/// `commit_timelocked_weights` accepts.
pub const MAX_COMMIT_LEN: usize = 5000;

/// The plaintext of a commit-reveal v4 commit, SCALE-encoded in this field order; the chain
/// decodes it when the reveal round's pulse arrives and drops it unless `hotkey` is the
/// committer's public key.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WeightsTlockPayload {
    /// The committing hotkey's 32-byte public key (SCALE `Vec<u8>`).
    pub hotkey: Vec<u8>,
    /// Destination uids.
    pub uids: Vec<u16>,
    /// Weight of each uid, u16-normalised as `set_weights` takes them.
    pub values: Vec<u16>,
    /// The subnet's weights version key.
    pub version_key: u64,
}

impl WeightsTlockPayload {
    /// The SCALE bytes the chain decodes after decryption.
    pub fn to_scale(&self) -> Vec<u8> {
        self.encode()
    }

    /// Decode SCALE bytes, refusing trailing bytes.
    pub fn from_scale(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode_all(&mut &bytes[..]).map_err(|e| Error::Payload(e.to_string()))
    }
}

/// Seal weights for `commit_timelocked_(mechanism_)weights`: the SCALE payload encrypted to
/// `reveal_round`. Refuses `uids` and `values` of different lengths and a commit longer than
/// [`MAX_COMMIT_LEN`].
pub fn seal_weights<R: RngCore + CryptoRng>(
    hotkey: &[u8],
    uids: &[u16],
    values: &[u16],
    version_key: u64,
    reveal_round: u64,
    rng: &mut R,
) -> Result<Vec<u8>, Error> {
    if uids.len() != values.len() {
        return Err(Error::WeightsMismatch {
            uids: uids.len(),
            values: values.len(),
        });
    }
    let payload = WeightsTlockPayload {
        hotkey: hotkey.to_vec(),
        uids: uids.to_vec(),
        values: values.to_vec(),
        version_key,
    };
    let sealed = encrypt(&payload.to_scale(), reveal_round, rng);
    if sealed.len() > MAX_COMMIT_LEN {
        return Err(Error::CommitTooLarge {
            len: sealed.len(),
            max: MAX_COMMIT_LEN,
        });
    }
    Ok(sealed)
}

/// Open a sealed commit with the reveal round's drand signature, as the chain does at reveal.
pub fn open_weights(ciphertext: &[u8], signature: &[u8]) -> Result<WeightsTlockPayload, Error> {
    WeightsTlockPayload::from_scale(&decrypt(ciphertext, signature)?)
}
