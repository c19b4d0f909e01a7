//! The stateless part of subtensor's `set_weights`: the checks that depend only on the call,
//! the subnet size, the caller's permit and stake, and the max-upscaling of stored values.
//! Signature, registration, version key and rate limit are the caller's business (a chain).

use crate::math::{safe_div, u16_max_upscale, u16_proportion_to_fixed, I32F32, ZERO};

/// A `set_weights` rejection, named after subtensor's error variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightsError {
    /// `dests` and `weights` differ in length.
    #[error("WeightVecNotEqualSize: {dests} uids but {weights} weights")]
    WeightVecNotEqualSize {
        /// Number of uids.
        dests: usize,
        /// Number of weights.
        weights: usize,
    },
    /// More uids than the subnet has.
    #[error("UidsLengthExceedUidsInSubNet: {len} uids on a subnet of {n}")]
    UidsLengthExceedUidsInSubNet {
        /// Number of uids.
        len: usize,
        /// Subnet size.
        n: u16,
    },
    /// Stake below the subnet's stake threshold.
    #[error("NotEnoughStakeToSetWeights: stake {stake} below threshold {threshold}")]
    NotEnoughStakeToSetWeights {
        /// Caller's stake (rao).
        stake: u64,
        /// Required stake (rao).
        threshold: u64,
    },
    /// Non-self weights from a uid without a validator permit.
    #[error("NeuronNoValidatorPermit: uid {uid} has no validator permit")]
    NeuronNoValidatorPermit {
        /// Caller's uid.
        uid: u16,
    },
    /// The same uid twice.
    #[error("DuplicateUids: uid {uid} appears twice")]
    DuplicateUids {
        /// The repeated uid.
        uid: u16,
    },
    /// A uid that is not registered.
    #[error("UidVecContainInvalidOne: uid {uid} does not exist on a subnet of {n}")]
    UidVecContainInvalidOne {
        /// The unknown uid.
        uid: u16,
        /// Subnet size.
        n: u16,
    },
    /// Fewer weights than `min(n, min_allowed_weights)`.
    #[error("WeightVecLengthIsLow: {len} weights, at least {min} required")]
    WeightVecLengthIsLow {
        /// Number of weights.
        len: usize,
        /// Required number.
        min: usize,
    },
    /// A normalised weight above `max_weight_limit`.
    #[error("MaxWeightExceeded: a weight exceeds the limit {limit}/65535")]
    MaxWeightExceeded {
        /// The limit.
        limit: u16,
    },
}

/// The caller and subnet facts the checks need.
#[derive(Clone, Copy, Debug)]
pub struct WeightsContext {
    /// Subnet size.
    pub n: u16,
    /// Caller's uid.
    pub uid: u16,
    /// Caller's validator permit (from the last epoch).
    pub has_permit: bool,
    /// Whether the caller is the subnet owner (exempt from permit and stake checks).
    pub is_owner: bool,
    /// Caller's stake as the epoch counts it, in rao.
    pub stake: u64,
    /// Subnet stake threshold (rao).
    pub stake_threshold: u64,
    /// Subnet `MinAllowedWeights`.
    pub min_allowed_weights: u16,
    /// Subnet `MaxWeightsLimit` (/ 65535; 65535 = no limit).
    pub max_weight_limit: u16,
}

/// Check a `set_weights` call in subtensor's order and return the row to store:
/// `(uid, max-upscaled weight)` in the caller's order, explicit zeros kept.
pub fn check_and_upscale(
    ctx: &WeightsContext,
    dests: &[u16],
    weights: &[u16],
) -> Result<Vec<(u16, u16)>, WeightsError> {
    if dests.len() != weights.len() {
        return Err(WeightsError::WeightVecNotEqualSize {
            dests: dests.len(),
            weights: weights.len(),
        });
    }
    if dests.len() > ctx.n as usize {
        return Err(WeightsError::UidsLengthExceedUidsInSubNet {
            len: dests.len(),
            n: ctx.n,
        });
    }
    if !ctx.is_owner && ctx.stake < ctx.stake_threshold {
        return Err(WeightsError::NotEnoughStakeToSetWeights {
            stake: ctx.stake,
            threshold: ctx.stake_threshold,
        });
    }
    let self_weight = weights.len() == 1 && dests.first() == Some(&ctx.uid);
    if !(self_weight || ctx.is_owner || ctx.has_permit) {
        return Err(WeightsError::NeuronNoValidatorPermit { uid: ctx.uid });
    }
    for (k, uid) in dests.iter().enumerate() {
        if dests[..k].contains(uid) {
            return Err(WeightsError::DuplicateUids { uid: *uid });
        }
    }
    if let Some(uid) = dests.iter().find(|uid| **uid >= ctx.n) {
        return Err(WeightsError::UidVecContainInvalidOne {
            uid: *uid,
            n: ctx.n,
        });
    }
    let min = (ctx.min_allowed_weights as usize).min(ctx.n as usize);
    if !self_weight && weights.len() < min {
        return Err(WeightsError::WeightVecLengthIsLow {
            len: weights.len(),
            min,
        });
    }
    let upscaled = u16_max_upscale(weights);
    if !self_weight
        && ctx.max_weight_limit != u16::MAX
        && !max_limited(&upscaled, ctx.max_weight_limit)
    {
        return Err(WeightsError::MaxWeightExceeded {
            limit: ctx.max_weight_limit,
        });
    }
    Ok(dests.iter().copied().zip(upscaled).collect())
}

/// Whether the largest normalised weight is within `limit / 65535`.
fn max_limited(values: &[u16], limit: u16) -> bool {
    let fixed: Vec<I32F32> = values.iter().map(|v| I32F32::from_num(*v)).collect();
    let total = crate::math::sum(&fixed);
    let limit = u16_proportion_to_fixed(limit);
    fixed.iter().all(|v| {
        let share = if total == ZERO {
            *v
        } else {
            safe_div(*v, total)
        };
        share <= limit
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> WeightsContext {
        WeightsContext {
            n: 4,
            uid: 0,
            has_permit: true,
            is_owner: false,
            stake: 100,
            stake_threshold: 10,
            min_allowed_weights: 2,
            max_weight_limit: u16::MAX,
        }
    }

    #[test]
    fn stores_max_upscaled_values_in_call_order_with_zeros() {
        let row = check_and_upscale(&ctx(), &[3, 1], &[0, 100]).unwrap();
        assert_eq!(row, vec![(3, 0), (1, 65535)]);
    }

    #[test]
    fn rejects_in_subtensors_order_with_its_error_names() {
        let no_permit = WeightsContext {
            has_permit: false,
            ..ctx()
        };
        let cases: [(WeightsContext, &[u16], &[u16], &str); 7] = [
            (ctx(), &[1, 2], &[1], "WeightVecNotEqualSize"),
            (
                ctx(),
                &[1, 2, 3, 1, 2],
                &[1; 5],
                "UidsLengthExceedUidsInSubNet",
            ),
            (
                WeightsContext { stake: 9, ..ctx() },
                &[1, 2],
                &[1, 1],
                "NotEnoughStakeToSetWeights",
            ),
            (no_permit, &[1, 2], &[1, 1], "NeuronNoValidatorPermit"),
            (ctx(), &[1, 1], &[1, 1], "DuplicateUids"),
            (ctx(), &[1, 4], &[1, 1], "UidVecContainInvalidOne"),
            (ctx(), &[1], &[1], "WeightVecLengthIsLow"),
        ];
        for (c, dests, weights, name) in cases {
            let err = check_and_upscale(&c, dests, weights)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(name), "{dests:?}: got {err}, want {name}");
        }
    }

    #[test]
    fn a_single_self_weight_needs_no_permit_and_no_minimum() {
        let c = WeightsContext {
            has_permit: false,
            ..ctx()
        };
        assert_eq!(check_and_upscale(&c, &[0], &[7]).unwrap(), vec![(0, 65535)]);
    }

    #[test]
    fn max_weight_limit_applies_to_normalised_weights() {
        let c = WeightsContext {
            max_weight_limit: 32768,
            ..ctx()
        };
        assert!(check_and_upscale(&c, &[1, 2], &[1, 1]).is_ok());
        let err = check_and_upscale(&c, &[1, 2], &[3, 1]).unwrap_err();
        assert_eq!(err, WeightsError::MaxWeightExceeded { limit: 32768 });
    }
}
