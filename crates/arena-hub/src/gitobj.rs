//! Git object ids the Hub protocol exposes: the blob SHA-1 of regular files (`blobId`, tree
//! `oid`, `ETag`) and the Git LFS pointer file that stands in for large files.

use sha1::{Digest, Sha1};

/// Incremental git blob SHA-1: `sha1("blob <len>\0" + content)`. The length must be known up
/// front, which it is for files on disk and for decoded inline content.
pub struct GitBlobHasher(Sha1);

impl GitBlobHasher {
    /// Starts a blob of `len` bytes.
    pub fn new(len: u64) -> Self {
        let mut hasher = Sha1::new();
        hasher.update(format!("blob {len}\0").as_bytes());
        GitBlobHasher(hasher)
    }

    /// Feeds the next chunk of content.
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    /// The 40-hex blob id.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// Git blob SHA-1 of in-memory content.
pub fn git_blob_sha1(content: &[u8]) -> String {
    let mut hasher = GitBlobHasher::new(content.len() as u64);
    hasher.update(content);
    hasher.finish()
}

/// The Git LFS pointer file for an object, as git stores it in the tree.
pub fn lfs_pointer(sha256_hex: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256_hex}\nsize {size}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_blob_ids() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty blob.
        assert_eq!(
            git_blob_sha1(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        // The Hub reports pointerSize 133 for a 12 MiB (8-digit size) object.
        assert_eq!(lfs_pointer(&"0".repeat(64), 12_582_912).len(), 133);
    }
}
