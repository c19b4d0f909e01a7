//! [`HubSource`]: a [`DataSource`] reading a hub dataset through a [`RowsApi`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arena_core::competition::{EvalMethod, HubDataset, HubFormat};
use arena_keys::PublicKey;
use async_trait::async_trait;

use super::loaders::{self, MacrobenchRow, RowError};
use super::macrobench;
use super::paging::{config_table, ConfigRows, PagePlan};
use super::{fetch_rows, HubError, HubRow, RowsApi};
use crate::accept::{RejectionStats, StakeOracle};
use crate::error::DataError;
use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::source::{DataSource, Draw, DrawRequest};

/// Failed page reads (other than rate limiting) after which a draw fails (SN37: 10).
pub const MAX_PAGE_FAILURES: u32 = 10;

/// SYNTHETIC-1: rounds of extra pages when a draw is short of its target (SN37: 10).
pub const TOP_UP_ROUNDS: u32 = 10;

/// Extra pages in the largest top-up round (SN37: 1, 2, 4, 8, 16, 16, …).
pub const TOP_UP_MAX_PAGES: u32 = 16;

/// Macrobench multiple choice: fewer questions than this (or than asked, if fewer) and the
/// task is skipped (SN37's `MIN_ALLOWED_SAMPLES`).
pub const MACROBENCH_MIN_QUESTIONS: usize = 50;

/// Subnet 1 (prompting), whose validators write Macrobench rows.
pub const SN1_NETUID: u16 = 1;

/// SN37's least stake of a Macrobench validator: 10 000 TAO, in rao.
pub const SN1_MIN_VALIDATOR_STAKE: u64 = 10_000 * 1_000_000_000;

/// The defaults of a format when the schedule gives no `pages` / `rows_per_page` (SN37's):
/// text 4 × 100 (FINEWEB), SYNTHETIC-1 1 × 150, Codeforces 1 × 120; Macrobench samples 10
/// configs and reads at most 1 000 rows of each (SN37 downloads whole configs; arena reads a
/// seeded window of that many rows from a larger one).
pub fn default_paging(format: HubFormat) -> (u32, u32) {
    match format {
        HubFormat::Text | HubFormat::Content => (4, 100),
        HubFormat::Synthetic1Sft => (1, 150),
        HubFormat::CodeforcesCots => (1, 120),
        HubFormat::Macrobench => (10, 1000),
    }
}

/// Which Macrobench rows count: those whose `hotkey` is registered on `netuid` with stake ≥
/// `min_stake` and, when the oracle can tell, a validator permit (SN37's
/// `get_high_stake_validators`).
#[derive(Clone)]
pub struct ValidatorFilter {
    /// Where stake and permits are read (the chain in a validator).
    pub oracle: Arc<dyn StakeOracle>,
    /// The validators' subnet (SN1).
    pub netuid: u16,
    /// Least stake, in chain units.
    pub min_stake: u64,
}

impl ValidatorFilter {
    /// SN37's filter: Subnet 1 validators with at least 10 000 TAO.
    pub fn sn1(oracle: Arc<dyn StakeOracle>) -> ValidatorFilter {
        ValidatorFilter {
            oracle,
            netuid: SN1_NETUID,
            min_stake: SN1_MIN_VALIDATOR_STAKE,
        }
    }

    async fn check(&self, hotkey: &str) -> Result<Result<(), RowError>, DataError> {
        let Ok(key) = PublicKey::from_ss58(hotkey) else {
            return Ok(Err(RowError::BadHotkey(hotkey.to_string())));
        };
        let stake = self.oracle.producer_stake(self.netuid, &key).await?;
        if stake.is_none_or(|s| s < self.min_stake) {
            return Ok(Err(RowError::NotValidator(hotkey.to_string())));
        }
        if self.oracle.validator_permit(self.netuid, &key).await? == Some(false) {
            return Ok(Err(RowError::NotValidator(hotkey.to_string())));
        }
        Ok(Ok(()))
    }
}

/// What a source makes of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Row by row, in page order.
    Paged(Paged),
    /// Macrobench as multiple choice.
    Choice,
    /// Macrobench as IFEval prompt pairs.
    IfEval,
}

/// The row-by-row loaders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paged {
    Text(&'static str),
    Synthetic1,
    Codeforces,
}

/// Dropped rows by reason, for logs and the no-usable-rows error.
#[derive(Default)]
struct Drops {
    counts: BTreeMap<&'static str, usize>,
    first: Option<RowError>,
}

impl Drops {
    fn add(&mut self, error: RowError) {
        *self.counts.entry(error.kind()).or_insert(0) += 1;
        self.first.get_or_insert(error);
    }

    fn summary(&self) -> String {
        if self.counts.is_empty() {
            return "no rows".into();
        }
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let first = self
            .first
            .as_ref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default();
        format!("rows dropped: {}{first}", counts.join(", "))
    }
}

/// A hub dataset as a data source: SN37's paging and loaders (see [`super`]).
///
/// A draw reads the size listing, then pages chosen from the request's seed, and turns rows
/// into samples with the format's loader. Rate limiting that outlived the client's retries
/// fails the draw at once; any other failed page is replaced by a new one, up to
/// [`MAX_PAGE_FAILURES`] failures. A failed draw skips the task for every model this step
/// ([`crate::draw::draw_samples`]).
pub struct HubSource {
    api: Arc<dyn RowsApi>,
    spec: HubDataset,
    role: Role,
    validators: Option<ValidatorFilter>,
    pages: u32,
    rows_per_page: u32,
}

impl HubSource {
    /// A source of `spec` for a task scored by `method`. Refused: a `revision` (the
    /// datasets-server reads the default branch only, so it could not be honoured), a format
    /// the method cannot score (text formats need `text_loss`, SYNTHETIC-1 and Codeforces
    /// `reference_loss`, Macrobench `multiple_choice` or `if_eval`), and Macrobench without a
    /// validator filter: rows nobody can check against SN1's stake are never used (the safe
    /// side: the task is skipped rather than scored on unvetted rows).
    pub fn new(
        api: Arc<dyn RowsApi>,
        spec: HubDataset,
        method: &EvalMethod,
        validators: Option<ValidatorFilter>,
    ) -> Result<HubSource, DataError> {
        let unusable = |reason: String| -> DataError {
            HubError::Unusable {
                dataset: spec.name(),
                reason,
            }
            .into()
        };
        if let Some(revision) = &spec.revision {
            return Err(unusable(format!(
                "revision {revision:?}: the rows API reads the default branch only"
            )));
        }
        let role = match (spec.format, method) {
            (HubFormat::Text, EvalMethod::TextLoss { .. }) => Role::Paged(Paged::Text("text")),
            (HubFormat::Content, EvalMethod::TextLoss { .. }) => {
                Role::Paged(Paged::Text("content"))
            }
            (HubFormat::Synthetic1Sft, EvalMethod::ReferenceLoss) => Role::Paged(Paged::Synthetic1),
            (HubFormat::CodeforcesCots, EvalMethod::ReferenceLoss) => {
                Role::Paged(Paged::Codeforces)
            }
            (HubFormat::Macrobench, EvalMethod::MultipleChoice { .. }) => Role::Choice,
            (HubFormat::Macrobench, EvalMethod::IfEval) => Role::IfEval,
            (format, method) => {
                return Err(unusable(format!(
                    "{format:?} rows cannot feed a {method:?} task"
                )))
            }
        };
        if matches!(role, Role::Choice | Role::IfEval) && validators.is_none() {
            return Err(unusable(
                "Macrobench rows need a validator stake oracle to check their hotkeys; none is configured".into(),
            ));
        }
        let (pages, rows_per_page) = default_paging(spec.format);
        Ok(HubSource {
            api,
            pages: spec.pages.unwrap_or(pages),
            rows_per_page: spec.rows_per_page.unwrap_or(rows_per_page),
            spec,
            role,
            validators,
        })
    }

    fn stream(&self, what: &str) -> String {
        format!("hub-{what}/{}", self.spec.name())
    }

    async fn configs(&self) -> Result<Vec<ConfigRows>, DataError> {
        let listing = self.api.splits(&self.spec.repo).await?;
        let configs = config_table(
            &listing,
            self.spec.config.as_deref(),
            self.spec.split.as_deref(),
        );
        if configs.is_empty() {
            return Err(HubError::Unusable {
                dataset: self.spec.name(),
                reason: format!(
                    "no config/split with rows among the {} listed (config {:?}, split {:?})",
                    listing.len(),
                    self.spec.config,
                    self.spec.split
                ),
            }
            .into());
        }
        Ok(configs)
    }

    /// Text, SYNTHETIC-1 and Codeforces: seeded pages, rows in page order.
    async fn draw_pages(
        &self,
        loader: Paged,
        request: &DrawRequest,
    ) -> Result<Vec<Sample>, DataError> {
        let load = |row: &HubRow, config: &str, split: &str| -> Result<Sample, RowError> {
            let id = loaders::row_id(&self.spec.repo, config, split, row.row_idx);
            match loader {
                Paged::Text(field) => loaders::text_document(row, field, id),
                Paged::Synthetic1 => loaders::synthetic_1_sft(row, id),
                Paged::Codeforces => loaders::codeforces_cots(row, id),
            }
        };
        let configs = self.configs().await?;
        let mut plan = PagePlan::new(
            configs,
            self.rows_per_page,
            &request.seed,
            &self.stream("pages"),
        );
        tracing::debug!(dataset = %self.spec.name(), initial_offset = plan.initial_offset(), "hub paging");
        let target = request.count;
        let top_up = loader == Paged::Synthetic1;
        let mut samples = Vec::new();
        let mut drops = Drops::default();
        let mut failures = 0u32;
        let mut pages_read = 0u32;
        let mut want = self.pages;
        let mut round = 0u32;
        'rounds: loop {
            let mut read = 0u32;
            while read < want && !(top_up && samples.len() >= target) {
                let Some(page) = plan.next_page() else {
                    break 'rounds;
                };
                let rows = match fetch_rows(
                    self.api.as_ref(),
                    &self.spec.repo,
                    &page.config,
                    &page.split,
                    page.offset,
                    page.length,
                )
                .await
                {
                    Ok(rows) => rows,
                    Err(e) if e.is_rate_limited() => return Err(e),
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(dataset = %self.spec.name(), config = %page.config, offset = page.offset, failures, error = %e, "hub page failed; drawing another");
                        if failures >= MAX_PAGE_FAILURES {
                            return Err(e);
                        }
                        continue;
                    }
                };
                read += 1;
                pages_read += 1;
                for row in &rows {
                    if top_up && samples.len() >= target {
                        break;
                    }
                    match load(row, &page.config, &page.split) {
                        Ok(sample) => samples.push(sample),
                        Err(e) => drops.add(e),
                    }
                }
            }
            if !top_up || samples.len() >= target || round >= TOP_UP_ROUNDS {
                break;
            }
            want = (1u32 << round.min(31)).min(TOP_UP_MAX_PAGES);
            round += 1;
        }
        if !drops.counts.is_empty() {
            tracing::info!(dataset = %self.spec.name(), pages = pages_read, kept = samples.len(), "{}", drops.summary());
        }
        if samples.is_empty() {
            return Err(HubError::NoUsableRows {
                dataset: self.spec.name(),
                reason: format!("{pages_read} pages read; {}", drops.summary()),
            }
            .into());
        }
        samples.truncate(target);
        Ok(samples)
    }

    /// Macrobench: seeded configs, their rows filtered by validator, shuffled by the seed.
    async fn draw_macrobench(&self, request: &DrawRequest) -> Result<Vec<Sample>, DataError> {
        let Some(filter) = &self.validators else {
            return Err(HubError::Unusable {
                dataset: self.spec.name(),
                reason: "no validator stake oracle".into(),
            }
            .into());
        };
        let mut configs = self.configs().await?;
        let wanted = self.pages as usize;
        if configs.len() > wanted {
            let picked = DrawRng::new(&request.seed, &self.stream("configs"), 0)
                .distinct(configs.len(), wanted);
            configs = picked.into_iter().map(|i| configs[i].clone()).collect();
        }
        let cap = u64::from(self.rows_per_page);
        let mut rows: Vec<(String, MacrobenchRow)> = Vec::new();
        let mut drops = Drops::default();
        let mut verdicts: HashMap<String, Result<(), RowError>> = HashMap::new();
        let mut failures = 0u32;
        for (index, config) in configs.iter().enumerate() {
            let (offset, length) = if config.num_rows <= cap {
                (0, config.num_rows)
            } else {
                let mut rng = DrawRng::new(&request.seed, &self.stream("window"), index as u64);
                (rng.below(config.num_rows - cap + 1), cap)
            };
            tracing::debug!(dataset = %self.spec.name(), config = %config.config, offset, length, "macrobench config drawn");
            let page = match fetch_rows(
                self.api.as_ref(),
                &self.spec.repo,
                &config.config,
                &config.split,
                offset,
                length as u32,
            )
            .await
            {
                Ok(page) => page,
                Err(e) if e.is_rate_limited() => return Err(e),
                Err(e) => {
                    failures += 1;
                    tracing::warn!(dataset = %self.spec.name(), config = %config.config, error = %e, "macrobench config failed; skipped");
                    if failures >= MAX_PAGE_FAILURES {
                        return Err(e);
                    }
                    continue;
                }
            };
            for row in &page {
                let parsed = match loaders::macrobench_row(row) {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        drops.add(e);
                        continue;
                    }
                };
                let verdict = match verdicts.get(&parsed.hotkey) {
                    Some(v) => v.clone(),
                    None => {
                        let v = filter.check(&parsed.hotkey).await?;
                        verdicts.insert(parsed.hotkey.clone(), v.clone());
                        v
                    }
                };
                match verdict {
                    Ok(()) => rows.push((
                        loaders::row_id(
                            &self.spec.repo,
                            &config.config,
                            &config.split,
                            row.row_idx,
                        ),
                        parsed,
                    )),
                    Err(e) => drops.add(e),
                }
            }
        }
        DrawRng::new(&request.seed, &self.stream("shuffle"), 0).shuffle(&mut rows);
        rows.truncate(request.count);
        let samples = match self.role {
            Role::Choice => {
                let mut samples = Vec::with_capacity(rows.len());
                for (id, row) in rows {
                    match macrobench::choice_sample(&row, id) {
                        Ok(s) => samples.push(s),
                        Err(e) => drops.add(e),
                    }
                }
                let least = MACROBENCH_MIN_QUESTIONS.min(request.count).max(1);
                if samples.len() < least {
                    return Err(HubError::NoUsableRows {
                        dataset: self.spec.name(),
                        reason: format!(
                            "{} questions, fewer than {least}; {}",
                            samples.len(),
                            drops.summary()
                        ),
                    }
                    .into());
                }
                samples
            }
            _ => {
                let mut qa = Vec::with_capacity(rows.len());
                for (id, row) in rows {
                    match macrobench::question_answer(&row, id) {
                        Ok(item) => qa.push(item),
                        Err(e) => drops.add(e),
                    }
                }
                let samples = macrobench::if_eval_pairs(
                    &qa,
                    request.count / 2,
                    &request.seed,
                    &self.stream("if_eval"),
                );
                if samples.is_empty() {
                    return Err(HubError::NoUsableRows {
                        dataset: self.spec.name(),
                        reason: format!(
                            "{} questions make no prompt pair; {}",
                            qa.len(),
                            drops.summary()
                        ),
                    }
                    .into());
                }
                samples
            }
        };
        if !drops.counts.is_empty() {
            tracing::info!(dataset = %self.spec.name(), kept = samples.len(), "{}", drops.summary());
        }
        Ok(samples)
    }
}

#[async_trait]
impl DataSource for HubSource {
    fn describe(&self) -> String {
        format!(
            "hub {} ({:?}, {} × {} rows)",
            self.spec.name(),
            self.spec.format,
            self.pages,
            self.rows_per_page
        )
    }

    async fn draw(&mut self, request: &DrawRequest) -> Result<Draw, DataError> {
        if request.count == 0 {
            return Ok(Draw::default());
        }
        let samples = match self.role {
            Role::Paged(loader) => self.draw_pages(loader, request).await?,
            Role::Choice | Role::IfEval => self.draw_macrobench(request).await?,
        };
        Ok(Draw {
            samples,
            stats: RejectionStats::default(),
        })
    }
}
