//! The trainer on the tiny fixture models: gradients reach every tensor, its loss is the
//! evaluation engine's `reference_loss`, training lowers the held-out loss of a synthetic task
//! by a clear margin, the saved folder reloads with the same loss, and a run resumed from a
//! checkpoint ends where an uninterrupted one does.

use std::path::Path;

use arena_model::scoring::{Evaluator, PromptReference};
use arena_model::Device;
use arena_testkit::fixtures::fixtures;
use arena_train::data::{encode, Example, Pair};
use arena_train::model::TrainModel;
use arena_train::trainer::{save_hf_folder, TrainOptions, Trainer};

const WORDS: [&str; 24] = [
    "apple", "river", "stone", "cloud", "green", "house", "light", "music", "ocean", "paper",
    "quiet", "sugar", "table", "water", "zebra", "bread", "chair", "dream", "field", "grape",
    "honey", "lemon", "mouse", "night",
];

/// "Repeat after me: A B" → "A B", over pairs of 24 words: 150 seeded pairs to train on and
/// 30 other pairs held out (same distribution, never seen).
fn pairs(held_out: bool) -> Vec<Pair> {
    let mut all: Vec<(usize, usize)> = (0..24)
        .flat_map(|a| (0..24).map(move |b| (a, b)))
        .filter(|(a, b)| a != b)
        .collect();
    let mut state = 0x1234_5678u64;
    for i in (1..all.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        all.swap(i, ((state >> 33) % (i as u64 + 1)) as usize);
    }
    let chosen = if held_out {
        &all[150..180]
    } else {
        &all[..150]
    };
    chosen
        .iter()
        .map(|&(a, b)| Pair {
            prompt: format!("Repeat after me: {} {}", WORDS[a], WORDS[b]),
            response: format!("{} {}", WORDS[a], WORDS[b]),
        })
        .collect()
}

fn examples(dir: &Path, pairs: &[Pair]) -> Vec<Example> {
    let tokenizer = arena_model::tokenizer::TextTokenizer::load(dir).unwrap();
    pairs
        .iter()
        .map(|p| encode(&tokenizer, p).unwrap())
        .collect()
}

/// The validator's number: `reference_loss` of the evaluation engine on the folder `dir`.
fn validator_loss(dir: &Path, pairs: &[Pair]) -> f64 {
    let eval = Evaluator::load(dir, &Device::Cpu).unwrap();
    let samples: Vec<PromptReference> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| PromptReference {
            id: i.to_string(),
            prompt: p.prompt.clone(),
            reference: p.response.clone(),
        })
        .collect();
    let result = eval.reference_loss(&samples);
    assert!(result.failures.is_empty());
    result.raw
}

fn trainer_loss(trainer: &Trainer, examples: &[Example]) -> f64 {
    let refs: Vec<&Example> = examples.iter().collect();
    trainer.gradients(&refs).unwrap().0
}

#[test]
fn every_tensor_gets_a_gradient_and_the_loss_is_the_validators() {
    // The rope-scaled fixtures check that the trainer shares the engine's rope; Gemma, Gemma 2
    // and Phi-3 that it mirrors their norms, caps, windows and fused tensors.
    for name in [
        "tiny-llama",
        "tiny-qwen2",
        "tiny-llama3-rope",
        "tiny-yarn",
        "tiny-gemma",
        "tiny-gemma2",
        "tiny-phi3",
    ] {
        let dir = fixtures().join(name);
        let model = TrainModel::load(&dir, &Device::Cpu).unwrap();
        let trainer = Trainer::new(model, TrainOptions::default());
        let train = pairs(false);
        let ex = examples(&dir, &train[..4]);
        let refs: Vec<&Example> = ex.iter().collect();
        let (loss, grads, _) = trainer.gradients(&refs).unwrap();
        assert_eq!(grads.len(), trainer.model.params.len());
        for ((tensor, _), g) in trainer.model.params.iter().zip(&grads) {
            let norm = g
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                norm > 0.0 && norm.is_finite(),
                "{name}: {tensor} has gradient norm {norm}"
            );
        }
        let expected = validator_loss(&dir, &train[..4]);
        assert!(
            (loss - expected).abs() < 1e-4,
            "{name}: trainer {loss} vs evaluator {expected}"
        );
    }
}

#[test]
fn lora_on_phi3_fused_projections_is_refused() {
    let mut model = TrainModel::load(&fixtures().join("tiny-phi3"), &Device::Cpu).unwrap();
    let err = model
        .enable_lora(&arena_train::lora::LoraConfig::all_projections(4, 8.0, 0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("fused"), "{err}");
}

#[test]
fn training_lowers_the_held_out_loss_and_saves_a_folder_that_scores_the_same() {
    let base = fixtures().join("tiny-llama");
    let (train, held) = (pairs(false), pairs(true));
    let train_ex = examples(&base, &train);
    let held_ex = examples(&base, &held);
    let before = validator_loss(&base, &held);

    let options = TrainOptions {
        steps: 300,
        lr: 3e-3,
        batch: 6,
        warmup: 20,
        seed: 11,
        ..Default::default()
    };
    let mut trainer = Trainer::new(TrainModel::load(&base, &Device::Cpu).unwrap(), options);
    let report = trainer.run(&train_ex, None).unwrap();
    assert_eq!(report.losses.len(), 300);
    let after_in_memory = trainer_loss(&trainer, &held_ex);

    let out = tempfile::tempdir().unwrap();
    save_hf_folder(&trainer.model, &base, out.path()).unwrap();
    let after = validator_loss(out.path(), &held);
    assert!(
        after < 0.5 * before,
        "held-out reference loss {before:.3} -> {after:.3}: not a clear improvement"
    );
    assert!(
        (after - after_in_memory).abs() < 1e-4,
        "saved {after} vs in memory {after_in_memory}"
    );
    // HF layout: the same tensor names, shapes and dtypes as the base checkpoint.
    let names = |dir: &Path| {
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut v: Vec<_> = st
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, t.shape().to_vec(), format!("{:?}", t.dtype())))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(out.path()), names(&base));
    for file in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
}

#[test]
fn a_run_resumed_from_a_checkpoint_ends_where_an_uninterrupted_one_does() {
    let base = fixtures().join("tiny-llama");
    let train_ex = examples(&base, &pairs(false));
    let held_ex = examples(&base, &pairs(true));
    let options = TrainOptions {
        steps: 30,
        batch: 4,
        accumulation: 2,
        warmup: 5,
        checkpoint_every: 10,
        seed: 3,
        ..Default::default()
    };

    let mut straight = Trainer::new(
        TrainModel::load(&base, &Device::Cpu).unwrap(),
        options.clone(),
    );
    straight.run(&train_ex, None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint");
    // "Killed" after 20 steps: the checkpoint at step 20 is the last thing it wrote.
    let mut first = Trainer::new(
        TrainModel::load(&base, &Device::Cpu).unwrap(),
        options.clone(),
    );
    first.run_until(&train_ex, Some(&ckpt), 20).unwrap();
    drop(first);
    let mut resumed = Trainer::new(TrainModel::load(&base, &Device::Cpu).unwrap(), options);
    resumed.resume(&ckpt).unwrap();
    assert_eq!(resumed.step, 20);
    let report = resumed.run(&train_ex, Some(&ckpt)).unwrap();
    assert_eq!((report.start_step, report.losses.len()), (20, 10));

    let (a, b) = (
        trainer_loss(&straight, &held_ex),
        trainer_loss(&resumed, &held_ex),
    );
    assert!((a - b).abs() < 1e-5, "uninterrupted {a} vs resumed {b}");
}

/// LoRA: after one step every adapter factor has a gradient (B starts at zero, so A's first
/// gradient is zero by construction; both must move after the first update), base weights do
/// not change, and the folder saved with merged weights scores what the adapted model does.
#[test]
fn lora_trains_only_adapters_and_the_merged_save_scores_the_same() {
    use arena_train::lora::LoraConfig;
    let base = fixtures().join("tiny-qwen2");
    let (train, held) = (pairs(false), pairs(true));
    let train_ex = examples(&base, &train);
    let held_ex = examples(&base, &held);
    let mut model = TrainModel::load(&base, &Device::Cpu).unwrap();
    let base_q = model.params["model.layers.0.self_attn.q_proj.weight"]
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    model
        .enable_lora(&LoraConfig::all_projections(4, 8.0, 1))
        .unwrap();
    assert_eq!(model.trainable().len(), 2 * 7 * 2);
    let options = TrainOptions {
        steps: 40,
        lr: 1e-2,
        batch: 4,
        warmup: 2,
        seed: 2,
        ..Default::default()
    };
    let mut trainer = Trainer::new(model, options);
    let before = trainer_loss(&trainer, &held_ex);
    trainer.run_until(&train_ex, None, 1).unwrap();
    let refs: Vec<&Example> = train_ex[..4].iter().collect();
    let (_, grads, _) = trainer.gradients(&refs).unwrap();
    for ((name, _), g) in trainer.model.trainable().iter().zip(&grads) {
        let norm: f32 = g.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(
            norm > 0.0 && norm.is_finite(),
            "{name}: gradient norm {norm}"
        );
    }
    trainer.run(&train_ex, None).unwrap();
    let adapted = trainer_loss(&trainer, &held_ex);
    assert!(
        adapted < before - 0.5,
        "LoRA did not learn: {before} -> {adapted}"
    );
    let q_now = trainer.model.params["model.layers.0.self_attn.q_proj.weight"]
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(base_q, q_now, "a frozen base weight changed");

    let out = tempfile::tempdir().unwrap();
    save_hf_folder(&trainer.model, &base, out.path()).unwrap();
    let saved = validator_loss(out.path(), &held);
    assert!(
        (saved - adapted).abs() < 1e-4,
        "merged save {saved} vs adapted model {adapted}"
    );
}

/// bf16 products: the loss stays within bfloat16 rounding of the f32 loss, gradients reach
/// every tensor, and the f32 master weights learn.
#[test]
fn bf16_products_train_with_f32_master_weights() {
    let base = fixtures().join("tiny-llama");
    let train_ex = examples(&base, &pairs(false));
    let held_ex = examples(&base, &pairs(true));
    let f32_trainer = Trainer::new(
        TrainModel::load(&base, &Device::Cpu).unwrap(),
        TrainOptions::default(),
    );
    let mut model = TrainModel::load(&base, &Device::Cpu).unwrap();
    model.set_compute_dtype(arena_train::DType::BF16).unwrap();
    let options = TrainOptions {
        steps: 60,
        lr: 3e-3,
        batch: 6,
        warmup: 5,
        seed: 4,
        ..Default::default()
    };
    let mut trainer = Trainer::new(model, options);
    let (a, b) = (
        trainer_loss(&f32_trainer, &held_ex),
        trainer_loss(&trainer, &held_ex),
    );
    assert!((a - b).abs() < 0.05 && a != b, "f32 {a} vs bf16 {b}");
    let refs: Vec<&Example> = train_ex[..4].iter().collect();
    let (_, grads, _) = trainer.gradients(&refs).unwrap();
    for ((name, var), g) in trainer.model.trainable().iter().zip(&grads) {
        assert_eq!(var.dtype(), arena_train::DType::F32, "{name}");
        let norm: f32 = g.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(
            norm > 0.0 && norm.is_finite(),
            "{name}: gradient norm {norm}"
        );
    }
    trainer.run(&train_ex, None).unwrap();
    let after = trainer_loss(&trainer, &held_ex);
    assert!(
        after < b - 1.0,
        "bf16 training did not learn: {b} -> {after}"
    );
}

/// On the longest fixture text (281 tokens: past Gemma 2's and Phi-3's sliding windows and the
/// dynamic/longrope switch at 64 positions) the trainer's loss is transformers' mean loss.
#[test]
fn trainer_loss_on_long_texts_is_transformers() {
    for name in [
        "tiny-gemma2",
        "tiny-phi3",
        "tiny-phi3-longrope",
        "tiny-dynamic-rope",
        "tiny-llama3-rope",
    ] {
        let dir = fixtures().join(name);
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let text = expected["texts"].as_array().unwrap().last().unwrap();
        let ids: Vec<u32> = text["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let model = TrainModel::load(&dir, &Device::Cpu).unwrap();
        let batch = arena_train::model::make_batch(&[(&ids, 1)], 0, &Device::Cpu).unwrap();
        let loss = model.loss(&batch).unwrap().to_scalar::<f32>().unwrap() as f64;
        let want = text["mean_loss"].as_f64().unwrap();
        assert!(
            (loss - want).abs() < 1e-4,
            "{name}: trainer {loss} vs transformers {want}"
        );
    }
}
