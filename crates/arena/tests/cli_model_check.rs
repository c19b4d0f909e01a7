//! `arena model inspect | check | import-gguf` as a user runs them: JSON outputs a script reads,
//! exit status 1 with stable failure codes when a check fails, one-line errors on bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

fn fixtures() -> PathBuf {
    std::env::var_os("ARENA_TEST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"))
}

fn arena(args: &[&str]) -> Output {
    Command::new(ARENA)
        .args(args)
        .env("ARENA_LOG", "warn")
        .output()
        .expect("run arena")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn inspect_and_check_a_fixture_model() {
    let dir = fixtures().join("tiny-qwen2");
    let dir = dir.to_str().unwrap();
    let out = arena(&["model", "inspect", dir, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json(&out);
    assert_eq!(summary["architecture"], "Qwen2ForCausalLM");
    assert_eq!(summary["parameters"], 158_272);
    assert_eq!(summary["tie_word_embeddings"], true);

    let out = arena(&[
        "model",
        "check",
        dir,
        "--max-params",
        "200000",
        "--architectures",
        "LlamaForCausalLM,Qwen2ForCausalLM",
        "--seq-len",
        "512",
        "--dtype",
        "bf16",
        "--weights",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["passed"], true);
    assert!(report["norms"]["max_norm"].as_f64().unwrap() > 0.0);

    let out = arena(&[
        "model",
        "check",
        dir,
        "--max-params",
        "1000",
        "--architectures",
        "LlamaForCausalLM",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let codes: Vec<String> = json(&out)["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["architecture_not_allowed", "too_many_params"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("2 check(s) failed"),
        "{stderr}"
    );
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = arena(&["model", "inspect", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[missing_config]"));

    let gguf = tmp.path().join("bad.gguf");
    std::fs::write(
        &gguf,
        b"GGUF\x03\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\0\0\0\0\0",
    )
    .unwrap();
    let out = arena(&[
        "model",
        "import-gguf",
        gguf.to_str().unwrap(),
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tensor count") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
