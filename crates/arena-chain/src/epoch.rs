//! Epoch scheduling and bookkeeping: gathers a subnet's stored state, runs Yuma Consensus
//! (`arena-yuma`, through the one adapter [`yuma_epoch`]) and stores what it returns.

use rusqlite::{params, Connection};

use crate::error::{ChainError, ChainResult};
use crate::store::{self, to_i64};
use crate::types::{BlockNumber, Hyperparameters, NetUid, SubnetInfo, Uid};

/// The stored state one epoch reads, vectors indexed by uid.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochInputs {
    /// Block the epoch runs in.
    pub current_block: BlockNumber,
    /// Block of the previous epoch (`LastMechansimStepBlock`), the subnet's creation block
    /// before the first.
    pub last_epoch_block: BlockNumber,
    /// Stake per uid, rao.
    pub stakes: Vec<u64>,
    /// Permits granted by the previous epoch.
    pub validator_permits: Vec<bool>,
    /// Weight rows as stored (`(dest, max-upscaled u16)`).
    pub weights: Vec<Vec<(Uid, u16)>>,
    /// Bond rows as stored.
    pub bonds: Vec<Vec<(Uid, u16)>>,
    /// Block of each uid's last `set_weights` (0 = never).
    pub last_update: Vec<BlockNumber>,
    /// Block of each uid's (re)registration.
    pub registration_blocks: Vec<BlockNumber>,
    /// Subnet parameters.
    pub hyperparameters: Hyperparameters,
    /// Rao distributed by this epoch.
    pub rao_emission: u64,
}

/// What an epoch stores, vectors indexed by uid.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EpochOutputs {
    pub active: Vec<bool>,
    pub validator_permits: Vec<bool>,
    pub consensus: Vec<u16>,
    pub incentive: Vec<u16>,
    pub dividends: Vec<u16>,
    pub validator_trust: Vec<u16>,
    pub emission: Vec<u64>,
    pub bonds: Vec<Vec<(Uid, u16)>>,
}

/// Whether `subnet` is due for an epoch at `block` (subtensor's dynamic-tempo rule:
/// `block − last epoch ≥ tempo`).
pub fn is_due(subnet: &SubnetInfo, block: BlockNumber) -> bool {
    block.saturating_sub(subnet.last_epoch_block) >= u64::from(subnet.hyperparameters.tempo)
}

/// Runs the epoch of `netuid` at `block` and stores its results, the new bonds, the epoch
/// block and the incremented epoch index.
pub fn run(conn: &Connection, netuid: NetUid, block: BlockNumber) -> ChainResult<EpochOutputs> {
    let subnet = store::subnet(conn, netuid)?;
    let neurons = store::neurons(conn, netuid)?;
    let mut stakes = Vec::with_capacity(neurons.len());
    for n in &neurons {
        stakes.push(store::stake(conn, netuid, &n.hotkey)?);
    }
    let blocks = block.saturating_sub(subnet.last_epoch_block);
    let inputs = EpochInputs {
        current_block: block,
        last_epoch_block: subnet.last_epoch_block,
        stakes,
        validator_permits: neurons.iter().map(|n| n.validator_permit).collect(),
        weights: neurons.iter().map(|n| n.weights.clone()).collect(),
        bonds: neurons.iter().map(|n| n.bonds.clone()).collect(),
        last_update: neurons.iter().map(|n| n.last_update).collect(),
        registration_blocks: neurons.iter().map(|n| n.registration_block).collect(),
        rao_emission: blocks.saturating_mul(subnet.hyperparameters.emission_per_block),
        hyperparameters: subnet.hyperparameters.clone(),
    };
    let out = yuma_epoch(&inputs)?;
    let mut stmt = conn.prepare(
        "UPDATE neurons SET active = ?3, validator_permit = ?4, consensus = ?5, incentive = ?6,
                dividends = ?7, validator_trust = ?8, emission = ?9, bonds = ?10
         WHERE netuid = ?1 AND uid = ?2",
    )?;
    for (i, n) in neurons.iter().enumerate() {
        let get16 = |v: &[u16]| v.get(i).copied().unwrap_or(0);
        stmt.execute(params![
            netuid,
            n.uid,
            out.active.get(i).copied().unwrap_or(false),
            out.validator_permits.get(i).copied().unwrap_or(false),
            get16(&out.consensus),
            get16(&out.incentive),
            get16(&out.dividends),
            get16(&out.validator_trust),
            to_i64(out.emission.get(i).copied().unwrap_or(0), "emission")?,
            store::pairs_to_json(out.bonds.get(i).map(Vec::as_slice).unwrap_or(&[])),
        ])?;
    }
    conn.execute(
        "UPDATE subnets SET last_epoch_block = ?2, epoch_index = epoch_index + 1 WHERE netuid = ?1",
        params![netuid, to_i64(block, "block")?],
    )?;
    tracing::info!(
        netuid,
        block,
        epoch = subnet.epoch_index + 1,
        n = neurons.len(),
        "epoch"
    );
    Ok(out)
}

/// The single call into `arena-yuma`: converts the stored state into its input and its output
/// back into what the chain stores.
fn yuma_epoch(inputs: &EpochInputs) -> ChainResult<EpochOutputs> {
    let n = u16::try_from(inputs.stakes.len()).map_err(|_| ChainError::Storage {
        reason: format!("{} uids exceed u16", inputs.stakes.len()),
    })?;
    let input = arena_yuma::EpochInput {
        n,
        current_block: inputs.current_block,
        last_epoch_block: inputs.last_epoch_block,
        rao_emission: inputs.rao_emission,
        stakes: inputs.stakes.clone(),
        // Root (TAO) stake does not exist on arena's chain, so its weight is irrelevant.
        tao_weight: 0,
        root_stakes: Vec::new(),
        validator_permit: inputs.validator_permits.clone(),
        weights: inputs.weights.clone(),
        bonds: inputs.bonds.clone(),
        last_update: inputs.last_update.clone(),
        block_at_registration: inputs.registration_blocks.clone(),
        owner_uid: None,
        commit_blocks: None,
        hyperparameters: inputs.hyperparameters.clone(),
    };
    let out = arena_yuma::epoch(&input).map_err(|e| ChainError::Storage {
        reason: format!("epoch input: {e}"),
    })?;
    Ok(EpochOutputs {
        active: out.active,
        validator_permits: out.validator_permit,
        consensus: out.consensus,
        incentive: out.incentive,
        dividends: out.dividends,
        validator_trust: out.validator_trust,
        emission: out.emission,
        bonds: out.bonds,
    })
}
