//! Model hash and secure hash: the pure combining step.
//!
//! A miner and every validator must compute the same hash for the same model revision, so the
//! rule is defined here once, with no I/O. Reading files and computing each file's digest is the
//! hub crate's job; this module only fixes which files count, in which order digests are
//! combined, and how the hotkey is bound in.
//!
//! ```
//! use arena_core::hash::{directory_hash, file_digest_b64, secure_hash};
//! let files = [("config.json", file_digest_b64(b"{}")), ("model.bin", file_digest_b64(b"x"))];
//! let dir = directory_hash(files.iter().map(|(p, d)| (*p, d.as_str())));
//! let secure = secure_hash(&dir, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
//! assert_eq!(dir.len(), 44);
//! assert_eq!(secure.len(), 44);
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Files of a revision that never count towards the model hash: repository metadata that the
/// hub or the miner may rewrite without changing the model.
pub const EXCLUDED_FILES: [&str; 2] = ["README.md", ".gitattributes"];

/// Whether a repository-relative path (with `/` separators) is part of the model hash.
///
/// Only the top-level `README.md` and `.gitattributes` are excluded; a `sub/README.md` counts,
/// because it could carry model content as well as any other file.
pub fn is_hashed_file(relative_path: &str) -> bool {
    !EXCLUDED_FILES.contains(&relative_path)
}

/// SHA-256 of `bytes` in standard padded base64 (44 characters): the per-file digest.
///
/// For large files the hub crate streams the file through [`Sha256`] and encodes with
/// [`digest_b64`] instead; this helper is for small in-memory content and tests.
pub fn file_digest_b64(bytes: &[u8]) -> String {
    digest_b64(&Sha256::digest(bytes))
}

/// Standard padded base64 of a raw digest, the text form every hash of this module uses.
pub fn digest_b64(raw_digest: &[u8]) -> String {
    STANDARD.encode(raw_digest)
}

/// Directory hash: base64(SHA-256(concatenation of the per-file base64 digests, in sorted path
/// order)).
///
/// Paths are sorted here (byte order of the UTF-8 path), so callers may pass files in any order,
/// for example as parallel workers finish. Files excluded by [`is_hashed_file`] are skipped, so
/// callers may also pass every file of the revision.
pub fn directory_hash<'a, I>(files: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut entries: Vec<(&str, &str)> = files
        .into_iter()
        .filter(|(path, _)| is_hashed_file(path))
        .collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut hasher = Sha256::new();
    for (_, digest) in entries {
        hasher.update(digest.as_bytes());
    }
    digest_b64(&hasher.finalize())
}

/// Secure hash: base64(SHA-256(utf8(directory_hash + hotkey_ss58))).
///
/// Binding the hotkey in means a commitment copied from another miner does not verify for the
/// copier's hotkey; only this value goes on chain.
pub fn secure_hash(directory_hash: &str, hotkey_ss58: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(directory_hash.as_bytes());
    hasher.update(hotkey_ss58.as_bytes());
    digest_b64(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with Python's hashlib/base64:
    //   d = lambda b: base64.b64encode(hashlib.sha256(b).digest()).decode()
    //   dir = d((d(b"a") + d(b"bb")).encode())   # files a.txt="a", b/c.bin="bb"
    //   sec = d((dir + "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").encode())
    const HOTKEY: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn file_digest_matches_known_sha256() {
        // sha256("a") = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb
        assert_eq!(
            file_digest_b64(b"a"),
            "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="
        );
    }

    #[test]
    fn directory_hash_sorts_and_excludes() {
        let a = file_digest_b64(b"a");
        let bb = file_digest_b64(b"bb");
        let readme = file_digest_b64(b"readme");
        let forward = directory_hash([("a.txt", a.as_str()), ("b/c.bin", bb.as_str())]);
        let shuffled = directory_hash([
            ("b/c.bin", bb.as_str()),
            ("README.md", readme.as_str()),
            ("a.txt", a.as_str()),
        ]);
        assert_eq!(forward, shuffled);
        let concatenated = format!("{a}{bb}");
        assert_eq!(forward, file_digest_b64(concatenated.as_bytes()));
        assert_eq!(forward, "MqAluIX1K+DCfGppiPj6edpyB+9KolmQVNfejt6UOZA=");
        assert_eq!(
            secure_hash(&forward, HOTKEY),
            "dZt/PQCJLkwofEexVoADG0g0DYDJP8i5w4wtV6/Qi7Y="
        );
    }

    #[test]
    fn nested_readme_is_hashed() {
        assert!(is_hashed_file("sub/README.md"));
        assert!(!is_hashed_file("README.md"));
        assert!(!is_hashed_file(".gitattributes"));
    }
}
