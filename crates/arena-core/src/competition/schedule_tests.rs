//! Schedule parser tests: the shipped file, and one bad file per rule.

use super::*;
use crate::competition::{
    Comparison, DatasetSpec, Dtype, EvalMethod, MultipleChoiceMode, StepWeightRule, TaskKind,
    TextLossMode,
};
use crate::epsilon::EpsilonFunc;

/// A minimal valid schedule; tests break one field at a time with `replace`.
const GOOD: &str = r#"
[[entries]]
start_block = 100

  [[entries.competitions]]
  id = 4
  name = "reasoning"
  reward = 0.7
  scoring = { policy = "pairwise", step_weights = "softmax" }
  [entries.competitions.constraints]
  min_params = 10
  max_params = 1000
  max_bytes = 5000
  sequence_length = 64
  architectures = ["LlamaForCausalLM"]
  tokenizer = { kind = "pinned", sha256 = "62d37104af465a748adfac8aef3a9e2e8bee0dea7dd3e6bd3ffb6acead07eb7a" }
  dtype = "bf16"
  eval_block_delay = 460
  epsilon = { kind = "linear_decay", start = 0.05, end = 0.01, blocks = 21600 }
  [[entries.competitions.tasks]]
  id = "sort"
  method = { kind = "reference_loss" }
  dataset = { generator = "word_sorting" }
  samples = 400
  weight = 0.3
  normalization = { kind = "inverse_exponential", ceiling = 40.0 }
  [[entries.competitions.tasks]]
  id = "mc"
  method = { kind = "multiple_choice", mode = "generate" }
  dataset = { feed = "mmlu" }
  samples = 700
  weight = 0.7

  [[entries.competitions]]
  id = 5
  name = "pretrain"
  reward = 0.3
  scoring = { policy = "leader_per_unit" }
  [entries.competitions.constraints]
  max_params = 1000
  max_bytes = 5000
  sequence_length = 64
  architectures = ["LlamaForCausalLM"]
  tokenizer = { kind = "bring_your_own" }
  dtype = "f32"
  eval_block_delay = 0
  epsilon = { kind = "fixed", value = 0.0 }
  [[entries.competitions.tasks]]
  id = "text"
  method = { kind = "text_loss", mode = "per_document" }
  dataset = { file = "docs.jsonl" }
  samples = 10
  weight = 1.0

[[entries]]
start_block = 0
  [[entries.competitions]]
  id = 1
  name = "first"
  reward = 1.0
  scoring = { policy = "pairwise", step_weights = "winner_takes_all" }
  [entries.competitions.constraints]
  max_params = 1000
  max_bytes = 5000
  sequence_length = 64
  architectures = ["MistralForCausalLM"]
  tokenizer = { kind = "bring_your_own" }
  dtype = "f16"
  eval_block_delay = 1
  epsilon = { kind = "fixed", value = 0.005 }
  [[entries.competitions.tasks]]
  id = "text"
  method = { kind = "text_loss" }
  dataset = { corpus = "prose" }
  samples = 1
  weight = 1.0
"#;

fn parse_replaced(from: &str, to: &str) -> ScheduleError {
    assert!(GOOD.contains(from), "test bug: {from:?} not in GOOD");
    Schedule::from_toml_str(&GOOD.replacen(from, to, 1)).unwrap_err()
}

fn invalid_path(err: ScheduleError) -> String {
    match err {
        ScheduleError::Invalid { path, .. } => path,
        other => panic!("expected a validation error, got {other}"),
    }
}

#[test]
fn good_file_parses_every_field() {
    let s = Schedule::from_toml_str(GOOD).unwrap();
    // Entries are sorted by start block whatever the file order.
    assert_eq!(
        s.entries.iter().map(|e| e.start_block).collect::<Vec<_>>(),
        [0, 100]
    );
    let c = &s.entries[1].competitions[0];
    assert_eq!((c.id, c.name.as_str(), c.reward), (4, "reasoning", 0.7));
    assert_eq!(c.constraints.min_params, 10);
    assert_eq!(c.constraints.dtype, Dtype::Bf16);
    assert_eq!(c.constraints.norm_validation.hard, 1000.0);
    assert_eq!(c.constraints.norm_validation.soft, 200.0);
    assert_eq!(c.constraints.norm_validation.soft_fraction, 0.15);
    assert_eq!(
        c.constraints.epsilon,
        EpsilonFunc::LinearDecay {
            start: 0.05,
            end: 0.01,
            blocks: 21_600
        }
    );
    assert!(
        matches!(c.constraints.tokenizer, TokenizerSpec::Pinned { ref name, .. } if name.is_none())
    );
    assert_eq!(
        c.scoring,
        ScoringPolicy::Pairwise {
            step_weights: StepWeightRule::Softmax,
            temperature: 0.01,
            comparison: Comparison::Aggregate,
        }
    );
    assert_eq!(
        c.tasks[0].dataset,
        DatasetSpec::Generator(TaskKind::WordSorting)
    );
    assert_eq!(
        c.tasks[1].method,
        EvalMethod::MultipleChoice {
            mode: MultipleChoiceMode::Generate
        }
    );
    assert_eq!(c.tasks[1].normalization, Normalization::None);
    assert_eq!(c.tasks[1].dataset, DatasetSpec::Feed("mmlu".into()));
    let p = &s.entries[1].competitions[1];
    assert_eq!(
        p.scoring,
        ScoringPolicy::LeaderPerUnit {
            advantage_initial: 0.004,
            advantage_decay: 0.995,
            epoch_blocks: 361,
            skew: 2.0,
            group_samples: 10
        }
    );
    assert_eq!(
        p.tasks[0].method,
        EvalMethod::TextLoss {
            mode: TextLossMode::PerDocument
        }
    );
    assert_eq!(p.tasks[0].dataset, DatasetSpec::File("docs.jsonl".into()));
    let first = &s.entries[0].competitions[0];
    assert_eq!(
        first.tasks[0].method,
        EvalMethod::TextLoss {
            mode: TextLossMode::Packed
        }
    );
    assert_eq!(first.tasks[0].dataset, DatasetSpec::Corpus("prose".into()));
}

#[test]
fn active_list_is_largest_start_at_or_below_block() {
    let s = Schedule::from_toml_str(GOOD).unwrap();
    let ids = |b| s.active_at(b).iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(0), [1]);
    assert_eq!(ids(99), [1]);
    assert_eq!(ids(100), [4, 5]);
    assert_eq!(ids(u64::MAX), [4, 5]);
    assert_eq!(s.competition_at(4, 100).map(|c| c.reward), Some(0.7));
    assert!(s.competition_at(4, 99).is_none());
    assert!(s.competition_at(1, 100).is_none());
    // A schedule starting later has nothing active before it.
    let late = GOOD.replacen("start_block = 0", "start_block = 50", 1);
    let late = Schedule::from_toml_str(&late).unwrap();
    assert!(late.active_at(49).is_empty());
    assert!(late.active_entry(49).is_none());
}

#[test]
fn newest_competition_is_taken_from_the_last_entry_that_has_it() {
    let s = Schedule::from_toml_str(GOOD).unwrap();
    // Competition 1 only exists in the first entry, 4 in the second: each is found, whatever
    // entry is active now.
    assert_eq!(s.newest_competition(1).map(|c| c.id), Some(1));
    assert_eq!(
        s.newest_competition(4).map(|c| c.reward),
        s.competition_at(4, u64::MAX).map(|c| c.reward)
    );
    assert!(s.newest_competition(99).is_none());
}

#[test]
fn shipped_example_schedule_is_valid() {
    let s = default_schedule().unwrap();
    let ids = |b| s.active_at(b).iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(0), [1, 2, 3]);
    assert_eq!(ids(999_999), [1, 2, 3]);
    assert_eq!(ids(1_000_000), [1, 3]);
    let c1 = s.competition_at(1, 10).unwrap();
    assert_eq!(c1.tasks.len(), 4);
    assert_eq!(c1.constraints.architectures.len(), 3);
}

#[test]
fn schedule_survives_a_json_round_trip() {
    let s = Schedule::from_toml_str(GOOD).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
}

#[test]
fn syntax_error_reports_line_and_column() {
    let err = Schedule::from_toml_str("[[entries]]\nstart_block = = 3\n").unwrap_err();
    match err {
        ScheduleError::Parse { line, column, .. } => assert_eq!((line, column), (2, 15)),
        other => panic!("{other}"),
    }
}

#[test]
fn missing_field_is_named() {
    let err = parse_replaced("  reward = 0.7\n", "");
    let msg = err.to_string();
    assert!(msg.contains("missing field `reward`"), "{msg}");
    assert!(msg.contains("line "), "{msg}");
}

#[test]
fn unknown_field_is_named() {
    let msg = parse_replaced("samples = 400", "samples = 400\n  sample = 3").to_string();
    assert!(msg.contains("unknown field `sample`"), "{msg}");
}

#[test]
fn unknown_variants_are_refused() {
    let msg = parse_replaced("generator = \"word_sorting\"", "generator = \"poetry\"").to_string();
    assert!(msg.contains("unknown variant `poetry`"), "{msg}");
    let msg = parse_replaced("kind = \"reference_loss\"", "kind = \"bleu\"").to_string();
    assert!(msg.contains("bleu"), "{msg}");
    let msg = parse_replaced("dtype = \"bf16\"", "dtype = \"int4\"").to_string();
    assert!(msg.contains("int4"), "{msg}");
    let msg = parse_replaced("policy = \"leader_per_unit\"", "policy = \"lottery\"").to_string();
    assert!(msg.contains("lottery"), "{msg}");
}

#[test]
fn wrong_type_is_refused() {
    let msg = parse_replaced("max_bytes = 5000", "max_bytes = \"5 GB\"").to_string();
    assert!(msg.contains("(`max_bytes = \"5 GB\"`)"), "{msg}");
    assert!(msg.contains("invalid type"), "{msg}");
    assert!(matches!(
        parse_replaced("max_bytes = 5000", "max_bytes = -1"),
        ScheduleError::Parse { .. }
    ));
}

#[test]
fn rewards_must_sum_to_one() {
    let err = parse_replaced("reward = 0.3", "reward = 0.2");
    assert!(err.to_string().contains("reward shares sum to"), "{err}");
    assert_eq!(
        invalid_path(err),
        "entries[start_block=100].competitions[*].reward"
    );
}

#[test]
fn reward_out_of_range() {
    let text = GOOD.replacen("reward = 0.7", "reward = 1.5", 1).replacen(
        "reward = 0.3",
        "reward = -0.5",
        1,
    );
    let err = Schedule::from_toml_str(&text).unwrap_err();
    assert_eq!(
        invalid_path(err),
        "entries[start_block=100].competitions[id=4].reward"
    );
}

#[test]
fn task_weights_must_sum_to_one() {
    let err = parse_replaced("weight = 0.7", "weight = 0.6");
    assert!(
        err.to_string().contains("task weights sum to 0.8999"),
        "{err}"
    );
    assert_eq!(
        invalid_path(err),
        "entries[start_block=100].competitions[id=4].tasks[*].weight"
    );
}

#[test]
fn sums_within_tolerance_are_accepted() {
    let text = GOOD.replacen("weight = 0.7", "weight = 0.7000000001", 1);
    assert!(Schedule::from_toml_str(&text).is_ok());
}

#[test]
fn non_positive_task_weight() {
    let text = GOOD.replacen("weight = 0.3", "weight = 1.3", 1).replacen(
        "weight = 0.7",
        "weight = -0.3",
        1,
    );
    let err = Schedule::from_toml_str(&text).unwrap_err();
    assert_eq!(
        invalid_path(err),
        "entries[start_block=100].competitions[id=4].tasks[mc].weight"
    );
}

#[test]
fn duplicate_competition_id() {
    let err = parse_replaced("id = 5", "id = 4");
    assert_eq!(
        invalid_path(err),
        "entries[start_block=100].competitions[id=4].id"
    );
}

#[test]
fn duplicate_task_id() {
    let err = parse_replaced("id = \"mc\"", "id = \"sort\"");
    assert_eq!(
        invalid_path(err),
        "entries[start_block=100].competitions[id=4].tasks[sort].id"
    );
}

#[test]
fn duplicate_start_block() {
    let err = parse_replaced("start_block = 0", "start_block = 100");
    assert_eq!(invalid_path(err), "entries[start_block=100]");
}

#[test]
fn empty_schedule_and_empty_lists() {
    assert_eq!(
        invalid_path(Schedule::from_toml_str("entries = []").unwrap_err()),
        "entries"
    );
    let err = Schedule::from_toml_str("[[entries]]\nstart_block = 0\ncompetitions = []\n");
    assert_eq!(
        invalid_path(err.unwrap_err()),
        "entries[start_block=0].competitions"
    );
    assert!(matches!(
        Schedule::from_toml_str("").unwrap_err(),
        ScheduleError::Parse { .. }
    ));
}

#[test]
fn bad_constraints() {
    let at = "entries[start_block=100].competitions[id=4].constraints";
    let cases = [
        ("min_params = 10", "min_params = 2000", "max_params"),
        ("max_bytes = 5000", "max_bytes = 0", "max_bytes"),
        (
            "sequence_length = 64",
            "sequence_length = 0",
            "sequence_length",
        ),
        (
            "architectures = [\"LlamaForCausalLM\"]",
            "architectures = []",
            "architectures",
        ),
        ("sha256 = \"62d3", "sha256 = \"62D3", "tokenizer.sha256"),
        ("blocks = 21600", "blocks = 0", "epsilon"),
        ("start = 0.05", "start = 1.05", "epsilon"),
    ];
    for (from, to, field) in cases {
        assert_eq!(
            invalid_path(parse_replaced(from, to)),
            format!("{at}.{field}"),
            "{to}"
        );
    }
    let norms = [
        (
            "{ hard = 100.0, soft = 200.0, soft_fraction = 0.15 }",
            "norm_validation",
        ),
        (
            "{ hard = 1000.0, soft = 200.0, soft_fraction = 1.5 }",
            "norm_validation.soft_fraction",
        ),
    ];
    for (value, field) in norms {
        let text = GOOD.replacen(
            "dtype = \"bf16\"",
            &format!("dtype = \"bf16\"\n  norm_validation = {value}"),
            1,
        );
        let err = Schedule::from_toml_str(&text).unwrap_err();
        assert_eq!(invalid_path(err), format!("{at}.{field}"));
    }
}

#[test]
fn bad_task_fields() {
    let at = "entries[start_block=100].competitions[id=4].tasks[sort]";
    assert_eq!(
        invalid_path(parse_replaced("samples = 400", "samples = 0")),
        format!("{at}.samples")
    );
    let err = parse_replaced("ceiling = 40.0", "ceiling = 0.0");
    assert_eq!(invalid_path(err), format!("{at}.normalization"));
    let err = parse_replaced("name = \"reasoning\"", "name = \" \"");
    assert_eq!(
        invalid_path(err),
        "entries[start_block=100].competitions[id=4].name"
    );
}

#[test]
fn bad_scoring_parameters() {
    let at = "entries[start_block=100].competitions";
    let err = parse_replaced(
        "step_weights = \"softmax\"",
        "step_weights = \"softmax\", temperature = 0.0",
    );
    assert_eq!(invalid_path(err), format!("{at}[id=4].scoring.temperature"));
    let err = parse_replaced(
        "policy = \"leader_per_unit\"",
        "policy = \"leader_per_unit\", skew = -1.0",
    );
    assert_eq!(invalid_path(err), format!("{at}[id=5].scoring.skew"));
    let err = parse_replaced(
        "policy = \"leader_per_unit\"",
        "policy = \"leader_per_unit\", group_samples = 0",
    );
    assert_eq!(
        invalid_path(err),
        format!("{at}[id=5].scoring.group_samples")
    );
}

#[test]
fn per_unit_comparison_parses() {
    let text = GOOD.replacen(
        "step_weights = \"softmax\"",
        "step_weights = \"softmax\", comparison = \"per_unit\"",
        1,
    );
    let s = Schedule::from_toml_str(&text).unwrap();
    assert!(matches!(
        s.entries[1].competitions[0].scoring,
        ScoringPolicy::Pairwise {
            comparison: Comparison::PerUnit,
            ..
        }
    ));
    let msg =
        parse_replaced("step_weights = \"softmax\"", "comparison = \"per_batch\"").to_string();
    assert!(msg.contains("per_batch"), "{msg}");
}

#[test]
fn settings_default_to_sn37_and_overrides_apply() {
    use crate::competition::{Decoding, DuplicateRule, RuleWeighting};
    let s = Schedule::from_toml_str(GOOD).unwrap();
    let c = &s.entries[1].competitions[0];
    // Defaults: reference encoded with special tokens; MC generated with 20 tokens, penalty 1.1.
    assert!(c.tasks[0].settings().reference_special_tokens);
    let mc = c.tasks[1].settings();
    assert_eq!((mc.max_new_tokens, mc.repetition_penalty), (20, 1.1));
    assert_eq!(mc.decoding, Decoding::Greedy);
    assert_eq!(mc.system_prompt, None);
    // IFEval's defaults are 200 tokens, penalty 1.2, SN37's duplicate pairs and weighting.
    let ife = EvalMethod::IfEval.default_settings();
    assert_eq!((ife.max_new_tokens, ife.repetition_penalty), (200, 1.2));
    assert_eq!(
        ife.duplicates,
        DuplicateRule::Pairs {
            similarity: 0.6,
            max_fraction: 0.1
        }
    );
    assert_eq!(ife.rule_weighting, RuleWeighting::RuleCount);
    // Overrides.
    let text = GOOD.replacen(
        "dataset = { feed = \"mmlu\" }",
        "dataset = { feed = \"mmlu\" }\n  settings = { max_new_tokens = 5, repetition_penalty = 1.0, system_prompt = \"Answer with a letter.\" }",
        1,
    );
    let s = Schedule::from_toml_str(&text).unwrap();
    let mc = s.entries[1].competitions[0].tasks[1].settings();
    assert_eq!((mc.max_new_tokens, mc.repetition_penalty), (5, 1.0));
    assert_eq!(mc.system_prompt.as_deref(), Some("Answer with a letter."));
    let text = GOOD.replacen(
        "normalization = { kind = \"inverse_exponential\", ceiling = 40.0 }",
        "normalization = { kind = \"inverse_exponential\", ceiling = 40.0 }\n  settings = { reference_special_tokens = false }",
        1,
    );
    let s = Schedule::from_toml_str(&text).unwrap();
    assert!(
        !s.entries[1].competitions[0].tasks[0]
            .settings()
            .reference_special_tokens
    );
    // Settings survive a round trip; empty ones are not written.
    let again = toml::to_string(&s).unwrap();
    assert_eq!(Schedule::from_toml_str(&again).unwrap(), s);
    assert_eq!(again.matches("settings").count(), 1);
}

#[test]
fn bad_settings_are_refused() {
    let mc = "dataset = { feed = \"mmlu\" }";
    let with = |settings: &str| format!("{mc}\n  settings = {settings}");
    let cases = [
        ("{ max_new_tokens = 0 }", "max_new_tokens"),
        ("{ max_new_tokens = 100000 }", "max_new_tokens"),
        ("{ repetition_penalty = 0.0 }", "repetition_penalty"),
        (
            "{ reference_special_tokens = true }",
            "reference_special_tokens",
        ),
        (
            "{ duplicates = { kind = \"pairs\", similarity = 0.6, max_fraction = 0.1 } }",
            "duplicates",
        ),
    ];
    for (settings, field) in cases {
        let path = invalid_path(parse_replaced(mc, &with(settings)));
        assert!(
            path.ends_with(&format!("tasks[mc].settings.{field}")),
            "{path}"
        );
    }
    // Generation settings on a method that does not generate.
    let sort = "normalization = { kind = \"inverse_exponential\", ceiling = 40.0 }";
    let path = invalid_path(parse_replaced(
        sort,
        &format!("{sort}\n  settings = {{ max_new_tokens = 20 }}"),
    ));
    assert!(
        path.ends_with("tasks[sort].settings.max_new_tokens"),
        "{path}"
    );
    // Unknown keys are refused by name.
    let err = parse_replaced(mc, &with("{ temperature = 0.7 }")).to_string();
    assert!(err.contains("temperature"), "{err}");
}

#[test]
fn hub_datasets_parse_and_bad_ones_are_refused() {
    use crate::competition::{HubDataset, HubFormat};
    let docs = "dataset = { file = \"docs.jsonl\" }";
    let hub = "dataset = { hub = \"HuggingFaceFW/fineweb-edu-score-2\", split = \"train\", format = \"text\", pages = 4, rows_per_page = 100 }";
    let s = Schedule::from_toml_str(&GOOD.replacen(docs, hub, 1)).unwrap();
    let expected = HubDataset {
        repo: "HuggingFaceFW/fineweb-edu-score-2".into(),
        revision: None,
        config: None,
        split: Some("train".into()),
        format: HubFormat::Text,
        pages: Some(4),
        rows_per_page: Some(100),
    };
    let dataset = &s.entries[1].competitions[1].tasks[0].dataset;
    assert_eq!(dataset, &DatasetSpec::Hub(expected));
    assert_eq!(
        dataset.source_name().as_deref(),
        Some("HuggingFaceFW/fineweb-edu-score-2")
    );
    let again = toml::to_string(&s).unwrap();
    assert_eq!(Schedule::from_toml_str(&again).unwrap(), s);
    let refused = [
        (
            "dataset = { hub = \"fineweb\", format = \"text\" }",
            "owner/name",
        ),
        ("dataset = { hub = \"a/b\" }", "needs a `format`"),
        (
            "dataset = { file = \"x\", split = \"train\" }",
            "`split` applies only",
        ),
        (
            "dataset = { file = \"x\", corpus = \"y\" }",
            "exactly one of",
        ),
        (
            "dataset = { hub = \"a/b\", format = \"text\", pages = 0 }",
            "positive",
        ),
        (
            "dataset = { hub = \"a/b\", format = \"parquet\" }",
            "parquet",
        ),
        (
            "dataset = { hub = \"a/b\", format = \"text\", rows = 3 }",
            "rows",
        ),
    ];
    for (bad, message) in refused {
        let err = parse_replaced(docs, bad);
        assert!(matches!(err, ScheduleError::Parse { .. }), "{err}");
        assert!(err.to_string().contains(message), "{bad}: {err}");
    }
}

#[test]
fn hub_tokenizers_parse_and_are_checked() {
    let pinned = "tokenizer = { kind = \"pinned\", sha256 = \"62d37104af465a748adfac8aef3a9e2e8bee0dea7dd3e6bd3ffb6acead07eb7a\" }";
    let s = Schedule::from_toml_str(&GOOD.replacen(
        pinned,
        "tokenizer = { kind = \"hub\", repo = \"Xenova/gpt-4\" }",
        1,
    ))
    .unwrap();
    let c = &s.entries[1].competitions[0].constraints;
    assert_eq!(c.tokenizer.pinned_sha256(), None);
    // No recorded sha256: a shipped tokenizer is not compared, and none is needed.
    assert!(c.check_tokenizer(Some(&"ab".repeat(32))).is_ok());
    assert!(c.check_tokenizer(None).is_ok());
    let with_sha = format!(
        "tokenizer = {{ kind = \"hub\", repo = \"Xenova/gpt-4\", revision = \"main\", sha256 = \"{}\" }}",
        "cd".repeat(32)
    );
    let s = Schedule::from_toml_str(&GOOD.replacen(pinned, &with_sha, 1)).unwrap();
    let c = &s.entries[1].competitions[0].constraints;
    assert!(c.check_tokenizer(Some(&"cd".repeat(32))).is_ok());
    assert!(matches!(
        c.check_tokenizer(Some(&"ab".repeat(32))),
        Err(crate::rejection::Rejection::TokenizerMismatch { .. })
    ));
    let path = invalid_path(parse_replaced(
        pinned,
        "tokenizer = { kind = \"hub\", repo = \"gpt-4\" }",
    ));
    assert!(path.ends_with("constraints.tokenizer.repo"), "{path}");
    let path = invalid_path(parse_replaced(
        pinned,
        "tokenizer = { kind = \"hub\", repo = \"a/b\", sha256 = \"XYZ\" }",
    ));
    assert!(path.ends_with("constraints.tokenizer.sha256"), "{path}");
}
