//! Reading dataset files for the datasets-server routes: the index of a split (files, row
//! counts, features) and the rows of a page. Blocking code: the server runs it on the blocking
//! pool, behind `catch_unwind`.
//!
//! Every size taken from a file is checked against [`DatasetsLimits`] before it drives a read
//! or an allocation: the Parquet footer length, each row group's and column chunk's byte size
//! (and that it lies inside the file), the JSONL file size and each JSONL line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::Type;
use serde_json::{json, Map, Value};

/// A JSONL file remembers the byte offset of every this-many-th line, so a page is reached by
/// one seek and at most this many skipped lines, with memory proportional to rows / this.
pub const JSONL_CHECKPOINT_EVERY: u64 = 1024;

/// What serving datasets may cost; every field has a default suited to text datasets.
#[derive(Debug, Clone)]
pub struct DatasetsLimits {
    /// Largest serialized row (JSON bytes) served; a larger one is an error, never cut.
    pub max_row_bytes: usize,
    /// Largest `/rows` answer (sum of the serialized rows).
    pub max_response_bytes: usize,
    /// Largest JSONL file indexed.
    pub max_jsonl_file_bytes: u64,
    /// Largest Parquet footer (metadata) read.
    pub max_footer_bytes: u64,
    /// Largest row group or column chunk (compressed or uncompressed, as the footer says).
    pub max_row_group_bytes: u64,
    /// Most data files in one dataset.
    pub max_files: usize,
    /// Datasets (repo, commit) whose index is cached.
    pub cached_indexes: usize,
}

impl Default for DatasetsLimits {
    fn default() -> DatasetsLimits {
        DatasetsLimits {
            max_row_bytes: 1 << 20,
            max_response_bytes: 16 << 20,
            max_jsonl_file_bytes: 256 << 20,
            max_footer_bytes: 16 << 20,
            max_row_group_bytes: 512 << 20,
            max_files: 10_000,
            cached_indexes: 64,
        }
    }
}

/// Why a split cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum TableError {
    /// The file is not valid Parquet/JSONL, or claims sizes over the limits.
    #[error("cannot read {path}: {message}")]
    File {
        /// Path in the repository.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A row or the page is over the byte caps.
    #[error("{0}")]
    TooBig(String),
}

fn file_err(path: &str, message: impl ToString) -> TableError {
    TableError::File {
        path: path.to_string(),
        message: message.to_string(),
    }
}

/// The format of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Parquet,
    Jsonl,
}

/// One data file of a split, located in the blob store.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    /// Path in the repository.
    pub path: String,
    /// Where its bytes are.
    pub blob: PathBuf,
    /// Its size.
    pub size: u64,
}

/// An indexed data file.
#[derive(Debug, Clone)]
enum Indexed {
    Parquet {
        source: SourceFile,
        /// Rows of each row group.
        row_groups: Vec<u64>,
    },
    Jsonl {
        source: SourceFile,
        /// Byte offset of line `k * JSONL_CHECKPOINT_EVERY` (of non-blank lines).
        checkpoints: Vec<u64>,
    },
}

impl Indexed {
    fn rows(&self) -> u64 {
        match self {
            Indexed::Parquet { row_groups, .. } => row_groups.iter().sum(),
            Indexed::Jsonl { checkpoints, .. } => checkpoints.last().copied().unwrap_or(0),
        }
    }
}

/// An indexed file, its features (column name and type) and its in-memory size estimate.
type IndexedFile = (Indexed, Vec<(String, Value)>, u64);

/// A served row: its index in the split and its columns.
pub(crate) type Row = (u64, Map<String, Value>);

/// A split read as one table: its files in path order.
#[derive(Debug, Clone)]
pub(crate) struct SplitTable {
    files: Vec<(Indexed, u64)>,
    /// Rows over every file.
    pub num_rows: u64,
    /// Column name and `datasets` feature type, from the first file.
    pub features: Vec<(String, Value)>,
    /// Bytes of the Parquet files.
    pub parquet_bytes: u64,
    /// Bytes of the JSONL files.
    pub jsonl_bytes: u64,
    /// Uncompressed Parquet bytes (footer totals) plus JSONL bytes.
    pub memory_bytes: u64,
}

/// Indexes the files of one split (already sorted by path, all of one format).
pub(crate) fn index_split(
    format: Format,
    sources: &[SourceFile],
    limits: &DatasetsLimits,
) -> Result<SplitTable, TableError> {
    let mut table = SplitTable {
        files: Vec::with_capacity(sources.len()),
        num_rows: 0,
        features: Vec::new(),
        parquet_bytes: 0,
        jsonl_bytes: 0,
        memory_bytes: 0,
    };
    for source in sources {
        let (indexed, features, memory) = match format {
            Format::Parquet => index_parquet(source, limits)?,
            Format::Jsonl => index_jsonl(source, limits)?,
        };
        if table.files.is_empty() {
            table.features = features;
        }
        match format {
            Format::Parquet => table.parquet_bytes += source.size,
            Format::Jsonl => table.jsonl_bytes += source.size,
        }
        table.memory_bytes += memory;
        let rows = indexed.rows();
        table.files.push((indexed, table.num_rows));
        table.num_rows += rows;
    }
    Ok(table)
}

/// Reads the Parquet footer after checking it against the limits.
fn open_parquet(
    source: &SourceFile,
    limits: &DatasetsLimits,
) -> Result<SerializedFileReader<File>, TableError> {
    let path = source.path.as_str();
    let mut file = File::open(&source.blob).map_err(|e| file_err(path, e))?;
    let len = file.metadata().map_err(|e| file_err(path, e))?.len();
    if len < 12 {
        return Err(file_err(
            path,
            format!("{len} bytes is too short for Parquet"),
        ));
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| file_err(path, e))?;
    if &tail[4..] != b"PAR1" {
        return Err(file_err(path, "no Parquet magic at the end (truncated?)"));
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer > limits.max_footer_bytes || footer + 12 > len {
        return Err(file_err(
            path,
            format!(
                "footer claims {footer} bytes (file {len} bytes, limit {})",
                limits.max_footer_bytes
            ),
        ));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| file_err(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| file_err(path, e))?;
    let cap = limits.max_row_group_bytes;
    for (i, group) in reader.metadata().row_groups().iter().enumerate() {
        let sizes = [group.compressed_size(), group.total_byte_size()];
        if group.num_rows() < 0 || sizes.iter().any(|s| *s < 0 || *s as u64 > cap) {
            return Err(file_err(
                path,
                format!(
                    "row group {i} claims {sizes:?} bytes, {} rows (limit {cap} bytes)",
                    group.num_rows()
                ),
            ));
        }
        for column in group.columns() {
            let (start, length) = column.byte_range();
            let uncompressed = column.uncompressed_size();
            if length > cap
                || uncompressed < 0
                || uncompressed as u64 > cap
                || start.checked_add(length).is_none_or(|end| end > len)
            {
                return Err(file_err(
                    path,
                    format!(
                        "column chunk {} of row group {i} claims bytes {start}+{length} \
                         ({uncompressed} uncompressed) in a file of {len} (limit {cap})",
                        column.column_path()
                    ),
                ));
            }
        }
    }
    Ok(reader)
}

fn index_parquet(source: &SourceFile, limits: &DatasetsLimits) -> Result<IndexedFile, TableError> {
    let reader = open_parquet(source, limits)?;
    let meta = reader.metadata();
    let row_groups: Vec<u64> = meta
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as u64)
        .collect();
    let memory = meta
        .row_groups()
        .iter()
        .map(|g| g.total_byte_size() as u64)
        .sum();
    let features = meta
        .file_metadata()
        .schema()
        .get_fields()
        .iter()
        .map(|field| (field.name().to_string(), feature_of(field)))
        .collect();
    Ok((
        Indexed::Parquet {
            source: source.clone(),
            row_groups,
        },
        features,
        memory,
    ))
}

fn value_type(dtype: &str) -> Value {
    json!({"dtype": dtype, "_type": "Value"})
}

/// The `datasets` feature type of a Parquet schema node.
fn feature_of(node: &Type) -> Value {
    let info = node.get_basic_info();
    let logical = info.logical_type_ref();
    if node.is_group() {
        let fields = node.get_fields();
        let is_list = matches!(logical, Some(LogicalType::List))
            || info.converted_type() == ConvertedType::LIST;
        if is_list {
            // Three-level list: `group (LIST) { repeated group list { element } }`; the two-level
            // legacy form repeats the element itself.
            let inner = match fields.first() {
                Some(repeated) if repeated.is_group() && repeated.get_fields().len() == 1 => {
                    feature_of(&repeated.get_fields()[0])
                }
                Some(repeated) => feature_of(repeated),
                None => value_type("null"),
            };
            return json!({"feature": inner, "_type": "List"});
        }
        let mut map = Map::new();
        for field in fields {
            map.insert(field.name().to_string(), feature_of(field));
        }
        return Value::Object(map);
    }
    let dtype = match (node.get_physical_type(), logical) {
        (_, Some(LogicalType::String | LogicalType::Enum | LogicalType::Json)) => "string",
        (PhysicalType::BYTE_ARRAY, _) if info.converted_type() == ConvertedType::UTF8 => "string",
        (_, Some(LogicalType::Integer(int))) => match (int.bit_width, int.is_signed) {
            (8, true) => "int8",
            (16, true) => "int16",
            (32, true) => "int32",
            (8, false) => "uint8",
            (16, false) => "uint16",
            (32, false) => "uint32",
            (_, false) => "uint64",
            _ => "int64",
        },
        (_, Some(LogicalType::Date)) => "date32",
        (_, Some(LogicalType::Timestamp { .. })) => "timestamp[us]",
        (_, Some(LogicalType::Float16)) => "float16",
        (PhysicalType::BOOLEAN, _) => "bool",
        (PhysicalType::INT32, _) => "int32",
        (PhysicalType::INT64, _) => "int64",
        (PhysicalType::FLOAT, _) => "float32",
        (PhysicalType::DOUBLE, _) => "float64",
        _ => "binary",
    };
    let mut feature = value_type(dtype);
    if node.is_primitive()
        && info.has_repetition()
        && info.repetition() == parquet::basic::Repetition::REPEATED
    {
        feature = json!({"feature": feature, "_type": "List"});
    }
    feature
}

/// The `datasets` feature type of a JSON value (JSONL files, from their first row).
fn feature_of_json(value: &Value) -> Value {
    match value {
        Value::Null => value_type("null"),
        Value::Bool(_) => value_type("bool"),
        Value::Number(n) if n.is_i64() || n.is_u64() => value_type("int64"),
        Value::Number(_) => value_type("float64"),
        Value::String(_) => value_type("string"),
        Value::Array(items) => {
            let inner = items
                .first()
                .map(feature_of_json)
                .unwrap_or_else(|| value_type("null"));
            json!({"feature": inner, "_type": "List"})
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), feature_of_json(v)))
                .collect(),
        ),
    }
}

/// Reads one line of at most `cap` bytes (without the newline) into `line`; `Ok(false)` at the
/// end of the file. A longer line is an error, and never held whole in memory.
fn read_line_capped(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    cap: usize,
    path: &str,
    row: u64,
) -> Result<bool, TableError> {
    line.clear();
    let mut any = false;
    loop {
        let buf = reader.fill_buf().map_err(|e| file_err(path, e))?;
        if buf.is_empty() {
            return Ok(any);
        }
        any = true;
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(at) => (at, true),
            None => (buf.len(), false),
        };
        if line.len() + take > cap {
            return Err(TableError::TooBig(format!(
                "row {row} of {path} is larger than this server's limit of {cap} bytes"
            )));
        }
        line.extend_from_slice(&buf[..take]);
        reader.consume(take + usize::from(done));
        if done {
            return Ok(true);
        }
    }
}

/// Skips one line without keeping it; `Ok(None)` at the end of the file, else whether the line
/// was blank and its length with the newline.
fn skip_line(reader: &mut impl BufRead, path: &str) -> Result<Option<(bool, u64)>, TableError> {
    let (mut blank, mut len, mut any) = (true, 0u64, false);
    loop {
        let buf = reader.fill_buf().map_err(|e| file_err(path, e))?;
        if buf.is_empty() {
            return Ok(any.then_some((blank, len)));
        }
        any = true;
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(at) => (at, true),
            None => (buf.len(), false),
        };
        blank &= buf[..take].iter().all(u8::is_ascii_whitespace);
        let step = take + usize::from(done);
        len += step as u64;
        reader.consume(step);
        if done {
            return Ok(Some((blank, len)));
        }
    }
}

/// Scans a JSONL file once: counts its non-blank lines, remembers checkpoints, infers the
/// features from the first row. Checkpoints end with the row count.
fn index_jsonl(source: &SourceFile, limits: &DatasetsLimits) -> Result<IndexedFile, TableError> {
    let path = source.path.as_str();
    if source.size > limits.max_jsonl_file_bytes {
        return Err(TableError::TooBig(format!(
            "{path} has {} bytes, over this server's JSONL limit of {} bytes",
            source.size, limits.max_jsonl_file_bytes
        )));
    }
    let file = File::open(&source.blob).map_err(|e| file_err(path, e))?;
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let mut features = Vec::new();
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut rows = 0u64;
    let mut checkpoints = vec![];
    // The first non-blank line is parsed for the features (within the row cap).
    loop {
        let start = offset;
        let step = if rows == 0 {
            if !read_line_capped(&mut reader, &mut line, limits.max_row_bytes, path, 0)? {
                break;
            }
            let len = line.len() as u64 + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                Some((true, len))
            } else {
                let value: Value = serde_json::from_slice(&line)
                    .map_err(|e| file_err(path, format!("row 0: {e}")))?;
                let Value::Object(map) = value else {
                    return Err(file_err(path, "row 0 is not a JSON object"));
                };
                features = map
                    .iter()
                    .map(|(k, v)| (k.clone(), feature_of_json(v)))
                    .collect();
                Some((false, len))
            }
        } else {
            skip_line(&mut reader, path)?
        };
        let Some((blank, len)) = step else { break };
        offset += len;
        if !blank {
            if rows.is_multiple_of(JSONL_CHECKPOINT_EVERY) {
                checkpoints.push(start);
            }
            rows += 1;
        }
    }
    // The last entry holds the row count (checkpoints are only read below it).
    checkpoints.push(rows);
    Ok((
        Indexed::Jsonl {
            source: source.clone(),
            checkpoints,
        },
        features,
        source.size,
    ))
}

/// Rows `offset..offset + length` of the split (fewer at its end), as JSON objects, with the
/// row and page byte caps applied.
pub(crate) fn read_rows(
    table: &SplitTable,
    offset: u64,
    length: u64,
    limits: &DatasetsLimits,
) -> Result<Vec<Row>, TableError> {
    let end = offset.saturating_add(length).min(table.num_rows);
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut push = |row_idx: u64, row: Map<String, Value>, path: &str| {
        let size = serde_json::to_vec(&row)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > limits.max_row_bytes {
            return Err(TableError::TooBig(format!(
                "row {row_idx} ({path}) is {size} bytes, over this server's limit of {} bytes",
                limits.max_row_bytes
            )));
        }
        bytes += size;
        if bytes > limits.max_response_bytes {
            return Err(TableError::TooBig(format!(
                "rows {offset}..{end} are over this server's limit of {} bytes per answer: ask \
                 for fewer",
                limits.max_response_bytes
            )));
        }
        out.push((row_idx, row));
        Ok(())
    };
    for (file, first) in &table.files {
        let file_end = first + file.rows();
        if file_end <= offset || *first >= end {
            continue;
        }
        // Wanted rows of this file, relative to its start.
        let (from, to) = (offset.max(*first) - first, end.min(file_end) - first);
        match file {
            Indexed::Parquet { source, row_groups } => {
                let reader = open_parquet(source, limits)?;
                let mut group_start = 0u64;
                for (g, group_rows) in row_groups.iter().enumerate() {
                    let group_end = group_start + group_rows;
                    if group_end <= from || group_start >= to {
                        group_start = group_end;
                        continue;
                    }
                    let group = reader
                        .get_row_group(g)
                        .map_err(|e| file_err(&source.path, e))?;
                    let rows = group
                        .get_row_iter(None)
                        .map_err(|e| file_err(&source.path, e))?;
                    let skip = from.saturating_sub(group_start);
                    let mut index = group_start;
                    for row in rows {
                        let row = row.map_err(|e| file_err(&source.path, e))?;
                        if index >= group_start + skip && index < to {
                            let Value::Object(map) = row.to_json_value() else {
                                return Err(file_err(&source.path, "row is not a record"));
                            };
                            push(first + index, map, &source.path)?;
                        }
                        index += 1;
                        if index >= to {
                            break;
                        }
                    }
                    if index < to.min(group_end) {
                        return Err(file_err(
                            &source.path,
                            format!(
                                "row group {g} ends after {} of its {group_rows} rows",
                                index - group_start
                            ),
                        ));
                    }
                    group_start = group_end;
                }
            }
            Indexed::Jsonl {
                source,
                checkpoints,
            } => {
                let path = source.path.as_str();
                let k = (from / JSONL_CHECKPOINT_EVERY) as usize;
                let start = checkpoints
                    .get(k)
                    .copied()
                    .ok_or_else(|| file_err(path, "index out of range"))?;
                let mut file = File::open(&source.blob).map_err(|e| file_err(path, e))?;
                file.seek(SeekFrom::Start(start))
                    .map_err(|e| file_err(path, e))?;
                let mut reader = BufReader::with_capacity(64 << 10, file);
                let mut index = k as u64 * JSONL_CHECKPOINT_EVERY;
                let mut line = Vec::new();
                while index < to {
                    if index < from {
                        match skip_line(&mut reader, path)? {
                            None => break,
                            Some((true, _)) => continue,
                            Some((false, _)) => {
                                index += 1;
                                continue;
                            }
                        }
                    }
                    let row_idx = first + index;
                    if !read_line_capped(
                        &mut reader,
                        &mut line,
                        limits.max_row_bytes,
                        path,
                        row_idx,
                    )? {
                        break;
                    }
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let value: Value = serde_json::from_slice(&line)
                        .map_err(|e| file_err(path, format!("row {row_idx}: {e}")))?;
                    let Value::Object(map) = value else {
                        return Err(file_err(
                            path,
                            format!("row {row_idx} is not a JSON object"),
                        ));
                    };
                    push(row_idx, map, path)?;
                    index += 1;
                }
                if index < to {
                    return Err(file_err(path, "file changed since it was indexed"));
                }
            }
        }
    }
    Ok(out)
}
