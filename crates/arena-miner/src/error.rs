//! Typed errors of the miner library. Each message is one line that names the file, repo,
//! revision or block involved, so the CLI can print it as it is.

use std::path::PathBuf;

/// Everything a push, a training run or a check can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// The hub refused or failed a request (upload, info, visibility, download).
    #[error("hub: {0}")]
    Hub(#[from] arena_hub::HubError),
    /// The chain refused or failed a call.
    #[error("chain: {0}")]
    Chain(#[from] arena_chain::ChainError),
    /// The commitment built from the repo id, revision and hash is not one validators accept
    /// (for example a repo id of the wrong length).
    #[error("commitment {text:?} is invalid: {source}")]
    Commitment {
        /// The text that failed to parse.
        text: String,
        /// The parser's reason.
        source: arena_core::commitment::CommitmentError,
    },
    /// Reading or writing a local file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The push journal exists but cannot be read as one.
    #[error("push journal {}: {message}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// Why it was refused.
        message: String,
    },
    /// The uploaded revision does not hold the files of the local folder.
    #[error("revision {revision} of {repo} does not match the local folder: {reason}")]
    RevisionMismatch {
        /// Repo id.
        repo: String,
        /// Revision checked.
        revision: String,
        /// The first difference found.
        reason: String,
    },
    /// The hotkey spent this epoch's commitment budget; the next commit can land from `from_block`.
    #[error(
        "commitment budget of {hotkey} is spent for this epoch ({used} of {max} bytes used, \
         this commitment costs {cost}); the next commit is possible from block {from_block} \
         (head is {head}): re-run then, or pass --wait"
    )]
    BudgetExhausted {
        /// The committing hotkey (SS58).
        hotkey: String,
        /// Bytes used this epoch.
        used: u64,
        /// Cost of the refused commitment.
        cost: u64,
        /// Budget per epoch.
        max: u64,
        /// Head block when refused.
        head: u64,
        /// First block that runs in the next epoch's budget.
        from_block: u64,
    },
    /// The commitment was accepted but did not become readable in time.
    #[error("commitment {text:?} not readable on subnet {netuid} after {waited_secs} s; re-run to resume")]
    NotVisible {
        /// The commitment sent.
        text: String,
        /// Subnet.
        netuid: u16,
        /// Seconds waited.
        waited_secs: u64,
    },
    /// The hub still reports the repo private after it was made public.
    #[error("repository {0} is still private after the visibility change")]
    StillPrivate(String),
    /// Loading, training, saving or scoring a model failed.
    #[error("model: {0}")]
    Model(#[from] arena_model::ModelError),
    /// A training run was asked for something it cannot do (bad data, a checkpoint of a
    /// different run, a competition that does not exist).
    #[error("{0}")]
    Train(String),
    /// A committed model could not be fetched or was refused by the validator's checks.
    #[error("uid {uid} ({hotkey}): {reason}")]
    Fetch {
        /// The uid whose commitment was followed.
        uid: u16,
        /// Its hotkey (SS58).
        hotkey: String,
        /// Why it failed.
        reason: String,
    },
    /// The folder fails checks validators run (every failure, with its stable code).
    #[error(
        "{} fails the validators' checks for competition {competition}: {}",
        dir.display(),
        summarize_failures(failures)
    )]
    Constraints {
        /// The model folder.
        dir: PathBuf,
        /// The competition whose constraints were applied.
        competition: u32,
        /// `(code, message)` of each failure.
        failures: Vec<(String, String)>,
    },
    /// The pushing hotkey has no uid on the subnet: validators ignore its commitments.
    #[error(
        "hotkey {hotkey} is not registered on subnet {netuid}: register it first \
         (`arena chain register --netuid {netuid}`), then push again"
    )]
    NotRegistered {
        /// The hotkey (SS58).
        hotkey: String,
        /// Subnet.
        netuid: u16,
    },
    /// The competition id is not one the schedule runs at the current block.
    #[error(
        "competition {competition} is not active at block {block} in {schedule} \
         (active: {active:?}); validators would reject the commitment"
    )]
    UnknownCompetition {
        /// The requested id.
        competition: u32,
        /// Head block.
        block: u64,
        /// Which schedule was read.
        schedule: String,
        /// Ids active at that block.
        active: Vec<u32>,
    },
    /// A blocking task (hashing) panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

/// The first few failures, `code: message; …`, and how many there are in all.
fn summarize_failures(failures: &[(String, String)]) -> String {
    const SHOWN: usize = 3;
    let mut text = failures
        .iter()
        .take(SHOWN)
        .map(|(code, message)| format!("{code}: {message}"))
        .collect::<Vec<_>>()
        .join("; ");
    if failures.len() > SHOWN {
        text.push_str(&format!(
            "; … {} failures in all (`arena model check DIR --competition ID` lists them)",
            failures.len()
        ));
    }
    text
}

impl MinerError {
    /// A closure for `map_err` that wraps an I/O error with its action and path.
    pub fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> MinerError {
        let path = path.to_path_buf();
        move |source| MinerError::Io {
            action,
            path,
            source,
        }
    }
}
