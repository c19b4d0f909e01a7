//! Clean-up of downloaded model files nothing refers to (SN37 `clean_models`).
//!
//! The cache is laid out as the official client lays it out:
//! `<cache>/models--<ns>--<name>/snapshots/<commit>/…` plus `incomplete/<commit>/` for
//! interrupted downloads. A snapshot is kept while a tracked model record names it as its
//! download path; everything else (revisions replaced by a newer commitment, hotkeys that left
//! the metagraph, snapshots of copied commitments, interrupted downloads) is removed once its
//! newest file is older than the grace period, so a download racing the clean-up is spared.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What one clean-up removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Folders removed (snapshots, interrupted downloads, emptied repo folders).
    pub removed: Vec<PathBuf>,
    /// Folders that could not be removed, with the OS error (tried again next time).
    pub failed: Vec<(PathBuf, String)>,
}

/// Newest modification time of anything under `path` (the folder itself included).
fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mut newest = meta.modified().ok()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).ok()?.flatten() {
            if let Some(t) = newest_mtime(&entry.path()) {
                newest = newest.max(t);
            }
        }
    }
    Some(newest)
}

fn old_enough(path: &Path, grace: Duration, now: SystemTime) -> bool {
    match newest_mtime(path) {
        Some(t) => now.duration_since(t).is_ok_and(|age| age >= grace),
        None => false,
    }
}

fn child_dirs(path: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Removes every snapshot under `cache` that is not in `referenced` and is older than `grace`,
/// every interrupted download older than `grace`, and repo folders left empty. Paths in
/// `referenced` are compared as given and canonicalised, so either spelling protects a folder.
/// Never fails as a whole: a folder that cannot be removed is reported and left.
pub fn remove_unreferenced(
    cache: &Path,
    referenced: &BTreeSet<PathBuf>,
    grace: Duration,
) -> CleanReport {
    let keep: BTreeSet<PathBuf> = referenced
        .iter()
        .flat_map(|p| [p.clone(), p.canonicalize().unwrap_or_else(|_| p.clone())])
        .collect();
    let now = SystemTime::now();
    let mut report = CleanReport::default();
    let remove = |dir: PathBuf, report: &mut CleanReport| match std::fs::remove_dir_all(&dir) {
        Ok(()) => report.removed.push(dir),
        Err(e) => report.failed.push((dir, e.to_string())),
    };
    for repo in child_dirs(cache) {
        let is_repo = repo
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("models--"));
        if !is_repo {
            continue;
        }
        for snapshot in child_dirs(&repo.join("snapshots")) {
            let canonical = snapshot.canonicalize().unwrap_or_else(|_| snapshot.clone());
            if keep.contains(&snapshot) || keep.contains(&canonical) {
                continue;
            }
            if old_enough(&snapshot, grace, now) {
                remove(snapshot, &mut report);
            }
        }
        for partial in child_dirs(&repo.join("incomplete")) {
            if old_enough(&partial, grace, now) {
                remove(partial, &mut report);
            }
        }
        // A repo folder with nothing left but empty `snapshots`/`incomplete` folders goes too.
        let empty = ["snapshots", "incomplete"]
            .iter()
            .all(|sub| std::fs::read_dir(repo.join(sub)).map_or(true, |mut d| d.next().is_none()))
            && std::fs::read_dir(&repo)
                .map(|d| {
                    d.flatten().all(|e| {
                        let n = e.file_name();
                        n == "snapshots" || n == "incomplete"
                    })
                })
                .unwrap_or(false);
        if empty {
            remove(repo, &mut report);
        }
    }
    for dir in &report.removed {
        tracing::info!(dir = %dir.display(), "removed model files nothing refers to");
    }
    for (dir, error) in &report.failed {
        tracing::warn!(dir = %dir.display(), %error, "could not remove unreferenced model files");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(cache: &Path, repo: &str, commit: &str) -> PathBuf {
        let dir = cache.join(repo).join("snapshots").join(commit);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.safetensors"), b"x").unwrap();
        dir
    }

    #[test]
    fn keeps_referenced_and_young_removes_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path();
        let live = snapshot(cache, "models--a--m", "c1");
        let replaced = snapshot(cache, "models--a--m", "c0");
        let gone = snapshot(cache, "models--b--m", "c2");
        let partial = cache.join("models--a--m/incomplete/c3");
        std::fs::create_dir_all(&partial).unwrap();
        std::fs::write(cache.join("unrelated.txt"), b"kept").unwrap();
        let referenced: BTreeSet<PathBuf> = [live.clone()].into();

        // Everything is younger than an hour: nothing goes.
        let report = remove_unreferenced(cache, &referenced, Duration::from_secs(3600));
        assert_eq!(report, CleanReport::default());
        assert!(replaced.exists() && gone.exists() && partial.exists());

        let report = remove_unreferenced(cache, &referenced, Duration::ZERO);
        assert!(report.failed.is_empty(), "{report:?}");
        assert!(
            live.join("model.safetensors").exists(),
            "referenced snapshot kept"
        );
        assert!(!replaced.exists() && !partial.exists());
        assert!(
            !cache.join("models--b--m").exists(),
            "emptied repo folder removed"
        );
        assert!(cache.join("unrelated.txt").exists());
        assert_eq!(report.removed.len(), 4, "{report:?}");

        // A second pass has nothing to do; a referenced path spelled differently still counts.
        let dotted: BTreeSet<PathBuf> =
            [cache.join("models--a--m/snapshots/../snapshots/c1")].into();
        let report = remove_unreferenced(cache, &dotted, Duration::ZERO);
        assert_eq!(report, CleanReport::default());
        assert!(live.exists());
    }
}
