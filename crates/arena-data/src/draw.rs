//! Drawing a competition's samples for one step: every task's samples from the shared seed,
//! through the sources a schedule names ([`crate::sources`]). Validators score on these
//! samples and miners check against the same ones, so both call this one function.

use std::collections::BTreeMap;

use arena_core::competition::{Competition, DatasetSpec};
use arena_core::seed::Seed;
use serde::{Deserialize, Serialize};

use crate::sample::Sample;
use crate::source::{DataSource, DrawRequest, GeneratedSource};

/// The samples of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSamples {
    /// The task's id in the schedule.
    pub task_id: String,
    /// The samples, or `None` if this task is skipped this step.
    pub samples: Option<Vec<Sample>>,
}

/// Draws every task's samples with the shared seed. Generator tasks need no source; the
/// others are looked up in `named` by [`crate::sources::source_key`] (the dataset name for a
/// feed, corpus or file). A task whose
/// source is missing or fails is skipped for everyone this step (`samples: None`).
pub async fn draw_samples(
    competition: &Competition,
    seed: &Seed,
    now_ms: u64,
    not_before_ms: u64,
    named: &mut BTreeMap<String, Box<dyn DataSource>>,
) -> Vec<TaskSamples> {
    let mut out = Vec::with_capacity(competition.tasks.len());
    for task in &competition.tasks {
        let request = DrawRequest {
            seed: *seed,
            count: task.samples as usize,
            now_ms,
            not_before_ms,
        };
        let drawn = match &task.dataset {
            DatasetSpec::Generator(kind) => GeneratedSource::new(*kind)
                .draw(&request)
                .await
                .map_err(|e| e.to_string()),
            DatasetSpec::Feed(name) | DatasetSpec::Corpus(name) | DatasetSpec::File(name) => {
                match named.get_mut(name) {
                    Some(source) => source.draw(&request).await.map_err(|e| e.to_string()),
                    None => Err(format!("no data source configured for dataset {name:?}")),
                }
            }
            DatasetSpec::Hub(hub) => {
                match crate::sources::source_key(task).and_then(|key| named.get_mut(&key)) {
                    Some(source) => source.draw(&request).await.map_err(|e| e.to_string()),
                    None => Err(format!(
                        "hub dataset {:?} is not loaded here (no hub settings, or it could not be built)",
                        hub.name()
                    )),
                }
            }
        };
        let samples = match drawn {
            Ok(draw) if !draw.samples.is_empty() => Some(draw.samples),
            Ok(_) => {
                tracing::warn!(task = %task.id, "no samples drawn; task skipped this step");
                None
            }
            Err(reason) => {
                tracing::warn!(task = %task.id, %reason, "data failed to load; task skipped this step");
                None
            }
        };
        out.push(TaskSamples {
            task_id: task.id.clone(),
            samples,
        });
    }
    out
}
