//! Fuzzes the untrusted-batch parser: it must never panic, whatever parses must survive a
//! serialize/parse round trip, and signature checking must not panic either.
#![no_main]

use arena_data::batch::{Batch, BatchLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = BatchLimits::default();
    if let Ok(batch) = Batch::parse(data, &limits) {
        let again = Batch::parse(batch.to_json().as_bytes(), &limits)
            .expect("a parsed batch re-parses");
        assert_eq!(again, batch);
        let _ = batch.verify();
        let _ = batch.signing_bytes();
    }
});
