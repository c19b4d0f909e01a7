//! Times the decoder body (`CausalLm::hidden`) of a model over one sequence of N tokens and
//! prints the seconds and the process's peak resident memory; a measurement, not a test.
//!
//! `RAYON_NUM_THREADS=2 cargo run --release -p arena-model --example attention_bench --
//! (MODEL_DIR | FILE.gguf) TOKENS [REPEAT]` (a GGUF file is imported into a temporary folder
//! first). Run one length per process: the peak memory is the process's.

use std::path::Path;
use std::time::Instant;

use arena_model::tensor::Tensor;
use arena_model::{load_model, Device};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: attention_bench (MODEL_DIR | FILE.gguf) TOKENS [REPEAT]";
    let mut args = std::env::args().skip(1);
    let model_arg = args.next().ok_or(usage)?;
    let tokens: usize = args.next().ok_or(usage)?.parse()?;
    let repeat: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let imported = tempfile::tempdir()?;
    let dir = if model_arg.ends_with(".gguf") {
        arena_checkpoint::gguf::import_gguf(Path::new(&model_arg), imported.path())?;
        imported.path().to_path_buf()
    } else {
        model_arg.into()
    };
    let model = load_model(&dir, &Device::Cpu)?;
    let vocab = model.config().vocab_size;
    let ids: Vec<u32> = (0..tokens)
        .map(|i| ((i * 7919 + 13) % vocab) as u32)
        .collect();
    let input = Tensor::from_vec(ids, (1, tokens), &Device::Cpu)?;
    let loaded_mib = peak_rss_mib().unwrap_or(f64::NAN);
    // Linux: writing 5 to clear_refs resets the peak, so the peak below is the forward pass's.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let hidden = model.hidden(&input, None)?;
        best = best.min(start.elapsed().as_secs_f64());
        drop(hidden);
    }
    println!(
        "tokens {tokens} threads {} best_seconds {best:.3} tokens_per_s {:.1} peak_rss_mib {:.0} (since load: {reset}) after_load_mib {loaded_mib:.0}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into()),
        tokens as f64 / best,
        peak_rss_mib().unwrap_or(f64::NAN),
    );
    Ok(())
}
