//! `arena bench make-model`: a Llama-shaped model with seeded random weights, at a real size,
//! for the benchmarks (loading, peak memory and speed of multi-billion-parameter checkpoints)
//! without downloading one. The safetensors file is written tensor by tensor, so making a
//! 1.1B-parameter model needs about one tensor of memory.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use safetensors::tensor::{Dtype, View};
use serde_json::json;

/// Flags of `arena bench make-model`.
#[derive(clap::Args, Debug)]
pub struct MakeModelArgs {
    /// Folder to write (config.json, model.safetensors, the tokenizer files).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder whose tokenizer.json, tokenizer_config.json and special_tokens_map.json are copied
    /// (its vocabulary must not exceed the model's).
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// Shape: `tinyllama-1.1b` (TinyLlama-1.1B: 22 layers, hidden 2048, MLP 5632, 32 heads,
    /// 4 kv heads, vocab 32000) or `smol-135m` (SmolLM2-135M's shape, tied head).
    #[arg(long, default_value = "tinyllama-1.1b")]
    pub shape: String,
    /// Storage dtype: bf16, f16 or f32.
    #[arg(long, default_value = "bf16")]
    pub dtype: String,
    /// Seed of the weights (logged in config.json's `arena_seed`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

struct Shape {
    vocab: usize,
    hidden: usize,
    inter: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    max_pos: usize,
    tied: bool,
}

fn shape(name: &str) -> anyhow::Result<Shape> {
    Ok(match name {
        "tinyllama-1.1b" => Shape {
            vocab: 32000,
            hidden: 2048,
            inter: 5632,
            layers: 22,
            heads: 32,
            kv_heads: 4,
            max_pos: 2048,
            tied: false,
        },
        "smol-135m" => Shape {
            vocab: 49152,
            hidden: 576,
            inter: 1536,
            layers: 30,
            heads: 9,
            kv_heads: 3,
            max_pos: 8192,
            tied: true,
        },
        other => bail!("unknown shape {other:?} (tinyllama-1.1b, smol-135m)"),
    })
}

/// One tensor, generated when the writer asks for its bytes.
struct Lazy {
    shape: Vec<usize>,
    dtype: Dtype,
    /// Normal(mean, std) entries from this seed.
    seed: u64,
    mean: f32,
    std: f32,
}

impl Lazy {
    fn values(&self) -> impl Iterator<Item = f32> + '_ {
        let n: usize = self.shape.iter().product();
        let mut state = self.seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n).map(move |_| {
            // Box–Muller: one normal per pair of uniforms.
            let u1 = next().max(f64::MIN_POSITIVE);
            let u2 = next();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            self.mean + self.std * z as f32
        })
    }
}

impl View for &Lazy {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        let mut out = Vec::with_capacity(self.data_len());
        match self.dtype {
            Dtype::BF16 => self
                .values()
                .for_each(|v| out.extend_from_slice(&half::bf16::from_f32(v).to_le_bytes())),
            Dtype::F16 => self
                .values()
                .for_each(|v| out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes())),
            _ => self
                .values()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        }
        Cow::Owned(out)
    }
    fn data_len(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.bitsize() / 8
    }
}

/// Writes the model folder.
pub fn run(args: MakeModelArgs) -> anyhow::Result<()> {
    let s = shape(&args.shape)?;
    let (dtype, dtype_name) = match args.dtype.as_str() {
        "bf16" | "bfloat16" => (Dtype::BF16, "bfloat16"),
        "f16" | "float16" => (Dtype::F16, "float16"),
        "f32" | "float32" => (Dtype::F32, "float32"),
        other => bail!("--dtype {other:?} is not bf16, f16 or f32"),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let head_dim = s.hidden / s.heads;
    let (q, kv) = (s.heads * head_dim, s.kv_heads * head_dim);
    let mut names: Vec<(String, Vec<usize>, f32, f32)> = vec![(
        "model.embed_tokens.weight".into(),
        vec![s.vocab, s.hidden],
        0.0,
        0.02,
    )];
    for i in 0..s.layers {
        let p = format!("model.layers.{i}");
        names.push((
            format!("{p}.input_layernorm.weight"),
            vec![s.hidden],
            1.0,
            0.02,
        ));
        names.push((
            format!("{p}.post_attention_layernorm.weight"),
            vec![s.hidden],
            1.0,
            0.02,
        ));
        for (name, rows, cols) in [
            ("self_attn.q_proj", q, s.hidden),
            ("self_attn.k_proj", kv, s.hidden),
            ("self_attn.v_proj", kv, s.hidden),
            ("self_attn.o_proj", s.hidden, q),
            ("mlp.gate_proj", s.inter, s.hidden),
            ("mlp.up_proj", s.inter, s.hidden),
            ("mlp.down_proj", s.hidden, s.inter),
        ] {
            names.push((format!("{p}.{name}.weight"), vec![rows, cols], 0.0, 0.02));
        }
    }
    names.push(("model.norm.weight".into(), vec![s.hidden], 1.0, 0.02));
    if !s.tied {
        names.push(("lm_head.weight".into(), vec![s.vocab, s.hidden], 0.0, 0.02));
    }
    let tensors: Vec<(String, Lazy)> = names
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape, mean, std))| {
            let seed = args.seed.wrapping_mul(0x1000_0000).wrapping_add(i as u64);
            (
                name,
                Lazy {
                    shape,
                    dtype,
                    seed,
                    mean,
                    std,
                },
            )
        })
        .collect();
    let params: usize = tensors
        .iter()
        .map(|(_, t)| t.shape.iter().product::<usize>())
        .sum();
    let path = args.out.join("model.safetensors");
    safetensors::serialize_to_file(tensors.iter().map(|(n, t)| (n.as_str(), t)), None, &path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let config = json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": s.vocab, "hidden_size": s.hidden, "intermediate_size": s.inter,
        "num_hidden_layers": s.layers, "num_attention_heads": s.heads,
        "num_key_value_heads": s.kv_heads, "max_position_embeddings": s.max_pos,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": null,
        "hidden_act": "silu", "tie_word_embeddings": s.tied, "torch_dtype": dtype_name,
        "bos_token_id": 0, "eos_token_id": 0, "arena_seed": args.seed,
    });
    std::fs::write(
        args.out.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    copy_tokenizer(&args.tokenizer, &args.out)?;
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "wrote {} ({} parameters, {} shape, {dtype_name}, seed {}, {:.2} GB)",
        args.out.display(),
        params,
        args.shape,
        args.seed,
        bytes as f64 / 1e9
    );
    Ok(())
}

fn copy_tokenizer(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut copied = 0;
    for name in [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        let src = from.join(name);
        if src.is_file() {
            std::fs::copy(&src, to.join(name))
                .with_context(|| format!("cannot copy {}", src.display()))?;
            copied += 1;
        }
    }
    if copied == 0 || !to.join("tokenizer.json").is_file() {
        bail!("{} has no tokenizer.json", from.display());
    }
    Ok(())
}
