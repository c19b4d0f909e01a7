//! The validator's side of the worker protocol: spawn, feed, bound, collect.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::{EvalJob, EvalReport, WorkerReply};

/// How to start a worker: the `arena` binary itself with its hidden worker subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// Executable (usually `std::env::current_exe()`).
    pub program: PathBuf,
    /// Arguments (`["validator", "eval-worker"]`).
    pub args: Vec<String>,
    /// Extra environment variables (device selection, log level), on top of the inherited ones.
    pub env: Vec<(String, String)>,
}

/// Bounds on one worker run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Wall-clock limit; the worker is killed (SIGKILL) when it passes.
    pub timeout: Duration,
    /// Address-space cap (`RLIMIT_AS`) in bytes; `None` leaves it unlimited.
    pub memory_bytes: Option<u64>,
    /// Largest reply read from stdout.
    pub max_reply_bytes: u64,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        WorkerLimits {
            timeout: Duration::from_secs(600),
            memory_bytes: Some(16 << 30),
            max_reply_bytes: 64 << 20,
        }
    }
}

/// Why a worker produced no report. Every variant costs only the model being evaluated.
#[derive(Debug, thiserror::Error)]
pub enum WorkerFailure {
    /// The worker could not be started (missing binary, no memory for a fork).
    #[error("cannot start worker {program}: {source}")]
    Spawn {
        /// The executable.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Killed after the wall-clock limit.
    #[error("worker timed out after {0:?}")]
    Timeout(Duration),
    /// Exited with a non-zero status or a signal (a crash, the memory cap, an abort).
    #[error("worker exited with {status}: {stderr_tail}")]
    Crashed {
        /// `exit status: 1`, `signal: 6 (SIGABRT)`, …
        status: String,
        /// The end of its stderr, for the log.
        stderr_tail: String,
    },
    /// Exited cleanly but its stdout is not a reply.
    #[error("worker reply is unreadable: {0}")]
    BadReply(String),
    /// The worker reports that the model cannot be evaluated at all.
    #[error("model could not be evaluated: {0}")]
    Evaluation(String),
}

/// Bytes of stderr kept for the failure message.
const STDERR_TAIL: usize = 2048;

/// Reads everything (so the child never blocks on a full pipe) and keeps the first `max + 1`
/// bytes, or the last `max` when `tail` is set.
async fn drain(mut pipe: impl AsyncRead + Unpin, max: usize, tail: bool) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > max {
                    if tail {
                        kept.drain(..kept.len() - max);
                    } else {
                        kept.truncate(max + 1);
                    }
                }
            }
        }
    }
}

/// Sets the address-space limit in the child between fork and exec.
fn cap_memory(command: &mut Command, bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit is async-signal-safe and the closure touches nothing but its copy of
    // `limit`, as required between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs one job in a fresh worker process under `limits`.
pub async fn run_worker(
    command: &WorkerCommand,
    limits: &WorkerLimits,
    job: &EvalJob,
) -> Result<EvalReport, WorkerFailure> {
    let input =
        serde_json::to_vec(job).map_err(|e| WorkerFailure::BadReply(format!("job: {e}")))?;
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(bytes) = limits.memory_bytes {
        cap_memory(&mut cmd, bytes);
    }
    let mut child = cmd.spawn().map_err(|source| WorkerFailure::Spawn {
        program: command.program.display().to_string(),
        source,
    })?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(WorkerFailure::BadReply(
            "worker pipes were not opened".into(),
        ));
    };
    let max_reply = usize::try_from(limits.max_reply_bytes).unwrap_or(usize::MAX);
    let work = async {
        let feed = async move {
            // A worker that dies early closes its stdin; the exit status tells why.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        };
        let (_, out, err, status) = tokio::join!(
            feed,
            drain(stdout, max_reply, false),
            drain(stderr, STDERR_TAIL, true),
            child.wait()
        );
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(limits.timeout, work).await {
        Ok(done) => done,
        Err(_) => {
            let _ = child.kill().await;
            return Err(WorkerFailure::Timeout(limits.timeout));
        }
    };
    let status = status.map_err(|e| WorkerFailure::Crashed {
        status: format!("unknown ({e})"),
        stderr_tail: String::new(),
    })?;
    if !status.success() {
        return Err(WorkerFailure::Crashed {
            status: status.to_string(),
            stderr_tail: String::from_utf8_lossy(&err).trim().to_string(),
        });
    }
    if out.len() > max_reply {
        return Err(WorkerFailure::BadReply(format!(
            "reply over {max_reply} bytes"
        )));
    }
    // The reply is the last non-empty line: libraries that print to stdout cannot break it.
    let text = String::from_utf8_lossy(&out);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    match serde_json::from_str::<WorkerReply>(last) {
        Ok(WorkerReply::Ok { report }) => Ok(report),
        Ok(WorkerReply::Failed { message }) => Err(WorkerFailure::Evaluation(message)),
        Err(e) => Err(WorkerFailure::BadReply(e.to_string())),
    }
}
