//! `arena model score`: the JSONL contract, checked against the fixtures' expected losses.

use std::path::PathBuf;
use std::process::Command;

use arena_testkit::fixtures::fixtures;
use serde_json::{json, Value};

#[test]
fn score_follows_the_fixture_conventions() {
    let model = fixtures().join("tiny-qwen2");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("expected.json")).unwrap())
            .unwrap();
    let text = &expected["texts"][4];
    let case = &expected["reference_cases"][2];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let lines = [
        json!({"id": "t4", "text": text["text"]}),
        json!({"id": 7, "context": case["context"], "reference": case["reference"]}),
        json!({"id": "bad", "context": "only a context"}),
    ];
    std::fs::write(
        &input,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["model", "score"])
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .arg("--per-token")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["id"], "t4");
    assert_eq!(rows[1]["id"], 7);
    for (row, want_mean, want_tokens) in [
        (&rows[0], &text["mean_loss"], &text["losses"]),
        (&rows[1], &case["mean_loss"], &case["reference_losses"]),
    ] {
        assert!(
            (row["mean_loss"].as_f64().unwrap() - want_mean.as_f64().unwrap()).abs() < 1e-5,
            "{row}"
        );
        let ours = row["token_losses"].as_array().unwrap();
        let theirs = want_tokens.as_array().unwrap();
        assert_eq!(row["n_tokens"].as_u64().unwrap() as usize, theirs.len());
        for (a, b) in ours.iter().zip(theirs) {
            assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-4);
        }
    }
    assert!(
        rows[2]["error"].as_str().unwrap().contains("reference"),
        "{}",
        rows[2]
    );
}

fn eval_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["model", "eval"])
        .args(args)
        .env("ARENA_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn eval_scores_a_competition_like_a_validator() {
    let model = fixtures().join("tiny-llama");
    let model = model.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("tokens");
    let base = [
        model,
        "--competition",
        "1",
        "--block",
        "0",
        "--samples",
        "3",
        "--seed",
        "cli",
        "--max-new-tokens",
        "8",
        "--json",
    ];
    let mut with_cache = base.to_vec();
    with_cache.extend(["--token-cache", cache.to_str().unwrap()]);
    let first = eval_json(&with_cache);
    let second = eval_json(&with_cache);
    let plain = eval_json(&base);
    assert_eq!(first["token_cache"], "miss");
    assert_eq!(second["token_cache"], "hit");
    assert_eq!(plain["token_cache"], "off");
    assert_eq!(first["score"], second["score"]);
    assert_eq!(first["score"], plain["score"]);

    let tasks = first["tasks"].as_array().unwrap();
    let ids: Vec<&str> = tasks
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["word_sorting", "arithmetic", "mmlu", "if_eval"]);
    let mut total = 0.0;
    for (t, weight) in tasks.iter().zip([0.3, 0.2, 0.3, 0.2]) {
        let s = &t["score"];
        let raw = s["raw"].as_f64().unwrap();
        let normalised = s["normalised"].as_f64().unwrap();
        assert_eq!(t["samples"], 3);
        assert_eq!(s["weight"], weight);
        match t["task_id"].as_str().unwrap() {
            // Random weights: a few nats per reference token; inverse_exponential(40).
            "word_sorting" | "arithmetic" => {
                assert!(raw > 3.0 && raw < 20.0, "{t}");
                let want = (1.0 - (-raw / 40.0).exp()) / (1.0 - (-1.0f64).exp());
                assert!((normalised - want).abs() < 1e-12, "{t}");
            }
            "mmlu" => assert!(
                [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]
                    .iter()
                    .any(|v| (v - raw).abs() < 1e-12),
                "{t}"
            ),
            _ => assert!((0.0..=1.0).contains(&raw) && normalised == raw, "{t}"),
        }
        total += s["weighted"].as_f64().unwrap();
    }
    assert!((first["score"]["total"].as_f64().unwrap() - total).abs() < 1e-12);

    // Competition 2 scores the shipped corpus (packed text loss); a random model is near ln 1024.
    let prose = eval_json(&[model, "--competition", "2", "--samples", "4", "--json"]);
    let raw = prose["tasks"][0]["score"]["raw"].as_f64().unwrap();
    assert!(raw > 6.0 && raw < 9.0, "{prose}");
}

#[test]
fn eval_skips_feed_tasks_without_data_and_reads_them_from_a_file() {
    let model = fixtures().join("tiny-qwen2");
    let model = model.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let schedule = tmp.path().join("schedule.toml");
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../arena-core/examples/competitions.toml"),
    )
    .unwrap()
    .replace(
        "dataset = { generator = \"word_sorting\" }",
        "dataset = { feed = \"prompts\" }",
    );
    std::fs::write(&schedule, text).unwrap();
    let schedule = schedule.to_str().unwrap();
    let args = [
        model,
        "--competition",
        "1",
        "--block",
        "0",
        "--schedule",
        schedule,
        "--samples",
        "2",
        "--max-new-tokens",
        "4",
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["model", "eval"])
        .args(args)
        .env("ARENA_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("word_sorting         skipped: feed \"prompts\" is not available here; pass --data FILE.jsonl"),
        "{stdout}"
    );
    assert!(stdout.contains("competition score"), "{stdout}");

    let skipped = eval_json(&[&args[..], &["--json"]].concat());
    assert!(skipped["tasks"][0]["score"].is_null());
    // The remaining weights (0.2, 0.3, 0.2) are renormalised to sum to 1.
    let w = skipped["tasks"][1]["score"]["weight"].as_f64().unwrap();
    assert!((w - 0.2 / 0.7).abs() < 1e-12, "{skipped}");

    let data = tmp.path().join("pairs.jsonl");
    std::fs::write(
        &data,
        "{\"prompt\": \"Sort: pear apple\", \"response\": \"apple pear\"}\n{\"prompt\": \"Sort: b a c\", \"response\": \"a b c\"}\n",
    )
    .unwrap();
    let with_data = eval_json(&[&args[..], &["--json", "--data", data.to_str().unwrap()]].concat());
    let first = &with_data["tasks"][0];
    assert_eq!(first["samples"], 2);
    assert!(
        first["score"]["raw"].as_f64().unwrap().is_finite(),
        "{first}"
    );
    assert_eq!(first["score"]["weight"], 0.3);
}

/// The validator's worker (`arena validator eval-worker`) scores through arena-eval: every
/// task of competition 1, if_eval included, with the pinned tokenizer and the token cache.
#[test]
fn validator_worker_scores_every_method_with_the_pinned_tokenizer() {
    use arena_data::tasks::TaskGenerator;
    use arena_validator::worker::{EvalJob, TaskSamples, WorkerReply, PROTOCOL_VERSION};
    use std::io::Write;
    use std::process::Stdio;

    let schedule = arena_core::competition::default_schedule().unwrap();
    let competition = schedule.competition_at(1, 0).unwrap().clone();
    let seed = arena_core::seed::Seed::from_text("worker");
    let kinds = ["word_sorting", "arithmetic", "multiple_choice", "if_eval"];
    let tasks = competition
        .tasks
        .iter()
        .zip(kinds)
        .map(|(t, kind)| TaskSamples {
            task_id: t.id.clone(),
            samples: Some(
                kind.parse::<arena_data::tasks::TaskKind>()
                    .unwrap()
                    .generate_many(&seed, 2),
            ),
        })
        .collect();
    let job = EvalJob {
        version: PROTOCOL_VERSION,
        competition,
        model_dir: fixtures().join("tiny-mistral"),
        tokenizer_dir: Some(fixtures().join("tokenizer-bpe1k")),
        tasks,
        seed: seed.to_hex(),
        stop: None,
    };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("tokens");
    let mut replies = Vec::new();
    for _ in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(["validator", "eval-worker"])
            .env("ARENA_LOG", "warn")
            .env("ARENA_TOKEN_CACHE", &cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&serde_json::to_vec(&job).unwrap()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = String::from_utf8(out.stdout).unwrap();
        let reply: WorkerReply = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        let WorkerReply::Ok { report } = reply else {
            panic!("worker failed: {reply:?}")
        };
        replies.push(report.tasks);
    }
    assert_eq!(replies[0], replies[1]);
    let ids: Vec<&str> = replies[0].iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["word_sorting", "arithmetic", "mmlu", "if_eval"]);
    for t in &replies[0] {
        assert_eq!(t.sample_scores.len(), 2, "{t:?}");
        assert!(t.raw.is_finite(), "{t:?}");
    }
    let if_eval = &replies[0][3];
    assert!(if_eval
        .sample_scores
        .iter()
        .all(|s| (0.0..=1.0).contains(s)));
    let entries = std::fs::read_dir(&cache).unwrap().count();
    assert_eq!(entries, 1, "one token cache entry for the step");
}

/// `--device` is parsed in one place: a GPU asked of a build without the `cuda` feature is a
/// clear error naming the device and the feature (for `model score` and `validator run
/// --devices` alike), a misspelt device names the accepted spellings, and `--device cpu`
/// scores exactly as the default.
#[test]
fn device_flags_parse_in_one_place() {
    let model = fixtures().join("tiny-llama");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"id\": 1, \"text\": \"hello world\"}\n").unwrap();
    let score = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(["model", "score"])
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .args(extra)
            .output()
            .unwrap()
    };
    let default = score(&[]);
    let cpu = score(&["--device", "cpu"]);
    assert!(
        cpu.status.success(),
        "{}",
        String::from_utf8_lossy(&cpu.stderr)
    );
    assert_eq!(cpu.stdout, default.stdout);
    let bogus = score(&["--device", "tpu:0"]);
    let err = String::from_utf8_lossy(&bogus.stderr);
    assert!(
        !bogus.status.success() && err.contains("cpu, cuda, cuda:N"),
        "{err}"
    );
    if cfg!(feature = "cuda") {
        return;
    }
    let gpu = score(&["--device", "cuda:1"]);
    let err = String::from_utf8_lossy(&gpu.stderr);
    assert!(
        !gpu.status.success() && err.contains("cuda:1") && err.contains("`cuda` feature"),
        "{err}"
    );
    let validator = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["--home"])
        .arg(dir.path())
        .args(["validator", "run", "--devices", "cpu,cuda:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&validator.stderr);
    assert!(
        !validator.status.success() && err.contains("cuda:0") && err.contains("`cuda` feature"),
        "{err}"
    );
}
