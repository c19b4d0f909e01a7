//! Prefix sharing in the batched loss engine gives the per-token losses of running every
//! sequence whole: on the fixture architectures (GQA, Gemma 2's window and soft-caps, Phi-3's
//! window, scaled ropes), for shared prefixes of 0 and 1 tokens, shorter and longer than a
//! sliding window, longer than an attention key tile, and with the first scored token right
//! after the prefix or inside the common tokens.

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

#[test]
fn the_shared_pass_equals_the_whole_pass() {
    // The model-level contract, without the batching around it: a prefix's cache of one
    // sequence continued by a batch of two gives the hidden states of the whole sequences.
    let model = load_model(&fixtures().join("tiny-gemma2"), &Device::Cpu).unwrap();
    let (p, s) = (37, 11);
    let prefix = tokens(p, 5, 1024);
    let rows: Vec<Vec<u32>> = (0..2)
        .map(|i| {
            let mut ids = prefix.clone();
            ids.extend(tokens(s, 50 + i, 1024));
            ids
        })
        .collect();
    let whole = Tensor::new(rows.clone(), &Device::Cpu).unwrap();
    let whole = model
        .hidden(&whole, None)
        .unwrap()
        .reshape((2, p + s, ()))
        .unwrap()
        .narrow(1, p, s)
        .unwrap()
        .flatten_to(1)
        .unwrap();
    let mut cache = KvCache::default();
    model
        .hidden(
            &Tensor::new(prefix, &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap(),
            Some(&mut cache),
        )
        .unwrap();
    let tails: Vec<Vec<u32>> = rows.iter().map(|r| r[p..].to_vec()).collect();
    let split = model
        .hidden_after_prefix(&Tensor::new(tails, &Device::Cpu).unwrap(), &cache)
        .unwrap();
    let diff = (whole - split)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff <= 1e-4, "hidden states differ by {diff}");
    // The cache was read, not extended.
    assert_eq!(cache.len(), p);
}

#[test]
fn a_cache_that_does_not_fit_is_an_error() {
    let model = load_model(&fixtures().join("tiny-llama"), &Device::Cpu).unwrap();
    let ids = Tensor::new(&[[3u32, 4], [5, 6]], &Device::Cpu).unwrap();
    // Empty cache.
    assert!(model
        .hidden_after_prefix(&ids, &KvCache::default())
        .is_err());
    // A cache of two sequences.
    let mut two = KvCache::default();
    model.hidden(&ids, Some(&mut two)).unwrap();
    assert!(model.hidden_after_prefix(&ids, &two).is_err());
    // A cache missing a layer.
    let mut one = KvCache::default();
    model
        .hidden(
            &Tensor::new(&[[3u32, 4]], &Device::Cpu).unwrap(),
            Some(&mut one),
        )
        .unwrap();
    assert!(model.hidden_after_prefix(&ids, &one).is_ok());
    one.layers.pop();
    assert!(model.hidden_after_prefix(&ids, &one).is_err());
}
