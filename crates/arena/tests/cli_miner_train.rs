//! `arena miner train` as a process: it lowers the validator's held-out loss of a synthetic
//! task on the tiny fixture model, saves a folder the evaluation engine scores exactly as the
//! trained model, in transformers' layout; a run killed with SIGKILL resumes from its last
//! checkpoint and ends with the weights of an uninterrupted run; LoRA with bf16 products
//! trains and saves merged weights.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arena_core::seed::Seed;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_model::scoring::PromptReference;
use arena_model::{Device, Evaluator};
use arena_testkit::fixtures::fixtures;
use serde_json::Value;

/// `arena --home <home> miner train --competition 1 --task arithmetic …` plus `extra`.
fn train_cmd(home: &Path, base: &str, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    cmd.arg("--home").arg(home);
    cmd.args([
        "miner",
        "train",
        "--competition",
        "1",
        "--task",
        "arithmetic",
    ]);
    cmd.arg("--base").arg(fixtures().join(base));
    cmd.arg("--out").arg(out);
    cmd.args(["--json", "--no-progress"]).args(extra);
    cmd.env("RAYON_NUM_THREADS", "2");
    cmd
}

fn run_json(mut cmd: Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// The held-out samples the CLI draws for `--samples n --held-out k --seed s`: indices n..n+k.
fn held_out(seed: &str, n: u64, k: u64) -> Vec<PromptReference> {
    let seed = Seed::from_text(seed);
    (n..n + k)
        .map(|i| {
            let s = TaskKind::Arithmetic.generate(&seed, i);
            PromptReference {
                id: s.id,
                prompt: s.prompt,
                reference: s.response,
            }
        })
        .collect()
}

fn validator_loss(dir: &Path, samples: &[PromptReference]) -> f64 {
    let result = Evaluator::load(dir, &Device::Cpu)
        .unwrap()
        .reference_loss(samples);
    assert!(result.failures.is_empty(), "{:?}", result.failures);
    result.raw
}

/// (name, shape, dtype) of every tensor of `dir/model.safetensors`, sorted.
fn tensors(dir: &Path) -> Vec<(String, Vec<usize>, String)> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec(), format!("{:?}", t.dtype())))
        .collect();
    v.sort();
    v
}

fn config_keys(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn training_lowers_the_held_out_loss_and_saves_a_folder_that_scores_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let summary = run_json(train_cmd(
        tmp.path(),
        "tiny-llama",
        &out,
        &[
            "--samples",
            "400",
            "--held-out",
            "24",
            "--steps",
            "200",
            "--lr",
            "3e-3",
            "--batch",
            "8",
            "--warmup",
            "20",
            "--seed",
            "5",
            "--checkpoint-every",
            "100",
        ],
    ));
    assert_eq!(summary["steps"], 200);
    let model = out.join("model");
    let samples = held_out("5", 400, 24);
    let before = validator_loss(&fixtures().join("tiny-llama"), &samples);
    let after = validator_loss(&model, &samples);
    assert!(
        after < 0.5 * before,
        "held-out arithmetic loss {before:.3} -> {after:.3}: not a clear improvement"
    );
    // The same samples and the same number as the CLI's own report.
    assert!((summary["held_out_before"].as_f64().unwrap() - before).abs() < 1e-9);
    assert!((summary["held_out_after"].as_f64().unwrap() - after).abs() < 1e-9);
    // The trained model in memory scored these samples before saving; the saved folder,
    // loaded by the evaluation engine, gives the same loss.
    let in_memory = summary["held_out_trained"].as_f64().unwrap();
    assert!(
        (in_memory - after).abs() < 1e-4,
        "in memory {in_memory} vs saved {after}"
    );
    // transformers' layout: the base's config keys, tensor names, shapes and dtypes.
    let base = fixtures().join("tiny-llama");
    assert_eq!(tensors(&model), tensors(&base));
    assert_eq!(config_keys(&model), config_keys(&base));
    for file in [
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        assert!(model.join(file).is_file(), "{file} missing");
    }
    // One log line per step, steps 1..=200, losses finite and falling.
    let log = read_log(&out);
    assert_eq!(
        log.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );
    let first: f64 = log[..10].iter().map(|(_, l)| l).sum::<f64>() / 10.0;
    let last: f64 = log[190..].iter().map(|(_, l)| l).sum::<f64>() / 10.0;
    assert!(last < 0.5 * first, "training loss {first:.3} -> {last:.3}");
    // A second run into the same folder refuses to overwrite the checkpoint.
    let again = train_cmd(tmp.path(), "tiny-llama", &out, &["--steps", "200"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
}

/// (step, loss) of every line of `out/log.jsonl`.
fn read_log(out: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(out.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

#[test]
fn a_run_killed_with_sigkill_resumes_from_its_checkpoint_and_ends_like_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let flags = [
        "--samples",
        "200",
        "--held-out",
        "0",
        "--steps",
        "150",
        "--lr",
        "3e-3",
        "--batch",
        "4",
        "--grad-accum",
        "2",
        "--warmup",
        "5",
        "--seed",
        "9",
        "--checkpoint-every",
        "10",
    ];
    let straight_out = tmp.path().join("straight");
    run_json(train_cmd(tmp.path(), "tiny-llama", &straight_out, &flags));
    let straight_log = read_log(&straight_out);

    let out = tmp.path().join("killed");
    let mut child = train_cmd(tmp.path(), "tiny-llama", &out, &flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while read_log(&out).last().map_or(0, |(s, _)| *s) < 25 {
        assert!(Instant::now() < deadline, "training made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!out.join("model").exists(), "killed before saving");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint/state.json")).unwrap())
            .unwrap();
    let at = state["step"].as_u64().unwrap();
    assert!(
        at >= 20 && at % 10 == 0 && at < 150,
        "checkpoint at step {at}"
    );
    let killed_len = read_log(&out).len();

    // Other flags than the checkpoint's are refused, naming the flag to fix.
    let mut other = flags.to_vec();
    let seed_at = other.len() - 3;
    other[seed_at] = "10";
    let refused = train_cmd(tmp.path(), "tiny-llama", &out, &other)
        .arg("--resume")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("same flags"));

    let summary = run_json({
        let mut c = train_cmd(tmp.path(), "tiny-llama", &out, &flags);
        c.arg("--resume");
        c
    });
    assert_eq!(summary["start_step"].as_u64().unwrap(), at);
    assert_eq!(summary["steps"], 150);
    let resumed: Vec<(u64, f64)> = read_log(&out)[killed_len..].to_vec();
    assert_eq!(
        resumed.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (at + 1..=150).collect::<Vec<_>>(),
        "the step counter continues from the checkpoint"
    );
    for (step, loss) in &resumed {
        let (_, want) = straight_log[*step as usize - 1];
        assert!(
            (loss - want).abs() < 1e-5,
            "step {step}: resumed loss {loss} vs uninterrupted {want}"
        );
    }
    // The trainer is deterministic on CPU: same order, same schedule, same arithmetic.
    let read = |dir: &Path| std::fs::read(dir.join("model/model.safetensors")).unwrap();
    assert!(
        read(&out) == read(&straight_out),
        "resumed weights differ from the uninterrupted run's"
    );
}

#[test]
fn lora_with_bf16_products_learns_and_saves_merged_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lora");
    let summary = run_json(train_cmd(
        tmp.path(),
        "tiny-qwen2",
        &out,
        &[
            "--samples",
            "300",
            "--held-out",
            "16",
            "--steps",
            "150",
            "--lr",
            "2e-2",
            "--batch",
            "8",
            "--warmup",
            "10",
            "--seed",
            "3",
            "--lora-rank",
            "8",
            "--dtype",
            "bf16",
            "--checkpoint-every",
            "0",
        ],
    ));
    // Adapters only: 2 layers × 7 projections × (A + B) for rank 8.
    let trainable = summary["trainable_params"].as_u64().unwrap();
    assert!(trainable < 40_000, "{trainable} trainable parameters");
    let model = out.join("model");
    assert_eq!(tensors(&model), tensors(&fixtures().join("tiny-qwen2")));
    let samples = held_out("3", 300, 16);
    let before = validator_loss(&fixtures().join("tiny-qwen2"), &samples);
    let after = validator_loss(&model, &samples);
    assert!(
        after < 0.6 * before,
        "LoRA held-out loss {before:.3} -> {after:.3}"
    );
    // bf16 products in memory, f32 in the evaluation engine: equal up to bf16 rounding.
    let in_memory = summary["held_out_trained"].as_f64().unwrap();
    assert!((in_memory - after).abs() < 0.05, "{in_memory} vs {after}");
}
