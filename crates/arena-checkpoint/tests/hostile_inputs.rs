//! Constraint checks and parsers against hostile or broken model folders: each bad input must
//! give its typed failure, without panicking and without large allocations. Ends with a bounded
//! property test that feeds mutated bytes to every parser of untrusted files.

mod common;

use std::path::Path;

use arena_checkpoint::checks::{check, inspect, validate_folder, Limits};
use arena_checkpoint::st_header::{parse_prefix, read_header, StHeaderError};
use arena_core::competition::{Dtype, NormValidation};
use arena_core::rejection::Rejection;
use arena_testkit::fixtures::fixtures;

/// A writable copy of a fixture model folder.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, config.to_string()).unwrap();
}

fn codes(dir: &Path, limits: &Limits) -> Vec<&'static str> {
    check(dir, limits)
        .failures
        .iter()
        .map(Rejection::code)
        .collect()
}

/// Overwrites the first f32 of `tensor` in the folder's model.safetensors.
fn poke_weight(dir: &Path, tensor: &str, value: f32) {
    let path = dir.join("model.safetensors");
    let header = read_header(&path).unwrap();
    let t = header.tensors.iter().find(|t| t.name == tensor).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[t.offset as usize..t.offset as usize + 4].copy_from_slice(&value.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
}

fn safetensors_file(header: &str, data_len: usize) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(vec![0u8; data_len]);
    out
}

const TINY_TOKENIZER_SHA256: &str = "62d37104";

#[test]
fn tiny_llama_passes_every_check_and_the_norm_validation() {
    let dir = copy_fixture("tiny-llama");
    let sha = inspect(dir.path())
        .unwrap()
        .summary
        .tokenizer_sha256
        .unwrap();
    assert!(sha.starts_with(TINY_TOKENIZER_SHA256), "{sha}");
    let limits = Limits {
        min_params: Some(200_000),
        max_params: Some(223_552),
        max_bytes: Some(2_000_000),
        architectures: Some(vec!["LlamaForCausalLM".into(), "MistralForCausalLM".into()]),
        sequence_length: Some(512),
        dtype: Some(Dtype::Bf16),
        tokenizer_sha256: Some(sha.to_uppercase()),
    };
    let report = check(dir.path(), &limits);
    assert!(report.passed, "{:?}", report.failures);
    let summary = report.summary.unwrap();
    assert_eq!(
        (summary.parameters, summary.tensors, summary.dtypes.clone()),
        (223_552, 21, vec!["F32".to_string()])
    );
    let norms = validate_folder(dir.path(), &NormValidation::default()).unwrap();
    assert!(norms.max_norm > 1.0 && norms.max_norm < 200.0, "{norms:?}");
    assert_eq!(norms.soft_fraction_mean, 0.0);

    for (name, limits, want) in [
        (
            "too many params",
            Limits {
                max_params: Some(223_551),
                ..Limits::default()
            },
            "too_many_params",
        ),
        (
            "too few params",
            Limits {
                min_params: Some(1 << 30),
                ..Limits::default()
            },
            "too_few_params",
        ),
        (
            "too many bytes",
            Limits {
                max_bytes: Some(10_000),
                ..Limits::default()
            },
            "too_many_bytes",
        ),
        (
            "short context",
            Limits {
                sequence_length: Some(4096),
                ..Limits::default()
            },
            "sequence_too_short",
        ),
        (
            "other tokenizer",
            Limits {
                tokenizer_sha256: Some("00".repeat(32)),
                ..Limits::default()
            },
            "tokenizer_mismatch",
        ),
        (
            "not allowed",
            Limits {
                architectures: Some(vec!["Qwen2ForCausalLM".into()]),
                ..Limits::default()
            },
            "architecture_not_allowed",
        ),
    ] {
        assert_eq!(codes(dir.path(), &limits), vec![want], "{name}");
    }
    let bf16 = copy_fixture("tiny-llama-bf16");
    let f16_only = Limits {
        dtype: Some(Dtype::F16),
        ..Limits::default()
    };
    assert!(codes(bf16.path(), &f16_only)
        .iter()
        .all(|c| *c == "dtype_mismatch"));
    assert!(
        check(
            bf16.path(),
            &Limits {
                dtype: Some(Dtype::Bf16),
                ..Limits::default()
            }
        )
        .passed
    );
}

#[test]
fn header_claiming_a_trillion_parameters_is_refused_without_allocating() {
    let dir = copy_fixture("tiny-llama");
    let path = dir.path().join("model.safetensors");
    let claim = r#"{"model.embed_tokens.weight":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}"#;
    std::fs::write(&path, safetensors_file(claim, 64)).unwrap();
    let err = read_header(&path).unwrap_err();
    assert!(matches!(err, StHeaderError::Layout { .. }), "{err}");
    let failures = check(
        dir.path(),
        &Limits {
            max_params: Some(1_000_000_000),
            ..Limits::default()
        },
    )
    .failures;
    assert!(
        matches!(
            &failures[..],
            [Rejection::InvalidSafetensors {
                error: StHeaderError::Layout { .. },
                ..
            }]
        ),
        "{failures:?}"
    );
    // Shapes whose product overflows u64, and offsets that disagree with the shape.
    let overflow =
        r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#;
    assert!(matches!(
        parse_prefix(&safetensors_file(overflow, 0), 8 + overflow.len() as u64),
        Err(StHeaderError::BadShape { .. })
    ));
    let lying = r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}"#;
    let bytes = safetensors_file(lying, 8);
    assert!(matches!(
        parse_prefix(&bytes, bytes.len() as u64),
        Err(StHeaderError::SizeMismatch {
            expected: 16,
            actual: 8,
            ..
        })
    ));
    let hidden = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let bytes = safetensors_file(hidden, 8 + 1000);
    assert!(
        matches!(
            parse_prefix(&bytes, bytes.len() as u64),
            Err(StHeaderError::Layout { .. })
        ),
        "trailing bytes"
    );
    let bytes = safetensors_file(
        r#"{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#,
        8,
    );
    assert!(matches!(
        parse_prefix(&bytes, bytes.len() as u64),
        Err(StHeaderError::UnknownDtype { .. })
    ));
}

#[test]
fn header_longer_than_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let mut bytes = 1_000_000u64.to_le_bytes().to_vec();
    bytes.extend([b'{'; 92]);
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        read_header(&path).unwrap_err(),
        StHeaderError::HeaderPastEnd {
            len: 1_000_000,
            file_len: 100
        }
    );
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        read_header(&path).unwrap_err(),
        StHeaderError::HeaderTooLarge { .. }
    ));
    std::fs::write(&path, [1u8, 2, 3]).unwrap();
    assert_eq!(
        read_header(&path).unwrap_err(),
        StHeaderError::TooShort { file_len: 3 }
    );
}

#[test]
fn nan_and_blown_up_weights_fail_the_weight_validation() {
    let q = "model.layers.1.self_attn.q_proj.weight";
    let dir = copy_fixture("tiny-llama");
    poke_weight(dir.path(), q, f32::NAN);
    assert!(
        check(dir.path(), &Limits::default()).passed,
        "headers alone cannot see NaN"
    );
    let err = validate_folder(dir.path(), &NormValidation::default()).unwrap_err();
    assert_eq!(
        err,
        Rejection::NonFiniteWeights {
            file: "model.safetensors".into(),
            tensor: q.into()
        }
    );
    poke_weight(dir.path(), q, f32::INFINITY);
    assert_eq!(
        validate_folder(dir.path(), &NormValidation::default())
            .unwrap_err()
            .code(),
        "non_finite_weights"
    );
    // A NaN outside the projections (embeddings) is refused too.
    let dir = copy_fixture("tiny-llama");
    poke_weight(dir.path(), "model.embed_tokens.weight", f32::NAN);
    assert_eq!(
        validate_folder(dir.path(), &NormValidation::default())
            .unwrap_err()
            .code(),
        "non_finite_weights"
    );
    let dir = copy_fixture("tiny-llama");
    poke_weight(dir.path(), "model.layers.0.mlp.down_proj.weight", 5000.0);
    match validate_folder(dir.path(), &NormValidation::default()).unwrap_err() {
        Rejection::NormAboveHard { tensor, norm, .. } => {
            assert_eq!(tensor, "model.layers.0.mlp.down_proj.weight");
            assert!(norm > 5000.0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn config_problems_are_typed() {
    let dir = copy_fixture("tiny-llama");
    edit_config(dir.path(), |c| {
        c["architectures"] = serde_json::json!(["GPTNeoXForCausalLM"])
    });
    assert_eq!(
        codes(dir.path(), &Limits::default()),
        vec!["unsupported_architecture"]
    );
    let allow = Limits {
        architectures: Some(vec!["LlamaForCausalLM".into()]),
        ..Limits::default()
    };
    assert_eq!(
        codes(dir.path(), &allow),
        vec!["architecture_not_allowed", "unsupported_architecture"]
    );

    let dir = copy_fixture("tiny-llama");
    edit_config(dir.path(), |c| {
        c["intermediate_size"] = serde_json::json!(160)
    });
    let failures = check(dir.path(), &Limits::default()).failures;
    assert_eq!(
        failures.len(),
        6,
        "gate, up, down in 2 layers: {failures:?}"
    );
    assert!(failures.contains(&Rejection::ShapeMismatch {
        name: "model.layers.0.mlp.down_proj.weight".into(),
        expected: vec![64, 160],
        actual: vec![64, 176],
    }));
    let dir = copy_fixture("tiny-llama");
    edit_config(dir.path(), |c| {
        c["num_hidden_layers"] = serde_json::json!(1)
    });
    let codes_1 = codes(dir.path(), &Limits::default());
    assert!(
        codes_1.len() == 9 && codes_1.iter().all(|c| *c == "unexpected_tensor"),
        "{codes_1:?}"
    );
    let dir = copy_fixture("tiny-qwen2");
    edit_config(dir.path(), |c| {
        c["tie_word_embeddings"] = serde_json::json!(false)
    });
    assert_eq!(
        check(dir.path(), &Limits::default()).failures,
        vec![Rejection::MissingTensor {
            name: "lm_head.weight".into()
        }]
    );

    let dir = copy_fixture("tiny-llama");
    std::fs::write(dir.path().join("config.json"), "{\"architectures\": [").unwrap();
    assert_eq!(
        codes(dir.path(), &Limits::default()),
        vec!["invalid_config"]
    );
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    assert_eq!(
        codes(dir.path(), &Limits::default()),
        vec!["missing_config"]
    );
}

#[test]
fn missing_files_and_bad_indexes_are_typed() {
    let dir = copy_fixture("tiny-mistral");
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    assert_eq!(
        codes(dir.path(), &Limits::default()),
        vec!["missing_tokenizer"]
    );
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    assert_eq!(
        codes(dir.path(), &Limits::default()),
        vec!["missing_weights"]
    );

    // An index naming the single file passes; one escaping the folder does not.
    let dir = copy_fixture("tiny-llama");
    let header = read_header(&dir.path().join("model.safetensors")).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = header
        .tensors
        .iter()
        .map(|t| (t.name.clone(), "model.safetensors".into()))
        .collect();
    let index = dir.path().join("model.safetensors.index.json");
    std::fs::write(&index, serde_json::json!({ "weight_map": map }).to_string()).unwrap();
    assert!(check(dir.path(), &Limits::default()).passed);
    let mut escaping = map.clone();
    escaping.insert("lm_head.weight".into(), "../model.safetensors".into());
    std::fs::write(
        &index,
        serde_json::json!({ "weight_map": escaping }).to_string(),
    )
    .unwrap();
    assert_eq!(codes(dir.path(), &Limits::default()), vec!["invalid_index"]);
    let mut phantom = map;
    phantom.insert("model.extra.weight".into(), "model.safetensors".into());
    std::fs::write(
        &index,
        serde_json::json!({ "weight_map": phantom }).to_string(),
    )
    .unwrap();
    assert_eq!(codes(dir.path(), &Limits::default()), vec!["invalid_index"]);
}

/// xorshift64*: a deterministic stream so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One random edit: flip bytes, write an extreme u64, truncate, or duplicate a span.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len());
            match self.below(5) {
                0 => out[at] ^= 1 << self.below(8),
                1 => out[at] = self.next() as u8,
                2 if at + 8 <= out.len() => {
                    let extreme =
                        [0, 1, u64::MAX, u64::MAX / 2, 1 << 40, self.next()][self.below(6)];
                    out[at..at + 8].copy_from_slice(&extreme.to_le_bytes());
                }
                3 => out.truncate(at),
                _ => {
                    let len = self.below(64).min(out.len() - at);
                    let span = out[at..at + len].to_vec();
                    out.splice(at..at, span);
                }
            }
            if out.is_empty() {
                break;
            }
        }
        out
    }
}

#[test]
fn mutated_inputs_never_panic_and_accepted_ones_are_consistent() {
    // Only the header part of the safetensors file is mutated; the file length stays the real one.
    let st_file = std::fs::read(fixtures().join("tiny-llama/model.safetensors")).unwrap();
    let st_len = st_file.len() as u64;
    let st_seed =
        st_file[..8 + u64::from_le_bytes(st_file[..8].try_into().unwrap()) as usize].to_vec();
    let gguf_seed = common::gguf_builder::tiny_llama();
    let config_seed = std::fs::read(fixtures().join("tiny-qwen2/config.json")).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut st_ok, mut gguf_ok, mut config_ok) = (0, 0, 0);
    for _ in 0..3000 {
        let bytes = rng.mutate(&st_seed);
        if let Ok(h) = parse_prefix(&bytes, st_len) {
            assert!(h.tensors.iter().all(|t| t.offset + t.n_bytes <= st_len));
            st_ok += 1;
        }
        let bytes = rng.mutate(&gguf_seed);
        if let Ok(h) = arena_checkpoint::gguf::parse_header(&bytes[..], bytes.len() as u64) {
            assert!(h
                .tensors
                .iter()
                .all(|t| t.offset + t.n_bytes <= bytes.len() as u64));
            gguf_ok += 1;
        }
        let bytes = rng.mutate(&config_seed);
        if let Ok(cfg) =
            arena_checkpoint::config::ModelConfig::from_json_str(&String::from_utf8_lossy(&bytes))
        {
            let _ = arena_checkpoint::checks::expected_tensors(&cfg);
            config_ok += 1;
        }
    }
    // The mutations are small, so some inputs stay valid: the parsers' accept paths ran too.
    assert!(
        st_ok > 0 && gguf_ok > 0 && config_ok > 0,
        "{st_ok} {gguf_ok} {config_ok}"
    );
}

#[test]
fn new_architecture_fixtures_pass_every_check() {
    for name in [
        "tiny-gemma",
        "tiny-gemma2",
        "tiny-phi3",
        "tiny-phi3-longrope",
        "tiny-llama3-rope",
        "tiny-yarn",
        "tiny-linear-rope",
        "tiny-dynamic-rope",
    ] {
        let dir = copy_fixture(name);
        let report = check(dir.path(), &Limits::default());
        assert!(report.passed, "{name}: {:?}", report.failures);
        validate_folder(dir.path(), &NormValidation::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Phi-3's norm rule measures q, k, v inside `qkv_proj` and up inside `gate_up_proj`: the
/// largest norm reported is the largest of those blocks, computed here independently.
#[test]
fn phi3_norms_are_those_of_the_unfused_blocks() {
    let dir = fixtures().join("tiny-phi3");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let rows_norm = |name: &str, start: usize, end: usize| -> f64 {
        let t = st.tensor(name).unwrap();
        let cols = t.shape()[1];
        let data = t.data();
        (start * cols..end * cols)
            .map(|i| {
                let v = f32::from_le_bytes(data[4 * i..4 * i + 4].try_into().unwrap()) as f64;
                v * v
            })
            .sum::<f64>()
            .sqrt()
    };
    // hidden 64, 4 heads / 2 kv heads of 16: q rows 0..64, k 64..96, v 96..128; up rows 176..352.
    let mut max: f64 = 0.0;
    for layer in 0..2 {
        let p = format!("model.layers.{layer}");
        let qkv = format!("{p}.self_attn.qkv_proj.weight");
        for (start, end) in [(0, 64), (64, 96), (96, 128)] {
            max = max.max(rows_norm(&qkv, start, end));
        }
        max = max.max(rows_norm(&format!("{p}.mlp.gate_up_proj.weight"), 176, 352));
        max = max.max(rows_norm(&format!("{p}.self_attn.o_proj.weight"), 0, 64));
        max = max.max(rows_norm(&format!("{p}.mlp.down_proj.weight"), 0, 64));
    }
    // Measuring the whole fused tensor instead would report at least this.
    let whole_gate_up = rows_norm("model.layers.0.mlp.gate_up_proj.weight", 0, 352);
    let report = validate_folder(&dir, &NormValidation::default()).unwrap();
    assert!(
        (report.max_norm - max).abs() <= 1e-9 * max,
        "reported {} vs blocks {max} (whole gate_up_proj: {whole_gate_up})",
        report.max_norm
    );
    assert!(
        whole_gate_up > max,
        "the test must tell fused from unfused norms"
    );
}
