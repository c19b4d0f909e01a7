//! An in-process network for tests: a local chain with one subnet, a hub on `127.0.0.1:0`,
//! optionally the chain's JSON-RPC server (for the `arena` binary) and a signed data feed;
//! registration with stake, upload to the hub and commitment on chain.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arena_chain::{Chain, Hyperparameters, LocalChain, LocalChainOptions, NetUid};
use arena_data::batch::BatchLimits;
use arena_data::feed::server::FeedState;
use arena_data::feed::store::FeedStore;
use arena_hub::client::HubClient;
use arena_hub::server::{router, ServerConfig, User};
use arena_keys::Keypair;

/// Hub users of a default network; each `name` has the token `<name>-token-0123`.
pub const HUB_USERS: [&str; 11] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "mallory", "oscar", "nancy", "trudy",
];

/// The hub token of user `name`.
pub fn hub_token(name: &str) -> String {
    format!("{name}-token-0123")
}

/// Requests seen by a server, as `METHOD /path`, for assertions on what was (not) fetched.
pub type RequestLog = Arc<Mutex<Vec<String>>>;

/// Serves `app` on `listener`, logging every request into the returned log.
pub fn serve_logged(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> (RequestLog, tokio::task::JoinHandle<()>) {
    let log: RequestLog = Arc::default();
    let seen = log.clone();
    let app = app.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let seen = seen.clone();
            async move {
                let line = format!("{} {}", req.method(), req.uri().path());
                seen.lock().unwrap().push(line);
                next.run(req).await
            }
        },
    ));
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (log, task)
}

/// The settings of a hub stored in `dir` whose users are `names` (tokens: [`hub_token`]).
fn hub_config(dir: &Path, names: &[impl AsRef<str>]) -> ServerConfig {
    let users = names
        .iter()
        .map(|n| User {
            name: n.as_ref().to_string(),
            token: hub_token(n.as_ref()),
        })
        .collect();
    ServerConfig::new(dir.to_path_buf(), users)
}

/// Serves a hub alone (as `arena hub serve` does) on `127.0.0.1:0`, stored in `dir`, with the
/// users `names` (tokens: [`hub_token`]); returns its URL.
pub async fn start_hub(dir: &Path, names: &[&str]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = hub_config(dir, names);
    tokio::spawn(async move { arena_hub::server::serve(listener, config).await.unwrap() });
    url
}

/// How to build a [`Net`]; [`Net::builder`] gives the defaults.
pub struct NetBuilder {
    hyperparameters: Hyperparameters,
    chain_options: LocalChainOptions,
    owner: String,
    hub_users: Vec<String>,
    inline_threshold: Option<u64>,
    rpc: bool,
    log_hub: bool,
}

impl NetBuilder {
    /// The subnet's hyperparameters (default: tempo 10, weights every 5 blocks).
    pub fn hyperparameters(mut self, hp: Hyperparameters) -> Self {
        self.hyperparameters = hp;
        self
    }

    /// The local chain's options (default: blocks produced only when a test asks).
    pub fn chain_options(mut self, options: LocalChainOptions) -> Self {
        self.chain_options = options;
        self
    }

    /// The secret URI of the subnet owner, who also pays for registrations and stake
    /// (default `//Alice`).
    pub fn owner(mut self, uri: &str) -> Self {
        self.owner = uri.to_string();
        self
    }

    /// The hub's users (default [`HUB_USERS`]); tokens are [`hub_token`]'s.
    pub fn hub_users(mut self, names: &[&str]) -> Self {
        self.hub_users = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Files of at most `bytes` are stored inline by the hub, larger ones through LFS.
    pub fn inline_threshold(mut self, bytes: u64) -> Self {
        self.inline_threshold = Some(bytes);
        self
    }

    /// Also serve the chain over JSON-RPC ([`Net::chain_url`]), for processes.
    pub fn rpc(mut self) -> Self {
        self.rpc = true;
        self
    }

    /// Log every request the hub receives into [`Net::hub_log`] (the hub is then served
    /// without the connection limits of `arena hub serve` and without a public URL).
    pub fn log_hub_requests(mut self) -> Self {
        self.log_hub = true;
        self
    }

    /// Starts the network: the chain with the subnet created and one block produced, then the
    /// hub (and the JSON-RPC server).
    pub async fn start(self) -> Net {
        let root = tempfile::tempdir().unwrap();
        let chain =
            Arc::new(LocalChain::open(root.path().join("chain"), self.chain_options).unwrap());
        let owner = Keypair::from_uri(&self.owner).unwrap();
        let netuid = chain
            .create_subnet(&owner, self.hyperparameters)
            .await
            .unwrap()
            .assigned
            .unwrap();
        chain.produce_block().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub_url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = hub_config(&root.path().join("hub"), &self.hub_users);
        if let Some(bytes) = self.inline_threshold {
            config.inline_threshold = bytes;
        }
        // As `serve` does: links handed to clients (create, commit) name this address.
        config.public_url = Some(hub_url.clone());
        let (hub_log, hub) = if self.log_hub {
            serve_logged(listener, router(config).unwrap())
        } else {
            let task =
                tokio::spawn(
                    async move { arena_hub::server::serve(listener, config).await.unwrap() },
                );
            (RequestLog::default(), task)
        };
        let (chain_url, rpc) = if self.rpc {
            let (addr, rpc) =
                arena_chain::rpc::serve(chain.clone(), "127.0.0.1:0".parse().unwrap())
                    .await
                    .unwrap();
            let rpc: Box<dyn std::any::Any + Send> = Box::new(rpc);
            (Some(format!("http://{addr}")), Some(rpc))
        } else {
            (None, None)
        };
        Net {
            chain,
            netuid,
            hub_url,
            owner,
            root,
            hub_log,
            chain_url,
            _hub: hub,
            _rpc: rpc,
        }
    }
}

/// The running network; everything lives under `root` and stops when it is dropped (the
/// hub task when the test's runtime ends).
pub struct Net {
    /// The local chain.
    pub chain: Arc<LocalChain>,
    /// The subnet created at start.
    pub netuid: NetUid,
    /// `http://127.0.0.1:<port>` of the hub.
    pub hub_url: String,
    /// The subnet owner.
    pub owner: Keypair,
    /// Temporary folder holding the chain (`chain/`), the hub (`hub/`) and whatever the test
    /// puts there.
    pub root: tempfile::TempDir,
    /// Every request the hub received, when built with
    /// [`NetBuilder::log_hub_requests`].
    pub hub_log: RequestLog,
    chain_url: Option<String>,
    _hub: tokio::task::JoinHandle<()>,
    _rpc: Option<Box<dyn std::any::Any + Send>>,
}

/// A registered miner with a hub account: hotkey `//<namespace>-miner`, hub user
/// `namespace`.
pub struct Miner {
    /// Its hotkey.
    pub hotkey: Keypair,
    /// Its uid on the subnet.
    pub uid: u16,
    /// Its hub user and namespace.
    pub namespace: String,
    /// Its hub token.
    pub token: String,
}

impl Net {
    /// The defaults: tempo 10, weights every 5 blocks, owner `//Alice`, the [`HUB_USERS`],
    /// no JSON-RPC server, hub requests not logged.
    pub fn builder() -> NetBuilder {
        NetBuilder {
            hyperparameters: Hyperparameters {
                tempo: 10,
                weights_rate_limit: 5,
                ..Default::default()
            },
            chain_options: LocalChainOptions::default(),
            owner: "//Alice".to_string(),
            hub_users: HUB_USERS.iter().map(|n| n.to_string()).collect(),
            inline_threshold: None,
            rpc: false,
            log_hub: false,
        }
    }

    /// `http://127.0.0.1:<port>` of the chain's JSON-RPC server.
    ///
    /// # Panics
    /// When the network was built without [`NetBuilder::rpc`].
    pub fn chain_url(&self) -> &str {
        self.chain_url
            .as_deref()
            .expect("the network was built without NetBuilder::rpc")
    }

    /// Produces `blocks` blocks.
    pub fn produce(&self, blocks: u64) {
        for _ in 0..blocks {
            self.chain.produce_block().unwrap();
        }
    }

    /// The chain's head block number.
    pub async fn block(&self) -> u64 {
        self.chain.block_number().await.unwrap()
    }

    /// Registers the hotkey of `uri` (with `stake` rao when non-zero), produces a block and
    /// returns the hotkey and its uid.
    pub async fn register(&self, uri: &str, stake: u64) -> (Keypair, u16) {
        let hotkey = Keypair::from_uri(uri).unwrap();
        let uid = self
            .chain
            .register(&self.owner, self.netuid, &hotkey.public())
            .await
            .unwrap()
            .assigned
            .unwrap();
        if stake > 0 {
            self.chain
                .add_stake(&self.owner, &hotkey.public(), self.netuid, stake)
                .await
                .unwrap();
        }
        self.chain.produce_block().unwrap();
        (hotkey, uid)
    }

    /// Registers the miner `//<namespace>-miner`, whose hub user is `namespace`.
    pub async fn miner(&self, namespace: &str) -> Miner {
        let (hotkey, uid) = self.register(&format!("//{namespace}-miner"), 0).await;
        Miner {
            hotkey,
            uid,
            namespace: namespace.to_string(),
            token: hub_token(namespace),
        }
    }

    /// Uploads `dir` as `<namespace>/<name>` (public) and returns `(commit, secure hash for
    /// the miner)`.
    pub async fn upload(&self, miner: &Miner, name: &str, dir: &Path) -> (String, String) {
        let client = HubClient::new(&self.hub_url, Some(miner.token.clone())).unwrap();
        let repo = format!("{}/{name}", miner.namespace);
        client.create_repo(&repo, false, true).await.unwrap();
        let commit = client.upload_folder(&repo, dir, "model").await.unwrap();
        let hash = arena_hub::model_hash::hash_directory(dir).unwrap();
        (commit, hash.secure_hash(&miner.hotkey.public().ss58()))
    }

    /// Sets the miner's commitment to `text`.
    pub async fn commit_text(&self, miner: &Miner, text: &str) {
        self.chain
            .set_commitment(&miner.hotkey, self.netuid, text.as_bytes())
            .await
            .unwrap();
    }

    /// Uploads and commits a model folder for competition 1; returns the commitment text.
    pub async fn publish(&self, miner: &Miner, name: &str, dir: &Path) -> String {
        let (commit, secure) = self.upload(miner, name, dir).await;
        let text = format!("{}:{name}:{commit}:{secure}:1", miner.namespace);
        self.commit_text(miner, &text).await;
        text
    }

    /// Serves a data feed (database `root/feed.sqlite`, default batch limits) on
    /// `127.0.0.1:0`; returns its URL.
    pub async fn start_feed(&self) -> String {
        let store = FeedStore::open(&self.root.path().join("feed.sqlite")).unwrap();
        let state = FeedState::new(store, BatchLimits::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(arena_data::feed::server::serve(
            listener,
            state,
            std::future::pending(),
        ));
        url
    }
}
