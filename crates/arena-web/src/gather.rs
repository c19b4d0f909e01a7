//! Reads the chain and the validators' state once ([`Snapshot`]) and joins them into the
//! documents of [`crate::model`].
//!
//! Combining validators: for each competition the scores (score, win rate, per-task scores,
//! history) come from ONE validator step, so the numbers in a row are consistent with each
//! other: the latest step of the validator with the highest stake among those that scored the
//! competition (ties: the more recent step, then the first store given). A row's score is shown
//! only if that step evaluated the model now committed (same hotkey, uid and commit block).
//!
//! Model states: `evaluated` when that step scored the current commitment; otherwise the state
//! comes from the validator with the highest stake (ties: the first store given) whose state
//! tracks the hotkey's current commitment (same text and commit block): `rejected` (with the
//! rejection's code), `waiting` (until its eligible block), `queued` (with the queue reason),
//! else `not_evaluated` (with its last evaluation, if any); `not_evaluated` too when no
//! configured validator has checked the commitment yet.
//!
//! Weights come from the chain for every validator that set them: each row is normalised to sum
//! 1 and listed per validator, and `weight` is the stake-weighted mean of the rows of validators
//! that hold a validator permit, as Yuma counts them (of all rows if none holds one; the plain
//! mean when no setter has stake). A validator without a permit is listed with status
//! `no_permit`. Incentive and emission are the metagraph's, from the last epoch.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arena_chain::{Commitment, Metagraph, NeuronInfo, WeightRow};
use arena_core::commitment::ModelCommitment;
use arena_core::competition::{Competition, Schedule};
use arena_validator::store::query::{ModelView, StepView, StoreReader};
use arena_validator::store::ModelStepResult;
use arena_validator::Verdict;

use crate::model::{
    finite, CompetitionHistory, CompetitionStandings, History, ModelStanding, ModelState,
    ModelStatus, Point, ScoredBy, Series, Standings, TaskScoreView, ValidatorInfo, ValidatorStatus,
    ValidatorWeight,
};
use crate::{Sources, WebError};

/// Steps per competition in `/api/history` (the chart's window).
pub const HISTORY_STEPS: usize = 200;

/// File name of a validator's state inside its state directory.
pub const STORE_FILE: &str = "validator.sqlite";

/// What one validator state database held when read.
#[derive(Debug, Clone)]
pub struct StoreState {
    /// The database file.
    pub path: PathBuf,
    /// The owner's SS58 hotkey, if recorded.
    pub hotkey: Option<String>,
    /// Latest step per competition.
    pub latest: Vec<StepView>,
    /// Every model it tracks, with queue entry and latest evaluation.
    pub models: Vec<ModelView>,
    /// Why it could not be read (then `latest` and `models` are empty).
    pub error: Option<String>,
}

/// The chain and the stores, read once, so one document is built from one view.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The metagraph (its `block` is the document's block).
    pub metagraph: Metagraph,
    /// All commitments of the subnet.
    pub commitments: Vec<Commitment>,
    /// Stored weight rows.
    pub weights: Vec<WeightRow>,
    /// One entry per configured store, in the order given.
    pub stores: Vec<StoreState>,
    /// The schedule in force when the snapshot was taken.
    pub schedule: Arc<Schedule>,
    /// Why the schedule file's current version could not be used, if it could not.
    pub schedule_error: Option<String>,
    /// Validator permits the subnet grants per epoch.
    pub max_allowed_validators: u16,
}

/// A weight row normalised to sum 1.
struct Row {
    uid: u16,
    hotkey: String,
    stake: u64,
    permit: bool,
    weights: BTreeMap<u16, f64>,
}

/// A competition as listed: its definition if the schedule has one.
struct Listed<'a> {
    id: u32,
    def: Option<&'a Competition>,
    active: bool,
}

/// `<dir>/validator.sqlite` for a directory, the path itself otherwise.
pub fn store_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(STORE_FILE)
    } else {
        path.to_path_buf()
    }
}

fn read_store(path: &Path) -> StoreState {
    let path = store_file(path);
    let mut state = StoreState {
        path: path.clone(),
        hotkey: None,
        latest: Vec::new(),
        models: Vec::new(),
        error: None,
    };
    if !path.exists() {
        state.error = Some(format!("validator state {}: no such file", path.display()));
        return state;
    }
    let read = StoreReader::open(&path)
        .and_then(|r| Ok((r.validator_hotkey()?, r.latest_steps()?, r.model_views()?)));
    match read {
        Ok((hotkey, latest, models)) => {
            state.hotkey = hotkey;
            state.latest = latest;
            state.models = models;
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "validator state unreadable");
            state.error = Some(e.to_string());
        }
    }
    state
}

impl Snapshot {
    /// Reads the chain (errors fail the snapshot) and every store (errors are kept inside).
    pub async fn take(src: &Sources) -> Result<Snapshot, WebError> {
        let netuid = src.netuid;
        let err = |what| {
            move |source| WebError::Chain {
                what,
                netuid,
                source,
            }
        };
        let metagraph = src
            .chain
            .metagraph(netuid)
            .await
            .map_err(err("metagraph"))?;
        let commitments = src
            .chain
            .commitments(netuid)
            .await
            .map_err(err("commitments"))?;
        let weights = src.chain.weights(netuid).await.map_err(err("weights"))?;
        let hyperparameters = src
            .chain
            .hyperparameters(netuid)
            .await
            .map_err(err("hyperparameters"))?;
        let paths = src.validator_stores.clone();
        let schedule = src.schedule.clone();
        let (stores, (schedule, schedule_error)) = tokio::task::spawn_blocking(move || {
            let stores = paths.iter().map(|p| read_store(p)).collect();
            (stores, schedule.current())
        })
        .await
        .map_err(|e| WebError::Task(e.to_string()))?;
        Ok(Snapshot {
            metagraph,
            commitments,
            weights,
            stores,
            schedule,
            schedule_error,
            max_allowed_validators: hyperparameters.max_allowed_validators,
        })
    }

    fn neuron(&self, uid: u16) -> Option<&NeuronInfo> {
        self.metagraph.neurons.iter().find(|n| n.uid == uid)
    }

    fn neuron_of(&self, ss58: &str) -> Option<&NeuronInfo> {
        self.metagraph
            .neurons
            .iter()
            .find(|n| n.hotkey.ss58() == ss58)
    }

    fn store_stake(&self, store: &StoreState) -> u64 {
        store
            .hotkey
            .as_deref()
            .and_then(|h| self.neuron_of(h))
            .map_or(0, |n| n.stake)
    }

    /// The step that supplies a competition's scores (see the module doc), with its store.
    pub fn scorer(&self, competition_id: u32) -> Option<(&StoreState, &StepView)> {
        self.stores
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let step = s
                    .latest
                    .iter()
                    .find(|st| st.key.competition_id == competition_id)?;
                Some((i, s, step))
            })
            .max_by_key(|(i, s, step)| (self.store_stake(s), step.block, Reverse(*i)))
            .map(|(_, s, step)| (s, step))
    }

    fn scored_by(&self, store: &StoreState, step: &StepView) -> ScoredBy {
        let neuron = store.hotkey.as_deref().and_then(|h| self.neuron_of(h));
        ScoredBy {
            hotkey: store.hotkey.clone(),
            uid: neuron.map(|n| n.uid),
            stake: neuron.map_or(0, |n| n.stake),
            store: store.path.display().to_string(),
            sync_block: step.key.sync_block,
            step_block: step.block,
        }
    }

    /// Weight rows normalised to sum 1.
    fn normalised_rows(&self) -> Vec<Row> {
        self.weights
            .iter()
            .filter_map(|row| {
                let total: f64 = row.weights.iter().map(|&(_, w)| f64::from(w)).sum();
                if total <= 0.0 {
                    return None;
                }
                let n = self.neuron(row.uid);
                let hotkey = n.map(|n| n.hotkey.ss58()).unwrap_or_default();
                let map = row
                    .weights
                    .iter()
                    .map(|&(u, w)| (u, f64::from(w) / total))
                    .collect();
                Some(Row {
                    uid: row.uid,
                    hotkey,
                    stake: n.map_or(0, |n| n.stake),
                    permit: n.is_some_and(|n| n.validator_permit),
                    weights: map,
                })
            })
            .collect()
    }

    /// Active competitions in schedule order, then others named by commitments, by id.
    fn competitions(&self) -> Vec<Listed<'_>> {
        let active = self.schedule.active_at(self.metagraph.block);
        let mut out: Vec<Listed<'_>> = active
            .iter()
            .map(|c| Listed {
                id: c.id,
                def: Some(c),
                active: true,
            })
            .collect();
        let named: BTreeSet<u32> = self.models().map(|(_, m)| m.competition_id).collect();
        for id in named {
            if out.iter().all(|l| l.id != id) {
                let def = self.schedule.newest_competition(id);
                out.push(Listed {
                    id,
                    def,
                    active: false,
                });
            }
        }
        out
    }

    /// Parsed model commitments of registered hotkeys (others are not models).
    fn models(&self) -> impl Iterator<Item = (&Commitment, ModelCommitment)> {
        self.commitments.iter().filter_map(|c| {
            let parsed = c.text()?.parse::<ModelCommitment>().ok()?;
            self.metagraph.uid_of(&c.hotkey)?;
            Some((c, parsed))
        })
    }

    /// Builds `/api/standings`.
    pub fn standings(&self) -> Standings {
        let rows = self.normalised_rows();
        let competitions = self
            .competitions()
            .into_iter()
            .map(|listed| self.competition(&listed, &rows))
            .collect();
        Standings {
            block: self.metagraph.block,
            netuid: self.metagraph.netuid,
            validators: self.validators(),
            competitions,
            schedule_error: self.schedule_error.clone(),
        }
    }

    fn competition(&self, listed: &Listed<'_>, rows: &[Row]) -> CompetitionStandings {
        let scorer = self.scorer(listed.id);
        // Yuma counts the weights of permit holders only.
        let counted: Vec<&Row> = if rows.iter().any(|r| r.permit) {
            rows.iter().filter(|r| r.permit).collect()
        } else {
            rows.iter().collect()
        };
        let total_stake: u64 = counted.iter().map(|r| r.stake).sum();
        let mut models: Vec<ModelStanding> = self
            .models()
            .filter(|(_, m)| m.competition_id == listed.id)
            .filter_map(|(c, m)| {
                let uid = self.metagraph.uid_of(&c.hotkey)?;
                let neuron = self.neuron(uid)?;
                let hotkey = c.hotkey.ss58();
                let result = scorer.and_then(|(_, step)| {
                    step.models
                        .iter()
                        .find(|r| r.uid == uid && r.hotkey == hotkey && r.commit_block == c.block)
                });
                let validator_weights: Vec<ValidatorWeight> = rows
                    .iter()
                    .map(|r| ValidatorWeight {
                        validator_uid: r.uid,
                        hotkey: r.hotkey.clone(),
                        weight: r.weights.get(&uid).copied().unwrap_or(0.0),
                    })
                    .collect();
                let of = |r: &Row| r.weights.get(&uid).copied().unwrap_or(0.0);
                let weight = if total_stake > 0 {
                    counted.iter().map(|r| r.stake as f64 * of(r)).sum::<f64>() / total_stake as f64
                } else if counted.is_empty() {
                    0.0
                } else {
                    counted.iter().map(|r| of(r)).sum::<f64>() / counted.len() as f64
                };
                let status = self.model_status(c, scorer, result);
                Some(ModelStanding {
                    rank: 0,
                    uid,
                    hotkey,
                    repo: m.repo_id(),
                    revision: m.commit.clone(),
                    commit_block: c.block,
                    score: result.and_then(|r| finite(r.score)),
                    early_stop: result.and_then(|r| r.early_stop),
                    win_rate: result.map(|r| r.win_rate),
                    weight,
                    incentive: neuron.incentive_f64(),
                    emission: neuron.emission,
                    tasks: result.map_or_else(Vec::new, |r| {
                        r.tasks
                            .iter()
                            .map(|t| TaskScoreView {
                                task_id: t.task_id.clone(),
                                raw: finite(t.raw),
                                normalised: finite(t.normalised),
                                weight: t.weight,
                                weighted: finite(t.weighted),
                            })
                            .collect()
                    }),
                    validator_weights,
                    error: result.and_then(|r| match (&r.error, r.score.is_finite()) {
                        (Some(e), _) => Some(e.clone()),
                        (None, false) => Some("evaluation failed".to_string()),
                        (None, true) => None,
                    }),
                    status,
                })
            })
            .collect();
        models.sort_by(|a, b| {
            // A stopped model's score covers only some samples: it ranks after the models
            // scored in full (it could not beat the leader).
            let key = |m: &ModelStanding| {
                (
                    m.score.is_none(),
                    m.early_stop.is_some(),
                    m.score.unwrap_or(0.0),
                )
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0)
                .then(ka.1.cmp(&kb.1))
                .then(ka.2.total_cmp(&kb.2))
                .then(
                    b.win_rate
                        .unwrap_or(0.0)
                        .total_cmp(&a.win_rate.unwrap_or(0.0)),
                )
                .then(a.uid.cmp(&b.uid))
        });
        for (i, m) in models.iter_mut().enumerate() {
            m.rank = i + 1;
        }
        let reward = if listed.active {
            listed.def.map_or(0.0, |d| d.reward)
        } else {
            0.0
        };
        CompetitionStandings {
            id: listed.id,
            name: listed
                .def
                .map_or_else(|| format!("competition {}", listed.id), |d| d.name.clone()),
            reward,
            active: listed.active,
            tasks: listed
                .def
                .map_or_else(Vec::new, |d| d.tasks.iter().map(|t| t.id.clone()).collect()),
            scored_by: scorer.map(|(s, step)| self.scored_by(s, step)),
            models,
        }
    }

    /// The state of the model `c` commits, from the scoring step if it scored it, else from
    /// the highest-stake validator tracking this commitment (see the module doc).
    fn model_status(
        &self,
        c: &Commitment,
        scorer: Option<(&StoreState, &StepView)>,
        result: Option<&ModelStepResult>,
    ) -> ModelStatus {
        if let (Some((store, step)), Some(r)) = (scorer, result) {
            let detail = match (&r.error, r.score.is_finite()) {
                (Some(e), _) => format!("evaluated in the step at block {}: {e}", step.block),
                (None, false) => format!(
                    "evaluated in the step at block {}: evaluation failed",
                    step.block
                ),
                (None, true) => format!("scored in the step at block {}", step.block),
            };
            return ModelStatus {
                state: ModelState::Evaluated,
                code: None,
                block: Some(step.block),
                last_score: finite(r.score),
                detail,
                validator: store.hotkey.clone(),
            };
        }
        let hotkey = c.hotkey.ss58();
        let text = String::from_utf8_lossy(&c.data);
        let known = self
            .stores
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let view = s.models.iter().find(|v| {
                    v.record.hotkey == hotkey
                        && v.record.commitment == text
                        && v.record.commit_block == c.block
                })?;
                Some((i, s, view))
            })
            .min_by_key(|(i, s, _)| (Reverse(self.store_stake(s)), *i));
        let Some((_, store, view)) = known else {
            let detail = if self.stores.is_empty() {
                "no validator state is configured: its state is unknown".to_string()
            } else {
                "no validator has checked this commitment yet".to_string()
            };
            return ModelStatus {
                state: ModelState::NotEvaluated,
                code: None,
                block: None,
                last_score: None,
                detail,
                validator: None,
            };
        };
        let record = &view.record;
        let mut status = ModelStatus {
            state: ModelState::NotEvaluated,
            code: None,
            block: None,
            last_score: None,
            detail: String::new(),
            validator: store.hotkey.clone(),
        };
        match (&record.verdict, &view.queued) {
            (Verdict::Rejected { rejection }, _) => {
                status.state = ModelState::Rejected;
                status.code = serde_json::to_value(rejection)
                    .ok()
                    .and_then(|v| v.get("code")?.as_str().map(String::from));
                status.block = Some(record.checked_block);
                status.detail = format!("rejected: {rejection}");
            }
            (Verdict::Waiting { eligible_at }, _) => {
                status.state = ModelState::Waiting;
                status.block = Some(*eligible_at);
                status.detail = format!("waiting for its eval delay until block {eligible_at}");
            }
            (Verdict::Accepted, Some(q)) => {
                status.state = ModelState::Queued;
                let reason = serde_json::to_value(q.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from));
                status.detail = format!(
                    "queued ({}) at block {} for the next step of competition {}",
                    reason.as_deref().unwrap_or("?"),
                    q.queued_block,
                    q.competition_id
                );
                status.code = reason;
                status.block = Some(q.queued_block);
            }
            (Verdict::Accepted, None) => match &view.last_evaluation {
                Some(e) => {
                    status.block = Some(e.block);
                    status.last_score = finite(e.score);
                    status.detail = match finite(e.score) {
                        Some(v) => format!(
                            "last evaluated at block {} (score {v:.4}); not re-evaluated since",
                            e.block
                        ),
                        None => format!(
                            "last evaluated at block {} (evaluation failed); not re-evaluated since",
                            e.block
                        ),
                    };
                }
                None => {
                    status.detail =
                        "accepted, not queued: its competition has no step for it yet".to_string();
                }
            },
        }
        status
    }

    /// Weight setters from the chain and the configured stores, by stake (highest first).
    fn validators(&self) -> Vec<ValidatorInfo> {
        let mut out: Vec<ValidatorInfo> = Vec::new();
        for row in &self.weights {
            let n = self.neuron(row.uid);
            out.push(ValidatorInfo {
                uid: Some(row.uid),
                hotkey: n.map(|n| n.hotkey.ss58()),
                stake: n.map_or(0, |n| n.stake),
                validator_permit: n.is_some_and(|n| n.validator_permit),
                status: ValidatorStatus::Ok,
                status_detail: None,
                last_update: n.map(|n| n.last_update).filter(|&b| b > 0),
                store: None,
                latest_step_block: None,
                error: None,
            });
        }
        for s in &self.stores {
            let latest = s.latest.iter().map(|st| st.block).max();
            let known = s.hotkey.as_ref().and_then(|h| {
                out.iter_mut()
                    .find(|v| v.hotkey.as_ref() == Some(h) && v.store.is_none())
            });
            let entry = match known {
                Some(v) => v,
                None => {
                    let n = s.hotkey.as_deref().and_then(|h| self.neuron_of(h));
                    out.push(ValidatorInfo {
                        uid: n.map(|n| n.uid),
                        hotkey: s.hotkey.clone(),
                        stake: n.map_or(0, |n| n.stake),
                        validator_permit: n.is_some_and(|n| n.validator_permit),
                        status: ValidatorStatus::Ok,
                        status_detail: None,
                        last_update: n.map(|n| n.last_update).filter(|&b| b > 0),
                        store: None,
                        latest_step_block: None,
                        error: None,
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            entry.store = Some(s.path.display().to_string());
            entry.latest_step_block = latest;
            entry.error = s.error.clone();
        }
        // Before the first epoch nobody holds a permit: that is not an eviction.
        let granted = self.metagraph.neurons.iter().any(|n| n.validator_permit);
        for v in &mut out {
            // A state that could not be read does not name its hotkey: that is its error.
            let unreadable = v.hotkey.is_none() && v.error.is_some();
            let (status, detail) = if v.uid.is_none() && !unreadable {
                let detail = match &v.hotkey {
                    Some(h) => format!(
                        "hotkey {h} is not registered on subnet {}",
                        self.metagraph.netuid
                    ),
                    None => "its state does not record its hotkey".to_string(),
                };
                (ValidatorStatus::NotRegistered, Some(detail))
            } else if v.uid.is_some() && !v.validator_permit {
                let detail = if granted {
                    format!(
                        "no validator permit: the last epoch gave the subnet's {} permits \
                         (max_allowed_validators) to higher stakes, so its weights are ignored \
                         and new ones are refused (NeuronNoValidatorPermit)",
                        self.max_allowed_validators
                    )
                } else {
                    "no validator permit yet: no epoch has granted permits on this subnet"
                        .to_string()
                };
                (ValidatorStatus::NoPermit, Some(detail))
            } else if let Some(e) = &v.error {
                (ValidatorStatus::StoreError, Some(e.clone()))
            } else {
                (ValidatorStatus::Ok, None)
            };
            v.status = status;
            v.status_detail = detail;
        }
        out.sort_by_key(|v| (Reverse(v.stake), v.uid.is_none(), v.uid));
        out
    }

    /// Builds `/api/history` from the scoring validator of each competition.
    pub async fn history(&self) -> Result<History, WebError> {
        let mut competitions = Vec::new();
        for listed in self.competitions() {
            let name = listed
                .def
                .map_or_else(|| format!("competition {}", listed.id), |d| d.name.clone());
            let Some((store, step)) = self.scorer(listed.id) else {
                competitions.push(CompetitionHistory {
                    id: listed.id,
                    name,
                    scored_by: None,
                    series: Vec::new(),
                    error: None,
                });
                continue;
            };
            let path = store.path.clone();
            let id = listed.id;
            let steps = tokio::task::spawn_blocking(move || {
                StoreReader::open(&path)?.recent_steps(id, HISTORY_STEPS)
            })
            .await
            .map_err(|e| WebError::Task(e.to_string()))?;
            let (series, error) = match steps {
                Ok(steps) => (series_of(&steps), None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            competitions.push(CompetitionHistory {
                id,
                name,
                scored_by: Some(self.scored_by(store, step)),
                series,
                error,
            });
        }
        Ok(History {
            block: self.metagraph.block,
            competitions,
        })
    }
}

/// One series per hotkey over `steps` (oldest first), ordered by latest uid, then hotkey.
fn series_of(steps: &[StepView]) -> Vec<Series> {
    let mut by_hotkey: BTreeMap<&str, Series> = BTreeMap::new();
    for step in steps {
        for m in &step.models {
            let s = by_hotkey.entry(&m.hotkey).or_insert_with(|| Series {
                uid: m.uid,
                hotkey: m.hotkey.clone(),
                points: Vec::new(),
            });
            s.uid = m.uid;
            s.points.push(Point {
                block: step.block,
                uid: m.uid,
                score: finite(m.score),
                win_rate: m.win_rate,
                weight: step
                    .subnet_weights
                    .get(usize::from(m.uid))
                    .copied()
                    .unwrap_or(0.0),
            });
        }
    }
    let mut series: Vec<Series> = by_hotkey.into_values().collect();
    series.sort_by(|a, b| a.uid.cmp(&b.uid).then_with(|| a.hotkey.cmp(&b.hotkey)));
    series
}
