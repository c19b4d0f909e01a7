//! Constraint checks as pure functions over numbers the caller read from headers and configs,
//! so the miner (before uploading) and the validator (before evaluating) refuse a model for
//! exactly the same, recorded reason (SN37/taoverse `ModelUpdater` checks). Each failure is a
//! [`Rejection`] with the same code the checkpoint checks give for it. The norm rule is applied
//! where the weights are read: `arena_checkpoint::checks::judge_norms`.

use super::{Constraints, TokenizerSpec};
use crate::rejection::Rejection;

impl Constraints {
    /// Refuses a revision whose files total more than `max_bytes`.
    pub fn check_bytes(&self, bytes: u64) -> Result<(), Rejection> {
        if bytes > self.max_bytes {
            return Err(Rejection::TooManyBytes {
                bytes,
                max: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Refuses a parameter count outside `[min_params, max_params]`.
    pub fn check_params(&self, params: u64) -> Result<(), Rejection> {
        if params < self.min_params {
            return Err(Rejection::TooFewParams {
                params,
                min: self.min_params,
            });
        }
        if params > self.max_params {
            return Err(Rejection::TooManyParams {
                params,
                max: self.max_params,
            });
        }
        Ok(())
    }

    /// Refuses an architecture not in the list (exact match, as SN37's class check).
    pub fn check_architecture(&self, architecture: &str) -> Result<(), Rejection> {
        if !self.architectures.iter().any(|a| a == architecture) {
            return Err(Rejection::ArchitectureNotAllowed {
                architecture: architecture.to_string(),
                allowed: self.architectures.clone(),
            });
        }
        Ok(())
    }

    /// `shipped` is the sha256 (lowercase hex) of the model's `tokenizer.json`, if it has one.
    /// Pinned (or a hub tokenizer whose sha256 is recorded): a shipped tokenizer must be the
    /// pinned one (none is fine: the validator uses the pinned file). Bring your own: one must
    /// be shipped.
    pub fn check_tokenizer(&self, shipped: Option<&str>) -> Result<(), Rejection> {
        match (self.tokenizer.pinned_sha256(), shipped) {
            (Some(sha256), Some(found)) if found != sha256 => Err(Rejection::TokenizerMismatch {
                found: found.to_string(),
                expected: sha256.to_string(),
            }),
            (None, None) if self.tokenizer == TokenizerSpec::BringYourOwn => {
                Err(Rejection::MissingTokenizer)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::competition::{Dtype, NormValidation};
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
            Err(Rejection::TooManyBytes {
                bytes: 5001,
                max: 5000
            })
        );
        assert!(c.check_params(100).is_ok() && c.check_params(1000).is_ok());
        assert_eq!(
            c.check_params(99),
            Err(Rejection::TooFewParams {
                params: 99,
                min: 100,
            })
        );
        assert_eq!(
            c.check_params(1001),
            Err(Rejection::TooManyParams {
                params: 1001,
                max: 1000
            })
        );
        assert!(c.check_architecture("Qwen2ForCausalLM").is_ok());
        let err = c.check_architecture("LlamaForCausalLMX").unwrap_err();
        assert!(
            err.to_string()
                .contains("\"LlamaForCausalLMX\" is not allowed"),
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
            Err(Rejection::TokenizerMismatch { .. })
        ));
        let byo = constraints(TokenizerSpec::BringYourOwn);
        assert_eq!(byo.check_tokenizer(None), Err(Rejection::MissingTokenizer));
        assert!(byo.check_tokenizer(Some("anything")).is_ok());
    }

    #[test]
    fn rejection_serialises_with_its_code() {
        let json = serde_json::to_string(&Rejection::MissingTokenizer).unwrap();
        assert_eq!(json, r#"{"code":"missing_tokenizer"}"#);
        let v = Rejection::TooManyBytes { bytes: 2, max: 1 };
        let back: Rejection = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }
}
