//! A submitted extrinsic as the JSON-RPC server decodes it (`arena_submitExtrinsic` params):
//! decoding, the signing payload and signature verification must never panic; what decodes
//! re-encodes to the same value; a fuzzed signature never verifies.
#![no_main]

use arena_chain::extrinsic::{signing_payload, SignedExtrinsic};
use arena_chain::BlockHash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let genesis = BlockHash([7; 32]);
    let decoded = serde_json::from_slice::<(SignedExtrinsic,)>(data)
        .map(|(ext,)| ext)
        .or_else(|_| serde_json::from_slice::<SignedExtrinsic>(data));
    if let Ok(ext) = decoded {
        let again: SignedExtrinsic =
            serde_json::from_str(&serde_json::to_string(&ext).unwrap()).unwrap();
        assert_eq!(again, ext);
        let _ = signing_payload(&genesis, &ext.signer, ext.nonce, &ext.call);
        let _ = ext.encoded(&genesis);
        assert!(ext.verify(&genesis).is_err(), "a fuzzed signature verified");
    }
});
