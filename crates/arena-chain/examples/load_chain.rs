//! Loopback load test of the chain's JSON-RPC server: a stream of reads and extrinsics from
//! concurrent clients while slow clients hold connections, and a "normal" client that must be
//! served throughout. Bounded in time and count.
//!
//! `cargo run --release -p arena-chain --example load_chain -- [seconds=10] [idle=200] [half_sent=50]`
//! (`scripts/load-test` runs it with the hub's).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_chain::types::Hyperparameters;
use arena_chain::{rpc, Chain, ChainClient, ChainError, LocalChain, LocalChainOptions};
use arena_keys::Keypair;
use arena_net::probe::{load_average, raise_open_file_limit, request, SlowClients, Tally};
use tokio::sync::Mutex;

/// At most this many requests per worker, whatever the duration.
const MAX_PER_WORKER: usize = 50_000;

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
    let chain = Arc::new(LocalChain::open(dir.path(), LocalChainOptions::default())?);
    let owner = Keypair::from_uri("//Owner")?;
    let netuid = chain
        .create_subnet(&owner, Hyperparameters::default())
        .await?
        .assigned
        .ok_or("no netuid")?;
    chain.produce_block()?;
    let (addr, handle) = rpc::serve(chain.clone(), "127.0.0.1:0".parse()?).await?;
    let url = format!("http://{addr}");

    let producer = {
        let chain = chain.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let c = chain.clone();
                let _ = tokio::task::spawn_blocking(move || c.produce_block()).await;
            }
        })
    };

    let slow = SlowClients::open(addr, idle, half_sent, "/").await?;
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);

    let reads = Arc::new(Mutex::new(Tally::default()));
    let extrinsics = Arc::new(Mutex::new(Tally::default()));
    let rejected = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let normal = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    for w in 0..6u32 {
        let (client, reads) = (ChainClient::new(&url)?, reads.clone());
        let who = Keypair::from_uri(&format!("//Reader{w}"))?.public();
        tasks.push(tokio::spawn(async move {
            let mut mine = Tally::default();
            for i in 0..MAX_PER_WORKER {
                if Instant::now() >= until {
                    break;
                }
                let t = Instant::now();
                let ok = match i % 3 {
                    0 => client.block_number().await.is_ok(),
                    1 => client.metagraph(netuid).await.is_ok(),
                    _ => client.account_nonce(&who).await.is_ok(),
                };
                mine.record(t.elapsed(), ok);
            }
            reads.lock().await.merge(mine);
        }));
    }
    for w in 0..2u32 {
        let (client, extrinsics, rejected) = (
            ChainClient::new(&url)?,
            extrinsics.clone(),
            rejected.clone(),
        );
        let cold = Keypair::from_uri(&format!("//LoadCold{w}"))?;
        tasks.push(tokio::spawn(async move {
            let mut mine = Tally::default();
            for i in 0..MAX_PER_WORKER {
                if Instant::now() >= until {
                    break;
                }
                let hot = Keypair::from_uri(&format!("//LoadHot{w}/{i}")).expect("uri");
                let t = Instant::now();
                // Answered either way: accepted, or refused by the chain's own rules.
                let ok = match client.register(&cold, netuid, &hot.public()).await {
                    Ok(_) => true,
                    Err(ChainError::Transport { .. }) | Err(ChainError::Rpc { .. }) => false,
                    Err(_) => {
                        rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        true
                    }
                };
                mine.record(t.elapsed(), ok);
            }
            extrinsics.lock().await.merge(mine);
        }));
    }
    {
        let normal = normal.clone();
        tasks.push(tokio::spawn(async move {
            let body = br#"{"jsonrpc":"2.0","id":1,"method":"arena_blockNumber","params":[]}"#;
            let mut mine = Tally::default();
            while Instant::now() < until {
                let t = Instant::now();
                let r = request(
                    addr,
                    "POST",
                    "/",
                    Some(("application/json", body)),
                    Duration::from_secs(2),
                )
                .await;
                mine.record(t.elapsed(), matches!(r, Ok((200, _))));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            normal.lock().await.merge(mine);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    producer.abort();
    println!(
        "chain JSON-RPC on {addr}: {secs} s, {idle} idle + {half_sent} half-sent connections held, load average {}",
        load_average()
    );
    println!("{}", reads.lock().await.line("reads (6 clients)", elapsed));
    println!(
        "{}  ({} refused by chain rules)",
        extrinsics
            .lock()
            .await
            .line("extrinsics (2 clients)", elapsed),
        rejected.load(std::sync::atomic::Ordering::Relaxed)
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
    handle.stop()?;
    if normal.failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
