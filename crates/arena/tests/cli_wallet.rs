//! `arena wallet` end to end through the built binary: help texts, a full create → list →
//! sign → verify → regen round, and bad input that must give a one-line error, a nonzero
//! exit code and no panic. Three Argon2 derivations in all (512 MiB each), kept few on purpose.

use std::path::Path;
use std::process::{Command, Stdio};

use arena_keys::Keypair;
use serde_json::Value;

const DEV_PHRASE: &str = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `arena` in `dir` (so no stray arena.toml or real ~/.bittensor is used).
fn arena(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("ARENA_CONFIG")
        .env("ARENA_LOG", "error")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running arena");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(out: Out) -> String {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out.stdout
}

/// Asserts a clean failure: exit 1, exactly one stderr line `error: …` containing `needle`.
fn fails_with(out: Out, needle: &str) {
    assert_eq!(
        out.code, 1,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {}", out.stderr);
    assert!(lines[0].starts_with("error: "), "{}", out.stderr);
    assert!(
        lines[0].contains(needle),
        "{needle:?} not in {}",
        out.stderr
    );
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn help_texts_explain_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let top = ok(arena(dir.path(), &["wallet", "--help"], &[]));
    for word in [
        "Bittensor",
        "new",
        "list",
        "regen",
        "sign",
        "verify",
        "--root",
    ] {
        assert!(top.contains(word), "{word} missing from:\n{top}");
    }
    let cases: [(&str, &[&str]); 5] = [
        (
            "new",
            &["--no-password", "--password-env", "--words", "mnemonic"],
        ),
        ("list", &["--json", "coldkey_ss58"]),
        ("regen", &["--mnemonic", "--hotkey", "without echo"]),
        ("sign", &["--coldkey", "--message", "0x-hex"]),
        ("verify", &["--ss58", "--signature", "Exit code", "<Bytes>"]),
    ];
    for (sub, words) in cases {
        let help = ok(arena(dir.path(), &["wallet", sub, "--help"], &[]));
        for word in words {
            assert!(
                help.contains(word),
                "{word} missing from `wallet {sub} --help`:\n{help}"
            );
        }
    }
}

#[test]
fn create_list_sign_verify_regen() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("wallets");
    let root = root.to_str().unwrap();
    let pw = [("ARENA_TEST_PW", "correct horse 1")];

    let created = json(&ok(arena(
        d,
        &[
            "wallet",
            "new",
            "--root",
            root,
            "--name",
            "w",
            "--hotkey",
            "h",
            "--password-env",
            "ARENA_TEST_PW",
            "--json",
        ],
        &pw,
    )));
    let cold_ss58 = created["coldkey_ss58"].as_str().unwrap().to_string();
    let hot_ss58 = created["hotkey"]["ss58"].as_str().unwrap().to_string();
    assert_eq!(created["coldkey_encrypted"], true);
    let hot_phrase = created["hotkey"]["mnemonic"].as_str().unwrap();
    assert_eq!(
        Keypair::from_phrase(hot_phrase).unwrap().public().ss58(),
        hot_ss58
    );
    assert!(!std::fs::read(d.join("wallets/w/coldkey"))
        .unwrap()
        .starts_with(b"{"));

    let listed = json(&ok(arena(
        d,
        &["wallet", "list", "--root", root, "--json"],
        &[],
    )));
    let expected = serde_json::json!([
        {"name": "w", "coldkey_ss58": cold_ss58, "hotkeys": [{"name": "h", "ss58": hot_ss58}]}
    ]);
    assert_eq!(listed, expected);

    // Hotkey signature (no password), then verify: valid → 0, wrong signer → 1.
    let sig = ok(arena(
        d,
        &[
            "wallet",
            "sign",
            "--root",
            root,
            "--name",
            "w",
            "--hotkey",
            "h",
            "--message",
            "hello",
        ],
        &[],
    ));
    let sig = sig.trim();
    assert!(sig.starts_with("0x") && sig.len() == 130, "{sig}");
    ok(arena(
        d,
        &[
            "wallet",
            "verify",
            "--ss58",
            &hot_ss58,
            "--message",
            "hello",
            "--signature",
            sig,
        ],
        &[],
    ));
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "verify",
                "--ss58",
                ALICE,
                "--message",
                "hello",
                "--signature",
                sig,
            ],
            &[],
        ),
        "does not verify",
    );
    let verdict = arena(
        d,
        &[
            "wallet",
            "verify",
            "--ss58",
            &hot_ss58,
            "--message",
            "hullo",
            "--signature",
            sig,
            "--json",
        ],
        &[],
    );
    assert_eq!(verdict.code, 1);
    assert_eq!(json(&verdict.stdout)["valid"], false);

    // Coldkey signature needs the password; a wrong one is a clean error naming the file.
    let signed = json(&ok(arena(
        d,
        &[
            "wallet",
            "sign",
            "--root",
            root,
            "--name",
            "w",
            "--coldkey",
            "--password-env",
            "ARENA_TEST_PW",
            "--message",
            "m",
            "--json",
        ],
        &pw,
    )));
    assert_eq!(signed["ss58"], cold_ss58.as_str());
    let sig = signed["signature"].as_str().unwrap();
    ok(arena(
        d,
        &[
            "wallet",
            "verify",
            "--ss58",
            &cold_ss58,
            "--message",
            "m",
            "--signature",
            sig,
        ],
        &[],
    ));
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "sign",
                "--root",
                root,
                "--name",
                "w",
                "--coldkey",
                "--password-env",
                "ARENA_TEST_PW",
                "--message",
                "m",
            ],
            &[("ARENA_TEST_PW", "wrong")],
        ),
        "w/coldkey: wrong password",
    );

    // Regenerating from the dev mnemonic gives its well-known key, as a hotkey and a coldkey.
    let dev = Keypair::from_phrase(DEV_PHRASE).unwrap().public().ss58();
    let regen = json(&ok(arena(
        d,
        &[
            "wallet",
            "regen",
            "--root",
            root,
            "--name",
            "w",
            "--hotkey",
            "dev",
            "--mnemonic",
            DEV_PHRASE,
            "--json",
        ],
        &[],
    )));
    assert_eq!(regen["ss58"], dev.as_str());
    ok(arena(
        d,
        &[
            "wallet",
            "regen",
            "--root",
            root,
            "--name",
            "plain",
            "--mnemonic",
            DEV_PHRASE,
            "--no-password",
        ],
        &[],
    ));
    let signed = json(&ok(arena(
        d,
        &[
            "wallet",
            "sign",
            "--root",
            root,
            "--name",
            "plain",
            "--coldkey",
            "--message",
            "x",
            "--json",
        ],
        &[],
    )));
    assert_eq!(signed["ss58"], dev.as_str());
    let listed = json(&ok(arena(
        d,
        &["wallet", "list", "--root", root, "--json"],
        &[],
    )));
    assert_eq!(listed[0]["name"], "plain");
    assert_eq!(listed[0]["coldkey_ss58"], dev.as_str());
    assert_eq!(listed[1]["hotkeys"][0]["name"], "dev");

    // Existing keys are not replaced without --overwrite.
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "new",
                "--root",
                root,
                "--name",
                "w",
                "--hotkey",
                "h",
                "--no-password",
            ],
            &[],
        ),
        "hotkeys/h: already exists",
    );
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "regen",
                "--root",
                root,
                "--name",
                "plain",
                "--mnemonic",
                DEV_PHRASE,
                "--no-password",
            ],
            &[],
        ),
        "plain/coldkey: already exists",
    );
}

#[test]
fn bad_input_gives_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("wallets");
    let root_s = root.to_str().unwrap();
    let sig = format!("0x{}", "ab".repeat(64));
    let verify = |ss58: &str, signature: &str| {
        arena(
            d,
            &[
                "wallet",
                "verify",
                "--ss58",
                ss58,
                "--message",
                "m",
                "--signature",
                signature,
            ],
            &[],
        )
    };
    // Malformed SS58: bad checksum, wrong length, other network's prefix, not base58.
    let bad_checksum = format!("{}Z", &ALICE[..ALICE.len() - 1]);
    fails_with(verify(&bad_checksum, &sig), &bad_checksum);
    fails_with(verify(&ALICE[..30], &sig), "expected 35");
    let polkadot = "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5";
    fails_with(verify(polkadot, &sig), "prefix 0; expected 42");
    fails_with(verify("0OIl", &sig), "not base58");
    fails_with(verify(ALICE, "0x1234"), "expected 64 bytes");
    fails_with(verify(ALICE, "nothex"), "--signature");

    // Invalid mnemonic word.
    let bad_phrase = DEV_PHRASE.replace("obey", "obeyy");
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "regen",
                "--root",
                root_s,
                "--name",
                "x",
                "--hotkey",
                "h",
                "--mnemonic",
                &bad_phrase,
            ],
            &[],
        ),
        "invalid mnemonic",
    );

    // Truncated and garbled hotkey files, a missing wallet, a missing password variable.
    ok(arena(
        d,
        &[
            "wallet",
            "regen",
            "--root",
            root_s,
            "--name",
            "x",
            "--hotkey",
            "h",
            "--mnemonic",
            DEV_PHRASE,
        ],
        &[],
    ));
    let hotkey_file = root.join("x/hotkeys/h");
    let full = std::fs::read(&hotkey_file).unwrap();
    let sign = || {
        arena(
            d,
            &[
                "wallet",
                "sign",
                "--root",
                root_s,
                "--name",
                "x",
                "--hotkey",
                "h",
                "--message",
                "m",
            ],
            &[],
        )
    };
    std::fs::write(&hotkey_file, &full[..full.len() / 2]).unwrap();
    fails_with(sign(), "x/hotkeys/h: not a valid keyfile");
    std::fs::write(&hotkey_file, b"\x00\x01garbage").unwrap();
    fails_with(sign(), "x/hotkeys/h: not a valid keyfile");
    std::fs::write(&hotkey_file, b"gAAAAABhZ0legacyFernetToken").unwrap();
    fails_with(sign(), "x/hotkeys/h: encrypted with legacy (Fernet)");
    std::fs::write(&hotkey_file, b"$ANSIBLE_VAULT;1.1;AES256\n3132").unwrap();
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "sign",
                "--root",
                root_s,
                "--name",
                "x",
                "--hotkey",
                "h",
                "--message",
                "m",
                "--password-env",
                "ARENA_TEST_PW",
            ],
            &[("ARENA_TEST_PW", "pw")],
        ),
        "x/hotkeys/h: not a valid keyfile: Ansible Vault",
    );
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "sign",
                "--root",
                root_s,
                "--name",
                "nope",
                "--message",
                "m",
            ],
            &[],
        ),
        "wallet \"nope\" not found",
    );
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "new",
                "--root",
                root_s,
                "--name",
                "y",
                "--password-env",
                "ARENA_UNSET_VAR",
            ],
            &[],
        ),
        "ARENA_UNSET_VAR",
    );
    fails_with(
        arena(d, &["wallet", "new", "--root", root_s, "--name", "y"], &[]),
        "no terminal",
    );
    fails_with(
        arena(
            d,
            &[
                "wallet",
                "new",
                "--root",
                root_s,
                "--name",
                "../evil",
                "--no-password",
            ],
            &[],
        ),
        "invalid wallet name",
    );
    // Flag errors are clap's: exit code 2, no panic.
    let words = arena(
        d,
        &["wallet", "new", "--root", root_s, "--words", "13"],
        &[],
    );
    assert_eq!(words.code, 2, "{}", words.stderr);
    assert!(words.stderr.contains("12 or 24") && !words.stderr.contains("panicked"));
}
