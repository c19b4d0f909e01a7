//! `arena chain commitments` and `arena chain status` on a subnet with churn: a registration
//! into a full subnet replaces a neuron, whose commitment the chain keeps; the listing shows
//! only registered hotkeys (with `--all`, the others marked), and the status prints the
//! validator permits (`max_allowed_validators`).

use std::path::Path;
use std::process::Command;

use arena_chain::{Chain, Hyperparameters, LocalChain, LocalChainOptions};
use arena_keys::Keypair;

const ARENA: &str = env!("CARGO_BIN_EXE_arena");

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).expect("dev uri")
}

/// Runs `arena chain ARGS --endpoint local --home HOME`; returns stdout, asserting success.
fn chain_cli(home: &Path, args: &[&str]) -> String {
    let out = Command::new(ARENA)
        .arg("chain")
        .args(args)
        .args(["--endpoint", "local", "--home", home.to_str().unwrap()])
        .env("ARENA_LOG", "warn")
        .output()
        .expect("run arena");
    assert!(
        out.status.success(),
        "arena chain {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn commitments_list_registered_hotkeys_and_status_prints_permits() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (a, b, c) = (key("//List/A"), key("//List/B"), key("//List/C"));
    let (netuid, pruned, kept, permits) = {
        let chain = LocalChain::open(h.join("chain"), LocalChainOptions::default()).unwrap();
        let owner = key("//List/Owner");
        let cold = key("//List/Cold");
        let hp = Hyperparameters {
            tempo: 5,
            max_allowed_uids: 2,
            max_allowed_validators: 1,
            immunity_period: 0,
            ..Default::default()
        };
        let netuid = chain
            .create_subnet(&owner, hp)
            .await
            .unwrap()
            .assigned
            .unwrap();
        chain.produce_block().unwrap();
        for hot in [&a, &b] {
            chain.register(&cold, netuid, &hot.public()).await.unwrap();
        }
        chain
            .add_stake(&cold, &a.public(), netuid, 5_000_000_000)
            .await
            .unwrap();
        chain.produce_block().unwrap();
        for (hot, name) in [(&a, "a"), (&b, "b")] {
            let text = format!("ns:{name}:{:0>40}:{:A<43}=:1", name, name);
            chain
                .set_commitment(hot, netuid, text.as_bytes())
                .await
                .unwrap();
        }
        chain.produce_block().unwrap();
        // The subnet is full: C replaces one of them.
        chain.register(&cold, netuid, &c.public()).await.unwrap();
        while chain.produce_block().unwrap().number < 12 {}
        let mg = chain.metagraph(netuid).await.unwrap();
        let gone: Vec<&Keypair> = [&a, &b]
            .into_iter()
            .filter(|k| mg.uid_of(&k.public()).is_none())
            .collect();
        assert_eq!(gone.len(), 1, "one of A, B is replaced by C");
        let pruned = gone[0].public();
        let kept = if pruned == a.public() { &b } else { &a };
        assert_eq!(chain.commitments(netuid).await.unwrap().len(), 2);
        // Stake the kept hotkey and pass an epoch, which grants it a validator permit.
        chain
            .add_stake(&cold, &kept.public(), netuid, 5_000_000_000)
            .await
            .unwrap();
        while chain.produce_block().unwrap().number < 20 {}
        let mg = chain.metagraph(netuid).await.unwrap();
        let permits = mg.neurons.iter().filter(|n| n.validator_permit).count();
        (
            netuid,
            pruned,
            (kept.public(), mg.uid_of(&kept.public()).unwrap()),
            permits,
        )
    };
    let net = netuid.to_string();

    // JSON: only the registered hotkey, with its uid.
    let json: serde_json::Value =
        serde_json::from_str(&chain_cli(h, &["commitments", "--netuid", &net, "--json"])).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["hotkey"], kept.0.ss58());
    assert_eq!(rows[0]["uid"], kept.1);

    // --all: both, the pruned one with uid null.
    let json: serde_json::Value = serde_json::from_str(&chain_cli(
        h,
        &["commitments", "--netuid", &net, "--json", "--all"],
    ))
    .unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{json}");
    let gone = rows.iter().find(|r| r["hotkey"] == pruned.ss58()).unwrap();
    assert!(gone["uid"].is_null(), "{gone}");

    // Text: one line per registered hotkey; --all marks the others.
    let text = chain_cli(h, &["commitments", "--netuid", &net]);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with(&format!("uid {} {}", kept.1, kept.0.ss58())),
        "{text}"
    );
    assert!(!text.contains(&pruned.ss58()), "{text}");
    let text = chain_cli(h, &["commitments", "--netuid", &net, "--all"]);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("not registered {}", pruned.ss58()))),
        "{text}"
    );

    // Status: the permits and their limit.
    assert!(permits >= 1, "the epoch granted a permit");
    let status = chain_cli(h, &["status"]);
    assert!(
        status.contains(&format!(
            "max_allowed_validators 1 ({permits} validator permits held)"
        )),
        "{status}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&chain_cli(h, &["status", "--json"])).unwrap();
    assert_eq!(json["permits"][0]["max_allowed_validators"], 1);
    assert_eq!(json["permits"][0]["validator_permits"], permits);
}
