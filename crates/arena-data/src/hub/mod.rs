//! Hub datasets read through the datasets-server rows API, as Subnet 37 and Subnet 9 read them.
//!
//! * [`RowsApi`]: the seam to the network, shaped after the datasets-server's `/size` and
//!   `/rows` endpoints ([`SplitRows`], [`HubRow`]). A caller implements it over an HTTP client;
//!   this module never speaks HTTP. One request reads at most [`MAX_ROWS_PER_REQUEST`] rows
//!   (the public server's cap); [`fetch_rows`] splits longer reads.
//! * [`paging`]: SN37's seeded page choice (config table from the size listing, an initial
//!   offset, pages on a grid, duplicates skipped), every random choice from a
//!   [`crate::rng::DrawRng`] stream of the draw's seed.
//! * [`loaders`]: one pure function per [`HubFormat`] turning a row into a [`crate::Sample`] or
//!   a typed [`RowError`] (SN37's extraction and filters).
//! * [`macrobench`]: SN1 Macrobench rows as multiple-choice questions or IFEval prompt pairs,
//!   kept only when signed off by a staked SN1 validator ([`ValidatorFilter`]).
//! * [`HubSource`]: a [`crate::source::DataSource`] over all of the above.
//!
//! [`HubFormat`]: arena_core::competition::HubFormat

pub mod http;
pub mod loaders;
pub mod macrobench;
pub mod paging;
mod source;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::DataError;

pub use loaders::RowError;
pub use source::{
    default_paging, HubSource, ValidatorFilter, MAX_PAGE_FAILURES, SN1_MIN_VALIDATOR_STAKE,
    SN1_NETUID,
};

/// Most rows one `/rows` request may ask for (the public datasets-server caps `length` at 100).
pub const MAX_ROWS_PER_REQUEST: u32 = arena_hub::datasets_server::MAX_ROWS_PER_PAGE as u32;

/// One (config, split) of a dataset and its row count: an entry of `/size`'s `size.splits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitRows {
    /// The config (subset) name.
    pub config: String,
    /// The split name.
    pub split: String,
    /// Rows in the split.
    pub num_rows: u64,
}

/// One row of a `/rows` answer (`rows[]`: `row_idx`, `row`, `truncated_cells`), the wire type
/// of arena-hub's datasets-server module. Cells named in `truncated_cells` were cut short by
/// the server and are never used.
pub use arena_hub::datasets_server::RowItem as HubRow;

/// The datasets-server API a [`HubSource`] reads through. Implemented over HTTP by the hub
/// client; tests use an in-memory table. Object-safe; hold an `Arc<dyn RowsApi>`.
///
/// Implementations report a 429 that outlived their own retries as
/// [`HubError::RateLimited`] (the draw then fails at once and its task is skipped); every
/// other failure (5xx, timeouts, bad JSON) as any other error, after which the source tries
/// another page.
#[async_trait]
pub trait RowsApi: Send + Sync {
    /// Every (config, split) of `dataset` with its row count (`GET /size?dataset=`), in the
    /// server's order.
    async fn splits(&self, dataset: &str) -> Result<Vec<SplitRows>, DataError>;

    /// Rows `offset..offset + length` of one split (`GET /rows?…`); `length` is at most
    /// [`MAX_ROWS_PER_REQUEST`]. Fewer rows come back at the end of the split.
    async fn rows(
        &self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u32,
    ) -> Result<Vec<HubRow>, DataError>;
}

/// Why a hub dataset could not be read. Each names the dataset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// The server kept answering 429 after the client's retries.
    #[error("hub dataset {dataset}: rate limited{}", .retry_after_secs.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    RateLimited {
        /// The dataset.
        dataset: String,
        /// The server's last `Retry-After`, when it sent one.
        retry_after_secs: Option<u64>,
    },
    /// The server failed or could not be reached (5xx, timeout, connection refused).
    #[error("hub dataset {dataset}: unavailable: {reason}")]
    Unavailable {
        /// The dataset.
        dataset: String,
        /// What went wrong.
        reason: String,
    },
    /// The server's answer broke the API's shape (more rows than asked, bad JSON, …).
    #[error("hub dataset {dataset}: malformed answer: {reason}")]
    Malformed {
        /// The dataset.
        dataset: String,
        /// What was wrong.
        reason: String,
    },
    /// The dataset cannot serve this task (no such config or split, wrong format for the
    /// method, no validator filter for Macrobench, …).
    #[error("hub dataset {dataset}: {reason}")]
    Unusable {
        /// The dataset.
        dataset: String,
        /// Why.
        reason: String,
    },
    /// Pages were read but too few rows survived extraction and filtering.
    #[error("hub dataset {dataset}: no usable rows: {reason}")]
    NoUsableRows {
        /// The dataset.
        dataset: String,
        /// What the rows were dropped for.
        reason: String,
    },
}

impl DataError {
    /// Whether this is a hub rate limit (the draw stops instead of trying another page).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, DataError::Hub(HubError::RateLimited { .. }))
    }
}

/// Reads rows `offset..offset + length` of one split in requests of at most
/// [`MAX_ROWS_PER_REQUEST`] rows, stopping early at the end of the split. An answer with more
/// rows than asked is [`HubError::Malformed`].
pub async fn fetch_rows(
    api: &dyn RowsApi,
    dataset: &str,
    config: &str,
    split: &str,
    offset: u64,
    length: u32,
) -> Result<Vec<HubRow>, DataError> {
    let mut out = Vec::with_capacity(length.min(1000) as usize);
    let mut done = 0u32;
    while done < length {
        let ask = (length - done).min(MAX_ROWS_PER_REQUEST);
        let start = offset.saturating_add(u64::from(done));
        let rows = api.rows(dataset, config, split, start, ask).await?;
        if rows.len() > ask as usize {
            return Err(HubError::Malformed {
                dataset: dataset.to_string(),
                reason: format!(
                    "{} rows for a request of {ask} at offset {start} ({config}/{split})",
                    rows.len()
                ),
            }
            .into());
        }
        let got = rows.len() as u32;
        out.extend(rows);
        done += ask;
        if got < ask {
            break;
        }
    }
    Ok(out)
}
