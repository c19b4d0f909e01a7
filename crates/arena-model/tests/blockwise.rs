//! The evaluation engine's attention forced into small blocks of query positions (the byte
//! budget is process-wide, so the tests that change it live in this file, in one test):
//! per-token losses of the fixture models equal those of the default blocks (1e-5) and
//! transformers' (1e-4, as parity.rs checks), and kv-cache generation is unchanged.

use arena_model::attention::{block_bytes, set_block_bytes};
use arena_model::scoring::batch::{token_losses, BatchLimits, ScoredSeq};
use arena_model::scoring::Evaluator;
use arena_testkit::fixtures::fixtures;
use candle_core::Device;
use serde_json::Value;

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

#[test]
fn small_blocks_change_no_loss_and_no_generated_token() {
    let default_budget = block_bytes();
    // Tiny models: 2 query heads per kv head, so a position of a 281-token text costs
    // 2·281·4 bytes of scores: 256 bytes forces blocks of one position, 8 KiB blocks of three.
    let budgets = [256, 8 << 10];
    for name in ["tiny-llama", "tiny-mistral", "tiny-qwen2"] {
        let dir = fixtures().join(name);
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"),
        )
        .unwrap();
        let eval = Evaluator::load(&dir, &Device::Cpu).unwrap();
        let texts = expected["texts"].as_array().unwrap();
        let seqs: Vec<ScoredSeq> = texts
            .iter()
            .map(|t| ScoredSeq {
                id: t["index"].to_string(),
                ids: ids(&t["ids"]),
                first_target: 1,
            })
            .collect();
        let limits = BatchLimits::default();
        let prompt = eval
            .reference_ids("Sort these words: pear apple fig")
            .unwrap();

        set_block_bytes(default_budget);
        let reference: Vec<Vec<f32>> = token_losses(eval.model.as_ref(), &seqs, limits)
            .into_iter()
            .map(|l| l.unwrap())
            .collect();
        let generated = eval.generate_ids(&prompt, 40).unwrap();
        for budget in budgets {
            set_block_bytes(budget);
            let losses = token_losses(eval.model.as_ref(), &seqs, limits);
            for ((t, got), want) in texts.iter().zip(losses).zip(&reference) {
                let got = got.unwrap();
                let transformers: Vec<f64> = t["losses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                for ((&a, &b), &c) in got.iter().zip(want).zip(&transformers) {
                    assert!(
                        (a - b).abs() <= 1e-5,
                        "{name} budget {budget}: text {} loss {a} vs {b} in default blocks",
                        t["index"]
                    );
                    assert!(
                        (a as f64 - c).abs() <= 1e-4,
                        "{name} budget {budget}: text {} loss {a} vs transformers {c}",
                        t["index"]
                    );
                }
                assert_eq!(got.len(), transformers.len());
            }
            assert_eq!(
                eval.generate_ids(&prompt, 40).unwrap(),
                generated,
                "{name} budget {budget}: generation"
            );
        }
    }
    set_block_bytes(default_budget);
}
