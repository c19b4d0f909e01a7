//! Miners: fine-tune the base model with the trainer's loop (`arena_train::run`), then publish
//! it with `arena-miner`'s push (private upload, commitment on chain, read back, public).
//!
//! Each miner trains on word-sorting and arithmetic pairs drawn from the data generators with
//! its own seed — the kinds of samples the competition scores, never the validators' draws
//! (those come from the block hash of the sync window). A trained folder is kept with a marker
//! of its plan, so a later run retrains only when the plan changed, and a miner whose
//! commitment is already on chain is left alone.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use arena_chain::Chain;
use arena_core::seed::Seed;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_hub::client::HubClient;
use arena_miner::journal::Stage;
use arena_miner::push::{push, PushRequest};
use arena_train::data::Pair;
use arena_train::{RunData, TrainOptions, TrainRun};
use serde::{Deserialize, Serialize};

use crate::base::Base;
use crate::config::MinerPlan;
use crate::error::{LocalnetError, Result};
use crate::home::Layout;
use crate::network::MinerNode;
use crate::schedule::COMPETITION_ID;

/// Training pairs generated per task kind.
const PAIRS_PER_TASK: usize = 512;

/// `trained.json` beside a miner's model: which plan produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    /// Optimiser steps taken.
    pub steps: u64,
    /// Peak learning rate.
    pub lr: f64,
    /// Data and order seed.
    pub seed: u64,
    /// sha256 of the base tokenizer (stands for the base model).
    pub base: String,
    /// Mean training loss of the last steps (`None` for 0 steps).
    pub final_loss: Option<f64>,
    /// Seconds the training took.
    pub seconds: f64,
}

/// The folder a miner publishes.
pub fn model_dir(layout: &Layout, name: &str) -> PathBuf {
    layout.miner_dir(name).join("model")
}

/// Trains `plan` on `base` (or reuses the folder trained earlier with the same plan). Returns
/// `Ok(None)` when `stop` was raised before the end; nothing half-trained is kept.
pub fn train(
    layout: &Layout,
    base: &Base,
    plan: &MinerPlan,
    stop: &AtomicBool,
) -> Result<Option<Trained>> {
    let dir = layout.miner_dir(&plan.name);
    let out = model_dir(layout, &plan.name);
    let marker = dir.join("trained.json");
    if let Some(done) = read_marker(&marker) {
        let same = done.steps == plan.steps
            && done.seed == plan.seed
            && done.lr == plan.lr
            && done.base == base.tokenizer_sha256;
        if same && out.join("model.safetensors").is_file() {
            return Ok(Some(done));
        }
    }
    let started = Instant::now();
    let err = |e: &dyn std::fmt::Display| LocalnetError::miner(&plan.name, e);
    let mut final_loss = None;
    if plan.steps == 0 {
        arena_fs::replace_dir(&out, |staging| copy_folder(&base.dir, staging))
            .map_err(LocalnetError::io(&out))?;
    } else {
        let mut pairs = Vec::new();
        for kind in [TaskKind::WordSorting, TaskKind::Arithmetic] {
            let seed = Seed::from_text(&format!(
                "localnet/{}/{}/{}",
                plan.name,
                plan.seed,
                kind.name()
            ));
            pairs.extend(
                kind.generate_many(&seed, PAIRS_PER_TASK)
                    .into_iter()
                    .map(|s| Pair {
                        prompt: s.prompt,
                        response: s.response,
                    }),
            );
        }
        let options = TrainOptions {
            steps: plan.steps,
            lr: plan.lr,
            batch: 8,
            warmup: (plan.steps / 10).max(1),
            seed: plan.seed,
            progress: false,
            ..TrainOptions::default()
        };
        let data = RunData::Pairs {
            train: pairs,
            held_out: Vec::new(),
            tokenizer: base.dir.clone(),
            max_len: None,
        };
        let run = TrainRun {
            save_to: Some(out.clone()),
            stop: Some(stop),
            ..TrainRun::new(&base.dir, data, options)
        };
        let report = arena_train::run(run).map_err(|e| err(&e))?;
        if report.stopped {
            return Ok(None);
        }
        let tail = &report.losses[report.losses.len().saturating_sub(10)..];
        final_loss = (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64);
    }
    let done = Trained {
        steps: plan.steps,
        lr: plan.lr,
        seed: plan.seed,
        base: base.tokenizer_sha256.clone(),
        final_loss,
        seconds: started.elapsed().as_secs_f64(),
    };
    let text = serde_json::to_vec_pretty(&done).map_err(|e| err(&e))?;
    arena_fs::write_atomic(&marker, &text).map_err(LocalnetError::io(&marker))?;
    Ok(Some(done))
}

fn read_marker(path: &Path) -> Option<Trained> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Copies the files (not the folders) of `from` into the existing folder `to`.
fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// The hub repo of a miner's model: `<miner>/<base>-<steps>-steps`.
pub fn repo_id(base: &Base, miner: &MinerNode) -> String {
    format!(
        "{}/{}-{}-steps",
        miner.plan.name, base.name, miner.plan.steps
    )
}

/// Whether the miner's hotkey already has a commitment on the subnet (then nothing is redone).
pub async fn committed(
    chain: &dyn Chain,
    netuid: u16,
    miner: &MinerNode,
) -> Result<Option<String>> {
    let c = chain.commitment(netuid, &miner.hotkey.public()).await?;
    Ok(c.and_then(|c| c.text().map(str::to_string)))
}

/// Publishes the trained folder: upload, commit (waiting for commitment budget), make public.
/// With `stop_after`, stops at that stage; a later call resumes from the push journal. The
/// localnet uploads every model first and then commits them all at once, so the models land
/// in the same block and validators compare all of them from their first step.
pub async fn publish(
    layout: &Layout,
    hub: &HubClient,
    chain: &dyn Chain,
    netuid: u16,
    base: &Base,
    miner: &MinerNode,
    stop_after: Option<Stage>,
) -> Result<Option<String>> {
    let name = &miner.plan.name;
    let mut request = PushRequest::new(
        model_dir(layout, name),
        &repo_id(base, miner),
        netuid,
        COMPETITION_ID,
        layout.miner_dir(name),
    );
    request.wait_for_budget = true;
    request.readback_timeout = Duration::from_secs(120);
    request.poll = Duration::from_millis(200);
    request.stop_after = stop_after;
    let outcome = push(hub, chain, &miner.hotkey, &request)
        .await
        .map_err(|e| LocalnetError::miner(name, e))?;
    Ok(outcome.journal.commitment)
}

/// Hub token of a built-in miner: random (`arena_hub::server::users::new_token`), kept in
/// `<home>/miners/<name>/hub_token` (mode 0600) and registered, hashed, in the hub's users file,
/// so a restart reuses it. A token the hub does not know (first run, or a users file edited
/// since) is replaced by a fresh one, registered under the miner's name (`--rotate`).
pub fn hub_token(layout: &Layout, name: &str) -> Result<String> {
    let path = hub_token_file(layout, name);
    let root = layout.hub_dir();
    let hub_err = |e: &dyn std::fmt::Display| LocalnetError::service("hub accounts", e);
    match std::fs::read_to_string(&path) {
        Ok(token) => {
            let token = token.trim().to_string();
            let known = arena_hub::server::users::has_token(&root, name, &token);
            if known.map_err(|e| hub_err(&e))? {
                return Ok(token);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LocalnetError::io(&path)(e)),
    }
    let token = arena_hub::server::users::add_user(&root, name, true).map_err(|e| hub_err(&e))?;
    arena_keys::keyfile::write(&path, token.as_bytes(), true).map_err(|e| hub_err(&e))?;
    Ok(token)
}

/// Where a built-in miner's hub token is kept.
pub fn hub_token_file(layout: &Layout, name: &str) -> PathBuf {
    layout.miner_dir(name).join("hub_token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BaseModel;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_few_steps_lower_the_loss_and_a_rerun_reuses_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let base = crate::base::prepare(&layout, BaseModel::Tiny).unwrap();
        let stop = AtomicBool::new(false);
        let plan = MinerPlan {
            name: "miner2".into(),
            steps: 30,
            lr: 2e-3,
            seed: 7,
        };
        let done = train(&layout, &base, &plan, &stop).unwrap().unwrap();
        let loss = done.final_loss.unwrap();
        // The random fixture scores 7 to 8.5 nats per token (above ln 1024 = 6.93): 30 steps
        // must already beat uniform guessing.
        assert!(loss < 6.6, "loss after 30 steps: {loss}");
        assert!(model_dir(&layout, "miner2")
            .join("model.safetensors")
            .is_file());
        let again = train(&layout, &base, &plan, &stop).unwrap().unwrap();
        assert_eq!(again, done, "the second run must reuse the trained folder");

        let zero = MinerPlan {
            name: "miner1".into(),
            steps: 0,
            lr: 2e-3,
            seed: 1,
        };
        let done = train(&layout, &base, &zero, &stop).unwrap().unwrap();
        assert_eq!(done.final_loss, None);
        let a = std::fs::read(base.dir.join("model.safetensors")).unwrap();
        let b = std::fs::read(model_dir(&layout, "miner1").join("model.safetensors")).unwrap();
        assert_eq!(a, b, "0 steps publishes the base model");

        stop.store(true, Ordering::Relaxed);
        let stopped = MinerPlan {
            name: "miner3".into(),
            steps: 50,
            lr: 2e-3,
            seed: 3,
        };
        assert_eq!(train(&layout, &base, &stopped, &stop).unwrap(), None);
        assert!(!model_dir(&layout, "miner3").exists());
    }

    #[test]
    fn hub_tokens_are_random_private_reused_and_replaced_when_the_hub_forgets_them() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let first = hub_token(&layout, "miner1").unwrap();
        let other = hub_token(&layout, "miner2").unwrap();
        assert!(first.starts_with(arena_hub::server::users::TOKEN_PREFIX));
        assert_ne!(first, other);
        let file = hub_token_file(&layout, "miner1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A restart reuses it, and the hub's file holds its hash, not the token.
        assert_eq!(hub_token(&layout, "miner1").unwrap(), first);
        let users_file = arena_hub::server::users::users_file(&layout.hub_dir());
        let stored = std::fs::read_to_string(&users_file).unwrap();
        assert!(!stored.contains(&first) && !stored.contains(&other));
        assert!(stored.contains(&arena_hub::server::users::token_sha256(&first)));
        // Removed from the hub: the next start registers a new one.
        arena_hub::server::users::remove_user(&layout.hub_dir(), "miner1").unwrap();
        let renewed = hub_token(&layout, "miner1").unwrap();
        assert_ne!(renewed, first);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), renewed);
        assert!(arena_hub::server::users::has_token(&layout.hub_dir(), "miner2", &other).unwrap());
    }
}
