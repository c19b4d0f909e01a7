//! The name rules the hub applies to what arrives in a URL or a commit (file paths, repo ids,
//! revisions, LFS oids): they must never panic, and whatever they accept must be unable to
//! leave the repository's directory.
#![no_main]

use arena_hub::paths::{
    is_commit_id, is_repo_name_part, is_sha256_hex, split_repo_id, validate_repo_path,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let s = text.as_ref();
    if validate_repo_path(s).is_ok() {
        assert!(!s.is_empty() && s.len() <= 1024, "{s:?}");
        assert!(
            !s.starts_with('/') && !s.contains('\\') && !s.contains('\0'),
            "{s:?}"
        );
        for part in s.split('/') {
            assert!(!matches!(part, "" | "." | ".." | ".git"), "{s:?}");
            assert!(!part.chars().any(char::is_control), "{s:?}");
        }
        // Joined under a root, the path stays under it.
        let root = std::path::Path::new("/store/repo");
        let joined = root.join(s);
        assert!(joined.starts_with(root), "{s:?}");
        assert!(joined.components().all(|c| matches!(
            c,
            std::path::Component::RootDir | std::path::Component::Normal(_)
        )));
    }
    if let Ok((namespace, name)) = split_repo_id(s) {
        assert_eq!(format!("{namespace}/{name}"), s);
        for part in [namespace, name] {
            assert!(is_repo_name_part(part), "{s:?}");
            assert!(validate_repo_path(part).is_ok(), "{s:?}");
            assert!(!part.contains('/') && part != "." && part != "..", "{s:?}");
        }
    }
    if is_commit_id(s) {
        assert!(s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    if is_sha256_hex(s) {
        assert!(s.len() == 64 && validate_repo_path(&s[..2]).is_ok());
    }
});
