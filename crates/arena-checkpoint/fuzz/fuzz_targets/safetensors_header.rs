//! Any bytes, read as the start of a safetensors file of the same length: the header parser
//! must return (Ok or a typed error) without panicking, and an accepted header must describe
//! tensors that lie inside the file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = arena_checkpoint::st_header::parse_prefix(data, data.len() as u64) {
        for t in &header.tensors {
            assert!(t.offset + t.n_bytes <= data.len() as u64);
        }
    }
});
