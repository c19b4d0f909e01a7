//! Loopback load test of the hub: concurrent model downloads and uploads while slow clients
//! hold connections, and a "normal" client that must be served throughout. Bounded in time
//! and count.
//!
//! `cargo run --release -p arena-hub --example load_hub -- [seconds=10] [idle=200] [half_sent=50]`
//! (`scripts/load-test` runs it with the chain's).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_hub::client::HubClient;
use arena_hub::server::{serve, ServerConfig, User};
use arena_net::probe::{load_average, raise_open_file_limit, request, SlowClients, Tally};
use tokio::sync::Mutex;

const TOKEN: &str = "load-test-token-0001";
/// Size of the downloaded weights file (over the 10 MiB inline threshold: stored through LFS).
const WEIGHTS: usize = 12 << 20;
/// At most this many requests per worker, whatever the duration.
const MAX_PER_WORKER: usize = 10_000;

fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x2545F4914F6CDD1Du64 ^ seed;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let secs = args.first().copied().unwrap_or(10).clamp(1, 600);
    let idle = args.get(1).copied().unwrap_or(200) as usize;
    let half_sent = args.get(2).copied().unwrap_or(50) as usize;
    raise_open_file_limit();

    let dir = tempfile::tempdir()?;
    let users = vec![User {
        name: "alice".into(),
        token: TOKEN.into(),
    }];
    let config = ServerConfig::new(dir.path().join("hub"), users);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, config));
    let url = format!("http://{addr}");
    let hub = HubClient::new(&url, Some(TOKEN.into()))?;

    // The model everyone downloads.
    let model = dir.path().join("model");
    std::fs::create_dir_all(&model)?;
    std::fs::write(
        model.join("config.json"),
        b"{\"architectures\": [\"LlamaForCausalLM\"]}\n",
    )?;
    std::fs::write(model.join("model.bin"), pseudo_random(WEIGHTS, 1))?;
    hub.create_repo("alice/load", false, true).await?;
    hub.upload_folder("alice/load", &model, "weights").await?;

    let slow =
        SlowClients::open(addr, idle, half_sent, "/api/models/alice/load/commit/main").await?;
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let downloads = Arc::new(Mutex::new(Tally::default()));
    let uploads = Arc::new(Mutex::new(Tally::default()));
    let normal = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    let file_url = format!("{url}/alice/load/resolve/main/model.bin");
    for _ in 0..6 {
        let (http, downloads, file_url) =
            (reqwest::Client::new(), downloads.clone(), file_url.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Tally::default();
            for _ in 0..MAX_PER_WORKER {
                if Instant::now() >= until {
                    break;
                }
                let t = Instant::now();
                let ok = match http
                    .get(&file_url)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        r.bytes().await.map(|b| b.len() == WEIGHTS).unwrap_or(false)
                    }
                    _ => false,
                };
                mine.record(t.elapsed(), ok);
            }
            downloads.lock().await.merge(mine);
        }));
    }
    let mut uploaders: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> = Vec::new();
    for w in 0..2u64 {
        let hub = HubClient::new(&url, Some(TOKEN.into()))?;
        let uploads = uploads.clone();
        let folder = dir.path().join(format!("up{w}"));
        std::fs::create_dir_all(&folder)?;
        let repo = format!("alice/up{w}");
        hub.create_repo(&repo, false, true).await?;
        // Not spawned (the upload future is not `Send` for every lifetime): joined below.
        uploaders.push(Box::pin(async move {
            let mut mine = Tally::default();
            for i in 0..MAX_PER_WORKER as u64 {
                if Instant::now() >= until {
                    break;
                }
                let t = Instant::now();
                let ok = std::fs::write(
                    folder.join("shard.bin"),
                    pseudo_random(256 << 10, w << 32 | i),
                )
                .is_ok()
                    && hub.upload_folder(&repo, &folder, "shard").await.is_ok();
                mine.record(t.elapsed(), ok);
            }
            uploads.lock().await.merge(mine);
        }));
    }
    {
        let normal = normal.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Tally::default();
            while Instant::now() < until {
                let t = Instant::now();
                let r = request(
                    addr,
                    "GET",
                    "/api/models/alice/load",
                    None,
                    Duration::from_secs(2),
                )
                .await;
                mine.record(t.elapsed(), matches!(r, Ok((200, _))));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            normal.lock().await.merge(mine);
        }));
    }
    futures_util::future::join_all(uploaders).await;
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    println!(
        "hub on {addr}: {secs} s, {idle} idle + {half_sent} half-sent connections held, load average {}",
        load_average()
    );
    let down = downloads.lock().await;
    println!("{}", down.line("downloads 12 MiB (6 clients)", elapsed));
    println!(
        "  {:.1} MiB/s downloaded",
        (down.served() * WEIGHTS) as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "{}",
        uploads
            .lock()
            .await
            .line("uploads 256 KiB (2 clients)", elapsed)
    );
    let normal = normal.lock().await;
    println!("{}", normal.line("normal client (every 100 ms)", elapsed));
    println!(
        "normal client served throughout: {}",
        if normal.failures == 0 && normal.served() > 0 {
            "yes"
        } else {
            "NO"
        }
    );
    drop(slow);
    if normal.failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
