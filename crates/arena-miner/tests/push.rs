//! `push` end to end against an in-process hub and local chain: the commitment validators
//! read, the hash they recompute from the downloaded revision, visibility, hotkey binding,
//! resumption after interruption at each stage, and the commitment budget.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arena_chain::{Chain, Hyperparameters, LocalChain, LocalChainOptions, NetUid};
use arena_core::commitment::ModelCommitment;
use arena_hub::client::{DownloadOptions, HubClient};
use arena_hub::HubError;
use arena_keys::Keypair;
use arena_miner::journal::Stage;
use arena_miner::push::{push, PushRequest};
use arena_miner::MinerError;
use arena_testkit::fixtures::copy_fixture;
use arena_testkit::TinyCompetition;

const TOKEN: &str = "alice-token-0123";

/// The tiny fixture model plus a README (which the model hash excludes).
fn model_folder(into: &Path) -> PathBuf {
    let dir = copy_fixture("tiny-llama", &into.join("model"));
    std::fs::write(dir.join("README.md"), "# tiny\n").unwrap();
    dir
}

struct Net {
    hub: HubClient,
    anonymous: HubClient,
    chain: Arc<LocalChain>,
    netuid: NetUid,
    hotkeys: Vec<Keypair>,
    /// While set, no blocks are produced (the block being built keeps accepting calls).
    paused: Arc<AtomicBool>,
    /// The chain and the hub, under a temporary folder.
    base: arena_testkit::Net,
    _producer: tokio::task::JoinHandle<()>,
}

async fn network(hyperparameters: Hyperparameters) -> Net {
    let base = arena_testkit::Net::builder()
        .hyperparameters(hyperparameters)
        .chain_options(LocalChainOptions::fast(Duration::from_millis(25)))
        .owner("//Owner")
        .hub_users(&["alice"])
        .inline_threshold(4096) // weights through LFS, small files inline
        .start()
        .await;
    let (chain, netuid, owner) = (base.chain.clone(), base.netuid, &base.owner);
    let hotkeys = vec![
        Keypair::from_uri("//Miner/0").unwrap(),
        Keypair::from_uri("//Miner/1").unwrap(),
    ];
    for hotkey in &hotkeys {
        chain
            .register(owner, netuid, &hotkey.public())
            .await
            .unwrap();
    }
    chain.produce_block().unwrap();
    let paused = Arc::new(AtomicBool::new(false));
    let producer = {
        let (chain, paused) = (chain.clone(), paused.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(25)).await;
                if !paused.load(Ordering::SeqCst) {
                    chain.produce_block().unwrap();
                }
            }
        })
    };
    Net {
        hub: HubClient::new(&base.hub_url, Some(TOKEN.into())).unwrap(),
        anonymous: HubClient::new(&base.hub_url, None).unwrap(),
        chain,
        netuid,
        hotkeys,
        paused,
        base,
        _producer: producer,
    }
}

impl Net {
    /// The temporary folder everything lives in.
    fn tmp(&self) -> &tempfile::TempDir {
        &self.base.root
    }

    fn request(&self, dir: &Path, repo: &str) -> PushRequest {
        let mut request = PushRequest::new(
            dir.to_path_buf(),
            repo,
            self.netuid,
            7,
            self.tmp().path().join("home"),
        );
        request.poll = Duration::from_millis(20);
        request.readback_timeout = Duration::from_secs(20);
        request
    }

    async fn commitment(&self, hotkey: &Keypair) -> Option<ModelCommitment> {
        let c = self
            .chain
            .commitment(self.netuid, &hotkey.public())
            .await
            .unwrap()?;
        Some(
            c.text()
                .expect("utf-8")
                .parse()
                .expect("validators parse it"),
        )
    }

    /// What a validator does: download the committed revision anonymously and recompute the
    /// secure hash with the committing hotkey.
    async fn validator_secure_hash(&self, c: &ModelCommitment, hotkey: &Keypair) -> String {
        let options = DownloadOptions {
            progress: false,
            ..DownloadOptions::default()
        };
        let snapshot = self
            .anonymous
            .download(
                &c.repo_id(),
                &c.commit,
                &self.tmp().path().join("validator"),
                &options,
            )
            .await
            .expect("public revision downloads without a token");
        snapshot.model_hash.secure_hash(&hotkey.public().ss58())
    }

    async fn nonce(&self, hotkey: &Keypair) -> u64 {
        self.chain.account_nonce(&hotkey.public()).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_commits_a_verifiable_public_model_bound_to_the_hotkey() {
    let net = network(Hyperparameters {
        tempo: 100,
        ..Default::default()
    })
    .await;
    let dir = model_folder(net.tmp().path());
    let (h0, h1) = (&net.hotkeys[0], &net.hotkeys[1]);

    let outcome = push(
        &net.hub,
        net.chain.as_ref(),
        h0,
        &net.request(&dir, "alice/tiny-a"),
    )
    .await
    .unwrap();
    assert_eq!(outcome.journal.stage, Stage::Public);
    assert_eq!(outcome.commits_sent, 1);
    assert!(!outcome.resumed);
    let c0 = net.commitment(h0).await.expect("committed");
    assert_eq!(c0.repo_id(), "alice/tiny-a");
    assert_eq!(c0.competition_id, 7);
    assert_eq!(Some(&c0.commit), outcome.journal.revision.as_ref());
    assert_eq!(net.validator_secure_hash(&c0, h0).await, c0.secure_hash);
    let info = net
        .anonymous
        .repo_info("alice/tiny-a", &c0.commit)
        .await
        .unwrap();
    assert_ne!(info.private, Some(true));
    // The directory hash the push recorded is the local folder's (README excluded).
    let local = arena_hub::model_hash::hash_directory(&dir).unwrap();
    assert_eq!(
        outcome.journal.directory_hash,
        Some(local.directory_hash.clone())
    );

    // The same folder under another hotkey: same content, a different secure hash, and the
    // first hotkey's hash does not verify for it.
    let other = push(
        &net.hub,
        net.chain.as_ref(),
        h1,
        &net.request(&dir, "alice/tiny-b"),
    )
    .await
    .unwrap();
    let c1 = net.commitment(h1).await.unwrap();
    assert_eq!(other.journal.directory_hash, Some(local.directory_hash));
    assert_ne!(c1.secure_hash, c0.secure_hash);
    assert_eq!(net.validator_secure_hash(&c1, h1).await, c1.secure_hash);
    assert_ne!(net.validator_secure_hash(&c1, h0).await, c1.secure_hash);

    // Running the finished push again changes nothing and sends nothing.
    let block_before = net
        .chain
        .commitment(net.netuid, &h0.public())
        .await
        .unwrap()
        .unwrap()
        .block;
    let again = push(
        &net.hub,
        net.chain.as_ref(),
        h0,
        &net.request(&dir, "alice/tiny-a"),
    )
    .await
    .unwrap();
    assert!(again.resumed);
    assert_eq!(again.commits_sent, 0);
    assert_eq!(net.nonce(h0).await, 1);
    let block_after = net
        .chain
        .commitment(net.netuid, &h0.public())
        .await
        .unwrap()
        .unwrap()
        .block;
    assert_eq!(block_before, block_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_push_resumes_without_a_second_commit() {
    let net = network(Hyperparameters {
        tempo: 100,
        ..Default::default()
    })
    .await;
    let dir = model_folder(net.tmp().path());
    let h0 = &net.hotkeys[0];
    let mut request = net.request(&dir, "alice/tiny-r");

    // Killed after the upload: private, nothing on chain.
    request.stop_after = Some(Stage::Uploaded);
    let first = push(&net.hub, net.chain.as_ref(), h0, &request)
        .await
        .unwrap();
    assert_eq!(first.journal.stage, Stage::Uploaded);
    assert!(net.commitment(h0).await.is_none());
    let hidden = net.anonymous.repo_info("alice/tiny-r", "main").await;
    assert!(
        matches!(hidden, Err(HubError::RepoNotFound(_))),
        "{hidden:?}"
    );

    // Killed right after sending, before the commitment was read back.
    request.stop_after = Some(Stage::CommitSent);
    let second = push(&net.hub, net.chain.as_ref(), h0, &request)
        .await
        .unwrap();
    assert!(second.resumed);
    assert_eq!(second.commits_sent, 1);
    assert_eq!(second.journal.stage, Stage::CommitSent);
    assert_eq!(
        second.journal.revision, first.journal.revision,
        "no second upload"
    );

    // The re-run sees the nonce moved, waits for the commitment, and publishes.
    request.stop_after = None;
    let third = push(&net.hub, net.chain.as_ref(), h0, &request)
        .await
        .unwrap();
    assert_eq!(third.commits_sent, 0);
    assert_eq!(third.journal.stage, Stage::Public);
    assert_eq!(
        net.nonce(h0).await,
        1,
        "exactly one set_commitment was signed"
    );
    let c = net.commitment(h0).await.unwrap();
    assert_eq!(Some(c.to_string()), third.journal.commitment);
    assert_eq!(net.validator_secure_hash(&c, h0).await, c.secure_hash);

    // Even with the journal lost, the chain's commitment of this folder is recognised.
    std::fs::remove_file(&third.journal_path).unwrap();
    let fourth = push(&net.hub, net.chain.as_ref(), h0, &request)
        .await
        .unwrap();
    assert!(!fourth.resumed);
    assert_eq!(fourth.commits_sent, 0);
    assert_eq!(fourth.journal.stage, Stage::Public);
    assert_eq!(net.nonce(h0).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_names_the_next_block_or_waits_for_it() {
    // One commitment per epoch.
    let net = network(Hyperparameters {
        tempo: 40,
        max_commitment_space: 128,
        ..Default::default()
    })
    .await;
    let dir = model_folder(net.tmp().path());
    let h0 = &net.hotkeys[0];

    // With block production paused, the budget is spent inside the block being built, so the
    // epoch cannot turn between spending it and the push.
    net.paused.store(true, Ordering::SeqCst);
    net.chain
        .set_commitment(h0, net.netuid, &[b'x'; 128])
        .await
        .unwrap();
    let err = push(
        &net.hub,
        net.chain.as_ref(),
        h0,
        &net.request(&dir, "alice/tiny-w"),
    )
    .await
    .unwrap_err();
    let MinerError::BudgetExhausted {
        head,
        from_block,
        max,
        used,
        ..
    } = &err
    else {
        panic!("expected BudgetExhausted, got {err}");
    };
    assert_eq!((*used, *max), (128, 128));
    let subnet = net.chain.subnet(net.netuid).await.unwrap();
    assert_eq!(*from_block, subnet.last_epoch_block + 40 + 1);
    assert!(from_block > head, "{err}");
    assert!(err.to_string().contains("--wait"), "{err}");

    // With waiting, the same push (its upload reused) lands in the next epoch.
    net.paused.store(false, Ordering::SeqCst);
    let mut request = net.request(&dir, "alice/tiny-w");
    request.wait_for_budget = true;
    let done = push(&net.hub, net.chain.as_ref(), h0, &request)
        .await
        .unwrap();
    assert!(done.resumed, "the upload of the refused run is reused");
    assert_eq!(done.commits_sent, 1);
    assert_eq!(done.journal.stage, Stage::Public);
    assert!(done.journal.commit_block.unwrap() >= *from_block);
    let c = net.commitment(h0).await.unwrap();
    assert_eq!(net.validator_secure_hash(&c, h0).await, c.secure_hash);
    assert_eq!(net.nonce(h0).await, 2);
}

/// Competition 7 sized for the tiny fixture (the one the other tests commit to).
fn schedule() -> String {
    TinyCompetition::new("tiny").id(7).toml()
}

/// The hub has no repository `repo` (not even a private one its owner could see).
async fn assert_no_repo(net: &Net, repo: &str) {
    match net.hub.repo_info(repo, "main").await {
        Err(HubError::RepoNotFound(_)) | Err(HubError::InvalidRepoId(_)) => {}
        other => panic!("{repo} exists on the hub after a refused push: {other:?}"),
    }
}

/// Every refusal happens before the upload: an unregistered hotkey, a competition the
/// schedule does not run, a commitment that would not fit (or parse), and a folder that
/// fails the competition's checks each leave no repository, no journal and no commitment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_refuses_before_anything_is_uploaded() {
    let net = network(Hyperparameters {
        tempo: 100,
        ..Default::default()
    })
    .await;
    let dir = model_folder(net.tmp().path());
    let schedule = arena_core::competition::Schedule::from_toml_str(&schedule()).unwrap();
    let checked = |dir: &Path, repo: &str, competition: u32| {
        let mut request = net.request(dir, repo);
        request.competition_id = competition;
        request.schedule = Some(schedule.clone());
        request.schedule_source = "schedule test.toml".into();
        request
    };
    let h0 = &net.hotkeys[0];
    let journals = net.tmp().path().join("home/miner/push");

    // (1) a hotkey with no uid on the subnet.
    let stranger = Keypair::from_uri("//Stranger").unwrap();
    let err = push(
        &net.hub,
        net.chain.as_ref(),
        &stranger,
        &checked(&dir, "alice/stranger", 7),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MinerError::NotRegistered { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&stranger.public().ss58()), "{text}");
    assert!(text.contains(&format!("subnet {}", net.netuid)), "{text}");
    assert_no_repo(&net, "alice/stranger").await;

    // (2) a competition id the schedule does not run.
    let err = push(
        &net.hub,
        net.chain.as_ref(),
        h0,
        &checked(&dir, "alice/wrong-comp", 9),
    )
    .await
    .unwrap_err();
    match &err {
        MinerError::UnknownCompetition {
            competition,
            active,
            ..
        } => assert_eq!((*competition, active.as_slice()), (9, &[7u32][..])),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("schedule test.toml"), "{err}");
    assert_no_repo(&net, "alice/wrong-comp").await;

    // (3a) a repo id longer than validators accept (39 characters).
    let long = format!("alice/{}", "n".repeat(33));
    let err = push(&net.hub, net.chain.as_ref(), h0, &checked(&dir, &long, 7))
        .await
        .unwrap_err();
    assert!(matches!(err, MinerError::Commitment { .. }), "{err}");
    assert!(err.to_string().contains(&long), "{err}");
    assert_no_repo(&net, &long).await;
    // (3b) a 38-character repo id is valid, but with a 10-digit competition id the
    // commitment would be 135 bytes: refused from the known lengths of commit and hash.
    let longest = format!("alice/{}", "n".repeat(32));
    let big_id = 4_000_000_000;
    let err = push(
        &net.hub,
        net.chain.as_ref(),
        h0,
        &checked(&dir, &longest, big_id),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("135 bytes; at most 128"), "{err}");
    assert_no_repo(&net, &longest).await;

    // (4) a folder that fails the competition's checks: hidden_size doubled in config.json,
    // so no tensor has the shape the config implies.
    let broken = net.tmp().path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), broken.join(entry.file_name())).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(broken.join("config.json")).unwrap()).unwrap();
    config["hidden_size"] = serde_json::json!(config["hidden_size"].as_u64().unwrap() * 2);
    std::fs::write(broken.join("config.json"), config.to_string()).unwrap();
    let err = push(
        &net.hub,
        net.chain.as_ref(),
        h0,
        &checked(&broken, "alice/broken", 7),
    )
    .await
    .unwrap_err();
    match &err {
        MinerError::Constraints {
            competition,
            failures,
            ..
        } => {
            assert_eq!(*competition, 7);
            assert!(
                failures.iter().any(|(code, _)| code == "shape_mismatch"),
                "{failures:?}"
            );
        }
        other => panic!("{other}"),
    }
    assert_no_repo(&net, "alice/broken").await;

    // Nothing was journaled or committed by any refused push.
    assert!(
        !journals.exists() || std::fs::read_dir(&journals).unwrap().next().is_none(),
        "a refused push left a journal"
    );
    assert!(net
        .chain
        .commitment(net.netuid, &h0.public())
        .await
        .unwrap()
        .is_none());
    assert_eq!(net.nonce(h0).await, 0);

    // The same checks pass a good folder, which is then pushed.
    let outcome = push(
        &net.hub,
        net.chain.as_ref(),
        h0,
        &checked(&dir, "alice/good", 7),
    )
    .await
    .unwrap();
    assert_eq!(outcome.journal.stage, Stage::Public);
    assert_eq!(net.commitment(h0).await.unwrap().repo_id(), "alice/good");
}
