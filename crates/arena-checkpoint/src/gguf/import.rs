//! GGUF → Hugging Face folder: config.json from the metadata, f32 model.safetensors streamed one
//! row at a time (so memory holds one quantised tensor, never the model), tokenizer files.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::{build_tokenizer_files, dequantize_row, GgufError, GgufFile, Meta, TensorInfo};

/// What an import produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// `architectures[0]` written to config.json.
    pub architecture: String,
    /// Tensors written to model.safetensors.
    pub tensors: usize,
    /// Total number of weights written.
    pub parameters: u64,
    /// Size of model.safetensors.
    pub safetensors_bytes: u64,
    /// Whether the output head reuses the embeddings (no `output.weight` in the GGUF).
    pub tie_word_embeddings: bool,
}

/// The model dimensions read from `{arch}.*` metadata.
#[derive(Debug, Clone)]
struct Dims {
    layers: u64,
    hidden: u64,
    intermediate: u64,
    heads: u64,
    kv_heads: u64,
    head_dim: u64,
    vocab: u64,
}

/// How one GGUF architecture maps onto transformers.
struct Family {
    architecture: &'static str,
    model_type: &'static str,
    /// llama.cpp's Llama converter reorders q/k rows for interleaved RoPE; Qwen2's does not.
    permuted_qk: bool,
    /// Whether q/k/v carry biases.
    qkv_bias: bool,
}

fn family(arch: &str) -> Result<Family, GgufError> {
    match arch {
        "llama" => Ok(Family {
            architecture: "LlamaForCausalLM",
            model_type: "llama",
            permuted_qk: true,
            qkv_bias: false,
        }),
        "qwen2" => Ok(Family {
            architecture: "Qwen2ForCausalLM",
            model_type: "qwen2",
            permuted_qk: false,
            qkv_bias: true,
        }),
        other => Err(GgufError::Unsupported(format!(
            "GGUF architecture {other:?} (supported: llama, qwen2)"
        ))),
    }
}

/// One output tensor: its transformers name, source, PyTorch shape, and q/k head count to un-permute.
struct Planned<'a> {
    hf_name: String,
    info: &'a TensorInfo,
    shape: Vec<u64>,
    unpermute_heads: Option<u64>,
}

/// Maps a llama.cpp tensor name to transformers' name and the shape the config implies.
fn map_name(name: &str, d: &Dims) -> Option<(String, Vec<u64>)> {
    let (q_rows, kv_rows) = (d.heads * d.head_dim, d.kv_heads * d.head_dim);
    match name {
        "token_embd.weight" => {
            return Some(("model.embed_tokens.weight".into(), vec![d.vocab, d.hidden]))
        }
        "output_norm.weight" => return Some(("model.norm.weight".into(), vec![d.hidden])),
        "output.weight" => return Some(("lm_head.weight".into(), vec![d.vocab, d.hidden])),
        _ => {}
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, part) = rest.split_once('.')?;
    let layer: u64 = layer.parse().ok().filter(|&l| l < d.layers)?;
    let (hf, shape) = match part {
        "attn_norm.weight" => ("input_layernorm.weight", vec![d.hidden]),
        "ffn_norm.weight" => ("post_attention_layernorm.weight", vec![d.hidden]),
        "attn_q.weight" => ("self_attn.q_proj.weight", vec![q_rows, d.hidden]),
        "attn_k.weight" => ("self_attn.k_proj.weight", vec![kv_rows, d.hidden]),
        "attn_v.weight" => ("self_attn.v_proj.weight", vec![kv_rows, d.hidden]),
        "attn_output.weight" => ("self_attn.o_proj.weight", vec![d.hidden, q_rows]),
        "attn_q.bias" => ("self_attn.q_proj.bias", vec![q_rows]),
        "attn_k.bias" => ("self_attn.k_proj.bias", vec![kv_rows]),
        "attn_v.bias" => ("self_attn.v_proj.bias", vec![kv_rows]),
        "ffn_gate.weight" => ("mlp.gate_proj.weight", vec![d.intermediate, d.hidden]),
        "ffn_up.weight" => ("mlp.up_proj.weight", vec![d.intermediate, d.hidden]),
        "ffn_down.weight" => ("mlp.down_proj.weight", vec![d.hidden, d.intermediate]),
        _ => return None,
    };
    Some((format!("model.layers.{layer}.{hf}"), shape))
}

fn read_dims(gguf: &GgufFile, arch: &str) -> Result<Dims, GgufError> {
    let meta = Meta(gguf.metadata());
    let key = |k: &str| format!("{arch}.{k}");
    let hidden = meta.req_uint(&key("embedding_length"))?;
    let heads = meta.req_uint(&key("attention.head_count"))?;
    let kv_heads = meta.uint(&key("attention.head_count_kv"))?.unwrap_or(heads);
    if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
        return Err(GgufError::Unsupported(format!(
            "{heads} attention heads with {kv_heads} key/value heads"
        )));
    }
    let head_dim = meta
        .uint(&key("attention.key_length"))?
        .unwrap_or(hidden / heads);
    if let Some(rot) = meta.uint(&key("rope.dimension_count"))? {
        if rot != head_dim {
            return Err(GgufError::Unsupported(format!(
                "partial rotary embedding ({rot} of {head_dim})"
            )));
        }
    }
    if let Some(kind) = meta.str(&key("rope.scaling.type"))? {
        if kind != "none" {
            return Err(GgufError::Unsupported(format!("rope scaling {kind:?}")));
        }
    }
    let embd = gguf
        .tensor("token_embd.weight")
        .ok_or_else(|| GgufError::Unsupported("no token_embd.weight tensor".into()))?;
    let vocab = embd.torch_shape()[0];
    Ok(Dims {
        layers: meta.req_uint(&key("block_count"))?,
        hidden,
        intermediate: meta.req_uint(&key("feed_forward_length"))?,
        heads,
        kv_heads,
        head_dim,
        vocab,
    })
}

fn plan<'a>(gguf: &'a GgufFile, d: &Dims, fam: &Family) -> Result<Vec<Planned<'a>>, GgufError> {
    let mut planned = Vec::with_capacity(gguf.header.tensors.len());
    for info in &gguf.header.tensors {
        let (hf_name, shape) = map_name(&info.name, d).ok_or_else(|| {
            GgufError::Unsupported(format!(
                "tensor {:?} has no Hugging Face counterpart",
                info.name
            ))
        })?;
        if info.torch_shape() != shape {
            return Err(GgufError::BadTensor {
                name: info.name.clone(),
                reason: format!(
                    "shape {:?} disagrees with the metadata ({shape:?})",
                    info.torch_shape()
                ),
            });
        }
        if !info.ggml_type.can_dequantize() {
            return Err(GgufError::Unsupported(format!(
                "{:?} tensors ({})",
                info.ggml_type, info.name
            )));
        }
        let unpermute_heads = match info.name.split('.').nth(2) {
            Some("attn_q") if fam.permuted_qk => Some(d.heads),
            Some("attn_k") if fam.permuted_qk => Some(d.kv_heads),
            _ => None,
        };
        planned.push(Planned {
            hf_name,
            info,
            shape,
            unpermute_heads,
        });
    }
    planned.sort_by(|a, b| a.hf_name.cmp(&b.hf_name));
    let mut required = vec![
        "model.embed_tokens.weight".to_string(),
        "model.norm.weight".to_string(),
    ];
    for layer in 0..d.layers {
        let mut parts = vec![
            "input_layernorm.weight",
            "post_attention_layernorm.weight",
            "self_attn.q_proj.weight",
            "self_attn.k_proj.weight",
            "self_attn.v_proj.weight",
            "self_attn.o_proj.weight",
            "mlp.gate_proj.weight",
            "mlp.up_proj.weight",
            "mlp.down_proj.weight",
        ];
        if fam.qkv_bias {
            parts.extend([
                "self_attn.q_proj.bias",
                "self_attn.k_proj.bias",
                "self_attn.v_proj.bias",
            ]);
        }
        required.extend(
            parts
                .iter()
                .map(|part| format!("model.layers.{layer}.{part}")),
        );
    }
    for name in required {
        if planned
            .binary_search_by(|p| p.hf_name.as_str().cmp(&name))
            .is_err()
        {
            return Err(GgufError::Unsupported(format!(
                "the GGUF has no tensor for {name}"
            )));
        }
    }
    Ok(planned)
}

/// The source row of output row `row` when un-permuting llama.cpp's q/k layout: within each
/// head the GGUF stores rows as (i, half) pairs, transformers as (half, i).
fn source_row(row: u64, heads: u64, rows: u64) -> u64 {
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let (head, within) = (row / head_dim, row % head_dim);
    let (part, i) = (within / half, within % half);
    head * head_dim + i * 2 + part
}

/// Writes config.json, generation_config.json, tokenizer.json, tokenizer_config.json and
/// model.safetensors for the GGUF at `gguf_path` into `out_dir` (created if absent).
pub fn import_gguf(gguf_path: &Path, out_dir: &Path) -> Result<ImportReport, GgufError> {
    let gguf = GgufFile::open(gguf_path)?;
    let meta = Meta(gguf.metadata());
    let arch = meta
        .str("general.architecture")?
        .ok_or_else(|| Meta::missing("general.architecture", "missing"))?;
    let fam = family(arch)?;
    let d = read_dims(&gguf, arch)?;
    let planned = plan(&gguf, &d, &fam)?;
    let tied = gguf.tensor("output.weight").is_none();
    let tokenizer = build_tokenizer_files(gguf.metadata(), d.vocab)?;

    std::fs::create_dir_all(out_dir).map_err(|e| GgufError::io(out_dir, e))?;
    let mut config = json!({
        "architectures": [fam.architecture],
        "model_type": fam.model_type,
        "vocab_size": d.vocab,
        "hidden_size": d.hidden,
        "intermediate_size": d.intermediate,
        "num_hidden_layers": d.layers,
        "num_attention_heads": d.heads,
        "num_key_value_heads": d.kv_heads,
        "head_dim": d.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": meta.req_uint(&format!("{arch}.context_length"))?,
        "rms_norm_eps": meta.float(&format!("{arch}.attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-6),
        "rope_theta": meta.float(&format!("{arch}.rope.freq_base"))?.unwrap_or(10_000.0),
        "rope_scaling": null,
        "tie_word_embeddings": tied,
        "torch_dtype": "float32",
        "attention_bias": false,
        "mlp_bias": false,
    });
    config["rope_parameters"] = json!({"rope_theta": config["rope_theta"], "rope_type": "default"});
    let mut generation = Map::new();
    for (hf_key, gguf_key) in [
        ("bos_token_id", "tokenizer.ggml.bos_token_id"),
        ("eos_token_id", "tokenizer.ggml.eos_token_id"),
        ("pad_token_id", "tokenizer.ggml.padding_token_id"),
    ] {
        if let Some(id) = meta.uint(gguf_key)? {
            config[hf_key] = json!(id);
            generation.insert(hf_key.to_string(), json!(id));
        }
    }
    write_json(&out_dir.join("config.json"), &config)?;
    write_json(
        &out_dir.join("generation_config.json"),
        &Value::Object(generation),
    )?;
    write_json(&out_dir.join("tokenizer.json"), &tokenizer.tokenizer_json)?;
    write_json(
        &out_dir.join("tokenizer_config.json"),
        &tokenizer.tokenizer_config,
    )?;
    let (parameters, safetensors_bytes) =
        write_safetensors(&gguf, &planned, &out_dir.join("model.safetensors"))?;
    tracing::info!(gguf = %gguf_path.display(), out = %out_dir.display(), tensors = planned.len(), parameters, "imported GGUF");
    Ok(ImportReport {
        architecture: fam.architecture.to_string(),
        tensors: planned.len(),
        parameters,
        safetensors_bytes,
        tie_word_embeddings: tied,
    })
}

fn write_json(path: &Path, value: &Value) -> Result<(), GgufError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| GgufError::BadValue(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| GgufError::io(path, e))
}

/// Streams the dequantised tensors into `path` (through `arena_fs::write_atomic_with`: a
/// temporary sibling, fsynced, renamed into place).
/// Returns (parameters, file size).
fn write_safetensors(
    gguf: &GgufFile,
    planned: &[Planned],
    path: &Path,
) -> Result<(u64, u64), GgufError> {
    let mut header = Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0u64;
    for p in planned {
        let end = offset + p.info.n_elements * 4;
        header.insert(
            p.hf_name.clone(),
            json!({"dtype": "F32", "shape": p.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut header_bytes = serde_json::to_vec(&Value::Object(header))
        .map_err(|e| GgufError::BadValue(e.to_string()))?;
    while header_bytes.len() % 8 != 0 {
        header_bytes.push(b' ');
    }
    // A tensor that cannot be converted stops the write; its error is kept here, since the
    // writer callback can only return an I/O error.
    let mut tensor_error = None;
    let written = arena_fs::write_atomic_with(path, |out| {
        out.write_all(&(header_bytes.len() as u64).to_le_bytes())?;
        out.write_all(&header_bytes)?;
        for p in planned {
            match write_tensor(gguf, p, out) {
                Ok(()) => {}
                Err(TensorWriteError::Io(e)) => return Err(e),
                Err(TensorWriteError::Gguf(g)) => {
                    tensor_error = Some(g);
                    return Err(std::io::Error::other("tensor conversion failed"));
                }
            }
        }
        Ok(())
    });
    if let Some(g) = tensor_error {
        return Err(g);
    }
    written.map_err(|e| GgufError::io(path, e))?;
    let size = 8 + header_bytes.len() as u64 + offset;
    Ok((offset / 4, size))
}

enum TensorWriteError {
    Gguf(GgufError),
    Io(std::io::Error),
}

fn write_tensor(gguf: &GgufFile, p: &Planned, out: &mut dyn Write) -> Result<(), TensorWriteError> {
    let info = p.info;
    let rows = p.shape[0];
    let row_len = info.n_elements / rows;
    let bad = |reason: String| {
        TensorWriteError::Gguf(GgufError::BadTensor {
            name: info.name.clone(),
            reason,
        })
    };
    let row_bytes =
        info.ggml_type
            .row_bytes(row_len)
            .ok_or_else(|| bad(format!("rows of {row_len} split blocks")))? as usize;
    if let Some(heads) = p.unpermute_heads {
        if heads == 0 || !rows.is_multiple_of(heads) || !(rows / heads).is_multiple_of(2) {
            return Err(bad(format!(
                "{rows} rows do not split into {heads} heads of even size"
            )));
        }
    }
    let raw = gguf.tensor_bytes(info).map_err(TensorWriteError::Gguf)?;
    let mut values = vec![0f32; row_len as usize];
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for row in 0..rows {
        let src = p
            .unpermute_heads
            .map_or(row, |heads| source_row(row, heads, rows)) as usize;
        let chunk = &raw[src * row_bytes..(src + 1) * row_bytes];
        if !dequantize_row(info.ggml_type, chunk, &mut values) {
            return Err(bad(format!("cannot dequantise {:?}", info.ggml_type)));
        }
        bytes.clear();
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        out.write_all(&bytes).map_err(TensorWriteError::Io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::source_row;

    #[test]
    fn unpermute_matches_the_reshape_transpose_rule() {
        // w.reshape(heads, hd/2, 2, in).transpose(1, 2): HF row (h, part, i) takes GGUF row (h, i, part).
        let (heads, head_dim) = (3u64, 8u64);
        let rows = heads * head_dim;
        let got: Vec<u64> = (0..rows).map(|r| source_row(r, heads, rows)).collect();
        let mut want = Vec::new();
        for h in 0..heads {
            for part in 0..2 {
                for i in 0..head_dim / 2 {
                    want.push(h * head_dim + i * 2 + part);
                }
            }
        }
        assert_eq!(got, want);
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, (0..rows).collect::<Vec<_>>(), "a permutation");
    }
}
