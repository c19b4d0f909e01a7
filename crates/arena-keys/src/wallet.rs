//! Wallets in Bittensor's on-disk layout, so keys made by `btcli` load here and ours load there:
//!
//! ```text
//! <root>/<wallet>/coldkey              keypair, NaCl-encrypted with a password (or plain)
//! <root>/<wallet>/coldkeypub.txt       public half, plain
//! <root>/<wallet>/hotkeys/<name>       keypair, plain
//! <root>/<wallet>/hotkeys/<name>pub.txt public half, plain
//! ```
//!
//! The default root is `~/.bittensor/wallets`, the one bittensor uses.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::keyfile::{self, KeyfileContent, KeyfileError};
use crate::{KeyError, Keypair, PublicKey};

/// Why a wallet operation failed. Every variant names the wallet, key or file.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A keyfile could not be read, decrypted or written.
    #[error(transparent)]
    Keyfile(#[from] KeyfileError),
    /// No wallet directory of that name under the root.
    #[error("wallet {name:?} not found: {} does not exist", path.display())]
    NoWallet {
        /// The wallet name.
        name: String,
        /// The folder looked for.
        path: PathBuf,
    },
    /// A wallet or hotkey name that would escape the layout (empty, `..`, a slash).
    #[error("invalid {kind} name {name:?}: use a plain file name (no '/', not '.' or '..')")]
    InvalidName {
        /// What the name is for (wallet or hotkey).
        kind: &'static str,
        /// The wallet name.
        name: String,
    },
    /// A mnemonic or generated key was rejected.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The wallet root could not be listed.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The folder looked for.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
}

/// Default wallet root, `~/.bittensor/wallets`, so existing bittensor users' keys just work.
pub fn default_root() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".bittensor")
        .join("wallets")
}

/// Expands a leading `~` to `$HOME`, as bittensor does for wallet paths, so a configured
/// root of `~/.bittensor/wallets` means the same here as in btcli.
pub fn expand_home(root: &Path) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    match root.strip_prefix("~") {
        Ok(rest) => match home() {
            Some(home) => home.join(rest),
            None => root.to_path_buf(),
        },
        Err(_) => root.to_path_buf(),
    }
}

/// One wallet (a coldkey and its hotkeys) under a root directory.
#[derive(Debug, Clone)]
pub struct Wallet {
    name: String,
    path: PathBuf,
}

/// A wallet and the keys [`Wallet::create`] just generated, so the caller can show the
/// mnemonics once.
#[derive(Debug)]
pub struct Created {
    /// The wallet on disk.
    pub wallet: Wallet,
    /// The new coldkey, or `None` when an existing one was kept.
    pub coldkey: Option<Keypair>,
    /// The new hotkey.
    pub hotkey: Keypair,
}

/// A wallet as `arena wallet list --json` shows it. Addresses are `None` when unreadable.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WalletSummary {
    /// Wallet (coldkey) name.
    pub name: String,
    /// SS58 of `coldkeypub.txt`.
    pub coldkey_ss58: Option<String>,
    /// Hotkeys in name order.
    pub hotkeys: Vec<HotkeySummary>,
}

/// A hotkey in a [`WalletSummary`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HotkeySummary {
    /// Hotkey name (its file name).
    pub name: String,
    /// SS58 address, from `<name>pub.txt` or the unencrypted hotkey file.
    pub ss58: Option<String>,
}

fn check_name(kind: &'static str, name: &str) -> Result<(), WalletError> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0'])
        || name.starts_with('.');
    if bad {
        return Err(WalletError::InvalidName {
            kind,
            name: name.to_string(),
        });
    }
    Ok(())
}

impl Wallet {
    /// The wallet `name` under `root` (`~` expanded), which need not exist yet.
    pub fn new(root: &Path, name: &str) -> Result<Wallet, WalletError> {
        check_name("wallet", name)?;
        Ok(Wallet {
            name: name.to_string(),
            path: expand_home(root).join(name),
        })
    }

    /// An existing wallet; errors naming the directory if it is absent.
    pub fn open(root: &Path, name: &str) -> Result<Wallet, WalletError> {
        let wallet = Wallet::new(root, name)?;
        if !wallet.path.is_dir() {
            return Err(WalletError::NoWallet {
                name: name.to_string(),
                path: wallet.path,
            });
        }
        Ok(wallet)
    }

    /// Creates a wallet: a coldkey (unless one exists and `overwrite` is false, then it is
    /// kept) and the hotkey `hotkey`. `password` encrypts the coldkey; `None` leaves it plain.
    pub fn create(
        root: &Path,
        name: &str,
        hotkey: &str,
        words: usize,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<Created, WalletError> {
        let wallet = Wallet::new(root, name)?;
        check_name("hotkey", hotkey)?;
        if !overwrite && wallet.hotkey_path(hotkey).exists() {
            return Err(KeyfileError::Exists {
                path: wallet.hotkey_path(hotkey),
            }
            .into());
        }
        let coldkey = if overwrite || !wallet.coldkey_path().exists() {
            let keypair = Keypair::generate(words)?;
            wallet.set_coldkey(&keypair, password, overwrite)?;
            Some(keypair)
        } else {
            None
        };
        let hot = Keypair::generate(words)?;
        wallet.set_hotkey(hotkey, &hot, overwrite)?;
        Ok(Created {
            wallet,
            coldkey,
            hotkey: hot,
        })
    }

    /// Wallet name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wallet directory, `<root>/<name>`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<wallet>/coldkey`.
    pub fn coldkey_path(&self) -> PathBuf {
        self.path.join("coldkey")
    }

    /// `<wallet>/coldkeypub.txt`.
    pub fn coldkeypub_path(&self) -> PathBuf {
        self.path.join("coldkeypub.txt")
    }

    /// `<wallet>/hotkeys/<name>`.
    pub fn hotkey_path(&self, name: &str) -> PathBuf {
        self.path.join("hotkeys").join(name)
    }

    /// `<wallet>/hotkeys/<name>pub.txt`.
    pub fn hotkeypub_path(&self, name: &str) -> PathBuf {
        self.path.join("hotkeys").join(format!("{name}pub.txt"))
    }

    /// The coldkey's public key from `coldkeypub.txt`; needs no password.
    pub fn coldkeypub(&self) -> Result<PublicKey, WalletError> {
        Ok(keyfile::read(&self.coldkeypub_path(), None)?.public())
    }

    /// Whether the coldkey file is encrypted, so callers know to ask for a password.
    pub fn coldkey_is_encrypted(&self) -> Result<bool, WalletError> {
        Ok(keyfile::is_encrypted(&self.coldkey_path())?)
    }

    /// The coldkey, decrypted with `password` (ignored when the file is plain).
    pub fn coldkey(&self, password: Option<&str>) -> Result<Keypair, WalletError> {
        secret(&self.coldkey_path(), password)
    }

    /// The hotkey `name` (hotkeys are unencrypted in bittensor's default set-up).
    pub fn hotkey(&self, name: &str) -> Result<Keypair, WalletError> {
        self.hotkey_with_password(name, None)
    }

    /// The hotkey `name`, for the rare wallets whose hotkeys were encrypted with a password.
    pub fn hotkey_with_password(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<Keypair, WalletError> {
        check_name("hotkey", name)?;
        secret(&self.hotkey_path(name), password)
    }

    /// The hotkey's public key: from `<name>pub.txt`, else from the unencrypted hotkey file.
    pub fn hotkeypub(&self, name: &str) -> Result<PublicKey, WalletError> {
        check_name("hotkey", name)?;
        let pub_path = self.hotkeypub_path(name);
        let path = if pub_path.exists() {
            pub_path
        } else {
            self.hotkey_path(name)
        };
        Ok(keyfile::read(&path, None)?.public())
    }

    /// Names of the hotkeys in `hotkeys/`, sorted (`*pub.txt` and hidden files skipped).
    pub fn hotkey_names(&self) -> Result<Vec<String>, WalletError> {
        let dir = self.path.join("hotkeys");
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for entry in read_dir(&dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if is_file && !name.starts_with('.') && !name.ends_with("pub.txt") {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Writes `coldkey` (encrypted when `password` is given) and `coldkeypub.txt`.
    pub fn set_coldkey(
        &self,
        keypair: &Keypair,
        password: Option<&str>,
        overwrite: bool,
    ) -> Result<(), WalletError> {
        if !overwrite && self.coldkeypub_path().exists() {
            return Err(KeyfileError::Exists {
                path: self.coldkeypub_path(),
            }
            .into());
        }
        keyfile::write_keypair(&self.coldkey_path(), keypair, password, overwrite)?;
        let public = keyfile::public_json(&keypair.public());
        keyfile::write(&self.coldkeypub_path(), &public, true)?;
        tracing::debug!(wallet = %self.name, ss58 = %keypair.public(), "wrote coldkey");
        Ok(())
    }

    /// Writes the plain hotkey file `hotkeys/<name>` and `hotkeys/<name>pub.txt`.
    pub fn set_hotkey(
        &self,
        name: &str,
        keypair: &Keypair,
        overwrite: bool,
    ) -> Result<(), WalletError> {
        check_name("hotkey", name)?;
        keyfile::write_keypair(&self.hotkey_path(name), keypair, None, overwrite)?;
        let public = keyfile::public_json(&keypair.public());
        keyfile::write(&self.hotkeypub_path(name), &public, true)?;
        tracing::debug!(wallet = %self.name, hotkey = name, ss58 = %keypair.public(), "wrote hotkey");
        Ok(())
    }

    /// A summary for listing; unreadable keys show as `None` (and a warning in the log).
    pub fn summary(&self) -> WalletSummary {
        let coldkey_ss58 = self
            .coldkeypub()
            .map_err(|e| tracing::warn!("{e}"))
            .ok()
            .map(|pk| pk.ss58());
        let names = self.hotkey_names().unwrap_or_else(|e| {
            tracing::warn!("{e}");
            Vec::new()
        });
        let hotkeys = names
            .into_iter()
            .map(|name| HotkeySummary {
                ss58: self
                    .hotkeypub(&name)
                    .map_err(|e| tracing::warn!("{e}"))
                    .ok()
                    .map(|pk| pk.ss58()),
                name,
            })
            .collect();
        WalletSummary {
            name: self.name.clone(),
            coldkey_ss58,
            hotkeys,
        }
    }

    /// Every wallet directory under `root` (`~` expanded), sorted by name. A missing root
    /// lists nothing.
    pub fn list(root: &Path) -> Result<Vec<Wallet>, WalletError> {
        let root = &expand_home(root);
        if !root.is_dir() {
            return Ok(Vec::new());
        }
        let mut wallets = Vec::new();
        for entry in read_dir(root)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.path().is_dir();
            if is_dir && check_name("wallet", &name).is_ok() {
                wallets.push(Wallet::new(root, &name)?);
            }
        }
        wallets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(wallets)
    }
}

fn secret(path: &Path, password: Option<&str>) -> Result<Keypair, WalletError> {
    match keyfile::read(path, password)? {
        KeyfileContent::Secret(keypair) => Ok(keypair),
        KeyfileContent::Public(_) => Err(KeyfileError::NoSecret {
            path: path.to_path_buf(),
        }
        .into()),
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, WalletError> {
    let io = |cause| WalletError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names_and_home_expands() {
        let root = Path::new("/r");
        assert_eq!(
            Wallet::new(root, "w").unwrap().hotkey_path("h"),
            Path::new("/r/w/hotkeys/h")
        );
        assert_eq!(
            Wallet::new(root, "w").unwrap().hotkeypub_path("h"),
            Path::new("/r/w/hotkeys/hpub.txt")
        );
        for bad in ["", ".", "..", "a/b", ".hidden", "a\\b"] {
            let err = Wallet::new(root, bad).unwrap_err();
            assert!(
                matches!(err, WalletError::InvalidName { .. }),
                "{bad:?}: {err}"
            );
        }
        let w = Wallet::new(root, "w").unwrap();
        assert!(matches!(
            w.hotkey("../x"),
            Err(WalletError::InvalidName { .. })
        ));
        if let Some(home) = std::env::var_os("HOME") {
            let expanded = expand_home(Path::new("~/.bittensor/wallets"));
            assert_eq!(expanded, PathBuf::from(home).join(".bittensor/wallets"));
        }
        assert_eq!(expand_home(Path::new("/abs/~x")), Path::new("/abs/~x"));
    }

    #[test]
    fn create_keeps_an_existing_coldkey_and_lists_hotkeys() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let first = Wallet::create(root, "w", "a", 12, None, false).unwrap();
        let cold = first.coldkey.expect("new coldkey").public();
        let second = Wallet::create(root, "w", "b", 24, None, false).unwrap();
        assert!(second.coldkey.is_none(), "existing coldkey kept");
        assert_eq!(second.hotkey.phrase().unwrap().split(' ').count(), 24);
        let wallet = Wallet::open(root, "w").unwrap();
        assert_eq!(wallet.coldkeypub().unwrap(), cold);
        assert_eq!(
            wallet.coldkey(None).unwrap().public(),
            cold,
            "plain coldkey needs no password"
        );
        assert_eq!(wallet.hotkey_names().unwrap(), ["a", "b"]);
        let summary = wallet.summary();
        assert_eq!(summary.hotkeys[1].ss58, Some(second.hotkey.public().ss58()));
        // A missing pub file falls back to the hotkey file; a missing root lists nothing.
        std::fs::remove_file(wallet.hotkeypub_path("a")).unwrap();
        assert_eq!(
            wallet.hotkeypub("a").unwrap(),
            wallet.hotkey("a").unwrap().public()
        );
        assert!(Wallet::list(&root.join("none")).unwrap().is_empty());
        let err = Wallet::open(root, "none").unwrap_err();
        assert!(
            err.to_string().contains("wallet \"none\" not found"),
            "{err}"
        );
    }
}
