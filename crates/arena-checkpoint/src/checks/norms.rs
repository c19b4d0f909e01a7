//! Weight validation after the headers passed: every weight finite, and the per-layer norm rule
//! of the competitions (taoverse's norm validation, as SN37 applies it) on the q, k, v, o, up and down projections.
//!
//! Phi-3 stores q/k/v as one `qkv_proj` and gate/up as one `gate_up_proj`. The rule is applied
//! to the same six matrices as for every other architecture: the norm of q, k and v is that of
//! their row blocks inside `qkv_proj` (rows `0..q`, `q..q+kv`, `q+kv..q+2kv`), and the norm of
//! up is that of the second half of `gate_up_proj`'s rows (transformers splits it as gate, then
//! up). So a Phi-3 model is judged exactly as the same weights stored unfused would be.
//!
//! The weights are streamed from the safetensors files in fixed-size chunks, so validation
//! needs no more memory than one chunk whatever the model size.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use arena_core::competition::NormValidation;
use half::{bf16, f16};
use serde::Serialize;

use arena_core::rejection::Rejection;

use super::WeightFile;
use crate::config::{Family, ModelConfig};
use crate::st_header::{StDtype, StTensor};

/// The six projections the rule looks at, as (module path, short name).
pub const PROJECTIONS: [&str; 6] = [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.up_proj",
    "mlp.down_proj",
];

/// What the norm validation measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NormReport {
    /// Largest projection norm, and its tensor.
    pub max_norm: f64,
    /// The tensor with the largest norm.
    pub max_norm_tensor: String,
    /// Fraction of layers above the soft limit, per projection (in [`PROJECTIONS`] order).
    pub soft_fractions: [f64; 6],
    /// Mean of `soft_fractions`, compared with the limit.
    pub soft_fraction_mean: f64,
}

/// One block of rows of a weight that the norm rule measures.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    layer: usize,
    /// Index into [`PROJECTIONS`].
    projection: usize,
    /// Rows `start..end` of the `[out, in]` matrix; `None`: the whole tensor.
    rows: Option<(u64, u64)>,
}

/// The projections (or, for Phi-3's fused tensors, row blocks) the weight `name` holds.
fn projection_parts(name: &str, cfg: &ModelConfig) -> Vec<Part> {
    let Some(rest) = name
        .strip_prefix("model.layers.")
        .and_then(|r| r.strip_suffix(".weight"))
    else {
        return Vec::new();
    };
    let Some((layer, module)) = rest.split_once('.') else {
        return Vec::new();
    };
    let Ok(layer) = layer.parse() else {
        return Vec::new();
    };
    if cfg.family == Family::Phi3 {
        let q = (cfg.num_attention_heads * cfg.head_dim) as u64;
        let kv = (cfg.num_key_value_heads * cfg.head_dim) as u64;
        let inter = cfg.intermediate_size as u64;
        let part = |projection, start, end| Part {
            layer,
            projection,
            rows: Some((start, end)),
        };
        match module {
            "self_attn.qkv_proj" => {
                return vec![
                    part(0, 0, q),
                    part(1, q, q + kv),
                    part(2, q + kv, q + 2 * kv),
                ]
            }
            "mlp.gate_up_proj" => return vec![part(4, inter, 2 * inter)],
            _ => {}
        }
    }
    PROJECTIONS
        .iter()
        .position(|p| *p == module)
        .map(|projection| Part {
            layer,
            projection,
            rows: None,
        })
        .into_iter()
        .collect()
}

/// Sums of squares of a tensor's values: the whole tensor first, then each requested row block
/// (`[out, in]` layout); `None` if a value is NaN or infinite.
fn sum_of_squares(
    file: &mut BufReader<File>,
    t: &StTensor,
    blocks: &[(u64, u64)],
) -> std::io::Result<Option<Vec<f64>>> {
    const CHUNK: usize = 1 << 20;
    file.seek(SeekFrom::Start(t.offset))?;
    let size = t.dtype.size() as usize;
    let row_len = t.shape.get(1).copied().unwrap_or(1).max(1);
    let mut buf = vec![0u8; CHUNK];
    let mut left = t.n_bytes as usize;
    let mut totals = vec![0f64; 1 + blocks.len()];
    let mut finite = true;
    let mut index = 0u64;
    while left > 0 {
        let n = left.min(CHUNK);
        file.read_exact(&mut buf[..n])?;
        left -= n;
        let values = buf[..n].chunks_exact(size).map(|b| match t.dtype {
            StDtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            StDtype::F16 => f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
            _ => bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32(),
        });
        for v in values {
            finite &= v.is_finite();
            let square = (v as f64) * (v as f64);
            totals[0] += square;
            if !blocks.is_empty() {
                let row = index / row_len;
                for (k, &(start, end)) in blocks.iter().enumerate() {
                    if row >= start && row < end {
                        totals[k + 1] += square;
                    }
                }
            }
            index += 1;
        }
    }
    Ok(finite.then_some(totals))
}

/// Whether a little-endian element of a floating dtype is NaN or infinite (`None`: not a float).
fn non_finite(dtype: StDtype, b: &[u8]) -> Option<bool> {
    Some(match dtype {
        StDtype::F64 => !f64::from_le_bytes(b.try_into().ok()?).is_finite(),
        StDtype::F32 => !f32::from_le_bytes(b.try_into().ok()?).is_finite(),
        // Exponent bits all ones: infinity or NaN.
        StDtype::F16 => u16::from_le_bytes(b.try_into().ok()?) & 0x7c00 == 0x7c00,
        StDtype::BF16 => u16::from_le_bytes(b.try_into().ok()?) & 0x7f80 == 0x7f80,
        StDtype::F8_E5M2 => b[0] & 0x7c == 0x7c,
        // E4M3 (fn) has no infinity; S.1111.111 is NaN.
        StDtype::F8_E4M3 => b[0] & 0x7f == 0x7f,
        _ => return None,
    })
}

/// Reads every floating-point weight of one safetensors file once (any float dtype, f64 and
/// f8 included) and refuses it at the first NaN or infinity, naming the file and tensor.
pub fn scan_finite(file: &WeightFile) -> Result<(), Rejection> {
    let file_name = file
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let io = |e: std::io::Error| Rejection::unreadable(&file.path, e);
    let mut reader = BufReader::with_capacity(1 << 20, File::open(&file.path).map_err(io)?);
    let mut chunk = vec![0u8; 1 << 20];
    for t in &file.header.tensors {
        let width = t.dtype.size() as usize;
        if non_finite(t.dtype, &vec![0u8; width]).is_none() {
            continue;
        }
        reader.seek(SeekFrom::Start(t.offset)).map_err(io)?;
        let mut left = t.n_bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            reader.read_exact(&mut chunk[..n]).map_err(io)?;
            left -= n as u64;
            if chunk[..n]
                .chunks_exact(width)
                .any(|b| non_finite(t.dtype, b) == Some(true))
            {
                return Err(Rejection::NonFiniteWeights {
                    file: file_name,
                    tensor: t.name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Reads every float weight: refuses NaN/infinite values, then applies the norm rule to the
/// projections of the config's layers (named as its architecture names them).
pub fn validate_weights(
    files: &[WeightFile],
    cfg: &ModelConfig,
    limits: &NormValidation,
) -> Result<NormReport, Rejection> {
    let n_layers = cfg.num_hidden_layers;
    let mut norms = vec![[0f64; 6]; n_layers];
    let mut max = (0f64, String::new());
    for wf in files {
        let io = |e: std::io::Error| Rejection::unreadable(&wf.path, e);
        let file_name = wf
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut file = BufReader::new(File::open(&wf.path).map_err(io)?);
        for t in wf
            .header
            .tensors
            .iter()
            .filter(|t| t.dtype.is_model_float())
        {
            let parts: Vec<Part> = projection_parts(&t.name, cfg)
                .into_iter()
                .filter(|p| p.layer < n_layers)
                .collect();
            let blocks: Vec<(u64, u64)> = parts.iter().filter_map(|p| p.rows).collect();
            let sums = sum_of_squares(&mut file, t, &blocks).map_err(io)?;
            let Some(sums) = sums else {
                return Err(Rejection::NonFiniteWeights {
                    file: file_name,
                    tensor: t.name.clone(),
                });
            };
            let mut block = 0;
            for part in &parts {
                let sum = match part.rows {
                    Some(_) => {
                        block += 1;
                        sums[block]
                    }
                    None => sums[0],
                };
                let norm = sum.sqrt();
                norms[part.layer][part.projection] = norm;
                if norm > max.0 {
                    max = (norm, t.name.clone());
                }
            }
        }
    }
    judge_norms(&norms, limits)
        .map(|(fractions, mean)| NormReport {
            max_norm: max.0,
            max_norm_tensor: max.1.clone(),
            soft_fractions: fractions,
            soft_fraction_mean: mean,
        })
        .map_err(|f| match f {
            Rejection::NormAboveHard { norm, limit, .. } if norm == max.0 => {
                Rejection::NormAboveHard {
                    tensor: max.1.clone(),
                    norm,
                    limit,
                }
            }
            other => other,
        })
}

/// The norm rule on per-layer norms (`norms[layer][projection]`, [`PROJECTIONS`] order): any
/// norm above `hard` (or not a number) fails; else the mean over the six projections of the
/// fraction of layers above `soft` must not exceed `soft_fraction`. Returns the fractions.
pub fn judge_norms(
    norms: &[[f64; 6]],
    limits: &NormValidation,
) -> Result<([f64; 6], f64), Rejection> {
    let mut worst: Option<(usize, usize, f64)> = None;
    for (layer, row) in norms.iter().enumerate() {
        for (proj, &norm) in row.iter().enumerate() {
            if norm.is_nan() || norm > limits.hard {
                let bigger = worst.is_none_or(|(_, _, w)| norm > w || norm.is_nan());
                if bigger {
                    worst = Some((layer, proj, norm));
                }
            }
        }
    }
    if let Some((layer, proj, norm)) = worst {
        return Err(Rejection::NormAboveHard {
            tensor: format!("model.layers.{layer}.{}.weight", PROJECTIONS[proj]),
            norm,
            limit: limits.hard,
        });
    }
    let mut fractions = [0f64; 6];
    if !norms.is_empty() {
        for (proj, fraction) in fractions.iter_mut().enumerate() {
            let above = norms.iter().filter(|row| row[proj] > limits.soft).count();
            *fraction = above as f64 / norms.len() as f64;
        }
    }
    let mean = fractions.iter().sum::<f64>() / 6.0;
    if mean > limits.soft_fraction {
        return Err(Rejection::TooManyLargeNorms {
            fraction: mean,
            soft: limits.soft,
            limit: limits.soft_fraction,
        });
    }
    Ok((fractions, mean))
}

/// Convenience for callers holding the folder path: reads the headers, then validates.
pub fn validate_folder(dir: &Path, limits: &NormValidation) -> Result<NormReport, Rejection> {
    let inspection = super::inspect(dir)?;
    validate_weights(&inspection.weight_files, &inspection.config, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> NormValidation {
        NormValidation {
            hard: 1000.0,
            soft: 200.0,
            soft_fraction: 0.15,
        }
    }

    fn config(arch: &str) -> ModelConfig {
        ModelConfig::from_json_str(&format!(
            r#"{{"architectures":["{arch}"],"vocab_size":32,"hidden_size":8,"intermediate_size":6,
            "num_hidden_layers":4,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":4,
            "max_position_embeddings":64}}"#
        ))
        .unwrap()
    }

    fn whole(layer: usize, projection: usize) -> Vec<Part> {
        vec![Part {
            layer,
            projection,
            rows: None,
        }]
    }

    #[test]
    fn names_map_to_projections() {
        let llama = config("LlamaForCausalLM");
        let of = |name| projection_parts(name, &llama);
        assert_eq!(of("model.layers.3.self_attn.k_proj.weight"), whole(3, 1));
        assert_eq!(of("model.layers.0.mlp.down_proj.weight"), whole(0, 5));
        assert!(of("model.layers.0.mlp.gate_proj.weight").is_empty());
        assert!(of("model.layers.0.self_attn.q_proj.bias").is_empty());
        // Gemma 2's extra norms are not projections.
        let gemma2 = config("Gemma2ForCausalLM");
        assert!(
            projection_parts("model.layers.0.pre_feedforward_layernorm.weight", &gemma2).is_empty()
        );
        assert_eq!(
            projection_parts("model.layers.1.mlp.up_proj.weight", &gemma2),
            whole(1, 4)
        );
    }

    #[test]
    fn phi3_fused_tensors_split_into_q_k_v_and_up() {
        let phi3 = config("Phi3ForCausalLM");
        let parts = projection_parts("model.layers.2.self_attn.qkv_proj.weight", &phi3);
        let rows: Vec<(usize, Option<(u64, u64)>)> =
            parts.iter().map(|p| (p.projection, p.rows)).collect();
        // q: 2 heads × 4 rows, k and v: 1 head × 4 rows each.
        assert_eq!(
            rows,
            vec![(0, Some((0, 8))), (1, Some((8, 12))), (2, Some((12, 16)))]
        );
        let up = projection_parts("model.layers.2.mlp.gate_up_proj.weight", &phi3);
        assert_eq!(up.len(), 1);
        assert_eq!((up[0].projection, up[0].rows), (4, Some((6, 12))));
        assert_eq!(
            projection_parts("model.layers.0.self_attn.o_proj.weight", &phi3),
            whole(0, 3)
        );
    }

    #[test]
    fn row_block_sums_are_exact() {
        use std::io::Write;
        // A [4, 2] f32 tensor with rows (1,1), (2,2), (3,3), (4,4).
        let values: Vec<f32> = vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0];
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        for v in &values {
            tmp.write_all(&v.to_le_bytes()).unwrap();
        }
        let t = StTensor {
            name: "w".into(),
            dtype: StDtype::F32,
            shape: vec![4, 2],
            n_elements: 8,
            offset: 0,
            n_bytes: 32,
        };
        let mut file = BufReader::new(File::open(tmp.path()).unwrap());
        let sums = sum_of_squares(&mut file, &t, &[(0, 1), (1, 3), (3, 4)])
            .unwrap()
            .unwrap();
        assert_eq!(sums, vec![60.0, 2.0, 26.0, 32.0]);
    }

    #[test]
    fn hard_limit_and_nan_reject() {
        let mut norms = vec![[10.0; 6]; 4];
        assert!(judge_norms(&norms, &limits()).is_ok());
        norms[2][4] = 1000.5;
        let err = judge_norms(&norms, &limits()).unwrap_err();
        assert_eq!(
            err,
            Rejection::NormAboveHard {
                tensor: "model.layers.2.mlp.up_proj.weight".into(),
                norm: 1000.5,
                limit: 1000.0
            }
        );
        norms[2][4] = f64::NAN;
        assert_eq!(
            judge_norms(&norms, &limits()).unwrap_err().code(),
            "norm_above_hard"
        );
    }

    #[test]
    fn soft_fraction_is_a_mean_over_projections() {
        // 10 layers; q above soft in 6 layers, v in 3: mean = (0.6 + 0.3) / 6 = 0.15 → accepted.
        let mut norms = vec![[10.0; 6]; 10];
        (0..6).for_each(|l| norms[l][0] = 300.0);
        (0..3).for_each(|l| norms[l][2] = 300.0);
        let (fractions, mean) = judge_norms(&norms, &limits()).unwrap();
        assert_eq!(fractions[0], 0.6);
        assert!((mean - 0.15).abs() < 1e-12);
        norms[3][2] = 300.0; // one more → 0.1667 > 0.15
        assert_eq!(
            judge_norms(&norms, &limits()).unwrap_err().code(),
            "too_many_large_norms"
        );
    }

    // The hand-computed cases below were the tests of arena-core's `NormValidation::check`, a
    // second implementation of this rule that had no caller; they now test the one rule.
    #[test]
    fn hard_limit_is_inclusive_and_nan_rejects() {
        let n = NormValidation::default();
        let ok = [[10.0; 6]; 4];
        assert!(judge_norms(&ok, &n).is_ok());
        assert!(judge_norms(&[], &n).is_ok());
        let mut bad = ok;
        bad[2][5] = 1000.5;
        let err = judge_norms(&bad, &n).unwrap_err();
        assert!(
            matches!(err, Rejection::NormAboveHard { ref tensor, .. } if tensor == "model.layers.2.mlp.down_proj.weight")
        );
        bad[2][5] = 1000.0; // at the limit: allowed
        assert!(judge_norms(&bad, &n).is_ok());
        bad[0][0] = f64::NAN;
        assert!(matches!(
            judge_norms(&bad, &n),
            Err(Rejection::NormAboveHard { ref tensor, .. }) if tensor == "model.layers.0.self_attn.q_proj.weight"
        ));
    }

    #[test]
    fn soft_fraction_hand_computed() {
        let n = NormValidation::default();
        // 2 layers × 6 projections = 12 norms; 1 above 200 → 1/12 = 0.083 ≤ 0.15.
        let mut layers = [[10.0; 6]; 2];
        layers[0][0] = 250.0;
        assert!(judge_norms(&layers, &n).is_ok());
        // 2 above → 2/12 = 0.1667 > 0.15.
        layers[1][3] = 999.0;
        match judge_norms(&layers, &n).unwrap_err() {
            Rejection::TooManyLargeNorms { fraction, .. } => {
                assert!((fraction - 2.0 / 12.0).abs() < 1e-15)
            }
            other => panic!("{other}"),
        }
        // Exactly at 200 does not count as above.
        layers[1][3] = 200.0;
        assert!(judge_norms(&layers, &n).is_ok());
    }
}
