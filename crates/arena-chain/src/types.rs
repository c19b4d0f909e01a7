//! Values the chain stores and returns: blocks, subnets, neurons, commitments.
//!
//! Field names follow subtensor's storage items and runtime APIs (`NeuronInfoLite`,
//! `SubnetHyperparams`) so a client of the real chain can fill the same structs.

use std::fmt;

use arena_keys::PublicKey;
use serde::{Deserialize, Serialize};

pub use arena_yuma::Hyperparameters;

/// Subnet id (`NetUid`, u16 on subtensor).
pub type NetUid = u16;
/// Position of a hotkey inside a subnet.
pub type Uid = u16;
/// Block height. Subtensor's header holds a u32; the pallet works in u64.
pub type BlockNumber = u64;

/// A 32-byte block hash (blake2b-256).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockHash(pub [u8; 32]);

impl BlockHash {
    /// `0x`-prefixed lowercase hex, the form JSON-RPC carries.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Parses `0x`-prefixed or bare hex of exactly 32 bytes.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let raw = text.strip_prefix("0x").unwrap_or(text);
        let bytes = hex::decode(raw).map_err(|e| format!("block hash {text:?}: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("block hash {text:?}: expected 32 bytes"))?;
        Ok(BlockHash(arr))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({})", self.to_hex())
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for BlockHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BlockHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        BlockHash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde for `PublicKey` as an SS58 string (the form every Bittensor tool prints).
pub mod ss58_serde {
    use arena_keys::PublicKey;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the SS58 address.
    pub fn serialize<S: Serializer>(key: &PublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.ss58())
    }

    /// Reads an SS58 address or 32-byte hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A produced block: its height, hash and parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Height; the genesis block is 0.
    pub number: BlockNumber,
    /// blake2b-256 over parent hash, number and extrinsics.
    pub hash: BlockHash,
    /// Hash of block `number - 1` (zeroes for genesis).
    pub parent_hash: BlockHash,
    /// Wall-clock time the block was produced, unix milliseconds (informational only).
    pub timestamp_ms: u64,
    /// Number of extrinsics in the block.
    pub extrinsics: u32,
}

/// A subnet as the chain keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubnetInfo {
    /// Its id.
    pub netuid: NetUid,
    /// Coldkey that created it.
    #[serde(with = "ss58_serde")]
    pub owner: PublicKey,
    /// Block it was created in.
    pub created_block: BlockNumber,
    /// Block of the last epoch (the creation block before the first).
    pub last_epoch_block: BlockNumber,
    /// Epochs run so far (`SubnetEpochIndex`); commitment budgets reset when it changes.
    pub epoch_index: u64,
    /// Registered uids.
    pub n: u16,
    /// Its parameters.
    pub hyperparameters: Hyperparameters,
}

/// One uid of a metagraph, with the fields of subtensor's `NeuronInfoLite`.
/// Proportions are the stored u16 (value/65535); use the `*_f64` helpers for fractions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeuronInfo {
    /// Position in the subnet.
    pub uid: Uid,
    /// The neuron's hotkey (signs weights and commitments).
    #[serde(with = "ss58_serde")]
    pub hotkey: PublicKey,
    /// The coldkey that registered (owns) the hotkey.
    #[serde(with = "ss58_serde")]
    pub coldkey: PublicKey,
    /// Stake on this subnet, rao.
    pub stake: u64,
    /// Permit granted by the last epoch.
    pub validator_permit: bool,
    /// Block of the last `set_weights` (0 = never).
    pub last_update: BlockNumber,
    /// Block of (re)registration into this uid.
    pub registration_block: BlockNumber,
    /// Whether the last epoch counted the neuron as active.
    pub active: bool,
    /// u16 proportions from the last epoch.
    pub incentive: u16,
    /// u16 proportions from the last epoch.
    pub dividends: u16,
    /// u16 proportions from the last epoch.
    pub consensus: u16,
    /// Deprecated on subtensor (always 0 there); kept for shape compatibility.
    pub trust: u16,
    /// u16 proportions from the last epoch.
    pub validator_trust: u16,
    /// Rao emitted to this uid by the last epoch.
    pub emission: u64,
}

impl NeuronInfo {
    /// Incentive as a fraction in [0, 1].
    pub fn incentive_f64(&self) -> f64 {
        f64::from(self.incentive) / 65535.0
    }
    /// Dividends as a fraction in [0, 1].
    pub fn dividends_f64(&self) -> f64 {
        f64::from(self.dividends) / 65535.0
    }
    /// Consensus as a fraction in [0, 1].
    pub fn consensus_f64(&self) -> f64 {
        f64::from(self.consensus) / 65535.0
    }
}

/// All uids of a subnet as of one block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metagraph {
    /// The subnet.
    pub netuid: NetUid,
    /// The block this view was read at.
    pub block: BlockNumber,
    /// Parameters in force.
    pub hyperparameters: Hyperparameters,
    /// One entry per uid, ordered by uid.
    pub neurons: Vec<NeuronInfo>,
}

impl Metagraph {
    /// The uid of a hotkey, if registered.
    pub fn uid_of(&self, hotkey: &PublicKey) -> Option<Uid> {
        self.neurons
            .iter()
            .find(|n| &n.hotkey == hotkey)
            .map(|n| n.uid)
    }
}

/// A hotkey's current commitment (`CommitmentOf`): the raw bytes and the block that stored them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// The committing hotkey.
    #[serde(with = "ss58_serde")]
    pub hotkey: PublicKey,
    /// The `Raw` field's bytes (UTF-8 for model commitments, but not required).
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
    /// Block the commitment was included in.
    pub block: BlockNumber,
}

impl Commitment {
    /// The data as UTF-8 text, as the SDK's `get_commitment` returns it.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// Sparse row of one uid: `(dest uid, u16 value)`. For weights, the values as stored after
/// max-upscaling; for bonds, as the last epoch stored them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightRow {
    /// Setter.
    pub uid: Uid,
    /// Entries in the order they were submitted.
    pub weights: Vec<(Uid, u16)>,
}

/// What a successful extrinsic returns: where it will be included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The block being built when the extrinsic was accepted; its effects are readable once
    /// this block is produced.
    pub block: BlockNumber,
    /// Position inside that block.
    pub index: u32,
    /// For `register`: the uid assigned. For `create_subnet`: the netuid, as u16.
    pub assigned: Option<u16>,
}

/// Serde for byte strings as `0x` hex.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `0x…`.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(bytes)))
    }

    /// Reads `0x…` or bare hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text.strip_prefix("0x").unwrap_or(&text)).map_err(serde::de::Error::custom)
    }
}
