//! What changed between two schedules, for the log line a validator writes when it reloads the
//! file: the schedule can be reloaded while running, and each change is logged.

use super::{Competition, Schedule};

impl Schedule {
    /// Human-readable differences from `self` (the old schedule) to `newer`, one line each, in
    /// block order; empty if they are equal.
    pub fn changes(&self, newer: &Schedule) -> Vec<String> {
        let mut out = Vec::new();
        let mut blocks: Vec<u64> = self
            .entries
            .iter()
            .chain(&newer.entries)
            .map(|e| e.start_block)
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        for block in blocks {
            let find = |s: &'_ Schedule| s.entries.iter().find(|e| e.start_block == block).cloned();
            match (find(self), find(newer)) {
                (Some(_), None) => out.push(format!("entry at block {block} removed")),
                (None, Some(e)) => {
                    let ids: Vec<String> =
                        e.competitions.iter().map(|c| c.id.to_string()).collect();
                    out.push(format!(
                        "entry at block {block} added (competitions {})",
                        ids.join(", ")
                    ));
                }
                (Some(old), Some(new)) => {
                    compare_entry(block, &old.competitions, &new.competitions, &mut out)
                }
                (None, None) => {}
            }
        }
        out
    }
}

fn compare_entry(block: u64, old: &[Competition], new: &[Competition], out: &mut Vec<String>) {
    for o in old {
        match new.iter().find(|n| n.id == o.id) {
            None => out.push(format!("block {block}: competition {} removed", o.id)),
            Some(n) if n != o => {
                let fields = [
                    ("name", o.name != n.name),
                    ("reward", o.reward != n.reward),
                    ("constraints", o.constraints != n.constraints),
                    ("tasks", o.tasks != n.tasks),
                    ("scoring", o.scoring != n.scoring),
                ];
                let changed: Vec<&str> = fields.iter().filter(|f| f.1).map(|f| f.0).collect();
                out.push(format!(
                    "block {block}: competition {} changed: {}",
                    o.id,
                    changed.join(", ")
                ));
            }
            Some(_) => {}
        }
    }
    for n in new.iter().filter(|n| old.iter().all(|o| o.id != n.id)) {
        out.push(format!("block {block}: competition {} added", n.id));
    }
}

#[cfg(test)]
mod tests {
    use crate::competition::default_schedule;

    #[test]
    fn changes_are_listed() {
        let old = default_schedule().unwrap();
        assert!(old.changes(&old).is_empty());
        let mut new = old.clone();
        new.entries[0].competitions[0].reward = 0.5;
        new.entries[0].competitions[1].reward = 0.3;
        new.entries[0].competitions[1].tasks[0].samples = 7;
        new.entries[0].competitions.remove(2);
        let mut moved = new.entries[1].clone();
        moved.start_block = 2_000_000;
        new.entries.remove(1);
        new.entries.push(moved);
        assert_eq!(
            old.changes(&new),
            vec![
                "block 0: competition 1 changed: reward",
                "block 0: competition 2 changed: reward, tasks",
                "block 0: competition 3 removed",
                "entry at block 1000000 removed",
                "entry at block 2000000 added (competitions 1, 3)",
            ]
        );
        let mut renamed = old.clone();
        renamed.entries[1].competitions[1].id = 9;
        assert_eq!(
            old.changes(&renamed),
            vec![
                "block 1000000: competition 3 removed",
                "block 1000000: competition 9 added"
            ]
        );
    }
}
