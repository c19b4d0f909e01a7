//! The calls finetune-arena sends to Subtensor, encoded from the runtime's metadata.

use arena_keys::PublicKey;

use crate::error::{Error, Result};
use crate::meta::Runtime;
use crate::value::Value;

/// Largest `Raw` field of a commitment (`Data::Raw0` … `Data::Raw128`).
pub const MAX_RAW_COMMITMENT: usize = 128;

/// A call of `SubtensorModule` or `Commitments`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubtensorCall {
    /// `SubtensorModule.set_weights(netuid, dests, weights, version_key)`, by the hotkey.
    SetWeights {
        /// Subnet.
        netuid: u16,
        /// Destination uids.
        uids: Vec<u16>,
        /// u16 weights, one per uid.
        weights: Vec<u16>,
        /// The validator's version key (at least the subnet's `WeightsVersionKey`).
        version_key: u64,
    },
    /// `Commitments.set_commitment(netuid, info)` with one `Raw` field, by the hotkey.
    SetCommitment {
        /// Subnet.
        netuid: u16,
        /// At most 128 bytes.
        data: Vec<u8>,
    },
    /// `SubtensorModule.commit_timelocked_weights(netuid, commit, reveal_round,
    /// commit_reveal_version)`: commit-reveal v4 (the chain reveals at drand round
    /// `reveal_round`).
    CommitTimelockedWeights {
        /// Subnet.
        netuid: u16,
        /// The timelock-encrypted `WeightsTlockPayload`.
        commit: Vec<u8>,
        /// drand quicknet round at which the chain decrypts.
        reveal_round: u64,
        /// Must equal the chain's `CommitRevealWeightsVersion`.
        version: u16,
    },
    /// `SubtensorModule.commit_timelocked_mechanism_weights(netuid, mecid, commit,
    /// reveal_round, commit_reveal_version)`, what SDK 10 sends (mechanism 0).
    CommitTimelockedMechanismWeights {
        /// Subnet.
        netuid: u16,
        /// Mechanism id (0 = the subnet's main mechanism).
        mecid: u8,
        /// The timelock-encrypted `WeightsTlockPayload`.
        commit: Vec<u8>,
        /// drand quicknet round at which the chain decrypts.
        reveal_round: u64,
        /// Must equal the chain's `CommitRevealWeightsVersion`.
        version: u16,
    },
    /// `SubtensorModule.burned_register(netuid, hotkey)`, signed by the coldkey.
    BurnedRegister {
        /// Subnet.
        netuid: u16,
        /// The hotkey to register.
        hotkey: PublicKey,
    },
    /// `SubtensorModule.add_stake(hotkey, netuid, amount_staked)`, signed by the coldkey
    /// (the TAO comes from its free balance).
    AddStake {
        /// The hotkey staked on.
        hotkey: PublicKey,
        /// Subnet.
        netuid: u16,
        /// Rao.
        amount: u64,
    },
}

fn u(n: impl Into<u128>) -> Value {
    Value::U(n.into())
}

fn u16s(v: &[u16]) -> Value {
    Value::Seq(v.iter().map(|x| u(*x)).collect())
}

/// A `Data::Raw<n>` value of the Commitments pallet (byte `n + 1`, then the bytes).
pub fn raw_data(bytes: &[u8]) -> Result<Value> {
    if bytes.len() > MAX_RAW_COMMITMENT {
        return Err(Error::CommitmentTooLong { len: bytes.len() });
    }
    Ok(Value::variant(
        &format!("Raw{}", bytes.len()),
        vec![Value::Bytes(bytes.to_vec())],
    ))
}

impl SubtensorCall {
    /// `(pallet, call)` names.
    pub fn name(&self) -> (&'static str, &'static str) {
        match self {
            SubtensorCall::SetWeights { .. } => ("SubtensorModule", "set_weights"),
            SubtensorCall::SetCommitment { .. } => ("Commitments", "set_commitment"),
            SubtensorCall::CommitTimelockedWeights { .. } => {
                ("SubtensorModule", "commit_timelocked_weights")
            }
            SubtensorCall::CommitTimelockedMechanismWeights { .. } => {
                ("SubtensorModule", "commit_timelocked_mechanism_weights")
            }
            SubtensorCall::BurnedRegister { .. } => ("SubtensorModule", "burned_register"),
            SubtensorCall::AddStake { .. } => ("SubtensorModule", "add_stake"),
        }
    }

    /// The call's bytes for `runtime` (indices and argument types from its metadata).
    pub fn encode(&self, runtime: &Runtime) -> Result<Vec<u8>> {
        let (pallet, call) = self.name();
        let args: Vec<(&str, Value)> = match self {
            SubtensorCall::SetWeights {
                netuid,
                uids,
                weights,
                version_key,
            } => {
                if uids.len() != weights.len() {
                    return Err(Error::Invalid(format!(
                        "{} uids but {} weights",
                        uids.len(),
                        weights.len()
                    )));
                }
                vec![
                    ("netuid", u(*netuid)),
                    ("dests", u16s(uids)),
                    ("weights", u16s(weights)),
                    ("version_key", u(*version_key)),
                ]
            }
            SubtensorCall::SetCommitment { netuid, data } => {
                let info = Value::Composite(vec![(
                    Some("fields".to_string()),
                    Value::Seq(vec![raw_data(data)?]),
                )]);
                vec![("netuid", u(*netuid)), ("info", info)]
            }
            SubtensorCall::CommitTimelockedWeights {
                netuid,
                commit,
                reveal_round,
                version,
            } => vec![
                ("netuid", u(*netuid)),
                ("commit", Value::Bytes(commit.clone())),
                ("reveal_round", u(*reveal_round)),
                ("commit_reveal_version", u(*version)),
            ],
            SubtensorCall::CommitTimelockedMechanismWeights {
                netuid,
                mecid,
                commit,
                reveal_round,
                version,
            } => vec![
                ("netuid", u(*netuid)),
                ("mecid", u(*mecid)),
                ("commit", Value::Bytes(commit.clone())),
                ("reveal_round", u(*reveal_round)),
                ("commit_reveal_version", u(*version)),
            ],
            SubtensorCall::BurnedRegister { netuid, hotkey } => vec![
                ("netuid", u(*netuid)),
                ("hotkey", Value::Bytes(hotkey.0.to_vec())),
            ],
            SubtensorCall::AddStake {
                hotkey,
                netuid,
                amount,
            } => vec![
                ("hotkey", Value::Bytes(hotkey.0.to_vec())),
                ("netuid", u(*netuid)),
                ("amount_staked", u(*amount)),
            ],
        };
        runtime.call(pallet, call, &args)
    }
}
