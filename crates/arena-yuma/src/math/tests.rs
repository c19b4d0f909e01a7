//! Golden numbers transcribed from subtensor's `tests/math.rs` (the numbers are facts of the
//! chain's arithmetic; the code here is ours).

use super::ema::mat_ema_alpha_sparse;
use super::median::weighted_median;
use super::*;

fn fx(values: &[f64]) -> Vec<I32F32> {
    values.iter().map(|v| I32F32::from_num(*v)).collect()
}

/// Row-major dense values → sparse rows keeping only positive entries (as subtensor's test
/// helper `vec_to_sparse_mat_fixed` does).
fn sparse(values: &[f64], rows: usize) -> SparseMatrix {
    let cols = values.len() / rows;
    (0..rows)
        .map(|r| {
            (0..cols)
                .filter(|c| values[r * cols + c] > 0.0)
                .map(|c| (c as u16, I32F32::from_num(values[r * cols + c])))
                .collect()
        })
        .collect()
}

fn assert_sparse_close(got: &[SparseRow], want: &[SparseRow], eps: f64) {
    assert_eq!(got.len(), want.len(), "row count: {got:?} vs {want:?}");
    let eps = I32F32::from_num(eps);
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.len(), w.len(), "row {g:?} vs {w:?}");
        for ((gj, gv), (wj, wv)) in g.iter().zip(w) {
            assert_eq!(gj, wj, "column in {g:?} vs {w:?}");
            assert!((*gv - *wv).abs() <= eps, "{gv} vs {wv} (row {g:?})");
        }
    }
}

#[test]
fn max_upscale_to_u16_matches_subtensor() {
    let cases: [(&[f64], &[u16]); 8] = [
        (&[], &[]),
        (&[0.0], &[0]),
        (&[0.0, 0.0], &[0, 0]),
        (&[0.0, 1.0], &[0, 65535]),
        (&[0.0, 0.000000001], &[0, 65535]),
        (&[0.0, 0.000016, 1.0], &[0, 1, 65535]),
        (&[0.000000001, 0.000000001], &[65535, 65535]),
        (
            &[
                0.000001, 0.000006, 0.000007, 0.0001, 0.001, 0.01, 0.1, 0.2, 0.3, 0.4,
            ],
            &[0, 1, 1, 16, 164, 1638, 16384, 32768, 49151, 65535],
        ),
    ];
    for (input, want) in cases {
        assert_eq!(vec_max_upscale_to_u16(&fx(input)), want, "input {input:?}");
    }
    for single in [16384.0, 32768.0, 32769.0, 65535.0] {
        assert_eq!(vec_max_upscale_to_u16(&fx(&[single])), vec![65535]);
    }
    assert_eq!(vec_max_upscale_to_u16(&[I32F32::max_value()]), vec![65535]);
    assert_eq!(
        vec_max_upscale_to_u16(&fx(&[0.0, 1.0, 65535.0])),
        vec![0, 1, 65535]
    );
    assert_eq!(
        vec_max_upscale_to_u16(&fx(&[0.0, 0.5, 1.0, 1.5, 2.0, 32768.0])),
        vec![0, 1, 2, 3, 4, 65535]
    );
    assert_eq!(
        vec_max_upscale_to_u16(&fx(&[0.0, 0.5, 1.0, 1.5, 2.0, 32768.0, 32769.0])),
        vec![0, 1, 2, 3, 4, 65533, 65535]
    );
    let big = [
        ZERO,
        I32F32::from_num(1),
        I32F32::from_num(32768),
        I32F32::from_num(32769),
        I32F32::max_value(),
    ];
    assert_eq!(vec_max_upscale_to_u16(&big), vec![0, 0, 1, 1, 65535]);
}

#[test]
fn u16_max_upscale_scales_raw_weights() {
    assert_eq!(
        u16_max_upscale(&[16383, 32767, 49149, 65535]),
        vec![16383, 32767, 49149, 65535]
    );
    assert_eq!(u16_max_upscale(&[1, 2]), vec![32768, 65535]);
    assert_eq!(u16_max_upscale(&[0, 0]), vec![0, 0]);
}

#[test]
fn weighted_median_single_column() {
    let one = ONE;
    let majority = I32F32::from_num(0.51);
    let median = |stake: &[f64], score: &[f64]| {
        let stake = fx(stake);
        let idx: Vec<usize> = (0..stake.len()).collect();
        weighted_median(&stake, &fx(score), &idx, one - majority, ZERO, sum(&stake))
    };
    assert_eq!(median(&[], &[]), ZERO);
    let mut single = fx(&[0.51]);
    normalize(&mut single);
    assert_eq!(
        weighted_median(
            &single,
            &fx(&[1.0]),
            &[0],
            one - majority,
            ZERO,
            sum(&single)
        ),
        one
    );
    assert_eq!(median(&[0.49, 0.51], &[0.5, 1.0]), one);
    assert_eq!(median(&[0.51, 0.49], &[0.5, 1.0]), I32F32::from_num(0.5));
    assert_eq!(median(&[0.49, 0.0, 0.51], &[0.5, 0.7, 1.0]), one);
    assert_eq!(
        median(&[0.49, 0.01, 0.5], &[0.5, 0.7, 1.0]),
        I32F32::from_num(0.7)
    );
    assert_eq!(
        median(&[0.49, 0.51, 0.0], &[0.5, 0.7, 1.0]),
        I32F32::from_num(0.7)
    );
    assert_eq!(median(&[0.0, 0.49, 0.51], &[0.5, 0.7, 1.0]), one);
    assert_eq!(median(&[0.0, 0.49, 0.0, 0.51], &[0.5, 0.5, 1.0, 1.0]), one);
    assert_eq!(
        median(&[0.0, 0.49, 0.0, 0.51, 0.0], &[0.5, 0.5, 1.0, 1.0, 0.5]),
        one
    );
    assert_eq!(
        median(&[0.2; 5], &[0.8, 0.2, 1.0, 0.6, 0.4]),
        I32F32::from_num(0.6)
    );
    assert_eq!(
        median(
            &[0.1; 10],
            &[0.8, 0.8, 0.2, 0.2, 1.0, 1.0, 0.6, 0.6, 0.4, 0.4]
        ),
        I32F32::from_num(0.6)
    );
}

#[test]
fn weighted_median_columns_sparse() {
    let weights = sparse(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0.4, 0.5], 4);
    let stake = fx(&[0., 0.75, 0.25, 0.]);
    let cases = [
        (0.24, [0., 0.3, 0.4]),
        (0.26, [0., 0.2, 0.4]),
        (0.76, [0., 0.2, 0.1]),
    ];
    for (majority, want) in cases {
        let got = weighted_median_col_sparse(&stake, &weights, 3, I32F32::from_num(majority));
        assert_eq!(got, fx(&want), "majority {majority}");
    }
    let weights = sparse(&[0., 0.1, 0., 0., 0.2, 0.4, 0., 0.3, 0.1, 0., 0., 0.5], 4);
    let stake = fx(&[0., 0.3, 0.2, 0.5]);
    let got = weighted_median_col_sparse(&stake, &weights, 3, I32F32::from_num(0.51));
    assert_eq!(got, fx(&[0., 0., 0.4]));
    let empty = weighted_median_col_sparse(
        &fx(&[0., 0.]),
        &sparse(&[0.; 4], 2),
        2,
        I32F32::from_num(0.5),
    );
    assert_eq!(empty, vec![ZERO, ZERO]);
}

#[test]
fn ema_sparse_over_union_of_entries() {
    // Cases from subtensor's former `test_math_sparse_mat_ema` where no value reaches 1.
    let alpha = I32F32::from_num(0.1);
    let old = sparse(
        &[
            0.001, 0.002, 0.003, 0.004, 0.05, 0.006, 0.007, 0.008, 0.009, 0.010, 0.011, 0.012,
        ],
        4,
    );
    let new = sparse(
        &[
            0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12,
        ],
        4,
    );
    let want = sparse(
        &[
            0.0109, 0.0218, 0.30270, 0.007599, 0.05, 0.01139, 0.0133, 0.01519, 0.017, 0.01899,
            0.02089, 0.0227,
        ],
        4,
    );
    assert_sparse_close(&mat_ema_sparse(&new, &old, alpha), &want, 1e-4);
    let zeros = sparse(&[0.; 12], 4);
    let want = sparse(
        &[
            0.01, 0.02, 0.3, 0.00399, 0.005, 0.00599, 0.007, 0.00799, 0.009, 0.01, 0.011, 0.01199,
        ],
        4,
    );
    assert_sparse_close(&mat_ema_sparse(&new, &zeros, alpha), &want, 1e-4);
    assert_sparse_close(&mat_ema_sparse(&zeros, &zeros, alpha), &zeros, 1e-4);
    // An old entry without a new one decays (0.9) instead of vanishing.
    let old = sparse(&[1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.], 4);
    let new = sparse(&[0., 0., 0., 0., 2., 0., 0., 0., 0., 0., 0., 0.], 4);
    let want = sparse(&[0.9, 0., 0., 0., 0.2, 0., 0., 0., 0., 0., 0., 0.], 4);
    assert_sparse_close(&mat_ema_sparse(&new, &old, alpha), &want, 1e-4);
}

#[test]
fn ema_alpha_sparse_matches_subtensor() {
    let alphas = vec![vec![I32F32::from_num(0.1); 3]; 4];
    let old = sparse(
        &[
            0.1, 0.2, 3., 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12,
        ],
        4,
    );
    let new = sparse(&[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4);
    let want = sparse(
        &[
            0.19, 0.38, 1., 0.43599, 0.545, 0.65399, 0.763, 0.87199, 0.981, 1., 1., 1.,
        ],
        4,
    );
    assert_sparse_close(&mat_ema_alpha_sparse(&new, &old, &alphas), &want, 1e-4);
    // The sparse quirk: the old entry at (0, 0) has no new entry and disappears.
    let old = sparse(&[1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.], 4);
    let new = sparse(&[0., 0., 0., 0., 2., 0., 0., 0., 0., 0., 0., 0.], 4);
    let want = sparse(&[0., 0., 0., 0., 0.2, 0., 0., 0., 0., 0., 0., 0.], 4);
    assert_sparse_close(&mat_ema_alpha_sparse(&new, &old, &alphas), &want, 1e-1);
    // Varying alpha per entry.
    let weights = vec![
        vec![(0, I32F32::from_num(0.1)), (1, I32F32::from_num(0.2))],
        vec![(0, I32F32::from_num(0.3)), (1, I32F32::from_num(0.4))],
    ];
    let bonds = vec![
        vec![(0, I32F32::from_num(0.5)), (1, I32F32::from_num(0.6))],
        vec![(0, I32F32::from_num(0.7)), (1, I32F32::from_num(0.8))],
    ];
    let alpha = vec![fx(&[0.9, 0.8]), fx(&[0.5, 0.7])];
    let want = vec![
        vec![(0, I32F32::from_num(0.14)), (1, I32F32::from_num(0.28))],
        vec![
            (0, I32F32::from_num(0.499999)),
            (1, I32F32::from_num(0.519999)),
        ],
    ];
    assert_sparse_close(&mat_ema_alpha_sparse(&weights, &bonds, &alpha), &want, 1e-6);
}

#[test]
fn interpolate_and_clip_sparse() {
    let a = sparse(&[1., 0., 100., 1000., 10000., 100000.], 3);
    let b = sparse(&[10., 100., 1000., 10000., 100000., 0.], 3);
    let want = sparse(&[9.1, 90., 910., 9100., 91000., 10000.], 3);
    assert_sparse_close(
        &interpolate_sparse(&a, &b, 2, I32F32::from_num(0.9)),
        &want,
        1e-4,
    );
    assert_eq!(interpolate_sparse(&a, &b, 2, ZERO), a);
    let zeros = sparse(&[0.; 12], 4);
    let ones = sparse(&[1.; 12], 4);
    let half = sparse(&[0.5; 12], 4);
    assert_sparse_close(
        &interpolate_sparse(&zeros, &ones, 3, I32F32::from_num(0.5)),
        &half,
        0.0,
    );

    let consensus = fx(&[0., 5., 12.]);
    let m = sparse(&[0., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.], 4);
    let want = sparse(&[0., 2., 3., 0., 5., 6., 0., 5., 9., 0., 5., 12.], 4);
    assert_sparse_close(&col_clip_sparse(&m, &consensus), &want, 0.0);
}

#[test]
fn exp_safe_clamps_to_twenty() {
    let exp = |x: I32F32| substrate_fixed::transcendental::exp::<I32F32, I32F32>(x).unwrap();
    let twenty = I32F32::from_num(20);
    assert_eq!(exp_safe(ZERO), ONE);
    assert_eq!(exp_safe(I32F32::max_value()), exp(twenty));
    assert_eq!(exp_safe(twenty + ONE), exp(twenty));
    assert_eq!(exp_safe(I32F32::min_value()), exp(-twenty));
}

#[test]
fn topk_nonzero_prefers_higher_uid_on_ties() {
    let values = fx(&[0.25, 0.25, 0.5, 0.0]);
    assert_eq!(is_topk_nonzero(&values, 2), vec![false, true, true, false]);
    assert_eq!(is_topk_nonzero(&values, 8), vec![true, true, true, false]);
}

#[test]
fn proportions_round_down() {
    assert_eq!(fixed_proportion_to_u16(I32F32::from_num(0.1)), 6553);
    assert_eq!(fixed_proportion_to_u16(ONE), 65535);
    assert_eq!(fixed_proportion_to_u16(I32F32::from_num(2)), 65535);
    assert_eq!(u16_proportion_to_fixed(65535), ONE);
    assert_eq!(safe_div(ONE, ZERO), ZERO);
}

#[test]
fn fast_exp_series_equals_substrate_fixed_bit_for_bit() {
    let reference = |x: I32F32| substrate_fixed::transcendental::exp::<I32F32, I32F32>(x).ok();
    // Every 1/1024 step over the clamped range, plus pseudo-random bit patterns inside it.
    let mut inputs: Vec<I32F32> = (-20 * 1024..=20 * 1024)
        .map(|k| I32F32::from_num(k) / 1024)
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..50_000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let magnitude = (state >> 1) as i64 % (20i64 << 32);
        let bits = if state & 1 == 0 {
            magnitude
        } else {
            -magnitude
        };
        inputs.push(I32F32::from_bits(bits));
    }
    for x in inputs {
        assert_eq!(exp_series(x), reference(x), "exp({x})");
    }
}
