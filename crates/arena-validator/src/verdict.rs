//! What the update loop concluded about a hotkey's commitment, persisted per hotkey so the
//! leaderboard and the operator can see why a model is not being evaluated.

pub use arena_core::rejection::Rejection;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The current state of one hotkey's model in the tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Verdict {
    /// Parsed and its competition known, but its eval delay has not passed yet: nothing is
    /// downloaded before `eligible_at`, so a model cannot be checked early.
    Waiting {
        /// First block at which the model may be downloaded and evaluated.
        eligible_at: u64,
    },
    /// Downloaded, hash verified, constraints passed: it may be queued.
    Accepted,
    /// Never evaluated, for the recorded reason (until the hotkey commits something else).
    Rejected {
        /// Why.
        #[serde(deserialize_with = "decode_rejection")]
        rejection: Rejection,
    },
}

impl Verdict {
    /// Short name stored in its own column for queries (`waiting`, `accepted`, `rejected`).
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Waiting { .. } => "waiting",
            Verdict::Accepted => "accepted",
            Verdict::Rejected { .. } => "rejected",
        }
    }
}

/// Reads a stored rejection: the current form (tagged `code`), or the form validators wrote
/// before the rejection codes were unified (tagged `kind`, constraint failures nested as a
/// `violation` tagged `reason`), so a database written by an older validator still loads.
fn decode_rejection<'de, D: Deserializer<'de>>(d: D) -> Result<Rejection, D::Error> {
    let value = Value::deserialize(d)?;
    if value.get("code").is_some() {
        return serde_json::from_value(value).map_err(serde::de::Error::custom);
    }
    legacy_rejection(value).map_err(serde::de::Error::custom)
}

/// The old `kind`-tagged form. Its reasons map to codes as listed in ARCHITECTURE.md.
fn legacy_rejection(mut value: Value) -> Result<Rejection, String> {
    let obj = value
        .as_object_mut()
        .ok_or("a rejection must be an object")?;
    let kind = obj
        .remove("kind")
        .and_then(|k| k.as_str().map(str::to_string))
        .ok_or("a rejection has neither `code` nor `kind`")?;
    let code = match kind.as_str() {
        "constraint" => {
            let violation = obj
                .remove("violation")
                .ok_or("a constraint rejection without its violation")?;
            return legacy_violation(&violation);
        }
        "non_finite" => "non_finite_weights",
        // unparseable, unknown_competition, repo_unavailable, download, hash_mismatch,
        // bad_files: the same names and fields.
        other => other,
    };
    obj.insert("code".into(), code.into());
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// The old core `Violation` (tagged `reason`) as the rejection with the same meaning.
fn legacy_violation(v: &Value) -> Result<Rejection, String> {
    let u64_of = |k: &str| v.get(k).and_then(Value::as_u64).ok_or(format!("no {k}"));
    let f64_of = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let str_of = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(format!("no {k}"))
    };
    let reason = v.get("reason").and_then(Value::as_str).unwrap_or("");
    Ok(match reason {
        "too_large" => Rejection::TooManyBytes {
            bytes: u64_of("bytes")?,
            max: u64_of("max")?,
        },
        "param_count" => {
            let (params, min) = (u64_of("params")?, u64_of("min")?);
            if params < min {
                Rejection::TooFewParams { params, min }
            } else {
                Rejection::TooManyParams {
                    params,
                    max: u64_of("max")?,
                }
            }
        }
        "architecture" => Rejection::ArchitectureNotAllowed {
            architecture: str_of("found")?,
            allowed: serde_json::from_value(v.get("allowed").cloned().unwrap_or_default())
                .map_err(|e| e.to_string())?,
        },
        "tokenizer_mismatch" => Rejection::TokenizerMismatch {
            expected: str_of("expected")?,
            found: str_of("found")?,
        },
        "tokenizer_missing" => Rejection::MissingTokenizer,
        "norm_hard" => Rejection::NormAboveHard {
            tensor: format!("layer {} {}", u64_of("layer")?, str_of("projection")?),
            norm: f64_of("norm"),
            limit: f64_of("hard"),
        },
        "norm_soft" => Rejection::TooManyLargeNorms {
            fraction: f64_of("fraction"),
            soft: f64_of("soft"),
            limit: f64_of("max"),
        },
        other => return Err(format!("unknown constraint violation {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_stored_before_the_codes_were_unified_still_load() {
        let old = [
            (
                r#"{"state":"rejected","rejection":{"kind":"constraint","violation":{"reason":"too_large","bytes":5001,"max":5000}}}"#,
                Rejection::TooManyBytes {
                    bytes: 5001,
                    max: 5000,
                },
            ),
            (
                r#"{"state":"rejected","rejection":{"kind":"constraint","violation":{"reason":"param_count","params":323552,"min":0,"max":300000}}}"#,
                Rejection::TooManyParams {
                    params: 323_552,
                    max: 300_000,
                },
            ),
            (
                r#"{"state":"rejected","rejection":{"kind":"constraint","violation":{"reason":"architecture","found":"X","allowed":["LlamaForCausalLM"]}}}"#,
                Rejection::ArchitectureNotAllowed {
                    architecture: "X".into(),
                    allowed: vec!["LlamaForCausalLM".into()],
                },
            ),
            (
                r#"{"state":"rejected","rejection":{"kind":"constraint","violation":{"reason":"tokenizer_missing"}}}"#,
                Rejection::MissingTokenizer,
            ),
            (
                r#"{"state":"rejected","rejection":{"kind":"non_finite","file":"model.safetensors","tensor":"lm_head.weight"}}"#,
                Rejection::NonFiniteWeights {
                    file: "model.safetensors".into(),
                    tensor: "lm_head.weight".into(),
                },
            ),
            (
                r#"{"state":"rejected","rejection":{"kind":"hash_mismatch","committed":"a","computed":"b"}}"#,
                Rejection::HashMismatch {
                    committed: "a".into(),
                    computed: "b".into(),
                },
            ),
            (
                r#"{"state":"rejected","rejection":{"kind":"bad_files","reason":"x.bin"}}"#,
                Rejection::BadFiles {
                    reason: "x.bin".into(),
                },
            ),
        ];
        for (json, rejection) in old {
            let verdict: Verdict = serde_json::from_str(json).unwrap();
            assert_eq!(verdict, Verdict::Rejected { rejection }, "{json}");
        }
    }

    #[test]
    fn verdicts_round_trip_with_the_code_tag() {
        let verdict = Verdict::Rejected {
            rejection: Rejection::Unparseable { reason: "x".into() },
        };
        let json = serde_json::to_string(&verdict).unwrap();
        assert_eq!(
            json,
            r#"{"state":"rejected","rejection":{"code":"unparseable","reason":"x"}}"#
        );
        assert_eq!(serde_json::from_str::<Verdict>(&json).unwrap(), verdict);
    }
}
