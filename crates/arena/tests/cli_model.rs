//! `arena model score`: the JSONL contract, checked against the fixtures' expected losses.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    std::env::var_os("ARENA_TEST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"))
}

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
