//! Multi-epoch scenarios in a fixed JSON format, so other tools (and the chain's tests) can
//! replay a sequence of `set_weights` calls and compare every epoch's stored outputs.
//!
//! ```json
//! {"n": 5, "stakes": [8,1,1,0,0], "max_validators": 3, "rao_emission": 1000000000,
//!  "hyperparameters": {"kappa": 32767, "yuma3": true, "liquid_alpha": true,
//!                      "alpha_low": 0.1, "alpha_high": 0.3},
//!  "epochs": [{"set_weights": [{"uid": 0, "dests": [3,4], "weights": [65535,0]}]},
//!             {"set_weights": []}]}
//! ```
//!
//! Timeline: every uid registers at block 0 and the scenario starts at block 1. Each epoch
//! entry sets its weights in order at the current block (checked and max-upscaled as the
//! `set_weights` extrinsic does, explicit zeros kept; rate limit and version key are not
//! modelled), then one block passes and one epoch runs with the permits and bonds left by the
//! previous one. Hyperparameters left out take subtensor's defaults ([`Hyperparameters`]).

use serde::{Deserialize, Serialize};
use substrate_fixed::types::I32F32;

use crate::types::{EpochInput, EpochOutput, Hyperparameters, YumaError, DEFAULT_TAO_WEIGHT};
use crate::weights::{check_and_upscale, WeightsContext, WeightsError};

/// A scenario file: the subnet, its stakes and the weights set before each epoch.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Number of uids.
    pub n: u16,
    /// Stake per uid in rao.
    pub stakes: Vec<u64>,
    /// Validator permits per epoch (overrides `hyperparameters.max_validators`).
    #[serde(default)]
    pub max_validators: Option<u16>,
    /// Rao distributed per epoch (default 1e9, as subtensor's tests use).
    #[serde(default = "default_rao_emission")]
    pub rao_emission: u64,
    /// Hyperparameters; missing ones take subtensor's defaults.
    #[serde(default)]
    pub hyperparameters: ScenarioHyperparameters,
    /// One entry per epoch, run in order.
    pub epochs: Vec<ScenarioEpoch>,
}

fn default_rao_emission() -> u64 {
    1_000_000_000
}

/// Hyperparameters as a scenario writes them: storage units, except `alpha_low`/`alpha_high`
/// which are proportions in [0, 1] (converted like subtensor's `set_alpha_values_32`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // Each field is documented on `Hyperparameters`.
pub struct ScenarioHyperparameters {
    pub tempo: Option<u16>,
    pub kappa: Option<u16>,
    pub bonds_moving_average: Option<u64>,
    pub bonds_penalty: Option<u16>,
    pub yuma3: Option<bool>,
    pub liquid_alpha: Option<bool>,
    pub alpha_low: Option<f64>,
    pub alpha_high: Option<f64>,
    pub alpha_sigmoid_steepness: Option<i16>,
    pub activity_cutoff: Option<u64>,
    pub max_validators: Option<u16>,
    pub min_allowed_weights: Option<u16>,
    pub max_weight_limit: Option<u16>,
    pub stake_threshold: Option<u64>,
    pub tao_weight: Option<u64>,
}

/// The calls made before one epoch.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioEpoch {
    /// `set_weights` calls, applied in order.
    #[serde(default)]
    pub set_weights: Vec<SetWeights>,
}

/// One `set_weights` call.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetWeights {
    /// Caller's uid.
    pub uid: u16,
    /// Target uids.
    pub dests: Vec<u16>,
    /// Raw u16 weights (max-upscaled before storage).
    pub weights: Vec<u16>,
}

/// One epoch's stored outputs, the line format of `arena chain yuma`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Index in `epochs`.
    pub epoch: usize,
    /// Permits for the next epoch.
    pub validator_permit: Vec<bool>,
    /// Consensus (u16 proportion).
    pub consensus: Vec<u16>,
    /// Incentive (u16 proportion).
    pub incentive: Vec<u16>,
    /// Dividends (u16 proportion).
    pub dividends: Vec<u16>,
    /// Validator trust (u16 proportion).
    pub validator_trust: Vec<u16>,
    /// Stored combined emission per uid (rao).
    pub emission: Vec<u64>,
    /// Stored bonds rows `[dest, u16]`.
    pub bonds: Vec<Vec<(u16, u16)>>,
}

/// Why a scenario could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not valid scenario JSON.
    #[error("invalid scenario JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `stakes` does not have n entries.
    #[error("stakes has {actual} entries, expected n = {n}")]
    StakesLength {
        /// Its length.
        actual: usize,
        /// n.
        n: u16,
    },
    /// An alpha bound outside [0, 1].
    #[error("hyperparameters.{name} = {value} is not a proportion in [0, 1]")]
    Alpha {
        /// Field name.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A `set_weights` caller that is not a uid.
    #[error("epoch {epoch}: set_weights from uid {uid}, which does not exist (n = {n})")]
    UnknownCaller {
        /// Epoch index.
        epoch: usize,
        /// Caller.
        uid: u16,
        /// n.
        n: u16,
    },
    /// A `set_weights` call the chain would reject.
    #[error("epoch {epoch}: set_weights from uid {uid} rejected: {source}")]
    Weights {
        /// Epoch index.
        epoch: usize,
        /// Caller.
        uid: u16,
        /// The chain's reason.
        source: WeightsError,
    },
    /// The epoch input was inconsistent.
    #[error("epoch {epoch}: {source}")]
    Epoch {
        /// Epoch index.
        epoch: usize,
        /// Cause.
        source: YumaError,
    },
}

impl Scenario {
    /// Parse a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The effective hyperparameters: given values over subtensor's defaults.
    pub fn hyperparameters(&self) -> Result<Hyperparameters, ScenarioError> {
        let h = &self.hyperparameters;
        let d = Hyperparameters::default();
        Ok(Hyperparameters {
            tempo: h.tempo.unwrap_or(d.tempo),
            kappa: h.kappa.unwrap_or(d.kappa),
            bonds_moving_average: h.bonds_moving_average.unwrap_or(d.bonds_moving_average),
            bonds_penalty: h.bonds_penalty.unwrap_or(d.bonds_penalty),
            yuma3: h.yuma3.unwrap_or(d.yuma3),
            liquid_alpha: h.liquid_alpha.unwrap_or(d.liquid_alpha),
            alpha_low: alpha_to_u16("alpha_low", h.alpha_low)?.unwrap_or(d.alpha_low),
            alpha_high: alpha_to_u16("alpha_high", h.alpha_high)?.unwrap_or(d.alpha_high),
            alpha_sigmoid_steepness: h
                .alpha_sigmoid_steepness
                .unwrap_or(d.alpha_sigmoid_steepness),
            activity_cutoff: h.activity_cutoff.unwrap_or(d.activity_cutoff),
            max_allowed_validators: self
                .max_validators
                .or(h.max_validators)
                .unwrap_or(d.max_allowed_validators),
            min_allowed_weights: h.min_allowed_weights.unwrap_or(d.min_allowed_weights),
            max_weights_limit: h.max_weight_limit.unwrap_or(d.max_weights_limit),
            stake_threshold: h.stake_threshold.unwrap_or(d.stake_threshold),
            ..d
        })
    }

    /// Run every epoch and return their reports in order.
    pub fn run(&self) -> Result<Vec<EpochReport>, ScenarioError> {
        let n = self.n;
        let nu = n as usize;
        if self.stakes.len() != nu {
            return Err(ScenarioError::StakesLength {
                actual: self.stakes.len(),
                n,
            });
        }
        let hyperparameters = self.hyperparameters()?;
        let mut state = EpochInput {
            n,
            current_block: 1,
            last_epoch_block: 0,
            rao_emission: self.rao_emission,
            stakes: self.stakes.clone(),
            tao_weight: self
                .hyperparameters
                .tao_weight
                .unwrap_or(DEFAULT_TAO_WEIGHT),
            root_stakes: Vec::new(),
            validator_permit: vec![false; nu],
            weights: vec![Vec::new(); nu],
            bonds: vec![Vec::new(); nu],
            last_update: vec![0; nu],
            block_at_registration: vec![0; nu],
            owner_uid: None,
            commit_blocks: None,
            hyperparameters,
        };
        let mut reports = Vec::with_capacity(self.epochs.len());
        for (epoch, entry) in self.epochs.iter().enumerate() {
            for call in &entry.set_weights {
                apply_set_weights(&mut state, epoch, call)?;
            }
            state.current_block += 1;
            let out =
                crate::epoch(&state).map_err(|source| ScenarioError::Epoch { epoch, source })?;
            state.last_epoch_block = state.current_block;
            reports.push(report(epoch, &out));
            state.validator_permit = out.validator_permit;
            state.bonds = out.bonds;
        }
        Ok(reports)
    }
}

fn apply_set_weights(
    state: &mut EpochInput,
    epoch: usize,
    call: &SetWeights,
) -> Result<(), ScenarioError> {
    let uid = call.uid;
    if uid >= state.n {
        return Err(ScenarioError::UnknownCaller {
            epoch,
            uid,
            n: state.n,
        });
    }
    let hp = &state.hyperparameters;
    let ctx = WeightsContext {
        n: state.n,
        uid,
        has_permit: state
            .validator_permit
            .get(uid as usize)
            .copied()
            .unwrap_or(false),
        is_owner: state.owner_uid == Some(uid),
        stake: state.stakes[uid as usize],
        stake_threshold: hp.stake_threshold,
        min_allowed_weights: hp.min_allowed_weights,
        max_weight_limit: hp.max_weights_limit,
    };
    let row = check_and_upscale(&ctx, &call.dests, &call.weights)
        .map_err(|source| ScenarioError::Weights { epoch, uid, source })?;
    state.weights[uid as usize] = row;
    state.last_update[uid as usize] = state.current_block;
    Ok(())
}

fn alpha_to_u16(name: &'static str, value: Option<f64>) -> Result<Option<u16>, ScenarioError> {
    let Some(value) = value else { return Ok(None) };
    if !(0.0..=1.0).contains(&value) {
        return Err(ScenarioError::Alpha { name, value });
    }
    let fixed = I32F32::from_num(value);
    Ok(Some(crate::math::fixed_proportion_to_u16(fixed)))
}

fn report(epoch: usize, out: &EpochOutput) -> EpochReport {
    EpochReport {
        epoch,
        validator_permit: out.validator_permit.clone(),
        consensus: out.consensus.clone(),
        incentive: out.incentive.clone(),
        dividends: out.dividends.clone(),
        validator_trust: out.validator_trust.clone(),
        emission: out.emission.clone(),
        bonds: out.bonds.clone(),
    }
}
