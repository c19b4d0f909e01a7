//! Inputs found by the fuzzing campaign (`scripts/fuzz`, docs/fuzzing.md) that crashed a parser,
//! kept so that the fix stays.

use arena_checkpoint::gguf::{parse_header, GgmlType};

/// gguf_header crash-fb457b64: a tensor whose first dimension times the type's bytes per weight
/// overflows u64 (a panic with overflow checks, a wrapped, too small size without).
#[test]
fn gguf_tensor_row_size_overflow_is_an_error() {
    let input: &[u8] = include_bytes!("../fuzz/seeds/gguf_header/crash-fb457b64");
    assert!(parse_header(input, input.len() as u64).is_err());
    assert_eq!(GgmlType::F32.row_bytes(u64::MAX / 2), None);
    assert_eq!(GgmlType::Q8_0.row_bytes(u64::MAX / 32 * 32), None);
    assert_eq!(GgmlType::F32.row_bytes(8), Some(32));
    assert_eq!(GgmlType::Q8_0.row_bytes(64), Some(68));
}
