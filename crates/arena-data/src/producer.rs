//! The producer: generates fresh batches from entropy, signs them and publishes them.
//!
//! Producers draw from operating-system entropy, not the shared seed: their data must be
//! unpredictable until published, so no miner can have trained on it.

use std::time::Duration;

use arena_keys::Keypair;

use crate::batch::Batch;
use crate::error::DataError;
use crate::feed::client::FeedClient;
use crate::rng::DrawRng;
use crate::tasks::TaskKind;

/// What to produce and as whom.
pub struct Producer {
    keypair: Keypair,
    netuid: u16,
    tasks: Vec<TaskKind>,
    samples_per_batch: usize,
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
    /// A failed publish is logged and retried at the next tick; the loop never stops on it.
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
            let batch = self.make_batch(crate::now_ms(), 0);
            match client.publish(&batch).await {
                Ok(receipt) => {
                    published += 1;
                    tracing::info!(
                        cursor = receipt.cursor,
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
