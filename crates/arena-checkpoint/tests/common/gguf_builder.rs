//! Writes small GGUF files for tests: a valid tiny Llama (to import and to mutate), built from
//! the spec's byte layout independently of the crate's reader.

#![allow(dead_code)]

use half::f16;

/// A metadata value to write.
pub enum Val {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(&'static str),
    Strs(Vec<String>),
    I32s(Vec<i32>),
}

/// One tensor to write: name, GGML dims (innermost first), type id, raw data.
pub struct RawTensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub data: Vec<u8>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

/// Serialises a GGUF v3 file (alignment 32).
pub fn build(kv: &[(&str, Val)], tensors: &[RawTensor]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((kv.len() as u64).to_le_bytes());
    for (key, val) in kv {
        put_str(&mut out, key);
        match val {
            Val::U32(v) => {
                out.extend(4u32.to_le_bytes());
                out.extend(v.to_le_bytes());
            }
            Val::F32(v) => {
                out.extend(6u32.to_le_bytes());
                out.extend(v.to_le_bytes());
            }
            Val::Bool(v) => {
                out.extend(7u32.to_le_bytes());
                out.push(*v as u8);
            }
            Val::Str(s) => {
                out.extend(8u32.to_le_bytes());
                put_str(&mut out, s);
            }
            Val::Strs(items) => {
                out.extend(9u32.to_le_bytes());
                out.extend(8u32.to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|s| put_str(&mut out, s));
            }
            Val::I32s(items) => {
                out.extend(9u32.to_le_bytes());
                out.extend(5u32.to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|v| out.extend(v.to_le_bytes()));
            }
        }
    }
    let mut offset = 0u64;
    for t in tensors {
        put_str(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        t.dims.iter().for_each(|d| out.extend(d.to_le_bytes()));
        out.extend(t.type_id.to_le_bytes());
        out.extend(offset.to_le_bytes());
        offset += (t.data.len() as u64).div_ceil(32) * 32;
    }
    for t in tensors {
        while !out.len().is_multiple_of(32) {
            out.push(0);
        }
        out.extend(&t.data);
    }
    out
}

pub const HIDDEN: u64 = 64;
pub const HEADS: u64 = 2;
pub const KV_HEADS: u64 = 1;
pub const HEAD_DIM: u64 = 32;
pub const FFN: u64 = 64;

/// The tiny vocabulary: specials, a few byte-level tokens and their merges.
pub fn tokens() -> Vec<String> {
    [
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        "a",
        "b",
        "Ġ",
        "ab",
        "Ġab",
        "1",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// F32 rows where every weight of row r equals `r + base`.
pub fn f32_rows(rows: u64, cols: u64, base: f32) -> Vec<u8> {
    (0..rows)
        .flat_map(|r| (0..cols).flat_map(move |_| (r as f32 + base).to_le_bytes()))
        .collect()
}

/// F16 rows where every weight of row r equals r.
pub fn f16_rows(rows: u64, cols: u64) -> Vec<u8> {
    (0..rows)
        .flat_map(|r| (0..cols).flat_map(move |_| f16::from_f32(r as f32).to_bits().to_le_bytes()))
        .collect()
}

/// Q4_1 rows where every weight of row r equals r (scale 0, minimum r).
pub fn q4_1_rows(rows: u64, cols: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..rows {
        for _ in 0..cols / 32 {
            out.extend(f16::from_f32(0.0).to_bits().to_le_bytes());
            out.extend(f16::from_f32(r as f32).to_bits().to_le_bytes());
            out.extend([0x5au8; 16]);
        }
    }
    out
}

/// Q8_0 rows: scale 0.5, weight j of each block = (j - 16) * 0.5.
pub fn q8_0_rows(rows: u64, cols: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rows * cols / 32 {
        out.extend(f16::from_f32(0.5).to_bits().to_le_bytes());
        out.extend((0..32).map(|j| (j as i8 - 16) as u8));
    }
    out
}

/// A complete one-layer Llama GGUF with F32, F16, Q4_1 and Q8_0 tensors and a BPE vocabulary.
pub fn tiny_llama() -> Vec<u8> {
    let vocab = tokens().len() as u64;
    let t = |name: &str, dims: Vec<u64>, type_id: u32, data: Vec<u8>| RawTensor {
        name: name.into(),
        dims,
        type_id,
        data,
    };
    let tensors = vec![
        t(
            "token_embd.weight",
            vec![HIDDEN, vocab],
            8,
            q8_0_rows(vocab, HIDDEN),
        ),
        t(
            "output_norm.weight",
            vec![HIDDEN],
            0,
            f32_rows(1, HIDDEN, 1.0),
        ),
        t(
            "blk.0.attn_norm.weight",
            vec![HIDDEN],
            0,
            f32_rows(1, HIDDEN, 2.0),
        ),
        t(
            "blk.0.ffn_norm.weight",
            vec![HIDDEN],
            0,
            f32_rows(1, HIDDEN, 3.0),
        ),
        t(
            "blk.0.attn_q.weight",
            vec![HIDDEN, HEADS * HEAD_DIM],
            3,
            q4_1_rows(HEADS * HEAD_DIM, HIDDEN),
        ),
        t(
            "blk.0.attn_k.weight",
            vec![HIDDEN, KV_HEADS * HEAD_DIM],
            1,
            f16_rows(KV_HEADS * HEAD_DIM, HIDDEN),
        ),
        t(
            "blk.0.attn_v.weight",
            vec![HIDDEN, KV_HEADS * HEAD_DIM],
            0,
            f32_rows(KV_HEADS * HEAD_DIM, HIDDEN, 0.0),
        ),
        t(
            "blk.0.attn_output.weight",
            vec![HEADS * HEAD_DIM, HIDDEN],
            0,
            f32_rows(HIDDEN, HEADS * HEAD_DIM, 0.0),
        ),
        t(
            "blk.0.ffn_gate.weight",
            vec![HIDDEN, FFN],
            0,
            f32_rows(FFN, HIDDEN, 0.0),
        ),
        t(
            "blk.0.ffn_up.weight",
            vec![HIDDEN, FFN],
            8,
            q8_0_rows(FFN, HIDDEN),
        ),
        t(
            "blk.0.ffn_down.weight",
            vec![FFN, HIDDEN],
            0,
            f32_rows(HIDDEN, FFN, 0.0),
        ),
    ];
    let kv = vec![
        ("general.architecture", Val::Str("llama")),
        ("llama.block_count", Val::U32(1)),
        ("llama.context_length", Val::U32(256)),
        ("llama.embedding_length", Val::U32(HIDDEN as u32)),
        ("llama.feed_forward_length", Val::U32(FFN as u32)),
        ("llama.attention.head_count", Val::U32(HEADS as u32)),
        ("llama.attention.head_count_kv", Val::U32(KV_HEADS as u32)),
        ("llama.attention.layer_norm_rms_epsilon", Val::F32(1e-5)),
        ("llama.rope.freq_base", Val::F32(100000.0)),
        ("tokenizer.ggml.model", Val::Str("gpt2")),
        ("tokenizer.ggml.pre", Val::Str("smollm")),
        ("tokenizer.ggml.tokens", Val::Strs(tokens())),
        (
            "tokenizer.ggml.token_type",
            Val::I32s(vec![3, 3, 3, 1, 1, 1, 1, 1, 1, 1]),
        ),
        (
            "tokenizer.ggml.merges",
            Val::Strs(vec!["a b".into(), "Ġ ab".into()]),
        ),
        ("tokenizer.ggml.bos_token_id", Val::U32(1)),
        ("tokenizer.ggml.eos_token_id", Val::U32(2)),
        ("tokenizer.ggml.add_bos_token", Val::Bool(false)),
        (
            "tokenizer.chat_template",
            Val::Str("{% for m in messages %}{{ m['content'] }}{% endfor %}"),
        ),
    ];
    build(&kv, &tensors)
}
