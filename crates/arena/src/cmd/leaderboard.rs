//! `arena leaderboard serve|show`: the standings of a subnet from the chain and the validators'
//! state databases, as a web page with a JSON API (`serve`) or printed once (`show`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use arena_chain::{Chain, LocalChain, LocalChainOptions};
use arena_core::competition::default_schedule;
use arena_web::{ScheduleSource, Sources};

use crate::config::Config;
use crate::context::{open_chain, ScheduleArgs};

/// Show who leads each competition: web page and JSON API, or a table on the terminal.
#[derive(clap::Subcommand, Debug)]
pub enum LeaderboardCmd {
    /// Serve the leaderboard page (`/`) and API (`/api/standings`, `/api/history`) until Ctrl-C.
    Serve(ServeArgs),
    /// Print the standings once (a table, or the `/api/standings` document with --json).
    Show(ShowArgs),
}

/// Where the standings are read from.
#[derive(clap::Args, Debug)]
#[command(mut_arg("schedule", |a| a.help(
    "Competition schedule TOML (names, rewards, tasks), re-read whenever it changes. \
     Default: `[validator] schedule`, else the built-in schedule"
)))]
pub struct SourceArgs {
    /// Chain: `http://HOST:PORT` of `arena chain serve`, `local` (<home>/chain), a chain
    /// directory (holding chain.sqlite; only while no other process runs that chain), or a
    /// Subtensor node (`finney`, `test`, `ws(s)://…`, `subtensor+http(s)://…`).
    /// Default: `[chain] network`, else `[chain] endpoint`.
    #[arg(
        long = "network",
        visible_alias = "chain",
        value_name = "NETWORK_OR_DIR"
    )]
    pub chain: Option<String>,
    /// Subnet shown. Default: `[chain] netuid`.
    #[arg(long)]
    pub netuid: Option<u16>,
    /// A validator's state: its state directory or its validator.sqlite (repeat for each
    /// validator). Default: `[validator] state_dir` (or <home>/validator) if it exists.
    #[arg(long = "validator-state", value_name = "PATH")]
    pub validator_state: Vec<PathBuf>,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

/// Flags of `arena leaderboard serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound URL is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Where to read from.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Flags of `arena leaderboard show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Print the `/api/standings` JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Where to read from.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Runs `arena leaderboard …`.
pub async fn run(cmd: LeaderboardCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        LeaderboardCmd::Serve(args) => serve(args, cfg).await,
        LeaderboardCmd::Show(args) => {
            let src = sources(&args.source, cfg)?;
            let standings = arena_web::standings(&src).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&standings)?);
            } else {
                print!("{}", arena_web::render_table(&standings));
            }
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs, cfg: &Config) -> anyhow::Result<()> {
    let src = Arc::new(sources(&args.source, cfg)?);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let bound = listener.local_addr()?;
    // One line on stdout so scripts (and tests) can wait for readiness and learn the port.
    println!(
        "{}",
        serde_json::json!({"listening": format!("http://{bound}"), "netuid": src.netuid,
                           "validator_stores": src.validator_stores})
    );
    arena_web::serve(listener, src, shutdown_signal())
        .await
        .context("serving the leaderboard")
}

/// Builds the leaderboard's sources from flags and configuration.
pub fn sources(args: &SourceArgs, cfg: &Config) -> anyhow::Result<Sources> {
    let endpoint = args
        .chain
        .as_deref()
        .or(cfg.chain.network.as_deref())
        .unwrap_or(&cfg.chain.endpoint);
    let remote = matches!(
        crate::context::network(Some(endpoint), cfg),
        Ok(crate::context::Network::Arena(_) | crate::context::Network::Subtensor(_))
    );
    let chain: Arc<dyn Chain> = if remote {
        open_chain(Some(endpoint), cfg, LocalChainOptions::default())?.chain
    } else {
        let dir = if endpoint == "local" {
            cfg.home.join("chain")
        } else {
            PathBuf::from(endpoint)
        };
        Arc::new(open_chain_dir(&dir)?)
    };
    let validator_stores = if args.validator_state.is_empty() {
        let default = cfg
            .validator
            .state_dir
            .clone()
            .unwrap_or_else(|| cfg.home.join("validator"));
        if default.exists() {
            vec![default]
        } else {
            Vec::new()
        }
    } else {
        args.validator_state.clone()
    };
    let schedule = match args.schedule.path(cfg) {
        Some(path) => ScheduleSource::file(path)?,
        None => default_schedule()
            .context("the built-in competition schedule")?
            .into(),
    };
    Ok(Sources {
        chain,
        netuid: args.netuid.unwrap_or(cfg.chain.netuid),
        validator_stores,
        schedule,
    })
}

fn open_chain_dir(dir: &Path) -> anyhow::Result<LocalChain> {
    let db = dir.join(arena_chain::local::DB_FILE);
    if !db.is_file() {
        bail!(
            "chain {}: no {} there (expected http://HOST:PORT, \"local\" or a chain directory)",
            dir.display(),
            arena_chain::local::DB_FILE
        );
    }
    LocalChain::open(dir, LocalChainOptions::default()).with_context(|| {
        format!(
            "opening the chain in {} (if `arena chain serve` runs it, pass its URL instead)",
            dir.display()
        )
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
            return;
        }
    }
    tokio::signal::ctrl_c().await.ok();
}
