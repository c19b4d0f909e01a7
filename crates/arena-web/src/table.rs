//! The standings as a plain-text table, for terminals (`arena leaderboard show`, localnet).

use std::fmt::Write;

use crate::model::Standings;

const HEADERS: [&str; 8] = [
    "competition",
    "uid",
    "model",
    "score",
    "win rate",
    "weight",
    "incentive",
    "emission",
];

/// Renders one line per model (competitions in order, models ranked), with aligned columns,
/// preceded by the block and followed by one line per unreadable validator state.
pub fn render_table(s: &Standings) -> String {
    let mut rows: Vec<[String; 8]> = Vec::new();
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
            ]);
        }
        for m in &c.models {
            let short = m.revision.get(..8).unwrap_or(&m.revision);
            rows.push([
                format!("{} ({})", c.name, c.id),
                m.uid.to_string(),
                format!("{}@{short}", m.repo),
                m.score.map_or("-".into(), |v| format!("{v:.4}")),
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
            if i == 0 || i == 2 {
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
    for v in s.validators.iter().filter(|v| v.error.is_some()) {
        let _ = writeln!(out, "warning: {}", v.error.as_deref().unwrap_or_default());
    }
    out
}
