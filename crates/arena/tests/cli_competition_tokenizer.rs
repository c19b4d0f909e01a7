//! A competition that names its tokenizer on the hub is scored with that tokenizer's files and
//! chat template by `arena model eval` (no `--tokenizer` flag), as validators score it: the
//! same weights shipped with another chat template get the same score, and a model whose
//! `tokenizer.json` differs from the pin is refused by `arena model check`.

use std::path::Path;
use std::process::Command;

use arena_hub::client::HubClient;
use arena_testkit::fixtures::{copy_fixture, fixtures};
use arena_testkit::net::start_hub;
use arena_testkit::TinyCompetition;
use serde_json::Value;
use sha2::{Digest, Sha256};

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn schedule(tokenizer: &str) -> String {
    TinyCompetition::new("hub-tokenizer")
        .tokenizer(tokenizer)
        .eval_block_delay(5)
        .toml()
}

/// Runs the binary with `HF_ENDPOINT` set to the hub, in its own home; returns stdout's JSON.
fn arena(home: &Path, hub: &str, args: &[&str]) -> (bool, Value) {
    let out = Command::new(ARENA)
        .args(args)
        .env("ARENA_HOME", home)
        .env("HF_ENDPOINT", hub)
        .env_remove("HF_TOKEN")
        .env("ARENA_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "{args:?}: no JSON on stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_eval_scores_with_the_competitions_tokenizer_not_the_models_template() {
    let root = tempfile::tempdir().unwrap();
    let hub = start_hub(&root.path().join("hub"), &["owner"]).await;

    // The competition's tokenizer on the hub: tiny-llama's files.
    let tok = root.path().join("tokenizer");
    std::fs::create_dir_all(&tok).unwrap();
    for file in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixtures().join("tiny-llama").join(file), tok.join(file)).unwrap();
    }
    let owner = HubClient::new(&hub, Some("owner-token-0123".into())).unwrap();
    owner
        .create_repo("owner/tokenizer", false, true)
        .await
        .unwrap();
    owner
        .upload_folder("owner/tokenizer", &tok, "tokenizer")
        .await
        .unwrap();
    let spec = format!(
        r#"{{ kind = "hub", repo = "owner/tokenizer", sha256 = "{}", files = {{ "tokenizer_config.json" = "{}" }} }}"#,
        sha256_file(&tok.join("tokenizer.json")),
        sha256_file(&tok.join("tokenizer_config.json")),
    );
    let schedule_path = root.path().join("competitions.toml");
    std::fs::write(&schedule_path, schedule(&spec)).unwrap();
    let schedule_arg = schedule_path.to_str().unwrap();

    // The same weights twice; the second ships a chat template of its own.
    let plain = root.path().join("plain");
    copy_fixture("tiny-llama", &plain);
    let templated = root.path().join("templated");
    copy_fixture("tiny-llama", &templated);
    let path = templated.join("tokenizer_config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let template = config["chat_template"].as_str().unwrap().to_string();
    config["chat_template"] = format!("{{{{ 'Answer briefly.\\n' }}}}{template}").into();
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();

    let home = root.path().join("home");
    let eval = |dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "model",
            "eval",
            dir.to_str().unwrap(),
            "--competition",
            "1",
            "--schedule",
            schedule_arg,
            "--seed",
            "7",
            "--json",
        ];
        args.extend_from_slice(extra);
        let (ok, json) = arena(&home, &hub, &args);
        assert!(ok, "{json}");
        json["score"]["total"].as_f64().unwrap()
    };
    let a = eval(&plain, &[]);
    let b = eval(&templated, &[]);
    assert!(a.is_finite());
    assert_eq!(a.to_bits(), b.to_bits(), "the model's template is ignored");
    // With its own files (what scoring without the competition's tokenizer would use), the
    // template changes the score: the check above is not vacuous.
    let own = eval(&templated, &["--tokenizer", templated.to_str().unwrap()]);
    assert_ne!(own, b);
    assert!(
        home.join("tokenizers").is_dir(),
        "fetched into <home>/tokenizers"
    );

    // Another tokenizer.json is refused by the checks with its code.
    let other = root.path().join("other");
    copy_fixture("tiny-llama", &other);
    let mut bytes = std::fs::read(other.join("tokenizer.json")).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(other.join("tokenizer.json"), bytes).unwrap();
    let (ok, json) = arena(
        &home,
        &hub,
        &[
            "model",
            "check",
            other.to_str().unwrap(),
            "--competition",
            "1",
            "--schedule",
            schedule_arg,
            "--json",
        ],
    );
    assert!(!ok);
    let text = json.to_string();
    assert!(text.contains("tokenizer_mismatch"), "{text}");

    // A hub that does not hold the tokenizer: a clear error, pointing at --tokenizer.
    let out = Command::new(ARENA)
        .args([
            "model",
            "eval",
            plain.to_str().unwrap(),
            "--competition",
            "1",
        ])
        .args(["--schedule", schedule_arg, "--json"])
        .env("ARENA_HOME", root.path().join("home2"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("ARENA_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tokenizer of competition 1") && stderr.contains("--tokenizer"),
        "{stderr}"
    );
}
