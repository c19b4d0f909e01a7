//! Numerical parity with transformers on the fixture models (fixtures/README.md): token ids,
//! chat renders, per-token and mean losses, reference losses and raw logits. Batched runs must
//! give the numbers of batch size 1.

use arena_model::scoring::batch::{mean, token_losses, BatchLimits, ScoredSeq};
use arena_model::scoring::{Evaluator, PromptReference};
use arena_model::tokenizer::ChatMessage;
use arena_testkit::fixtures::{fixtures, smollm2_gguf};
use candle_core::{Device, Tensor};
use serde_json::Value;

/// Tolerances of one comparison: per token and on means.
#[derive(Clone, Copy)]
struct Tol {
    token: f64,
    mean: f64,
}

/// The f32 fixtures (fixtures/README.md suggests these).
const TINY: Tol = Tol {
    token: 1e-4,
    mean: 1e-5,
};

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn max_diff(ours: &[f32], expected: &[f64]) -> f64 {
    assert_eq!(ours.len(), expected.len(), "length differs");
    ours.iter()
        .zip(expected)
        .map(|(&a, &b)| (a as f64 - b).abs())
        .fold(0.0, f64::max)
}

/// Checks one fixture model; returns the largest per-token difference seen.
fn check_model(name: &str) -> f64 {
    let dir = fixtures().join(name);
    check_dir(name, &dir, &dir.join("expected.json"), TINY)
}

/// Checks the model folder `dir` against `expected_path`.
fn check_dir(name: &str, dir: &std::path::Path, expected_path: &std::path::Path, tol: Tol) -> f64 {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(expected_path).expect("expected.json"))
            .unwrap();
    let eval = Evaluator::load(dir, &Device::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut worst: f64 = 0.0;

    // Texts: tokenization, chat rendering, then losses batched and one by one.
    let texts = expected["texts"].as_array().unwrap();
    let mut seqs = Vec::new();
    for t in texts {
        let text = t["text"].as_str().unwrap();
        if let Some(msgs) = t["chat_messages"].as_array() {
            let msgs: Vec<ChatMessage> = msgs
                .iter()
                .map(|m| {
                    ChatMessage::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap())
                })
                .collect();
            assert_eq!(
                eval.tokenizer.apply_chat_template(&msgs, false).unwrap(),
                text,
                "{name}: chat render"
            );
        }
        let encoded = eval.tokenizer.encode(text).unwrap();
        assert_eq!(
            encoded,
            ids(&t["ids"]),
            "{name}: ids of text {}",
            t["index"]
        );
        seqs.push(ScoredSeq {
            id: format!("text{}", t["index"]),
            ids: encoded,
            first_target: 1,
        });
    }
    let model = eval.model.as_ref();
    let batched = token_losses(
        model,
        &seqs,
        BatchLimits {
            max_batch_tokens: 1 << 16,
            max_logit_rows: 97,
            ..BatchLimits::default()
        },
    );
    let single = token_losses(
        model,
        &seqs,
        BatchLimits {
            max_batch_tokens: 1,
            max_logit_rows: 1 << 20,
            ..BatchLimits::default()
        },
    );
    for ((t, b), s) in texts.iter().zip(&batched).zip(&single) {
        let (b, s) = (b.as_ref().unwrap(), s.as_ref().unwrap());
        let diff = max_diff(b, &floats(&t["losses"]));
        assert!(
            diff <= tol.token,
            "{name}: text {} per-token diff {diff}",
            t["index"]
        );
        worst = worst.max(diff);
        let mean_diff = (mean(b) - t["mean_loss"].as_f64().unwrap()).abs();
        assert!(
            mean_diff <= tol.mean,
            "{name}: text {} mean diff {mean_diff}",
            t["index"]
        );
        let pad_diff = b
            .iter()
            .zip(s)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            pad_diff <= 1e-5,
            "{name}: padded batch differs from batch size 1 by {pad_diff}"
        );
    }

    // Reference cases through the public method: contexts, ids, losses and the task mean.
    let cases = expected["reference_cases"].as_array().unwrap();
    for c in cases {
        let context = eval.tokenizer.apply_chat_template(
            &[ChatMessage::new("user", c["prompt"].as_str().unwrap())],
            true,
        );
        assert_eq!(
            context.unwrap(),
            c["context"].as_str().unwrap(),
            "{name}: context render"
        );
        assert_eq!(
            eval.reference_ids(c["prompt"].as_str().unwrap()).unwrap(),
            ids(&c["context_ids"])
        );
    }
    let samples: Vec<PromptReference> = cases
        .iter()
        .map(|c| PromptReference {
            id: c["index"].to_string(),
            prompt: c["prompt"].as_str().unwrap().into(),
            reference: c["reference"].as_str().unwrap().into(),
        })
        .collect();
    let result = eval.reference_loss(&samples);
    assert!(result.failures.is_empty(), "{name}: {:?}", result.failures);
    for (c, got) in cases.iter().zip(&result.per_sample) {
        assert!(
            (got - c["mean_loss"].as_f64().unwrap()).abs() <= tol.mean,
            "{name}: case {} mean {got}",
            c["index"]
        );
    }
    let over_cases = expected["reference_loss_mean_over_cases"].as_f64().unwrap();
    assert!(
        (result.raw - over_cases).abs() <= tol.mean,
        "{name}: mean over cases {}",
        result.raw
    );
    let ref_seqs: Vec<ScoredSeq> = cases
        .iter()
        .map(|c| ScoredSeq {
            id: c["index"].to_string(),
            ids: ids(&c["ids"]),
            first_target: c["n_context_tokens"].as_u64().unwrap() as usize,
        })
        .collect();
    for (c, l) in cases
        .iter()
        .zip(token_losses(model, &ref_seqs, BatchLimits::default()))
    {
        let diff = max_diff(&l.unwrap(), &floats(&c["reference_losses"]));
        assert!(
            diff <= tol.token,
            "{name}: case {} per-token diff {diff}",
            c["index"]
        );
        worst = worst.max(diff);
    }

    // Raw logits of text 0 at positions 0 and 1, vocab 0..16.
    let dbg = &expected["debug_logits"];
    let text_ids = &seqs[dbg["text_index"].as_u64().unwrap() as usize].ids;
    let input = Tensor::from_vec(text_ids.clone(), (1, text_ids.len()), &Device::Cpu).unwrap();
    let hidden = model.hidden(&input, None).unwrap();
    let positions: Vec<u32> = ids(&dbg["positions"]);
    let logits = model
        .logits_at(&hidden, &positions)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    for (row, want) in logits.iter().zip(dbg["logits"].as_array().unwrap()) {
        let diff = max_diff(&row[..16], &floats(want));
        assert!(diff <= tol.token, "{name}: debug logits diff {diff}");
    }
    eprintln!("{name}: max per-token |diff| = {worst:.2e}");
    worst
}

#[test]
fn tiny_llama_matches_transformers() {
    check_model("tiny-llama");
}

#[test]
fn tiny_mistral_matches_transformers() {
    check_model("tiny-mistral");
}

#[test]
fn tiny_qwen2_matches_transformers() {
    check_model("tiny-qwen2");
}

#[test]
fn tiny_llama_bf16_upcast_matches_transformers() {
    check_model("tiny-llama-bf16");
}

#[test]
fn smollm2_imported_from_gguf_matches_transformers() {
    let dir = tempfile::tempdir().unwrap();
    arena_checkpoint::gguf::import_gguf(&smollm2_gguf(), dir.path()).unwrap();
    let expected = fixtures().join("smollm2-135m/expected.json");
    check_dir(
        "smollm2-135m",
        dir.path(),
        &expected,
        Tol {
            token: 1e-3,
            mean: 1e-3,
        },
    );
}

/// The rope inverse frequencies and attention factor transformers used for each text length
/// (`rope` in expected.json) equal ours.
fn check_rope(name: &str) {
    let dir = fixtures().join(name);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"),
    )
    .unwrap();
    let config =
        arena_checkpoint::config::ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let rope = arena_model::model::rope::Rope::new(&config);
    for case in expected["rope"].as_array().expect("rope checks") {
        let n = case["seq_len"].as_u64().unwrap() as usize;
        let (inv, scale) = rope.inv_freq(n);
        let want = floats(&case["inv_freq"]);
        assert_eq!(inv.len(), want.len());
        for (i, (a, b)) in inv.iter().zip(&want).enumerate() {
            let rel = ((*a as f64 - b) / b).abs();
            assert!(rel <= 1e-6, "{name}: seq_len {n}: inv_freq[{i}] {a} vs {b}");
        }
        let want_scale = case["attention_scaling"].as_f64().unwrap();
        assert!(
            (scale as f64 - want_scale).abs() <= 1e-6,
            "{name}: attention factor {scale} vs {want_scale}"
        );
    }
}

#[test]
fn tiny_gemma_matches_transformers() {
    check_model("tiny-gemma");
}

#[test]
fn tiny_gemma2_matches_transformers() {
    check_model("tiny-gemma2");
}

#[test]
fn tiny_phi3_matches_transformers() {
    check_model("tiny-phi3");
}

#[test]
fn tiny_phi3_longrope_matches_transformers() {
    check_rope("tiny-phi3-longrope");
    check_model("tiny-phi3-longrope");
}

#[test]
fn tiny_llama3_rope_matches_transformers() {
    check_rope("tiny-llama3-rope");
    check_model("tiny-llama3-rope");
}

#[test]
fn tiny_yarn_matches_transformers() {
    check_rope("tiny-yarn");
    check_model("tiny-yarn");
}

#[test]
fn tiny_linear_rope_matches_transformers() {
    check_rope("tiny-linear-rope");
    check_model("tiny-linear-rope");
}

#[test]
fn tiny_dynamic_rope_matches_transformers() {
    check_rope("tiny-dynamic-rope");
    check_model("tiny-dynamic-rope");
}

/// Mean loss of the last (longest) text of fixture `name` after `edit` changed its config.json,
/// and the expected (unchanged) mean.
fn last_text_mean_with(
    name: &str,
    edit: impl Fn(&mut serde_json::Map<String, Value>),
) -> (f64, f64) {
    let dir = fixtures().join(name);
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    edit(config.as_object_mut().unwrap());
    std::fs::write(tmp.path().join("config.json"), config.to_string()).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let eval = Evaluator::load(tmp.path(), &Device::Cpu).unwrap();
    let last = expected["texts"].as_array().unwrap().last().unwrap();
    let seq = ScoredSeq {
        id: "last".into(),
        ids: ids(&last["ids"]),
        first_target: 1,
    };
    let losses = token_losses(eval.model.as_ref(), &[seq], BatchLimits::default());
    (
        mean(losses[0].as_ref().unwrap()),
        last["mean_loss"].as_f64().unwrap(),
    )
}

/// The scalings must matter at these lengths: each rope fixture's losses differ from what the
/// default rope gives on the same weights (so a loader that ignored the scaling would fail).
#[test]
fn rope_scalings_change_the_losses() {
    for name in [
        "tiny-llama3-rope",
        "tiny-yarn",
        "tiny-linear-rope",
        "tiny-dynamic-rope",
        "tiny-phi3-longrope",
    ] {
        let (got, want) = last_text_mean_with(name, |obj| {
            obj.remove("rope_scaling");
            obj.insert(
                "rope_parameters".into(),
                serde_json::json!({"rope_type": "default", "rope_theta": 10000.0}),
            );
            obj.insert("max_position_embeddings".into(), serde_json::json!(512));
        });
        assert!(
            (got - want).abs() > 1e-3,
            "{name}: the default rope gives the same mean ({got} vs {want})"
        );
    }
}

/// Gemma 2's soft-caps and sliding window matter on its fixture: switching either off changes
/// the longest text's mean loss.
#[test]
fn gemma2_caps_and_window_matter() {
    for (what, key, value) in [
        ("attention cap", "attn_logit_softcapping", Value::Null),
        ("final cap", "final_logit_softcapping", Value::Null),
        ("window", "sliding_window", serde_json::json!(4096)),
    ] {
        let (got, want) = last_text_mean_with("tiny-gemma2", |obj| {
            obj.insert(key.into(), value.clone());
        });
        assert!(
            (got - want).abs() > 1e-3,
            "tiny-gemma2: without the {what} the mean is the same ({got} vs {want})"
        );
    }
}
