//! Greedy generation with a kv-cache, for the generation-based methods.
//!
//! Greedy decoding (ties go to the lowest token id) makes the output a function of the
//! weights and the prompt only; the cap is in tokens, never in seconds, so a slow machine
//! and a fast one agree. A repetition penalty is applied as transformers'
//! `RepetitionPenaltyLogitsProcessor` does (Subnet 37 uses 1.1 for multiple choice, 1.2 for
//! IFEval): before each pick, the logit of every token already in the sequence, prompt
//! included, is divided by the penalty when positive and multiplied by it when negative.

use std::collections::HashSet;

use arena_core::competition::EvalSettings;
use candle_core::Tensor;

use crate::error::Result;
use crate::model::KvCache;
use crate::scoring::Evaluator;
use crate::tokenizer::ChatMessage;

/// How a continuation is generated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generation {
    /// Cap on new tokens.
    pub max_new_tokens: usize,
    /// transformers' repetition penalty; 1.0 = none.
    pub repetition_penalty: f32,
}

impl Generation {
    /// Plain greedy decoding, no penalty.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Generation {
            max_new_tokens,
            repetition_penalty: 1.0,
        }
    }

    /// The generation a task's settings ask for.
    pub fn from_settings(settings: &EvalSettings) -> Self {
        Generation {
            max_new_tokens: settings.max_new_tokens as usize,
            repetition_penalty: settings.repetition_penalty as f32,
        }
    }
}

/// transformers' repetition penalty, in place: for each distinct token of `seen`, a negative
/// logit is multiplied by `penalty` and any other divided by it (f32, as transformers computes
/// on float32 scores). Ids outside `logits` are ignored; a penalty of 1 changes nothing.
pub fn apply_repetition_penalty(logits: &mut [f32], seen: &HashSet<u32>, penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    for &id in seen {
        if let Some(v) = logits.get_mut(id as usize) {
            *v = if *v < 0.0 { *v * penalty } else { *v / penalty };
        }
    }
}

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
        self.generate_ids_with(prompt_ids, Generation::greedy(max_new_tokens))
    }

    /// Greedy continuation of `prompt_ids` under `generation` (token cap, repetition penalty),
    /// stop token excluded.
    pub fn generate_ids_with(
        &self,
        prompt_ids: &[u32],
        generation: Generation,
    ) -> Result<Vec<u32>> {
        let stops = self.stop_ids();
        let limit = self.model.config().max_sequence_len();
        let mut cache = KvCache::default();
        let mut out = Vec::new();
        let mut seen: HashSet<u32> = prompt_ids.iter().copied().collect();
        let mut input = prompt_ids.to_vec();
        while out.len() < generation.max_new_tokens
            && cache.len() + input.len() <= limit
            && !input.is_empty()
        {
            let ids = Tensor::from_vec(input.clone(), (1, input.len()), self.model.device())?;
            let hidden = self.model.hidden(&ids, Some(&mut cache))?;
            let logits = self.model.logits_at(&hidden, &[(input.len() - 1) as u32])?;
            let mut logits = logits.flatten_all()?.to_vec1::<f32>()?;
            apply_repetition_penalty(&mut logits, &seen, generation.repetition_penalty);
            let next = argmax(&logits);
            if stops.contains(&next) {
                break;
            }
            out.push(next);
            seen.insert(next);
            input = vec![next];
        }
        Ok(out)
    }

    /// Ids of the chat context of `prompt`: a user message (after a system message when
    /// `system` is given) rendered with the chat template and a generation prompt.
    pub fn prompt_ids(&self, prompt: &str, system: Option<&str>) -> Result<Vec<u32>> {
        match system {
            None => self.reference_ids(prompt),
            Some(system) => {
                let messages = [
                    ChatMessage::new("system", system),
                    ChatMessage::new("user", prompt),
                ];
                let text = self.tokenizer.apply_chat_template(&messages, true)?;
                self.tokenizer.encode(&text)
            }
        }
    }

    /// Greedy response text to a single user message rendered with the chat template.
    pub fn respond(&self, prompt: &str, max_new_tokens: usize) -> Result<String> {
        self.respond_with(prompt, None, Generation::greedy(max_new_tokens))
    }

    /// Response text to `prompt` (after `system`, if any) under `generation`.
    pub fn respond_with(
        &self,
        prompt: &str,
        system: Option<&str>,
        generation: Generation,
    ) -> Result<String> {
        let ids = self.prompt_ids(prompt, system)?;
        let generated = self.generate_ids_with(&ids, generation)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_penalty_hand_computed() {
        // Tokens 0, 2 and 3 are in the sequence (3 twice: penalised once).
        let mut logits = [2.0f32, 1.0, -1.5, 0.0, 4.0];
        let seen: HashSet<u32> = [0, 2, 3, 3].into_iter().collect();
        apply_repetition_penalty(&mut logits, &seen, 1.25);
        // 2 / 1.25 = 1.6; −1.5 · 1.25 = −1.875; 0 / 1.25 = 0; 1 and 4 untouched.
        assert_eq!(logits, [1.6, 1.0, -1.875, 0.0, 4.0]);
        // The penalty can change the pick: 1.05 / 1.1 = 0.9545 < 1.0.
        let mut close = [1.05f32, 1.0];
        apply_repetition_penalty(&mut close, &[0].into_iter().collect(), 1.1);
        assert_eq!(argmax(&close), 1);
        assert_eq!(close[0], 1.05f32 / 1.1f32);
        // Ids past the vocabulary are ignored; a penalty of 1 is the identity.
        let mut small = [0.5f32, -0.5];
        apply_repetition_penalty(&mut small, &[0, 1, 9].into_iter().collect(), 1.0);
        assert_eq!(small, [0.5, -0.5]);
        apply_repetition_penalty(&mut small, &[1, 9].into_iter().collect(), 2.0);
        assert_eq!(small, [0.5, -1.0]);
    }
}
