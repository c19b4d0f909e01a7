//! `arena model eval DIR --competition ID`: score a model on a competition's tasks the way a
//! validator does (library: `arena-eval`), with samples drawn here from a seed.
//!
//! Generator tasks are drawn with the seed, exactly as `arena data sample --seed` draws them.
//! Corpus tasks naming the shipped corpus use it; hub-dataset tasks read rows through the
//! datasets-server API (`--datasets-server`, see `context::datasets_server_url`) with the
//! validators' loaders and seeded paging; other feed, corpus and file tasks read the `--data`
//! JSONL file when given, and are otherwise skipped with a message (their weight is spread
//! over the other tasks, as a validator does when data fails to load).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use arena_core::competition::{CompetitionId, DatasetSpec, EvalMethod};
use arena_core::seed::Seed;
use arena_data::corpus::{Corpus, CorpusSource};
use arena_data::hub::HubSource;
use arena_data::local::{LocalFormat, LocalSource};
use arena_data::source::DataSource;
use arena_eval::{evaluate_model, EvalOptions};
use serde_json::json;

use crate::config::Config;
use crate::context::{competition_tokenizer, device_help, hub_data, CompetitionArgs, DeviceArgs};

/// Flags of `arena model eval`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("device", |a| a.help(device_help("auto"))))]
pub struct EvalArgs {
    /// Model folder (config.json, safetensors, tokenizer.json).
    pub dir: PathBuf,
    /// Competition whose tasks are scored.
    #[arg(long, value_name = "ID")]
    pub competition: CompetitionId,
    #[command(flatten)]
    pub schedule: CompetitionArgs,
    /// Seed text the samples are drawn with (same text, same samples as `arena data sample`).
    #[arg(long, default_value = "0")]
    pub seed: String,
    /// Samples per task instead of the schedule's count.
    #[arg(long, value_name = "N")]
    pub samples: Option<u32>,
    /// JSONL file for feed, file and non-shipped corpus tasks (text lines for text_loss,
    /// multiple-choice lines for multiple_choice, prompt/response pairs otherwise).
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Datasets-server that hub-dataset tasks read rows from. Default: `[data]
    /// datasets_server`, else the hub's root when `[hub] endpoint` is not huggingface.co, else
    /// https://datasets-server.huggingface.co. (Macrobench tasks need a chain to check the
    /// rows' validators and are skipped here.)
    #[arg(long, value_name = "URL")]
    pub datasets_server: Option<String>,
    /// Folder of the pinned tokenizer to score with. Default: the model's own tokenizer.json.
    #[arg(long, value_name = "DIR")]
    pub tokenizer: Option<PathBuf>,
    /// Token cache folder (tokenize once, reuse for the next model on the same samples).
    #[arg(long, value_name = "DIR")]
    pub token_cache: Option<PathBuf>,
    /// Cap on generated tokens for every generation task, instead of each task's own setting
    /// (the schedule's, by default Subnet 37's: 20 for multiple choice, 200 for if_eval).
    #[arg(long, value_name = "N")]
    pub max_new_tokens: Option<usize>,
    /// Skip the weight-norm validation.
    #[arg(long)]
    pub no_norms: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn format_for(method: &EvalMethod) -> LocalFormat {
    match method {
        EvalMethod::TextLoss { .. } => LocalFormat::Text,
        EvalMethod::MultipleChoice { .. } => LocalFormat::MultipleChoice,
        EvalMethod::ReferenceLoss | EvalMethod::IfEval => LocalFormat::Pairs,
    }
}

/// `arena model eval`.
pub fn eval(args: EvalArgs, cfg: &Config) -> anyhow::Result<()> {
    let mut competition = args.schedule.competition(args.competition, cfg)?;
    if let Some(n) = args.samples {
        competition
            .tasks
            .iter_mut()
            .for_each(|t| t.samples = n.max(1));
    }
    // A source per dataset name that is not a generator; tasks without one are skipped.
    let mut named: BTreeMap<String, Box<dyn DataSource>> = BTreeMap::new();
    let mut skipped: BTreeMap<String, String> = BTreeMap::new();
    let shipped = Corpus::shipped();
    // The rows API of hub datasets, built once for every hub task that needs it.
    let mut hub_settings = None;
    for task in &competition.tasks {
        let (kind, name) = match &task.dataset {
            DatasetSpec::Generator(_) => continue,
            DatasetSpec::Corpus(name) if name == shipped.name() => {
                let source =
                    CorpusSource::new(shipped.clone(), arena_data::sources::CORPUS_ROWS_PER_PAGE);
                named.insert(name.clone(), Box::new(source));
                continue;
            }
            DatasetSpec::Corpus(name) => ("corpus", name),
            DatasetSpec::Feed(name) => ("feed", name),
            DatasetSpec::File(name) => ("file", name),
            DatasetSpec::Hub(hub) => {
                let Some(key) = arena_data::sources::source_key(task) else {
                    continue;
                };
                if named.contains_key(&key) {
                    continue;
                }
                let settings = match &hub_settings {
                    Some(settings) => settings,
                    None => hub_settings.insert(hub_data(
                        args.datasets_server.as_deref(),
                        None,
                        cfg,
                        None,
                    )?),
                };
                let (api, validators) = (settings.api.clone(), settings.validators.clone());
                match HubSource::new(api, hub.clone(), &task.method, validators) {
                    Ok(source) => {
                        named.insert(key, Box::new(source));
                    }
                    Err(e) => {
                        skipped.insert(task.id.clone(), format!("{e}; the task is skipped"));
                    }
                }
                continue;
            }
        };
        match &args.data {
            Some(path) => {
                let source = LocalSource::load(path, format_for(&task.method))
                    .with_context(|| format!("--data for task {}", task.id))?;
                named.insert(name.clone(), Box::new(source));
            }
            None => {
                skipped.insert(
                    task.id.clone(),
                    format!("{kind} {name:?} is not available here; pass --data FILE.jsonl"),
                );
            }
        }
    }
    let seed = Seed::from_text(&args.seed);
    let drawn = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(arena_data::draw::draw_samples(
            &competition,
            &seed,
            arena_data::now_ms(),
            0,
            &mut named,
        ))
    });
    let drawn: Vec<_> = drawn.into_iter().map(|t| t.samples).collect();
    // `--tokenizer`, else the competition's own when it names one on the hub (fetched
    // through `[hub] endpoint` and checked against its pins), as validators score.
    let tokenizer_dir = match &args.tokenizer {
        Some(dir) => Some(dir.clone()),
        None => competition_tokenizer(&competition, cfg)?,
    };
    let options = EvalOptions {
        tokenizer_dir,
        token_cache: args.token_cache.clone(),
        max_new_tokens: args.max_new_tokens,
        validate_norms: !args.no_norms,
        // The validators' chunks (no leader here, so nothing stops): the same numbers.
        chunk_seed: Some(seed),
        ..EvalOptions::default()
    };
    let device = args.device.open(arena_model::DeviceSpec::Auto)?;
    let result = evaluate_model(&args.dir, &competition, &drawn, &options, &device)
        .with_context(|| format!("cannot evaluate {}", args.dir.display()))?;
    let score = result
        .score(&competition)
        .with_context(|| format!("competition {}: no task could be scored", competition.id))?;

    let mut rows = Vec::new();
    for (task, outcome) in competition.tasks.iter().zip(&result.tasks) {
        let combined = score.tasks.iter().find(|s| s.task_id == task.id);
        let reason = match (outcome, skipped.get(&task.id)) {
            (Some(_), _) => None,
            (None, Some(reason)) => Some(reason.clone()),
            (None, None) => Some("no usable samples were drawn".to_string()),
        };
        rows.push((task, outcome, combined, reason));
    }
    if args.json {
        let tasks: Vec<_> = rows
            .iter()
            .map(|(task, outcome, combined, reason)| {
                json!({
                    "task_id": task.id,
                    "method": task.method,
                    "samples": outcome.as_ref().map(|o| o.per_sample.len()),
                    "score": combined,
                    "failures": outcome.as_ref().map(|o| o.failures.clone()).unwrap_or_default(),
                    "skipped": reason,
                })
            })
            .collect();
        let out = json!({
            "competition": competition.id,
            "name": competition.name,
            "seed": args.seed,
            "score": score,
            "tasks": tasks,
            "load_ms": result.load_ms,
            "tokenize_ms": result.tokenize_ms,
            "compute_ms": result.compute_ms,
            "token_cache": format!("{:?}", result.cache).to_lowercase(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "competition {} {:?}, seed {:?}",
        competition.id, competition.name, args.seed
    );
    println!(
        "{:<20} {:>7} {:>12} {:>11} {:>7} {:>10}",
        "task", "samples", "raw", "normalised", "weight", "weighted"
    );
    for (task, outcome, combined, reason) in &rows {
        match (outcome, combined, reason) {
            (Some(o), Some(c), _) => {
                println!(
                    "{:<20} {:>7} {:>12.6} {:>11.6} {:>7.3} {:>10.6}",
                    task.id,
                    o.per_sample.len(),
                    c.raw,
                    c.normalised,
                    c.weight,
                    c.weighted
                );
                for f in o.failures.iter().take(3) {
                    println!("    failed: {f}");
                }
            }
            _ => println!(
                "{:<20} skipped: {}",
                task.id,
                reason.as_deref().unwrap_or("not scored")
            ),
        }
    }
    println!("competition score {:.6} (lower is better)", score.total);
    println!(
        "load {} ms, tokenize {} ms (token cache: {:?}), compute {} ms",
        result.load_ms, result.tokenize_ms, result.cache, result.compute_ms
    );
    Ok(())
}
