//! `arena miner check` and `arena miner train --from-uid` as processes against a real small
//! network: an in-process local chain (served over JSON-RPC) and hub, where a miner committed
//! the tiny fixture Llama and holds the incentive after a validator's weights and an epoch.
//!
//! The models have a known order: the tiny Llama with its output head scaled by 0.25 is
//! strictly better than the original, and scaled by 2 strictly worse (cross-entropy is convex
//! in the logit scale and the random head is worse than uniform, which the test checks).
//!
//! * a better model would win: the report names the incumbent's uid, its epsilon and a margin
//!   that agrees with both scores; exit 0;
//! * a worse model would lose: exit 3;
//! * a wrong architecture stops at the constraint stage with the typed violation;
//! * `train --from-uid` downloads and verifies the incumbent and starts from exactly its
//!   weights (held-out loss before training equals the incumbent's); a uid whose commitment
//!   carries a forged secure hash is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arena_chain::Chain;
use arena_core::seed::Seed;
use arena_data::tasks::{TaskGenerator, TaskKind};
use arena_hub::client::HubClient;
use arena_keys::Keypair;
use arena_model::scoring::PromptReference;
use arena_model::{Device, Evaluator};
use arena_testkit::fixtures::tiny_llama_scaled;
use arena_testkit::process::{output_blocking, plain};
use arena_testkit::TinyCompetition;
use serde_json::Value;

const ARENA: &str = env!("CARGO_BIN_EXE_arena");
const EPSILON: f64 = 0.005;

/// Competition 1 sized for the tiny models, scored on seeded word-sorting samples.
fn schedule() -> String {
    TinyCompetition::new("tiny-check").epsilon(EPSILON).toml()
}

/// The held-out samples `miner train --task arithmetic --samples n --held-out k
/// --data-seed s` evaluates: indices n..n+k of the seeded generator.
fn held_out(seed: &str, n: u64, k: u64) -> Vec<PromptReference> {
    generated(TaskKind::Arithmetic, seed, n, k)
}

/// Samples n..n+k of `kind`'s generator seeded by the text `seed`.
fn generated(kind: TaskKind, seed: &str, n: u64, k: u64) -> Vec<PromptReference> {
    let seed = Seed::from_text(seed);
    (n..n + k)
        .map(|i| {
            let s = kind.generate(&seed, i);
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

/// A local chain (tempo 10) served over JSON-RPC and a hub, in this process.
struct Net(arena_testkit::Net);

impl std::ops::Deref for Net {
    type Target = arena_testkit::Net;
    fn deref(&self) -> &arena_testkit::Net {
        &self.0
    }
}

impl Net {
    async fn start() -> Net {
        let net = arena_testkit::Net::builder()
            .hub_users(&["alice", "bob", "mallory"])
            .rpc()
            .start()
            .await;
        Net(net)
    }

    /// Uploads `dir` as `<namespace>/m` and commits it for competition 1 with the secure hash
    /// computed for `hash_for`'s hotkey (the committer's own, unless forging).
    async fn publish(&self, namespace: &str, committer: &Keypair, hash_for: &Keypair, dir: &Path) {
        let client =
            HubClient::new(&self.hub_url, Some(format!("{namespace}-token-0123"))).unwrap();
        let repo = format!("{namespace}/m");
        client.create_repo(&repo, false, true).await.unwrap();
        let commit = client.upload_folder(&repo, dir, "model").await.unwrap();
        let hash = arena_hub::model_hash::hash_directory(dir).unwrap();
        let secure = hash.secure_hash(&hash_for.public().ss58());
        let text = format!("{namespace}:m:{commit}:{secure}:1");
        self.chain
            .set_commitment(committer, self.netuid, text.as_bytes())
            .await
            .unwrap();
    }

    /// `arena --home <root>/home miner <args…>` with the network's chain, hub and subnet.
    async fn miner(&self, args: &[&str]) -> Output {
        let home = self.root.path().join("home");
        let mut cmd = Command::new(ARENA);
        cmd.arg("--home").arg(&home).arg("miner").args(args);
        cmd.args(["--chain", self.chain_url(), "--hub", &self.hub_url]);
        cmd.args(["--netuid", &self.netuid.to_string()]);
        cmd.arg("--competitions")
            .arg(self.root.path().join("competitions.toml"));
        cmd.env("ARENA_LOG", "info").env("RAYON_NUM_THREADS", "2");
        cmd.env_remove("HF_TOKEN").env_remove("HF_ENDPOINT");
        output_blocking(cmd).await
    }
}

fn json_line(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_else(|| {
        panic!("no output; stderr: {}", plain(&out.stderr));
    });
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_train_from_uid_against_the_incumbent() {
    let net = Net::start().await;
    std::fs::write(net.root.path().join("competitions.toml"), schedule()).unwrap();
    let work = net.root.path().join("work");
    let (validator, _) = net.register("//check-validator", 1_000_000_000_000).await;
    let (alice, alice_uid) = net.register("//alice-miner", 0).await;
    let (bob, bob_uid) = net.register("//bob-miner", 0).await;
    let (mallory, mallory_uid) = net.register("//mallory-miner", 0).await;

    // The incumbent: the tiny Llama as is. Bob commits a worse one; Mallory re-uploads
    // Alice's files with a secure hash computed for Alice's hotkey, not hers.
    let incumbent_dir = work.join("incumbent");
    tiny_llama_scaled(&incumbent_dir, 1.0);
    let bob_dir = work.join("bob");
    tiny_llama_scaled(&bob_dir, 2.0);
    // Alice commits last: the incumbent is found by incentive, not by age.
    net.publish("bob", &bob, &bob, &bob_dir).await;
    net.publish("mallory", &mallory, &alice, &incumbent_dir)
        .await;
    net.produce(1);
    net.publish("alice", &alice, &alice, &incumbent_dir).await;
    net.produce(20); // an epoch: the validator gets its permit

    net.chain
        .set_weights(&validator, net.netuid, &[alice_uid], &[u16::MAX], 0)
        .await
        .unwrap();
    net.produce(12);
    let metagraph = net.chain.metagraph(net.netuid).await.unwrap();
    let incentive = |uid: u16| metagraph.neurons[usize::from(uid)].incentive;
    assert!(incentive(alice_uid) > 0, "{:?}", metagraph.neurons);
    assert_eq!((incentive(bob_uid), incentive(mallory_uid)), (0, 0));

    // The known order of the three models, checked where it rests on the random head.
    let uniform = (1024f64).ln();
    let probe = generated(TaskKind::WordSorting, "order", 0, 8);
    let base_loss = validator_loss(&incumbent_dir, &probe);
    assert!(
        base_loss > uniform,
        "{base_loss} must be worse than uniform"
    );

    // (1) a better model would win against Alice, by a margin consistent with both scores.
    let better = work.join("better");
    tiny_llama_scaled(&better, 0.25);
    let out = net
        .miner(&[
            "check",
            better.to_str().unwrap(),
            "--competition",
            "1",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", plain(&out.stderr));
    let report = json_line(&out);
    eprintln!("better: {report}");
    assert_eq!(report["would_win"], true, "{report}");
    assert_eq!(report["competition"], 1);
    assert_eq!(report["samples"][0], serde_json::json!(["word_sorting", 8]));
    let inc = &report["incumbent"];
    assert_eq!(inc["uid"].as_u64(), Some(u64::from(alice_uid)), "{report}");
    assert_eq!(inc["hotkey"], alice.public().ss58());
    assert!(inc["commitment"].as_str().unwrap().starts_with("alice:m:"));
    assert_eq!(
        inc["incentive"].as_u64(),
        Some(u64::from(incentive(alice_uid)))
    );
    assert_eq!(inc["epsilon"].as_f64(), Some(EPSILON));
    let ours = report["ours"]["total"].as_f64().unwrap();
    let theirs = inc["score"]["total"].as_f64().unwrap();
    assert!(ours < theirs * (1.0 - EPSILON), "{ours} vs {theirs}");
    let margin = report["margin"].as_f64().unwrap();
    assert!(margin > 0.0);
    assert!((margin - (1.0 - ours / (theirs * (1.0 - EPSILON)))).abs() < 1e-12);
    let seed = report["seed"].as_str().unwrap().to_string();

    // The text report says the same.
    let out = net
        .miner(&["check", better.to_str().unwrap(), "--competition", "1"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", plain(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(
        text.contains(&format!("uid {alice_uid} (alice:m:")),
        "{text}"
    );
    assert!(text.contains("epsilon now 0.0050"), "{text}");
    assert!(
        text.contains(&format!("would WIN by {:.2}%", 100.0 * margin)),
        "{text}"
    );

    // (2) a worse model would lose (exit 3), on the same seeded samples.
    let worse = work.join("worse");
    tiny_llama_scaled(&worse, 2.0);
    let out = net
        .miner(&[
            "check",
            worse.to_str().unwrap(),
            "--competition",
            "1",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", plain(&out.stderr));
    let report = json_line(&out);
    assert_eq!(report["would_win"], false);
    assert_eq!(report["seed"].as_str(), Some(seed.as_str()));
    assert_eq!(
        report["incumbent"]["uid"].as_u64(),
        Some(u64::from(alice_uid))
    );
    assert_eq!(report["incumbent"]["score"]["total"].as_f64(), Some(theirs));
    assert!(
        report["ours"]["total"].as_f64().unwrap() > theirs,
        "{report}"
    );
    let worse_total = report["ours"]["total"].as_f64().unwrap();
    assert!(report["margin"].as_f64().unwrap() < 0.0);
    let out = net
        .miner(&["check", worse.to_str().unwrap(), "--competition", "1"])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", plain(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // The score must drop below the incumbent's after epsilon: by 1 − bar/ours of itself.
    let needed = 100.0 * (1.0 - theirs * (1.0 - EPSILON) / worse_total);
    assert!(
        text.contains(&format!("would LOSE: needs a score {needed:.2}% lower")),
        "{text}"
    );

    // (3) a wrong architecture stops at the constraint stage, naming the violation.
    let wrong = work.join("wrong-arch");
    tiny_llama_scaled(&wrong, 0.25);
    let config = std::fs::read_to_string(wrong.join("config.json")).unwrap();
    std::fs::write(
        wrong.join("config.json"),
        config.replace("LlamaForCausalLM", "MistralForCausalLM"),
    )
    .unwrap();
    let out = net
        .miner(&[
            "check",
            wrong.to_str().unwrap(),
            "--competition",
            "1",
            "--json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", plain(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = plain(&out.stderr);
    assert!(err.contains("fails the validators' checks"), "{err}");
    assert!(
        err.contains(
            r#"architecture_not_allowed: architecture "MistralForCausalLM" is not allowed (allowed: ["LlamaForCausalLM"])"#
        ),
        "{err}"
    );

    // (4) training from Alice's uid starts from exactly her verified weights.
    let trained = work.join("trained");
    let out = net
        .miner(&[
            "train",
            "--from-uid",
            &alice_uid.to_string(),
            "--competition",
            "1",
            "--task",
            "arithmetic",
            "--samples",
            "32",
            "--held-out",
            "8",
            "--data-seed",
            "7",
            "--steps",
            "2",
            "--batch",
            "2",
            "--warmup",
            "0",
            "--out",
            trained.to_str().unwrap(),
            "--json",
            "--no-progress",
        ])
        .await;
    let log = plain(&out.stderr);
    assert!(out.status.success(), "{log}");
    let summary = json_line(&out);
    eprintln!("trained: {summary}");
    assert!(
        log.contains("base model fetched and verified")
            && log.contains(&format!("uid={alice_uid} hotkey={}", alice.public().ss58())),
        "{log}"
    );
    let before = summary["held_out_before"].as_f64().unwrap();
    let expected = validator_loss(&incumbent_dir, &held_out("7", 32, 8));
    assert!((before - expected).abs() < 1e-9, "{before} vs {expected}");
    assert_eq!(summary["steps"], 2);
    let model_dir = PathBuf::from(summary["model_dir"].as_str().unwrap());
    assert!(model_dir.join("model.safetensors").is_file());
    assert!(model_dir.join("config.json").is_file());
    let after = validator_loss(&model_dir, &held_out("7", 32, 8));
    assert!(after != expected, "two steps changed nothing");
    let cached = net.root.path().join("home/miner/models/models--alice--m");
    assert!(
        cached.is_dir(),
        "the incumbent is cached under the miner's home"
    );

    // A forged secure hash is refused, exactly as validators refuse it.
    let out = net
        .miner(&[
            "train",
            "--from-uid",
            &mallory_uid.to_string(),
            "--competition",
            "1",
            "--task",
            "arithmetic",
            "--steps",
            "2",
            "--out",
            work.join("forged").to_str().unwrap(),
            "--no-progress",
        ])
        .await;
    let err = plain(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("uid {mallory_uid} ({})", mallory.public().ss58())),
        "{err}"
    );
    assert!(err.contains("secure hash mismatch"), "{err}");
    assert!(!work.join("forged").join("model.safetensors").exists());
}
