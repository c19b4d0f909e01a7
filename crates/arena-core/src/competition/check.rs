//! Constraint checks as pure functions over numbers the caller read from headers and configs,
//! so the miner (before uploading) and the validator (before evaluating) refuse a model for
//! exactly the same, recorded reason (SN37/taoverse `ModelUpdater` checks).

use super::{Constraints, NormValidation, TokenizerSpec};
use serde::{Deserialize, Serialize};

/// Projections whose Frobenius norms are checked, in the order of [`LayerNorms`].
pub const NORM_PROJECTIONS: [&str; 6] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "up_proj",
    "down_proj",
];

/// Frobenius norms of one decoder layer's q, k, v, o, up and down projection weights.
pub type LayerNorms = [f64; 6];

/// Why a model is refused; serialisable so the validator can store it as the recorded reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Violation {
    /// The revision's files are larger than `max_bytes` (checked before downloading).
    #[error("model files take {bytes} bytes; the limit is {max}")]
    TooLarge {
        /// Total size of the revision.
        bytes: u64,
        /// The competition's limit.
        max: u64,
    },
    /// Parameter count outside `[min_params, max_params]`.
    #[error("model has {params} parameters; allowed {min}..={max}")]
    ParamCount {
        /// Counted from the safetensors headers.
        params: u64,
        /// Lower bound.
        min: u64,
        /// Upper bound.
        max: u64,
    },
    /// `config.json` names an architecture the competition does not allow.
    #[error("architecture {found:?} is not one of {allowed:?}")]
    Architecture {
        /// What the config says.
        found: String,
        /// What the competition allows.
        allowed: Vec<String>,
    },
    /// A pinned-tokenizer competition got a different `tokenizer.json`.
    #[error("tokenizer.json has sha256 {found}; the competition pins {expected}")]
    TokenizerMismatch {
        /// sha256 of the shipped file.
        found: String,
        /// The pinned sha256.
        expected: String,
    },
    /// A bring-your-own-tokenizer competition got no `tokenizer.json`.
    #[error("the competition needs the model's own tokenizer.json, and there is none")]
    TokenizerMissing,
    /// A projection norm is above the hard limit, or not a number (NaN/inf weights).
    #[error("layer {layer} {projection} has norm {norm}; the hard limit is {hard}")]
    NormHard {
        /// Decoder layer index.
        layer: usize,
        /// Which projection.
        projection: String,
        /// Its Frobenius norm.
        norm: f64,
        /// The limit.
        hard: f64,
    },
    /// Too many layers above the soft limit, averaged over the six projections.
    #[error(
        "mean fraction of layers with norm above {soft} is {fraction}; at most {max} is allowed"
    )]
    NormSoft {
        /// The soft limit.
        soft: f64,
        /// Mean over projections of the fraction of layers above it.
        fraction: f64,
        /// The allowed maximum.
        max: f64,
    },
}

impl Constraints {
    /// Refuses a revision whose files total more than `max_bytes`.
    pub fn check_bytes(&self, bytes: u64) -> Result<(), Violation> {
        if bytes > self.max_bytes {
            return Err(Violation::TooLarge {
                bytes,
                max: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Refuses a parameter count outside `[min_params, max_params]`.
    pub fn check_params(&self, params: u64) -> Result<(), Violation> {
        if params < self.min_params || params > self.max_params {
            return Err(Violation::ParamCount {
                params,
                min: self.min_params,
                max: self.max_params,
            });
        }
        Ok(())
    }

    /// Refuses an architecture not in the list (exact match, as SN37's class check).
    pub fn check_architecture(&self, architecture: &str) -> Result<(), Violation> {
        if !self.architectures.iter().any(|a| a == architecture) {
            return Err(Violation::Architecture {
                found: architecture.to_string(),
                allowed: self.architectures.clone(),
            });
        }
        Ok(())
    }

    /// `shipped` is the sha256 (lowercase hex) of the model's `tokenizer.json`, if it has one.
    /// Pinned (or a hub tokenizer whose sha256 is recorded): a shipped tokenizer must be the
    /// pinned one (none is fine: the validator uses the pinned file). Bring your own: one must
    /// be shipped.
    pub fn check_tokenizer(&self, shipped: Option<&str>) -> Result<(), Violation> {
        match (self.tokenizer.pinned_sha256(), shipped) {
            (Some(sha256), Some(found)) if found != sha256 => Err(Violation::TokenizerMismatch {
                found: found.to_string(),
                expected: sha256.to_string(),
            }),
            (None, None) if self.tokenizer == TokenizerSpec::BringYourOwn => {
                Err(Violation::TokenizerMissing)
            }
            _ => Ok(()),
        }
    }
}

impl NormValidation {
    /// taoverse `_validate_parameters`: any norm above `hard` (or not finite) refuses; else,
    /// per projection, the fraction of layers above `soft` is computed, and their mean over the
    /// six projections must be ≤ `soft_fraction`. A model with no layers passes.
    pub fn check(&self, layers: &[LayerNorms]) -> Result<(), Violation> {
        for (layer, norms) in layers.iter().enumerate() {
            for (p, &norm) in norms.iter().enumerate() {
                if !norm.is_finite() || norm > self.hard {
                    return Err(Violation::NormHard {
                        layer,
                        projection: NORM_PROJECTIONS[p].to_string(),
                        norm,
                        hard: self.hard,
                    });
                }
            }
        }
        if layers.is_empty() {
            return Ok(());
        }
        let above: usize = layers
            .iter()
            .map(|norms| norms.iter().filter(|&&n| n > self.soft).count())
            .sum();
        // Mean over 6 projections of (count_p / layers) = total count / (6 · layers).
        let fraction = above as f64 / (6 * layers.len()) as f64;
        if fraction > self.soft_fraction {
            return Err(Violation::NormSoft {
                soft: self.soft,
                fraction,
                max: self.soft_fraction,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::competition::Dtype;
    use crate::epsilon::EpsilonFunc;

    fn constraints(tokenizer: TokenizerSpec) -> Constraints {
        Constraints {
            min_params: 100,
            max_params: 1000,
            max_bytes: 5000,
            sequence_length: 64,
            architectures: vec!["LlamaForCausalLM".into(), "Qwen2ForCausalLM".into()],
            tokenizer,
            dtype: Dtype::F32,
            eval_block_delay: 0,
            epsilon: EpsilonFunc::Fixed { value: 0.0 },
            norm_validation: NormValidation::default(),
        }
    }

    fn pinned() -> TokenizerSpec {
        TokenizerSpec::Pinned {
            sha256: "ab".repeat(32),
            name: None,
        }
    }

    #[test]
    fn size_params_architecture() {
        let c = constraints(pinned());
        assert!(c.check_bytes(5000).is_ok());
        assert_eq!(
            c.check_bytes(5001),
            Err(Violation::TooLarge {
                bytes: 5001,
                max: 5000
            })
        );
        assert!(c.check_params(100).is_ok() && c.check_params(1000).is_ok());
        assert_eq!(
            c.check_params(99),
            Err(Violation::ParamCount {
                params: 99,
                min: 100,
                max: 1000
            })
        );
        assert!(c.check_params(1001).is_err());
        assert!(c.check_architecture("Qwen2ForCausalLM").is_ok());
        let err = c.check_architecture("LlamaForCausalLMX").unwrap_err();
        assert!(
            err.to_string()
                .contains("\"LlamaForCausalLMX\" is not one of"),
            "{err}"
        );
    }

    #[test]
    fn tokenizer_rules() {
        let c = constraints(pinned());
        assert!(c.check_tokenizer(None).is_ok());
        assert!(c.check_tokenizer(Some(&"ab".repeat(32))).is_ok());
        assert!(matches!(
            c.check_tokenizer(Some(&"cd".repeat(32))),
            Err(Violation::TokenizerMismatch { .. })
        ));
        let byo = constraints(TokenizerSpec::BringYourOwn);
        assert_eq!(byo.check_tokenizer(None), Err(Violation::TokenizerMissing));
        assert!(byo.check_tokenizer(Some("anything")).is_ok());
    }

    #[test]
    fn norm_hard_limit_and_nan() {
        let n = NormValidation::default();
        let ok = [[10.0; 6]; 4];
        assert!(n.check(&ok).is_ok());
        assert!(n.check(&[]).is_ok());
        let mut bad = ok;
        bad[2][5] = 1000.5;
        let err = n.check(&bad).unwrap_err();
        assert!(
            matches!(err, Violation::NormHard { layer: 2, ref projection, .. } if projection == "down_proj")
        );
        bad[2][5] = 1000.0; // at the limit: allowed
        assert!(n.check(&bad).is_ok());
        bad[0][0] = f64::NAN;
        assert!(matches!(
            n.check(&bad),
            Err(Violation::NormHard { layer: 0, .. })
        ));
    }

    #[test]
    fn norm_soft_fraction_hand_computed() {
        let n = NormValidation::default();
        // 2 layers × 6 projections = 12 norms; 1 above 200 → 1/12 = 0.083 ≤ 0.15.
        let mut layers = [[10.0; 6]; 2];
        layers[0][0] = 250.0;
        assert!(n.check(&layers).is_ok());
        // 2 above → 2/12 = 0.1667 > 0.15.
        layers[1][3] = 999.0;
        let err = n.check(&layers).unwrap_err();
        match err {
            Violation::NormSoft { fraction, .. } => assert!((fraction - 2.0 / 12.0).abs() < 1e-15),
            other => panic!("{other}"),
        }
        // Exactly at 200 does not count as above.
        layers[1][3] = 200.0;
        assert!(n.check(&layers).is_ok());
    }

    #[test]
    fn violation_serialises_with_its_reason() {
        let json = serde_json::to_string(&Violation::TokenizerMissing).unwrap();
        assert_eq!(json, r#"{"reason":"tokenizer_missing"}"#);
        let v = Violation::TooLarge { bytes: 2, max: 1 };
        let back: Violation = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }
}
