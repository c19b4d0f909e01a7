//! `arena miner check` as a library: would this folder win its competition right now?
//!
//! Every step is the validator's own code: the constraint checks are [`folder_checks`]
//! (`arena_checkpoint::checks` with the competition's limits, the weights' norm rule, then the
//! validators' `arena_checkpoint::checks::precheck`; `arena model check` runs the same
//! function); the incumbent is found from the chain (the
//! competition's committed model with the highest incentive, the oldest on a tie) and fetched
//! and verified by [`crate::fetch::fetch_uid`]; the samples are drawn by
//! `arena_data::draw::draw_samples` with the seed validators use now (the hash of the
//! current sync block); both models are scored by `arena_eval::evaluate_model`; and the
//! comparison is `arena_core::scoring::pairwise::beats` with the incumbent's epsilon.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arena_chain::{Chain, NetUid};
use arena_core::commitment::ModelCommitment;
use arena_core::competition::{Competition, Schedule};
use arena_core::rejection::Rejection;
use arena_core::scoring::{pairwise, Contender};
use arena_core::seed::{sync_block, Seed};
use arena_data::sample::Sample;
use arena_data::source::DataSource;
use arena_eval::{evaluate_model, EvalOptions};
use arena_hub::client::HubClient;
use serde::Serialize;

use crate::error::MinerError;
use crate::fetch::fetch_uid;

/// Where the chain and validators stand, for [`check_against_incumbent`].
#[derive(Debug, Clone)]
pub struct CheckContext {
    /// Subnet.
    pub netuid: NetUid,
    /// First block of sync window 0 (validators' `genesis_block`).
    pub genesis_block: u64,
    /// Blocks per sync window (validators' `sync_cadence`).
    pub sync_cadence: u64,
    /// Where fetched models are kept.
    pub cache: PathBuf,
}

/// One model's scores.
#[derive(Debug, Clone, Serialize)]
pub struct ModelScore {
    /// Competition score (normalised, weighted; lower is better).
    pub total: f64,
    /// Raw score per task id; `None` for a task skipped this step.
    pub tasks: Vec<(String, Option<f64>)>,
}

/// The incumbent and how it was chosen.
#[derive(Debug, Clone, Serialize)]
pub struct Incumbent {
    /// Its uid.
    pub uid: u16,
    /// Its hotkey (SS58).
    pub hotkey: String,
    /// Its commitment text.
    pub commitment: String,
    /// Its commitment block.
    pub block: u64,
    /// Its incentive on chain (u16 fraction of 65535).
    pub incentive: u16,
    /// Its epsilon at the current block.
    pub epsilon: f64,
    /// Its scores on the drawn samples.
    pub score: ModelScore,
}

/// The verdict of a check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Competition id.
    pub competition: u32,
    /// Head block when checked.
    pub current_block: u64,
    /// The sync block whose hash seeded the samples.
    pub sync_block: u64,
    /// The seed (hex).
    pub seed: String,
    /// Samples drawn per task (0 when skipped: a feed or corpus this check cannot read).
    pub samples: Vec<(String, usize)>,
    /// Our model's scores.
    pub ours: ModelScore,
    /// The model to beat; `None` when the competition has no committed model yet.
    pub incumbent: Option<Incumbent>,
    /// Whether ours beats the incumbent now (our block counts as the current block).
    pub would_win: bool,
    /// `1 − ours / (incumbent · (1 − ε))`: positive is the relative margin of a win,
    /// negative how much lower our score must get.
    pub margin: Option<f64>,
}

/// What the checks of a model folder found: [`folder_checks`]'s result.
#[derive(Debug, Clone, Serialize)]
pub struct FolderChecks {
    /// The limit, header, shape, dtype and tokenizer checks (`arena_checkpoint::checks`), with the
    /// weights' finiteness and norm rule appended when they were read.
    pub report: arena_checkpoint::checks::FolderReport,
    /// The weights' norms, when they were read and passed.
    pub norms: Option<arena_checkpoint::checks::NormReport>,
    /// The validators' own header checks (`arena_checkpoint::checks::precheck`), run last:
    /// pickled weights, stray safetensors files and the like that the checks above do not
    /// look at.
    pub validator: Option<Rejection>,
}

impl FolderChecks {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.report.passed && self.validator.is_none()
    }

    /// Every failure as `(code, message)`, with the codes every surface shares.
    pub fn failures(&self) -> Vec<(String, String)> {
        self.report
            .failures
            .iter()
            .chain(&self.validator)
            .map(|f| (f.code().to_string(), f.to_string()))
            .collect()
    }
}

/// The checks of `dir`, one code path for `arena model check DIR --competition ID`,
/// `arena miner check` and `arena miner push`: `arena_checkpoint::checks::check` against `limits`
/// (every failure, each with a stable code); if those pass and `norm_limits` is given, every
/// weight is read for NaN/inf and the per-layer norm rule; if all that passes and
/// `validator` is given, the validators' precheck with those constraints.
pub fn folder_checks(
    dir: &Path,
    limits: &arena_checkpoint::checks::Limits,
    norm_limits: Option<&arena_core::competition::NormValidation>,
    validator: Option<&arena_core::competition::Constraints>,
) -> FolderChecks {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        let failure = Rejection::Unreadable {
            path: dir.display().to_string(),
            message: format!(
                "{what}; expected a model folder (config.json, *.safetensors, tokenizer.json)"
            ),
        };
        return FolderChecks {
            report: arena_checkpoint::checks::FolderReport {
                passed: false,
                summary: None,
                failures: vec![failure],
            },
            norms: None,
            validator: None,
        };
    }
    let mut report = arena_checkpoint::checks::check(dir, limits);
    let mut norms = None;
    if report.passed {
        if let Some(norm_limits) = norm_limits {
            match arena_checkpoint::checks::validate_folder(dir, norm_limits) {
                Ok(n) => norms = Some(n),
                Err(f) => {
                    report.failures.push(f);
                    report.passed = false;
                }
            }
        }
    }
    let validator = match validator {
        Some(constraints) if report.passed => {
            arena_checkpoint::checks::precheck(dir, constraints).err()
        }
        _ => None,
    };
    FolderChecks {
        report,
        norms,
        validator,
    }
}

/// The checks a validator runs on `dir` for `competition` (limits, shapes, weights, norms,
/// precheck: [`folder_checks`] with the competition's constraints).
pub fn competition_checks(dir: &Path, competition: &Competition) -> FolderChecks {
    let constraints = &competition.constraints;
    folder_checks(
        dir,
        &arena_checkpoint::checks::Limits::from(constraints),
        Some(&constraints.norm_validation),
        Some(constraints),
    )
}

/// [`competition_checks`] as a `Result`: `Err` lists every failed check with its code.
pub fn constraint_check(dir: &Path, competition: &Competition) -> Result<(), MinerError> {
    let checks = competition_checks(dir, competition);
    if checks.passed() {
        return Ok(());
    }
    Err(MinerError::Constraints {
        dir: dir.to_path_buf(),
        competition: competition.id,
        failures: checks.failures(),
    })
}

fn score_of(
    dir: &Path,
    competition: &Competition,
    drawn: &[Option<Vec<Sample>>],
    tokenizer_dir: Option<&Path>,
) -> Result<ModelScore, MinerError> {
    let options = EvalOptions {
        tokenizer_dir: tokenizer_dir.map(Path::to_path_buf),
        ..EvalOptions::default()
    };
    let eval = evaluate_model(dir, competition, drawn, &options, &arena_model::Device::Cpu)
        .map_err(|e| MinerError::Train(format!("evaluating {}: {e}", dir.display())))?;
    let total = eval
        .score(competition)
        .map_err(|e| MinerError::Train(format!("scoring {}: {e}", dir.display())))?
        .total;
    let tasks = competition
        .tasks
        .iter()
        .zip(&eval.tasks)
        .map(|(t, e)| (t.id.clone(), e.as_ref().map(|e| e.raw)))
        .collect();
    Ok(ModelScore { total, tasks })
}

/// The competition's committed model with the highest incentive (oldest on a tie).
async fn find_incumbent(
    chain: &dyn Chain,
    netuid: NetUid,
    competition: u32,
) -> Result<Option<(u16, u16, u64)>, MinerError> {
    let metagraph = chain.metagraph(netuid).await?;
    let mut best: Option<(u16, u16, u64)> = None;
    for c in chain.commitments(netuid).await? {
        let Some(parsed) = c.text().and_then(|t| t.parse::<ModelCommitment>().ok()) else {
            continue;
        };
        if parsed.competition_id != competition {
            continue;
        }
        let Some(n) = metagraph.neurons.iter().find(|n| n.hotkey == c.hotkey) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((_, inc, block)) => {
                (n.incentive, std::cmp::Reverse(c.block)) > (inc, std::cmp::Reverse(block))
            }
        };
        if better {
            best = Some((n.uid, n.incentive, c.block));
        }
    }
    Ok(best)
}

/// Checks `dir` for `competition` and compares it with the incumbent on freshly drawn samples.
/// Feed, corpus and file tasks draw from `sources`, keyed by dataset name as the validator's
/// (`arena_data::sources::schedule_sources`); a task whose source is missing is skipped
/// for both models, as a validator skips it.
pub async fn check_against_incumbent(
    dir: &Path,
    competition: &Competition,
    schedule: &Schedule,
    chain: &dyn Chain,
    hub: HubClient,
    ctx: &CheckContext,
    sources: &mut BTreeMap<String, Box<dyn DataSource>>,
) -> Result<CheckReport, MinerError> {
    constraint_check(dir, competition)?;
    let current_block = chain.block_number().await?;
    let sync = sync_block(current_block, ctx.genesis_block, ctx.sync_cadence);
    let hash = chain
        .block_hash(Some(sync))
        .await?
        .ok_or_else(|| MinerError::Train(format!("the chain has no hash for sync block {sync}")))?;
    let seed = Seed::from_block_hash(&hash.0);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let drawn = arena_data::draw::draw_samples(competition, &seed, now_ms, 0, sources).await;
    let drawn: Vec<Option<Vec<Sample>>> = drawn.into_iter().map(|t| t.samples).collect();
    let samples = competition
        .tasks
        .iter()
        .zip(&drawn)
        .map(|(t, d)| (t.id.clone(), d.as_ref().map_or(0, Vec::len)))
        .collect();

    // The competition's own tokenizer and chat template when it names one, as validators
    // score with them: the miner's copies must not make the verdict differ from theirs.
    let tokenizer = hub
        .fetch_tokenizer(
            &competition.constraints.tokenizer,
            &ctx.cache.join("tokenizers"),
        )
        .await?;
    let incumbent = match find_incumbent(chain, ctx.netuid, competition.id).await? {
        None => None,
        Some((uid, incentive, _)) => {
            let fetched = fetch_uid(chain, hub, ctx.netuid, uid, schedule, &ctx.cache).await?;
            Some((fetched, incentive))
        }
    };
    let (ours, theirs) = tokio::task::spawn_blocking({
        let (dir, competition, drawn) = (dir.to_path_buf(), competition.clone(), drawn.clone());
        let other = incumbent.as_ref().map(|(f, _)| f.dir.clone());
        move || -> Result<_, MinerError> {
            let tok = tokenizer.as_deref();
            let ours = score_of(&dir, &competition, &drawn, tok)?;
            let theirs = other
                .map(|d| score_of(&d, &competition, &drawn, tok))
                .transpose()?;
            Ok((ours, theirs))
        }
    })
    .await
    .map_err(|e| MinerError::Task(e.to_string()))??;

    let eps = &competition.constraints.epsilon;
    let (incumbent, would_win, margin) = match (incumbent, theirs) {
        (Some((f, incentive)), Some(score)) => {
            let epsilon = eps.epsilon(current_block, f.block);
            let contender = |uid, block, score| Contender {
                uid,
                block,
                score,
                unit_losses: Vec::new(),
                content_hash: None,
            };
            let a = contender(u16::MAX, current_block, ours.total);
            let b = contender(f.uid, f.block, score.total);
            let win = pairwise::beats(&a, &b, current_block, eps);
            let bar = if f.block < current_block {
                score.total * (1.0 - epsilon)
            } else {
                score.total
            };
            let inc = Incumbent {
                uid: f.uid,
                hotkey: f.hotkey,
                commitment: f.commitment.to_string(),
                block: f.block,
                incentive,
                epsilon,
                score,
            };
            (Some(inc), win, Some(1.0 - ours.total / bar))
        }
        _ => (None, ours.total.is_finite(), None),
    };
    Ok(CheckReport {
        competition: competition.id,
        current_block,
        sync_block: sync,
        seed: seed.to_hex(),
        samples,
        ours,
        incumbent,
        would_win,
        margin,
    })
}
