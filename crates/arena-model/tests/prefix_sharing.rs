//! Prefix sharing in the batched loss engine gives the per-token losses of running every
//! sequence whole: on the fixture architectures (GQA, Gemma 2's window and soft-caps, Phi-3's
//! window, scaled ropes), for shared prefixes of 0 and 1 tokens, shorter and longer than a
//! sliding window, longer than an attention key tile, and with the first scored token right
//! after the prefix or inside the common tokens. Also the packed pass (no padding rows) the
//! engine runs batches with, against each sequence run alone.

use arena_model::attention::ATTENTION_KEY_TILE;
use arena_model::model::{load_model, CausalLm, KvCache};
use arena_model::scoring::batch::{shared_prefix_len, token_losses, BatchLimits, ScoredSeq};
use arena_testkit::fixtures::fixtures;
use candle_core::{Device, Tensor};

/// Deterministic token ids below `vocab` from a linear congruential generator.
fn tokens(n: usize, seed: u64, vocab: u32) -> Vec<u32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(17);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % vocab as u64) as u32
        })
        .collect()
}

/// Sequences sharing exactly `common` leading tokens, with suffixes of different lengths
/// (so the batch is padded). `first_targets[i]` is member i's first scored token.
fn batch(common: usize, suffixes: &[usize], first_targets: &[usize], vocab: u32) -> Vec<ScoredSeq> {
    let prefix = tokens(common, 1, vocab);
    suffixes
        .iter()
        .zip(first_targets)
        .enumerate()
        .map(|(i, (&n, &first_target))| {
            let mut ids = prefix.clone();
            let mut tail = tokens(n, 100 + i as u64, vocab);
            // Distinct first suffix tokens: the common prefix is exactly `common` long.
            tail[0] = i as u32;
            ids.extend(tail);
            ScoredSeq {
                id: format!("seq{i}"),
                ids,
                first_target,
            }
        })
        .collect()
}

fn limits(prefix_sharing: bool) -> BatchLimits {
    BatchLimits {
        max_batch_tokens: 1 << 16,
        max_logit_rows: 53,
        prefix_sharing,
        min_shared_prefix: 1,
    }
}

fn losses(model: &dyn CausalLm, seqs: &[ScoredSeq], sharing: bool) -> Vec<Vec<f32>> {
    token_losses(model, seqs, limits(sharing))
        .into_iter()
        .map(|r| r.expect("scored"))
        .collect()
}

/// (common tokens, suffix lengths, first scored tokens, the prefix sharing must run).
type Case = (usize, Vec<usize>, Vec<usize>, usize);

fn cases() -> Vec<Case> {
    let tile = ATTENTION_KEY_TILE;
    vec![
        // Nothing shared.
        (0, vec![9, 14, 5], vec![1, 3, 2], 0),
        // One token shared; the first scored token right after it.
        (1, vec![9, 14, 5], vec![2, 2, 3], 1),
        // Shorter than the windows (32, 48); first scored right after the prefix.
        (20, vec![30, 12, 7], vec![21, 25, 22], 20),
        // Between the two windows, and one member scores from inside the common tokens.
        (40, vec![30, 12, 7], vec![41, 29, 45], 28),
        // Longer than both windows.
        (100, vec![60, 12, 33, 5], vec![101, 101, 110, 102], 100),
        // Longer than an attention key tile; suffixes cross the next tile.
        (
            tile + 44,
            vec![200, 31, 9],
            vec![tile + 45, tile + 60, tile + 46],
            tile + 44,
        ),
    ]
}

/// The per-token losses with and without sharing agree within 1e-5 on `name`.
fn check(name: &str) {
    let model = load_model(&fixtures().join(name), &Device::Cpu).expect(name);
    let vocab = model.config().vocab_size as u32;
    let shares = !model.config().rope_scaling.depends_on_length();
    for (common, suffixes, first_targets, expected_shared) in cases() {
        let seqs = batch(common, &suffixes, &first_targets, vocab);
        let members: Vec<&ScoredSeq> = seqs.iter().collect();
        assert_eq!(
            shared_prefix_len(&members),
            expected_shared,
            "{name}: {common}"
        );
        let (shared, whole) = (
            losses(model.as_ref(), &seqs, true),
            losses(model.as_ref(), &seqs, false),
        );
        let mut worst = 0f32;
        for (i, (a, b)) in shared.iter().zip(&whole).enumerate() {
            assert_eq!(a.len(), seqs[i].ids.len() - seqs[i].first_target);
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert!(x.is_finite(), "{name}: loss {x}");
                worst = worst.max((x - y).abs());
            }
        }
        assert!(
            worst <= 1e-5,
            "{name}: prefix {common} (shares: {shares}) differs by {worst}"
        );
    }
}

#[test]
fn tiny_llama_gqa() {
    check("tiny-llama");
}

#[test]
fn tiny_qwen2_biases() {
    check("tiny-qwen2");
}

#[test]
fn tiny_gemma2_window_and_softcaps() {
    check("tiny-gemma2");
}

#[test]
fn tiny_phi3_window() {
    check("tiny-phi3");
}

#[test]
fn scaled_ropes() {
    for name in ["tiny-yarn", "tiny-llama3-rope", "tiny-linear-rope"] {
        check(name);
    }
}

#[test]
fn length_dependent_ropes_still_score() {
    // Dynamic NTK and LongRoPE run each sequence alone: nothing to share, same numbers.
    for name in ["tiny-dynamic-rope", "tiny-phi3-longrope"] {
        check(name);
    }
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn packed_passes_equal_the_whole_sequences() {
    // The model-level contract, without the batching around it: sequences of different
    // lengths packed, alone or after a prefix's cache of one sequence, give the hidden states
    // of each whole sequence run alone.
    let model = load_model(&fixtures().join("tiny-gemma2"), &Device::Cpu).unwrap();
    let p = 37;
    let prefix = tokens(p, 5, 1024);
    let tails: Vec<Vec<u32>> = [11, 3, 40]
        .iter()
        .enumerate()
        .map(|(i, &n)| tokens(n, 50 + i as u64, 1024))
        .collect();
    let alone = |ids: &[u32]| {
        let t = Tensor::new(ids, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        model.hidden(&t, None).unwrap()
    };
    // After the prefix: the tails' rows of each whole sequence.
    let mut cache = KvCache::default();
    let prefix_ids = Tensor::new(prefix.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    model.hidden(&prefix_ids, Some(&mut cache)).unwrap();
    let slices: Vec<&[u32]> = tails.iter().map(|t| t.as_slice()).collect();
    let want: Vec<Tensor> = tails
        .iter()
        .map(|t| {
            let whole: Vec<u32> = prefix.iter().chain(t).copied().collect();
            alone(&whole).narrow(0, p, t.len()).unwrap()
        })
        .collect();
    let packed = model.hidden_packed(&slices, Some(&cache)).unwrap();
    let diff = max_diff(&Tensor::cat(&want, 0).unwrap(), &packed);
    assert!(
        diff <= 1e-4,
        "after a prefix: hidden states differ by {diff}"
    );
    // The cache was read, not extended.
    assert_eq!(cache.len(), p);
    // No prefix.
    let want: Vec<Tensor> = tails.iter().map(|t| alone(t)).collect();
    let packed = model.hidden_packed(&slices, None).unwrap();
    let diff = max_diff(&Tensor::cat(&want, 0).unwrap(), &packed);
    assert!(diff <= 1e-4, "packed: hidden states differ by {diff}");
}

#[test]
fn bad_packed_inputs_are_errors() {
    let model = load_model(&fixtures().join("tiny-llama"), &Device::Cpu).unwrap();
    let seqs: [&[u32]; 2] = [&[3, 4], &[5, 6, 7]];
    assert!(model.hidden_packed(&seqs, None).is_ok());
    // No sequences, an empty one.
    assert!(model.hidden_packed(&[], None).is_err());
    assert!(model.hidden_packed(&[&[3u32, 4], &[]], None).is_err());
    // Empty cache.
    assert!(model
        .hidden_packed(&seqs, Some(&KvCache::default()))
        .is_err());
    // A cache of two sequences.
    let two_rows = Tensor::new(&[[3u32, 4], [5, 6]], &Device::Cpu).unwrap();
    let mut two = KvCache::default();
    model.hidden(&two_rows, Some(&mut two)).unwrap();
    assert!(model.hidden_packed(&seqs, Some(&two)).is_err());
    // A cache missing a layer.
    let mut one = KvCache::default();
    model
        .hidden(
            &Tensor::new(&[[3u32, 4]], &Device::Cpu).unwrap(),
            Some(&mut one),
        )
        .unwrap();
    assert!(model.hidden_packed(&seqs, Some(&one)).is_ok());
    one.layers.pop();
    assert!(model.hidden_packed(&seqs, Some(&one)).is_err());
}
