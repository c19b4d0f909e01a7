//! One competition score per model from its per-task raw scores (SN37 `score_model`, §4.6).

use super::Task;
use serde::{Deserialize, Serialize};

/// A task's contribution to a model's competition score, kept for logs and the leaderboard
/// (SN37 logs `raw_score`, `norm_score` and `weighted_norm_score` per task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// The task's id.
    pub task_id: String,
    /// Raw score (lower is better); `+inf` if the task failed for this model.
    #[serde(with = "crate::serde_float")]
    pub raw: f64,
    /// After the task's normalisation.
    #[serde(with = "crate::serde_float")]
    pub normalised: f64,
    /// Weight actually used (renormalised when some tasks were skipped this step).
    pub weight: f64,
    /// `normalised · weight`.
    #[serde(with = "crate::serde_float")]
    pub weighted: f64,
}

/// A model's score in one step of one competition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompetitionScore {
    /// Σ weighted normalised scores; `+inf` if any task failed for this model.
    #[serde(with = "crate::serde_float")]
    pub total: f64,
    /// Per task, in schedule order, skipped tasks left out.
    pub tasks: Vec<TaskScore>,
}

/// Why task scores cannot be combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// The caller passed a different number of scores than the competition has tasks.
    #[error("{scores} task scores given for a competition with {tasks} tasks")]
    LengthMismatch {
        /// Tasks in the competition.
        tasks: usize,
        /// Scores passed.
        scores: usize,
    },
    /// Every task was skipped (its data did not load), so there is nothing to score on.
    #[error("every task of the competition was skipped this step")]
    NoTaskLoaded,
}

/// Combines raw task scores into one competition score.
///
/// `raw[i]` belongs to `tasks[i]`: `None` means the task was skipped for *every* model this step
/// (its data failed to load), and the remaining weights are renormalised as SN37 does since
/// v3.0.3; `Some(x)` with `x` infinite or NaN means the task failed for *this* model, and the
/// total is `+inf` (a failure costs that model only, and it never beats a model that
/// merely scored badly).
pub fn combine_task_scores(
    tasks: &[Task],
    raw: &[Option<f64>],
) -> Result<CompetitionScore, ScoreError> {
    if tasks.len() != raw.len() {
        return Err(ScoreError::LengthMismatch {
            tasks: tasks.len(),
            scores: raw.len(),
        });
    }
    let loaded: Vec<(&Task, f64)> = tasks
        .iter()
        .zip(raw)
        .filter_map(|(t, r)| r.map(|r| (t, if r.is_nan() { f64::INFINITY } else { r })))
        .collect();
    if loaded.is_empty() {
        return Err(ScoreError::NoTaskLoaded);
    }
    let weight_sum: f64 = loaded.iter().map(|(t, _)| t.weight).sum();
    // Keep the schedule's weights bit for bit when nothing was skipped.
    let renormalise = (weight_sum - 1.0).abs() > 1e-9;
    let mut failed = false;
    let details: Vec<TaskScore> = loaded
        .into_iter()
        .map(|(task, raw)| {
            failed |= !raw.is_finite();
            let normalised = task.normalization.apply(raw);
            let weight = if renormalise {
                task.weight / weight_sum
            } else {
                task.weight
            };
            TaskScore {
                task_id: task.id.clone(),
                raw,
                normalised,
                weight,
                weighted: normalised * weight,
            }
        })
        .collect();
    let total = if failed {
        f64::INFINITY
    } else {
        details.iter().map(|d| d.weighted).sum()
    };
    Ok(CompetitionScore {
        total,
        tasks: details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::competition::{DatasetSpec, EvalMethod, Normalization, TaskKind};

    fn task(id: &str, weight: f64, normalization: Normalization) -> Task {
        Task {
            id: id.into(),
            method: EvalMethod::ReferenceLoss,
            dataset: DatasetSpec::Generator(TaskKind::WordSorting),
            samples: 10,
            weight,
            normalization,
            settings: Default::default(),
        }
    }

    fn three_tasks() -> Vec<Task> {
        let inv = Normalization::InverseExponential { ceiling: 40.0 };
        vec![
            task("sort", 0.5, inv),
            task("mc", 0.25, Normalization::None),
            task("if", 0.25, Normalization::None),
        ]
    }

    #[test]
    fn weighted_sum_hand_computed() {
        // sort: raw 20 → 0.6224593312018546 · 0.5 = 0.3112296656009273
        // mc: 0.4 · 0.25 = 0.1; if: 0.2 · 0.25 = 0.05 → total 0.4612296656009273
        let s = combine_task_scores(&three_tasks(), &[Some(20.0), Some(0.4), Some(0.2)]).unwrap();
        assert!((s.total - 0.461_229_665_600_927_3).abs() < 1e-12);
        assert_eq!(s.tasks.len(), 3);
        assert_eq!(s.tasks[1].weighted, 0.1);
        assert_eq!(s.tasks[0].raw, 20.0);
    }

    #[test]
    fn failed_task_makes_total_infinite() {
        // Even under inverse_exponential (which would clamp +inf to 1 in SN37).
        let s = combine_task_scores(&three_tasks(), &[Some(f64::INFINITY), Some(0.0), Some(0.0)]);
        let s = s.unwrap();
        assert_eq!(s.total, f64::INFINITY);
        assert_eq!(s.tasks[0].normalised, f64::INFINITY);
        let nan = combine_task_scores(&three_tasks(), &[Some(1.0), Some(f64::NAN), Some(0.0)]);
        assert_eq!(nan.unwrap().total, f64::INFINITY);
    }

    #[test]
    fn skipped_task_renormalises() {
        // mc skipped: sort 0.5/0.75 = 2/3, if 0.25/0.75 = 1/3; raws 0 and 0.3 → 0.1.
        let s = combine_task_scores(&three_tasks(), &[Some(0.0), None, Some(0.3)]).unwrap();
        assert!((s.total - 0.1).abs() < 1e-12);
        assert_eq!(s.tasks.len(), 2);
        assert!((s.tasks[0].weight - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn errors() {
        assert_eq!(
            combine_task_scores(&three_tasks(), &[None, None, None]),
            Err(ScoreError::NoTaskLoaded)
        );
        assert_eq!(
            combine_task_scores(&three_tasks(), &[Some(1.0)]),
            Err(ScoreError::LengthMismatch {
                tasks: 3,
                scores: 1
            })
        );
    }
}
