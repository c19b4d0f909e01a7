//! A disk cache of token ids, so that a step's samples are tokenized once and not once per
//! model: the validator runs every model in its own worker process, and when the competition
//! pins a tokenizer they would all compute the same ids.
//!
//! An entry is keyed by the tokenizer's fingerprint (tokenizer.json, chat template, special
//! tokens) and a hash of the samples; inside, ids are looked up by their exact text, so a
//! stale or colliding entry can cost speed but never change a score. The folder must be
//! private to the user (mode 0700), since whoever can write it decides what is scored.
//!
//! File format (little endian): `ARENATOK` + version u32, then two tables (plain, chat), each
//! a u32 count of `(u32 text length, text, u32 id count, ids as u32)`, then the sha256 of
//! everything before it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arena_data::Sample;
use arena_model::tokenizer::TokenMemo;
use sha2::{Digest, Sha256};

use crate::EvalError;

const MAGIC: &[u8; 8] = b"ARENATOK";
const VERSION: u32 = 1;
/// Largest entry read back; a step's samples tokenize to a few MB at most.
pub const MAX_ENTRY_BYTES: u64 = 512 << 20;
/// Entries kept in the folder; older ones are removed when a new one is written.
pub const KEEP_ENTRIES: usize = 16;

/// The cache folder.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

/// The cache key of a tokenizer and the samples of every task (skipped tasks included, so
/// the key changes whenever the step's data does).
pub fn cache_key<'a>(
    fingerprint: &str,
    tasks: impl IntoIterator<Item = Option<&'a [Sample]>>,
) -> String {
    let mut h = Sha256::new();
    h.update(fingerprint.as_bytes());
    for task in tasks {
        // serde_json of a Sample cannot fail (strings and numbers only).
        let json = serde_json::to_vec(&task).unwrap_or_default();
        h.update((json.len() as u64).to_le_bytes());
        h.update(&json);
    }
    hex::encode(h.finalize())
}

impl TokenCache {
    /// Opens (creating it, mode 0700) the cache folder `dir`. Refuses a folder that other
    /// users can write or that belongs to someone else.
    pub fn open(dir: &Path) -> Result<TokenCache, EvalError> {
        let err = |reason: String| EvalError::Cache {
            path: dir.to_path_buf(),
            reason,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, MetadataExt};
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| err(e.to_string()))?;
            let meta = std::fs::metadata(dir).map_err(|e| err(e.to_string()))?;
            if meta.mode() & 0o022 != 0 {
                return Err(err("writable by other users".into()));
            }
            if let Ok(me) = std::fs::metadata("/proc/self") {
                if me.uid() != meta.uid() {
                    return Err(err(format!("owned by uid {}, not by us", meta.uid())));
                }
            }
        }
        #[cfg(not(unix))]
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        Ok(TokenCache {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.tok"))
    }

    /// The memo stored under `key`; `Ok(None)` when there is none.
    pub fn load(&self, key: &str) -> Result<Option<TokenMemo>, EvalError> {
        let path = self.path(key);
        let bad = |reason: String| EvalError::Cache {
            path: path.clone(),
            reason,
        };
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(e.to_string())),
        };
        if len > MAX_ENTRY_BYTES {
            return Err(bad(format!("{len} bytes, over {MAX_ENTRY_BYTES}")));
        }
        let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        decode(&bytes).map(Some).map_err(bad)
    }

    /// Writes `memo` under `key` (atomically, through `arena_fs`), then
    /// keeps only the [`KEEP_ENTRIES`] newest entries.
    pub fn store(&self, key: &str, memo: &TokenMemo) -> Result<(), EvalError> {
        let path = self.path(key);
        let io = |e: std::io::Error| EvalError::Cache {
            path: path.clone(),
            reason: e.to_string(),
        };
        arena_fs::write_atomic(&path, &encode(memo)).map_err(io)?;
        self.prune();
        Ok(())
    }

    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "tok"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.0));
        for (_, old) in files.into_iter().skip(KEEP_ENTRIES) {
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::debug!(path = %old.display(), error = %e, "could not prune a token cache entry");
            }
        }
    }
}

/// Serialises a memo (tables sorted by text, so equal memos give equal files).
pub fn encode(memo: &TokenMemo) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    for table in [&memo.plain, &memo.chat] {
        let mut rows: Vec<(&String, &Vec<u32>)> = table.iter().collect();
        rows.sort();
        out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        for (text, ids) in rows {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
            for id in ids {
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Parses [`encode`]'s output; every length is checked against the bytes left before
/// anything is allocated, so a damaged file is an error, never a huge allocation.
pub fn decode(bytes: &[u8]) -> Result<TokenMemo, String> {
    if bytes.len() < MAGIC.len() + 4 + 32 {
        return Err("truncated".into());
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader { bytes: body, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err("not a token cache file".into());
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!("format version {version}, expected {VERSION}"));
    }
    let mut tables: [HashMap<String, Vec<u32>>; 2] = Default::default();
    for table in &mut tables {
        let rows = r.u32()? as usize;
        for _ in 0..rows {
            let n = r.u32()? as usize;
            let text = std::str::from_utf8(r.take(n)?)
                .map_err(|_| "text is not UTF-8".to_string())?
                .to_string();
            let count = r.u32()? as usize;
            let raw = r.take(count.checked_mul(4).ok_or("id count overflows")?)?;
            let ids = raw
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            table.insert(text, ids);
        }
    }
    if r.at != body.len() {
        return Err(format!("{} trailing bytes", body.len() - r.at));
    }
    let [plain, chat] = tables;
    Ok(TokenMemo {
        plain,
        chat,
        ..TokenMemo::default()
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memo() -> TokenMemo {
        let mut m = TokenMemo::default();
        m.plain.insert("hello".into(), vec![1, 2, 3]);
        m.plain.insert("é".into(), vec![]);
        m.chat.insert("What?".into(), vec![7, 70000, u32::MAX]);
        m
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let bytes = encode(&memo());
        assert_eq!(decode(&bytes).unwrap(), memo());
        assert_eq!(encode(&decode(&bytes).unwrap()), bytes);
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(decode(&flipped).unwrap_err(), "checksum mismatch");
        // A length field claiming 4 GB of ids, with a valid checksum: an error, no allocation.
        let mut huge = bytes[..bytes.len() - 32].to_vec();
        let at = MAGIC.len() + 4 + 4 + 4 + "hello".len();
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let digest = Sha256::digest(&huge);
        huge.extend_from_slice(&digest);
        assert!(decode(&huge).unwrap_err().starts_with("truncated"));
    }

    #[test]
    fn stores_loads_and_keys_on_samples() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::open(&dir.path().join("tok")).unwrap();
        let a = [Sample::new("1", "t", "p", "r")];
        let b = [Sample::new("1", "t", "p", "r2")];
        let key_a = cache_key("fp", [Some(&a[..]), None]);
        assert_ne!(key_a, cache_key("fp", [Some(&b[..]), None]));
        assert_ne!(key_a, cache_key("fp2", [Some(&a[..]), None]));
        assert_ne!(key_a, cache_key("fp", [Some(&a[..])]));
        assert!(cache.load(&key_a).unwrap().is_none());
        cache.store(&key_a, &memo()).unwrap();
        assert_eq!(cache.load(&key_a).unwrap(), Some(memo()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let open = dir.path().join("open");
            std::fs::create_dir(&open).unwrap();
            std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
            assert!(TokenCache::open(&open).is_err());
        }
    }
}
