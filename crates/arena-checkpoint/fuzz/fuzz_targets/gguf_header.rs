//! Any bytes as a GGUF file: the header parser must not panic or over-allocate, and every
//! accepted tensor must lie inside the file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = arena_checkpoint::gguf::parse_header(data, data.len() as u64) {
        for t in &header.tensors {
            assert!(t.offset + t.n_bytes <= data.len() as u64);
        }
    }
});
