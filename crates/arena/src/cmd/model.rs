//! `arena model`: load, check and score Hugging Face causal LMs (library: `arena-model`).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use arena_model::scoring::batch::{mean, ScoredSeq};
use arena_model::Evaluator;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::context::{device_help, DeviceArgs};

/// `arena model …` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ModelCmd {
    /// Per-sample losses of a model folder on a JSONL file (a fixed contract other tools use).
    ///
    /// Each input line is {"id","text"} (next-token loss over the text's tokens) or
    /// {"id","context","reference"} (loss over the reference tokens only, context and
    /// reference encoded separately, no special tokens added). Output: one JSON line per input,
    /// in input order: {"id","mean_loss","n_tokens"} (+ "token_losses" with --per-token), or
    /// {"id","error"} for a line that cannot be scored.
    Score(ScoreArgs),
    /// Turn a GGUF file (llama.cpp format) into a Hugging Face folder with f32 weights.
    ImportGguf(super::model_check::ImportGgufArgs),
    /// Architecture, parameters, dtypes, sizes and tokenizer hash, from headers only.
    Inspect(super::model_check::InspectArgs),
    /// Check a model folder against competition constraints before loading any weight.
    Check(super::model_check::CheckArgs),
    /// Score a model on a competition's tasks as a validator would: per-task raw and
    /// normalised scores and the combined competition score.
    Eval(super::model_eval::EvalArgs),
}

/// Flags of `arena model score`.
#[derive(clap::Args, Debug)]
#[command(mut_arg("device", |a| a.help(device_help("cpu"))))]
pub struct ScoreArgs {
    /// Model folder: config.json, model.safetensors (or shards + index), tokenizer.json.
    pub dir: PathBuf,
    /// JSONL input file.
    #[arg(long)]
    pub input: PathBuf,
    /// Also print every token's loss.
    #[arg(long)]
    pub per_token: bool,
    /// Most padded tokens per forward pass (memory against speed).
    #[arg(long, default_value_t = 4096)]
    pub batch_tokens: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// One input line of `arena model score`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreLine {
    id: Value,
    text: Option<String>,
    context: Option<String>,
    reference: Option<String>,
}

/// Runs an `arena model` subcommand.
pub fn run(cmd: ModelCmd, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        ModelCmd::Score(args) => score(args),
        ModelCmd::ImportGguf(args) => super::model_check::import_gguf(args),
        ModelCmd::Inspect(args) => super::model_check::inspect(args),
        ModelCmd::Check(args) => super::model_check::check(args, cfg),
        ModelCmd::Eval(args) => super::model_eval::eval(args, cfg),
    }
}

/// Tokenizes one input line into the sequence to score, as fixtures/README.md prescribes.
fn to_seq(eval: &Evaluator, line: &ScoreLine) -> arena_model::Result<ScoredSeq> {
    let id = line.id.to_string();
    let encode = |s: &str| eval.tokenizer.encode(s);
    match (&line.text, &line.context, &line.reference) {
        (Some(text), None, None) => Ok(ScoredSeq {
            id,
            ids: encode(text)?,
            first_target: 1,
        }),
        (None, Some(context), Some(reference)) => {
            let mut ids = encode(context)?;
            let first_target = ids.len();
            ids.extend(encode(reference)?);
            Ok(ScoredSeq {
                id,
                ids,
                first_target,
            })
        }
        _ => Err(arena_model::ModelError::Sample {
            id,
            message: "needs either \"text\" or both \"context\" and \"reference\"".into(),
        }),
    }
}

fn score(args: ScoreArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let mut lines = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", args.input.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ScoreLine = serde_json::from_str(&line).with_context(|| {
            format!("{} line {}: not a score input", args.input.display(), n + 1)
        })?;
        lines.push(parsed);
    }
    if lines.is_empty() {
        bail!("{} has no input lines", args.input.display());
    }
    let device = args.device.open(arena_model::DeviceSpec::Cpu)?;
    let mut eval = Evaluator::load(&args.dir, &device)
        .with_context(|| format!("cannot load {}", args.dir.display()))?;
    eval.limits.max_batch_tokens = args.batch_tokens.max(1);
    let seqs = lines.iter().map(|l| to_seq(&eval, l)).collect();
    let losses = eval.token_losses(seqs);
    let mut out = std::io::stdout().lock();
    for (line, result) in lines.iter().zip(losses) {
        let row = match result {
            Ok(l) => {
                let mut row = json!({"id": line.id, "mean_loss": mean(&l), "n_tokens": l.len()});
                if args.per_token {
                    row["token_losses"] = json!(l);
                }
                row
            }
            Err(e) => json!({"id": line.id, "error": e.to_string()}),
        };
        writeln!(out, "{row}")?;
    }
    Ok(())
}
