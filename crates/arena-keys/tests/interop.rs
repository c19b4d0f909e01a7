//! Interoperability with the Python `bittensor-wallet` package (pinned 4.1.1 in the test venv):
//! wallets and signatures made on one side must load and verify on the other.
//!
//! Python is found through `ARENA_TEST_PYTHON` (default `<workspace>/.venv/bin/python`, made by
//! `scripts/test`). Without it these tests fail: interoperability is the point of the wallet
//! format, so silently skipping would hide a regression.
//!
//! Each Argon2 "sensitive" key derivation costs 512 MiB and a second or more, so the tests
//! do as few encryptions and decryptions as possible (three here, two in Python).

use std::process::Command;

use arena_keys::wallet::{Wallet, WalletError};
use arena_keys::{keyfile::KeyfileError, PublicKey, Signature};
use arena_testkit::fixtures::python;
use serde_json::Value;

const PY_PASSWORD: &str = "py-Pass-1234!";
const RS_PASSWORD: &str = "rs-Pass-5678!";
const MESSAGE: &str = "finetune-arena interop";

/// Runs `script` with `args`; the script's last stdout line is its JSON result
/// (bittensor-wallet prints progress such as "Encrypting..." before it).
fn run_python(script: &str, args: &[&str]) -> Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("starting python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("python output {last:?}: {e}"))
}

const PY_CREATE: &str = r#"
import json, sys
from bittensor_wallet import Wallet
root, password, message = sys.argv[1:4]
w = Wallet(name="py", hotkey="h", path=root)
w.create_new_coldkey(n_words=12, use_password=True, coldkey_password=password, overwrite=True, suppress=True)
w.create_new_hotkey(n_words=24, use_password=False, overwrite=True, suppress=True)
# The same hotkey in the Ansible Vault format older bittensor wrote (still read by Python).
from bittensor_wallet.keyfile import legacy_encrypt_keyfile_data
with open(w.hotkey_file.path, "rb") as f:
    vault = legacy_encrypt_keyfile_data(f.read(), password)
with open(root + "/py/hotkeys/vault", "wb") as f:
    f.write(vault)
print(json.dumps({
    "coldkey": w.coldkeypub.ss58_address,
    "hotkey": w.hotkey.ss58_address,
    "signature": "0x" + w.hotkey.sign(message.encode()).hex(),
}))
"#;

const PY_LOAD: &str = r#"
import json, sys
from bittensor_wallet import Keypair, Wallet
root, password, message, hot_sig, cold_sig = sys.argv[1:6]
w = Wallet(name="rs", hotkey="h", path=root)
cold = w.get_coldkey(password=password)
def verify(ss58, sig):
    return Keypair(ss58_address=ss58).verify(message.encode(), bytes.fromhex(sig[2:]))
print(json.dumps({
    "coldkeypub": w.coldkeypub.ss58_address,
    "coldkey": cold.ss58_address,
    "hotkey": w.hotkey.ss58_address,
    "hotkeypub": w.hotkeypub.ss58_address,
    "hot_sig_ok": verify(w.hotkey.ss58_address, hot_sig),
    "cold_sig_ok": verify(cold.ss58_address, cold_sig),
    "tampered_ok": verify(cold.ss58_address, cold_sig[:-2] + ("00" if cold_sig[-2:] != "00" else "01")),
}))
"#;

#[test]
fn python_wallet_loads_in_arena_and_arena_wallet_loads_in_python() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let root_str = root.to_str().unwrap();

    // Python → arena.
    let py = run_python(PY_CREATE, &[root_str, PY_PASSWORD, MESSAGE]);
    let wallet = Wallet::open(root, "py").unwrap();
    assert_eq!(wallet.coldkeypub().unwrap().ss58(), py["coldkey"]);
    assert!(wallet.coldkey_is_encrypted().unwrap());
    let cold = wallet.coldkey(Some(PY_PASSWORD)).unwrap();
    assert_eq!(cold.public().ss58(), py["coldkey"]);
    assert_eq!(cold.phrase().map(|p| p.split(' ').count()), Some(12));
    let hot = wallet.hotkey("h").unwrap();
    assert_eq!(hot.public().ss58(), py["hotkey"]);
    assert_eq!(wallet.hotkeypub("h").unwrap(), hot.public());
    let vault = wallet
        .hotkey_with_password("vault", Some(PY_PASSWORD))
        .unwrap();
    assert_eq!(vault.public(), hot.public());
    let err = wallet
        .hotkey_with_password("vault", Some("nope"))
        .unwrap_err();
    assert!(err.to_string().contains("vault: wrong password"), "{err}");
    let py_sig = Signature::from_hex(py["signature"].as_str().unwrap()).unwrap();
    assert!(hot.public().verify(MESSAGE.as_bytes(), &py_sig));
    assert!(!cold.public().verify(MESSAGE.as_bytes(), &py_sig));

    let err = wallet.coldkey(Some("not the password")).unwrap_err();
    assert!(
        matches!(
            err,
            WalletError::Keyfile(KeyfileError::WrongPassword { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("py/coldkey"), "{err}");
    let err = wallet.coldkey(None).unwrap_err();
    assert!(matches!(
        err,
        WalletError::Keyfile(KeyfileError::NeedsPassword { .. })
    ));

    // arena → Python.
    let created = Wallet::create(root, "rs", "h", 12, Some(RS_PASSWORD), false).unwrap();
    let rs_cold = created.coldkey.expect("a new wallet gets a coldkey");
    let hot_sig = created.hotkey.sign(MESSAGE.as_bytes()).to_hex();
    let cold_sig = rs_cold.sign(MESSAGE.as_bytes()).to_hex();
    let py = run_python(
        PY_LOAD,
        &[root_str, RS_PASSWORD, MESSAGE, &hot_sig, &cold_sig],
    );
    let cold_ss58 = rs_cold.public().ss58();
    let hot_ss58 = created.hotkey.public().ss58();
    assert_eq!(py["coldkeypub"], cold_ss58.as_str());
    assert_eq!(py["coldkey"], cold_ss58.as_str());
    assert_eq!(py["hotkey"], hot_ss58.as_str());
    assert_eq!(py["hotkeypub"], hot_ss58.as_str());
    assert_eq!(py["hot_sig_ok"], true);
    assert_eq!(py["cold_sig_ok"], true);
    assert_eq!(py["tampered_ok"], false);

    // Listing sees both wallets with the same addresses.
    let summaries: Vec<_> = Wallet::list(root)
        .unwrap()
        .iter()
        .map(Wallet::summary)
        .collect();
    let names: Vec<_> = summaries.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["py", "rs"]);
    assert_eq!(
        summaries[1].coldkey_ss58.as_deref(),
        Some(cold_ss58.as_str())
    );
    assert_eq!(
        summaries[1].hotkeys[0].ss58.as_deref(),
        Some(hot_ss58.as_str())
    );
    let pk = PublicKey::from_ss58(&cold_ss58).unwrap();
    assert_eq!(pk, Wallet::open(root, "rs").unwrap().coldkeypub().unwrap());
}
