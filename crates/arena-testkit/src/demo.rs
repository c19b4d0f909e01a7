//! A small recorded network for tests and demos of the leaderboard: a [`LocalChain`] with one
//! subnet, two staked validators, four miners with model commitments, weights set and an epoch
//! paid out, plus each validator's state database holding three steps per competition.
//!
//! The subnet grants [`MAX_VALIDATORS`] validator permits per epoch.
//!
//! Everything is deterministic: the same call gives the same chain hashes and the same scores.
//! Validator `//Web/V0` (3000 TAO) and `//Web/V1` (1000 TAO) see the same models, V1 scoring
//! each 1% worse, so a reader can tell whose scores it shows. Miner qualities, best first:
//! M0 and M1 in competition 1, M2 in competition 1 whose evaluation fails (score `+inf`),
//! M3 alone in competition 2.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arena_chain::{Chain, ChainError, Hyperparameters, LocalChain, LocalChainOptions, NetUid};
use arena_core::competition::{Schedule, TaskScore};
use arena_core::early_stop::Decision;
use arena_core::queue::EvalRecord;
use arena_core::scoring::{
    to_u16_weights, CompetitionTracker, WeightError, MIN_COMPETITION_WEIGHT,
};
use arena_keys::Keypair;
use arena_validator::store::{
    EarlyStopRecord, ModelStepResult, StepKey, StepRecord, Store, StoreError,
};

/// Blocks between epochs of the demo subnet.
pub const TEMPO: u16 = 10;

/// Validator permits per epoch: V0 and V1 hold them; a third staked hotkey with more stake than
/// V1 takes V1's at the next epoch.
pub const MAX_VALIDATORS: u16 = 2;

/// Sync blocks of the recorded steps (each scored two blocks later).
pub const STEP_SYNC_BLOCKS: [u64; 3] = [4, 8, 12];

/// Why the demo network could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A chain call failed.
    #[error("demo chain: {0}")]
    Chain(#[from] ChainError),
    /// A validator store write failed.
    #[error("demo validator state: {0}")]
    Store(#[from] StoreError),
    /// Weights could not be converted.
    #[error("demo weights: {0}")]
    Weights(#[from] WeightError),
    /// A directory could not be created.
    #[error("demo: creating {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A development key URI did not parse.
    #[error("demo key {0}: invalid secret URI")]
    Key(String),
    /// The schedule does not hold the competitions the demo commits to.
    #[error("demo: competition {0} is not active at block 0 of the schedule")]
    Schedule(u32),
}

/// A miner of the demo network.
#[derive(Debug, Clone)]
pub struct DemoMiner {
    /// Its uid.
    pub uid: u16,
    /// SS58 hotkey.
    pub hotkey: String,
    /// Hub repository it committed.
    pub repo: String,
    /// Revision it committed.
    pub revision: String,
    /// Competition it entered.
    pub competition_id: u32,
    /// V0's score in the last step (`+inf` for the failing model).
    pub score: f64,
}

/// The built network. Drop `chain` before another process opens `chain_dir`.
pub struct DemoNetwork {
    /// The chain (head after the epoch that paid out).
    pub chain: Arc<LocalChain>,
    /// Its directory.
    pub chain_dir: PathBuf,
    /// The subnet.
    pub netuid: NetUid,
    /// `validator.sqlite` of V0 and V1, in that order.
    pub validator_stores: Vec<PathBuf>,
    /// SS58 hotkeys of V0 and V1.
    pub validator_hotkeys: Vec<String>,
    /// The miners, by uid.
    pub miners: Vec<DemoMiner>,
}

fn key(uri: &str) -> Result<Keypair, TestkitError> {
    Keypair::from_uri(uri).map_err(|_| TestkitError::Key(uri.to_string()))
}

/// `(miner index, competition, base score)`; M2's evaluation fails.
const MODELS: [(usize, u32, f64); 4] = [
    (0, 1, 1.20),
    (1, 1, 1.45),
    (2, 1, f64::INFINITY),
    (3, 2, 2.10),
];

/// Builds the network under `dir` (`dir/chain`, `dir/validator-0/validator.sqlite`, …)
/// against `schedule` (competitions 1 and 2 must be active at block 0).
pub async fn build(dir: &Path, schedule: &Schedule) -> Result<DemoNetwork, TestkitError> {
    for id in [1, 2] {
        schedule
            .competition_at(id, 0)
            .ok_or(TestkitError::Schedule(id))?;
    }
    let chain_dir = dir.join("chain");
    let chain = Arc::new(LocalChain::open(&chain_dir, LocalChainOptions::default())?);
    let owner = key("//Web/Owner")?;
    let params = Hyperparameters {
        tempo: TEMPO,
        weights_rate_limit: 1,
        max_allowed_validators: MAX_VALIDATORS,
        ..Default::default()
    };
    let netuid = chain
        .create_subnet(&owner, params)
        .await?
        .assigned
        .unwrap_or(1);
    chain.produce_block()?;
    let validators = [key("//Web/V0")?, key("//Web/V1")?];
    let miners = [
        key("//Web/M0")?,
        key("//Web/M1")?,
        key("//Web/M2")?,
        key("//Web/M3")?,
    ];
    let cold = key("//Web/Cold")?;
    for hot in validators.iter().chain(&miners) {
        chain.register(&cold, netuid, &hot.public()).await?;
    }
    for (v, tao) in validators.iter().zip([3000u64, 1000]) {
        chain
            .add_stake(&cold, &v.public(), netuid, tao * 1_000_000_000)
            .await?;
    }
    chain.produce_block()?;
    let mut demo_miners = Vec::new();
    for &(i, competition_id, score) in &MODELS {
        let revision = demo_revision(i as u64);
        let repo = format!("miner{i}/tiny-{competition_id}");
        let secure_hash = format!("{:A<43}=", format!("demo{i}"));
        let text =
            format!("miner{i}:tiny-{competition_id}:{revision}:{secure_hash}:{competition_id}");
        chain
            .set_commitment(&miners[i], netuid, text.as_bytes())
            .await?;
        demo_miners.push(DemoMiner {
            uid: 2 + i as u16,
            hotkey: miners[i].public().ss58(),
            repo,
            revision,
            competition_id,
            score,
        });
    }
    // The first epoch grants the validators their permits.
    while chain.produce_block()?.number <= u64::from(TEMPO) + 1 {}

    let mut stores = Vec::new();
    for (v, validator) in validators.iter().enumerate() {
        let path = dir.join(format!("validator-{v}")).join("validator.sqlite");
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(|e| TestkitError::Io(parent.to_path_buf(), e))?;
        let mut store = Store::open(&path)?;
        store.set_validator_hotkey(&validator.public().ss58())?;
        let bias = 1.0 + 0.01 * v as f64;
        let weights = record_steps(&mut store, schedule, &demo_miners, bias)?;
        let pairs = to_u16_weights(&weights)?;
        let (uids, values): (Vec<u16>, Vec<u16>) = pairs.into_iter().unzip();
        chain
            .set_weights(validator, netuid, &uids, &values, 0)
            .await?;
        stores.push(path);
    }
    // Through the next epoch, which pays incentive for those weights.
    let next_epoch = 2 * u64::from(TEMPO) + 2;
    while chain.produce_block()?.number <= next_epoch {}
    Ok(DemoNetwork {
        chain,
        chain_dir,
        netuid,
        validator_stores: stores,
        validator_hotkeys: validators.iter().map(|k| k.public().ss58()).collect(),
        miners: demo_miners,
    })
}

/// Records three steps per competition; returns the subnet weights after the last one.
fn record_steps(
    store: &mut Store,
    schedule: &Schedule,
    miners: &[DemoMiner],
    bias: f64,
) -> Result<Vec<f64>, TestkitError> {
    let n_uids = 2 + miners.len();
    let mut tracker = CompetitionTracker::default();
    let mut subnet_weights = vec![0.0; n_uids];
    for (round, &sync_block) in STEP_SYNC_BLOCKS.iter().enumerate() {
        let block = sync_block + 2;
        let active = schedule.active_at(block);
        let rewards: Vec<(u32, f64)> = active.iter().map(|c| (c.id, c.reward)).collect();
        for competition in active.iter().filter(|c| c.id == 1 || c.id == 2) {
            let entrants: Vec<&DemoMiner> = miners
                .iter()
                .filter(|m| m.competition_id == competition.id)
                .collect();
            // Scores drift down a little each step, as models improve between evaluations.
            let drift = 1.0 + 0.05 * (STEP_SYNC_BLOCKS.len() - 1 - round) as f64;
            let scores: Vec<f64> = entrants.iter().map(|m| m.score * bias * drift).collect();
            let best = scores.iter().copied().fold(f64::INFINITY, f64::min);
            // The weakest finite model of a step of three or more stopped early, as a validator
            // with early stopping records it.
            let worst = scores
                .iter()
                .copied()
                .filter(|s| s.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
            let stopped_early = |score: f64| {
                (entrants.len() >= 3 && score.is_finite() && score == worst && score > best)
                    .then_some(EarlyStopRecord {
                        samples: 12,
                        of: 48,
                        decision: Decision::CannotWin,
                    })
            };
            let mut step_weights = vec![0.0; n_uids];
            let mut results = Vec::new();
            for (m, &score) in entrants.iter().zip(&scores) {
                let wins = scores.iter().filter(|&&other| score < other).count();
                let win_rate = if entrants.len() > 1 {
                    wins as f64 / (entrants.len() - 1) as f64
                } else {
                    1.0
                };
                let is_best = score.is_finite() && score == best;
                step_weights[usize::from(m.uid)] = if is_best { 1.0 } else { 0.0 };
                results.push((m, score, win_rate, is_best));
            }
            tracker.record(competition.id, &step_weights, 0.9);
            let ema = tracker.get(competition.id).unwrap_or(&[]).to_vec();
            subnet_weights = tracker.subnet_weights(&rewards, MIN_COMPETITION_WEIGHT, n_uids);
            let models = results
                .iter()
                .map(|&(m, score, win_rate, is_best)| ModelStepResult {
                    uid: m.uid,
                    hotkey: m.hotkey.clone(),
                    commit_block: 3,
                    score,
                    tasks: task_scores(competition, score),
                    win_rate,
                    step_weight: if is_best { 1.0 } else { 0.0 },
                    epsilon_advantage: 0.0,
                    ema_weight: ema.get(usize::from(m.uid)).copied().unwrap_or(0.0),
                    load_ms: 40,
                    compute_ms: 900,
                    error: (!score.is_finite()).then(|| "worker timed out after 600 s".to_string()),
                    early_stop: stopped_early(score),
                })
                .collect();
            let history = results
                .iter()
                .map(|&(m, score, _, _)| {
                    let rec = EvalRecord {
                        block,
                        score,
                        winning_block: 3,
                        winning_score: best,
                    };
                    (m.hotkey.clone(), rec)
                })
                .collect();
            store.record_step(&StepRecord {
                key: StepKey {
                    competition_id: competition.id,
                    sync_block,
                },
                block,
                seed: format!("{:064x}", sync_block * 7919),
                models,
                tracker: tracker.clone(),
                subnet_weights: subnet_weights.clone(),
                history,
                kept: results
                    .iter()
                    .filter(|r| r.3)
                    .map(|r| r.0.hotkey.clone())
                    .collect(),
            })?;
        }
    }
    Ok(subnet_weights)
}

/// Per-task parts of a score: raw scores differ per task, normalised ones equal the score.
fn task_scores(competition: &arena_core::competition::Competition, score: f64) -> Vec<TaskScore> {
    competition
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Each task normalises to the model's score, so the weighted parts sum to it.
            let normalised = score;
            TaskScore {
                task_id: t.id.clone(),
                raw: score * (2.0 + i as f64),
                normalised,
                weight: t.weight,
                weighted: normalised * t.weight,
            }
        })
        .collect()
}

/// A revision-shaped id (40 hex digits) that differs in every digit between miners.
fn demo_revision(i: u64) -> String {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i + 1);
    (0..40)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}
