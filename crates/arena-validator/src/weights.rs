//! Sends the subnet weights to the chain within its rate limit (subtensor
//! `WeightsSetRateLimit`, read from the subnet's hyperparameters each time, so a change by the
//! subnet owner is honoured without a restart).

use arena_chain::{Chain, ChainError, NetUid};
use arena_core::scoring::{to_u16_weights, WeightError};
use arena_keys::Keypair;

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOutcome {
    /// Accepted into block `block`.
    Sent {
        /// Block the extrinsic goes into.
        block: u64,
        /// The `(uid, u16)` pairs sent.
        weights: Vec<(u16, u16)>,
    },
    /// Too soon after the last update; try again from `next_block`.
    RateLimited {
        /// First block at which the chain will accept weights again.
        next_block: u64,
    },
    /// Nothing to send (no model has weight yet).
    Empty,
    /// The chain refused the weights because this hotkey holds no validator permit: the
    /// subnet gives permits to its `max_allowed_validators` highest-stake neurons at each
    /// epoch. Not an error of the service: it keeps evaluating and tries again next tick.
    NoPermit {
        /// Why, in words (the limit, this hotkey's stake and the lowest permitted stake).
        reason: String,
    },
}

/// Why weights could not be set (other than the rate limit, which is an outcome).
#[derive(Debug, thiserror::Error)]
pub enum WeightSetError {
    /// The validator's hotkey has no uid on the subnet.
    #[error("hotkey {0} is not registered on subnet {1}")]
    NotRegistered(String, NetUid),
    /// The weights are not a valid distribution.
    #[error("weights: {0}")]
    Weights(#[from] WeightError),
    /// The chain refused or could not be reached.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
}

/// Sets `weights` (uid-indexed, any scale) if the rate limit allows it now.
pub async fn set_weights_if_due(
    chain: &dyn Chain,
    hotkey: &Keypair,
    netuid: NetUid,
    weights: &[f64],
    version_key: u64,
) -> Result<SetOutcome, WeightSetError> {
    let metagraph = chain.metagraph(netuid).await?;
    let me = metagraph
        .neurons
        .iter()
        .find(|n| n.hotkey == hotkey.public())
        .ok_or_else(|| WeightSetError::NotRegistered(hotkey.public().ss58(), netuid))?;
    let limit = metagraph.hyperparameters.weights_rate_limit;
    // The chain checks against the block being built, one past the last produced one.
    let building = metagraph.block + 1;
    if me.last_update != 0 && building.saturating_sub(me.last_update) < limit {
        return Ok(SetOutcome::RateLimited {
            next_block: me.last_update + limit,
        });
    }
    let n = usize::from(metagraph.hyperparameters.max_allowed_uids).min(metagraph.neurons.len());
    let pairs = to_u16_weights(&weights[..weights.len().min(n)])?;
    if pairs.is_empty() {
        return Ok(SetOutcome::Empty);
    }
    let uids: Vec<u16> = pairs.iter().map(|p| p.0).collect();
    let values: Vec<u16> = pairs.iter().map(|p| p.1).collect();
    match chain
        .set_weights(hotkey, netuid, &uids, &values, version_key)
        .await
    {
        Ok(receipt) => {
            tracing::info!(block = receipt.block, n = pairs.len(), "weights set");
            Ok(SetOutcome::Sent {
                block: receipt.block,
                weights: pairs,
            })
        }
        Err(ChainError::SettingWeightsTooFast {
            last_update, limit, ..
        }) => Ok(SetOutcome::RateLimited {
            next_block: last_update + limit,
        }),
        Err(ChainError::NeuronNoValidatorPermit { .. }) => Ok(SetOutcome::NoPermit {
            reason: no_permit_reason(&metagraph, me.stake),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Explains a missing permit from the metagraph: the subnet's limit, how many neurons hold a
/// permit, this hotkey's stake and the lowest stake that holds one.
fn no_permit_reason(metagraph: &arena_chain::Metagraph, stake: u64) -> String {
    let max = metagraph.hyperparameters.max_allowed_validators;
    let permitted: Vec<u64> = metagraph
        .neurons
        .iter()
        .filter(|n| n.validator_permit)
        .map(|n| n.stake)
        .collect();
    let tao = |rao: u64| rao as f64 / 1e9;
    let lowest = permitted
        .iter()
        .min()
        .map_or("none".to_string(), |&s| format!("{:.3} TAO", tao(s)));
    format!(
        "no validator permit: subnet {} gives permits to its {max} highest-stake neurons \
         (max_allowed_validators), {} hold one now, the lowest with {lowest}; this hotkey \
         has {:.3} TAO. Add stake, or ask the subnet owner to raise max_allowed_validators",
        metagraph.netuid,
        permitted.len(),
        tao(stake),
    )
}
