//! What the leaderboard says beyond scores, against an in-process chain and real validator
//! state databases: why a model has no score (waiting, queued, rejected, not evaluated), which
//! validator that comes from, a validator that lost its permit, a schedule file edited while
//! the leaderboard runs, and history series that follow a hotkey across uid changes.

use std::path::Path;
use std::sync::Arc;

use arena_chain::{Chain, Commitment};
use arena_core::competition::DEFAULT_SCHEDULE_TOML;
use arena_core::queue::{EvalRecord, QueueReason};
use arena_keys::Keypair;
use arena_testkit::demo::{self as testkit, DemoNetwork};
use arena_validator::store::{ModelRecord, QueueEntry, StepKey, Store};
use arena_validator::{Rejection, Verdict};
use arena_web::{ModelStanding, ModelState, ScheduleSource, Sources, Standings, ValidatorStatus};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).unwrap()
}

async fn demo_with(schedule: ScheduleSource) -> (tempfile::TempDir, DemoNetwork, Arc<Sources>) {
    let dir = tempfile::tempdir().unwrap();
    let (fixed, _) = schedule.current();
    let net = testkit::build(dir.path(), &fixed).await.unwrap();
    let src = Arc::new(Sources {
        chain: net.chain.clone(),
        netuid: net.netuid,
        validator_stores: net.validator_stores.clone(),
        schedule,
    });
    (dir, net, src)
}

async fn demo() -> (tempfile::TempDir, DemoNetwork, Arc<Sources>) {
    demo_with(arena_core::competition::default_schedule().unwrap().into()).await
}

async fn get_json(src: &Arc<Sources>, uri: &str) -> Value {
    let req = Request::get(uri).body(Body::empty()).unwrap();
    let resp = arena_web::router(src.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{uri}");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

fn model<'a>(doc: &'a Standings, hotkey: &str) -> &'a ModelStanding {
    doc.competitions
        .iter()
        .flat_map(|c| &c.models)
        .find(|m| m.hotkey == hotkey)
        .unwrap_or_else(|| panic!("{hotkey} not in the standings"))
}

/// Registers `hotkeys` (unless they are) and commits a model for each to competition 1;
/// returns the stored commitments with the hotkeys' uids, in order.
async fn commit_new(net: &DemoNetwork, hotkeys: &[&Keypair], tag: &str) -> Vec<(Commitment, u16)> {
    let cold = key("//Web/Cold");
    for hot in hotkeys {
        if net
            .chain
            .metagraph(net.netuid)
            .await
            .unwrap()
            .uid_of(&hot.public())
            .is_none()
        {
            net.chain
                .register(&cold, net.netuid, &hot.public())
                .await
                .unwrap();
        }
    }
    net.chain.produce_block().unwrap();
    for (i, hot) in hotkeys.iter().enumerate() {
        let text = format!(
            "late{i}:tiny-{tag}:{:0>40}:{:A<43}=:1",
            format!("{tag}{i}"),
            format!("h{tag}{i}")
        );
        net.chain
            .set_commitment(hot, net.netuid, text.as_bytes())
            .await
            .unwrap();
    }
    net.chain.produce_block().unwrap();
    let all = net.chain.commitments(net.netuid).await.unwrap();
    let mg = net.chain.metagraph(net.netuid).await.unwrap();
    hotkeys
        .iter()
        .map(|h| {
            let c = all
                .iter()
                .find(|c| c.hotkey == h.public())
                .cloned()
                .unwrap();
            (c, mg.uid_of(&h.public()).unwrap())
        })
        .collect()
}

/// The validator's record of a commitment, as its update loop writes it.
fn record((c, uid): &(Commitment, u16), verdict: Verdict) -> ModelRecord {
    ModelRecord {
        hotkey: c.hotkey.ss58(),
        uid: *uid,
        commitment: c.text().unwrap().to_string(),
        commit_block: c.block,
        competition_id: Some(1),
        download_path: None,
        content_hash: None,
        verdict,
        checked_block: c.block + 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_says_why_it_has_a_score_or_none() {
    let (_dir, net, src) = demo().await;
    let keys: Vec<Keypair> = (0..5).map(|i| key(&format!("//Web/Late{i}"))).collect();
    let refs: Vec<&Keypair> = keys.iter().collect();
    let commits = commit_new(&net, &refs, "a").await;
    let (waiting, rejected, queued, accepted, unknown) = (
        &commits[0].0,
        &commits[1].0,
        &commits[2].0,
        &commits[3].0,
        &commits[4].0,
    );
    let mut v0 = Store::open(&net.validator_stores[0]).unwrap();
    let mut v1 = Store::open(&net.validator_stores[1]).unwrap();
    let eligible_at = waiting.block + 30;
    v0.put_model(&record(&commits[0], Verdict::Waiting { eligible_at }))
        .unwrap();
    // V1 (less stake) disagrees about the waiting model: V0's view wins.
    let mismatch = Rejection::HashMismatch {
        committed: "x".into(),
        computed: "y".into(),
    };
    v1.put_model(&record(
        &commits[0],
        Verdict::Rejected {
            rejection: mismatch.clone(),
        },
    ))
    .unwrap();
    v0.put_model(&record(
        &commits[1],
        Verdict::Rejected {
            rejection: mismatch.clone(),
        },
    ))
    .unwrap();
    v0.put_model(&record(&commits[2], Verdict::Accepted))
        .unwrap();
    v0.enqueue(&QueueEntry {
        competition_id: 1,
        hotkey: queued.hotkey.ss58(),
        reason: QueueReason::New,
        queued_block: queued.block + 1,
    })
    .unwrap();
    // Only V1 knows this one: accepted, evaluated once, not queued any more.
    v1.put_model(&record(&commits[3], Verdict::Accepted))
        .unwrap();
    let last_sync = *testkit::STEP_SYNC_BLOCKS.last().unwrap();
    let mut step = v1
        .step(StepKey {
            competition_id: 1,
            sync_block: last_sync,
        })
        .unwrap()
        .unwrap();
    step.key.sync_block = accepted.block + 1;
    step.block = accepted.block + 2;
    step.history = vec![(
        accepted.hotkey.ss58(),
        EvalRecord {
            block: accepted.block + 2,
            score: 4.146,
            winning_block: 3,
            winning_score: 1.2,
        },
    )];
    step.kept = Vec::new();
    v1.record_step(&step).unwrap();
    drop((v0, v1));

    let doc = arena_web::standings(&src).await.unwrap();
    let v0_key = Some(net.validator_hotkeys[0].clone());
    let v1_key = Some(net.validator_hotkeys[1].clone());

    let m = model(&doc, &waiting.hotkey.ss58());
    assert_eq!(m.status.state, ModelState::Waiting, "{m:?}");
    assert_eq!(m.status.block, Some(eligible_at));
    assert_eq!(m.status.validator, v0_key, "the highest stake's view");
    assert!(m.status.detail.contains(&eligible_at.to_string()), "{m:?}");
    assert!(m.score.is_none());

    let m = model(&doc, &rejected.hotkey.ss58());
    assert_eq!(m.status.state, ModelState::Rejected, "{m:?}");
    assert_eq!(m.status.code.as_deref(), Some("hash_mismatch"));
    assert_eq!(m.status.detail, format!("rejected: {mismatch}"));

    let m = model(&doc, &queued.hotkey.ss58());
    assert_eq!(m.status.state, ModelState::Queued, "{m:?}");
    assert_eq!(m.status.code.as_deref(), Some("new"));
    assert_eq!(m.status.block, Some(queued.block + 1));

    let m = model(&doc, &accepted.hotkey.ss58());
    assert_eq!(m.status.state, ModelState::NotEvaluated, "{m:?}");
    assert_eq!(m.status.validator, v1_key, "only V1 knows it");
    assert_eq!(m.status.block, Some(accepted.block + 2));
    assert_eq!(m.status.last_score, Some(4.146));
    assert!(m.status.detail.contains("4.1460"), "{m:?}");

    let m = model(&doc, &unknown.hotkey.ss58());
    assert_eq!(m.status.state, ModelState::NotEvaluated, "{m:?}");
    assert_eq!(m.status.validator, None);
    assert!(
        m.status.detail.contains("no validator has checked"),
        "{m:?}"
    );

    // The demo's scored models are `evaluated` from V0's step; the failed one says why.
    for miner in &net.miners {
        let m = model(&doc, &miner.hotkey);
        assert_eq!(m.status.state, ModelState::Evaluated, "{m:?}");
        assert_eq!(m.status.validator, v0_key);
        assert_eq!(m.status.last_score, m.score);
        if miner.score.is_finite() {
            assert!(m.status.detail.contains("scored in the step"), "{m:?}");
        } else {
            assert!(m.status.detail.contains("timed out"), "{m:?}");
        }
    }

    // The JSON names the states in snake_case, and the table shows them.
    let json = get_json(&src, "/api/standings").await;
    let states: Vec<String> = json["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["models"].as_array().unwrap())
        .map(|m| m["status"]["state"].as_str().unwrap().to_string())
        .collect();
    for s in [
        "evaluated",
        "waiting",
        "queued",
        "rejected",
        "not_evaluated",
    ] {
        assert!(states.iter().any(|x| x == s), "{s} missing in {states:?}");
    }
    let table = arena_web::render_table(&doc);
    for cell in [
        format!("waiting until {eligible_at}"),
        "rejected: hash_mismatch".to_string(),
        "queued (new)".to_string(),
        format!("not evaluated since {}", accepted.block + 2),
        "evaluated".to_string(),
    ] {
        assert!(table.contains(&cell), "{cell:?} missing in\n{table}");
    }
    assert!(table.lines().nth(1).unwrap().contains("state"), "{table}");
}

/// A miner who commits a new model under the same hotkey: the old step's score must not be
/// shown next to the new commitment; its state is that of the new commitment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_commitment_does_not_inherit_the_old_score() {
    let (_dir, net, src) = demo().await;
    let m0 = key("//Web/M0");
    let before = arena_web::standings(&src).await.unwrap();
    assert!(model(&before, &net.miners[0].hotkey).score.is_some());

    let new = commit_new(&net, &[&m0], "b").await.remove(0);
    let doc = arena_web::standings(&src).await.unwrap();
    let m = model(&doc, &net.miners[0].hotkey);
    assert!(m.score.is_none() && m.tasks.is_empty(), "{m:?}");
    assert_eq!(m.status.state, ModelState::NotEvaluated, "{m:?}");
    assert!(
        m.status.detail.contains("no validator has checked"),
        "{m:?}"
    );

    let mut v0 = Store::open(&net.validator_stores[0]).unwrap();
    let eligible_at = new.0.block + 30;
    v0.put_model(&record(&new, Verdict::Waiting { eligible_at }))
        .unwrap();
    let doc = arena_web::standings(&src).await.unwrap();
    let m = model(&doc, &net.miners[0].hotkey);
    assert_eq!(
        (m.status.state, m.status.block),
        (ModelState::Waiting, Some(eligible_at))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_that_lost_its_permit_is_shown_as_such() {
    let (_dir, net, src) = demo().await;
    let doc = arena_web::standings(&src).await.unwrap();
    assert!(
        doc.validators
            .iter()
            .all(|v| v.status == ValidatorStatus::Ok && v.status_detail.is_none()),
        "{:?}",
        doc.validators
    );

    // A third validator with more stake than V1 takes V1's permit at the next epoch.
    let cold = key("//Web/Cold");
    let v2 = key("//Web/V2");
    net.chain
        .register(&cold, net.netuid, &v2.public())
        .await
        .unwrap();
    net.chain
        .add_stake(&cold, &v2.public(), net.netuid, 2000 * 1_000_000_000)
        .await
        .unwrap();
    let start = net.chain.block_number().await.unwrap();
    while net.chain.produce_block().unwrap().number <= start + u64::from(testkit::TEMPO) + 1 {}
    let mg = net.chain.metagraph(net.netuid).await.unwrap();
    let v1_uid = mg.uid_of(&key("//Web/V1").public()).unwrap();
    assert!(!mg.neurons[usize::from(v1_uid)].validator_permit);

    let doc = arena_web::standings(&src).await.unwrap();
    let v1 = doc
        .validators
        .iter()
        .find(|v| v.hotkey.as_deref() == Some(net.validator_hotkeys[1].as_str()))
        .unwrap();
    assert_eq!(v1.status, ValidatorStatus::NoPermit, "{v1:?}");
    assert!(!v1.validator_permit);
    let detail = v1.status_detail.as_deref().unwrap();
    assert!(
        detail.contains("no validator permit")
            && detail.contains(&format!("{} permits", testkit::MAX_VALIDATORS)),
        "{detail}"
    );
    let v0 = doc
        .validators
        .iter()
        .find(|v| v.hotkey.as_deref() == Some(net.validator_hotkeys[0].as_str()))
        .unwrap();
    assert_eq!(v0.status, ValidatorStatus::Ok);

    // Consensus weight counts permit holders only: V0's row alone.
    let rows = net.chain.weights(net.netuid).await.unwrap();
    let v0_uid = mg.uid_of(&key("//Web/V0").public()).unwrap();
    let row = rows.iter().find(|r| r.uid == v0_uid).unwrap();
    let sum: f64 = row.weights.iter().map(|&(_, w)| f64::from(w)).sum();
    for miner in &net.miners {
        let want = row
            .weights
            .iter()
            .find(|&&(u, _)| u == miner.uid)
            .map_or(0.0, |&(_, w)| f64::from(w) / sum);
        let m = model(&doc, &miner.hotkey);
        assert!((m.weight - want).abs() < 1e-12, "{m:?} vs {want}");
        assert_eq!(m.validator_weights.len(), 2, "both rows still listed");
    }

    let json = get_json(&src, "/api/standings").await;
    let statuses: Vec<&str> = json["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"no_permit"), "{statuses:?}");
    let table = arena_web::render_table(&doc);
    assert!(
        table.contains(&format!("warning: validator {v1_uid}: no validator permit")),
        "{table}"
    );
}

fn write_schedule(path: &Path, text: &str, stamp_secs: u64) {
    std::fs::write(path, text).unwrap();
    // Distinct modification times even on coarse-grained file systems.
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + stamp_secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn active(doc: &Value) -> Vec<(u64, f64)> {
    doc["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["active"] == true)
        .map(|c| (c["id"].as_u64().unwrap(), c["reward"].as_f64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaderboard_follows_schedule_file_edits() {
    let sched_dir = tempfile::tempdir().unwrap();
    let path = sched_dir.path().join("schedule.toml");
    write_schedule(&path, DEFAULT_SCHEDULE_TOML, 0);
    let (_dir, net, src) = demo_with(ScheduleSource::file(&path).unwrap()).await;
    let doc = get_json(&src, "/api/standings").await;
    assert_eq!(active(&doc), vec![(1, 0.6), (2, 0.2), (3, 0.2)]);
    assert!(doc["schedule_error"].is_null());

    // The sunset entry now starts before the head: competition 2 stops, rewards move.
    let head = net.chain.block_number().await.unwrap();
    assert!(head > 5);
    let edited = DEFAULT_SCHEDULE_TOML.replace("start_block = 1_000_000", "start_block = 5");
    assert_ne!(edited, DEFAULT_SCHEDULE_TOML);
    write_schedule(&path, &edited, 10);
    let doc = get_json(&src, "/api/standings").await;
    assert_eq!(active(&doc), vec![(1, 0.75), (3, 0.25)]);
    let c2 = doc["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == 2)
        .expect("still listed: a commitment names it");
    assert_eq!(
        (c2["active"].clone(), c2["reward"].clone()),
        (false.into(), 0.0.into())
    );

    // A broken edit keeps the last good schedule and says why.
    write_schedule(&path, "[[entries]]\nstart_block = \"soon\"\n", 20);
    let doc = get_json(&src, "/api/standings").await;
    assert_eq!(active(&doc), vec![(1, 0.75), (3, 0.25)]);
    let err = doc["schedule_error"].as_str().unwrap();
    assert!(
        err.contains("schedule.toml") && err.contains("previous"),
        "{err}"
    );
    let typed = arena_web::standings(&src).await.unwrap();
    assert!(arena_web::render_table(&typed).contains("warning: schedule"));

    // Back to the original: competition 2 is active again, the error is gone.
    write_schedule(&path, DEFAULT_SCHEDULE_TOML, 30);
    let doc = get_json(&src, "/api/standings").await;
    assert_eq!(active(&doc), vec![(1, 0.6), (2, 0.2), (3, 0.2)]);
    assert!(doc["schedule_error"].is_null());
    let hist = get_json(&src, "/api/history").await;
    assert_eq!(hist["competitions"].as_array().unwrap().len(), 3);

    // A schedule file that is invalid from the start is refused, naming it.
    let bad = sched_dir.path().join("bad.toml");
    std::fs::write(&bad, "nonsense = [").unwrap();
    let e = ScheduleSource::file(&bad).err().unwrap().to_string();
    assert!(e.contains("bad.toml"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_series_follows_its_hotkey_across_uid_changes() {
    let (_dir, net, src) = demo().await;
    let mut v0 = Store::open(&net.validator_stores[0]).unwrap();
    let last = *testkit::STEP_SYNC_BLOCKS.last().unwrap();
    let template = v0
        .step(StepKey {
            competition_id: 1,
            sync_block: last,
        })
        .unwrap()
        .unwrap();
    // Step A: M0 at uid 2 (as in the demo). Step B: M0 re-registered at uid 9, and uid 2
    // recycled to a newcomer.
    let m0 = net.miners[0].hotkey.clone();
    let newcomer = key("//Web/Newcomer").public().ss58();
    let base = template
        .models
        .iter()
        .find(|m| m.hotkey == m0)
        .unwrap()
        .clone();
    let mut weights = vec![0.0; 10];
    weights[9] = 0.7;
    weights[2] = 0.3;
    let mut b = template.clone();
    b.key.sync_block = last + 4;
    b.block = last + 6;
    b.subnet_weights = weights;
    b.history = Vec::new();
    b.kept = Vec::new();
    let mut moved = base.clone();
    moved.uid = 9;
    moved.score = 1.0;
    let mut fresh = base.clone();
    fresh.uid = 2;
    fresh.hotkey = newcomer.clone();
    fresh.score = 1.5;
    b.models = vec![fresh, moved];
    v0.record_step(&b).unwrap();
    drop(v0);

    let hist = arena_web::history(&src).await.unwrap();
    let c1 = hist.competitions.iter().find(|c| c.id == 1).unwrap();
    let series = |h: &str| {
        let found: Vec<_> = c1.series.iter().filter(|s| s.hotkey == h).collect();
        assert_eq!(found.len(), 1, "one series for {h}: {:?}", c1.series);
        found[0].clone()
    };
    let s0 = series(&m0);
    assert_eq!(s0.uid, 9, "the latest uid");
    let uids: Vec<u16> = s0.points.iter().map(|p| p.uid).collect();
    let mut want = vec![2; testkit::STEP_SYNC_BLOCKS.len()];
    want.push(9);
    assert_eq!(uids, want);
    let last_point = s0.points.last().unwrap();
    assert_eq!(
        (last_point.block, last_point.score, last_point.weight),
        (last + 6, Some(1.0), 0.7)
    );
    let sn = series(&newcomer);
    assert_eq!(sn.uid, 2);
    assert_eq!(
        sn.points.len(),
        1,
        "the recycled uid does not inherit M0's points"
    );
    assert_eq!(sn.points[0].weight, 0.3);
    // Series are ordered by latest uid.
    let order: Vec<u16> = c1.series.iter().map(|s| s.uid).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
}
