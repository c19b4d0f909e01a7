//! The model commitment a miner writes on chain:
//! `namespace:name:commit:secure_hash:competition_id`, UTF-8, at most 128 bytes.

use std::fmt;
use std::str::FromStr;

/// Largest commitment the chain accepts (the Commitments pallet's `Raw` field).
pub const MAX_COMMITMENT_BYTES: usize = 128;

/// A parsed model commitment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelCommitment {
    /// Hub namespace (user or organisation).
    pub namespace: String,
    /// Hub repository name.
    pub name: String,
    /// Hub revision: 40 lowercase hex digits.
    pub commit: String,
    /// base64(sha256(directory_hash ‖ hotkey_ss58)), 44 characters.
    pub secure_hash: String,
    /// Competition id the model enters.
    pub competition_id: u32,
}

/// Why a commitment text is not a model pointer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommitmentError {
    /// Longer than a `Raw` commitment field holds (its length in bytes).
    #[error("commitment is {0} bytes; at most 128 are allowed")]
    TooLong(usize),
    /// Not five `:`-separated fields (the count found).
    #[error("commitment must have 5 ':'-separated fields, found {0}")]
    FieldCount(usize),
    /// The repository id is not `namespace/name` of 4 to 38 characters.
    #[error("repo id {0:?} must be 4 to 38 characters of the form namespace/name")]
    RepoId(String),
    /// The revision is not a 40-digit commit id.
    #[error("revision {0:?} is not 40 hex digits")]
    Revision(String),
    /// The hotkey-bound hash is not 44 characters of base64.
    #[error("secure hash {0:?} is not 44 characters of base64")]
    SecureHash(String),
    /// The competition id is not a non-negative integer.
    #[error("competition id {0:?} is not a non-negative integer")]
    Competition(String),
}

impl ModelCommitment {
    /// `namespace/name`.
    pub fn repo_id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

fn valid_repo_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !s.starts_with('.')
        && !s.contains("..")
}

impl FromStr for ModelCommitment {
    type Err = CommitmentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_COMMITMENT_BYTES {
            return Err(CommitmentError::TooLong(s.len()));
        }
        let fields: Vec<&str> = s.split(':').collect();
        if fields.len() != 5 {
            return Err(CommitmentError::FieldCount(fields.len()));
        }
        let (namespace, name) = (fields[0], fields[1]);
        let repo = format!("{namespace}/{name}");
        if !(4..=38).contains(&repo.len()) || !valid_repo_part(namespace) || !valid_repo_part(name)
        {
            return Err(CommitmentError::RepoId(repo));
        }
        let commit = fields[2];
        if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CommitmentError::Revision(commit.to_string()));
        }
        let secure_hash = fields[3];
        let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
        if secure_hash.len() != 44 || !secure_hash.bytes().all(b64) {
            return Err(CommitmentError::SecureHash(secure_hash.to_string()));
        }
        let competition_id = fields[4]
            .parse::<u32>()
            .map_err(|_| CommitmentError::Competition(fields[4].to_string()))?;
        Ok(ModelCommitment {
            namespace: namespace.to_string(),
            name: name.to_string(),
            commit: commit.to_ascii_lowercase(),
            secure_hash: secure_hash.to_string(),
            competition_id,
        })
    }
}

impl fmt::Display for ModelCommitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}:{}",
            self.namespace, self.name, self.commit, self.secure_hash, self.competition_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "alice:tiny-1:0123456789abcdef0123456789abcdef01234567:\
                        q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=:1";

    #[test]
    fn roundtrip() {
        let c: ModelCommitment = GOOD.parse().unwrap();
        assert_eq!(c.repo_id(), "alice/tiny-1");
        assert_eq!(c.competition_id, 1);
        assert_eq!(c.to_string(), GOOD);
        assert!(GOOD.len() <= MAX_COMMITMENT_BYTES);
    }

    #[test]
    fn malformed() {
        use CommitmentError::*;
        let parse = |s: &str| s.parse::<ModelCommitment>().unwrap_err();
        assert!(matches!(parse("a:b:c"), FieldCount(3)));
        assert!(matches!(
            parse(&GOOD.replace("alice:tiny-1", "a:b")),
            RepoId(_)
        ));
        assert!(matches!(parse(&GOOD.replace("alice", "../x")), RepoId(_)));
        assert!(matches!(
            parse(&GOOD.replace("01234567:", "0123456z:")),
            Revision(_)
        ));
        assert!(matches!(parse(&GOOD.replace("q80=", "q8=")), SecureHash(_)));
        assert!(matches!(
            parse(&GOOD.replace("=:1", "=:-1")),
            Competition(_)
        ));
        let long = format!("{}{}", GOOD, "0".repeat(129 - GOOD.len()));
        assert!(matches!(parse(&long), TooLong(129)));
    }
}
