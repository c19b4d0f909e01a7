//! The competition schedule the leaderboard shows: a fixed one, or a file that is re-read when
//! it changes, as the validators do, so the page follows schedule edits without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arena_core::competition::Schedule;

/// Why the schedule file could not be loaded when the leaderboard started.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleLoadError {
    /// The file could not be read.
    #[error("reading the schedule {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error (in the message, not a separate cause, so it is printed once).
        error: std::io::Error,
    },
    /// The file is not a valid schedule.
    #[error("schedule {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

/// What identifies one version of the file: modification time and length.
type Stamp = (Option<SystemTime>, u64);

struct Loaded {
    schedule: Arc<Schedule>,
    /// Stamp of the file version last read (valid or not), so an unchanged file is not re-read.
    stamp: Option<Stamp>,
    /// Why the current file version could not be used, if it could not.
    error: Option<String>,
}

/// The schedule in force, re-read from its file whenever the file's modification time or length
/// changes. A file that becomes unreadable or invalid keeps the previous schedule, and the error
/// is reported (in `/api/standings`' `schedule_error`) until the file changes again.
///
/// Cloning is cheap: clones share the file and the loaded schedule.
#[derive(Clone)]
pub struct ScheduleSource {
    file: Option<Arc<PathBuf>>,
    state: Arc<Mutex<Loaded>>,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.modified().ok(), meta.len()))
}

fn read(path: &Path) -> Result<(Schedule, Stamp), ScheduleLoadError> {
    let read_err = |error| ScheduleLoadError::Read {
        path: path.to_path_buf(),
        error,
    };
    // The stamp is taken before reading: an edit during the read changes it again, and the
    // next call re-reads.
    let stamp = stamp(path).map_err(read_err)?;
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    let schedule = Schedule::from_toml_str(&text).map_err(|e| ScheduleLoadError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok((schedule, stamp))
}

impl ScheduleSource {
    /// A schedule that never changes (the built-in one, tests).
    pub fn fixed(schedule: Schedule) -> ScheduleSource {
        ScheduleSource {
            file: None,
            state: Arc::new(Mutex::new(Loaded {
                schedule: Arc::new(schedule),
                stamp: None,
                error: None,
            })),
        }
    }

    /// Reads `path` now (failing if it is unreadable or invalid: there is nothing to show yet)
    /// and follows its later changes.
    pub fn file(path: impl Into<PathBuf>) -> Result<ScheduleSource, ScheduleLoadError> {
        let path = path.into();
        let (schedule, stamp) = read(&path)?;
        Ok(ScheduleSource {
            file: Some(Arc::new(path)),
            state: Arc::new(Mutex::new(Loaded {
                schedule: Arc::new(schedule),
                stamp: Some(stamp),
                error: None,
            })),
        })
    }

    /// Follows `path`, starting from `schedule`, which the caller has just read from it; the
    /// file is read again on first use only if it changed since (or cannot be stat'ed now).
    pub fn file_with(path: impl Into<PathBuf>, schedule: Schedule) -> ScheduleSource {
        let path = path.into();
        let stamp = stamp(&path).ok();
        ScheduleSource {
            file: Some(Arc::new(path)),
            state: Arc::new(Mutex::new(Loaded {
                schedule: Arc::new(schedule),
                stamp,
                error: None,
            })),
        }
    }

    /// The file followed, if any.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref().map(PathBuf::as_path)
    }

    /// The schedule in force, re-reading the file if it changed, and why the file's current
    /// version could not be used (then the schedule is the previous one). Blocking (file I/O).
    pub fn current(&self) -> (Arc<Schedule>, Option<String>) {
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(path) = &self.file {
            let now = stamp(path).ok();
            if now.is_none() || now != state.stamp {
                match read(path) {
                    Ok((schedule, stamp)) => {
                        tracing::info!(path = %path.display(), "leaderboard: schedule reloaded");
                        state.schedule = Arc::new(schedule);
                        state.stamp = Some(stamp);
                        state.error = None;
                    }
                    Err(e) => {
                        if state.error.is_none() || now != state.stamp {
                            tracing::warn!(error = %e, "leaderboard: schedule not reloaded, keeping the previous one");
                        }
                        state.stamp = now;
                        state.error = Some(format!("{e}; showing the previous schedule"));
                    }
                }
            }
        }
        (state.schedule.clone(), state.error.clone())
    }
}

impl From<Schedule> for ScheduleSource {
    fn from(schedule: Schedule) -> ScheduleSource {
        ScheduleSource::fixed(schedule)
    }
}
