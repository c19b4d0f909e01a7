//! Any text as config.json: parsing must not panic, and the tensor layout derived from an
//! accepted config must be computable without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cfg) = arena_checkpoint::config::ModelConfig::from_json_str(text) {
            let _ = arena_checkpoint::checks::expected_tensors(&cfg);
        }
    }
});
