//! One rejection-code table for every surface: the same bad model fed to `arena model check
//! --json`, to the validators' precheck (library call, as the validator service makes it) and
//! to `arena miner check --constraints-only --json` gives the same code from all three.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arena_core::competition::{Competition, Schedule};
use arena_testkit::fixtures::fixtures;

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

/// The shipped example schedule, written to `dir`, and its competition 1.
fn schedule(dir: &Path) -> (PathBuf, Competition) {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../arena-core/examples/competitions.toml"),
    )
    .unwrap();
    let path = dir.join("schedule.toml");
    std::fs::write(&path, &text).unwrap();
    let schedule = Schedule::from_toml_str(&text).unwrap();
    let competition = schedule
        .competition_at(1, 0)
        .expect("competition 1")
        .clone();
    (path, competition)
}

/// A writable copy of the tiny Llama fixture.
fn tiny_llama(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(fixtures().join("tiny-llama")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "expected.json" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(ARENA)
        .args(args)
        .env("ARENA_LOG", "warn")
        .env("RAYON_NUM_THREADS", "2")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .output()
        .expect("run arena")
}

/// The codes of a `--json` check report (`failures`, then the validators' refusal).
fn codes(out: &Output) -> Vec<String> {
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut codes: Vec<String> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    if let Some(code) = report["validator"]["code"].as_str() {
        codes.push(code.to_string());
    }
    codes
}

/// The code each surface gives for the folder `dir` against competition 1 of `schedule`.
fn three_codes(dir: &Path, schedule: &Path, competition: &Competition) -> [Vec<String>; 3] {
    let (dir_s, schedule_s) = (dir.to_str().unwrap(), schedule.to_str().unwrap());
    let model = run(&[
        "model",
        "check",
        dir_s,
        "--competition",
        "1",
        "--schedule",
        schedule_s,
        "--weights",
        "--json",
    ]);
    assert_eq!(model.status.code(), Some(1), "model check must fail");
    let validator = arena_validator::precheck::precheck(dir, &competition.constraints)
        .expect_err("the validators' precheck must refuse");
    let home = dir.parent().unwrap().join("home");
    let miner = Command::new(ARENA)
        .arg("--home")
        .arg(&home)
        .args([
            "miner",
            "check",
            dir_s,
            "--competition",
            "1",
            "--competitions",
            schedule_s,
            "--constraints-only",
            "--json",
        ])
        .env("ARENA_LOG", "warn")
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    assert_eq!(miner.status.code(), Some(1), "miner check must fail");
    [
        codes(&model),
        vec![validator.code().to_string()],
        codes(&miner),
    ]
}

#[test]
fn a_nan_weight_gives_non_finite_weights_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let (schedule, competition) = schedule(tmp.path());
    let dir = tmp.path().join("nan");
    tiny_llama(&dir);
    // One NaN in the first element of a projection weight.
    let path = dir.join("model.safetensors");
    let header = arena_checkpoint::st_header::read_header(&path).unwrap();
    let q = header
        .tensors
        .iter()
        .find(|t| t.name == "model.layers.0.self_attn.q_proj.weight")
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let at = q.offset as usize;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();

    let [model, validator, miner] = three_codes(&dir, &schedule, &competition);
    assert_eq!(model, ["non_finite_weights"]);
    assert_eq!(validator, ["non_finite_weights"]);
    assert_eq!(miner, ["non_finite_weights"]);
}

#[test]
fn a_disallowed_architecture_gives_architecture_not_allowed_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let (schedule, competition) = schedule(tmp.path());
    let dir = tmp.path().join("arch");
    tiny_llama(&dir);
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        config.replace("LlamaForCausalLM", "GPT2LMHeadModel"),
    )
    .unwrap();

    let [model, validator, miner] = three_codes(&dir, &schedule, &competition);
    // The checkpoint checks report every failure (an unknown architecture has no tensor layout
    // either); the first is the one the validators' precheck stops at.
    assert_eq!(
        model.first().map(String::as_str),
        Some("architecture_not_allowed")
    );
    assert_eq!(validator, ["architecture_not_allowed"]);
    assert_eq!(miner, model);
}
