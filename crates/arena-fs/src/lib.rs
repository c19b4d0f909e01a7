//! `arena-fs`: publish files and folders so that a reader (or a process restarted after a
//! crash) sees the old content or the new one, never a mix.
//!
//! Every place in the workspace that replaces a file another process may read goes through
//! this crate: the validator's and localnet's state files, the miner's push journal, the hub's
//! metadata and user list, wallet key files, the evaluation cache, GGUF import and trainer
//! checkpoints. The recipe is always the same: write a temporary file in the destination's
//! folder (same filesystem, so the rename is atomic), flush and `fsync` it, rename it over the
//! destination, then `fsync` the folder so the rename itself survives a power cut.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("state.json");
//! arena_fs::write_atomic(&path, b"{\"v\":1}")?;
//! arena_fs::write_atomic(&path, b"{\"v\":2}")?;
//! assert_eq!(std::fs::read(&path)?, b"{\"v\":2}");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The folder a path lives in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `bytes` atomically, creating missing parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Replaces `path` atomically with what `fill` writes (through a 1 MiB buffer), for content
/// too large to hold in memory. If `fill` fails, the destination is untouched and the
/// temporary file is removed.
pub fn write_atomic_with<F>(path: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let dir = parent_of(path);
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    let (file, tmp_path) = tmp.into_parts();
    let mut out = BufWriter::with_capacity(1 << 20, file);
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    tmp_path.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Replaces the folder `dest` with the folder that `fill` builds, as completely as a
/// filesystem allows: `fill` writes into a fresh staging folder beside `dest`; its files are
/// fsynced; the old `dest` (if any) is renamed aside, the staging folder renamed into place,
/// then the old one removed. A crash leaves `dest` either whole-old or whole-new, or (between
/// the two renames) absent with the old copy at `<dest>.old`, which [`recover_dir`] restores.
pub fn replace_dir<F, E>(dest: &Path, fill: F) -> Result<(), E>
where
    F: FnOnce(&Path) -> Result<(), E>,
    E: From<io::Error>,
{
    let parent = parent_of(dest);
    std::fs::create_dir_all(parent)?;
    let staging = sibling(dest, ".partial");
    let old = sibling(dest, ".old");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    if let Err(e) = fill(&staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    sync_tree(&staging)?;
    recover_dir(dest)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if dest.exists() {
        std::fs::rename(dest, &old)?;
    }
    std::fs::rename(&staging, dest)?;
    sync_dir(parent);
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Puts back the previous folder left at `<dest>.old` by a [`replace_dir`] that crashed between
/// its two renames. Does nothing when `dest` exists.
pub fn recover_dir(dest: &Path) -> io::Result<()> {
    let old = sibling(dest, ".old");
    if !dest.exists() && old.is_dir() {
        std::fs::rename(&old, dest)?;
        sync_dir(parent_of(dest));
    }
    Ok(())
}

/// `dest` with `suffix` appended to its file name.
fn sibling(dest: &Path, suffix: &str) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    parent_of(dest).join(name)
}

/// Fsyncs every file under `dir`, then the folders themselves.
fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)?.sync_all()?;
        }
    }
    sync_dir(dir);
    Ok(())
}

/// Fsyncs a folder so a rename inside it is durable. Best effort: some platforms and
/// filesystems do not allow opening a folder, and the data itself is already synced.
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temporary file was removed");
    }

    #[test]
    fn parents_are_created_and_bare_names_work() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("x/y/z.bin");
        write_atomic(&nested, &[1, 2, 3]).unwrap();
        assert_eq!(std::fs::read(&nested).unwrap(), [1, 2, 3]);
        assert_eq!(parent_of(Path::new("z.bin")), Path::new("."));
    }

    #[test]
    fn replace_dir_swaps_whole_folders_and_recovers_a_crash_between_renames() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("ckpt");
        replace_dir::<_, io::Error>(&dest, |d| std::fs::write(d.join("w"), b"1")).unwrap();
        replace_dir::<_, io::Error>(&dest, |d| std::fs::write(d.join("w"), b"2")).unwrap();
        assert_eq!(std::fs::read(dest.join("w")).unwrap(), b"2");
        // A failing fill keeps the old folder and removes the staging one.
        let err = replace_dir::<_, io::Error>(&dest, |_| Err(io::Error::other("boom")));
        assert!(err.is_err());
        assert_eq!(std::fs::read(dest.join("w")).unwrap(), b"2");
        assert!(!sibling(&dest, ".partial").exists());
        // A crash after the first rename: dest is gone, the old copy sits aside.
        std::fs::rename(&dest, sibling(&dest, ".old")).unwrap();
        recover_dir(&dest).unwrap();
        assert_eq!(std::fs::read(dest.join("w")).unwrap(), b"2");
    }
}
