//! Float weights to the `u16` pairs `set_weights` takes.
//!
//! As bittensor's `convert_weights_and_uids_for_emit`: divide by the maximum, scale by 65535,
//! round half to even (Python's `round`), drop zeros. The largest weight becomes 65535, so the
//! chain sees the full u16 resolution whatever the float scale.

/// Why a weight vector cannot be sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightError {
    /// Negative, NaN or infinite weights are a bug upstream; refusing beats sending garbage.
    #[error("weight for uid {uid} is {value}; weights must be finite and non-negative")]
    BadValue {
        /// The uid (index in the vector).
        uid: usize,
        /// Its value.
        value: f64,
    },
    /// uids are u16 on chain.
    #[error("{0} weights given; at most 65536 uids exist")]
    TooMany(usize),
}

/// Converts uid-indexed float weights into `(uid, weight)` pairs with the largest at 65535 and
/// zeros dropped; an all-zero vector gives an empty list.
pub fn to_u16_weights(weights: &[f64]) -> Result<Vec<(u16, u16)>, WeightError> {
    if weights.len() > usize::from(u16::MAX) + 1 {
        return Err(WeightError::TooMany(weights.len()));
    }
    if let Some((uid, &value)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
    {
        return Err(WeightError::BadValue { uid, value });
    }
    let max = weights.iter().copied().fold(0.0, f64::max);
    if max <= 0.0 {
        return Ok(Vec::new());
    }
    Ok(weights
        .iter()
        .enumerate()
        .filter_map(|(uid, &w)| {
            let scaled = (w / max * f64::from(u16::MAX)).round_ties_even();
            (scaled >= 1.0).then_some((uid as u16, scaled as u16))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_upscale_hand_computed() {
        // 0.5 / 0.5 → 65535; 0.25 / 0.5 · 65535 = 32767.5 → 32768 (half to even); 0 dropped.
        let pairs = to_u16_weights(&[0.25, 0.0, 0.5, 0.1]).unwrap();
        // 0.1 / 0.5 · 65535 = 13107.
        assert_eq!(pairs, vec![(0, 32768), (2, 65535), (3, 13107)]);
        // Scale does not matter.
        assert_eq!(to_u16_weights(&[2.5, 0.0, 5.0, 1.0]).unwrap(), pairs);
    }

    #[test]
    fn tiny_weights_round_to_zero_and_are_dropped() {
        // 1e-6 · 65535 = 0.065 → 0.
        assert_eq!(to_u16_weights(&[1.0, 1e-6]).unwrap(), vec![(0, 65535)]);
        // 0.5 / 65535 of the max is exactly half a step: rounds to even (0).
        let half = 0.5 / 65535.0;
        assert_eq!(to_u16_weights(&[1.0, half]).unwrap(), vec![(0, 65535)]);
        let one_and_half = 1.5 / 65535.0;
        assert_eq!(
            to_u16_weights(&[1.0, one_and_half]).unwrap(),
            vec![(0, 65535), (1, 2)]
        );
    }

    #[test]
    fn empty_and_zero() {
        assert!(to_u16_weights(&[]).unwrap().is_empty());
        assert!(to_u16_weights(&[0.0, 0.0]).unwrap().is_empty());
    }

    #[test]
    fn bad_values() {
        assert_eq!(
            to_u16_weights(&[1.0, -0.1]),
            Err(WeightError::BadValue {
                uid: 1,
                value: -0.1
            })
        );
        assert!(matches!(
            to_u16_weights(&[f64::NAN]),
            Err(WeightError::BadValue { uid: 0, .. })
        ));
        assert!(to_u16_weights(&[f64::INFINITY]).is_err());
        assert_eq!(
            to_u16_weights(&vec![0.0; 65537]),
            Err(WeightError::TooMany(65537))
        );
        assert_eq!(to_u16_weights(&vec![1.0; 65536]).unwrap().len(), 65536);
    }
}
