//! The datasets-server API (`/splits`, `/size`, `/rows`), both sides, with one home for its
//! wire types.
//!
//! - [`DatasetsServerClient`] talks to the public datasets-server
//!   ([`DEFAULT_DATASETS_SERVER`]) or to the root of an `arena hub serve`, with a bounded
//!   [`RetryPolicy`] and size-capped bodies.
//! - `arena hub serve` answers the same three routes at its root for its dataset repos (branch
//!   `main`), reading Parquet (the Arrow project's `parquet` crate, record API) and JSONL.
//!
//! # How the server finds configs and splits
//!
//! From the file paths of the dataset's head commit (other files are ignored), where `ext` is
//! `parquet` or `jsonl` and a split name ends at the first `-` of the file stem:
//!
//! 1. `{config}/{split}/{any}.parquet`: the Hub's Parquet-export layout;
//! 2. `{config}/{split}[-suffix].{ext}`, for a first folder other than `data`;
//! 3. `data/{split}[-suffix].{ext}` and `{split}[-suffix].{ext}` at the root: config `default`.
//!
//! Config and split names are 1 to 128 characters of `[A-Za-z0-9_.-]` (not starting with `.`
//! or `-`), so Common Crawl dump configs such as `CC-MAIN-2013-20` are served.
//! The files of one (config, split) are read in path order as one table; one split holds
//! either Parquet or JSONL files, never both. `num_rows` comes from the Parquet footers (no
//! scan); `/rows` skips whole row groups to reach `offset`. A JSONL file is scanned once when
//! the index is built (it is capped in size) and remembers where every
//! [`JSONL_CHECKPOINT_EVERY`]th line starts.

mod client;
pub(crate) mod server;
mod table;

pub use client::{DatasetsServerClient, DatasetsServerError, RetryPolicy};
pub use table::{DatasetsLimits, JSONL_CHECKPOINT_EVERY};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The public datasets-server.
pub const DEFAULT_DATASETS_SERVER: &str = "https://datasets-server.huggingface.co";

/// Most rows one `/rows` request may ask for (`length`), as on the public server.
pub const MAX_ROWS_PER_PAGE: u64 = 100;

/// One (config, split) of a dataset, as `/splits` lists it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SplitItem {
    /// Dataset id, `namespace/name`.
    pub dataset: String,
    /// Config name.
    pub config: String,
    /// Split name.
    pub split: String,
}

/// A config or split that is still being processed or failed (public server only).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PendingOrFailed {
    /// Dataset id.
    #[serde(default)]
    pub dataset: String,
    /// Config name, if the entry is about one.
    #[serde(default)]
    pub config: Option<String>,
    /// Split name, if the entry is about one.
    #[serde(default)]
    pub split: Option<String>,
    /// Error payload of a failed entry.
    #[serde(default)]
    pub error: Option<Value>,
}

/// `GET /splits?dataset=`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SplitsResponse {
    /// Every (config, split).
    pub splits: Vec<SplitItem>,
    /// Not yet processed.
    #[serde(default)]
    pub pending: Vec<PendingOrFailed>,
    /// Failed to process.
    #[serde(default)]
    pub failed: Vec<PendingOrFailed>,
}

/// Totals of a whole dataset in [`SizeResponse`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DatasetSize {
    /// Dataset id.
    pub dataset: String,
    /// Bytes of the source files.
    #[serde(default)]
    pub num_bytes_original_files: Option<u64>,
    /// Bytes of the Parquet files.
    #[serde(default)]
    pub num_bytes_parquet_files: Option<u64>,
    /// Estimated in-memory size.
    #[serde(default)]
    pub num_bytes_memory: Option<u64>,
    /// Rows over every config.
    pub num_rows: u64,
    /// Estimate when the count is partial.
    #[serde(default)]
    pub estimated_num_rows: Option<u64>,
}

/// One config in [`SizeResponse`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConfigSize {
    /// Dataset id.
    pub dataset: String,
    /// Config name.
    pub config: String,
    /// Bytes of the source files.
    #[serde(default)]
    pub num_bytes_original_files: Option<u64>,
    /// Bytes of the Parquet files.
    #[serde(default)]
    pub num_bytes_parquet_files: Option<u64>,
    /// Estimated in-memory size.
    #[serde(default)]
    pub num_bytes_memory: Option<u64>,
    /// Rows over every split of the config.
    pub num_rows: u64,
    /// Columns.
    pub num_columns: u64,
    /// Estimate when the count is partial.
    #[serde(default)]
    pub estimated_num_rows: Option<u64>,
}

/// One split in [`SizeResponse`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SplitSize {
    /// Dataset id.
    pub dataset: String,
    /// Config name.
    pub config: String,
    /// Split name.
    pub split: String,
    /// Bytes of the source files (the server reports them for JSONL splits).
    #[serde(default)]
    pub num_bytes_original_files: Option<u64>,
    /// Bytes of the Parquet files.
    #[serde(default)]
    pub num_bytes_parquet_files: Option<u64>,
    /// Estimated in-memory size (uncompressed Parquet bytes here).
    #[serde(default)]
    pub num_bytes_memory: Option<u64>,
    /// Rows.
    pub num_rows: u64,
    /// Columns.
    pub num_columns: u64,
    /// Estimate when the count is partial.
    #[serde(default)]
    pub estimated_num_rows: Option<u64>,
}

/// The `size` object of [`SizeResponse`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SizeBody {
    /// Totals.
    pub dataset: DatasetSize,
    /// Per config.
    pub configs: Vec<ConfigSize>,
    /// Per split.
    pub splits: Vec<SplitSize>,
}

/// `GET /size?dataset=`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SizeResponse {
    /// Sizes.
    pub size: SizeBody,
    /// Not yet processed.
    #[serde(default)]
    pub pending: Vec<PendingOrFailed>,
    /// Failed to process.
    #[serde(default)]
    pub failed: Vec<PendingOrFailed>,
    /// Whether the sizes cover only part of the data.
    #[serde(default)]
    pub partial: bool,
}

/// One column of [`RowsResponse`]: its name and its `datasets` feature type (for a plain value
/// `{"dtype": "string", "_type": "Value"}`; lists `{"feature": …, "_type": "List"}`; structs a
/// map of field name to type).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Feature {
    /// Column position.
    pub feature_idx: u64,
    /// Column name.
    pub name: String,
    /// Feature type.
    #[serde(rename = "type")]
    pub feature_type: Value,
}

/// One row of [`RowsResponse`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RowItem {
    /// Index of the row in the split.
    pub row_idx: u64,
    /// Column name to value.
    pub row: Map<String, Value>,
    /// Columns whose value was cut (this server never cuts; it refuses oversized rows).
    #[serde(default)]
    pub truncated_cells: Vec<String>,
}

/// `GET /rows?dataset&config&split&offset&length`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RowsResponse {
    /// Columns.
    pub features: Vec<Feature>,
    /// Rows `offset..offset+length` (fewer at the end of the split).
    pub rows: Vec<RowItem>,
    /// Rows in the split.
    pub num_rows_total: u64,
    /// The page size asked for.
    pub num_rows_per_page: u64,
    /// Whether the split was only partly converted (public server).
    #[serde(default)]
    pub partial: bool,
}

/// An error answer: `{"error": "…"}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: String,
}
