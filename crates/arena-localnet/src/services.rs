//! Starting and stopping the services of a localnet as tokio tasks of one process: block
//! producer, chain JSON-RPC, hub, feed, data producer, validators, miners and leaderboard.
//! One watch channel carries the stop signal to all of them; [`Running::stop`] freezes the
//! chain first, so the last block is well defined, then waits for every task.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arena_chain::{Chain, LocalChain, NetUid};
use arena_core::competition::Schedule;
use arena_data::batch::BatchLimits;
use arena_data::feed::client::FeedClient;
use arena_data::feed::server::FeedState;
use arena_data::feed::store::{FeedStore, Retention};
use arena_data::producer::Producer;
use arena_data::tasks::TaskKind;
use arena_hub::client::HubClient;
use arena_hub::server::ServerConfig;
use arena_miner::journal::Stage;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::base::Base;
use crate::config::LocalnetConfig;
use crate::error::{LocalnetError, Result};
use crate::home::Layout;
use crate::miner;
use crate::network::{MinerNode, Nodes};
use crate::output::Out;
use crate::validator;

/// Seconds between producer batches.
const BATCH_INTERVAL: Duration = Duration::from_secs(2);
/// Samples per producer batch.
const BATCH_SAMPLES: usize = 16;
/// How long a stopping task may take before it is aborted.
const STOP_GRACE: Duration = Duration::from_secs(60);
/// What the localnet's feed keeps: two hours of batches (3600 at one per 2 s), pruned every
/// minute. Validators draw only from batches newer than the models they score.
const FEED_RETENTION: Retention = Retention {
    max_age: Duration::from_secs(2 * 3600),
    max_batches: 3600,
    every: Duration::from_secs(60),
};

/// Where the services listen.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Chain JSON-RPC (`arena chain … --endpoint`).
    pub chain: String,
    /// The same port as Subtensor's WebSocket JSON-RPC (the Python SDK, btcli).
    pub substrate: String,
    /// Hub base URL.
    pub hub: String,
    /// Feed base URL.
    pub feed: String,
    /// Leaderboard page.
    pub leaderboard: String,
}

/// The running services.
pub struct Running {
    /// Their addresses.
    pub endpoints: Endpoints,
    /// What the leaderboard reads; also used for the live table.
    pub sources: Arc<arena_web::Sources>,
    stop_tx: watch::Sender<bool>,
    train_stop: Arc<AtomicBool>,
    block_producer: JoinHandle<()>,
    tasks: Vec<(String, JoinHandle<()>)>,
    out: Out,
}

/// Resolves once the stop signal is raised (or its sender is gone).
pub fn stopped(
    mut rx: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    async move {
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

async fn bind(
    service: &'static str,
    flag: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| LocalnetError::Bind {
            service,
            flag,
            addr: addr.to_string(),
            source,
        })
}

/// Starts every service; the chain starts producing blocks here.
pub async fn start(
    config: &LocalnetConfig,
    layout: &Layout,
    base: &Base,
    chain: &Arc<LocalChain>,
    nodes: &Nodes,
    schedule: Schedule,
) -> Result<Running> {
    let out = Out::new(config.live_table);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks: Vec<(String, JoinHandle<()>)> = Vec::new();
    let dyn_chain: Arc<dyn Chain> = chain.clone();

    // Chain JSON-RPC, so `arena chain metagraph --endpoint …` works against the localnet.
    let [chain_at, hub_at, feed_at, _] = config.listen_addrs();
    let (rpc_addr, rpc) = arena_substrate::serve(chain.clone(), chain_at.2)
        .await
        .map_err(|e| {
            LocalnetError::service(
                "chain RPC",
                format!("{e} (choose another port with {})", chain_at.1),
            )
        })?;
    let rx = stop_rx.clone();
    tasks.push((
        "chain RPC".into(),
        tokio::spawn(async move {
            stopped(rx).await;
            let _ = rpc.stop();
            rpc.stopped().await;
        }),
    ));

    // Hub: one account per miner (random tokens kept in the miners' folders, hashed in the
    // hub's users file, which newcomers' `arena hub user add` also writes to).
    let listener = bind(hub_at.0, hub_at.1, hub_at.2).await?;
    let hub_url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(LocalnetError::io(layout.hub_dir()))?
    );
    for m in &nodes.miners {
        miner::hub_token(layout, &m.plan.name)?;
    }
    let hub_config = ServerConfig::new(layout.hub_dir(), Vec::new());
    let rx = stop_rx.clone();
    tasks.push((
        "hub".into(),
        tokio::spawn(async move {
            tokio::select! {
                r = arena_hub::server::serve(listener, hub_config) => {
                    if let Err(e) = r { tracing::error!(error = %e, "hub stopped"); }
                }
                _ = stopped(rx) => {}
            }
        }),
    ));

    // Data feed and its producer, staked on the data subnet.
    let feed_db = layout.feed_db();
    if let Some(dir) = feed_db.parent() {
        std::fs::create_dir_all(dir).map_err(LocalnetError::io(dir))?;
    }
    let store = FeedStore::open(&feed_db).map_err(|e| LocalnetError::service("feed", e))?;
    let listener = bind(feed_at.0, feed_at.1, feed_at.2).await?;
    let feed_url = format!(
        "http://{}",
        listener.local_addr().map_err(LocalnetError::io(&feed_db))?
    );
    let state = FeedState::with_retention(store, BatchLimits::default(), FEED_RETENTION);
    let rx = stop_rx.clone();
    tasks.push((
        "feed".into(),
        tokio::spawn(async move {
            if let Err(e) = arena_data::feed::server::serve(listener, state, stopped(rx)).await {
                tracing::error!(error = %e, "feed stopped");
            }
        }),
    ));
    let client = FeedClient::new(&feed_url).map_err(|e| LocalnetError::service("producer", e))?;
    let producer = Producer::new(
        nodes.producer.clone(),
        nodes.data_netuid,
        vec![TaskKind::WordSorting, TaskKind::Arithmetic],
        BATCH_SAMPLES,
    )
    .with_chain(dyn_chain.clone());
    let rx = stop_rx.clone();
    tasks.push((
        "producer".into(),
        tokio::spawn(async move {
            if let Err(e) = producer
                .run(&client, BATCH_INTERVAL, None, stopped(rx))
                .await
            {
                tracing::error!(error = %e, "producer stopped");
            }
        }),
    ));

    // The leaderboard.
    let stores: Vec<PathBuf> = nodes
        .validators
        .iter()
        .map(|v| layout.validator_db(&v.name))
        .collect();
    let sources = Arc::new(arena_web::Sources {
        chain: dyn_chain.clone(),
        netuid: nodes.netuid,
        validator_stores: stores,
        // Re-read when the file changes, as the validators do.
        schedule: arena_web::ScheduleSource::file_with(layout.schedule_file(), schedule),
    });
    let listener = bind("leaderboard", "--leaderboard-addr", config.leaderboard_addr).await?;
    let web_addr = listener
        .local_addr()
        .map_err(LocalnetError::io(&layout.home))?;
    let (src, rx) = (sources.clone(), stop_rx.clone());
    tasks.push((
        "leaderboard".into(),
        tokio::spawn(async move {
            if let Err(e) = arena_web::serve(listener, src, stopped(rx)).await {
                tracing::error!(error = %e, "leaderboard stopped");
            }
        }),
    ));

    // Validators.
    let ep = validator::Endpoints {
        chain: dyn_chain.clone(),
        netuid: nodes.netuid,
        data_netuid: nodes.data_netuid,
        hub_url: &hub_url,
        feed_url: &feed_url,
        sync_cadence: config.sync_cadence,
        worker: &config.worker,
    };
    // The service's future borrows itself across awaits and is not `Send`, so each validator
    // runs on its own thread with a single-threaded runtime (as `arena validator run` would).
    for node in &nodes.validators {
        let service = validator::build(layout, node, &ep)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LocalnetError::service(node.name.clone(), e))?;
        let rx = stop_rx.clone();
        let task = tokio::task::spawn_blocking(move || {
            rt.block_on(service.run(Duration::from_secs(1), stopped(rx)))
        });
        tasks.push((node.name.clone(), task));
    }

    // Miners: train one after the other on a blocking thread, then publish together.
    let train_stop = Arc::new(AtomicBool::new(false));
    let job = MinerJob {
        layout: layout.clone(),
        base: base.clone(),
        chain: dyn_chain.clone(),
        netuid: nodes.netuid,
        hub_url: hub_url.clone(),
        miners: nodes.miners.clone(),
        stop: train_stop.clone(),
        out: out.clone(),
    };
    // Pushing is not `Send` either (the hub client's upload future), so the miners get a
    // thread too, with a local task set to push concurrently.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LocalnetError::service("miners", e))?;
    let task = tokio::task::spawn_blocking(move || {
        let local = tokio::task::LocalSet::new();
        rt.block_on(local.run_until(job.run()))
    });
    tasks.push(("miners".into(), task));

    let block_producer = chain.spawn_block_producer();
    Ok(Running {
        endpoints: Endpoints {
            chain: format!("http://{rpc_addr}"),
            substrate: format!("ws://{rpc_addr}"),
            hub: hub_url,
            feed: feed_url,
            leaderboard: format!("http://{web_addr}/"),
        },
        sources,
        stop_tx,
        train_stop,
        block_producer,
        tasks,
        out,
    })
}

impl Running {
    /// Prints the standings at every new epoch until `shutdown`, the block limit, or the
    /// end of a task that should run forever; returns why it stopped.
    pub async fn wait(
        &self,
        chain: &Arc<LocalChain>,
        netuid: NetUid,
        limit: Option<u64>,
        out: &Out,
        mut shutdown: std::pin::Pin<&mut (impl std::future::Future<Output = ()> + Send)>,
    ) -> String {
        let mut last_epoch = None;
        loop {
            tokio::select! {
                _ = &mut shutdown => return "stop signal".into(),
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            let block = match chain.block_number().await {
                Ok(b) => b,
                Err(e) => return format!("chain failed: {e}"),
            };
            if let Ok(subnet) = chain.subnet(netuid).await {
                if last_epoch.is_some_and(|e| e != subnet.epoch_index) {
                    out.epoch(subnet.epoch_index, block, &self.sources).await;
                }
                last_epoch = Some(subnet.epoch_index);
            }
            if limit.is_some_and(|l| block >= l) {
                return format!("reached block {block} (--blocks)");
            }
            if let Some((name, _)) = self
                .tasks
                .iter()
                .find(|(n, t)| n != "miners" && t.is_finished())
            {
                return format!("service {name} ended unexpectedly");
            }
        }
    }

    /// Raises the stop signal, freezes the chain, and waits for every task (aborting any
    /// that takes longer than a minute, such as a validator in the middle of a long step).
    pub async fn stop(self) {
        self.train_stop.store(true, Ordering::Relaxed);
        self.block_producer.abort();
        let _ = self.block_producer.await;
        let _ = self.stop_tx.send(true);
        for (name, mut task) in self.tasks {
            match tokio::time::timeout(STOP_GRACE, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.is_cancelled() => {}
                Ok(Err(e)) => self.out.line(&format!("{name}: task failed: {e}")),
                Err(_) => {
                    self.out.line(&format!(
                        "{name}: did not stop within {STOP_GRACE:?}; aborted"
                    ));
                    task.abort();
                }
            }
        }
    }
}

/// The miners' work: train, then publish.
struct MinerJob {
    layout: Layout,
    base: Base,
    chain: Arc<dyn Chain>,
    netuid: u16,
    hub_url: String,
    miners: Vec<MinerNode>,
    stop: Arc<AtomicBool>,
    out: Out,
}

impl MinerJob {
    async fn run(self) {
        if let Err(e) = self.train_and_publish().await {
            self.out.line(&format!("{e}"));
        }
    }

    async fn train_and_publish(&self) -> Result<()> {
        let mut todo = Vec::new();
        for m in &self.miners {
            match miner::committed(self.chain.as_ref(), self.netuid, m).await? {
                Some(text) => self
                    .out
                    .line(&format!("{:<10} already committed {text}", m.plan.name)),
                None => todo.push(m.clone()),
            }
        }
        for m in &todo {
            let (layout, base, plan, stop) = (
                self.layout.clone(),
                self.base.clone(),
                m.plan.clone(),
                self.stop.clone(),
            );
            if plan.steps > 0 {
                self.out.line(&format!(
                    "{:<10} training {} steps (lr {}, seed {})",
                    plan.name, plan.steps, plan.lr, plan.seed
                ));
            }
            let trained =
                tokio::task::spawn_blocking(move || miner::train(&layout, &base, &plan, &stop))
                    .await
                    .map_err(|e| LocalnetError::miner(&m.plan.name, e))??;
            let Some(t) = trained else { return Ok(()) };
            match t.final_loss {
                Some(loss) => self.out.line(&format!(
                    "{:<10} trained {} steps in {:.1} s, training loss {loss:.3}",
                    m.plan.name, t.steps, t.seconds
                )),
                None => self.out.line(&format!(
                    "{:<10} publishes the base model untrained",
                    m.plan.name
                )),
            }
        }
        // Upload everything first, then commit everything at once (same block).
        for stage in [Some(Stage::Uploaded), None] {
            let mut pushes = Vec::new();
            for m in &todo {
                let token = miner::hub_token(&self.layout, &m.plan.name)?;
                let hub = HubClient::new(&self.hub_url, Some(token))
                    .map_err(|e| LocalnetError::miner(&m.plan.name, e))?;
                let (layout, base, chain, netuid, m) = (
                    self.layout.clone(),
                    self.base.clone(),
                    self.chain.clone(),
                    self.netuid,
                    m.clone(),
                );
                pushes.push(tokio::task::spawn_local(async move {
                    let r = miner::publish(&layout, &hub, chain.as_ref(), netuid, &base, &m, stage)
                        .await;
                    (m.plan.name.clone(), r)
                }));
            }
            for push in pushes {
                match push.await {
                    Ok((name, Ok(Some(text)))) if stage.is_none() => {
                        self.out.line(&format!("{name:<10} committed {text}"))
                    }
                    Ok((_, Ok(_))) => {}
                    Ok((_, Err(e))) => self.out.line(&format!("{e}")),
                    Err(e) => self.out.line(&format!("miner task failed: {e}")),
                }
            }
        }
        Ok(())
    }
}
