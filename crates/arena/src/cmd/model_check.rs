//! `arena model import-gguf | inspect | check`: GGUF import and the constraint checks a
//! validator runs before loading a model (library: `arena_checkpoint::gguf`, `arena_checkpoint::checks`).
//! `check --competition ID` takes the limits from the competition schedule, the one a
//! validator uses (`[validator] schedule`, `--schedule`, or the built-in one).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use arena_checkpoint::checks::{self, Limits};
use arena_core::competition::{Competition, CompetitionId, NormValidation};
use arena_miner::check::{folder_checks, FolderChecks};

use crate::config::Config;
use crate::context::{CompetitionArgs, DtypeArg};

/// Flags of `arena model import-gguf`.
#[derive(clap::Args, Debug)]
pub struct ImportGgufArgs {
    /// The GGUF file (llama or qwen2 architecture; F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 tensors).
    pub file: PathBuf,
    /// Folder to write config.json, model.safetensors (f32), tokenizer.json and tokenizer_config.json to.
    pub out_dir: PathBuf,
    /// Print the import report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena model inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Model folder (config.json, safetensors, tokenizer.json). Only headers are read.
    pub dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena model check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Model folder to check.
    pub dir: PathBuf,
    /// Check against this competition's constraints (explicit limit flags still override).
    #[arg(long, value_name = "ID")]
    pub competition: Option<CompetitionId>,
    #[command(flatten)]
    pub schedule: CompetitionArgs,
    /// Largest accepted parameter count.
    #[arg(long)]
    pub max_params: Option<u64>,
    /// Smallest accepted parameter count.
    #[arg(long)]
    pub min_params: Option<u64>,
    /// Largest accepted total size of the folder's files, in bytes.
    #[arg(long)]
    pub max_bytes: Option<u64>,
    /// Accepted architectures (config.json `architectures[0]`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub architectures: Option<Vec<String>>,
    /// Sequence length the model must support (max_position_embeddings at least this).
    #[arg(long)]
    pub seq_len: Option<u64>,
    /// Precision the competition evaluates in (weights must be stored in it or in f32).
    #[arg(long, value_enum)]
    pub dtype: Option<DtypeArg>,
    /// sha256 (hex) tokenizer.json must have, when the competition pins a tokenizer.
    #[arg(long)]
    pub tokenizer_sha256: Option<String>,
    /// Also read every weight: refuse NaN/inf and apply the per-layer norm rule (1000/200/0.15).
    #[arg(long)]
    pub weights: bool,
    /// Print the report as JSON (failures carry a stable `code`).
    #[arg(long)]
    pub json: bool,
}

/// `arena model import-gguf FILE OUT_DIR`.
pub fn import_gguf(args: ImportGgufArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = arena_checkpoint::gguf::import_gguf(&args.file, &args.out_dir)
        .with_context(|| format!("cannot import {}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {} tensors, {} parameters, model.safetensors {} bytes, tied embeddings: {} ({:.1} s)",
            report.architecture,
            report.tensors,
            report.parameters,
            report.safetensors_bytes,
            report.tie_word_embeddings,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `arena model inspect DIR`.
pub fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let inspection = checks::inspect(&args.dir)
        .map_err(|f| anyhow::anyhow!("{}: {f} [{}]", args.dir.display(), f.code()))?;
    let s = &inspection.summary;
    if args.json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!("architecture      {}", s.architecture);
    println!("parameters        {}", s.parameters);
    println!("tensors           {}", s.tensors);
    println!("dtypes            {}", s.dtypes.join(", "));
    println!("weight bytes      {}", s.weight_bytes);
    println!("total bytes       {}", s.total_bytes);
    println!("layers            {}", s.num_hidden_layers);
    println!("vocab size        {}", s.vocab_size);
    println!("max positions     {}", s.max_position_embeddings);
    println!("tied embeddings   {}", s.tie_word_embeddings);
    println!(
        "tokenizer sha256  {}",
        s.tokenizer_sha256
            .as_deref()
            .unwrap_or("(no tokenizer.json)")
    );
    println!("weight files      {}", s.weight_files.join(", "));
    Ok(())
}

/// `arena model check DIR [--competition ID] [limits]`: exits non-zero when any check fails.
pub fn check(args: CheckArgs, cfg: &Config) -> anyhow::Result<()> {
    let competition = match args.competition {
        Some(id) => Some(args.schedule.competition(id, cfg)?),
        None => None,
    };
    let base = competition
        .as_ref()
        .map(|c| Limits::from(&c.constraints))
        .unwrap_or_default();
    let limits = Limits {
        min_params: args.min_params.or(base.min_params),
        max_params: args.max_params.or(base.max_params),
        max_bytes: args.max_bytes.or(base.max_bytes),
        architectures: args.architectures.or(base.architectures.clone()),
        sequence_length: args.seq_len.or(base.sequence_length),
        dtype: args.dtype.map(Into::into).or(base.dtype),
        tokenizer_sha256: args.tokenizer_sha256.or(base.tokenizer_sha256.clone()),
    };
    let norm_limits = competition
        .as_ref()
        .map_or_else(NormValidation::default, |c| c.constraints.norm_validation);
    // With a competition and no limit overridden, the validators' precheck runs too: then
    // this is exactly what `arena miner check` and `arena miner push` run.
    let validator = competition
        .as_ref()
        .filter(|_| limits == base)
        .map(|c| &c.constraints);
    let checks = folder_checks(
        &args.dir,
        &limits,
        args.weights.then_some(&norm_limits),
        validator,
    );
    if args.json {
        let mut value = checks_json(&checks, competition.as_ref())?;
        value["limits"] = serde_json::to_value(&limits)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_checks(&args.dir, &checks, competition.as_ref());
    }
    if !checks.passed() {
        bail!(
            "{}: {} check(s) failed",
            args.dir.display(),
            checks.failures().len()
        );
    }
    Ok(())
}

/// Prints `FAIL code message` per failure, the norms when read, and `PASS …` when all passed:
/// the report of `arena model check` and of `arena miner check --constraints-only`.
pub(crate) fn print_checks(dir: &Path, checks: &FolderChecks, competition: Option<&Competition>) {
    for (code, message) in checks.failures() {
        println!("FAIL {code:<26} {message}");
    }
    if let Some(n) = &checks.norms {
        println!(
            "norms: max {:.2} ({}), mean soft fraction {:.3}",
            n.max_norm, n.max_norm_tensor, n.soft_fraction_mean
        );
    }
    if checks.passed() {
        let params = checks.report.summary.as_ref().map_or(0, |s| s.parameters);
        let against = competition
            .map(|c| format!(", competition {} {:?}", c.id, c.name))
            .unwrap_or_default();
        println!("PASS {} ({params} parameters{against})", dir.display());
    }
}

/// The JSON report of `arena model check` and `arena miner check --constraints-only`:
/// `passed`, `summary`, `failures` (each with its `code`), `norms`, `validator` (the
/// validators' precheck refusal, if any) and `competition`.
pub(crate) fn checks_json(
    checks: &FolderChecks,
    competition: Option<&Competition>,
) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(&checks.report)?;
    value["passed"] = serde_json::to_value(checks.passed())?;
    value["norms"] = serde_json::to_value(&checks.norms)?;
    value["validator"] = serde_json::to_value(&checks.validator)?;
    value["competition"] = serde_json::to_value(competition.map(|c| c.id))?;
    Ok(value)
}
