use super::*;
use arena_core::competition::{default_schedule, Constraints};
use arena_core::rejection::Rejection;
use arena_testkit::fixtures::fixtures;
use std::path::Path;

fn constraints() -> Constraints {
    default_schedule()
        .unwrap()
        .competition_at(1, 0)
        .unwrap()
        .constraints
        .clone()
}

/// A writable copy of a fixture model.
fn copy_model(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn write_safetensors(path: &Path, header: &str, data_len: usize) {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data_len));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn fixture_models_pass_with_their_documented_parameter_counts() {
    let llama = precheck(&fixtures().join("tiny-llama"), &constraints()).unwrap();
    assert_eq!(llama.architecture, "LlamaForCausalLM");
    assert_eq!(llama.params, 223_552);
    let qwen = precheck(&fixtures().join("tiny-qwen2"), &constraints()).unwrap();
    assert_eq!(qwen.params, 158_272);
    assert_eq!(
        qwen.tokenizer_sha256.as_deref(),
        Some("62d37104af465a748adfac8aef3a9e2e8bee0dea7dd3e6bd3ffb6acead07eb7a")
    );
}

#[test]
fn header_claiming_huge_tensors_is_refused_without_reading_them() {
    let dir = copy_model("tiny-llama");
    let header = r#"{"w":{"dtype":"F32","shape":[1000000000,1000000],"data_offsets":[0,16]}}"#;
    write_safetensors(&dir.path().join("model.safetensors"), header, 16);
    let err = precheck(dir.path(), &constraints()).unwrap_err();
    assert!(
        matches!(&err, Rejection::InvalidSafetensors { error, .. } if error.to_string().contains("tensor w")),
        "{err}"
    );
    let overflow =
        r#"{"w":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,16]}}"#;
    write_safetensors(&dir.path().join("model.safetensors"), overflow, 16);
    let err = precheck(dir.path(), &constraints()).unwrap_err();
    assert!(
        matches!(&err, Rejection::InvalidSafetensors { error, .. } if error.to_string().contains("overflows")),
        "{err}"
    );
    let mut huge_len = u64::MAX.to_le_bytes().to_vec();
    huge_len.extend_from_slice(b"{}");
    std::fs::write(dir.path().join("model.safetensors"), huge_len).unwrap();
    assert!(matches!(
        precheck(dir.path(), &constraints()),
        Err(Rejection::InvalidSafetensors { .. })
    ));
}

#[test]
fn overlapping_or_trailing_tensor_data_is_refused() {
    let dir = copy_model("tiny-llama");
    let overlap = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
    write_safetensors(&dir.path().join("model.safetensors"), overlap, 12);
    assert!(matches!(
        precheck(dir.path(), &constraints()),
        Err(Rejection::InvalidSafetensors { .. })
    ));
    let trailing = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    write_safetensors(&dir.path().join("model.safetensors"), trailing, 64);
    assert!(matches!(
        precheck(dir.path(), &constraints()),
        Err(Rejection::InvalidSafetensors { .. })
    ));
}

#[test]
fn unknown_architecture_wrong_tokenizer_too_many_params_and_pickles() {
    let dir = copy_model("tiny-llama");
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        config.replace("LlamaForCausalLM", "LlamaForCausalLMX"),
    )
    .unwrap();
    let err = precheck(dir.path(), &constraints()).unwrap_err();
    assert!(
        matches!(err, Rejection::ArchitectureNotAllowed { .. }),
        "{err}"
    );
    std::fs::write(dir.path().join("config.json"), &config).unwrap();

    std::fs::write(dir.path().join("tokenizer.json"), "{\"model\":{}}").unwrap();
    let err = precheck(dir.path(), &constraints()).unwrap_err();
    assert!(matches!(err, Rejection::TokenizerMismatch { .. }), "{err}");
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    assert!(
        precheck(dir.path(), &constraints()).is_ok(),
        "pinned tokenizer: none shipped is fine"
    );

    let mut small = constraints();
    small.max_params = 200_000;
    let err = precheck(dir.path(), &small).unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::TooManyParams {
                params: 223_552,
                ..
            }
        ),
        "{err}"
    );
    std::fs::write(dir.path().join("pytorch_model.bin"), b"pickle").unwrap();
    assert!(matches!(
        precheck(dir.path(), &constraints()),
        Err(Rejection::BadFiles { .. })
    ));
}

/// Overwrites the last element of the file's data (the tensor with the highest offset).
fn poison_last(dir: &Path, bytes: &[u8]) -> String {
    let path = dir.join("model.safetensors");
    let header = arena_checkpoint::st_header::read_header(&path).unwrap();
    let mut data = std::fs::read(&path).unwrap();
    let len = data.len();
    data[len - bytes.len()..].copy_from_slice(bytes);
    std::fs::write(&path, data).unwrap();
    header
        .tensors
        .iter()
        .max_by_key(|t| t.offset)
        .unwrap()
        .name
        .clone()
}

#[test]
fn nan_and_infinite_weights_are_refused_naming_the_tensor() {
    let dir = copy_model("tiny-llama");
    let tensor = poison_last(dir.path(), &f32::NAN.to_le_bytes());
    assert_eq!(
        precheck(dir.path(), &constraints()).unwrap_err(),
        Rejection::NonFiniteWeights {
            file: "model.safetensors".into(),
            tensor
        }
    );
    // bf16 +inf (0x7f80), little-endian.
    let dir = copy_model("tiny-llama-bf16");
    assert!(
        precheck(dir.path(), &constraints()).is_ok(),
        "clean bf16 passes"
    );
    let tensor = poison_last(dir.path(), &[0x80, 0x7f]);
    let err = precheck(dir.path(), &constraints()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("model.safetensors: tensor {tensor} holds NaN or infinite values")
    );
}
