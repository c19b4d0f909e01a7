//! Which pages of a hub dataset a draw reads: Subnet 37's `HuggingFaceLoader` paging
//! (also Subnet 9's FineWeb loaders), with every random choice from the draw's seed.
//!
//! * Config table ([`config_table`]): the `/size` listing; with more than one entry the
//!   config `default` is dropped; a config listed with several splits keeps the last one
//!   listed, unless the task names a split; a task that names a config reads only that one.
//!   Configs without rows are dropped. The table is sorted by config name, so the server's
//!   listing order does not matter.
//! * [`PagePlan`]: one initial offset in `[0, rows_per_page − 1]`; then candidate page *j*
//!   (*j* = 1, 2, …) draws a config uniformly (not weighted by size) and a page
//!   `offset + k·rows_per_page`, k uniform over the config's whole pages; a page already
//!   drawn is skipped, and after [`MAX_DUPLICATE_PAGES`] duplicates the plan ends.
//!
//! Streams: the offset comes from `DrawRng(seed, stream, 0)`, candidate *j* from
//! `DrawRng(seed, stream, j)`, so candidate *j* is the same whatever happened to the others.
//!
//! Where this differs from SN37: SN37 counts `(num_rows − offset + 1) // rows_per_page` pages,
//! whose last may run one row past the end; arena counts whole pages only. A config smaller
//! than one page past the offset has one page, at row 0.

use std::collections::{BTreeMap, HashSet};

use arena_core::seed::Seed;

use super::SplitRows;
use crate::rng::DrawRng;

/// Duplicate candidates after which a plan gives up (SN37: 100).
pub const MAX_DUPLICATE_PAGES: u32 = 100;

/// A config a draw may read from: its split and row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRows {
    /// Config name.
    pub config: String,
    /// The split read.
    pub split: String,
    /// Rows in it.
    pub num_rows: u64,
}

/// The configs a draw chooses from (see the module documentation for the rules), sorted by
/// name. `config`/`split` are the task's fixed choices, if any.
pub fn config_table(
    listing: &[SplitRows],
    config: Option<&str>,
    split: Option<&str>,
) -> Vec<ConfigRows> {
    let drop_default = config.is_none() && listing.len() > 1;
    let mut table: BTreeMap<&str, (&str, u64)> = BTreeMap::new();
    for entry in listing {
        if config.is_some_and(|c| c != entry.config)
            || split.is_some_and(|s| s != entry.split)
            || (drop_default && entry.config == "default")
        {
            continue;
        }
        table.insert(
            entry.config.as_str(),
            (entry.split.as_str(), entry.num_rows),
        );
    }
    table
        .into_iter()
        .filter(|(_, (_, rows))| *rows > 0)
        .map(|(config, (split, num_rows))| ConfigRows {
            config: config.to_string(),
            split: split.to_string(),
            num_rows,
        })
        .collect()
}

/// One page to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Page {
    /// Config.
    pub config: String,
    /// Split.
    pub split: String,
    /// First row.
    pub offset: u64,
    /// Rows asked for (fewer may come back at the end of the split).
    pub length: u32,
}

/// The seeded sequence of distinct pages of one draw.
pub struct PagePlan {
    configs: Vec<ConfigRows>,
    rows_per_page: u32,
    initial_offset: u64,
    seed: Seed,
    stream: String,
    next: u64,
    seen: HashSet<(usize, u64)>,
    duplicates: u32,
}

impl PagePlan {
    /// A plan over `configs` (non-empty for any page to come) in pages of `rows_per_page`
    /// rows, drawn from the streams `stream` of `seed`.
    pub fn new(configs: Vec<ConfigRows>, rows_per_page: u32, seed: &Seed, stream: &str) -> Self {
        let rows_per_page = rows_per_page.max(1);
        let initial_offset = DrawRng::new(seed, stream, 0).below(u64::from(rows_per_page));
        PagePlan {
            configs,
            rows_per_page,
            initial_offset,
            seed: *seed,
            stream: stream.to_string(),
            next: 0,
            seen: HashSet::new(),
            duplicates: 0,
        }
    }

    /// The initial offset every page start is aligned to.
    pub fn initial_offset(&self) -> u64 {
        self.initial_offset
    }

    /// The next page not drawn before; `None` when there are no configs or after
    /// [`MAX_DUPLICATE_PAGES`] duplicates.
    pub fn next_page(&mut self) -> Option<Page> {
        if self.configs.is_empty() {
            return None;
        }
        while self.duplicates < MAX_DUPLICATE_PAGES {
            self.next += 1;
            let mut rng = DrawRng::new(&self.seed, &self.stream, self.next);
            let which = rng.index(self.configs.len());
            let config = &self.configs[which];
            let per_page = u64::from(self.rows_per_page);
            let pages = config.num_rows.saturating_sub(self.initial_offset) / per_page;
            let offset = if pages == 0 {
                0
            } else {
                self.initial_offset + rng.below(pages) * per_page
            };
            if self.seen.insert((which, offset)) {
                tracing::debug!(
                    config = %config.config,
                    split = %config.split,
                    offset,
                    candidate = self.next,
                    "hub page drawn"
                );
                return Some(Page {
                    config: config.config.clone(),
                    split: config.split.clone(),
                    offset,
                    length: self.rows_per_page,
                });
            }
            self.duplicates += 1;
        }
        None
    }
}
