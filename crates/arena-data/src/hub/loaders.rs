//! One loader per hub row layout: pure functions from a [`HubRow`] to a [`Sample`], or a typed
//! [`RowError`] saying why the row is dropped. They follow Subnet 37's extraction rules
//! (`finetune/datasets/hugging_face/*`), with the choices below where arena differs.
//!
//! * [`text_document`]: FineWeb's `text` or RefinedWeb's `content`: one document (prompt
//!   empty, response = the text), for `text_loss`. Blank documents are dropped.
//! * [`synthetic_1_sft`]: PrimeIntellect SYNTHETIC-1-SFT. Rows whose `task_type` is neither
//!   `verifiable_math` nor `code_output_prediction` are dropped. Question = `messages[0]`;
//!   the assistant text is the last `assistant` message.
//!   - math: the answer is the content of the last `\boxed{…}`. **Arena matches braces**:
//!     `\boxed{\frac{1}{2}}` gives `\frac{1}{2}`, where SN37's non-greedy regex would cut it to
//!     `\frac{1` and score a reference with a broken answer. Nested boxes count as one (the
//!     outermost). The trace is the assistant text before the last occurrence of
//!     `\boxed{answer}`; reference = `trace.trim() + " \boxed{" + answer + "}"`.
//!   - code: the answer is the string of the last `{"output": "…"}` object (its JSON escapes
//!     kept as written); the trace is the assistant text with the first occurrence of that
//!     object's text removed; reference = `trace.trim() + " {\"output\": \"" + answer + "\"}"`.
//! * [`codeforces_cots`]: open-r1 codeforces-cots: exactly two messages, user then assistant;
//!   question = user, reference = the assistant text trimmed; dropped when
//!   `chars(q)/4 + chars(t)/4 + 10 > 16 384` (SN37's token estimate, from v3.0.5; arena
//!   applies it to every entry).
//! * [`macrobench_row`]: SN1 Macrobench (`challenge`, `reference` ∈ A–D, `hotkey`); what a row
//!   becomes is [`super::macrobench`]'s business.
//!
//! Every text cell is capped at [`MAX_CELL_BYTES`], and a cell the server truncated is never
//! used ([`RowError::Truncated`]).

use serde_json::Value;

use super::HubRow;
use crate::sample::Sample;

/// Largest text cell a loader accepts (1 MiB); longer cells drop the row.
pub const MAX_CELL_BYTES: usize = 1 << 20;

/// SN37's Codeforces cap on `len(q)//4 + len(t)//4 + 10` (a token estimate).
pub const CODEFORCES_MAX_TOKENS: u64 = 16_384;

/// The SYNTHETIC-1 task types SN37 keeps.
pub const SYNTHETIC_1_TASK_TYPES: [&str; 2] = ["verifiable_math", "code_output_prediction"];

/// Why a row was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// A field the layout needs is absent.
    #[error("missing field `{0}`")]
    Missing(String),
    /// A field has another JSON type than the layout's.
    #[error("field `{field}` is {found}, not {expected}")]
    WrongType {
        /// The field (with its path inside the row, `messages[1].content`).
        field: String,
        /// The type the layout needs.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A text field is empty or only whitespace.
    #[error("field `{0}` is empty")]
    Empty(String),
    /// A text field is over [`MAX_CELL_BYTES`].
    #[error("field `{field}` is {bytes} bytes, over the {MAX_CELL_BYTES}-byte cap")]
    CellTooLarge {
        /// The field.
        field: String,
        /// Its length.
        bytes: usize,
    },
    /// The server truncated a cell the layout reads.
    #[error("cells truncated by the server: {0:?}")]
    Truncated(Vec<String>),
    /// SYNTHETIC-1: a task type SN37 does not score.
    #[error("task_type {0:?} is filtered out")]
    FilteredTaskType(String),
    /// SYNTHETIC-1 math: no balanced `\boxed{…}` in the assistant text.
    #[error("no \\boxed{{…}} answer")]
    NoBoxedAnswer,
    /// SYNTHETIC-1 code: no `{"output": "…"}` object in the assistant text.
    #[error("no {{\"output\": \"…\"}} answer")]
    NoOutputJson,
    /// The conversation has the wrong number of messages.
    #[error("{found} messages, expected {expected}")]
    MessageCount {
        /// What the layout needs.
        expected: &'static str,
        /// How many there are.
        found: usize,
    },
    /// A message has an unexpected role (or no assistant message exists).
    #[error("message {index} has role {found:?}, expected {expected:?}")]
    MessageRole {
        /// Index of the message.
        index: usize,
        /// The role needed.
        expected: &'static str,
        /// The role found (empty when there is no such message).
        found: String,
    },
    /// Codeforces: question and trace over SN37's token estimate.
    #[error("token estimate {estimate} over the cap of {cap}")]
    OverLengthCap {
        /// `len(q)//4 + len(t)//4 + 10`.
        estimate: u64,
        /// [`CODEFORCES_MAX_TOKENS`].
        cap: u64,
    },
    /// Macrobench: the reference is not one of A, B, C, D.
    #[error("reference {0:?} is not one of A, B, C, D")]
    BadReference(String),
    /// Macrobench: the challenge does not list options `A.`–`D.`.
    #[error("the challenge does not list options A. to D.")]
    NoChoices,
    /// Macrobench IFEval: the right option has fewer than two words.
    #[error("answer {0:?} has fewer than two words")]
    ShortAnswer(String),
    /// Macrobench: the hotkey is not an SS58 address.
    #[error("hotkey {0:?} is not an SS58 address")]
    BadHotkey(String),
    /// Macrobench: the hotkey is not a staked validator of the validator subnet.
    #[error("hotkey {0} is not a staked validator")]
    NotValidator(String),
}

impl RowError {
    /// A short stable name for counting drops by reason in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            RowError::Missing(_) => "missing",
            RowError::WrongType { .. } => "wrong_type",
            RowError::Empty(_) => "empty",
            RowError::CellTooLarge { .. } => "cell_too_large",
            RowError::Truncated(_) => "truncated",
            RowError::FilteredTaskType(_) => "filtered_task_type",
            RowError::NoBoxedAnswer => "no_boxed_answer",
            RowError::NoOutputJson => "no_output_json",
            RowError::MessageCount { .. } => "message_count",
            RowError::MessageRole { .. } => "message_role",
            RowError::OverLengthCap { .. } => "over_length_cap",
            RowError::BadReference(_) => "bad_reference",
            RowError::NoChoices => "no_choices",
            RowError::ShortAnswer(_) => "short_answer",
            RowError::BadHotkey(_) => "bad_hotkey",
            RowError::NotValidator(_) => "not_validator",
        }
    }
}

/// A sample id stable across validators: `dataset/config/split/row_idx`.
pub fn row_id(dataset: &str, config: &str, split: &str, row_idx: u64) -> String {
    format!("{dataset}/{config}/{split}/{row_idx}")
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn cell<'a>(row: &'a HubRow, field: &str) -> Result<&'a Value, RowError> {
    if row.truncated_cells.iter().any(|c| c == field) {
        return Err(RowError::Truncated(row.truncated_cells.clone()));
    }
    row.row
        .get(field)
        .ok_or_else(|| RowError::Missing(field.to_string()))
}

fn as_text<'a>(value: &'a Value, field: &str) -> Result<&'a str, RowError> {
    let text = value.as_str().ok_or_else(|| RowError::WrongType {
        field: field.to_string(),
        expected: "a string",
        found: json_type(value),
    })?;
    if text.len() > MAX_CELL_BYTES {
        return Err(RowError::CellTooLarge {
            field: field.to_string(),
            bytes: text.len(),
        });
    }
    Ok(text)
}

fn text_cell<'a>(row: &'a HubRow, field: &str) -> Result<&'a str, RowError> {
    as_text(cell(row, field)?, field)
}

fn non_blank<'a>(text: &'a str, field: &str) -> Result<&'a str, RowError> {
    if text.trim().is_empty() {
        return Err(RowError::Empty(field.to_string()));
    }
    Ok(text)
}

/// One chat message of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// `user`, `assistant`, `system`, …
    pub role: &'a str,
    /// The text.
    pub content: &'a str,
}

/// The row's `messages`: a list of `{role, content}` objects.
pub fn messages(row: &HubRow) -> Result<Vec<Message<'_>>, RowError> {
    let value = cell(row, "messages")?;
    let list = value.as_array().ok_or_else(|| RowError::WrongType {
        field: "messages".into(),
        expected: "an array",
        found: json_type(value),
    })?;
    let mut out = Vec::with_capacity(list.len().min(64));
    for (i, item) in list.iter().enumerate() {
        let object = item.as_object().ok_or_else(|| RowError::WrongType {
            field: format!("messages[{i}]"),
            expected: "an object",
            found: json_type(item),
        })?;
        let field = |name: &str| -> Result<&str, RowError> {
            let path = format!("messages[{i}].{name}");
            let value = object
                .get(name)
                .ok_or_else(|| RowError::Missing(path.clone()))?;
            as_text(value, &path)
        };
        out.push(Message {
            role: field("role")?,
            content: field("content")?,
        });
    }
    Ok(out)
}

/// A document for `text_loss` from the string column `field` (`text` or `content`).
pub fn text_document(row: &HubRow, field: &str, id: String) -> Result<Sample, RowError> {
    let text = non_blank(text_cell(row, field)?, field)?;
    Ok(Sample::new(id, "text", "", text))
}

/// The content of the last outermost balanced `\boxed{…}` of `text`, with the byte offset of
/// its `\boxed{`. One pass with a stack, so hostile text costs linear time.
pub fn boxed_answer(text: &str) -> Option<(usize, &str)> {
    const OPEN: &str = "\\boxed{";
    // Each open brace: (is it a `\boxed{` opener, byte offset of the `\` or the brace).
    let mut stack: Vec<(bool, usize)> = Vec::new();
    let mut boxed_open = 0usize;
    let mut last: Option<(usize, usize, usize)> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if text[i..].starts_with(OPEN) => {
                stack.push((true, i));
                boxed_open += 1;
                i += OPEN.len();
                continue;
            }
            b'{' => stack.push((false, i)),
            b'}' => {
                if let Some((is_box, start)) = stack.pop() {
                    if is_box {
                        boxed_open -= 1;
                        if boxed_open == 0 {
                            last = Some((start, start + OPEN.len(), i));
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    last.map(|(start, from, to)| (start, &text[from..to]))
}

/// The last `{"output": "…"}` object of `text`: its exact text and the string's raw contents
/// (escapes as written). Whitespace is allowed around the key, colon and value.
pub fn output_json(text: &str) -> Option<(&str, &str)> {
    const KEY: &str = "\"output\"";
    let bytes = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut found = None;
    let mut from = 0;
    while let Some(rel) = text[from..].find(KEY) {
        let key_at = from + rel;
        from = key_at + KEY.len();
        // `{` then optional whitespace before the key.
        let mut b = key_at;
        while b > 0 && bytes[b - 1].is_ascii_whitespace() {
            b -= 1;
        }
        if b == 0 || bytes[b - 1] != b'{' {
            continue;
        }
        let brace = b - 1;
        let mut i = skip_ws(from);
        if bytes.get(i) != Some(&b':') {
            continue;
        }
        i = skip_ws(i + 1);
        if bytes.get(i) != Some(&b'"') {
            continue;
        }
        let value_from = i + 1;
        // The string literal ends at the first unescaped quote.
        let mut j = value_from;
        while j < bytes.len() && bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        if j >= bytes.len() {
            continue;
        }
        let value_to = j;
        let close = skip_ws(j + 1);
        if bytes.get(close) != Some(&b'}') {
            continue;
        }
        found = Some((&text[brace..=close], &text[value_from..value_to]));
        from = close + 1;
    }
    found
}

/// A SYNTHETIC-1-SFT row as a reference-loss sample (see the module documentation).
pub fn synthetic_1_sft(row: &HubRow, id: String) -> Result<Sample, RowError> {
    let task_type = text_cell(row, "task_type")?;
    if !SYNTHETIC_1_TASK_TYPES.contains(&task_type) {
        return Err(RowError::FilteredTaskType(task_type.to_string()));
    }
    let messages = messages(row)?;
    if messages.len() < 2 {
        return Err(RowError::MessageCount {
            expected: "at least 2",
            found: messages.len(),
        });
    }
    let question = non_blank(messages[0].content, "messages[0].content")?;
    let assistant = messages
        .iter()
        .rev()
        .find(|m| m.role == "assistant")
        .ok_or(RowError::MessageRole {
            index: messages.len() - 1,
            expected: "assistant",
            found: messages[messages.len() - 1].role.to_string(),
        })?;
    let text = assistant.content;
    let reference = if task_type == "verifiable_math" {
        let (_, answer) = boxed_answer(text).ok_or(RowError::NoBoxedAnswer)?;
        let needle = format!("\\boxed{{{answer}}}");
        let cut = text.rfind(&needle).unwrap_or(0);
        format!("{} {needle}", text[..cut].trim())
    } else {
        let (object, answer) = output_json(text).ok_or(RowError::NoOutputJson)?;
        let trace = text.replacen(object, "", 1);
        format!("{} {{\"output\": \"{answer}\"}}", trace.trim())
    };
    Ok(Sample::new(id, "synthetic_1_sft", question, reference))
}

/// A codeforces-cots row as a reference-loss sample (see the module documentation).
pub fn codeforces_cots(row: &HubRow, id: String) -> Result<Sample, RowError> {
    let messages = messages(row)?;
    if messages.len() != 2 {
        return Err(RowError::MessageCount {
            expected: "exactly 2",
            found: messages.len(),
        });
    }
    for (index, expected) in [(0, "user"), (1, "assistant")] {
        if messages[index].role != expected {
            return Err(RowError::MessageRole {
                index,
                expected,
                found: messages[index].role.to_string(),
            });
        }
    }
    let question = non_blank(messages[0].content, "messages[0].content")?;
    let trace = non_blank(messages[1].content, "messages[1].content")?;
    let estimate = (question.chars().count() / 4 + trace.chars().count() / 4 + 10) as u64;
    if estimate > CODEFORCES_MAX_TOKENS {
        return Err(RowError::OverLengthCap {
            estimate,
            cap: CODEFORCES_MAX_TOKENS,
        });
    }
    Ok(Sample::new(id, "codeforces_cots", question, trace.trim()))
}

/// The fields of a Macrobench row that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacrobenchRow {
    /// The question with its options `A.`–`D.` in the text.
    pub challenge: String,
    /// The right letter, `A`–`D`.
    pub reference: String,
    /// SS58 address of the SN1 validator that wrote the row.
    pub hotkey: String,
}

/// Reads a Macrobench row: `challenge` (non-blank), `reference` ∈ {A, B, C, D} (surrounding
/// whitespace ignored), `hotkey` (a string; checked against the chain elsewhere).
pub fn macrobench_row(row: &HubRow) -> Result<MacrobenchRow, RowError> {
    let challenge = non_blank(text_cell(row, "challenge")?, "challenge")?;
    let reference = text_cell(row, "reference")?.trim();
    if !["A", "B", "C", "D"].contains(&reference) {
        return Err(RowError::BadReference(reference.to_string()));
    }
    let hotkey = text_cell(row, "hotkey")?;
    Ok(MacrobenchRow {
        challenge: challenge.to_string(),
        reference: reference.to_string(),
        hotkey: hotkey.to_string(),
    })
}
