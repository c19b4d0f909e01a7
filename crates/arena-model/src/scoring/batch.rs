//! The batched loss engine every loss-based method runs on.
//!
//! Sequences are sorted by length and grouped under a token budget, then run through the body
//! packed: no padding, every row-wise operation on real tokens only, attention per sequence
//! ([`CausalLm::hidden_packed`]). Only rows that predict a scored token go through the final norm
//! and `lm_head`, in chunks, and straight into the fused cross-entropy kernel: no
//! `[tokens, vocab]` log_softmax is ever built.
//!
//! Prefix sharing: the samples of a task usually open with the same tokens (chat template and
//! system prompt). When the sequences of a batch share at least
//! [`BatchLimits::min_shared_prefix`] leading tokens before the first scored prediction, the
//! prefix runs once at batch size 1 into a kv-cache, and the batch runs only the suffixes, each
//! attending to that one cached prefix. The prefix stops
//! before the position that predicts the first scored token, so every scored logit row lies in
//! the suffix pass. The numbers are those of the whole sequences (same positions, same keys);
//! only the summation order inside the products differs (within 1e-5 of each other).

use candle_core::Tensor;

use crate::error::{ModelError, Result};
use crate::kernels::cross_entropy_rows;
use crate::model::{CausalLm, KvCache};

/// A token sequence of which the tokens from `first_target` on are scored, each predicted
/// from the position before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoredSeq {
    /// Id used in error messages.
    pub id: String,
    /// All token ids, context first.
    pub ids: Vec<u32>,
    /// Index of the first scored token; at least 1.
    pub first_target: usize,
}

/// Limits of one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most padded tokens (batch × longest) per forward pass; the pass itself is packed and
    /// holds only the real tokens, fewer.
    pub max_batch_tokens: usize,
    /// Most logit rows materialised at once (rows × vocab floats).
    pub max_logit_rows: usize,
    /// Run a prefix shared by every sequence of a batch once (see the module doc).
    pub prefix_sharing: bool,
    /// Shortest shared prefix worth a pass of its own. The separate pass costs a fixed
    /// number of small operations per layer and a copy of the prefix's keys and values per
    /// row; a few tokens saved per row do not pay for that.
    pub min_shared_prefix: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_batch_tokens: 4096,
            max_logit_rows: 512,
            prefix_sharing: true,
            min_shared_prefix: 16,
        }
    }
}

/// Per-token losses (natural log) of the scored tokens of each sequence, in input order.
/// A sequence that cannot be scored gets its own error; the others are unaffected.
pub fn token_losses(
    model: &dyn CausalLm,
    seqs: &[ScoredSeq],
    limits: BatchLimits,
) -> Vec<Result<Vec<f32>>> {
    let max_len = model.config().max_sequence_len();
    let vocab = model.config().vocab_size;
    let mut out: Vec<Option<Result<Vec<f32>>>> = (0..seqs.len()).map(|_| None).collect();
    let mut order = Vec::with_capacity(seqs.len());
    for (i, s) in seqs.iter().enumerate() {
        let problem = if s.first_target == 0 || s.first_target >= s.ids.len() {
            Some("no token to score".to_string())
        } else if s.ids.len() > max_len {
            Some(format!(
                "{} tokens exceed the model's longest sequence {max_len}",
                s.ids.len()
            ))
        } else {
            s.ids
                .iter()
                .find(|&&t| t as usize >= vocab)
                .map(|bad| format!("token id {bad} is outside the vocabulary of {vocab}"))
        };
        match problem {
            Some(message) => {
                out[i] = Some(Err(ModelError::Sample {
                    id: s.id.clone(),
                    message,
                }))
            }
            None => order.push(i),
        }
    }
    let lengths: Vec<usize> = order.iter().map(|&i| seqs[i].ids.len()).collect();
    // Where the rope depends on the pass's length (dynamic NTK, LongRoPE), padding would change
    // a sequence's numbers: each sequence then runs alone, as transformers runs it at batch size 1.
    let max_batch_tokens = if model.config().rope_scaling.depends_on_length() {
        1
    } else {
        limits.max_batch_tokens
    };
    for plan in plan_batches(&lengths, max_batch_tokens) {
        let group: Vec<usize> = plan.iter().map(|&k| order[k]).collect();
        let members: Vec<&ScoredSeq> = group.iter().map(|&i| &seqs[i]).collect();
        match run_batch(model, &members, limits) {
            Ok(losses) => {
                for (&i, l) in group.iter().zip(losses) {
                    out[i] = Some(Ok(l));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "batch failed; scoring its sequences one by one");
                for &i in &group {
                    let single = if group.len() > 1 {
                        run_batch(model, &[&seqs[i]], limits).map(|mut v| v.remove(0))
                    } else {
                        Err(ModelError::Sample {
                            id: seqs[i].id.clone(),
                            message: e.to_string(),
                        })
                    };
                    out[i] = Some(single);
                }
            }
        }
    }
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(ModelError::Sample {
                    id: String::new(),
                    message: "not scored".into(),
                })
            })
        })
        .collect()
}

/// Groups sequences of the given lengths into batches of at most `max_batch_tokens` padded
/// tokens: longest first (the first batch shows the peak memory at once), neighbours in length
/// together so padding stays small. Returns indices into `lengths`.
pub fn plan_batches(lengths: &[usize], max_batch_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(lengths[i]), i));
    let mut batches = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let per_batch = (max_batch_tokens / lengths[order[start]].max(1)).max(1);
        let end = (start + per_batch).min(order.len());
        batches.push(order[start..end].to_vec());
        start = end;
    }
    batches
}

/// Leading tokens that every member shares and that no scored prediction needs the logits
/// of: the longest common prefix, cut before the position that predicts the first scored
/// token of any member. Always shorter than every member.
pub fn shared_prefix_len(members: &[&ScoredSeq]) -> usize {
    let Some((first, rest)) = members.split_first() else {
        return 0;
    };
    let mut common = first.ids.len();
    for s in rest {
        common = first
            .ids
            .iter()
            .zip(&s.ids)
            .take(common)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let first_prediction = members
        .iter()
        .map(|s| s.first_target.saturating_sub(1))
        .min()
        .unwrap_or(0);
    common.min(first_prediction)
}

/// The prefix length a batch shares under `limits` (0: no sharing). A batch of one has no
/// one to share with, and a rope that depends on the pass's length would see a shorter pass.
fn prefix_to_share(model: &dyn CausalLm, members: &[&ScoredSeq], limits: BatchLimits) -> usize {
    if !limits.prefix_sharing
        || members.len() < 2
        || model.config().rope_scaling.depends_on_length()
    {
        return 0;
    }
    let shared = shared_prefix_len(members);
    if shared >= limits.min_shared_prefix.max(1) {
        shared
    } else {
        0
    }
}

/// One packed forward pass (after a shared prefix's pass, if any); returns the losses of each
/// member.
fn run_batch(
    model: &dyn CausalLm,
    members: &[&ScoredSeq],
    limits: BatchLimits,
) -> Result<Vec<Vec<f32>>> {
    let shared = prefix_to_share(model, members, limits);
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    let mut offset = 0;
    for s in members {
        for t in s.first_target..s.ids.len() {
            rows.push((offset + t - 1 - shared) as u32);
            targets.push(s.ids[t]);
        }
        offset += s.ids.len() - shared;
    }
    let suffixes: Vec<&[u32]> = members.iter().map(|s| &s.ids[shared..]).collect();
    let hidden = if shared > 0 {
        let prefix = Tensor::from_vec(
            members[0].ids[..shared].to_vec(),
            (1, shared),
            model.device(),
        )?;
        let mut cache = KvCache::default();
        // Only its keys and values are needed; no scored row lies in the prefix.
        drop(model.hidden(&prefix, Some(&mut cache))?);
        model.hidden_packed(&suffixes, Some(&cache))?
    } else {
        model.hidden_packed(&suffixes, None)?
    };
    let max_rows = limits.max_logit_rows.max(1);
    let mut losses = Vec::with_capacity(rows.len());
    for (row_chunk, target_chunk) in rows.chunks(max_rows).zip(targets.chunks(max_rows)) {
        let logits = model.logits_at(&hidden, row_chunk)?;
        losses.extend(cross_entropy_rows(&logits, target_chunk)?);
    }
    let mut per_seq = Vec::with_capacity(members.len());
    let mut offset = 0;
    for s in members {
        let n = s.ids.len() - s.first_target;
        per_seq.push(losses[offset..offset + n].to_vec());
        offset += n;
    }
    Ok(per_seq)
}

/// Mean of `values` accumulated in f64 (the fixtures' convention).
pub fn mean(values: &[f32]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
}
