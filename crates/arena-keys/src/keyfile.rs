//! Bittensor keyfiles: one JSON object per key, optionally encrypted.
//!
//! The JSON carries `accountId`, `publicKey`, `privateKey`, `secretPhrase`, `secretSeed` and
//! `ss58Address` (byte fields as `0x` hex) plus `cryptoType` (1 = sr25519), exactly as
//! `bittensor-wallet` 4.x writes them. A key is read from the first of `secretPhrase`,
//! `secretSeed`, `privateKey` that is present, the same order Python uses; files with only
//! public fields (`coldkeypub.txt`, `hotkeys/<name>pub.txt`) give a [`PublicKey`]. Every field
//! that is present must agree with the key, so a garbled file is an error, not another key.
//!
//! Encryption is recognised by the file's first bytes: `$NACL` (see [`crate::nacl`]) is read
//! and written, Ansible Vault from older bittensor is read, Fernet is only named. Files are written
//! atomically (temporary file, then rename) with mode 0600, as Python does.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::nacl::{self, Encryption};
use crate::{KeyError, Keypair, PublicKey};

/// `cryptoType` of sr25519 keys in bittensor-wallet; 0 is ed25519, which arena does not use.
pub const CRYPTO_SR25519: u8 = 1;

/// Why a keyfile could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyfileError {
    /// The file system refused (missing file, permissions, full disk).
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The (decrypted) bytes are not a keyfile JSON object: truncated, garbled or another file.
    #[error("{}: not a valid keyfile: {detail}", path.display())]
    Malformed {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A field holds a value that is not a valid key; the value itself is never shown.
    #[error("{}: field {field}: {cause}", path.display())]
    BadField {
        /// The file at fault.
        path: PathBuf,
        /// The keyfile field.
        field: &'static str,
        /// The underlying error.
        cause: KeyError,
    },
    /// Two fields of one keyfile name different keys.
    #[error("{}: {field} does not match the key in the file ({found} vs {expected})", path.display())]
    Mismatch {
        /// The file at fault.
        path: PathBuf,
        /// The keyfile field.
        field: &'static str,
        /// The key the field names.
        found: String,
        /// The key the secret implies.
        expected: String,
    },
    /// The key is not sr25519 (bittensor-wallet can also write ed25519 keys).
    #[error("{}: cryptoType {value} is not sr25519 (1); arena only uses sr25519 keys", path.display())]
    CryptoType {
        /// The file at fault.
        path: PathBuf,
        /// The `cryptoType` found.
        value: i64,
    },
    /// A public-only file was read where a secret key is needed.
    #[error("{}: holds only a public key; a secret key is needed", path.display())]
    NoSecret {
        /// The file at fault.
        path: PathBuf,
    },
    /// The file is encrypted and no password was given.
    #[error("{}: keyfile is encrypted; a password is needed", path.display())]
    NeedsPassword {
        /// The file at fault.
        path: PathBuf,
    },
    /// Decryption failed its authentication check.
    #[error("{}: wrong password (or the encrypted keyfile is corrupted)", path.display())]
    WrongPassword {
        /// The file at fault.
        path: PathBuf,
    },
    /// The encrypted file is shorter than its header, nonce and tag.
    #[error("{}: encrypted keyfile is truncated ({len} bytes)", path.display())]
    Truncated {
        /// The file at fault.
        path: PathBuf,
        /// The file's length in bytes.
        len: usize,
    },
    /// bittensor's oldest encryption (Fernet), recognised but not decrypted: bittensor-wallet
    /// 4.x cannot decrypt it either.
    #[error(
        "{}: encrypted with {method}, which arena cannot read; decrypt it with the old \
         bittensor version that wrote it and re-encrypt it with bittensor-wallet",
        path.display()
    )]
    UnsupportedEncryption {
        /// The file at fault.
        path: PathBuf,
        /// The encryption scheme found.
        method: &'static str,
    },
    /// Refusing to replace an existing keyfile.
    #[error("{}: already exists; refusing to overwrite it", path.display())]
    Exists {
        /// The file at fault.
        path: PathBuf,
    },
    /// Key derivation for encryption failed (out of memory for Argon2's 512 MiB).
    #[error("{}: {detail}", path.display())]
    Crypto {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

/// What a keyfile holds once decrypted.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // short-lived; boxing would only burden callers' matches
pub enum KeyfileContent {
    /// A full keypair (coldkey, hotkey).
    Secret(Keypair),
    /// Only the public half (`coldkeypub.txt`, `<hotkey>pub.txt`).
    Public(PublicKey),
}

impl KeyfileContent {
    /// The public key, whichever half the file held.
    pub fn public(&self) -> PublicKey {
        match self {
            KeyfileContent::Secret(kp) => kp.public(),
            KeyfileContent::Public(pk) => *pk,
        }
    }
}

/// Fields as bittensor-wallet writes them; unknown fields are ignored, null means absent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    account_id: Option<String>,
    public_key: Option<String>,
    private_key: Option<String>,
    secret_phrase: Option<String>,
    secret_seed: Option<String>,
    ss58_address: Option<String>,
    crypto_type: Option<i64>,
}

/// Keyfile JSON for a keypair (hotkey, decrypted coldkey).
pub fn keypair_json(keypair: &Keypair) -> Vec<u8> {
    let public = keypair.public();
    let mut map = serde_json::Map::new();
    map.insert("accountId".into(), public.to_hex().into());
    map.insert("publicKey".into(), public.to_hex().into());
    map.insert(
        "privateKey".into(),
        format!("0x{}", hex::encode(keypair.secret_bytes())).into(),
    );
    if let Some(phrase) = keypair.phrase() {
        map.insert("secretPhrase".into(), phrase.into());
    }
    if let Some(seed) = keypair.seed() {
        map.insert(
            "secretSeed".into(),
            format!("0x{}", hex::encode(seed)).into(),
        );
    }
    map.insert("ss58Address".into(), public.ss58().into());
    map.insert("cryptoType".into(), CRYPTO_SR25519.into());
    serde_json::Value::Object(map).to_string().into_bytes()
}

/// Keyfile JSON for a public key alone (`coldkeypub.txt`, `<hotkey>pub.txt`).
pub fn public_json(public: &PublicKey) -> Vec<u8> {
    serde_json::json!({
        "accountId": public.to_hex(),
        "publicKey": public.to_hex(),
        "ss58Address": public.ss58(),
        "cryptoType": CRYPTO_SR25519,
    })
    .to_string()
    .into_bytes()
}

/// Parses decrypted keyfile bytes; `path` only names the file in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<KeyfileContent, KeyfileError> {
    let malformed = |detail: String| KeyfileError::Malformed {
        path: path.to_path_buf(),
        detail,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8 text".into()))?;
    let fields: Fields = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    if let Some(value) = fields.crypto_type {
        if value != i64::from(CRYPTO_SR25519) {
            return Err(KeyfileError::CryptoType {
                path: path.to_path_buf(),
                value,
            });
        }
    }
    let bad = |field: &'static str| {
        move |cause: KeyError| KeyfileError::BadField {
            path: path.to_path_buf(),
            field,
            cause,
        }
    };
    let secret = if let Some(phrase) = &fields.secret_phrase {
        Some(Keypair::from_phrase(phrase).map_err(bad("secretPhrase"))?)
    } else if let Some(seed) = &fields.secret_seed {
        let seed = secret_hex::<32>(seed).map_err(bad("secretSeed"))?;
        Some(Keypair::from_seed(seed).map_err(bad("secretSeed"))?)
    } else if let Some(private) = &fields.private_key {
        let bytes = secret_hex::<64>(private).map_err(bad("privateKey"))?;
        Some(Keypair::from_secret_bytes(&bytes).map_err(bad("privateKey"))?)
    } else {
        None
    };
    // Each public field present must name the same key; the first one found fixes it.
    let mut public = secret.as_ref().map(Keypair::public);
    let claims = [
        ("publicKey", fields.public_key.as_deref(), false),
        ("accountId", fields.account_id.as_deref(), false),
        ("ss58Address", fields.ss58_address.as_deref(), true),
    ];
    for (field, value, is_ss58) in claims {
        let Some(value) = value else { continue };
        let claimed = if is_ss58 {
            PublicKey::from_ss58(value)
        } else {
            PublicKey::from_hex(value)
        }
        .map_err(bad(field))?;
        match public {
            None => public = Some(claimed),
            Some(expected) if expected != claimed => {
                return Err(KeyfileError::Mismatch {
                    path: path.to_path_buf(),
                    field,
                    found: claimed.ss58(),
                    expected: expected.ss58(),
                })
            }
            Some(_) => {}
        }
    }
    match (secret, public) {
        (Some(keypair), _) => Ok(KeyfileContent::Secret(keypair)),
        (None, Some(public)) => Ok(KeyfileContent::Public(public)),
        (None, None) => Err(malformed(
            "no key field (secretPhrase, secretSeed, privateKey, publicKey, accountId, ss58Address)"
                .into(),
        )),
    }
}

/// Hex of exactly `N` bytes; errors never echo the (secret) value.
fn secret_hex<const N: usize>(value: &str) -> Result<[u8; N], KeyError> {
    let bytes = hex::decode(value.strip_prefix("0x").unwrap_or(value))
        .map_err(|e| KeyError::SecretKey(format!("not hex ({e})")))?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| KeyError::SecretKey(format!("{} bytes; expected {N}", bytes.len())))
}

/// Reads and decrypts (when a password is given and needed) a keyfile.
pub fn read(path: &Path, password: Option<&str>) -> Result<KeyfileContent, KeyfileError> {
    let bytes = read_bytes(path)?;
    let method = nacl::detect(&bytes);
    let plain = match method {
        Encryption::None => bytes,
        Encryption::Nacl | Encryption::AnsibleVault => {
            let password = password.ok_or_else(|| KeyfileError::NeedsPassword {
                path: path.to_path_buf(),
            })?;
            if method == Encryption::Nacl {
                nacl::decrypt(&bytes, password, path)?
            } else {
                crate::ansible::decrypt(&bytes, password, path)?
            }
        }
        Encryption::LegacyFernet => {
            return Err(KeyfileError::UnsupportedEncryption {
                path: path.to_path_buf(),
                method: method.name(),
            })
        }
    };
    parse(&plain, path)
}

/// How the keyfile at `path` is encrypted, so a caller knows whether to ask for a password.
pub fn encryption(path: &Path) -> Result<Encryption, KeyfileError> {
    Ok(nacl::detect(&read_bytes(path)?))
}

/// Whether the keyfile at `path` is encrypted (any method bittensor has used).
pub fn is_encrypted(path: &Path) -> Result<bool, KeyfileError> {
    Ok(encryption(path)? != Encryption::None)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, KeyfileError> {
    std::fs::read(path).map_err(|cause| KeyfileError::Io {
        path: path.to_path_buf(),
        cause,
    })
}

/// Writes `bytes` to `path` atomically with mode 0600, creating parent directories.
/// Refuses to replace an existing file unless `overwrite`.
pub fn write(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), KeyfileError> {
    let io = |cause| KeyfileError::Io {
        path: path.to_path_buf(),
        cause,
    };
    if !overwrite && path.exists() {
        return Err(KeyfileError::Exists {
            path: path.to_path_buf(),
        });
    }
    // arena-fs creates its temporary file with mode 0600, which the rename keeps.
    arena_fs::write_atomic(path, bytes).map_err(io)
}

/// Writes a keypair keyfile, encrypted with `password` when one is given.
pub fn write_keypair(
    path: &Path,
    keypair: &Keypair,
    password: Option<&str>,
    overwrite: bool,
) -> Result<(), KeyfileError> {
    if !overwrite && path.exists() {
        // Checked before the (slow) encryption too, not only in `write`.
        return Err(KeyfileError::Exists {
            path: path.to_path_buf(),
        });
    }
    let plain = keypair_json(keypair);
    let bytes = match password {
        Some(password) => nacl::encrypt(&plain, password, path)?,
        None => plain,
    };
    write(path, &bytes, overwrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hotkey file written by bittensor-wallet 4.1.1 (Python), kept as a golden sample.
    const PY_HOTKEY: &str = r#"{"secretPhrase":"outdoor display steak labor mercy orange garden genuine vivid fabric between effort","publicKey":"0xf277976e2eac56c35a19e97dc043d15ca5d75ea5238f5cc6aede56dd7316d244","secretSeed":"0xe59c8e39660ba155e0373c11a09dd0e11612007958cb102d6eb2cb7e79e9a70c","accountId":"0xf277976e2eac56c35a19e97dc043d15ca5d75ea5238f5cc6aede56dd7316d244","ss58Address":"5HYcyHv87hMqTkNULxM3CdWQ7bMdrxGmqJGZ2ctDBjBptyMH","cryptoType":1,"privateKey":"0xadb01df55e3375b1cfb96ab9dd718a8b3f99296d8b2ed0300647abc40c8b9c0c46578c68371bafafc6caca5127cd7d5327178fb9ae3aea1a561209b50e927b9c"}"#;
    const PY_SS58: &str = "5HYcyHv87hMqTkNULxM3CdWQ7bMdrxGmqJGZ2ctDBjBptyMH";

    fn path() -> PathBuf {
        PathBuf::from("/w/hotkeys/h")
    }

    fn field(name: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(PY_HOTKEY).unwrap();
        v[name].as_str().unwrap().to_string()
    }

    fn parse_str(text: &str) -> Result<KeyfileContent, KeyfileError> {
        parse(text.as_bytes(), &path())
    }

    #[test]
    fn python_keyfile_parses_and_we_write_the_same_fields() {
        let KeyfileContent::Secret(kp) = parse_str(PY_HOTKEY).unwrap() else {
            panic!("expected a secret key")
        };
        assert_eq!(kp.public().ss58(), PY_SS58);
        let ours: serde_json::Value = serde_json::from_slice(&keypair_json(&kp)).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(PY_HOTKEY).unwrap();
        assert_eq!(ours, theirs, "field for field equal to Python's keyfile");
    }

    #[test]
    fn seed_only_and_private_key_only_files_give_the_same_key() {
        let seed = format!(r#"{{"secretSeed":"{}"}}"#, field("secretSeed"));
        assert_eq!(parse_str(&seed).unwrap().public().ss58(), PY_SS58);
        let private = format!(r#"{{"privateKey":"{}"}}"#, field("privateKey"));
        let KeyfileContent::Secret(kp) = parse_str(&private).unwrap() else {
            panic!("expected a secret key")
        };
        assert_eq!(kp.public().ss58(), PY_SS58);
        assert_eq!(kp.sign(b"m").0.len(), 64);
        assert!(kp.seed().is_none());
    }

    #[test]
    fn public_files_roundtrip() {
        let pk = PublicKey::from_ss58(PY_SS58).unwrap();
        let content = parse(&public_json(&pk), &path()).unwrap();
        assert!(matches!(content, KeyfileContent::Public(p) if p == pk));
        let only_ss58 = format!(r#"{{"ss58Address":"{PY_SS58}"}}"#);
        assert_eq!(parse_str(&only_ss58).unwrap().public(), pk);
    }

    #[test]
    fn truncated_garbled_and_inconsistent_files_are_named_errors() {
        let cut = &PY_HOTKEY[..PY_HOTKEY.len() / 2];
        let err = parse_str(cut).unwrap_err();
        assert!(matches!(err, KeyfileError::Malformed { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("/w/hotkeys/h: not a valid keyfile"),
            "{err}"
        );
        assert!(matches!(
            parse(b"\xff\xfe", &path()),
            Err(KeyfileError::Malformed { .. })
        ));
        assert!(matches!(
            parse_str("[1,2]"),
            Err(KeyfileError::Malformed { .. })
        ));
        assert!(matches!(
            parse_str("{}"),
            Err(KeyfileError::Malformed { .. })
        ));
        // A flipped digit in the seed: the file now names two different keys.
        let flipped = PY_HOTKEY
            .replace("secretPhrase", "ignored")
            .replace("0xe59c", "0xe59d");
        let err = parse_str(&flipped).unwrap_err();
        assert!(
            matches!(
                err,
                KeyfileError::Mismatch {
                    field: "publicKey",
                    ..
                }
            ),
            "{err}"
        );
        // A bad word in the phrase names the field, not the secret.
        let bad_word = PY_HOTKEY.replace("outdoor", "outdoorz");
        let err = parse_str(&bad_word).unwrap_err();
        assert!(
            matches!(
                err,
                KeyfileError::BadField {
                    field: "secretPhrase",
                    ..
                }
            ),
            "{err}"
        );
        let bad_hex = r#"{"secretSeed":"0x12zz"}"#;
        let err = parse_str(bad_hex).unwrap_err();
        assert!(!err.to_string().contains("12zz"), "secret echoed: {err}");
        let bad_ss58 = r#"{"ss58Address":"5HYcyHv87hMqTkNULxM3CdWQ7bMdrxGmqJGZ2ctDBjBptyMZ"}"#;
        let err = parse_str(bad_ss58).unwrap_err();
        assert!(
            matches!(
                err,
                KeyfileError::BadField {
                    field: "ss58Address",
                    ..
                }
            ),
            "{err}"
        );
        let ed = PY_HOTKEY.replace(r#""cryptoType":1"#, r#""cryptoType":0"#);
        assert!(matches!(
            parse_str(&ed),
            Err(KeyfileError::CryptoType { value: 0, .. })
        ));
    }

    #[test]
    fn encrypted_files_are_recognised_without_decrypting() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&[u8], &str); 3] = [
            (b"$ANSIBLE_VAULT;1.1;AES256\n6162", "Ansible Vault"),
            (b"gAAAAABh_token", "legacy (Fernet)"),
            (b"$NACL\x01\x02", "truncated"),
        ];
        for (bytes, expect) in cases {
            let file = dir.path().join("coldkey");
            write(&file, bytes, true).unwrap();
            assert!(is_encrypted(&file).unwrap());
            let err = read(&file, Some("pw")).unwrap_err().to_string();
            assert!(err.contains(expect) && err.contains("coldkey"), "{err}");
            let without_password = read(&file, None).unwrap_err();
            if nacl::detect(bytes) != Encryption::LegacyFernet {
                assert!(matches!(
                    without_password,
                    KeyfileError::NeedsPassword { .. }
                ));
            } else {
                assert!(matches!(
                    without_password,
                    KeyfileError::UnsupportedEncryption { .. }
                ));
            }
        }
    }

    #[test]
    fn writes_are_private_and_refuse_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join("hot");
        let kp = Keypair::from_uri("//Bob").unwrap();
        write_keypair(&file, &kp, None, false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_keypair(&file, &kp, None, false).unwrap_err();
        assert!(matches!(err, KeyfileError::Exists { .. }), "{err}");
        write_keypair(&file, &kp, None, true).unwrap();
        assert_eq!(read(&file, None).unwrap().public(), kp.public());
        let leftovers = std::fs::read_dir(file.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        let missing = read(&dir.path().join("nope"), None).unwrap_err();
        assert!(matches!(missing, KeyfileError::Io { .. }), "{missing}");
    }
}
