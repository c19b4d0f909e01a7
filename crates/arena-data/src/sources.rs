//! The data sources a schedule names, built once by a validator (or a miner's check) and
//! drawn from by [`crate::draw::draw_samples`].
//!
//! A task's `dataset` is a generator (needs nothing here), a feed, a corpus or a file:
//! * `{ feed = "N" }`: the signed data feed, every acceptance rule applied. When `N` is the
//!   name of a sample task (`word_sorting`, `arithmetic`, …) only samples of that task are
//!   drawn, so a reference-loss task never receives multiple-choice samples; any other name
//!   draws every task the feed carries.
//! * `{ corpus = "austen" }`: the shipped public-domain corpus, 50 documents per page (SN9).
//! * `{ file = "path.jsonl" }`: a local JSONL dataset whose format follows the task's method.
//! * `{ hub = "owner/name", format = … }`: a hub dataset read through the rows API of
//!   [`HubSettings::api`] ([`HubSource`]), when hub settings are given. Hub sources are keyed
//!   by [`source_key`], which names the paging and the method too, so two tasks reading the
//!   same repository differently (Macrobench as multiple choice and as IFEval, FineWeb in 4 or
//!   15 pages) each get their own source.
//!
//! A dataset that cannot be built (unknown corpus, unreadable file, no feed configured) is
//! left out with a warning: its task is then skipped each step, for every model alike.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use arena_core::competition::{DatasetSpec, EvalMethod, HubDataset, Schedule, Task};

use crate::accept::{AcceptancePolicy, StakeOracle};
use crate::corpus::{Corpus, CorpusSource};
use crate::feed::client::FeedClient;
use crate::hub::{HubSource, RowsApi, ValidatorFilter};
use crate::local::{LocalFormat, LocalSource};
use crate::source::{DataSource, FeedSource};
use crate::tasks::TaskKind;

/// Documents per corpus page (SN9 pages of 50 rows).
pub const CORPUS_ROWS_PER_PAGE: usize = 50;

/// How to reach and judge the data feed.
pub struct FeedSettings {
    /// Feed base URL.
    pub url: String,
    /// Subnet, stake, freshness and phrase rules for batches.
    pub policy: AcceptancePolicy,
    /// Where producers' stake is read.
    pub oracle: Arc<dyn StakeOracle>,
}

/// How to reach hub datasets and judge Macrobench rows.
pub struct HubSettings {
    /// The datasets-server rows API (the hub client, or a test table).
    pub api: Arc<dyn RowsApi>,
    /// Which Macrobench rows count ([`ValidatorFilter::sn1`] on a validator). `None`: Macrobench
    /// tasks are left out (skipped for everyone), never scored on unchecked rows.
    pub validators: Option<ValidatorFilter>,
}

/// The key a task's source is stored under in [`schedule_sources`]' map and looked up by in
/// [`crate::draw::draw_samples`]: the dataset's name for a feed, corpus or file; for a hub
/// dataset its name with the format, paging, split and method
/// (`HuggingFaceFW/fineweb-edu-score-2?format=text&pages=4&rows_per_page=100&method=text_loss`).
/// `None` for a generator.
pub fn source_key(task: &Task) -> Option<String> {
    match &task.dataset {
        DatasetSpec::Hub(hub) => Some(hub_key(hub, &task.method)),
        other => other.source_name(),
    }
}

fn hub_key(hub: &HubDataset, method: &EvalMethod) -> String {
    let format = serde_json::to_value(hub.format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let method = match method {
        EvalMethod::ReferenceLoss => "reference_loss",
        EvalMethod::TextLoss { .. } => "text_loss",
        EvalMethod::MultipleChoice { .. } => "multiple_choice",
        EvalMethod::IfEval => "if_eval",
    };
    let mut key = format!("{}?format={format}", hub.name());
    for (name, value) in [
        ("revision", hub.revision.clone()),
        ("split", hub.split.clone()),
        ("pages", hub.pages.map(|p| p.to_string())),
        ("rows_per_page", hub.rows_per_page.map(|r| r.to_string())),
    ] {
        if let Some(value) = value {
            key.push_str(&format!("&{name}={value}"));
        }
    }
    key.push_str(&format!("&method={method}"));
    key
}

/// Builds one source per dataset named anywhere in `schedule` (every entry, so a reload that
/// switches entries finds its sources), keyed by [`source_key`]. Generators need none and are
/// not listed. Without `feed` (or `hub`) settings, feed (or hub) datasets are left out with a
/// warning and their tasks skipped.
pub fn schedule_sources(
    schedule: &Schedule,
    feed: Option<&FeedSettings>,
    hub: Option<&HubSettings>,
) -> BTreeMap<String, Box<dyn DataSource>> {
    let mut out: BTreeMap<String, Box<dyn DataSource>> = BTreeMap::new();
    let tasks = schedule
        .entries
        .iter()
        .flat_map(|e| &e.competitions)
        .flat_map(|c| &c.tasks);
    for task in tasks {
        let Some(name) = source_key(task) else {
            continue;
        };
        if out.contains_key(&name) {
            continue;
        }
        let built: Result<Box<dyn DataSource>, String> = match &task.dataset {
            DatasetSpec::Generator(_) => continue,
            DatasetSpec::Feed(name) => match feed {
                None => Err("no data feed is configured".into()),
                Some(settings) => FeedClient::new(&settings.url)
                    .map(|client| {
                        let source = FeedSource::new(
                            client,
                            settings.policy.clone(),
                            settings.oracle.clone(),
                        );
                        let only = TaskKind::from_str(name).ok().map(|k| k.name().to_string());
                        Box::new(source.with_tasks(only.into_iter().collect())) as Box<_>
                    })
                    .map_err(|e| e.to_string()),
            },
            DatasetSpec::Corpus(name) if name == "austen" => Ok(Box::new(CorpusSource::new(
                Corpus::shipped(),
                CORPUS_ROWS_PER_PAGE,
            ))),
            DatasetSpec::Corpus(name) => Err(format!("no corpus named {name:?} is shipped")),
            DatasetSpec::Hub(spec) => match hub {
                None => Err(format!(
                    "hub dataset {} ({:?} rows): no hub datasets-server is configured",
                    spec.name(),
                    spec.format
                )),
                Some(settings) => HubSource::new(
                    settings.api.clone(),
                    spec.clone(),
                    &task.method,
                    settings.validators.clone(),
                )
                .map(|s| Box::new(s) as Box<_>)
                .map_err(|e| e.to_string()),
            },
            DatasetSpec::File(path) => {
                let format = match task.method {
                    EvalMethod::ReferenceLoss | EvalMethod::IfEval => LocalFormat::Pairs,
                    EvalMethod::TextLoss { .. } => LocalFormat::Text,
                    EvalMethod::MultipleChoice { .. } => LocalFormat::MultipleChoice,
                };
                LocalSource::load(Path::new(path), format)
                    .map(|s| Box::new(s) as Box<_>)
                    .map_err(|e| e.to_string())
            }
        };
        match built {
            Ok(source) => {
                tracing::info!(dataset = %name, source = %source.describe(), "data source");
                out.insert(name, source);
            }
            Err(reason) => {
                tracing::warn!(dataset = %name, task = %task.id, %reason, "dataset unavailable; its task will be skipped")
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accept::StaticStakes;

    const SCHEDULE: &str = r#"
[[entries]]
start_block = 0
  [[entries.competitions]]
  id = 1
  name = "mixed"
  reward = 1.0
  scoring = { policy = "pairwise", step_weights = "winner_takes_all" }
  [entries.competitions.constraints]
  max_params = 300_000
  max_bytes = 3_000_000
  sequence_length = 512
  architectures = ["LlamaForCausalLM"]
  tokenizer = { kind = "bring_your_own" }
  dtype = "f32"
  eval_block_delay = 5
  epsilon = { kind = "fixed", value = 0.005 }
  [[entries.competitions.tasks]]
  id = "sorting"
  method = { kind = "reference_loss" }
  dataset = { feed = "word_sorting" }
  samples = 4
  weight = 0.25
  [[entries.competitions.tasks]]
  id = "prose"
  method = { kind = "text_loss", mode = "packed" }
  dataset = { corpus = "austen" }
  samples = 4
  weight = 0.25
  [[entries.competitions.tasks]]
  id = "gen"
  method = { kind = "reference_loss" }
  dataset = { generator = "arithmetic" }
  samples = 4
  weight = 0.25
  [[entries.competitions.tasks]]
  id = "missing"
  method = { kind = "text_loss", mode = "packed" }
  dataset = { corpus = "shakespeare" }
  samples = 4
  weight = 0.25
"#;

    #[tokio::test]
    async fn builds_feed_and_corpus_sources_and_leaves_out_what_it_cannot() {
        let schedule = Schedule::from_toml_str(SCHEDULE).unwrap();
        let feed = FeedSettings {
            url: "http://127.0.0.1:9".into(),
            policy: AcceptancePolicy::new(1, 0),
            oracle: Arc::new(StaticStakes::default()),
        };
        let mut sources = schedule_sources(&schedule, Some(&feed), None);
        let names: Vec<&str> = sources.keys().map(String::as_str).collect();
        assert_eq!(names, ["austen", "word_sorting"]);
        assert!(sources["word_sorting"].describe().contains("127.0.0.1:9"));
        let request = crate::source::DrawRequest {
            seed: arena_core::seed::Seed::from_block_hash(&[7u8; 32]),
            count: 4,
            now_ms: 0,
            not_before_ms: 0,
        };
        let prose = sources.get_mut("austen").unwrap();
        let draw = prose.draw(&request).await.unwrap();
        assert_eq!(draw.samples.len(), 4);
        assert!(draw
            .samples
            .iter()
            .all(|s| !s.prompt.is_empty() || !s.response.is_empty()));
        // Without a feed the feed dataset is left out; the corpus is still there.
        let sources = schedule_sources(&schedule, None, None);
        assert_eq!(sources.keys().collect::<Vec<_>>(), ["austen"]);
    }

    #[tokio::test]
    async fn a_hub_dataset_is_skipped_for_everyone_without_hub_settings() {
        let text = SCHEDULE.replace(
            "dataset = { corpus = \"shakespeare\" }",
            "dataset = { hub = \"HuggingFaceFW/fineweb-edu-score-2\", format = \"text\", pages = 4, rows_per_page = 100 }",
        );
        let schedule = Schedule::from_toml_str(&text).unwrap();
        let mut sources = schedule_sources(&schedule, None, None);
        assert_eq!(sources.keys().collect::<Vec<_>>(), ["austen"]);
        let competition = schedule.competition_at(1, 0).unwrap();
        let seed = arena_core::seed::Seed::from_block_hash(&[7u8; 32]);
        let drawn = crate::draw::draw_samples(competition, &seed, 0, 0, &mut sources).await;
        let loaded: Vec<(&str, bool)> = drawn
            .iter()
            .map(|t| (t.task_id.as_str(), t.samples.is_some()))
            .collect();
        assert_eq!(
            loaded,
            [
                ("sorting", false),
                ("prose", true),
                ("gen", true),
                ("missing", false)
            ]
        );
    }
}
