//! The standings as a plain-text table, for terminals (`arena leaderboard show`, localnet).

use std::fmt::Write;

use crate::model::{ModelState, ModelStatus, Standings, ValidatorStatus};

const HEADERS: [&str; 9] = [
    "competition",
    "uid",
    "model",
    "score",
    "state",
    "win rate",
    "weight",
    "incentive",
    "emission",
];

/// The state column: the state with its block or code, short enough for a terminal.
pub(crate) fn state_cell(status: &ModelStatus) -> String {
    let block = status.block.map_or_else(String::new, |b| b.to_string());
    let code = status.code.as_deref().unwrap_or("?");
    match status.state {
        ModelState::Evaluated => "evaluated".into(),
        ModelState::Waiting => format!("waiting until {block}"),
        ModelState::Queued => format!("queued ({code})"),
        ModelState::Rejected => format!("rejected: {code}"),
        ModelState::NotEvaluated if status.block.is_some() => {
            format!("not evaluated since {block}")
        }
        ModelState::NotEvaluated => "not evaluated".into(),
    }
}

/// Renders one line per model (competitions in order, models ranked), with aligned columns,
/// preceded by the block and followed by one warning line per validator that is not `ok`
/// (no permit, not registered, unreadable state) and for a schedule file that did not reload.
pub fn render_table(s: &Standings) -> String {
    let mut rows: Vec<[String; 9]> = Vec::new();
    for c in &s.competitions {
        if c.models.is_empty() {
            rows.push([
                format!("{} ({})", c.name, c.id),
                "-".into(),
                "(no models)".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for m in &c.models {
            let short = m.revision.get(..8).unwrap_or(&m.revision);
            rows.push([
                format!("{} ({})", c.name, c.id),
                m.uid.to_string(),
                format!("{}@{short}", m.repo),
                match (m.score, m.early_stop) {
                    (None, _) => "-".into(),
                    (Some(v), None) => format!("{v:.4}"),
                    (Some(v), Some(e)) => format!("{v:.4} (stopped {}/{})", e.samples, e.of),
                },
                state_cell(&m.status),
                m.win_rate.map_or("-".into(), |v| format!("{v:.3}")),
                format!("{:.4}", m.weight),
                format!("{:.4}", m.incentive),
                m.emission.to_string(),
            ]);
        }
    }
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("subnet {} at block {}\n", s.netuid, s.block);
    let line = |out: &mut String, cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Text columns left-aligned, numbers right-aligned.
            if i == 0 || i == 2 || i == 4 {
                let _ = write!(text, "{cell:<w$}  ");
            } else {
                let _ = write!(text, "{cell:>w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &HEADERS.map(String::from));
    for row in &rows {
        line(&mut out, row);
    }
    for v in &s.validators {
        if v.status != ValidatorStatus::Ok {
            let detail = v.status_detail.as_deref().unwrap_or_default();
            // A store nobody can be named for (unreadable): its detail names the file.
            let _ = match (v.uid, v.hotkey.as_deref()) {
                (Some(uid), _) => writeln!(out, "warning: validator {uid}: {detail}"),
                (None, Some(h)) => writeln!(out, "warning: validator {h}: {detail}"),
                (None, None) => writeln!(out, "warning: {detail}"),
            };
        }
        // A store error is printed even when another status comes first.
        if let (Some(e), false) = (&v.error, v.status == ValidatorStatus::StoreError) {
            let _ = writeln!(out, "warning: {e}");
        }
    }
    if let Some(e) = &s.schedule_error {
        let _ = writeln!(out, "warning: {e}");
    }
    out
}
