//! `arena hub`: run a Hugging Face Hub–compatible model hub, publish and fetch models, and
//! compute the model hash miners commit to the chain.
//!
//! Client commands talk to `[hub] endpoint` (or `HF_ENDPOINT`, default huggingface.co) with
//! `[hub] token` (or `HF_TOKEN`); the same commands work against `arena hub serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use arena_hub::client::DownloadOptions;
use arena_hub::server::{serve, users, ServerConfig};
use serde_json::json;

use crate::config::Config;
use crate::context::hub_client;

/// Model hub: server, upload, download, hash.
#[derive(clap::Args, Debug)]
pub struct HubGroupArgs {
    /// Hub URL for client commands. Default: HF_ENDPOINT, then `[hub] endpoint`, then
    /// https://huggingface.co.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    #[command(subcommand)]
    pub command: HubCmd,
}

/// Subcommands of `arena hub`.
#[derive(clap::Subcommand, Debug)]
pub enum HubCmd {
    /// Serve the Hub HTTP API (repos, commits, Git LFS, resolve downloads) from a directory.
    ///
    /// The official `huggingface_hub` client works against it with HF_ENDPOINT set to this
    /// server and HF_HUB_DISABLE_XET=1 (large files go through Git LFS, never Xet).
    Serve(ServeArgs),
    /// Create a model repo (no error if it already exists).
    Create(CreateArgs),
    /// Upload every file of a folder to branch main in one commit; prints the commit id.
    Upload(UploadArgs),
    /// Download a revision into the cache, verifying every file; prints the snapshot path.
    Download(DownloadArgs),
    /// Show a repo's files, sizes and digests at a revision.
    Info(InfoArgs),
    /// Make a repo public or private.
    Visibility(VisibilityArgs),
    /// Compute the model hash of a folder (and the secure hash for a hotkey).
    Hash(HashArgs),
    /// Manage the accounts of a hub's storage root (a running `arena hub serve` on that root
    /// picks changes up without a restart).
    #[command(subcommand)]
    User(UserCmd),
}

/// Subcommands of `arena hub user`.
#[derive(clap::Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user with a fresh random token, printed once on the last line of stdout.
    ///
    /// Only the token's sha256 is stored (`<root>/users.toml`, mode 0600). Give the token to
    /// the user's client as HF_TOKEN or `[hub] token`.
    Add(UserAddArgs),
    /// List the users' names (never tokens).
    List(UserRootArgs),
    /// Delete a user: its token stops working within a second.
    Remove(UserRemoveArgs),
}

/// The storage root whose accounts a `hub user` command edits.
#[derive(clap::Args, Debug)]
pub struct UserRootArgs {
    /// The hub's storage root (a localnet's is <home>/localnet/hub). Default: `[hub] root`,
    /// else <home>/hub.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// Flags of `arena hub user add`.
#[derive(clap::Args, Debug)]
pub struct UserAddArgs {
    /// User name, also the namespace of the user's repos.
    pub name: String,
    #[command(flatten)]
    pub root: UserRootArgs,
    /// If the user exists, replace its token (the old one stops working) instead of refusing.
    #[arg(long)]
    pub rotate: bool,
}

/// Flags of `arena hub user remove`.
#[derive(clap::Args, Debug)]
pub struct UserRemoveArgs {
    /// User name.
    pub name: String,
    #[command(flatten)]
    pub root: UserRootArgs,
}

/// Flags of `arena hub serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Listen address. Default: `[hub] addr`.
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Storage directory (blobs and repo metadata). Default: `[hub] root`, else <home>/hub.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// An extra users TOML (`[[user]] name = "alice"` with `token_sha256 = "…"` or a clear
    /// `token = "…"`), re-read when it changes. Default: `[hub] users`. The accounts of
    /// `arena hub user add` (<root>/users.toml) are always served.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Files of at least this many bytes go through LFS. Default: `[hub] inline_threshold`.
    #[arg(long, value_name = "BYTES")]
    pub inline_threshold: Option<u64>,
    /// Base URL written into answers and upload links (set it behind a proxy or when listening
    /// on 0.0.0.0). Default: http://<listen address>; the Host header is never used.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Largest LFS object accepted, in bytes. Default: 64 GiB.
    #[arg(long, value_name = "BYTES")]
    pub max_object_size: Option<u64>,
    /// Largest commit body (inline files, base64), in bytes. Default: 256 MiB.
    #[arg(long, value_name = "BYTES")]
    pub max_commit_bytes: Option<u64>,
    /// Most files per pre-upload request and objects per LFS batch request. Default: 1000.
    #[arg(long, value_name = "N")]
    pub max_objects_per_request: Option<usize>,
    /// Seconds an LFS upload link stays valid. Default: 3600.
    #[arg(long, value_name = "SECS")]
    pub upload_link_ttl: Option<u64>,
    /// Seconds before a blob that no commit references is deleted. Default: 86400.
    #[arg(long, value_name = "SECS")]
    pub blob_grace: Option<u64>,
}

/// Flags of `arena hub create`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Repo id `namespace/name`.
    pub repo: String,
    /// Create it private (visible only to its owner).
    #[arg(long)]
    pub private: bool,
}

/// Flags of `arena hub upload`.
#[derive(clap::Args, Debug)]
pub struct UploadArgs {
    /// Folder to upload.
    pub dir: PathBuf,
    /// Repo id `namespace/name` (created if missing).
    pub repo: String,
    /// Create the repo private if it does not exist yet.
    #[arg(long)]
    pub private: bool,
    /// Commit message.
    #[arg(long, short, default_value = "Upload model")]
    pub message: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena hub download`.
#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// Repo id `namespace/name`.
    pub repo: String,
    /// Commit id (40 hex) or branch.
    #[arg(long, short)]
    pub revision: String,
    /// Refuse the revision if its files add up to more bytes (checked before downloading).
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
    /// Cache directory. Default: `[hub] cache_dir`, else <home>/hub-cache.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Files downloaded in parallel.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Also print the secure hash for this hotkey (SS58).
    #[arg(long, value_name = "SS58")]
    pub hotkey: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `arena hub info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Repo id `namespace/name`.
    pub repo: String,
    /// Commit id or branch.
    #[arg(long, short, default_value = "main")]
    pub revision: String,
}

/// Flags of `arena hub visibility`.
#[derive(clap::Args, Debug)]
pub struct VisibilityArgs {
    /// Repo id `namespace/name`.
    pub repo: String,
    /// Make it private.
    #[arg(long, conflicts_with = "public", required_unless_present = "public")]
    pub private: bool,
    /// Make it public.
    #[arg(long)]
    pub public: bool,
}

/// Flags of `arena hub hash`.
#[derive(clap::Args, Debug)]
pub struct HashArgs {
    /// Model folder.
    pub dir: PathBuf,
    /// Hotkey (SS58) to bind into the secure hash.
    #[arg(long, value_name = "SS58")]
    pub hotkey: Option<String>,
    /// Also list every file's digest.
    #[arg(long)]
    pub files: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `arena hub …`.
pub async fn run(args: HubGroupArgs, cfg: &Config) -> anyhow::Result<()> {
    let client = || hub_client(args.endpoint.as_deref(), cfg);
    match args.command {
        HubCmd::Serve(a) => serve_cmd(a, cfg).await,
        HubCmd::Create(a) => {
            let url = client()?.create_repo(&a.repo, a.private, true).await?;
            println!("{url}");
            Ok(())
        }
        HubCmd::Upload(a) => {
            let hub = client()?;
            hub.create_repo(&a.repo, a.private, true).await?;
            let commit = hub.upload_folder(&a.repo, &a.dir, &a.message).await?;
            let dir = a.dir.clone();
            let hash =
                tokio::task::spawn_blocking(move || arena_hub::model_hash::hash_directory(&dir))
                    .await??;
            if a.json {
                println!(
                    "{}",
                    json!({"repo": a.repo, "commit": commit, "directory_hash": hash.directory_hash})
                );
            } else {
                println!("{commit}");
            }
            Ok(())
        }
        HubCmd::Download(a) => {
            if let Some(hotkey) = &a.hotkey {
                check_hotkey(hotkey)?;
            }
            let cache = a
                .cache
                .clone()
                .or_else(|| cfg.hub.cache_dir.clone())
                .unwrap_or_else(|| cfg.home.join("hub-cache"));
            let options = DownloadOptions {
                max_bytes: a.max_bytes,
                parallel: a.parallel,
                ..DownloadOptions::default()
            };
            let snap = client()?
                .download(&a.repo, &a.revision, &cache, &options)
                .await?;
            let secure = a.hotkey.as_deref().map(|h| snap.model_hash.secure_hash(h));
            if a.json {
                println!(
                    "{}",
                    json!({"repo": a.repo, "commit": snap.commit, "path": snap.path,
                    "directory_hash": snap.model_hash.directory_hash, "secure_hash": secure})
                );
            } else {
                println!("{}", snap.path.display());
            }
            Ok(())
        }
        HubCmd::Info(a) => {
            let info = client()?.repo_info(&a.repo, &a.revision).await?;
            let files: Vec<_> = info
                .siblings
                .iter()
                .map(|s| {
                    json!({"path": s.rfilename, "size": s.size,
                "blob_id": s.blob_id, "lfs_sha256": s.lfs.as_ref().map(|l| &l.sha256)})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"id": info.id, "sha": info.sha,
                "private": info.private, "files": files}))?
            );
            Ok(())
        }
        HubCmd::Visibility(a) => {
            client()?.set_visibility(&a.repo, a.private).await?;
            println!(
                "{} is now {}",
                a.repo,
                if a.private { "private" } else { "public" }
            );
            Ok(())
        }
        HubCmd::Hash(a) => hash_cmd(a).await,
        HubCmd::User(c) => user_cmd(c, cfg),
    }
}

fn hub_root(root: Option<PathBuf>, cfg: &Config) -> PathBuf {
    root.or_else(|| cfg.hub.root.clone())
        .unwrap_or_else(|| cfg.home.join("hub"))
}

fn user_cmd(c: UserCmd, cfg: &Config) -> anyhow::Result<()> {
    match c {
        UserCmd::Add(a) => {
            let root = hub_root(a.root.root, cfg);
            let token = users::add_user(&root, &a.name, a.rotate)?;
            eprintln!(
                "{} {} in {} (only its sha256 is stored: keep the token below, it is not shown \
                 again; use it as HF_TOKEN or [hub] token)",
                if a.rotate {
                    "new token for"
                } else {
                    "created user"
                },
                a.name,
                users::users_file(&root).display()
            );
            println!("{token}");
            Ok(())
        }
        UserCmd::List(a) => {
            let root = hub_root(a.root, cfg);
            for account in users::read_accounts(&users::users_file(&root))? {
                println!("{}", account.name);
            }
            Ok(())
        }
        UserCmd::Remove(a) => {
            let root = hub_root(a.root.root, cfg);
            users::remove_user(&root, &a.name)?;
            eprintln!("removed user {}", a.name);
            Ok(())
        }
    }
}

fn check_hotkey(hotkey: &str) -> anyhow::Result<()> {
    arena_keys::PublicKey::from_ss58(hotkey).with_context(|| format!("--hotkey {hotkey:?}"))?;
    Ok(())
}

async fn hash_cmd(a: HashArgs) -> anyhow::Result<()> {
    if let Some(hotkey) = &a.hotkey {
        check_hotkey(hotkey)?;
    }
    let dir = a.dir.clone();
    let hash =
        tokio::task::spawn_blocking(move || arena_hub::model_hash::hash_directory(&dir)).await??;
    let secure = a.hotkey.as_deref().map(|h| hash.secure_hash(h));
    if a.json {
        let files: Vec<_> = hash
            .files
            .iter()
            .map(|f| {
                json!({"path": f.path, "size": f.size,
            "sha256": f.sha256_b64(), "hashed": arena_core::hash::is_hashed_file(&f.path)})
            })
            .collect();
        let mut out = json!({"directory_hash": hash.directory_hash, "secure_hash": secure});
        if a.files {
            out["files"] = json!(files);
        }
        println!("{out}");
    } else {
        if a.files {
            for f in &hash.files {
                let mark = if arena_core::hash::is_hashed_file(&f.path) {
                    ""
                } else {
                    "  (not hashed)"
                };
                println!("{}  {}{mark}", f.sha256_b64(), f.path);
            }
        }
        println!("directory_hash {}", hash.directory_hash);
        if let Some(secure) = secure {
            println!("secure_hash {secure}");
        }
    }
    Ok(())
}

async fn serve_cmd(a: ServeArgs, cfg: &Config) -> anyhow::Result<()> {
    let root = hub_root(a.root, cfg);
    let mut config = ServerConfig::new(root, Vec::new());
    if let Some(file) = a.users.or_else(|| cfg.hub.users.clone()) {
        // A wrong path stops the start (a bad entry does below, when every file is read).
        std::fs::metadata(&file).with_context(|| format!("users file {}", file.display()))?;
        config.users_files.push(file);
    }
    let known: usize = config
        .users_files
        .iter()
        .map(|f| users::read_accounts(f).map(|a| a.len()))
        .sum::<Result<usize, _>>()?;
    if known == 0 {
        eprintln!(
            "no hub accounts yet (downloads of public repos only): add one with \
             `arena hub user add NAME --root {}`; this server picks it up without a restart",
            config.root.display()
        );
    }
    config.inline_threshold = a.inline_threshold.unwrap_or(cfg.hub.inline_threshold);
    config.public_url = a.public_url;
    let limits = &mut config.limits;
    limits.max_object_size = a.max_object_size.unwrap_or(limits.max_object_size);
    limits.max_commit_bytes = a.max_commit_bytes.unwrap_or(limits.max_commit_bytes);
    limits.objects_per_request = a
        .max_objects_per_request
        .unwrap_or(limits.objects_per_request);
    if let Some(secs) = a.upload_link_ttl {
        limits.upload_token_ttl = std::time::Duration::from_secs(secs);
    }
    if let Some(secs) = a.blob_grace {
        limits.blob_grace = std::time::Duration::from_secs(secs);
    }
    let addr = a
        .addr
        .map(|a| a.to_string())
        .unwrap_or_else(|| cfg.hub.addr.clone());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    eprintln!(
        "hub serving {} on http://{}",
        config.root.display(),
        listener.local_addr()?
    );
    serve(listener, config).await?;
    Ok(())
}
