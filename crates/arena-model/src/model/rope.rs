//! Rotary position embedding: the inverse frequencies and cos/sin tables of every rope type
//! config.json can ask for ([`RopeScaling`]), for the evaluation engine and the trainer alike.
//!
//! The arithmetic follows transformers 5.23's `modeling_rope_utils` operation by operation in
//! f32, as torch runs it on float32 tensors: `1.0 / t` is `reciprocal(t)`, a Python scalar
//! meeting an f32 tensor is rounded to f32 first, and only the scalar-only parts (yarn's
//! correction range and attention factor) are computed in f64. Dynamic NTK and LongRoPE depend
//! on the length of the forward pass (`seq_len` = last position + 1), as transformers'
//! `dynamic_rope_update` does when each forward starts from the freshly loaded model.

use std::f64::consts::PI;

use candle_core::{Device, Tensor};

use crate::config::{ModelConfig, RopeScaling};
use crate::error::Result;

/// The rope of one model: its head dimension, base, scaling and training length.
#[derive(Debug, Clone)]
pub struct Rope {
    dim: usize,
    theta: f64,
    scaling: RopeScaling,
    max_position_embeddings: usize,
    /// Frequencies of passes that do not depend on the length (and of short passes otherwise).
    base: Vec<f32>,
    /// Multiplier of cos and sin.
    attention_factor: f32,
}

/// `1 / θ^(2i/d)` for i < d/2, as f32.
fn default_inv_freq(theta: f64, dim: usize) -> Vec<f32> {
    pow_freqs(theta as f32, dim)
        .into_iter()
        .map(|p| 1.0 / p)
        .collect()
}

/// `base^(2i/d)` for i < d/2 (`base ** (arange(0, d, 2).float() / d)`).
fn pow_freqs(base: f32, dim: usize) -> Vec<f32> {
    (0..dim / 2)
        .map(|i| base.powf((2 * i) as f32 / dim as f32))
        .collect()
}

impl Rope {
    /// The rope described by `config`.
    pub fn new(config: &ModelConfig) -> Rope {
        let dim = config.head_dim;
        let theta = config.rope_theta;
        let (base, attention_factor) = match &config.rope_scaling {
            RopeScaling::Default | RopeScaling::Dynamic { .. } => {
                (default_inv_freq(theta, dim), 1.0)
            }
            RopeScaling::Linear { factor } => (
                default_inv_freq(theta, dim)
                    .into_iter()
                    .map(|f| f / *factor as f32)
                    .collect(),
                1.0,
            ),
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } => (
                llama3(
                    default_inv_freq(theta, dim),
                    *factor,
                    *low_freq_factor,
                    *high_freq_factor,
                    *original_max_position_embeddings as f64,
                ),
                1.0,
            ),
            RopeScaling::Yarn { .. } => yarn(theta, dim, &config.rope_scaling),
            RopeScaling::LongRope {
                short_factor,
                attention_factor,
                ..
            } => (longrope(theta, dim, short_factor), *attention_factor as f32),
        };
        Rope {
            dim,
            theta,
            scaling: config.rope_scaling.clone(),
            max_position_embeddings: config.max_position_embeddings,
            base,
            attention_factor,
        }
    }

    /// The inverse frequencies (`head_dim / 2` values) of a forward pass over positions
    /// `0..seq_len`, and the factor cos and sin are multiplied by.
    pub fn inv_freq(&self, seq_len: usize) -> (Vec<f32>, f32) {
        match &self.scaling {
            RopeScaling::Dynamic { factor } if seq_len > self.max_position_embeddings => {
                // On the forward path transformers computes the new base on 0-dim float32
                // tensors: every step below is an f32 operation.
                let factor = *factor;
                let scaled = (factor as f32 * seq_len as f32) / self.max_position_embeddings as f32
                    - (factor - 1.0) as f32;
                let exponent = (self.dim as f64 / (self.dim as f64 - 2.0)) as f32;
                let base = self.theta as f32 * scaled.powf(exponent);
                (
                    pow_freqs(base, self.dim)
                        .into_iter()
                        .map(|p| 1.0 / p)
                        .collect(),
                    1.0,
                )
            }
            RopeScaling::LongRope {
                long_factor,
                original_max_position_embeddings,
                ..
            } if seq_len > *original_max_position_embeddings => (
                longrope(self.theta, self.dim, long_factor),
                self.attention_factor,
            ),
            _ => (self.base.clone(), self.attention_factor),
        }
    }

    /// cos and sin tables `[len, head_dim/2]` for positions `start..start+len` of a pass whose
    /// last position is `start + len - 1`, already multiplied by the attention factor.
    pub fn tables(&self, start: usize, len: usize, device: &Device) -> Result<(Tensor, Tensor)> {
        let (inv_freq, scale) = self.inv_freq(start + len);
        let half = inv_freq.len();
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for pos in start..start + len {
            for &f in &inv_freq {
                let angle = pos as f32 * f;
                if scale == 1.0 {
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                } else {
                    cos.push(angle.cos() * scale);
                    sin.push(angle.sin() * scale);
                }
            }
        }
        Ok((
            Tensor::from_vec(cos, (len, half), device)?,
            Tensor::from_vec(sin, (len, half), device)?,
        ))
    }
}

/// transformers' `_compute_llama3_parameters` on f32 tensors.
fn llama3(inv_freq: Vec<f32>, factor: f64, low: f64, high: f64, original: f64) -> Vec<f32> {
    let low_wavelen = (original / low) as f32;
    let high_wavelen = (original / high) as f32;
    let factor = factor as f32;
    inv_freq
        .into_iter()
        .map(|f| {
            // `2 * math.pi / inv_freq` is `reciprocal(inv_freq) * 2π`.
            let wavelen = (1.0 / f) * (2.0 * PI) as f32;
            let scaled = if wavelen > low_wavelen { f / factor } else { f };
            // transformers' `~(wavelen < high) * ~(wavelen > low)`; wavelengths are never NaN.
            let medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
            if medium {
                let smooth = ((1.0 / wavelen) * original as f32 - low as f32) / (high - low) as f32;
                (1.0 - smooth) * scaled / factor + smooth * scaled
            } else {
                scaled
            }
        })
        .collect()
}

/// transformers' `_compute_yarn_parameters`: (inverse frequencies, attention factor).
fn yarn(theta: f64, dim: usize, scaling: &RopeScaling) -> (Vec<f32>, f32) {
    let RopeScaling::Yarn {
        factor,
        original_max_position_embeddings,
        beta_fast,
        beta_slow,
        attention_factor,
        mscale,
        mscale_all_dim,
        truncate,
    } = scaling
    else {
        return (default_inv_freq(theta, dim), 1.0);
    };
    let factor = *factor;
    let get_mscale = |scale: f64, m: f64| {
        if scale <= 1.0 {
            1.0
        } else {
            0.1 * m * scale.ln() + 1.0
        }
    };
    let attention = match (attention_factor, mscale, mscale_all_dim) {
        (Some(a), _, _) => *a,
        (None, Some(m), Some(all)) if *m != 0.0 && *all != 0.0 => {
            get_mscale(factor, *m) / get_mscale(factor, *all)
        }
        _ => get_mscale(factor, 1.0),
    };
    let original = *original_max_position_embeddings as f64;
    let correction_dim = |rotations: f64| {
        (dim as f64 * (original / (rotations * 2.0 * PI)).ln()) / (2.0 * theta.ln())
    };
    let (mut low, mut high) = (correction_dim(*beta_fast), correction_dim(*beta_slow));
    if *truncate {
        low = low.floor();
        high = high.ceil();
    }
    let low = low.max(0.0);
    let mut high = high.min(dim as f64 - 1.0);
    if low == high {
        high += 0.001;
    }
    let pos_freqs = pow_freqs(theta as f32, dim);
    let inv = pos_freqs
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let extrapolation = 1.0 / p;
            let interpolation = 1.0 / (factor as f32 * p);
            let ramp = ((i as f32 - low as f32) / (high - low) as f32).clamp(0.0, 1.0);
            let extrapolation_factor = 1.0 - ramp;
            interpolation * (1.0 - extrapolation_factor) + extrapolation * extrapolation_factor
        })
        .collect();
    (inv, attention as f32)
}

/// transformers' `_compute_longrope_parameters`: `1 / (ext_factor · θ^(2i/d))`.
fn longrope(theta: f64, dim: usize, factors: &[f64]) -> Vec<f32> {
    pow_freqs(theta as f32, dim)
        .into_iter()
        .zip(factors)
        .map(|(p, &f)| 1.0 / (f as f32 * p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rope: &str, max: usize) -> ModelConfig {
        ModelConfig::from_json_str(&format!(
            r#"{{"architectures":["LlamaForCausalLM"],"vocab_size":32,"hidden_size":64,
            "intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":4,
            "max_position_embeddings":{max},"rope_theta":10000.0,"rope_scaling":{rope}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn default_and_linear_frequencies() {
        let plain = Rope::new(&config("null", 512)).inv_freq(10).0;
        assert_eq!(plain.len(), 8);
        assert_eq!(plain[0], 1.0);
        assert!((plain[4] - 0.01).abs() < 1e-9);
        let linear = Rope::new(&config(r#"{"type":"linear","factor":4.0}"#, 512));
        let (inv, scale) = linear.inv_freq(10);
        assert_eq!(scale, 1.0);
        for (a, b) in inv.iter().zip(&plain) {
            assert_eq!(*a, b / 4.0);
        }
    }

    #[test]
    fn dynamic_changes_only_past_the_training_length() {
        let rope = Rope::new(&config(r#"{"type":"dynamic","factor":2.0}"#, 64));
        let plain = Rope::new(&config("null", 64)).inv_freq(10).0;
        assert_eq!(rope.inv_freq(64).0, plain);
        let long = rope.inv_freq(128).0;
        assert_eq!(long[0], 1.0);
        assert!(long[1] < plain[1], "a larger base lowers the frequencies");
    }

    #[test]
    fn llama3_keeps_high_frequencies_and_divides_low_ones() {
        let rope = Rope::new(&config(
            r#"{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
            "original_max_position_embeddings":64}"#,
            512,
        ));
        let plain = Rope::new(&config("null", 512)).inv_freq(10).0;
        let inv = rope.inv_freq(10).0;
        assert_eq!(inv[0], plain[0]); // wavelength 6.3 < 16: kept
        assert_eq!(inv[7], plain[7] / 8.0); // wavelength > 64: divided
        assert!(inv[1] < plain[1] && inv[1] > plain[1] / 8.0); // in between: blended
    }

    #[test]
    fn yarn_scales_cos_and_sin() {
        let rope = Rope::new(&config(
            r#"{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":128}"#,
            512,
        ));
        let (inv, scale) = rope.inv_freq(10);
        assert!((scale as f64 - (0.1 * 4f64.ln() + 1.0)).abs() < 1e-6);
        assert_eq!(inv[0], 1.0);
        let (cos, _) = rope.tables(0, 2, &Device::Cpu).unwrap();
        let cos = cos.to_vec2::<f32>().unwrap();
        assert_eq!(cos[0][0], scale);
    }
}
