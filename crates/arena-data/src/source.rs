//! The validator's view of evaluation data: the [`DataSource`] trait and the feed-backed
//! source that applies every acceptance rule.

use std::sync::Arc;

use arena_core::seed::Seed;
use async_trait::async_trait;

use crate::accept::{AcceptancePolicy, Rejection, RejectionStats, StakeOracle};
use crate::batch::Batch;
use crate::error::DataError;
use crate::feed::client::FeedClient;
use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::tasks::{TaskGenerator, TaskKind};

/// What a validator asks of a source for one evaluation step.
#[derive(Debug, Clone)]
pub struct DrawRequest {
    /// The shared seed of the sync block; equal seeds over equal data give equal samples.
    pub seed: Seed,
    /// How many samples to return (fewer when the source has fewer).
    pub count: usize,
    /// The validator's clock, Unix milliseconds (freshness is measured from here).
    pub now_ms: u64,
    /// Latest commit time plus eval delay among the models to be scored: only data created
    /// strictly after it may be used. 0 when no model bounds it.
    pub not_before_ms: u64,
}

/// The samples of one draw and what was dropped on the way.
#[derive(Debug, Clone, Default)]
pub struct Draw {
    /// The samples, in a seed-determined order.
    pub samples: Vec<Sample>,
    /// Acceptance counters for this draw (empty for sources without acceptance rules).
    pub stats: RejectionStats,
}

/// A source of evaluation samples. API boundary: validators hold `Box<dyn DataSource>`
/// per task and know nothing of feeds, files or generators behind it.
#[async_trait]
pub trait DataSource: Send {
    /// A short description for logs (`feed http://…`, `jsonl data/qa.jsonl`, …).
    fn describe(&self) -> String;

    /// Draws samples for one evaluation step.
    async fn draw(&mut self, request: &DrawRequest) -> Result<Draw, DataError>;
}

/// Picks `count` items of `items` with the seed (all of them, shuffled, when fewer).
pub fn seeded_pick<T: Clone>(items: &[T], seed: &Seed, stream: &str, count: usize) -> Vec<T> {
    let mut rng = DrawRng::new(seed, stream, 0);
    rng.distinct(items.len(), count)
        .into_iter()
        .map(|i| items[i].clone())
        .collect()
}

/// Generated samples of one synthetic task: the seed alone decides them.
pub struct GeneratedSource {
    task: TaskKind,
}

impl GeneratedSource {
    /// A source of `task` samples.
    pub fn new(task: TaskKind) -> GeneratedSource {
        GeneratedSource { task }
    }
}

#[async_trait]
impl DataSource for GeneratedSource {
    fn describe(&self) -> String {
        format!("generated {}", self.task)
    }

    async fn draw(&mut self, request: &DrawRequest) -> Result<Draw, DataError> {
        Ok(Draw {
            samples: self.task.generate_many(&request.seed, request.count),
            stats: RejectionStats::default(),
        })
    }
}

/// Samples from a feed, after the acceptance rules.
///
/// Each draw first pulls everything new since the last cursor and checks the lasting rules
/// (signature, subnet, stake, phrases) once per batch; batches that pass are kept while they
/// are fresh. Then the clock rules (freshness, newer than `not_before_ms`) pick the usable
/// batches, and the seed picks samples among them, ordered by (created_at, signature, id)
/// so validators with the same feed contents choose the same samples.
pub struct FeedSource {
    client: FeedClient,
    policy: AcceptancePolicy,
    oracle: Arc<dyn StakeOracle>,
    cursor: u64,
    pool: Vec<Batch>,
    totals: RejectionStats,
    /// Only samples of these tasks are used (all when empty).
    tasks: Vec<String>,
}

impl FeedSource {
    /// A source over `client` judged by `policy`, with stake read from `oracle`.
    pub fn new(client: FeedClient, policy: AcceptancePolicy, oracle: Arc<dyn StakeOracle>) -> Self {
        FeedSource {
            client,
            policy,
            oracle,
            cursor: 0,
            pool: Vec::new(),
            totals: RejectionStats::default(),
            tasks: Vec::new(),
        }
    }

    /// Restricts draws to samples whose `task` is one of `tasks`.
    pub fn with_tasks(mut self, tasks: Vec<String>) -> Self {
        self.tasks = tasks;
        self
    }

    /// Counters over the source's lifetime (lasting rules once per batch, clock rules per draw).
    pub fn totals(&self) -> &RejectionStats {
        &self.totals
    }

    /// Pulls new batches and applies the lasting rules; returns this pull's counters.
    pub async fn pull(&mut self, now_ms: u64) -> Result<RejectionStats, DataError> {
        let mut stats = RejectionStats::default();
        loop {
            let page = self
                .client
                .since(self.cursor, crate::feed::server::MAX_PAGE)
                .await?;
            if page.items.is_empty() || page.next_cursor <= self.cursor {
                break;
            }
            self.cursor = page.next_cursor;
            for item in page.items {
                let bytes = item.batch.to_string();
                let batch = match self.policy.parse(bytes.as_bytes()) {
                    Ok(batch) => batch,
                    Err(reason) => {
                        stats.reject(reason);
                        continue;
                    }
                };
                match self
                    .policy
                    .check_lasting(&batch, self.oracle.as_ref())
                    .await
                {
                    // Already past the window: it can never be used, count it now.
                    Ok(())
                        if now_ms.saturating_sub(batch.created_at) > self.policy.freshness_ms =>
                    {
                        stats.reject(Rejection::Stale)
                    }
                    Ok(()) => self.pool.push(batch),
                    Err(reason) => {
                        tracing::info!(producer = %batch.producer, ?reason, "batch rejected");
                        stats.reject(reason);
                    }
                }
            }
        }
        // Forget accepted batches that have aged out since (they were counted when used).
        let freshness = self.policy.freshness_ms;
        self.pool
            .retain(|b| now_ms.saturating_sub(b.created_at) <= freshness);
        Ok(stats)
    }
}

#[async_trait]
impl DataSource for FeedSource {
    fn describe(&self) -> String {
        format!("feed {}", self.client.base())
    }

    async fn draw(&mut self, request: &DrawRequest) -> Result<Draw, DataError> {
        let mut stats = self.pull(request.now_ms).await?;
        let mut usable: Vec<&Batch> = Vec::new();
        for batch in &self.pool {
            match self
                .policy
                .check_timing(batch, request.now_ms, request.not_before_ms)
            {
                Ok(()) => {
                    stats.accept(batch.samples.len());
                    usable.push(batch);
                }
                Err(reason) => stats.reject(reason),
            }
        }
        usable.sort_by(|a, b| (a.created_at, &a.signature).cmp(&(b.created_at, &b.signature)));
        let samples: Vec<Sample> = usable
            .iter()
            .flat_map(|b| b.samples.iter())
            .filter(|s| self.tasks.is_empty() || self.tasks.contains(&s.task))
            .cloned()
            .collect();
        let picked = seeded_pick(&samples, &request.seed, "feed", request.count);
        self.totals.merge(&stats);
        if stats.total_rejected() > 0 {
            tracing::info!(
                accepted = stats.accepted_batches,
                rejected = stats.total_rejected(),
                stale = stats.rejected(Rejection::Stale),
                "feed draw"
            );
        }
        Ok(Draw {
            samples: picked,
            stats,
        })
    }
}
