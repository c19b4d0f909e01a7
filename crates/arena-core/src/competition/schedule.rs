//! The block-based competition schedule: parsing, validation and the active-list lookup.
//!
//! As SN37/SN9's `COMPETITION_SCHEDULE_BY_BLOCK`, the schedule is a list of
//! `(start_block, [competition])`; the active list at block `b` is the entry with the largest
//! start ≤ `b`. Every rule the reference asserts at import (reward shares sum to 1, task weights
//! sum to 1) and a few it leaves implicit (unique ids, sane constraints) are checked on load, so a
//! bad file is refused as a whole with an error that names the field.

use super::{
    Competition, CompetitionId, DuplicateRule, EvalMethod, MultipleChoiceMode, Normalization,
    ScoringPolicy, Task, TokenizerSpec, MAX_NEW_TOKENS_LIMIT,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Tolerance for "sums to 1": TOML decimals such as 0.1 + 0.2 are not exact in f64.
const SUM_TOLERANCE: f64 = 1e-6;

/// The example schedule shipped with the crate (`examples/competitions.toml`): three
/// competitions shaped like SN37, SN9 and SN29's, sized for the tiny localnet models.
pub const DEFAULT_SCHEDULE_TOML: &str = include_str!("../../examples/competitions.toml");

/// Parses [`DEFAULT_SCHEDULE_TOML`]; a unit test guarantees it is valid.
pub fn default_schedule() -> Result<Schedule, ScheduleError> {
    Schedule::from_toml_str(DEFAULT_SCHEDULE_TOML)
}

/// A validated schedule, entries sorted by `start_block` (no two equal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `(start_block, competitions)` pairs, ascending.
    pub entries: Vec<ScheduleEntry>,
}

/// The competitions active from `start_block` until the next entry starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// First block at which this entry applies.
    pub start_block: u64,
    /// The active competitions; reward shares sum to 1.
    pub competitions: Vec<Competition>,
}

/// Why a schedule file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// Not TOML, a missing or unknown field, or a value of the wrong type.
    #[error("competition schedule: line {line}, column {column} (`{text}`): {message}")]
    Parse {
        /// 1-based line of the offending value (0 if unknown).
        line: usize,
        /// 1-based column.
        column: usize,
        /// That line, trimmed and cut to 80 characters, so the error names the key.
        text: String,
        /// The parser's message (names the field).
        message: String,
    },
    /// Well-formed but breaks a rule; `path` names the field, e.g.
    /// `entries[start_block=0].competitions[id=1].tasks[word_sorting].weight`.
    #[error("competition schedule: {path}: {reason}")]
    Invalid {
        /// Where the bad value is.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(path: impl Into<String>, reason: impl Into<String>) -> ScheduleError {
    ScheduleError::Invalid {
        path: path.into(),
        reason: reason.into(),
    }
}

impl Schedule {
    /// Parses and validates a schedule; entries may appear in any order in the file.
    pub fn from_toml_str(text: &str) -> Result<Self, ScheduleError> {
        let mut schedule: Schedule = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => line_column(text, span.start),
                None => (0, 0),
            };
            let source_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
            ScheduleError::Parse {
                line,
                column,
                text: source_line.trim().chars().take(80).collect(),
                message: e.message().trim().to_string(),
            }
        })?;
        schedule.entries.sort_by_key(|e| e.start_block);
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks every rule; called by [`Schedule::from_toml_str`], public for schedules built in code.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.entries.is_empty() {
            return Err(invalid("entries", "the schedule has no entries"));
        }
        for pair in self.entries.windows(2) {
            if pair[0].start_block == pair[1].start_block {
                let path = format!("entries[start_block={}]", pair[0].start_block);
                return Err(invalid(path, "two entries start at the same block"));
            }
        }
        self.entries.iter().try_for_each(validate_entry)
    }

    /// The entry in force at `block`, or `None` before the first entry starts.
    pub fn active_entry(&self, block: u64) -> Option<&ScheduleEntry> {
        self.entries.iter().rev().find(|e| e.start_block <= block)
    }

    /// The competitions active at `block` (empty before the first entry).
    pub fn active_at(&self, block: u64) -> &[Competition] {
        self.active_entry(block)
            .map(|e| e.competitions.as_slice())
            .unwrap_or(&[])
    }

    /// Competition `id` as defined at `block`, if active then. The validator asks at the
    /// commit block for the constraints (SN37 `get_competition_for_block`) and at the current
    /// block for whether the competition still runs.
    pub fn competition_at(&self, id: CompetitionId, block: u64) -> Option<&Competition> {
        self.active_at(block).iter().find(|c| c.id == id)
    }

    /// Competition `id` as the newest entry that has it defines it, whatever block that entry
    /// starts at: for tools that name a competition without a block (a miner training for it,
    /// a leaderboard listing a competition that is no longer active).
    pub fn newest_competition(&self, id: CompetitionId) -> Option<&Competition> {
        self.entries
            .iter()
            .rev()
            .find_map(|e| e.competitions.iter().find(|c| c.id == id))
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

fn near_one(sum: f64) -> bool {
    (sum - 1.0).abs() <= SUM_TOLERANCE
}

fn validate_entry(entry: &ScheduleEntry) -> Result<(), ScheduleError> {
    let at = format!("entries[start_block={}]", entry.start_block);
    if entry.competitions.is_empty() {
        return Err(invalid(format!("{at}.competitions"), "no competitions"));
    }
    let mut ids = BTreeSet::new();
    for comp in &entry.competitions {
        if !ids.insert(comp.id) {
            let path = format!("{at}.competitions[id={}].id", comp.id);
            return Err(invalid(path, "competition id used twice in this entry"));
        }
        validate_competition(&format!("{at}.competitions[id={}]", comp.id), comp)?;
    }
    let total: f64 = entry.competitions.iter().map(|c| c.reward).sum();
    if !near_one(total) {
        let reason = format!("reward shares sum to {total}, expected 1");
        return Err(invalid(format!("{at}.competitions[*].reward"), reason));
    }
    Ok(())
}

fn validate_competition(at: &str, comp: &Competition) -> Result<(), ScheduleError> {
    if comp.name.trim().is_empty() {
        return Err(invalid(format!("{at}.name"), "empty name"));
    }
    if !(comp.reward > 0.0 && comp.reward <= 1.0) {
        return Err(invalid(
            format!("{at}.reward"),
            format!("{} is not in (0, 1]", comp.reward),
        ));
    }
    validate_constraints(&format!("{at}.constraints"), comp)?;
    if comp.tasks.is_empty() {
        return Err(invalid(format!("{at}.tasks"), "no tasks"));
    }
    let mut task_ids = BTreeSet::new();
    for task in &comp.tasks {
        let task_at = format!("{at}.tasks[{}]", task.id);
        if !task_ids.insert(task.id.as_str()) {
            return Err(invalid(format!("{task_at}.id"), "task id used twice"));
        }
        validate_task(&task_at, task)?;
    }
    let total: f64 = comp.tasks.iter().map(|t| t.weight).sum();
    if !near_one(total) {
        let reason = format!("task weights sum to {total}, expected 1");
        return Err(invalid(format!("{at}.tasks[*].weight"), reason));
    }
    if let Err((field, reason)) = comp.early_stop.validate() {
        return Err(invalid(format!("{at}.early_stop.{field}"), reason));
    }
    validate_scoring(&format!("{at}.scoring"), &comp.scoring)
}

fn validate_constraints(at: &str, comp: &Competition) -> Result<(), ScheduleError> {
    let c = &comp.constraints;
    let field = |name: &str| format!("{at}.{name}");
    if c.max_params == 0 || c.min_params > c.max_params {
        let reason = format!("min_params {} > max_params {}", c.min_params, c.max_params);
        return Err(invalid(field("max_params"), reason));
    }
    if c.max_bytes == 0 {
        return Err(invalid(field("max_bytes"), "must be positive"));
    }
    if c.sequence_length == 0 {
        return Err(invalid(field("sequence_length"), "must be positive"));
    }
    if c.architectures.is_empty() || c.architectures.iter().any(|a| a.trim().is_empty()) {
        return Err(invalid(
            field("architectures"),
            "needs at least one non-empty class name",
        ));
    }
    if let Some(sha256) = c.tokenizer.pinned_sha256() {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if sha256.len() != 64 || !sha256.bytes().all(hex) {
            let reason = format!("{sha256:?} is not 64 lowercase hex digits");
            return Err(invalid(field("tokenizer.sha256"), reason));
        }
    }
    if let TokenizerSpec::Hub { repo, files, .. } = &c.tokenizer {
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.trim().is_empty()) {
            let reason = format!("{repo:?} is not an `owner/name` repository id");
            return Err(invalid(field("tokenizer.repo"), reason));
        }
        for (name, sha256) in files {
            let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
            let plain = !name.is_empty()
                && !name.starts_with('.')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !plain {
                let reason = format!("{name:?} is not a plain file name");
                return Err(invalid(field("tokenizer.files"), reason));
            }
            if sha256.len() != 64 || !sha256.bytes().all(hex) {
                let reason = format!("{name}: {sha256:?} is not 64 lowercase hex digits");
                return Err(invalid(field("tokenizer.files"), reason));
            }
        }
    }
    c.epsilon
        .validate()
        .map_err(|e| invalid(field("epsilon"), e.to_string()))?;
    let n = &c.norm_validation;
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(n.hard) || !positive(n.soft) || n.soft > n.hard {
        let reason = format!("need 0 < soft ({}) <= hard ({})", n.soft, n.hard);
        return Err(invalid(field("norm_validation"), reason));
    }
    if !(0.0..=1.0).contains(&n.soft_fraction) {
        let reason = format!("{} is not in [0, 1]", n.soft_fraction);
        return Err(invalid(field("norm_validation.soft_fraction"), reason));
    }
    Ok(())
}

fn validate_task(at: &str, task: &Task) -> Result<(), ScheduleError> {
    if task.id.trim().is_empty() {
        return Err(invalid(format!("{at}.id"), "empty task id"));
    }
    if task.samples == 0 {
        return Err(invalid(format!("{at}.samples"), "must be positive"));
    }
    if !(task.weight.is_finite() && task.weight > 0.0) {
        let reason = format!("{} is not a positive number", task.weight);
        return Err(invalid(format!("{at}.weight"), reason));
    }
    validate_settings(&format!("{at}.settings"), task)?;
    if let Normalization::InverseExponential { ceiling } = task.normalization {
        if !(ceiling.is_finite() && ceiling > 0.0) {
            let reason = format!("ceiling {ceiling} must be positive");
            return Err(invalid(format!("{at}.normalization"), reason));
        }
    }
    Ok(())
}

fn validate_settings(at: &str, task: &Task) -> Result<(), ScheduleError> {
    let o = &task.settings;
    let generates = matches!(
        task.method,
        EvalMethod::IfEval
            | EvalMethod::MultipleChoice {
                mode: MultipleChoiceMode::Generate
            }
    );
    let generation_keys = [
        ("max_new_tokens", o.max_new_tokens.is_some()),
        ("repetition_penalty", o.repetition_penalty.is_some()),
        ("decoding", o.decoding.is_some()),
    ];
    if !generates {
        if let Some((key, _)) = generation_keys.iter().find(|(_, set)| *set) {
            return Err(invalid(
                format!("{at}.{key}"),
                "applies only to a method that generates (if_eval, multiple_choice mode = \"generate\")",
            ));
        }
    }
    if o.reference_special_tokens.is_some() && task.method != EvalMethod::ReferenceLoss {
        return Err(invalid(
            format!("{at}.reference_special_tokens"),
            "applies only to reference_loss",
        ));
    }
    if (o.duplicates.is_some() || o.rule_weighting.is_some()) && task.method != EvalMethod::IfEval {
        return Err(invalid(
            format!("{at}.duplicates"),
            "applies only to if_eval",
        ));
    }
    if o.system_prompt.is_some() && matches!(task.method, EvalMethod::TextLoss { .. }) {
        return Err(invalid(
            format!("{at}.system_prompt"),
            "text_loss has no prompt to put a system message before",
        ));
    }
    if let Some(n) = o.max_new_tokens {
        if n == 0 || n > MAX_NEW_TOKENS_LIMIT {
            let reason = format!("{n} is not in 1..={MAX_NEW_TOKENS_LIMIT}");
            return Err(invalid(format!("{at}.max_new_tokens"), reason));
        }
    }
    if let Some(p) = o.repetition_penalty {
        if !(p.is_finite() && p > 0.0 && p <= 10.0) {
            let reason = format!("{p} is not in (0, 10]");
            return Err(invalid(format!("{at}.repetition_penalty"), reason));
        }
    }
    if let Some(DuplicateRule::Pairs {
        similarity,
        max_fraction,
    }) = o.duplicates
    {
        if !(0.0..=1.0).contains(&similarity) || !(0.0..=1.0).contains(&max_fraction) {
            let reason = format!(
                "similarity {similarity} and max_fraction {max_fraction} must be in [0, 1]"
            );
            return Err(invalid(format!("{at}.duplicates"), reason));
        }
    }
    Ok(())
}

fn validate_scoring(at: &str, scoring: &ScoringPolicy) -> Result<(), ScheduleError> {
    match *scoring {
        ScoringPolicy::Pairwise { temperature, .. } => {
            if !(temperature.is_finite() && temperature > 0.0) {
                let reason = format!("{temperature} must be positive");
                return Err(invalid(format!("{at}.temperature"), reason));
            }
        }
        ScoringPolicy::LeaderPerUnit {
            advantage_initial,
            advantage_decay,
            epoch_blocks,
            skew,
            group_samples,
        } => {
            let checks = [
                ("advantage_initial", (0.0..1.0).contains(&advantage_initial)),
                (
                    "advantage_decay",
                    advantage_decay > 0.0 && advantage_decay <= 1.0,
                ),
                ("epoch_blocks", epoch_blocks > 0),
                ("skew", skew.is_finite() && skew > 0.0),
                ("group_samples", group_samples > 0),
            ];
            if let Some((name, _)) = checks.iter().find(|(_, ok)| !ok) {
                return Err(invalid(format!("{at}.{name}"), "out of range"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
