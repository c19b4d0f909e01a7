//! `arena`: the command-line front of finetune-arena. Thin glue: every group's work lives in a
//! library crate; this binary parses flags, loads the configuration and calls it.

mod cmd;
mod config;
mod context;
#[cfg(test)]
mod layering_tests;
mod reference;

use clap::{Parser, Subcommand};

/// finetune-arena: decentralized competitions that produce better language models.
///
/// Miners train a causal LM, publish it to a model hub and commit a pointer to the chain;
/// validators evaluate committed models on fresh data and set weights; the chain turns
/// weights into incentive with Yuma Consensus.
#[derive(Parser, Debug)]
#[command(name = "arena", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: config::GlobalArgs,

    #[command(subcommand)]
    command: Command,
}

/// The subcommand groups.
#[derive(Subcommand, Debug)]
enum Command {
    /// The whole network on this machine: chain, hub, data feed, miners, validators, leaderboard.
    Localnet(cmd::localnet::LocalnetArgs),
    /// Show the effective configuration (file, environment and flags merged).
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
    /// Wallets in Bittensor's layout: create, list, regenerate, sign and verify.
    Wallet(cmd::wallet::WalletArgs),
    /// Model hub: serve the Hugging Face Hub API, upload, download, and hash models.
    Hub(cmd::hub::HubGroupArgs),
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
        // No backtrace: errors here come from user input or the outside world.
        eprintln!("error: {}", error_text(&err));
        for hint in hints(&err) {
            eprintln!("hint: {hint}");
        }
        std::process::exit(1);
    }
}

/// The error and its causes joined by `: `, each said once: a cause whose text the message
/// before it already contains (a typed error that prints its source, as
/// `chain: SubnetNotExists: …` does, and then also returns it as the source) is skipped, and
/// so are hints, which [`hints`] prints on their own lines.
fn error_text(err: &anyhow::Error) -> String {
    let hint = err.downcast_ref::<context::Hint>().map(|h| h.0.clone());
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || hint.as_deref() == Some(text) {
            continue;
        }
        if parts.last().is_some_and(|last| last.contains(text)) {
            continue;
        }
        parts.push(text.to_string());
    }
    parts.join(": ")
}

/// What to do about an error, when something is known: a hint attached where the error was
/// made, a hub that refused the token (HF_TOKEN), a chain or hub that cannot be reached.
fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(hint) = err.downcast_ref::<context::Hint>() {
        out.push(hint.0.clone());
    }
    for cause in err.chain() {
        if let Some(arena_hub::HubError::Http { status, url, .. }) =
            cause.downcast_ref::<arena_hub::HubError>()
        {
            if matches!(status, 401 | 403) {
                use arena_hub::client::{resolve_token, TokenSource, TokenSources};
                let token = match resolve_token(&TokenSources::from_process(None)) {
                    Some((_, TokenSource::EnvVar)) => "the token in HF_TOKEN".to_string(),
                    Some((_, TokenSource::File(path))) => {
                        format!("the token saved in {}", path.display())
                    }
                    _ => "the request (neither HF_TOKEN nor a saved token file is set; \
                          `[hub] token` is sent when set)"
                        .to_string(),
                };
                let hub = url
                    .split_once("://")
                    .and_then(|(scheme, rest)| {
                        rest.split('/')
                            .next()
                            .map(|host| format!("{scheme}://{host}"))
                    })
                    .unwrap_or_else(|| url.clone());
                out.push(format!(
                    "the hub at {hub} refused {token}: set HF_TOKEN (or `[hub] token`) to a \
                     token of the account that owns the repository's namespace"
                ));
                break;
            }
        }
        if let Some(arena_hub::HubError::Network(_)) = cause.downcast_ref::<arena_hub::HubError>() {
            out.push(
                "is the hub running? Its URL comes from --hub, else HF_ENDPOINT, else \
                 `[hub] endpoint`"
                    .to_string(),
            );
            break;
        }
        if let Some(arena_chain::ChainError::Transport { .. }) =
            cause.downcast_ref::<arena_chain::ChainError>()
        {
            out.push(
                "is the chain running? Its endpoint comes from --chain, else `[chain] endpoint`"
                    .to_string(),
            );
            break;
        }
    }
    out
}

fn init_tracing(global: &config::GlobalArgs, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ARENA_LOG")
        .unwrap_or_else(|_| EnvFilter::new(global.log_level.as_deref().unwrap_or(default_level)));
    use std::io::IsTerminal;
    // Colours only on a terminal: a log piped to a file or another program stays plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if global.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source and also returns it, as `#[error("chain: {0}")]`
    /// with `#[from]` does.
    #[derive(Debug)]
    struct Wrap(std::io::Error);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "chain: {}", self.0)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_once_and_hints_apart() {
        let inner = std::io::Error::other("SubnetNotExists: subnet 7 does not exist");
        let err = anyhow::Error::new(Wrap(inner)).context("pushing alice/m");
        assert_eq!(
            error_text(&err),
            "pushing alice/m: chain: SubnetNotExists: subnet 7 does not exist"
        );
        assert!(hints(&err).is_empty());

        let err = anyhow::anyhow!("wallet \"w\" has no hotkey \"h\"")
            .context(context::Hint("`arena wallet list` lists them".into()))
            .context("loading the hotkey");
        assert_eq!(
            error_text(&err),
            "loading the hotkey: wallet \"w\" has no hotkey \"h\""
        );
        assert_eq!(
            hints(&err),
            vec!["`arena wallet list` lists them".to_string()]
        );

        let hub = arena_hub::HubError::Http {
            status: 401,
            url: "http://127.0.0.1:8700/api/repos/create".into(),
            message: "Invalid credentials".into(),
        };
        let err = anyhow::Error::new(hub).context("creating alice/m");
        let hint = hints(&err).join("\n");
        assert!(hint.contains("http://127.0.0.1:8700 refused"), "{hint}");
        assert!(hint.contains("HF_TOKEN"), "{hint}");
    }
}
