//! `arena model inspect | check | import-gguf` as a user runs them: JSON outputs a script reads,
//! exit status 1 with stable failure codes when a check fails, one-line errors on bad input.

use arena_testkit::fixtures::fixtures;
use std::path::PathBuf;
use std::process::{Command, Output};

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

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

/// The default schedule's TOML with `edit` applied, written to `dir/schedule.toml`.
fn schedule_with(dir: &std::path::Path, edit: impl Fn(String) -> String) -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../arena-core/examples/competitions.toml");
    let text = edit(std::fs::read_to_string(path).unwrap());
    let out = dir.join("schedule.toml");
    std::fs::write(&out, text).unwrap();
    out
}

fn failure_codes(report: &serde_json::Value) -> Vec<String> {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn check_against_a_competition_of_the_schedule() {
    let llama = fixtures().join("tiny-llama");
    let llama = llama.to_str().unwrap();
    // Competition 1 of the built-in schedule pins the fixtures' tokenizer and allows Llama.
    let out = arena(&[
        "model",
        "check",
        llama,
        "--competition",
        "1",
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
    assert_eq!(report["competition"], 1);
    assert_eq!(report["limits"]["max_params"], 1_000_000);
    assert_eq!(
        report["limits"]["tokenizer_sha256"],
        "62d37104af465a748adfac8aef3a9e2e8bee0dea7dd3e6bd3ffb6acead07eb7a"
    );
    let out = arena(&["model", "check", llama, "--competition", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PASS") && stdout.contains("competition 1 \"tiny-instruct\""),
        "{stdout}"
    );

    // Competition 2 accepts Llama only: Qwen2 fails with a typed reason and exit status 1.
    let qwen = fixtures().join("tiny-qwen2");
    let out = arena(&[
        "model",
        "check",
        qwen.to_str().unwrap(),
        "--competition",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(failure_codes(&json(&out)), ["architecture_not_allowed"]);

    // A tokenizer that differs from the pinned one by one byte.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("model");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(llama).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
    }
    let mut tok = std::fs::read(copy.join("tokenizer.json")).unwrap();
    tok.push(b'\n');
    std::fs::write(copy.join("tokenizer.json"), tok).unwrap();
    let out = arena(&[
        "model",
        "check",
        copy.to_str().unwrap(),
        "--competition",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(failure_codes(&json(&out)), ["tokenizer_mismatch"]);

    // The schedule comes from --schedule, or from [validator] schedule of --config.
    let schedule = schedule_with(tmp.path(), |t| {
        t.replacen("max_params = 1_000_000", "max_params = 200_000", 1)
    });
    let config = tmp.path().join("arena.toml");
    std::fs::write(
        &config,
        format!("[validator]\nschedule = {:?}\n", schedule.to_str().unwrap()),
    )
    .unwrap();
    for flags in [
        ["--schedule", schedule.to_str().unwrap()],
        ["--config", config.to_str().unwrap()],
    ] {
        let mut args = vec![
            "model",
            "check",
            llama,
            "--competition",
            "1",
            "--block",
            "5",
            "--json",
        ];
        args.extend(flags);
        let out = arena(&args);
        assert_eq!(out.status.code(), Some(1), "{flags:?}");
        assert_eq!(failure_codes(&json(&out)), ["too_many_params"], "{flags:?}");
    }

    let out = arena(&["model", "check", llama, "--competition", "99"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no competition 99") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
