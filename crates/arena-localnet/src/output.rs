//! What a localnet prints on stdout: a banner, the endpoints, the miners' progress, and at
//! every epoch the standings table of the leaderboard (`arena_web::render_table`), so the
//! terminal and the web page show the same numbers by construction.

use std::io::Write;

use crate::base::Base;
use crate::config::LocalnetConfig;
use crate::home::Layout;
use crate::network::Nodes;
use crate::services::Endpoints;

/// The stdout printer (quiet when the live table is off, except for errors).
#[derive(Clone)]
pub struct Out {
    live: bool,
}

impl Out {
    /// A printer; `live` enables progress lines and tables.
    pub fn new(live: bool) -> Out {
        Out { live }
    }

    /// One line, flushed at once (stdout may be a pipe).
    pub fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// The set-up as the run starts.
    pub fn banner(
        &self,
        c: &LocalnetConfig,
        layout: &Layout,
        base: &Base,
        nodes: &Nodes,
        block: u64,
    ) {
        if !self.live {
            return;
        }
        self.line(&format!(
            "localnet in {} · base model {} · chain at block {block} · {} ms blocks, epoch every {} blocks, a validator step every {} blocks",
            layout.home.display(),
            base.name,
            c.block_time.as_millis(),
            c.tempo,
            c.sync_cadence
        ));
        self.line(&format!(
            "subnet {} (competition) and {} (data) · {} miners · {} validators",
            nodes.netuid,
            nodes.data_netuid,
            nodes.miners.len(),
            nodes.validators.len()
        ));
        for v in &nodes.validators {
            self.line(&format!(
                "{:<10} uid {:>2}  stake {:>6} TAO  {}",
                v.name,
                v.uid,
                v.stake / 1_000_000_000,
                v.hotkey.public().ss58()
            ));
        }
        for m in &nodes.miners {
            self.line(&format!(
                "{:<10} uid {:>2}  {:>4} training steps  {}",
                m.plan.name,
                m.uid,
                m.plan.steps,
                m.hotkey.public().ss58()
            ));
        }
    }

    /// Where to look.
    pub fn endpoints(&self, e: &Endpoints) {
        self.line(&format!("leaderboard {}", e.leaderboard));
        self.line(&format!(
            "substrate   {}   (bittensor.Subtensor(network=\"{}\"), btcli --network {})",
            e.substrate, e.substrate, e.substrate
        ));
        if self.live {
            self.line(&format!(
                "chain RPC   {}   (arena chain metagraph --endpoint {} --netuid N)",
                e.chain, e.chain
            ));
            self.line(&format!("hub         {}", e.hub));
            self.line(&format!("data feed   {}", e.feed));
        }
    }

    /// Where the joiner's config is, and (with the live table) the commands that join as a
    /// miner.
    pub fn join(&self, path: &std::path::Path, commands: &[String]) {
        self.line(&format!("join config {}", path.display()));
        if self.live {
            self.line("join as a miner from another shell (README: \"Join a running network\"):");
            for (i, c) in commands.iter().enumerate() {
                self.line(&format!("  {}. {c}", i + 1));
            }
        }
    }

    /// The standings after epoch `index`.
    pub async fn epoch(&self, index: u64, block: u64, sources: &arena_web::Sources) {
        if !self.live {
            return;
        }
        match arena_web::standings(sources).await {
            Ok(s) if s.competitions.iter().all(|c| c.models.is_empty()) => {
                self.line(&format!(
                    "epoch {index} · block {block} · no model committed yet"
                ));
            }
            Ok(s) => {
                self.line(&format!("\n── epoch {index} · block {block} ──"));
                self.line(arena_web::render_table(&s).trim_end());
            }
            Err(e) => self.line(&format!(
                "epoch {index} · block {block}: standings unavailable: {e}"
            )),
        }
    }
}
