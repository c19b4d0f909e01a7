//! The per-task evaluation settings on the fixture models: the repetition penalty, the token
//! cap, a system prompt and references encoded with special tokens, each against a
//! recomputation from the engine's plain parts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arena_model::scoring::batch::ScoredSeq;
use arena_model::scoring::generate::{apply_repetition_penalty, argmax, Generation};
use arena_model::scoring::{Evaluator, PromptReference, ReferenceSettings};
use arena_model::tokenizer::ChatMessage;
use candle_core::{Device, Tensor};

fn fixtures() -> PathBuf {
    std::env::var_os("ARENA_TEST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"))
}

const MODELS: [&str; 3] = ["tiny-llama", "tiny-mistral", "tiny-qwen2"];
const PROMPTS: [&str; 2] = ["Sort these words: pear apple fig", "What is 12 + 30?"];

/// Greedy decoding with the repetition penalty, without a cache: at every step a full forward
/// pass over the sequence so far, the penalty applied to the last position's logits over every
/// distinct token of the sequence (prompt included), then the argmax.
fn uncached_penalised(eval: &Evaluator, prompt: &[u32], max_new: usize, penalty: f32) -> Vec<u32> {
    let stops = eval.stop_ids();
    let mut ids = prompt.to_vec();
    let mut out = Vec::new();
    while out.len() < max_new {
        let input = Tensor::from_vec(ids.clone(), (1, ids.len()), &Device::Cpu).unwrap();
        let hidden = eval.model.hidden(&input, None).unwrap();
        let logits = eval
            .model
            .logits_at(&hidden, &[(ids.len() - 1) as u32])
            .unwrap();
        let mut logits = logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for &t in ids.iter().collect::<HashSet<_>>() {
            let v = &mut logits[t as usize];
            *v = if *v < 0.0 { *v * penalty } else { *v / penalty };
        }
        let next = argmax(&logits);
        if stops.contains(&next) {
            break;
        }
        out.push(next);
        ids.push(next);
    }
    out
}

#[test]
fn penalised_generation_equals_step_by_step_recomputation_and_differs_from_plain() {
    let mut differs = 0;
    for name in MODELS {
        let eval = Evaluator::load(&fixtures().join(name), &Device::Cpu).unwrap();
        for prompt in PROMPTS {
            let ids = eval.reference_ids(prompt).unwrap();
            for penalty in [1.1f32, 1.2, 2.0] {
                let generation = Generation {
                    max_new_tokens: 30,
                    repetition_penalty: penalty,
                };
                let cached = eval.generate_ids_with(&ids, generation).unwrap();
                let plain = uncached_penalised(&eval, &ids, 30, penalty);
                assert_eq!(cached, plain, "{name} {penalty}: {prompt:?}");
                // The token cap is honoured, and a shorter cap is a prefix.
                assert!(cached.len() <= 30);
                let short = Generation {
                    max_new_tokens: 4,
                    ..generation
                };
                assert_eq!(
                    eval.generate_ids_with(&ids, short).unwrap(),
                    cached[..cached.len().min(4)]
                );
                if cached != eval.generate_ids(&ids, 30).unwrap() {
                    differs += 1;
                }
            }
            // A penalty of 1 is plain greedy decoding.
            assert_eq!(
                eval.generate_ids_with(&ids, Generation::greedy(30))
                    .unwrap(),
                eval.generate_ids(&ids, 30).unwrap()
            );
        }
    }
    // Random weights repeat tokens, so the penalty changes some of the 18 generations.
    assert!(
        differs > 0,
        "the repetition penalty never changed a generation"
    );
}

#[test]
fn penalty_on_a_hand_made_logits_vector() {
    // Positive logits are divided, negative ones multiplied, each distinct seen token once.
    let mut logits = vec![3.0f32, -2.0, 2.9, 0.5];
    let seen: HashSet<u32> = [0, 1, 1].into_iter().collect();
    apply_repetition_penalty(&mut logits, &seen, 1.2);
    assert_eq!(logits, vec![2.5, -2.4, 2.9, 0.5]);
    // Token 0 led by 0.1 before the penalty; token 2 leads after it.
    assert_eq!(argmax(&logits), 2);
}

#[test]
fn a_system_prompt_is_rendered_before_the_user_turn() {
    let eval = Evaluator::load(&fixtures().join("tiny-qwen2"), &Device::Cpu).unwrap();
    let system = "You are terse.";
    let user = "What is 12 + 30?";
    let with = eval.prompt_ids(user, Some(system)).unwrap();
    let text = eval
        .tokenizer
        .apply_chat_template(
            &[
                ChatMessage::new("system", system),
                ChatMessage::new("user", user),
            ],
            true,
        )
        .unwrap();
    assert!(
        text.starts_with("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\n"),
        "{text:?}"
    );
    assert_eq!(with, eval.tokenizer.encode(&text).unwrap());
    let decoded = eval.tokenizer.decode(&with).unwrap();
    assert!(decoded.contains(system), "{decoded:?}");
    // Without it, the context is the user turn alone: the same ids as the tail.
    let without = eval.prompt_ids(user, None).unwrap();
    assert!(with.len() > without.len() && with.ends_with(&without));
    // The reference loss is computed after the system turn.
    let sample = PromptReference {
        id: "s".into(),
        prompt: user.into(),
        reference: "42".into(),
    };
    let settings = ReferenceSettings {
        system_prompt: Some(system.into()),
        special_tokens: false,
    };
    let got = eval.reference_loss_with(std::slice::from_ref(&sample), &settings);
    let mut ids = with.clone();
    ids.extend(eval.tokenizer.encode("42").unwrap());
    let expected = eval.score_means(vec![Ok(ScoredSeq {
        id: "s".into(),
        ids,
        first_target: with.len(),
    })]);
    assert_eq!(got.per_sample, vec![*expected[0].as_ref().unwrap()]);
    assert_ne!(got.raw, eval.reference_loss(&[sample]).raw);
}

/// A copy of `name` whose tokenizer adds `<|endoftext|>` (id 0) before every sequence, as a
/// BOS-adding tokenizer does.
fn with_bos(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join("tokenizer.json");
    let mut tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tok["post_processor"] = serde_json::json!({
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}
    });
    std::fs::write(&path, tok.to_string()).unwrap();
    dir
}

fn reference_case(dir: &Path) -> (Evaluator, PromptReference) {
    let eval = Evaluator::load(dir, &Device::Cpu).unwrap();
    let sample = PromptReference {
        id: "r".into(),
        prompt: "Sort these words: pear apple fig".into(),
        reference: "apple fig pear".into(),
    };
    (eval, sample)
}

#[test]
fn references_encoded_with_special_tokens() {
    // The fixture tokenizers add nothing: both encodings are the same ids and scores.
    let (eval, sample) = reference_case(&fixtures().join("tiny-llama"));
    let plain = eval.tokenizer.encode(&sample.reference).unwrap();
    assert_eq!(
        eval.tokenizer
            .encode_with_special_tokens(&sample.reference)
            .unwrap(),
        plain
    );
    let special = ReferenceSettings {
        system_prompt: None,
        special_tokens: true,
    };
    let a = eval.reference_loss_with(std::slice::from_ref(&sample), &special);
    assert_eq!(a, eval.reference_loss(std::slice::from_ref(&sample)));

    // A tokenizer that adds a BOS puts it in the reference, as SN37's encode(reference) does.
    let dir = with_bos("tiny-llama");
    let (eval, sample) = reference_case(dir.path());
    let with = eval
        .tokenizer
        .encode_with_special_tokens(&sample.reference)
        .unwrap();
    let mut expected_ids = vec![0];
    expected_ids.extend(&plain);
    assert_eq!(with, expected_ids);
    let got = eval.reference_loss_with(std::slice::from_ref(&sample), &special);
    let context = eval.reference_ids(&sample.prompt).unwrap();
    let mut ids = context.clone();
    ids.extend(&with);
    let expected = eval.score_means(vec![Ok(ScoredSeq {
        id: "r".into(),
        ids,
        first_target: context.len(),
    })]);
    assert_eq!(got.per_sample, vec![*expected[0].as_ref().unwrap()]);
    let without = eval.reference_loss(std::slice::from_ref(&sample));
    assert_ne!(got.raw, without.raw);
}
