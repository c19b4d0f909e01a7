//! Hub accounts: random bearer tokens, stored as their sha256 only.
//!
//! `<root>/users.toml` (mode 0600, replaced atomically) lists `[[user]] name = "…"
//! token_sha256 = "…"`; `arena hub user add` appends to it and prints the token once. A running
//! server re-reads it when it changes (see [`Accounts`]), so an account added, rotated or
//! removed takes effect without a restart. Tokens are 32 bytes from the OS RNG, never derived
//! from anything else; a token is looked up by its sha256, which is enough for high-entropy
//! secrets (no salt or slow hash needed).
//!
//! Users files given on the command line (`arena hub serve --users FILE`) use the same format
//! and may also carry a clear `token = "…"` (hashed when read), as configurations written
//! before accounts were hashed do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{HubError, Result};

/// Name of the accounts file under the hub's storage root.
pub const USERS_FILE: &str = "users.toml";

/// Prefix of generated tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "arena_";

/// How often a server looks at its users files while tokens keep matching.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// One account: a name and the sha256 (hex) of its token.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name, also the namespace of the user's repos.
    pub name: String,
    /// Lowercase hex sha256 of the bearer token.
    pub token_sha256: String,
}

/// What `add` and `remove` refuse.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name is not a valid namespace.
    #[error(
        "invalid user name {0:?}: 1 to 96 characters of [A-Za-z0-9._-], not starting or \
         ending with '.' or '-', no '..'"
    )]
    InvalidName(String),
    /// `add` without rotation of a name that exists.
    #[error(
        "user {name} already exists in {}: pass --rotate to give it a new token (the old one \
         stops working)",
        path.display()
    )]
    Exists {
        /// The user.
        name: String,
        /// The users file.
        path: PathBuf,
    },
    /// `remove` of a name that does not exist.
    #[error("no user {name} in {}", path.display())]
    Unknown {
        /// The user.
        name: String,
        /// The users file.
        path: PathBuf,
    },
    /// Reading or writing the users file failed.
    #[error(transparent)]
    Hub(#[from] HubError),
}

/// The users file of a hub storage root.
pub fn users_file(root: &Path) -> PathBuf {
    root.join(USERS_FILE)
}

/// A fresh token: [`TOKEN_PREFIX`] and 32 bytes from the OS RNG in unpadded base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Lowercase hex sha256 of a token, as stored.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_sha256: Option<String>,
}

#[derive(Deserialize)]
struct EntriesFile {
    #[serde(default)]
    user: Vec<Entry>,
}

#[derive(Serialize)]
struct AccountsFile<'a> {
    user: &'a [Account],
}

/// Parses a users file: each `[[user]]` has a `name` and either `token_sha256` (64 hex) or a
/// clear `token` (at least 8 characters, hashed here). Names and token hashes must be unique.
pub fn parse_accounts(text: &str, path: &Path) -> Result<Vec<Account>> {
    let bad = |message: String| HubError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let file: EntriesFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut accounts: Vec<Account> = Vec::with_capacity(file.user.len());
    for entry in file.user {
        if !crate::paths::is_repo_name_part(&entry.name) {
            return Err(bad(format!(
                "user {:?}: the name must be a valid namespace",
                entry.name
            )));
        }
        let token_sha256 = match (entry.token, entry.token_sha256) {
            (Some(token), None) if token.len() >= 8 => token_sha256(&token),
            (None, Some(hash)) if crate::paths::is_sha256_hex(&hash) => hash,
            _ => {
                return Err(bad(format!(
                    "user {:?}: give either token (at least 8 characters) or token_sha256 \
                     (64 lowercase hex digits)",
                    entry.name
                )))
            }
        };
        if accounts.iter().any(|a| a.name == entry.name) {
            return Err(bad(format!("user {:?} is listed twice", entry.name)));
        }
        if let Some(other) = accounts.iter().find(|a| a.token_sha256 == token_sha256) {
            return Err(bad(format!(
                "users {:?} and {:?} have the same token",
                other.name, entry.name
            )));
        }
        accounts.push(Account {
            name: entry.name,
            token_sha256,
        });
    }
    Ok(accounts)
}

/// Reads a users file; a missing file has no accounts.
pub fn read_accounts(path: &Path) -> Result<Vec<Account>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_accounts(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(HubError::io("reading", path)(e)),
    }
}

/// Creates `name` in the users file of `root` with a fresh token, which it returns (the file
/// keeps its hash only). An existing name is refused unless `rotate`, which replaces its token.
pub fn add_user(
    root: &Path,
    name: &str,
    rotate: bool,
) -> std::result::Result<String, AccountError> {
    if !crate::paths::is_repo_name_part(name) {
        return Err(AccountError::InvalidName(name.to_string()));
    }
    let path = users_file(root);
    let mut accounts = read_accounts(&path)?;
    let token = new_token();
    let account = Account {
        name: name.to_string(),
        token_sha256: token_sha256(&token),
    };
    match accounts.iter_mut().find(|a| a.name == name) {
        Some(_) if !rotate => {
            return Err(AccountError::Exists {
                name: name.to_string(),
                path,
            })
        }
        Some(existing) => *existing = account,
        None => accounts.push(account),
    }
    write_accounts(&path, &accounts)?;
    Ok(token)
}

/// Deletes `name` from the users file of `root` (its token stops working).
pub fn remove_user(root: &Path, name: &str) -> std::result::Result<(), AccountError> {
    let path = users_file(root);
    let mut accounts = read_accounts(&path)?;
    let before = accounts.len();
    accounts.retain(|a| a.name != name);
    if accounts.len() == before {
        return Err(AccountError::Unknown {
            name: name.to_string(),
            path,
        });
    }
    write_accounts(&path, &accounts)?;
    Ok(())
}

/// Whether `token` is the current token of `name` in the users file of `root`.
pub fn has_token(root: &Path, name: &str, token: &str) -> Result<bool> {
    let hash = token_sha256(token);
    Ok(read_accounts(&users_file(root))?
        .iter()
        .any(|a| a.name == name && a.token_sha256 == hash))
}

/// Replaces the users file: a 0600 temp file in the same folder, fsync, rename, fsync the folder.
fn write_accounts(path: &Path, accounts: &[Account]) -> Result<()> {
    let body = toml::to_string(&AccountsFile { user: accounts }).map_err(|e| HubError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let text = format!(
        "# Hub accounts (`arena hub user add|remove|list`): the sha256 of each token, never the \
         token.\n{body}"
    );
    // The temporary file arena-fs writes is created readable by its owner only (0600), so
    // the tokens are never readable by others, not even for a moment.
    arena_fs::write_atomic(path, text.as_bytes()).map_err(HubError::io("writing", path))
}

/// What identifies a version of a file without reading it: a rename (every write here is one)
/// changes the inode even when size and time are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

struct Watched {
    path: PathBuf,
    stamp: Option<Stamp>,
    accounts: Vec<Account>,
}

struct Table {
    files: Vec<Watched>,
    by_hash: HashMap<String, String>,
    checked: Instant,
}

/// The accounts a server accepts: fixed ones plus those of its users files, re-read when a
/// file changes. Files are looked at (one `stat` each) at most once per [`RECHECK_INTERVAL`]
/// while tokens match, and on every unknown token, so a new account works at once and a
/// removed one stops within the interval. A file that no longer parses keeps its last good
/// accounts (and is logged); a file that disappears has none.
pub struct Accounts {
    fixed: Vec<Account>,
    table: Mutex<Table>,
}

impl Accounts {
    /// Loads `files` now; a file that exists but cannot be read or parsed is an error.
    pub fn load(fixed: Vec<Account>, files: Vec<PathBuf>) -> Result<Accounts> {
        let mut watched = Vec::with_capacity(files.len());
        for path in files {
            let stamp = stamp(&path);
            let accounts = read_accounts(&path)?;
            watched.push(Watched {
                path,
                stamp,
                accounts,
            });
        }
        let mut table = Table {
            files: watched,
            by_hash: HashMap::new(),
            checked: Instant::now(),
        };
        table.by_hash = index(&fixed, &table.files);
        Ok(Accounts {
            fixed,
            table: Mutex::new(table),
        })
    }

    /// The user whose token this is, if any.
    pub fn user_of(&self, token: &str) -> Option<String> {
        let hash = token_sha256(token);
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.checked.elapsed() >= RECHECK_INTERVAL {
            self.refresh(&mut table);
        }
        if let Some(name) = table.by_hash.get(&hash) {
            return Some(name.clone());
        }
        self.refresh(&mut table);
        table.by_hash.get(&hash).cloned()
    }

    fn refresh(&self, table: &mut Table) {
        table.checked = Instant::now();
        let mut changed = false;
        for file in &mut table.files {
            let now = stamp(&file.path);
            if now == file.stamp {
                continue;
            }
            file.stamp = now;
            match read_accounts(&file.path) {
                Ok(accounts) => {
                    tracing::info!(
                        path = %file.path.display(),
                        users = accounts.len(),
                        "users file reloaded"
                    );
                    file.accounts = accounts;
                    changed = true;
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "users file not reloaded; keeping its previous accounts"
                    )
                }
            }
        }
        if changed {
            table.by_hash = index(&self.fixed, &table.files);
        }
    }
}

/// token hash → name over every source; a hash claimed by two different names is dropped.
fn index(fixed: &[Account], files: &[Watched]) -> HashMap<String, String> {
    let mut by_hash: HashMap<String, String> = HashMap::new();
    let mut ambiguous = Vec::new();
    for account in fixed.iter().chain(files.iter().flat_map(|f| &f.accounts)) {
        match by_hash.get(&account.token_sha256) {
            Some(name) if *name != account.name => ambiguous.push(account.token_sha256.clone()),
            Some(_) => {}
            None => {
                by_hash.insert(account.token_sha256.clone(), account.name.clone());
            }
        }
    }
    for hash in ambiguous {
        if let Some(name) = by_hash.remove(&hash) {
            tracing::warn!(user = %name, "a token is given to two users: it is refused for both");
        }
    }
    by_hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_long() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(token_sha256(&a).len(), 64);
    }

    #[test]
    fn parse_accepts_clear_and_hashed_tokens_and_refuses_bad_entries() {
        let path = Path::new("users.toml");
        let hash = token_sha256("alice-token-0123");
        let text = format!(
            "[[user]]\nname = \"alice\"\ntoken_sha256 = \"{hash}\"\n\
             [[user]]\nname = \"bob\"\ntoken = \"bob-token-4567\"\n"
        );
        let accounts = parse_accounts(&text, path).unwrap();
        assert_eq!(accounts[0].token_sha256, hash);
        assert_eq!(accounts[1].token_sha256, token_sha256("bob-token-4567"));
        for bad in [
            "[[user]]\nname = \"a\"\n",
            "[[user]]\nname = \"a\"\ntoken = \"short\"\n",
            "[[user]]\nname = \"a\"\ntoken_sha256 = \"ABC\"\n",
            "[[user]]\nname = \"../x\"\ntoken = \"long-enough\"\n",
            "[[user]]\nname = \"a\"\ntoken = \"long-enough\"\n\
             [[user]]\nname = \"a\"\ntoken = \"other-one-x\"\n",
            "[[user]]\nname = \"a\"\ntoken = \"long-enough\"\n\
             [[user]]\nname = \"b\"\ntoken = \"long-enough\"\n",
            "[[user]]\nname = \"a\"\ntoken = \"long-enough\"\nextra = 1\n",
        ] {
            let err = parse_accounts(bad, path).unwrap_err();
            assert!(matches!(err, HubError::Parse { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn add_refuses_an_existing_name_unless_rotating_and_remove_revokes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("hub");
        let first = add_user(&root, "carol", false).unwrap();
        assert!(has_token(&root, "carol", &first).unwrap());
        let err = add_user(&root, "carol", false).unwrap_err();
        assert!(matches!(err, AccountError::Exists { .. }), "{err}");
        assert!(
            has_token(&root, "carol", &first).unwrap(),
            "a refusal changes nothing"
        );
        let second = add_user(&root, "carol", true).unwrap();
        assert!(!has_token(&root, "carol", &first).unwrap());
        assert!(has_token(&root, "carol", &second).unwrap());
        assert!(matches!(
            add_user(&root, "no/slash", false),
            Err(AccountError::InvalidName(_))
        ));
        remove_user(&root, "carol").unwrap();
        assert!(read_accounts(&users_file(&root)).unwrap().is_empty());
        assert!(matches!(
            remove_user(&root, "carol"),
            Err(AccountError::Unknown { .. })
        ));
        // No temp file is left behind.
        let names: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(USERS_FILE)]);
    }

    #[test]
    fn a_file_that_stops_parsing_keeps_its_last_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let token = add_user(root, "dave", false).unwrap();
        let accounts = Accounts::load(Vec::new(), vec![users_file(root)]).unwrap();
        assert_eq!(accounts.user_of(&token).as_deref(), Some("dave"));
        std::fs::write(users_file(root), "[[user]\nbroken").unwrap();
        assert_eq!(accounts.user_of("some-other-token"), None);
        assert_eq!(accounts.user_of(&token).as_deref(), Some("dave"));
        std::fs::remove_file(users_file(root)).unwrap();
        assert_eq!(accounts.user_of("yet-another-token"), None);
        assert_eq!(
            accounts.user_of(&token),
            None,
            "a deleted file has no accounts"
        );
    }
}
