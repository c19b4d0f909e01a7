//! Hostile node answers: the recorded responses truncated, with flipped bytes, with huge
//! compact length prefixes, and with JSON of the wrong type are errors, never a panic, and
//! no decoding allocates more than one decoded value per input byte.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use arena_chain::Chain;
use arena_subtensor::replay::{Recording, ReplayServer};
use arena_subtensor::{decode_all, Options, Runtime, Subtensor, Value};
use serde_json::{json, Value as Json};

/// Tracks the largest single allocation.
struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
#[global_allocator]
static ALLOC: Largest = Largest;

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn metadata() -> Vec<u8> {
    data("metadata-finney-spec343-v15.scale")
}

/// The recorded runtime-API answers of the metagraph session with their output types.
fn recorded_answers(rt: &Runtime) -> Vec<(String, u32, Vec<u8>)> {
    let raw: Json = serde_json::from_slice(&data("recorded-finney-rpc.json")).unwrap();
    let mut out = Vec::new();
    for (params, resp) in raw["metagraph"]["state_call"].as_object().unwrap() {
        let params: Json = serde_json::from_str(params).unwrap();
        let name = params[0].as_str().unwrap();
        let (api, method) = name.split_once('_').unwrap();
        let args = match method {
            "get_selective_mechagraph" => vec![Value::U(1), Value::U(0), Value::Seq(vec![])],
            _ => vec![Value::U(1)],
        };
        let (_, _, out_ty) = rt.runtime_api_call(api, method, &args).unwrap();
        let bytes = hex::decode(resp["result"].as_str().unwrap().trim_start_matches("0x")).unwrap();
        out.push((name.to_string(), out_ty, bytes));
    }
    out
}

#[test]
fn mutated_runtime_api_answers_never_panic_or_allocate_hugely() {
    let rt = Runtime::from_bytes(&metadata(), 343, 1).unwrap();
    let answers = recorded_answers(&rt);
    assert_eq!(answers.len(), 3);
    for (name, ty, bytes) in &answers {
        // The unmutated answer decodes.
        decode_all(rt.types(), *ty, bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        LARGEST.store(0, Ordering::Relaxed);
        // Linear in the input: a byte becomes at most one decoded value.
        let limit = std::mem::size_of::<Value>() * bytes.len() + (1 << 20);
        // Truncated anywhere: always an error.
        let step = (bytes.len() / 150).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            assert!(
                decode_all(rt.types(), *ty, &bytes[..cut]).is_err(),
                "{name} cut {cut}"
            );
        }
        // Flipped bytes: an error or another value, never a panic.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..300 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut m = bytes.clone();
            let at = (seed as usize) % m.len();
            m[at] ^= 1 << (seed >> 61);
            let _ = decode_all(rt.types(), *ty, &m);
        }
        // Huge compact length prefixes (4-byte mode 2^30 − 1, big-integer mode) spliced in
        // at many places, and over the leading prefix.
        for prefix in [
            &[0xfe, 0xff, 0xff, 0xff][..],
            &[0x03, 0xff, 0xff, 0xff, 0xff][..],
            &[0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            for at in (0..bytes.len()).step_by(step * 3) {
                let mut m = bytes[..at].to_vec();
                m.extend_from_slice(prefix);
                m.extend_from_slice(&bytes[at..]);
                let _ = decode_all(rt.types(), *ty, &m);
                let mut over = bytes.clone();
                let end = (at + prefix.len()).min(over.len());
                over[at..end].copy_from_slice(&prefix[..end - at]);
                let _ = decode_all(rt.types(), *ty, &over);
            }
        }
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(largest <= limit, "{name}: an allocation of {largest} bytes");
    }
}

#[test]
fn truncated_or_foreign_metadata_is_an_error() {
    let meta = metadata();
    for cut in [0, 3, 4, 5, 100, meta.len() / 2, meta.len() - 1] {
        assert!(
            Runtime::from_bytes(&meta[..cut], 343, 1).is_err(),
            "cut {cut}"
        );
    }
    assert!(Runtime::from_bytes(b"not metadata at all", 343, 1).is_err());
}

async fn serve(rec: Recording) -> ReplayServer {
    ReplayServer::start(rec, &["metagraph"], &metadata())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_json_types_from_the_node_are_errors() {
    let bad_results = [
        json!({"result": 5}),
        json!({"result": {"a": 1}}),
        json!({"result": [1, 2]}),
        json!({"result": null}),
        json!({"result": "0xzz"}),
        json!({"result": "0x01"}),
        json!({"result": "0xfeffffff"}),
        json!({"error": {"code": -32000, "message": "boom"}}),
        json!({"nothing": true}),
    ];
    for bad in &bad_results {
        // Every runtime-API answer replaced.
        let mut rec = Recording::from_json(&data("recorded-finney-rpc.json")).unwrap();
        for (_, resp) in rec.responses_mut("metagraph", "state_call").unwrap() {
            *resp = bad.clone();
        }
        let server = serve(rec).await;
        let st = Subtensor::connect(&server.ws_url(), Options::default())
            .await
            .unwrap();
        let err = st.metagraph(1).await.unwrap_err();
        assert!(!err.to_string().is_empty(), "{bad}");

        // The header's number of the wrong type.
        let mut rec = Recording::from_json(&data("recorded-finney-rpc.json")).unwrap();
        for (_, resp) in rec.responses_mut("metagraph", "chain_getHeader").unwrap() {
            *resp = json!({"result": {"number": bad.get("result").cloned().unwrap_or(Json::Null)}});
        }
        let server = serve(rec).await;
        let st = Subtensor::connect(&server.ws_url(), Options::default())
            .await
            .unwrap();
        if let Ok(n) = st.block_number().await {
            // Only a number-shaped answer (a JSON number or 0x-hex) may pass, as that number.
            let want = match &bad["result"] {
                Json::Number(x) => x.as_u64(),
                Json::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
                _ => None,
            };
            assert_eq!(want, Some(n), "{bad} gave block {n}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serving_broken_metadata_fails_the_connection() {
    let rec = Recording::from_json(&data("recorded-finney-rpc.json")).unwrap();
    let meta = metadata();
    let server = ReplayServer::start(rec, &["metagraph"], &meta[..meta.len() / 3])
        .await
        .unwrap();
    let err = Subtensor::connect(&server.ws_url(), Options::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("metadata"), "{err}");
}
