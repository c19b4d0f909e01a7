//! Validation of the names that cross the network: repository file paths, repo ids, revisions.
//!
//! Both the server (before touching its store) and the client (before writing into its cache)
//! call these, so a hostile peer can never make either side write outside its directory.

use crate::error::{HubError, Result};

/// Checks a repository-relative file path: `/`-separated, no `..`, `.` or empty component, not
/// absolute, no NUL, no backslash, no `.git` component, at most 1024 bytes.
pub fn validate_repo_path(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(HubError::InvalidPath {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if name.contains('\0') {
        return bad("contains a NUL byte");
    }
    if name.contains('\\') {
        return bad("contains a backslash");
    }
    if name.starts_with('/') {
        return bad("absolute path");
    }
    for part in name.split('/') {
        match part {
            "" => return bad("empty path component"),
            "." => return bad("'.' component"),
            ".." => return bad("'..' component"),
            ".git" => return bad("'.git' component"),
            _ => {}
        }
        if part.chars().any(char::is_control) {
            return bad("contains a control character");
        }
    }
    Ok(())
}

/// Splits and checks `namespace/name`: exactly one `/`, each side 1 to 96 characters of
/// `[A-Za-z0-9._-]`, not starting or ending with `.`/`-`, no `..`.
pub fn split_repo_id(repo_id: &str) -> Result<(&str, &str)> {
    let err = || HubError::InvalidRepoId(repo_id.to_string());
    let (namespace, name) = repo_id.split_once('/').ok_or_else(err)?;
    if !is_repo_name_part(namespace) || !is_repo_name_part(name) {
        return Err(err());
    }
    Ok((namespace, name))
}

/// Whether `part` is a valid namespace or repository name.
pub fn is_repo_name_part(part: &str) -> bool {
    let ok_chars = part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    !part.is_empty()
        && part.len() <= 96
        && ok_chars
        && !part.contains("..")
        && !part.starts_with(['.', '-'])
        && !part.ends_with(['.', '-'])
        && !part.ends_with(".git")
}

/// The kind of a repository: models and datasets live in separate namespaces, so a model
/// `alice/x` and a dataset `alice/x` are two repositories.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    /// A model repository (the default everywhere).
    #[default]
    Model,
    /// A dataset repository.
    Dataset,
}

impl RepoType {
    /// The name the Hub API uses in bodies (`"type"`): `model` or `dataset`.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
        }
    }

    /// The API path segment: `/api/models/…` or `/api/datasets/…`.
    pub fn api_segment(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
        }
    }

    /// What comes before `{id}` in file and LFS URLs: nothing for models, `datasets/` for
    /// datasets (`/datasets/{id}/resolve/…`, `/datasets/{id}.git/info/lfs/…`).
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
        }
    }

    /// Parses the `"type"` of a create or delete body (`None` means model).
    pub fn parse(value: Option<&str>) -> Option<RepoType> {
        match value {
            None | Some("model") => Some(RepoType::Model),
            Some("dataset") => Some(RepoType::Dataset),
            Some(_) => None,
        }
    }
}

/// Whether `revision` is a full commit id: 40 lowercase hex characters.
pub fn is_commit_id(revision: &str) -> bool {
    revision.len() == 40
        && revision
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `oid` is a sha256 LFS object id: 64 lowercase hex characters.
pub fn is_sha256_hex(oid: &str) -> bool {
    oid.len() == 64 && oid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escaping_names() {
        for bad in [
            "../x",
            "a/../b",
            "/etc/passwd",
            "a\0b",
            "a\\b",
            "",
            "a//b",
            "./a",
            ".git/config",
            "a/",
        ] {
            assert!(validate_repo_path(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["config.json", "sub/model.bin", ".gitattributes", "a..b/c"] {
            validate_repo_path(good).unwrap();
        }
    }

    #[test]
    fn repo_ids() {
        assert_eq!(split_repo_id("alice/proto").unwrap(), ("alice", "proto"));
        for bad in ["alice", "a/b/c", "../x", "a/.x", "a/x.git", "a /b"] {
            assert!(split_repo_id(bad).is_err(), "{bad:?} accepted");
        }
        assert!(is_commit_id(&"a".repeat(40)));
        assert!(!is_commit_id(&"A".repeat(40)));
    }
}
