//! Model commitments as read from the chain: parsing must never panic, and what parses prints
//! to a text that parses to the same value.
#![no_main]

use arena_core::commitment::ModelCommitment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(commitment) = text.parse::<ModelCommitment>() {
        let printed = commitment.to_string();
        assert_eq!(printed.parse::<ModelCommitment>().unwrap(), commitment);
        assert!(!commitment.repo_id().contains(".."));
    }
});
