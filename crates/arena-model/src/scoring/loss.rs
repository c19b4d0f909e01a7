//! `reference_loss` and `text_loss`, with the tokenization conventions of fixtures/README.md.

use crate::error::{ModelError, Result};
use crate::scoring::batch::{mean, token_losses, ScoredSeq};
use crate::scoring::{Document, Evaluator, PromptReference, TaskResult};

/// How `reference_loss` builds its sequences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceSettings {
    /// A system message rendered before each prompt.
    pub system_prompt: Option<String>,
    /// Encode the reference with the tokenizer's special tokens (SN37's `encode(reference)`).
    pub special_tokens: bool,
}

impl ReferenceSettings {
    /// The settings of a task (see [`arena_core::competition::Task::settings`]).
    pub fn from_settings(settings: &arena_core::competition::EvalSettings) -> Self {
        ReferenceSettings {
            system_prompt: settings.system_prompt.clone(),
            special_tokens: settings.reference_special_tokens,
        }
    }
}

/// How `text_loss` turns documents into sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextLossMode {
    /// Documents joined with the eos token and cut into windows of this many tokens; the
    /// score is the mean loss over all predicted tokens (SN9).
    Packed {
        /// Window length in tokens.
        sequence_length: usize,
    },
    /// One sequence per document, score = mean over documents of the summed loss in nats,
    /// which makes models with different tokenizers comparable (SN29). A document longer
    /// than `sequence_length` tokens is scored in consecutive windows of that length, each
    /// starting with the previous window's last token, so every token after the first is
    /// predicted exactly once and no document is too long to score.
    PerDocumentSum {
        /// Longest window in tokens.
        sequence_length: usize,
    },
}

impl Evaluator {
    /// Token ids of the chat context of `prompt` (a user message and the generation prompt).
    pub fn reference_ids(&self, prompt: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode_user_prompt(prompt)
    }

    /// Mean cross-entropy over the reference tokens of each sample, then mean over samples;
    /// no system message, the reference encoded without special tokens.
    pub fn reference_loss(&self, samples: &[PromptReference]) -> TaskResult {
        self.reference_loss_with(samples, &ReferenceSettings::default())
    }

    /// [`Evaluator::reference_loss`] under `settings`: a system message before each prompt,
    /// and the reference encoded with the tokenizer's special tokens (SN37) or without.
    pub fn reference_loss_with(
        &self,
        samples: &[PromptReference],
        settings: &ReferenceSettings,
    ) -> TaskResult {
        let seqs: Vec<Result<ScoredSeq>> = samples
            .iter()
            .map(|s| {
                let mut ids = self.prompt_ids(&s.prompt, settings.system_prompt.as_deref())?;
                let first_target = ids.len();
                let reference = if settings.special_tokens {
                    self.tokenizer.encode_with_special_tokens(&s.reference)?
                } else {
                    self.tokenizer.encode(&s.reference)?
                };
                ids.extend(reference);
                Ok(ScoredSeq {
                    id: s.id.clone(),
                    ids,
                    first_target,
                })
            })
            .collect();
        TaskResult::from_samples(self.score_means(seqs))
    }

    /// Next-token loss of a corpus, packed or per document.
    pub fn text_loss(&self, docs: &[Document], mode: TextLossMode) -> TaskResult {
        match mode {
            TextLossMode::PerDocumentSum { sequence_length } => {
                self.per_document_loss(docs, sequence_length)
            }
            TextLossMode::Packed { sequence_length } => {
                self.packed_text_loss(docs, sequence_length)
            }
        }
    }

    fn per_document_loss(&self, docs: &[Document], window: usize) -> TaskResult {
        let window = window.max(2);
        // Each document becomes one or more windows; `owner[k]` is the document of window k.
        let mut seqs: Vec<Result<ScoredSeq>> = Vec::new();
        let mut owner = Vec::new();
        for (i, d) in docs.iter().enumerate() {
            match self.tokenizer.encode(&d.text) {
                Ok(ids) => {
                    let mut start = 0;
                    loop {
                        let end = (start + window).min(ids.len());
                        seqs.push(Ok(ScoredSeq {
                            id: d.id.clone(),
                            ids: ids[start..end].to_vec(),
                            first_target: 1,
                        }));
                        owner.push(i);
                        if end >= ids.len() {
                            break;
                        }
                        start = end - 1;
                    }
                }
                Err(e) => {
                    seqs.push(Err(e));
                    owner.push(i);
                }
            }
        }
        let sums = self.score(seqs, |l| l.iter().map(|&v| v as f64).sum());
        let mut per_doc: Vec<Result<f64>> = docs.iter().map(|_| Ok(0.0)).collect();
        for (i, sum) in owner.into_iter().zip(sums) {
            per_doc[i] = match (std::mem::replace(&mut per_doc[i], Ok(0.0)), sum) {
                (Ok(total), Ok(part)) => Ok(total + part),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        TaskResult::from_samples(per_doc)
    }

    fn packed_text_loss(&self, docs: &[Document], window: usize) -> TaskResult {
        let eos = self.model.config().eos_token_ids.first().copied();
        let mut stream = Vec::new();
        for d in docs {
            match self.tokenizer.encode(&d.text) {
                Ok(ids) => stream.extend(ids),
                Err(e) => return TaskResult::from_samples(vec![Err(e)]),
            }
            stream.extend(eos);
        }
        if window < 2 {
            let err = ModelError::Sample {
                id: "packed".into(),
                message: format!("sequence_length {window} < 2"),
            };
            return TaskResult::from_samples(vec![Err(err)]);
        }
        let seqs: Vec<Result<ScoredSeq>> = stream
            .chunks(window)
            .filter(|w| w.len() >= 2)
            .enumerate()
            .map(|(i, w)| {
                Ok(ScoredSeq {
                    id: format!("window {i}"),
                    ids: w.to_vec(),
                    first_target: 1,
                })
            })
            .collect();
        // Every predicted token weighs the same, so a short last window counts for less.
        let per_window = self.score(seqs, |l| l.iter().map(|&v| v as f64).sum::<f64>());
        let counts: Vec<usize> = stream
            .chunks(window)
            .filter(|w| w.len() >= 2)
            .map(|w| w.len() - 1)
            .collect();
        let mut result = TaskResult::from_samples(per_window);
        let total: usize = counts.iter().sum();
        if result.failures.is_empty() && total > 0 {
            result.raw = result.per_sample.iter().sum::<f64>() / total as f64;
        }
        result
    }

    /// Per-sample mean loss of already tokenized sequences.
    pub fn score_means(&self, seqs: Vec<Result<ScoredSeq>>) -> Vec<Result<f64>> {
        self.score(seqs, mean)
    }

    /// Runs the loss engine and reduces each sequence's token losses with `reduce`.
    pub fn score(
        &self,
        seqs: Vec<Result<ScoredSeq>>,
        reduce: impl Fn(&[f32]) -> f64,
    ) -> Vec<Result<f64>> {
        self.token_losses(seqs)
            .into_iter()
            .map(|r| r.map(|l| reduce(&l)))
            .collect()
    }

    /// Per-token losses of sequences that may already have failed to tokenize.
    pub fn token_losses(&self, seqs: Vec<Result<ScoredSeq>>) -> Vec<Result<Vec<f32>>> {
        let ok: Vec<ScoredSeq> = seqs
            .iter()
            .filter_map(|s| s.as_ref().ok().cloned())
            .collect();
        let mut losses = token_losses(self.model.as_ref(), &ok, self.limits).into_iter();
        seqs.into_iter()
            .map(|s| match s {
                Ok(_) => losses
                    .next()
                    .unwrap_or_else(|| Err(ModelError::Config("loss engine lost a sample".into()))),
                Err(e) => Err(e),
            })
            .collect()
    }
}
