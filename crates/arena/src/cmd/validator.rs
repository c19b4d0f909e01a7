//! `arena validator`: the validator service (`run`) and its hidden evaluation worker
//! (`eval-worker`, spawned by `run` once per model with a timeout and a memory cap).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::context::{self, ChainArgs, HotkeyArgs, HubArgs, ScheduleArgs};
use anyhow::Context;
use arena_chain::LocalChainOptions;
use arena_model::DeviceSpec;
use arena_validator::eval::{
    plan_slots, MemoryPolicy, SubprocessBackend, WorkerSlot, DEVICE_ENV, THREADS_ENV,
};
use arena_validator::service::{Retention, Service, ServiceConfig};
use arena_validator::store::Store;
use arena_validator::update::Updater;
use arena_validator::worker::{
    EvalJob, EvalReport, MemoryBounds, ModelScorer, StopReport, TaskOutcome, WorkerCommand,
    WorkerLimits, MEMORY_FLOOR,
};

/// Run a validator: sync, download, check, evaluate, set weights.
#[derive(clap::Subcommand, Debug)]
pub enum ValidatorCmd {
    /// Run the validator service until Ctrl-C.
    Run(RunArgs),
    /// Evaluate one model: a job as JSON on stdin, the reply as JSON on stdout (internal).
    #[command(hide = true)]
    EvalWorker,
}

/// Flags of `arena validator run`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("hotkey", |a| a.help(
    "Hotkey name inside the wallet; it signs `set_weights`. Default: `[wallet] hotkey`"
)))]
#[command(mut_arg("netuid", |a| a.help("Subnet validated. Default: `[chain] netuid`")))]
pub struct RunArgs {
    #[command(flatten)]
    pub key: HotkeyArgs,
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    /// Devices the evaluation workers run on, comma-separated: cpu, cuda, cuda:N, auto
    /// (`cuda:0,cuda:1` runs one worker per GPU in parallel, each model on one device).
    /// Default: `[validator] devices`.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
    /// Workers per device, each evaluating another model at once; CPU workers share the
    /// machine's threads equally. Default: `[validator] eval_workers`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub eval_workers: Option<u16>,
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

async fn run_service(args: RunArgs, cfg: &Config) -> anyhow::Result<()> {
    let vcfg = &cfg.validator;
    // Devices first: a GPU asked of a CPU-only build is refused before anything is opened.
    let devices_text = args.devices.as_deref().unwrap_or(&vcfg.devices);
    let devices = arena_model::parse_device_list(devices_text)
        .with_context(|| format!("--devices / [validator] devices {devices_text:?}"))?;
    let per_device = args
        .eval_workers
        .map_or(vcfg.eval_workers, usize::from)
        .max(1);
    let slots = worker_slots(&devices, per_device);
    tracing::info!(
        workers = slots.len(),
        devices = %devices_text,
        "evaluation workers"
    );
    let hotkey = args.key.signing_key(cfg)?;
    let netuid = args.chain.netuid(cfg);
    let chain = context::open_chain(
        args.chain.chain.as_deref(),
        cfg,
        LocalChainOptions::default(),
    )?
    .chain;
    // Fail fast when the chain cannot be read at all (a wrong --network, a node without the
    // subnet or its APIs): once running, tick errors are logged and retried, which suits a
    // node restart but not a mistyped flag.
    chain
        .block_number()
        .await
        .context("reading the head block of the chain (check --network)")?;
    chain
        .metagraph(netuid)
        .await
        .with_context(|| format!("reading the metagraph of subnet {netuid}"))?;
    chain
        .commitments(netuid)
        .await
        .with_context(|| format!("reading the commitments of subnet {netuid}"))?;
    let hub = args.hub.client(cfg)?;
    let state = vcfg
        .state_dir
        .clone()
        .unwrap_or_else(|| cfg.home.join("validator"));
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let store = Store::open(state.join("validator.sqlite"))?;
    // The leaderboard finds whose scores these are (and so their stake) through this key.
    store.set_validator_hotkey(&hotkey.public().ss58())?;
    let ceiling = vcfg.worker_memory_max_gib.saturating_mul(1 << 30);
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
            memory_bytes: Some(ceiling),
            ..WorkerLimits::default()
        },
        memory: Some(MemoryPolicy {
            engine: context::worker_engine_shape(),
            bounds: MemoryBounds {
                floor: MEMORY_FLOOR,
                ceiling,
            },
        }),
        slots,
    };
    let config = ServiceConfig {
        netuid,
        schedule_path: args.schedule.path(cfg).map(PathBuf::from),
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
    let sources = context::data_sources(&args.schedule, &args.hub, cfg, chain.clone())?;
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

/// The validator's lanes: `per_device` per device. `auto` counts as a GPU in a CUDA build (it
/// opens GPU 0 when there is one) and as the CPU otherwise. CPU lanes share the threads of
/// `RAYON_NUM_THREADS` when set, else of the machine.
fn worker_slots(devices: &[DeviceSpec], per_device: usize) -> Vec<WorkerSlot> {
    let threads = std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    let named: Vec<(String, bool)> = devices
        .iter()
        .map(|d| {
            let gpu = d.is_cuda() || (*d == DeviceSpec::Auto && cfg!(feature = "cuda"));
            (d.to_string(), gpu)
        })
        .collect();
    plan_slots(&named, per_device, threads)
}

/// The worker's evaluation engine: `arena-eval` over `arena-model`, on the device its lane
/// names in `ARENA_EVAL_DEVICE` (`auto` when unset: the GPU of a CUDA build when present,
/// else the CPU).
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
        let chunk_seed = job
            .seed
            .parse::<arena_core::seed::Seed>()
            .map_err(|e| format!("job seed: {e}"))?;
        let options = arena_eval::EvalOptions {
            tokenizer_dir: job.tokenizer_dir.clone(),
            token_cache: Some(worker_token_cache()),
            chunk_seed: Some(chunk_seed),
            stop: job.stop.clone(),
            ..arena_eval::EvalOptions::default()
        };
        let device = std::env::var(DEVICE_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .map_or(Ok(DeviceSpec::Auto), |v| v.parse::<DeviceSpec>())
            .and_then(DeviceSpec::open)
            .map_err(|e| format!("{DEVICE_ENV}: {e}"))?;
        let result =
            arena_eval::evaluate_model(&job.model_dir, competition, &drawn, &options, &device)
                .map_err(|e| e.to_string())?;
        tracing::info!(
            model = %job.model_dir.display(),
            load_ms = result.load_ms,
            tokenize_ms = result.tokenize_ms,
            compute_ms = result.compute_ms,
            cache = ?result.cache,
            stopped = ?result.stopped,
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
                samples: t.samples,
                scored: t.scored,
            })
            .collect();
        Ok(EvalReport {
            tasks,
            load_ms: result.load_ms,
            compute_ms: result.tokenize_ms + result.compute_ms,
            stopped: result.stopped.map(|s| StopReport {
                decision: s.decision,
                lo: s.bounds.lo,
                hi: s.bounds.hi,
                chunks: s.chunks,
                chunks_total: s.chunks_total,
            }),
        })
    }
}
