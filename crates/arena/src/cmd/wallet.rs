//! `arena wallet`: create, list, regenerate and use Bittensor-compatible wallets.
//!
//! Wallets live in Bittensor's layout under `--root` (default `[wallet] root`, normally
//! `~/.bittensor/wallets`), so `btcli` wallets work here and ours work there. Secrets are
//! never printed, except each new mnemonic once, when it is created (as btcli does).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use arena_keys::keyfile;
use arena_keys::nacl::Encryption;
use arena_keys::wallet::Wallet;
use arena_keys::{Keypair, PublicKey, Signature};
use serde_json::json;

use crate::config::Config;
use crate::context::password_from_env;

/// Wallets in Bittensor's on-disk layout: coldkeys (encrypted) and hotkeys (plain).
///
/// Layout: <root>/<wallet>/coldkey, coldkeypub.txt, hotkeys/<name>, hotkeys/<name>pub.txt.
/// Validators, miners and data producers sign with a hotkey; the coldkey owns the stake.
#[derive(clap::Args, Debug)]
pub struct WalletArgs {
    /// Wallet root directory. Default: `[wallet] root` (~/.bittensor/wallets).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: WalletCmd,
}

/// Subcommands of `arena wallet`.
#[derive(clap::Subcommand, Debug)]
pub enum WalletCmd {
    /// Create a wallet: a new coldkey (unless the wallet has one) and a new hotkey.
    ///
    /// The coldkey is encrypted with a password (asked twice, or read from --password-env)
    /// unless --no-password. Each new mnemonic is printed once: write it down.
    New(NewArgs),
    /// List wallets under the root with their coldkey and hotkey addresses.
    List(ListArgs),
    /// Regenerate a coldkey (or, with --hotkey, a hotkey) from its mnemonic.
    ///
    /// Without --mnemonic the mnemonic is read from the terminal without echo.
    Regen(RegenArgs),
    /// Sign a message with a hotkey (or --coldkey) and print the 0x-hex signature.
    Sign(SignArgs),
    /// Check a signature against an SS58 address. Exit code 0 if valid, 1 if not.
    ///
    /// Accepts signatures over the message itself or over `<Bytes>message</Bytes>`.
    Verify(VerifyArgs),
}

/// Flags of `arena wallet new`.
#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// Wallet (coldkey) name. Default: `[wallet] name`.
    #[arg(long)]
    pub name: Option<String>,
    /// Hotkey name. Default: `[wallet] hotkey`.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// Store the coldkey unencrypted (only for throwaway or test wallets).
    #[arg(long, conflicts_with = "password_env")]
    pub no_password: bool,
    /// Read the coldkey password from this environment variable instead of prompting.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Mnemonic length.
    #[arg(long, default_value_t = 12, value_parser = parse_words)]
    pub words: usize,
    /// Replace existing keys of the same names (the old keys are lost unless backed up).
    #[arg(long)]
    pub overwrite: bool,
    /// Print the result as JSON (mnemonics included, as on screen).
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena wallet list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Print `[{name, coldkey_ss58, hotkeys: [{name, ss58}]}]` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena wallet regen`.
#[derive(clap::Args, Debug)]
pub struct RegenArgs {
    /// Wallet (coldkey) name. Default: `[wallet] name`.
    #[arg(long)]
    pub name: Option<String>,
    /// Regenerate this hotkey instead of the coldkey.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// The 12 or 24 word mnemonic (quote it). Omit to type it without echo.
    #[arg(long)]
    pub mnemonic: Option<String>,
    /// Store a regenerated coldkey unencrypted.
    #[arg(long, conflicts_with = "password_env")]
    pub no_password: bool,
    /// Read the new coldkey password from this environment variable instead of prompting.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Replace an existing key file.
    #[arg(long)]
    pub overwrite: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena wallet sign`.
#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// Wallet (coldkey) name. Default: `[wallet] name`.
    #[arg(long)]
    pub name: Option<String>,
    /// Hotkey to sign with. Default: `[wallet] hotkey`.
    #[arg(long, conflicts_with = "coldkey")]
    pub hotkey: Option<String>,
    /// Sign with the coldkey instead (asks for its password).
    #[arg(long)]
    pub coldkey: bool,
    /// Read the key's password (coldkey, or an encrypted hotkey) from this environment
    /// variable instead of prompting.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// The message, signed as its UTF-8 bytes.
    #[arg(long)]
    pub message: String,
    /// Print `{ss58, signature}` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena wallet verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Address of the signer (SS58, prefix 42).
    #[arg(long)]
    pub ss58: String,
    /// The message that was signed (UTF-8).
    #[arg(long)]
    pub message: String,
    /// The signature, 64 bytes of hex (with or without 0x).
    #[arg(long)]
    pub signature: String,
    /// Print `{ss58, valid}` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs one `arena wallet` subcommand.
pub fn run(args: WalletArgs, cfg: &Config) -> anyhow::Result<()> {
    let root = args.root.unwrap_or_else(|| cfg.wallet.root.clone());
    match args.command {
        WalletCmd::New(a) => new(&root, a, cfg),
        WalletCmd::List(a) => list(&root, a),
        WalletCmd::Regen(a) => regen(&root, a, cfg.wallet.name.clone()),
        WalletCmd::Sign(a) => sign(&root, a, cfg),
        WalletCmd::Verify(a) => verify(a),
    }
}

fn new(root: &Path, a: NewArgs, cfg: &Config) -> anyhow::Result<()> {
    let name = a.name.unwrap_or_else(|| cfg.wallet.name.clone());
    let hotkey = a.hotkey.unwrap_or_else(|| cfg.wallet.hotkey.clone());
    let wallet = Wallet::new(root, &name)?;
    // Checked before asking for a password, so nobody types one only to see this error.
    let hotkey_path = wallet.hotkey_path(&hotkey);
    if !a.overwrite && hotkey_path.exists() {
        bail!(
            "{}: already exists; pass --overwrite to replace it",
            hotkey_path.display()
        );
    }
    let needs_coldkey = a.overwrite || !wallet.coldkey_path().exists();
    let password = match (needs_coldkey, a.no_password) {
        (true, false) => Some(new_password(a.password_env.as_deref(), &wallet)?),
        _ => None,
    };
    let created = Wallet::create(
        root,
        &name,
        &hotkey,
        a.words,
        password.as_deref(),
        a.overwrite,
    )?;
    let coldkey_ss58 = created.wallet.coldkeypub()?.ss58();
    let coldkey_mnemonic = created.coldkey.as_ref().and_then(|k| k.phrase());
    let hotkey_mnemonic = created.hotkey.phrase();
    if a.json {
        let out = json!({
            "name": name,
            "path": created.wallet.path(),
            "coldkey_ss58": coldkey_ss58,
            "coldkey_created": created.coldkey.is_some(),
            "coldkey_encrypted": created.wallet.coldkey_is_encrypted()?,
            "coldkey_mnemonic": coldkey_mnemonic,
            "hotkey": {
                "name": hotkey,
                "ss58": created.hotkey.public().ss58(),
                "mnemonic": hotkey_mnemonic,
            },
        });
        println!("{out}");
        return Ok(());
    }
    println!("wallet {name} at {}", created.wallet.path().display());
    match coldkey_mnemonic {
        Some(phrase) => {
            let how = if password.is_some() {
                "encrypted"
            } else {
                "UNENCRYPTED"
            };
            println!("coldkey {coldkey_ss58} (new, {how})");
            println!("  mnemonic: {phrase}");
        }
        None => println!("coldkey {coldkey_ss58} (existing, kept)"),
    }
    println!("hotkey {hotkey} {}", created.hotkey.public().ss58());
    if let Some(phrase) = hotkey_mnemonic {
        println!("  mnemonic: {phrase}");
    }
    println!("Write the mnemonics down and keep them secret: they alone recover the keys.");
    Ok(())
}

fn list(root: &Path, a: ListArgs) -> anyhow::Result<()> {
    let summaries: Vec<_> = Wallet::list(root)?.iter().map(Wallet::summary).collect();
    if a.json {
        println!("{}", serde_json::to_string(&summaries)?);
        return Ok(());
    }
    if summaries.is_empty() {
        println!("no wallets under {}", root.display());
    }
    let unknown = "? (unreadable)";
    for w in &summaries {
        println!(
            "{}  coldkey {}",
            w.name,
            w.coldkey_ss58.as_deref().unwrap_or(unknown)
        );
        for h in &w.hotkeys {
            println!(
                "    hotkey {}  {}",
                h.name,
                h.ss58.as_deref().unwrap_or(unknown)
            );
        }
    }
    Ok(())
}

fn regen(root: &Path, a: RegenArgs, default_name: String) -> anyhow::Result<()> {
    let name = a.name.unwrap_or(default_name);
    let wallet = Wallet::new(root, &name)?;
    let phrase = match a.mnemonic {
        Some(m) => m,
        None => prompt_secret("Mnemonic (input hidden): ")?,
    };
    let keypair = Keypair::from_phrase(&phrase).context("--mnemonic")?;
    let (which, path) = match &a.hotkey {
        Some(hotkey) => {
            wallet.set_hotkey(hotkey, &keypair, a.overwrite)?;
            (format!("hotkey {hotkey}"), wallet.hotkey_path(hotkey))
        }
        None => {
            if !a.overwrite && wallet.coldkey_path().exists() {
                bail!(
                    "{}: already exists; pass --overwrite to replace it",
                    wallet.coldkey_path().display()
                );
            }
            let password = match a.no_password {
                true => None,
                false => Some(new_password(a.password_env.as_deref(), &wallet)?),
            };
            wallet.set_coldkey(&keypair, password.as_deref(), a.overwrite)?;
            ("coldkey".to_string(), wallet.coldkey_path())
        }
    };
    let ss58 = keypair.public().ss58();
    if a.json {
        println!(
            "{}",
            json!({"name": name, "key": which, "path": path, "ss58": ss58})
        );
    } else {
        println!(
            "regenerated {which} of wallet {name}: {ss58} ({})",
            path.display()
        );
    }
    Ok(())
}

fn sign(root: &Path, a: SignArgs, cfg: &Config) -> anyhow::Result<()> {
    let name = a.name.unwrap_or_else(|| cfg.wallet.name.clone());
    let wallet = Wallet::open(root, &name)?;
    let keypair = if a.coldkey {
        let path = wallet.coldkey_path();
        let password = match needs_password(&path)? {
            true => Some(password(a.password_env.as_deref(), &path)?),
            false => None,
        };
        wallet.coldkey(password.as_deref())?
    } else {
        let hotkey = a.hotkey.unwrap_or_else(|| cfg.wallet.hotkey.clone());
        // Hotkeys are plain by default, but bittensor lets users encrypt them too.
        let path = wallet.hotkey_path(&hotkey);
        let password = match path.exists() && needs_password(&path)? {
            true => Some(password(a.password_env.as_deref(), &path)?),
            false => None,
        };
        wallet.hotkey_with_password(&hotkey, password.as_deref())?
    };
    let signature = keypair.sign(a.message.as_bytes()).to_hex();
    if a.json {
        let out = json!({"ss58": keypair.public().ss58(), "signature": signature});
        println!("{out}");
    } else {
        println!("{signature}");
    }
    Ok(())
}

fn verify(a: VerifyArgs) -> anyhow::Result<()> {
    let public = PublicKey::from_ss58(a.ss58.trim()).context("--ss58")?;
    let signature = Signature::from_hex(a.signature.trim()).context("--signature")?;
    let valid = public.verify(a.message.as_bytes(), &signature);
    if a.json {
        println!("{}", json!({"ss58": public.ss58(), "valid": valid}));
    } else if valid {
        println!("valid signature by {public}");
    }
    if !valid {
        bail!("signature does not verify for {public} and this message");
    }
    Ok(())
}

fn parse_words(value: &str) -> Result<usize, String> {
    match value {
        "12" => Ok(12),
        "24" => Ok(24),
        _ => Err(format!("{value:?}: a mnemonic has 12 or 24 words")),
    }
}

/// Whether reading the keyfile at `path` needs a password (an encryption arena can decrypt).
fn needs_password(path: &Path) -> anyhow::Result<bool> {
    Ok(matches!(
        keyfile::encryption(path)?,
        Encryption::Nacl | Encryption::AnsibleVault
    ))
}

/// The password of an existing encrypted keyfile.
fn password(env: Option<&str>, path: &Path) -> anyhow::Result<String> {
    match env {
        Some(var) => password_from_env(var),
        None => prompt_secret(&format!("Password for {}: ", path.display())),
    }
}

/// A new coldkey password: from the environment, or typed twice.
fn new_password(env: Option<&str>, wallet: &Wallet) -> anyhow::Result<String> {
    if let Some(var) = env {
        return password_from_env(var);
    }
    let path = wallet.coldkey_path();
    let first = prompt_secret(&format!("New password for {}: ", path.display()))?;
    if first.is_empty() {
        bail!("empty password; use --no-password for an unencrypted coldkey");
    }
    let again = prompt_secret("Repeat the password: ")?;
    if first != again {
        bail!("the passwords do not match");
    }
    Ok(first)
}

fn prompt_secret(prompt: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no terminal to ask for a secret ({}); use --password-env VAR or the flag for it",
            prompt.trim_end_matches([' ', ':'])
        );
    }
    rpassword::prompt_password(prompt).context("reading from the terminal")
}
