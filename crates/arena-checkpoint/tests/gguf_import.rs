//! GGUF import: a hand-built tiny Llama (every supported storage type, q/k un-permutation,
//! tokenizer), malformed files, and the real SmolLM2-135M-Instruct Q4_1 file, whose tokenizer
//! must reproduce every id of `fixtures/smollm2-135m/expected.json`.

mod common;

use arena_checkpoint::gguf::{import_gguf, parse_header, GgufError};
use arena_testkit::fixtures::{fixtures, smollm2_gguf};
use common::gguf_builder::{self as gb, HEADS, HEAD_DIM, HIDDEN, KV_HEADS};
use safetensors::SafeTensors;
use serde_json::Value;

fn rows_of(st: &SafeTensors, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = st.tensor(name).unwrap();
    let values = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (t.shape().to_vec(), values)
}

#[test]
fn tiny_gguf_imports_with_unpermuted_qk_and_a_working_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("tiny.gguf");
    std::fs::write(&gguf, gb::tiny_llama()).unwrap();
    let out = dir.path().join("hf");
    let report = import_gguf(&gguf, &out).unwrap();
    assert_eq!(report.architecture, "LlamaForCausalLM");
    assert_eq!(report.tensors, 11);
    assert!(report.tie_word_embeddings);

    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["num_attention_heads"], 2);
    assert_eq!(config["num_key_value_heads"], 1);
    assert_eq!(config["head_dim"], 32);
    assert_eq!(
        config["rms_norm_eps"].as_f64().unwrap(),
        1e-5f32 as f64,
        "the f32 value, widened"
    );
    assert_eq!(config["rope_parameters"]["rope_theta"], 100000.0);
    assert_eq!(config["tie_word_embeddings"], true);
    let cfg = arena_checkpoint::config::ModelConfig::from_file(&out.join("config.json")).unwrap();
    assert_eq!(
        (cfg.vocab_size, cfg.max_position_embeddings, cfg.rope_theta),
        (10, 256, 100000.0)
    );

    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    assert_eq!(bytes.len() as u64, report.safetensors_bytes);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert!(st.tensor("lm_head.weight").is_err(), "tied: no lm_head");
    // Q4_1 q_proj: GGUF row r holds r everywhere; HF row (head, half, i) comes from GGUF row head*32 + 2i + half.
    let (shape, q) = rows_of(&st, "model.layers.0.self_attn.q_proj.weight");
    assert_eq!(shape, vec![(HEADS * HEAD_DIM) as usize, HIDDEN as usize]);
    let row = |values: &[f32], r: usize| values[r * HIDDEN as usize];
    assert_eq!(
        (
            row(&q, 0),
            row(&q, 1),
            row(&q, 16),
            row(&q, 17),
            row(&q, 33)
        ),
        (0.0, 2.0, 1.0, 3.0, 34.0)
    );
    // F16 k_proj with one kv head, same rule.
    let (shape, k) = rows_of(&st, "model.layers.0.self_attn.k_proj.weight");
    assert_eq!(shape, vec![(KV_HEADS * HEAD_DIM) as usize, HIDDEN as usize]);
    assert_eq!(
        (row(&k, 1), row(&k, 15), row(&k, 16), row(&k, 31)),
        (2.0, 30.0, 1.0, 31.0)
    );
    // v is not permuted.
    let (_, v) = rows_of(&st, "model.layers.0.self_attn.v_proj.weight");
    assert_eq!((row(&v, 1), row(&v, 16)), (1.0, 16.0));
    // Q8_0 embeddings: weight j of each block = (j - 16) / 2.
    let (shape, e) = rows_of(&st, "model.embed_tokens.weight");
    assert_eq!(shape, vec![10, HIDDEN as usize]);
    assert_eq!((e[0], e[17], e[32 + 31]), (-8.0, 0.5, 7.5));
    assert_eq!(
        rows_of(&st, "model.layers.0.post_attention_layernorm.weight").1[5],
        3.0
    );

    let tok = tokenizers::Tokenizer::from_file(out.join("tokenizer.json")).unwrap();
    let ids = tok
        .encode("<|im_start|>ab abab<|im_end|>", false)
        .unwrap()
        .get_ids()
        .to_vec();
    assert_eq!(ids, vec![1, 6, 7, 6, 2]);
    assert_eq!(tok.encode("12", false).unwrap().get_ids(), &[8, 9]);
    let tc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tokenizer_config.json")).unwrap())
            .unwrap();
    assert_eq!(
        (tc["bos_token"].as_str(), tc["eos_token"].as_str()),
        (Some("<|im_start|>"), Some("<|im_end|>"))
    );
    assert!(tc["chat_template"].as_str().unwrap().contains("messages"));
}

fn expect_err(bytes: &[u8]) -> GgufError {
    match parse_header(bytes, bytes.len() as u64) {
        Ok(_) => panic!("malformed GGUF accepted"),
        Err(e) => e,
    }
}

#[test]
fn malformed_gguf_is_refused_with_typed_errors() {
    let good = gb::tiny_llama();
    assert_eq!(
        parse_header(&good[..], good.len() as u64)
            .unwrap()
            .tensors
            .len(),
        11
    );

    // Truncated anywhere: inside the header, or cutting tensor data.
    for cut in [0, 3, 10, 24, 100, 1000, good.len() - 1] {
        let err = expect_err(&good[..cut]);
        assert!(
            matches!(
                err,
                GgufError::Truncated { .. } | GgufError::BadMagic(_) | GgufError::BadTensor { .. }
            ),
            "cut {cut}: {err}"
        );
    }
    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert!(matches!(expect_err(&bad_magic), GgufError::BadMagic(_)));

    // Absurd tensor count (bytes 8..16) and metadata count (16..24): refused before allocating.
    let mut huge = good.clone();
    huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        expect_err(&huge),
        GgufError::Limit {
            what: "tensor count",
            ..
        }
    ));
    huge[8..16].copy_from_slice(&60_000u64.to_le_bytes());
    assert!(matches!(
        expect_err(&huge),
        GgufError::Truncated {
            what: "tensor count",
            ..
        }
    ));
    let mut huge_kv = good.clone();
    huge_kv[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(expect_err(&huge_kv), GgufError::Limit { .. }));

    // A key whose length claims 2^62 bytes.
    let mut long_key = good.clone();
    long_key[24..32].copy_from_slice(&(1u64 << 62).to_le_bytes());
    assert!(matches!(
        expect_err(&long_key),
        GgufError::Limit {
            what: "metadata key",
            ..
        }
    ));

    // The last tensor's offset pointing past the end of the file.
    let header = parse_header(&good[..], good.len() as u64).unwrap();
    let last = header.tensors.last().unwrap();
    let name_at = good
        .windows(last.name.len())
        .rposition(|w| w == last.name.as_bytes())
        .unwrap();
    let offset_at = name_at + last.name.len() + 4 + 8 * last.dims.len() + 4;
    let mut past_end = good.clone();
    past_end[offset_at..offset_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(expect_err(&past_end), GgufError::BadTensor { .. }));
    past_end[offset_at..offset_at + 8].copy_from_slice(&(u64::MAX - 31).to_le_bytes());
    assert!(matches!(expect_err(&past_end), GgufError::BadTensor { .. }));
    // An unknown ggml type id.
    let mut bad_type = good.clone();
    bad_type[offset_at - 4..offset_at].copy_from_slice(&99u32.to_le_bytes());
    assert!(matches!(expect_err(&bad_type), GgufError::BadTensor { .. }));
}

#[test]
fn unsupported_gguf_content_is_refused_by_the_importer() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("x.gguf");
    let kv = [("general.architecture", gb::Val::Str("mamba"))];
    std::fs::write(&gguf, gb::build(&kv, &[])).unwrap();
    let err = import_gguf(&gguf, &dir.path().join("out")).unwrap_err();
    assert!(
        matches!(err, GgufError::Unsupported(ref m) if m.contains("mamba")),
        "{err}"
    );
    let missing =
        import_gguf(&dir.path().join("absent.gguf"), &dir.path().join("out")).unwrap_err();
    assert!(matches!(missing, GgufError::Io { .. }));
}

#[test]
fn smollm2_import_matches_the_fixture_config_tokens_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let report = import_gguf(&smollm2_gguf(), dir.path()).unwrap();
    eprintln!("SmolLM2 import: {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(report.parameters, 134_515_008);
    assert_eq!(report.tensors, 272);
    assert!(report.tie_word_embeddings);

    let fixture = fixtures().join("smollm2-135m");
    let ours: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    let theirs: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("config.json")).unwrap())
            .unwrap();
    for key in [
        "architectures",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "vocab_size",
        "max_position_embeddings",
        "rms_norm_eps",
        "rope_parameters",
        "tie_word_embeddings",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
    ] {
        assert_eq!(ours[key], theirs[key], "config.json {key}");
    }
    let tc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("tokenizer_config.json")).unwrap(),
    )
    .unwrap();
    let ftc: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("tokenizer_config.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "chat_template",
        "bos_token",
        "eos_token",
        "pad_token",
        "unk_token",
    ] {
        assert_eq!(tc[key], ftc[key], "tokenizer_config.json {key}");
    }

    // Token ids: every text and both halves of every reference case.
    let tok = tokenizers::Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap())
            .unwrap();
    let encode = |text: &Value| -> Value {
        tok.encode(text.as_str().unwrap(), false)
            .unwrap()
            .get_ids()
            .into()
    };
    let texts = expected["texts"].as_array().unwrap();
    let cases = expected["reference_cases"].as_array().unwrap();
    assert_eq!((texts.len(), cases.len()), (4, 3));
    for t in texts {
        assert_eq!(encode(&t["text"]), t["ids"], "text {}", t["index"]);
    }
    for c in cases {
        assert_eq!(
            encode(&c["context"]),
            c["context_ids"],
            "case {} context",
            c["index"]
        );
        assert_eq!(
            encode(&c["reference"]),
            c["reference_ids"],
            "case {} reference",
            c["index"]
        );
    }

    // Shapes of the checked tensors, and plausible dequantised statistics.
    let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), 272);
    for (gguf_name, info) in expected["gguf_dequant_checks"].as_object().unwrap() {
        let Some(hf) = info.get("hf_name").and_then(Value::as_str) else {
            continue;
        };
        let (shape, values) = rows_of(&st, hf);
        let want: Vec<usize> = serde_json::from_value(info["shape"].clone()).unwrap();
        assert_eq!(shape, want, "{gguf_name}");
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
        let rms =
            (values.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        assert!(values.iter().all(|v| v.is_finite()), "{hf}");
        assert!(
            rms > 1e-3 && rms < 50.0 && mean.abs() < rms * 3.0,
            "{hf}: mean {mean} rms {rms}"
        );
    }
}
