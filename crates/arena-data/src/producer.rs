//! The producer: generates fresh batches from entropy, signs them and publishes them.
//!
//! Producers draw from operating-system entropy, not the shared seed: their data must be
//! unpredictable until published, so no miner can have trained on it. Each batch is stamped
//! with the chain's current block when the producer is given the chain ([`Producer::with_chain`]).

use std::sync::Arc;
use std::time::Duration;

use arena_chain::Chain;
use arena_keys::Keypair;

use crate::batch::Batch;
use crate::error::DataError;
use crate::feed::client::FeedClient;
use crate::rng::DrawRng;
use crate::tasks::{TaskGenerator, TaskKind};

/// What to produce and as whom.
pub struct Producer {
    keypair: Keypair,
    netuid: u16,
    tasks: Vec<TaskKind>,
    samples_per_batch: usize,
    chain: Option<Arc<dyn Chain>>,
}

impl Producer {
    /// A producer signing as `keypair` for data subnet `netuid`, cycling through `tasks`.
    pub fn new(
        keypair: Keypair,
        netuid: u16,
        tasks: Vec<TaskKind>,
        samples_per_batch: usize,
    ) -> Producer {
        let tasks = if tasks.is_empty() {
            TaskKind::ALL.to_vec()
        } else {
            tasks
        };
        Producer {
            keypair,
            netuid,
            tasks,
            samples_per_batch: samples_per_batch.max(1),
            chain: None,
        }
    }

    /// Stamps every batch [`Producer::run`] makes with `chain`'s block at that moment (without
    /// a chain, batches carry block 0).
    pub fn with_chain(mut self, chain: Arc<dyn Chain>) -> Producer {
        self.chain = Some(chain);
        self
    }

    /// The block to stamp on the next batch: the chain's head, or 0 without a chain.
    async fn current_block(&self) -> Result<u64, DataError> {
        match &self.chain {
            Some(chain) => chain
                .block_number()
                .await
                .map_err(|e| DataError::Invalid(format!("reading the chain's block: {e}"))),
            None => Ok(0),
        }
    }

    /// One signed batch created at `created_at` (Unix ms) and chain block `block`.
    pub fn make_batch(&self, created_at: u64, block: u64) -> Batch {
        let mut rng = DrawRng::from_entropy();
        let samples = (0..self.samples_per_batch)
            .map(|i| {
                let task = self.tasks[i % self.tasks.len()];
                let id = format!("{}-{:016x}", task.name(), rng.next_u64());
                task.generate_with(&mut rng, id)
            })
            .collect();
        Batch::sign(&self.keypair, self.netuid, created_at, block, samples)
    }

    /// Publishes a batch every `interval` until `max_batches` (if any) or `shutdown`.
    /// A failed publish (or chain read) is logged and retried at the next tick; the loop never
    /// stops on it.
    pub async fn run(
        &self,
        client: &FeedClient,
        interval: Duration,
        max_batches: Option<u64>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<u64, DataError> {
        let mut ticker = tokio::time::interval(interval);
        let mut published = 0u64;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            let block = match self.current_block().await {
                Ok(block) => block,
                Err(err) => {
                    tracing::warn!(%err, "no block to stamp; retrying next tick");
                    continue;
                }
            };
            let batch = self.make_batch(crate::now_ms(), block);
            match client.publish(&batch).await {
                Ok(receipt) => {
                    published += 1;
                    tracing::info!(
                        cursor = receipt.cursor,
                        block,
                        samples = batch.samples.len(),
                        "batch published"
                    );
                }
                Err(err) => tracing::warn!(%err, "publishing batch failed; retrying next tick"),
            }
            if max_batches.is_some_and(|max| published >= max) {
                break;
            }
        }
        Ok(published)
    }
}
