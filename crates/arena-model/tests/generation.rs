//! Greedy generation with the kv-cache must equal the plain definition: at every step a full
//! forward pass over everything so far (no cache) and the argmax of the last position.

use std::path::PathBuf;

use arena_model::scoring::generate::argmax;
use arena_model::scoring::Evaluator;
use candle_core::{Device, Tensor};

fn fixtures() -> PathBuf {
    std::env::var_os("ARENA_TEST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"))
}

/// Greedy decoding without a cache, stopping where `generate_ids` stops.
fn uncached_greedy(eval: &Evaluator, prompt: &[u32], max_new: usize) -> Vec<u32> {
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
        let next = argmax(&logits.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        if stops.contains(&next) {
            break;
        }
        out.push(next);
        ids.push(next);
    }
    out
}

#[test]
fn kv_cache_generation_equals_step_by_step_argmax() {
    // Gemma 2 (window 32) and Phi-3 (window 48) generate past their windows here. Dynamic NTK
    // and LongRoPE are left out: their frequencies depend on the pass's length, so cached keys
    // keep the rotation of the pass that computed them (as in transformers).
    for name in [
        "tiny-llama",
        "tiny-mistral",
        "tiny-qwen2",
        "tiny-gemma",
        "tiny-gemma2",
        "tiny-phi3",
        "tiny-llama3-rope",
        "tiny-yarn",
        "tiny-linear-rope",
    ] {
        let eval = Evaluator::load(&fixtures().join(name), &Device::Cpu).unwrap();
        for prompt in ["Sort these words: pear apple fig", "What is 12 + 30?"] {
            let ids = eval.reference_ids(prompt).unwrap();
            let cached = eval.generate_ids(&ids, 40).unwrap();
            let plain = uncached_greedy(&eval, &ids, 40);
            assert_eq!(cached, plain, "{name}: {prompt:?}");
            assert!(
                !cached.is_empty(),
                "{name}: random weights rarely stop at once"
            );
            if name == "tiny-gemma2" {
                assert!(ids.len() + cached.len() > 32, "{name}: passes its window");
            }
            let again = eval.generate_ids(&ids, 40).unwrap();
            assert_eq!(cached, again, "{name}: deterministic");
            // The cap is in tokens.
            assert_eq!(
                eval.generate_ids(&ids, 3).unwrap(),
                cached[..cached.len().min(3)]
            );
        }
    }
}

#[test]
fn argmax_takes_the_first_maximum_and_ignores_nan() {
    assert_eq!(argmax(&[0.5, 2.0, 2.0, -1.0]), 1);
    assert_eq!(argmax(&[f32::NAN, 1.0, 0.0]), 1);
    assert_eq!(argmax(&[-3.0]), 0);
}
