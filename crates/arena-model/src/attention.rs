//! Causal self-attention computed in blocks of query positions, so that no temporary grows with
//! the square of the sequence length.
//!
//! Layout, as the Llama family produces it: queries `[batch, kv_heads, group·len, d]` with the
//! `group` query heads that share a kv head stacked as rows (head after head), keys and values
//! `[batch, kv_heads, past + len, d]` (the kv-cache's positions first). Keys and values are
//! never copied per query head.
//!
//! For each (sequence, kv head, block of query positions) the kernel gathers the block's rows
//! of every head of the group and multiplies them with the keys the block can see (from the
//! sliding window's start for the block's first query to `past + block_end`: later keys are
//! skipped, not masked). The forward walks those keys in tiles of `ATTENTION_KEY_TILE` with an online
//! softmax: per row the score scale, the optional soft-cap `cap·tanh(s·scale/cap)` and the
//! causal mask (masked entries become exact zeros and are never exponentiated), a running
//! maximum and sum, the output rescaled when the maximum grows and divided by the sum at the
//! end. Its largest temporary is one tile's `[rows, ATTENTION_KEY_TILE]` scores per worker thread. The
//! backward holds a block's scores over all its visible keys; the byte budget
//! ([`set_block_bytes`]) bounds that, so memory is O(block × keys), never O(len²).
//!
//! Training goes through the same forward as a candle `CustomOp3`: its backward recomputes each
//! block's probabilities from q and k (as flash attention does) instead of keeping them, so
//! neither pass holds a `len²` tensor. Partial key/value gradients are summed in a fixed order,
//! so gradients do not depend on the number of threads.
//!
//! CPU f32 runs the hand-written kernel (rayon over blocks, `gemm` for the products); other
//! dtypes are cast to f32 and back. Other devices run the same query blocks with candle ops:
//! bounded memory for scoring and generation, but for training candle's autograd keeps every
//! block's probabilities (O(len²) in all); the bound in training holds for the CPU kernel.

use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, D};
use rayon::prelude::*;

use crate::error::{ModelError, Result};
use crate::kernels::{fast_exp, CausalMask};

/// Default byte budget of one block's score matrix (per worker thread).
pub const DEFAULT_BLOCK_BYTES: usize = 4 << 20;

/// At least this many blocks per (sequence, kv head) when the sequence is long enough, so the
/// threads have work to share; a fixed number, so results do not depend on the thread count.
const MIN_TASKS: usize = 32;

/// Keys per tile of the forward pass (online softmax over tiles).
pub const ATTENTION_KEY_TILE: usize = 256;

/// Most query rows (positions × heads of a group) per forward block.
const FORWARD_ROWS: usize = 256;

/// Key/value gradients are accumulated in this many partial sums per (sequence, kv head).
const BACKWARD_PARTS: usize = 4;

static BLOCK_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_BLOCK_BYTES);

/// Sets the byte budget of one block's scores for every later call (process-wide). Tests and
/// benchmarks use it to force small blocks; results do not depend on it beyond rounding.
pub fn set_block_bytes(bytes: usize) {
    BLOCK_BYTES.store(bytes.max(4), Ordering::Relaxed);
}

/// The current byte budget of one block's scores.
pub fn block_bytes() -> usize {
    BLOCK_BYTES.load(Ordering::Relaxed)
}

/// What one attention call computes besides q, k and v.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attention {
    /// Cached positions, new positions and sliding window.
    pub mask: CausalMask,
    /// Multiplies every q·k product (usually `1/√d`).
    pub scale: f32,
    /// Attention-logit soft-capping (Gemma 2): scores become `cap·tanh(s·scale/cap)`.
    pub softcap: Option<f32>,
    /// Query positions per block; `None` derives it from [`block_bytes`].
    pub block: Option<usize>,
}

/// Sizes of one call, checked against each other.
#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    kv_heads: usize,
    group: usize,
    len: usize,
    past: usize,
    d: usize,
}

impl Dims {
    fn keys(&self) -> usize {
        self.past + self.len
    }

    fn slabs(&self) -> usize {
        self.batch * self.kv_heads
    }

    /// Elements of one (sequence, kv head) slab of the queries.
    fn q_slab(&self) -> usize {
        self.group * self.len * self.d
    }

    /// Elements of one (sequence, kv head) slab of the keys or values.
    fn kv_slab(&self) -> usize {
        self.keys() * self.d
    }
}

fn shape_error(message: String) -> ModelError {
    ModelError::AttentionShape(message)
}

impl Attention {
    fn dims(&self, q: &[usize], k: &[usize], v: &[usize]) -> Result<Dims> {
        let (&[batch, kv_heads, rows, d], &[kb, kh, keys, kd]) = (q, k) else {
            return Err(shape_error(format!(
                "q {q:?} and k {k:?} must both be [batch, kv_heads, rows, head_dim]"
            )));
        };
        let CausalMask { past, len, window } = self.mask;
        if k != v {
            return Err(shape_error(format!("k {k:?} and v {v:?} differ")));
        }
        if (kb, kh, kd) != (batch, kv_heads, d) {
            return Err(shape_error(format!("q {q:?} does not fit k {k:?}")));
        }
        if len == 0 || rows % len != 0 || keys != past + len {
            return Err(shape_error(format!(
                "q {q:?} and k {k:?} do not hold {len} new positions after {past} cached ones"
            )));
        }
        if window == Some(0) {
            return Err(shape_error("a sliding window of 0 positions".into()));
        }
        if let Some(cap) = self.softcap {
            if !(cap.is_finite() && cap > 0.0) {
                return Err(shape_error(format!(
                    "soft-cap {cap} is not a positive number"
                )));
            }
        }
        if self.block == Some(0) {
            return Err(shape_error("a block of 0 positions".into()));
        }
        Ok(Dims {
            batch,
            kv_heads,
            group: rows / len,
            len,
            past,
            d,
        })
    }

    /// Query positions per block when each row holds `keys_per_row` scores: the forced size,
    /// else as many as the byte budget allows, split further so that there are at least
    /// `MIN_TASKS` blocks in all.
    fn block_len(&self, dims: &Dims, keys_per_row: usize) -> usize {
        if let Some(block) = self.block {
            return block.min(dims.len);
        }
        let per_position = dims.group * keys_per_row * std::mem::size_of::<f32>();
        let by_budget = block_bytes() / per_position.max(1);
        let blocks_wanted = MIN_TASKS.div_ceil(dims.slabs().max(1));
        let by_tasks = dims.len.div_ceil(blocks_wanted).max(16);
        by_budget.min(by_tasks).clamp(1, dims.len)
    }

    /// Query positions per block of the forward pass, which walks the keys in tiles of
    /// `ATTENTION_KEY_TILE`: at most `FORWARD_ROWS` rows, so a tile's scores stay in cache.
    fn forward_block_len(&self, dims: &Dims) -> usize {
        let by_budget = self.block_len(dims, dims.keys().min(ATTENTION_KEY_TILE));
        match self.block {
            Some(_) => by_budget,
            None => by_budget.min((FORWARD_ROWS / dims.group).max(1)),
        }
    }

    /// Query positions per block of the backward pass, which holds a block's scores over all
    /// its visible keys.
    fn backward_block_len(&self, dims: &Dims) -> usize {
        self.block_len(dims, dims.keys())
    }

    /// Visible key range `lo..hi` of the block of query positions `start..end`.
    fn block_keys(&self, start: usize, end: usize) -> (usize, usize) {
        (self.mask.range(start).0, self.mask.past + end)
    }
}

/// Causal attention `softmax(mask(cap(q·kᵀ·scale)))·v` in blocks (see the module doc): q
/// `[batch, kv_heads, group·len, d]`, k and v `[batch, kv_heads, past+len, d]`, result shaped
/// like q. Differentiable with respect to q, k and v.
pub fn causal_attention(q: &Tensor, k: &Tensor, v: &Tensor, spec: Attention) -> Result<Tensor> {
    let dims = spec.dims(q.dims(), k.dims(), v.dims())?;
    if !q.device().is_cpu() {
        return blocks_with_candle_ops(q, k, v, &spec, &dims);
    }
    let dtype = q.dtype();
    let f32_of = |t: &Tensor| -> Result<Tensor> { Ok(t.to_dtype(DType::F32)?.contiguous()?) };
    let out = f32_of(q)?.apply_op3(&f32_of(k)?, &f32_of(v)?, AttentionOp { spec, dims })?;
    Ok(out.to_dtype(dtype)?)
}

/// The CPU kernel as a candle op, so the trainer's autograd reaches its backward.
#[derive(Clone, Copy)]
struct AttentionOp {
    spec: Attention,
    dims: Dims,
}

/// The f32 data of a contiguous CPU tensor argument.
fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => Err(candle_core::Error::Msg(
            "attention needs contiguous q, k and v".into(),
        )),
    }
}

/// A CPU tensor's f32 data, copied out.
fn to_f32_vec(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

impl CustomOp3 for AttentionOp {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (q, k, v) = (
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            contiguous_f32(s3, l3)?,
        );
        let out = forward_cpu(q, k, v, &self.spec, &self.dims);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        out: &Tensor,
        grad_out: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let [q_data, k_data, v_data, o_data, do_data] = [q, k, v, out, grad_out].map(to_f32_vec);
        let grads = backward_cpu(
            &Inputs {
                q: &q_data?,
                k: &k_data?,
                v: &v_data?,
            },
            &o_data?,
            &do_data?,
            &self.spec,
            &self.dims,
        );
        let device = q.device();
        Ok((
            Some(Tensor::from_vec(grads.q, q.shape(), device)?),
            Some(Tensor::from_vec(grads.k, k.shape(), device)?),
            Some(Tensor::from_vec(grads.v, v.shape(), device)?),
        ))
    }
}

/// A row-major matrix view: element (r, c) is `data[r·rs + c·cs]`.
#[derive(Clone, Copy)]
struct Mat<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

/// `dst[m×n] = lhs[m×k]·rhs[k×n]` (or `+=` with `accumulate`), `dst` row-major with `n`
/// columns, single-threaded (the callers run blocks in parallel).
fn matmul(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: Mat, rhs: Mat) {
    let last = |rows: usize, cols: usize, a: &Mat| (rows - 1) * a.rs + (cols - 1) * a.cs;
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n, "matmul destination too small");
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    assert!(last(m, k, &lhs) < lhs.data.len() && last(k, n, &rhs) < rhs.data.len());
    // SAFETY: every element read or written lies inside the slices (checked above); dst does
    // not alias the operands (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Copies rows `start..end` of each of the `group` stacked heads of `slab` (`[group·len, d]`)
/// into `out` as `[group·(end−start), d]`.
fn gather(slab: &[f32], dims: &Dims, start: usize, end: usize, out: &mut Vec<f32>) {
    out.clear();
    for head in 0..dims.group {
        let first = (head * dims.len + start) * dims.d;
        out.extend_from_slice(&slab[first..first + (end - start) * dims.d]);
    }
}

/// Writes `rows` (`[group·(end−start), d]`) back where [`gather`] took them from.
fn scatter(slab: &mut [f32], dims: &Dims, start: usize, end: usize, rows: &[f32]) {
    let n = (end - start) * dims.d;
    for (head, chunk) in rows.chunks(n).enumerate() {
        let first = (head * dims.len + start) * dims.d;
        slab[first..first + n].copy_from_slice(chunk);
    }
}

/// Turns the raw products of one block (`[group·(end−start), width]`, keys `lo..lo+width`)
/// into probabilities, row by row.
fn probabilities(scores: &mut [f32], width: usize, spec: &Attention, start: usize, end: usize) {
    let (lo, _) = spec.block_keys(start, end);
    let block = end - start;
    for (r, row) in scores.chunks_mut(width).enumerate() {
        let (row_lo, row_hi) = spec.mask.range(start + r % block);
        let (_, sum) = exp_row(row, row_lo - lo, row_hi - lo, spec, f32::NEG_INFINITY);
        let inv = 1.0 / sum;
        row[row_lo - lo..row_hi - lo]
            .iter_mut()
            .for_each(|x| *x *= inv);
    }
}

/// Replaces the raw products `row[lo..hi]` (`lo < hi`) by `exp(logit − m)`, where the logit
/// is the scaled (and soft-capped) product and `m` the larger of `floor` and the largest logit;
/// the rest of the row becomes exact zeros. Returns `(m, Σ exp)`. Compiled twice on x86-64:
/// for the baseline and with AVX2/FMA (picked at run time); both give the same numbers.
fn exp_row(row: &mut [f32], lo: usize, hi: usize, spec: &Attention, floor: f32) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features this copy is compiled for.
            return unsafe { exp_row_avx2(row, lo, hi, spec.scale, spec.softcap, floor) };
        }
    }
    exp_row_portable(row, lo, hi, spec.scale, spec.softcap, floor)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_row_avx2(
    row: &mut [f32],
    lo: usize,
    hi: usize,
    scale: f32,
    softcap: Option<f32>,
    floor: f32,
) -> (f32, f32) {
    exp_row_portable(row, lo, hi, scale, softcap, floor)
}

#[inline(always)]
fn exp_row_portable(
    row: &mut [f32],
    lo: usize,
    hi: usize,
    scale: f32,
    softcap: Option<f32>,
    floor: f32,
) -> (f32, f32) {
    let visible = &mut row[lo..hi];
    // Eight lanes of partial maxima and sums let the loops vectorise.
    let mut maxima = [floor; 8];
    match softcap {
        None => {
            for chunk in visible.chunks_mut(8) {
                for (m, x) in maxima.iter_mut().zip(chunk) {
                    *x *= scale;
                    *m = m.max(*x);
                }
            }
        }
        Some(cap) => {
            for chunk in visible.chunks_mut(8) {
                for (m, x) in maxima.iter_mut().zip(chunk) {
                    *x = cap * (*x * scale / cap).tanh();
                    *m = m.max(*x);
                }
            }
        }
    }
    let max = maxima.iter().copied().fold(floor, f32::max);
    let mut sums = [0f32; 8];
    for chunk in visible.chunks_mut(8) {
        for (s, x) in sums.iter_mut().zip(chunk) {
            *x = fast_exp(*x - max);
            *s += *x;
        }
    }
    row[..lo].fill(0.0);
    row[hi..].fill(0.0);
    (max, sums.iter().sum())
}

/// The f32 inputs of one call.
struct Inputs<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
}

impl<'a> Inputs<'a> {
    /// q, k and v of the (sequence, kv head) `slab`.
    fn slab(&self, dims: &Dims, slab: usize) -> Inputs<'a> {
        let (qn, kvn) = (dims.q_slab(), dims.kv_slab());
        Inputs {
            q: &self.q[slab * qn..(slab + 1) * qn],
            k: &self.k[slab * kvn..(slab + 1) * kvn],
            v: &self.v[slab * kvn..(slab + 1) * kvn],
        }
    }
}

/// Scratch space of one worker, reused from block to block.
#[derive(Default)]
struct Scratch {
    q: Vec<f32>,
    o: Vec<f32>,
    grad_o: Vec<f32>,
    scores: Vec<f32>,
    grad_scores: Vec<f32>,
    cap_slope: Vec<f32>,
    row_max: Vec<f32>,
    row_sum: Vec<f32>,
}

/// (slab, first query position) of every block, in order.
fn blocks(dims: &Dims, block: usize) -> Vec<(usize, usize)> {
    (0..dims.slabs())
        .flat_map(|slab| (0..dims.len).step_by(block).map(move |start| (slab, start)))
        .collect()
}

fn forward_cpu(q: &[f32], k: &[f32], v: &[f32], spec: &Attention, dims: &Dims) -> Vec<f32> {
    let block = spec.forward_block_len(dims);
    let tasks = blocks(dims, block);
    let x = Inputs { q, k, v };
    let results: Vec<Vec<f32>> = tasks
        .par_iter()
        .map_init(Scratch::default, |scratch, &(slab, start)| {
            let end = (start + block).min(dims.len);
            forward_block(scratch, &x.slab(dims, slab), spec, dims, start, end)
        })
        .collect();
    let mut out = vec![0f32; q.len()];
    for (&(slab, start), rows) in tasks.iter().zip(&results) {
        let end = (start + block).min(dims.len);
        let n = dims.q_slab();
        scatter(&mut out[slab * n..(slab + 1) * n], dims, start, end, rows);
    }
    out
}

/// The output rows (`[group·(end−start), d]`) of the query positions `start..end` of one
/// slab. Walks the visible keys in tiles of `ATTENTION_KEY_TILE` with an online softmax: each row keeps
/// its running maximum and sum, earlier output is rescaled when the maximum grows, and the
/// output is divided by the sum at the end.
fn forward_block(
    scratch: &mut Scratch,
    x: &Inputs,
    spec: &Attention,
    dims: &Dims,
    start: usize,
    end: usize,
) -> Vec<f32> {
    let d = dims.d;
    let Scratch {
        q,
        scores,
        row_max,
        row_sum,
        ..
    } = scratch;
    gather(x.q, dims, start, end, q);
    let rows = q.len() / d;
    let block = end - start;
    let (lo, hi) = spec.block_keys(start, end);
    let mut out = vec![0f32; rows * d];
    row_max.clear();
    row_max.resize(rows, f32::NEG_INFINITY);
    row_sum.clear();
    row_sum.resize(rows, 0.0);
    for tile_lo in (lo..hi).step_by(ATTENTION_KEY_TILE) {
        let tile_hi = (tile_lo + ATTENTION_KEY_TILE).min(hi);
        let width = tile_hi - tile_lo;
        scores.resize(rows * width, 0.0);
        let keys_t = Mat {
            data: &x.k[tile_lo * d..],
            rs: 1,
            cs: d,
        };
        let q_mat = Mat {
            data: q,
            rs: d,
            cs: 1,
        };
        matmul(rows, width, d, scores, false, q_mat, keys_t);
        for (r, row) in scores.chunks_mut(width).enumerate() {
            let (row_lo, row_hi) = spec.mask.range(start + r % block);
            let (a, b) = (row_lo.max(tile_lo), row_hi.min(tile_hi));
            if a >= b {
                row.fill(0.0);
                continue;
            }
            let (max, sum) = exp_row(row, a - tile_lo, b - tile_lo, spec, row_max[r]);
            if max > row_max[r] && row_sum[r] > 0.0 {
                let rescale = fast_exp(row_max[r] - max);
                row_sum[r] *= rescale;
                out[r * d..(r + 1) * d]
                    .iter_mut()
                    .for_each(|o| *o *= rescale);
            }
            row_max[r] = max;
            row_sum[r] += sum;
        }
        let values = Mat {
            data: &x.v[tile_lo * d..],
            rs: d,
            cs: 1,
        };
        let probs = Mat {
            data: scores,
            rs: width,
            cs: 1,
        };
        matmul(rows, d, width, &mut out, true, probs, values);
    }
    for (o, &sum) in out.chunks_mut(d).zip(row_sum.iter()) {
        let inv = 1.0 / sum;
        o.iter_mut().for_each(|x| *x *= inv);
    }
    out
}

/// Gradients with respect to q, k and v, shaped like them.
struct Grads {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
}

/// One worker's share of a slab's backward: key and value gradients summed over its blocks,
/// and the query gradient rows of each of its blocks.
struct Partial {
    k: Vec<f32>,
    v: Vec<f32>,
    q: Vec<(usize, Vec<f32>)>,
}

fn backward_cpu(x: &Inputs, out: &[f32], grad_out: &[f32], spec: &Attention, dims: &Dims) -> Grads {
    let block = spec.backward_block_len(dims);
    let starts: Vec<usize> = (0..dims.len).step_by(block).collect();
    let parts = BACKWARD_PARTS.min(starts.len());
    let tasks: Vec<(usize, usize)> = (0..dims.slabs())
        .flat_map(|slab| (0..parts).map(move |part| (slab, part)))
        .collect();
    let qn = dims.q_slab();
    let partials: Vec<Partial> = tasks
        .par_iter()
        .map(|&(slab, part)| {
            let mut scratch = Scratch::default();
            let mut partial = Partial {
                k: vec![0f32; dims.kv_slab()],
                v: vec![0f32; dims.kv_slab()],
                q: Vec::new(),
            };
            let slab_x = x.slab(dims, slab);
            let o = &out[slab * qn..(slab + 1) * qn];
            let grad_o = &grad_out[slab * qn..(slab + 1) * qn];
            // Blocks are dealt out in turn, so every part gets early and late (costlier) ones.
            for &start in starts.iter().skip(part).step_by(parts) {
                let end = (start + block).min(dims.len);
                let rows = backward_block(
                    &mut scratch,
                    &slab_x,
                    (o, grad_o),
                    spec,
                    dims,
                    (start, end),
                    &mut partial,
                );
                partial.q.push((start, rows));
            }
            partial
        })
        .collect();
    let kvn = dims.kv_slab();
    let mut grads = Grads {
        q: vec![0f32; x.q.len()],
        k: vec![0f32; x.k.len()],
        v: vec![0f32; x.v.len()],
    };
    // Summed in task order, so the result does not depend on which thread ran what.
    for (&(slab, _), partial) in tasks.iter().zip(&partials) {
        let range = slab * kvn..(slab + 1) * kvn;
        for (g, p) in grads.k[range.clone()].iter_mut().zip(&partial.k) {
            *g += p;
        }
        for (g, p) in grads.v[range].iter_mut().zip(&partial.v) {
            *g += p;
        }
        for (start, rows) in &partial.q {
            let end = (start + block).min(dims.len);
            scatter(
                &mut grads.q[slab * qn..(slab + 1) * qn],
                dims,
                *start,
                end,
                rows,
            );
        }
    }
    grads
}

/// Backward of the block `start..end` of one slab: adds its key and value gradients to
/// `partial` and returns its query gradient rows. Recomputes the block's probabilities `P`,
/// then `dV += Pᵀ·dO`, `dP = dO·Vᵀ`, `dS = P∘(dP − rowsum(dO∘O))` (times the soft-cap's slope),
/// `dQ = dS·K·scale`, `dK += dSᵀ·Q·scale`.
fn backward_block(
    scratch: &mut Scratch,
    x: &Inputs,
    (out, grad_out): (&[f32], &[f32]),
    spec: &Attention,
    dims: &Dims,
    (start, end): (usize, usize),
    partial: &mut Partial,
) -> Vec<f32> {
    let d = dims.d;
    let Scratch {
        q,
        o,
        grad_o,
        scores,
        grad_scores,
        cap_slope,
        ..
    } = scratch;
    gather(x.q, dims, start, end, q);
    gather(out, dims, start, end, o);
    gather(grad_out, dims, start, end, grad_o);
    let rows = q.len() / d;
    let (lo, hi) = spec.block_keys(start, end);
    let width = hi - lo;
    scores.resize(rows * width, 0.0);
    grad_scores.resize(rows * width, 0.0);
    let keys = Mat {
        data: &x.k[lo * d..],
        rs: d,
        cs: 1,
    };
    let keys_t = Mat {
        data: &x.k[lo * d..],
        rs: 1,
        cs: d,
    };
    let values_t = Mat {
        data: &x.v[lo * d..],
        rs: 1,
        cs: d,
    };
    matmul(
        rows,
        width,
        d,
        scores,
        false,
        Mat {
            data: q,
            rs: d,
            cs: 1,
        },
        keys_t,
    );
    if let Some(cap) = spec.softcap {
        cap_slope.clear();
        cap_slope.extend(scores.iter().map(|&s| {
            let t = (s * spec.scale / cap).tanh();
            1.0 - t * t
        }));
    }
    probabilities(scores, width, spec, start, end);
    let grad_o_mat = Mat {
        data: grad_o,
        rs: d,
        cs: 1,
    };
    // dV[lo..hi] += Pᵀ·dO
    let probs_t = Mat {
        data: scores,
        rs: 1,
        cs: width,
    };
    matmul(
        width,
        d,
        rows,
        &mut partial.v[lo * d..hi * d],
        true,
        probs_t,
        grad_o_mat,
    );
    // dP = dO·Vᵀ, then dS in place.
    matmul(rows, width, d, grad_scores, false, grad_o_mat, values_t);
    for (r, (g_row, p_row)) in grad_scores
        .chunks_mut(width)
        .zip(scores.chunks(width))
        .enumerate()
    {
        let delta: f32 = grad_o[r * d..(r + 1) * d]
            .iter()
            .zip(&o[r * d..(r + 1) * d])
            .map(|(a, b)| a * b)
            .sum();
        for (g, &p) in g_row.iter_mut().zip(p_row) {
            *g = p * (*g - delta) * spec.scale;
        }
        if spec.softcap.is_some() {
            for (g, &slope) in g_row.iter_mut().zip(&cap_slope[r * width..(r + 1) * width]) {
                *g *= slope;
            }
        }
    }
    let mut grad_q = vec![0f32; rows * d];
    let grad_s = Mat {
        data: grad_scores,
        rs: width,
        cs: 1,
    };
    matmul(rows, d, width, &mut grad_q, false, grad_s, keys);
    let grad_s_t = Mat {
        data: grad_scores,
        rs: 1,
        cs: width,
    };
    let q_mat = Mat {
        data: q,
        rs: d,
        cs: 1,
    };
    matmul(
        width,
        d,
        rows,
        &mut partial.k[lo * d..hi * d],
        true,
        grad_s_t,
        q_mat,
    );
    grad_q
}

/// The same blocks with candle ops, for devices other than the CPU.
fn blocks_with_candle_ops(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    spec: &Attention,
    dims: &Dims,
) -> Result<Tensor> {
    let Dims {
        batch,
        kv_heads,
        group,
        len,
        d,
        ..
    } = *dims;
    let block = spec.backward_block_len(dims);
    let q5 = q.reshape((batch, kv_heads, group, len, d))?;
    let mut outs = Vec::new();
    for start in (0..len).step_by(block) {
        let end = (start + block).min(len);
        let (lo, hi) = spec.block_keys(start, end);
        let rows = group * (end - start);
        let q_block = q5
            .narrow(3, start, end - start)?
            .contiguous()?
            .reshape((batch, kv_heads, rows, d))?;
        let k_block = k.narrow(2, lo, hi - lo)?.contiguous()?;
        let v_block = v.narrow(2, lo, hi - lo)?.contiguous()?;
        let mut scores = (q_block.matmul(&k_block.t()?)? * spec.scale as f64)?;
        if let Some(cap) = spec.softcap {
            scores = ((scores / cap as f64)?.tanh()? * cap as f64)?;
        }
        let mut bias = vec![0f32; rows * (hi - lo)];
        for (r, row) in bias.chunks_mut(hi - lo).enumerate() {
            let (row_lo, row_hi) = spec.mask.range(start + r % (end - start));
            row[..row_lo - lo].fill(f32::NEG_INFINITY);
            row[row_hi - lo..].fill(f32::NEG_INFINITY);
        }
        let bias = Tensor::from_vec(bias, (rows, hi - lo), q.device())?.to_dtype(q.dtype())?;
        let probs = candle_nn::ops::softmax(&scores.broadcast_add(&bias)?, D::Minus1)?;
        outs.push(
            probs
                .matmul(&v_block)?
                .reshape((batch, kv_heads, group, end - start, d))?,
        );
    }
    Ok(Tensor::cat(&outs, 3)?.reshape((batch, kv_heads, group * len, d))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Deterministic values in [-2, 2) from a linear congruential generator.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    fn tensor(shape: &[usize], seed: u64) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec(values(n, seed), shape, &Device::Cpu).unwrap()
    }

    /// The definition: the whole `[rows, keys]` score matrix, an additive −∞ mask and
    /// candle's softmax, differentiable by autograd. The test oracle.
    fn naive(q: &Tensor, k: &Tensor, v: &Tensor, spec: &Attention) -> Tensor {
        let (rows, keys) = (q.dim(2).unwrap(), k.dim(2).unwrap());
        let mut scores = (q.matmul(&k.t().unwrap()).unwrap() * spec.scale as f64).unwrap();
        if let Some(cap) = spec.softcap {
            scores = ((scores / cap as f64).unwrap().tanh().unwrap() * cap as f64).unwrap();
        }
        let mut bias = vec![0f32; rows * keys];
        for (r, row) in bias.chunks_mut(keys).enumerate() {
            let (lo, hi) = spec.mask.range(r);
            for (j, b) in row.iter_mut().enumerate() {
                if j < lo || j >= hi {
                    *b = f32::NEG_INFINITY;
                }
            }
        }
        let bias = Tensor::from_vec(bias, (rows, keys), &Device::Cpu).unwrap();
        let probs =
            candle_nn::ops::softmax(&scores.broadcast_add(&bias).unwrap(), D::Minus1).unwrap();
        probs.matmul(v).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
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

    /// Output and the gradients of q, k, v under a random linear loss.
    fn with_grads(
        f: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor,
        inputs: [&Tensor; 3],
        weights: &Tensor,
    ) -> [Tensor; 4] {
        let vars = inputs.map(|t| Var::from_tensor(t).unwrap());
        let out = f(
            vars[0].as_tensor(),
            vars[1].as_tensor(),
            vars[2].as_tensor(),
        );
        let loss = (&out * weights).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let g = |i: usize| grads.get(vars[i].as_tensor()).unwrap().clone();
        [out, g(0), g(1), g(2)]
    }

    /// (batch, kv heads, group, len, past, head dim) and the options of one case.
    struct Case {
        shape: (usize, usize, usize, usize, usize, usize),
        window: Option<usize>,
        softcap: Option<f32>,
        block: Option<usize>,
    }

    fn check(case: &Case, seed: u64) {
        let (batch, kv_heads, group, len, past, d) = case.shape;
        let q = tensor(&[batch, kv_heads, group * len, d], seed);
        let k = tensor(&[batch, kv_heads, past + len, d], seed + 1);
        let v = tensor(&[batch, kv_heads, past + len, d], seed + 2);
        let weights = tensor(&[batch, kv_heads, group * len, d], seed + 3);
        let spec = Attention {
            mask: CausalMask {
                past,
                len,
                window: case.window,
            },
            scale: 1.0 / (d as f32).sqrt(),
            softcap: case.softcap,
            block: case.block,
        };
        let want = with_grads(|q, k, v| naive(q, k, v, &spec), [&q, &k, &v], &weights);
        let ours = with_grads(
            |q, k, v| causal_attention(q, k, v, spec).unwrap(),
            [&q, &k, &v],
            &weights,
        );
        let dims = spec.dims(q.dims(), k.dims(), v.dims()).unwrap();
        let candle_ops = with_grads(
            |q, k, v| blocks_with_candle_ops(q, k, v, &spec, &dims).unwrap(),
            [&q, &k, &v],
            &weights,
        );
        for (what, (a, b)) in ["out", "dq", "dk", "dv"].iter().zip(ours.iter().zip(&want)) {
            let diff = max_diff(a, b);
            assert!(
                diff <= 1e-5,
                "{what}: kernel differs by {diff} ({:?})",
                case.shape
            );
        }
        for (what, (a, b)) in ["out", "dq", "dk", "dv"]
            .iter()
            .zip(candle_ops.iter().zip(&want))
        {
            let diff = max_diff(a, b);
            assert!(diff <= 1e-5, "{what}: candle blocks differ by {diff}");
        }
    }

    #[test]
    fn blocks_equal_the_full_score_matrix_with_gradients() {
        let cases = [
            // Prefill, one block and many blocks (block 5 of 37, last block shorter).
            (2, 2, 3, 37, 0, 8, None, None, None),
            (2, 2, 3, 37, 0, 8, None, None, Some(5)),
            (1, 3, 1, 19, 0, 16, None, None, Some(1)),
            // Sliding window shorter than the blocks and longer than one block.
            (1, 2, 2, 40, 0, 8, Some(7), None, Some(16)),
            (1, 2, 2, 40, 0, 8, Some(12), None, Some(3)),
            // Decoding with a kv-cache: past > 0, few new positions, with and without window.
            (2, 1, 4, 1, 30, 8, None, None, None),
            (1, 2, 2, 3, 25, 8, Some(10), None, Some(2)),
            // Soft-capping (Gemma 2).
            (1, 2, 2, 21, 4, 8, None, Some(1.5), Some(4)),
            // More keys than one forward tile (online softmax across tiles), with a window
            // and a kv-cache.
            (1, 2, 3, 300, 0, 8, None, None, None),
            (1, 1, 2, 290, 0, 8, Some(100), None, Some(37)),
            (1, 2, 2, 2, 530, 8, None, Some(3.0), None),
        ];
        for (i, (b, h, g, len, past, d, window, softcap, block)) in cases.into_iter().enumerate() {
            let case = Case {
                shape: (b, h, g, len, past, d),
                window,
                softcap,
                block,
            };
            check(&case, 10 * i as u64);
        }
    }

    #[test]
    fn the_block_comes_from_the_byte_budget() {
        let spec = |block| Attention {
            mask: CausalMask {
                past: 0,
                len: 8192,
                window: None,
            },
            scale: 0.125,
            softcap: None,
            block,
        };
        let dims = Dims {
            batch: 1,
            kv_heads: 3,
            group: 3,
            len: 8192,
            past: 0,
            d: 64,
        };
        // One backward block's scores fit the budget and the long sequence is split.
        let block = spec(None).backward_block_len(&dims);
        assert!(block * 3 * 8192 * 4 <= block_bytes());
        assert!((1..8192).contains(&block));
        // A forward block holds at most FORWARD_ROWS rows of one key tile.
        let block = spec(None).forward_block_len(&dims);
        assert!(block * 3 <= FORWARD_ROWS && block * 3 * ATTENTION_KEY_TILE * 4 <= block_bytes());
        assert_eq!(spec(Some(7)).forward_block_len(&dims), 7);
        assert_eq!(spec(Some(7)).backward_block_len(&dims), 7);
        assert_eq!(spec(Some(100_000)).backward_block_len(&dims), 8192);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let spec = Attention {
            mask: CausalMask {
                past: 0,
                len: 4,
                window: None,
            },
            scale: 1.0,
            softcap: None,
            block: None,
        };
        let q = tensor(&[1, 2, 8, 4], 1);
        let k = tensor(&[1, 2, 4, 4], 2);
        assert!(causal_attention(&q, &k, &k, spec).is_ok());
        // Keys for a cache the mask does not know of.
        let long_k = tensor(&[1, 2, 6, 4], 3);
        assert!(causal_attention(&q, &long_k, &long_k, spec).is_err());
        // Head dims differ, rank wrong, k and v differ.
        assert!(causal_attention(&q, &tensor(&[1, 2, 4, 3], 4), &k, spec).is_err());
        assert!(causal_attention(&tensor(&[2, 8, 4], 5), &k, &k, spec).is_err());
        assert!(causal_attention(&q, &k, &tensor(&[1, 1, 4, 4], 6), spec).is_err());
        let no_window = Attention {
            mask: CausalMask {
                window: Some(0),
                ..spec.mask
            },
            ..spec
        };
        assert!(causal_attention(&q, &k, &k, no_window).is_err());
        let bad_cap = Attention {
            softcap: Some(-1.0),
            ..spec
        };
        assert!(causal_attention(&q, &k, &k, bad_cap).is_err());
    }
}
