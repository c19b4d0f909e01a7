//! sr25519 keys as Substrate and Bittensor use them.
//!
//! This crate is usable on its own: it turns secret URIs and mnemonics into keypairs the way
//! Substrate does, encodes and checks SS58 addresses, and signs and verifies with the
//! `substrate` signing context, so signatures interoperate with `bittensor-wallet` and
//! polkadot-js.
//!
//! ```
//! use arena_keys::{Keypair, ss58};
//! let alice = Keypair::from_uri("//Alice").unwrap();
//! assert_eq!(alice.public().ss58(), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
//! let sig = alice.sign(b"hello");
//! assert!(alice.public().verify(b"hello", &sig));
//! assert!(ss58::decode("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").is_ok());
//! ```
//!
//! Wallets use Bittensor's layout and keyfile format, so `btcli` wallets load as they are:
//!
//! ```no_run
//! use arena_keys::wallet::{default_root, Wallet};
//! let wallet = Wallet::open(&default_root(), "miner")?;
//! let hotkey = wallet.hotkey("default")?; // plain keyfile
//! let coldkey_address = wallet.coldkeypub()?.ss58(); // needs no password
//! let coldkey = wallet.coldkey(Some("password"))?; // $NACL-encrypted keyfile
//! # Ok::<(), arena_keys::wallet::WalletError>(())
//! ```

mod ansible;
pub mod keyfile;
pub mod nacl;
pub mod ss58;
pub mod wallet;

pub use wallet::{Wallet, WalletError};

use std::fmt;
use std::str::FromStr;

/// Signing context every Substrate sr25519 signature uses.
pub const SIGNING_CONTEXT: &[u8] = b"substrate";

/// Errors from key handling. Each names the value that was wrong.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A secret URI (`//Alice`, `<mnemonic>//hard/soft`) did not parse.
    #[error("invalid secret URI: {0}")]
    SecretUri(String),
    /// A mnemonic had a word outside the BIP-39 list, a bad checksum or length.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    /// Secret key bytes were not a valid sr25519 secret.
    #[error("invalid secret key: {0}")]
    SecretKey(String),
    /// Public key bytes were not 32 bytes of hex.
    #[error("invalid public key: {0}")]
    PublicKey(String),
    /// Signature bytes were not 64 bytes of hex.
    #[error("invalid signature: {0}")]
    Signature(String),
    /// An SS58 address was malformed.
    #[error(transparent)]
    Ss58(#[from] ss58::Ss58Error),
}

/// A 32-byte sr25519 public key (the account id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

/// A 64-byte sr25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl PublicKey {
    /// SS58 address with the generic Substrate prefix 42, as Bittensor shows it.
    pub fn ss58(&self) -> String {
        ss58::encode(&self.0, ss58::BITTENSOR_PREFIX)
    }

    /// Parses an SS58 address with prefix 42, checking its checksum.
    pub fn from_ss58(address: &str) -> Result<Self, KeyError> {
        let (prefix, key) = ss58::decode(address)?;
        if prefix != ss58::BITTENSOR_PREFIX {
            return Err(ss58::Ss58Error::WrongPrefix {
                address: address.to_string(),
                prefix,
            }
            .into());
        }
        Ok(PublicKey(key))
    }

    /// Parses `0x`-prefixed or bare hex.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        if s.len() > 66 {
            let s = short(s);
            return Err(KeyError::PublicKey(format!(
                "{s}: longer than 32 bytes of hex"
            )));
        }
        let bytes = decode_hex(s).map_err(|e| KeyError::PublicKey(format!("{s}: {e}")))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::PublicKey(format!("{s}: expected 32 bytes")))?;
        Ok(PublicKey(arr))
    }

    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }

    /// Verifies a signature over `message`, or over `<Bytes>message</Bytes>` as polkadot-js
    /// and Bittensor wrap messages before signing.
    /// For messages only: a signed payload (an extrinsic) uses [`PublicKey::verify_exact`].
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        if self.verify_exact(message, signature) {
            return true;
        }
        let mut wrapped = Vec::with_capacity(message.len() + 15);
        wrapped.extend_from_slice(b"<Bytes>");
        wrapped.extend_from_slice(message);
        wrapped.extend_from_slice(b"</Bytes>");
        self.verify_exact(&wrapped, signature)
    }

    /// Verifies a signature over exactly `message`, never over `<Bytes>message</Bytes>`: a
    /// signature a wallet made over a message must not pass as one over a payload.
    pub fn verify_exact(&self, message: &[u8], signature: &Signature) -> bool {
        let Ok(pk) = schnorrkel::PublicKey::from_bytes(&self.0) else {
            return false;
        };
        let Ok(sig) = schnorrkel::Signature::from_bytes(&signature.0) else {
            return false;
        };
        pk.verify_simple(SIGNING_CONTEXT, message, &sig).is_ok()
    }
}

/// The start of an over-long untrusted text, for error messages.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(16).collect();
    out.push('…');
    out
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.ss58())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ss58())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    /// Accepts an SS58 address (prefix 42) or 32 bytes of hex.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        if s.starts_with("0x") {
            Self::from_hex(s)
        } else {
            Self::from_ss58(s)
        }
    }
}

impl Signature {
    /// Parses a 64-byte signature from `0x`-prefixed or bare hex.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        if s.len() > 130 {
            let s = short(s);
            return Err(KeyError::Signature(format!(
                "{s}: longer than 64 bytes of hex"
            )));
        }
        let bytes = decode_hex(s).map_err(|e| KeyError::Signature(format!("{s}: {e}")))?;
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyError::Signature(format!("{s}: expected 64 bytes")))?;
        Ok(Signature(arr))
    }

    /// `0x`-prefixed lowercase hex, the form Bittensor tools print.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// An sr25519 keypair. Keeps the 32-byte mini secret (seed) and the mnemonic when they are
/// known, because Bittensor keyfiles store them as `secretSeed` and `secretPhrase`.
#[derive(Clone)]
pub struct Keypair {
    inner: schnorrkel::Keypair,
    seed: Option<[u8; 32]>,
    phrase: Option<String>,
}

impl Keypair {
    /// From a Substrate secret URI: a mnemonic or `0x` seed, optionally followed by
    /// `//hard` and `/soft` junctions and `///password`. `//Alice` uses the dev phrase.
    /// A key reached through hard junctions only keeps its derived seed, as Substrate does.
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        use schnorrkel::derive::Derivation;
        use subxt_signer::ExposeSecret;
        let parsed = subxt_signer::SecretUri::from_str(uri)
            .map_err(|e| KeyError::SecretUri(format!("{}: {e}", redact(uri))))?;
        let phrase = parsed.phrase.expose_secret();
        let mut seed = if let Some(hex_seed) = phrase.strip_prefix("0x") {
            let bytes = hex::decode(hex_seed)
                .map_err(|e| KeyError::SecretUri(format!("{}: seed: {e}", redact(uri))))?;
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                KeyError::SecretUri(format!("{}: seed must be 32 bytes", redact(uri)))
            })?
        } else {
            let mnemonic = subxt_signer::bip39::Mnemonic::parse(phrase)
                .map_err(|e| KeyError::SecretUri(format!("{}: {e}", redact(uri))))?;
            let password = parsed.password.as_ref().map(|p| p.expose_secret());
            mini_secret_from_entropy(&mnemonic.to_entropy(), password.unwrap_or(""))
        };
        let mut secret = expand_seed(&seed)?.secret.clone();
        let mut has_seed = true;
        for junction in &parsed.junctions {
            let chain_code = schnorrkel::derive::ChainCode(*junction.inner());
            if junction.is_hard() {
                let (mini, _) = secret.hard_derive_mini_secret_key(Some(chain_code), b"");
                seed = mini.to_bytes();
                secret = mini.expand(schnorrkel::ExpansionMode::Ed25519);
                has_seed = true;
            } else {
                secret = secret.derived_key_simple(chain_code, []).0;
                has_seed = false;
            }
        }
        Ok(Keypair {
            inner: secret.to_keypair(),
            seed: has_seed.then_some(seed),
            phrase: None,
        })
    }

    /// From a BIP-39 mnemonic (12 to 24 words) the way Substrate does it: PBKDF2-HMAC-SHA512
    /// over the mnemonic's entropy with salt "mnemonic", first 32 bytes as the mini secret.
    pub fn from_phrase(phrase: &str) -> Result<Self, KeyError> {
        let mnemonic = subxt_signer::bip39::Mnemonic::parse(phrase.trim())
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        let mini = mini_secret_from_entropy(&mnemonic.to_entropy(), "");
        let mut kp = Self::from_seed(mini)?;
        kp.phrase = Some(mnemonic.to_string());
        Ok(kp)
    }

    /// From a 32-byte mini secret key (the `secretSeed` of a keyfile).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, KeyError> {
        Ok(Keypair {
            inner: expand_seed(&seed)?,
            seed: Some(seed),
            phrase: None,
        })
    }

    /// From a 64-byte expanded secret key (key ‖ nonce, the `privateKey` of a keyfile), for
    /// keyfiles that carry neither a mnemonic nor a seed.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let secret = schnorrkel::SecretKey::from_bytes(bytes)
            .map_err(|e| KeyError::SecretKey(format!("expanded secret key: {e}")))?;
        Ok(Keypair {
            inner: secret.to_keypair(),
            seed: None,
            phrase: None,
        })
    }

    /// A fresh random mnemonic of `words` words (12, 15, 18, 21 or 24) and its keypair.
    pub fn generate(words: usize) -> Result<Self, KeyError> {
        let entropy_len = match words {
            12 => 16,
            15 => 20,
            18 => 24,
            21 => 28,
            24 => 32,
            n => {
                return Err(KeyError::Mnemonic(format!(
                    "{n} words is not a BIP-39 length"
                )))
            }
        };
        let mut entropy = vec![0u8; entropy_len];
        getrandom(&mut entropy);
        let mnemonic = subxt_signer::bip39::Mnemonic::from_entropy(&entropy)
            .map_err(|e| KeyError::Mnemonic(e.to_string()))?;
        Self::from_phrase(&mnemonic.to_string())
    }

    /// The public key (account id) that addresses and signatures are checked against.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.inner.public.to_bytes())
    }

    /// The mini secret, when the keypair was made from a seed or mnemonic.
    pub fn seed(&self) -> Option<[u8; 32]> {
        self.seed
    }

    /// The mnemonic, when the keypair was made from one.
    pub fn phrase(&self) -> Option<&str> {
        self.phrase.as_deref()
    }

    /// The 64-byte expanded secret key (key ‖ nonce) as schnorrkel serialises it; this is what
    /// Bittensor keyfiles store as `privateKey`.
    pub fn secret_bytes(&self) -> [u8; 64] {
        self.inner.secret.to_bytes()
    }

    /// Signs `message` with the `substrate` context, as polkadot-js and Bittensor do.
    pub fn sign(&self, message: &[u8]) -> Signature {
        let context = schnorrkel::signing_context(SIGNING_CONTEXT);
        Signature(self.inner.sign(context.bytes(message)).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.public().ss58())
    }
}

/// Mini secret → keypair with Ed25519-style expansion, as Substrate does.
fn expand_seed(seed: &[u8; 32]) -> Result<schnorrkel::Keypair, KeyError> {
    let mini = schnorrkel::MiniSecretKey::from_bytes(seed)
        .map_err(|e| KeyError::SecretKey(format!("seed: {e}")))?;
    Ok(mini.expand_to_keypair(schnorrkel::ExpansionMode::Ed25519))
}

/// Substrate's mnemonic → mini secret: PBKDF2-HMAC-SHA512 (2048 rounds) over the entropy,
/// salt "mnemonic" followed by the optional password, first 32 bytes.
fn mini_secret_from_entropy(entropy: &[u8], password: &str) -> [u8; 32] {
    let mut salt = b"mnemonic".to_vec();
    salt.extend_from_slice(password.as_bytes());
    let mut out = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(entropy, &salt, 2048, &mut out);
    let mut mini = [0u8; 32];
    mini.copy_from_slice(&out[..32]);
    mini
}

fn getrandom(buf: &mut [u8]) {
    use rand::RngCore;
    rand::rngs::OsRng.fill_bytes(buf);
}

fn decode_hex(s: &str) -> Result<Vec<u8>, hex::FromHexError> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
}

/// Secret URIs must never reach a log in full.
fn redact(uri: &str) -> String {
    if uri.starts_with("//") {
        uri.to_string()
    } else {
        "<secret uri>".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alice_is_the_well_known_key() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        assert_eq!(
            hex::encode(alice.public().0),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
    }

    #[test]
    fn dev_phrase_gives_known_key_and_seed_roundtrips() {
        let phrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
        let kp = Keypair::from_phrase(phrase).unwrap();
        assert_eq!(
            hex::encode(kp.public().0),
            "46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a"
        );
        let again = Keypair::from_seed(kp.seed().unwrap()).unwrap();
        assert_eq!(again.public(), kp.public());
        assert_eq!(Keypair::from_uri(phrase).unwrap().public(), kp.public());
    }

    #[test]
    fn sign_verify_and_bytes_wrapping() {
        let kp = Keypair::generate(12).unwrap();
        let sig = kp.sign(b"msg");
        assert!(kp.public().verify(b"msg", &sig));
        assert!(!kp.public().verify(b"msh", &sig));
        let wrapped = kp.sign(b"<Bytes>msg</Bytes>");
        assert!(kp.public().verify(b"msg", &wrapped));
        assert!(kp.public().verify_exact(b"msg", &sig));
        assert!(
            !kp.public().verify_exact(b"msg", &wrapped),
            "a wrapped message signature is not a payload signature"
        );
        let other = Keypair::generate(24).unwrap();
        assert!(!other.public().verify(b"msg", &sig));
    }

    #[test]
    fn uri_derivation_matches_subxt_signer() {
        let phrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
        for (uri, keeps_seed) in [
            ("//Alice".to_string(), true),
            ("//Bob//stash".to_string(), true),
            ("//Alice/soft/path".to_string(), false),
            (format!("{phrase}//hard/soft///pass"), false),
            (format!("0x{}//7", "11".repeat(32)), true),
        ] {
            let ours = Keypair::from_uri(&uri).unwrap();
            let parsed = subxt_signer::SecretUri::from_str(&uri).unwrap();
            let theirs = subxt_signer::sr25519::Keypair::from_uri(&parsed).unwrap();
            assert_eq!(ours.public().0, theirs.public_key().0, "{uri}");
            // Hard-only paths keep a seed that regenerates the same key; soft ones do not.
            assert_eq!(ours.seed().is_some(), keeps_seed, "{uri}");
            if let Some(seed) = ours.seed() {
                assert_eq!(Keypair::from_seed(seed).unwrap().public(), ours.public());
            }
            let from_secret = Keypair::from_secret_bytes(&ours.secret_bytes()).unwrap();
            let sig = from_secret.sign(b"x");
            assert!(ours.public().verify(b"x", &sig), "{uri}");
        }
        assert!(Keypair::from_uri("0x1234").is_err());
        assert!(Keypair::from_secret_bytes(&[0u8; 10]).is_err());
    }

    #[test]
    fn invalid_mnemonic_word_is_an_error() {
        let err = Keypair::from_phrase(
            "bottom drive obey lake curtain smoke basket hold race lonely fit walkz",
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::Mnemonic(_)), "{err}");
    }
}
