//! Ansible Vault 1.1/1.2 (AES256) decryption, for keyfiles encrypted by bittensor before NaCl
//! (and by bittensor-wallet's `legacy_encrypt_keyfile_data`), which Python still reads.
//!
//! Format: a header line `$ANSIBLE_VAULT;1.1;AES256` (1.2 adds a vault id), then hex text
//! that decodes to `hex(salt) \n hex(hmac) \n hex(ciphertext)`. PBKDF2-HMAC-SHA256 (10,000
//! rounds) of the password gives 80 bytes: AES key ‖ HMAC key ‖ counter IV. The HMAC-SHA256 of
//! the ciphertext authenticates; AES-256-CTR decrypts; PKCS#7 padding is removed.
//! arena never writes this format.

use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};

use crate::keyfile::KeyfileError;

const PBKDF2_ROUNDS: u32 = 10_000;

/// Decrypts an Ansible Vault keyfile; a failed HMAC check is a wrong password.
pub fn decrypt(data: &[u8], password: &str, path: &Path) -> Result<Vec<u8>, KeyfileError> {
    let malformed = |detail: &str| KeyfileError::Malformed {
        path: path.to_path_buf(),
        detail: format!("Ansible Vault: {detail}"),
    };
    let text = std::str::from_utf8(data).map_err(|_| malformed("not text"))?;
    let (header, body) = text.split_once('\n').ok_or_else(|| malformed("no body"))?;
    let fields: Vec<&str> = header.trim().split(';').collect();
    let supported = fields.len() >= 3
        && fields[0] == "$ANSIBLE_VAULT"
        && matches!(fields[1], "1.1" | "1.2")
        && fields[2] == "AES256";
    if !supported {
        return Err(malformed(&format!(
            "unsupported header {:?}",
            header.trim()
        )));
    }
    let joined: String = body.split_whitespace().collect();
    let inner = hex::decode(joined).map_err(|_| malformed("body is not hex"))?;
    let inner = String::from_utf8(inner).map_err(|_| malformed("body is not text"))?;
    let parts: Vec<&str> = inner.split('\n').collect();
    let [salt, tag, ciphertext] = parts.as_slice() else {
        return Err(malformed("expected salt, hmac and ciphertext"));
    };
    let decode = |field: &str| hex::decode(field).map_err(|_| malformed("field is not hex"));
    let (salt, tag, mut plain) = (decode(salt)?, decode(tag)?, decode(ciphertext)?);

    let mut keys = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &salt, PBKDF2_ROUNDS, &mut keys);
    let (aes_key, rest) = keys.split_at(32);
    let (hmac_key, iv) = rest.split_at(32);
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(hmac_key).expect("hmac takes any key length");
    mac.update(&plain);
    mac.verify_slice(&tag)
        .map_err(|_| KeyfileError::WrongPassword {
            path: path.to_path_buf(),
        })?;
    let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(aes_key.into(), iv.into());
    cipher.apply_keystream(&mut plain);
    let pad = usize::from(*plain.last().ok_or_else(|| malformed("empty ciphertext"))?);
    let valid_pad = (1..=16).contains(&pad)
        && pad <= plain.len()
        && plain[plain.len() - pad..]
            .iter()
            .all(|&b| usize::from(b) == pad);
    if !valid_pad {
        return Err(malformed("bad padding"));
    }
    plain.truncate(plain.len() - pad);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `legacy_encrypt_keyfile_data(b'{"secretSeed":"0x11"}', "pw")` from bittensor-wallet 4.1.1.
    const VAULT: &str = "$ANSIBLE_VAULT;1.1;AES256\n\
        61643365303439353566323566616262653730383865383661613537363837396538323061383432\n\
        3666663031613436653963386566336638393236316333610a366564663664363966303363356662\n\
        63383139343263333133646562323939646231646165333833623334396232663863653232613561\n\
        6164656162643266360a343764396536613136616564313333633566396562376666623261356239\n\
        30376231323461626339646532623630393637373332376536626239356434343865\n";

    #[test]
    fn decrypts_python_vault_and_rejects_wrong_password_or_tampering() {
        let path = Path::new("coldkey");
        let plain = decrypt(VAULT.as_bytes(), "pw", path).unwrap();
        assert_eq!(plain, br#"{"secretSeed":"0x11"}"#);
        let err = decrypt(VAULT.as_bytes(), "pw2", path).unwrap_err();
        assert!(matches!(err, KeyfileError::WrongPassword { .. }), "{err}");
        // Flip one hex digit of the ciphertext (inside the last line).
        let tampered = VAULT.replacen("30376231", "30376232", 1);
        let err = decrypt(tampered.as_bytes(), "pw", path).unwrap_err();
        assert!(matches!(err, KeyfileError::WrongPassword { .. }), "{err}");
        let truncated = &VAULT[..VAULT.len() / 2];
        let err = decrypt(truncated.as_bytes(), "pw", path).unwrap_err();
        assert!(matches!(err, KeyfileError::Malformed { .. }), "{err}");
        let err = decrypt(b"$ANSIBLE_VAULT;9.9;ROT13\n00", "pw", path).unwrap_err();
        assert!(err.to_string().contains("unsupported header"), "{err}");
    }
}
