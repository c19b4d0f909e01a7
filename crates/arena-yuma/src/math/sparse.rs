//! Sparse-matrix operations of the epoch. Rows keep the chain's storage order; where an
//! operation densifies a row (EMA, interpolation) the result comes back sorted by column.

use super::{safe_div, sum, SparseMatrix, SparseRow, I32F32, ZERO};

/// Divide each row by its sum when the sum is positive (weights → per-validator proportions).
pub fn row_normalize_sparse(matrix: &mut [SparseRow]) {
    for row in matrix.iter_mut() {
        let total = row.iter().fold(ZERO, |acc, (_, v)| acc.saturating_add(*v));
        if total > ZERO {
            row.iter_mut().for_each(|(_, v)| *v = safe_div(*v, total));
        }
    }
}

/// Divide each entry by its column sum (columns `< columns`; zero-sum columns stay).
pub fn col_normalize_sparse(matrix: &mut [SparseRow], columns: u16) {
    let mut col_sum = vec![ZERO; columns as usize];
    for row in matrix.iter() {
        for (j, v) in row {
            if let Some(s) = col_sum.get_mut(*j as usize) {
                *s = s.saturating_add(*v);
            }
        }
    }
    for row in matrix.iter_mut() {
        for (j, v) in row.iter_mut() {
            let denom = col_sum.get(*j as usize).copied().unwrap_or(ZERO);
            if denom != ZERO {
                *v = safe_div(*v, denom);
            }
        }
    }
}

/// Divide each entry by its column maximum, so every non-empty column peaks at 1 (how classic
/// bonds are stored).
pub fn col_max_upscale_sparse(matrix: &mut [SparseRow], columns: u16) {
    let mut col_max = vec![ZERO; columns as usize];
    for row in matrix.iter() {
        for (j, v) in row {
            if let Some(m) = col_max.get_mut(*j as usize) {
                if *m < *v {
                    *m = *v;
                }
            }
        }
    }
    for row in matrix.iter_mut() {
        for (j, v) in row.iter_mut() {
            let m = col_max.get(*j as usize).copied().unwrap_or(ZERO);
            if m != ZERO {
                *v = safe_div(*v, m);
            }
        }
    }
}

/// Empty the rows whose mask entry is true; a row without a mask entry counts as masked.
pub fn mask_rows_sparse(mask: &[bool], matrix: &mut [SparseRow]) {
    for (i, row) in matrix.iter_mut().enumerate() {
        if mask.get(i).copied().unwrap_or(true) {
            row.clear();
        }
    }
}

/// Drop self-weights (i = j), except the subnet owner's own when `keep` names it.
pub fn mask_diag_sparse(matrix: &mut [SparseRow], keep: Option<u16>) {
    for (i, row) in matrix.iter_mut().enumerate() {
        row.retain(|(j, _)| *j as usize != i || keep == Some(*j));
    }
}

/// Drop entry (i, j) when `drop(row_value[i], col_value[j])` holds; missing values read as 0.
pub fn mask_by_vectors(
    matrix: &mut [SparseRow],
    row_value: &[u64],
    col_value: &[u64],
    drop: impl Fn(u64, u64) -> bool,
) {
    for (i, row) in matrix.iter_mut().enumerate() {
        let ri = row_value.get(i).copied().unwrap_or(0);
        row.retain(|(j, _)| !drop(ri, col_value.get(*j as usize).copied().unwrap_or(0)));
    }
}

/// Clip each entry to its column's consensus; entries above a consensus of 0 are dropped.
pub fn col_clip_sparse(matrix: &[SparseRow], consensus: &[I32F32]) -> SparseMatrix {
    matrix
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|&(j, v)| {
                    let c = consensus.get(j as usize).copied().unwrap_or(ZERO);
                    if c < v {
                        (c > ZERO).then_some((j, c))
                    } else {
                        Some((j, v))
                    }
                })
                .collect()
        })
        .collect()
}

/// Sum of each row.
pub fn row_sum_sparse(matrix: &[SparseRow]) -> Vec<I32F32> {
    matrix
        .iter()
        .map(|row| row.iter().fold(ZERO, |acc, (_, v)| acc.saturating_add(*v)))
        .collect()
}

/// `r_j = Σ_i vector_i · m_ij` (ranks from clipped weights and active stake).
pub fn matmul_sparse(matrix: &[SparseRow], vector: &[I32F32], columns: u16) -> Vec<I32F32> {
    let mut result = vec![ZERO; columns as usize];
    for (row, scale) in matrix
        .iter()
        .zip(vector.iter().copied().chain(std::iter::repeat(ZERO)))
    {
        for &(j, v) in row {
            if let Some(r) = result.get_mut(j as usize) {
                *r = r.saturating_add(scale.saturating_mul(v));
            }
        }
    }
    result
}

/// `d_i = Σ_j vector_j · m_ij` (classic dividends from bonds and incentive).
pub fn matmul_transpose_sparse(matrix: &[SparseRow], vector: &[I32F32]) -> Vec<I32F32> {
    matrix
        .iter()
        .map(|row| {
            row.iter().fold(ZERO, |acc, &(j, v)| {
                let x = vector.get(j as usize).copied().unwrap_or(ZERO);
                acc.saturating_add(x.saturating_mul(v))
            })
        })
        .collect()
}

/// Multiply every entry of row i by `vector_i` (bond deltas: weights times active stake).
pub fn row_hadamard_sparse(matrix: &[SparseRow], vector: &[I32F32]) -> SparseMatrix {
    matrix
        .iter()
        .zip(vector)
        .map(|(row, scale)| {
            row.iter()
                .map(|&(j, v)| (j, v.saturating_mul(*scale)))
                .collect()
        })
        .collect()
}

/// Multiply every entry (i, j) by `vector_j`, dropping products that are exactly 0.
pub fn mat_vec_mul_sparse(matrix: &[SparseRow], vector: &[I32F32]) -> SparseMatrix {
    matrix
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|&(j, v)| {
                    let x = *vector.get(j as usize)?;
                    let product = v.saturating_mul(x);
                    (product != ZERO).then_some((j, product))
                })
                .collect()
        })
        .collect()
}

/// `a + ratio · (b − a)` entry-wise (weights for bonds under the bonds penalty).
///
/// A ratio of exactly 0 or 1 returns `a` or `b` untouched (explicit zero entries survive);
/// otherwise rows are densified and only strictly positive results are kept, sorted by column.
pub fn interpolate_sparse(
    a: &[SparseRow],
    b: &[SparseRow],
    columns: u16,
    ratio: I32F32,
) -> SparseMatrix {
    if ratio == ZERO {
        return a.to_vec();
    }
    if ratio == super::ONE {
        return b.to_vec();
    }
    if a.len() != b.len() {
        return b.to_vec();
    }
    let width = columns as usize;
    a.iter()
        .zip(b)
        .map(|(row_a, row_b)| {
            let dense_a = densify(row_a, width);
            let dense_b = densify(row_b, width);
            (0..width)
                .filter_map(|j| {
                    let v = dense_a[j].saturating_add(
                        ratio.saturating_mul(dense_b[j].saturating_sub(dense_a[j])),
                    );
                    (v > ZERO).then_some((j as u16, v))
                })
                .collect()
        })
        .collect()
}

/// A sparse row as a dense vector of `width` entries; later duplicates overwrite earlier ones.
pub(crate) fn densify(row: &[(u16, I32F32)], width: usize) -> Vec<I32F32> {
    let mut dense = vec![ZERO; width];
    for &(j, v) in row {
        if let Some(cell) = dense.get_mut(j as usize) {
            *cell = v;
        }
    }
    dense
}

/// Element-wise product `a_i · b_i`; an overflowing product becomes 0 (subtensor's `vec_mul`).
pub fn vec_mul(a: &[I32F32], b: &[I32F32]) -> Vec<I32F32> {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.checked_mul(*y).unwrap_or(ZERO))
        .collect()
}

/// Element-wise `a_i / b_i`, 0 where `b_i` is 0.
pub fn vec_div(a: &[I32F32], b: &[I32F32]) -> Vec<I32F32> {
    a.iter()
        .enumerate()
        .map(|(i, x)| safe_div(*x, b.get(i).copied().unwrap_or(ZERO)))
        .collect()
}

/// True when the vector sums to 0 (no usable stake or scores at all).
pub fn is_zero(values: &[I32F32]) -> bool {
    sum(values) == ZERO
}
