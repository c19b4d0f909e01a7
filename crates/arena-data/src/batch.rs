//! Signed data batches: the unit a producer publishes and a feed stores.
//!
//! JSON form: `{producer, netuid, created_at, block, samples: [Sample…], signature}` with the
//! producer as an SS58 address, `created_at` in Unix milliseconds and the signature as
//! `0x`-prefixed hex. Unknown fields are refused, so every accepted byte is signed.
//!
//! # Canonical encoding (what is signed)
//!
//! The sr25519 signature (context `substrate`) covers these bytes, in order, where `str(x)` is
//! the UTF-8 length as u32 little-endian followed by the bytes, and `opt(x)` is `0x00` when
//! absent or `0x01` followed by the value:
//!
//! ```text
//! "arena-data-batch/v1"            (19 ASCII bytes, no length prefix)
//! str(producer)                    the SS58 address as written
//! netuid      u16 LE
//! created_at  u64 LE
//! block       u64 LE
//! count       u32 LE               number of samples
//! per sample: str(id) str(task) str(prompt) str(response)
//!             opt(choices: u32 LE count, then str(choice) each)
//!             opt(answer: str)
//!             opt(rules: str(compact JSON array of the rules, fields in declaration order))
//! ```

use arena_keys::{Keypair, PublicKey, Signature};
use serde::{Deserialize, Serialize};

use crate::sample::Sample;

/// Magic prefix of the canonical encoding; bump the version if the encoding changes.
pub const CANONICAL_MAGIC: &[u8] = b"arena-data-batch/v1";

/// Default largest batch a feed accepts or a validator downloads (bytes of JSON).
pub const DEFAULT_MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Default largest number of samples in one batch.
pub const DEFAULT_MAX_SAMPLES: usize = 10_000;

/// A signed batch of samples.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// SS58 address of the hotkey that signed the batch.
    pub producer: String,
    /// The data subnet the producer is registered on.
    pub netuid: u16,
    /// Creation time, Unix milliseconds.
    pub created_at: u64,
    /// Chain block the producer saw when creating the batch (0 when it had no chain view).
    pub block: u64,
    /// The samples.
    pub samples: Vec<Sample>,
    /// sr25519 signature over the canonical encoding, `0x`-prefixed hex.
    pub signature: String,
}

/// Size limits applied while parsing untrusted batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Largest accepted JSON size in bytes.
    pub max_bytes: usize,
    /// Largest number of samples.
    pub max_samples: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_bytes: DEFAULT_MAX_BATCH_BYTES,
            max_samples: DEFAULT_MAX_SAMPLES,
        }
    }
}

/// Why a batch could not be parsed or verified.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Larger than the configured byte cap.
    #[error("batch is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The batch's size in bytes.
        size: usize,
        /// The byte cap.
        limit: usize,
    },
    /// Not valid batch JSON.
    #[error("malformed batch JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON that breaks a structural rule.
    #[error("invalid batch: {0}")]
    Invalid(String),
    /// The producer field is not an SS58 address.
    #[error("invalid producer address {address:?}: {reason}")]
    Producer {
        /// The producer field as given.
        address: String,
        /// Why it is not an address.
        reason: String,
    },
    /// The signature does not verify against the producer's key.
    #[error("signature of batch from {0} does not verify")]
    BadSignature(String),
}

impl Batch {
    /// Signs `samples` as `keypair` and returns the complete batch.
    pub fn sign(
        keypair: &Keypair,
        netuid: u16,
        created_at: u64,
        block: u64,
        samples: Vec<Sample>,
    ) -> Batch {
        let mut batch = Batch {
            producer: keypair.public().ss58(),
            netuid,
            created_at,
            block,
            samples,
            signature: String::new(),
        };
        batch.signature = keypair.sign(&batch.signing_bytes()).to_hex();
        batch
    }

    /// Parses untrusted JSON, enforcing `limits` and the structural rules (non-empty, unique
    /// sample ids, well-formed producer and signature). Does not check the signature.
    pub fn parse(bytes: &[u8], limits: &BatchLimits) -> Result<Batch, BatchError> {
        if bytes.len() > limits.max_bytes {
            return Err(BatchError::TooLarge {
                size: bytes.len(),
                limit: limits.max_bytes,
            });
        }
        let batch: Batch = serde_json::from_slice(bytes)?;
        batch.validate(limits)?;
        Ok(batch)
    }

    /// Parses and verifies the signature: what a feed does on ingest.
    pub fn parse_verified(bytes: &[u8], limits: &BatchLimits) -> Result<Batch, BatchError> {
        let batch = Batch::parse(bytes, limits)?;
        batch.verify()?;
        Ok(batch)
    }

    /// Structural checks that do not need the signature.
    pub fn validate(&self, limits: &BatchLimits) -> Result<(), BatchError> {
        if self.samples.is_empty() {
            return Err(BatchError::Invalid("no samples".into()));
        }
        if self.samples.len() > limits.max_samples {
            return Err(BatchError::Invalid(format!(
                "{} samples, over the limit of {}",
                self.samples.len(),
                limits.max_samples
            )));
        }
        let mut ids: Vec<&str> = self.samples.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(BatchError::Invalid(format!(
                "duplicate sample id {:?}",
                pair[0]
            )));
        }
        if let Some(sample) = self
            .samples
            .iter()
            .find(|s| s.id.is_empty() || s.task.is_empty())
        {
            return Err(BatchError::Invalid(format!(
                "sample with empty id or task (id {:?})",
                sample.id
            )));
        }
        // Stored as SQLite integers: a value above i64::MAX would wrap.
        if self.created_at > i64::MAX as u64 || self.block > i64::MAX as u64 {
            return Err(BatchError::Invalid(format!(
                "created_at {} or block {} above {}",
                self.created_at,
                self.block,
                i64::MAX
            )));
        }
        self.producer_key()?;
        let signature = Signature::from_hex(&self.signature)
            .map_err(|e| BatchError::Invalid(format!("signature: {e}")))?;
        // One spelling per signature (`0x` + lowercase hex), so the same signed batch can never be
        // stored or counted twice under different strings.
        if signature.to_hex() != self.signature {
            return Err(BatchError::Invalid(
                "signature: must be 0x followed by 128 lowercase hex digits".into(),
            ));
        }
        Ok(())
    }

    /// The producer's public key.
    pub fn producer_key(&self) -> Result<PublicKey, BatchError> {
        // Over-long text is refused by the SS58 length cap before decoding; the error keeps
        // only its start.
        PublicKey::from_ss58(&self.producer).map_err(|e| BatchError::Producer {
            address: self.producer.chars().take(64).collect(),
            reason: e.to_string(),
        })
    }

    /// Checks the signature against the producer's key; returns that key.
    pub fn verify(&self) -> Result<PublicKey, BatchError> {
        let key = self.producer_key()?;
        let signature = Signature::from_hex(&self.signature)
            .map_err(|_| BatchError::BadSignature(self.producer.clone()))?;
        if key.verify(&self.signing_bytes(), &signature) {
            Ok(key)
        } else {
            Err(BatchError::BadSignature(self.producer.clone()))
        }
    }

    /// The canonical encoding (see the module documentation).
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(CANONICAL_MAGIC);
        put_str(&mut out, &self.producer);
        out.extend_from_slice(&self.netuid.to_le_bytes());
        out.extend_from_slice(&self.created_at.to_le_bytes());
        out.extend_from_slice(&self.block.to_le_bytes());
        out.extend_from_slice(&(self.samples.len() as u32).to_le_bytes());
        for sample in &self.samples {
            put_str(&mut out, &sample.id);
            put_str(&mut out, &sample.task);
            put_str(&mut out, &sample.prompt);
            put_str(&mut out, &sample.response);
            match &sample.choices {
                None => out.push(0),
                Some(choices) => {
                    out.push(1);
                    out.extend_from_slice(&(choices.len() as u32).to_le_bytes());
                    for choice in choices {
                        put_str(&mut out, choice);
                    }
                }
            }
            match &sample.answer {
                None => out.push(0),
                Some(answer) => {
                    out.push(1);
                    put_str(&mut out, answer);
                }
            }
            match &sample.rules {
                None => out.push(0),
                Some(rules) => {
                    out.push(1);
                    // Serializing plain enums of strings and integers cannot fail.
                    let json = serde_json::to_string(rules).unwrap_or_default();
                    put_str(&mut out, &json);
                }
            }
        }
        out
    }

    /// The batch as compact JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Total bytes of text in the batch, for logs and quotas.
    pub fn text_bytes(&self) -> usize {
        self.samples
            .iter()
            .map(|s| s.texts().map(str::len).sum::<usize>())
            .sum()
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> Sample {
        Sample::new(id, "chat", "Say hi.", "Hi!")
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let batch = Batch::sign(
            &alice,
            18,
            1_700_000_000_000,
            42,
            vec![sample("a"), sample("b")],
        );
        let parsed =
            Batch::parse_verified(batch.to_json().as_bytes(), &BatchLimits::default()).unwrap();
        assert_eq!(parsed, batch);
        assert_eq!(parsed.verify().unwrap(), alice.public());
    }

    #[test]
    fn every_field_is_signed() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let mut good = Batch::sign(&alice, 18, 1_700_000_000_000, 42, vec![sample("a")]);
        good.samples[0].choices = None;
        let edits: Vec<Box<dyn Fn(&mut Batch)>> = vec![
            Box::new(|b| b.netuid += 1),
            Box::new(|b| b.created_at += 1),
            Box::new(|b| b.block += 1),
            Box::new(|b| b.samples[0].id.push('x')),
            Box::new(|b| b.samples[0].task.push('x')),
            Box::new(|b| b.samples[0].prompt.push('x')),
            Box::new(|b| b.samples[0].response.push('x')),
            Box::new(|b| b.samples[0].choices = Some(vec![])),
            Box::new(|b| b.samples[0].answer = Some(String::new())),
            Box::new(|b| b.samples[0].rules = Some(vec![])),
            Box::new(|b| b.samples.push(sample("z"))),
            Box::new(|b| b.producer = Keypair::from_uri("//Bob").unwrap().public().ss58()),
        ];
        assert!(good.verify().is_ok());
        for (i, edit) in edits.iter().enumerate() {
            let mut forged = good.clone();
            edit(&mut forged);
            assert!(
                matches!(forged.verify(), Err(BatchError::BadSignature(_))),
                "edit {i} kept the signature valid"
            );
        }
    }

    #[test]
    fn structural_rules() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let limits = BatchLimits {
            max_bytes: 10_000,
            max_samples: 2,
        };
        let dup = Batch::sign(&alice, 1, 1, 1, vec![sample("a"), sample("a")]);
        assert!(matches!(dup.validate(&limits), Err(BatchError::Invalid(_))));
        let many = Batch::sign(&alice, 1, 1, 1, vec![sample("a"), sample("b"), sample("c")]);
        assert!(matches!(
            many.validate(&limits),
            Err(BatchError::Invalid(_))
        ));
        let empty = Batch::sign(&alice, 1, 1, 1, vec![]);
        assert!(empty.validate(&limits).is_err());
        let big = vec![b' '; 10_001];
        assert!(matches!(
            Batch::parse(&big, &limits),
            Err(BatchError::TooLarge { .. })
        ));
        let extra = r#"{"producer":"x","netuid":1,"created_at":1,"block":1,"samples":[],"signature":"","extra":1}"#;
        assert!(matches!(
            Batch::parse(extra.as_bytes(), &limits),
            Err(BatchError::Json(_))
        ));
    }
}
