//! Bittensor's keyfile encryption, `$NACL`: `b"$NACL" ‖ nonce (24) ‖ tag (16) ‖ ciphertext`,
//! an XSalsa20-Poly1305 secretbox under a key from Argon2i (v1.3, libsodium's "sensitive"
//! limits: 8 passes over 512 MiB, one lane) of the password with bittensor's fixed salt.
//!
//! Older bittensor versions encrypted with Ansible Vault (read by `crate::ansible`) or Fernet
//! ("legacy"; only named in errors: bittensor-wallet itself can no longer decrypt it).

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;

use crate::keyfile::KeyfileError;

/// First bytes of a NaCl-encrypted keyfile.
pub const NACL_MAGIC: &[u8] = b"$NACL";
/// Bittensor's fixed Argon2 salt (`b"\x13q\x83\xdf\xf1Z\t\xbc\x9c\x90\xb5Q\x879\xe9\xb1"`).
pub const NACL_SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];
/// libsodium `crypto_pwhash_argon2i_OPSLIMIT_SENSITIVE`.
pub const ARGON2_PASSES: u32 = 8;
/// libsodium `crypto_pwhash_argon2i_MEMLIMIT_SENSITIVE` (512 MiB), in KiB.
pub const ARGON2_MEMORY_KIB: u32 = 512 * 1024;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// How a keyfile's bytes are encrypted, judged by their first bytes as bittensor does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// Plain JSON.
    None,
    /// `$NACL`: the current format, read and written.
    Nacl,
    /// `$ANSIBLE_VAULT`: older bittensor; read, never written.
    AnsibleVault,
    /// Fernet tokens (`gAAAAA`): bittensor's oldest "legacy" encryption.
    LegacyFernet,
}

impl Encryption {
    /// The name bittensor uses for the method, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Encryption::None => "no encryption",
            Encryption::Nacl => "NaCl",
            Encryption::AnsibleVault => "Ansible Vault",
            Encryption::LegacyFernet => "legacy (Fernet) encryption",
        }
    }
}

/// Classifies keyfile bytes.
pub fn detect(bytes: &[u8]) -> Encryption {
    if bytes.starts_with(NACL_MAGIC) {
        Encryption::Nacl
    } else if bytes.starts_with(b"$ANSIBLE_VAULT") {
        Encryption::AnsibleVault
    } else if bytes.starts_with(b"gAAAAA") {
        Encryption::LegacyFernet
    } else {
        Encryption::None
    }
}

/// The secretbox key for `password`. Costs about a second and 512 MiB of memory, by design.
pub fn derive_key(password: &str, path: &Path) -> Result<[u8; 32], KeyfileError> {
    let crypto = |detail: String| KeyfileError::Crypto {
        path: path.to_path_buf(),
        detail,
    };
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, 1, Some(32))
        .map_err(|e| crypto(format!("argon2 parameters: {e}")))?;
    let argon = Argon2::new(Algorithm::Argon2i, Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(password.as_bytes(), &NACL_SALT, &mut key)
        .map_err(|e| crypto(format!("argon2 key derivation failed: {e}")))?;
    Ok(key)
}

/// Encrypts `plain` into the `$NACL` format with a fresh random nonce.
pub fn encrypt(plain: &[u8], password: &str, path: &Path) -> Result<Vec<u8>, KeyfileError> {
    let key = derive_key(password, path)?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let sealed = XSalsa20Poly1305::new(&key.into())
        .encrypt(&nonce.into(), plain)
        .map_err(|_| KeyfileError::Crypto {
            path: path.to_path_buf(),
            detail: "secretbox encryption failed".into(),
        })?;
    let mut out = Vec::with_capacity(NACL_MAGIC.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(NACL_MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts `$NACL` bytes; a failed authentication is a wrong password.
pub fn decrypt(data: &[u8], password: &str, path: &Path) -> Result<Vec<u8>, KeyfileError> {
    let body = data
        .strip_prefix(NACL_MAGIC)
        .filter(|body| body.len() >= NONCE_LEN + TAG_LEN)
        .ok_or(KeyfileError::Truncated {
            path: path.to_path_buf(),
            len: data.len(),
        })?;
    let (nonce, sealed) = body.split_at(NONCE_LEN);
    let key = derive_key(password, path)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    XSalsa20Poly1305::new(&key.into())
        .decrypt(&nonce.into(), sealed)
        .map_err(|_| KeyfileError::WrongPassword {
            path: path.to_path_buf(),
        })
}
