//! Time of one Yuma epoch for 256 uids with 64 validators, dense-ish random weights (seeded).
//! Run: `cargo bench -p arena-yuma`. Prints the median and mean of many epochs per variant.

use std::time::{Duration, Instant};

use arena_yuma::{epoch, EpochInput, Hyperparameters};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const N: u16 = 256;
const VALIDATORS: u16 = 64;
const ITERATIONS: usize = 200;

/// A subnet after a few epochs: validators 0..64 with stake weight ~80% of the miners each,
/// bonds already populated by previous epochs.
fn subnet(hyperparameters: Hyperparameters, seed: u64) -> EpochInput {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = N as usize;
    let stakes = (0..n)
        .map(|uid| {
            if uid < VALIDATORS as usize {
                rng.gen_range(1_000..100_000) * 1_000_000_000
            } else {
                0
            }
        })
        .collect();
    let mut weights = vec![Vec::new(); n];
    for row in weights.iter_mut().take(VALIDATORS as usize) {
        for dest in VALIDATORS..N {
            if rng.gen_bool(0.8) {
                row.push((dest, rng.gen_range(0..=u16::MAX)));
            }
        }
    }
    let mut input = EpochInput {
        n: N,
        current_block: 1000,
        last_epoch_block: 0,
        rao_emission: 1_000_000_000,
        stakes,
        validator_permit: vec![true; n],
        weights,
        bonds: vec![Vec::new(); n],
        last_update: vec![999; n],
        block_at_registration: vec![0; n],
        hyperparameters,
        ..Default::default()
    };
    // Warm up the bonds the way a chain would: feed each epoch's output into the next.
    for _ in 0..3 {
        let out = epoch(&input).expect("valid input");
        input.bonds = out.bonds;
        input.validator_permit = out.validator_permit;
        input.last_epoch_block = input.current_block;
        input.current_block += 1;
    }
    input
}

fn time(label: &str, input: &EpochInput) {
    // `cargo bench -p arena-yuma -- <label>...` runs only the named variants.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filter.is_empty() && !filter.iter().any(|f| f == label) {
        return;
    }
    let mut samples: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let start = Instant::now();
            let out = epoch(std::hint::black_box(input)).expect("valid input");
            std::hint::black_box(out);
            start.elapsed()
        })
        .collect();
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / ITERATIONS as u32;
    println!(
        "{label:<28} n={N} validators={VALIDATORS}: median {:>8.3} ms, mean {:>8.3} ms ({ITERATIONS} epochs)",
        samples[ITERATIONS / 2].as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
    );
}

fn main() {
    let base = Hyperparameters {
        max_allowed_validators: VALIDATORS,
        ..Hyperparameters::default()
    };
    time(
        "classic",
        &subnet(
            Hyperparameters {
                yuma3: false,
                ..base.clone()
            },
            7,
        ),
    );
    time(
        "yuma3",
        &subnet(
            Hyperparameters {
                yuma3: true,
                ..base.clone()
            },
            7,
        ),
    );
    time(
        "yuma3-liquid-alpha",
        &subnet(
            Hyperparameters {
                yuma3: true,
                liquid_alpha: true,
                bonds_penalty: 0,
                ..base
            },
            7,
        ),
    );
}
