//! Weights kept in their stored dtype: a bf16 checkpoint stays bf16 in memory and is upcast
//! one matrix at a time for its products, which must give exactly the numbers of an f32 copy;
//! rounding an f32 checkpoint to bf16 at load must give exactly what transformers computes on
//! the same weights rounded to bf16 (the `tiny-llama-bf16` fixture is tiny-llama rounded).

use arena_model::scoring::batch::{token_losses, BatchLimits, ScoredSeq};
use arena_model::weights::{weights_size, WeightDtype};
use arena_model::Evaluator;
use arena_testkit::fixtures::fixtures;
use candle_core::Device;
use serde_json::Value;

fn expected(name: &str) -> Value {
    let path = fixtures().join(name).join("expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text_seqs(expected: &Value) -> Vec<ScoredSeq> {
    expected["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| ScoredSeq {
            id: format!("text{}", t["index"]),
            ids: t["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect(),
            first_target: 1,
        })
        .collect()
}

fn losses(name: &str, dtype: WeightDtype, seqs: &[ScoredSeq]) -> Vec<Vec<f32>> {
    let eval = Evaluator::load_as(&fixtures().join(name), &Device::Cpu, dtype).unwrap();
    token_losses(eval.model.as_ref(), seqs, BatchLimits::default())
        .into_iter()
        .map(|l| l.unwrap())
        .collect()
}

#[test]
fn stored_bf16_weights_give_the_numbers_of_an_f32_upcast() {
    let seqs = text_seqs(&expected("tiny-llama-bf16"));
    let stored = losses("tiny-llama-bf16", WeightDtype::Stored, &seqs);
    let upcast = losses("tiny-llama-bf16", WeightDtype::F32, &seqs);
    // Identical products; only the few-row kernel sums in another order.
    for (a, b) in stored.iter().zip(&upcast) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
        }
    }
}

#[test]
fn rounding_f32_weights_to_bf16_at_load_matches_transformers_on_rounded_weights() {
    let want = expected("tiny-llama-bf16");
    let seqs = text_seqs(&want);
    let ours = losses("tiny-llama", WeightDtype::Bf16, &seqs);
    for (t, l) in want["texts"].as_array().unwrap().iter().zip(&ours) {
        let theirs: Vec<f64> = t["losses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(l.len(), theirs.len());
        let diff = l
            .iter()
            .zip(&theirs)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(diff <= 1e-4, "text {}: per-token diff {diff}", t["index"]);
    }
    // And f16 rounding really changes the numbers (the switch is not a no-op).
    let f16 = losses("tiny-llama", WeightDtype::F16, &seqs);
    let f32 = losses("tiny-llama", WeightDtype::Stored, &seqs);
    assert_ne!(f16, f32);
}

#[test]
fn weight_dtypes_parse_and_sizes_are_the_files() {
    assert_eq!(WeightDtype::parse("stored"), Some(WeightDtype::Stored));
    assert_eq!(WeightDtype::parse("bfloat16"), Some(WeightDtype::Bf16));
    assert_eq!(WeightDtype::parse("f16"), Some(WeightDtype::F16));
    assert_eq!(WeightDtype::parse("int4"), None);
    let dir = fixtures().join("tiny-llama-bf16");
    let file = std::fs::metadata(dir.join("model.safetensors"))
        .unwrap()
        .len();
    assert_eq!(weights_size(&dir).unwrap(), file);
}

#[test]
fn a_truncated_weight_file_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("tiny-llama-bf16");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    let weights = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() - 100]).unwrap();
    let err = Evaluator::load(tmp.path(), &Device::Cpu)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("past the end"), "{err}");
}
