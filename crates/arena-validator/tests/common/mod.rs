//! A small network in one process: a local chain, a hub on 127.0.0.1:0, miners that upload
//! fixture models (some crafted to be bad) and commit them.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arena_chain::{Chain, Hyperparameters, LocalChain, LocalChainOptions};
use arena_hub::client::HubClient;
use arena_hub::server::{router, ServerConfig, User};
use arena_keys::Keypair;
use arena_validator::eval::EvalBackend;
use arena_validator::worker::{EvalJob, EvalReport, TaskOutcome, WorkerFailure};
use async_trait::async_trait;
use std::collections::BTreeMap;

pub const NETUID_PLACEHOLDER: u16 = 0;

/// Competition 1 sized for the fixtures: 3 MB, 300k parameters, delay 5 blocks, one generated task.
pub const SCHEDULE: &str = r#"
[[entries]]
start_block = 0
  [[entries.competitions]]
  id = 1
  name = "tiny-instruct"
  reward = 1.0
  scoring = { policy = "pairwise", step_weights = "winner_takes_all" }
  [entries.competitions.constraints]
  min_params = 100_000
  max_params = 300_000
  max_bytes = 3_000_000
  sequence_length = 512
  architectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"]
  tokenizer = { kind = "pinned", sha256 = "62d37104af465a748adfac8aef3a9e2e8bee0dea7dd3e6bd3ffb6acead07eb7a" }
  dtype = "f32"
  eval_block_delay = 5
  epsilon = { kind = "fixed", value = 0.005 }
  [[entries.competitions.tasks]]
  id = "word_sorting"
  method = { kind = "reference_loss" }
  dataset = { generator = "word_sorting" }
  samples = 4
  weight = 1.0
"#;

pub fn fixtures() -> PathBuf {
    std::env::var_os("ARENA_TEST_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"))
}

/// A writable copy of a fixture model folder (without `expected.json`).
pub fn copy_fixture(name: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "expected.json" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Writes a safetensors file with one zero F32 tensor of `count` values.
pub fn write_one_tensor(path: &Path, name: &str, count: usize) {
    let header = format!(
        r#"{{"{name}":{{"dtype":"F32","shape":[{count}],"data_offsets":[0,{}]}}}}"#,
        count * 4
    );
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + count * 4, 0);
    std::fs::write(path, bytes).unwrap();
}

pub struct Net {
    pub chain: Arc<LocalChain>,
    pub netuid: u16,
    pub hub_url: String,
    pub owner: Keypair,
    pub root: tempfile::TempDir,
    /// Every request the hub received, as `METHOD /path`.
    pub hub_log: RequestLog,
    _hub: tokio::task::JoinHandle<()>,
}

/// Requests seen by a server, for assertions on what was (not) fetched.
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

pub struct Miner {
    pub hotkey: Keypair,
    pub uid: u16,
    pub namespace: String,
    pub token: String,
}

impl Net {
    pub async fn start() -> Net {
        Net::start_with(Hyperparameters {
            tempo: 10,
            weights_rate_limit: 5,
            ..Default::default()
        })
        .await
    }

    /// A network whose subnet has the hyperparameters `hp`.
    pub async fn start_with(hp: Hyperparameters) -> Net {
        let root = tempfile::tempdir().unwrap();
        let chain = Arc::new(
            LocalChain::open(root.path().join("chain"), LocalChainOptions::default()).unwrap(),
        );
        let owner = Keypair::from_uri("//Alice").unwrap();
        let netuid = chain
            .create_subnet(&owner, hp)
            .await
            .unwrap()
            .assigned
            .unwrap();
        chain.produce_block().unwrap();
        let users = [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "mallory", "oscar", "nancy",
            "trudy",
        ]
        .iter()
        .map(|n| User {
            name: n.to_string(),
            token: format!("{n}-token-0123"),
        })
        .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub_url = format!("http://{}", listener.local_addr().unwrap());
        let config = ServerConfig::new(root.path().join("hub"), users);
        let (hub_log, hub) = serve_logged(listener, router(config).unwrap());
        Net {
            chain,
            netuid,
            hub_url,
            owner,
            root,
            hub_log,
            _hub: hub,
        }
    }

    pub fn produce(&self, blocks: u64) {
        for _ in 0..blocks {
            self.chain.produce_block().unwrap();
        }
    }

    pub async fn block(&self) -> u64 {
        self.chain.block_number().await.unwrap()
    }

    /// Registers a hotkey (with `stake` rao when non-zero) and returns its uid.
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

    pub async fn miner(&self, namespace: &str) -> Miner {
        let (hotkey, uid) = self.register(&format!("//{namespace}-miner"), 0).await;
        Miner {
            hotkey,
            uid,
            namespace: namespace.to_string(),
            token: format!("{namespace}-token-0123"),
        }
    }

    /// Uploads `dir` as `<namespace>/<name>` (public) and returns `(commit, secure hash for the miner)`.
    pub async fn upload(&self, miner: &Miner, name: &str, dir: &Path) -> (String, String) {
        let client = HubClient::new(&self.hub_url, Some(miner.token.clone())).unwrap();
        let repo = format!("{}/{name}", miner.namespace);
        client.create_repo(&repo, false, true).await.unwrap();
        let commit = client.upload_folder(&repo, dir, "model").await.unwrap();
        let hash = arena_hub::model_hash::hash_directory(dir).unwrap();
        (commit, hash.secure_hash(&miner.hotkey.public().ss58()))
    }

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
}

/// Test double of the evaluation engine (this crate has no model code; the real worker is
/// exercised in `crates/arena/tests/validator_e2e.rs`): the score of a model is fixed per
/// repository, so these tests of the service logic know which miner must win.
pub struct FixedQuality(pub BTreeMap<&'static str, f64>);

#[async_trait]
impl EvalBackend for FixedQuality {
    async fn evaluate(&self, job: &EvalJob) -> Result<EvalReport, WorkerFailure> {
        let path = job.model_dir.display().to_string();
        let (_, score) = self
            .0
            .iter()
            .find(|(repo, _)| path.contains(*repo))
            .ok_or_else(|| WorkerFailure::Evaluation(format!("unknown model {path}")))?;
        let samples = job.tasks[0].samples.as_ref().map_or(0, Vec::len);
        Ok(EvalReport {
            tasks: vec![TaskOutcome {
                task_id: job.tasks[0].task_id.clone(),
                raw: *score,
                sample_scores: vec![*score; samples],
            }],
            load_ms: 3,
            compute_ms: 4,
        })
    }
}
