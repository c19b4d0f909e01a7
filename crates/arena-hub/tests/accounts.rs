//! Hub accounts: tokens added, rotated and removed in the users file of a running server take
//! effect without a restart, are stored hashed, and give no rights over another user's repos.

mod common;

use std::time::Duration;

use arena_hub::client::HubClient;
use arena_hub::server::users::{self, RECHECK_INTERVAL};
use arena_hub::HubError;
use common::*;

fn status(result: Result<impl std::fmt::Debug, HubError>) -> u16 {
    match result {
        Err(HubError::Http { status, .. }) => status,
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_added_while_serving_work_at_once_are_stored_hashed_and_stay_in_their_namespace() {
    let hub = TestHub::start(64 * 1024).await;
    let root = hub.root.path();
    let model = tempfile::tempdir().unwrap();
    write_model(model.path(), 2000);

    // Alice (a fixed account) owns a public repo.
    let alice = HubClient::new(&hub.endpoint, Some(ALICE.into())).unwrap();
    alice.create_repo("alice/m", false, false).await.unwrap();
    let alice_commit = alice
        .upload_folder("alice/m", model.path(), "v1")
        .await
        .unwrap();

    // A token nobody was given is refused (401), before and after accounts exist.
    let stranger = HubClient::new(&hub.endpoint, Some(users::new_token())).unwrap();
    assert_eq!(
        status(stranger.create_repo("carol/x", false, false).await),
        401
    );

    // Carol is added while the server runs: her token works on the very next request.
    let carol_token = users::add_user(root, "carol", false).unwrap();
    let carol = HubClient::new(&hub.endpoint, Some(carol_token.clone())).unwrap();
    carol.create_repo("carol/x", true, false).await.unwrap();
    let commit = carol
        .upload_folder("carol/x", model.path(), "v1")
        .await
        .unwrap();
    assert_eq!(
        carol.repo_info("carol/x", "main").await.unwrap().sha,
        Some(commit)
    );
    assert_eq!(
        status(stranger.create_repo("carol/y", false, false).await),
        401
    );

    // Her token gives no rights over Alice's repo (403), nor Alice's over hers (private: 404).
    assert_eq!(
        status(carol.upload_folder("alice/m", model.path(), "hijack").await),
        403
    );
    assert_eq!(status(carol.set_visibility("alice/m", true).await), 403);
    assert_eq!(status(carol.delete_repo("alice/m").await), 403);
    assert_eq!(
        status(carol.create_repo("alice/other", false, false).await),
        403
    );
    assert!(matches!(
        alice.repo_info("carol/x", "main").await,
        Err(HubError::RepoNotFound(_))
    ));
    let info = alice.repo_info("alice/m", "main").await.unwrap();
    assert_eq!((info.sha, info.private), (Some(alice_commit), Some(false)));

    // The file holds the hash, never the token, and only its owner can read it.
    let file = users::users_file(root);
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(!stored.contains(&carol_token));
    assert!(stored.contains(&users::token_sha256(&carol_token)));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }

    // Adding her again is refused and changes nothing; rotating gives a new token, and the
    // old one stops working within the recheck interval.
    assert!(matches!(
        users::add_user(root, "carol", false),
        Err(users::AccountError::Exists { .. })
    ));
    let rotated = users::add_user(root, "carol", true).unwrap();
    let carol2 = HubClient::new(&hub.endpoint, Some(rotated)).unwrap();
    carol2.repo_info("carol/x", "main").await.unwrap();
    tokio::time::sleep(RECHECK_INTERVAL + Duration::from_millis(200)).await;
    assert_eq!(status(carol.repo_info("carol/x", "main").await), 401);

    // Removed: refused within the interval too; the fixed accounts are untouched.
    users::remove_user(root, "carol").unwrap();
    tokio::time::sleep(RECHECK_INTERVAL + Duration::from_millis(200)).await;
    assert_eq!(status(carol2.repo_info("carol/x", "main").await), 401);
    alice.repo_info("alice/m", "main").await.unwrap();
}
