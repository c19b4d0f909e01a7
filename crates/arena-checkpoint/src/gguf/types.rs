//! GGML storage types: their block layout (needed to check tensor sizes) and dequantisation to
//! f32 for the types a Hugging Face import needs.
//!
//! Block layouts follow ggml's `ggml-common.h`; each dequantiser computes exactly what ggml and
//! the Python `gguf` package compute (`x * d + m` in f32), so an import is bit-identical to
//! transformers' own GGUF loader.

use half::f16;

/// A GGML tensor type, by its id in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// 32 weights: f16 scale, 16 bytes of 4-bit values offset by 8.
    Q4_0,
    /// 32 weights: f16 scale, f16 minimum, 16 bytes of 4-bit values.
    Q4_1,
    /// 32 weights: f16 scale, 32 high bits, 16 bytes of low nibbles, offset by 16.
    Q5_0,
    /// 32 weights: f16 scale, f16 minimum, 32 high bits, 16 bytes of low nibbles.
    Q5_1,
    /// 32 weights: f16 scale, 32 signed bytes.
    Q8_0,
    /// 32 weights: f16 scale, f16 sum, 32 signed bytes (activation type).
    Q8_1,
    /// K-quant, 2 bits (256-weight super-blocks).
    Q2_K,
    /// K-quant, 3 bits.
    Q3_K,
    /// K-quant, 4 bits.
    Q4_K,
    /// K-quant, 5 bits.
    Q5_K,
    /// K-quant, 6 bits.
    Q6_K,
    /// K-quant, 8 bits (activation type).
    Q8_K,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 64-bit float.
    F64,
    /// bfloat16.
    BF16,
}

impl GgmlType {
    /// The type with file id `id`, if it has a fixed block layout this parser knows.
    pub fn from_id(id: u32) -> Option<Self> {
        use GgmlType::*;
        Some(match id {
            0 => F32,
            1 => F16,
            2 => Q4_0,
            3 => Q4_1,
            6 => Q5_0,
            7 => Q5_1,
            8 => Q8_0,
            9 => Q8_1,
            10 => Q2_K,
            11 => Q3_K,
            12 => Q4_K,
            13 => Q5_K,
            14 => Q6_K,
            15 => Q8_K,
            24 => I8,
            25 => I16,
            26 => I32,
            27 => I64,
            28 => F64,
            30 => BF16,
            _ => return None,
        })
    }

    /// (weights per block, bytes per block).
    pub fn block_layout(self) -> (u64, u64) {
        use GgmlType::*;
        match self {
            F32 | I32 => (1, 4),
            F16 | BF16 | I16 => (1, 2),
            I8 => (1, 1),
            I64 | F64 => (1, 8),
            Q4_0 => (32, 18),
            Q4_1 => (32, 20),
            Q5_0 => (32, 22),
            Q5_1 => (32, 24),
            Q8_0 => (32, 34),
            Q8_1 => (32, 36),
            Q2_K => (256, 84),
            Q3_K => (256, 110),
            Q4_K => (256, 144),
            Q5_K => (256, 176),
            Q6_K => (256, 210),
            Q8_K => (256, 292),
        }
    }

    /// Bytes of one row of `row_len` weights, or `None` if rows do not split into whole blocks
    /// or the size does not fit in a u64.
    pub fn row_bytes(self, row_len: u64) -> Option<u64> {
        let (block, size) = self.block_layout();
        (row_len > 0 && row_len.is_multiple_of(block))
            .then(|| (row_len / block).checked_mul(size))
            .flatten()
    }

    /// Whether [`dequantize_row`] supports this type.
    pub fn can_dequantize(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16 | BF16 | F64 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0
        )
    }
}

/// Reads the f16 at `b[i..i + 2]` as f32.
fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32()
}

/// Dequantises one row: `src` holds exactly the bytes of `out.len()` weights of type `ty`.
///
/// Returns `false` (leaving `out` untouched) when the type is not supported or the sizes do not
/// match, so a caller turns it into a typed error; it never panics.
pub fn dequantize_row(ty: GgmlType, src: &[u8], out: &mut [f32]) -> bool {
    if !ty.can_dequantize() || ty.row_bytes(out.len() as u64) != Some(src.len() as u64) {
        return false;
    }
    let (block, size) = ty.block_layout();
    let blocks = src
        .chunks_exact(size as usize)
        .zip(out.chunks_exact_mut(block as usize));
    match ty {
        GgmlType::F32 => {
            blocks.for_each(|(b, y)| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }
        GgmlType::F64 => blocks.for_each(|(b, y)| {
            y[0] = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }),
        GgmlType::F16 => blocks.for_each(|(b, y)| y[0] = f16_at(b, 0)),
        GgmlType::BF16 => blocks.for_each(|(b, y)| {
            y[0] = f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
        }),
        GgmlType::Q8_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0);
            for (yj, &q) in y.iter_mut().zip(&b[2..34]) {
                *yj = q as i8 as f32 * d;
            }
        }),
        GgmlType::Q4_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0);
            for (j, &q) in b[2..18].iter().enumerate() {
                y[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
                y[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
            }
        }),
        GgmlType::Q4_1 => blocks.for_each(|(b, y)| {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            for (j, &q) in b[4..20].iter().enumerate() {
                y[j] = (q & 0x0f) as f32 * d + m;
                y[j + 16] = (q >> 4) as f32 * d + m;
            }
        }),
        GgmlType::Q5_0 => blocks.for_each(|(b, y)| {
            let d = f16_at(b, 0);
            let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
            for (j, &q) in b[6..22].iter().enumerate() {
                let (lo, hi) = five_bit_pair(q, qh, j);
                y[j] = (lo as i32 - 16) as f32 * d;
                y[j + 16] = (hi as i32 - 16) as f32 * d;
            }
        }),
        GgmlType::Q5_1 => blocks.for_each(|(b, y)| {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            for (j, &q) in b[8..24].iter().enumerate() {
                let (lo, hi) = five_bit_pair(q, qh, j);
                y[j] = lo as f32 * d + m;
                y[j + 16] = hi as f32 * d + m;
            }
        }),
        _ => return false,
    }
    true
}

/// The 5-bit values of weights `j` and `j + 16` of a Q5 block: low nibbles from `q`, fifth
/// bits from bit `j` and bit `j + 16` of `qh`.
fn five_bit_pair(q: u8, qh: u32, j: usize) -> (u32, u32) {
    let lo = (q & 0x0f) as u32 | (((qh >> j) & 1) << 4);
    let hi = (q >> 4) as u32 | (((qh >> (j + 16)) & 1) << 4);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_bits().to_le_bytes()
    }

    fn deq(ty: GgmlType, src: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; n];
        assert!(dequantize_row(ty, src, &mut out), "{ty:?} refused");
        out
    }

    #[test]
    fn plain_float_types() {
        let src: Vec<u8> = [1.5f32, -2.25]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(deq(GgmlType::F32, &src, 2), vec![1.5, -2.25]);
        let src: Vec<u8> = [h(0.5), h(-3.0)].concat();
        assert_eq!(deq(GgmlType::F16, &src, 2), vec![0.5, -3.0]);
        // bf16 is the high half of the f32 bits: 1.0 = 0x3f80, -2.5 = 0xc020.
        let src = [0x80, 0x3f, 0x20, 0xc0];
        assert_eq!(deq(GgmlType::BF16, &src, 2), vec![1.0, -2.5]);
    }

    #[test]
    fn q8_0_block() {
        let mut src = h(0.5).to_vec();
        src.extend((0..32).map(|j| (j as i8 - 16) as u8));
        let want: Vec<f32> = (0..32).map(|j| (j - 16) as f32 * 0.5).collect();
        assert_eq!(deq(GgmlType::Q8_0, &src, 32), want);
    }

    #[test]
    fn q4_0_block() {
        // Byte j holds weight j in its low nibble and weight j + 16 in its high nibble.
        let mut src = h(2.0).to_vec();
        src.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let out = deq(GgmlType::Q4_0, &src, 32);
        for j in 0..16 {
            assert_eq!(out[j], (j as f32 - 8.0) * 2.0);
            assert_eq!(out[j + 16], (7.0 - j as f32) * 2.0);
        }
    }

    #[test]
    fn q4_1_block() {
        let mut src = [h(0.25), h(-1.0)].concat();
        src.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let out = deq(GgmlType::Q4_1, &src, 32);
        for j in 0..16 {
            assert_eq!(out[j], j as f32 * 0.25 - 1.0);
            assert_eq!(out[j + 16], (15 - j) as f32 * 0.25 - 1.0);
        }
    }

    #[test]
    fn q5_blocks_use_the_high_bits() {
        // All low nibbles 0; fifth bit set for weights 0 and 16 only.
        let qh: u32 = 1 | (1 << 16);
        let mut q50 = h(1.0).to_vec();
        q50.extend(qh.to_le_bytes());
        q50.extend([0u8; 16]);
        let out = deq(GgmlType::Q5_0, &q50, 32);
        assert_eq!((out[0], out[1], out[16], out[17]), (0.0, -16.0, 0.0, -16.0));
        let mut q51 = [h(1.0), h(0.5)].concat();
        q51.extend(qh.to_le_bytes());
        q51.extend([0x21u8; 16]);
        let out = deq(GgmlType::Q5_1, &q51, 32);
        assert_eq!((out[0], out[1], out[16], out[17]), (17.5, 1.5, 18.5, 2.5));
    }

    #[test]
    fn refuses_wrong_sizes_and_unsupported_types() {
        let mut out = vec![0.0f32; 32];
        assert!(!dequantize_row(GgmlType::Q8_0, &[0u8; 33], &mut out));
        assert!(!dequantize_row(
            GgmlType::Q6_K,
            &[0u8; 210],
            &mut vec![0.0; 256]
        ));
        assert!(!dequantize_row(GgmlType::Q4_0, &[0u8; 18], &mut out[..31]));
        assert_eq!(GgmlType::Q4_1.row_bytes(576), Some(360));
        assert_eq!(GgmlType::Q4_1.row_bytes(30), None);
        assert_eq!(GgmlType::from_id(5), None);
    }
}
