//! Low-rank adapters (LoRA) on the attention and MLP projections.
//!
//! A projection `y = x·Wᵀ` becomes `y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ` with `A: [r, in]` drawn
//! kaiming-uniform (bound `1/√in`, as PEFT does) from a seed and `B: [out, r]` zero, so the
//! adapted model starts exactly equal to the base. Only `A` and `B` are trained; the base
//! weights are frozen (read as detached tensors through a product that computes the gradient of
//! its input only, so no weight gradient is computed for them). When the
//! model is saved, `W + (α/r)·B·A` is written under the base name: the folder is a plain
//! checkpoint that any loader reads without knowing about adapters.

use arena_model::tensor::{Device, Tensor, Var};

use arena_model::{ModelError, Result};

/// The projections LoRA can adapt, by their name inside a decoder layer.
pub const LORA_TARGETS: [&str; 7] = [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
];

/// How to adapt a model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraConfig {
    /// Rank `r` of each adapter.
    pub rank: usize,
    /// Scale numerator: the update is multiplied by `alpha / rank`.
    pub alpha: f64,
    /// Projections adapted in every layer (names from [`LORA_TARGETS`]).
    pub targets: Vec<String>,
    /// Seed of the `A` initialisation.
    pub seed: u64,
}

impl LoraConfig {
    /// Rank `rank`, `alpha`, every projection of [`LORA_TARGETS`].
    pub fn all_projections(rank: usize, alpha: f64, seed: u64) -> LoraConfig {
        LoraConfig {
            rank,
            alpha,
            targets: LORA_TARGETS.iter().map(|s| s.to_string()).collect(),
            seed,
        }
    }

    /// Refuses a zero rank, a non-finite alpha and unknown target names.
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(ModelError::Config("LoRA rank must be at least 1".into()));
        }
        if !self.alpha.is_finite() || self.alpha <= 0.0 {
            return Err(ModelError::Config(format!(
                "LoRA alpha must be a positive number, got {}",
                self.alpha
            )));
        }
        if self.targets.is_empty() {
            return Err(ModelError::Config("LoRA needs at least one target".into()));
        }
        for t in &self.targets {
            if !LORA_TARGETS.contains(&t.as_str()) {
                return Err(ModelError::Config(format!(
                    "unknown LoRA target {t:?}; known: {}",
                    LORA_TARGETS.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The factor `alpha / rank` applied to `B·A`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// The two trainable factors of one adapted projection.
pub struct Adapter {
    /// Down projection `[rank, in]`.
    pub a: Var,
    /// Up projection `[out, rank]`, zero at the start.
    pub b: Var,
}

impl Adapter {
    /// A fresh adapter for a `[out, in]` weight; `stream` separates the draws of different
    /// projections under one seed.
    pub fn new(
        out: usize,
        inp: usize,
        rank: usize,
        seed: u64,
        stream: u64,
        device: &Device,
    ) -> Result<Adapter> {
        let bound = 1.0 / (inp as f32).sqrt();
        let mut state = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let values: Vec<f32> = (0..rank * inp)
            .map(|_| {
                state = splitmix(state);
                let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
                (2.0 * unit - 1.0) * bound
            })
            .collect();
        Ok(Adapter {
            a: Var::from_tensor(&Tensor::from_vec(values, (rank, inp), device)?)?,
            b: Var::zeros((out, rank), arena_model::tensor::DType::F32, device)?,
        })
    }

    /// `scale · B·A`, the update this adapter adds to its base weight.
    pub fn delta(&self, scale: f64) -> Result<Tensor> {
        Ok((self.b.as_tensor().matmul(self.a.as_tensor())? * scale)?)
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_adapter_adds_nothing_and_its_a_is_bounded_and_seeded() {
        let dev = Device::Cpu;
        let ad = Adapter::new(6, 16, 4, 9, 1, &dev).unwrap();
        let delta = ad.delta(2.0).unwrap();
        assert_eq!(delta.dims(), &[6, 16]);
        let zero: f32 = delta.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert_eq!(zero, 0.0);
        let a =
            ad.a.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
        assert!(a.iter().all(|v| v.abs() <= 0.25) && a.iter().any(|v| v.abs() > 0.1));
        let same = Adapter::new(6, 16, 4, 9, 1, &dev).unwrap();
        let other = Adapter::new(6, 16, 4, 9, 2, &dev).unwrap();
        let flat = |x: &Adapter| {
            x.a.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(flat(&same), a);
        assert_ne!(flat(&other), a);
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let mut c = LoraConfig::all_projections(0, 16.0, 0);
        assert!(c.validate().unwrap_err().to_string().contains("rank"));
        c.rank = 4;
        c.targets = vec!["self_attn.x_proj".into()];
        assert!(c.validate().unwrap_err().to_string().contains("x_proj"));
        assert!((LoraConfig::all_projections(8, 16.0, 0).scale() - 2.0).abs() < 1e-12);
    }
}
