//! SS58 addresses as they arrive in requests: decoding must never panic, must stay cheap
//! whatever the length (run with -timeout), and what decodes re-encodes to the same address.
#![no_main]

use arena_keys::ss58;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((prefix, key)) = ss58::decode(&text) {
        if prefix >= 64 {
            return; // two-byte prefixes decode, but only simple ones are encoded
        }
        assert_eq!(ss58::encode(&key, prefix), text.as_ref());
    }
});
