//! The state transition: each call's checks (in subtensor's order, with its error names) and
//! its writes. Runs inside the writer's open block transaction; the caller wraps each
//! extrinsic in a savepoint, so an error leaves no trace.

use arena_keys::PublicKey;
use rusqlite::{params, Connection};

use crate::error::{ChainError, ChainResult};
use crate::extrinsic::Call;
use crate::store::{self, to_i64};
use crate::types::{BlockNumber, Hyperparameters, NetUid, Uid};
use arena_yuma::weights::{check_and_upscale, WeightsContext, WeightsError};

/// Largest `Raw` commitment field (Commitments pallet `Raw0`…`Raw128`).
pub const MAX_RAW_COMMITMENT: usize = 128;
/// Minimum cost of one commitment against the epoch's space budget.
pub const MIN_COMMITMENT_COST: u64 = 100;

/// Applies `call` signed by `signer` at block `block`; returns the assigned uid/netuid if any.
pub fn dispatch(
    conn: &Connection,
    block: BlockNumber,
    signer: &PublicKey,
    call: &Call,
) -> ChainResult<Option<u16>> {
    match call {
        Call::CreateSubnet { hyperparameters } => {
            create_subnet(conn, block, signer, hyperparameters).map(Some)
        }
        Call::BurnedRegister { netuid, hotkey } => {
            register(conn, block, signer, *netuid, hotkey).map(Some)
        }
        Call::AddStake {
            hotkey,
            netuid,
            amount,
        } => add_stake(conn, *netuid, hotkey, *amount).map(|()| None),
        Call::SetCommitment { netuid, data } => {
            set_commitment(conn, block, signer, *netuid, data).map(|()| None)
        }
        Call::SetWeights {
            netuid,
            uids,
            weights,
            version_key,
        } => set_weights(conn, block, signer, *netuid, uids, weights, *version_key).map(|()| None),
    }
}

/// Rejects parameter sets the epoch cannot run with.
pub fn validate_hyperparameters(hp: &Hyperparameters) -> ChainResult<()> {
    let bad = |reason: &str| {
        Err(ChainError::InvalidHyperparameter {
            reason: reason.to_string(),
        })
    };
    if hp.tempo == 0 {
        return bad("tempo must be at least 1");
    }
    if hp.max_allowed_uids == 0 {
        return bad("max_allowed_uids must be at least 1");
    }
    if hp.bonds_moving_average > 1_000_000 {
        return bad("bonds_moving_average is at most 1000000");
    }
    if hp.alpha_low > hp.alpha_high {
        return bad("alpha_low must not exceed alpha_high");
    }
    if hp.emission_per_block > i64::MAX as u64 / u64::from(u16::MAX) {
        return bad("emission_per_block is too large");
    }
    Ok(())
}

fn create_subnet(
    conn: &Connection,
    block: BlockNumber,
    owner: &PublicKey,
    hp: &Hyperparameters,
) -> ChainResult<u16> {
    validate_hyperparameters(hp)?;
    let next: i64 = conn.query_row(
        "SELECT COALESCE(MAX(netuid), 0) + 1 FROM subnets",
        [],
        |r| r.get(0),
    )?;
    let netuid = u16::try_from(next).map_err(|_| ChainError::InvalidData {
        reason: "no netuid left".to_string(),
    })?;
    let json = serde_json::to_string(hp).map_err(|e| ChainError::InvalidData {
        reason: format!("hyperparameters: {e}"),
    })?;
    let at = to_i64(block, "block")?;
    conn.execute(
        "INSERT INTO subnets (netuid, owner, created_block, last_epoch_block, epoch_index,
                              hyperparameters) VALUES (?1, ?2, ?3, ?3, 0, ?4)",
        params![netuid, &owner.0[..], at, json],
    )?;
    tracing::info!(netuid, owner = %owner, "subnet created");
    Ok(netuid)
}

fn register(
    conn: &Connection,
    block: BlockNumber,
    coldkey: &PublicKey,
    netuid: NetUid,
    hotkey: &PublicKey,
) -> ChainResult<Uid> {
    let subnet = store::subnet(conn, netuid)?;
    if store::uid_of(conn, netuid, hotkey)?.is_some() {
        return Err(ChainError::HotKeyAlreadyRegisteredInSubNet {
            netuid,
            hotkey: hotkey.ss58(),
        });
    }
    match store::hotkey_owner(conn, hotkey)? {
        Some(owner) if owner != *coldkey => {
            return Err(ChainError::NonAssociatedColdKey {
                hotkey: hotkey.ss58(),
                owner: owner.ss58(),
            })
        }
        Some(_) => {}
        None => {
            conn.execute(
                "INSERT INTO hotkey_owner (hotkey, coldkey) VALUES (?1, ?2)",
                params![&hotkey.0[..], &coldkey.0[..]],
            )?;
        }
    }
    let at = to_i64(block, "block")?;
    let uid = if subnet.n < subnet.hyperparameters.max_allowed_uids {
        let uid = subnet.n;
        conn.execute(
            "INSERT INTO neurons (netuid, uid, hotkey, registration_block) VALUES (?1, ?2, ?3, ?4)",
            params![netuid, uid, &hotkey.0[..], at],
        )?;
        uid
    } else {
        let uid = neuron_to_prune(conn, netuid, block, subnet.hyperparameters.immunity_period)?;
        // replace_neuron + clear_neuron: the uid starts afresh under the new hotkey.
        conn.execute(
            "UPDATE neurons SET hotkey = ?3, registration_block = ?4, last_update = 0, active = 1,
                    validator_permit = 0, consensus = 0, incentive = 0, dividends = 0,
                    validator_trust = 0, emission = 0, weights = '[]', bonds = '[]'
             WHERE netuid = ?1 AND uid = ?2",
            params![netuid, uid, &hotkey.0[..], at],
        )?;
        tracing::info!(
            netuid,
            uid,
            "subnet full: replaced the neuron with the lowest emission"
        );
        uid
    };
    tracing::info!(netuid, uid, hotkey = %hotkey, "registered");
    Ok(uid)
}

/// subtensor's `get_neuron_to_prune`: the lowest pruning score (the last epoch's emission,
/// now that subtensor's pruning score is deprecated) among neurons out of their immunity
/// period, ties to the earliest registration, then the lowest uid; if every neuron is immune,
/// the same rule among the immune ones.
fn neuron_to_prune(
    conn: &Connection,
    netuid: NetUid,
    block: BlockNumber,
    immunity_period: u64,
) -> ChainResult<Uid> {
    let neurons = store::neurons(conn, netuid)?;
    let key = |n: &store::NeuronRow| (n.emission, n.registration_block, n.uid);
    let immune =
        |n: &store::NeuronRow| block.saturating_sub(n.registration_block) < immunity_period;
    let best_mortal = neurons.iter().filter(|n| !immune(n)).min_by_key(|n| key(n));
    let best_any = neurons.iter().min_by_key(|n| key(n));
    best_mortal
        .or(best_any)
        .map(|n| n.uid)
        .ok_or(ChainError::SubnetNotExists { netuid })
}

fn add_stake(
    conn: &Connection,
    netuid: NetUid,
    hotkey: &PublicKey,
    amount: u64,
) -> ChainResult<()> {
    if amount == 0 {
        return Err(ChainError::AmountTooLow);
    }
    store::subnet(conn, netuid)?;
    if store::hotkey_owner(conn, hotkey)?.is_none() {
        return Err(ChainError::HotKeyAccountNotExists {
            hotkey: hotkey.ss58(),
        });
    }
    let total = store::stake(conn, netuid, hotkey)?
        .checked_add(amount)
        .ok_or_else(|| ChainError::InvalidData {
            reason: format!("stake of {hotkey} would overflow"),
        })?;
    conn.execute(
        "INSERT INTO stakes (netuid, hotkey, amount) VALUES (?1, ?2, ?3)
         ON CONFLICT(netuid, hotkey) DO UPDATE SET amount = excluded.amount",
        params![netuid, &hotkey.0[..], to_i64(total, "stake")?],
    )?;
    Ok(())
}

fn set_commitment(
    conn: &Connection,
    block: BlockNumber,
    hotkey: &PublicKey,
    netuid: NetUid,
    data: &[u8],
) -> ChainResult<()> {
    if data.len() > MAX_RAW_COMMITMENT {
        return Err(ChainError::CommitmentTooLong {
            len: data.len(),
            max: MAX_RAW_COMMITMENT,
        });
    }
    let subnet = store::subnet(conn, netuid)?;
    if store::uid_of(conn, netuid, hotkey)?.is_none() {
        return Err(ChainError::AccountNotAllowedCommit {
            netuid,
            hotkey: hotkey.ss58(),
        });
    }
    let cost = (data.len() as u64).max(MIN_COMMITMENT_COST);
    let max = subnet.hyperparameters.max_commitment_space;
    let used = store::used_space(conn, netuid, hotkey, subnet.epoch_index)?;
    if used.saturating_add(cost) > max {
        return Err(ChainError::SpaceLimitExceeded {
            hotkey: hotkey.ss58(),
            used,
            cost,
            max,
        });
    }
    conn.execute(
        "INSERT INTO commitment_space (netuid, hotkey, epoch, used) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(netuid, hotkey) DO UPDATE SET epoch = excluded.epoch, used = excluded.used",
        params![
            netuid,
            &hotkey.0[..],
            to_i64(subnet.epoch_index, "epoch")?,
            to_i64(used + cost, "used space")?
        ],
    )?;
    conn.execute(
        "INSERT INTO commitments (netuid, hotkey, data, block) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(netuid, hotkey) DO UPDATE SET data = excluded.data, block = excluded.block",
        params![netuid, &hotkey.0[..], data, to_i64(block, "block")?],
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn set_weights(
    conn: &Connection,
    block: BlockNumber,
    hotkey: &PublicKey,
    netuid: NetUid,
    uids: &[Uid],
    values: &[u16],
    version_key: u64,
) -> ChainResult<()> {
    let subnet = store::subnet(conn, netuid)?;
    let hp = &subnet.hyperparameters;
    let Some(uid) = store::uid_of(conn, netuid, hotkey)? else {
        return Err(ChainError::HotKeyNotRegisteredInSubNet {
            netuid,
            hotkey: hotkey.ss58(),
        });
    };
    if version_key < hp.weights_version_key {
        return Err(ChainError::IncorrectWeightVersionKey {
            got: version_key,
            required: hp.weights_version_key,
        });
    }
    let (last_update, permit): (i64, i64) = conn.query_row(
        "SELECT last_update, validator_permit FROM neurons WHERE netuid = ?1 AND uid = ?2",
        params![netuid, uid],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let last_update = store::to_u64(last_update, "last_update")?;
    if last_update != 0 && block.saturating_sub(last_update) < hp.weights_rate_limit {
        return Err(ChainError::SettingWeightsTooFast {
            last_update,
            current: block,
            limit: hp.weights_rate_limit,
        });
    }
    // The call-only checks (lengths, stake, permit, duplicates, unknown uids, minimum count,
    // max weight) and the max-upscaling are arena-yuma's, bit-exact with subtensor.
    let ctx = WeightsContext {
        n: subnet.n,
        uid,
        has_permit: permit != 0,
        is_owner: false,
        stake: store::stake(conn, netuid, hotkey)?,
        stake_threshold: hp.stake_threshold,
        min_allowed_weights: hp.min_allowed_weights,
        max_weight_limit: hp.max_weights_limit,
    };
    let row = check_and_upscale(&ctx, uids, values).map_err(|e| weights_error(netuid, e))?;
    conn.execute(
        "UPDATE neurons SET weights = ?3, last_update = ?4 WHERE netuid = ?1 AND uid = ?2",
        params![
            netuid,
            uid,
            store::pairs_to_json(&row),
            to_i64(block, "block")?
        ],
    )?;
    Ok(())
}

/// Maps arena-yuma's `set_weights` rejection onto the chain's error of the same name.
fn weights_error(netuid: NetUid, err: WeightsError) -> ChainError {
    match err {
        WeightsError::WeightVecNotEqualSize { dests, weights } => {
            ChainError::WeightVecNotEqualSize {
                uids: dests,
                weights,
            }
        }
        WeightsError::UidsLengthExceedUidsInSubNet { len, n } => {
            ChainError::UidsLengthExceedUidsInSubNet { got: len, n }
        }
        WeightsError::NotEnoughStakeToSetWeights { stake, threshold } => {
            ChainError::NotEnoughStakeToSetWeights {
                stake,
                required: threshold,
            }
        }
        WeightsError::NeuronNoValidatorPermit { uid } => {
            ChainError::NeuronNoValidatorPermit { netuid, uid }
        }
        WeightsError::DuplicateUids { uid } => ChainError::DuplicateUids { uid },
        WeightsError::UidVecContainInvalidOne { uid, n } => {
            ChainError::UidVecContainInvalidOne { uid, n }
        }
        WeightsError::WeightVecLengthIsLow { len, min } => {
            ChainError::WeightVecLengthIsLow { got: len, min }
        }
        WeightsError::MaxWeightExceeded { limit } => ChainError::MaxWeightExceeded { limit },
    }
}
