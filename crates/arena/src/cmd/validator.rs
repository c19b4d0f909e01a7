//! `arena validator`: the validator service (`run`) and its hidden evaluation worker
//! (`eval-worker`, spawned by `run` once per model with a timeout and a memory cap).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use arena_chain::{Chain, ChainClient, LocalChain, LocalChainOptions};
use arena_keys::Keypair;
use arena_validator::eval::SubprocessBackend;
use arena_validator::service::{Retention, Service, ServiceConfig};
use arena_validator::store::Store;
use arena_validator::update::Updater;
use arena_validator::worker::{
    EvalJob, EvalReport, ModelScorer, TaskOutcome, WorkerCommand, WorkerLimits,
};
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Run a validator: sync, download, check, evaluate, set weights.
#[derive(clap::Subcommand, Debug)]
pub enum ValidatorCmd {
    /// Run the validator service until Ctrl-C.
    Run(RunArgs),
    /// Evaluate one model: a job as JSON on stdin, the reply as JSON on stdout (internal).
    #[command(hide = true)]
    EvalWorker,
}

/// `[validator]`: the validator service.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorConfig {
    /// Competition schedule TOML, reloaded when it changes. Default: the built-in schedule.
    pub schedule: Option<PathBuf>,
    /// State folder (SQLite, model cache, events). Default: `<home>/validator`.
    pub state_dir: Option<PathBuf>,
    /// Blocks per sync window; one step per active competition per window (SN37: 360).
    pub sync_cadence: u64,
    /// Block the sync windows count from (SN37: 3 138 611; a localnet: 0).
    pub sync_origin: u64,
    /// Seconds between ticks of the loop.
    pub interval_secs: u64,
    /// Seconds one model's evaluation may take before its worker is killed.
    pub worker_timeout_secs: u64,
    /// Address-space cap of a worker, MiB.
    pub worker_memory_mib: u64,
    /// Address of the Prometheus `/metrics` endpoint; empty to disable.
    pub metrics_addr: String,
    /// `version_key` sent with `set_weights`.
    pub version_key: u64,
    /// Steps kept per competition in the state database; older ones are deleted as new ones
    /// are recorded (the EMA and the histories do not need them).
    pub keep_steps: usize,
    /// Size at which `events.jsonl` is rotated to `events.jsonl.1` (one old file is kept), MiB.
    pub events_max_mib: u64,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig {
            schedule: None,
            state_dir: None,
            sync_cadence: arena_core::seed::DEFAULT_SYNC_CADENCE,
            sync_origin: 0,
            interval_secs: 12,
            worker_timeout_secs: 600,
            worker_memory_mib: 16 * 1024,
            metrics_addr: "127.0.0.1:9108".into(),
            version_key: 0,
            keep_steps: arena_validator::service::Retention::default().keep_steps,
            events_max_mib: arena_validator::service::Retention::default().events_max_bytes >> 20,
        }
    }
}

/// Flags of `arena validator run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Wallet (coldkey) name. Default: `[wallet] name`.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Hotkey name inside the wallet; it signs `set_weights`. Default: `[wallet] hotkey`.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// Development hotkey as a secret URI (`//Alice/hot`), instead of the wallet's.
    #[arg(long, value_name = "URI", conflicts_with_all = ["wallet", "hotkey"])]
    pub hotkey_uri: Option<String>,
    /// Subnet validated. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<u16>,
    /// Chain endpoint: `http://HOST:PORT` or `local` (<home>/chain in-process). Default: `[chain] endpoint`.
    #[arg(long, value_name = "URL")]
    pub chain: Option<String>,
    /// Hub URL. Default: HF_ENDPOINT, then `[hub] endpoint`, then huggingface.co.
    #[arg(long, value_name = "URL")]
    pub hub: Option<String>,
    /// Competition schedule TOML. Default: `[validator] schedule`, else the built-in one.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
}

/// Runs `arena validator …`.
pub async fn run(cmd: ValidatorCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        ValidatorCmd::Run(args) => run_service(args, cfg).await,
        ValidatorCmd::EvalWorker => {
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            arena_validator::worker::serve(&mut ModelEvaluator, stdin.lock(), stdout.lock())
                .context("writing the worker reply")
        }
    }
}

fn hotkey(args: &RunArgs, cfg: &Config) -> anyhow::Result<Keypair> {
    super::wallet::signing_hotkey(
        args.hotkey_uri.as_deref(),
        args.wallet.as_deref(),
        args.hotkey.as_deref(),
        cfg,
    )
}

/// The data sources the schedule names (see `arena_data::sources`): the feed at
/// `[data] feed_url`, judged by `[data]`'s subnet, stake, freshness and phrase rules; the
/// shipped corpus; local JSONL files.
pub(crate) fn data_sources(
    schedule: Option<&std::path::Path>,
    cfg: &Config,
    chain: Arc<dyn Chain>,
) -> anyhow::Result<BTreeMap<String, Box<dyn arena_data::source::DataSource>>> {
    let schedule = match schedule {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the schedule {}", path.display()))?;
            arena_core::competition::Schedule::from_toml_str(&text)
                .with_context(|| format!("schedule {}", path.display()))?
        }
        None => arena_core::competition::default_schedule()?,
    };
    let mut policy = arena_data::accept::AcceptancePolicy::new(cfg.data.netuid, cfg.data.min_stake);
    policy.freshness_ms = cfg.data.freshness_secs.saturating_mul(1000);
    if let Some(path) = &cfg.data.undesirable_phrases {
        policy.phrases = arena_data::phrases::PhraseFilter::from_file(path)?;
    }
    let feed = arena_data::sources::FeedSettings {
        url: cfg.data.feed_url.clone(),
        policy,
        oracle: arena_data::chain_stake::chain_oracle(chain),
    };
    Ok(arena_data::sources::schedule_sources(
        &schedule,
        Some(&feed),
    ))
}

async fn run_service(args: RunArgs, cfg: &Config) -> anyhow::Result<()> {
    let vcfg = &cfg.validator;
    let hotkey = hotkey(&args, cfg)?;
    let netuid = args.netuid.unwrap_or(cfg.chain.netuid);
    let url = args.chain.as_deref().unwrap_or(&cfg.chain.endpoint);
    let chain: Arc<dyn Chain> = if url == "local" {
        let dir = cfg.home.join("chain");
        Arc::new(
            LocalChain::open(&dir, LocalChainOptions::default())
                .with_context(|| format!("opening the local chain in {}", dir.display()))?,
        )
    } else if url.starts_with("http://") || url.starts_with("https://") {
        Arc::new(ChainClient::new(url)?)
    } else {
        bail!("chain endpoint {url:?}: expected http://HOST:PORT or \"local\"");
    };
    let hub = super::miner::hub_client(args.hub.as_deref(), cfg)?;
    let state = vcfg
        .state_dir
        .clone()
        .unwrap_or_else(|| cfg.home.join("validator"));
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let store = Store::open(state.join("validator.sqlite"))?;
    // The leaderboard finds whose scores these are (and so their stake) through this key.
    store.set_validator_hotkey(&hotkey.public().ss58())?;
    let backend = SubprocessBackend {
        command: WorkerCommand {
            program: std::env::current_exe().context("locating the arena binary")?,
            args: vec!["validator".into(), "eval-worker".into()],
            // Workers of one step share tokenized samples through the validator's own folder.
            env: vec![(
                "ARENA_TOKEN_CACHE".into(),
                state.join("token-cache").to_string_lossy().into_owned(),
            )],
        },
        limits: WorkerLimits {
            timeout: Duration::from_secs(vcfg.worker_timeout_secs),
            memory_bytes: Some(vcfg.worker_memory_mib << 20),
            ..WorkerLimits::default()
        },
    };
    let config = ServiceConfig {
        netuid,
        schedule_path: args.schedule.clone().or_else(|| vcfg.schedule.clone()),
        sync_cadence: vcfg.sync_cadence,
        genesis_block: vcfg.sync_origin,
        queue: Default::default(),
        tokenizer_dir: None,
        events_path: Some(state.join("events.jsonl")),
        version_key: vcfg.version_key,
        retention: Retention {
            keep_steps: vcfg.keep_steps,
            events_max_bytes: vcfg.events_max_mib << 20,
        },
    };
    let sources = data_sources(config.schedule_path.as_deref(), cfg, chain.clone())?;
    let updater = Updater::new(hub, state.join("models"));
    let service = Service::new(
        chain,
        hotkey,
        config,
        updater,
        store,
        Box::new(backend),
        sources,
    )?;
    if !vcfg.metrics_addr.is_empty() {
        let listener = tokio::net::TcpListener::bind(&vcfg.metrics_addr)
            .await
            .with_context(|| format!("binding the metrics address {}", vcfg.metrics_addr))?;
        tracing::info!(addr = %vcfg.metrics_addr, "metrics on /metrics");
        tokio::spawn(arena_validator::metrics::serve(listener, service.metrics()));
    }
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    service
        .run(Duration::from_secs(vcfg.interval_secs.max(1)), stop)
        .await;
    Ok(())
}

/// The worker's evaluation engine: `arena-eval` over `arena-model`, on the GPU when built
/// with the `cuda` feature and one is present, else on the CPU.
struct ModelEvaluator;

/// Token cache shared by the workers of a step: `ARENA_TOKEN_CACHE`, else a per-user folder
/// in the temporary directory (refused, and the cache skipped, if another user owns it).
fn worker_token_cache() -> PathBuf {
    match std::env::var_os("ARENA_TOKEN_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let user = std::env::var("USER").unwrap_or_default();
            std::env::temp_dir().join(format!("arena-token-cache-{user}"))
        }
    }
}

impl ModelScorer for ModelEvaluator {
    fn evaluate(&mut self, job: &EvalJob) -> Result<EvalReport, String> {
        let competition = &job.competition;
        if let Some((task, drawn)) = competition
            .tasks
            .iter()
            .zip(&job.tasks)
            .find(|(t, d)| t.id != d.task_id)
        {
            return Err(format!(
                "job lists samples of task {:?} where the competition has {:?}",
                drawn.task_id, task.id
            ));
        }
        let drawn: Vec<Option<Vec<arena_data::Sample>>> =
            job.tasks.iter().map(|t| t.samples.clone()).collect();
        let options = arena_eval::EvalOptions {
            tokenizer_dir: job.tokenizer_dir.clone(),
            token_cache: Some(worker_token_cache()),
            ..arena_eval::EvalOptions::default()
        };
        let device =
            arena_model::Device::cuda_if_available(0).map_err(|e| format!("device: {e}"))?;
        let result =
            arena_eval::evaluate_model(&job.model_dir, competition, &drawn, &options, &device)
                .map_err(|e| e.to_string())?;
        tracing::info!(
            model = %job.model_dir.display(),
            load_ms = result.load_ms,
            tokenize_ms = result.tokenize_ms,
            compute_ms = result.compute_ms,
            cache = ?result.cache,
            "evaluated"
        );
        let tasks = result
            .tasks
            .into_iter()
            .flatten()
            .map(|t| TaskOutcome {
                task_id: t.task_id,
                raw: t.raw,
                sample_scores: t.per_sample,
            })
            .collect();
        Ok(EvalReport {
            tasks,
            load_ms: result.load_ms,
            compute_ms: result.tokenize_ms + result.compute_ms,
        })
    }
}
