//! `arena data`: produce, serve, inspect and sample evaluation data, and read hub datasets
//! (library: `arena-data`).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use arena_core::competition::{EvalMethod, HubDataset, HubFormat};
use arena_core::seed::Seed;
use arena_data::batch::{Batch, BatchLimits};
use arena_data::corpus::Corpus;
use arena_data::feed::client::FeedClient;
use arena_data::feed::server::{serve, FeedState};
use arena_data::feed::store::{FeedStore, Retention};
use arena_data::phrases::PhraseFilter;
use arena_data::producer::Producer;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_keys::Keypair;
use serde_json::json;

use arena_chain::LocalChainOptions;

use crate::config::Config;
use crate::context;

/// Produce, serve, inspect and sample evaluation data.
#[derive(clap::Subcommand, Debug)]
pub enum DataCmd {
    /// Generate, sign and publish a batch of fresh samples every --interval-secs.
    Produce(ProduceArgs),
    /// Run the HTTP data feed: verifies signatures, stores batches in SQLite, serves them.
    ///
    /// State: <home>/data/feed.sqlite (set the directory with the global --home).
    Serve(ServeArgs),
    /// Check a batch from a file or URL (a batch, a feed page, or JSON lines of batches).
    Inspect(InspectArgs),
    /// Print seeded samples of a task as JSON lines (`id`, `task`, `prompt`, `response`, …).
    Sample(SampleArgs),
    /// List a hub dataset's configs and splits with their row counts (datasets-server `/size`),
    /// on huggingface.co or on any `arena hub serve`.
    Splits(SplitsArgs),
    /// Draw samples from a hub dataset the way validators do (seeded pages, the format's
    /// loader and filters) and print them; the rows each loader dropped, and why, are logged.
    Preview(PreviewArgs),
}

/// Flags of `arena data splits`.
#[derive(clap::Args, Debug)]
pub struct SplitsArgs {
    /// Dataset repository, `owner/name`.
    pub dataset: String,
    /// Datasets-server base URL. Default: `[data] datasets_server`, else the hub's root when
    /// `[hub] endpoint` is not huggingface.co, else https://datasets-server.huggingface.co.
    #[arg(long, value_name = "URL")]
    pub datasets_server: Option<String>,
    /// Print the server's `/size` answer as one line of JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena data preview`.
#[derive(clap::Args, Debug)]
pub struct PreviewArgs {
    /// Dataset repository, `owner/name`.
    pub dataset: String,
    /// How a row becomes a sample: text, content, synthetic_1_sft, codeforces_cots, macrobench.
    #[arg(long, value_parser = parse_hub_format)]
    pub format: HubFormat,
    /// Scoring method the samples are for (default: the format's: text_loss for text and
    /// content, reference_loss for synthetic_1_sft and codeforces_cots, multiple_choice for
    /// macrobench; if_eval reads Macrobench rows as IFEval prompts).
    #[arg(long, value_parser = ["text_loss", "reference_loss", "multiple_choice", "if_eval"])]
    pub method: Option<String>,
    /// Config (subset). Default: one drawn per page among all of them.
    #[arg(long)]
    pub config: Option<String>,
    /// Split. Default: the config's (the last one listed).
    #[arg(long)]
    pub split: Option<String>,
    /// Pages per draw. Default: the format's (SN37's).
    #[arg(long)]
    pub pages: Option<u32>,
    /// Rows per page. Default: the format's (SN37's).
    #[arg(long)]
    pub rows_per_page: Option<u32>,
    /// Seed: 64 hex digits (e.g. a block hash) or any text, which is hashed; validators with
    /// the same seed draw the same rows.
    #[arg(long, default_value = "0")]
    pub seed: String,
    /// Samples to draw.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Chain to read SN1 validators' stake from, needed by Macrobench rows (`local`,
    /// `http://…`, `finney`, …; `[data] macrobench_netuid` and `macrobench_min_stake` apply).
    #[arg(long = "network", value_name = "NETWORK")]
    pub network: Option<String>,
    #[arg(long, value_name = "URL")]
    /// Datasets-server base URL (see `arena data splits --help`).
    pub datasets_server: Option<String>,
    /// Print the samples as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_hub_format(text: &str) -> Result<HubFormat, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        "expected text, content, synthetic_1_sft, codeforces_cots or macrobench".to_string()
    })
}

/// Flags of `arena data produce`.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// Wallet holding the producer's hotkey. Default: `[wallet] name`.
    #[arg(long)]
    pub wallet: Option<String>,
    /// Hotkey that signs the batches. Default: `[wallet] hotkey`.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// Sign with a secret URI instead of a wallet (development: `//Alice`).
    #[arg(long, conflicts_with_all = ["wallet", "hotkey"])]
    pub key_uri: Option<String>,
    /// Feed to publish to. Default: `[data] feed_url`.
    #[arg(long)]
    pub feed: Option<String>,
    /// Chain whose current block each batch is stamped with: `http://HOST:PORT`, `local`
    /// (<home>/chain) or a Subtensor node (`finney`, `test`, `ws(s)://…`). Default:
    /// `[chain] network`, else `[chain] endpoint`.
    #[arg(long = "network", visible_alias = "chain", value_name = "NETWORK")]
    pub chain: Option<String>,
    /// Data subnet the batches are signed for. Default: `[data] netuid`.
    #[arg(long)]
    pub netuid: Option<u16>,
    /// Seconds between batches. Default: `[data] interval_secs`.
    #[arg(long)]
    pub interval_secs: Option<u64>,
    /// Tasks to generate, comma-separated (default: all seven).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<TaskKind>,
    /// Samples per batch. Default: `[data] samples_per_batch`.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Stop after this many published batches (default: run until Ctrl-C).
    #[arg(long)]
    pub batches: Option<u64>,
}

/// Flags of `arena data serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Listen address. Default: `[data] addr`.
    #[arg(long)]
    pub addr: Option<String>,
    /// Largest accepted batch in bytes. Default: `[data] max_batch_bytes`.
    #[arg(long)]
    pub max_batch_bytes: Option<usize>,
    /// Delete batches received more than this many seconds ago. Default: `[data] retention_secs`.
    #[arg(long)]
    pub retention_secs: Option<u64>,
    /// Keep at most this many batches (the newest). Default: `[data] retention_batches`.
    #[arg(long)]
    pub retention_batches: Option<u64>,
}

/// Flags of `arena data inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// A batch file, or an http(s) URL (a batch or a feed page such as <feed>/v1/batches).
    pub source: String,
    /// Print one JSON object per batch instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena data sample`.
#[derive(clap::Args, Debug)]
pub struct SampleArgs {
    /// Task: word_sorting, arithmetic, unit_conversion, string_ops, dyck, multiple_choice,
    /// if_eval, or `text` (pages of the shipped prose corpus).
    #[arg(long)]
    pub task: String,
    /// Seed: 64 hex digits (e.g. from a block hash) or any text, which is hashed.
    #[arg(long, required_unless_present = "space")]
    pub seed: Option<String>,
    /// Number of samples.
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    /// Print the size of the task's question space as one JSON object instead of samples
    /// (multiple_choice: distinct questions per family; if_eval: questions, rule lists and
    /// prompts).
    #[arg(long, conflicts_with_all = ["seed", "count"])]
    pub space: bool,
}

/// Runs `arena data …`.
pub async fn run(cmd: DataCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        DataCmd::Produce(args) => produce(args, cfg).await,
        DataCmd::Serve(args) => serve_feed(args, cfg).await,
        DataCmd::Inspect(args) => inspect(args, cfg).await,
        DataCmd::Sample(args) => sample(args),
        DataCmd::Splits(args) => splits(args, cfg).await,
        DataCmd::Preview(args) => preview(args, cfg).await,
    }
}

/// The producer's signing key: `--key-uri`, else the wallet's hotkey.
fn load_key(args: &ProduceArgs, cfg: &Config) -> anyhow::Result<Keypair> {
    if let Some(uri) = &args.key_uri {
        return Keypair::from_uri(uri).with_context(|| format!("--key-uri {uri:?}"));
    }
    context::wallet_hotkey(args.wallet.as_deref(), args.hotkey.as_deref(), cfg)
}

async fn produce(args: ProduceArgs, cfg: &Config) -> anyhow::Result<()> {
    let keypair = load_key(&args, cfg)?;
    let feed = args
        .feed
        .clone()
        .unwrap_or_else(|| cfg.data.feed_url.clone());
    let netuid = args.netuid.unwrap_or(cfg.data.netuid);
    let interval = args.interval_secs.unwrap_or(cfg.data.interval_secs).max(1);
    let samples = args.samples.unwrap_or(cfg.data.samples_per_batch);
    if samples == 0 {
        bail!("--samples must be at least 1");
    }
    let client = FeedClient::new(&feed)?;
    let chain =
        context::open_chain(args.chain.as_deref(), cfg, LocalChainOptions::default())?.chain;
    let block = chain.block_number().await.with_context(|| {
        format!(
            "reading the current block from {} (batches carry it; pass --chain)",
            args.chain.as_deref().unwrap_or(&cfg.chain.endpoint)
        )
    })?;
    tracing::info!(producer = %keypair.public().ss58(), %feed, netuid, block, "producing data");
    let producer = Producer::new(keypair, netuid, args.tasks.clone(), samples).with_chain(chain);
    let published = producer
        .run(
            &client,
            Duration::from_secs(interval),
            args.batches,
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await?;
    tracing::info!(published, "producer stopped");
    Ok(())
}

async fn serve_feed(args: ServeArgs, cfg: &Config) -> anyhow::Result<()> {
    let dir = cfg.home.join("data");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let store = FeedStore::open(&dir.join("feed.sqlite"))?;
    let limits = BatchLimits {
        max_bytes: args.max_batch_bytes.unwrap_or(cfg.data.max_batch_bytes),
        ..BatchLimits::default()
    };
    let retention = Retention {
        max_age: Duration::from_secs(args.retention_secs.unwrap_or(cfg.data.retention_secs)),
        max_batches: args.retention_batches.unwrap_or(cfg.data.retention_batches),
        ..Retention::default()
    };
    if retention.max_batches == 0 || retention.max_age.is_zero() {
        bail!("--retention-secs and --retention-batches must be at least 1");
    }
    let addr = args.addr.unwrap_or_else(|| cfg.data.addr.clone());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    eprintln!(
        "data feed on http://{} (keeps batches for {} s, at most {})",
        listener.local_addr()?,
        retention.max_age.as_secs(),
        retention.max_batches
    );
    serve(
        listener,
        FeedState::with_retention(store, limits, retention),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(())
}

/// Reads batches from a batch file/URL, a feed page, or JSON lines of batches.
fn batches_in(text: &str, limits: &BatchLimits) -> anyhow::Result<Vec<Result<Batch, String>>> {
    let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let raw: Vec<String> = match value {
        Some(serde_json::Value::Object(map)) if map.contains_key("items") => map["items"]
            .as_array()
            .map(|items| items.iter().map(|i| i["batch"].to_string()).collect())
            .unwrap_or_default(),
        Some(v) => vec![v.to_string()],
        None => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
    };
    if raw.is_empty() {
        bail!("no batches found");
    }
    Ok(raw
        .iter()
        .map(|r| Batch::parse(r.as_bytes(), limits).map_err(|e| e.to_string()))
        .collect())
}

async fn inspect(args: InspectArgs, cfg: &Config) -> anyhow::Result<()> {
    let limits = BatchLimits {
        max_bytes: cfg.data.max_batch_bytes,
        ..BatchLimits::default()
    };
    let bytes = if args.source.starts_with("http://") || args.source.starts_with("https://") {
        FeedClient::new(&args.source)?
            .get_bytes(&args.source)
            .await?
    } else {
        std::fs::read(&args.source).with_context(|| format!("reading {}", args.source))?
    };
    let text = String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", args.source))?;
    let phrases = match &cfg.data.undesirable_phrases {
        Some(path) => PhraseFilter::from_file(path)?,
        None => PhraseFilter::default(),
    };
    let now = arena_data::now_ms();
    let mut all_good = true;
    for parsed in batches_in(&text, &limits).with_context(|| args.source.clone())? {
        let batch = match parsed {
            Ok(batch) => batch,
            Err(err) => {
                all_good = false;
                if args.json {
                    println!("{}", json!({ "error": err }));
                } else {
                    println!("invalid batch: {err}");
                }
                continue;
            }
        };
        let signature_ok = batch.verify().is_ok();
        let phrase_hits: Vec<String> = batch
            .samples
            .iter()
            .filter_map(|s| phrases.find_in_sample(s).map(|p| format!("{}: {p}", s.id)))
            .collect();
        all_good &= signature_ok && phrase_hits.is_empty();
        let mut tasks: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &batch.samples {
            *tasks.entry(s.task.as_str()).or_default() += 1;
        }
        let age_secs = now.saturating_sub(batch.created_at) / 1000;
        if args.json {
            println!(
                "{}",
                json!({
                    "producer": batch.producer, "netuid": batch.netuid,
                    "created_at": batch.created_at, "age_secs": age_secs, "block": batch.block,
                    "samples": batch.samples.len(), "tasks": tasks,
                    "signature_valid": signature_ok, "undesirable": phrase_hits,
                })
            );
        } else {
            println!(
                "batch from {} (netuid {}, block {}, {} s old): {} samples {:?}; signature {}; {} undesirable",
                batch.producer,
                batch.netuid,
                batch.block,
                age_secs,
                batch.samples.len(),
                tasks,
                if signature_ok { "valid" } else { "INVALID" },
                phrase_hits.len()
            );
        }
    }
    if !all_good {
        bail!("{}: some batches would be rejected", args.source);
    }
    Ok(())
}

/// The question space of a generated task, as `arena data sample --space` prints it.
fn space(task: &str) -> anyhow::Result<serde_json::Value> {
    use arena_data::tasks::{if_eval, multiple_choice};
    // u128 counts are printed as JSON numbers through u64, which holds them all.
    let number = |n: u128| u64::try_from(n).map_err(|_| anyhow!("count {n} exceeds u64"));
    Ok(match task.parse::<TaskKind>()? {
        TaskKind::MultipleChoice => {
            let families = multiple_choice::FAMILIES
                .iter()
                .map(|f| {
                    Ok(json!({
                        "family": f.name(),
                        "questions": number(f.count())?,
                        "options_decide": f.options_decide(),
                    }))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            json!({
                "task": task,
                "distinct_questions": number(multiple_choice::distinct_questions())?,
                "fixed_answer_questions": number(multiple_choice::fixed_answer_questions())?,
                "families": families,
            })
        }
        TaskKind::IfEval => {
            let topics: Vec<_> = if_eval::TOPICS
                .iter()
                .map(|t| json!({ "topic": t.name(), "questions": t.count() }))
                .collect();
            json!({
                "task": task,
                "distinct_questions": number(if_eval::distinct_questions())?,
                "rule_lists": number(if_eval::rule_lists())?,
                "distinct_prompts": number(if_eval::distinct_prompts())?,
                "topics": topics,
            })
        }
        other => bail!("--space is counted for multiple_choice and if_eval, not {other}"),
    })
}

fn sample(args: SampleArgs) -> anyhow::Result<()> {
    if args.space {
        println!("{}", space(&args.task)?);
        return Ok(());
    }
    let seed = Seed::from_text(args.seed.as_deref().unwrap_or_default());
    let samples = if args.task == "text" {
        let corpus = Corpus::shipped();
        let pages = corpus.pages(&seed, 50, args.count.div_ceil(50));
        pages
            .into_iter()
            .flat_map(|page| {
                let start = page.start;
                page.documents.into_iter().enumerate().map(move |(i, doc)| {
                    arena_data::Sample::new(format!("austen:{}", start + i), "text", "", doc)
                })
            })
            .take(args.count)
            .collect()
    } else {
        let task: TaskKind = args.task.parse()?;
        task.generate_many(&seed, args.count)
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for s in samples {
        writeln!(out, "{}", serde_json::to_string(&s)?)?;
    }
    Ok(())
}

async fn splits(args: SplitsArgs, cfg: &Config) -> anyhow::Result<()> {
    let url = context::datasets_server_url(args.datasets_server.as_deref(), None, cfg);
    let client = arena_hub::datasets_server::DatasetsServerClient::new(
        Some(url.as_str()),
        context::hub_token(cfg),
    )?;
    let size = client
        .size(&args.dataset)
        .await
        .with_context(|| format!("sizes of {} from {url}", args.dataset))?;
    if args.json {
        println!("{}", serde_json::to_string(&size)?);
        return Ok(());
    }
    println!("{} ({url})", args.dataset);
    println!(
        "{:<32} {:<16} {:>12} {:>8}",
        "config", "split", "rows", "columns"
    );
    for s in &size.size.splits {
        println!(
            "{:<32} {:<16} {:>12} {:>8}",
            s.config, s.split, s.num_rows, s.num_columns
        );
    }
    println!("total rows: {}", size.size.dataset.num_rows);
    Ok(())
}

async fn preview(args: PreviewArgs, cfg: &Config) -> anyhow::Result<()> {
    use arena_data::source::{DataSource, DrawRequest};
    let method = match args.method.as_deref() {
        Some("text_loss") => EvalMethod::TextLoss {
            mode: Default::default(),
        },
        Some("reference_loss") => EvalMethod::ReferenceLoss,
        Some("multiple_choice") => EvalMethod::MultipleChoice {
            mode: Default::default(),
        },
        Some("if_eval") => EvalMethod::IfEval,
        Some(other) => bail!("unknown method {other:?}"),
        None => match args.format {
            HubFormat::Text | HubFormat::Content => EvalMethod::TextLoss {
                mode: Default::default(),
            },
            HubFormat::Synthetic1Sft | HubFormat::CodeforcesCots => EvalMethod::ReferenceLoss,
            HubFormat::Macrobench => EvalMethod::MultipleChoice {
                mode: Default::default(),
            },
        },
    };
    let chain = match &args.network {
        Some(network) => {
            Some(context::open_chain(Some(network), cfg, LocalChainOptions::default())?.chain)
        }
        None => None,
    };
    let settings = context::hub_data(args.datasets_server.as_deref(), None, cfg, chain)?;
    let spec = HubDataset {
        repo: args.dataset.clone(),
        revision: None,
        config: args.config.clone(),
        split: args.split.clone(),
        format: args.format,
        pages: args.pages,
        rows_per_page: args.rows_per_page,
    };
    let mut source =
        arena_data::hub::HubSource::new(settings.api, spec, &method, settings.validators)?;
    let seed = Seed::from_text(&args.seed);
    let request = DrawRequest {
        seed,
        count: args.count,
        now_ms: arena_data::now_ms(),
        not_before_ms: 0,
    };
    let draw = source
        .draw(&request)
        .await
        .with_context(|| format!("drawing from {}", source.describe()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for sample in &draw.samples {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(sample)?)?;
        } else {
            writeln!(out, "== {} ({})", sample.id, sample.task)?;
            writeln!(out, "-- prompt:\n{}", clip(&sample.prompt, 600))?;
            writeln!(out, "-- reference:\n{}", clip(&sample.response, 600))?;
        }
    }
    if !args.json {
        writeln!(
            out,
            "{} samples from {}, seed {:?}",
            draw.samples.len(),
            source.describe(),
            args.seed
        )?;
    }
    Ok(())
}

/// The first `max` characters of `text`, with a note of how much was left out.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!(
            "{}… [{} more characters]",
            &text[..cut],
            text[cut..].chars().count()
        ),
        None => text.to_string(),
    }
}
