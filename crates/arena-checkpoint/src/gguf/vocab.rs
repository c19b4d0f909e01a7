//! tokenizer.json and tokenizer_config.json from a GGUF vocabulary (`tokenizer.ggml.*`).
//!
//! Only byte-level BPE (`tokenizer.ggml.model = gpt2`) is handled. The pre-tokenizer follows
//! `tokenizer.ggml.pre` the way llama.cpp does, so digits are split one by one for SmolLM-style
//! vocabularies; a pre-tokenizer type not listed here is refused rather than guessed, because a
//! wrong split silently changes every token id.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};

use super::{GgufError, Meta, MetaValue};

/// llama.cpp token types.
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;

/// Llama 3's split regex (numbers in groups of up to three).
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's split regex (digits one by one).
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The two tokenizer files of a Hugging Face folder, as JSON values.
#[derive(Debug, Clone)]
pub struct TokenizerFiles {
    /// Contents of tokenizer.json.
    pub tokenizer_json: Value,
    /// Contents of tokenizer_config.json (special tokens, chat template).
    pub tokenizer_config: Value,
}

fn byte_level(use_regex: bool) -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex})
}

fn split_then_bytes(regex: &str) -> Value {
    json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
        byte_level(false),
    ]})
}

/// The pre-tokenizer for llama.cpp's `tokenizer.ggml.pre` value.
fn pre_tokenizer(pre: &str) -> Result<Value, GgufError> {
    Ok(match pre {
        "default" | "gpt2" | "gpt-2" | "mpt" | "olmo" | "jais" => byte_level(true),
        // llama.cpp: "\p{N}" first, then the GPT-2 regex.
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => {
            json!({
                "type": "Sequence",
                "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)],
            })
        }
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" => {
            split_then_bytes(LLAMA3_REGEX)
        }
        "qwen2" | "stablelm2" | "deepseek-r1-qwen" => split_then_bytes(QWEN2_REGEX),
        other => {
            return Err(GgufError::Unsupported(format!(
                "tokenizer.ggml.pre = {other:?}"
            )))
        }
    })
}

/// Builds both tokenizer files from GGUF metadata; `n_embeddings` is the embedding matrix's
/// row count, which every token id must fit in.
pub fn build_tokenizer_files(
    metadata: &BTreeMap<String, MetaValue>,
    n_embeddings: u64,
) -> Result<TokenizerFiles, GgufError> {
    let meta = Meta(metadata);
    let model = meta
        .str("tokenizer.ggml.model")?
        .ok_or_else(|| Meta::missing("tokenizer.ggml.model", "missing"))?;
    if model != "gpt2" {
        return Err(GgufError::Unsupported(format!(
            "tokenizer.ggml.model = {model:?} (only gpt2 BPE)"
        )));
    }
    let tokens = meta
        .strings("tokenizer.ggml.tokens")?
        .ok_or_else(|| Meta::missing("tokenizer.ggml.tokens", "missing"))?;
    if tokens.is_empty() || tokens.len() as u64 > n_embeddings {
        return Err(Meta::missing(
            "tokenizer.ggml.tokens",
            &format!("{} tokens for {n_embeddings} embedding rows", tokens.len()),
        ));
    }
    let types = meta.ints("tokenizer.ggml.token_type")?.unwrap_or(&[]);
    if !types.is_empty() && types.len() != tokens.len() {
        return Err(Meta::missing(
            "tokenizer.ggml.token_type",
            "length differs from tokenizer.ggml.tokens",
        ));
    }
    let merges = meta.strings("tokenizer.ggml.merges")?.unwrap_or(&[]);
    let pre = meta.str("tokenizer.ggml.pre")?.unwrap_or("default");

    let mut vocab = serde_json::Map::new();
    let mut added = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        if vocab.insert(token.clone(), json!(id)).is_some() {
            return Err(GgufError::Unsupported(format!(
                "token {token:?} appears twice in the vocabulary"
            )));
        }
        let kind = types.get(id).copied().unwrap_or(1);
        if kind == TOKEN_CONTROL || kind == TOKEN_USER_DEFINED {
            added.push(json!({
                "id": id, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": kind == TOKEN_CONTROL,
            }));
        }
    }
    let known: HashSet<&str> = tokens.iter().map(String::as_str).collect();
    let merge_pairs = merges
        .iter()
        .map(|m| match m.split_once(' ') {
            Some((a, b))
                if known.contains(a)
                    && known.contains(b)
                    && known.contains(format!("{a}{b}").as_str()) =>
            {
                Ok(json!([a, b]))
            }
            _ => Err(Meta::missing(
                "tokenizer.ggml.merges",
                &format!("merge {m:?} is not two known tokens"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;

    let token_of = |key: &str| -> Result<Option<String>, GgufError> {
        match meta.uint(key)? {
            None => Ok(None),
            Some(id) => tokens.get(id as usize).cloned().map(Some).ok_or_else(|| {
                Meta::missing(key, &format!("token id {id} is outside the vocabulary"))
            }),
        }
    };
    let bos = token_of("tokenizer.ggml.bos_token_id")?;
    let add_bos = meta.bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false);
    let post_processor = match (&bos, meta.uint("tokenizer.ggml.bos_token_id")?, add_bos) {
        (Some(bos), Some(bos_id), true) => json!({
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos.as_str(): {"id": bos, "ids": [bos_id], "tokens": [bos]}},
        }),
        _ => {
            json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true})
        }
    };
    let tokenizer_json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer(pre)?,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merge_pairs,
        },
    });

    let mut config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": add_bos,
        "add_eos_token": false,
        "clean_up_tokenization_spaces": false,
    });
    for (hf_key, gguf_key) in [
        ("bos_token", "tokenizer.ggml.bos_token_id"),
        ("eos_token", "tokenizer.ggml.eos_token_id"),
        ("pad_token", "tokenizer.ggml.padding_token_id"),
        ("unk_token", "tokenizer.ggml.unknown_token_id"),
    ] {
        if let Some(token) = token_of(gguf_key)? {
            config[hf_key] = json!(token);
        }
    }
    if let Some(template) = meta.str("tokenizer.chat_template")? {
        config["chat_template"] = json!(template);
    }
    Ok(TokenizerFiles {
        tokenizer_json,
        tokenizer_config: config,
    })
}
