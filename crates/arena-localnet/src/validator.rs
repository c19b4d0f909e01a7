//! Validators: one `arena-validator` [`Service`] per validator node, each with its own state
//! folder, the shared chain, the hub, and a feed source that applies every acceptance rule
//! against the data subnet. Evaluation runs in the isolated worker process the caller names
//! (`arena validator eval-worker`), exactly as `arena validator run` does it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arena_chain::Chain;
use arena_data::accept::AcceptancePolicy;
use arena_data::chain_stake::chain_oracle;
use arena_data::feed::client::FeedClient;
use arena_data::source::{DataSource, FeedSource};
use arena_hub::client::HubClient;
use arena_validator::eval::SubprocessBackend;
use arena_validator::service::{Service, ServiceConfig};
use arena_validator::store::Store;
use arena_validator::update::Updater;
use arena_validator::worker::{WorkerCommand, WorkerLimits};

use crate::error::{LocalnetError, Result};
use crate::home::Layout;
use crate::network::{ValidatorNode, MIN_PRODUCER_STAKE};
use crate::schedule::{FEED_DATASET, FEED_TASKS};

/// Where a validator finds the other services.
pub struct Endpoints<'a> {
    /// The chain (shared in-process).
    pub chain: Arc<dyn Chain>,
    /// The competition subnet.
    pub netuid: u16,
    /// The data subnet producers must be staked on.
    pub data_netuid: u16,
    /// Hub base URL.
    pub hub_url: &'a str,
    /// Feed base URL.
    pub feed_url: &'a str,
    /// Blocks per sync window.
    pub sync_cadence: u64,
    /// The evaluation worker.
    pub worker: &'a WorkerCommand,
}

/// Builds the service of one validator node.
pub fn build(layout: &Layout, node: &ValidatorNode, ep: &Endpoints<'_>) -> Result<Service> {
    let dir = layout.validator_dir(&node.name);
    std::fs::create_dir_all(&dir).map_err(LocalnetError::io(&dir))?;
    let fail = |e: &dyn std::fmt::Display| LocalnetError::service(node.name.clone(), e);
    let store = Store::open(layout.validator_db(&node.name)).map_err(|e| fail(&e))?;
    // So the leaderboard can attribute this database's steps (and find its stake).
    store
        .set_validator_hotkey(&node.hotkey.public().ss58())
        .map_err(|e| fail(&e))?;
    let hub = HubClient::new(ep.hub_url, None).map_err(|e| fail(&e))?;
    let feed = FeedClient::new(ep.feed_url).map_err(|e| fail(&e))?;
    let policy = AcceptancePolicy::new(ep.data_netuid, MIN_PRODUCER_STAKE);
    let source = FeedSource::new(feed, policy, chain_oracle(ep.chain.clone()))
        .with_tasks(FEED_TASKS.iter().map(|t| t.to_string()).collect());
    let mut sources: BTreeMap<String, Box<dyn DataSource>> = BTreeMap::new();
    sources.insert(FEED_DATASET.to_string(), Box::new(source));
    let backend = SubprocessBackend::new(
        ep.worker.clone(),
        WorkerLimits {
            timeout: Duration::from_secs(300),
            ..WorkerLimits::default()
        },
    );
    let config = ServiceConfig {
        netuid: ep.netuid,
        schedule_path: Some(layout.schedule_file()),
        sync_cadence: ep.sync_cadence,
        genesis_block: 0,
        queue: Default::default(),
        tokenizer_dir: None,
        events_path: Some(dir.join("events.jsonl")),
        version_key: 0,
        retention: Default::default(),
    };
    let updater = Updater::new(hub, dir.join("models"));
    Service::new(
        ep.chain.clone(),
        node.hotkey.clone(),
        config,
        updater,
        store,
        Box::new(backend),
        sources,
    )
    .map_err(|e| fail(&e))
}
