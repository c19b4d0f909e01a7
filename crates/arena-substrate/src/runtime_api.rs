//! The runtime APIs served through `state_call`, with Subtensor's method names, parameter and
//! result types. Values come from the embedded chain's last produced block.
//!
//! Arena's chain has no pools, fees, axons or identities, so those fields read as Subtensor
//! reads them on a subnet without them: prices 1:1 (`sim_swap_tao_for_alpha` returns the
//! amount, no fee), fees 0, empty axons, no identity; alpha stake is the TAO stake.

use arena_chain::{Chain, ChainError, LocalChain, Metagraph, NeuronInfo as ArenaNeuron};
use arena_keys::PublicKey;
use parity_scale_codec::{Compact, Decode, Encode};

use crate::metadata;
use crate::storage::account;
use crate::types::*;

/// Why a `state_call` failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such runtime API method (Substrate's message names the export).
    #[error("Exported method {0} is not found")]
    NotFound(String),
    /// The parameters do not decode as the method's inputs.
    #[error("could not decode the parameters of {method}: {reason}")]
    BadParams {
        /// The method.
        method: String,
        /// Why.
        reason: String,
    },
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

fn params<T: Decode>(method: &str, mut bytes: &[u8]) -> Result<T, ApiError> {
    let v = T::decode(&mut bytes).map_err(|e| ApiError::BadParams {
        method: method.into(),
        reason: e.to_string(),
    })?;
    if !bytes.is_empty() {
        return Err(ApiError::BadParams {
            method: method.into(),
            reason: format!("{} bytes left over", bytes.len()),
        });
    }
    Ok(v)
}

/// Calls runtime API `method` (`Trait_method`) with SCALE `input`; the SCALE result.
pub async fn call(chain: &LocalChain, method: &str, input: &[u8]) -> Result<Vec<u8>, ApiError> {
    Ok(match method {
        "Metadata_metadata" => {
            params::<()>(method, input)?;
            OpaqueMetadata(metadata::encoded().v14.clone()).encode()
        }
        "Metadata_metadata_at_version" => metadata::at_version(params::<u32>(method, input)?),
        "Metadata_metadata_versions" => {
            params::<()>(method, input)?;
            metadata::VERSIONS.to_vec().encode()
        }
        "AccountNonceApi_account_nonce" => {
            let a: AccountId32 = params(method, input)?;
            let nonce = chain.account_nonce(&PublicKey(a.0)).await?;
            (nonce.min(u32::MAX as u64) as u32).encode()
        }
        "TransactionPaymentApi_query_info" => {
            // The extrinsic (its own compact length, then its bytes), then its length.
            let (_uxt, _len): (Vec<u8>, u32) = params(method, input)?;
            RuntimeDispatchInfo {
                weight: Weight::default(),
                class: DispatchClass::Normal,
                partial_fee: 0,
            }
            .encode()
        }
        "NeuronInfoRuntimeApi_get_neurons_lite" => {
            let netuid: u16 = params(method, input)?;
            match metagraph(chain, netuid).await? {
                Some(m) => m
                    .neurons
                    .iter()
                    .map(|n| lite(netuid, n))
                    .collect::<Vec<_>>()
                    .encode(),
                None => Vec::<NeuronInfoLite>::new().encode(),
            }
        }
        "NeuronInfoRuntimeApi_get_neuron_lite" => {
            let (netuid, uid): (u16, u16) = params(method, input)?;
            let m = metagraph(chain, netuid).await?;
            m.and_then(|m| {
                m.neurons
                    .iter()
                    .find(|n| n.uid == uid)
                    .map(|n| lite(netuid, n))
            })
            .encode()
        }
        "NeuronInfoRuntimeApi_get_neuron" => {
            let (netuid, uid): (u16, u16) = params(method, input)?;
            match metagraph(chain, netuid).await? {
                None => None::<NeuronInfo>.encode(),
                Some(m) => {
                    let weights = chain.weights(netuid).await?;
                    let bonds = chain.bonds(netuid).await?;
                    let row = |rows: &[arena_chain::WeightRow]| {
                        rows.iter()
                            .find(|r| r.uid == uid)
                            .map(|r| {
                                r.weights
                                    .iter()
                                    .map(|(u, w)| (Compact(*u), Compact(*w)))
                                    .collect()
                            })
                            .unwrap_or_default()
                    };
                    m.neurons
                        .iter()
                        .find(|n| n.uid == uid)
                        .map(|n| full(netuid, n, row(&weights), row(&bonds)))
                        .encode()
                }
            }
        }
        "SubnetInfoRuntimeApi_get_subnet_hyperparams_v2" => {
            let netuid: u16 = params(method, input)?;
            metagraph(chain, netuid)
                .await?
                .map(|m| hyperparams(&m))
                .encode()
        }
        "SubnetInfoRuntimeApi_get_subnet_state" => {
            let netuid: u16 = params(method, input)?;
            match metagraph(chain, netuid).await? {
                None => None::<SubnetState>.encode(),
                Some(m) => Some(subnet_state(&metagraph_info(chain, &m).await?)).encode(),
            }
        }
        "SubnetInfoRuntimeApi_get_metagraph" => {
            let netuid: u16 = params(method, input)?;
            match metagraph(chain, netuid).await? {
                None => None::<Metagraph_>.encode(),
                Some(m) => Some(metagraph_info(chain, &m).await?).encode(),
            }
        }
        "SubnetInfoRuntimeApi_get_selective_mechagraph" => {
            let (netuid, mecid, indexes): (u16, u8, Vec<u16>) = params(method, input)?;
            match metagraph(chain, netuid).await? {
                Some(m) if mecid == 0 => {
                    let (validators, commitments) = selective_extras(chain, &m).await?;
                    Some(
                        metagraph_info(chain, &m)
                            .await?
                            .select(&indexes, validators, commitments),
                    )
                    .encode()
                }
                _ => None::<SelectiveMetagraph>.encode(),
            }
        }
        "StakeInfoRuntimeApi_get_stake_info_for_hotkey_coldkey_netuid" => {
            let (hotkey, coldkey, netuid): (AccountId32, AccountId32, u16) = params(method, input)?;
            let neuron = metagraph(chain, netuid)
                .await?
                .and_then(|m| m.neurons.into_iter().find(|n| n.hotkey.0 == hotkey.0));
            // Stake on arena's chain belongs to the hotkey; it is reported for its owner.
            let stake = neuron
                .as_ref()
                .filter(|n| n.coldkey.0 == coldkey.0)
                .map_or(0, |n| n.stake);
            Some(StakeInfo {
                hotkey,
                coldkey,
                netuid,
                stake,
                locked: 0,
                emission: neuron.as_ref().map_or(0, |n| n.emission),
                tao_emission: 0,
                drain: 0,
                is_registered: neuron.is_some(),
            })
            .encode()
        }
        "SubnetRegistrationRuntimeApi_get_network_registration_cost" => {
            params::<()>(method, input)?;
            0u64.encode()
        }
        "SwapRuntimeApi_sim_swap_tao_for_alpha" => {
            let (_netuid, tao): (u16, u64) = params(method, input)?;
            SimSwapResult {
                tao_amount: tao,
                alpha_amount: tao,
                tao_fee: 0,
                alpha_fee: 0,
            }
            .encode()
        }
        other => return Err(ApiError::NotFound(other.to_string())),
    })
}

async fn metagraph(chain: &LocalChain, netuid: u16) -> Result<Option<Metagraph>, ApiError> {
    if !chain.subnets().await?.contains(&netuid) {
        return Ok(None);
    }
    Ok(Some(chain.metagraph(netuid).await?))
}

fn lite(netuid: u16, n: &ArenaNeuron) -> NeuronInfoLite {
    NeuronInfoLite {
        hotkey: account(&n.hotkey),
        coldkey: account(&n.coldkey),
        uid: n.uid,
        netuid,
        active: n.active,
        axon_info: AxonInfo::default(),
        prometheus_info: PrometheusInfo::default(),
        stake: vec![(account(&n.coldkey), Compact(n.stake))],
        rank: 0,
        emission: n.emission,
        incentive: n.incentive,
        consensus: n.consensus,
        trust: n.trust,
        validator_trust: n.validator_trust,
        dividends: n.dividends,
        last_update: n.last_update,
        validator_permit: n.validator_permit,
        pruning_score: 0,
    }
}

fn full(
    netuid: u16,
    n: &ArenaNeuron,
    weights: Vec<(Compact<u16>, Compact<u16>)>,
    bonds: Vec<(Compact<u16>, Compact<u16>)>,
) -> NeuronInfo {
    let l = lite(netuid, n);
    NeuronInfo {
        hotkey: l.hotkey,
        coldkey: l.coldkey,
        uid: l.uid,
        netuid,
        active: l.active,
        axon_info: l.axon_info,
        prometheus_info: l.prometheus_info,
        stake: l.stake,
        rank: 0,
        emission: l.emission,
        incentive: l.incentive,
        consensus: l.consensus,
        trust: l.trust,
        validator_trust: l.validator_trust,
        dividends: l.dividends,
        last_update: l.last_update,
        validator_permit: l.validator_permit,
        weights,
        bonds,
        pruning_score: 0,
    }
}

/// Arena's `alpha_sigmoid_steepness` (an integer) as the I32F32 bits Subtensor reports.
fn steepness(v: i16) -> FixedI64 {
    FixedI64 {
        bits: i64::from(v) << 32,
    }
}

fn hyperparams(m: &Metagraph) -> SubnetHyperparamsV2 {
    let hp = &m.hyperparameters;
    SubnetHyperparamsV2 {
        rho: 10,
        kappa: hp.kappa,
        immunity_period: hp.immunity_period.min(u16::MAX as u64) as u16,
        min_allowed_weights: hp.min_allowed_weights,
        max_weights_limit: hp.max_weights_limit,
        tempo: hp.tempo,
        weights_version: hp.weights_version_key,
        weights_rate_limit: hp.weights_rate_limit,
        activity_cutoff: hp.activity_cutoff.min(u16::MAX as u64) as u16,
        registration_allowed: true,
        max_regs_per_block: 1,
        max_validators: hp.max_allowed_validators,
        bonds_moving_avg: hp.bonds_moving_average,
        commit_reveal_period: hp.reveal_period_epochs,
        commit_reveal_weights_enabled: hp.commit_reveal_weights_enabled,
        alpha_high: hp.alpha_high,
        alpha_low: hp.alpha_low,
        liquid_alpha_enabled: hp.liquid_alpha,
        alpha_sigmoid_steepness: steepness(hp.alpha_sigmoid_steepness),
        yuma_version: 3,
        subnet_is_active: true,
        transfers_enabled: true,
        ..SubnetHyperparamsV2::default()
    }
}

fn per_uid<T>(m: &Metagraph, f: impl Fn(&ArenaNeuron) -> T) -> Vec<T> {
    m.neurons.iter().map(f).collect()
}

/// The per-uid vectors of a subnet, as in its metagraph.
fn subnet_state(m: &Metagraph_) -> SubnetState {
    SubnetState {
        netuid: m.netuid.0,
        hotkeys: m.hotkeys.clone(),
        coldkeys: m.coldkeys.clone(),
        active: m.active.clone(),
        validator_permit: m.validator_permit.clone(),
        pruning_score: m.pruning_score.clone(),
        last_update: m.last_update.clone(),
        emission: m.emission.clone(),
        dividends: m.dividends.clone(),
        incentives: m.incentives.clone(),
        consensus: m.consensus.clone(),
        trust: m.trust.clone(),
        rank: m.rank.clone(),
        block_at_registration: m.block_at_registration.clone(),
        alpha_stake: m.alpha_stake.clone(),
        tao_stake: m.tao_stake.clone(),
        total_stake: m.total_stake.clone(),
        emission_history: Vec::new(),
    }
}

async fn metagraph_info(chain: &LocalChain, m: &Metagraph) -> Result<Metagraph_, ApiError> {
    let subnet = chain.subnet(m.netuid).await?;
    let hp = &m.hyperparameters;
    let text = |s: &str| s.bytes().map(Compact).collect::<Vec<_>>();
    let c16 = |v: u16| Compact(v);
    let c64 = |v: u64| Compact(v);
    let clamp16 = |v: u64| Compact(v.min(u64::from(u16::MAX)) as u16);
    Ok(Metagraph_ {
        netuid: c16(m.netuid),
        name: text(&format!("arena-{}", m.netuid)),
        symbol: text(crate::storage::TOKEN_SYMBOL),
        identity: None,
        network_registered_at: c64(subnet.created_block),
        owner_hotkey: account(&subnet.owner),
        owner_coldkey: account(&subnet.owner),
        block: c64(m.block),
        tempo: c16(hp.tempo),
        last_step: c64(subnet.last_epoch_block),
        blocks_since_last_step: c64(m.block.saturating_sub(subnet.last_epoch_block)),
        subnet_emission: c64(hp.emission_per_block),
        alpha_in: c64(0),
        alpha_out: c64(0),
        tao_in: c64(0),
        alpha_out_emission: c64(0),
        alpha_in_emission: c64(0),
        tao_in_emission: c64(0),
        pending_alpha_emission: c64(0),
        pending_root_emission: c64(0),
        subnet_volume: Compact(0),
        moving_price: FixedI128 { bits: 1 << 32 },
        rho: c16(10),
        kappa: c16(hp.kappa),
        min_allowed_weights: c16(hp.min_allowed_weights),
        max_weights_limit: c16(hp.max_weights_limit),
        weights_version: c64(hp.weights_version_key),
        weights_rate_limit: c64(hp.weights_rate_limit),
        activity_cutoff: clamp16(hp.activity_cutoff),
        max_validators: c16(hp.max_allowed_validators),
        num_uids: c16(m.neurons.len() as u16),
        max_uids: c16(hp.max_allowed_uids),
        burn: c64(0),
        difficulty: c64(0),
        registration_allowed: true,
        pow_registration_allowed: false,
        immunity_period: clamp16(hp.immunity_period),
        min_difficulty: c64(0),
        max_difficulty: c64(0),
        min_burn: c64(0),
        max_burn: c64(0),
        adjustment_alpha: c64(0),
        adjustment_interval: c16(0),
        target_regs_per_interval: c16(0),
        max_regs_per_block: c16(1),
        serving_rate_limit: c64(0),
        commit_reveal_weights_enabled: hp.commit_reveal_weights_enabled,
        commit_reveal_period: c64(hp.reveal_period_epochs),
        liquid_alpha_enabled: hp.liquid_alpha,
        alpha_high: c16(hp.alpha_high),
        alpha_low: c16(hp.alpha_low),
        bonds_moving_avg: c64(hp.bonds_moving_average),
        hotkeys: per_uid(m, |n| account(&n.hotkey)),
        coldkeys: per_uid(m, |n| account(&n.coldkey)),
        identities: per_uid(m, |_| None),
        axons: per_uid(m, |_| AxonInfo::default()),
        active: per_uid(m, |n| n.active),
        validator_permit: per_uid(m, |n| n.validator_permit),
        pruning_score: per_uid(m, |_| Compact(0)),
        last_update: per_uid(m, |n| Compact(n.last_update)),
        emission: per_uid(m, |n| Compact(n.emission)),
        dividends: per_uid(m, |n| Compact(n.dividends)),
        incentives: per_uid(m, |n| Compact(n.incentive)),
        consensus: per_uid(m, |n| Compact(n.consensus)),
        trust: per_uid(m, |n| Compact(n.trust)),
        rank: per_uid(m, |_| Compact(0)),
        block_at_registration: per_uid(m, |n| Compact(n.registration_block)),
        alpha_stake: per_uid(m, |n| Compact(n.stake)),
        tao_stake: per_uid(m, |n| Compact(n.stake)),
        total_stake: per_uid(m, |n| Compact(n.stake)),
        tao_dividends_per_hotkey: Vec::new(),
        alpha_dividends_per_hotkey: Vec::new(),
    })
}

/// The validators' uids and the commitments of a subnet, as the selective metagraph carries
/// them (commitments as the text of their first `Raw` field, one compact per byte).
async fn selective_extras(
    chain: &LocalChain,
    m: &Metagraph,
) -> Result<(Vec<Compact<u16>>, Vec<(AccountId32, Vec<Compact<u8>>)>), ApiError> {
    let validators = m
        .neurons
        .iter()
        .filter(|n| n.validator_permit)
        .map(|n| Compact(n.uid))
        .collect();
    let commitments = chain
        .commitments(m.netuid)
        .await?
        .iter()
        .map(|c| {
            (
                account(&c.hotkey),
                c.data.iter().copied().map(Compact).collect(),
            )
        })
        .collect();
    Ok((validators, commitments))
}

use crate::types::Metagraph as Metagraph_;
