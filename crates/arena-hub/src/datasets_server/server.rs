//! `/splits`, `/size` and `/rows` on `arena hub serve`, for the dataset repos of its store.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::table::{self, DatasetsLimits, Format, SourceFile, SplitTable, TableError};
use super::{
    ConfigSize, DatasetSize, ErrorResponse, Feature, RowItem, RowsResponse, SizeBody, SizeResponse,
    SplitItem, SplitSize, SplitsResponse, MAX_ROWS_PER_PAGE,
};
use crate::paths::{split_repo_id, RepoType};
use crate::server::store::Commit;
use crate::server::{Ctx, RepoRef};

/// A datasets-server error answer: `{"error": …}` with the status and `X-Error-Code` the public
/// server uses.
pub(crate) struct DsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl DsError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> DsError {
        DsError {
            status,
            code,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> DsError {
        DsError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidParameter",
            message,
        )
    }
    fn missing(name: &str) -> DsError {
        DsError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "MissingRequiredParameter",
            format!("Parameter '{name}' is required"),
        )
    }
    fn not_found(message: impl Into<String>) -> DsError {
        DsError::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }
    fn internal(message: impl Into<String>) -> DsError {
        DsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UnexpectedError",
            message,
        )
    }
}

impl From<TableError> for DsError {
    fn from(err: TableError) -> DsError {
        match err {
            // Bad data files are permanent: a 4xx, so that clients do not retry them.
            TableError::File { .. } => DsError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "DatasetFileError",
                err.to_string(),
            ),
            TableError::TooBig(message) => {
                DsError::new(StatusCode::PAYLOAD_TOO_LARGE, "TooBigContentError", message)
            }
        }
    }
}

impl IntoResponse for DsError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorResponse {
                error: self.message,
            }),
        )
            .into_response();
        response
            .headers_mut()
            .insert("x-error-code", HeaderValue::from_static(self.code));
        response
    }
}

/// One (config, split) found from the file paths.
#[derive(Debug, Clone)]
struct SplitFiles {
    config: String,
    split: String,
    format: Format,
    files: Vec<SourceFile>,
}

/// The index of one dataset commit: every split and the result of reading it.
pub(crate) struct DatasetIndex {
    splits: Vec<(SplitFiles, Result<SplitTable, TableError>)>,
}

/// Indexes of recent (dataset, commit)s, bounded, oldest evicted first.
#[derive(Default)]
pub(crate) struct IndexCache {
    entries: HashMap<(String, String), Arc<DatasetIndex>>,
    order: VecDeque<(String, String)>,
}

impl IndexCache {
    fn get(&self, key: &(String, String)) -> Option<Arc<DatasetIndex>> {
        self.entries.get(key).cloned()
    }
    fn insert(&mut self, key: (String, String), index: Arc<DatasetIndex>, cap: usize) {
        if self.entries.insert(key.clone(), index).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > cap.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }
}

/// Shared cache handle kept in the server state.
pub(crate) type SharedIndexCache = Mutex<IndexCache>;

/// Whether `name` is a valid config or split name (FineWeb's configs are Common Crawl dumps
/// such as `CC-MAIN-2013-20`).
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// The (config, split, format) a repository file belongs to, by the rules in the module docs.
fn classify(path: &str) -> Option<(String, String, Format)> {
    let (stem_path, format) = if let Some(p) = path.strip_suffix(".parquet") {
        (p, Format::Parquet)
    } else if let Some(p) = path.strip_suffix(".jsonl") {
        (p, Format::Jsonl)
    } else {
        return None;
    };
    let parts: Vec<&str> = stem_path.split('/').collect();
    let split_of = |stem: &str| stem.split('-').next().unwrap_or("").to_string();
    let (config, split) = match parts.as_slice() {
        [config, split, _file] if format == Format::Parquet => {
            (config.to_string(), split.to_string())
        }
        ["data", stem] => ("default".to_string(), split_of(stem)),
        [config, stem] => (config.to_string(), split_of(stem)),
        [stem] => ("default".to_string(), split_of(stem)),
        _ => return None,
    };
    (is_name(&config) && is_name(&split)).then_some((config, split, format))
}

/// Groups the data files of a commit by (config, split), each group in path order.
fn discover(
    commit: &Commit,
    store: &crate::server::store::Store,
    limits: &DatasetsLimits,
) -> Result<Vec<SplitFiles>, DsError> {
    let mut groups: BTreeMap<(String, String), SplitFiles> = BTreeMap::new();
    let mut count = 0usize;
    // BTreeMap iteration is in path order.
    for (path, file) in &commit.files {
        let Some((config, split, format)) = classify(path) else {
            continue;
        };
        count += 1;
        if count > limits.max_files {
            return Err(DsError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TooBigContentError",
                format!("more than {} data files in this dataset", limits.max_files),
            ));
        }
        let entry = groups
            .entry((config.clone(), split.clone()))
            .or_insert_with(|| SplitFiles {
                config,
                split,
                format,
                files: Vec::new(),
            });
        if entry.format != format {
            return Err(DsError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "FileFormatMismatchBetweenSplitsError",
                format!(
                    "split {}/{} mixes Parquet and JSONL files ({path})",
                    entry.config, entry.split
                ),
            ));
        }
        entry.files.push(SourceFile {
            path: path.clone(),
            blob: store.blob_path(&file.sha256),
            size: file.size,
        });
    }
    Ok(groups.into_values().collect())
}

/// The (parsed, readable, head commit) dataset named by the `dataset` parameter.
fn dataset_commit(ctx: &Ctx) -> Result<(String, Commit), DsError> {
    let dataset = ctx
        .query
        .get("dataset")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| DsError::missing("dataset"))?;
    let unknown = || {
        DsError::not_found(
            "The dataset does not exist, or is not accessible without authentication (private \
             or gated). Please check the spelling of the dataset name or retry with other \
             authentication credentials.",
        )
    };
    let (namespace, name) = split_repo_id(dataset).map_err(|_| unknown())?;
    let repo = RepoRef::new(RepoType::Dataset, namespace, name).map_err(|_| unknown())?;
    let meta = crate::server::repo_readable(ctx, &repo).map_err(|_| unknown())?;
    let commit = ctx
        .state
        .store
        .commit(RepoType::Dataset, namespace, name, &meta.head)
        .map_err(|e| DsError::internal(e.to_string()))?
        .ok_or_else(unknown)?;
    Ok((dataset.clone(), commit))
}

/// Runs blocking dataset work on the blocking pool; a panic inside becomes an error answer.
async fn blocking<T: Send + 'static>(
    what: String,
    work: impl FnOnce() -> Result<T, DsError> + Send + 'static,
) -> Result<T, DsError> {
    let joined = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
    })
    .await;
    match joined {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(DsError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "DatasetFileError",
            format!("a data file of {what} could not be decoded"),
        )),
        Err(err) => Err(DsError::internal(format!("dataset task failed: {err}"))),
    }
}

/// The index of the dataset's head, from the cache or built now.
async fn index_of(ctx: &Ctx, dataset: &str, commit: Commit) -> Result<Arc<DatasetIndex>, DsError> {
    let key = (dataset.to_string(), commit.oid.clone());
    let cache = &ctx.state.datasets_cache;
    if let Some(index) = cache.lock().ok().and_then(|c| c.get(&key)) {
        return Ok(index);
    }
    let store = ctx.state.store.clone();
    let limits = ctx.state.config.limits.datasets.clone();
    let cap = limits.cached_indexes;
    let index = blocking(format!("dataset {dataset}"), move || {
        let groups = discover(&commit, &store, &limits)?;
        let splits = groups
            .into_iter()
            .map(|group| {
                let table = table::index_split(group.format, &group.files, &limits);
                if let Err(err) = &table {
                    tracing::warn!(config = %group.config, split = %group.split, error = %err, "dataset split unreadable");
                }
                (group, table)
            })
            .collect();
        Ok(Arc::new(DatasetIndex { splits }))
    })
    .await?;
    if let Ok(mut cache) = cache.lock() {
        cache.insert(key, index.clone(), cap);
    }
    Ok(index)
}

/// Answers `/splits`, `/size` or `/rows`.
pub(crate) async fn answer(ctx: Ctx, route: &str) -> crate::server::ApiResult {
    let result = match route {
        "splits" => splits(&ctx).await,
        "size" => size(&ctx).await,
        _ => rows(&ctx).await,
    };
    Ok(match result {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(route, status = %err.status, message = %err.message, "datasets-server request failed");
            err.into_response()
        }
    })
}

async fn splits(ctx: &Ctx) -> Result<Response, DsError> {
    let (dataset, commit) = dataset_commit(ctx)?;
    let index = index_of(ctx, &dataset, commit).await?;
    let splits = index
        .splits
        .iter()
        .map(|(group, _)| SplitItem {
            dataset: dataset.clone(),
            config: group.config.clone(),
            split: group.split.clone(),
        })
        .collect();
    Ok(Json(SplitsResponse {
        splits,
        pending: vec![],
        failed: vec![],
    })
    .into_response())
}

async fn size(ctx: &Ctx) -> Result<Response, DsError> {
    let (dataset, commit) = dataset_commit(ctx)?;
    let index = index_of(ctx, &dataset, commit).await?;
    let mut configs: BTreeMap<String, ConfigSize> = BTreeMap::new();
    let mut splits = Vec::new();
    for (group, table) in &index.splits {
        let table = table.clone().map_err(DsError::from)?;
        let num_columns = table.features.len() as u64;
        splits.push(SplitSize {
            dataset: dataset.clone(),
            config: group.config.clone(),
            split: group.split.clone(),
            num_bytes_original_files: Some(table.jsonl_bytes + table.parquet_bytes),
            num_bytes_parquet_files: Some(table.parquet_bytes),
            num_bytes_memory: Some(table.memory_bytes),
            num_rows: table.num_rows,
            num_columns,
            estimated_num_rows: None,
        });
        let config = configs
            .entry(group.config.clone())
            .or_insert_with(|| ConfigSize {
                dataset: dataset.clone(),
                config: group.config.clone(),
                num_bytes_original_files: Some(0),
                num_bytes_parquet_files: Some(0),
                num_bytes_memory: Some(0),
                num_rows: 0,
                num_columns,
                estimated_num_rows: None,
            });
        let add = |field: &mut Option<u64>, n: u64| *field = Some(field.unwrap_or(0) + n);
        add(
            &mut config.num_bytes_original_files,
            table.jsonl_bytes + table.parquet_bytes,
        );
        add(&mut config.num_bytes_parquet_files, table.parquet_bytes);
        add(&mut config.num_bytes_memory, table.memory_bytes);
        config.num_rows += table.num_rows;
        config.num_columns = config.num_columns.max(num_columns);
    }
    let configs: Vec<ConfigSize> = configs.into_values().collect();
    let sum = |f: fn(&ConfigSize) -> Option<u64>| Some(configs.iter().filter_map(f).sum());
    let total = DatasetSize {
        dataset: dataset.clone(),
        num_bytes_original_files: sum(|c| c.num_bytes_original_files),
        num_bytes_parquet_files: sum(|c| c.num_bytes_parquet_files),
        num_bytes_memory: sum(|c| c.num_bytes_memory),
        num_rows: configs.iter().map(|c| c.num_rows).sum(),
        estimated_num_rows: None,
    };
    Ok(Json(SizeResponse {
        size: SizeBody {
            dataset: total,
            configs,
            splits,
        },
        pending: vec![],
        failed: vec![],
        partial: false,
    })
    .into_response())
}

/// Parses a non-negative integer parameter the way the public server words its errors.
fn int_param(ctx: &Ctx, name: &str, default: u64) -> Result<u64, DsError> {
    let Some(raw) = ctx.query.get(name) else {
        return Ok(default);
    };
    let value: i64 = raw
        .trim()
        .parse()
        .map_err(|_| DsError::invalid(format!("Parameter '{name}' must be integer")))?;
    u64::try_from(value)
        .map_err(|_| DsError::invalid(format!("Parameter '{name}' must be positive")))
}

async fn rows(ctx: &Ctx) -> Result<Response, DsError> {
    let param = |name: &str| {
        ctx.query
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| DsError::missing(name))
    };
    param("dataset")?;
    let (config, split) = (param("config")?, param("split")?);
    let offset = int_param(ctx, "offset", 0)?;
    let length = int_param(ctx, "length", MAX_ROWS_PER_PAGE)?;
    if length > MAX_ROWS_PER_PAGE {
        return Err(DsError::invalid(format!(
            "Parameter 'length' must not be greater than {MAX_ROWS_PER_PAGE}"
        )));
    }
    let (dataset, commit) = dataset_commit(ctx)?;
    let index = index_of(ctx, &dataset, commit).await?;
    let table = index
        .splits
        .iter()
        .find(|(g, _)| g.config == config && g.split == split)
        .map(|(_, t)| t.clone())
        .ok_or_else(|| {
            DsError::not_found(format!(
                "Split {split:?} of config {config:?} does not exist"
            ))
        })?
        .map_err(DsError::from)?;
    let limits = ctx.state.config.limits.datasets.clone();
    let table = Arc::new(table);
    let read = table.clone();
    let what = format!("split {config}/{split}");
    let rows = blocking(what, move || {
        Ok(table::read_rows(&read, offset, length, &limits)?)
    })
    .await?;
    let features = table
        .features
        .iter()
        .enumerate()
        .map(|(i, (name, feature_type))| Feature {
            feature_idx: i as u64,
            name: name.clone(),
            feature_type: feature_type.clone(),
        })
        .collect();
    Ok(Json(RowsResponse {
        features,
        rows: rows
            .into_iter()
            .map(|(row_idx, row)| RowItem {
                row_idx,
                row,
                truncated_cells: vec![],
            })
            .collect(),
        num_rows_total: table.num_rows,
        num_rows_per_page: length,
        partial: false,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_map_to_configs_and_splits() {
        let c = |p| classify(p).map(|(c, s, f)| (c, s, f == Format::Parquet));
        let own = |c: &str, s: &str, pq| Some((c.to_string(), s.to_string(), pq));
        assert_eq!(
            c("default/train/0000.parquet"),
            own("default", "train", true)
        );
        assert_eq!(
            c("chat/test-00000-of-00002.parquet"),
            own("chat", "test", true)
        );
        assert_eq!(c("data/train-0.jsonl"), own("default", "train", false));
        assert_eq!(c("validation.jsonl"), own("default", "validation", false));
        assert_eq!(
            c("CC-MAIN-2013-20/train-00000-of-00001.parquet"),
            own("CC-MAIN-2013-20", "train", true)
        );
        assert_eq!(
            c("sample-10BT/train/0000.parquet"),
            own("sample-10BT", "train", true)
        );
        assert_eq!(c("README.md"), None);
        assert_eq!(c("a/b/c.jsonl"), None);
        assert_eq!(c("a/b/c/d.parquet"), None);
        assert_eq!(c("bad name/train.parquet"), None);
        assert_eq!(c(".hidden/train.parquet"), None);
    }
}
