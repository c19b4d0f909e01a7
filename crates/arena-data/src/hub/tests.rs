//! Tests of the hub loaders, paging and source, over an in-memory rows API with rows in each
//! dataset's real schema.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arena_core::competition::{EvalMethod, HubDataset, HubFormat, MultipleChoiceMode, Schedule};
use arena_core::seed::Seed;
use arena_keys::PublicKey;
use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::loaders::{self, RowError};
use super::macrobench::{self, QuestionAnswer};
use super::paging::{config_table, PagePlan};
use super::*;
use crate::accept::StaticStakes;
use crate::source::{DataSource, DrawRequest};
use crate::sources::{schedule_sources, source_key, HubSettings};

type Failure = Box<dyn Fn(&str, u64) -> Option<DataError> + Send + Sync>;

/// The datasets-server in memory: a size listing, tables of rows, a log of every request and
/// an optional failure per (config, offset).
struct MemoryRows {
    splits: Vec<SplitRows>,
    tables: HashMap<(String, String), Vec<Map<String, Value>>>,
    truncated: Vec<String>,
    requests: Mutex<Vec<(String, u64, u32)>>,
    fail: Option<Failure>,
}

impl MemoryRows {
    fn new() -> MemoryRows {
        MemoryRows {
            splits: Vec::new(),
            tables: HashMap::new(),
            truncated: Vec::new(),
            requests: Mutex::new(Vec::new()),
            fail: None,
        }
    }

    fn with(mut self, config: &str, split: &str, rows: Vec<Map<String, Value>>) -> Self {
        self.splits.push(SplitRows {
            config: config.into(),
            split: split.into(),
            num_rows: rows.len() as u64,
        });
        self.tables.insert((config.into(), split.into()), rows);
        self
    }

    fn failing(
        mut self,
        fail: impl Fn(&str, u64) -> Option<DataError> + Send + Sync + 'static,
    ) -> Self {
        self.fail = Some(Box::new(fail));
        self
    }

    fn requests(&self) -> Vec<(String, u64, u32)> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl RowsApi for MemoryRows {
    async fn splits(&self, _dataset: &str) -> Result<Vec<SplitRows>, DataError> {
        Ok(self.splits.clone())
    }

    async fn rows(
        &self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u32,
    ) -> Result<Vec<HubRow>, DataError> {
        self.requests
            .lock()
            .unwrap()
            .push((config.to_string(), offset, length));
        if length > MAX_ROWS_PER_REQUEST {
            return Err(HubError::Malformed {
                dataset: dataset.into(),
                reason: format!("length {length} over 100"),
            }
            .into());
        }
        if let Some(error) = self.fail.as_ref().and_then(|f| f(config, offset)) {
            return Err(error);
        }
        let table = self
            .tables
            .get(&(config.to_string(), split.to_string()))
            .ok_or_else(|| HubError::Unavailable {
                dataset: dataset.into(),
                reason: "404".into(),
            })?;
        Ok(table
            .iter()
            .enumerate()
            .skip(offset as usize)
            .take(length as usize)
            .map(|(i, row)| HubRow {
                row_idx: i as u64,
                row: row.clone(),
                truncated_cells: self.truncated.clone(),
            })
            .collect())
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

fn hub_row(value: Value) -> HubRow {
    HubRow {
        row_idx: 7,
        row: object(value),
        truncated_cells: Vec::new(),
    }
}

fn fineweb(i: usize, dump: &str) -> Map<String, Value> {
    object(json!({
        "text": format!("Document {i} of {dump}. The quick brown fox jumps over the lazy dog."),
        "id": format!("<urn:uuid:{i:08}-0000-0000-0000-000000000000>"),
        "dump": dump,
        "url": format!("https://example.org/{dump}/{i}"),
        "file_path": format!("s3://commoncrawl/crawl-data/{dump}/{i}.warc.gz"),
        "language": "en",
        "language_score": 0.97,
        "token_count": 14,
        "score": 2.71875,
        "int_score": 3,
    }))
}

fn synthetic(task_type: &str, question: &str, assistant: &str) -> Map<String, Value> {
    object(json!({
        "problem_id": "synthetic_math_12345",
        "source": "PrimeIntellect/SYNTHETIC-1",
        "task_type": task_type,
        "in_source_id": "12345",
        "prompt": question,
        "gold_standard_solution": "42",
        "verification_info": "{\"ground_truth\": \"42\"}",
        "metadata": "{}",
        "llm_response": assistant,
        "response_id": "r-1",
        "model_name": "deepseek-ai/DeepSeek-R1",
        "generation_config": {"temperature": 0.6},
        "score": 1.0,
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": assistant},
        ],
    }))
}

fn codeforces(messages: Value) -> Map<String, Value> {
    object(json!({
        "id": "1971/A",
        "aliases": null,
        "contest_id": "1971",
        "contest_name": "Codeforces Round 944 (Div. 4)",
        "contest_type": "ICPC",
        "contest_start": 1715351700,
        "contest_start_year": 2024,
        "index": "A",
        "time_limit": 1.0,
        "memory_limit": 256.0,
        "title": "My First Sorting Problem",
        "rating": 800,
        "tags": ["implementation", "sorting"],
        "messages": messages,
    }))
}

fn macro_row(challenge: &str, reference: &str, hotkey: &str) -> Map<String, Value> {
    object(json!({
        "challenge": challenge,
        "reference": reference,
        "id": "7e0c5a3f-1d1f-4a43-9c8e-0d5ad3e7c1f2",
        "hotkey": hotkey,
        "timestamp": "2025-02-20T10:31:07.000Z",
    }))
}

fn spec(repo: &str, format: HubFormat, pages: u32, rows_per_page: u32) -> HubDataset {
    HubDataset {
        repo: repo.into(),
        revision: None,
        config: None,
        split: None,
        format,
        pages: Some(pages),
        rows_per_page: Some(rows_per_page),
    }
}

fn request(seed: u8, count: usize) -> DrawRequest {
    DrawRequest {
        seed: Seed([seed; 32]),
        count,
        now_ms: 0,
        not_before_ms: 0,
    }
}

const TEXT_LOSS: EvalMethod = EvalMethod::TextLoss {
    mode: arena_core::competition::TextLossMode::Packed,
};

// ---- loaders ---------------------------------------------------------------------------

#[test]
fn math_answer_keeps_nested_braces_and_the_trace_ends_before_it() {
    let assistant = "<think>Half of one is \\frac{1}{2}; a first guess was \\boxed{2}.</think>\nSo the answer is \\boxed{\\frac{1}{2}}.";
    let row = hub_row(json!(synthetic(
        "verifiable_math",
        "What is half of 1?",
        assistant
    )));
    let sample = loaders::synthetic_1_sft(&row, "id-1".into()).unwrap();
    assert_eq!(sample.prompt, "What is half of 1?");
    assert_eq!(sample.task, "synthetic_1_sft");
    // SN37's non-greedy regex would give `\frac{1`; arena keeps the whole answer, and the
    // text after the box (".") is not part of the reference.
    assert_eq!(
        sample.response,
        "<think>Half of one is \\frac{1}{2}; a first guess was \\boxed{2}.</think>\nSo the answer is \\boxed{\\frac{1}{2}}"
    );
    assert_eq!(
        loaders::boxed_answer("x \\boxed{\\boxed{7}} y").map(|(_, a)| a),
        Some("\\boxed{7}")
    );
    assert_eq!(
        loaders::boxed_answer("\\boxed{1}\nthen \\boxed{2").map(|(_, a)| a),
        Some("1")
    );
    assert_eq!(
        loaders::boxed_answer("a \\boxed{x^{2}+\\{y\\}} b"),
        Some((2, "x^{2}+\\{y\\}"))
    );
    assert_eq!(loaders::boxed_answer("no box {here}"), None);
}

#[test]
fn code_answer_is_the_last_output_json_and_the_first_copy_leaves_the_trace() {
    let assistant = "<think>The loop doubles each item.</think>\n{\"output\": \"[2, 4]\"}\nFinal: {\"output\": \"[2, 4]\"}";
    let row = hub_row(json!(synthetic(
        "code_output_prediction",
        "What does f([1, 2]) print?",
        assistant
    )));
    let sample = loaders::synthetic_1_sft(&row, "id".into()).unwrap();
    assert_eq!(
        sample.response,
        "<think>The loop doubles each item.</think>\n\nFinal: {\"output\": \"[2, 4]\"} {\"output\": \"[2, 4]\"}"
    );
    // Escapes are kept as written, so the reference holds valid JSON again.
    let text = "x {\"output\": \"say \\\"hi\\\" \\\\ now\"} y";
    assert_eq!(
        loaders::output_json(text),
        Some((
            "{\"output\": \"say \\\"hi\\\" \\\\ now\"}",
            "say \\\"hi\\\" \\\\ now"
        ))
    );
    assert_eq!(loaders::output_json("{\"output\": 5}"), None);
    assert_eq!(loaders::output_json("{\"result\": \"5\"}"), None);
}

#[test]
fn synthetic_rows_are_filtered_with_typed_errors() {
    let filtered = hub_row(json!(synthetic(
        "llm_judgeable_groundtruth_similarity",
        "Q",
        "A"
    )));
    assert_eq!(
        loaders::synthetic_1_sft(&filtered, "i".into()),
        Err(RowError::FilteredTaskType(
            "llm_judgeable_groundtruth_similarity".into()
        ))
    );
    let unboxed = hub_row(json!(synthetic("verifiable_math", "Q", "It is 4.")));
    assert_eq!(
        loaders::synthetic_1_sft(&unboxed, "i".into()),
        Err(RowError::NoBoxedAnswer)
    );
    let no_json = hub_row(json!(synthetic(
        "code_output_prediction",
        "Q",
        "It prints 4."
    )));
    assert_eq!(
        loaders::synthetic_1_sft(&no_json, "i".into()),
        Err(RowError::NoOutputJson)
    );
    let mut bad = synthetic("verifiable_math", "Q", "\\boxed{1}");
    bad["messages"][1]["content"] = json!(12);
    assert_eq!(
        loaders::synthetic_1_sft(&hub_row(Value::Object(bad)), "i".into()),
        Err(RowError::WrongType {
            field: "messages[1].content".into(),
            expected: "a string",
            found: "a number",
        })
    );
    let mut no_type = synthetic("verifiable_math", "Q", "\\boxed{1}");
    no_type.remove("task_type");
    assert_eq!(
        loaders::synthetic_1_sft(&hub_row(Value::Object(no_type)), "i".into()),
        Err(RowError::Missing("task_type".into()))
    );
}

#[test]
fn codeforces_needs_two_messages_and_respects_the_length_cap() {
    let ok = hub_row(json!(codeforces(json!([
        {"role": "user", "content": "Sort three numbers."},
        {"role": "assistant", "content": "<think>Use sort.</think>\n```cpp\nint main(){}\n```\n"},
    ]))));
    let sample = loaders::codeforces_cots(&ok, "cf".into()).unwrap();
    assert_eq!(sample.prompt, "Sort three numbers.");
    assert_eq!(
        sample.response,
        "<think>Use sort.</think>\n```cpp\nint main(){}\n```"
    );
    let three = hub_row(json!(codeforces(json!([
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]))));
    assert_eq!(
        loaders::codeforces_cots(&three, "cf".into()),
        Err(RowError::MessageCount {
            expected: "exactly 2",
            found: 3
        })
    );
    let swapped = hub_row(json!(codeforces(json!([
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "b"},
    ]))));
    assert!(matches!(
        loaders::codeforces_cots(&swapped, "cf".into()),
        Err(RowError::MessageRole { index: 0, .. })
    ));
    // 32 748 / 4 + 32 748 / 4 + 10 = 16 384: kept; four more characters make 16 385.
    let sized = |q: usize, t: usize| {
        hub_row(json!(codeforces(json!([
            {"role": "user", "content": "q".repeat(q)},
            {"role": "assistant", "content": "t".repeat(t)},
        ]))))
    };
    assert!(loaders::codeforces_cots(&sized(32_748, 32_748), "cf".into()).is_ok());
    assert_eq!(
        loaders::codeforces_cots(&sized(32_748, 32_752), "cf".into()),
        Err(RowError::OverLengthCap {
            estimate: 16_385,
            cap: 16_384
        })
    );
    // Characters, not bytes: 4-byte characters count once.
    assert!(loaders::codeforces_cots(&sized(1, 1), "cf".into()).is_ok());
    let wide = hub_row(json!(codeforces(json!([
        {"role": "user", "content": "😀".repeat(32_748)},
        {"role": "assistant", "content": "t".repeat(32_748)},
    ]))));
    assert!(loaders::codeforces_cots(&wide, "cf".into()).is_ok());
}

#[test]
fn text_rows_give_documents_and_bad_cells_give_typed_errors() {
    let row = hub_row(Value::Object(fineweb(3, "CC-MAIN-2024-10")));
    let doc = loaders::text_document(&row, "text", "d".into()).unwrap();
    assert_eq!(doc.prompt, "");
    assert_eq!(
        doc.response,
        "Document 3 of CC-MAIN-2024-10. The quick brown fox jumps over the lazy dog."
    );
    assert_eq!(doc.task, "text");
    assert_eq!(
        loaders::text_document(&row, "content", "d".into()),
        Err(RowError::Missing("content".into()))
    );
    let mut typed = fineweb(3, "x");
    typed["text"] = json!(["not", "text"]);
    assert_eq!(
        loaders::text_document(&hub_row(Value::Object(typed)), "text", "d".into()),
        Err(RowError::WrongType {
            field: "text".into(),
            expected: "a string",
            found: "an array"
        })
    );
    let mut cut = hub_row(Value::Object(fineweb(3, "x")));
    cut.truncated_cells = vec!["text".into()];
    assert_eq!(
        loaders::text_document(&cut, "text", "d".into()),
        Err(RowError::Truncated(vec!["text".into()]))
    );
    let mut huge = fineweb(3, "x");
    huge["text"] = json!("a".repeat(loaders::MAX_CELL_BYTES + 1));
    assert!(matches!(
        loaders::text_document(&hub_row(Value::Object(huge)), "text", "d".into()),
        Err(RowError::CellTooLarge { .. })
    ));
    let mut blank = fineweb(3, "x");
    blank["text"] = json!("  \n");
    assert_eq!(
        loaders::text_document(&hub_row(Value::Object(blank)), "text", "d".into()),
        Err(RowError::Empty("text".into()))
    );
}

const PLANETS: &str = "Which planet is the largest in the Solar System?\nA. Mars, the red planet\nB. Jupiter, the gas giant\nC. Venus\nD. Earth\nAnswer:";

#[test]
fn macrobench_rows_become_choice_questions_and_qa_pairs() {
    let key = PublicKey([1; 32]).ss58();
    let row =
        loaders::macrobench_row(&hub_row(Value::Object(macro_row(PLANETS, " B ", &key)))).unwrap();
    assert_eq!(row.reference, "B");
    let sample = macrobench::choice_sample(&row, "m/1".into()).unwrap();
    assert_eq!(sample.prompt, PLANETS);
    assert_eq!(sample.answer.as_deref(), Some("B"));
    assert_eq!(sample.response, "B");
    assert_eq!(
        sample.choices.unwrap(),
        [
            "Mars, the red planet",
            "Jupiter, the gas giant",
            "Venus",
            "Earth"
        ]
    );
    let qa = macrobench::question_answer(&row, "m/1".into()).unwrap();
    assert_eq!(
        qa.question,
        "Which planet is the largest in the Solar System?"
    );
    assert_eq!(qa.answer, "Jupiter, the gas giant");
    // One-word answers are too short for IFEval (SN37's parser drops them).
    let short =
        loaders::macrobench_row(&hub_row(Value::Object(macro_row(PLANETS, "C", &key)))).unwrap();
    assert_eq!(
        macrobench::question_answer(&short, "m".into()),
        Err(RowError::ShortAnswer("Venus".into()))
    );
    assert_eq!(
        loaders::macrobench_row(&hub_row(Value::Object(macro_row(PLANETS, "E", &key)))),
        Err(RowError::BadReference("E".into()))
    );
    let optionless = loaders::macrobench_row(&hub_row(Value::Object(macro_row(
        "What is 2 + 2?",
        "A",
        &key,
    ))))
    .unwrap();
    assert_eq!(
        macrobench::choice_sample(&optionless, "m".into()),
        Err(RowError::NoChoices)
    );
    // "A. " inside the question is not taken for the options (the last markers win).
    let (question, options) =
        macrobench::parse_options("Grade A. students ask: which is even?\nA. 1\nB. 2\nC. 3\nD. 5")
            .unwrap();
    assert_eq!(question, "Grade A. students ask: which is even?");
    assert_eq!(options, ["1", "2", "3", "5"].map(String::from));
}

#[test]
fn if_eval_pairs_share_their_rule_kinds_and_ask_neighbouring_questions() {
    let qa: Vec<QuestionAnswer> = (0..5)
        .map(|i| QuestionAnswer {
            id: format!("q{i}"),
            question: format!("Question number {i}?"),
            answer: format!("Volcanic islands form number {i} archipelagos"),
        })
        .collect();
    let seed = Seed([3; 32]);
    let samples = macrobench::if_eval_pairs(&qa, 20, &seed, "s");
    // min(20, 5 − 1) pairs.
    assert_eq!(samples.len(), 8);
    for pair in 0..4 {
        let (a, b) = (&samples[2 * pair], &samples[2 * pair + 1]);
        assert!(a
            .prompt
            .ends_with(&format!("\n\n\"Question number {pair}?\"\n")));
        assert!(b
            .prompt
            .ends_with(&format!("\n\n\"Question number {}?\"\n", pair + 1)));
        assert!(a.prompt.starts_with(
            "Please answer the question below, denoted between quotes. Your response must follow these rules:\n1. "
        ));
        let (ra, rb) = (a.rules.as_ref().unwrap(), b.rules.as_ref().unwrap());
        assert!((2..=5).contains(&ra.len()));
        let kinds =
            |r: &Vec<crate::tasks::if_eval::IfRule>| r.iter().map(|x| x.kind()).collect::<Vec<_>>();
        assert_eq!(kinds(ra), kinds(rb));
        for (i, x) in ra.iter().enumerate() {
            for y in &ra[i + 1..] {
                assert!(x.kind().compatible(y.kind()), "{x:?} with {y:?}");
            }
        }
        assert_eq!(a.task, "if_eval");
        assert_eq!(a.response, qa[pair].answer);
    }
    assert_eq!(samples, macrobench::if_eval_pairs(&qa, 20, &seed, "s"));
    assert_ne!(
        samples,
        macrobench::if_eval_pairs(&qa, 20, &Seed([4; 32]), "s")
    );
    assert!(macrobench::if_eval_pairs(&qa[..1], 20, &seed, "s").is_empty());
}

// ---- paging ----------------------------------------------------------------------------

fn listing(entries: &[(&str, &str, u64)]) -> Vec<SplitRows> {
    entries
        .iter()
        .map(|(c, s, n)| SplitRows {
            config: c.to_string(),
            split: s.to_string(),
            num_rows: *n,
        })
        .collect()
}

#[test]
fn config_table_follows_sn37() {
    let size = listing(&[
        ("default", "train", 900),
        ("CC-MAIN-2024-10", "train", 500),
        ("CC-MAIN-2013-20", "test", 40),
        ("CC-MAIN-2013-20", "train", 300),
        ("empty", "train", 0),
    ]);
    let names = |t: Vec<paging::ConfigRows>| -> Vec<(String, String, u64)> {
        t.into_iter()
            .map(|c| (c.config, c.split, c.num_rows))
            .collect()
    };
    assert_eq!(
        names(config_table(&size, None, None)),
        [
            ("CC-MAIN-2013-20".to_string(), "train".to_string(), 300),
            ("CC-MAIN-2024-10".to_string(), "train".to_string(), 500),
        ]
    );
    assert_eq!(
        names(config_table(&size, None, Some("test"))),
        [("CC-MAIN-2013-20".to_string(), "test".to_string(), 40)]
    );
    assert_eq!(
        names(config_table(&size, Some("default"), None)),
        [("default".to_string(), "train".to_string(), 900)]
    );
    let single = listing(&[("default", "train", 10)]);
    assert_eq!(config_table(&single, None, None).len(), 1);
}

#[test]
fn pages_are_distinct_aligned_and_seeded() {
    let configs = config_table(
        &listing(&[("a", "train", 1000), ("b", "train", 1000)]),
        None,
        None,
    );
    let mut plan = PagePlan::new(configs.clone(), 50, &Seed([9; 32]), "t");
    let offset = plan.initial_offset();
    assert!(offset < 50);
    let pages: Vec<_> = (0..30).map(|_| plan.next_page().unwrap()).collect();
    let mut distinct: Vec<_> = pages.iter().map(|p| (&p.config, p.offset)).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 30);
    for page in &pages {
        assert_eq!((page.offset - offset) % 50, 0);
        assert!(page.offset + 50 <= 1000);
        assert_eq!(page.length, 50);
    }
    assert!(pages.iter().any(|p| p.config == "a") && pages.iter().any(|p| p.config == "b"));
    let mut again = PagePlan::new(configs.clone(), 50, &Seed([9; 32]), "t");
    assert_eq!(again.next_page().as_ref(), pages.first());
    // A config of 25 rows in pages of 10 has at most 2 whole pages: the plan ends.
    let small = config_table(&listing(&[("only", "train", 25)]), None, None);
    let mut plan = PagePlan::new(small, 10, &Seed([9; 32]), "t");
    let mut got = Vec::new();
    while let Some(page) = plan.next_page() {
        got.push(page.offset);
    }
    assert!((1..=2).contains(&got.len()), "{got:?}");
}

fn fineweb_api() -> MemoryRows {
    let dump = |name: &str| (0..500).map(|i| fineweb(i, name)).collect::<Vec<_>>();
    MemoryRows::new()
        .with("default", "train", dump("default"))
        .with("CC-MAIN-2013-20", "train", dump("CC-MAIN-2013-20"))
        .with("CC-MAIN-2024-10", "train", dump("CC-MAIN-2024-10"))
        .with("CC-MAIN-2024-18", "train", dump("CC-MAIN-2024-18"))
}

async fn draw_text(api: Arc<MemoryRows>, seed: u8) -> Vec<crate::Sample> {
    let mut source = HubSource::new(
        api,
        spec("HuggingFaceFW/fineweb-edu-score-2", HubFormat::Text, 4, 20),
        &TEXT_LOSS,
        None,
    )
    .unwrap();
    source.draw(&request(seed, 80)).await.unwrap().samples
}

#[tokio::test]
async fn same_seed_same_rows_other_seed_other_rows_default_never_drawn() {
    let api = Arc::new(fineweb_api());
    let a = draw_text(api.clone(), 1).await;
    let b = draw_text(Arc::new(fineweb_api()), 1).await;
    let c = draw_text(api.clone(), 2).await;
    assert_eq!(a.len(), 80);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Ids name dataset/config/split/row, and rows come as whole pages of 20 in page order.
    let ids: Vec<&str> = a.iter().map(|s| s.id.as_str()).collect();
    assert!(ids[0].starts_with("HuggingFaceFW/fineweb-edu-score-2/CC-MAIN-"));
    for page in a.chunks(20) {
        let first: u64 = page[0].id.rsplit('/').next().unwrap().parse().unwrap();
        for (k, s) in page.iter().enumerate() {
            assert!(s.id.ends_with(&format!("/train/{}", first + k as u64)));
        }
    }
    let mut configs = std::collections::BTreeSet::new();
    for seed in 0..8 {
        for s in draw_text(api.clone(), seed).await {
            configs.insert(s.id.split('/').nth(2).unwrap().to_string());
        }
    }
    assert!(!configs.contains("default"));
    assert_eq!(configs.len(), 3, "{configs:?}");
}

#[tokio::test]
async fn pages_over_100_rows_are_read_in_requests_of_100() {
    let rows: Vec<_> = (0..1000)
        .map(|i| {
            synthetic(
                "verifiable_math",
                &format!("Q{i}"),
                &format!("t \\boxed{{{i}}}"),
            )
        })
        .collect();
    let api = Arc::new(MemoryRows::new().with("default", "train", rows));
    let mut source = HubSource::new(
        api.clone(),
        spec(
            "PrimeIntellect/SYNTHETIC-1-SFT-Data",
            HubFormat::Synthetic1Sft,
            1,
            150,
        ),
        &EvalMethod::ReferenceLoss,
        None,
    )
    .unwrap();
    let drawn = source.draw(&request(5, 120)).await.unwrap().samples;
    assert_eq!(drawn.len(), 120);
    let requests = api.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].2, 100);
    assert_eq!(requests[1].2, 50);
    assert_eq!(requests[1].1, requests[0].1 + 100);
    assert_eq!(
        drawn[0].response,
        "t \\boxed{".to_string() + &requests[0].1.to_string() + "}"
    );
}

#[tokio::test]
async fn synthetic_tops_up_with_more_pages_until_the_target() {
    // Every fifth row is usable: 30 per 150-row page. Target 80: the first page gives 30,
    // one more page 60, then a round of two pages stops after its first (90 ≥ 80).
    let rows: Vec<_> = (0..3000)
        .map(|i| {
            if i % 5 == 0 {
                synthetic(
                    "verifiable_math",
                    &format!("Q{i}"),
                    &format!("so \\boxed{{{i}}}"),
                )
            } else {
                synthetic("llm_judgeable_groundtruth_similarity", "Q", "A")
            }
        })
        .collect();
    let api = Arc::new(MemoryRows::new().with("default", "train", rows));
    let mut source = HubSource::new(
        api.clone(),
        spec(
            "PrimeIntellect/SYNTHETIC-1-SFT-Data",
            HubFormat::Synthetic1Sft,
            1,
            150,
        ),
        &EvalMethod::ReferenceLoss,
        None,
    )
    .unwrap();
    let drawn = source.draw(&request(11, 80)).await.unwrap().samples;
    assert_eq!(drawn.len(), 80);
    assert_eq!(api.requests().len(), 3 * 2);
    assert!(drawn.iter().all(|s| s.response.starts_with("so \\boxed{")));
}

#[tokio::test]
async fn failed_pages_are_replaced_up_to_ten_times_and_rate_limits_fail_at_once() {
    // Every page of one config fails (5xx): other pages are drawn instead. Find a seed whose
    // plan hits that config at least once.
    let broken = "CC-MAIN-2013-20";
    let flaky = || {
        Arc::new(fineweb_api().failing(move |config, _| {
            (config == broken).then(|| {
                HubError::Unavailable {
                    dataset: "fw".into(),
                    reason: "503".into(),
                }
                .into()
            })
        }))
    };
    let mut hit = false;
    for seed in 1..20 {
        let api = flaky();
        let drawn = draw_text(api.clone(), seed).await;
        assert_eq!(drawn.len(), 80);
        assert!(drawn.iter().all(|s| !s.id.contains(broken)));
        let failed = api.requests().iter().filter(|r| r.0 == broken).count();
        assert_eq!(api.requests().len(), 4 + failed);
        hit |= failed > 0;
    }
    assert!(hit);

    let down = Arc::new(fineweb_api().failing(|_, _| {
        Some(
            HubError::Unavailable {
                dataset: "fw".into(),
                reason: "503".into(),
            }
            .into(),
        )
    }));
    let mut source = HubSource::new(
        down.clone(),
        spec("HuggingFaceFW/fineweb-edu-score-2", HubFormat::Text, 4, 20),
        &TEXT_LOSS,
        None,
    )
    .unwrap();
    let error = source.draw(&request(1, 80)).await.unwrap_err();
    assert!(matches!(
        error,
        DataError::Hub(HubError::Unavailable { .. })
    ));
    assert_eq!(down.requests().len(), MAX_PAGE_FAILURES as usize);

    let limited = Arc::new(fineweb_api().failing(|_, _| {
        Some(
            HubError::RateLimited {
                dataset: "fw".into(),
                retry_after_secs: Some(60),
            }
            .into(),
        )
    }));
    let mut source = HubSource::new(
        limited.clone(),
        spec("HuggingFaceFW/fineweb-edu-score-2", HubFormat::Text, 4, 20),
        &TEXT_LOSS,
        None,
    )
    .unwrap();
    let error = source.draw(&request(1, 80)).await.unwrap_err();
    assert!(error.is_rate_limited());
    assert_eq!(
        error.to_string(),
        "hub dataset fw: rate limited (retry after 60 s)"
    );
    assert_eq!(limited.requests().len(), 1);
}

#[tokio::test]
async fn a_page_of_wrong_types_gives_a_typed_no_usable_rows_error() {
    let rows: Vec<_> = (0..100)
        .map(|i| {
            let mut row = fineweb(i, "x");
            row["text"] = json!(i);
            row
        })
        .collect();
    let api = Arc::new(MemoryRows::new().with("default", "train", rows));
    let mut source = HubSource::new(
        api,
        spec("HuggingFaceFW/fineweb-edu-score-2", HubFormat::Text, 2, 50),
        &TEXT_LOSS,
        None,
    )
    .unwrap();
    match source.draw(&request(1, 10)).await.unwrap_err() {
        DataError::Hub(HubError::NoUsableRows { dataset, reason }) => {
            assert_eq!(dataset, "HuggingFaceFW/fineweb-edu-score-2");
            assert!(reason.contains("wrong_type"), "{reason}");
            assert!(
                reason.contains("field `text` is a number, not a string"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

// ---- Macrobench --------------------------------------------------------------------------

const TAO: u64 = 1_000_000_000;

fn macrobench_api(staked: &str, light: &str) -> MemoryRows {
    let config = |day: usize| -> Vec<Map<String, Value>> {
        (0..30)
            .map(|i| {
                let hotkey = match i % 3 {
                    0 => staked.to_string(),
                    1 => light.to_string(),
                    _ => "not-an-address".to_string(),
                };
                let challenge = format!(
                    "Day {day} question {i}: which is the capital of France?\nA. Paris on the Seine\nB. Lyon\nC. Nice\nD. Lille"
                );
                let reference = if i % 6 == 3 { "Z" } else { "A" };
                macro_row(&challenge, reference, &hotkey)
            })
            .collect()
    };
    let mut api = MemoryRows::new();
    for day in 0..12 {
        let name = format!("2025-02-{:02}", day + 1);
        api = api.with(&name, &name, config(day));
    }
    api
}

fn filter(staked: PublicKey, light: PublicKey) -> ValidatorFilter {
    let oracle = StaticStakes::default()
        .with(1, staked, 10_000 * TAO)
        .with(1, light, 9_999 * TAO);
    ValidatorFilter::sn1(Arc::new(oracle))
}

#[tokio::test]
async fn macrobench_keeps_only_staked_validators_rows() {
    let (staked, light) = (PublicKey([1; 32]), PublicKey([2; 32]));
    let api = Arc::new(macrobench_api(&staked.ss58(), &light.ss58()));
    let choice = EvalMethod::MultipleChoice {
        mode: MultipleChoiceMode::Generate,
    };
    let spec = HubDataset {
        pages: None,
        rows_per_page: None,
        ..spec(
            "macrocosm-os/macrobench-bittensor-01",
            HubFormat::Macrobench,
            1,
            1,
        )
    };
    let mut source = HubSource::new(
        api.clone(),
        spec.clone(),
        &choice,
        Some(filter(staked, light)),
    )
    .unwrap();
    let drawn = source.draw(&request(4, 700)).await.unwrap().samples;
    // 10 of 12 configs; per config rows 0, 3, …, 27 are the staked validator's, and half of
    // those (i % 6 == 3) have the bad reference "Z": 5 per config.
    assert_eq!(drawn.len(), 50);
    assert_eq!(api.requests().len(), 10);
    for s in &drawn {
        let row: u64 = s.id.rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(row % 6, 0, "{}", s.id);
        assert_eq!(s.answer.as_deref(), Some("A"));
        assert_eq!(s.choices.as_ref().unwrap()[0], "Paris on the Seine");
    }
    let again = HubSource::new(
        api.clone(),
        spec.clone(),
        &choice,
        Some(filter(staked, light)),
    )
    .unwrap()
    .draw(&request(4, 700))
    .await
    .unwrap()
    .samples;
    assert_eq!(drawn, again);
    // Fewer than 50 questions (SN37's minimum): the task is skipped.
    let strict = ValidatorFilter {
        min_stake: 10_001 * TAO,
        ..filter(staked, light)
    };
    let error = HubSource::new(api.clone(), spec.clone(), &choice, Some(strict))
        .unwrap()
        .draw(&request(4, 700))
        .await
        .unwrap_err();
    match error {
        DataError::Hub(HubError::NoUsableRows { reason, .. }) => {
            assert!(reason.contains("not_validator"), "{reason}");
            assert!(reason.contains("bad_hotkey"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // No oracle: Macrobench is refused rather than scored on unchecked rows.
    assert!(HubSource::new(api.clone(), spec.clone(), &choice, None).is_err());
    // IFEval from the same rows: 20 pairs from 40 rows.
    let mut ifeval =
        HubSource::new(api, spec, &EvalMethod::IfEval, Some(filter(staked, light))).unwrap();
    let prompts = ifeval.draw(&request(4, 40)).await.unwrap().samples;
    assert_eq!(prompts.len(), 40);
    assert!(prompts
        .iter()
        .all(|s| s.rules.as_ref().is_some_and(|r| r.len() >= 2)));
    assert!(prompts[0]
        .prompt
        .contains("which is the capital of France?\"\n"));
}

#[test]
fn formats_and_methods_must_agree() {
    let api: Arc<dyn RowsApi> = Arc::new(MemoryRows::new());
    let text = spec("HuggingFaceFW/fineweb", HubFormat::Text, 1, 1);
    assert!(HubSource::new(api.clone(), text.clone(), &EvalMethod::ReferenceLoss, None).is_err());
    assert!(HubSource::new(api.clone(), text.clone(), &TEXT_LOSS, None).is_ok());
    let pinned = HubDataset {
        revision: Some("main".into()),
        ..text
    };
    assert!(HubSource::new(api, pinned, &TEXT_LOSS, None).is_err());
}

// ---- schedule sources and draw_samples ---------------------------------------------------

fn competition4_api() -> MemoryRows {
    let synth: Vec<_> = (0..400)
        .map(|i| {
            if i % 2 == 0 {
                synthetic(
                    "verifiable_math",
                    &format!("Compute {i}/2."),
                    &format!("<think>halve</think> \\boxed{{{}}}", i / 2),
                )
            } else {
                synthetic(
                    "code_output_prediction",
                    &format!("Run f({i})."),
                    &format!("<think>run</think> {{\"output\": \"{i}\"}}"),
                )
            }
        })
        .collect();
    let cf: Vec<_> = (0..400)
        .map(|i| {
            codeforces(json!([
                {"role": "user", "content": format!("Problem {i}")},
                {"role": "assistant", "content": format!("<think>idea {i}</think> code")},
            ]))
        })
        .collect();
    MemoryRows::new()
        .with("default", "train", synth)
        .with("solutions", "train", cf)
}

/// Answers as two datasets: SYNTHETIC-1 (one config) and codeforces-cots (one config).
struct TwoDatasets {
    synthetic: MemoryRows,
    codeforces: MemoryRows,
    limited: bool,
}

#[async_trait]
impl RowsApi for TwoDatasets {
    async fn splits(&self, dataset: &str) -> Result<Vec<SplitRows>, DataError> {
        match dataset {
            "PrimeIntellect/SYNTHETIC-1-SFT-Data" => Ok(self.synthetic.splits[..1].to_vec()),
            _ => Ok(self.codeforces.splits[1..].to_vec()),
        }
    }

    async fn rows(
        &self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u32,
    ) -> Result<Vec<HubRow>, DataError> {
        if dataset == "open-r1/codeforces-cots" && self.limited {
            return Err(HubError::RateLimited {
                dataset: dataset.into(),
                retry_after_secs: None,
            }
            .into());
        }
        let api = if dataset == "open-r1/codeforces-cots" {
            &self.codeforces
        } else {
            &self.synthetic
        };
        api.rows(dataset, config, split, offset, length).await
    }
}

#[tokio::test]
async fn sn37_competition_4_draws_from_the_hub_and_a_rate_limit_skips_one_task() {
    let schedule =
        Schedule::from_toml_str(include_str!("../../../../schedules/sn37.toml")).unwrap();
    let block = schedule
        .entries
        .iter()
        .map(|e| e.start_block)
        .max()
        .unwrap();
    let competition = schedule.competition_at(4, block).unwrap();
    for limited in [false, true] {
        let api = TwoDatasets {
            synthetic: competition4_api(),
            codeforces: competition4_api(),
            limited,
        };
        let settings = HubSettings {
            api: Arc::new(api),
            validators: None,
        };
        let mut sources = schedule_sources(&schedule, None, Some(&settings));
        for task in &competition.tasks {
            assert!(
                sources.contains_key(&source_key(task).unwrap()),
                "{}",
                task.id
            );
        }
        // Macrobench needs a validator filter: left out, not built.
        assert!(!sources.keys().any(|k| k.starts_with("macrocosm-os/")));
        let drawn =
            crate::draw::draw_samples(competition, &Seed([8; 32]), 0, 0, &mut sources).await;
        let got: BTreeMap<&str, Option<usize>> = drawn
            .iter()
            .map(|t| (t.task_id.as_str(), t.samples.as_ref().map(Vec::len)))
            .collect();
        let expected_cf = if limited { None } else { Some(120) };
        assert_eq!(
            got,
            BTreeMap::from([
                ("CODEFORCES_COTS", expected_cf),
                ("SYNTHETIC_1_SFT", Some(120))
            ])
        );
        let synth = drawn[0].samples.as_ref().unwrap();
        let first = &synth[0];
        assert!(first
            .id
            .starts_with("PrimeIntellect/SYNTHETIC-1-SFT-Data/default/train/"));
        let row: u64 = first.id.rsplit('/').next().unwrap().parse().unwrap();
        if row % 2 == 0 {
            assert_eq!(first.prompt, format!("Compute {row}/2."));
            assert_eq!(
                first.response,
                format!("<think>halve</think> \\boxed{{{}}}", row / 2)
            );
        } else {
            assert_eq!(
                first.response,
                format!("<think>run</think> {{\"output\": \"{row}\"}}")
            );
        }
    }
}

#[test]
fn source_keys_separate_tasks_reading_one_repository_differently() {
    let text = r#"
[[entries]]
start_block = 0
  [[entries.competitions]]
  id = 1
  name = "c"
  reward = 1.0
  scoring = { policy = "pairwise", step_weights = "winner_takes_all" }
  [entries.competitions.constraints]
  max_params = 300_000
  max_bytes = 3_000_000
  sequence_length = 512
  architectures = ["LlamaForCausalLM"]
  tokenizer = { kind = "bring_your_own" }
  dtype = "f32"
  eval_block_delay = 5
  epsilon = { kind = "fixed", value = 0.005 }
  [[entries.competitions.tasks]]
  id = "MMLU"
  method = { kind = "multiple_choice", mode = "generate" }
  dataset = { hub = "macrocosm-os/macrobench-bittensor-01", format = "macrobench" }
  samples = 700
  weight = 0.5
  [[entries.competitions.tasks]]
  id = "IFEVAL"
  method = { kind = "if_eval" }
  dataset = { hub = "macrocosm-os/macrobench-bittensor-01", format = "macrobench" }
  samples = 40
  weight = 0.5
"#;
    let schedule = Schedule::from_toml_str(text).unwrap();
    let tasks = &schedule.entries[0].competitions[0].tasks;
    assert_eq!(
        source_key(&tasks[0]).unwrap(),
        "macrocosm-os/macrobench-bittensor-01?format=macrobench&method=multiple_choice"
    );
    assert_eq!(
        source_key(&tasks[1]).unwrap(),
        "macrocosm-os/macrobench-bittensor-01?format=macrobench&method=if_eval"
    );
    let settings = HubSettings {
        api: Arc::new(MemoryRows::new()),
        validators: Some(ValidatorFilter::sn1(Arc::new(StaticStakes::default()))),
    };
    assert_eq!(schedule_sources(&schedule, None, Some(&settings)).len(), 2);
    let none = HubSettings {
        validators: None,
        ..settings
    };
    assert!(schedule_sources(&schedule, None, Some(&none)).is_empty());
}
