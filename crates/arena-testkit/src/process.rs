//! Running the `arena` binary from a test. The binary's path is the test's own
//! `env!("CARGO_BIN_EXE_arena")`: only the binary crate's tests have it.

use std::process::{Command, Output};

use serde_json::Value;

/// Makes `cmd` independent of the developer's environment (no `HF_TOKEN`, `HF_TOKEN_PATH`,
/// `HF_ENDPOINT`, `ARENA_CONFIG` or `ARENA_HOME`, and an `HF_HOME` without a token file, so a
/// token saved by `hf auth login` is not picked up), logging at `info` with two compute
/// threads; returns it.
pub fn isolated(cmd: &mut Command) -> &mut Command {
    cmd.env("ARENA_LOG", "info").env("RAYON_NUM_THREADS", "2");
    cmd.env_remove("HF_TOKEN").env_remove("HF_ENDPOINT");
    cmd.env_remove("HF_TOKEN_PATH")
        .env("HF_HOME", "/nonexistent/arena-test-hf-home");
    cmd.env_remove("ARENA_CONFIG").env_remove("ARENA_HOME")
}

/// Runs `cmd` to completion on a blocking thread, so that servers of the test's runtime keep
/// answering it.
pub async fn output_blocking(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// The process's stderr, also shown in the test's output (`--nocapture`).
pub fn stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("--- stderr (exit {:?})\n{text}", out.status.code());
    text
}

/// Stdout as one JSON document, or else its last line that starts with `{`.
pub fn last_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Ok(whole) = serde_json::from_str(&stdout) {
        return whole;
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .map(str::to_string)
        .unwrap_or_else(|| stdout.to_string());
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A log with its ANSI colour sequences dropped.
pub fn plain(log: &[u8]) -> String {
    let text = String::from_utf8_lossy(log);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
