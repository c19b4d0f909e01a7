//! `arena model check DIR --competition ID --schedule schedules/<subnet>.toml`: the shipped
//! mainnet schedules give the verdicts their constraints call for, with the typed failure codes.

use arena_testkit::fixtures::fixtures;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

fn schedule(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schedules")
        .join(name);
    assert!(path.is_file(), "{} missing", path.display());
    path.to_str().unwrap().to_string()
}

fn arena(args: &[&str]) -> Output {
    Command::new(ARENA)
        .args(args)
        .env("ARENA_LOG", "warn")
        .output()
        .expect("run arena")
}

/// `model check --json` of `dir` against competition `id` of `schedule` (at `block` if given):
/// exit code, failure codes, and the report.
fn check(
    dir: &Path,
    schedule: &str,
    id: u32,
    block: Option<u64>,
) -> (Option<i32>, Vec<String>, serde_json::Value) {
    let id = id.to_string();
    let block = block.map(|b| b.to_string());
    let mut args = vec![
        "model",
        "check",
        dir.to_str().unwrap(),
        "--competition",
        &id,
        "--schedule",
        schedule,
        "--json",
    ];
    if let Some(b) = &block {
        args.extend(["--block", b.as_str()]);
    }
    let out = arena(&args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let codes = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    (out.status.code(), codes, report)
}

/// A copy of a fixture model whose config allows `positions` tokens (the mainnet competitions
/// evaluate 4 096 or 16 384), so only the constraints that matter are left to fail.
fn with_positions(name: &str, positions: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["max_position_embeddings"] = positions.into();
    std::fs::write(&path, config.to_string()).unwrap();
    dir
}

fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sn37_verdicts() {
    let sn37 = schedule("sn37.toml");
    let llama = fixtures().join("tiny-llama");
    let qwen = fixtures().join("tiny-qwen2");

    // DISTILLED_REASONING_3B: 3.2-3.4 B parameters, 16 384 tokens, Llama-shaped.
    let (code, failures, report) = check(&llama, &sn37, 4, None);
    assert_eq!(code, Some(1));
    assert_eq!(failures, codes(&["sequence_too_short", "too_few_params"]));
    assert_eq!(report["limits"]["min_params"], 3_200_000_000u64);
    assert_eq!(report["limits"]["max_params"], 3_400_000_000u64);
    assert_eq!(report["limits"]["sequence_length"], 16_384);
    // Qwen2 is not among its architectures either.
    let (code, failures, _) = check(&qwen, &sn37, 4, None);
    assert_eq!(code, Some(1));
    assert_eq!(
        failures,
        codes(&[
            "architecture_not_allowed",
            "sequence_too_short",
            "too_few_params"
        ])
    );
    let long = with_positions("tiny-llama", 16_384);
    let (code, failures, _) = check(long.path(), &sn37, 4, None);
    assert_eq!(code, Some(1));
    assert_eq!(failures, codes(&["too_few_params"]));

    // INSTRUCT_8B: up to 8.1 B, bring-your-own tokenizer, 4 096 tokens: a small Llama with
    // its own tokenizer.json passes once it allows 4 096 positions.
    let (code, failures, _) = check(&llama, &sn37, 3, None);
    assert_eq!((code, failures), (Some(1), codes(&["sequence_too_short"])));
    let (code, failures, report) = check(long.path(), &sn37, 3, None);
    assert_eq!((code, &failures), (Some(0), &vec![]), "{report}");
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["limits"]["tokenizer_sha256"],
        serde_json::Value::Null
    );
    // Bring your own means one must be shipped.
    std::fs::remove_file(long.path().join("tokenizer.json")).unwrap();
    let (code, failures, _) = check(long.path(), &sn37, 3, None);
    assert_eq!((code, failures), (Some(1), codes(&["missing_tokenizer"])));

    // B7_MULTI_CHOICE allows Llama, not Qwen2.
    let (_, failures, _) = check(&qwen, &sn37, 2, None);
    assert!(failures.contains(&"architecture_not_allowed".to_string()));

    // By block: competition 4 does not exist before SUNSET_INSTRUCT_8B_BLOCK.
    let out = arena(&[
        "model",
        "check",
        llama.to_str().unwrap(),
        "--competition",
        "4",
        "--schedule",
        &sn37,
        "--block",
        "5158631",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no competition 4 is active at block 5158631"),
        "{stderr}"
    );
    let (code, failures, _) = check(&llama, &sn37, 4, Some(5_158_632));
    assert_eq!(code, Some(1));
    assert!(failures.contains(&"too_few_params".to_string()));
}

#[test]
fn sn9_and_sn29_verdicts() {
    let long = with_positions("tiny-llama", 4096);
    // SN9 B3_MODEL: 3.2-3.4 B parameters.
    let (code, failures, _) = check(long.path(), &schedule("sn9.toml"), 2, None);
    assert_eq!((code, failures), (Some(1), codes(&["too_few_params"])));
    // SN29 c00: no minimum, Llama-shaped, the model's own tokenizer: passes.
    let sn29 = schedule("sn29.toml");
    let (code, failures, report) = check(long.path(), &sn29, 0, None);
    assert_eq!((code, &failures), (Some(0), &vec![]), "{report}");
    // c01 accepts Phi-shaped models only.
    let (code, failures, _) = check(long.path(), &sn29, 1, None);
    assert_eq!(
        (code, failures),
        (Some(1), codes(&["architecture_not_allowed"]))
    );
}
