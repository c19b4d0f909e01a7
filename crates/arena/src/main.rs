//! `arena`: the command-line front of finetune-arena. Thin glue: every group's work lives in a
//! library crate; this binary parses flags, loads the configuration and calls it.

mod cmd;
mod config;

use clap::{Parser, Subcommand};

/// finetune-arena: decentralized competitions that produce better language models.
///
/// Miners train a causal LM, publish it to a model hub and commit a pointer to the chain;
/// validators evaluate committed models on fresh data and set weights; the chain turns
/// weights into incentive with Yuma Consensus.
#[derive(Parser, Debug)]
#[command(name = "arena", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: config::GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The whole network on this machine: chain, hub, data feed, miners, validators, leaderboard.
    Localnet(cmd::localnet::LocalnetArgs),
    /// Show the effective configuration (file, environment and flags merged).
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
    /// Wallets in Bittensor's layout: create, list, regenerate, sign and verify.
    Wallet(cmd::wallet::WalletArgs),
    /// Model hub: serve the Hugging Face Hub API, upload, download, and hash models.
    Hub(cmd::hub::HubArgs),
    /// Run or query the chain: local chain service, metagraph, registration, stake, commitments, Yuma Consensus.
    #[command(subcommand)]
    Chain(cmd::chain::ChainCmd),
    /// Produce, serve, inspect and sample evaluation data.
    #[command(subcommand)]
    Data(cmd::data::DataCmd),
    /// Run a validator: sync, download, check, evaluate, set weights.
    #[command(subcommand)]
    Validator(cmd::validator::ValidatorCmd),
    /// Publish models: upload to the hub, commit the hash to the chain, make the repo public.
    #[command(subcommand)]
    Miner(cmd::miner::MinerCmd),
    /// Load, check and score Hugging Face causal LMs.
    #[command(subcommand)]
    Model(cmd::model::ModelCmd),
    /// Measure speed against the reference tools.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCmd),
    /// Show who leads each competition: web page and JSON API, or a table on the terminal.
    #[command(subcommand)]
    Leaderboard(cmd::leaderboard::LeaderboardCmd),
}

fn main() {
    let cli = Cli::parse();
    // The localnet prints its own progress and tables on stdout; its logs default to warnings.
    let default_level = match cli.command {
        Command::Localnet(_) => "warn",
        _ => "info",
    };
    init_tracing(&cli.global, default_level);
    let result = (|| -> anyhow::Result<()> {
        let cfg = config::Config::load(&cli.global)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            match cli.command {
                Command::Localnet(c) => cmd::localnet::run(c, &cfg).await,
                Command::Config(c) => cmd::config::run(c, &cfg),
                Command::Wallet(c) => cmd::wallet::run(c, &cfg),
                Command::Hub(c) => cmd::hub::run(c, &cfg).await,
                Command::Chain(c) => cmd::chain::run(c, &cfg).await,
                Command::Data(c) => cmd::data::run(c, &cfg).await,
                Command::Miner(c) => cmd::miner::run(c, &cfg).await,
                Command::Validator(c) => cmd::validator::run(c, &cfg).await,
                Command::Model(c) => cmd::model::run(c, &cfg),
                Command::Bench(c) => cmd::bench::run(c, &cfg),
                Command::Leaderboard(c) => cmd::leaderboard::run(c, &cfg).await,
            }
        })
    })();
    if let Err(err) = result {
        // One line per cause, no backtrace: errors here come from user input or the outside world.
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn init_tracing(global: &config::GlobalArgs, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ARENA_LOG")
        .unwrap_or_else(|_| EnvFilter::new(global.log_level.as_deref().unwrap_or(default_level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if global.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}
