//! The push journal: one small JSON file per (hotkey, repo) under `<home>/miner/push/`, written
//! atomically (temporary file in the same folder, fsync, rename) after every stage, so a push
//! killed at any point resumes from the last stage it recorded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MinerError;

/// Format version of the journal file; other versions are refused, never guessed at.
pub const JOURNAL_VERSION: u32 = 1;

/// How far a push got. Stages only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The folder was hashed; nothing sent yet.
    Started,
    /// The revision is on the hub (private) and its hash is known.
    Uploaded,
    /// The commitment may have been sent (the nonce before sending is recorded).
    CommitSent,
    /// The commitment was read back from the chain.
    Committed,
    /// The repo is public: the push is complete.
    Public,
}

/// What a push recorded so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushJournal {
    /// [`JOURNAL_VERSION`].
    pub version: u32,
    /// `namespace/name`.
    pub repo_id: String,
    /// Subnet committed to.
    pub netuid: u16,
    /// Competition entered.
    pub competition_id: u32,
    /// Committing hotkey, SS58.
    pub hotkey: String,
    /// Directory hash of the local folder when the push began; a changed folder starts anew.
    pub local_hash: String,
    /// Stage reached.
    pub stage: Stage,
    /// Hub revision uploaded (40 hex).
    pub revision: Option<String>,
    /// Directory hash of that revision, as validators compute it.
    pub directory_hash: Option<String>,
    /// `secure_hash(directory_hash, hotkey)`.
    pub secure_hash: Option<String>,
    /// The commitment text sent to the chain.
    pub commitment: Option<String>,
    /// The hotkey's account nonce just before the commitment was sent.
    pub nonce_before: Option<u64>,
    /// Block the commitment was read back in.
    pub commit_block: Option<u64>,
}

impl PushJournal {
    /// A journal at [`Stage::Started`].
    pub fn new(
        repo_id: &str,
        netuid: u16,
        competition_id: u32,
        hotkey: &str,
        local_hash: &str,
    ) -> PushJournal {
        PushJournal {
            version: JOURNAL_VERSION,
            repo_id: repo_id.to_string(),
            netuid,
            competition_id,
            hotkey: hotkey.to_string(),
            local_hash: local_hash.to_string(),
            stage: Stage::Started,
            revision: None,
            directory_hash: None,
            secure_hash: None,
            commitment: None,
            nonce_before: None,
            commit_block: None,
        }
    }

    /// Whether this journal records a push of the same content to the same place.
    pub fn same_push(&self, other: &PushJournal) -> bool {
        self.repo_id == other.repo_id
            && self.netuid == other.netuid
            && self.competition_id == other.competition_id
            && self.hotkey == other.hotkey
            && self.local_hash == other.local_hash
    }
}

/// Where the journal of `hotkey` pushing `repo_id` lives under `home`.
pub fn journal_path(home: &Path, hotkey_ss58: &str, repo_id: &str) -> PathBuf {
    home.join("miner")
        .join("push")
        .join(hotkey_ss58)
        .join(format!("{}.json", repo_id.replace('/', "--")))
}

/// Reads a journal; `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<PushJournal>, MinerError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MinerError::io("reading", path)(e)),
    };
    let journal: PushJournal = serde_json::from_slice(&bytes).map_err(|e| MinerError::Journal {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if journal.version != JOURNAL_VERSION {
        return Err(MinerError::Journal {
            path: path.to_path_buf(),
            message: format!(
                "version {} (this program writes {JOURNAL_VERSION}); move it away to start over",
                journal.version
            ),
        });
    }
    Ok(Some(journal))
}

/// Writes a journal atomically: a reader sees the old or the new file, never a mix.
pub fn save(path: &Path, journal: &PushJournal) -> Result<(), MinerError> {
    let mut bytes = serde_json::to_vec_pretty(journal).map_err(|e| MinerError::Journal {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    arena_fs::write_atomic(path, &bytes).map_err(MinerError::io("writing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_roundtrip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path(), "5Hot", "alice/tiny");
        assert_eq!(load(&path).unwrap(), None);
        let mut j = PushJournal::new("alice/tiny", 1, 2, "5Hot", "abc=");
        j.stage = Stage::Uploaded;
        j.revision = Some("a".repeat(40));
        save(&path, &j).unwrap();
        assert_eq!(load(&path).unwrap(), Some(j.clone()));
        assert!(!path.with_extension("json.tmp").exists());
        assert!(path.ends_with("miner/push/5Hot/alice--tiny.json"));

        std::fs::write(&path, b"{\"version\": 1").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("alice--tiny.json"), "{err}");

        j.version = 9;
        std::fs::write(&path, serde_json::to_vec(&j).unwrap()).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("version 9"), "{err}");
    }

    #[test]
    fn stages_are_ordered() {
        assert!(Stage::Started < Stage::Uploaded);
        assert!(Stage::CommitSent < Stage::Committed);
        assert!(Stage::Committed < Stage::Public);
        let other = PushJournal::new("alice/tiny", 1, 2, "5Hot", "abc=");
        let mut j = other.clone();
        assert!(j.same_push(&other));
        j.local_hash = "changed=".into();
        assert!(!j.same_push(&other));
    }
}
