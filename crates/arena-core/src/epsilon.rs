//! The advantage an older model keeps over a newer one (taoverse `epsilon.py`).
//!
//! A copy of the leader re-uploaded later must not win on noise, so the older model's score is
//! multiplied by `1 − ε` when two models are compared. `ε` is a function of the older model's
//! own age: with [`EpsilonFunc::LinearDecay`] an incumbent's protection shrinks as it ages, which
//! lets a genuinely better newcomer through eventually (SN37 comp 4: 0.05 → 0.01 over 21 600 blocks).

use serde::{Deserialize, Serialize};

/// How large the older model's advantage is, as a function of its age in blocks.
///
/// TOML: `epsilon = { kind = "fixed", value = 0.005 }` or
/// `epsilon = { kind = "linear_decay", start = 0.05, end = 0.01, blocks = 21600 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EpsilonFunc {
    /// A constant advantage (SN9 before Sep 2024: 0.005).
    Fixed {
        /// The advantage, in `[0, 1)`.
        value: f64,
    },
    /// `start` at the commit block, falling linearly to `end` after `blocks` blocks, then flat.
    LinearDecay {
        /// Advantage of a model committed at the current block.
        start: f64,
        /// Advantage once fully decayed.
        end: f64,
        /// Blocks over which the advantage decays; must be positive.
        blocks: u64,
    },
}

/// Why an epsilon definition cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EpsilonError {
    /// An advantage outside `[0, 1)` would zero or invert the older model's score.
    #[error("epsilon value {0} must be in [0, 1)")]
    OutOfRange(f64),
    /// A decay over zero blocks is a division by zero.
    #[error("epsilon decay blocks must be positive")]
    ZeroBlocks,
}

impl EpsilonFunc {
    /// ε for a model committed at `model_block`, evaluated at `current_block`:
    /// `start − min(max(current − model, 0) / blocks, 1) · (start − end)`.
    /// A model block in the future (clock skew between chain reads) counts as age 0.
    pub fn epsilon(&self, current_block: u64, model_block: u64) -> f64 {
        match *self {
            EpsilonFunc::Fixed { value } => value,
            EpsilonFunc::LinearDecay { start, end, blocks } => {
                let age = current_block.saturating_sub(model_block) as f64;
                let progress = (age / blocks.max(1) as f64).min(1.0);
                start - progress * (start - end)
            }
        }
    }

    /// The advantage once fully decayed (the smallest protection a model ever has).
    pub fn fully_decayed(&self) -> f64 {
        match *self {
            EpsilonFunc::Fixed { value } => value,
            EpsilonFunc::LinearDecay { end, .. } => end,
        }
    }

    /// Checks every value is in `[0, 1)` and the decay has a positive length.
    pub fn validate(&self) -> Result<(), EpsilonError> {
        let in_range = |v: f64| (0.0..1.0).contains(&v);
        match *self {
            EpsilonFunc::Fixed { value } if !in_range(value) => {
                Err(EpsilonError::OutOfRange(value))
            }
            EpsilonFunc::LinearDecay { blocks: 0, .. } => Err(EpsilonError::ZeroBlocks),
            EpsilonFunc::LinearDecay { start, end, .. } => {
                for v in [start, end] {
                    if !in_range(v) {
                        return Err(EpsilonError::OutOfRange(v));
                    }
                }
                Ok(())
            }
            EpsilonFunc::Fixed { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMP4: EpsilonFunc = EpsilonFunc::LinearDecay {
        start: 0.05,
        end: 0.01,
        blocks: 21_600,
    };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn fixed_ignores_age() {
        let e = EpsilonFunc::Fixed { value: 0.005 };
        assert_eq!(e.epsilon(0, 0), 0.005);
        assert_eq!(e.epsilon(1_000_000, 3), 0.005);
        assert_eq!(e.fully_decayed(), 0.005);
    }

    #[test]
    fn linear_decay_hand_computed() {
        // age 0 → start; a quarter of the way: 0.05 − 0.25·0.04 = 0.04; half: 0.03.
        assert!(close(COMP4.epsilon(1000, 1000), 0.05));
        assert!(close(COMP4.epsilon(1000 + 5_400, 1000), 0.04));
        assert!(close(COMP4.epsilon(1000 + 10_800, 1000), 0.03));
        // exactly at the end and long after: flat at `end`.
        assert!(close(COMP4.epsilon(1000 + 21_600, 1000), 0.01));
        assert!(close(COMP4.epsilon(10_000_000, 1000), 0.01));
        assert_eq!(COMP4.fully_decayed(), 0.01);
    }

    #[test]
    fn future_model_block_counts_as_age_zero() {
        assert!(close(COMP4.epsilon(100, 500), 0.05));
    }

    #[test]
    fn increasing_decay_is_allowed() {
        let e = EpsilonFunc::LinearDecay {
            start: 0.0,
            end: 0.1,
            blocks: 10,
        };
        assert!(close(e.epsilon(5, 0), 0.05));
    }

    #[test]
    fn validation() {
        assert!(COMP4.validate().is_ok());
        assert_eq!(
            EpsilonFunc::Fixed { value: 1.0 }.validate(),
            Err(EpsilonError::OutOfRange(1.0))
        );
        assert_eq!(
            EpsilonFunc::Fixed { value: -0.1 }.validate(),
            Err(EpsilonError::OutOfRange(-0.1))
        );
        let zero = EpsilonFunc::LinearDecay {
            start: 0.05,
            end: 0.01,
            blocks: 0,
        };
        assert_eq!(zero.validate(), Err(EpsilonError::ZeroBlocks));
        let bad_end = EpsilonFunc::LinearDecay {
            start: 0.05,
            end: f64::NAN,
            blocks: 5,
        };
        assert!(matches!(
            bad_end.validate(),
            Err(EpsilonError::OutOfRange(_))
        ));
    }

    #[test]
    fn toml_round_trip() {
        #[derive(Deserialize)]
        struct W {
            epsilon: EpsilonFunc,
        }
        let w: W = toml::from_str(
            "epsilon = { kind = \"linear_decay\", start = 0.05, end = 0.01, blocks = 21600 }",
        )
        .unwrap();
        assert_eq!(w.epsilon, COMP4);
        let w: W = toml::from_str("epsilon = { kind = \"fixed\", value = 0.005 }").unwrap();
        assert_eq!(w.epsilon, EpsilonFunc::Fixed { value: 0.005 });
        assert!(toml::from_str::<W>("epsilon = { kind = \"fixed\", valu = 0.005 }").is_err());
    }
}
