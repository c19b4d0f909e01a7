//! Greedy generation with a kv-cache, for the generation-based methods.
//!
//! Greedy decoding (ties go to the lowest token id) makes the output a function of the
//! weights and the prompt only; the cap is in tokens, never in seconds, so a slow machine
//! and a fast one agree.

use candle_core::Tensor;

use crate::error::Result;
use crate::model::KvCache;
use crate::scoring::Evaluator;

impl Evaluator {
    /// Token ids that end a response: config.json's eos ids, the tokenizer's eos token and
    /// `<|im_end|>` when the vocabulary has it.
    pub fn stop_ids(&self) -> Vec<u32> {
        let mut stops = self.model.config().eos_token_ids.clone();
        let named = [
            self.tokenizer.eos_token(),
            Some("<|im_end|>"),
            Some("<|eot_id|>"),
        ];
        stops.extend(
            named
                .into_iter()
                .flatten()
                .filter_map(|t| self.tokenizer.token_id(t)),
        );
        stops.sort_unstable();
        stops.dedup();
        stops
    }

    /// Greedy continuation of `prompt_ids`, at most `max_new_tokens` tokens, stop token excluded.
    pub fn generate_ids(&self, prompt_ids: &[u32], max_new_tokens: usize) -> Result<Vec<u32>> {
        let stops = self.stop_ids();
        let limit = self.model.config().max_position_embeddings;
        let mut cache = KvCache::default();
        let mut out = Vec::new();
        let mut input = prompt_ids.to_vec();
        while out.len() < max_new_tokens && cache.len() + input.len() <= limit && !input.is_empty()
        {
            let ids = Tensor::from_vec(input.clone(), (1, input.len()), self.model.device())?;
            let hidden = self.model.hidden(&ids, Some(&mut cache))?;
            let logits = self.model.logits_at(&hidden, &[(input.len() - 1) as u32])?;
            let next = argmax(&logits.flatten_all()?.to_vec1::<f32>()?);
            if stops.contains(&next) {
                break;
            }
            out.push(next);
            input = vec![next];
        }
        Ok(out)
    }

    /// Greedy response text to a single user message rendered with the chat template.
    pub fn respond(&self, prompt: &str, max_new_tokens: usize) -> Result<String> {
        let ids = self.reference_ids(prompt)?;
        let generated = self.generate_ids(&ids, max_new_tokens)?;
        self.tokenizer.decode(&generated)
    }
}

/// Index of the largest value, the first one on ties; NaN never wins.
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (i, &v) in values.iter().enumerate() {
        if v > best_value {
            best = i;
            best_value = v;
        }
    }
    best as u32
}
